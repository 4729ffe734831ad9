# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The "change facts" document risk rules query: targets, inventory attributes, diff statistics, prefixes."""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.governed.change.plugins.module_utils.blast_radius import compute_blast_radius
from ansible_collections.governed.change.plugins.module_utils.change_request import describe, shown
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import CRITICALITY_LEVELS, device_criticality

PATTERN_CHARS = frozenset("*?[")
# Inventory host names reach ledger records, evidence and device commands: DNS-like names or IP addresses only.
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$")


def _check_inventory_shape(inventory):
    if not isinstance(inventory, dict) or not isinstance(inventory.get("hosts"), dict):
        raise ValidationError("must be a mapping with a 'hosts' mapping, got %s." % describe(inventory), where="inventory",
                              fix='pass {"hosts": {name: {"vars": {...}, "groups": [...]}}, "groups": {group: [hosts]}}.')
    if not inventory["hosts"]:
        raise ValidationError("has no hosts.", where="inventory.hosts", fix="assess against an inventory that holds the targets.")
    unknown = sorted(set(inventory) - {"hosts", "groups", "normalized"})
    if unknown:
        raise ValidationError("has unknown key '%s'." % unknown[0], where="inventory", fix="use only 'hosts' and 'groups'.")
    groups_in = inventory.get("groups") or {}
    if not isinstance(groups_in, dict):
        raise ValidationError("must be a mapping of group to host list, got %s." % describe(groups_in),
                              where="inventory.groups", fix="write it as {group: [host, ...]}.")
    return groups_in


def _inventory_host(name, entry):
    """One inventory host checked: {"vars", "groups" (a set)}."""
    entry = {} if entry is None else entry
    if not isinstance(name, str) or not HOST_NAME_RE.match(name):
        raise ValidationError("the host name %s is not a DNS name or IP address." % shown(name), where="inventory.hosts",
                              fix="rename the host with 1-253 characters from A-Z a-z 0-9 . _ : - (set ansible_host for "
                                  "the address).")
    where = "inventory.hosts.%s" % name
    if not isinstance(entry, dict):
        raise ValidationError("must be a mapping with 'vars' and 'groups', got %s." % describe(entry), where=where,
                              fix='write it as {"vars": {...}, "groups": [...]}.')
    variables = entry.get("vars") or {}
    member_of = entry.get("groups") or []
    if not isinstance(variables, dict):
        raise ValidationError("must be a mapping, got %s." % describe(variables), where=where + ".vars",
                              fix="pass the host's variables as a mapping.")
    if not _str_list(member_of):
        raise ValidationError("must be a list of group names.", where=where + ".groups", fix="pass the host's groups as a list.")
    return {"vars": variables, "groups": set(member_of)}


def _str_list(value):
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _add_group_members(hosts, groups_in):
    """The groups' own host lists added to the hosts' memberships (membership is the union of both directions)."""
    for group, members in groups_in.items():
        if not _str_list(members):
            raise ValidationError("must be a list of host names.", where="inventory.groups.%s" % group,
                                  fix="list the group's hosts.")
        for member in members:
            if member not in hosts:
                raise ValidationError("lists host '%s', which is not in inventory.hosts." % member,
                                      where="inventory.groups.%s" % group, fix="add the host or remove it from the group.")
            hosts[member]["groups"].add(group)


def normalize_inventory(inventory):
    """Validate the inventory view {"hosts": {name: {"vars", "groups"}}, "groups": {group: [hosts]}}.

    Returns it normalised (marked ``normalized: true`` so it is not re-validated).
    Group membership is the union of both directions; the implicit group ``all`` holds every host.
    """
    groups_in = _check_inventory_shape(inventory)
    hosts, groups = {}, {}
    for name, entry in inventory["hosts"].items():
        hosts[str(name)] = _inventory_host(name, entry)
    _add_group_members(hosts, groups_in)
    for name, entry in hosts.items():
        entry["groups"].discard("all")
        for group in entry["groups"]:
            groups.setdefault(group, set()).add(name)
        entry["groups"] = sorted(entry["groups"])
    groups = {group: sorted(members) for group, members in groups.items()}
    groups["all"] = sorted(hosts)
    return {"hosts": hosts, "groups": groups, "normalized": True}


def resolve_targets(targets, inventory, source="change request"):
    """Hosts named by targets (host names, group names, fnmatch patterns on host names), sorted; none matched -> error."""
    inventory = _inventory(inventory)
    selected = set()
    for index, target in enumerate(targets):
        if target in inventory["hosts"]:
            matched = {target}
        elif target in inventory["groups"]:
            matched = set(inventory["groups"][target])
        elif PATTERN_CHARS & set(target):
            matched = set(fnmatch.filter(inventory["hosts"], target))
        else:
            matched = set()
        if not matched:
            raise ValidationError("'%s' matches no host or group of the inventory." % target,
                                  where="%s: targets[%d]" % (source, index),
                                  fix="use an inventory host, group or pattern (e.g. r*); known groups: %s."
                                  % ", ".join(sorted(inventory["groups"])))
        selected |= matched
    return sorted(selected)


def _inventory(inventory):
    if isinstance(inventory, dict) and inventory.get("normalized") is True:
        return inventory
    return normalize_inventory(inventory)


def config_entries(change_request, host, inventory):
    """The config entries that apply to ``host``: group entries then host entries, in document order."""
    inventory = _inventory(inventory)
    host_groups = set(inventory["hosts"][host]["groups"]) | {"all"}
    group_entries = [(key, entry) for key, entry in change_request["config"].items() if key != host and key in host_groups]
    host_entries = [(key, entry) for key, entry in change_request["config"].items() if key == host]
    return group_entries + host_entries


def check_config_keys(change_request, hosts, inventory, source="change request"):
    """Every config key must be a target host or a group containing a target (else it would silently do nothing)."""
    inventory = _inventory(inventory)
    selected = set(hosts)
    for key in change_request["config"]:
        if key in inventory["hosts"]:
            if key not in selected:
                raise ValidationError("host '%s' is not one of the targets." % key, where="%s: config.%s" % (source, key),
                                      fix="add it to targets or remove its config.")
        elif key in inventory["groups"]:
            if not selected & set(inventory["groups"][key]):
                raise ValidationError("group '%s' contains none of the targets." % key, where="%s: config.%s" % (source, key),
                                      fix="target the group (or some of its hosts) or remove its config.")
        else:
            raise ValidationError("'%s' is not a host or group of the inventory." % key, where="%s: config.%s" % (source, key),
                                  fix="key config by an inventory host or group name.")


def describe_targets(hosts, policy, inventory):
    """Target facts [{host, role, site, criticality, groups}] for resolved hosts."""
    inventory = _inventory(inventory)
    out = []
    for host in hosts:
        entry = inventory["hosts"][host]
        variables = entry["vars"]
        out.append({
            "host": host,
            "role": _optional_str(variables.get("role"), host, "role"),
            "site": _optional_str(variables.get("site"), host, "site"),
            "criticality": device_criticality(policy, host, variables, entry["groups"]),
            "groups": list(entry["groups"]),
        })
    return out


def _optional_str(value, host, name):
    if value is None or isinstance(value, str):
        return value
    raise ValidationError("host var %s must be a string, got %s." % (name, describe(value)), where="inventory: %s" % host,
                          fix="set %s to a string." % name)


def build_facts_and_blast_radius(change_request, policy, inventory, device_diffs):
    """The change facts document and the blast radius (one pass: both need the same target facts)."""
    inventory = _inventory(inventory)
    hosts = resolve_targets(change_request["targets"], inventory)
    targets = describe_targets(hosts, policy, inventory)
    diffs = [device_diffs[host] for host in hosts if host in device_diffs]
    prefixes = sorted({prefix for summary in diffs for prefix in summary["prefixes_touched"]})
    blast = compute_blast_radius(targets, len(inventory["hosts"]), prefixes, policy["protected_prefixes"],
                                 policy["criticality"]["critical_at"])
    criticalities = [target["criticality"] for target in targets]
    facts = {
        "id": change_request["id"],
        "type": change_request["type"],
        "category": change_request["category"],
        "author": change_request["author"],
        "targets": targets,
        "device_count": blast["device_count"],
        "site_count": blast["site_count"],
        "sites": blast["sites"],
        "fleet_size": blast["fleet_size"],
        "fleet_share": blast["fleet_share"],
        "max_criticality": max(criticalities, key=CRITICALITY_LEVELS.index) if criticalities else policy["criticality"]["default"],
        "critical_device_count": blast["critical_device_count"],
        "roles": sorted({target["role"] for target in targets if target["role"]}),
        "groups": sorted({group for target in targets for group in target["groups"]}),
        "diff": {
            "lines_added": sum(summary["lines_added"] for summary in diffs),
            "lines_removed": sum(summary["lines_removed"] for summary in diffs),
            "lines_changed": sum(summary["lines_changed"] for summary in diffs),
            "devices_changed": sum(1 for summary in diffs if summary["changed"]),
            "devices_unverified": sum(1 for summary in diffs if not summary.get("running_known", True)),
        },
        "sections_touched": sorted({section for summary in diffs for section in summary["sections_touched"]}),
        "prefixes_touched": blast["prefixes_touched"],
        "protected_overlap": blast["protected_overlap"],
        "touches_protected": blast["touches_protected"],
        "window_requested": change_request.get("window") is not None,
        "rollback_strategy": change_request["rollback"]["strategy"],
        "expected_count": len(change_request["expected"]),
    }
    return facts, blast


def build_facts(change_request, policy, inventory, device_diffs):
    """The change facts document (see docs/policy.md) for a normalised change request and policy."""
    return build_facts_and_blast_radius(change_request, policy, inventory, device_diffs)[0]
