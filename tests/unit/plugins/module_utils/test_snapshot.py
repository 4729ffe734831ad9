# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot normalizers on realistic FRR / nft / ip outputs."""

from __future__ import annotations

import json

import pytest

from ansible_collections.governed.change.plugins.module_utils import snapshot as snap
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError

from state_fixtures import BGP_SUMMARY, frr_outputs, linux_outputs


def test_frr_snapshot_sections():
    s = snap.frr_snapshot("r2", frr_outputs(), taken_at="2024-01-01T00:00:00+00:00")
    assert s["device"] == "r2" and s["platform"] == "frr" and s["taken_at"].startswith("2024")
    assert set(s["sections"]) == {"peers", "routes", "interfaces", "config", "bgp"}
    peer = s["sections"]["peers"]["10.0.12.1"]
    assert peer == {"address": "10.0.12.1", "state": "Established", "established": True, "remoteAs": 65001,
                    "pfxRcd": 3, "pfxSnt": 5, "hostname": "r1", "afis": {"ipv4Unicast": {"state": "Established", "pfxRcd": 3, "pfxSnt": 5}}}


def test_frr_routes_best_path_and_v6_canonical():
    routes = snap.frr_snapshot("r2", frr_outputs())["sections"]["routes"]
    assert routes["10.255.0.3/32"] == {"nexthop": "10.0.23.3", "as_path": "65003", "metric": 0, "origin": "IGP", "best": True, "paths": 2}
    assert routes["10.255.0.2/32"]["as_path"] == "" and routes["10.255.0.2/32"]["nexthop"] == "0.0.0.0"
    # prefix and global next hop canonicalized, link-local next hop skipped
    assert routes["2001:db8:1::/48"] == {"nexthop": "2001:db8:12::1", "as_path": "65001", "metric": 10, "origin": "incomplete",
                                         "best": True, "paths": 1}


def test_frr_interfaces_and_config_hash_redacted():
    s = snap.frr_snapshot("r2", frr_outputs())
    assert s["sections"]["interfaces"]["lo"] == {"name": "lo", "state": "up", "admin": "up", "addresses": ["10.255.0.2/32", "127.0.0.1/8"]}
    config = s["sections"]["config"]["running"]
    assert [r["kind"] for r in config["redactions"]] == ["password", "enable_password", "bgp_neighbor_password", "key_string", "snmp_community"]
    text = json.dumps(s)
    for secret in ("zebra", "s3cr3t-enable", "TopSecret1", "K3yStr1ng", "public-c0mm"):
        assert secret not in text
    # a changed secret changes the hash (the placeholder is stable per secret)
    other = frr_outputs(**{"show running-config": frr_outputs()["show running-config"].replace("TopSecret1", "TopSecret2")})
    assert snap.frr_snapshot("r2", other)["sections"]["config"]["running"]["sha256"] != config["sha256"]
    # header noise does not
    quiet = frr_outputs(**{"show running-config": frr_outputs()["show running-config"].replace("Building configuration...\n", "")})
    assert snap.frr_snapshot("r2", quiet)["sections"]["config"]["running"]["sha256"] == config["sha256"]


def test_per_family_summary_and_peer_down():
    summary = json.loads(json.dumps(BGP_SUMMARY["ipv4Unicast"]))
    summary["peers"]["10.0.23.3"].update(state="Active", pfxRcd=None)
    del summary["peers"]["10.0.23.3"]["pfxRcd"]
    s = snap.frr_snapshot("r2", {"show bgp ipv4 unicast summary json": json.dumps(summary)})
    peer = s["sections"]["peers"]["10.0.23.3"]
    assert peer["state"] == "Active" and peer["established"] is False and peer["pfxRcd"] is None
    assert set(s["sections"]) == {"peers"}  # commands not given: sections not captured


def test_missing_keys_give_empty_sections():
    s = snap.frr_snapshot("r2", {"show bgp summary json": "{}", "show bgp ipv4 unicast json": "{}", "show interface json": "{}"})
    assert s["sections"] == {"peers": {}, "routes": {}, "interfaces": {}}
    s = snap.linux_snapshot("fw1", {"nft -j list ruleset": '{"nftables": []}', "ip -j addr": "[]"})
    assert s["sections"]["rules"] == {} and s["sections"]["interfaces"] == {}


def test_unparseable_json_names_the_command():
    with pytest.raises(DeviceError) as err:
        snap.frr_snapshot("r2", {"show bgp summary json": "% Unknown command: show bgp summary json"})
    assert "r2: show bgp summary json" in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(DeviceError) as err:
        snap.linux_snapshot("fw1", {"nft -j list ruleset": ""})
    assert "nft -j list ruleset" in str(err.value)


def test_linux_snapshot_rules_counters_interfaces_probes():
    s = snap.linux_snapshot("fw1", linux_outputs(), probes={"10.0.45.10:80": "ok", "10.0.34.3": False})
    rules = s["sections"]["rules"]
    assert rules["inet fw/forward/4"]["expr"] == "tcp dport == 179 accept"
    assert rules["inet fw/forward/4"]["comment"] == "bgp"
    assert rules["inet fw/forward/5"]["expr"] == "ip daddr == @servers tcp dport == { 80, 443 } accept"
    assert s["sections"]["counters"]["inet fw/forward/4"] == {"id": "inet fw/forward/4", "packets": 120, "bytes": 9000}
    assert s["sections"]["chains"]["inet fw/forward"]["policy"] == "drop"
    assert s["sections"]["sets"]["inet fw/servers"]["elements"] == ["10.0.45.10"]
    ifs = s["sections"]["interfaces"]
    assert ifs["lo"]["state"] == "up" and ifs["eth-r3"]["addresses"] == ["10.0.34.4/24", "fe80::1/64"]
    assert s["sections"]["probes"] == {"10.0.45.10:80": {"target": "10.0.45.10:80", "result": "ok"},
                                       "10.0.34.3": {"target": "10.0.34.3", "result": "fail"}}


def test_linux_interface_down():
    data = json.loads(linux_outputs()["ip -j addr"])
    data[2].update(operstate="DOWN", flags=["BROADCAST", "MULTICAST", "UP"])
    s = snap.linux_snapshot("fw1", {"ip -j addr": json.dumps(data)})
    assert s["sections"]["interfaces"]["eth-srv"]["state"] == "down" and s["sections"]["interfaces"]["eth-srv"]["admin"] == "up"


def test_take_snapshot_dispatch_and_errors():
    assert snap.take_snapshot("linux", "fw1", linux_outputs())["platform"] == "linux"
    with pytest.raises(ValidationError, match="unknown platform"):
        snap.take_snapshot("junos", "x", {})
    with pytest.raises(ValidationError, match="outputs must be a dict"):
        snap.frr_snapshot("r1", "show bgp")
