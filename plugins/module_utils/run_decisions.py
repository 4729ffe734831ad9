# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's decisions from its stage results, the same on every path.

The pipeline role (``roles/pipeline/tasks/finish.yml``) and the AWX stage playbooks (``playbooks/close.yml``,
``playbooks/escalate.yml``) hand the stage results they hold, in one shape (:data:`STAGE_KEYS`), to :func:`run_decision`
(filter ``governed.change.run_decision``). It assembles each device's record, asks :func:`outcome.decide` for the verdict
(outcome, escalation reason, device states, rollback, locks) and adds what the close and the escalation show: the close
reason, the actions taken, the MTTR and the stage results the close action records. The stages' own small decisions live
here too (:func:`stage_failed`, :func:`probes_for`, :func:`aggregate_hosts`, :func:`rollback_collect`), so the roles keep
only task order and host loops.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import batches, outcome
from ansible_collections.governed.change.plugins.module_utils.clock import ClockError, parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

# the stage results run_decision reads (every key optional); the stage keys hold that stage's facts:
#   assessment {tier, score, hosts, requirements}   (the assess summary or the whole assessment)
#   precheck {backups, pre_snapshots, hosts: {host: {failed, transient, msg}}}
#   deploy {deployed, failed_hosts, hosts: {host: {deploy, check, confirmed}}, implementing, halted, plan, failed_at,
#           undecidable, confirm_timeout}
#   verify {failed_hosts, hosts: {host: check record}, failed_at, undecidable}
#   rollback {targets, rolled_back, restore_failed, state_differs, verified, verified_at, records, post_snapshots}
STAGE_KEYS = (
    "change_id", "assessment", "stage_failed", "error", "forced_outcome", "forced_reason", "close_reason", "close_error",
    "review", "window", "precheck", "deploy", "verify", "rollback", "escalate_on_failure", "escalate_on_denial",
    "escalation", "report",
)
STAGE_PARTS = {
    "assessment": ("tier", "score", "hosts", "requirements"),
    "precheck": ("backups", "pre_snapshots", "hosts"),
    "deploy": ("deployed", "failed_hosts", "hosts", "implementing", "halted", "plan", "failed_at", "undecidable", "confirm_timeout"),
    "verify": ("failed_hosts", "hosts", "failed_at", "undecidable", "post_snapshots"),
    "rollback": ("targets", "rolled_back", "restore_failed", "state_differs", "verified", "verified_at", "records", "post_snapshots"),
}
CLOSE_REASON_LIMIT = 500


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return [str(value)]


def _union(*lists):
    out = []
    for items in lists:
        for item in _list(items):
            if item not in out:
                out.append(item)
    return out


def _flag(value):
    return outcome._flag(value)  # pylint: disable=protected-access


def _present(record):
    """A stage's record that counts: a dict that is not a skipped task."""
    record = _dict(record)
    return bool(record) and not _flag(record.get("skipped"))


def _part(stages, stage):
    return _dict(stages.get(stage))


def check_stages(stages):
    """Refuse what is not the stage results' shape (a typo would silently change a verdict)."""
    if not isinstance(stages, dict):
        raise ValidationError("the stage results must be a mapping, got %s." % type(stages).__name__, where="run_decision",
                              fix="pass {stage_failed, precheck, deploy, verify, rollback, review, ...}.")
    unknown = sorted(set(stages) - set(STAGE_KEYS))
    if unknown:
        raise ValidationError("unknown stage result(s) %s." % ", ".join(unknown), where="run_decision",
                              fix="use only %s." % ", ".join(STAGE_KEYS))
    for stage, keys in STAGE_PARTS.items():
        value = stages.get(stage)
        if value is not None and not isinstance(value, dict):
            raise ValidationError("%s must be a mapping, got %s." % (stage, type(value).__name__), where="run_decision.%s" % stage,
                                  fix="pass the %s stage's facts {%s}." % (stage, ", ".join(keys)))
        extra = sorted(set(_dict(value)) - set(keys))
        if extra and stage != "assessment":  # the whole assessment or its summary: the keys named are the ones read
            raise ValidationError("unknown key(s) %s." % ", ".join(extra), where="run_decision.%s" % stage,
                                  fix="use only %s." % ", ".join(keys))


def deployed_hosts(stages):
    return _list(_part(stages, "deploy").get("deployed"))


def failed_hosts(stages):
    """Every device whose deploy or checks failed (deploy's, then verify's)."""
    return _union(_part(stages, "deploy").get("failed_hosts"), _part(stages, "verify").get("failed_hosts"))


# ---------------------------------------------------------------------------------------------- per-device records
def _deploy_part(record):
    record = _dict(record)
    return dict((key, record[key]) for key in ("deploy", "check", "confirmed") if key in record)


def _precheck_part(host, stages):
    precheck = _part(stages, "precheck")
    record = {}
    for key, source in (("backup", "backups"), ("pre", "pre_snapshots")):
        if host in _dict(precheck.get(source)):
            record[key] = precheck[source][host]
    return record


def _verify_part(host, stages):
    verify = _part(stages, "verify")
    record = _dict(verify.get("hosts")).get(host)
    out = {}
    if isinstance(record, dict):
        out["verify"] = record
        if "post" in record:
            out["post"] = record["post"]
    if host in _dict(verify.get("post_snapshots")):
        out["post"] = verify["post_snapshots"][host]
    return out


def _rollback_part(host, stages):
    rollback = _part(stages, "rollback")
    record = _dict(_dict(rollback.get("records")).get(host))
    out = {}
    if _present(record.get("restore")):
        out["restore"] = record["restore"]
    if host in _dict(rollback.get("post_snapshots")):
        out["post"] = rollback["post_snapshots"][host]
    if _present(record.get("verify")):
        out["rollback_verify"] = record["verify"]
    return out


def host_record(host, stages):
    """One device's record from the stage results: backup and pre (precheck), deploy/check/confirmed (deploy), verify
    and post (verify), restore, post and rollback_verify (rollback), precheck's own status. A skipped step is left out."""
    record = _precheck_part(host, stages)
    record.update(_deploy_part(_dict(_part(stages, "deploy").get("hosts")).get(host)))
    record.update(_verify_part(host, stages))
    record.update(_rollback_part(host, stages))
    status = _dict(_part(stages, "precheck").get("hosts")).get(host)
    if isinstance(status, dict):
        record["precheck"] = status
    return record


def run_hosts(stages):
    """The run's devices: every device snapshotted before the change (the verification scope) and every target."""
    precheck = _part(stages, "precheck")
    return _union(list(_dict(precheck.get("pre_snapshots"))), _part(stages, "assessment").get("hosts"),
                  list(_dict(precheck.get("backups"))), deployed_hosts(stages))


# ---------------------------------------------------------------------------------------------- the verdict's input
def review_facts(review):
    """{decision, expired, denied} from the review stage: its decision string, or its verdict (rejected, denied_by)."""
    if not isinstance(review, dict):
        return {"decision": review or "not run", "expired": False, "denied": False}
    rejected = [r for r in review.get("rejected") or [] if isinstance(r, dict)]
    expired = review.get("expired")
    if expired is None:
        expired = any("expired" in str(r.get("reason") or "") for r in rejected) or awx_approval_timed_out(review)
    denied = review.get("denied")
    if denied is None:
        denied = bool(review.get("denied_by"))
    return {"decision": review.get("decision") or "not run", "expired": _flag(expired), "denied": _flag(denied)}


def awx_approval_timed_out(review):
    """An AWX approval node of this workflow job timed out (the review gate's AWX source lists it as ignored, timed_out):
    the approval expired, as a signature older than the policy allows does."""
    awx = _dict(_dict(review.get("sources")).get("awx"))
    return any(isinstance(item, dict) and item.get("timed_out") is True for item in awx.get("ignored") or [])


def _undecidable(stages):
    return _flag(_part(stages, "deploy").get("undecidable")) or _flag(_part(stages, "verify").get("undecidable"))


def verdict_facts(stages, hosts, records):
    """The input of outcome.decide from the stage results."""
    rollback = _part(stages, "rollback")
    deploy = _part(stages, "deploy")
    facts = {"hosts": hosts, "records": records, "deployed": deployed_hosts(stages), "failed_hosts": failed_hosts(stages),
             "review": review_facts(stages.get("review")), "undecidable": _undecidable(stages),
             "escalation_configured": "escalation" in _dict(_part(stages, "assessment").get("requirements")),
             "rollback": dict((k, rollback[k]) for k in ("targets", "rolled_back", "restore_failed", "state_differs", "verified",
                                                         "records") if k in rollback)}
    if deploy.get("implementing") not in (None, ""):
        facts["implementing"] = deploy["implementing"]
    for key in ("stage_failed", "error", "forced_outcome", "forced_reason", "close_error", "escalate_on_failure",
                "escalate_on_denial"):
        if stages.get(key) is not None and stages.get(key) != "":
            facts[key] = stages[key]
    return facts


# ---------------------------------------------------------------------------------------------- what the close and the packet show
def close_reason(stages, verdict):
    """The reason the ledger's close records: the caller's, else "deployed and verified" or the failed stage and its error."""
    if stages.get("close_reason"):
        return str(stages["close_reason"])[:CLOSE_REASON_LIMIT]
    if verdict["outcome"] == "successful":
        return "deployed and verified"
    stage = stages.get("stage_failed") or ""
    if not stage:
        return "closed %s" % verdict["outcome"]
    error = outcome._clip(stages.get("error") or "")  # pylint: disable=protected-access
    return ("stage %s failed: %s" % (stage, error) if error else "stage %s failed" % stage)[:CLOSE_REASON_LIMIT]


def _assessed(stages):
    assessment = _part(stages, "assessment")
    if not assessment.get("tier"):
        return []
    score = assessment.get("score")
    return ["assessed: tier %s%s" % (assessment["tier"], "" if score in (None, "") else " (score %s)" % score)]


def _gate_decisions(stages):
    return {"review": review_facts(stages.get("review"))["decision"], "window": stages.get("window") or "not run"}


def _gates(stages):
    gates = _gate_decisions(stages)
    return ["review gate: %s" % gates["review"], "window gate: %s" % gates["window"]]


def _precheck_done(stages):
    backups = list(_dict(_part(stages, "precheck").get("backups")))
    return ["locked, backed up and snapshotted %s" % ", ".join(backups)] if backups else []


def _deployed(stages):
    deployed = deployed_hosts(stages)
    if not deployed:
        return []
    timer = _part(stages, "deploy").get("confirm_timeout")
    return ["deployed to %s%s" % (", ".join(deployed), "" if timer in (None, "") else " with a commit-confirmed timer of %s s" % timer)]


def _restored(verdict):
    rollback = verdict["rollback"]
    if not rollback["performed"]:
        return []
    how = "verified: the state equals the pre-change snapshot" if rollback["verified"] else "NOT verified"
    return ["restored %s from the backup; rollback %s" % (", ".join(rollback["targets"]), how)]


def actions_taken(stages, verdict):
    """What automation did, in order, for the escalation packet (the same sentences on every path)."""
    closed = "close FAILED: %s" % stages["close_error"] if stages.get("close_error") else "closed %s" % verdict["outcome"]
    return [*_assessed(stages), *_gates(stages), *_precheck_done(stages), *_deployed(stages), *_restored(verdict),
            closed, verdict["locks"]]


def first_failure(stages):
    """The time of the first failed check: deploy's, else verify's ('' when none failed)."""
    return _part(stages, "deploy").get("failed_at") or _part(stages, "verify").get("failed_at") or ""


def mttr_seconds(failed_at, verified_at, verified):
    """Seconds from the first failed check to the verified restored state (None when the rollback is not verified)."""
    if verified is not True or not failed_at or not verified_at:
        return None
    try:
        return round((parse_instant(verified_at, where="rollback.verified_at") - parse_instant(failed_at, where="failed_at"))
                     .total_seconds(), 2)
    except ClockError:
        return None


def close_stages(stages, hosts, records, verdict):
    """The stage results the close action records in the ledger and the evidence bundle (one shape on every path)."""
    deploy = _part(stages, "deploy")
    out = {"hosts": dict((h, records.get(h, {})) for h in hosts), "deployed": deployed_hosts(stages),
           "failed_hosts": failed_hosts(stages), "rolled_back": _list(_part(stages, "rollback").get("rolled_back")),
           "rollback_verified": verdict["rollback"]["verified"], "halted": _flag(deploy.get("halted")),
           "plan": _dict(deploy.get("plan")), "stage_failed": stages.get("stage_failed") or "", "error": stages.get("error") or "",
           "gates": _gate_decisions(stages), "decision": dict(verdict)}
    # when the failure was detected and when the restored state was verified: the ledger's MTTR (module_utils/metrics.py)
    verified_at = _part(stages, "rollback").get("verified_at") or ""
    out.update(failed_at=first_failure(stages), rollback_verified_at=verified_at,
               mttr_s=mttr_seconds(first_failure(stages), verified_at, verdict["rollback"]["verified"]))
    if stages.get("escalation"):
        out["escalation"] = stages["escalation"]
    return out


def summary_lines(stages, verdict, mttr):
    """The run's summary: the outcome (and the failed stage), the gates, the devices, the verdict, the MTTR, the escalation
    and the report."""
    stage = stages.get("stage_failed") or ""
    gates = _gate_decisions(stages)
    lines = ["change %s: %s%s" % (stages.get("change_id") or "(not assessed)", (verdict["outcome"] or "not closed").upper(),
                                  " (stage %s failed)" % stage if stage else ""),
             "gates: review %s, window %s" % (gates["review"], gates["window"]),
             "devices: deployed %s; failed %s; rolled back %s" % (
                 ", ".join(deployed_hosts(stages)) or "none", ", ".join(failed_hosts(stages)) or "none",
                 ", ".join(_list(_part(stages, "rollback").get("rolled_back"))) or "none"),
             "verdict: %s" % verdict["summary"]]
    if mttr is not None:
        lines.append("rollback verified in %s s from the failed check (MTTR)" % mttr)
    if verdict["reason"] and stages.get("escalation"):
        lines.append("escalated (%s): %s" % (verdict["reason"], stages["escalation"]))
    if stages.get("report"):
        lines.append("report: %s" % stages["report"])
    elif stages.get("close_error"):
        lines.append("close FAILED: %s" % stages["close_error"])
    return lines


def lifecycle_event(stages, verdict):
    """The lifecycle event that ends the run, for notifications and other listeners: approval_needed (the review gate
    refused for want of approvals - not denied, not expired), succeeded, rolled_back (a rollback was performed), else
    failed (an unsuccessful or canceled change)."""
    review = review_facts(stages.get("review"))
    if (stages.get("stage_failed") or "") == "review" and not review["denied"] and not review["expired"]:
        return "approval_needed"
    if verdict["outcome"] == "successful":
        return "succeeded"
    return "rolled_back" if verdict["rollback"]["performed"] else "failed"


def run_decision(stages):
    """Every decision of the run from its stage results (see STAGE_KEYS).

    Returns outcome.decide's verdict plus ``close_reason``, ``actions_taken``, ``mttr_s``, ``escalate`` (bool),
    ``summary_lines``, ``stages`` (what the close action records) and ``event`` (lifecycle_event).
    """
    check_stages(stages)
    hosts = run_hosts(stages)
    records = dict((h, host_record(h, stages)) for h in hosts)
    verdict = outcome.decide(verdict_facts(stages, hosts, records))
    mttr = mttr_seconds(first_failure(stages), _part(stages, "rollback").get("verified_at"), verdict["rollback"]["verified"])
    extra = {"close_reason": close_reason(stages, verdict), "actions_taken": actions_taken(stages, verdict), "mttr_s": mttr,
             "escalate": bool(verdict["reason"]), "summary_lines": summary_lines(stages, verdict, mttr),
             "stages": close_stages(stages, hosts, records, verdict), "event": lifecycle_event(stages, verdict)}
    verdict.update(extra)
    return verdict


# ---------------------------------------------------------------------------------------------- the stages' own decisions
def stage_hosts(hosts, play_hosts, limited):
    """The devices a stage acts on: all of ``hosts``, or - on a limited play (a workflow branch) - the ones the play holds."""
    hosts = _list(list(hosts) if isinstance(hosts, dict) else hosts)
    if not _flag(limited):
        return hosts
    held = set(_list(play_hosts))
    return [h for h in hosts if h in held]


def _hosts(value):
    return ", ".join(value) or "none"


def _missing_from_inventory(ask):
    if ask["inventory"] is not None:
        known = set(_list(ask["inventory"]))
        return [h for h in ask["targets"] if h not in known]
    return []


def _missing_from_unlimited_play(ask):
    return [] if _flag(ask["limited"]) else [h for h in ask["targets"] if h not in ask["play"]]


def _missing_from_play(ask):
    return [h for h in ask["mine"] if h not in ask["play"]]


def _without_pre_snapshot(ask):
    pre = ask["pre_snapshots"]
    scope = set(pre) if isinstance(pre, dict) else set(_list(pre))
    return [h for h in ask["mine"] if h not in scope]


def _checked_without_pre_snapshot(ask):
    pre = ask["pre_snapshots"]
    scope = set(pre) if isinstance(pre, dict) else set(_list(pre))
    return [h for h in _union(ask["mine"], [h for h in _list(ask["check_hosts"]) if h in ask["play"]]) if h not in scope]


def _without(key):
    def rule(ask):
        given = _dict(ask[key])
        return [h for h in ask["mine"] if not given.get(h)]
    return rule


# each stage's checks before any device is touched: (hosts that fail it, what is wrong, the fix), in the order shown
_INVENTORY = (_missing_from_inventory, "not in the inventory", "run with the inventory that holds the change's targets")
_PRE = (_without_pre_snapshot, "no pre snapshot", "pass governed_pre_snapshots from the precheck stage")
_BACKUP = (_without("backups"), "no backup", "pass governed_backups from the precheck stage")
STAGE_REFUSAL_RULES = {
    "precheck": (_INVENTORY, (_missing_from_unlimited_play, "not in this play's hosts (the play is not limited)",
                              "run the play over the change's targets (a --limit narrows the stage to the targets the play keeps)")),
    "deploy": (_INVENTORY, (_missing_from_play, "not in this play's hosts", "run the play over the change's targets"), _PRE,
               _BACKUP, (_without("lines"), "no configuration lines",
                         "give every target configuration in the change request (lines or a template) or pass deploy_lines")),
    "verify": (_INVENTORY, (_checked_without_pre_snapshot, "no pre snapshot", "pass governed_pre_snapshots from the precheck stage")),
    "rollback": (_INVENTORY, _BACKUP),
}


def stage_refusal(stage, targets, play_hosts, limited=False, inventory=None, pre_snapshots=None, backups=None, lines=None,
                  check_hosts=None):
    """Why a device stage must not start (a message naming what is missing and the fix), or "" when it may.

    ``targets``: the change's targets (the rollback: the devices chosen to restore); a limited play (a workflow
    branch) acts on the ones it holds (:func:`stage_hosts`). Checked before any device is touched
    (:data:`STAGE_REFUSAL_RULES`): every target in the ``inventory`` (when given); the precheck's targets in the play
    unless it is limited; the deploy's in the play, with a pre snapshot, a backup and configuration ``lines`` each; the
    verify's targets, and the ``check_hosts`` the play holds, with a pre snapshot; the rollback's with a backup. A value
    that is not what the stage needs counts as missing (fail closed).
    """
    if stage not in STAGE_REFUSAL_RULES:
        raise ValidationError("unknown stage %r." % (stage,), where="stage", fix="one of %s." % ", ".join(STAGE_REFUSAL_RULES))
    play = _list(play_hosts)
    ask = {"targets": _list(targets), "play": play, "mine": stage_hosts(targets, play, limited), "limited": limited,
           "inventory": inventory, "pre_snapshots": pre_snapshots, "backups": backups, "lines": lines,
           "check_hosts": check_hosts}
    problems, fixes = [], []
    for rule, what, fix in STAGE_REFUSAL_RULES[stage]:
        hosts = rule(ask)
        if hosts:
            problems.append("%s: %s" % (what, _hosts(hosts)))
            if fix not in fixes:
                fixes.append(fix)
    if not problems:
        return ""
    return "%s: refused before any device was touched - %s (the stage's targets: %s); fix: %s." % (
        stage, "; ".join(problems), _hosts(ask["mine"]), "; ".join(fixes))


def _diff_changed(before, after, host):
    if host not in before or host not in after:
        return True
    return _dict(before[host]).get("diff") != _dict(after[host]).get("diff")


def content_drift(approved, reassessed, targets, limited=False):
    """Why the deploy must not go on because what it would deploy is not what was approved, or "" when it is.

    ``approved``: the approved assessment; ``reassessed``: a read-only re-assessment just before the deploy. The content
    hashes must match; a limited play (one domain's branch of a workflow; another domain may already be deployed, which
    changes the whole change's hash) passes when the change request is the same and each of its own ``targets``' diffs
    is unchanged. A missing hash or device counts as changed (fail closed).
    """
    approved, reassessed = _dict(approved), _dict(reassessed)
    was, now = approved.get("content_hash"), reassessed.get("content_hash")
    if was and was == now:
        return ""
    if _flag(limited) and approved.get("change_request_sha256") and \
            approved.get("change_request_sha256") == reassessed.get("change_request_sha256"):
        before, after = _dict(approved.get("devices")), _dict(reassessed.get("devices"))
        changed = [h for h in _list(targets) if _diff_changed(before, after, h)]
        if not changed:
            return ""
        detail = "the diff of %s changed" % _hosts(changed)
    else:
        detail = "the change request or a target's running configuration changed since the assessment"
    return ("deploy: the content hash is now %s... but the approved assessment's is %s... - %s (a limited play compares "
            "the change request and its own targets' diffs: another domain may already be deployed); fix: re-assess the "
            "change and have it approved again." % (str(now or "none")[:12], str(was or "none")[:12], detail))


def stage_probes(explicit, assessment, host, platform):
    """The reachability probes a device's snapshot runs: none off a firewall (linux), else the explicit ones, else the
    firewall's traffic checks the assessment planned for it (traffic.traffic_plan)."""
    if platform != "linux":
        return []
    if explicit:
        return list(explicit)
    traffic = _dict(_dict(_dict(assessment).get("verification")).get("traffic"))
    return list(_dict(traffic.get("probes_by_host")).get(host) or [])


def _is_set(record, key):
    return _flag(_dict(record).get(key))


# What a device's verification (and deploy) record keeps of its check task's result (the rest is Ansible's: invocation, changed, ...).
CHECK_RECORD_KEYS = ("passed", "undecidable", "results", "post", "settle", "failed", "msg", "transient")


# What a device's deploy record keeps of its deploy task's result.
DEPLOY_RECORD_KEYS = ("failed", "changed", "msg", "summary", "changes", "backup", "after", "confirm", "attempts", "transient")


def _pick(result, keys):
    result = _dict(result)
    return dict((k, result[k]) for k in keys if k in result)


def deploy_records(steps):
    """Every device's deploy record, decided once for the stage: {host: {deploy, check, confirmed, transient, undecidable}}.

    ``steps``: {"hosts": the devices (scope and targets), "deploy": {host: its deploy task's result},
    "check": {host: its last check task's result}, "confirm": {host: its batch's confirm task's result (a confirm that ran)},
    "final": {host: the stage's final confirm task's result (may be skipped)}}. A commit is confirmed when the batch's
    confirm or the final one ran and did not fail; a step that gave up after its retries makes the device transient.
    """
    steps = _dict(steps)
    deploys, checks, confirms, finals = (_dict(steps.get(part)) for part in ("deploy", "check", "confirm", "final"))
    records = {}
    for host in _list(steps.get("hosts")):
        deploy, check, final = _dict(deploys.get(host)), _dict(checks.get(host)), _dict(finals.get(host))
        confirm = confirms.get(host)
        confirmed = (isinstance(confirm, dict) and not _is_set(confirm, "failed")) or (
            bool(final) and not _is_set(final, "skipped") and not _is_set(final, "failed"))
        records[host] = {"deploy": _pick(deploy, DEPLOY_RECORD_KEYS), "check": _pick(check, CHECK_RECORD_KEYS),
                         "confirmed": bool(confirmed),
                         "transient": any(_is_set(part, "transient") for part in (deploy, check, final)),
                         "undecidable": _is_set(check, "undecidable")}
    return records


def ran(results):
    """{host: result} without the results of skipped tasks."""
    return dict((str(h), r) for h, r in _dict(results).items() if isinstance(r, dict) and not _is_set(r, "skipped"))


def precheck_statuses(steps_by_host):
    """Every device's precheck from its steps: {host: precheck_status(steps)} (one decision for the whole stage)."""
    return dict((str(host), precheck_status(steps)) for host, steps in _dict(steps_by_host).items())


def precheck_fleet(fleet):
    """The precheck stage's outcome from its fleet tasks: ``fleet`` = {hosts, steps: [backup, snapshot, assertions
    registered results], targets, scope}. Returns {hosts: {host: precheck_status}, failed_hosts, transient, messages:
    {failed host: why}, backups: {target: backup ref}, pre_snapshots: {scope host: snapshot ref}} - the backups and
    snapshots of the devices that did not fail only. A device a step holds no result for reads as that step skipped
    (fleet_results); one whose step failed, or whose task failed before any device, fails."""
    fleet = _dict(fleet)
    hosts = _list(fleet.get("hosts"))
    steps = [fleet_results(step, hosts) for step in fleet.get("steps") or []]
    statuses = precheck_statuses(dict((host, [step[host] for step in steps]) for host in hosts))
    failed = [host for host in hosts if statuses[host]["failed"]]
    backup, snapshot = (list(fleet.get("steps") or []) + [None, None])[:2]
    return {"hosts": statuses, "failed_hosts": failed, "transient": any(s["transient"] for s in statuses.values()),
            "messages": dict((host, statuses[host]["msg"]) for host in failed),
            "backups": fleet_results(backup, [h for h in _list(fleet.get("targets")) if h not in failed], key="backup"),
            "pre_snapshots": fleet_results(snapshot, [h for h in _list(fleet.get("scope")) if h not in failed], key="snapshot")}


def precheck_status(steps):
    """One device's precheck from its steps (backup, snapshot, pre-assertions): {failed, transient, msg}."""
    steps = [_dict(s) for s in steps or []]
    failed = [s for s in steps if _is_set(s, "failed")]
    return {"failed": bool(failed), "transient": any(_is_set(s, "transient") for s in steps),
            "msg": "; ".join(str(s.get("msg") or "") for s in failed)}


def verify_results(records, now=""):
    """The verification's results from each device's record (its check task's result; only CHECK_RECORD_KEYS are kept):
    {hosts, failed_hosts, post_snapshots, transient, undecidable, passed, failed_at} (``failed_at`` is ``now`` when a
    device failed)."""
    records = dict((str(h), dict((k, v) for k, v in _dict(r).items() if k in CHECK_RECORD_KEYS)) for h, r in _dict(records).items())
    # a device whose record says neither failed nor passed (missing, not a mapping) was not decided: failed (fail closed)
    unknown = [h for h, r in records.items() if "failed" not in r and "passed" not in r]
    failed = [h for h, r in records.items() if _is_set(r, "failed") or h in unknown]
    return {"hosts": records, "failed_hosts": failed,
            "post_snapshots": dict((h, r["post"]) for h, r in records.items() if r.get("post")),
            "transient": any(_is_set(r, "transient") for r in records.values()),
            "undecidable": bool(unknown) or any(_is_set(r, "undecidable") for r in records.values()),
            "passed": not failed, "failed_at": now if failed else ""}


def rollback_choice(deployed, failed_hosts, scope=None, requirements=None, hosts=None):
    """The devices to restore: the explicit ``hosts``, else the tier's rollback scope (``scope`` overrides the policy's
    requirements.rollback_scope, default all) over the deployed devices; with no failed device known, every deployed one
    counts as failed (a rollback was asked for)."""
    if hosts is not None:
        return _list(hosts)
    deployed = _list(deployed)
    failed = _list(failed_hosts) or deployed
    setting = scope if scope not in (None, "") else _dict(requirements).get("rollback_scope") or "all"
    elsewhere = [h for h in failed if h not in deployed]
    return batches.rollback_targets(setting, deployed, [h for h in failed if h in deployed], failed_elsewhere=elsewhere)


def _rollback_message(targets, restored, restore_failed, differs, verified, unchecked=()):
    if verified is None:
        how = "nothing to restore"
    elif verified:
        how = "verified: the state equals the pre-change snapshot"
    else:
        how = "NOT verified (restore failed on %s; state differs on %s%s)" % (
            ", ".join(restore_failed) or "none", ", ".join(differs) or "none",
            "; state not checked on %s" % ", ".join(unchecked) if unchecked else "")
    return "rollback of %s: restored %s; %s" % (", ".join(targets) or "nothing", ", ".join(restored) or "none", how)


def _restore_of(records, host):
    return _dict(_dict(records.get(host)).get("restore"))


def rollback_results(records, targets):
    """The rollback's results from each device's record ({restore, verify}): {hosts, rolled_back, restore_failed,
    state_differs, transient, post_snapshots, verified, message}. ``verified`` is None when nothing was restored."""
    records = dict((str(h), _dict(r)) for h, r in _dict(records).items())
    targets = _list(targets)
    restored = [h for h in targets if _is_set(_restore_of(records, h), "verified")]
    restore_failed = [h for h in targets if h not in restored]
    differs = [h for h, r in records.items() if _is_set(r.get("verify"), "failed")]
    # a restored device whose state check gave no verdict (skipped, missing) is not verified (fail closed)
    unchecked = [h for h in restored if not _has_verdict(_dict(records.get(h)).get("verify"))]
    verified = None if not targets else not restore_failed and not differs and not unchecked
    posts = dict((h, _dict(r.get("verify")).get("post")) for h, r in records.items())
    return {"hosts": records, "rolled_back": restored, "restore_failed": restore_failed, "state_differs": differs,
            "transient": any(_is_set(_restore_of(records, h), "transient") for h in targets),
            "post_snapshots": dict((h, post) for h, post in posts.items() if post), "verified": verified,
            "message": _rollback_message(targets, restored, restore_failed, differs, verified, unchecked)}


# What a device's rollback record keeps of its restore and state-check task results.
ROLLBACK_RESTORE_KEYS = ("failed", "verified", "msg", "summary", "skipped", "transient", "attempts")
ROLLBACK_VERIFY_KEYS = ("passed", "undecidable", "results", "post", "failed", "msg", "skipped")


def rollback_fleet_records(fleet):
    """{host: {restore, verify}} from the rollback's fleet restore and state check (``fleet``: {hosts, restore, verify},
    the two registered results): each device's record keeps ROLLBACK_RESTORE_KEYS / ROLLBACK_VERIFY_KEYS."""
    fleet = _dict(fleet)
    hosts = _list(fleet.get("hosts"))
    restores, verifies = fleet_results(fleet.get("restore"), hosts), fleet_results(fleet.get("verify"), hosts)
    return dict((h, {"restore": _pick(restores[h], ROLLBACK_RESTORE_KEYS), "verify": _pick(verifies[h], ROLLBACK_VERIFY_KEYS)})
                for h in hosts)


def _has_verdict(record):
    """Whether a check's task result decided: it says passed or failed and was not skipped."""
    record = _dict(record)
    return ("passed" in record or "failed" in record) and not _is_set(record, "skipped")


# Fleet tasks (a device action run once over ``hosts``, plugin_utils/device_action.py) -------------------------------
SKIPPED_RESULT = {"changed": False, "skipped": True, "skip_reason": "not one of the task's devices"}


def fleet_results(registered, hosts, key=None):
    """{host: that device's result} from a fleet task's registered result, for every host asked for: a device the
    task did not work on (not in its ``hosts``, or the task was skipped) gets a skipped result, as a per-host task's
    skipped host does; when the task failed before working on any device, every device failed with it. With ``key``:
    {host: result[key]} for the hosts whose result did not fail and holds it."""
    registered = _dict(registered)
    own = _dict(registered.get("hosts"))
    if _flag(registered.get("failed")) and not own:
        # the task failed before any device was worked on (its arguments, a host not in the inventory): every device
        # failed with it, never a skip
        failure = {"failed": True, "changed": False, "msg": str(registered.get("msg") or "the fleet task failed")}
        own = dict((host, dict(failure)) for host in hosts or [])
    if key is not None:
        return dict((host, own[host][key]) for host in hosts or []
                    if isinstance(own.get(host), dict) and not _flag(own[host].get("failed")) and key in own[host])
    return dict((host, own[host] if isinstance(own.get(host), dict) else dict(SKIPPED_RESULT)) for host in hosts or [])


def fleet_failed(registered, hosts):
    """The devices of ``hosts`` whose result of a fleet task failed or gave no verdict (the task skipped them, or holds
    no result for them): a device without a result never counts as passed (fail closed)."""
    results = fleet_results(registered, hosts)
    return [host for host in hosts or [] if _flag(results[host].get("failed")) or _flag(results[host].get("skipped"))]


def confirm_hosts(hosts, results=None, failed=(), rollback=(), confirmed=()):
    """The devices of ``hosts`` whose commit is confirmed now: not failed (``failed``), not to roll back, not confirmed
    already, and whose deploy result (``results``: {host: deploy task result}) did not fail."""
    results = _dict(results)
    skip = set(failed or ()) | set(rollback or ()) | set(confirmed or ())
    return [host for host in hosts or [] if host not in skip and not _flag(_dict(results.get(host)).get("failed"))]


def device_arguments(hosts, platforms=None, pre=None, post=None, expected=None, expected_only=None, targets=None,
                     probes=None, assessment=None, lines=None, backup=None):
    """Each device's own arguments of a fleet snapshot or check (``by_host``), for ``hosts``:

    - ``pre``/``post``: {host: snapshot reference} - the device's own, when given;
    - ``expected``: {host: expected checks} - a device gets its own, except a target (``targets``) not yet in
      ``expected_only`` (its lines are not on it yet: it gets none); ``expected_only`` None gives every device its own;
    - ``probes``: the device's reachability probes (stage_probes: the explicit ones or the assessment's traffic checks,
      on a firewall only); left out when there are none;
    - ``lines``/``backup``: {host: configuration lines} / {host: backup reference} - a deploy's, the device's own.
    """
    platforms, pre, post, expected = _dict(platforms), _dict(pre), _dict(post), _dict(expected)
    lines, backup = _dict(lines), _dict(backup)
    targets = set(targets or [])
    deployed = None if expected_only is None else set(expected_only)
    out = {}
    for host in hosts or []:
        args = {}
        if host in pre:
            args["pre"] = pre[host]
        if host in post:
            args["post"] = post[host]
        if host in lines:
            args["lines"] = lines[host]
        if host in backup:
            args["backup"] = backup[host]
        if expected:
            own = expected.get(host) or []
            args["expected"] = list(own) if deployed is None or host in deployed or host not in targets else []
        found = stage_probes(probes or [], assessment or {}, host, platforms.get(host) or "")
        if found:
            args["probes"] = found
        out[host] = args
    return out
