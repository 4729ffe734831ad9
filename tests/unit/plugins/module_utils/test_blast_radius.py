# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blast radius: devices, sites, critical devices, fleet share, and prefix overlap as IP sets (v4 and v6)."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils.blast_radius import (
    compute_blast_radius, prefix_overlap, prefixes_overlap, protected_hits, to_ipset,
)
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

PROTECTED = ["10.255.0.0/24", "10.0.45.0/24", "fd00:255::/48"]

# (case, prefixes touched, expected overlap with PROTECTED, protected prefixes hit)
OVERLAP = [
    ("v4_equal", ["10.0.45.0/24"], ["10.0.45.0/24"], ["10.0.45.0/24"]),
    ("v4_subnet_of_protected", ["10.0.45.128/25"], ["10.0.45.128/25"], ["10.0.45.0/24"]),
    ("v4_supernet_of_protected", ["10.0.0.0/16"], ["10.0.45.0/24"], ["10.0.45.0/24"]),
    ("v4_supernet_of_two", ["10.0.0.0/8"], ["10.0.45.0/24", "10.255.0.0/24"], ["10.255.0.0/24", "10.0.45.0/24"]),
    ("v4_host_route_inside", ["10.255.0.2/32"], ["10.255.0.2/32"], ["10.255.0.0/24"]),
    ("v4_host_route_outside", ["10.255.1.2/32"], [], []),
    ("v4_bare_address_is_host_route", ["10.0.45.2"], ["10.0.45.2/32"], ["10.0.45.0/24"]),
    ("v4_disjoint", ["192.0.2.0/24", "198.51.100.0/24"], [], []),
    ("v4_adjacent_not_overlapping", ["10.0.44.0/24", "10.0.46.0/23"], [], []),
    ("v4_partial_overlap_of_list", ["10.0.45.0/26", "203.0.113.0/24"], ["10.0.45.0/26"], ["10.0.45.0/24"]),
    ("v4_default_route", ["0.0.0.0/0"], ["10.0.45.0/24", "10.255.0.0/24"], ["10.255.0.0/24", "10.0.45.0/24"]),
    ("v6_equal", ["fd00:255::/48"], ["fd00:255::/48"], ["fd00:255::/48"]),
    ("v6_subnet", ["fd00:255:0:1::/64"], ["fd00:255:0:1::/64"], ["fd00:255::/48"]),
    ("v6_supernet", ["fd00::/16"], ["fd00:255::/48"], ["fd00:255::/48"]),
    ("v6_host_route", ["fd00:255::2/128"], ["fd00:255::2/128"], ["fd00:255::/48"]),
    ("v6_disjoint", ["2001:db8::/32"], [], []),
    ("v6_host_route_outside", ["fd00:256::1/128"], [], []),
    ("mixed_families", ["10.0.45.7/32", "2001:db8::/32", "fd00:255:0:9::/64", "fd00:255:1::/64"],
     ["10.0.45.7/32", "fd00:255:0:9::/64"], ["10.0.45.0/24", "fd00:255::/48"]),
    ("v4_does_not_match_v4_mapped_v6", ["::ffff:10.0.45.1/128"], [], []),
    ("nothing_touched", [], [], []),
]


@pytest.mark.parametrize("touched,overlap,hit", [case[1:] for case in OVERLAP], ids=[case[0] for case in OVERLAP])
def test_prefix_overlap(touched, overlap, hit):
    assert prefix_overlap(touched, PROTECTED) == overlap
    assert prefixes_overlap(touched, PROTECTED) is bool(overlap)
    assert protected_hits(touched, PROTECTED) == hit
    # Overlap is symmetric: sets, not strings.
    assert prefix_overlap(PROTECTED, touched) == overlap


def test_sets_not_strings():
    # Textual tricks that string matching gets wrong.
    assert prefixes_overlap(["10.0.45.0/24"], ["10.0.4.0/24"]) is False
    assert prefixes_overlap(["10.0.45.0/24"], ["10.0.45.0/25"]) is True
    assert prefixes_overlap(["fd00:255:1::/64"], ["fd00:255::/48"]) is False  # shares a text prefix, not an address
    assert prefix_overlap(["10.0.45.0/25", "10.0.45.128/25"], ["10.0.45.0/24"]) == ["10.0.45.0/24"]  # merged as a set
    assert prefixes_overlap(["FD00:255::1/128"], ["fd00:255::/48"]) is True


def test_bad_prefix_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        to_ipset(["10.0.0.0/8", "not-a-prefix"], "protected_prefixes")
    assert str(info.value) == ("protected_prefixes[1]: 'not-a-prefix' is not an IPv4 or IPv6 prefix. "
                               "Fix: write it in CIDR form, e.g. \"10.0.45.0/24\" or \"fd00::/48\".")


TARGETS = [
    {"host": "r2", "site": "lon", "criticality": "high", "role": "core", "groups": []},
    {"host": "r1", "site": "lon", "criticality": "medium", "role": "edge", "groups": []},
    {"host": "fw1", "site": "ams", "criticality": "critical", "role": "firewall", "groups": []},
    {"host": "x9", "site": None, "criticality": "low", "role": None, "groups": []},
]


def test_blast_radius_devices_sites_critical_and_share():
    out = compute_blast_radius(TARGETS, 8, ["10.255.0.2/32", "2001:db8::/32", "fd00:255::1"], PROTECTED)
    assert out["devices"] == ["fw1", "r1", "r2", "x9"] and out["device_count"] == 4
    assert out["sites"] == ["ams", "lon"] and out["site_count"] == 2  # a host without site adds no site
    assert out["critical_devices"] == ["fw1", "r2"] and out["critical_device_count"] == 2
    assert out["fleet_share"] == 0.5 and out["fleet_size"] == 8
    assert out["prefixes_touched"] == ["10.255.0.2/32", "2001:db8::/32", "fd00:255::1/128"]
    assert out["protected_overlap"] == ["10.255.0.2/32", "fd00:255::1/128"]
    assert out["protected_hit"] == ["10.255.0.0/24", "fd00:255::/48"]
    assert out["touches_protected"] is True
    assert out["families"]["ipv4"] == {"prefixes_touched": ["10.255.0.2/32"], "protected_overlap": ["10.255.0.2/32"],
                                       "addresses_touched": 1, "addresses_protected_touched": 1}
    assert out["families"]["ipv6"]["protected_overlap"] == ["fd00:255::1/128"]
    assert out["families"]["ipv6"]["addresses_touched"] == 2 ** 96 + 1


def test_blast_radius_critical_threshold_and_disjoint():
    out = compute_blast_radius(TARGETS[:2], 4, ["192.0.2.0/24"], PROTECTED, critical_at="critical")
    assert out["critical_devices"] == [] and out["fleet_share"] == 0.5
    assert out["touches_protected"] is False and out["protected_overlap"] == [] and out["protected_hit"] == []
    assert compute_blast_radius([], 0, [], [])["fleet_share"] == 0.0
