# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""impact_scope's named rules on plain snapshots: held hosts, peer owners, routes through a target, the impact reasons."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import impact


def snap(addresses=(), peers=None, routes=None, asn=None):
    sections = {"interfaces": {"eth0": {"addresses": ["%s/24" % a for a in addresses]}}}
    if peers is not None:
        sections["peers"] = peers
    if routes is not None:
        sections["routes"] = routes
    if asn is not None:
        sections["bgp"] = {"asn": asn}
    return {"sections": sections}


# r1 (AS 65001, 10.0.12.1) peers with r2 (10.0.12.2); r3 learns 192.0.2.0/24 through r2 with 65001 in the path;
# r4 routes nothing through r1; fw1 has no routing sections
SNAPSHOTS = {
    "r1": snap(["10.0.12.1"], peers={"10.0.12.2": {"remoteAs": 65002}}, routes={}, asn=65001),
    "r2": snap(["10.0.12.2", "10.0.23.2"], peers={"10.0.12.1": {"remoteAs": 65001}, "10.0.23.3": {"remoteAs": 65003}}, routes={}),
    "r3": snap(["10.0.23.3"], peers={"10.0.23.2": {"remoteAs": 65002}},
               routes={"192.0.2.0/24": {"nexthop": "10.0.23.2", "as_path": "65002 65001"}, "198.51.100.0/24": {"nexthop": "10.0.23.2"}}),
    "r4": snap(["10.0.34.4"], peers={}, routes={"203.0.113.0/24": {"nexthop": "10.0.34.3", "as_path": "65003"}}),
    "fw1": snap(["10.0.12.9"]),
}


def test_held_rule_keeps_only_the_hosts_a_limited_play_holds():
    assert impact._held_hosts(None, ["r1", "r9"], ("r2",)) == (["r1", "r9"], ("r2",))
    assert impact._held_hosts(["r1", "r2"], ["r1", "r9"], ["r2", "r3"]) == (["r1"], ["r2"])


def test_peer_owner_rule_finds_the_device_behind_each_peer_address():
    topo = {host: impact.device_topology(doc) for host, doc in SNAPSHOTS.items()}
    owners = {"10.0.12.2": "r2", "10.0.12.1": "r1"}
    assert impact._peer_owners("r1", topo, owners) == ["r2"]
    assert impact._peer_owners("r1", topo, {"10.0.12.2": "r1"}) == []  # its own address is not a neighbor


def test_route_through_rule_next_hop_or_as_path():
    topo = impact.device_topology(SNAPSHOTS["r3"])
    assert impact._routes_through(topo, {"10.0.23.2"}, None) == ["192.0.2.0/24", "198.51.100.0/24"]
    assert impact._routes_through(topo, {"10.0.12.1"}, "65001") == ["192.0.2.0/24"]
    assert impact._routes_through(topo, {"10.0.12.1"}, None) == []


def test_impact_on_one_device_names_peering_and_routes():
    topo = impact.device_topology(SNAPSHOTS["r2"])
    assert impact._impact_on(topo, "r1", {"10.0.12.1"}, "65001") == ["BGP neighbor of r1"]
    r3 = impact.device_topology(SNAPSHOTS["r3"])
    assert impact._impact_on(r3, "r1", {"10.0.12.1"}, "65001") == ["1 route(s) through r1 (e.g. 192.0.2.0/24)"]


def test_impact_scope_reasons_through_the_rules():
    scope = impact.impact_scope(["r1"], SNAPSHOTS, mode="impact", named_hosts=["fw1"])
    assert scope["reasons"] == {"r1": ["target"], "fw1": ["named by an expected check"], "r2": ["BGP neighbor of r1"],
                                "r3": ["1 route(s) through r1 (e.g. 192.0.2.0/24)"]}
    assert scope["excluded"] == ["r4"] and scope["unsnapshotted"] == []
    network = impact.impact_scope(["r1"], SNAPSHOTS, mode="network")
    assert network["hosts"] == sorted(SNAPSHOTS) and network["reasons"]["r4"] == ["network scope"]
    narrow = impact.impact_scope(["r1", "r9"], SNAPSHOTS, mode="targets_only")
    assert narrow["hosts"] == ["r1", "r9"] and narrow["unsnapshotted"] == ["r9"]
    held = impact.impact_scope(["r1"], SNAPSHOTS, mode="impact", held=["r2", "r3"])
    assert held["reasons"] == {}  # the target is verified by the branch that holds it
