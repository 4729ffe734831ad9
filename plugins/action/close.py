# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.close: the final ledger state, the outcome, the evidence bundle and the report."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import FINAL_STATES, SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.report import render_html
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase

# The lifecycle steps from each state to "review" (the last step before "closed").
TO_REVIEW = {"scheduled": ("implement", "review"), "implement": ("review",), "review": ()}
NOT_AUTHORIZED = ("new", "assess", "authorize")


def plan_transitions(state, outcome, change_id):
    """The states to move through to end ``change_id`` (in ``state``) with ``outcome``; illegal endings raise."""
    if outcome == "canceled":
        if state in ("implement", "review"):
            raise LedgerError("change %s is in %s: its devices were touched, so it cannot be canceled." % (change_id, state),
                              where="close.outcome", fix="close it as unsuccessful (rolled back) or successful_issues.")
        return ("canceled",)
    if state in NOT_AUTHORIZED:
        raise LedgerError("change %s is in %s: it never passed the review gate, so it cannot be closed as %s." % (change_id, state, outcome),
                          where="close.outcome", fix="close it as canceled, or pass the review gate before deploying.")
    return TO_REVIEW[state] + ("closed",)


class ActionModule(GovernedActionBase):
    """Close one change, once, on the controller."""

    MODULE_NAME = "close"

    def execute(self, args, task_vars, result):
        ledger_path = self._path(args["ledger"], task_vars)
        output_dir = self._path(args["output_dir"], task_vars)
        change_id, outcome = args["change_id"], args["outcome"]
        check_safe_id(change_id, where="change_id")  # it names evidence/<id>/: refused before anything is read or written
        assessment_file = self._path(args["assessment_file"], task_vars) if args["assessment_file"] else None
        actor = args["actor"] or task_vars.get("governed_launcher") or "governed.change.close"
        actor = str(self._templar.template(actor))
        if not os.path.isfile(ledger_path):
            raise LedgerError("the ledger file does not exist.", where="ledger: %s" % ledger_path,
                              fix="pass the ledger the assess stage recorded the change in.")
        stages = args["stages"] or {}
        with SqliteLedger(ledger_path) as ledger:
            change = ledger.check_change(change_id)  # refuses a tampered ledger with the seq; nothing is recorded
            if change is None:
                raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger_path,
                                  fix="assess the change with this ledger first.")
            state = change["state"]
            done = self._final_outcome(change)
            if done is not None and done != outcome:
                raise LedgerError("change %s is already %s; it cannot be closed again as %s." % (change_id, done, outcome),
                                  where="close.outcome", fix="a closed change is final: open a new change for further work.")
            rebuilt = done is not None
            steps = () if rebuilt else plan_transitions(state, outcome, change_id)
            if self._task.check_mode:
                bundle = evidence.build_bundle(ledger, change_id, output_dir=output_dir, stages=stages or None,
                                               assessment_file=assessment_file, diff_limit=args["diff_limit"])
                bundle_path, report_path = evidence.bundle_paths(output_dir, change_id)
                paths = {"evidence": os.path.abspath(bundle_path), "report": os.path.abspath(report_path)}
                lines = evidence.summary_lines(bundle, paths)
                if steps:
                    lines.insert(1, "  (check mode) would move %s -> %s and record outcome %s" % (state, " -> ".join(steps), outcome))
                return self._result(bundle, paths, lines, ledger_path, output_dir, change_id, outcome, state, changed=bool(steps),
                                    rebuilt=rebuilt)
            if not rebuilt:
                bundle_path, report_path = evidence.bundle_paths(output_dir, change_id)
                ledger.append_event(change_id, "stage.results", actor, {"stages": evidence.refs_only(stages)})
                for step in steps:
                    if step == "closed":
                        ledger.transition(change_id, "closed", actor, close_code=outcome, reason=args["reason"])
                    else:
                        ledger.transition(change_id, step, actor, reason="close: %s" % outcome)
                ledger.append_event(change_id, "change.outcome", actor, {
                    "outcome": outcome, "reason": args["reason"], "started": args["started"], "from_state": state,
                    "output_dir": os.path.abspath(output_dir), "store_dir": self._path(args["store_dir"], task_vars),
                    "policy": self._path(args["policy"], task_vars), "assessment_file": assessment_file,
                    "evidence": os.path.abspath(bundle_path), "report": os.path.abspath(report_path)})
            bundle, paths = evidence.build_and_write(ledger, change_id, output_dir, stages=None, assessment_file=assessment_file,
                                                     render_report=render_html, actor=actor, diff_limit=args["diff_limit"])
            lines = evidence.summary_lines(bundle, paths)
            final_state = ledger.get_change(change_id)["state"]
        return self._result(bundle, paths, lines, ledger_path, output_dir, change_id, outcome, final_state, changed=not rebuilt,
                            rebuilt=rebuilt)

    @staticmethod
    def _final_outcome(change):
        if change["state"] not in FINAL_STATES:
            return None
        return "canceled" if change["state"] == "canceled" else change["close_code"]

    def _result(self, bundle, paths, lines, ledger_path, output_dir, change_id, outcome, state, changed, rebuilt):
        info = evidence.summary(bundle, paths)
        return {"changed": changed, "rebuilt": rebuilt, "change_id": change_id, "outcome": outcome, "state": state,
                "evidence": paths["evidence"], "report": paths["report"], "bundle_sha256": bundle["sha256"],
                "ledger": {"path": os.path.abspath(ledger_path), "head": bundle["ledger"]["head"], "verify_ok": bundle["ledger"]["verify"]["ok"]},
                "output_dir": os.path.abspath(output_dir), "summary_lines": lines, "summary": info,
                "ansible_stats": self.stats({"governed_evidence": paths["evidence"], "governed_report": paths["report"],
                                             "governed_outcome": outcome})}
