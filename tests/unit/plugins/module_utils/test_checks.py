# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative checks: every operator passing and failing, fail-closed, built-ins, settling."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.governed.change.plugins.module_utils import snapshot as snap
from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.checks import (
    OPERATORS, no_regression_checks, run_checks, validate_check, wait_until_settled)
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError

from state_fixtures import BGP_SUMMARY, frr_outputs, linux_outputs

PRE = snap.frr_snapshot("r2", frr_outputs(), taken_at="t1")
ESTABLISHED = "sections.peers.*|[?state=='Established'].address"


def _post_with(peer_state=None, drop_route=None, iface_down=None):
    post = copy.deepcopy(PRE)
    if peer_state:
        post["sections"]["peers"]["10.0.23.3"]["state"] = peer_state
    if drop_route:
        del post["sections"]["routes"][drop_route]
    if iface_down:
        post["sections"]["interfaces"][iface_down]["state"] = "down"
    return post


POST_BAD = _post_with(peer_state="Active", drop_route="10.255.0.3/32")

# (check, passes on (PRE, PRE), fails on (PRE, POST_BAD)) for every operator
CASES = [
    ({"op": "equals", "query": "sections.peers.\"10.0.23.3\".state", "value": "Established"}),
    ({"op": "not_equals", "query": "sections.peers.\"10.0.23.3\".state", "value": "Active"}),
    ({"op": "at_least", "query": "length(%s)" % ESTABLISHED, "value": 2}),
    ({"op": "at_most", "query": "length(sections.peers.*|[?state!='Established'])", "value": 0}),
    ({"op": "greater_than", "query": "length(keys(sections.routes))", "value": 3}),
    ({"op": "less_than", "query": "length(sections.peers.*|[?state!='Established'])", "value": 1}),
    ({"op": "contains", "query": ESTABLISHED, "value": "10.0.23.3"}),
    ({"op": "not_contains", "query": "sections.peers.*.state", "value": "Active"}),
    ({"op": "subset", "query": "sections.peers.*.state", "value": ["Established", "Connect"]}),
    ({"op": "superset", "query": "keys(sections.routes)", "value": ["10.255.0.3/32", "10.255.0.1/32"]}),
    ({"op": "within_pct_of_pre", "query": "length(keys(sections.routes))", "tolerance_pct": 10}),
    ({"op": "all_match", "query": "sections.peers", "where": "state == 'Established'"}),
    ({"op": "none_match", "query": "sections.peers.*", "where": "state != 'Established'"}),
    ({"op": "is_empty", "query": "sections.peers.*|[?state!='Established']"}),
    ({"op": "not_empty", "query": "sections.routes.\"10.255.0.3/32\" && [sections.routes.\"10.255.0.3/32\"] || `[]`"}),
    ({"op": "unchanged", "query": "sections.peers.*.state"}),
]


def test_cases_cover_every_operator():
    assert sorted(c["op"] for c in CASES) == sorted(OPERATORS)


@pytest.mark.parametrize("check", CASES, ids=[c["op"] for c in CASES])
def test_operator_pass_and_fail(check):
    check = dict(check, name="c-" + check["op"])
    good = run_checks([check], PRE, copy.deepcopy(PRE))
    assert good["passed"], good["results"]
    res = good["results"][0]
    assert res["passed"] and not res["undecidable"] and res["device"] == "r2" and "actual" in res and res["reason"]
    bad = run_checks([check], PRE, POST_BAD)
    assert not bad["passed"] and not bad["undecidable"], bad["results"]
    assert bad["results"][0]["passed"] is False and bad["summary"]["failed_checks"] == ["r2/c-" + check["op"]]


def test_pre_vs_post_reports_values_and_tolerance():
    check = {"name": "routes", "op": "superset", "query": "keys(sections.routes)", "snapshot": "pre_vs_post", "tolerance_pct": 0}
    res = run_checks([check], PRE, POST_BAD)["results"][0]
    assert res["missing"] == ["10.255.0.3/32"] and res["missing_count"] == 1 and res["pre"] and res["post"]
    assert "1 of 4 pre item(s) missing" in res["reason"]
    assert run_checks([dict(check, tolerance_pct=25)], PRE, POST_BAD)["passed"]  # 1 of 4 lost is within 25 %
    at_least = {"name": "n", "op": "at_least", "query": "length(keys(sections.routes))", "snapshot": "pre_vs_post"}
    assert not run_checks([at_least], PRE, POST_BAD)["passed"]
    assert run_checks([dict(at_least, tolerance_pct=25)], PRE, POST_BAD)["passed"]


def test_diff_snapshot_checks_compute_the_diff():
    check = {"name": "no routes removed", "op": "is_empty", "query": "removed[?section=='routes']", "snapshot": "diff"}
    assert run_checks([check], PRE, copy.deepcopy(PRE))["passed"]
    res = run_checks([check], PRE, POST_BAD)
    assert not res["passed"] and res["results"][0]["actual"][0]["key"] == "10.255.0.3/32"


def test_undecidable_fails_closed():
    missing = {"name": "probes", "op": "equals", "query": "sections.probes.x.result", "value": "ok"}
    out = run_checks([missing], PRE, PRE)
    assert out["passed"] is False and out["undecidable"] is True
    assert out["results"][0]["reason"].startswith("cannot evaluate")
    wrong_type = {"name": "t", "op": "at_least", "query": "sections.peers.*", "value": 1}
    res = run_checks([wrong_type], PRE, PRE)["results"][0]
    assert res["undecidable"] and "length(...)" in res["reason"]
    no_post = run_checks([{"name": "u", "op": "unchanged", "query": "sections.peers"}], PRE, None)
    assert no_post["undecidable"] and not no_post["passed"]
    runtime = run_checks([{"name": "r", "op": "equals", "query": "length(sections.peers.\"10.0.23.3\".pfxRcd)", "value": 1}], PRE, PRE)
    assert runtime["undecidable"] and "cannot evaluate the query" in runtime["results"][0]["reason"]
    assert run_checks([], PRE, PRE)["passed"] is False  # nothing checked is not a pass


def test_all_match_empty_needs_allow_empty():
    empty = copy.deepcopy(PRE)
    empty["sections"]["peers"] = {}
    check = {"name": "a", "op": "all_match", "query": "sections.peers", "where": "established"}
    assert not run_checks([check], PRE, empty)["passed"]
    assert run_checks([dict(check, allow_empty=True)], PRE, empty)["passed"]


@pytest.mark.parametrize("check, field", [
    ({"name": "x", "op": "bigger", "query": "a", "value": 1}, "check 'x'.op"),
    ({"name": "x", "op": "equals", "query": "a", "value": 1, "treshold": 3}, "unknown key(s): treshold"),
    ({"name": "x", "op": "equals", "query": "a"}, "check 'x'.value"),
    ({"name": "x", "op": "equals", "query": "a[", "value": 1}, "check 'x'.query"),
    ({"name": "x", "op": "all_match", "query": "a"}, "check 'x'.where"),
    ({"name": "x", "op": "unchanged", "query": "a", "snapshot": "post"}, "check 'x'.snapshot"),
    ({"name": "x", "op": "equals", "query": "a", "value": 1, "snapshot": "now"}, "unknown snapshot"),
    ({"name": "x", "op": "within_pct_of_pre", "query": "a"}, "check 'x'.tolerance_pct"),
    ({"name": "x", "op": "equals", "query": "a", "value": 1, "tolerance_pct": 5}, "not used by equals"),
    ({"name": "x", "op": "superset", "query": "a", "value": "b"}, "needs a list value"),
    ({"name": "x", "op": "at_least", "query": "a", "value": 1, "snapshot": "pre_vs_post"}, "value is not used"),
    ({"op": "equals", "query": "a", "value": 1}, "name is missing"),
])
def test_validation_names_field_and_fix(check, field):
    with pytest.raises(ValidationError) as err:
        validate_check(check)
    assert field in str(err.value) and "Fix:" in str(err.value)


def test_duplicate_names_refused():
    with pytest.raises(ValidationError, match="used twice"):
        run_checks([{"name": "a", "op": "is_empty", "query": "x"}] * 2, PRE, PRE)


def test_no_regression_catches_lost_session_on_untargeted_router():
    # network-wide: the change targets r1, but r2 loses its session to r3 and r3 is unaffected
    r1 = snap.frr_snapshot("r1", frr_outputs(), taken_at="t1")
    r3 = snap.frr_snapshot("r3", frr_outputs(), taken_at="t1")
    fw1 = snap.linux_snapshot("fw1", linux_outputs(), probes={"10.0.45.10:80": "ok"})
    summary = copy.deepcopy(BGP_SUMMARY)
    summary["ipv4Unicast"]["peers"]["10.0.23.3"]["state"] = "Idle"
    r2_post = snap.frr_snapshot("r2", frr_outputs(**{"show bgp summary json": json.dumps(summary)}), taken_at="t2")
    checks = no_regression_checks("frr") + no_regression_checks("linux")
    out = run_checks(checks, pre={"r1": r1, "r2": PRE, "r3": r3, "fw1": fw1}, post={"r1": r1, "r2": r2_post, "r3": r3, "fw1": fw1})
    assert out["passed"] is False and out["undecidable"] is False
    assert out["summary"]["failed_checks"] == ["r2/no_bgp_session_lost"]
    lost = [r for r in out["results"] if r["device"] == "r2" and r["name"] == "no_bgp_session_lost"][0]
    assert lost["missing"] == ["10.0.23.3"]
    # each device gets its platform's checks only
    by_device = {}
    for r in out["results"]:
        by_device.setdefault(r["device"], []).append(r["name"])
    assert by_device["fw1"] == ["no_interface_up_to_down", "probes_still_pass", "blocked_services_stay_blocked"]
    assert by_device["r3"] == ["no_bgp_session_lost", "no_route_lost", "no_interface_up_to_down"]


def test_no_regression_interface_and_probe():
    fw_pre = snap.linux_snapshot("fw1", linux_outputs(), probes={"10.0.45.10:80": "ok", "10.9.9.9": "fail"})
    fw_post = snap.linux_snapshot("fw1", linux_outputs(), probes={"10.0.45.10:80": "fail", "10.9.9.9": "ok"})
    out = run_checks(no_regression_checks("linux"), fw_pre, fw_post)
    assert [r["name"] for r in out["results"] if not r["passed"]] == ["probes_still_pass"]
    out = run_checks(no_regression_checks("frr"), PRE, _post_with(iface_down="eth-r3"))
    assert [r["name"] for r in out["results"] if not r["passed"]] == ["no_interface_up_to_down"]
    with pytest.raises(ValidationError):
        no_regression_checks("junos")


def test_checks_read_refs(tmp_path):
    pre_ref = statestore.put(str(tmp_path), PRE, "snapshot")
    post_ref = statestore.put(str(tmp_path), POST_BAD, "snapshot")
    out = run_checks(no_regression_checks("frr") + [{"name": "d", "op": "is_empty", "query": "removed", "snapshot": "diff"}], pre_ref, post_ref)
    assert sorted(out["summary"]["failed_checks"]) == ["r2/d", "r2/no_bgp_session_lost", "r2/no_route_lost"]


def test_wait_until_settled_bounded():
    clock = {"t": 0.0}
    states = [POST_BAD, DeviceError("timeout", transient=True)] + [copy.deepcopy(PRE)] * 3

    def take():
        value = states.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    def sleep(seconds):
        clock["t"] += seconds

    out = wait_until_settled(take, no_regression_checks("frr"), 30, 5, pre=PRE, sleep=sleep, clock=lambda: clock["t"])
    # a pass after a failure counts once it held 3 polls (a flapping state never passes early)
    assert out["settled"] and out["attempts"] == 5 and out["elapsed_s"] == 20, out["reason"]
    clock["t"] = 0.0
    never = wait_until_settled(lambda: POST_BAD, no_regression_checks("frr"), 12, 5, pre=PRE, sleep=sleep, clock=lambda: clock["t"],
                               fail_fast_polls=0)
    assert never["settled"] is False and never["attempts"] == 3 and not never["result"]["passed"]
    assert "fail_fast" not in never and never["reason"] == "settle timeout 12 s ran out"
    with pytest.raises(ValidationError, match="timeout_s"):
        wait_until_settled(take, [], 0, 1)
    with pytest.raises(ValidationError, match="bound"):
        wait_until_settled(take, [], 99999, 1)
    with pytest.raises(DeviceError):
        wait_until_settled(lambda: (_x for _x in ()).throw(DeviceError("auth failed")), no_regression_checks("frr"), 10, 1, pre=PRE,
                           sleep=sleep, clock=lambda: clock["t"])


def test_a_pass_held_for_pass_hold_s_settles_and_a_late_loss_is_caught():
    clock = {"t": 0.0}

    def sleep(seconds):
        clock["t"] += seconds

    # the device still reads as before the change for 0.5 s, then the change's effect (a lost route) arrives
    def take():
        return copy.deepcopy(PRE) if clock["t"] < 0.5 else POST_BAD

    caught = wait_until_settled(take, no_regression_checks("frr"), 8, 0.25, pre=PRE, sleep=sleep, clock=lambda: clock["t"],
                                pass_hold_s=1.0)
    assert not caught["result"]["passed"] and caught["attempts"] > 2, caught["reason"]
    clock["t"] = 0.0
    first = wait_until_settled(take, no_regression_checks("frr"), 8, 0.25, pre=PRE, sleep=sleep, clock=lambda: clock["t"])
    assert first["settled"] and first["attempts"] == 1 and first["result"]["passed"]  # pass_hold_s 0: the first read
    clock["t"] = 0.0
    steady = wait_until_settled(lambda: copy.deepcopy(PRE), no_regression_checks("frr"), 8, 0.25, pre=PRE, sleep=sleep,
                                clock=lambda: clock["t"], pass_hold_s=1.0)
    assert steady["settled"] and steady["attempts"] == 5 and steady["elapsed_s"] == 1.0, steady
    clock["t"] = 0.0  # a hold longer than half the timeout is cut to half: a passing device is never left unsettled
    short = wait_until_settled(lambda: copy.deepcopy(PRE), no_regression_checks("frr"), 1, 0.25, pre=PRE, sleep=sleep,
                               clock=lambda: clock["t"], pass_hold_s=5.0)
    assert short["settled"] and short["elapsed_s"] == 0.5, short
