"""Shared builders of the evidence tests: a change carried through the ledger up to "scheduled", real state store files."""

from __future__ import annotations

import json
import os
import subprocess

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
CHANGE = "CHG-7001"
SECRET = "Gc-s3cret-9q"
DIFF = ("--- r1/running\n+++ r1/candidate\n@@ -1,2 +1,3 @@\n hostname r1\n+ip route 192.0.2.0/24 blackhole\n"
        "+<script>alert(1)</script>\n")


def assessment(change_id=CHANGE, title="Discard route <b>TEST-NET-1</b> on r1"):
    return {
        "change_id": change_id, "title": title, "author": "carol", "type": "normal", "category": "other",
        "assessed_at": "2026-11-22T10:00:00Z", "tier": "low", "tier_by_score": "low", "forced_tier": None, "score": 15,
        "change_class": "normal", "change_class_reason": "no standard change matched", "explanation": "tier low: static_routes (+10)",
        "fired_rules": [{"name": "static_routes", "score": 10, "force_tier": None, "explanation": "Adds or removes static routes (+10)"},
                        {"name": "no_expected_checks", "score": 5, "force_tier": None, "explanation": "No expectation (+5)"}],
        "rules_evaluated": 17, "required_gates": ["assess", "review"],
        "requirements": {"approvals": {"count": 1}, "auto_rollback": True},
        "content_hash": "c" * 64, "policy_name": "lab-policy", "policy_sha256": "p" * 64, "change_request_sha256": "r" * 64,
        "hosts": ["r1"], "blast_radius": {"device_count": 1, "devices": ["r1"], "sites": ["lon"], "fleet_share": 0.25},
        "devices": {"r1": {"diff": DIFF, "lines_added": 2, "lines_removed": 0, "lines_changed": 2, "sections_touched": ["ip route"]}},
    }


def snapshot(routes, peers_state="Established"):
    return {"device": "r1", "platform": "frr", "taken_at": "2026-11-22T10:00:00Z",
            "sections": {"routes": dict((p, {"prefix": p, "nexthop": nh}) for p, nh in routes.items()),
                         "peers": {"10.0.12.2": {"address": "10.0.12.2", "state": peers_state}}}}


def scheduled_change(tmp_path, change_id=CHANGE, state="scheduled", title=None):
    """A ledger with the change assessed, approved by alice (verified by the review gate) and scheduled; the assessment file."""
    out = tmp_path / "out"
    (out / "assessments").mkdir(parents=True, exist_ok=True)
    ledger_path = str(tmp_path / "ledger.sqlite")
    doc = assessment(change_id) if title is None else assessment(change_id, title)
    (out / "assessments" / ("%s.json" % change_id)).write_text(json.dumps(doc))
    record_assessment(ledger_path, doc)
    with SqliteLedger(ledger_path) as ledger:
        ledger.record_approval({"change_id": change_id, "approver": "alice", "decision": "approve", "content_hash": doc["content_hash"],
                                "ts": "2026-11-22T10:01:00Z", "source": "ssh", "signature": "-----BEGIN SSH SIGNATURE-----\nAAAA\n",
                                "principal": "alice@lab", "verified": True, "comment": "looks fine"})
        if state != "authorize":
            ledger.record_verdict(change_id, "review", {"decision": "pass", "reasons": ["1 distinct approval (alice) meets tier low."],
                                                        "counted": [{"index": 0, "identity": "alice", "approver": "alice",
                                                                     "groups": ["netops"]}], "rejected": [], "required": {"count": 1}})
            ledger.record_verdict(change_id, "window", {"decision": "pass", "reasons": ["no window required for tier low."]})
            ledger.transition(change_id, "scheduled", "bob", reason="review gate passed")
        if state in ("implement", "review"):
            ledger.transition(change_id, "implement", "bob")
        if state == "review":
            ledger.transition(change_id, "review", "bob")
    return ledger_path, str(out)


def stages(tmp_path, failed=False):
    """Stage results with real state store references for r1 (pre, post, backup holding a secret)."""
    store = str(tmp_path / "out" / "store")
    pre = statestore.put(store, snapshot({"10.255.0.2/32": "10.0.12.2"}), "snapshot")
    post_routes = {"10.255.0.2/32": "10.0.12.2", "192.0.2.0/24": "blackhole"}
    post = statestore.put(store, snapshot(post_routes, "Idle" if failed else "Established"), "snapshot")
    backup = statestore.put(store, {"text": "hostname r1\nrouter bgp 65001\n neighbor 10.0.12.2 password %s\n" % SECRET}, "backup")
    check = {"passed": not failed, "undecidable": False, "results": [
        {"name": "discard_route_installed", "op": "equals", "snapshot": "post", "expected": True, "actual": True, "passed": True},
        {"name": "peers_established", "op": "equals", "snapshot": "post", "expected": "Established",
         "actual": "Idle" if failed else "Established", "passed": not failed, "reason": "Idle != Established" if failed else ""}]}
    host = {"backup": backup, "pre": pre, "post": post, "check": check, "confirmed": not failed,
            "deploy": {"failed": False, "changed": True,
                       "changes": ["ip route 192.0.2.0/24 blackhole", "neighbor 10.0.12.2 password %s" % SECRET]}}
    data = {"hosts": {"r1": host}, "deployed": ["r1"], "failed_hosts": ["r1"] if failed else [], "rolled_back": ["r1"] if failed else []}
    if failed:
        host["restore"] = {"failed": False, "verified": True, "msg": "restored"}
        same = {"name": "same_routes", "op": "unchanged", "expected": ["10.255.0.2/32"], "actual": ["10.255.0.2/32"], "passed": True}
        host["verify"] = {"passed": True, "results": [same]}
    return data


def playbook(tmp_path, tasks, extra=(), env=None, name="play.yml", check=True):
    """Run a localhost playbook with the project's ansible.cfg (the evidence callback enabled); returns the CompletedProcess."""
    path = tmp_path / name
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": tasks,
                                "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}}]))
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    environ.update(env or {})
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", str(path)] + list(extra), cwd=str(tmp_path),
                          env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:]
    return proc
