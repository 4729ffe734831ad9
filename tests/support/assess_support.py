# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared lab data for the assess tests (lab inventory, running configs, policy and change request builders)."""

from __future__ import annotations

import copy
import os

import yaml

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.policy import validate_policy

EXAMPLES = os.path.join(ROOT, "examples")
POLICY_FILE = os.path.join(EXAMPLES, "policy", "policy.yml")
NOW = "2026-11-01T00:00:00+00:00"

INVENTORY = {
    "hosts": {
        "r1": {"vars": {"site": "lon", "role": "edge", "criticality": "medium", "bgp_asn": 65001}, "groups": ["routers", "edge", "site_lon"]},
        "r2": {"vars": {"site": "lon", "role": "core", "criticality": "high", "bgp_asn": 65002}, "groups": ["routers", "core", "site_lon"]},
        "r3": {"vars": {"site": "ams", "role": "edge", "criticality": "medium", "bgp_asn": 65003}, "groups": ["routers", "edge", "site_ams"]},
        "fw1": {"vars": {"site": "ams", "role": "firewall", "criticality": "high"}, "groups": ["firewalls", "site_ams"]},
    },
    "groups": {"routers": ["r1", "r2", "r3"], "firewalls": ["fw1"], "core": ["r2"], "edge": ["r1", "r3"],
               "site_lon": ["r1", "r2"], "site_ams": ["r3", "fw1"]},
}

FRR_R2 = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r2
!
interface lo
 ip address 10.255.0.2/32
exit
!
router bgp 65002
 bgp router-id 10.255.0.2
 neighbor 10.0.12.1 remote-as 65001
 !
 address-family ipv4 unicast
  network 10.255.0.2/32
 exit-address-family
exit
!
end
"""

NFT_FW1 = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tct state established,related accept
\t\tip saddr 10.0.34.0/24 ip daddr 10.0.45.0/24 icmp type echo-request accept
\t}
}
"""


def example(name):
    """Raw YAML of an example file under examples/."""
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def raw_policy():
    """A fresh raw copy of the example lab policy."""
    return copy.deepcopy(example("policy/policy.yml"))


def policy(**overrides):
    """The example policy (normalised), with top-level overrides."""
    doc = raw_policy()
    doc.update(overrides)
    return validate_policy(doc, source="policy.yml", base_dir=os.path.join(EXAMPLES, "policy"))


def rules_policy(rules, tiers=None, **extra):
    """The example policy with only the given risk rules (and tiers)."""
    doc = raw_policy()
    doc["risk"] = {"rules": rules, "tiers": tiers or {"low": 0, "medium": 20, "high": 50, "critical": 80}}
    doc.update(extra)
    return validate_policy(doc, source="policy.yml")


def change(**overrides):
    """A valid normal change request on r2 (raw), with top-level overrides (None removes a key)."""
    doc = {
        "id": "CHG-1",
        "title": "Test change",
        "description": "A change used by the unit tests.",
        "author": "carol",
        "type": "normal",
        "category": "bgp_policy",
        "targets": ["r2"],
        "config": {"r2": {"lines": ["ip prefix-list PL seq 5 permit 10.20.0.0/16"]}},
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def facts(**overrides):
    """A change facts document (as facts.py builds it) for direct rule evaluation."""
    doc = {
        "id": "CHG-1", "type": "normal", "category": "bgp_policy", "author": "carol",
        "targets": [{"host": "r2", "role": "core", "site": "lon", "criticality": "high", "groups": ["core", "routers", "site_lon"]}],
        "device_count": 1, "site_count": 1, "sites": ["lon"], "fleet_size": 4, "fleet_share": 0.25,
        "max_criticality": "high", "critical_device_count": 1, "roles": ["core"], "groups": ["core", "routers", "site_lon"],
        "diff": {"lines_added": 3, "lines_removed": 1, "lines_changed": 4, "devices_changed": 1, "devices_unverified": 0},
        "sections_touched": ["ip prefix-list", "router bgp"], "prefixes_touched": ["10.20.0.0/16"],
        "protected_overlap": [], "touches_protected": False, "window_requested": False,
        "rollback_strategy": "backup", "expected_count": 1,
    }
    doc.update(overrides)
    return doc
