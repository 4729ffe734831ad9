# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Escalation hand-off: the packet (what was detected, what was done, device states, next step), its JSON and
Markdown forms, the webhook payloads (generic JSON, Slack-compatible) and the POST with bounded retry."""

from __future__ import annotations

import errno
import json
import os
import re
import time
import urllib.error
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, MissingLibrary, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import redact
from ansible_collections.governed.change.plugins.module_utils.paths import SAFE_ID_RE, check_safe_id, safe_join
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z

try:
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url
except ImportError:  # pragma: no cover
    open_url = None
    UrlsConnectionError = OSError

SCHEMA = "governed.change/escalation/1"
FORMATS = ("json", "slack")
MAX_WEBHOOK_RETRIES = 10
MAX_BACKOFF = 8.0
RETRY_HTTP = (408, 425, 429, 500, 502, 503, 504)
_ID_RE = SAFE_ID_RE  # names escalations/<id>-<n>.json: path-safe

# reason -> (title, severity, recommended next step). {target}, {hosts} and {runbook} are filled in from the packet.
REASONS = {
    "rollback_failed": (
        "Rollback failed", "critical",
        "The automatic rollback did not give back the pre-change state on {hosts}. Keep the devices locked; restore each one "
        "by hand from its backup (see the devices below), compare the running state with the pre-change snapshot, and page "
        "{target} if it still differs. Follow the rollback section of {runbook}."),
    "retries_exhausted": (
        "Device unreachable after retries", "high",
        "{hosts} stayed unreachable after every retry. Check the management path (SSH port, key, device up). A deploy with "
        "an armed commit-confirmed timer reverts by itself at its deadline: take a fresh snapshot once the device answers "
        "and compare it with the pre-change snapshot before re-running the change."),
    "approval_timeout": (
        "Approval timed out", "medium",
        "No approval arrived in time; no device was touched. Ask the approvers named in the policy for this tier to review "
        "the change, or re-submit it for a later window."),
    "approval_denied": (
        "Approval denied", "medium",
        "An approver denied the change; no device was touched. Read the approver's comment, revise the change request and "
        "assess it again."),
    "check_undecidable": (
        "A check could not be evaluated", "high",
        "A check could not be decided (missing data or a query error), so the pipeline failed closed on {hosts}. Inspect "
        "the snapshot and the check, decide by hand whether the state is good, and fix the check before the next run; "
        "{target} decides whether to keep or roll back."),
    "change_failed": (
        "Change failed", "high",
        "The change failed on {hosts} and was handled as shown below. Read the failed checks and the deploy messages, fix "
        "the change request and assess it again; confirm with {target} that the restored state is accepted."),
    "gate_refused": (
        "Gate refused the change", "low",
        "A gate refused the change; no device was touched. Read the gate's reasons and fixes, then resolve them (approval, "
        "window, freeze) and run the change again."),
    "remediation_refused": (
        "Event needs a person", "medium",
        "A detected fault on {hosts} was not remediated automatically (outside the remediation catalogue, above its rate "
        "limit, or above its risk tier); no device was touched. Diagnose it with {runbook}, then fix it through a normal "
        "change, or page {target}."),
    "dependency_not_ready": (
        "Dependency not ready", "medium",
        "The change waited for a dependency (another change, an API, a device state or a webhook) that was not ready in "
        "time, could not be checked, or can no longer be met; no device of this branch was touched by it. Read the wait's "
        "last poll below, settle the dependency with its owner, then run the change again; {target} decides if it is urgent."),
    "post_review_overdue": (
        "Post-hoc review overdue", "medium",
        "This emergency change bypassed a gate and its mandatory post-hoc review is past its due date. {target} assigns a "
        "reviewer, who reads the change's evidence and signs the review with `governed-change review complete`."),
}


def utc_iso(moment=None):
    """A packet's time: clock.iso_z at seconds precision."""
    return iso_z(moment, precision="seconds")


def _str_list(value, where):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ValidationError("must be a string or a list of strings, got %s." % type(value).__name__, where=where,
                              fix="describe each item as a sentence.")
    return [item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str) for item in value]


def normalize_devices(devices):
    """{host: {state, detail...}}; a plain string value is the state."""
    if devices is None:
        return {}
    if not isinstance(devices, dict):
        raise ValidationError("must be a mapping of host to {state, detail...}, got %s." % type(devices).__name__, where="devices",
                              fix="pass e.g. devices: {r1: {state: rolled_back, detail: restore verified}}.")
    out = {}
    for host in sorted(devices, key=str):
        entry = devices[host]
        if isinstance(entry, str):
            entry = {"state": entry}
        if not isinstance(entry, dict):
            raise ValidationError("must be a mapping with at least 'state', got %s." % type(entry).__name__, where="devices.%s" % host,
                                  fix="pass {state: ..., detail: ...} for each device.")
        entry = dict(entry)
        entry["state"] = str(entry.get("state") or "unknown")
        out[str(host)] = entry
    return out


def change_summary(assessment):
    """The change as the person paged needs it, from the assessment."""
    if not assessment:
        return {}
    fired = assessment.get("fired_rules") or []
    return {"title": assessment.get("title"), "author": assessment.get("author"), "type": assessment.get("type"),
            "category": assessment.get("category"), "change_class": assessment.get("change_class"), "tier": assessment.get("tier"),
            "score": assessment.get("score"), "hosts": list(assessment.get("hosts") or []), "content_hash": assessment.get("content_hash"),
            "assessed_at": assessment.get("assessed_at"), "policy": assessment.get("policy_name"),
            "why": [rule.get("explanation") or rule.get("name") for rule in fired if isinstance(rule, dict)]}


def _affected(devices, reason):
    unreachable = [host for host, entry in devices.items() if entry["state"] == "unreachable"]
    if reason == "retries_exhausted" and unreachable:
        bad = unreachable
    elif any("affected" in entry for entry in devices.values()):  # states decided by module_utils/outcome.py say which
        bad = [host for host, entry in devices.items() if entry.get("affected")]
    else:
        bad = [host for host, entry in devices.items() if entry["state"] not in ("ok", "deployed", "confirmed", "untouched", "restored")]
    if not bad and reason in ("rollback_failed", "retries_exhausted", "check_undecidable", "change_failed"):
        bad = list(devices)
    return bad


def recommended_step(reason, devices, target, runbook):
    hosts = _affected(devices, reason)
    return REASONS[reason][2].format(hosts=", ".join(hosts) or "the devices of the change", target=target or "the on-call engineer",
                                     runbook=runbook or "the change's runbook")


def build_packet(change_id, reason, detected=None, actions_taken=None, devices=None, escalation=None, runbook=None,
                 assessment=None, recommended_next_step=None, ledger=None, created_at=None):
    """The hand-off packet (a plain dict). Secrets are redacted (secret-looking keys, and secrets in config lines)."""
    if not isinstance(change_id, str) or not _ID_RE.match(change_id):
        raise ValidationError("%r is not a change id." % (change_id,), where="change_id", fix="pass the change id, e.g. CHG-2002.")
    if reason not in REASONS:
        raise ValidationError("%r is not a known reason." % (reason,), where="reason", fix="use one of %s." % ", ".join(REASONS))
    devices = normalize_devices(devices)
    escalation = dict(escalation or {})
    target = escalation.get("target")
    policy_runbook = escalation.get("runbook")
    runbook_link = runbook or policy_runbook
    title, severity = REASONS[reason][0], REASONS[reason][1]
    packet = {
        "schema": SCHEMA,
        "change_id": change_id,
        "sequence": None,
        "created_at": created_at or utc_iso(),
        "reason": reason,
        "title": "%s: %s" % (change_id, title),
        "severity": severity,
        "escalation_target": target,
        "detected": _str_list(detected, "detected"),
        "actions_taken": _str_list(actions_taken, "actions_taken"),
        "devices": devices,
        "recommended_next_step": recommended_next_step or recommended_step(reason, devices, target, runbook_link),
        "runbook": {"change": runbook, "policy": policy_runbook},
        "change": change_summary(assessment),
        "ledger": ledger,
    }
    packet = redact(redact_data(packet)[0])
    return packet


def seal(packet):
    """Set the packet's sha256 (of its canonical JSON without that field)."""
    body = dict(packet)
    body.pop("sha256", None)
    packet["sha256"] = sha256_of(body)
    return packet


def _cell(value):
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _md_heading(packet):
    """The page's title and key facts: change, reason and severity, whom to escalate to, when, and the runbooks."""
    lines = ["# Escalation: %s" % packet["title"], "",
             "- **Change:** %s (escalation %s)" % (packet["change_id"], packet.get("sequence") or "-"),
             "- **Reason:** `%s` - severity **%s**" % (packet["reason"], packet["severity"]),
             "- **Escalate to:** %s" % (packet.get("escalation_target") or "not set in the policy for this tier"),
             "- **Created:** %s" % packet["created_at"]]
    runbook = packet.get("runbook") or {}
    if runbook.get("change"):
        lines.append("- **Runbook of the change:** %s" % runbook["change"])
    if runbook.get("policy"):
        lines.append("- **Tier runbook (policy):** %s" % runbook["policy"])
    return lines


def _md_device_detail(entry):
    """A device's detail cell: every field but its state, strings as they are, other values as sorted JSON."""
    return "; ".join("%s: %s" % (key, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
                     for key, value in entry.items() if key != "state")


def _md_devices(devices):
    """The device table (device, state, detail), or a note that no device state was reported."""
    if not devices:
        return ["(no device state reported)"]
    lines = ["| Device | State | Detail |", "| --- | --- | --- |"]
    for host, entry in devices.items():
        lines.append("| %s | %s | %s |" % (_cell(host), _cell(entry["state"]), _cell(_md_device_detail(entry))))
    return lines


def _md_change(change):
    """The change section: title, author and type, tier, targets, content hash and why this tier (nothing without a change)."""
    if not change:
        return []
    lines = ["", "## The change", "",
             "- **Title:** %s" % change.get("title"),
             "- **Author:** %s; type %s, category %s, class %s" % (
                 change.get("author"), change.get("type"), change.get("category"), change.get("change_class")),
             "- **Tier:** %s (score %s)" % (change.get("tier"), change.get("score")),
             "- **Targets:** %s" % ", ".join(change.get("hosts") or []),
             "- **Content hash:** `%s`" % change.get("content_hash")]
    if change.get("why"):
        lines += ["- **Why this tier:**"] + ["  - %s" % item for item in change["why"]]
    return lines


def render_markdown(packet):
    """The packet as a Markdown page a person reads first."""
    lines = _md_heading(packet)
    lines += ["", "## Recommended next step", "", packet["recommended_next_step"], "", "## What was detected", ""]
    lines += ["- %s" % item for item in packet["detected"]] or ["- (nothing reported)"]
    lines += ["", "## Actions taken", ""]
    lines += ["%d. %s" % (index, item) for index, item in enumerate(packet["actions_taken"], start=1)] or ["- (none)"]
    lines += ["", "## Current state of each device", ""]
    lines += _md_devices(packet["devices"])
    lines += _md_change(packet.get("change") or {})
    if packet.get("ledger"):
        lines += ["", "## Ledger", "", "- %s" % ", ".join("%s: %s" % (k, v) for k, v in sorted(packet["ledger"].items()))]
    lines += ["", "Packet sha256: `%s`" % packet.get("sha256", ""), ""]
    return "\n".join(lines)


def summary_text(packet):
    """One paragraph for chat notifications (Slack's fallback text)."""
    bad = [host for host, entry in packet["devices"].items() if entry["state"] not in ("ok", "untouched")]
    text = "[%s] %s - escalate to %s." % (packet["severity"].upper(), packet["title"], packet.get("escalation_target") or "on-call")
    if bad:
        text += " Devices: %s." % ", ".join("%s=%s" % (host, packet["devices"][host]["state"]) for host in bad)
    return text


def json_payload(packet):
    """The generic webhook body: an envelope plus the whole packet."""
    return {"event": "governed.change.escalation", "change_id": packet["change_id"], "reason": packet["reason"],
            "severity": packet["severity"], "escalation_target": packet.get("escalation_target"), "text": summary_text(packet),
            "packet": packet}


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def slack_payload(packet):
    """A Slack incoming-webhook body: ``text`` (fallback) and Block Kit ``blocks`` within Slack's size limits."""
    fields = [{"type": "mrkdwn", "text": _clip("*Reason*\n`%s` (%s)" % (packet["reason"], packet["severity"]), 2000)},
              {"type": "mrkdwn", "text": _clip("*Escalate to*\n%s" % (packet.get("escalation_target") or "on-call"), 2000)}]
    change = packet.get("change") or {}
    if change.get("tier"):
        fields.append({"type": "mrkdwn", "text": "*Tier*\n%s (score %s)" % (change.get("tier"), change.get("score"))})
    runbook = (packet.get("runbook") or {}).get("change") or (packet.get("runbook") or {}).get("policy")
    if runbook:
        fields.append({"type": "mrkdwn", "text": _clip("*Runbook*\n%s" % runbook, 2000)})
    devices = "\n".join("- `%s`: %s" % (host, entry["state"]) for host, entry in packet["devices"].items()) or "(none reported)"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(packet["title"], 150)}},
        {"type": "section", "fields": fields[:10]},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("*Detected*\n" + ("\n".join("- " + d for d in packet["detected"]) or "-"), 3000)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("*Actions taken*\n" + (
            "\n".join("%d. %s" % (i, a) for i, a in enumerate(packet["actions_taken"], 1)) or "-"), 3000)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("*Devices*\n" + devices, 3000)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("*Recommended next step*\n" + packet["recommended_next_step"], 3000)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip("governed.change escalation %s-%s, packet sha256 %s" % (
            packet["change_id"], packet.get("sequence") or "-", str(packet.get("sha256", ""))[:16]), 300)}]},
    ]
    return {"text": _clip(summary_text(packet), 3000), "blocks": blocks}


def payload_for(packet, webhook_format):
    if webhook_format not in FORMATS:
        raise ValidationError("%r is not a webhook format." % (webhook_format,), where="webhook_format", fix="use json or slack.")
    return slack_payload(packet) if webhook_format == "slack" else json_payload(packet)


def display_url(url):
    """The webhook URL fit for logs and the ledger: scheme and host only (a Slack webhook's path is its secret)."""
    parts = urllib.parse.urlsplit(url or "")
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return "%s://%s/..." % (parts.scheme, host) if parts.scheme else ""


def check_webhook_url(url):
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("the webhook URL is not an http(s) URL.", where="webhook_url",
                              fix="pass the receiver's URL, e.g. https://hooks.slack.com/services/... or http://127.0.0.1:8080/hook.")
    return url


def backoff_delays(retries, delay=0.5, cap=MAX_BACKOFF):
    return [min(cap, delay * (2 ** index)) for index in range(retries)]


def post_webhook(url, payload, timeout=10.0, retries=3, retry_delay=0.5, validate_certs=True, sleep=time.sleep):
    """POST ``payload`` as JSON; retry connection errors, timeouts, 408/425/429 and 5xx with bounded exponential backoff.

    Never raises for a delivery problem: returns {sent, status, attempts, error, target, elapsed_s, log}. The URL is
    only ever shown as ``display_url`` (no path or query: they may hold the webhook's secret).
    """
    check_webhook_url(url)
    if open_url is None:  # pragma: no cover
        raise MissingLibrary("ansible-core (ansible.module_utils.urls)", "to send the escalation webhook")
    if not isinstance(retries, int) or not 0 <= retries <= MAX_WEBHOOK_RETRIES:
        raise ValidationError("must be 0..%d, got %r." % (MAX_WEBHOOK_RETRIES, retries), where="webhook_retries",
                              fix="retry a webhook at most %d times." % MAX_WEBHOOK_RETRIES)
    body = json.dumps(payload, sort_keys=True).encode("utf-8")
    delays = backoff_delays(retries, retry_delay)
    start = time.monotonic()
    outcome = {"sent": False, "status": None, "attempts": 0, "error": None, "target": display_url(url), "log": []}
    while True:
        outcome["attempts"] += 1
        retryable = False
        try:
            response = open_url(url, data=body, method="POST", timeout=timeout, validate_certs=validate_certs,
                                headers={"Content-Type": "application/json", "User-Agent": "governed.change-escalation"},
                                follow_redirects="none", use_proxy=True, use_netrc=False)
            try:
                status = response.getcode()
                response.read()
            finally:
                response.close()
            outcome["status"] = status
            if 200 <= status < 300:
                outcome.update(sent=True, error=None)
                outcome["log"].append({"attempt": outcome["attempts"], "status": status})
                break
            outcome["error"] = "HTTP %d" % status
        except urllib.error.HTTPError as exc:
            outcome["status"] = exc.code
            outcome["error"] = "HTTP %d" % exc.code
            retryable = exc.code in RETRY_HTTP
        except (urllib.error.URLError, UrlsConnectionError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            outcome["status"] = None
            outcome["error"] = "%s" % (reason,)
            retryable = not isinstance(exc, ValueError)
        outcome["log"].append({"attempt": outcome["attempts"], "status": outcome["status"], "error": outcome["error"]})
        if not retryable or outcome["attempts"] > len(delays):
            break
        sleep(delays[outcome["attempts"] - 1])
    outcome["elapsed_s"] = round(time.monotonic() - start, 3)
    return outcome


def tier_settings(policy, tier, assessment=None):
    """The escalation settings (target, runbook, ...) of a tier: from the policy when given, else from the assessment's
    requirements; {} when the tier, the policy section or both sources are missing (the packet then says no target is set)."""
    if policy is not None:
        return dict(((policy.get("requirements") or {}).get(tier) or {}).get("escalation") or {}) if tier else {}
    return dict(((assessment or {}).get("requirements") or {}).get("escalation") or {})


def event_kind(webhook_url, delivery):
    """The ledger event of an escalation: escalation.failed_to_send when a webhook was configured and did not accept
    the packet (``delivery`` None or without ``sent`` counts as not accepted), else escalation.sent."""
    if webhook_url and not (delivery or {}).get("sent"):
        return "escalation.failed_to_send"
    return "escalation.sent"


def next_sequence(directory, change_id):
    """The next free n of escalations/<change_id>-<n>.json (1 for the first)."""
    pattern = re.compile(r"^%s-(\d+)\.json$" % re.escape(change_id))
    try:
        names = os.listdir(directory)
    except OSError:
        return 1
    used = [int(m.group(1)) for m in (pattern.match(name) for name in names) if m]
    return max(used) + 1 if used else 1


def write_packet(output_dir, packet):
    """Write escalations/<change_id>-<n>.json and .md (n = next free number, taken atomically); returns the paths.

    Sets the packet's ``sequence`` and ``sha256``.
    """
    check_safe_id(packet["change_id"], where="change_id")
    directory = safe_join(output_dir, "escalations")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise ValidationError("cannot create the escalations folder (%s)." % (exc.strerror or exc), where="output_dir: %s" % output_dir,
                              fix="pass a writable output_dir.")
    sequence = next_sequence(directory, packet["change_id"])
    for _attempt in range(1000):
        path = safe_join(output_dir, "escalations", "%s-%d.json" % (packet["change_id"], sequence))
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                sequence += 1
                continue
            raise ValidationError("cannot write the packet (%s)." % (exc.strerror or exc), where=path, fix="pass a writable output_dir.")
        packet["sequence"] = sequence
        seal(packet)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(packet, indent=2, sort_keys=True) + "\n")
        markdown_path = path[:-len(".json")] + ".md"
        with open(markdown_path, "w", encoding="utf-8") as stream:
            stream.write(render_markdown(packet))
        return {"path": path, "markdown_path": markdown_path}
    raise GovernedChangeError("no free escalation number.", where=directory, fix="clean up the escalations folder.")  # pragma: no cover
