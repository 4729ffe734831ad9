# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Window gate: weekly and RRULE windows across DST in two zones, scopes, freezes, emergency bypass, waiting."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.windows import next_open, wait_for_window, window_gate


def z(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


BASE = {
    "requirements": {
        "low": {"window_required": False},
        "medium": {"window_required": True},
        "high": {"window_required": True},
        "critical": {"window_required": True},
    },
    "windows": [
        # London: Sat+Sun 01:00-05:00 local wall clock
        {"name": "lon-weekend", "scope": {"sites": ["lon"]}, "timezone": "Europe/London",
         "weekly": [{"days": ["sat", "sun"], "start": "01:00", "end": "05:00"}]},
        # New York: every Sunday 01:00 local, 3 hours, one Sunday excluded
        {"name": "nyc-sunday", "scope": {"sites": ["nyc"], "hosts": ["lab-nyc"]}, "timezone": "America/New_York",
         "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=1;BYMINUTE=0", "duration_minutes": 180, "exdate": ["2026-03-22T01:00:00"]},
        # core group: Tuesday nights 22:00-02:00 London time (crosses midnight)
        {"name": "core-tuesday", "scope": {"groups": ["core"]}, "timezone": "Europe/London",
         "weekly": [{"days": ["tue"], "start": "22:00", "end": "02:00"}]},
    ],
    "freezes": [
        {"name": "year-end", "start": "2026-12-20T00:00:00+00:00", "end": "2027-01-04T00:00:00+00:00",
         "scope": {}, "allow_emergency": True},
        {"name": "ams-migration", "start": "2026-06-01T00:00:00Z", "end": "2026-06-08T00:00:00Z",
         "scope": {"sites": ["ams"]}, "allow_emergency": False},
    ],
    "emergency": {"allowed": True, "bypass_window": True, "bypass_freeze": False, "post_review_hours": 48},
}
R1 = {"host": "r1", "site": "lon", "groups": ["routers", "edge", "site_lon"]}
R2 = {"host": "r2", "site": "lon", "groups": ["routers", "core", "site_lon"]}
R3 = {"host": "r3", "site": "ams", "groups": ["routers", "edge", "site_ams"]}
NYC = {"host": "nyc1", "site": "nyc", "groups": ["routers"]}
CHANGE = {"id": "CHG-1001", "type": "normal", "tier": "high"}


@pytest.fixture
def policy():
    return copy.deepcopy(BASE)


def decide(policy, targets, at, change=None, **kw):
    return window_gate(policy, change or CHANGE, targets, z(at), **kw)


# -- Europe/London across both DST changes of 2026 ---------------------------------------------------------

@pytest.mark.parametrize("at, is_open", [
    ("2026-03-28T00:59:00Z", False),  # Sat before spring forward: 01:00 GMT == 01:00Z
    ("2026-03-28T01:00:00Z", True),
    ("2026-03-28T04:59:00Z", True),
    ("2026-03-28T05:00:00Z", False),
    ("2026-03-29T00:59:00Z", False),  # Sun 29 Mar: 01:00 local never exists; the window opens as clocks jump (01:00Z)
    ("2026-03-29T01:00:00Z", True),
    ("2026-03-29T03:59:00Z", True),  # 04:59 BST
    ("2026-03-29T04:00:00Z", False),  # 05:00 BST: closed although 04:00Z is inside 01:00-05:00 UTC
    ("2026-04-04T00:30:00Z", True),  # Sat after: 01:30 BST, open although 00:30Z is outside 01:00-05:00 UTC
    ("2026-04-04T04:30:00Z", False),  # 05:30 BST
    ("2026-10-24T00:00:00Z", True),  # Sat before fall back: 01:00 BST
    ("2026-10-24T04:00:00Z", False),  # 05:00 BST
    ("2026-10-25T00:00:00Z", True),  # Sun 25 Oct: 01:00 BST (first of the repeated hour)
    ("2026-10-25T04:30:00Z", True),  # 04:30 GMT: the window lasts 5 real hours that night
    ("2026-10-25T05:00:00Z", False),
    ("2026-10-31T00:30:00Z", False),  # Sat after: 00:30 GMT
    ("2026-10-31T01:30:00Z", True),
])
def test_london_weekly_window_across_dst(policy, at, is_open):
    verdict = decide(policy, [R1], at)
    assert (verdict["decision"] == "pass") is is_open, verdict["reasons"]
    if is_open:
        assert verdict["windows_open"] == ["lon-weekend"]


# -- America/New_York across both DST changes of 2026 (RRULE) ----------------------------------------------

@pytest.mark.parametrize("at, is_open", [
    ("2026-03-01T05:30:00Z", False),  # Sun 1 Mar 00:30 EST
    ("2026-03-01T06:00:00Z", True),  # 01:00 EST
    ("2026-03-01T08:59:00Z", True),
    ("2026-03-01T09:00:00Z", False),
    ("2026-03-08T06:00:00Z", True),  # spring forward day: 01:00 EST; 3 real hours = until 05:00 EDT
    ("2026-03-08T08:59:00Z", True),
    ("2026-03-08T09:00:00Z", False),
    ("2026-03-15T05:00:00Z", True),  # 01:00 EDT: one hour earlier in UTC than before the change
    ("2026-03-15T07:59:00Z", True),
    ("2026-03-15T08:00:00Z", False),
    ("2026-03-22T05:30:00Z", False),  # EXDATE 2026-03-22T01:00 local
    ("2026-10-25T05:00:00Z", True),  # 01:00 EDT
    ("2026-11-01T05:00:00Z", True),  # fall back day: 01:00 is ambiguous; the first (EDT) occurrence is used
    ("2026-11-01T07:59:00Z", True),
    ("2026-11-01T08:00:00Z", False),
    ("2026-11-08T05:30:00Z", False),  # 00:30 EST
    ("2026-11-08T06:00:00Z", True),  # 01:00 EST
])
def test_new_york_rrule_window_across_dst(policy, at, is_open):
    verdict = decide(policy, [NYC], at)
    assert (verdict["decision"] == "pass") is is_open, verdict["reasons"]


def test_next_open_reported_across_dst(policy):
    closed = decide(policy, [R1], "2026-03-28T06:00:00Z")
    assert closed["decision"] == "fail" and closed["next_open"] == "2026-03-29T01:00:00Z"
    assert "next opening for all targets: 2026-03-29T01:00:00Z (in 19h00m)." in closed["reasons"]
    assert closed["reasons"][0].startswith("r1 outside their maintenance windows (lon-weekend); fix: ")
    after = decide(policy, [R1], "2026-03-29T04:30:00Z")  # already closed at 05:00 BST
    assert after["next_open"] == "2026-04-04T00:00:00Z"  # Sat 01:00 BST
    nyc = decide(policy, [NYC], "2026-03-21T12:00:00Z")
    assert nyc["next_open"] == "2026-03-29T05:00:00Z"  # 22 Mar excluded
    assert next_open(policy, CHANGE, [NYC], z("2026-03-21T12:00:00Z")) == z("2026-03-29T05:00:00Z")


def test_every_target_must_be_in_its_own_window(policy):
    # Sunday 29 Mar 05:30Z: London closed (06:30 BST), New York open (01:30 EDT)
    verdict = decide(policy, [R1, NYC], "2026-03-29T05:30:00Z")
    assert verdict["decision"] == "fail" and verdict["hosts_outside"] == ["r1"]
    assert verdict["windows_open"] == ["nyc-sunday"]
    # Sun 25 Oct 05:00Z: New York open (01:00 EDT), London just closed (05:00 GMT)
    assert decide(policy, [R1, NYC], "2026-10-25T05:00:00Z")["hosts_outside"] == ["r1"]
    # Sun 1 Mar 04:30Z: London open (04:30 GMT), New York not yet (23:30 EST Saturday)
    assert decide(policy, [R1, NYC], "2026-03-01T04:30:00Z")["hosts_outside"] == ["nyc1"]


def test_targets_open_together_and_next_common_opening(policy):
    # London Sunday 01:00-05:00 GMT and New York Sunday 01:00-04:00 EST (06:00-09:00Z) never overlap in winter;
    # in summer London 00:00-04:00Z vs NY 05:00-08:00Z neither. Shift NY to 23:00 local on Saturdays:
    policy["windows"][1]["rrule"] = "FREQ=WEEKLY;BYDAY=SA;BYHOUR=23;BYMINUTE=0"
    policy["windows"][1]["exdate"] = []
    verdict = decide(policy, [R1, NYC], "2026-03-29T03:30:00Z")  # Sat 23:30 EDT and Sun 04:30 BST
    assert verdict["decision"] == "pass", verdict["reasons"]
    assert verdict["windows_open"] == ["lon-weekend", "nyc-sunday"]
    closed = decide(policy, [R1, NYC], "2026-03-30T12:00:00Z")
    assert closed["next_open"] == "2026-04-05T03:00:00Z"  # Sat 4 Apr 23:00 EDT, London Sun 04:00 BST


def test_scope_by_group_and_host_and_midnight_crossing(policy):
    # r2 is in group core: the Tuesday-night window; r1 (edge) is not
    assert decide(policy, [R2], "2026-11-24T23:30:00Z")["decision"] == "pass"  # Tue 23:30 GMT
    assert decide(policy, [R2], "2026-11-25T01:59:00Z")["decision"] == "pass"  # Wed 01:59 GMT
    assert decide(policy, [R2], "2026-11-25T02:00:00Z")["decision"] == "fail"
    assert decide(policy, [R1], "2026-11-24T23:30:00Z")["decision"] == "fail"
    # a host named in a scope's hosts list
    assert decide(policy, [{"host": "lab-nyc", "site": None}], "2026-03-15T05:30:00Z")["decision"] == "pass"


def test_target_without_any_window_fails_with_fix(policy):
    verdict = decide(policy, [R3], "2026-03-28T02:00:00Z")
    assert verdict["decision"] == "fail" and verdict["next_open"] is None
    assert "no maintenance window covers r3; fix: add a window whose scope includes them." in verdict["reasons"]


def test_window_not_required_for_low_tier(policy):
    verdict = decide(policy, [R3], "2026-03-25T12:00:00Z", change=dict(CHANGE, tier="low"))
    assert verdict["decision"] == "pass" and verdict["window_required"] is False


def test_unknown_tier_fails_closed_to_window_required(policy):
    verdict = decide(policy, [R1], "2026-03-25T12:00:00Z", change={"id": "CHG-1", "type": "normal"})
    assert verdict["decision"] == "fail" and verdict["window_required"] is True
    assert "fail closed" in verdict["reasons"][0]


def test_requested_change_window_is_enforced(policy):
    change = dict(CHANGE, window={"start": "2026-03-28T02:00:00+00:00", "end": "2026-03-28T03:00:00+00:00"})
    early = decide(policy, [R1], "2026-03-28T01:30:00Z", change=change)
    assert early["decision"] == "fail" and early["next_open"] == "2026-03-28T02:00:00Z"
    assert decide(policy, [R1], "2026-03-28T02:30:00Z", change=change)["decision"] == "pass"


# -- freezes and emergency bypass -------------------------------------------------------------------------

def test_freeze_blocks_inside_an_open_window(policy):
    verdict = decide(policy, [R1], "2026-12-26T01:30:00Z")  # a Saturday, window open, year-end freeze
    assert verdict["decision"] == "fail" and verdict["freezes_active"] == ["year-end"]
    assert any(r.startswith("freeze year-end (2026-12-20T00:00:00Z to 2027-01-04T00:00:00Z) covers r1") for r in verdict["reasons"])
    assert verdict["next_open"] == "2027-01-09T01:00:00Z"  # first window after the freeze


def test_freeze_scope(policy):
    # ams-migration freezes only ams; low tier needs no window
    low = dict(CHANGE, tier="low")
    assert decide(policy, [R3], "2026-06-03T12:00:00Z", change=low)["decision"] == "fail"
    assert decide(policy, [R1], "2026-06-03T12:00:00Z", change=low)["decision"] == "pass"


def test_emergency_bypass_with_post_review_recorded(policy, tmp_path):
    emergency = dict(CHANGE, type="emergency")
    verdict = decide(policy, [R1, R2], "2026-12-23T14:00:00Z", change=emergency)  # Wednesday, in the freeze
    assert verdict["decision"] == "pass", verdict["reasons"]
    assert verdict["bypass"]["post_review_due"] == "2026-12-25T14:00:00Z"
    assert {b["kind"] for b in verdict["bypass"]["bypassed"]} == {"freeze", "window"}
    assert any("post-hoc review due by 2026-12-25T14:00:00Z" in r for r in verdict["reasons"])
    with SqliteLedger(str(tmp_path / "ledger.db")) as led:
        led.create_change("CHG-1001", "emergency fix", "carol")
        led.record_verdict("CHG-1001", "window", verdict)
        event = led.events("CHG-1001")[-1]
        assert event["kind"] == "verdict.window"
        assert event["data"]["verdict"]["bypass"]["post_review_due"] == "2026-12-25T14:00:00Z"
        assert led.verify()["ok"]


def test_emergency_cannot_bypass_a_freeze_that_forbids_it(policy):
    emergency = dict(CHANGE, type="emergency", tier="low")
    verdict = decide(policy, [R3], "2026-06-03T12:00:00Z", change=emergency)
    assert verdict["decision"] == "fail" and "bypass" not in verdict
    assert any("does not let an emergency change bypass it" in r for r in verdict["reasons"])


def test_emergency_bypass_only_where_policy_allows(policy):
    emergency = dict(CHANGE, type="emergency")
    policy["emergency"]["bypass_window"] = False
    assert decide(policy, [R1], "2026-03-25T12:00:00Z", change=emergency)["decision"] == "fail"
    policy["emergency"] = {"allowed": False, "bypass_window": True}
    verdict = decide(policy, [R1], "2026-03-25T12:00:00Z", change=emergency)
    assert verdict["decision"] == "fail" and "bypass" not in verdict
    # a normal change never bypasses
    policy["emergency"] = {"allowed": True, "bypass_window": True, "bypass_freeze": True}
    assert decide(policy, [R1], "2026-03-25T12:00:00Z")["decision"] == "fail"


# -- waiting ----------------------------------------------------------------------------------------------

class FakeTime:
    def __init__(self, start):
        self.now = start
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += datetime.timedelta(seconds=seconds)


def test_wait_until_window_opens_bounded(policy):
    fake = FakeTime(z("2026-03-28T00:59:00Z"))
    verdict = wait_for_window(policy, CHANGE, [R1], 120, clock=fake.clock, sleep=fake.sleep)
    assert verdict["decision"] == "pass" and len(fake.slept) == 1 and 60 <= fake.slept[0] < 61
    fake = FakeTime(z("2026-03-28T00:59:00Z"))
    verdict = wait_for_window(policy, CHANGE, [R1], 30, clock=fake.clock, sleep=fake.sleep)
    assert verdict["decision"] == "fail" and fake.slept == [] and verdict["can_wait"] is False
    assert verdict["wait_s"] == 60


def test_can_wait_flag(policy):
    assert decide(policy, [R1], "2026-03-28T00:59:00Z", wait_max_s=3600)["can_wait"] is True
    assert decide(policy, [R1], "2026-03-28T00:59:00Z")["can_wait"] is False


# -- policy problems --------------------------------------------------------------------------------------

def test_unknown_timezone_is_policy_error(policy):
    policy["windows"][0]["timezone"] = "Europe/Londinium"
    with pytest.raises(PolicyError) as exc:
        decide(policy, [R1], "2026-03-28T01:30:00Z")
    assert exc.value.where == "policy: windows.lon-weekend.timezone" and "IANA" in exc.value.fix


def test_bad_rrule_is_policy_error(policy):
    policy["windows"][1]["rrule"] = "FREQ=SOMETIMES;BYDAY=XX"
    with pytest.raises(PolicyError) as exc:
        decide(policy, [NYC], "2026-03-28T01:30:00Z")
    assert exc.value.where == "policy: windows.nyc-sunday.rrule" and "RFC 5545" in exc.value.fix


def test_rrule_without_duration_and_bad_times_are_policy_errors(policy):
    broken = copy.deepcopy(policy)
    del broken["windows"][1]["duration_minutes"]
    with pytest.raises(PolicyError, match="duration_minutes"):
        decide(broken, [NYC], "2026-03-28T01:30:00Z")
    broken = copy.deepcopy(policy)
    broken["windows"][0]["weekly"][0]["start"] = "25:00"
    with pytest.raises(PolicyError, match="not a time HH:MM"):
        decide(broken, [R1], "2026-03-28T01:30:00Z")
    broken = copy.deepcopy(policy)
    broken["freezes"][0]["start"] = "2026-12-20T00:00:00"
    with pytest.raises(PolicyError, match="no UTC offset"):
        decide(broken, [R1], "2026-03-28T01:30:00Z")


def test_rrule_with_dtstart_and_interval(policy):
    # every second Sunday from 1 Mar 2026, 01:00 New York time
    policy["windows"][1]["rrule"] = "DTSTART;TZID=America/New_York:20260301T010000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU"
    assert decide(policy, [NYC], "2026-03-01T06:30:00Z")["decision"] == "pass"
    assert decide(policy, [NYC], "2026-03-08T06:30:00Z")["decision"] == "fail"
    assert decide(policy, [NYC], "2026-03-15T05:30:00Z")["decision"] == "pass"


def test_naive_now_and_empty_targets(policy):
    with pytest.raises(PolicyError, match="naive"):
        window_gate(policy, CHANGE, [R1], datetime.datetime(2026, 3, 28, 1, 30))
    verdict = window_gate(policy, CHANGE, [], z("2026-03-28T01:30:00Z"))
    assert verdict["decision"] == "fail" and "no targets" in verdict["reasons"][0]


def test_many_hosts_grouped(policy):
    targets = [dict(R1, host="r%04d" % i) for i in range(1000)]
    verdict = window_gate(policy, CHANGE, targets, z("2026-03-28T01:30:00Z"))
    assert verdict["decision"] == "pass" and verdict["targets"] == 1000


def test_accepts_the_assessment_as_change(policy):
    assessment = {"change_id": "CHG-7", "type": "normal", "change_class": "emergency", "tier": "high", "window": None,
                  "facts": {"targets": [dict(R1, role="edge", criticality="medium")]}}
    verdict = window_gate(policy, assessment, assessment["facts"]["targets"], z("2026-03-25T12:00:00Z"))
    assert verdict["change_id"] == "CHG-7" and verdict["decision"] == "pass" and "post_review_due" in verdict["bypass"]


# -- yearly freezes: the same dates every year, in the freeze's own time zone -------------------------------

def _yearly(policy, start="12-20", end="01-04", zone="Europe/London"):
    policy["freezes"] = [{"name": "year-end", "yearly": {"start": start, "end": end}, "timezone": zone, "scope": {},
                          "allow_emergency": False}]
    policy["requirements"]["high"]["window_required"] = False
    return policy


@pytest.mark.parametrize("at, frozen", [
    ("2026-12-19T23:59:00Z", False), ("2026-12-20T00:00:00Z", True), ("2027-01-03T23:59:00Z", True),
    ("2027-01-04T00:00:00Z", False), ("2031-12-25T12:00:00Z", True), ("2031-01-02T12:00:00Z", True),
    ("2045-07-01T12:00:00Z", False), ("2100-12-31T23:00:00Z", True),
])
def test_yearly_freeze_recurs_across_the_new_year(policy, at, frozen):
    verdict = decide(_yearly(policy), [R1], at)
    assert (verdict["decision"] == "fail") is frozen, verdict["reasons"]
    if frozen:
        moment = z(at)
        first_year = moment.year if moment.month == 12 else moment.year - 1
        assert "freeze year-end (%d-12-20T00:00:00Z to %d-01-04T00:00:00Z)" % (first_year, first_year + 1) in verdict["reasons"][0]


def test_yearly_freeze_follows_its_time_zone_and_reports_the_next_opening(policy):
    # 20 June in Europe/Berlin starts at 22:00Z the day before (CEST, UTC+2)
    policy = _yearly(policy, "06-20", "06-22", "Europe/Berlin")
    assert decide(policy, [R1], "2030-06-19T21:59:00Z")["decision"] == "pass"
    verdict = decide(policy, [R1], "2030-06-19T22:00:00Z")
    assert verdict["decision"] == "fail" and verdict["next_open"] == "2030-06-21T22:00:00Z"


def test_yearly_freeze_on_29_february(policy):
    policy = _yearly(policy, "02-29", "03-02", "UTC")
    assert decide(policy, [R1], "2028-02-29T12:00:00Z")["decision"] == "fail"  # leap year
    assert decide(policy, [R1], "2027-02-28T12:00:00Z")["decision"] == "pass"
    assert decide(policy, [R1], "2027-03-01T12:00:00Z")["decision"] == "fail"  # 29 Feb falls on 1 Mar
