# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Realistic device outputs (FRR 8.4 JSON shapes, nft -j, ip -j) shared by the state tests (no tests here)."""

from __future__ import annotations

import copy
import json

BGP_SUMMARY = {
    "ipv4Unicast": {
        "routerId": "10.255.0.2", "as": 65002, "vrfId": 0, "vrfName": "default", "tableVersion": 9, "ribCount": 7,
        "peerCount": 2, "peers": {
            "10.0.12.1": {"hostname": "r1", "remoteAs": 65001, "localAs": 65002, "version": 4, "msgRcvd": 40, "msgSent": 42,
                          "tableVersion": 0, "outq": 0, "inq": 0, "peerUptime": "00:02:11", "peerUptimeMsec": 131000,
                          "pfxRcd": 3, "pfxSnt": 5, "state": "Established", "peerState": "OK",
                          "connectionsEstablished": 1, "connectionsDropped": 0, "idType": "ipv4"},
            "10.0.23.3": {"hostname": "r3", "remoteAs": 65003, "localAs": 65002, "version": 4, "msgRcvd": 39, "msgSent": 41,
                          "pfxRcd": 2, "pfxSnt": 5, "state": "Established", "peerState": "OK", "idType": "ipv4"},
        },
        "failedPeers": 0, "displayedPeers": 2, "totalPeers": 2, "dynamicPeers": 0, "bestPath": {"multiPathRelax": "false"},
    },
}

BGP_V4 = {
    "vrfId": 0, "vrfName": "default", "tableVersion": 9, "routerId": "10.255.0.2", "defaultLocPrf": 100, "localAS": 65002,
    "routes": {
        "10.255.0.1/32": [{"valid": True, "bestpath": True, "selectionReason": "First path received", "pathFrom": "external",
                           "prefix": "10.255.0.1", "prefixLen": 32, "network": "10.255.0.1/32", "metric": 0, "weight": 0,
                           "peerId": "10.0.12.1", "path": "65001", "origin": "IGP",
                           "nexthops": [{"ip": "10.0.12.1", "hostname": "r1", "afi": "ipv4", "used": True}]}],
        "10.255.0.2/32": [{"valid": True, "bestpath": True, "pathFrom": "external", "prefix": "10.255.0.2", "prefixLen": 32,
                           "network": "10.255.0.2/32", "metric": 0, "weight": 32768, "peerId": "(unspec)", "path": "",
                           "origin": "IGP", "nexthops": [{"ip": "0.0.0.0", "hostname": "r2", "afi": "ipv4", "used": True}]}],
        "10.255.0.3/32": [
            {"valid": True, "pathFrom": "external", "prefix": "10.255.0.3", "prefixLen": 32, "peerId": "10.0.12.1",
             "path": "65001 65003", "origin": "IGP", "nexthops": [{"ip": "10.0.12.1", "afi": "ipv4", "used": True}]},
            {"valid": True, "bestpath": True, "selectionReason": "AS Path", "pathFrom": "external", "prefix": "10.255.0.3",
             "prefixLen": 32, "metric": 0, "peerId": "10.0.23.3", "path": "65003", "origin": "IGP",
             "nexthops": [{"ip": "10.0.23.3", "afi": "ipv4", "used": True}]},
        ],
    },
}

BGP_V6 = {
    "vrfId": 0, "vrfName": "default", "routerId": "10.255.0.2", "localAS": 65002,
    "routes": {
        "2001:DB8:1::/48": [{"valid": True, "bestpath": True, "pathFrom": "external", "prefix": "2001:db8:1::", "prefixLen": 48,
                             "metric": 10, "peerId": "10.0.12.1", "path": "65001", "origin": "incomplete",
                             "nexthops": [{"ip": "fe80::1", "afi": "ipv6", "scope": "link-local", "used": True},
                                          {"ip": "2001:DB8:12::1", "afi": "ipv6", "scope": "global"}]}],
    },
}

FRR_INTERFACES = {
    "eth-r1": {"administrativeStatus": "up", "operationalStatus": "up", "linkDetection": True, "vrfName": "default",
               "mtu": 1500, "ipAddresses": [{"address": "10.0.12.2/24", "secondary": False, "unnumbered": False}]},
    "eth-r3": {"administrativeStatus": "up", "operationalStatus": "up", "vrfName": "default",
               "ipAddresses": [{"address": "10.0.23.2/24", "secondary": False, "unnumbered": False}]},
    "lo": {"administrativeStatus": "up", "operationalStatus": "up",
           "ipAddresses": [{"address": "10.255.0.2/32", "secondary": False}, {"address": "127.0.0.1/8", "secondary": False}]},
}

RUNNING_CONFIG = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r2
password zebra
enable password s3cr3t-enable
!
router bgp 65002
 neighbor 10.0.12.1 remote-as 65001
 neighbor 10.0.12.1 password TopSecret1
 neighbor 10.0.23.3 remote-as 65003
!
key chain ospf
 key 1
  key-string K3yStr1ng
!
snmp-server community public-c0mm RO
!
end
"""

NFT_RULESET = {"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "fw", "handle": 1}},
    {"chain": {"family": "inet", "table": "fw", "name": "forward", "handle": 1, "type": "filter", "hook": "forward",
               "prio": 0, "policy": "drop"}},
    {"set": {"family": "inet", "table": "fw", "name": "servers", "handle": 3, "type": "ipv4_addr", "elem": ["10.0.45.10"]}},
    {"rule": {"family": "inet", "table": "fw", "chain": "forward", "handle": 4,
              "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 179}},
                       {"counter": {"packets": 120, "bytes": 9000}}, {"accept": None}], "comment": "bgp"}},
    {"rule": {"family": "inet", "table": "fw", "chain": "forward", "handle": 5,
              "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@servers"}},
                       {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                                  "right": {"set": [80, 443]}}},
                       {"counter": {"packets": 7, "bytes": 420}}, {"accept": None}]}},
]}

IP_ADDR = [
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536, "operstate": "UNKNOWN",
     "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
    {"ifindex": 2, "ifname": "eth-r3", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1500, "operstate": "UP",
     "addr_info": [{"family": "inet", "local": "10.0.34.4", "prefixlen": 24},
                   {"family": "inet6", "local": "FE80::1", "prefixlen": 64, "scope": "link"}]},
    {"ifindex": 3, "ifname": "eth-srv", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1500, "operstate": "UP",
     "addr_info": [{"family": "inet", "local": "10.0.45.1", "prefixlen": 24}]},
]


def frr_outputs(**changes):
    """FRR command outputs as vtysh prints them; keyword changes replace a command's data."""
    data = {"show bgp summary json": copy.deepcopy(BGP_SUMMARY), "show bgp ipv4 unicast json": copy.deepcopy(BGP_V4),
            "show bgp ipv6 unicast json": copy.deepcopy(BGP_V6), "show interface json": copy.deepcopy(FRR_INTERFACES)}
    out = dict((k, json.dumps(v, indent=2)) for k, v in data.items())
    out["show running-config"] = RUNNING_CONFIG
    out.update(changes)
    return out


def linux_outputs():
    return {"nft -j list ruleset": json.dumps(NFT_RULESET), "ip -j addr": json.dumps(IP_ADDR)}
