# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast detection without false failures: a decisive failure (a session refused for a configuration mismatch) ends the
wait after a short hold; a session that is only resetting still waits for the convergence bound; a pass still has to
hold; the devices of a batch stop together once one failed decisively."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import impact
from ansible_collections.governed.change.plugins.module_utils.batch_halt import HaltGroup
from ansible_collections.governed.change.plugins.module_utils.checks import no_regression_checks, wait_until_settled


def _snap(established=True, notification=None, routes=("10.255.0.1/32", "10.255.0.2/32"), state=None):
    peer = {"address": "10.0.12.2", "state": state or ("Established" if established else "Idle"), "established": established}
    if notification:
        peer["lastNotification"] = notification
    return {"device": "r1", "platform": "frr", "sections": {
        "peers": {"10.0.12.2": peer},
        "interfaces": {"eth1": {"name": "eth1", "state": "up"}},
        "routes": {p: {"nexthop": "10.0.12.2"} for p in routes},
        "bgp": {"asn": 65001, "hold": 3, "neighbors": {"10.0.12.2": {"remote_as": 65002, "connect": 1}}}}}


PRE = _snap()
BAD_AS = "OPEN Message Error/Bad Peer AS"


def _wait(states, **kw):
    """wait_until_settled over a scripted sequence of snapshots (the last one repeats), on a fake clock; each poll 0.3 s."""
    clock = {"t": 0.0}
    queue = list(states)

    def take():
        clock["t"] += 0.3
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def sleep(seconds):
        clock["t"] += seconds

    return wait_until_settled(take, no_regression_checks("frr"), 8, 0.25, pre=PRE, sleep=sleep, clock=lambda: clock["t"],
                              converge_s=impact.convergence_bound_s(PRE), **kw)


def test_a_refused_session_is_decisive_a_resetting_one_is_not():
    assert impact.decisive_failure(PRE, _snap(False, BAD_AS)) == "the session to 10.0.12.2 is refused: " + BAD_AS
    assert impact.decisive_failure(PRE, _snap(False, "Cease/Administrative Reset")) is None  # a reset comes back
    assert impact.decisive_failure(PRE, _snap(False)) is None  # down, no reason known: not decisive
    assert impact.decisive_failure(PRE, _snap(True, BAD_AS)) is None  # an old notification of a session now up
    was_down = _snap(False)
    assert impact.decisive_failure(was_down, _snap(False, BAD_AS)) is None  # not a session the change broke


def test_only_a_session_a_failing_check_names_is_decisive():
    refused = _snap(False, BAD_AS, routes=("10.255.0.1/32",))
    names_it = {"results": [{"name": "no_bgp_session_lost", "passed": False, "missing": ["10.0.12.2"], "query": "q"}]}
    expected = {"results": [{"name": "r2_up", "passed": False, "query": 'sections.peers."10.0.12.2".state'}]}
    other = {"results": [{"name": "no_route_lost", "passed": False, "missing": ["10.255.0.2/32"], "query": "keys(sections.routes)"},
                         {"name": "no_bgp_session_lost", "passed": True, "missing": [], "query": "q"}]}
    assert impact.decisive_failure(PRE, refused, names_it) and impact.decisive_failure(PRE, refused, expected)
    assert impact.decisive_failure(PRE, refused, other) is None  # e.g. the session is declared intended: not missing


def test_a_decisive_failure_ends_the_wait_after_a_short_hold_not_the_bound():
    out = _wait([_snap(False, BAD_AS, routes=("10.255.0.1/32",), state=s) for s in ("Idle", "Connect", "OpenSent", "Idle")])
    assert out["settled"] is False and out["fail_fast"] and out["decisive"].endswith(BAD_AS)
    # polls of 0.3 s: the second is already DECISIVE_HOLD_S after the first read; the FSM state moved, still decisive
    assert impact.DECISIVE_POLLS == 2 and out["attempts"] == 2 and out["elapsed_s"] < 1.0 < impact.convergence_bound_s(PRE)
    assert "2 consecutive polls over 0.3 s" in out["reason"]


def test_one_read_is_never_enough_and_a_moving_routing_state_restarts_the_hold():
    tracker = impact.SettleTracker(polls=3, converge_s=4.0)
    assert tracker.observe(0.3, False, ("f",), "s1", "refused") is None  # a single read
    assert tracker.observe(0.45, False, ("f",), "s1", "refused") is None  # two reads, but under the hold (0.2 s)
    assert tracker.observe(0.9, False, ("f",), "s2", "refused") is None  # the routing state moved: start again
    assert tracker.observe(1.05, False, ("f",), "s2", "refused") is None  # 0.15 s after the restart: under the hold
    assert tracker.observe(1.2, False, ("f",), "s2", "refused")["decisive"] == "refused"
    sticky = impact.SettleTracker(polls=3, converge_s=4.0)  # refused once, not up since: the reset reason may move on
    assert sticky.observe(0.3, False, ("f",), "s", "refused") is None
    assert sticky.observe(0.8, False, ("f",), "s", None)["decisive"] == "refused"
    back = impact.SettleTracker(polls=3, converge_s=4.0)  # the routing state moved (the session came up): not carried
    assert back.observe(0.3, False, ("f",), "s", "refused") is None
    assert back.observe(0.8, False, ("f",), "s2", None) is None and back.observe(1.3, False, ("f",), "s2", None) is None
    off = impact.SettleTracker(polls=0, converge_s=4.0)  # fail fast off: no early end of any kind
    assert all(off.observe(t, False, ("f",), "s", "refused") is None for t in (0.3, 1.0, 2.0, 5.0))


def test_a_resetting_session_still_waits_for_the_bound_and_then_passes():
    down = _snap(False, "Cease/Other Configuration Change", routes=("10.255.0.1/32",))
    out = _wait([down] * 8 + [PRE])  # down for 2.4 s, then back: no false failure
    assert out["settled"] is True and out["result"]["passed"] and "consecutive polls after a failure" in out["reason"]


def test_a_pass_after_a_decisive_looking_moment_still_has_to_hold():
    out = _wait([_snap(False, BAD_AS), PRE, _snap(False, BAD_AS), PRE, PRE])
    assert out["settled"] is True and out["attempts"] == 5  # flapping: settled only after 2 passing polls in a row


def test_a_batch_stops_together_once_one_device_failed_decisively(tmp_path):
    group = HaltGroup(str(tmp_path), "CHG-1 2026-11-30T10:00:00Z batch 0")
    other = HaltGroup(str(tmp_path), "CHG-1 2026-11-30T10:00:00Z batch 1")
    assert group.halted_by_other("r3")() is None
    group.halt("r1", "the session to 10.0.12.2 is refused: " + BAD_AS)
    group.halt("r2", "later")  # the first device keeps the marker
    assert group.read()["device"] == "r1" and other.read() is None
    assert group.halted_by_other("r1")() is None  # never stopped by itself
    assert "r1 failed decisively" in group.halted_by_other("r3")()
    lost = _snap(True, routes=("10.255.0.2/32",))  # r3-like: a remote route lost, its own sessions up
    out = _wait([lost], halted=group.halted_by_other("r3"))
    assert out["halted"] and out["settled"] is False and not out["result"]["passed"] and out["attempts"] == 1
    assert "r1 failed decisively" in out["reason"]
    passing = _wait([PRE], halted=group.halted_by_other("r3"))
    assert passing["settled"] and "halted" not in passing  # a passing device is not stopped
    flapping = _wait([lost, PRE, PRE], halted=group.halted_by_other("r3"))
    assert flapping["halted"] and flapping["attempts"] == 1  # stopped while failing: reported failing, never passed


FAILED_JSON = """{"routerId": "10.255.0.1", "as": 65001, "peers": {"10.0.12.2": {"hostname": "r2", "connectionsEstablished": 1,
 "connectionsDropped": 3, "lastErrorCodeSubcode": "0202", "lastNotificationReason": "OPEN Message Error/Bad Peer AS",
 "lastNotificationHardReset": false, "lastResetDueTo": "BGP Notification send", "lastResetCode": 11}}, "failedPeers": 1}"""


def test_the_frr_snapshot_carries_why_a_session_is_down():
    from ansible_collections.governed.change.plugins.module_utils.platforms import base, frr

    outputs = {
        "show bgp ipv4 unicast summary json": '{"ipv4Unicast": {"peers": {"10.0.12.2": {"state": "Idle", "remoteAs": 65020}, '
                                              '"10.0.13.3": {"state": "Established", "remoteAs": 65003}}}}',
        "show bgp ipv4 unicast json": '{"routes": {}}',
        "show interface json": "{}",
        "show running-config": "router bgp 65001\n neighbor 10.0.12.2 remote-as 65020\nend\n",
        frr.FAILED_COMMAND: FAILED_JSON,
    }

    class Framed(base.Transport):
        def run(self, command, stdin=None, timeout=None, check=True):
            drv = frr.FrrPlatform(None, "r1")
            text = "".join("%s %s\n%s\n%s 0\n" % (base.BEGIN, drv.vtysh(c), out, base.END) for c, out in outputs.items())
            return base.CommandResult(command, 0, text, "", 0.1)

    snap = frr.FrrPlatform(Framed(), "r1").snapshot()
    peers = snap["sections"]["peers"]
    assert peers["10.0.12.2"]["lastNotification"] == BAD_AS and peers["10.0.12.2"]["lastResetDueTo"] == "BGP Notification send"
    assert "lastNotification" not in peers["10.0.13.3"]
    assert frr.peer_faults("not json") == {} and frr.peer_faults('{"failedPeersCount": 0}') == {}


def test_a_failing_device_stops_within_its_pause_once_another_failed_decisively(tmp_path):
    """The halt marker is looked for during the pause between polls, not only at the next poll; a passing device never."""
    group = HaltGroup(str(tmp_path), "CHG-1 2026-11-30T10:00:00Z batch 0")
    clock = {"t": 0.0}
    lost = _snap(True, routes=("10.255.0.2/32",))

    def take():
        clock["t"] += 0.1
        return lost

    def sleep(seconds):
        clock["t"] += seconds
        if clock["t"] >= 0.2:  # r1 halts the batch 0.1 s into r3's first pause
            group.halt("r1", "the session to 10.0.12.2 is refused: " + BAD_AS)

    out = wait_until_settled(take, no_regression_checks("frr"), 8, 1.0, pre=PRE, sleep=sleep, clock=lambda: clock["t"],
                             converge_s=impact.convergence_bound_s(PRE), halted=group.halted_by_other("r3"))
    assert out["halted"] and out["attempts"] == 1 and not out["result"]["passed"]
    assert out["elapsed_s"] <= 0.2 + 1e-9  # stopped 0.1 s into the 0.9 s pause, not at the next poll (1.0 s)
    assert "r1 failed decisively" in out["reason"]
    flapping = _wait([lost, PRE, PRE], halted=group.halted_by_other("r3"))
    assert flapping["halted"] and flapping["attempts"] == 1  # failing when stopped: reported failing, never passed
    clock["t"] = 0.0
    slept = []
    passing = wait_until_settled(lambda: PRE, no_regression_checks("frr"), 8, 1.0, pre=PRE, sleep=slept.append,
                                 clock=lambda: clock["t"], halted=group.halted_by_other("r3"))
    assert passing["settled"] and "halted" not in passing and passing["attempts"] == 1  # a pass settles on its first poll


def test_without_bgp_timers_a_stable_failure_must_also_span_a_second_at_the_faster_poll_interval():
    """3 polls 0.25 s apart are not enough to call a failure final when no convergence bound is known (0.5 s of it);
    the failure must also have lasted STABLE_MIN_S, as 3 polls at the old 0.5 s interval did."""
    tracker = impact.SettleTracker(polls=3, converge_s=None)
    times = [0.25 * n for n in range(1, 6)]  # 0.25 .. 1.25 s
    verdicts = [tracker.observe(t, False, ("f",), "s") for t in times]
    assert verdicts[:4] == [None] * 4  # 3rd and 4th polls: 3-4 in a row, but only 0.5 / 0.75 s long
    assert verdicts[4]["fail_fast"] and "5 consecutive polls" in verdicts[4]["reason"]  # 1.0 s after the first
    moved = impact.SettleTracker(polls=3, converge_s=None)  # the routing state moved at 0.75 s: the span restarts
    assert all(moved.observe(t, False, ("f",), "s1" if t < 0.75 else "s2") is None for t in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5))
    assert moved.observe(1.75, False, ("f",), "s2")["fail_fast"]
    flapping = impact.SettleTracker(polls=3, converge_s=None)  # fail, pass, fail...: never final, never settled
    assert all(flapping.observe(0.25 * n, n % 2 == 0, ("f",), "s") is None for n in range(1, 12))
