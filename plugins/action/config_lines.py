# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.config_lines: one target's configuration lines, rendered as assess renders them."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.change_request import load_change_request
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.facts import config_entries, normalize_inventory
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.render import host_groups, render_config_lines


class ActionModule(GovernedActionBase):
    """Render the task host's configuration lines with plugin_utils.render (the assess action's function)."""

    MODULE_NAME = "config_lines"

    def execute(self, args, task_vars, result):
        cr_path = self._path(args["change_request"], task_vars)
        request = load_change_request(cr_path)
        templates_dir = self._path(args["templates_dir"], task_vars)
        if args.get("hosts") is not None:
            # one task for the whole stage (issue 16: one worker, not one per host); each host with its own variables
            by_host = dict((host, self._render(request, host, task_vars, cr_path, templates_dir)) for host in args["hosts"])
            return {"changed": False, "by_host": by_host, "lines_by_host": dict((h, r["lines"]) for h, r in by_host.items()),
                    "expected": request["expected"]}
        if not args["render"]:
            return {"changed": False, "lines": [], "has_config": False, "entries": [], "expected": request["expected"]}
        return dict(self._render(request, task_vars["inventory_hostname"], task_vars, cr_path, templates_dir),
                    changed=False, expected=request["expected"])

    def _render(self, request, host, task_vars, cr_path, templates_dir):
        if host not in (task_vars.get("hostvars") or {}):
            raise ValidationError("host %r is not in the inventory." % host, where="config_lines: hosts",
                                  fix="list the inventory hosts whose lines to render.")
        # The host's groups as the assess action sees them, so the same config entries apply.
        inventory = normalize_inventory({"hosts": {host: {"groups": host_groups(task_vars, host)}}})
        lines = render_config_lines(self._templar, request, host, inventory, cr_path, task_vars["hostvars"][host],
                                    templates_dir=templates_dir)
        entries = [{"key": key, "template": entry["template"]} if "template" in entry else {"key": key}
                   for key, entry in config_entries(request, host, inventory)]
        return {"lines": lines or [], "has_config": lines is not None, "entries": entries}
