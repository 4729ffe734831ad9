# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.recovery_plan: what recovering a change whose run died means, read from the ledger."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import recovery
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Read the change's record, its devices and their references (read-only, once for the whole change)."""

    MODULE_NAME = "recovery_plan"

    def execute(self, args, task_vars, result):
        out = recovery.plan(self._path(args["ledger"], task_vars), args["change_id"], force=args["force"])
        out["changed"] = False
        out["msg"] = out.pop("reason")
        return out
