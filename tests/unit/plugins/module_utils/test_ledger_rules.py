# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger's named rules on plain rows: how each event kind derives the records, how each table row is compared with
its events, and the anchor check (the tamper tests in test_ledger_integrity.py run them against a real file)."""

from __future__ import annotations

import json

from ansible_collections.governed.change.plugins.module_utils import ledger


def row(seq, change_id, kind, data, actor="bob", ts=None):
    """An events row as derive_state reads it: (seq, change_id, ts, kind, actor, data_json)."""
    text = data if isinstance(data, str) else json.dumps(data)
    return (seq, change_id, ts or "2026-11-27T12:00:%02dZ" % seq, kind, actor, text)


CREATED = row(1, "CHG-1", "change.created", {"title": "t", "author": "carol", "tier": "low", "content_hash": "a"})


def test_a_change_is_created_new_then_moves_with_its_state_and_assessment_events():
    derived = ledger.derive_state([CREATED, row(2, "CHG-1", "change.assessed", {"tier": "high", "content_hash": "b"}),
                                   row(3, "CHG-1", "change.state", {"to": "assess", "close_code": None})])
    change = derived["changes"]["CHG-1"]
    assert (change["state"], change["tier"], change["content_hash"]) == ("assess", "high", "b")
    assert (change["created"], change["updated"], change["_seq"]) == ("2026-11-27T12:00:01Z", "2026-11-27T12:00:03Z", 3)


def test_state_and_assessment_events_of_an_unknown_change_create_nothing():
    derived = ledger.derive_state([row(1, "CHG-9", "change.state", {"to": "closed"}),
                                   row(2, "CHG-9", "change.assessed", {"tier": "low"})])
    assert derived == {"changes": {}, "approvals": {}, "locks": {}}


def test_events_that_are_not_json_objects_or_not_record_kinds_change_nothing():
    derived = ledger.derive_state([CREATED, row(2, "CHG-1", "change.state", "not json"),
                                   row(3, "CHG-1", "change.state", [1, 2]), row(4, "CHG-1", "change.outcome", {"to": "closed"}),
                                   row(5, "CHG-1", "note", {"to": "closed"})])
    assert derived["changes"]["CHG-1"]["state"] == "new" and derived["changes"]["CHG-1"]["_seq"] == 1


def test_approvals_and_denials_are_kept_in_event_order():
    derived = ledger.derive_state([CREATED, row(2, "CHG-1", "approval.approve", {"approver": "alice"}),
                                   row(3, "CHG-1", "approval.deny", {"approver": "dave"})])
    assert [(a["approver"], a["seq"], a["recorded"]) for a in derived["approvals"]["CHG-1"]] == [
        ("alice", 2, "2026-11-27T12:00:02Z"), ("dave", 3, "2026-11-27T12:00:03Z")]


def test_a_release_by_another_change_keeps_the_lease_and_a_break_frees_it_whoever_holds_it():
    rows = [row(1, "CHG-1", "lock.acquired", {"devices": ["r1", "r2"], "expires": "E"}, actor="run-1"),
            row(2, "CHG-2", "lock.released", {"devices": ["r1"]})]
    locks = ledger.derive_state(rows)["locks"]
    assert sorted(locks) == ["r1", "r2"] and locks["r1"]["owner"] == "run-1" and locks["r1"]["expires"] == "E"
    locks = ledger.derive_state(rows + [row(3, "CHG-3", "lock.broken", {"lock": {"device": "r1"}}),
                                        row(4, "CHG-1", "lock.released", {"devices": ["r2"]})])["locks"]
    assert locks == {}


def test_a_changes_row_without_events_and_events_without_a_row_are_both_named():
    derived = ledger.derive_state([CREATED])
    row_of = dict(derived["changes"]["CHG-1"])
    del row_of["_seq"]
    problems = ledger.compare_tables(derived, {"CHG-2": dict(row_of, id="CHG-2")}, {}, {})
    assert [p["problem"] for p in problems] == [
        "change CHG-1 has events but no changes row: the row was deleted.",
        "changes row CHG-2 has no change.created event: the row was inserted outside the ledger."]
    assert [p["seq"] for p in problems] == [1, None]


def test_record_times_are_compared_only_when_strict():
    derived = ledger.derive_state([CREATED])
    edited = dict(derived["changes"]["CHG-1"], updated="2030-01-01T00:00:00Z")
    assert ledger.compare_tables(derived, {"CHG-1": edited}, {}, {}, strict_times=False) == []
    problems = ledger.compare_tables(derived, {"CHG-1": edited}, {}, {})
    assert len(problems) == 1 and "updated is '2030-01-01T00:00:00Z' but its events (last at seq 1)" in problems[0]["problem"]


def test_approval_rows_are_compared_field_by_field_and_the_signature_by_its_sha256():
    event = {"approver": "alice", "decision": "approve", "signature_sha256": ledger.sha256_of("SIG"), "verified": True}
    derived = ledger.derive_state([row(2, "CHG-1", "approval.approve", event)])
    good = {"approver": "alice", "decision": "approve", "signature": "SIG", "verified": 1, "recorded": "2026-11-27T12:00:02Z"}
    assert ledger.compare_tables(derived, {}, {"CHG-1": [good]}, {}) == []
    late = dict(good, recorded="2030-01-01T00:00:00Z")
    assert ledger.compare_tables(derived, {}, {"CHG-1": [late]}, {}, strict_times=False) == []
    assert "recorded is '2030-01-01T00:00:00Z', the event says '2026-11-27T12:00:02Z'" in (
        ledger.compare_tables(derived, {}, {"CHG-1": [late]}, {})[0]["problem"])
    bad = dict(good, approver="mallory", signature="OTHER", verified=0)
    problems = ledger.compare_tables(derived, {}, {"CHG-1": [bad]}, {})
    assert problems == [{"seq": 2, "table": "approvals", "problem": "approvals row of CHG-1 for the event at seq 2: approver is "
                         "'mallory', the event says 'alice'; the signature does not match the event's signature_sha256; verified "
                         "is False, the event says True: the approvals table was edited."}]


def test_an_extra_approval_row_is_named_by_its_position_and_approver():
    derived = ledger.derive_state([])
    problems = ledger.compare_tables(derived, {}, {"CHG-1": [{"approver": "bob"}]}, {})
    assert problems == [{"seq": None, "table": "approvals", "problem": "approval #1 of CHG-1 (by bob) has no approval event: "
                         "the row was inserted outside the ledger."}]


def test_lock_rows_are_compared_with_the_lease_in_force():
    derived = ledger.derive_state([row(4, "CHG-1", "lock.acquired", {"devices": ["r1"], "expires": "E"}, actor="run-1", ts="T")])
    lease = {"device": "r1", "change_id": "CHG-1", "owner": "run-1", "acquired": "T", "expires": "E"}
    assert ledger.compare_tables(derived, {}, {}, {"r1": lease}) == []
    problems = ledger.compare_tables(derived, {}, {}, {"r1": dict(lease, owner="run-9"), "r2": dict(lease, device="r2")})
    assert [p["problem"] for p in problems] == [
        "locks row of r1 for the event at seq 4: owner is 'run-9', the event says 'run-1': the locks table was edited.",
        "the lease of r2 (change CHG-1) has no lock.acquired event still in force: the locks table was edited."]


def test_the_anchor_must_name_an_event_with_its_hash():
    rows = [(1, None, "ts", "note", "x", "{}", ledger.GENESIS_HASH, "h1"), (2, None, "ts", "note", "x", "{}", "h1", "h2")]
    assert ledger._anchor_problems(rows, None) == [] and ledger._anchor_problems(rows, {"seq": 2, "hash": "h2"}) == []
    assert ledger._anchor_problems(rows, {"seq": 3, "hash": "h3"}) == [
        {"seq": 3, "problem": "does not match the anchored hash h3: the chain was rewritten or truncated."}]


def test_events_are_rechecked_only_past_the_walked_tail_and_the_last_verified_one():
    assert ledger._already_walked(5, walked_from=4, seen=None) is True
    assert ledger._already_walked(4, walked_from=4, seen=None) is False
    assert ledger._already_walked(3, walked_from=None, seen=(3, "h")) is True
    assert ledger._already_walked(4, walked_from=None, seen=(3, "h")) is False
