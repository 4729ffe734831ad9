# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Impact-aware verification (module_utils/impact.py): scope, invariant, fail fast - plain data, no device."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.governed.change.plugins.module_utils import impact
from ansible_collections.governed.change.plugins.module_utils.checks import no_regression_checks, run_checks, wait_until_settled
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.snapshot import parse_frr_bgp_config

LAB_R1_CONFIG = """router bgp 65001
 bgp router-id 10.255.0.1
 timers bgp 1 3
 neighbor 10.0.12.2 remote-as 65002
 neighbor 10.0.12.2 timers connect 1
 neighbor 10.0.12.2 advertisement-interval 0
 !
 address-family ipv4 unicast
  network 10.255.0.1/32
 exit-address-family
exit
!
interface lo
 ip address 10.255.0.1/32
exit
"""


def _router(name, asn, addresses, peers, routes, with_bgp=True):
    sections = {
        "interfaces": {"eth%d" % i: {"name": "eth%d" % i, "state": "up", "addresses": [a]} for i, a in enumerate(addresses)},
        "peers": {a: {"address": a, "state": "Established", "established": True, "remoteAs": ras} for a, ras in peers.items()},
        "routes": {p: {"nexthop": nh, "as_path": path} for p, (nh, path) in routes.items()},
    }
    if with_bgp:
        sections["bgp"] = {"asn": asn, "keepalive": 1, "hold": 3, "neighbors": {a: {"connect": 1, "advertisement_interval": 0} for a in peers}}
    return {"device": name, "platform": "frr", "sections": sections}


def line(with_bgp=True):
    """The lab: r1 - r2 - r3 (eBGP), fw1 behind r3 (no BGP)."""
    return {
        "r1": _router("r1", 65001, ["10.0.12.1/24", "10.255.0.1/32"], {"10.0.12.2": 65002},
                      {"10.255.0.1/32": ("0.0.0.0", ""), "10.255.0.2/32": ("10.0.12.2", "65002"),
                       "10.255.0.3/32": ("10.0.12.2", "65002 65003")}, with_bgp),
        "r2": _router("r2", 65002, ["10.0.12.2/24", "10.0.23.2/24", "10.255.0.2/32"], {"10.0.12.1": 65001, "10.0.23.3": 65003},
                      {"10.255.0.1/32": ("10.0.12.1", "65001"), "10.255.0.2/32": ("0.0.0.0", ""),
                       "10.255.0.3/32": ("10.0.23.3", "65003")}, with_bgp),
        "r3": _router("r3", 65003, ["10.0.23.3/24", "10.0.34.3/24", "10.255.0.3/32"], {"10.0.23.2": 65002},
                      {"10.255.0.1/32": ("10.0.23.2", "65002 65001"), "10.255.0.2/32": ("10.0.23.2", "65002"),
                       "10.255.0.3/32": ("0.0.0.0", "")}, with_bgp),
        "fw1": {"device": "fw1", "platform": "linux",
                "sections": {"interfaces": {"eth-r3": {"name": "eth-r3", "state": "up", "addresses": ["10.0.34.4/24"]}}, "rules": {}}},
    }


def test_impact_scope_reaches_the_neighbor_and_the_device_routing_through_the_target():
    scope = impact.impact_scope(["r1"], line(), "impact")
    assert scope["hosts"] == ["r1", "r2", "r3"] and scope["excluded"] == ["fw1"]
    assert scope["reasons"]["r2"][0] == "BGP neighbor of r1"
    assert scope["reasons"]["r3"] == ["1 route(s) through r1 (e.g. 10.255.0.1/32)"]


def test_impact_scope_learns_the_target_as_from_its_neighbors_without_its_config():
    scope = impact.impact_scope(["r1"], line(with_bgp=False), "impact")
    assert scope["hosts"] == ["r1", "r2", "r3"], scope["reasons"]


def test_impact_scope_of_the_far_end_and_of_a_firewall():
    assert impact.impact_scope(["r3"], line(), "impact")["hosts"] == ["r1", "r2", "r3"]  # r1 holds 10.255.0.3/32 via 65003
    fw = impact.impact_scope(["fw1"], line(), "impact")
    assert fw["hosts"] == ["fw1"] and fw["excluded"] == ["r1", "r2", "r3"]


def test_scope_modes_narrow_only_when_written():
    snaps = line()
    assert impact.impact_scope(["r1"], snaps, "targets_only", ["r3"])["hosts"] == ["r1", "r3"]
    assert impact.impact_scope(["r1"], snaps, "network")["hosts"] == ["fw1", "r1", "r2", "r3"]
    assert impact.scope_mode({"snapshot_scope": "targets"}) == "impact"  # the old word never narrows
    assert impact.scope_mode({}) == "impact"
    with pytest.raises(ValidationError, match="targets_only narrows"):
        impact.scope_mode({"snapshot_scope": "site"})
    missing = impact.impact_scope(["r1"], {"r1": snaps["r1"]}, "impact", ["r3"])
    assert missing["unsnapshotted"] == ["r3"]


def test_a_limited_branch_verifies_the_hosts_it_holds_and_leaves_the_rest():
    """AWX multi-domain workflow: the routers branch holds r1-r3, the firewalls branch fw1 (change targets r3 and fw1)."""
    snaps = line()
    assessment = {"hosts": ["r3", "fw1"], "requirements": {"snapshot_scope": "impact"}, "verification": {"check_hosts": ["fw1"]}}
    routers = impact.scope_for_play(assessment, {h: snaps[h] for h in ("r1", "r2", "r3")}, held=["r1", "r2", "r3"])
    assert routers["unsnapshotted"] == [] and routers["elsewhere"] == ["fw1"] and "r3" in routers["hosts"] and "fw1" not in routers["hosts"]
    firewalls = impact.scope_for_play(assessment, {"fw1": snaps["fw1"]}, held=["fw1"])
    assert firewalls["hosts"] == ["fw1"] and firewalls["unsnapshotted"] == [] and firewalls["elsewhere"] == ["r3"]
    unlimited = impact.scope_for_play(assessment, {h: snaps[h] for h in ("r1", "r2", "r3")})
    assert unlimited["unsnapshotted"] == ["fw1"] and unlimited["elsewhere"] == []  # an unlimited play must hold every target


def test_snapshot_candidates():
    platforms = {"r1": "frr", "r2": "frr", "r3": "frr", "fw1": "linux", "srv1": ""}
    plan = impact.verification_plan(["r1"], [{"name": "c", "hosts": ["fw1"]}], {"snapshot_scope": "impact"}, platforms)
    assert impact.snapshot_candidates(plan, platforms) == ["fw1", "r1", "r2", "r3"]
    assert impact.snapshot_candidates(plan, platforms, "targets_only") == ["fw1", "r1"]
    assert impact.snapshot_candidates(plan, platforms, "network") == ["fw1", "r1", "r2", "r3"]


def test_plan_says_where_each_check_runs_and_refuses_a_host_outside_the_inventory():
    expected = [{"name": "a", "query": "x", "op": "equals"}, {"name": "r3_sees_r1", "query": "x", "op": "equals", "hosts": ["r3"]}]
    plan = impact.verification_plan(["r1"], expected, {"snapshot_scope": "impact"}, {"r1": {}, "r3": {}},
                                    intended={"prefixes_lost": ["10.9.0.1"]})
    assert plan["always"] == ["r1", "r3"] and plan["check_hosts"] == ["r3"] and plan["snapshot_play"]
    assert plan["checks_where"] == {"a": ["r1"], "r3_sees_r1": ["r3"]}
    assert plan["intended"] == {"prefixes_lost": ["10.9.0.1/32"], "sessions_down": [], "services_blocked": []}
    with pytest.raises(ValidationError) as info:
        impact.verification_plan(["r1"], [dict(expected[1], hosts=["r9"])], {}, {"r1": {}})
    assert str(info.value).startswith("change request: expected[0].hosts: check 'r3_sees_r1' names r9, not in the inventory")


def test_expected_for_runs_a_named_check_on_its_host_only():
    expected = [{"name": "a", "query": "x", "op": "equals"}, {"name": "b", "query": "y", "op": "equals", "hosts": ["r3"]}]
    assert [c["name"] for c in impact.expected_for(expected, "r1", ["r1"])] == ["a"]
    assert impact.expected_for(expected, "r3", ["r1"]) == [{"name": "b", "query": "y", "op": "equals"}]
    assert impact.expected_for(expected, "r2", ["r1"]) == []


def test_invariant_counts_a_lost_prefix_anywhere_except_when_intended():
    pre = line()["r3"]
    post = copy.deepcopy(pre)
    del post["sections"]["routes"]["10.255.0.1/32"]
    out = run_checks(no_regression_checks("frr"), pre, post)
    assert out["summary"]["failed_checks"] == ["r3/no_route_lost"]
    lost = [r for r in out["results"] if r["name"] == "no_route_lost"][0]
    assert lost["missing"] == ["10.255.0.1/32"]
    excused = run_checks(no_regression_checks("frr", intended={"prefixes_lost": ["10.255.0.1/32"]}), pre, post)
    assert excused["passed"], excused["summary"]
    route = [r for r in excused["results"] if r["name"] == "no_route_lost"][0]
    assert route["intended_missing"] == ["10.255.0.1/32"] and "1 declared intended" in route["reason"]
    post["sections"]["peers"]["10.0.23.2"]["state"] = "Idle"
    down = run_checks(no_regression_checks("frr", intended={"prefixes_lost": ["10.255.0.1/32"]}), pre, post)
    assert down["summary"]["failed_checks"] == ["r3/no_bgp_session_lost"]


def test_bgp_config_and_convergence_bound():
    bgp = parse_frr_bgp_config(LAB_R1_CONFIG)
    assert bgp == {"asn": 65001, "router_id": "10.255.0.1", "keepalive": 1, "hold": 3,
                   "neighbors": {"10.0.12.2": {"remote_as": 65002, "connect": 1, "advertisement_interval": 0}}}
    assert impact.convergence_bound_s({"sections": {"bgp": bgp}}) == 4.0  # hold 3 + connect 1
    defaults = parse_frr_bgp_config("router bgp 65001\n neighbor 10.0.12.2 remote-as 65002\nexit\n")
    assert impact.convergence_bound_s({"sections": {"bgp": defaults}}) == 300.0  # hold 180 + connect 120
    assert impact.convergence_bound_s({"sections": {}}) is None
    assert parse_frr_bgp_config("interface lo\n ip address 10.255.0.1/32\n") == {}


def test_fail_fast_ends_a_stable_failure_after_n_polls():
    tracker = impact.SettleTracker(polls=3)
    assert tracker.observe(0.0, False, ("f",), "s") is None
    assert tracker.observe(0.5, False, ("f",), "s") is None
    verdict = tracker.observe(1.0, False, ("f",), "s")
    assert verdict["settled"] is False and verdict["fail_fast"] and "3 consecutive polls" in verdict["reason"]


def test_fail_fast_waits_for_the_bgp_convergence_bound():
    tracker = impact.SettleTracker(polls=3, converge_s=2.0)
    for elapsed in (0.0, 0.5, 1.0, 1.5):
        assert tracker.observe(elapsed, False, ("f",), "s") is None
    assert tracker.observe(2.0, False, ("f",), "s")["fail_fast"]
    # timers known: two polls of the same failure, the later one past the bound (slow polls: 1.2 s each)
    slow = impact.SettleTracker(polls=3, converge_s=2.0)
    assert slow.observe(1.2, False, ("f",), "s") is None
    assert "2 consecutive polls" in slow.observe(2.9, False, ("f",), "s")["reason"]
    changed = impact.SettleTracker(polls=3, converge_s=2.0)
    assert changed.observe(1.2, False, ("f",), "s") is None
    assert changed.observe(2.9, False, ("g",), "s") is None  # another failure: not yet stable


def test_a_changing_state_is_not_a_stable_failure():
    tracker = impact.SettleTracker(polls=3)
    for index in range(10):  # the routing state moves every poll: still converging
        assert tracker.observe(index * 0.5, False, ("f",), "state-%d" % index) is None


def test_flapping_never_passes_early():
    tracker = impact.SettleTracker(polls=3)
    assert tracker.observe(0.0, True, None, "up") == {"settled": True, "reason": "passed on the first read of this state"}
    flapping = impact.SettleTracker(polls=3)
    for index, passed in enumerate([False, True, False, True, True]):
        assert flapping.observe(index * 0.5, passed, None if passed else ("f",), "up" if passed else "down") is None
    assert flapping.observe(3.0, True, None, "up")["settled"]
    timers = impact.SettleTracker(polls=3, converge_s=2.0)  # timers known: 2 passing polls after a failure
    assert timers.observe(0.0, False, ("f",), "down") is None and timers.observe(1.0, True, None, "up") is None
    assert timers.observe(2.0, True, None, "up")["reason"] == "passed on 2 consecutive polls after a failure"
    off = impact.SettleTracker(polls=0)
    assert all(off.observe(i, False, ("f",), "s") is None for i in range(5))
    with pytest.raises(ValidationError):
        impact.SettleTracker(polls=-1)


def test_wait_until_settled_detects_a_stable_failure_at_the_bound_not_the_timeout():
    pre = line()["r1"]
    bad = copy.deepcopy(pre)
    bad["sections"]["peers"]["10.0.12.2"].update(state="Active", established=False)
    del bad["sections"]["routes"]["10.255.0.2/32"]
    clock = {"t": 0.0}

    def sleep(seconds):
        clock["t"] += seconds

    out = wait_until_settled(lambda: bad, no_regression_checks("frr"), 8, 0.5, pre=pre, sleep=sleep, clock=lambda: clock["t"],
                             converge_s=impact.convergence_bound_s(pre))
    assert out["settled"] is False and out["fail_fast"] and out["elapsed_s"] == 4.0 and out["attempts"] == 9  # the 4 s bound
    clock["t"] = 0.0
    unknown = wait_until_settled(lambda: bad, no_regression_checks("frr"), 8, 0.5, pre=pre, sleep=sleep, clock=lambda: clock["t"])
    assert unknown["fail_fast"] and unknown["attempts"] == 3 and unknown["elapsed_s"] == 1.0  # no timers: 3 polls
    clock["t"] = 0.0
    slow = wait_until_settled(lambda: bad, no_regression_checks("frr"), 8, 0.5, pre=pre, sleep=sleep, clock=lambda: clock["t"],
                              fail_fast_polls=0)
    assert slow["attempts"] == 17 and slow["elapsed_s"] == 8.0 and "fail_fast" not in slow  # polled until the timeout


def test_change_request_intended_is_validated_and_only_hashed_when_written():
    from ansible_collections.governed.change.plugins.module_utils.change_request import validate_change_request
    base = {"id": "CHG-9", "title": "t", "description": "d", "author": "carol", "type": "normal", "category": "other",
            "targets": ["r1"], "config": {"r1": {"lines": ["interface lo"]}}}
    assert "intended" not in validate_change_request(copy.deepcopy(base))
    doc = dict(base, intended={"prefixes_lost": ["10.255.0.1"], "sessions_down": ["10.0.12.2"]})
    assert validate_change_request(doc)["intended"] == {"prefixes_lost": ["10.255.0.1/32"], "sessions_down": ["10.0.12.2"],
                                                        "services_blocked": []}
    with pytest.raises(ValidationError) as info:
        validate_change_request(dict(base, intended={"sessions_down": ["10.0.12.0/24"]}))
    assert "intended.sessions_down[0]: '10.0.12.0/24' is a prefix, not a peer address." in str(info.value)
    with pytest.raises(ValidationError) as info:
        validate_change_request(dict(base, intended={"prefixes_lost": ["r1-loopback"]}))
    assert "intended.prefixes_lost[0]: 'r1-loopback' is not an IP prefix." in str(info.value)


def test_a_first_pass_must_hold_before_it_settles_when_asked():
    # the lab's race (issue 16 CI): r3 read 0.06 s after r1's commit still had r1's loopback; r2 had lost it already
    held = impact.SettleTracker(polls=3, converge_s=4.0, pass_hold_s=1.0)
    assert held.observe(0.0, True, None, "with-route") is None  # one read right after the commit proves nothing
    assert held.observe(0.25, True, None, "with-route") is None
    assert held.observe(0.5, False, ("route lost",), "without-route") is None  # the withdrawal arrived: not a pass
    late = impact.SettleTracker(polls=3, pass_hold_s=1.0)
    assert late.observe(0.0, True, None, "s") is None and late.observe(0.5, True, None, "s") is None
    verdict = late.observe(1.0, True, None, "s")
    assert verdict == {"settled": True, "reason": "passed on 3 consecutive polls over 1.0 s with the routing state unchanged"}
    moving = impact.SettleTracker(polls=3, pass_hold_s=1.0)  # passing, but the routing state still moves: not yet
    assert all(moving.observe(i * 0.5, True, None, "s%d" % i) is None for i in range(4))
    with pytest.raises(ValidationError, match="pass_hold"):
        impact.SettleTracker(pass_hold_s=-1)
