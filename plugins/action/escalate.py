# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.escalate: write the hand-off packet, POST it to the webhook, record it."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.runbook import find_assessment_file
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.gates import open_ledger, resolve_assessment


class ActionModule(GovernedActionBase):
    """Escalate once for the whole change."""

    MODULE_NAME = "escalate"

    def execute(self, args, task_vars, result):
        def resolve(path):
            return self._path(path, task_vars)

        output_dir = self.output_dir(args, task_vars)
        assessment = self._assessment(args, task_vars, output_dir, resolve)
        change_id = args["change_id"] or (assessment or {}).get("change_id")
        if not change_id:
            raise ValidationError("no change id was given and no assessment names one.", where="change_id",
                                  fix="pass change_id (or assessment_file).")
        check_safe_id(change_id, where="change_id")  # it names files under output_dir
        if assessment and assessment.get("change_id") not in (None, change_id):
            raise ValidationError("the assessment is of %s, not %s." % (assessment.get("change_id"), change_id), where="assessment",
                                  fix="pass the assessment of the escalated change.")
        if assessment is None:
            path = find_assessment_file(output_dir, change_id)
            assessment = resolve_assessment(None, path, None, resolve)[0] if path else None
        tier = args["tier"] or (assessment or {}).get("tier")
        escalation = {}
        if args["policy"]:
            policy = load_policy(resolve(args["policy"]))
            if tier:
                escalation = dict((policy["requirements"].get(tier) or {}).get("escalation") or {})
        elif assessment:
            escalation = dict((assessment.get("requirements") or {}).get("escalation") or {})
        runbook = args["runbook"]
        if not runbook:
            candidate = os.path.join(output_dir, "runbooks", "%s.md" % change_id)
            runbook = candidate if os.path.isfile(candidate) else None
        webhook_url = args["webhook_url"] or None
        if webhook_url:
            esc.check_webhook_url(webhook_url)
        if not 0 <= args["webhook_retries"] <= esc.MAX_WEBHOOK_RETRIES or args["webhook_retry_delay"] < 0 or args["webhook_timeout"] <= 0:
            raise ValidationError("webhook_retries must be 0..%d, webhook_retry_delay not negative and webhook_timeout positive."
                                  % esc.MAX_WEBHOOK_RETRIES, where="webhook_retries", fix="pass bounded retry settings.")

        ledger = None
        ledger_path = resolve(args["ledger"]) if args["ledger"] else None
        if ledger_path:
            ledger, _record = open_ledger(ledger_path, change_id)  # a bad ledger is bad input: fail before any hand-off
        try:
            packet = esc.build_packet(change_id, args["reason"], detected=args["detected"], actions_taken=args["actions_taken"],
                                      devices=args["devices"], escalation=escalation, runbook=runbook, assessment=assessment,
                                      recommended_next_step=args["recommended_next_step"],
                                      ledger={"path": ledger_path} if ledger_path else None)
            delivery = {"sent": False, "status": None, "attempts": 0, "error": None,
                        "target": esc.display_url(webhook_url) if webhook_url else None}
            if self._task.check_mode:
                directory = os.path.join(output_dir, "escalations")
                packet["sequence"] = esc.next_sequence(directory, change_id)
                esc.seal(packet)
                path = os.path.join(directory, "%s-%d.json" % (change_id, packet["sequence"]))
                paths = {"path": path, "markdown_path": path[:-len(".json")] + ".md"}
                return {"changed": False, "escalation": dict(paths, sequence=packet["sequence"], packet=packet, **delivery),
                        "recorded": False, "event": None}
            paths = esc.write_packet(output_dir, packet)
            if webhook_url:
                payload = esc.payload_for(packet, args["webhook_format"])
                delivery = esc.post_webhook(webhook_url, payload, timeout=args["webhook_timeout"], retries=args["webhook_retries"],
                                            retry_delay=args["webhook_retry_delay"], validate_certs=args["validate_certs"])
            event = "escalation.failed_to_send" if webhook_url and not delivery["sent"] else "escalation.sent"
            recorded = False
            if ledger is not None:
                ledger.append_event(change_id, event, "governed.change", {
                    "reason": packet["reason"], "sequence": packet["sequence"], "path": paths["path"], "markdown_path": paths["markdown_path"],
                    "packet_sha256": packet["sha256"], "escalation_target": packet["escalation_target"], "severity": packet["severity"],
                    "webhook": delivery["target"], "format": args["webhook_format"] if webhook_url else None, "sent": delivery["sent"],
                    "status": delivery["status"], "attempts": delivery["attempts"], "error": delivery["error"],
                    "runbook": runbook, "recommended_next_step": packet["recommended_next_step"]})
                recorded = True
        finally:
            if ledger is not None:
                ledger.close()
        out = {"changed": True, "escalation": dict(paths, sequence=packet["sequence"], packet=packet, **delivery), "recorded": recorded,
               "event": event, "ansible_stats": self.stats({"governed_escalation": paths["path"]})}
        if webhook_url and not delivery["sent"]:
            out["warnings"] = ["%s: the escalation of %s was written to %s but the webhook %s did not accept it after %d attempt(s): %s." % (
                self._fqcn(), change_id, paths["path"], delivery["target"], delivery["attempts"], delivery["error"])]
        return out

    def _assessment(self, args, task_vars, output_dir, resolve):
        given, file_path = args["assessment"], args["assessment_file"]
        if given is None and not file_path:
            fallback = task_vars.get("governed_assessment")
            if fallback is None:
                return None
            given = self._templar.template(fallback)
        return resolve_assessment(given, file_path, None, resolve)[0]
