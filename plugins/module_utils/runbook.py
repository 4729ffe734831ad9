# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook of one change, generated from its change request, its assessment and the policy.

Six elements: trigger, prerequisites, numbered steps with expected outputs, verification, rollback, escalation.
The content is deterministic (no generation time inside), so the same inputs give the same sha256.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.governed.change.plugins.module_utils.batches import batch_plan
from ansible_collections.governed.change.plugins.module_utils.change_request import change_request_sha256
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.escalation import REASONS
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id, safe_join
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data, redact_text

SCHEMA = "governed.change/runbook/1"
ELEMENTS = ("trigger", "prerequisites", "steps", "verification", "rollback", "escalation")


def _host_groups(assessment, host):
    for target in (assessment.get("facts") or {}).get("targets") or []:
        if target.get("host") == host:
            return set(target.get("groups") or []) | {"all"}
    return {"all"}


def device_lines(change_request, assessment, host):
    """(lines, source) of one device: the change request's literal lines (group entries then the host's), or the lines
    the assessment rendered for a template."""
    config = (change_request or {}).get("config") or {}
    groups = _host_groups(assessment, host)
    entries = [(key, entry) for key, entry in config.items() if key != host and key in groups]
    entries += [(key, entry) for key, entry in config.items() if key == host]
    device = (assessment.get("devices") or {}).get(host) or {}
    lines, sources = [], []
    for key, entry in entries:
        entry_lines, source = _entry_lines(key, entry, device)
        lines.extend(entry_lines)
        sources.append(source)
    if not entries and device:
        lines = list(_rendered_lines(device))
        sources.append("assessment.devices.%s" % host)
    return [redact_text(line)[0] for line in lines], sources


def _rendered_lines(device):
    return device.get("new_lines") or device.get("added") or []


def _entry_lines(key, entry, device):
    """Rule: a config entry with literal lines gives them; a template entry gives the lines the assessment rendered."""
    if "lines" in entry:
        return entry["lines"], "config.%s.lines" % key
    return _rendered_lines(device), "config.%s.template %s (rendered by assess)" % (key, entry.get("template"))


def _window_covers(scope, target):
    """Rule: a window with no scope covers every target; else one of the target's site, host or groups is in its scope."""
    return bool(not scope or target.get("site") in (scope.get("sites") or []) or target.get("host") in (scope.get("hosts") or []) or (
        set(target.get("groups") or []) & set(scope.get("groups") or [])))


def _windows_for(policy, targets):
    names = []
    for window in policy.get("windows") or []:
        scope = window.get("scope") or {}
        if any(_window_covers(scope, target) for target in targets):
            names.append(window.get("name"))
    return names


def _checks_for(expected, host):
    return [check for check in expected if not check.get("hosts") or host in check["hosts"]]


def _check_line(check):
    text = "`%s`: `%s` %s" % (check["name"], check.get("query"), check.get("op"))
    if "value" in check:
        text += " `%s`" % json.dumps(check["value"], sort_keys=True)
    if check.get("snapshot"):
        text += " (on the %s snapshot)" % check["snapshot"]
    return text


def build_runbook(change_request, assessment, policy, confirm_timeout=120, base_url=None):
    """The runbook document (a plain dict; render it with ``render_markdown``)."""
    _assessment_rule(assessment)
    _same_change_rule(change_request, assessment)
    ctx = _runbook_context(change_request, assessment, policy, confirm_timeout)
    plan = ctx["plan"]
    doc = {"schema": SCHEMA, "change": _header(ctx), "trigger": _trigger(ctx), "prerequisites": _prerequisites(ctx),
           "steps": _steps(ctx), "verification": _verification(ctx), "rollback": _rollback(ctx), "escalation": _escalation(ctx),
           "plan": {"batches": plan["batches"], "canary": plan.get("canary"), "batch_size": plan.get("batch_size"),
                    "max_failures": plan.get("max_failures")}}
    doc = redact_data(doc)[0]
    doc["content_sha256"] = sha256_of(doc)
    return doc


def _assessment_rule(assessment):
    """Rule: a runbook needs the change's assessment, with its change id and tier."""
    if not isinstance(assessment, dict) or not assessment.get("change_id") or not assessment.get("tier"):
        raise ValidationError("the runbook needs the change's assessment (its tier decides prerequisites, checks, rollback and "
                              "escalation).", where="assessment",
                              fix="pass assessment_file (the JSON governed.change.assess wrote) or assessment: the registered result.")


def _same_change_rule(change_request, assessment):
    """Rule: a change request given with the assessment is the one assessed (same id, same sha256 when recorded)."""
    if change_request is None:
        return
    change_id = assessment["change_id"]
    if change_request.get("id") != change_id:
        raise ValidationError("the change request is %s but the assessment is of %s." % (change_request.get("id"), change_id),
                              where="change_request", fix="pass the change request and the assessment of the same change.")
    wanted = assessment.get("change_request_sha256")
    if wanted and change_request_sha256(change_request) != wanted:
        raise ValidationError("the change request differs from the one assessed (sha256 %s expected)." % wanted[:12],
                              where="change_request", fix="assess the change request again, then generate the runbook.")


def _tier_requirements(policy, assessment, tier):
    """Rule: the policy (or the assessment) has requirements for the change's tier."""
    requirements = dict((policy.get("requirements") or {}).get(tier) or assessment.get("requirements") or {})
    if not requirements:
        raise ValidationError("the policy has no requirements for tier %s." % tier, where="policy.requirements.%s" % tier,
                              fix="define requirements for every tier in the policy.")
    return requirements


def _runbook_context(change_request, assessment, policy, confirm_timeout):
    """What the runbook's sections read: the change, its tier's requirements, its targets and batch plan."""
    tier = assessment["tier"]
    requirements = _tier_requirements(policy, assessment, tier)
    request = change_request or {}
    facts = assessment.get("facts") or {}
    hosts = list(assessment.get("hosts") or [])
    ctx = {"change_request": change_request, "request": request, "assessment": assessment, "policy": policy,
           "change_id": assessment["change_id"], "tier": tier, "requirements": requirements, "hosts": hosts,
           "targets": facts.get("targets") or [{"host": host} for host in hosts],
           "expected": list(request.get("expected") or []), "confirm_timeout": confirm_timeout}
    assessed_strategy = facts.get("rollback_strategy") or "backup"
    ctx["rollback_request"] = request.get("rollback") or {"strategy": assessed_strategy, "steps": []}
    ctx["plan"] = batch_plan(hosts, requirements)
    ctx["escalation"] = dict(requirements.get("escalation") or {})
    ctx["links"] = request.get("links") or {}
    ctx["approvals"] = requirements.get("approvals") or {}
    ctx["gates"] = list(assessment.get("required_gates") or [])
    ctx["scope_plan"] = assessment.get("verification") or {}
    return ctx


def _header(ctx):
    """Section change: who, what, which tier and why, and the hashes binding the runbook to its inputs."""
    assessment = ctx["assessment"]
    return {"change_id": ctx["change_id"], "title": assessment.get("title"), "author": assessment.get("author"),
            "type": assessment.get("type"), "category": assessment.get("category"), "change_class": assessment.get("change_class"),
            "tier": ctx["tier"], "score": assessment.get("score"), "targets": ctx["hosts"], "content_hash": assessment.get("content_hash"),
            "change_request_sha256": assessment.get("change_request_sha256"), "policy": assessment.get("policy_name"),
            "policy_sha256": assessment.get("policy_sha256"), "links": ctx["links"],
            "why": [rule.get("explanation") or rule.get("name") for rule in assessment.get("fired_rules") or [] if isinstance(rule, dict)]}


def _trigger(ctx):
    """Section 1: when the runbook runs and how it starts."""
    assessment, request = ctx["assessment"], ctx["request"]
    return {
        "summary": "Run when change %s (%s) is approved and scheduled: %s" % (
            ctx["change_id"], ctx["links"].get("ticket") or "no ticket", assessment.get("title")),
        "description": request.get("description") or assessment.get("title"),
        "requested_window": assessment.get("window") or request.get("window"),
        "automation": ctx["requirements"].get("automation"),
        "start": "the governed-change pipeline (playbooks/governed_change.yml or the AWX workflow) with "
                 "governed_change_request pointing at this change request.",
    }


def _approval_prerequisite(ctx):
    """Prerequisite: the signed approvals the tier requires (or none)."""
    if "approval" not in ctx["gates"]:
        return ["No approval is required for this change class and tier."]
    approvals, assessment = ctx["approvals"], ctx["assessment"]
    return ["%d signed approval(s) from %s%s, each at most %s h old and bound to content hash %s." % (
        approvals.get("count", 0), " or ".join(approvals.get("groups") or ["any identity"]),
        " by someone other than the author (%s)" % assessment.get("author") if approvals.get("segregation_of_duties") else "",
        approvals.get("max_age_hours"), str(assessment.get("content_hash"))[:12])]


def _review_prerequisite(ctx):
    """Prerequisite: the review gate passes, when the tier requires it."""
    return ["The review gate passes (automation: review)."] if "review" in ctx["gates"] else []


def _window_prerequisite(ctx):
    """Prerequisite: an open maintenance window covering every target (named), when the tier requires one."""
    if "window" not in ctx["gates"]:
        return ["No maintenance window is required for this tier."]
    covering = ", ".join(_windows_for(ctx["policy"], ctx["targets"])) or "no window of the policy covers them (the gate refuses)"
    return ["Now is inside an open maintenance window of every target: %s." % covering]


def _freeze_prerequisite(ctx):
    """Prerequisite: no active change freeze covers a target, when the tier checks freezes."""
    if "freeze" not in ctx["gates"]:
        return []
    return ["No change freeze covering a target is active (%s)." % ", ".join(
        freeze.get("name") for freeze in ctx["policy"].get("freezes") or [])]


def _device_prerequisites(ctx):
    """Prerequisites of every change: free device locks and reachable targets."""
    return ["Device locks are free for %s (another change holding one stops this one)." % ", ".join(ctx["hosts"]),
            "Every target answers over its management SSH port (precheck)."]


# Section 2, in the order the prerequisites are listed.
PREREQUISITES = (_approval_prerequisite, _review_prerequisite, _window_prerequisite, _freeze_prerequisite, _device_prerequisites)


def _prerequisites(ctx):
    """Section 2: what must hold before the first step."""
    return [line for rule in PREREQUISITES for line in rule(ctx)]


def _add_step(steps, action, expected_output, device=None, lines=None, checks=None):
    """Append the next numbered step."""
    item = {"number": len(steps) + 1, "action": action, "expected": expected_output}
    if device:
        item["device"] = device
    if lines is not None:
        item["lines"] = lines
    if checks is not None:
        item["checks"] = checks
    steps.append(item)
    return item


def _steps(ctx):
    """Section 3: locks, backup and pre snapshot, each batch's hosts (deploy, check, confirm), post snapshot, close."""
    steps, hosts, plan, requirements = [], ctx["hosts"], ctx["plan"], ctx["requirements"]
    _add_step(steps, "Take the device locks for %s (governed.change.lock state=acquired)." % ", ".join(hosts),
              "locks returned for every target; the task fails naming the holder if another change holds one.")
    scope = ctx["scope_plan"].get("mode") or requirements.get("snapshot_scope") or "impact"
    _add_step(steps, "Back up every target and take the pre-change snapshot (%s scope; governed.change.backup, "
              "governed.change.snapshot)." % scope,
              "a backup reference (sha256) per target and a pre snapshot reference per device in scope; no configuration change.")
    for index, batch in enumerate(plan["batches"], start=1):
        label = "canary batch" if index == 1 and plan.get("canary") else "batch %d" % index
        for host in batch:
            _host_steps(steps, ctx, host, label)
        _add_step(steps, "After the %s: decide whether to continue (at most %d failure(s) allowed)." % (label, plan.get("max_failures", 0)),
                  "halt: false. halt: true stops the deploy and rolls back (scope: %s)." % plan.get("rollback_scope"))
    _add_step(steps, "Take the post-change snapshot and compare it with the pre-change snapshot (no regression).",
              "the state diff holds only the intended changes; no BGP session, route or rule lost.")
    _add_step(steps, "Close the change (governed.change.close) and release the locks.",
              "ledger state closed/successful; the evidence bundle and report are written; locks released.")
    return steps


def _host_steps(steps, ctx, host, label):
    """One host's steps: merge its lines, run its checks, confirm before the commit-confirmed timer fires."""
    confirm_timeout, assessment = ctx["confirm_timeout"], ctx["assessment"]
    lines, sources = device_lines(ctx["change_request"], assessment, host)
    device = (assessment.get("devices") or {}).get(host) or {}
    timer = ("with a commit-confirmed timer of %d s" % confirm_timeout) if confirm_timeout else "without a commit-confirmed timer"
    item = _add_step(steps, "%s (%s): merge these lines %s (governed.change.deploy)." % (host, label, timer),
                     "changed: true; confirm.armed: %s; summary.config_changed: true; the running config gains %d line(s) and loses %d." % (
                         "true" if confirm_timeout else "false", len(device.get("added") or []), len(device.get("removed") or [])),
                     device=host, lines=lines)
    item["lines_from"] = sources
    host_checks = _checks_for(ctx["expected"], host)
    _add_step(steps, "%s: run the checks - %s (governed.change.check)." % (
        host, ", ".join([c["name"] for c in host_checks] + list(ctx["requirements"].get("checks") or [])) or "policy checks"),
        "every check passed: true; none undecidable. A failed or undecidable check stops here and the rollback below runs.",
        device=host, checks=[c["name"] for c in host_checks])
    if confirm_timeout:
        _add_step(steps, "%s: confirm the change before the %d s timer fires (governed.change.confirm)." % (host, confirm_timeout),
                  "confirmed: true; the revert timer is disarmed. Not confirmed in time: the device restores the backup by itself.",
                  device=host)


def _verification(ctx):
    """Section 4: the expected and policy checks, the no-regression rule, where each runs and the traffic probes."""
    expected, scope_plan = ctx["expected"], ctx["scope_plan"]
    verification = {
        "expected_checks": [dict(check, text=_check_line(check)) for check in expected],
        "policy_checks": list(ctx["requirements"].get("checks") or []),
        "no_regression": "the post-change snapshot of every device in scope is compared with its pre-change snapshot: "
                         "anything lost or changed beyond the change's own lines is a regression and fails verification.",
    }
    if scope_plan:
        # what will be verified where (impact.verification_plan): the devices, the rule, each check's hosts, the invariant
        verification["scope"] = {key: scope_plan.get(key) for key in ("mode", "rule", "always", "checks_where", "invariants", "intended")}
        if (scope_plan.get("traffic") or {}).get("firewalls"):
            verification["traffic"] = scope_plan["traffic"]  # traffic.traffic_plan: the probes of a firewall change, where they run
    return verification


def _rollback_steps(rollback_request):
    """Rule: a custom rollback applies the change request's lines; any other restores the backups; both end with a diff."""
    if rollback_request.get("strategy") == "custom":
        return [{"number": 1, "action": "Apply the change request's custom rollback lines on each changed device.",
                 "lines": [redact_text(line)[0] for line in rollback_request.get("steps") or []],
                 "expected": "the lines apply without error."},
                {"number": 2, "action": "Take a snapshot and compare it with the pre-change snapshot.",
                 "expected": "no difference that matters (custom rollback: review the diff)."}]
    return [{"number": 1, "action": "Restore each device's backup from step 2 (governed.change.restore backup=<its reference>).",
             "expected": "verified: true - the running config equals the backup (same sha256 after normalization)."},
            {"number": 2, "action": "Take a snapshot and compare it with the pre-change snapshot.",
             "expected": "the state diff is empty: the network is back to the pre-change state."}]


def _rollback(ctx):
    """Section 5: the rollback strategy, whether it is automatic, its scope and steps, and when it runs."""
    rollback_request, requirements = ctx["rollback_request"], ctx["requirements"]
    rollback_steps = _rollback_steps(rollback_request)
    return {"strategy": rollback_request.get("strategy") or "backup", "automatic": bool(requirements.get("auto_rollback")),
            "scope": ctx["plan"].get("rollback_scope"), "commit_confirmed_s": ctx["confirm_timeout"], "steps": rollback_steps,
            "when": "a deploy fails, a check fails or cannot be decided, or the batch decision halts."}


def _escalation(ctx):
    """Section 6: whom to escalate to, when (every escalation reason) and what the hand-off packet holds."""
    escalation = ctx["escalation"]
    return {"target": escalation.get("target"), "policy_runbook": escalation.get("runbook"),
            "contact": escalation.get("target") or "not set: add requirements.%s.escalation to the policy" % ctx["tier"],
            "when": dict((reason, REASONS[reason][0]) for reason in REASONS),
            "packet": "governed.change.escalate writes escalations/%s-<n>.json and .md (detected, actions taken, device "
                      "states, next step, this runbook) and posts it to the webhook." % ctx["change_id"]}


def _md_value(value):
    return "`%s`" % json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def _probe_line(host, probe):
    """One probe of the runbook: what it reaches, from where, with whose snapshots."""
    target = "%s %s%s" % (probe["type"], probe["host"], ":%d" % probe["port"] if probe.get("port") else "")
    return "- probe `%s`: %s from %s's namespace, with %s's snapshots (timeout %s s)" % (
        probe["name"], target, probe["from"], host, probe.get("timeout"))


def _traffic_lines(traffic):
    """The runbook's traffic checks: each probe, the firewall whose snapshots carry it, and where it runs from."""
    if not traffic:
        return []
    out = ["", "Traffic checks (firewall %s): %s." % (", ".join(traffic["firewalls"]), traffic["verdict"])]
    out += [_probe_line(host, probe) for host, probes in sorted((traffic.get("probes_by_host") or {}).items()) for probe in probes]
    touched = [item for item in traffic.get("services") or [] if item.get("touched_by")]
    out += ["- service `%s` is matched by the change's rule: %s" % (item["name"], item["touched_by"][0]) for item in touched]
    out += ["- not probed: %s - %s" % (item.get("rule") or item.get("service"), item["reason"]) for item in traffic.get("unprobed") or []]
    blocked = (traffic.get("intended") or {}).get("services_blocked") or []
    if blocked:
        out.append("- declared intended (blocked on purpose, not counted): %s" % ", ".join(blocked))
    return out


def render_markdown(doc):
    """The runbook as Markdown (deterministic)."""
    out = _md_change(doc["change"])
    out += _md_trigger(doc["trigger"])
    out += ["", "## 2. Prerequisites", ""] + ["- [ ] %s" % item for item in doc["prerequisites"]]
    out += _md_steps(doc["steps"])
    out += _md_verification(doc["verification"])
    out += _md_rollback(doc["rollback"])
    out += _md_escalation(doc["escalation"], doc)
    return "\n".join(out)


def _md_code(lines):
    """Lines as an indented code block inside a numbered item."""
    return ["", "   ```"] + ["   %s" % line for line in lines] + ["   ```", ""]


def _md_change(change):
    """The title, the change's table (links included) and why this tier."""
    out = ["# Runbook: %s - %s" % (change["change_id"], change["title"]), "",
           "| | |", "| --- | --- |",
           "| Tier | %s (score %s) |" % (change["tier"], change["score"]),
           "| Type / category / class | %s / %s / %s |" % (change["type"], change["category"], change["change_class"]),
           "| Author | %s |" % change["author"],
           "| Targets | %s |" % ", ".join(change["targets"]),
           "| Content hash | `%s` |" % change["content_hash"],
           "| Policy | %s (`%s`) |" % (change["policy"], str(change["policy_sha256"])[:16])]
    for key, value in sorted((change.get("links") or {}).items()):
        out.append("| %s | %s |" % (key.replace("_", " ").capitalize(), value))
    if change.get("why"):
        out += ["", "Why this tier:", ""] + ["- %s" % item for item in change["why"]]
    return out


def _md_trigger(trigger):
    """Section 1."""
    out = ["", "## 1. Trigger", "", trigger["summary"] + ".", "", trigger["description"], ""]
    if trigger.get("requested_window"):
        out.append("- Requested window: %s to %s" % (trigger["requested_window"].get("start"), trigger["requested_window"].get("end")))
    return out + ["- Automation: %s" % trigger.get("automation"), "- Start: %s" % trigger["start"]]


def _md_steps(steps):
    """Section 3: each step, its lines (and where they came from when a template rendered them), its expected output."""
    out = ["", "## 3. Steps", ""]
    for item in steps:
        out.append("%d. %s" % (item["number"], item["action"]))
        if item.get("lines"):
            out += _md_code(item["lines"])
            if any(".lines" not in source for source in item.get("lines_from") or []):
                out.append("   - Lines from: %s" % "; ".join(item["lines_from"]))
        out.append("   - Expected: %s" % item["expected"])
    return out


def _md_verification(verification):
    """Section 4: expected and policy checks, no regression, where they run, the traffic checks."""
    out = ["", "## 4. Verification", ""]
    if verification["expected_checks"]:
        out += ["Expected checks of the change request:", ""]
        out += ["- %s%s" % (check["text"], " - hosts %s" % ", ".join(check["hosts"]) if check.get("hosts") else "")
                for check in verification["expected_checks"]]
    else:
        out.append("The change request declares no expected checks.")
    out += ["", "Policy checks for this tier: %s." % (", ".join(verification["policy_checks"]) or "none"), "",
            "No regression: %s" % verification["no_regression"]]
    out += _md_scope(verification.get("scope"))
    return out + _traffic_lines(verification.get("traffic"))


def _md_scope(scope):
    """Where the checks run (the verification scope) and the network-wide invariant, with what is declared intended."""
    if not scope:
        return []
    intended = scope.get("intended") or {}
    excused = " - intended, not counted: %s" % json.dumps(intended, sort_keys=True) if any(intended.values()) else ""
    out = ["", "Where (%s scope): %s; always verified: %s." % (scope["mode"], scope["rule"], ", ".join(scope.get("always") or [])),
           "", "Network-wide invariant: %s%s." % ("; ".join(scope.get("invariants") or []), excused)]
    return out + ["- check `%s` runs on %s" % (name, ", ".join(hosts)) for name, hosts in sorted((scope.get("checks_where") or {}).items())]


def _md_rollback(rollback):
    """Section 5: strategy, when, the commit-confirmed safety net and the rollback steps."""
    out = ["", "## 5. Rollback", "",
           "- Strategy: %s; automatic: %s; scope: %s" % (
               rollback["strategy"], "yes" if rollback["automatic"] else "no (by hand)", rollback["scope"]),
           "- When: %s" % rollback["when"]]
    if rollback["commit_confirmed_s"]:
        out.append("- Safety net: an unconfirmed deploy restores itself after %d s (commit-confirmed timer on the device)."
                   % rollback["commit_confirmed_s"])
    out.append("")
    for item in rollback["steps"]:
        out.append("%d. %s" % (item["number"], item["action"]))
        if item.get("lines"):
            out += _md_code(item["lines"])
        out.append("   - Expected: %s" % item["expected"])
    return out


def _md_escalation(escalation, doc):
    """Section 6 and the runbook's content hash."""
    return ["", "## 6. Escalation", "",
            "- Escalate to: %s" % escalation["contact"],
            "- Tier runbook: %s" % (escalation.get("policy_runbook") or "none in the policy"),
            "- Escalate when: %s." % "; ".join("%s (`%s`)" % (title, reason) for reason, title in escalation["when"].items()),
            "- Hand-off: %s" % escalation["packet"], "",
            "Runbook content sha256: `%s`" % doc["content_sha256"], ""]


def write_runbook(output_dir, doc, base_url=None):
    """Write runbooks/<change_id>.md and .json; returns {path, json_path, sha256 (of the Markdown), json_sha256, url}."""
    change_id = check_safe_id(doc["change"]["change_id"], where="change_id")
    directory = safe_join(output_dir, "runbooks")
    markdown = render_markdown(doc).encode("utf-8")
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
    path = safe_join(output_dir, "runbooks", "%s.md" % change_id)
    json_path = safe_join(output_dir, "runbooks", "%s.json" % change_id)
    try:
        os.makedirs(directory, exist_ok=True)
        for target, content in ((path, markdown), (json_path, data)):
            temp = target + ".tmp"
            with open(temp, "wb") as stream:
                stream.write(content)
            os.replace(temp, target)
    except OSError as exc:
        raise ValidationError("cannot write the runbook (%s)." % (exc.strerror or exc), where="output_dir: %s" % output_dir,
                              fix="pass a writable output_dir.")
    return runbook_ref(doc, path, json_path, markdown, data, base_url)


def runbook_ref(doc, path, json_path, markdown, data, base_url=None):
    change_id = doc["change"]["change_id"]
    url = "%s/%s.md" % (base_url.rstrip("/"), change_id) if base_url else path
    return {"path": path, "json_path": json_path, "sha256": hashlib.sha256(markdown).hexdigest(),
            "json_sha256": hashlib.sha256(data).hexdigest(), "content_sha256": doc["content_sha256"], "url": url}


def preview_ref(output_dir, doc, base_url=None):
    """The reference write_runbook would return, without writing (check mode)."""
    change_id = doc["change"]["change_id"]
    directory = os.path.join(output_dir, "runbooks")
    return runbook_ref(doc, os.path.join(directory, "%s.md" % change_id), os.path.join(directory, "%s.json" % change_id),
                       render_markdown(doc).encode("utf-8"), (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"), base_url)
