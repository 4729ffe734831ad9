# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ledger, three commands, the same figures (issue 17): a ledger written through the collection's own API - a
real assessment per change, the window gate's emergency bypass through lifecycle, the deploy's stage start and locks,
a close with a verified rollback, the escalate action, `governed-change escalation resolve` - is read back by
`governed-change metrics --format json`, `governed-change audit --format json`, `governed-change review list` and
`governed-change escalation causes`, run in-process through cli.main(); what one counts, the others list."""

from __future__ import annotations

import datetime
import io
import json

import pytest
import yaml

from action_harness import run_action
from assess_support import FRR_R2, INVENTORY, example, raw_policy

from ansible_collections.governed.change.plugins.module_utils import cli, lifecycle, records, windows
from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.clock import ENV, iso_z
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

BASE = datetime.datetime(2031, 6, 7, 5, 30, tzinfo=datetime.timezone.utc)  # Saturday 06:30 in London: every window closed
FRR_R1 = FRR_R2.replace("hostname r2", "hostname r1").replace("65002", "65001").replace("10.255.0.2", "10.255.0.1")
EMERGENCY, FAILED = "CHG-1003-EMERG", "CHG-1002"
REF = {"path": "store/aa/aaaa.json", "sha256": "a" * 64, "kind": "backup"}
CAUSE = "Route-map typo not caught by precheck"


def moment(hours=0.0):
    return BASE + datetime.timedelta(hours=hours)


def at(monkeypatch, hours):
    monkeypatch.setenv(ENV, iso_z(moment(hours)))


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The ledger (module-scoped; the project clock is moved through GOVERNED_CHANGE_NOW with a module-level patch)."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("agree")
    (base / "allowed_signers").write_text("")
    doc = raw_policy()
    doc["allowed_signers"] = str(base / "allowed_signers")
    doc["requirements"]["medium"]["window_required"] = True  # the emergency change bypasses a closed window
    (base / "policy.yml").write_text(yaml.safe_dump(doc))
    policy_file, path, out = str(base / "policy.yml"), str(base / "ledger.sqlite"), str(base / "out")
    policy = load_policy(policy_file)
    try:
        # 1. the emergency change: assessed, its window gate bypasses the closed window -> review due at +48.1 h
        emergency = assess(example("changes/emergency_r1.yml"), policy, INVENTORY, {"r1": {"running": FRR_R1}}, now=BASE)
        at(mp, 0)
        records.record_assessment(path, emergency)
        at(mp, 0.1)
        verdict, _recorded = lifecycle.evaluate_and_record(path, EMERGENCY, "window", lambda ledger, record: (
            windows.window_gate(policy, emergency, emergency["facts"]["targets"], now=moment(0.1)), {}))
        assert verdict["bypass"]["post_review_due"] == iso_z(moment(48.1), precision="seconds")
        # 2. a normal change deployed on r2, failed one minute in, rolled back and verified two minutes later
        normal = assess(example("changes/bgp_core_r2.yml"), policy, INVENTORY, {"r2": {"running": FRR_R2}}, now=moment(1))
        at(mp, 1)
        records.record_assessment(path, normal)
        at(mp, 1.5)
        with SqliteLedger(path) as ledger:
            ledger.record_verdict(FAILED, "review", {"decision": "pass"}, actor="governed.change")
            ledger.transition(FAILED, "scheduled", "governed.change", reason="review gate passed")
        at(mp, 2)
        refs = {"backups": {"r2": REF}, "pre_snapshots": {"r2": dict(REF, kind="snapshot")}}
        records.record_stage_start(path, FAILED, "deploy", ["r2"], refs, candidates={"r2": ["router bgp 65002"]}, run={"pid": 1})
        lifecycle.acquire_locks(path, FAILED, ["r2"], "governed.change", 600, transition="implement")
        at(mp, 2.5)
        stages = {"deployed": ["r2"], "rolled_back": ["r2"], "rollback_verified": True,
                  "decision": {"outcome": "unsuccessful", "rollback": {"performed": True, "verified": True}},
                  "failed_at": iso_z(moment(2) + datetime.timedelta(seconds=60)),
                  "rollback_verified_at": iso_z(moment(2) + datetime.timedelta(seconds=180))}
        lifecycle.release_locks(path, FAILED)
        lifecycle.close_change(path, FAILED, "unsuccessful", {"output_dir": out, "actor": "governed.change", "stages": stages})
        # 3. escalated twice (the escalate action), resolved twice with the same cause worded differently (the CLI)
        for hours, wording in ((2.6, CAUSE), (4, "route-map typo  NOT caught by precheck")):
            at(mp, hours)
            result = run_action("escalate", {"change_id": FAILED, "reason": "change_failed", "ledger": path, "policy": policy_file,
                                             "output_dir": out, "detected": "check r2_bgp failed"})
            assert not result.get("failed") and result["event"] == "escalation.sent", result.get("msg")
            at(mp, hours + 0.5)
            code, _out, err = run_cli("escalation", "resolve", FAILED, "--cause", wording, "--follow-up", "lint route-maps",
                                      "--identity", "alice", "--ledger", path, "--policy", policy_file)
            assert code == 0, err
        at(mp, 49)  # the emergency review is now overdue (due at +48.1 h), never done
        yield {"path": path, "policy": policy_file, "mp": mp}
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def figures(built):
    path, policy_file = built["path"], built["policy"]
    code, out, err = run_cli("metrics", "--ledger", path, "--format", "json")
    assert code == 0, err
    metrics = json.loads(out)
    code, out, err = run_cli("audit", "--ledger", path, "--policy", policy_file, "--format", "json")
    assert code == 1, err  # deviations exist (the overdue review among them)
    audit = json.loads(out)
    code, out, err = run_cli("review", "list", "--overdue", "--json", "--ledger", path)
    assert code == 1, err  # exit 1: an overdue review exists
    overdue = json.loads(out)
    code, out, err = run_cli("review", "list", "--json", "--ledger", path)
    assert code == 0, err
    owed = json.loads(out)
    code, out, err = run_cli("escalation", "causes", "--json", "--ledger", path)
    assert code == 0, err
    causes = json.loads(out)
    total = next(row for row in metrics["rows"] if row["period"] == "all" and row["group"] == "all")
    return {"metrics": metrics, "total": total, "audit": audit, "overdue": overdue, "owed": owed, "causes": causes}


def test_the_overdue_review_metrics_count_is_the_one_listed_and_the_one_audited(figures):
    counts = figures["total"]["counts"]
    assert [(r["change_id"], r["status"]) for r in figures["overdue"]] == [(EMERGENCY, "overdue")]
    assert counts["post_hoc_overdue"] == len(figures["overdue"]) == 1
    assert counts["post_hoc_due"] == len(figures["owed"]) == 1 and counts["post_hoc_done"] == 0
    late = [d for d in figures["audit"]["deviations"] if d["kind"] == "gate_missing" and d.get("gate") == "post_review"]
    assert [(d["change_id"], d["seq"]) for d in late] == [(r["change_id"], r["due_seq"]) for r in figures["overdue"]]


def test_the_failed_change_counts_the_same_everywhere(figures):
    total = figures["total"]
    assert total["change_failure_rate"] == {"failed": 1, "deployed": 1, "rate": 1.0}
    assert total["mttr_s"]["restore"]["mean"] == 120.0  # failure at +60 s, restored state verified at +180 s
    assert figures["metrics"]["changes"] == figures["audit"]["changes"] == 2
    assert {d["change_id"] for d in figures["audit"]["deviations"]} <= {EMERGENCY, FAILED}


def test_the_repeat_cause_metrics_show_is_the_one_the_learning_loop_lists(figures):
    metrics, total = figures["metrics"], figures["total"]
    assert metrics["repeat_causes"] == figures["causes"]
    (cause,) = figures["causes"]
    assert (cause["cause"], cause["count"], cause["changes"], cause["repeated"]) == (CAUSE, 2, [FAILED], True)
    assert total["counts"]["escalations"] == 2 and total["counts"]["escalations_resolved"] == sum(c["count"] for c in figures["causes"])
    # each resolved half an hour after its escalation (the project clock adds a microsecond per event at one instant)
    assert total["mttr_s"]["escalation"]["mean"] == pytest.approx(1800.0, abs=0.01)


def test_an_emergency_change_without_a_bypass_owes_a_review_in_both(tmp_path, monkeypatch):
    """No window was bypassed (the assessment alone requires the post_review gate): review list and metrics agree."""
    doc = raw_policy()
    (tmp_path / "allowed_signers").write_text("")
    doc["allowed_signers"] = str(tmp_path / "allowed_signers")
    (tmp_path / "policy.yml").write_text(yaml.safe_dump(doc))
    policy = load_policy(str(tmp_path / "policy.yml"))
    emergency = assess(example("changes/emergency_r1.yml"), policy, INVENTORY, {"r1": {"running": FRR_R1}}, now=BASE)
    path = str(tmp_path / "ledger.sqlite")
    at(monkeypatch, 0)
    records.record_assessment(path, emergency)
    at(monkeypatch, 49)
    code, out, _err = run_cli("review", "list", "--overdue", "--json", "--ledger", path)
    assert code == 1 and [r["change_id"] for r in json.loads(out)] == [EMERGENCY]
    code, out, _err = run_cli("metrics", "--ledger", path, "--format", "json")
    counts = next(row for row in json.loads(out)["rows"] if row["period"] == "all")["counts"]
    assert (counts["post_hoc_due"], counts["post_hoc_overdue"]) == (1, 1)
    with SqliteLedger(path) as ledger:  # canceled before anything was deployed: neither owes a review any more
        ledger.transition(EMERGENCY, "canceled", "carol", reason="attack stopped")
    code, out, _err = run_cli("review", "list", "--overdue", "--json", "--ledger", path)
    assert code == 0 and json.loads(out) == []
    code, out, _err = run_cli("metrics", "--ledger", path, "--format", "json")
    counts = next(row for row in json.loads(out)["rows"] if row["period"] == "all")["counts"]
    assert (counts["post_hoc_due"], counts["post_hoc_overdue"], counts["canceled"]) == (0, 0, 1)
