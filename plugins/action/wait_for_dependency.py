# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.wait_for_dependency: builds the source's reader, delegates to the dependency core."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import dependency
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase

SUMMARY_KEYS = ("source", "condition", "decision", "passed", "attempts", "elapsed_s", "reason")


class ActionModule(DeviceActionBase):
    """Wait once, on the controller, for the whole change."""
    FLEET = False  # reads many devices itself; no hosts/by_host options

    MODULE_NAME = "wait_for_dependency"

    def execute(self, args, task_vars, result):
        spec = dependency.schedule(args["timeout"], args["interval"], args["max_interval"], args["backoff"])
        ledger = self._path(args["ledger"], task_vars) if args["ledger"] else None
        condition = self._condition(args, ledger, task_vars)
        snapshot = self._snapshot_reader(condition, task_vars) if args["source"] == "device" else None
        verdict = dependency.run_wait(args["source"], condition, spec, check_mode=self._task.check_mode,
                                      required=args["required"], take_snapshot=snapshot, secret=args["secret"])
        recorded = None
        if ledger and args["change_id"] and not self._task.check_mode:
            recorded = dependency.record_wait(ledger, args["change_id"], verdict)
        summary = dict((key, verdict[key]) for key in SUMMARY_KEYS)
        out = {"changed": False, "verdict": verdict, "decision": verdict["decision"], "recorded": recorded, "summary": summary,
               "ansible_stats": self.stats({"governed_wait": summary})}
        if not verdict["passed"]:
            out.update(failed=True, msg="%s: %s" % (self._fqcn(), dependency.failure_message(verdict)))
        return out

    def _condition(self, args, ledger, task_vars):
        condition = dict(args["condition"] or {})
        if args["source"] == "ledger":
            if args["depends_on"] and not condition.get("change_id"):
                condition["change_id"] = args["depends_on"]
            if condition.get("ledger"):
                condition["ledger"] = self._path(condition["ledger"], task_vars)
            elif ledger:
                condition["ledger"] = ledger
        return condition

    def _snapshot_reader(self, condition, task_vars):
        """A function taking the named inventory host's snapshot through its platform driver (SSH settings, retries)."""
        host = condition.get("host")
        if not host:
            return None
        platform = self._var(task_vars, "governed_platform", host)
        if not platform:
            raise ValidationError("the platform of %s is not known." % host, where="condition.host",
                                  fix="set governed_platform (frr or linux) for the host in the inventory.")
        driver = get_platform(platform)(self.transport_for({}, task_vars, host), host,
                                        state_dir=self._var(task_vars, "governed_state_dir", host))
        return driver.snapshot
