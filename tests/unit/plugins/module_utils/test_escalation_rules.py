# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The escalation page's named parts: heading, device table and change section."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import escalation

PACKET = {"title": "CHG-1: rollback failed", "change_id": "CHG-1", "reason": "rollback_failed", "severity": "critical",
          "created_at": "2026-11-27T12:00:00Z"}


def test_the_heading_names_a_missing_target_and_lists_only_the_runbooks_given():
    lines = escalation._md_heading(dict(PACKET, runbook={"policy": "https://wiki/tier-high"}))
    assert "- **Escalate to:** not set in the policy for this tier" in lines
    assert "- **Change:** CHG-1 (escalation -)" in lines
    assert lines[-1] == "- **Tier runbook (policy):** https://wiki/tier-high" and not any("Runbook of the change" in x for x in lines)


def test_the_device_detail_leaves_out_the_state_and_shows_non_strings_as_sorted_json():
    assert escalation._md_device_detail({"state": "failed", "error": "timeout", "checks": {"b": 1, "a": [2]}}) == (
        'error: timeout; checks: {"a": [2], "b": 1}')


def test_the_device_table_escapes_cells_and_says_when_no_device_was_reported():
    assert escalation._md_devices({}) == ["(no device state reported)"]
    lines = escalation._md_devices({"r1|x": {"state": "restore_failed", "error": "line1\nline2"}})
    assert lines[2] == "| r1\\|x | restore_failed | error: line1 line2 |"


def test_the_change_section_is_left_out_without_a_change_and_lists_why_the_tier():
    assert escalation._md_change({}) == []
    lines = escalation._md_change({"title": "T", "hosts": ["r1", "r2"], "why": ["touches bgp (+30)"]})
    assert "- **Targets:** r1, r2" in lines and lines[-2:] == ["- **Why this tier:**", "  - touches bgp (+30)"]
