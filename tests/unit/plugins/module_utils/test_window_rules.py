# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The window gate's named rules on plain data: weekly entries, freezes, window problems, emergency bypass, next opening."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.governed.change.plugins.module_utils import windows
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError

UTC = datetime.timezone.utc
# a Wednesday, 12:00 UTC, in winter (London = UTC)
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEKEND = {"name": "weekend", "timezone": "Europe/London", "weekly": [{"days": ["sat", "sun"], "start": "01:00", "end": "05:00"}]}
ALWAYS = {"name": "always", "timezone": "UTC", "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                          "start": "00:00", "end": "24:00"}]}
FREEZE = {"name": "now", "start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z"}


def gate(policy, change=None, targets=("r1",), wait_max_s=0):
    change = dict({"id": "CHG-1", "type": "normal", "tier": "high"}, **(change or {}))
    policy = dict({"requirements": {"high": {"window_required": True}, "low": {"window_required": False}}}, **policy)
    return windows.window_gate(policy, change, list(targets), now=NOW, wait_max_s=wait_max_s)


@pytest.mark.parametrize("item, where, problem", [
    ({"days": ["funday"], "start": "01:00", "end": "02:00"}, "w.days", "'funday' is not a day."),
    ({"days": [], "start": "01:00", "end": "02:00"}, "w.days", "the weekly window lists no days."),
    ({"days": ["mon"], "start": "01:00", "end": "01:00"}, "w", "start equals end."),
    ({"days": ["mon"], "start": "24:30", "end": "01:00"}, "w.start", "'24:30' is not a time HH:MM."),
])
def test_weekly_entry_rule_refusals(item, where, problem):
    with pytest.raises(PolicyError) as info:
        windows._weekly_entry(item, "w")
    assert info.value.where == where and info.value.problem == problem


def test_weekly_entry_rule_reads_days_by_prefix():
    assert windows._weekly_entry({"days": ["Saturday", "sun"], "start": "22:00", "end": "02:00"}, "w") == ({5, 6}, (22, 0), (2, 0))


def test_weekly_intervals_cross_midnight_and_rrule_skips_exdates():
    window = windows.Window({"timezone": "UTC", "weekly": [{"days": ["tue"], "start": "22:00", "end": "02:00"}]}, 0)
    assert window.intervals(NOW, NOW) == []
    tuesday_night = datetime.datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert window.intervals(tuesday_night, tuesday_night) == [(datetime.datetime(2026, 11, 24, 22, 0, tzinfo=UTC),
                                                               datetime.datetime(2026, 11, 25, 2, 0, tzinfo=UTC))]
    rrule = windows.Window({"timezone": "UTC", "rrule": "FREQ=DAILY;BYHOUR=11;BYMINUTE=0", "duration_minutes": 120,
                            "exdate": ["2026-11-25T11:00:00Z"]}, 0)
    assert rrule.open_at(NOW) is None
    assert rrule.open_at(NOW + datetime.timedelta(days=1)) is not None


def test_window_problems_rule_names_each_problem():
    plan = windows._Plan({"windows": [WEEKEND]}, {"window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}},
                         [{"host": "r1"}])
    problems = windows._window_problems(plan, plan.state_at(NOW, True))
    assert problems[0].startswith("r1 outside their maintenance windows (weekend)")
    assert problems[1].startswith("now is outside the change's requested window 2026-12-01T00:00:00Z to 2026-12-02T00:00:00Z")
    uncovered = windows._Plan({"windows": [dict(WEEKEND, scope={"hosts": ["r9"]})]}, {}, [{"host": "r1"}])
    assert windows._window_problems(uncovered, uncovered.state_at(NOW, True)) == [
        "no maintenance window covers r1; fix: add a window whose scope includes them."]


def test_window_blocks_rule_emergency_bypass_needs_allowed_and_bypass_window():
    verdict = {"reasons": [], "hosts_outside": ["r1"]}
    bypassed = []
    assert windows._window_blocks(["p"], {"ok": True, "is": True, "policy": {"bypass_window": True}}, verdict, bypassed) == []
    assert bypassed == [{"kind": "window", "hosts": ["r1"]}] and verdict["reasons"] == [
        "p: bypassed by the emergency change as the policy allows."]
    verdict = {"reasons": [], "hosts_outside": ["r1"]}
    assert windows._window_blocks(["p"], {"ok": True, "is": True, "policy": {}}, verdict, []) == ["p"]
    assert "does not let an emergency change bypass maintenance windows" in verdict["reasons"][0]
    assert windows._window_blocks([], {"ok": False, "is": True, "policy": {}}, verdict, []) == []


def test_freeze_rule_blocks_unless_an_allowed_emergency_may_bypass_it():
    verdict = gate({"windows": [ALWAYS], "freezes": [FREEZE]})
    assert verdict["decision"] == "fail" and verdict["freezes_active"] == ["now"]
    assert verdict["reasons"][0] == ("freeze now (2026-11-25T00:00:00Z to 2026-11-26T00:00:00Z) covers r1; fix: wait until "
                                     "2026-11-26T00:00:00Z or narrow the targets.")
    assert verdict["next_open"] == "2026-11-26T00:00:00Z" and verdict["can_wait"] is False
    refused = gate({"windows": [ALWAYS], "freezes": [FREEZE], "emergency": {"allowed": True}}, {"type": "emergency"})
    assert "; the policy does not let an emergency change bypass it;" in refused["reasons"][0]
    bypass = gate({"windows": [ALWAYS], "freezes": [dict(FREEZE, allow_emergency=True)], "emergency": {"allowed": True}},
                  {"type": "emergency"})
    assert bypass["decision"] == "pass" and bypass["bypass"]["bypassed"] == [{"kind": "freeze", "name": "now", "hosts": ["r1"]}]
    assert bypass["bypass"]["post_review_due"] == "2026-11-27T12:00:00Z"


def test_next_opening_and_pass_reasons():
    waiting = gate({"windows": [WEEKEND]}, wait_max_s=4 * 86400)
    assert waiting["next_open"] == "2026-11-28T01:00:00Z" and waiting["can_wait"] is True
    assert waiting["reasons"][-1] == "next opening for all targets: 2026-11-28T01:00:00Z (in 2d 13h00m)."
    assert gate({"windows": [WEEKEND]}, wait_max_s=60)["can_wait"] is False
    assert gate({"windows": [ALWAYS]})["reasons"] == ["every target is inside an open window (always) and no freeze applies."]
    assert gate({"windows": []}, {"tier": "low"})["reasons"] == ["tier low requires no maintenance window and no freeze applies."]
    assert gate({"windows": [ALWAYS]}, targets=())["reasons"] == [
        "no targets were given; fix: pass the change's targets with their site and groups."]
