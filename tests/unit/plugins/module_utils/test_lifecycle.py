# -*- coding: utf-8 -*-
"""The lifecycle service, in process: gate recording, leases (with the check-mode path) and closing, on a real ledger."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.module_utils.clock import relative
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger, lock_conflicts
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment

CHANGE = "CHG-7001"
HASH = "ab" * 32


def assessment(change_id=CHANGE, content_hash=HASH):
    return {"change_id": change_id, "title": "Lifecycle test", "author": "carol", "tier": "low", "score": 5,
            "change_class": "normal", "fired_rules": [], "required_gates": ["review"], "content_hash": content_hash,
            "policy_sha256": "p" * 64, "change_request_sha256": "r" * 64}


@pytest.fixture
def ledger_path(tmp_path):
    """A ledger holding CHG-7001 assessed (state authorize)."""
    path = str(tmp_path / "ledger.sqlite")
    record_assessment(path, assessment())
    return path


def _state(path, change_id=CHANGE):
    with SqliteLedger(path) as ledger:
        return ledger.get_change(change_id)["state"]


def _kinds(path, change_id=CHANGE):
    with SqliteLedger(path) as ledger:
        return [event["kind"] for event in ledger.events(change_id=change_id)]


def _head(path):
    with SqliteLedger(path) as ledger:
        return ledger.head()["seq"]


def _schedule(path, change_id=CHANGE):
    with SqliteLedger(path) as ledger:
        ledger.transition(change_id, "scheduled", "alice", reason="review gate passed")


# -- the change record -----------------------------------------------------------------------------------------
def test_open_change_refuses_a_missing_ledger_and_an_unknown_change(tmp_path, ledger_path):
    with pytest.raises(LedgerError, match="the ledger file does not exist"):
        lifecycle.open_change(str(tmp_path / "nope.sqlite"), CHANGE)
    assert not os.path.exists(str(tmp_path / "nope.sqlite"))  # nothing created
    with pytest.raises(LedgerError, match="change CHG-404 is not in the ledger"):
        lifecycle.open_change(ledger_path, "CHG-404")
    ledger, record = lifecycle.open_change(ledger_path, CHANGE)
    ledger.close()
    assert record["state"] == "authorize" and record["content_hash"] == HASH


# -- gates -----------------------------------------------------------------------------------------------------
def _review(decision):
    return {"decision": decision, "reasons": [] if decision == "pass" else ["one approval is missing"], "rejected": [],
            "tier": "low", "content_hash": HASH, "counted": [], "evaluated_at": "x"}


def test_a_passed_review_is_recorded_and_schedules_the_change(ledger_path):
    seen = {}

    def evaluate(ledger, record):
        seen["state"] = record["state"]
        return _review("pass"), {"actor": "alice"}

    verdict, recorded = lifecycle.evaluate_and_record(ledger_path, CHANGE, "review", evaluate)
    assert recorded is True and verdict["decision"] == "pass" and seen["state"] == "authorize"
    assert _state(ledger_path) == "scheduled"
    assert _kinds(ledger_path)[-2:] == ["verdict.review", "change.state"]


def test_a_failed_review_is_recorded_but_does_not_schedule(ledger_path):
    before = _head(ledger_path)
    verdict, recorded = lifecycle.evaluate_and_record(ledger_path, CHANGE, "review", lambda ledger, record: (_review("fail"), {}))
    assert recorded and verdict["decision"] == "fail"
    assert _state(ledger_path) == "authorize" and _head(ledger_path) == before + 1


def test_check_mode_evaluates_and_records_nothing(ledger_path):
    before = _head(ledger_path)
    verdict, recorded = lifecycle.evaluate_and_record(ledger_path, CHANGE, "review", lambda ledger, record: (_review("pass"), {}),
                                                      check_mode=True)
    assert verdict["decision"] == "pass" and recorded is False
    assert _head(ledger_path) == before and _state(ledger_path) == "authorize"


def test_without_a_ledger_the_gate_is_evaluated_with_no_record():
    calls = []

    def evaluate(ledger, record):
        calls.append((ledger, record))
        return {"decision": "pass"}, None

    assert lifecycle.evaluate_and_record(None, CHANGE, "window", evaluate) == ({"decision": "pass"}, False)
    assert calls == [(None, None)]


def test_an_emergency_window_bypass_records_the_post_hoc_review(ledger_path):
    bypass = {"bypassed": [{"kind": "freeze", "name": "year-end"}], "post_review_due": "later", "post_review_hours": 24}
    verdict = {"decision": "pass", "bypass": bypass, "evaluated_at": "now"}
    lifecycle.evaluate_and_record(ledger_path, CHANGE, "window", lambda ledger, record: (verdict, None))
    with SqliteLedger(ledger_path) as ledger:
        due = [e for e in ledger.events(change_id=CHANGE) if e["kind"] == "review.post_hoc_due"]
    assert len(due) == 1 and due[0]["data"]["reason"] == "emergency bypass of year-end"


def test_merge_verdicts_keeps_every_refusal_reason():
    passed = dict(_review("pass"))
    first = dict(_review("fail"), reasons=["a"], rejected=[{"reason": "x"}])
    second = dict(_review("fail"), reasons=["a", "b"], rejected=[{"reason": "y"}])
    merged = lifecycle.merge_verdicts([passed, first, second])
    assert merged is first and merged["reasons"] == ["a", "b"] and merged["rejected"] == [{"reason": "x"}, {"reason": "y"}]
    assert lifecycle.merge_verdicts([passed]) is passed


def test_refuse_by_record_fails_a_reassessed_or_final_change():
    verdict = lifecycle.refuse_by_record(_review("pass"), {"id": CHANGE, "state": "authorize", "content_hash": "cd" * 32},
                                         {"content_hash": HASH})
    assert verdict["decision"] == "fail" and "re-assessed" in verdict["reasons"][0] and verdict["ledger_state"] == "authorize"
    verdict = lifecycle.refuse_by_record(_review("pass"), {"id": CHANGE, "state": "closed", "content_hash": HASH}, {"content_hash": HASH})
    assert verdict["decision"] == "fail" and verdict["reasons"][0] == "change CHG-7001 is closed in the ledger; fix: open a new change."
    assert lifecycle.refuse_by_record(_review("pass"), {"id": CHANGE, "state": "authorize", "content_hash": HASH},
                                      {"content_hash": HASH})["decision"] == "pass"


def test_counted_approvals_trust_awx_copies_only_while_the_controller_confirms_them():
    stored = [{"source": "ssh", "approver": "alice"}, {"source": "awx", "approver": "bob", "verified": True}]
    assert lifecycle.counted_approvals(stored, None) == [stored[0], {"source": "awx", "approver": "bob", "verified": False}]
    live = {"approvals": [{"source": "awx", "approver": "dave", "verified": True}]}
    assert lifecycle.counted_approvals(stored, live) == [stored[0]] + live["approvals"]


# -- device leases ---------------------------------------------------------------------------------------------
def test_lock_conflicts_is_the_one_lease_rule():
    now = relative()
    live = {"device": "r1", "change_id": "CHG-A", "owner": "run-a", "expires": relative(hours=1, base=now).isoformat()}
    expired = {"device": "r2", "change_id": "CHG-A", "owner": "run-a", "expires": relative(hours=-1, base=now).isoformat()}
    assert lock_conflicts([live, expired], "CHG-A", ["r1", "r2"], "run-a", now) == []  # the change's own leases are renewed
    refused = lock_conflicts([live, expired], "CHG-B", ["r1", "r2", "r3"], "run-b", now)
    assert refused[0].startswith("r1 is locked by change CHG-A (owner run-a) until ")
    assert refused[1].startswith("r2 has an expired lease of change CHG-A") and refused[1].endswith("not taken over silently")
    assert lock_conflicts([live], "CHG-B", ["r3"], "run-b", now) == []


def test_acquire_moves_a_scheduled_change_to_implement(ledger_path):
    _schedule(ledger_path)
    out = lifecycle.acquire_locks(ledger_path, CHANGE, ["r1", "r2"], "run-1", 600, transition="implement")
    assert out["changed"] and out["ledger_state"] == "implement" and [lock["device"] for lock in out["locks"]] == ["r1", "r2"]
    again = lifecycle.acquire_locks(ledger_path, CHANGE, ["r1"], "run-1", 600, transition="implement")  # renewal, same state
    assert again["ledger_state"] == "implement"


def test_acquire_refuses_an_unreviewed_change_before_writing(ledger_path):
    before = _head(ledger_path)
    with pytest.raises(LedgerError, match="change CHG-7001 is authorize, so it cannot move to implement"):
        lifecycle.acquire_locks(ledger_path, CHANGE, ["r1"], "run-1", 600, transition="implement")
    with pytest.raises(ValidationError, match="no devices to lock"):
        lifecycle.acquire_locks(ledger_path, CHANGE, [], "run-1", 600)
    with pytest.raises(ValidationError, match="ttl must be a positive number"):
        lifecycle.acquire_locks(ledger_path, CHANGE, ["r1"], "run-1", 0)
    assert _head(ledger_path) == before


def test_check_mode_refuses_what_the_ledger_would_refuse_and_writes_nothing(tmp_path, ledger_path):
    record_assessment(ledger_path, assessment("CHG-7002"))
    lifecycle.acquire_locks(ledger_path, "CHG-7002", ["r2"], "run-2", 600)
    before = _head(ledger_path)
    with pytest.raises(LedgerError) as exc:
        lifecycle.acquire_locks(ledger_path, CHANGE, ["r1", "r2"], "run-1", 600, check_mode=True)
    with pytest.raises(LedgerError) as real:
        lifecycle.acquire_locks(ledger_path, CHANGE, ["r1", "r2"], "run-1", 600)
    assert str(exc.value) == str(real.value) and "r2 is locked by change CHG-7002 (owner run-2)" in str(exc.value)
    assert _head(ledger_path) == before
    preview = lifecycle.acquire_locks(ledger_path, CHANGE, ["r1"], "run-1", 600, check_mode=True)
    assert preview == {"changed": True, "ledger_state": "authorize", "locks": []} and _head(ledger_path) == before


def test_check_mode_refuses_an_expired_lease_like_the_ledger(tmp_path, ledger_path):
    record_assessment(ledger_path, assessment("CHG-7002"))
    with SqliteLedger(ledger_path, clock=lambda: relative(hours=-2)) as past:
        past.acquire_locks("CHG-7002", ["r1"], "run-2", 60)
    with pytest.raises(LedgerError, match="r1 has an expired lease of change CHG-7002"):
        lifecycle.acquire_locks(ledger_path, CHANGE, ["r1"], "run-1", 600, check_mode=True)


def test_release_in_check_mode_keeps_the_leases(tmp_path, ledger_path):
    assert lifecycle.release_locks(str(tmp_path / "none.sqlite"), CHANGE) == {"changed": False, "released": []}
    lifecycle.acquire_locks(ledger_path, CHANGE, ["r1", "r2"], "run-1", 600)
    assert lifecycle.release_locks(ledger_path, CHANGE, ["r2"], check_mode=True)["released"] == ["r2"]
    with SqliteLedger(ledger_path) as ledger:
        assert sorted(lock["device"] for lock in ledger.locks()) == ["r1", "r2"]
    out = lifecycle.release_locks(ledger_path, CHANGE)
    assert out["changed"] and sorted(out["released"]) == ["r1", "r2"] and out["ledger_state"] == "authorize"
    assert lifecycle.release_locks(ledger_path, CHANGE)["changed"] is False


# -- closing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state, outcome, steps", [
    ("scheduled", "successful", ("implement", "review", "closed")),
    ("implement", "unsuccessful", ("review", "closed")),
    ("review", "successful_issues", ("closed",)),
    ("authorize", "canceled", ("canceled",)),
])
def test_plan_transitions(state, outcome, steps):
    assert lifecycle.plan_transitions(state, outcome, CHANGE) == steps


@pytest.mark.parametrize("state, outcome, message", [
    ("implement", "canceled", "its devices were touched"),
    ("authorize", "successful", "it never passed the review gate"),
])
def test_plan_transitions_refusals(state, outcome, message):
    with pytest.raises(LedgerError, match=message):
        lifecycle.plan_transitions(state, outcome, CHANGE)


def _request(tmp_path):
    return {"output_dir": str(tmp_path / "out"), "actor": "carol", "reason": "done", "started": "t0",
            "stages": {"deploy": {"deployed": ["r1"]}}, "store_dir": None, "policy": None, "assessment_file": None}


def test_close_in_check_mode_previews_and_writes_nothing(tmp_path, ledger_path):
    _schedule(ledger_path)
    before = _head(ledger_path)
    closed = lifecycle.close_change(ledger_path, CHANGE, "successful", _request(tmp_path), check_mode=True)
    assert closed["changed"] and not closed["rebuilt"] and closed["state"] == "scheduled"
    assert "would move scheduled -> implement -> review -> closed and record outcome successful" in closed["lines"][1]
    assert _head(ledger_path) == before and not os.path.exists(closed["paths"]["evidence"])


def test_close_records_the_outcome_and_a_second_close_only_rebuilds(tmp_path, ledger_path):
    _schedule(ledger_path)
    closed = lifecycle.close_change(ledger_path, CHANGE, "successful", _request(tmp_path))
    assert closed["changed"] and closed["state"] == "closed" and os.path.isfile(closed["paths"]["evidence"])
    kinds = _kinds(ledger_path)
    assert "stage.results" in kinds and "change.outcome" in kinds and kinds[-1] == "evidence.built"
    with SqliteLedger(ledger_path) as ledger:
        outcome = [e for e in ledger.events(change_id=CHANGE) if e["kind"] == "change.outcome"][0]["data"]
        assert ledger.get_change(CHANGE)["close_code"] == "successful"
    assert outcome["from_state"] == "scheduled" and outcome["reason"] == "done" and outcome["evidence"] == closed["paths"]["evidence"]
    with open(closed["paths"]["evidence"], "r", encoding="utf-8") as handle:
        assert json.load(handle)["change_id"] == CHANGE
    again = lifecycle.close_change(ledger_path, CHANGE, "successful", _request(tmp_path))
    assert again["rebuilt"] and not again["changed"] and _kinds(ledger_path).count("change.outcome") == 1
    with pytest.raises(LedgerError, match="already successful; it cannot be closed again as unsuccessful"):
        lifecycle.close_change(ledger_path, CHANGE, "unsuccessful", _request(tmp_path))


def test_close_refuses_a_missing_ledger_or_change(tmp_path, ledger_path):
    with pytest.raises(LedgerError, match="the ledger file does not exist"):
        lifecycle.close_change(str(tmp_path / "none.sqlite"), CHANGE, "canceled", _request(tmp_path))
    with pytest.raises(LedgerError, match="change CHG-404 is not in the ledger"):
        lifecycle.close_change(ledger_path, "CHG-404", "canceled", _request(tmp_path))


def test_close_refuses_an_edited_assessment_before_recording_anything(tmp_path, ledger_path):
    _schedule(ledger_path)
    request = _request(tmp_path)
    path = artifact.write(os.path.join(request["output_dir"], "assessments"),
                          dict(assessment(), hosts=["r1"], requirements={}, devices={}))
    with open(path, "r", encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["tier"] = "standard"
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    before = _head(ledger_path)
    with pytest.raises(ValidationError, match="changed after governed.change.assess wrote it"):
        lifecycle.close_change(ledger_path, CHANGE, "successful", request)
    assert _head(ledger_path) == before and _state(ledger_path) == "scheduled"
