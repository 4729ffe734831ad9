# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.config_lines: one target's configuration lines, rendered as assess renders them."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.change_request import load_change_request
from ansible_collections.governed.change.plugins.module_utils.facts import config_entries, normalize_inventory
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.render import host_groups, render_config_lines


class ActionModule(GovernedActionBase):
    """Render the task host's configuration lines with plugin_utils.render (the assess action's function)."""

    MODULE_NAME = "config_lines"

    def execute(self, args, task_vars, result):
        host = task_vars["inventory_hostname"]
        cr_path = self._path(args["change_request"], task_vars)
        request = load_change_request(cr_path)
        if not args["render"]:
            return {"changed": False, "lines": [], "has_config": False, "entries": [], "expected": request["expected"]}
        # The host's groups as the assess action sees them, so the same config entries apply.
        inventory = normalize_inventory({"hosts": {host: {"groups": host_groups(task_vars, host)}}})
        lines = render_config_lines(self._templar, request, host, inventory, cr_path, task_vars["hostvars"][host],
                                    templates_dir=self._path(args["templates_dir"], task_vars))
        entries = [{"key": key, "template": entry["template"]} if "template" in entry else {"key": key}
                   for key, entry in config_entries(request, host, inventory)]
        return {"changed": False, "lines": lines or [], "has_config": lines is not None, "entries": entries,
                "expected": request["expected"]}
