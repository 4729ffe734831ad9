# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.recovery_record: the recovery verdicts into the ledger, and whether to close."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import recovery
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Record every device's recovery verdict once for the whole change; return the decision."""

    MODULE_NAME = "recovery_record"

    def execute(self, args, task_vars, result):
        path = self._path(args["ledger"], task_vars)
        if self._task.check_mode:
            verdicts = {host: (res or {}).get("verdict") or recovery.RECOVERY_FAILED for host, res in args["results"].items()}
            decision = recovery.decide(verdicts, list(args["missing"] or {}))
            return dict(decision, verdicts=verdicts, changed=False, msg=decision["reason"])
        decision = recovery.record(path, args["change_id"], args["results"], missing=args["missing"],
                                   actor=args["actor"] or "governed.change.recover")
        return dict(decision, changed=True, msg=decision["reason"])
