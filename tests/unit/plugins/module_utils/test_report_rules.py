# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence report's named cell and section rules, on plain section data."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import report


def test_a_signature_is_verified_not_verified_or_not_evaluated():
    assert report._signature_cell(True) == ("verified", "pass")
    assert report._signature_cell(False) == ("not verified", "fail")
    assert report._signature_cell(None) == ("not evaluated", "undecidable")


def test_a_gate_passes_on_pass_or_assessed_fails_on_any_other_decision_and_is_undecidable_when_not_run():
    assert report._gate_row("review", {"decision": "assessed", "runs": 2, "ts": "T", "reasons": ["a", "b"]}) == [
        "review", ("assessed", "pass"), 2, "T", "a b"]
    assert report._gate_row("window", {"decision": "refused"})[1] == ("refused", "fail")
    assert report._gate_row("window", None) == ["window", ("not run", "undecidable"), None, None, ""]


def test_an_approval_row_shows_the_groups_and_the_reason_before_the_comment():
    row = report._approval_row({"approver": "alice", "decision": "approve", "verified": False, "counted": True,
                                "reason": "stale", "comment": "fine", "groups": ["netops", "cab"]})
    assert row == ["alice", "", "netops, cab", "approve", None, (None, "nowrap"), ("not verified", "fail"), "yes", "no", "stale"]


def test_a_deploy_is_failed_changed_unchanged_or_blank_when_it_did_not_run():
    assert report._deploy_cell({"failed": True, "changed": True}) == ("failed", "fail")
    assert report._deploy_cell({"changed": True}) == "changed"
    assert report._deploy_cell({"msg": "no diff"}) == "unchanged"
    assert report._deploy_cell({}) == ""


def test_a_state_diff_note_says_identical_or_counts_and_truncation():
    assert report._state_diff_note({"identical": True, "counts": {"added": 1}}) == "no change between pre and post"
    assert report._state_diff_note({"counts": {"added": 1, "removed": 0, "changed": 2}, "truncated": True}) == (
        "+1 added, -0 removed, ~2 changed (listing truncated)")


def test_the_state_section_lists_diff_rows_in_order_and_says_when_no_snapshot_was_recorded():
    html = report._state({"devices": {"r1": {"state_diff": {
        "added": [{"section": "routes", "id": "192.0.2.0/24", "value": "blackhole"}],
        "removed": [{"section": "peers", "id": "10.0.0.1", "value": "up"}]}}}})
    assert html.index("<td>added</td>") < html.index("<td>removed</td>") and "No pre/post snapshots" not in html
    empty = report._state({"devices": {"r1": {"deploy": {"changed": True, "changes": ["ip route 192.0.2.0/24 blackhole"]}}}})
    assert "No pre/post snapshots recorded." in empty and "<details><summary>r1: lines applied</summary>" in empty and '<h3 id="deploy">Deploy</h3>' in empty
    assert '<h3 id="deploy">' not in report._state({"devices": {}})


def test_a_rollback_row_fills_state_equal_from_the_rollback_verification():
    assert report._rollback_row("r1", {"restored": True, "config_equal": True, "state_equal": True}, {}) == [
        "r1", ("restored", "pass"), ("equal", "pass"), ("equal", "pass"), ""]
    # a bundle built before the rollback section read "rollback_verify": the device's verification fills the cell
    old = report._rollback_row("r1", {"restored": True, "config_equal": True, "state_equal": None}, {"rollback_verify": {"passed": False}})
    assert old[3] == ("differs", "fail")
    assert report._rollback_row("r1", {"restored": False, "config_equal": None}, {})[1:4] == [
        ("failed", "fail"), ("not checked", "undecidable"), ("not checked", "undecidable")]


def test_the_blast_radius_is_fields_not_json():
    html = report._blast({"device_count": 2, "devices": ["r1", "r2"], "sites": ["lon"], "site_count": 1, "fleet_share": 0.5,
                          "critical_devices": [], "prefixes_touched": ["192.0.2.0/24"], "protected_overlap": [], "touches_protected": False})
    assert "<dt>Devices</dt><dd>2: r1, r2</dd>" in html and "<dt>Share of the fleet</dt><dd>50%</dd>" in html
    assert "<dt>Protected prefixes</dt><dd>none touched</dd>" in html and "{" not in html
    assert "No blast radius recorded." in report._blast(None)
