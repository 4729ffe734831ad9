# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.stage_refs: the device stages' per-host references, kept in the change's ledger record."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import ledger_exists
from ansible_collections.governed.change.plugins.module_utils.records import empty_stage_refs, fill_stage_refs, load_stage_refs, record_stage_refs
from ansible_collections.governed.change.plugins.module_utils.records import record_stage_start
from ansible_collections.governed.change.plugins.module_utils.recovery import current_run
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Record a stage's references (optional) and return the recorded ones, merged, and the completed incoming artifacts."""

    MODULE_NAME = "stage_refs"

    def execute(self, args, task_vars, result):
        path = self._path(args["ledger"], task_vars)
        record = args["record"]
        if (record is not None or args["start_hosts"] is not None) and not args["stage"]:
            raise ValidationError("stage is required with record and start_hosts.", where="stage",
                                  fix="pass the stage recording (e.g. precheck).")
        out = {"changed": False}
        if not ledger_exists(path):  # a file, or a postgresql:// URL (its server answers when it is opened)
            if record or args["start_hosts"] is not None:
                raise LedgerError("the ledger file does not exist.", where="ledger: %s" % path,
                                  fix="run governed.change.assess with ledger: set to this path first (it opens the change record).")
            recorded = empty_stage_refs()
        else:
            if args["start_hosts"] is not None and not self._task.check_mode:
                # before the stage touches a device: its references and a "stage.started" event, in one transaction
                event = record_stage_start(path, args["change_id"], args["stage"], args["start_hosts"], record or {},
                                           candidates=args["candidates"], run=current_run(), actor="governed.change.%s" % args["stage"])
                out.update(changed=True, event={"seq": event["seq"], "kind": event["kind"], "ts": event["ts"]})
            elif record is not None and not self._task.check_mode:
                event = record_stage_refs(path, args["change_id"], args["stage"], record, actor="governed.change.%s" % args["stage"])
                if event is not None:
                    out.update(changed=True, event={"seq": event["seq"], "kind": event["kind"], "ts": event["ts"]})
            recorded = load_stage_refs(path, args["change_id"])
        out.update(recorded=recorded, refs=fill_stage_refs(args["incoming"], recorded))
        return out
