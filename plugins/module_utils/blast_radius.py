# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blast radius: devices, sites and critical devices touched, and prefix overlap with protected prefixes (netaddr IPSet)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, ValidationError

try:
    import netaddr
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    netaddr = None

LEVELS = ("low", "medium", "high", "critical")


def to_ipset(prefixes, where="prefixes"):
    """An IPSet from CIDR strings / addresses (addresses become /32 or /128); bad entries raise ValidationError."""
    if netaddr is None:
        raise MissingLibrary("netaddr", "to compare prefixes")
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    if isinstance(prefixes, netaddr.IPSet):
        return prefixes
    networks = []
    for index, prefix in enumerate(prefixes or []):
        try:
            networks.append(netaddr.IPNetwork(str(prefix).strip()).cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise ValidationError("'%s' is not an IPv4 or IPv6 prefix." % (prefix,), where="%s[%d]" % (where, index),
                                  fix='write it in CIDR form, e.g. "10.0.45.0/24" or "fd00::/48".')
    # One merge of the whole list (sort + cidr_merge): IPSet.add() per prefix re-compacts the set every time.
    return netaddr.IPSet(networks)


def cidrs(ipset):
    """Sorted CIDR strings of an IPSet (IPv4 first), host routes as /32 or /128."""
    return [str(network) for network in ipset.iter_cidrs()]


def prefix_overlap(prefixes, others):
    """The address space common to two prefix lists, as sorted CIDR strings (empty when disjoint)."""
    return cidrs(to_ipset(prefixes, "prefixes") & to_ipset(others, "others"))


def prefixes_overlap(prefixes, others):
    """True when any address of ``prefixes`` is in ``others`` (subnets, supernets and equal prefixes overlap)."""
    return bool(to_ipset(prefixes, "prefixes") & to_ipset(others, "others"))


def protected_hits(prefixes, protected):
    """The protected prefixes (as written in the policy) that share at least one address with ``prefixes``."""
    touched = to_ipset(prefixes, "prefixes")
    return [prefix for prefix in protected if touched & to_ipset([prefix], "protected_prefixes")]


def _family(ipset, version):
    return netaddr.IPSet(network for network in ipset.iter_cidrs() if network.version == version)


def compute_blast_radius(targets, fleet_size, prefixes_touched, protected_prefixes, critical_at="high"):
    """Blast radius from target facts ({host, site, criticality, ...}), fleet size and prefixes touched."""
    touched = to_ipset(prefixes_touched, "prefixes_touched")
    protected = to_ipset(protected_prefixes, "protected_prefixes")
    overlap = touched & protected
    threshold = LEVELS.index(critical_at)
    devices = sorted(target["host"] for target in targets)
    sites = sorted({target["site"] for target in targets if target.get("site")})
    critical = sorted(target["host"] for target in targets
                      if target.get("criticality") in LEVELS and LEVELS.index(target["criticality"]) >= threshold)
    families = {}
    for name, version in (("ipv4", 4), ("ipv6", 6)):
        part_touched, part_overlap = _family(touched, version), _family(overlap, version)
        families[name] = {"prefixes_touched": cidrs(part_touched), "protected_overlap": cidrs(part_overlap),
                          "addresses_touched": part_touched.size, "addresses_protected_touched": part_overlap.size}
    return {
        "devices": devices,
        "device_count": len(devices),
        "sites": sites,
        "site_count": len(sites),
        "critical_devices": critical,
        "critical_device_count": len(critical),
        "critical_at": critical_at,
        "fleet_size": fleet_size,
        "fleet_share": (float(len(devices)) / fleet_size) if fleet_size else 0.0,
        "prefixes_touched": cidrs(touched),
        "protected_prefixes": list(protected_prefixes or []),
        "protected_overlap": cidrs(overlap),
        "protected_hit": protected_hits(touched, protected_prefixes or []),
        "touches_protected": bool(overlap),
        "families": families,
    }
