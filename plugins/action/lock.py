# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.lock: a change's device leases in the ledger, taken before any device is touched."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Acquire (and optionally move the change to implement) or release the change's device leases."""

    MODULE_NAME = "lock"

    def execute(self, args, task_vars, result):
        path = self._path(args["ledger"], task_vars)
        if args["state"] == "released":
            return lifecycle.release_locks(path, args["change_id"], args["devices"], check_mode=self._task.check_mode)
        return lifecycle.acquire_locks(path, args["change_id"], args["devices"], args["owner"], args["ttl"],
                                       transition=args["transition"], check_mode=self._task.check_mode)
