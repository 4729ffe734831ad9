# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.lock: a change's device leases in the ledger, taken before any device is touched."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger, parse_iso, utc_now
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase

BREAK_FIX = ("wait for the holding change to finish; for a stale lease check that its run is dead, then break it "
             "explicitly (`governed-change ledger break-lock DEVICE --reason ...`).")


class ActionModule(GovernedActionBase):
    """Acquire (and optionally move the change to implement) or release the change's device leases."""

    MODULE_NAME = "lock"

    def execute(self, args, task_vars, result):
        path = self._path(args["ledger"], task_vars)
        if not os.path.isfile(path):
            if args["state"] == "released":  # nothing was ever leased in a ledger that does not exist
                return {"changed": False, "released": []}
            raise LedgerError("the ledger file does not exist.", where="ledger: %s" % path,
                              fix="run governed.change.assess with ledger: set to this path first (it opens the change record).")
        with SqliteLedger(path) as ledger:
            ledger.check_change(args["change_id"], devices=args["devices"] or ())  # refuses a tampered ledger with the seq
            if args["state"] == "released":
                return self._release(ledger, args)
            return self._acquire(ledger, args)

    def _release(self, ledger, args):
        held = [lock["device"] for lock in ledger.locks() if lock["change_id"] == args["change_id"]]
        chosen = held if args["devices"] is None else [d for d in held if d in set(args["devices"])]
        if not self._task.check_mode and chosen:
            chosen = ledger.release_locks(args["change_id"], args["devices"])
        out = {"changed": bool(chosen), "released": chosen}
        change = ledger.get_change(args["change_id"])
        if change is not None:
            out["ledger_state"] = change["state"]
        return out

    def _acquire(self, ledger, args):
        change_id, devices, owner = args["change_id"], args["devices"], args["owner"]
        if not devices:
            raise ValidationError("no devices to lock.", where="devices", fix="pass the change's target devices (and its snapshot scope).")
        if args["ttl"] <= 0:
            raise ValidationError("ttl must be a positive number of seconds (got %d)." % args["ttl"], where="ttl",
                                  fix="pass the expected change duration plus a margin.")
        change = ledger.get_change(change_id)
        if change is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger.path,
                              fix="run governed.change.assess with this ledger first (it opens the change record).")
        if args["transition"] and change["state"] not in ("scheduled", "implement"):
            raise LedgerError("change %s is %s, so it cannot move to %s." % (change_id, change["state"], args["transition"]),
                              where="ledger: %s" % ledger.path,
                              fix="a change is implemented only after its review gate passed (state scheduled); run the review stage.")
        if self._task.check_mode:
            self._refuse_conflicts(ledger, change_id, devices, owner)
            return {"changed": True, "ledger_state": change["state"],
                    "locks": [lock for lock in ledger.locks() if lock["device"] in set(devices)]}
        locks = ledger.acquire_locks(change_id, devices, owner, args["ttl"])
        if args["transition"] and change["state"] != args["transition"]:
            try:
                change = ledger.transition(change_id, args["transition"], owner, reason="devices locked; the deploy starts")
            except LedgerError:
                # a parallel workflow branch of the same change may have moved it first; that is the state wanted
                change = ledger.get_change(change_id)
                if change is None or change["state"] != args["transition"]:
                    raise
        return {"changed": True, "locks": locks, "ledger_state": change["state"]}

    @staticmethod
    def _refuse_conflicts(ledger, change_id, devices, owner):
        """What acquire_locks would refuse, without writing (check mode)."""
        now = utc_now()
        refused = []
        for lock in ledger.locks():
            if lock["device"] not in set(devices) or (lock["change_id"] == change_id and lock["owner"] == owner):
                continue
            state = "until" if parse_iso(lock["expires"]) > now else "expired"
            refused.append("%s is locked by change %s (owner %s) %s %s" % (lock["device"], lock["change_id"], lock["owner"],
                                                                           state, lock["expires"]))
        if refused:
            raise LedgerError("cannot lock devices for change %s: %s." % (change_id, "; ".join(refused)), where="locks", fix=BREAK_FIX)
