# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.window_gate: reads the targets' site and groups, delegates to the windows core."""

from __future__ import annotations

import datetime
import time

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.review import change_id_of
from ansible_collections.governed.change.plugins.module_utils.windows import wait_for_window, window_gate
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.gates import inventory_targets, join_reasons, parse_now

CHANGE_KEYS = ("change_id", "type", "change_class", "tier", "window")


class ActionModule(GovernedActionBase):
    """Evaluate the window gate once for the whole change."""

    MODULE_NAME = "window_gate"

    def execute(self, args, task_vars, result):
        policy = load_policy(self._path(args["policy"], task_vars))
        fallback = task_vars.get("governed_assessment")
        assessment, _source = artifact.resolve(args["assessment"], args["assessment_file"],
                                               None if fallback is None else self._templar.template(fallback),
                                               lambda path: self._path(path, task_vars))
        change_id = change_id_of(assessment)
        hosts = assessment.get("hosts") or [t.get("host") for t in (assessment.get("facts") or {}).get("targets") or []]
        if not change_id or not hosts:
            raise ValidationError("the assessment lacks %s." % ("its change_id" if not change_id else "its hosts"), where="assessment",
                                  fix="pass the assessment (or summary) returned by governed.change.assess.")
        targets = inventory_targets(hosts, task_vars, self._templar)
        change = {key: assessment.get(key) for key in CHANGE_KEYS}
        now = parse_now(args["now"])

        def evaluate(_ledger, _record):
            return self._evaluate(policy, change, targets, now, args), None

        ledger_path = self._path(args["ledger"], task_vars) if args["ledger"] else None
        verdict, recorded = lifecycle.evaluate_and_record(ledger_path, change_id, "window", evaluate, check_mode=self._task.check_mode)
        return self._result(change_id, verdict, recorded)

    def _result(self, change_id, verdict, recorded):
        summary = {"change_id": change_id, "decision": verdict["decision"], "evaluated_at": verdict["evaluated_at"],
                   "windows_open": verdict["windows_open"], "next_open": verdict["next_open"]}
        if verdict.get("bypass"):
            summary["post_review_due"] = verdict["bypass"]["post_review_due"]
        out = {"changed": recorded, "verdict": verdict, "decision": verdict["decision"], "recorded": recorded, "summary": summary,
               "ansible_facts": {"governed_window": verdict}, "ansible_stats": self.stats({"governed_window": summary})}
        if verdict["decision"] != "pass":
            out.update(failed=True, msg="%s: change %s may not run now: %s" % (self._fqcn(), change_id, join_reasons(verdict["reasons"])))
        return out

    @staticmethod
    def _evaluate(policy, change, targets, now, args):
        if not args["wait"]:
            return window_gate(policy, change, targets, now=now)
        if args["wait_max_seconds"] < 0:
            raise ValidationError("wait_max_seconds must not be negative.", where="wait_max_seconds", fix="pass 0 or more seconds.")
        if now is None:
            return wait_for_window(policy, change, targets, args["wait_max_seconds"], clock=None)
        started = time.monotonic()

        def moving_clock():  # a given 'now' advances with the real clock while the gate waits
            return now + datetime.timedelta(seconds=time.monotonic() - started)
        return wait_for_window(policy, change, targets, args["wait_max_seconds"], clock=moving_clock)
