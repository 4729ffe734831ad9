# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A decisive failure from the change's own configuration: a peer AS the change sets that the peer did not present
before (and that no target of the change moves to) makes the session, once down, decisive from the first poll - still
held over 2 polls, never one read; the negative cases (both ends renumbered, a peer not up before, an AS unchanged,
a session declared intended down) are never decisive by this rule."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import impact
from ansible_collections.governed.change.plugins.module_utils.checks import no_regression_checks, wait_until_settled
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

R2 = "10.0.12.2"
R3 = "10.0.13.3"
BAD = {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as 65020", " neighbor 10.0.12.2 description r2-core"]}


def _snap(up=True, remote_as=65002, other_up=True, routes=("10.255.0.1/32", "10.255.0.2/32"), notification=None):
    peer = {"address": R2, "state": "Established" if up else "Idle", "established": up, "remoteAs": remote_as}
    if notification:
        peer["lastNotification"] = notification
    return {"device": "r1", "platform": "frr", "sections": {
        "peers": {R2: peer, R3: {"address": R3, "state": "Established" if other_up else "Active", "established": other_up,
                                 "remoteAs": 65003}},
        "interfaces": {"eth1": {"name": "eth1", "state": "up"}},
        "routes": {p: {"nexthop": R2} for p in routes},
        "bgp": {"asn": 65001, "hold": 3, "neighbors": {R2: {"remote_as": 65002, "connect": 1}, R3: {"remote_as": 65003, "connect": 1}}}}}


PRE = _snap()
DOWN = _snap(False, remote_as=65020, routes=("10.255.0.1/32",))


def _refusals(lines=None, pre=None, deployed=("r1",), intended=None):
    return impact.config_refusals("r1", PRE if pre is None else pre, BAD if lines is None else lines, deployed, intended)


def test_a_peer_as_the_peer_did_not_present_is_a_refusal_from_the_configuration():
    found = _refusals()
    assert list(found) == [R2]
    assert "remote-as to 65020" in found[R2] and "presented AS 65002" in found[R2]
    why = impact.decisive_failure(PRE, DOWN, refusals=found)
    assert why.startswith("the session to 10.0.12.2 cannot come up: the change sets its remote-as to 65020")
    # the same fact later, when the reconnect's refusal shows too: the configuration's reason stays (the hold needs it)
    assert impact.decisive_failure(PRE, _snap(False, 65020, notification="OPEN Message Error/Bad Peer AS"), refusals=found) == why
    assert impact.decisive_failure(PRE, PRE, refusals=found) is None  # the session still up: nothing to decide
    assert impact.decisive_failure(PRE, DOWN) is None  # without the rule: down, no reason known yet


def test_both_ends_renumbered_is_not_decisive():
    both = dict(BAD, r2=["no router bgp 65002", "router bgp 65020", " neighbor 10.0.12.1 remote-as 65001"])
    assert _refusals(both) == {}
    local_as = dict(BAD, r2=["router bgp 65002", " neighbor 10.0.12.1 local-as 65020"])  # r2 presents 65020 to r1
    assert _refusals(local_as) == {}
    asdot = dict(BAD, r2=["router bgp 0.65020"])  # the same AS written asdot
    assert _refusals(asdot) == {}
    unrelated = dict(BAD, r3=["router bgp 65003", " neighbor 10.0.23.2 description r2"])  # another target, another AS
    assert list(_refusals(unrelated)) == [R2]


def test_a_peer_not_established_before_is_not_decisive():
    assert _refusals(pre=_snap(up=False)) == {}
    assert _refusals(pre=_snap(remote_as=None)) == {}  # the AS it presented is not known


def test_an_unchanged_as_with_the_session_down_is_not_decisive_by_this_rule():
    same = {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as 65002", " neighbor 10.0.12.2 shutdown"]}
    assert _refusals(same) == {}
    assert impact.decisive_failure(PRE, _snap(False, routes=("10.255.0.1/32",)), refusals=_refusals(same)) is None
    asdot_same = {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as 0.65002"]}
    assert _refusals(asdot_same) == {}


def test_a_session_declared_intended_down_is_not_decisive():
    assert _refusals(intended={"sessions_down": [R2]}) == {}
    # and through the checks: the invariant excuses it, no failing check names it
    run = {"results": [{"name": "no_bgp_session_lost", "passed": True, "missing": [], "query": "q"},
                       {"name": "no_route_lost", "passed": False, "missing": ["10.255.0.2/32"], "query": "keys(sections.routes)"}]}
    assert impact.decisive_failure(PRE, DOWN, run, refusals=_refusals()) is None


def test_only_the_default_instance_of_the_device_and_only_deployed_lines_count():
    assert _refusals(deployed=()) == {}  # a later batch's target: its lines are not on the device yet
    assert _refusals({"r2": BAD["r1"]}) == {}  # lines of another target
    vrf = {"r1": ["router bgp 65001 vrf blue", " neighbor 10.0.12.2 remote-as 65020"]}
    other_as = {"r1": ["router bgp 65009", " neighbor 10.0.12.2 remote-as 65020"]}
    flat = {"r1": ["router bgp 65001", "neighbor 10.0.12.2 remote-as 65020"]}  # not indented: outside the block
    external = {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as external"]}
    removed = {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as 65020", " no neighbor 10.0.12.2"]}
    for lines in (vrf, other_as, flat, external, removed):
        assert _refusals(lines) == {}, lines
    assert impact.config_refusals("r1", PRE, None) == {}


def test_bad_change_lines_fail_closed_naming_the_field():
    with pytest.raises(ValidationError) as err:
        impact.config_refusals("r1", PRE, ["router bgp 65001"], ("r1",))
    assert "change_lines" in str(err.value)
    with pytest.raises(ValidationError) as err:
        impact.config_refusals("r1", PRE, {"r1": ["router bgp 65001", 7]}, ("r1",))
    assert "change_lines.r1[1]" in str(err.value)


def test_as_numbers():
    assert impact.as_number(65020) == impact.as_number("65020") == "65020"
    assert impact.as_number("1.10") == str(65536 + 10) and impact.as_number("0.65002") == "65002"
    assert impact.as_number("external") is None and impact.as_number(None) is None and impact.as_number(True) is None


def _wait(states, refusals, interval=0.25, poll_s=0.05):
    clock = {"t": 0.0}
    queue = list(states)

    def take():
        clock["t"] += poll_s
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def sleep(seconds):
        clock["t"] += seconds

    return wait_until_settled(take, no_regression_checks("frr"), 8, interval, pre=PRE, sleep=sleep, clock=lambda: clock["t"],
                              converge_s=impact.convergence_bound_s(PRE), refusals=refusals)


def test_the_wait_ends_after_two_polls_held_0_2_s_never_one_read():
    out = _wait([DOWN], _refusals())
    assert out["settled"] is False and out["fail_fast"] and out["attempts"] == 2
    assert impact.DECISIVE_HOLD_S <= out["elapsed_s"] < 0.5 < impact.convergence_bound_s(PRE)
    assert "cannot come up" in out["decisive"]
    without = _wait([DOWN], {})  # no reconnect refusal yet, no configuration rule: waits for the bound
    assert without["fail_fast"] and "decisive" not in without and without["elapsed_s"] >= impact.convergence_bound_s(PRE)


def test_flapping_never_passes_early_and_a_pass_settles_on_its_first_poll():
    first = _wait([PRE], _refusals())
    assert first["settled"] and first["attempts"] == 1
    moving = _wait([DOWN, _snap(False, 65020, routes=("10.255.0.1/32", "10.255.0.9/32")), DOWN, PRE, PRE], _refusals())
    # the routing state moved between the reads: the hold restarts; a pass after failures must hold 2 polls
    assert moving["settled"] is True and moving["attempts"] == 5
    flapping = _wait([DOWN, PRE, DOWN, PRE, DOWN, DOWN], _refusals())
    assert flapping["settled"] is False and flapping["attempts"] == 6 and "cannot come up" in flapping["decisive"]


def test_a_neighbor_the_change_removes_or_resets_is_never_decisive():
    """A `no neighbor A ...` line of the change (removal or reset, before or after its remote-as) leaves A out."""
    assert impact.neighbor_as_changes(BAD["r1"], 65001) == {"10.0.12.2": "65020"}
    for extra in (" no neighbor 10.0.12.2", " no neighbor 10.0.12.2 remote-as 65002"):
        lines = BAD["r1"] + [extra]
        assert impact.neighbor_as_changes(lines, 65001) == {}, extra
        assert impact.config_refusals("r1", PRE, {"r1": lines}, ["r1"]) == {}, extra
