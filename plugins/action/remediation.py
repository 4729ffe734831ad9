# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.remediation: decide on a detected event (module_utils/remediation.py), record it."""

from __future__ import annotations

import json
import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import remediation
from ansible_collections.governed.change.plugins.module_utils.clock import utc_now
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Catalogue and rate-limit decision (phase decide), or the risk decision on the assessed change (phase risk)."""

    MODULE_NAME = "remediation"

    def execute(self, args, task_vars, result):
        ledger = self._path(args["ledger"], task_vars)
        if args["phase"] == "decide":
            decision = self._decide(args, task_vars, ledger)
        else:
            if not args["decision"] or not args["assessment_file"]:
                raise ValidationError("phase risk needs decision and assessment_file.", where="decision",
                                      fix="pass the decide phase's decision and the assessment file of the generated change.")
            decision = remediation.decide_risk(args["decision"], artifact.load(self._path(args["assessment_file"], task_vars)))
        out = {"changed": not self._task.check_mode, "decision": decision, "remediate": decision["decision"] == "remediate",
               "detected": remediation.detected_text(decision) if decision["decision"] == "escalate" else []}
        if not self._task.check_mode:
            event = remediation.record_decision(ledger, decision)
            out["event"] = {"seq": event["seq"], "kind": event["kind"], "ts": event["ts"]}
        return out

    def _decide(self, args, task_vars, ledger):
        if args["event"] is None:
            raise ValidationError("phase decide needs the event.", where="event", fix="pass ansible_eda.event (the rulebook's event).")
        policy = load_policy(self._path(args["policy"], task_vars))
        body = args["event"].get("governed_event", args["event"])
        device = body.get("device") if isinstance(body, dict) else None
        groups = ((task_vars.get("hostvars") or {}).get(device) or {}).get("group_names") or [] if isinstance(device, str) else []
        decision = remediation.decide(args["event"], policy, remediation.decision_history(ledger), utc_now(), groups=groups)
        if decision["decision"] == "remediate" and not self._task.check_mode:
            folder = os.path.join(self.output_dir(args, task_vars), "remediations")
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, "%s.json" % decision["change_id"])
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(decision["change_request"], handle, indent=2, sort_keys=True)
            decision["change_request_file"] = path
        return decision
