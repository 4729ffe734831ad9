# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Governed event-driven remediation: what counts as an event, and what may be done about it.

Three rules live here, once, for the event source plugin, the action plugin and the tests:

* detection - which differences between a device's baseline snapshot and its current one are faults (a BGP peer that
  was established and is not; a prefix the device itself originated that left its BGP table), each reported once
  while it lasts;
* the catalogue - the policy's ``remediations:``, pre-approved standard changes (which remediation, for which
  condition, on which devices, how often, up to which risk tier, with which runbook);
* the decision - an event becomes a standard change only when a catalogue entry covers it, its rate limit is not
  reached and the assessed risk stays within the entry's max_tier; anything else is an escalation, and nothing is
  deployed.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import re

from ansible_collections.governed.change.plugins.module_utils.change_request import join_path
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import LedgerTampered, ledger_exists, open_ledger

EVENT_SCHEMA = "governed.change/event/1"
DECIDED_EVENT = "remediation.decided"
ACTOR = "governed.change.remediation"
CONDITIONS = ("peer_down", "prefix_lost")
CATEGORY = "remediation"
TIER_ORDER = ("low", "medium", "high", "critical")
# The event fields a catalogue entry's lines may name, per condition (each is validated before it reaches a line).
FIELDS = {
    "peer_down": ("device", "peer", "local_as", "remote_as"),
    "prefix_lost": ("device", "prefix", "local_as"),
}
MATCH_FIELDS = ("cause",)
CAUSES = ("admin_shutdown", "session")
ENTRY_KEYS = ("name", "description", "condition", "match", "devices", "prefixes", "lines", "author", "rate_limit", "max_tier",
              "runbook")
ENTRY_REQUIRED = ("name", "condition", "devices", "lines", "author", "rate_limit", "runbook")
RATE_KEYS = ("max", "window_minutes")
NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
MAX_LINES = 20


# ----------------------------------------------------------------------------------------------- the catalogue


def validate_remediations(check, section, identities, path="remediations"):
    """The policy's ``remediations:`` list, validated with the policy's ``check`` and normalized."""
    check.list_of(section, path, hint="list the pre-approved remediations: - {name, condition, devices, lines, author, rate_limit, runbook}.")
    out, names = [], set()
    for index, entry in enumerate(section):
        item = _entry(check, entry, join_path(path, index), identities)
        if item["name"] in names:
            check.fail(join_path(join_path(path, index), "name"), "remediation '%s' is defined twice." % item["name"],
                       "give each remediation a unique name.")
        names.add(item["name"])
        out.append(item)
    return out


def _entry(check, entry, path, identities):
    check.mapping(entry, path, ENTRY_KEYS, ENTRY_REQUIRED)
    condition = check.string(entry["condition"], join_path(path, "condition"), choices=CONDITIONS)
    author = check.string(entry["author"], join_path(path, "author"))
    if author not in identities:
        check.fail(join_path(path, "author"), "'%s' is not an identity of the policy." % author,
                   "name the identity that owns this standard change (one of the policy's identities).")
    return {
        "name": check.string(entry["name"], join_path(path, "name"), pattern=NAME_RE, hint="use 1-64 characters from a-z 0-9 _."),
        "description": check.string(entry.get("description", ""), join_path(path, "description"), allow_empty=True),
        "condition": condition,
        "match": _match(check, entry.get("match") or {}, join_path(path, "match")),
        "devices": check.string_list(entry["devices"], join_path(path, "devices"), nonempty=True,
                                     hint="list the device names or inventory groups it may run on: [r1, edge]."),
        "prefixes": _prefix_list(check, entry.get("prefixes"), join_path(path, "prefixes"), condition),
        "lines": _lines(check, entry["lines"], join_path(path, "lines"), condition),
        "author": author,
        "rate_limit": _rate_limit(check, entry["rate_limit"], join_path(path, "rate_limit")),
        "max_tier": check.string(entry.get("max_tier", "low"), join_path(path, "max_tier"), choices=TIER_ORDER),
        "runbook": check.string(entry["runbook"], join_path(path, "runbook")),
    }


def _match(check, match, path):
    check.mapping(match, path, MATCH_FIELDS)
    if "cause" in match:
        check.string(match["cause"], join_path(path, "cause"), choices=CAUSES)
    return dict(match)


def _prefix_list(check, prefixes, path, condition):
    if prefixes is None:
        return None
    if condition != "prefix_lost":
        check.fail(path, "only a prefix_lost remediation can be limited to prefixes.", "remove prefixes: from this entry.")
    out = []
    for index, text in enumerate(check.string_list(prefixes, path, nonempty=True)):
        try:
            out.append(str(ipaddress.ip_network(text, strict=True)))
        except ValueError:
            check.fail(join_path(path, index), "'%s' is not a network prefix." % text, "write it like 198.51.100.0/24.")
    return out


def _lines(check, lines, path, condition):
    check.string_list(lines, path, nonempty=True, unique=False, hint="list the configuration lines, e.g. [\"ip route {prefix} blackhole\"].")
    if len(lines) > MAX_LINES:
        check.fail(path, "has %d lines; a standard change here has at most %d." % (len(lines), MAX_LINES),
                   "keep pre-approved remediations small; larger changes go through a normal change.")
    for index, line in enumerate(lines):
        for name in PLACEHOLDER_RE.findall(line):
            if name not in FIELDS[condition]:
                check.fail(join_path(path, index), "names {%s}, which a %s event does not carry." % (name, condition),
                           "use only: %s." % ", ".join("{%s}" % field for field in FIELDS[condition]))
    return list(lines)


def _rate_limit(check, rate, path):
    check.mapping(rate, path, RATE_KEYS, RATE_KEYS)
    return {"max": check.integer(rate["max"], join_path(path, "max"), minimum=1, maximum=100),
            "window_minutes": check.integer(rate["window_minutes"], join_path(path, "window_minutes"), minimum=1, maximum=10080)}


def standard_templates(policy):
    """Each catalogue entry as the standard change template risk.classify_change matches (category remediation)."""
    return [{"name": entry["name"], "category": CATEGORY, "when": None, "max_tier": entry["max_tier"],
             "description": entry["description"]} for entry in policy.get("remediations") or []]


def _line_pattern(line):
    """A catalogue line as a regex: each placeholder stands for an address, a prefix or a number (what check_event admits)."""
    parts = PLACEHOLDER_RE.split(line)
    return re.compile("".join(re.escape(part) if index % 2 == 0 else "[0-9A-Fa-f:./]{1,49}" for index, part in enumerate(parts)) + "$")


def fits_entry(entry, request, groups):
    """Why the change request is not what ``entry`` generates (a sentence), or None: one target among the entry's
    devices, and exactly its lines with addresses, prefixes or numbers in the placeholders. A hand-written request of
    category remediation gets no pre-approval for other content."""
    if len(request["targets"]) != 1:
        return "a remediation targets exactly one device"
    host = request["targets"][0]
    if not set(entry["devices"]) & ({host} | set(groups or ())):
        return "%s is not among its devices" % host
    lines = [line for item in (request.get("config") or {}).values() if isinstance(item, dict) for line in item.get("lines") or []]
    if len(lines) != len(entry["lines"]) or not all(_line_pattern(want).match(got) for want, got in zip(entry["lines"], lines)):
        return "its configuration lines are not the catalogue's"
    return None


def check_standard_remediation(policy, request, klass, groups):
    """An assessment's class for a category-remediation change: standard only when the matched catalogue entry fits
    the request (fits_entry); otherwise normal, with the reason (it then needs the approvals of its tier)."""
    if klass["change_class"] != "standard" or request["category"] != CATEGORY:
        return klass
    entry = next((e for e in policy.get("remediations") or [] if e["name"] == klass["standard_change"]), None)
    why = "it is not in the remediation catalogue" if entry is None else fits_entry(entry, request, groups)
    if why is None:
        return klass
    return {"change_class": "normal", "standard_change": None,
            "reason": "requested as standard remediation %s but treated as normal: %s." % (klass["standard_change"], why)}


# ----------------------------------------------------------------------------------------------- detection


def is_local_route(route):
    """A route the device originates and uses itself (a network statement or redistribution): empty AS path, no next
    hop, a best path."""
    if not isinstance(route, dict) or route.get("best") is not True:
        return False
    return not route.get("as_path") and route.get("nexthop") in (None, "", "0.0.0.0", "::")


def is_lost(route):
    """Gone from the BGP table, or still there without a valid best path (a network statement whose route left the RIB)."""
    return not isinstance(route, dict) or route.get("best") is not True


def peer_cause(peer):
    """admin_shutdown when the session is down because this device shut it (FRR: "Idle (Admin)"), else session."""
    return "admin_shutdown" if "admin" in str(peer.get("state", "")).lower() else "session"


def faults(baseline, current):
    """The faults of one device: {key: event body} for each baseline-established peer now down and each prefix the
    device originated in the baseline that is lost now (is_lost). Sections missing from either snapshot give no faults."""
    device = current.get("device") or baseline.get("device")
    base, now = baseline.get("sections") or {}, current.get("sections") or {}
    local_as = (now.get("bgp") or base.get("bgp") or {}).get("asn")
    out = {}
    if "peers" in base and "peers" in now:
        for address, peer in sorted(base["peers"].items()):
            after = now["peers"].get(address)
            if peer.get("established") and (after is None or not after.get("established")):
                out["peer_down:%s:%s" % (device, address)] = {
                    "kind": "peer_down", "device": device, "peer": address, "local_as": local_as,
                    "remote_as": peer.get("remoteAs"), "cause": peer_cause(after or {}),
                    "state": (after or {}).get("state", "missing")}
    if "routes" in base and "routes" in now:
        for prefix, route in sorted(base["routes"].items()):
            if is_local_route(route) and is_lost(now["routes"].get(prefix)):
                out["prefix_lost:%s:%s" % (device, prefix)] = {"kind": "prefix_lost", "device": device, "prefix": prefix, "local_as": local_as}
    return out


def detect(baseline, current, active, now=None):
    """(events, still_active): an event for each fault of ``current`` vs ``baseline`` not already in ``active`` (the
    keys reported while the fault lasted), so a fault is reported once until it clears, and again if it comes back."""
    found = faults(baseline, current)
    events = [make_event(body, now) for key, body in sorted(found.items()) if key not in active]
    return events, set(found)


def make_event(body, now=None):
    """The event as the source puts it on the queue: {"governed_event": {...}} with a schema, an id and a time."""
    event = dict(body, schema=EVENT_SCHEMA, detected_at=iso_z(now, precision="seconds"))
    event["id"] = hashlib.sha256(json.dumps(event, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    return {"governed_event": event}


# ----------------------------------------------------------------------------------------------- the decision


def check_event(event):
    """The event body (``governed_event`` or the body itself), every field a line may name checked; else ValidationError."""
    body = event.get("governed_event", event) if isinstance(event, dict) else None
    where = "event"
    if not isinstance(body, dict) or body.get("schema") != EVENT_SCHEMA:
        raise ValidationError("is not a governed.change event (schema %s)." % EVENT_SCHEMA, where=where,
                              fix="pass the event the governed.change.device_state source emits (ansible_eda.event).")
    kind = body.get("kind")
    if kind not in CONDITIONS:
        raise ValidationError("kind %r is not a known condition." % (kind,), where="event.kind", fix="use one of: %s." % ", ".join(CONDITIONS))
    if not isinstance(body.get("device"), str) or not DEVICE_RE.match(body["device"]):
        raise ValidationError("device %r is not a device name." % (body.get("device"),), where="event.device",
                              fix="send the inventory name of the device (letters, digits, . _ -).")
    out = {"kind": kind, "device": body["device"], "id": str(body.get("id") or ""), "detected_at": body.get("detected_at"),
           "cause": body.get("cause") if body.get("cause") in CAUSES else None}
    for field in FIELDS[kind][1:]:
        out[field] = _field(field, body.get(field))
    return out


def _field(name, value):
    """One event value checked for its type, so nothing but an address, a prefix or a number reaches a config line."""
    where = "event.%s" % name
    try:
        if name == "peer":
            return str(ipaddress.ip_address(str(value)))
        if name == "prefix":
            return str(ipaddress.ip_network(str(value), strict=True))
        if value is None or isinstance(value, bool) or not 1 <= int(value) <= 4294967295:
            raise ValueError(value)
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError("%r is not a valid %s." % (value, name), where=where,
                              fix="the event source must send an IP address (peer), a prefix (prefix) or an AS number.")


def _covers(entry, event, groups):
    """Why ``entry`` does not cover ``event`` (a sentence), or None when it does."""
    if entry["condition"] != event["kind"]:
        return "condition %s" % entry["condition"]
    if not set(entry["devices"]) & ({event["device"]} | set(groups or ())):
        return "%s is not among its devices (%s)" % (event["device"], ", ".join(entry["devices"]))
    for field, value in sorted(entry["match"].items()):
        if event.get(field) != value:
            return "%s is %s, not %s" % (field, event.get(field), value)
    if entry["prefixes"] is not None:
        network = ipaddress.ip_network(event["prefix"])
        if not any(network.version == ipaddress.ip_network(p).version and network.subnet_of(ipaddress.ip_network(p))
                   for p in entry["prefixes"]):
            return "%s is outside its prefixes (%s)" % (event["prefix"], ", ".join(entry["prefixes"]))
    return None


def find_entry(catalogue, event, groups=()):
    """(entry or None, reasons): the first catalogue entry covering the event, or why each candidate did not."""
    reasons = []
    for entry in catalogue:
        why = _covers(entry, event, groups)
        if why is None:
            return entry, []
        if entry["condition"] == event["kind"]:
            reasons.append("%s: %s" % (entry["name"], why))
    return None, reasons or ["no remediation for %s is in the catalogue" % event["kind"]]


def recent_count(history, remediation, device, window_minutes, now):
    """How many times ``remediation`` went ahead on ``device`` within the window before ``now`` (ledger events)."""
    since = now - datetime.timedelta(minutes=window_minutes)
    count = 0
    for item in history:
        data = item.get("data") or {}
        if item.get("kind") != DECIDED_EVENT or data.get("phase") != "risk" or data.get("decision") != "remediate":
            continue
        if data.get("remediation") != remediation or data.get("device") != device:
            continue
        if parse_instant(item["ts"], where="ledger event %s ts" % item.get("seq")) > since:
            count += 1
    return count


def decide(event, policy, history, now, groups=()):
    """The catalogue decision for one event: remediate (with the generated change request) or escalate (with why).

    ``history``: the ledger's remediation.decided events; ``groups``: the device's inventory groups.
    """
    body = check_event(event)
    catalogue = policy.get("remediations") or []
    entry, reasons = find_entry(catalogue, body, groups)
    decision = {"phase": "catalogue", "event": body, "device": body["device"], "remediation": entry["name"] if entry else None,
                "decided_at": iso_z(now, precision="seconds"), "change_id": change_id_for(body, now),
                "author": entry["author"] if entry else ACTOR}
    if entry is None:
        return dict(decision, decision="escalate", reason_code="outside_catalogue", reasons=reasons,
                    runbook=_fallback_runbook(catalogue, body, policy))
    used = recent_count(history, entry["name"], body["device"], entry["rate_limit"]["window_minutes"], now)
    decision.update(runbook=entry["runbook"], max_tier=entry["max_tier"],
                    rate={"used": used, "max": entry["rate_limit"]["max"], "window_minutes": entry["rate_limit"]["window_minutes"]})
    if used >= entry["rate_limit"]["max"]:
        return dict(decision, decision="escalate", reason_code="rate_limited",
                    reasons=["%s already ran %d time(s) on %s in the last %d minutes (max %d)"
                             % (entry["name"], used, body["device"], entry["rate_limit"]["window_minutes"], entry["rate_limit"]["max"])])
    return dict(decision, decision="remediate", reason_code="catalogue_match",
                reasons=["covered by pre-approved remediation %s" % entry["name"]],
                change_request=change_request_for(entry, body, decision["change_id"]))


def _fallback_runbook(catalogue, body, policy):
    """The runbook of an event no entry covers: the first entry for its condition, else the low tier's escalation runbook."""
    for entry in catalogue:
        if entry["condition"] == body["kind"]:
            return entry["runbook"]
    return ((policy.get("requirements") or {}).get("low") or {}).get("escalation", {}).get("runbook")


def decide_risk(decision, assessment):
    """The risk decision on the assessed standard change: remediate only when the assessment classed it as this
    catalogue entry's standard change and its tier is within the entry's max_tier; else escalate."""
    out = dict(decision, phase="risk", tier=assessment.get("tier"), change_class=assessment.get("change_class"))
    if decision.get("decision") != "remediate":
        raise ValidationError("the catalogue decision was %s; only a remediation is assessed for risk." % decision.get("decision"),
                              where="decision", fix="escalate the event instead of assessing it.")
    tier, limit = assessment.get("tier"), decision["max_tier"]
    if tier not in TIER_ORDER or TIER_ORDER.index(tier) > TIER_ORDER.index(limit):
        return dict(out, decision="escalate", reason_code="above_risk",
                    reasons=["assessed tier %s is above the remediation's max_tier %s (%s)"
                             % (tier, limit, "; ".join(assessment.get("explanation") or []) or "no rule fired")])
    if assessment.get("change_class") != "standard" or assessment.get("standard_change") != decision["remediation"]:
        return dict(out, decision="escalate", reason_code="not_standard",
                    reasons=["the assessment did not class it as standard change %s: %s"
                             % (decision["remediation"], assessment.get("change_class_reason"))])
    return dict(out, decision="remediate", reasons=["assessed tier %s within max_tier %s; standard change %s"
                                                    % (tier, limit, decision["remediation"])])


def ledger_data(decision):
    """What the ledger keeps of a decision (the generated change request is in the change's own records)."""
    keys = ("phase", "decision", "reason_code", "reasons", "remediation", "device", "event", "rate", "tier", "change_class",
            "max_tier", "runbook", "decided_at")
    return {key: decision[key] for key in keys if key in decision}


def decision_history(ledger_path):
    """The ledger's remediation.decided events (all changes), oldest first; none when the ledger does not exist yet."""
    if not ledger_exists(ledger_path):
        return []
    with open_ledger(ledger_path) as ledger:
        result = ledger.verify()  # a rate limit counted on an edited record would be no limit: refuse a ledger that does not verify
        if not result["ok"]:
            raise LedgerTampered(result["problems"], ledger_path)
        return [item for item in ledger.events() if item["kind"] == DECIDED_EVENT]


def record_decision(ledger_path, decision):
    """Record a decision on the change it names (opened in state new when missing); an escalation cancels the change
    (nothing will be deployed under it). Returns the appended event."""
    change_id = decision["change_id"]
    with open_ledger(ledger_path) as ledger:
        if ledger.check_change(change_id) is None:
            body = decision["event"]
            ledger.create_change(change_id, "Event %s on %s (%s)" % (body["kind"], body["device"], body.get("peer") or body.get("prefix")),
                                 decision["author"], actor=ACTOR)
        event = ledger.append_event(change_id, DECIDED_EVENT, ACTOR, ledger_data(decision))
        if decision["decision"] == "escalate":
            ledger.transition(change_id, "canceled", ACTOR, reason="escalated (%s): nothing deployed" % decision["reason_code"])
        return event


# ----------------------------------------------------------------------------------------------- the standard change


def change_id_for(body, now):
    """RMD-<device>-<UTC yyyymmddHHMMSS>-<event id prefix>: path-safe and unique per event."""
    stamp = iso_z(now, precision="seconds").replace("-", "").replace(":", "").replace("T", "").rstrip("Z")
    return ("RMD-%s-%s-%s" % (body["device"], stamp, (body["id"] or "0")[:6]))[:64]


def render_line(line, body):
    return PLACEHOLDER_RE.sub(lambda m: str(body[m.group(1)]), line)


def expected_for(body):
    """The post-deploy check proving the remediation worked: the peer established again, or the prefix back."""
    if body["kind"] == "peer_down":
        return {"name": "peer_restored", "description": "BGP peer %s is established again" % body["peer"],
                "query": "sections.peers.\"%s\".established" % body["peer"], "op": "equals", "value": True, "snapshot": "post"}
    return {"name": "prefix_restored", "description": "%s has a best path in the BGP table again" % body["prefix"],
            "query": "sections.routes.\"%s\".best" % body["prefix"], "op": "equals", "value": True, "snapshot": "post"}


def change_request_for(entry, body, change_id):
    """The standard change request a catalogue entry generates for one event."""
    subject = body.get("peer") or body.get("prefix")
    return {
        "id": change_id,
        "title": "Remediation %s on %s (%s %s)" % (entry["name"], body["device"], body["kind"], subject),
        "description": ("Generated from the policy's pre-approved remediation %s for event %s (%s on %s, detected %s). %s"
                        % (entry["name"], body["id"] or "-", body["kind"], body["device"], body["detected_at"] or "-",
                           entry["description"])).strip(),
        "author": entry["author"],
        "type": "standard",
        "category": CATEGORY,
        "targets": [body["device"]],
        "config": {body["device"]: {"lines": [render_line(line, body) for line in entry["lines"]]}},
        "expected": [expected_for(body)],
        "rollback": {"strategy": "backup"},
        "links": {"documentation": entry["runbook"]},
    }


def detected_text(decision):
    """The escalation packet's 'detected' sentences."""
    body = decision["event"]
    subject = body.get("peer") or body.get("prefix")
    return ["%s on %s: %s (event %s, detected %s)" % (body["kind"], body["device"], subject, body["id"] or "-", body["detected_at"] or "-"),
            "not remediated automatically (%s): %s" % (decision["reason_code"], "; ".join(decision["reasons"]))]
