# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CLI's named parts: what the approver sees (rules, diff, blast radius, device diffs) and where a problem is."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import cli


def test_a_fired_rule_shows_its_signed_score_and_a_bare_rule_its_name():
    assert cli._rule_line({"name": "bgp", "score": 30, "description": "touches BGP"}) == "  - bgp (+30): touches BGP"
    assert cli._rule_line({"name": "none", "score": None}) == "  - none (+0): "
    assert cli._rule_line("static_routes") == "  - static_routes"


def test_the_diff_line_takes_the_facts_diff_and_leaves_nested_values_out():
    assert cli._diff_lines({"facts": {"diff": {"lines_added": 2, "hosts": ["r1"]}}}) == ["diff:          lines_added 2"]
    assert cli._diff_lines({"diff": {"hosts": ["r1"]}}) == ["diff:          (no summary)"]
    assert cli._diff_lines({"diff": "text"}) == []


def test_the_blast_radius_line_only_for_a_non_empty_mapping():
    assert cli._blast_lines({"blast_radius": {"sites": 1, "device_count": 2}}) == ["blast radius:  device_count 2, sites 1"]
    assert cli._blast_lines({"blast_radius": {}}) == [] and cli._blast_lines({"blast_radius": ["r1"]}) == []


def test_device_diffs_come_from_a_mapping_or_a_host_list_and_are_redacted():
    listed = cli._device_diff_lines({"diffs": [{"host": "r2", "diff": "+ip route 192.0.2.0/24 blackhole"}, "junk"]})
    assert listed == ["--- r2", "    +ip route 192.0.2.0/24 blackhole"]
    mapped = cli._device_diff_lines({"devices": {"r1": {"diff": " neighbor 10.0.0.2 password Gc-s3cret-9q"}, "r0": {}}})
    assert mapped[0] == "--- r0" and mapped[1] == "    (no change)" and mapped[2] == "--- r1"
    assert "Gc-s3cret-9q" not in "\n".join(mapped)
    assert cli._device_diff_lines({"devices": "text"}) == []


def test_a_verify_problem_is_placed_by_seq_then_table_then_the_ledger():
    assert cli._problem_place({"seq": 0, "table": "changes"}) == "seq 0"
    assert cli._problem_place({"seq": None, "table": "locks"}) == "locks"
    assert cli._problem_place({"seq": None}) == "ledger"
