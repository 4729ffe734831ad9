# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence bundle's named rules on plain stage data: verify results, rollback verdict, hosts by result, timeline."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import evidence

SAME = {"passed": True, "results": [{"name": "same_routes", "passed": True}]}


def test_a_lone_verify_is_the_rollbacks_verification_and_both_are_kept_apart_when_named():
    entry, rows = evidence._verify_entries("r1", {"verify": SAME})
    assert entry == {"verify": {"passed": True}} and [r["phase"] for r in rows] == ["rollback_verify"]
    entry, rows = evidence._verify_entries("r1", {"verify": SAME, "rollback_verify": {"passed": False, "results": []}})
    assert entry == {"rollback_verify": {"passed": False}, "verify": {"passed": True}} and [r["phase"] for r in rows] == ["verify"]


def test_stage_entries_keep_bounded_results_and_the_post_check_rows():
    entry, rows = evidence._stage_entries("r1", {"deploy": {"failed": 0, "changed": 1, "extra": "x"}, "confirmed": False,
                                                 "check": {"passed": False, "results": [{"name": "c", "passed": False}, "junk"]},
                                                 "restore": "not a result"})
    assert entry == {"deploy": {"failed": False, "changed": True, "msg": None, "summary": None, "changes": None},
                     "check": {"passed": False, "undecidable": None, "summary": None}, "confirmed": False}
    assert [(r["name"], r["phase"], r["passed"]) for r in rows] == [("c", "post", False)]


def test_a_rollback_without_a_verdict_verifies_only_when_every_device_restored_equal():
    assert evidence._rollback_verified([], {}) is None
    ok = {"restored": True, "config_equal": True, "state_equal": None}
    assert evidence._rollback_verified(["r1"], {"r1": ok}) is True
    assert evidence._rollback_verified(["r1", "r2"], {"r1": ok, "r2": dict(ok, config_equal=None)}) is False
    assert evidence._rollback_verified(["r1"], {"r1": dict(ok, state_equal=False)}) is False


def test_the_runs_rollback_verdict_adds_devices_whose_state_differs_and_their_errors():
    detail = evidence._rollback_detail(["r1"], {"r1": {"restore": {"failed": False, "verified": True, "msg": "ok"}}})
    section = evidence._decided_rollback({"performed": True, "targets": ["r3"], "verified": False, "state_differs": ["r2"],
                                          "errors": {"r2": "bgp down", "r9": "not rolled back"}}, ["r1"], detail)
    assert section["hosts"] == ["r1", "r3"] and section["verified"] is False and section["restore_failed"] == []
    assert section["detail"]["r2"] == {"restored": None, "config_equal": None, "state_equal": False, "msg": None, "error": "bgp down"}
    assert "r9" not in section["detail"] and section["detail"]["r1"]["restored"] is True


def test_a_host_the_change_never_reached_is_untouched_never_ok():
    results = evidence._host_results({"hosts": {"r1": {}, "r2": {}, "r3": {}, "r4": {}}, "deployed": ["r2", "r1"],
                                      "failed_hosts": ["r2"], "rolled_back": ["r3"]})
    assert results == {"deployed": ["r1", "r2"], "failed_hosts": ["r2"], "rolled_back": ["r3"], "ok_hosts": ["r1"],
                       "untouched_hosts": ["r4"]}


def test_the_timeline_is_checked_by_count_and_stops_at_the_first_entry_that_differs():
    events = [{"seq": 1, "hash": "a"}, {"seq": 2, "hash": "b"}]
    assert evidence._timeline_problems({"events": 2, "entries": [{"seq": 1, "hash": "a"}]}, events, 2) == []
    problems = evidence._timeline_problems({"events": 3, "entries": [{"seq": 1, "hash": "x"}, {"seq": 2, "hash": "y"}]}, events, 2)
    assert problems == ["the bundle lists 3 events of the change, the ledger has 2 up to seq 2",
                        "timeline entry seq 1 does not match the ledger"]


def test_the_bundles_own_hashes_name_the_section_that_differs():
    sections = dict((name, {}) for name in evidence.SECTIONS)
    bundle = {"format": evidence.FORMAT, "sections": sections,
              "hashes": dict((name, evidence.sha256_of({})) for name in evidence.SECTIONS)}
    bundle["sha256"] = evidence.bundle_hash(bundle)
    assert evidence._hash_problems(bundle) == []
    bundle["sections"]["rollback"] = {"performed": True}
    assert evidence._hash_problems(bundle) == ["section rollback does not match its sha256", "the bundle does not match its sha256"]
