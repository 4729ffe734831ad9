# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.verification_scope: the devices a change is verified on (rules in module_utils/impact.py)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import impact
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    MODULE_NAME = "verification_scope"

    def execute(self, args, task_vars, result):
        assessment, pre = args["assessment"], args["pre_snapshots"]
        scope = impact.scope_for_play(assessment, pre, args["scope"], args["play_hosts"])
        if scope["unsnapshotted"]:
            raise ValidationError("no pre-change snapshot of %s, which the change is verified on." % ", ".join(scope["unsnapshotted"]),
                                  where="pre_snapshots",
                                  fix="run the play over every device of the scope (targets and the hosts the expected checks name).")
        return {"changed": False, "mode": scope["mode"], "hosts": scope["hosts"], "reasons": scope["reasons"],
                "excluded": scope["excluded"], "elsewhere": scope["elsewhere"], "pre_snapshots": {host: pre[host] for host in scope["hosts"]}}
