# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.escalate: write the hand-off packet, POST it to the webhook, record it."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Escalate once for the whole change."""

    MODULE_NAME = "escalate"

    def execute(self, args, task_vars, result):
        output_dir = self.output_dir(args, task_vars)
        assessment, change_id = self._change(args, task_vars, output_dir)
        settings = self._settings(args, task_vars, assessment, output_dir, change_id)
        ledger = None
        if settings["ledger"]:
            ledger, _record = lifecycle.open_change(settings["ledger"], change_id)  # a bad ledger is bad input: fail before any hand-off
        try:
            packet = esc.build_packet(change_id, args["reason"], detected=args["detected"], actions_taken=args["actions_taken"],
                                      devices=args["devices"], escalation=settings["escalation"], runbook=settings["runbook"],
                                      assessment=assessment, recommended_next_step=args["recommended_next_step"],
                                      ledger={"path": settings["ledger"]} if settings["ledger"] else None)
            if self._task.check_mode:
                return preview(output_dir, change_id, packet, settings["webhook_url"])
            paths = esc.write_packet(output_dir, packet)
            delivery = self._deliver(args, settings["webhook_url"], packet)
            event = esc.event_kind(settings["webhook_url"], delivery)
            if ledger is not None:
                ledger.append_event(change_id, event, "governed.change", event_data(args, settings, packet, paths, delivery))
        finally:
            if ledger is not None:
                ledger.close()
        return self._result(change_id, packet, paths, delivery, event, ledger is not None, settings["webhook_url"])

    def _change(self, args, task_vars, output_dir):
        """(assessment or None, change id): given, from the assessment, or the assessment found under output_dir."""
        assessment = self._assessment(args, task_vars)
        change_id = args["change_id"] or (assessment or {}).get("change_id")
        if not change_id:
            raise ValidationError("no change id was given and no assessment names one.", where="change_id",
                                  fix="pass change_id (or assessment_file).")
        check_safe_id(change_id, where="change_id")  # it names files under output_dir
        if assessment and assessment.get("change_id") not in (None, change_id):
            raise ValidationError("the assessment is of %s, not %s." % (assessment.get("change_id"), change_id), where="assessment",
                                  fix="pass the assessment of the escalated change.")
        if assessment is None:
            path = artifact.find(output_dir, change_id)
            assessment = artifact.load(path) if path else None
        return assessment, change_id

    def _assessment(self, args, task_vars):
        given, file_path = args["assessment"], args["assessment_file"]
        if given is None and not file_path:
            fallback = task_vars.get("governed_assessment")
            if fallback is None:
                return None
            given = self._templar.template(fallback)
        return artifact.resolve(given, file_path, None, lambda path: self._path(path, task_vars))[0]

    def _settings(self, args, task_vars, assessment, output_dir, change_id):
        """The escalation target, the runbook, the webhook and the ledger, checked."""
        escalation = self._target(args, task_vars, assessment)
        webhook_url = args["webhook_url"] or None
        if webhook_url:
            esc.check_webhook_url(webhook_url)
        check_retry_settings(args)
        return {"escalation": escalation, "webhook_url": webhook_url,
                "runbook": args["runbook"] or existing(os.path.join(output_dir, "runbooks", "%s.md" % change_id)),
                "ledger": self._path(args["ledger"], task_vars) if args["ledger"] else None}

    def _target(self, args, task_vars, assessment):
        """The tier's escalation settings: from the policy when given, else from the assessment's requirements."""
        policy = load_policy(self._path(args["policy"], task_vars)) if args["policy"] else None
        return esc.tier_settings(policy, args["tier"] or (assessment or {}).get("tier"), assessment)

    @staticmethod
    def _deliver(args, webhook_url, packet):
        if not webhook_url:
            return idle_delivery(None)
        return esc.post_webhook(webhook_url, esc.payload_for(packet, args["webhook_format"]), timeout=args["webhook_timeout"],
                                retries=args["webhook_retries"], retry_delay=args["webhook_retry_delay"],
                                validate_certs=args["validate_certs"])

    def _result(self, change_id, packet, paths, delivery, event, recorded, webhook_url):
        out = {"changed": True, "escalation": dict(paths, sequence=packet["sequence"], packet=packet, **delivery), "recorded": recorded,
               "event": event, "ansible_stats": self.stats({"governed_escalation": paths["path"]})}
        if webhook_url and not delivery["sent"]:
            out["warnings"] = ["%s: the escalation of %s was written to %s but the webhook %s did not accept it after %d attempt(s): %s." % (
                self._fqcn(), change_id, paths["path"], delivery["target"], delivery["attempts"], delivery["error"])]
        return out


def existing(path):
    return path if os.path.isfile(path) else None


def check_retry_settings(args):
    if not 0 <= args["webhook_retries"] <= esc.MAX_WEBHOOK_RETRIES or args["webhook_retry_delay"] < 0 or args["webhook_timeout"] <= 0:
        raise ValidationError("webhook_retries must be 0..%d, webhook_retry_delay not negative and webhook_timeout positive."
                              % esc.MAX_WEBHOOK_RETRIES, where="webhook_retries", fix="pass bounded retry settings.")


def idle_delivery(webhook_url):
    """The delivery record of a packet not (yet) posted."""
    return {"sent": False, "status": None, "attempts": 0, "error": None, "target": esc.display_url(webhook_url) if webhook_url else None}


def preview(output_dir, change_id, packet, webhook_url):
    """What escalating would write, nothing written or sent (check mode)."""
    directory = os.path.join(output_dir, "escalations")
    packet["sequence"] = esc.next_sequence(directory, change_id)
    esc.seal(packet)
    path = os.path.join(directory, "%s-%d.json" % (change_id, packet["sequence"]))
    paths = {"path": path, "markdown_path": path[:-len(".json")] + ".md"}
    return {"changed": False, "escalation": dict(paths, sequence=packet["sequence"], packet=packet, **idle_delivery(webhook_url)),
            "recorded": False, "event": None}


def event_data(args, settings, packet, paths, delivery):
    """The ledger event of an escalation: where the packet is, where it went, and whether it was accepted."""
    webhook_url = settings["webhook_url"]
    return {"reason": packet["reason"], "sequence": packet["sequence"], "path": paths["path"], "markdown_path": paths["markdown_path"],
            "packet_sha256": packet["sha256"], "escalation_target": packet["escalation_target"], "severity": packet["severity"],
            "webhook": delivery["target"], "format": args["webhook_format"] if webhook_url else None, "sent": delivery["sent"],
            "status": delivery["status"], "attempts": delivery["attempts"], "error": delivery["error"],
            "runbook": settings["runbook"], "recommended_next_step": packet["recommended_next_step"]}
