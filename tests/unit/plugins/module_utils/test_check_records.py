"""Issue 12 findings 6 and 9: a check with nothing collected is skipped (not failed); every check's result reaches the
ledger (name, host, phase, expected, actual, verdict) and the bundle shows the run's verdict."""

from __future__ import annotations

import json

from evidence_support import CHANGE, playbook, scheduled_change, snapshot, stages

from ansible_collections.governed.change.plugins.callback.evidence import trim_result
from ansible_collections.governed.change.plugins.module_utils import checks, evidence, outcome, statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


def _fw(probes=None, rules=None):
    sections = {"interfaces": {"eth0": {"name": "eth0", "state": "up"}}}
    if probes is not None:
        sections["probes"] = probes
    if rules is not None:
        sections["rules"] = rules
    return {"device": "fw1", "platform": "linux", "sections": sections}


RULES = {"1": {"chain": "forward", "expr": "tcp dport 8080 accept"}}


# ---------------------------------------------------------------------------------------------- finding 6
def test_same_as_pre_without_probes_anywhere_is_skipped_not_failed():
    run = checks.run_checks(checks.same_as_pre_checks("linux"), pre=_fw(rules=RULES), post=_fw(rules=RULES))
    by_name = dict((r["name"], r) for r in run["results"])
    assert run["passed"] is True and run["undecidable"] is False
    assert by_name["same_probes"]["skipped"] is True and "nothing collected" in by_name["same_probes"]["reason"]
    assert by_name["same_rules"]["passed"] is True and not by_name["same_rules"].get("skipped")
    assert run["summary"]["skipped"] == 1 and run["summary"]["failed"] == 0


def test_same_as_pre_with_probes_lost_or_changed_still_fails():
    probes = {"srv1:8080": {"target": "srv1:8080", "result": "ok"}}
    lost = checks.run_checks(checks.same_as_pre_checks("linux"), pre=_fw(probes, RULES), post=_fw(rules=RULES))
    assert lost["passed"] is False and lost["undecidable"] is True and lost["summary"]["failed_checks"] == ["fw1/same_probes"]
    changed = checks.run_checks(checks.same_as_pre_checks("linux"), pre=_fw(probes, RULES),
                                post=_fw({"srv1:8080": {"target": "srv1:8080", "result": "timeout"}}, RULES))
    assert changed["passed"] is False and changed["undecidable"] is False


def test_skip_needs_both_snapshots():
    run = checks.run_checks(checks.same_as_pre_checks("linux"), pre=None, post=_fw(rules=RULES))
    assert run["passed"] is False and run["undecidable"] is True


def test_same_as_pre_checks_per_platform():
    assert [c["name"] for c in checks.same_as_pre_checks("frr")] == ["same_established_peers", "same_routes", "same_config"]
    assert [c["name"] for c in checks.same_as_pre_checks("linux")] == ["same_rules", "same_probes"]
    assert checks.validate_checks(checks.same_as_pre_checks())  # every built-in check is a valid check


# ---------------------------------------------------------------------------------------------- finding 9
def test_check_records_name_host_phase_expected_actual_verdict():
    results = [
        {"name": "no_route_lost", "op": "superset", "device": "r3", "expected": ["10.255.0.1/32"], "actual": [], "passed": False,
         "reason": "1 of 1 pre item(s) missing"},
        {"name": "same_probes", "op": "unchanged", "passed": True, "skipped": True, "reason": "skipped: nothing collected"},
        {"name": "peers", "op": "equals", "passed": False, "undecidable": True, "reason": "cannot evaluate"},
        {"name": "big", "op": "equals", "expected": "x" * 5000, "actual": 1, "passed": True},
        "not a check",
    ]
    rows = evidence.check_records(results, "r1", "deploy")
    assert [(r["name"], r["host"], r["phase"], r["verdict"]) for r in rows] == [
        ("no_route_lost", "r3", "deploy", "failed"), ("same_probes", "r1", "deploy", "skipped"),
        ("peers", "r1", "deploy", "undecidable"), ("big", "r1", "deploy", "passed")]
    assert rows[0]["expected"] == ["10.255.0.1/32"] and rows[0]["actual"] == [] and rows[0]["op"] == "superset"
    assert rows[3]["expected"]["chars"] == 5002 and len(rows[3]["expected"]["clipped"]) == evidence.CHECK_VALUE_LIMIT
    assert evidence.check_records(None, "r1", "deploy") == []


def test_check_records_are_redacted():
    secret = "neighbor 10.0.12.2 password Zz-sEcret-7"
    rows = evidence.check_records([{"name": "cfg", "op": "contains", "expected": secret, "actual": [secret], "passed": True,
                                    "token": "abc"}], "r1", "verify")
    assert "Zz-sEcret-7" not in json.dumps(rows)


def test_trim_result_keeps_check_names_not_loop_items():
    trimmed = trim_result({"changed": False, "passed": True, "results": [{"name": "a", "passed": True, "actual": [1] * 2000}]}, 4096)
    assert trimmed["results"] == [{"name": "a", "passed": True}]


def test_a_check_task_records_every_check_in_the_ledger(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    store = str(tmp_path / "store")  # references, as the stages pass them
    pre = statestore.put(store, snapshot({"10.255.0.2/32": "10.0.12.2", "10.255.0.3/32": "10.0.12.2"}), "snapshot")
    post = statestore.put(store, snapshot({"10.255.0.2/32": "10.0.12.2"}, "Idle"), "snapshot")
    task = {"name": "Check r1", "governed.change.check": {
        "pre": pre, "post": post, "platform": "frr", "store_dir": store,
        "checks": [{"name": "discard_route", "query": "sections.routes.\"192.0.2.0/24\"", "op": "not_empty", "snapshot": "post",
                    "skip_if_absent": True}]}, "ignore_errors": True}
    playbook(tmp_path, [task], extra=["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger])
    with SqliteLedger(ledger) as led:
        events = [e for e in led.events(change_id=CHANGE) if e["kind"] == "task" and e["data"]["task"] == "Check r1"]
    assert len(events) == 1 and events[0]["data"]["status"] == "failed"
    rows = dict((r["name"], r) for r in events[0]["data"]["checks"])
    assert rows["no_bgp_session_lost"]["verdict"] == "failed" and rows["no_bgp_session_lost"]["expected"] == ["10.0.12.2"]
    assert rows["no_bgp_session_lost"]["actual"] == [] and rows["no_bgp_session_lost"]["host"] == "r1"
    assert rows["no_route_lost"]["verdict"] == "failed", rows["no_route_lost"]["reason"]
    assert "10.255.0.3/32" in rows["no_route_lost"]["expected"]
    assert rows["discard_route"]["verdict"] == "skipped"
    assert all(r["phase"] == "Check r1" for r in rows.values())  # outside a stage role: the task's name
    assert "item" not in json.dumps(events[0]["data"]["result"])


# ---------------------------------------------------------------------------------------------- the bundle agrees
def test_the_bundle_shows_the_runs_verdict(tmp_path):
    ledger_path, out = scheduled_change(tmp_path)
    data = stages(tmp_path, failed=True)
    data["hosts"]["fw1"] = {"rollback_verify": {"passed": True, "results": [{"name": "same_probes", "passed": True, "skipped": True}]}}
    data["decision"] = outcome.decide({"stage_failed": "deploy", "implementing": True, "deployed": ["r1"], "failed_hosts": ["r1"],
                                       "hosts": ["r1", "fw1"], "records": data["hosts"], "escalation_configured": True,
                                       "rollback": {"targets": ["r1"], "rolled_back": ["r1"], "verified": True}})
    with SqliteLedger(ledger_path) as ledger:
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out, stages=data)
    sec = bundle["sections"]
    assert sec["rollback"]["verified"] is True and sec["outcome"]["escalation_reason"] == "change_failed"
    assert sec["devices"]["r1"]["state"]["state"] == "rolled_back"
    phases = set((row["host"], row["phase"]) for row in sec["checks"]["items"]) if "items" in sec["checks"] else None
    assert phases is None or ("fw1", "rollback_verify") in phases
    assert evidence.summary(bundle)["rollback_verified"] is True
    assert "escalated (change_failed)" in "\n".join(evidence.summary_lines(bundle))


# ---------------------------------------------------------------------------------------------- the AWX path agrees
def _stage(tmp_path, name, extra):
    import os
    import subprocess
    from evidence_support import ROOT, VENV_BIN
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", os.path.join(ROOT, "playbooks", name),
            "-e", json.dumps(extra)]
    proc = subprocess.run(args, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_awx_stage_playbooks_escalate_and_close_by_the_same_rules(tmp_path):
    ledger_path, out = scheduled_change(tmp_path, state="implement")
    with SqliteLedger(ledger_path) as ledger:
        ledger.acquire_locks(CHANGE, ["r1"], "bob", 3600)
    extra = {"governed_change_id": CHANGE, "governed_ledger": ledger_path, "governed_output_dir": out,
             "governed_assessment_file": "%s/assessments/%s.json" % (out, CHANGE), "governed_stage_failed": "deploy",
             "governed_deployed": ["r1"], "governed_failed_hosts": ["r1"], "governed_rolled_back": ["r1"],
             "governed_rollback_verified": False, "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    _stage(tmp_path, "escalate.yml", extra)
    packet = json.loads(open("%s/escalations/%s-1.json" % (out, CHANGE), encoding="utf-8").read())
    assert packet["reason"] == "rollback_failed" and packet["devices"]["r1"]["state"] == "not_verified"
    assert any("locks are held" in item for item in packet["actions_taken"])
    _stage(tmp_path, "close.yml", extra)
    with SqliteLedger(ledger_path) as ledger:
        assert [lock["device"] for lock in ledger.locks() if lock["change_id"] == CHANGE] == ["r1"]  # held, as the packet says
        assert ledger.get_change(CHANGE)["close_code"] == "unsuccessful"
    bundle = evidence.load_bundle(evidence.bundle_paths(out, CHANGE)[0])
    assert bundle["sections"]["rollback"]["verified"] is False and bundle["sections"]["outcome"]["escalation_reason"] == "rollback_failed"
