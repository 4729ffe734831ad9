"""The evidence bundle: sections from the ledger, the assessment and the state store, hashed, redacted and anchored."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from evidence_support import CHANGE, SECRET, scheduled_change, stages

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


@pytest.fixture
def built(tmp_path):
    ledger_path, out = scheduled_change(tmp_path)
    data = stages(tmp_path, failed=True)
    with SqliteLedger(ledger_path) as ledger:
        ledger.append_event(CHANGE, "stage.results", "t", {"stages": evidence.refs_only(data)})
        ledger.transition(CHANGE, "implement", "t")
        ledger.transition(CHANGE, "review", "t")
        ledger.transition(CHANGE, "closed", "t", close_code="unsuccessful", reason="rolled back")
        ledger.append_event(CHANGE, "change.outcome", "t", {"outcome": "unsuccessful", "reason": "rolled back"})
        ledger.append_event(CHANGE, "task", "cb", {"task": "Deploy", "action": "governed.change.deploy", "host": "r1",
                                                   "status": "changed", "duration_s": 1.5, "result": {"changed": True}})
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out)
    return bundle, ledger_path, out


def test_sections_hold_the_change_decisions_and_devices(built):
    bundle, _ledger, _out = built
    sec = bundle["sections"]
    assert bundle["format"] == evidence.FORMAT and bundle["problems"] == []
    assert sec["change"]["state"] == "closed" and sec["change"]["close_code"] == "unsuccessful"
    assert [r["name"] for r in sec["assessment"]["fired_rules"]] == ["static_routes", "no_expected_checks"]
    assert sec["assessment"]["devices"]["r1"]["diff"].count("+ip route 192.0.2.0/24 blackhole") == 1
    approval = sec["approvals"]["items"][0]
    assert approval["approver"] == "alice" and approval["verified"] is True and approval["counted"] is True
    assert approval["matches_current_content"] is True and "signature" not in approval and len(approval["signature_sha256"]) == 64
    assert sec["gates"]["review"]["decision"] == "pass" and sec["gates"]["review"]["approvers"] == ["alice"]
    assert sec["gates"]["window"]["decision"] == "pass" and sec["gates"]["assess"]["decision"] == "assessed"
    r1 = sec["devices"]["r1"]
    assert r1["backup"]["integrity"] == "ok" and r1["backup"]["redactions"] == 1
    diff = r1["state_diff"]
    assert diff["counts"]["added"] == 1 and diff["added"][0]["id"] == "192.0.2.0/24"
    assert diff["changed"] == [{"section": "peers", "id": "10.0.12.2", "field": "state", "before": "Established", "after": "Idle"}]
    names = [(c["phase"], c["name"], c["passed"]) for c in sec["checks"]["items"]]
    assert ("post", "peers_established", False) in names and ("rollback_verify", "same_routes", True) in names
    failed = [c for c in sec["checks"]["items"] if not c["passed"]][0]
    assert failed["expected"] == "Established" and failed["actual"] == "Idle"
    assert sec["rollback"] == {"performed": True, "hosts": ["r1"], "verified": True,
                               "detail": {"r1": {"restored": True, "config_equal": True, "state_equal": True, "msg": "restored"}}}
    assert sec["outcome"]["outcome"] == "unsuccessful" and sec["outcome"]["rolled_back"] == ["r1"]
    assert sec["tasks"]["count"] == 1 and sec["tasks"]["by_status"] == {"changed": 1}
    assert [e["kind"] for e in sec["timeline"]["entries"]][-3:] == ["change.state", "change.outcome", "task"]


def test_secrets_never_reach_the_bundle(built):
    bundle = built[0]
    text = json.dumps(bundle)
    assert SECRET not in text
    assert "neighbor 10.0.12.2 password <redacted:" in text
    assert "BEGIN SSH SIGNATURE" not in text


def test_bundle_is_hashed_and_verifies_against_the_ledger(built):
    bundle, ledger_path, _out = built
    assert set(bundle["hashes"]) == set(evidence.SECTIONS)
    with SqliteLedger(ledger_path) as ledger:
        assert bundle["ledger"]["head"] == ledger.head() and bundle["ledger"]["verify"]["ok"] is True
        assert evidence.verify_bundle(bundle, ledger) == {"ok": True, "problems": []}
        ledger.append_event(CHANGE, "task", "cb", {"task": "later"})  # appending later keeps old bundles valid
        assert evidence.verify_bundle(bundle, ledger)["ok"] is True


def test_an_edited_section_is_detected(built):
    bundle = json.loads(json.dumps(built[0]))
    bundle["sections"]["checks"]["items"][1]["passed"] = True
    result = evidence.verify_bundle(bundle)
    assert result["ok"] is False and "section checks does not match its sha256" in result["problems"]
    bundle = json.loads(json.dumps(built[0]))
    bundle["ledger"]["head"]["seq"] = 1
    assert evidence.verify_bundle(bundle)["problems"] == ["the bundle does not match its sha256"]


def test_a_rewritten_ledger_is_detected(built):
    bundle, ledger_path, _out = built
    conn = sqlite3.connect(ledger_path)
    conn.execute("DROP TRIGGER events_append_only_update")  # the append-only trigger refuses the edit; an attacker drops it
    conn.execute("UPDATE events SET data = ? WHERE kind = 'change.outcome'", (json.dumps({"outcome": "successful"}),))
    conn.commit()
    conn.close()
    with SqliteLedger(ledger_path) as ledger:
        result = evidence.verify_bundle(bundle, ledger)
    assert result["ok"] is False
    assert any("the event was edited" in p for p in result["problems"]), result


def test_a_tampered_state_file_is_reported_not_hidden(tmp_path):
    ledger_path, out = scheduled_change(tmp_path)
    data = stages(tmp_path)
    with open(data["hosts"]["r1"]["post"]["path"], "a", encoding="utf-8") as handle:
        handle.write(" ")
    with SqliteLedger(ledger_path) as ledger:
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out, stages=data)
    r1 = bundle["sections"]["devices"]["r1"]
    assert r1["post"]["integrity"] == "failed" and "sha256 mismatch" in r1["post"]["error"]
    assert "state_diff" not in r1
    assert any(p.startswith("r1.post: ") for p in bundle["problems"])


def test_state_diff_is_bounded_counts_stay_exact(tmp_path):
    ledger_path, out = scheduled_change(tmp_path)
    data = stages(tmp_path)
    from evidence_support import snapshot
    from ansible_collections.governed.change.plugins.module_utils import statestore
    store = os.path.join(out, "store")
    routes = dict(("10.1.%d.0/24" % i, "10.0.12.2") for i in range(200))
    data["hosts"]["r1"]["post"] = statestore.put(store, snapshot(routes), "snapshot")
    with SqliteLedger(ledger_path) as ledger:
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out, stages=data, diff_limit=10)
    diff = bundle["sections"]["devices"]["r1"]["state_diff"]
    assert diff["counts"]["added"] == 200 and len(diff["added"]) == 10 and diff["truncated"] is True


def test_missing_assessment_and_content_mismatch_are_problems(tmp_path):
    ledger_path, out = scheduled_change(tmp_path)
    path = os.path.join(out, "assessments", "%s.json" % CHANGE)
    doc = json.load(open(path, encoding="utf-8"))
    doc["content_hash"] = "d" * 64
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    with SqliteLedger(ledger_path) as ledger:
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out)
        assert any("content hash dddddddddddd is not the ledger's cccccccccccc" in p for p in bundle["problems"])
        os.unlink(path)
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out)
        assert bundle["sections"]["assessment"]["available"] is False
        assert any("no assessment file was found" in p for p in bundle["problems"])
        with pytest.raises(LedgerError, match="CHG-404 is not in the ledger"):
            evidence.build_bundle(ledger, "CHG-404", output_dir=out)


def test_refs_only_keeps_references_not_payloads(tmp_path):
    data = stages(tmp_path)
    data["hosts"]["r1"]["pre"] = dict(data["hosts"]["r1"]["pre"])
    data["hosts"]["r1"]["snapshot_inline"] = {"sections": {"routes": {"x": 1}}, "device": "r1"}
    small = evidence.refs_only(data)
    assert set(small["hosts"]["r1"]["pre"]) == {"path", "sha256", "kind", "bytes", "summary"}
    assert "sections" not in small["hosts"]["r1"]["snapshot_inline"]
    assert SECRET not in json.dumps(small)


def test_summary_lines_read_at_a_glance(built):
    bundle = built[0]
    lines = evidence.summary_lines(bundle, {"evidence": "/x/bundle.json", "report": "/x/report.html"})
    assert lines[0] == 'Change CHG-7001 "Discard route <b>TEST-NET-1</b> on r1": closed/unsuccessful (rolled back)'
    assert lines[1] == "  Risk: tier low, score 15 (rules: static_routes, no_expected_checks)"
    assert lines[2] == "  Gates: assess assessed, review pass, window pass; approved by alice"
    assert lines[3] == "  Devices: 0 ok, 1 failed (r1), 1 rolled back (r1), rollback verified"
    assert lines[4] == "  Checks: 2 passed, 1 failed, 0 undecidable"
    assert lines[5].startswith("  Duration: ") and "1 tasks recorded; ledger verified at seq" in lines[5]
    assert "  Report: /x/report.html" in lines


def test_write_evidence_is_atomic_and_in_the_contract_layout(built, tmp_path):
    bundle = built[0]
    paths = evidence.write_evidence(bundle, str(tmp_path / "o"), lambda b, p: "<html>%s</html>" % b["change_id"])
    assert paths["evidence"] == str(tmp_path / "o" / "evidence" / CHANGE / "bundle.json")
    assert evidence.load_bundle(paths["evidence"]) == json.loads(json.dumps(bundle))
    assert open(paths["report"], encoding="utf-8").read() == "<html>CHG-7001</html>"
    assert [n for n in os.listdir(os.path.dirname(paths["evidence"])) if n.startswith(".tmp")] == []


def test_a_canceled_change_lists_its_devices_as_untouched_not_ok(tmp_path):
    ledger_path, out = scheduled_change(tmp_path, state="authorize")
    data = {"hosts": {"r1": {}}, "deployed": [], "failed_hosts": [], "rolled_back": []}
    with SqliteLedger(ledger_path) as ledger:
        ledger.append_event(CHANGE, "stage.results", "t", {"stages": evidence.refs_only(data)})
        ledger.transition(CHANGE, "canceled", "t", reason="review gate refused")
        ledger.append_event(CHANGE, "change.outcome", "t", {"outcome": "canceled", "reason": "review gate refused"})
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out)
    lines = evidence.summary_lines(bundle)
    assert lines[3] == "  Devices: 0 ok, 0 failed, 0 rolled back; untouched (r1)"
    assert bundle["sections"]["outcome"]["ok_hosts"] == [] and bundle["sections"]["outcome"]["untouched_hosts"] == ["r1"]


def _edit_event_keeping_the_trigger(ledger_path, seq, data):
    """Edit one event the way a careful attacker would: drop the append-only trigger, edit, put the trigger back."""
    conn = sqlite3.connect(ledger_path)
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_append_only_update'").fetchone()[0]
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("UPDATE events SET data = ? WHERE seq = ?", (json.dumps(data), seq))
    conn.execute(trigger)
    conn.commit()
    conn.close()


def test_the_bundle_checks_the_change_part_of_the_ledger_not_every_event(tmp_path, monkeypatch):
    """Issue 16: a run must not slow down as the ledger grows, so the bundle records the change-scoped check
    (check_change), never a walk of the whole chain; an edit of the change's own events still fails it."""
    ledger_path, out = scheduled_change(tmp_path)
    with SqliteLedger(ledger_path) as ledger:
        seq = ledger.append_event(CHANGE, "task", "cb", {"task": "Deploy", "host": "r1", "status": "ok"})["seq"]
        for n in range(5):
            ledger.append_event(CHANGE, "task", "cb", {"task": "after %d" % n})

    def no_walk(self, anchor=None):
        raise AssertionError("the bundle walked the whole chain")

    monkeypatch.setattr(SqliteLedger, "verify", no_walk)
    with SqliteLedger(ledger_path) as ledger:
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out)
        events = len(ledger.events(change_id=CHANGE))
    assert bundle["ledger"]["verify"] == {"ok": True, "scope": "change", "events": events, "problems": []}
    _edit_event_keeping_the_trigger(ledger_path, seq, {"task": "Deploy", "host": "r1", "status": "failed"})
    with SqliteLedger(ledger_path) as ledger:
        tampered = evidence.build_bundle(ledger, CHANGE, output_dir=out)
    assert tampered["ledger"]["verify"]["ok"] is False
    assert any(p.get("seq") == seq for p in tampered["ledger"]["verify"]["problems"]), tampered["ledger"]["verify"]
    monkeypatch.undo()
    with SqliteLedger(ledger_path) as ledger:  # the auditor's check still walks every event
        assert evidence.verify_bundle(bundle, ledger)["ok"] is False
