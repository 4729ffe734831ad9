# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.run_guard: no governed change starts without its evidence recorder, or writing into
the installed collection."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.paths import check_outside_collection
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.evidence_recorder import require_recorder


class ActionModule(GovernedActionBase):
    """Check the run's settings before the first stage; nothing is written."""

    MODULE_NAME = "run_guard"

    def execute(self, args, task_vars, result):
        out = {"changed": False, "callback": require_recorder()}
        for key in ("output_dir", "ledger", "store_dir"):
            if args[key]:
                out[key] = check_outside_collection(self._path(args[key], task_vars), where=key)
        return out
