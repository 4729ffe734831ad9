# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.close: the final ledger state, the outcome, the evidence bundle and the report."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import evidence, lifecycle
from ansible_collections.governed.change.plugins.module_utils.ledger import ledger_location
from ansible_collections.governed.change.plugins.module_utils.paths import check_outside_collection, check_safe_id
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.evidence_recorder import CONFIG_LINE, recorder_problem


class ActionModule(GovernedActionBase):
    """Close one change, once, on the controller."""

    MODULE_NAME = "close"

    def execute(self, args, task_vars, result):
        ledger_path = check_outside_collection(self._path(args["ledger"], task_vars), where="ledger")
        output_dir = check_outside_collection(self._path(args["output_dir"], task_vars), where="output_dir")
        change_id, outcome = args["change_id"], args["outcome"]
        check_safe_id(change_id, where="change_id")  # it names evidence/<id>/: refused before anything is read or written
        actor = args["actor"] or task_vars.get("governed_launcher") or "governed.change.close"
        request = {"output_dir": output_dir, "actor": str(self._templar.template(actor)), "reason": args["reason"],
                   "started": args["started"], "stages": args["stages"] or {}, "diff_limit": args["diff_limit"],
                   "store_dir": self._path(args["store_dir"], task_vars), "policy": self._path(args["policy"], task_vars),
                   "assessment_file": self._path(args["assessment_file"], task_vars) if args["assessment_file"] else None}
        recorder = recorder_problem()  # without the evidence callback the bundle has no task timeline: it says so
        request["run_problems"] = ["the run that closed the change did not record its tasks: %s; add `%s` to ansible.cfg" % (
            recorder, CONFIG_LINE)] if recorder else []
        closed = lifecycle.close_change(ledger_path, change_id, outcome, request, check_mode=self._task.check_mode)
        return self._result(closed, ledger_path, output_dir, change_id, outcome)

    def _result(self, closed, ledger_path, output_dir, change_id, outcome):
        bundle, paths = closed["bundle"], closed["paths"]
        return {"changed": closed["changed"], "rebuilt": closed["rebuilt"], "change_id": change_id, "outcome": outcome,
                "state": closed["state"], "evidence": paths["evidence"], "report": paths["report"], "bundle_sha256": bundle["sha256"],
                "ledger": {"path": ledger_location(ledger_path), "head": bundle["ledger"]["head"], "verify_ok": bundle["ledger"]["verify"]["ok"]},
                "output_dir": os.path.abspath(output_dir), "summary_lines": closed["lines"], "summary": evidence.summary(bundle, paths),
                "ansible_stats": self.stats({"governed_evidence": paths["evidence"], "governed_report": paths["report"],
                                             "governed_outcome": outcome})}
