"""Issue 12 findings 6 and 9: a check with nothing collected is skipped (not failed); every check's result reaches the
ledger (name, host, phase, expected, actual, verdict) and the bundle shows the run's verdict."""

from __future__ import annotations

import json

from evidence_support import CHANGE, scheduled_change, stages

from ansible_collections.governed.change.plugins.callback.evidence import trim_result
from ansible_collections.governed.change.plugins.module_utils import checks, evidence, outcome
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
