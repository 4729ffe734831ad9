# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalizers: raw device outputs -> a normalized snapshot {device, platform, taken_at, sections}.

Sections are dicts keyed by identity (route by prefix, peer by address, interface by name, rule by
family/table/chain/handle). Small sections repeat the identity inside each record so that a JMESPath
check can select it (``sections.peers.*|[?state=='Established'].address``); routes do not (size).

A command whose output was not given leaves its section out (not captured: checks on it cannot be
decided and fail closed); an output that is valid JSON but lacks the expected keys gives an empty
section; an output that is not JSON raises DeviceError naming the command.
"""

from __future__ import annotations

import json

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data, redact_text
from ansible_collections.governed.change.plugins.module_utils.state_diff import canonical_address, canonical_prefix
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z

FRR_SUMMARY_COMMANDS = ("show bgp summary json", "show bgp ipv4 unicast summary json", "show bgp ipv6 unicast summary json",
                        "show ip bgp summary json", "show bgp vrf all summary json")
FRR_ROUTE_COMMANDS = {"show bgp ipv4 unicast json": "ipv4", "show bgp ipv6 unicast json": "ipv6", "show ip bgp json": "ipv4"}
FRR_INTERFACE_COMMANDS = ("show interface json",)
FRR_CONFIG_COMMANDS = ("show running-config",)
NFT_COMMANDS = ("nft -j list ruleset",)
IP_ADDR_COMMANDS = ("ip -j addr", "ip -j addr show", "ip -j address", "ip -j address show")
# Header lines of `show running-config` that are not configuration (and vary between reads).
CONFIG_NOISE = ("Building configuration...", "Current configuration:")
PLATFORMS = ("frr", "linux")


def now_iso():
    """The snapshot's taken_at: clock.iso_z at seconds precision (ISO 8601 UTC, trailing Z)."""
    return iso_z(precision="seconds")


def parse_json(text, command, device=None):
    """Parse one command's JSON output; anything else is a DeviceError naming the command."""
    if isinstance(text, (dict, list)):
        return text
    where = "%s: %s" % (device, command) if device else command
    if text is None or not str(text).strip():
        raise DeviceError("the command returned no output, expected JSON.", where=where,
                          fix="check that the daemon answering it is running (an empty answer is not an empty state).")
    try:
        return json.loads(text)
    except ValueError as exc:
        first = str(text).strip().splitlines()[0][:120]
        raise DeviceError("the output is not JSON (%s); it starts with %r." % (exc, first), where=where,
                          fix="run the command with its json keyword (e.g. `... json`, `nft -j`, `ip -j`) on a version that supports it.")


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------ FRR


def _summary_blocks(data):
    """Yield (afi_name, block) for every address-family block holding 'peers' (any nesting FRR uses)."""
    if not isinstance(data, dict):
        return
    if isinstance(data.get("peers"), dict):
        yield "", data
        return
    for name, value in sorted(data.items()):
        if isinstance(value, dict):
            if isinstance(value.get("peers"), dict):
                yield name, value
            else:  # `vrf all`: {vrf: {afi: {...}}}
                for sub, block in _summary_blocks(value):
                    yield "%s/%s" % (name, sub) if sub else name, block


def parse_frr_bgp_summary(text, command="show bgp summary json", device=None):
    """`show bgp [ipv4 unicast] summary json` -> {address: {address, state, established, pfxRcd, pfxSnt, remoteAs, afis}}."""
    data = parse_json(text, command, device)
    peers = {}
    for afi, block in _summary_blocks(data):
        for address, info in sorted(block["peers"].items()):
            if not isinstance(info, dict):
                continue
            key = canonical_address(address)
            state = info.get("state") or info.get("peerState") or "unknown"
            rcd, snt = _as_int(info.get("pfxRcd")), _as_int(info.get("pfxSnt"))
            peer = peers.get(key)
            if peer is None:
                peer = peers[key] = {"address": key, "state": state, "established": state == "Established",
                                     "remoteAs": info.get("remoteAs"), "pfxRcd": rcd, "pfxSnt": snt, "afis": {}}
                if info.get("hostname"):
                    peer["hostname"] = info["hostname"]
            else:
                if state != "Established":  # a session down in any family is down
                    peer["state"], peer["established"] = state, False
                peer["pfxRcd"] = None if rcd is None or peer["pfxRcd"] is None else peer["pfxRcd"] + rcd
                peer["pfxSnt"] = None if snt is None or peer["pfxSnt"] is None else peer["pfxSnt"] + snt
            peer["afis"][afi or "default"] = {"state": state, "pfxRcd": rcd, "pfxSnt": snt}
    return peers


def _best_path(paths):
    for path in paths:
        if isinstance(path, dict) and path.get("bestpath"):
            return path, True
    for path in paths:
        if isinstance(path, dict):
            return path, False
    return None, False


def _nexthop(path):
    hops = path.get("nexthops")
    if not isinstance(hops, list) or not hops:
        return None
    chosen = None
    for hop in hops:
        if isinstance(hop, dict) and hop.get("used") and hop.get("scope", "global") == "global":
            chosen = hop
            break
    if chosen is None:
        chosen = next((h for h in hops if isinstance(h, dict) and h.get("scope", "global") == "global"), None)
    if chosen is None:
        chosen = next((h for h in hops if isinstance(h, dict)), None)
    if chosen is None:
        return None
    return canonical_address(chosen.get("ip") or chosen.get("interface") or chosen.get("ifname"))


def _as_path(path):
    value = path.get("path", path.get("aspath"))
    if isinstance(value, dict):
        value = value.get("string")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _route_tables(data):
    """Yield every {prefix: [paths]} table: plain, or per VRF (`vrf all`)."""
    if not isinstance(data, dict):
        return
    if isinstance(data.get("routes"), dict):
        yield data["routes"]
        return
    for value in data.values():
        if isinstance(value, dict) and isinstance(value.get("routes"), dict):
            yield value["routes"]


def parse_frr_bgp_routes(text, command="show bgp ipv4 unicast json", device=None):
    """`show bgp ipv4|ipv6 unicast json` -> {prefix: {nexthop, as_path, metric, origin, best, paths}} (best path's values)."""
    data = parse_json(text, command, device)
    routes = {}
    for table in _route_tables(data):
        for prefix, paths in table.items():
            if isinstance(paths, dict):  # some versions: {"paths": [...]}
                paths = paths.get("paths", [])
            if not isinstance(paths, list):
                continue
            path, best = _best_path(paths)
            if path is None:
                continue
            metric = path.get("metric", path.get("med"))
            routes[canonical_prefix(prefix)] = {"nexthop": _nexthop(path), "as_path": _as_path(path),
                                                "metric": _as_int(metric) if metric is not None else None,
                                                "origin": path.get("origin"), "best": best, "paths": len(paths)}
    return routes


def _frr_interface_blocks(data):
    if not isinstance(data, dict):
        return
    for name, info in data.items():
        if not isinstance(info, dict):
            continue
        if any(k in info for k in ("operationalStatus", "administrativeStatus", "ipAddresses", "ifIndex")):
            yield name, info
        else:  # `vrf all`: {vrf: {ifname: {...}}}
            yield from _frr_interface_blocks(info)


def _updown(value):
    text = str(value or "").lower()
    return "up" if text == "up" else "down"


def parse_frr_interfaces(text, command="show interface json", device=None):
    """`show interface json` -> {name: {name, state, admin, addresses}}."""
    data = parse_json(text, command, device)
    interfaces = {}
    for name, info in _frr_interface_blocks(data):
        addresses = []
        for entry in info.get("ipAddresses") or []:
            addr = entry.get("address") if isinstance(entry, dict) else entry
            if isinstance(addr, str):
                addresses.append(canonical_prefix(addr))
        interfaces[name] = {"name": name, "state": _updown(info.get("operationalStatus")),
                            "admin": _updown(info.get("administrativeStatus", info.get("operationalStatus"))),
                            "addresses": sorted(addresses)}
    return interfaces


def normalize_config(text):
    """A running-config as stored for comparison: header noise dropped, trailing blanks stripped, LF endings."""
    lines = []
    for line in str(text or "").splitlines():
        if line.strip() in CONFIG_NOISE:
            continue
        lines.append(line.rstrip())
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def config_record(text, salt=None):
    """{name, sha256, lines, redactions} of a running-config; the hash is of the normalized, redacted text."""
    redacted, findings = redact_text(normalize_config(text), salt)
    return {"name": "running", "sha256": sha256_of(redacted), "lines": redacted.count("\n"),
            "redactions": [{"line_no": f["line_no"], "kind": f["kind"]} for f in findings]}


# ------------------------------------------------------------------------------------------------ Linux


def _nft_value(value):
    if isinstance(value, dict):
        if "payload" in value:
            p = value["payload"]
            return "%s %s" % (p.get("protocol", p.get("base", "?")), p.get("field", p.get("offset", "?")))
        if "meta" in value:
            return "meta %s" % value["meta"].get("key")
        if "ct" in value:
            return "ct %s" % value["ct"].get("key")
        if "prefix" in value:
            return "%s/%s" % (value["prefix"].get("addr"), value["prefix"].get("len"))
        if "set" in value:
            return "{ %s }" % ", ".join(_nft_value(v) for v in value["set"])
        if "range" in value:
            return "%s-%s" % tuple(_nft_value(v) for v in value["range"][:2])
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, list):
        return "{ %s }" % ", ".join(_nft_value(v) for v in value)
    return str(value)


def _nft_expr_text(exprs):
    """A stable one-line text of a rule's expressions, counters left out (they are state, not the rule)."""
    parts = []
    for expr in exprs or []:
        if not isinstance(expr, dict) or not expr:
            continue
        (name, body), = list(expr.items())[:1]
        if name == "counter":
            continue
        if name == "match" and isinstance(body, dict):
            op = body.get("op", "==")
            parts.append("%s %s %s" % (_nft_value(body.get("left")), op, _nft_value(body.get("right"))))
        elif body is None:
            parts.append(name)
        elif name in ("jump", "goto") and isinstance(body, dict):
            parts.append("%s %s" % (name, body.get("target")))
        else:
            parts.append("%s %s" % (name, json.dumps(body, sort_keys=True, separators=(",", ":"))))
    return " ".join(parts)


def _nft_counter(exprs):
    for expr in exprs or []:
        if isinstance(expr, dict) and isinstance(expr.get("counter"), dict):
            return _as_int(expr["counter"].get("packets")), _as_int(expr["counter"].get("bytes"))
    return None


def parse_nft_ruleset(text, command="nft -j list ruleset", device=None):
    """`nft -j list ruleset` -> {"rules", "counters", "chains", "sets"} sections keyed by "family table/chain/handle"."""
    data = parse_json(text, command, device)
    items = data.get("nftables", []) if isinstance(data, dict) else []
    rules, counters, chains, sets = {}, {}, {}, {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("rule"), dict):
            r = item["rule"]
            key = "%s %s/%s/%s" % (r.get("family"), r.get("table"), r.get("chain"), r.get("handle"))
            record = {"id": key, "family": r.get("family"), "table": r.get("table"), "chain": r.get("chain"),
                      "handle": r.get("handle"), "expr": _nft_expr_text(r.get("expr"))}
            if r.get("comment"):
                record["comment"] = r["comment"]
            rules[key] = record
            counter = _nft_counter(r.get("expr"))
            if counter is not None:
                counters[key] = {"id": key, "packets": counter[0], "bytes": counter[1]}
        elif isinstance(item.get("chain"), dict):
            c = item["chain"]
            key = "%s %s/%s" % (c.get("family"), c.get("table"), c.get("name"))
            chains[key] = dict((k, c.get(k)) for k in ("type", "hook", "prio", "policy") if k in c)
            chains[key]["id"] = key
        elif isinstance(item.get("set"), dict):
            s = item["set"]
            key = "%s %s/%s" % (s.get("family"), s.get("table"), s.get("name"))
            elems = s.get("elem") or []
            sets[key] = {"id": key, "type": s.get("type"), "elements": sorted(_nft_value(e) for e in elems)}
    return {"rules": rules, "counters": counters, "chains": chains, "sets": sets}


def parse_ip_addr(text, command="ip -j addr", device=None):
    """`ip -j addr` -> {ifname: {name, state, admin, addresses}}."""
    data = parse_json(text, command, device)
    interfaces = {}
    for link in data if isinstance(data, list) else []:
        if not isinstance(link, dict) or not link.get("ifname"):
            continue
        flags = link.get("flags") or []
        oper = str(link.get("operstate", "")).upper()
        up = oper == "UP" or (oper == "UNKNOWN" and "UP" in flags and "LOWER_UP" in flags)
        addresses = []
        for info in link.get("addr_info") or []:
            if isinstance(info, dict) and info.get("local") is not None:
                addresses.append(canonical_prefix("%s/%s" % (info["local"], info.get("prefixlen", ""))).strip("/"))
        name = link["ifname"]
        interfaces[name] = {"name": name, "state": "up" if up else "down", "admin": "up" if "UP" in flags else "down",
                            "addresses": sorted(addresses)}
    return interfaces


_OK = ("ok", "pass", "passed", "up", "reachable", "success", "true", "yes")


def parse_probes(results):
    """Reachability probe results {target: ok/fail | bool | {ok: bool, probe?}} -> {target: {target, result, probe?}}.

    ``probe``: the probe's definition (type, host, port, from, timeout, name, reachable), kept so a later snapshot of the device
    can run the same probes (``probes_taken``): pre and post are then compared like for like.
    """
    if results is None:
        return None
    if isinstance(results, list):
        results = dict((r.get("target"), r) for r in results if isinstance(r, dict) and r.get("target"))
    if not isinstance(results, dict):
        raise ValidationError("probe results must be a dict {target: ok|fail} or a list of {target, ok}.", where="snapshot(probes)",
                              fix="pass e.g. {'10.0.45.10:80': 'ok'}.")
    probes = {}
    for target, value in results.items():
        definition = None
        if isinstance(value, dict):
            if isinstance(value.get("probe"), dict):
                definition = probe_definition(value["probe"])
            value = value.get("ok", value.get("result", value.get("status")))
        ok = value is True or (isinstance(value, str) and value.strip().lower() in _OK)
        probes[str(target)] = {"target": str(target), "result": "ok" if ok else "fail"}
        if definition:
            probes[str(target)]["probe"] = definition
    return probes


def probe_definition(probe):
    """A probe's definition as a snapshot records it, defaults filled (type tcp, timeout 2 s), so the same probe given
    through any stage (with or without the defaults) is recorded the same; ``reachable`` only when false."""
    kind = probe.get("type") or "tcp"
    out = {"type": kind, "host": str(probe.get("host")), "timeout": probe.get("timeout") if probe.get("timeout") is not None else 2}
    if probe.get("name"):
        out["name"] = str(probe["name"])
    if kind == "tcp" and probe.get("port") is not None:
        out["port"] = probe["port"]
    if probe.get("from"):
        out["from"] = str(probe["from"])
    if probe.get("reachable") is False:
        out["reachable"] = False
    return out


def probes_taken(snapshot):
    """The probe definitions a snapshot (dict or statestore reference) ran, in key order; [] when it ran none or
    recorded no definition."""
    doc = statestore.load(snapshot) if statestore.is_ref(snapshot) else snapshot
    probes = (((doc or {}).get("sections") or {}).get("probes") or {}) if isinstance(doc, dict) else {}
    return [dict(probes[key]["probe"]) for key in sorted(probes) if isinstance(probes[key], dict) and isinstance(probes[key].get("probe"), dict)]


# ------------------------------------------------------------------------------------------------ snapshots


def _pick(outputs, names):
    for name in names:
        if name in outputs and outputs[name] is not None:
            return name, outputs[name]
    return None, None


def _check_outputs(device, outputs):
    if not isinstance(device, str) or not device:
        raise ValidationError("device must be the inventory name of the device.", where="snapshot(device)",
                              fix="pass inventory_hostname.")
    if not isinstance(outputs, dict):
        raise ValidationError("outputs must be a dict {command: output text}.", where="snapshot(outputs) of %s" % device,
                              fix="pass each command's stdout under the command text.")


def _snapshot(device, platform, sections, taken_at, commands):
    return {"device": device, "platform": platform, "taken_at": taken_at or now_iso(),
            "commands": sorted(commands), "sections": sections}


def frr_snapshot(device, outputs, taken_at=None, salt=None):
    """Normalized snapshot of an FRR router from {command: output}: peers, routes (v4+v6), interfaces, config."""
    _check_outputs(device, outputs)
    sections, used = {}, []
    summary_cmds = [c for c in FRR_SUMMARY_COMMANDS if outputs.get(c) is not None]
    if summary_cmds:
        peers = {}
        for command in summary_cmds:
            for key, peer in parse_frr_bgp_summary(outputs[command], command, device).items():
                if key in peers:  # the same peer from a per-family command: merge its families
                    peers[key]["afis"].update(peer["afis"])
                    if not peer["established"]:
                        peers[key]["state"], peers[key]["established"] = peer["state"], False
                else:
                    peers[key] = peer
            used.append(command)
        sections["peers"] = peers
    route_cmds = [c for c in FRR_ROUTE_COMMANDS if outputs.get(c) is not None]
    if route_cmds:
        routes = {}
        for command in route_cmds:
            routes.update(parse_frr_bgp_routes(outputs[command], command, device))
            used.append(command)
        sections["routes"] = routes
    command, text = _pick(outputs, FRR_INTERFACE_COMMANDS)
    if command:
        sections["interfaces"] = parse_frr_interfaces(text, command, device)
        used.append(command)
    command, text = _pick(outputs, FRR_CONFIG_COMMANDS)
    if command:
        sections["config"] = {"running": config_record(text, salt)}
        bgp = parse_frr_bgp_config(text)
        if bgp:
            sections["bgp"] = bgp
        used.append(command)
    return _snapshot(device, "frr", sections, taken_at, used)


def _bgp_router_line(words, out):
    """A line at the left margin: the start of the default instance's `router bgp ASN` block, or None (any other block)."""
    if len(words) >= 3 and words[:2] == ["router", "bgp"] and "vrf" not in words and not out:
        return {"asn": _as_int(words[2]), "router_id": None, "keepalive": None, "hold": None}
    return None


def _bgp_neighbor_line(words, neighbors):
    """`neighbor ADDRESS remote-as|timers connect|advertisement-interval ...` into neighbors[address]."""
    entry = neighbors.setdefault(canonical_address(words[1]), {"remote_as": None, "connect": None, "advertisement_interval": None})
    if words[2] == "remote-as" and len(words) == 4:
        entry["remote_as"] = _as_int(words[3]) if _as_int(words[3]) is not None else words[3]
    elif words[2:4] == ["timers", "connect"] and len(words) == 5:
        entry["connect"] = _as_int(words[4])
    elif words[2] == "advertisement-interval" and len(words) == 4:
        entry["advertisement_interval"] = _as_int(words[3])


def _bgp_block_line(words, out, neighbors):
    """One line inside the default instance's block."""
    if words[:2] == ["bgp", "router-id"] and len(words) == 3:
        out["router_id"] = words[2]
    elif words[:2] == ["timers", "bgp"] and len(words) == 4:
        out["keepalive"], out["hold"] = _as_int(words[2]), _as_int(words[3])
    elif words[0] == "neighbor" and len(words) >= 3:
        _bgp_neighbor_line(words, neighbors)


def parse_frr_bgp_config(text):
    """The BGP facts of a running-config the verification needs: {asn, router_id, keepalive, hold, neighbors: {address:
    {remote_as, connect, advertisement_interval}}} (None values: not set, the daemon's default applies). {} without BGP."""
    out, neighbors, inside = {}, {}, False
    for raw in normalize_config(text).splitlines():
        words = raw.split()
        if not raw.startswith(" "):
            # the default instance's block only: `router bgp ASN` up to the next line at the left margin
            started = _bgp_router_line(words, out)
            inside = started is not None
            out = started or out
        elif inside and words:
            _bgp_block_line(words, out, neighbors)
    if out:
        out["neighbors"] = neighbors
    return out


def linux_snapshot(device, outputs, probes=None, taken_at=None):
    """Normalized snapshot of a Linux firewall: rules, counters, chains, sets, interfaces, probes."""
    _check_outputs(device, outputs)
    sections, used = {}, []
    command, text = _pick(outputs, NFT_COMMANDS)
    if command:
        # rule comments and set elements are free text: a token or password written there is redacted like config
        sections.update(redact_data(parse_nft_ruleset(text, command, device))[0])
        used.append(command)
    command, text = _pick(outputs, IP_ADDR_COMMANDS)
    if command:
        sections["interfaces"] = parse_ip_addr(text, command, device)
        used.append(command)
    probe_section = parse_probes(probes)
    if probe_section is not None:
        sections["probes"] = probe_section
        used.append("probes")
    return _snapshot(device, "linux", sections, taken_at, used)


def take_snapshot(platform, device, outputs, probes=None, taken_at=None, salt=None):
    """Dispatch to the platform's normalizer."""
    if platform == "frr":
        if probes is not None:
            raise ValidationError("probes are only taken on linux hosts.", where="snapshot(probes) of %s" % device,
                                  fix="run reachability probes from the firewalls' namespaces.")
        return frr_snapshot(device, outputs, taken_at=taken_at, salt=salt)
    if platform == "linux":
        return linux_snapshot(device, outputs, probes=probes, taken_at=taken_at)
    raise ValidationError("unknown platform %r." % (platform,), where="snapshot(platform) of %s" % device,
                          fix="use one of: %s." % ", ".join(PLATFORMS))
