# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.review_gate: gathers approvals and the launcher, delegates to the review core."""

from __future__ import annotations

import getpass
import os

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import itsm, itsm_servicenow, lifecycle
from ansible_collections.governed.change.plugins.module_utils.awx import AwxClient, read_workflow_approvals
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused, ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.review import change_id_of
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase
from ansible_collections.governed.change.plugins.plugin_utils.gates import join_reasons, parse_now
from ansible_collections.governed.change.plugins.module_utils.clock import utc_now as clock_now

LAUNCHER_VARS = ("awx_user_name", "tower_user_name")
WORKFLOW_VARS = ("awx_workflow_job_id", "tower_workflow_job_id")
AWX_FIX = ("attach a controller credential (CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN) or pass awx.url and awx.token; "
           "to rely on signed approvals only, set awx: {enabled: false}.")


class ActionModule(GovernedActionBase):
    """Evaluate the review gate once for the whole change."""

    MODULE_NAME = "review_gate"

    def execute(self, args, task_vars, result):
        policy = load_policy(self._path(args["policy"], task_vars))
        assessment, _source = artifact.resolve(args["assessment"], args["assessment_file"], self._var(task_vars, "governed_assessment"),
                                               lambda path: self._path(path, task_vars))
        change_id = change_id_of(assessment)
        if not change_id or not assessment.get("content_hash"):
            raise ValidationError("the assessment lacks its change_id or content_hash.", where="assessment",
                                  fix="pass the assessment (or summary) returned by governed.change.assess.")
        now = parse_now(args["now"]) or clock_now()
        ledger_path = self._path(args["ledger"], task_vars)
        signers = self._path(args["allowed_signers"], task_vars) if args["allowed_signers"] else None

        def evaluate(ledger, record):
            awx = self._read_awx(args["awx"], task_vars, change_id, assessment.get("content_hash"))
            launchers = self._launchers(args["launcher"], task_vars, awx)
            cab = read_servicenow(policy, ledger, change_id, args["servicenow"])
            return lifecycle.review_verdict(policy, assessment, record, ledger.approvals(change_id), awx, launchers, now=now,
                                            allowed_signers=signers, ledger_path=ledger_path, itsm=cab)

        verdict, recorded = lifecycle.evaluate_and_record(ledger_path, change_id, "review", evaluate, check_mode=self._task.check_mode)
        return self._result(change_id, verdict, recorded)

    def _result(self, change_id, verdict, recorded):
        summary = {"change_id": change_id, "decision": verdict["decision"], "tier": verdict["tier"],
                   "content_hash": verdict["content_hash"], "approvers": [item["identity"] for item in verdict["counted"]],
                   "evaluated_at": verdict["evaluated_at"]}
        out = {"changed": recorded, "verdict": verdict, "decision": verdict["decision"], "recorded": recorded, "summary": summary,
               "ansible_facts": {"governed_review": verdict}, "ansible_stats": self.stats({"governed_review": summary})}
        if verdict["decision"] != "pass":
            out.update(failed=True, msg=failure_message(self._fqcn(), verdict))
        return out

    # ----------------------------------------------------------------------------------------------------------
    def _var(self, task_vars, name):
        value = task_vars.get(name)
        return None if value is None else self._templar.template(value)

    def _launchers(self, given, task_vars, awx):
        """Every launcher to check (distinct, order kept); the controller's OS user when nothing names one."""
        names = [given] + [self._var(task_vars, name) for name in LAUNCHER_VARS] + [awx and awx.get("launcher")]
        out = []
        for name in names:
            if name and str(name) not in out:
                out.append(str(name))
        if not out:
            try:
                out.append(getpass.getuser())
            except (KeyError, OSError):  # no passwd entry: the launcher stays unknown, the gate fails closed
                out.append(None)
        return out

    def _read_awx(self, options, task_vars, change_id, content_hash):
        """The AWX approvals of the workflow job, or None when the AWX source is not in use."""
        options = options or {}
        job_id = options.get("workflow_job_id")
        if job_id is None:
            job_id = next((self._var(task_vars, name) for name in WORKFLOW_VARS if task_vars.get(name) not in (None, "")), None)
        if options.get("enabled") is False or (not options and job_id is None):
            return None
        client = awx_client(options, job_id)
        return read_workflow_approvals(client, job_id, change_id, content_hash=content_hash)


def read_servicenow(policy, ledger, change_id, options):
    """The CAB approvals of the change's ServiceNow record when the policy takes approvals from it, else None."""
    settings = itsm_servicenow.itsm_settings(policy)
    if ledger is None or settings is None or not settings["approval_source"]:
        return None
    return itsm.read_approvals(ledger, change_id, settings, lambda: itsm_servicenow.client_from(settings, options),
                               index=approvals_mod.identity_index(policy))


def _first_set(*values):
    return next((value for value in values if value), None)


def awx_client(options, job_id):
    """An AwxClient for the AWX approval source; refused when the controller's URL, token or the workflow job is unknown."""
    url = _first_set(options.get("url"), os.environ.get("CONTROLLER_HOST"), os.environ.get("TOWER_HOST"))
    token = _first_set(options.get("token"), os.environ.get("CONTROLLER_OAUTH_TOKEN"), os.environ.get("TOWER_OAUTH_TOKEN"))
    missing = [name for name, value in (("url", url), ("token", token), ("workflow_job_id", job_id)) if value in (None, "")]
    if missing:
        raise GateRefused("the AWX approval source is in use (%s) but not all of it is known (missing: %s), so AWX approvals "
                          "cannot be checked." % ("awx option given" if options else "inside AWX workflow job %s" % job_id, ", ".join(missing)),
                          where="awx", fix=AWX_FIX if job_id is not None else "pass awx.workflow_job_id, or run inside an "
                          "AWX/AAP workflow (awx_workflow_job_id).")
    validate = options.get("validate_certs")
    if validate is None:
        validate = os.environ.get("CONTROLLER_VERIFY_SSL", "true").strip().lower() not in ("0", "false", "no", "off")
    if "://" not in url:
        url = "https://" + url  # the controller credential's host may omit the scheme
    return AwxClient(url, token, timeout=options.get("timeout") or 10, validate_certs=validate)


def failure_message(fqcn, verdict):
    """Every reason of a refusal with its fix, and each rejected approval with why it does not count."""
    parts = ["change %s (tier %s) is not authorized: %s" % (verdict.get("change_id"), verdict.get("tier"), join_reasons(verdict["reasons"]))]
    rejected = ["%s (%s): %s" % (item.get("identity") or item.get("approver"), item.get("source"), item["reason"])
                for item in verdict.get("rejected") or []]
    if rejected:
        parts.append("Approvals not counted: %s" % " | ".join(rejected))
    return "%s: %s" % (fqcn, " ".join(parts))
