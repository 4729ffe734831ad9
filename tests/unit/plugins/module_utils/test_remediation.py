# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Governed event-driven remediation (issue 18.1): detection, the catalogue, the rate limit and the risk decision."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.governed.change.plugins.module_utils import remediation
from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError

from assess_support import FRR_R2, INVENTORY, NOW, policy

NOW_DT = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.timezone.utc)
FRR_R1 = FRR_R2.replace("hostname r2", "hostname r1").replace("65002", "65001").replace("10.255.0.2", "10.255.0.1")
ANCHOR = {"name": "restore_anchor_route", "description": "Put back the discard route of an announced aggregate.",
          "condition": "prefix_lost", "devices": ["r1", "r3"], "prefixes": ["198.51.100.0/22"], "lines": ["ip route {prefix} blackhole"],
          "author": "carol", "rate_limit": {"max": 1, "window_minutes": 60}, "max_tier": "low", "runbook": "https://rb.example.invalid/anchor"}
NEIGHBOR = {"name": "clear_neighbor_shutdown", "condition": "peer_down", "match": {"cause": "admin_shutdown"}, "devices": ["routers"],
            "lines": ["router bgp {local_as}", " no neighbor {peer} shutdown"], "author": "carol",
            "rate_limit": {"max": 2, "window_minutes": 30}, "runbook": "https://rb.example.invalid/peer"}


def catalogue_policy(*entries):
    return policy(remediations=[copy.deepcopy(entry) for entry in entries or (ANCHOR, NEIGHBOR)])


def snap(device, peers=None, routes=None, asn=65001):
    sections = {"bgp": {"asn": asn}}
    if peers is not None:
        sections["peers"] = peers
    if routes is not None:
        sections["routes"] = routes
    return {"device": device, "sections": sections}


LOCAL = {"nexthop": "0.0.0.0", "as_path": "", "best": True}
LEARNED = {"nexthop": "10.0.12.2", "as_path": "65002", "best": True}
UP = {"address": "10.0.12.2", "state": "Established", "established": True, "remoteAs": 65002}


def event(kind="prefix_lost", device="r1", **fields):
    body = {"kind": kind, "device": device, "local_as": 65001}
    body.update({"prefix": "198.51.100.0/24"} if kind == "prefix_lost" else {"peer": "10.0.12.2", "remote_as": 65002, "cause": "admin_shutdown"})
    body.update(fields)
    return remediation.make_event(body, NOW_DT)


# --------------------------------------------------------------------------------------------------- detection


def test_lost_local_prefix_and_admin_down_peer_are_events_learned_prefixes_are_not():
    base = snap("r1", peers={"10.0.12.2": UP}, routes={"198.51.100.0/24": LOCAL, "10.255.0.3/32": LEARNED})
    now = snap("r1", peers={"10.0.12.2": dict(UP, state="Idle (Admin)", established=False)},
               routes={"198.51.100.0/24": dict(LOCAL, best=False)})
    events, active = remediation.detect(base, now, set(), now=NOW_DT)
    bodies = [item["governed_event"] for item in events]
    assert [(b["kind"], b.get("peer") or b.get("prefix"), b.get("cause")) for b in bodies] == [
        ("peer_down", "10.0.12.2", "admin_shutdown"), ("prefix_lost", "198.51.100.0/24", None)]
    assert all(b["schema"] == remediation.EVENT_SCHEMA and len(b["id"]) == 12 and b["local_as"] == 65001 for b in bodies)
    assert active == {"peer_down:r1:10.0.12.2", "prefix_lost:r1:198.51.100.0/24"}


def test_a_fault_is_reported_once_while_it_lasts_and_again_when_it_returns():
    base = snap("r1", routes={"198.51.100.0/24": LOCAL})
    lost = snap("r1", routes={})
    first, active = remediation.detect(base, lost, set())
    again, active = remediation.detect(base, lost, active)
    cleared, active = remediation.detect(base, base, active)
    back, active = remediation.detect(base, lost, active)
    assert (len(first), len(again), len(cleared), len(back)) == (1, 0, 0, 1)


def test_a_session_down_for_another_reason_has_cause_session_and_missing_sections_give_no_event():
    base = snap("r2", peers={"10.0.12.1": UP})
    down = snap("r2", peers={"10.0.12.1": dict(UP, state="Active", established=False)})
    assert remediation.faults(base, down)["peer_down:r2:10.0.12.1"]["cause"] == "session"
    assert remediation.faults(base, snap("r2")) == {}  # peers not captured: nothing can be decided, nothing is reported


# --------------------------------------------------------------------------------------------------- the catalogue


def test_catalogue_is_validated_with_the_field_and_the_fix():
    with pytest.raises(PolicyError, match=r"remediations\[0\]\.lines\[0\]: names \{peer\}, which a prefix_lost event does not carry"):
        catalogue_policy(dict(ANCHOR, lines=["ip route {peer} blackhole"]))
    with pytest.raises(PolicyError, match=r"remediations\[0\]\.author: 'mallory' is not an identity"):
        catalogue_policy(dict(ANCHOR, author="mallory"))
    with pytest.raises(PolicyError, match=r"remediations\[0\]\.rate_limit\.max: must be >= 1"):
        catalogue_policy(dict(ANCHOR, rate_limit={"max": 0, "window_minutes": 5}))
    with pytest.raises(PolicyError, match=r"remediations\[1\]\.name: remediation 'restore_anchor_route' is defined twice"):
        catalogue_policy(ANCHOR, ANCHOR)
    with pytest.raises(PolicyError, match=r"remediations\[0\]\.prefixes: only a prefix_lost remediation"):
        catalogue_policy(dict(NEIGHBOR, prefixes=["10.0.0.0/8"]))
    assert catalogue_policy()["remediations"][1]["max_tier"] == "low"  # the default: above low risk escalates


def test_covered_event_gives_the_generated_standard_change():
    decided = remediation.decide(event(), catalogue_policy(), [], NOW_DT, groups=["routers", "edge"])
    assert (decided["decision"], decided["reason_code"], decided["remediation"]) == ("remediate", "catalogue_match", "restore_anchor_route")
    request = decided["change_request"]
    assert request["type"] == "standard" and request["category"] == "remediation" and request["targets"] == ["r1"]
    assert request["config"] == {"r1": {"lines": ["ip route 198.51.100.0/24 blackhole"]}}
    assert request["expected"][0]["query"] == 'sections.routes."198.51.100.0/24".best'
    assert decided["change_id"].startswith("RMD-r1-20261101120000-")


@pytest.mark.parametrize("ev, groups, why", [
    (event(device="r2"), ["routers", "core"], "restore_anchor_route: r2 is not among its devices (r1, r3)"),
    (event(prefix="203.0.113.0/24"), ["edge"], "restore_anchor_route: 203.0.113.0/24 is outside its prefixes (198.51.100.0/22)"),
    (event("peer_down", cause="session"), ["routers"], "clear_neighbor_shutdown: cause is session, not admin_shutdown"),
])
def test_events_outside_the_catalogue_escalate_with_why_and_the_runbook(ev, groups, why):
    decided = remediation.decide(ev, catalogue_policy(), [], NOW_DT, groups=groups)
    assert (decided["decision"], decided["reason_code"], decided["reasons"]) == ("escalate", "outside_catalogue", [why])
    assert decided["runbook"].startswith("https://rb.example.invalid/") and "change_request" not in decided


def test_an_event_with_no_entry_for_its_condition_uses_the_low_tier_runbook():
    decided = remediation.decide(event("peer_down"), catalogue_policy(ANCHOR), [], NOW_DT)
    assert decided["reasons"] == ["no remediation for peer_down is in the catalogue"]
    assert decided["runbook"] == "https://runbooks.example.invalid/netops/standard"


def history_item(minutes_ago, remediation_name="restore_anchor_route", device="r1", decision="remediate", phase="risk"):
    ts = (NOW_DT - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"seq": 1, "kind": remediation.DECIDED_EVENT, "ts": ts,
            "data": {"phase": phase, "decision": decision, "remediation": remediation_name, "device": device}}


def test_rate_limit_counts_only_this_remediation_on_this_device_inside_the_window():
    pol = catalogue_policy()
    ignored = [history_item(61), history_item(5, device="r3"), history_item(5, remediation_name="other"),
               history_item(5, decision="escalate"), history_item(5, phase="catalogue")]
    assert remediation.decide(event(), pol, ignored, NOW_DT)["decision"] == "remediate"
    limited = remediation.decide(event(), pol, ignored + [history_item(59)], NOW_DT)
    assert (limited["decision"], limited["reason_code"], limited["rate"]) == ("escalate", "rate_limited",
                                                                              {"used": 1, "max": 1, "window_minutes": 60})
    assert limited["reasons"] == ["restore_anchor_route already ran 1 time(s) on r1 in the last 60 minutes (max 1)"]


@pytest.mark.parametrize("field, value", [("prefix", "198.51.100.0/24\n ip route 0.0.0.0/0 blackhole"), ("prefix", "198.51.100.1/24"),
                                          ("device", "r1; reboot"), ("local_as", "65001 x")])
def test_event_values_that_could_inject_configuration_are_refused(field, value):
    with pytest.raises(ValidationError, match=r"event\.%s" % field):
        remediation.decide(event(**{field: value}), catalogue_policy(), [], NOW_DT)


def test_peer_event_renders_its_lines_from_checked_values():
    decided = remediation.decide(event("peer_down", device="r2", local_as=65002, peer="10.0.23.3"), catalogue_policy(), [], NOW_DT,
                                 groups=["routers"])
    assert decided["change_request"]["config"]["r2"]["lines"] == ["router bgp 65002", " no neighbor 10.0.23.3 shutdown"]


# --------------------------------------------------------------------------------------------------- the risk decision


def assessed(decided, running):
    return assess(decided["change_request"], decided_policy(), INVENTORY, {decided["device"]: {"running": running}}, now=NOW)


def decided_policy():
    return catalogue_policy()


def test_low_risk_standard_remediation_goes_ahead():
    decided = remediation.decide(event(), decided_policy(), [], NOW_DT, groups=["edge"])
    assessment = assessed(decided, FRR_R1)
    assert (assessment["tier"], assessment["change_class"], assessment["standard_change"]) == ("low", "standard", "restore_anchor_route")
    assert "approval" not in assessment["required_gates"]
    final = remediation.decide_risk(decided, assessment)
    assert (final["decision"], final["phase"], final["tier"]) == ("remediate", "risk", "low")


def test_the_same_remediation_on_the_core_router_assesses_high_and_escalates():
    decided = remediation.decide(event("peer_down", device="r2", local_as=65002, peer="10.0.12.1"), decided_policy(), [], NOW_DT,
                                 groups=["routers", "core"])
    shut = FRR_R2.replace(" neighbor 10.0.12.1 remote-as 65001\n", " neighbor 10.0.12.1 remote-as 65001\n neighbor 10.0.12.1 shutdown\n")
    assert shut != FRR_R2
    assessment = assessed(decided, shut)
    final = remediation.decide_risk(decided, assessment)
    assert (final["decision"], final["reason_code"], final["tier"]) == ("escalate", "above_risk", "high")
    assert final["reasons"][0].startswith("assessed tier high is above the remediation's max_tier low (touches_bgp")


def test_a_hand_written_remediation_request_with_other_lines_is_not_pre_approved():
    decided = remediation.decide(event(), decided_policy(), [], NOW_DT, groups=["edge"])
    forged = copy.deepcopy(decided["change_request"])
    forged["config"]["r1"]["lines"] = ["ip route 203.0.113.0/24 10.0.12.2"]
    assessment = assess(forged, decided_policy(), INVENTORY, {"r1": {"running": FRR_R1}}, now=NOW)
    assert assessment["change_class"] == "normal" and "approval" in assessment["required_gates"]
    assert "its configuration lines are not the catalogue's" in assessment["change_class_reason"]
    assert remediation.decide_risk(decided, assessment)["reason_code"] in ("not_standard", "above_risk")
