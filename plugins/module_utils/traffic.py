# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic checks for firewall changes: which reachability probes run, from where, and what their results mean.

* The policy's service catalogue (``services:``): ``{name, address, port?, protocol: tcp|icmp, from, reachable?, via?}``
  - a service the network carries, probed from ``from`` (an inventory host: the probe runs in its namespace / shell).
* ``traffic_plan``: at assess time, for a change with a firewall target (platform linux: nftables), every catalogue
  service that crosses that firewall (``via`` lists it, or no ``via``), plus a probe for each host address and port an
  accept/drop/reject rule of the change names (run from the vantage point of a catalogue service at that address or in
  its subnet). The probes are attached to the firewall target: its snapshots (pre, every settle poll, post, rollback)
  carry their results in ``sections.probes``.
* The verdict is the linux no-regression check ``probes_still_pass`` (checks.py), run on every snapshot of the firewall:
  a probe that passed before the change must pass after it, unless the change request declares the service intended
  (``intended.services_blocked``); and ``blocked_services_stay_blocked``: a service the catalogue marks
  ``reachable: false`` (its probe carries ``reachable: false``) must not become reachable (to open one on purpose, mark it
  reachable in the catalogue first).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

SERVICE_KEYS = ("name", "description", "address", "port", "protocol", "from", "reachable", "via")
SERVICE_REQUIRED = ("name", "address", "protocol", "from")
PROTOCOLS = ("tcp", "icmp")
SERVICE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
FIREWALL_PLATFORMS = ("linux",)
PROBE_TIMEOUT_S = 2
# A rule naming more host addresses x ports than this is probed through the catalogue only (a range is not sampled).
MAX_RULE_PROBES = 8
SUBNET_V4, SUBNET_V6 = 24, 64

_SET = r"(\{[^}]*\}|\S+)"
_DADDR_RE = re.compile(r"\bip6? daddr (!= )?" + _SET)
_SADDR_RE = re.compile(r"\bip6? saddr (!= )?" + _SET)
_DPORT_RE = re.compile(r"\b(tcp|udp) dport (!= )?" + _SET)
_VERDICT_RE = re.compile(r"\b(accept|drop|reject)\b")
_NOT_RULES = ("table", "chain", "set", "map", "flowtable", "type", "policy", "define", "flush", "delete", "destroy", "}",
              "elements", "#")


def _fail(where, problem, fix):
    raise ValidationError(problem, where=where, fix=fix)


# ------------------------------------------------------------------------------------------------ catalogue (policy)


def validate_services(services, where="services", fail=None):
    """The policy's service catalogue, validated and normalized (a list, names unique). ``fail(path, problem, fix)``
    raises the caller's error (the policy's, naming the policy file); by default a ValidationError."""
    fail = fail or _fail
    if services is None:
        return []
    if not isinstance(services, list):
        fail(where, "must be a list of services, got %s." % type(services).__name__,
             "write e.g. services: [{name: srv1_web, address: 10.0.45.10, port: 8080, protocol: tcp, from: r3}].")
    seen = set()
    return [_service(entry, "%s[%d]" % (where, index), seen, fail) for index, entry in enumerate(services)]


def _service(entry, path, seen, fail):
    """One catalogue entry, checked rule by rule (the first broken rule is reported) and normalized."""
    if not isinstance(entry, dict):
        fail(path, "must be a mapping, got %s." % type(entry).__name__, "write {name, address, port, protocol, from}.")
    _service_keys_rule(entry, path, fail)
    _service_name_rule(entry, path, seen, fail)
    address = _service_address(entry, path, fail)
    _service_protocol_rule(entry, path, fail)
    _service_port_rule(entry, path, fail)
    _service_origin_rule(entry, path, fail)
    _service_reachable_rule(entry, path, fail)
    _service_via_rule(entry, path, fail)
    protocol, via = entry["protocol"], entry.get("via")
    item = {"name": entry["name"], "address": str(address), "protocol": protocol, "from": entry["from"],
            "reachable": entry.get("reachable", True), "description": str(entry.get("description") or "")}
    if protocol == "tcp":
        item["port"] = entry.get("port")
    if via is not None:
        item["via"] = sorted(set(via))
    return item


def _service_keys_rule(entry, path, fail):
    """Rule: a service uses only SERVICE_KEYS and has every SERVICE_REQUIRED key."""
    unknown = sorted(set(entry) - set(SERVICE_KEYS))
    if unknown:
        fail("%s.%s" % (path, unknown[0]), "is not a service key.", "use only: %s." % ", ".join(SERVICE_KEYS))
    for key in SERVICE_REQUIRED:
        if entry.get(key) in (None, ""):
            fail("%s.%s" % (path, key), "is missing.", "give every service %s." % ", ".join(SERVICE_REQUIRED))


def _service_name_rule(entry, path, seen, fail):
    """Rule: a service name is 1-64 of a-z 0-9 _ - and unique in the catalogue."""
    name = entry["name"]
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
        fail(path + ".name", "%r is not a service name." % (name,), "use 1-64 of a-z 0-9 _ - (starting with a letter or digit).")
    if name in seen:
        fail(path + ".name", "service '%s' is listed twice." % name, "give every service a unique name.")
    seen.add(name)


def _service_address(entry, path, fail):
    """Rule: a service's address is an IP address (returned parsed)."""
    try:
        return ipaddress.ip_address(str(entry["address"]))
    except ValueError:
        fail(path + ".address", "%r is not an IP address." % (entry["address"],), "write the service's address, e.g. 10.0.45.10.")
    return None


def _service_protocol_rule(entry, path, fail):
    """Rule: a service speaks a protocol the probes speak (tcp or icmp)."""
    protocol = entry["protocol"]
    if protocol not in PROTOCOLS:
        fail(path + ".protocol", "%r is not a protocol the probes speak." % (protocol,),
             "use tcp (a connection to the port) or icmp (a ping); udp cannot be probed without an answering service.")


def _service_port_rule(entry, path, fail):
    """Rule: a tcp service has a port from 1 to 65535; an icmp service has none."""
    protocol, port = entry["protocol"], entry.get("port")
    if protocol == "tcp" and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        fail(path + ".port", "a tcp service needs a port from 1 to 65535, got %r." % (port,), "write e.g. port: 8080.")
    if protocol == "icmp" and port is not None:
        fail(path + ".port", "an icmp service has no port.", "remove port, or use protocol: tcp.")


def _service_origin_rule(entry, path, fail):
    """Rule: a service's from is an inventory host name (the namespace its traffic comes from)."""
    origin = entry["from"]
    if not isinstance(origin, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$", origin):
        fail(path + ".from", "%r is not an inventory host name." % (origin,),
             "name the inventory host whose namespace the traffic comes from, e.g. from: r3.")


def _service_reachable_rule(entry, path, fail):
    """Rule: reachable is true or false (default true)."""
    reachable = entry.get("reachable", True)
    if not isinstance(reachable, bool):
        fail(path + ".reachable", "must be true or false, got %r." % (reachable,), "write reachable: true (or false for a blocked service).")


def _service_via_rule(entry, path, fail):
    """Rule: via, when given, is a non-empty list of inventory hosts (the firewalls the traffic crosses)."""
    via = entry.get("via")
    if via is not None and (not isinstance(via, list) or not via or not all(isinstance(v, str) and v for v in via)):
        fail(path + ".via", "must be a non-empty list of inventory hosts (the firewalls the traffic crosses).",
             "write e.g. via: [fw1], or remove via (the service is then probed for every firewall change).")


# ------------------------------------------------------------------------------------------------ rules (change lines)


def _values(text):
    text = text.strip()
    if text.startswith("{"):
        text = text.strip("{}")
    return [value.strip().strip('"') for value in text.split(",") if value.strip()]


def _networks(text):
    out = []
    for value in _values(text):
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            return None  # a named set (@allowed) or a symbol: unknown, matches anything
    return out


def _ports(text):
    out = []
    for value in _values(text):
        low, _sep, high = value.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None  # a named service (http) or a set reference: unknown, matches any port
        out.append((int(low), int(high or low)))
    return out


def parse_rule(line):
    """What an nft rule line matches: ``{protocol, daddr, saddr, dports, verdict, line}``; None for a line that is not a
    rule with a verdict. ``daddr``/``dports`` are None when the rule does not restrict them (or uses a named set or a
    negation: taken as "anything", the conservative reading)."""
    if not isinstance(line, str):
        return None
    words = line.split()
    if not words or words[0] in _NOT_RULES or (words[0] in ("add", "insert", "replace", "create") and words[1:2] != ["rule"]):
        return None  # a table, chain, set or policy line (a rule is "add|insert|replace rule ..." or a rule body in a chain)
    verdict = _VERDICT_RE.search(line.split(" comment ", 1)[0])
    if not verdict:
        return None
    rule = {"line": line.strip(), "verdict": verdict.group(1), "protocol": None, "daddr": None, "saddr": None, "dports": None}
    match = _DADDR_RE.search(line)
    if match and not match.group(1):
        rule["daddr"] = _networks(match.group(2))
    match = _SADDR_RE.search(line)
    if match and not match.group(1):
        rule["saddr"] = _networks(match.group(2))
    match = _DPORT_RE.search(line)
    if match:
        rule["protocol"] = match.group(1)
        if not match.group(2):
            rule["dports"] = _ports(match.group(3))
    return rule


def rule_matches(rule, service):
    """True when the rule can match the service's traffic (address, protocol and port)."""
    address = ipaddress.ip_address(service["address"])
    if rule["daddr"] is not None and not any(address.version == net.version and address in net for net in rule["daddr"]):
        return False
    if rule["protocol"] is not None:
        if service["protocol"] != rule["protocol"]:
            return False
        if rule["dports"] is not None and not any(low <= service["port"] <= high for low, high in rule["dports"]):
            return False
    return True


def _rule_targets(rule):
    """(address, port) pairs a rule names exactly (host addresses, finite tcp ports), or [] when it names a range/subnet."""
    if rule["protocol"] != "tcp" or not rule["daddr"] or not rule["dports"]:
        return []
    hosts = [net.network_address for net in rule["daddr"] if net.num_addresses == 1]
    if len(hosts) != len(rule["daddr"]):
        return []
    ports = [port for low, high in rule["dports"] for port in range(low, min(high, low + MAX_RULE_PROBES) + 1)]
    if any(high - low >= MAX_RULE_PROBES for low, high in rule["dports"]) or len(hosts) * len(ports) > MAX_RULE_PROBES:
        return []
    return [(str(host), port) for host in hosts for port in ports]


def _same_subnet(one, two):
    one, two = ipaddress.ip_address(one), ipaddress.ip_address(two)
    if one.version != two.version:
        return False
    bits = SUBNET_V4 if one.version == 4 else SUBNET_V6
    return ipaddress.ip_network("%s/%d" % (one, bits), strict=False) == ipaddress.ip_network("%s/%d" % (two, bits), strict=False)


# ------------------------------------------------------------------------------------------------ plan (assess)


def service_probe(service):
    """The probe of a catalogue service (its name is the probe's key in the snapshot)."""
    probe = {"name": service["name"], "type": "tcp" if service["protocol"] == "tcp" else "ping", "host": service["address"],
             "from": service["from"], "timeout": PROBE_TIMEOUT_S}
    if service["protocol"] == "tcp":
        probe["port"] = service["port"]
    if not service["reachable"]:
        probe["reachable"] = False  # must stay unreachable (checks: blocked_services_stay_blocked)
    return probe


def firewall_targets(targets, platforms):
    """The targets that are firewalls (platform linux: nftables)."""
    return [host for host in targets if (platforms or {}).get(host) in FIREWALL_PLATFORMS]


def traffic_plan(services, lines_by_target, platforms, inventory_hosts, intended=None, source="change request"):
    """The traffic checks of a change (the assessment's ``verification.traffic``).

    ``services``: the policy's validated catalogue; ``lines_by_target``: {host: [config lines]}; ``platforms``: {host:
    governed_platform}; ``inventory_hosts``: the inventory's host names. Refuses an ``intended`` service name that is not
    in the catalogue, and a probe whose vantage point is not in the inventory (it could never run).

    Returns ``{firewalls, probes_by_host: {firewall: [probe]}, services: [{name, probe, via, touched_by, ...}],
    rule_probes: [...], unprobed: [{host, rule|service, reason}], intended: {services_blocked}, verdict}``.
    """
    services = services or []
    names = {service["name"] for service in services}
    intended = normalize_services_intended(intended)
    _intended_in_catalogue_rule(intended, names, source)
    firewalls = firewall_targets(sorted(lines_by_target or {}), platforms)
    plan = {"firewalls": firewalls, "probes_by_host": {}, "services": [], "rule_probes": [], "unprobed": [], "intended": intended,
            "probe_timeout_s": PROBE_TIMEOUT_S,
            "verdict": "a probe that passed before the change passes after it, on every poll and after a rollback "
                       "(unless intended.services_blocked names the service); a service marked reachable: false does not "
                       "become reachable"}
    if not firewalls:
        return plan
    rules = _firewall_rules(lines_by_target, firewalls)
    for host in firewalls:
        probes, keys = _service_probes(plan, host, services, rules[host])
        probes += _rule_probes(plan, host, services, rules[host], keys)
        _vantage_in_inventory_rule(probes, inventory_hosts)
        if probes:
            plan["probes_by_host"][host] = probes
    return plan


def _firewall_rules(lines_by_target, firewalls):
    """{firewall: the rules with a verdict among its change lines} (parse_rule)."""
    return {host: [rule for rule in (parse_rule(line) for line in lines_by_target.get(host) or []) if rule] for host in firewalls}


def _intended_in_catalogue_rule(intended, names, source):
    """Rule: a service the change declares intended (blocked on purpose) is a service of the policy's catalogue."""
    for key in ("services_blocked",):
        for index, name in enumerate(intended[key]):
            if name not in names:
                _fail("%s: intended.%s[%d]" % (source, key, index), "'%s' is not a service of the policy's catalogue." % name,
                      "name a service listed under services: in the policy (%s)." % (", ".join(sorted(names)) or "the policy lists none"))


def _service_probes(plan, host, services, rules):
    """Rule: every catalogue service crossing this firewall (via names it, or no via) is probed; notes the change's rules
    that match it. Returns (probes, their keys)."""
    probes, keys = [], set()
    for service in services:
        if service.get("via") and host not in service["via"]:
            continue
        touched = [rule["line"] for rule in rules if rule_matches(rule, service)]
        probe = service_probe(service)
        probes.append(probe)
        keys.add((probe["type"], probe["host"], probe.get("port"), probe["from"]))
        plan["services"].append({"name": service["name"], "via": host, "from": service["from"], "reachable": service["reachable"],
                                 "probe": "%s %s%s" % (probe["type"], probe["host"], ":%d" % probe["port"] if "port" in probe else ""),
                                 "touched_by": touched})
    return probes, keys


def _rule_probes(plan, host, services, rules, keys):
    """Rule: each host address and tcp port a rule names exactly is probed too; a rule naming a subnet, a range or a named
    set is left to the catalogue (listed as unprobed)."""
    probes = []
    for rule in rules:
        pairs = _rule_targets(rule)
        if not pairs and (rule["daddr"] or rule["dports"]):
            plan["unprobed"].append({"host": host, "rule": rule["line"],
                                     "reason": "names a subnet, a range or a named set: probed through the catalogue "
                                               "services it matches only"})
        for address, port in pairs:
            probe = _rule_probe(plan, host, services, rule, (address, port), keys)
            if probe is not None:
                probes.append(probe)
    return probes


def _vantage(services, address):
    """Rule: a rule's probe runs from the catalogue services at that address, else from those in its subnet (sorted)."""
    return sorted({s["from"] for s in services if s["address"] == address}) or \
        sorted({s["from"] for s in services if _same_subnet(s["address"], address)})


def _rule_probe(plan, host, services, rule, target, keys):
    """The probe of one (address, port) a rule names, or None: no vantage point (unprobed), or already probed."""
    address, port = target
    vantage = _vantage(services, address)
    if not vantage:
        plan["unprobed"].append({"host": host, "rule": rule["line"],
                                 "reason": "no vantage point for %s: no catalogue service at or near that address "
                                           "(add the service to the policy's services)" % address})
        return None
    origin = vantage[0]
    if ("tcp", address, port, origin) in keys:
        return None
    keys.add(("tcp", address, port, origin))
    probe = {"name": "rule tcp %s:%d from %s" % (address, port, origin), "type": "tcp", "host": address, "port": port,
             "from": origin, "timeout": PROBE_TIMEOUT_S}
    plan["rule_probes"].append({"name": probe["name"], "via": host, "rule": rule["line"]})
    return probe


def _vantage_in_inventory_rule(probes, inventory_hosts):
    """Rule: every probe runs from an inventory host (else it could never run)."""
    for probe in probes:
        if probe["from"] not in inventory_hosts:
            _fail("policy: services (probe '%s')" % probe["name"],
                  "the probe runs from '%s', which is not in the inventory: it could never run." % probe["from"],
                  "name an inventory host in the service's from (the namespace the traffic comes from), or add via: to "
                  "limit the service to the firewalls it crosses.")


def normalize_services_intended(intended):
    """``{services_blocked: [...]}`` from a change request's ``intended`` (sorted names)."""
    intended = intended or {}
    return {"services_blocked": sorted(set(intended.get("services_blocked") or []))}
