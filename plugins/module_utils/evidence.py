# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence bundle of one change: what was decided, approved, touched, checked and rolled back, hashed and anchored to the ledger.

The bundle is built from the ledger (change record, verdicts, approvals, transitions, the tasks the evidence callback
recorded, "stage.results", "change.outcome", "escalation.sent"), the assessment file and the state store (backups and
pre/post snapshots, verified against their sha256; only a bounded summary of the pre/post state diff is kept). Every
section is redacted, then hashed; the bundle's own sha256 covers all sections and the ledger anchor (head seq and hash
at bundle time, and the verify() result), so an auditor can check the bundle against the ledger (``verify_bundle``).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact, statestore
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import (
    CLOSE_CODES, FINAL_STATES, LedgerTampered, iso_z, ledger_location, parse_iso, utc_now)
from ansible_collections.governed.change.plugins.module_utils.ledger import redact as redact_keys
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id, safe_join
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data
from ansible_collections.governed.change.plugins.module_utils.state_diff import diff_states
from ansible_collections.governed.change.plugins.module_utils.clock import utc_now as clock_now

FORMAT = "governed.change/evidence@1"
OUTCOMES = CLOSE_CODES + ("canceled",)
SECTIONS = ("change", "assessment", "approvals", "gates", "devices", "checks", "rollback", "escalation", "outcome", "tasks", "timeline")
DIFF_LIMIT = 50          # entries per added/removed/changed list of a device's state diff
DIFF_TEXT_MAX = 20000    # characters of one device's config diff kept in the bundle
TIMELINE_MAX = 400       # timeline entries kept (first and last halves when longer)
TASKS_MAX = 400          # task entries kept in the tasks section
REF_KEYS = ("path", "sha256", "kind", "bytes")


def evidence_dir(output_dir, change_id):
    """``<output_dir>/evidence/<change_id>``, refused unless the id is path-safe and the folder inside output_dir."""
    check_safe_id(change_id, where="change_id")
    return safe_join(output_dir, "evidence", change_id)


def bundle_paths(output_dir, change_id):
    """(bundle.json path, report.html path) of a change."""
    folder = evidence_dir(output_dir, change_id)
    return os.path.join(folder, "bundle.json"), os.path.join(folder, "report.html")


def _read_json(path, where):
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ValidationError("cannot be read (%s)." % (exc.strerror or exc), where=where,
                              fix="point it at the JSON file governed.change.assess wrote.")
    try:
        return json.loads(raw), sha256_of(raw)
    except ValueError as exc:
        raise ValidationError("is not JSON (%s)." % exc, where=where, fix="point it at the JSON file governed.change.assess wrote.")


def _clip(text, limit):
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + "\n... (%d more characters)" % (len(text) - limit)


def _ref(value):
    """The identifying part of a statestore reference (no payload, no summary)."""
    if not isinstance(value, dict):
        return None
    return dict((key, value.get(key)) for key in REF_KEYS if key in value)


def refs_only(stages):
    """A copy of ``stages`` safe to put in the ledger: references without payloads, redacted, small."""
    def walk(node):
        if statestore.is_ref(node):
            out = _ref(node)
            if isinstance(node.get("summary"), dict):
                out["summary"] = node["summary"]
            return out
        if isinstance(node, dict):
            return dict((str(k), walk(v)) for k, v in node.items() if k not in ("sections", "text", "invocation"))
        if isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        return node
    return redact_all(walk(stages or {}))


def redact_all(value):
    """Secret-looking keys (ledger.redact) and secrets inside config text (redact.redact_data) replaced."""
    return redact_data(redact_keys(value))[0]


# -- sections -----------------------------------------------------------------------------------------------------
def _assessment_section(assessment, path, file_sha):
    if assessment is None:
        return {"available": False, "file": path}
    devices = {}
    for host, dev in sorted((assessment.get("devices") or {}).items()):
        dev = dev or {}
        devices[host] = {"diff": _clip(dev.get("diff"), DIFF_TEXT_MAX), "lines_added": dev.get("lines_added"),
                         "lines_removed": dev.get("lines_removed"), "lines_changed": dev.get("lines_changed"),
                         "sections_touched": dev.get("sections_touched"), "prefixes_touched": dev.get("prefixes_touched"),
                         "running_known": dev.get("running_known"), "unreachable": dev.get("unreachable")}
    blast = assessment.get("blast_radius") or {}
    return {
        "available": True, "file": path, "file_sha256": file_sha,
        "change_id": assessment.get("change_id"), "title": assessment.get("title"), "author": assessment.get("author"),
        "type": assessment.get("type"), "category": assessment.get("category"), "assessed_at": assessment.get("assessed_at"),
        "tier": assessment.get("tier"), "tier_by_score": assessment.get("tier_by_score"), "forced_tier": assessment.get("forced_tier"),
        "score": assessment.get("score"), "change_class": assessment.get("change_class"),
        "change_class_reason": assessment.get("change_class_reason"), "explanation": assessment.get("explanation"),
        "fired_rules": [{"name": r.get("name"), "score": r.get("score"), "force_tier": r.get("force_tier"),
                         "explanation": r.get("explanation") or r.get("description")} for r in assessment.get("fired_rules") or []],
        "rules_evaluated": assessment.get("rules_evaluated"), "required_gates": assessment.get("required_gates"),
        "requirements": assessment.get("requirements"), "content_hash": assessment.get("content_hash"),
        "policy_name": assessment.get("policy_name"), "policy_sha256": assessment.get("policy_sha256"),
        "change_request_sha256": assessment.get("change_request_sha256"), "hosts": assessment.get("hosts"),
        "blast_radius": dict((k, blast.get(k)) for k in ("device_count", "devices", "sites", "site_count", "critical_devices",
                                                         "fleet_share", "prefixes_touched", "protected_overlap", "touches_protected")
                             if k in blast),
        "devices": devices,
    }


def _latest(events, kind):
    found = [e for e in events if e["kind"] == kind]
    return found[-1] if found else None


def _approvals_section(ledger, change_id, events, change):
    review = _latest(events, "verdict.review")
    verdict = (review or {}).get("data", {}).get("verdict") or {}
    counted = dict((item.get("index"), item) for item in verdict.get("counted") or [])
    rejected = dict((item.get("index"), item) for item in verdict.get("rejected") or [])
    items = []
    for position, row in enumerate(ledger.approvals(change_id)):
        entry = {"approver": row.get("approver"), "principal": row.get("principal"), "decision": row.get("decision"),
                 "source": row.get("source"), "ts": row.get("ts"), "comment": row.get("comment"),
                 "content_hash": row.get("content_hash"),
                 "signature_sha256": sha256_of(row["signature"]) if row.get("signature") else None,
                 "matches_current_content": bool(change.get("content_hash")) and row.get("content_hash") == change.get("content_hash"),
                 "verified_at_record": bool(row.get("verified"))}
        if position in counted:
            entry.update(counted=True, verified=True, identity=counted[position].get("identity"), groups=counted[position].get("groups"))
        elif position in rejected:
            entry.update(counted=False, verified=False, identity=rejected[position].get("identity"), reason=rejected[position].get("reason"))
        else:
            entry.update(counted=False, verified=None, reason="not evaluated by the last review gate")
        items.append(entry)
    return {"items": items, "count": len(items), "counted": [i.get("identity") or i["approver"] for i in items if i.get("counted")],
            "review_seq": (review or {}).get("seq"), "required": verdict.get("required")}


def _gates_section(events):
    out = {}
    for gate in ("assess", "review", "window"):
        runs = [e for e in events if e["kind"] == "verdict." + gate]
        if not runs:
            out[gate] = {"decision": None, "runs": 0}
            continue
        last = runs[-1]
        verdict = last["data"].get("verdict") or {}
        item = {"decision": verdict.get("decision"), "runs": len(runs), "seq": last["seq"], "ts": last["ts"], "actor": last["actor"],
                "reasons": verdict.get("reasons") or [], "evaluated_at": verdict.get("evaluated_at")}
        for key in ("tier", "score", "fired_rules", "required_gates", "content_hash", "window", "freeze", "bypass", "can_wait",
                    "opens_at", "launchers", "ledger_state"):
            if key in verdict:
                item[key] = verdict[key]
        if gate == "review":
            item["approvers"] = [c.get("identity") for c in verdict.get("counted") or []]
            item["rejected"] = [{"approver": r.get("approver"), "reason": r.get("reason")} for r in verdict.get("rejected") or []]
        out[gate] = item
    return out


def _stored(ref, where, problems, load=False):
    """(reference summary, data or None); integrity problems are recorded, never hidden."""
    if not statestore.is_ref(ref):
        return None, None
    info = _ref(ref)
    info["summary"] = ref.get("summary")
    try:
        raw = statestore.read_bytes(ref, where=where)
        info["integrity"] = "ok"
        return info, (json.loads(raw) if load else None)
    except (ValidationError, ValueError) as exc:
        info["integrity"] = "failed"
        info["error"] = str(exc)
        problems.append("%s: %s" % (where, exc))
        return info, None


def _state_diff(pre_ref, post_ref, where, problems, limit):
    if not (statestore.is_ref(pre_ref) and statestore.is_ref(post_ref)):
        return None
    try:
        diff = diff_states(pre_ref, post_ref, limit=limit)
    except ValidationError as exc:
        problems.append("%s: %s" % (where, exc))
        return {"error": str(exc)}
    summary = diff["summary"]
    return {"identical": summary.get("identical"), "truncated": summary.get("truncated"), "limit": limit,
            "counts": dict((k, summary.get(k)) for k in ("added", "removed", "changed", "changed_fields", "unchanged")),
            "sections": dict((name, dict((k, v) for k, v in counts.items() if k in ("added", "removed", "changed")))
                             for name, counts in (summary.get("sections") or {}).items()
                             if counts.get("added") or counts.get("removed") or counts.get("changed")),
            "added": [_entry(e) for e in diff["added"]], "removed": [_entry(e) for e in diff["removed"]],
            "changed": [_entry(e) for e in diff["changed"]]}


def _entry(item):
    """A diff entry with its identity under "id" (a key named "key" would be taken for a secret by the redaction)."""
    return dict(("id" if k == "key" else k, v) for k, v in item.items())


def _check_rows(host, phase, block):
    rows = []
    for item in (block or {}).get("results") or []:
        if not isinstance(item, dict):
            continue
        rows.append({"host": host, "phase": phase, "name": item.get("name"), "op": item.get("op"), "snapshot": item.get("snapshot"),
                     "expected": item.get("expected"), "actual": item.get("actual"), "passed": bool(item.get("passed")),
                     "undecidable": bool(item.get("undecidable")), "skipped": bool(item.get("skipped")), "reason": item.get("reason")})
    return rows


CHECK_VALUE_LIMIT = 500  # characters of JSON kept of a check's expected/actual value in a task event
CHECK_ROWS_LIMIT = 200


def _bounded_value(value):
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(value)
    if len(text) <= CHECK_VALUE_LIMIT:
        return value
    return {"clipped": text[:CHECK_VALUE_LIMIT], "chars": len(text)}


def check_verdict(item):
    """passed / failed / undecidable / skipped of one check result."""
    if item.get("skipped"):
        return "skipped"
    if item.get("undecidable"):
        return "undecidable"
    return "passed" if item.get("passed") else "failed"


def check_records(results, host, phase):
    """The ledger's record of a check run: one row per check (name, host, phase, op, expected, actual, verdict, reason),
    values bounded, secrets redacted. ``results`` is the ``results`` list of a governed.change.check task."""
    rows = []
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or "name" not in item or "passed" not in item:
            continue
        rows.append({"name": str(item.get("name")), "host": str(item.get("device") or host), "phase": phase, "op": item.get("op"),
                     "expected": _bounded_value(item.get("expected")), "actual": _bounded_value(item.get("actual")),
                     "verdict": check_verdict(item), "reason": _clip(item.get("reason") or "", 300)})
        if len(rows) >= CHECK_ROWS_LIMIT:
            break
    return redact_all(rows)


def _backup_entry(host, data, problems):
    """The backup's reference, with the sha256 and redaction count of its config text when the stored file holds one."""
    backup, backup_data = _stored(data.get("backup"), "%s.backup" % host, problems, load=True)
    if backup is not None and isinstance(backup_data, dict) and isinstance(backup_data.get("text"), str):
        real = backup_data["text"]
        red = redact_data(real)
        backup["config_sha256"] = sha256_of(real)
        backup["redactions"] = len(red[1])
    return backup


def _snapshot_entries(host, data, problems, limit):
    """The pre/post snapshot references, and their bounded state diff when both verify."""
    entry = {}
    for key in ("pre", "post"):
        info, snap = _stored(data.get(key), "%s.%s" % (host, key), problems, load=True)
        if info is not None:
            glance = state_glance(snap)
            if glance:
                info["glance"] = glance
            entry[key] = info
    if entry.get("pre", {}).get("integrity") == "ok" and entry.get("post", {}).get("integrity") == "ok":
        entry["state_diff"] = _state_diff(data["pre"], data["post"], "%s.state_diff" % host, problems, limit)
    return entry


def _established(peer):
    """Whether a snapshot's peer record says its session is up (the normalized "established" flag, else its state)."""
    if isinstance(peer.get("established"), bool):
        return peer["established"]
    return str(peer.get("state") or "").lower() == "established"


def state_glance(snap):
    """The counts a person compares before and after: peers, peers established, routes (None without a snapshot)."""
    sections = (snap or {}).get("sections") if isinstance(snap, dict) else None
    if not isinstance(sections, dict):
        return None
    peers = sections.get("peers") if isinstance(sections.get("peers"), dict) else {}
    routes = sections.get("routes") if isinstance(sections.get("routes"), dict) else {}
    return {"peers": len(peers), "peers_established": sum(1 for p in peers.values() if isinstance(p, dict) and _established(p)),
            "routes": len(routes)}


def _deploy_entry(deploy):
    """What the bundle keeps of a device's deploy result."""
    return {"failed": bool(deploy.get("failed")), "changed": bool(deploy.get("changed")), "msg": deploy.get("msg"),
            "summary": deploy.get("summary"), "changes": deploy.get("changes")}


def _restore_entry(restore):
    """What the bundle keeps of a device's restore result."""
    return {"failed": bool(restore.get("failed")), "verified": restore.get("verified"), "msg": restore.get("msg"),
            "summary": restore.get("summary")}


def _verify_entries(host, data):
    """The verify results and their check rows: the pipeline names the verify stage and the rollback's verification apart;
    a lone verify result is the rollback's verification."""
    entry, checks = {}, []
    verify = data.get("verify")
    rollback_verify = data.get("rollback_verify")
    if isinstance(rollback_verify, dict):
        entry["rollback_verify"] = {"passed": rollback_verify.get("passed")}
        checks.extend(_check_rows(host, "rollback_verify", rollback_verify))
        if isinstance(verify, dict):
            entry["verify"] = {"passed": verify.get("passed")}
            checks.extend(_check_rows(host, "verify", verify))
    elif isinstance(verify, dict):
        entry["verify"] = {"passed": verify.get("passed")}
        checks.extend(_check_rows(host, "rollback_verify", verify))
    return entry, checks


def _stage_entries(host, data):
    """The deploy, check, confirmation and restore results of a device, and the post-change check rows."""
    entry, checks = {}, []
    if isinstance(data.get("deploy"), dict):
        entry["deploy"] = _deploy_entry(data["deploy"])
    check = data.get("check")
    if isinstance(check, dict):
        entry["check"] = {"passed": check.get("passed"), "undecidable": check.get("undecidable"), "summary": check.get("summary")}
        checks.extend(_check_rows(host, "post", check))
    if "confirmed" in data:
        entry["confirmed"] = data.get("confirmed")
    if isinstance(data.get("restore"), dict):
        entry["restore"] = _restore_entry(data["restore"])
    return entry, checks


def _device_entry(host, data, stages, problems, limit):
    """One device's section (backup, snapshots, stage results, decided state) and its check rows."""
    data = data or {}
    entry = {}
    backup = _backup_entry(host, data, problems)
    if backup is not None:
        entry["backup"] = backup
    entry.update(_snapshot_entries(host, data, problems, limit))
    checks = []
    for part, rows in (_stage_entries(host, data), _verify_entries(host, data)):
        entry.update(part)
        checks.extend(rows)
    state = (((stages or {}).get("decision") or {}).get("devices") or {}).get(host)
    if isinstance(state, dict):
        entry["state"] = state
    return entry, checks


def _devices_section(stages, problems, limit):
    """Every device of the run, by name, and all their check rows in that order."""
    devices, checks = {}, []
    for host, data in sorted(((stages or {}).get("hosts") or {}).items()):
        devices[host], rows = _device_entry(host, data, stages, problems, limit)
        checks.extend(rows)
    return devices, checks


def _rollback_detail(hosts, devices):
    """Per rolled-back device: restored, config equal to the backup, state equal to pre, and the restore's message."""
    detail = {}
    for host in hosts:
        dev = devices.get(host) or {}
        # The rollback's own verification is "rollback_verify" when the run also verified the change ("verify" is then
        # the verify stage's result); a lone "verify" is the rollback's (see _verify_entries).
        restore, verify = dev.get("restore") or {}, dev.get("rollback_verify") or dev.get("verify") or {}
        detail[host] = {"restored": bool(restore) and not restore.get("failed"), "config_equal": restore.get("verified"),
                        "state_equal": verify.get("passed"), "msg": restore.get("msg")}
    return detail


def _decided_rollback(decided, hosts, detail):
    """The rollback section from the run's verdict (module_utils/outcome.py), so the summary, report and packet agree."""
    for host in decided.get("state_differs") or []:
        detail.setdefault(host, {"restored": None, "config_equal": None, "state_equal": False, "msg": None})
    for host, msg in (decided.get("errors") or {}).items():
        if host in detail:
            detail[host]["error"] = msg
    return {"performed": bool(decided.get("performed")), "hosts": sorted(set(hosts) | set(decided.get("targets") or [])),
            "verified": decided.get("verified"), "restore_failed": decided.get("restore_failed") or [],
            "state_differs": decided.get("state_differs") or [], "detail": detail}


def _rollback_verified(hosts, detail):
    """Without a verdict: None when nothing was rolled back, else whether every device restored with config and state equal."""
    if not hosts:
        return None
    return all(d["restored"] and d["config_equal"] is True and d["state_equal"] is not False for d in detail.values())


def _rollback_section(stages, devices):
    """What was rolled back and whether it verified: the run's verdict when recorded, else read from the devices."""
    stages = stages or {}
    hosts = list(stages.get("rolled_back") or [])
    listed = set(hosts)  # membership in a set: a list scan per device was quadratic in the fleet size
    hosts += [h for h, d in devices.items() if "restore" in d and h not in listed]
    detail = _rollback_detail(hosts, devices)
    verified = _rollback_verified(hosts, detail)
    decided = (stages.get("decision") or {}).get("rollback")
    if isinstance(decided, dict):
        return _decided_rollback(decided, hosts, detail)
    return {"performed": bool(hosts), "hosts": sorted(hosts), "verified": verified, "detail": detail}


def _task_line(data):
    return "%s %s on %s (%s%s)" % (data.get("status"), data.get("task"), data.get("host"), data.get("action"),
                                   ", %.2fs" % data["duration_s"] if isinstance(data.get("duration_s"), (int, float)) else "")


def _event_text(event):
    data, kind = event.get("data") or {}, event["kind"]
    if kind == "change.state":
        code = "/%s" % data["close_code"] if data.get("close_code") else ""
        reason = ": %s" % data["reason"] if data.get("reason") else ""
        return "state %s -> %s%s%s" % (data.get("from"), data.get("to"), code, reason)
    if kind.startswith("verdict."):
        verdict = data.get("verdict") or {}
        return "%s gate: %s" % (data.get("gate"), verdict.get("decision"))
    if kind.startswith("approval."):
        return "%s by %s (%s)" % (data.get("decision"), data.get("approver"), data.get("source"))
    if kind == "change.created":
        return "change opened"
    if kind == "change.assessed":
        return "assessed: tier %s" % data.get("tier")
    if kind == "task":
        return _task_line(data)
    if kind == "change.outcome":
        return "outcome %s%s" % (data.get("outcome"), ": %s" % data["reason"] if data.get("reason") else "")
    if kind in ("escalation.sent", "escalation.failed_to_send"):
        target = data.get("escalation_target") or data.get("target")
        return "escalation (%s) to %s, webhook sent: %s" % (data.get("reason"), target, data.get("sent"))
    if kind.startswith("lock."):
        return "%s %s" % (kind, ", ".join(data.get("devices") or []))
    if kind == "evidence.built":
        return "evidence bundle %s..." % str(data.get("bundle_sha256"))[:12]
    return kind


def _bounded(items, limit):
    if len(items) <= limit:
        return items, 0
    half = limit // 2
    return items[:half] + items[-half:], len(items) - 2 * half


def _timeline_section(events):
    rows = [{"seq": e["seq"], "ts": e["ts"], "kind": e["kind"], "actor": e["actor"], "text": _event_text(e), "hash": e["hash"]}
            for e in events]
    kept, omitted = _bounded(rows, TIMELINE_MAX)
    return {"events": len(rows), "omitted": omitted, "entries": kept}


STAGES = ("assess", "review", "window", "precheck", "deploy", "verify", "rollback", "close", "escalate")
# Without the stage the callback records (runs recorded before it did), a stage starts at its own governed action and
# runs until a later stage's action (stages only move forward): a re-assess inside deploy stays in deploy.
STAGE_ACTIONS = {"assess": "assess", "review_gate": "review", "window_gate": "window", "backup": "precheck", "snapshot": "precheck",
                 "deploy": "deploy", "restore": "rollback", "close": "close", "escalate": "escalate"}


def _inferred_stages(tasks):
    """(task, stage) in order, the stage inferred from the governed actions (see STAGE_ACTIONS)."""
    current, out = None, []
    for task in tasks:
        action = str(task.get("action") or "")
        stage = STAGE_ACTIONS.get(action[len("governed.change."):]) if action.startswith("governed.change.") else None
        if stage is not None and (current is None or STAGES.index(stage) > STAGES.index(current)):
            current = stage
        out.append((task, current))
    return out


def _task_stages(tasks):
    """(task, stage) of every recorded task: the stage role the callback recorded, else inferred from the actions."""
    if any(task.get("stage") for task in tasks):
        return [(task, task.get("stage") if task.get("stage") in STAGES else None) for task in tasks]
    return _inferred_stages(tasks)


def _task_times(task):
    """(start, end) of a recorded task from its real start and duration, or None when it has no start."""
    try:
        start = parse_iso(task.get("started"), where="task.started")
    except (LedgerError, TypeError):
        return None
    duration = task.get("duration_s") if isinstance(task.get("duration_s"), (int, float)) else 0
    return start, start + timedelta(seconds=duration)


def stage_spans(tasks):
    """One span per stage that ran, in the order they started: first task start, last task end (the tasks' real times,
    not the ledger's flush times), task count and failed tasks."""
    spans = {}
    for task, stage in _task_stages(tasks):
        times = _task_times(task)
        if stage is None or times is None:
            continue
        span = spans.setdefault(stage, {"stage": stage, "start": times[0], "end": times[1], "tasks": 0, "failed": 0})
        span["start"], span["end"] = min(span["start"], times[0]), max(span["end"], times[1])
        span["tasks"] += 1
        span["failed"] += 1 if task.get("status") in ("failed", "unreachable") else 0
    ordered = sorted(spans.values(), key=lambda s: s["start"])
    return [dict(s, start=iso_z(s["start"]), end=iso_z(s["end"]),
                 seconds=round((s["end"] - s["start"]).total_seconds(), 3)) for s in ordered]


def _tasks_section(events):
    tasks = [dict(e["data"], seq=e["seq"], ts=e["ts"]) for e in events if e["kind"] == "task"]
    by_status = {}
    for task in tasks:
        status = str(task.get("status") or "unknown")  # a task event without a status must not break the section hash
        by_status[status] = by_status.get(status, 0) + 1
    kept, omitted = _bounded(tasks, TASKS_MAX)
    return {"count": len(tasks), "by_status": by_status, "omitted": omitted, "stages": stage_spans(tasks),
            "failed": [t for t in tasks if t.get("status") in ("failed", "unreachable")][:50], "items": kept}


def _escalation_section(events, stages):
    sent = [dict(e["data"], seq=e["seq"], ts=e["ts"], kind=e["kind"]) for e in events
            if e["kind"] in ("escalation.sent", "escalation.failed_to_send")]
    return {"escalated": bool(sent) or bool((stages or {}).get("escalation")), "packet": (stages or {}).get("escalation"),
            "events": sent}


def _duration(started, ended, events):
    """Seconds from the run's start (the earlier of ``started`` and the first recorded task) to the close."""
    candidates = []
    if started:
        try:
            candidates.append(parse_iso(started, where="started"))
        except LedgerError:
            pass
    tasks = [e for e in events if e["kind"] == "task"]
    for task in tasks[:1]:
        try:
            candidates.append(parse_iso(task["data"].get("started") or task["ts"], where="task.started"))
        except LedgerError:
            candidates.append(parse_iso(task["ts"]))
    if not candidates or ended is None:
        return None
    return round((ended - min(candidates)).total_seconds(), 3)


def _host_results(stages):
    """Hosts by result, each sorted: deployed, failed, rolled back, ok (deployed, neither failed nor rolled back) and
    untouched (never reached: a canceled change touched nothing, so its hosts are untouched, never ok)."""
    hosts = sorted(((stages.get("hosts") or {}).keys()))
    failed = sorted(stages.get("failed_hosts") or [])
    rolled = sorted(stages.get("rolled_back") or [])
    deployed = sorted(stages.get("deployed") or [])
    not_ok = set(failed) | set(rolled)  # sets: list scans per host were quadratic in the fleet size
    reached = not_ok | set(deployed)
    ok = [h for h in deployed if h not in not_ok]
    untouched = [h for h in hosts if h not in reached]
    return {"deployed": deployed, "failed_hosts": failed, "rolled_back": rolled, "ok_hosts": ok, "untouched_hosts": untouched}


def _run_state(stages):
    """Whether the run halted, the stage that failed, and its plan."""
    return {"halted": bool(stages.get("halted")), "stage_failed": stages.get("stage_failed") or "", "plan": stages.get("plan")}


def _decision_fields(stages):
    """From the run's decision (module_utils/outcome.py): the escalation reason, the verdict summary, the lock release."""
    decision = stages.get("decision") or {}
    return {"escalation_reason": decision.get("reason") or "", "verdict": decision.get("summary"),
            "locks_released": decision.get("release_locks")}


def _outcome_section(change, events, stages):
    """The change's close: outcome and reason (last "change.outcome"), state, duration, hosts by result, the run's verdict."""
    record = _latest(events, "change.outcome") or {}
    data = dict(record.get("data") or {})
    stages = stages or {}
    ended = parse_iso(record["ts"]) if record else None
    results = _host_results(stages)
    section = {"outcome": data.get("outcome"), "reason": data.get("reason"), "state": change.get("state"),
               "close_code": change.get("close_code"), "closed_at": record["ts"] if record else None,
               "started": data.get("started"), "duration_s": _duration(data.get("started"), ended, events)}
    section.update(results)
    section.update(_run_state(stages))
    section["actor"] = record.get("actor")
    section.update(_decision_fields(stages))
    return section


# -- the bundle ---------------------------------------------------------------------------------------------------
def stages_from_ledger(events):
    """The ``stages`` recorded by the last "stage.results" event of a change (refs only), or None."""
    record = _latest(events, "stage.results")
    return (record or {}).get("data", {}).get("stages") if record else None


def _checks_section(checks):
    """All check rows of the run with their count and how many passed, failed and were undecidable."""
    return {"count": len(checks), "passed": sum(1 for c in checks if c["passed"]),
            "failed": sum(1 for c in checks if not c["passed"]), "undecidable": sum(1 for c in checks if c["undecidable"]),
            "items": checks}


def _ledger_check(ledger, change_id):
    """The ledger check the bundle records: the change's part of the ledger at bundle time (``check_change``: the
    append-only triggers, the chain head, every event since the last verified checkpoint, each event of the change with
    both links, the change's row, approvals and leases against its events). Its cost follows the change, not the ledger,
    so a run does not slow down as the ledger grows (issue 16); the whole chain is walked by ``governed-change ledger
    verify`` and by ``verify_bundle``, which auditors run. Returns {ok, scope, head, problems}."""
    head = ledger.head()
    try:
        ledger.check_change(change_id)
    except LedgerTampered as exc:
        return {"ok": False, "scope": "change", "head": head, "problems": exc.problems}
    return {"ok": True, "scope": "change", "head": head, "problems": []}


def _ledger_section(ledger, verified, events):
    """The bundle's ledger anchor: the file, the head and check result at bundle time, and the change's event range."""
    return {"path": ledger_location(getattr(ledger, "path", None)) or None,
            "head": verified["head"], "verify": {"ok": verified["ok"], "scope": verified["scope"], "events": len(events),
                                                 "problems": verified["problems"][:20]},
            "change_events": len(events), "first_seq": events[0]["seq"] if events else None,
            "last_seq": events[-1]["seq"] if events else None, "last_hash": events[-1]["hash"] if events else None}


def build_bundle(ledger, change_id, output_dir=None, stages=None, assessment_file=None, diff_limit=DIFF_LIMIT, now=None,
                 run_problems=None):
    """The evidence bundle of ``change_id`` (a dict; nothing is written).

    ``ledger``: an open SqliteLedger. ``stages``: the close action's stages (else the last "stage.results" of the ledger).
    ``assessment_file``: the assessment JSON (else found under ``output_dir``). ``run_problems``: what the building run
    knows is missing (e.g. its tasks were not recorded), listed first in ``problems``.
    """
    change = ledger.get_change(change_id)
    if change is None:
        raise LedgerError("change %s is not in the ledger." % change_id, where=getattr(ledger, "path", "ledger"),
                          fix="assess the change with this ledger first.")
    events = ledger.events(change_id=change_id)
    if stages is None:
        stages = stages_from_ledger(events) or {}
    stages = refs_only(stages)
    problems = [str(problem) for problem in run_problems or []]
    path = assessment_file or assessment_artifact.find(output_dir, change_id)
    assessment, file_sha = None, None
    if path:
        loaded = assessment_artifact.read(path)
        assessment, file_sha = loaded["assessment"], loaded["file_sha256"]
        if assessment.get("content_hash") != change.get("content_hash"):
            problems.append("the assessment file's content hash %s is not the ledger's %s" % (
                str(assessment.get("content_hash"))[:12], str(change.get("content_hash"))[:12]))
    else:
        problems.append("no assessment file was found for %s under %s" % (change_id, output_dir))
    devices, checks = _devices_section(stages, problems, diff_limit)
    sections = {
        "change": change,
        "assessment": _assessment_section(assessment, path, file_sha),
        "approvals": _approvals_section(ledger, change_id, events, change),
        "gates": _gates_section(events),
        "devices": devices,
        "checks": _checks_section(checks),
        "rollback": _rollback_section(stages, devices),
        "escalation": _escalation_section(events, stages),
        "outcome": _outcome_section(change, events, stages),
        "tasks": _tasks_section(events),
        "timeline": _timeline_section(events),
    }
    sections = redact_all(sections)
    verified = _ledger_check(ledger, change_id)
    bundle = {
        "format": FORMAT, "change_id": change_id,
        "generated_at": iso_z(now or utc_now()),
        "sections": sections,
        "hashes": dict((name, sha256_of(sections[name])) for name in SECTIONS),
        "ledger": _ledger_section(ledger, verified, events),
        "problems": problems,
    }
    bundle["sha256"] = bundle_hash(bundle)
    return bundle


def bundle_hash(bundle):
    """sha256 of the bundle's canonical JSON without its own ``sha256`` key."""
    return sha256_of(dict((k, v) for k, v in bundle.items() if k != "sha256"))


def _hash_problems(bundle):
    """The bundle's own checks: its format, each section against its sha256, and the bundle's sha256."""
    problems = []
    if bundle.get("format") != FORMAT:
        problems.append("format is %r, not %r" % (bundle.get("format"), FORMAT))
    for name in SECTIONS:
        if sha256_of((bundle.get("sections") or {}).get(name)) != (bundle.get("hashes") or {}).get(name):
            problems.append("section %s does not match its sha256" % name)
    if bundle_hash(bundle) != bundle.get("sha256"):
        problems.append("the bundle does not match its sha256")
    return problems


def _timeline_problems(timeline, events, last):
    """The bundle's timeline against the change's events up to its last seq: their number, then the first entry that differs."""
    problems = []
    if timeline.get("events") is not None and timeline["events"] != len(events):
        problems.append("the bundle lists %s events of the change, the ledger has %d up to seq %s" % (timeline["events"], len(events), last))
    by_seq = dict((e["seq"], e["hash"]) for e in events)
    for entry in timeline.get("entries") or []:
        if by_seq.get(entry.get("seq")) != entry.get("hash"):
            problems.append("timeline entry seq %s does not match the ledger" % entry.get("seq"))
            break
    return problems


def _anchor_problems(bundle, ledger):
    """The ledger's own problems when it does not verify up to the head the bundle anchored."""
    anchor = (bundle.get("ledger") or {}).get("head") or {}
    checked = ledger.verify(anchor=anchor)
    if checked["ok"]:
        return []
    return ["ledger seq %s: %s" % (p["seq"], p["problem"]) for p in checked["problems"]]


def _events_at_bundle_time(bundle, ledger):
    """The change's events up to the bundle's last seq (all of them when it has none), and that seq."""
    change_id = bundle.get("change_id")
    last = (bundle.get("ledger") or {}).get("last_seq")
    return [e for e in ledger.events(change_id=change_id) if last is None or e["seq"] <= last], last


def _ledger_problems(bundle, ledger):
    """The bundle against the ledger: the ledger verifies up to the bundle's anchor, the change's last event at bundle time
    is there as recorded, and the timeline matches the change's events."""
    problems = _anchor_problems(bundle, ledger)
    events, last = _events_at_bundle_time(bundle, ledger)
    if last is not None and (not events or events[-1]["hash"] != bundle["ledger"].get("last_hash")):
        problems.append("the change's last event at bundle time (seq %s) is not in the ledger as recorded" % last)
    timeline = ((bundle.get("sections") or {}).get("timeline") or {})
    return problems + _timeline_problems(timeline, events, last)


def verify_bundle(bundle, ledger=None):
    """Check a bundle: section hashes, bundle hash, and (with a ledger) its anchor and change events. Returns {ok, problems}."""
    problems = _hash_problems(bundle)
    if ledger is not None:
        problems += _ledger_problems(bundle, ledger)
    return {"ok": not problems, "problems": problems}


def atomic_write(path, text):
    """Write ``text`` to ``path`` (its folder made if missing) through a temporary file in that folder and a rename."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_evidence(bundle, output_dir, render_report=None):
    """Write bundle.json (and report.html when ``render_report(bundle, paths)`` is given); returns {evidence, report}."""
    bundle_path, report_path = bundle_paths(output_dir, bundle["change_id"])
    paths = {"evidence": os.path.abspath(bundle_path), "report": os.path.abspath(report_path) if render_report else None}
    try:
        atomic_write(bundle_path, json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        if render_report is not None:
            atomic_write(report_path, render_report(bundle, paths))
    except OSError as exc:
        raise ValidationError("the evidence cannot be written (%s)." % (exc.strerror or exc), where=os.path.dirname(bundle_path),
                              fix="make the output directory writable and check free disk space.")
    return paths


def build_and_write(ledger, change_id, output_dir, stages=None, assessment_file=None, render_report=None, actor="governed.change",
                    diff_limit=DIFF_LIMIT, record=True, run_problems=None):
    """Build the bundle, write it (and the report), and record "evidence.built" in the ledger; returns (bundle, paths)."""
    bundle = build_bundle(ledger, change_id, output_dir=output_dir, stages=stages, assessment_file=assessment_file, diff_limit=diff_limit,
                          run_problems=run_problems)
    paths = write_evidence(bundle, output_dir, render_report)
    if record:
        ledger.append_event(change_id, "evidence.built", actor, {"bundle_sha256": bundle["sha256"], "evidence": paths["evidence"],
                                                                 "report": paths["report"], "anchor": bundle["ledger"]["head"]})
    return bundle, paths


def load_bundle(path):
    """A bundle read back from its JSON file."""
    return _read_json(path, "evidence: %s" % path)[0]


# -- the human summary --------------------------------------------------------------------------------------------
def _summary_change(bundle, sec, gates):
    """The change part of a summary: id, title, state and close, outcome and reason, tier and score, fired rules, gates,
    and who approved."""
    change, assessment, outcome = sec.get("change") or {}, sec.get("assessment") or {}, sec.get("outcome") or {}
    return {"change_id": bundle.get("change_id"), "title": change.get("title"), "state": change.get("state"),
            "close_code": change.get("close_code"), "outcome": outcome.get("outcome"), "reason": outcome.get("reason"),
            "tier": change.get("tier") or assessment.get("tier"), "score": assessment.get("score"),
            "fired_rules": [r.get("name") for r in assessment.get("fired_rules") or []], "gates": gates,
            "approvers": (sec.get("approvals") or {}).get("counted") or []}


def _summary_run(sec):
    """The run part of a summary: hosts by result, the rollback's verification, check counts, escalation, duration, tasks."""
    outcome, checks, rollback = sec.get("outcome") or {}, sec.get("checks") or {}, sec.get("rollback") or {}
    return {"ok_hosts": outcome.get("ok_hosts") or [], "failed_hosts": outcome.get("failed_hosts") or [],
            "rolled_back": outcome.get("rolled_back") or [], "rollback_verified": rollback.get("verified"),
            "untouched_hosts": outcome.get("untouched_hosts") or [],
            "checks": {"passed": checks.get("passed", 0), "failed": checks.get("failed", 0), "undecidable": checks.get("undecidable", 0)},
            "escalated": (sec.get("escalation") or {}).get("escalated", False), "duration_s": outcome.get("duration_s"),
            "escalation_reason": outcome.get("escalation_reason") or "",
            "tasks": (sec.get("tasks") or {}).get("count", 0)}


def _summary_record(bundle, paths):
    """The record part of a summary: the ledger's verification and head, the bundle's sha256, the files, the problems."""
    ledger = bundle.get("ledger") or {}
    return {"ledger_ok": ledger.get("verify", {}).get("ok"), "ledger_head": ledger.get("head"), "bundle_sha256": bundle.get("sha256"),
            "evidence": paths.get("evidence"), "report": paths.get("report"), "problems": bundle.get("problems") or []}


def summary(bundle, paths=None):
    """The small structured summary of a bundle (what summary_lines prints)."""
    sec = bundle.get("sections") or {}
    gates = dict((name, (g or {}).get("decision")) for name, g in (sec.get("gates") or {}).items())
    info = _summary_change(bundle, sec, gates)
    info.update(_summary_run(sec))
    info.update(_summary_record(bundle, paths or {}))
    return info


def _hosts(names):
    return " (%s)" % ", ".join(names) if names else ""


def summary_lines(bundle, paths=None):
    """A short summary a person reads at a glance: change, tier, gates, devices, duration, report path."""
    info = summary(bundle, paths)
    final = info["state"] if info["state"] not in FINAL_STATES or not info["close_code"] else "%s/%s" % (info["state"], info["close_code"])
    lines = ["Change %s \"%s\": %s%s" % (info["change_id"], info["title"] or "", final,
                                         " (%s)" % info["reason"] if info["reason"] else "")]
    rules = ", ".join(info["fired_rules"]) or "none"
    lines.append("  Risk: tier %s, score %s (rules: %s)" % (info["tier"], info["score"], rules))
    gates = ", ".join("%s %s" % (g, d or "not run") for g, d in info["gates"].items())
    lines.append("  Gates: %s%s" % (gates, "; approved by %s" % ", ".join(info["approvers"]) if info["approvers"] else ""))
    rb = info["rollback_verified"]
    lines.append("  Devices: %d ok%s, %d failed%s, %d rolled back%s%s" % (
        len(info["ok_hosts"]), _hosts(info["ok_hosts"]), len(info["failed_hosts"]), _hosts(info["failed_hosts"]),
        len(info["rolled_back"]), _hosts(info["rolled_back"]),
        "" if rb is None else (", rollback verified" if rb else ", rollback NOT verified")))
    if info["untouched_hosts"]:
        lines[-1] += "; untouched%s" % _hosts(info["untouched_hosts"])
    checks = info["checks"]
    escalated = "; escalated (%s)" % info["escalation_reason"] if info["escalation_reason"] else "; escalated" if info["escalated"] else ""
    lines.append("  Checks: %d passed, %d failed, %d undecidable%s" % (checks["passed"], checks["failed"], checks["undecidable"], escalated))
    duration = "%.1f s" % info["duration_s"] if isinstance(info["duration_s"], (int, float)) else "unknown"
    head = info["ledger_head"] or {}
    lines.append("  Duration: %s; %d tasks recorded; ledger %s at seq %s" % (
        duration, info["tasks"], "verified" if info["ledger_ok"] else "NOT VERIFIED", head.get("seq")))
    if info["report"]:
        lines.append("  Report: %s" % info["report"])
    if info["evidence"]:
        lines.append("  Evidence: %s (sha256 %s)" % (info["evidence"], str(info["bundle_sha256"])[:16]))
    for problem in info["problems"][:3]:
        lines.append("  Problem: %s" % problem)
    return lines


def ts_now():
    """ISO-8601 UTC now, for ``started`` values (clock.iso_z)."""
    return iso_z(clock_now())
