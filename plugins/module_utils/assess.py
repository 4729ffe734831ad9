# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assess a change request against the policy: facts, risk tier, change class, gates, blast radius, content hash."""

from __future__ import annotations

import copy
import datetime

from ansible_collections.governed.change.plugins.module_utils.change_request import (
    Checker, check_config_line, describe, validate_change_request,
)
from ansible_collections.governed.change.plugins.module_utils.config_diff import device_diff, diff_configs
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.impact import verification_plan
from ansible_collections.governed.change.plugins.module_utils.traffic import traffic_plan
from ansible_collections.governed.change.plugins.module_utils.facts import (
    build_facts_and_blast_radius, check_config_keys, config_entries, normalize_inventory, resolve_targets,
)
from ansible_collections.governed.change.plugins.module_utils.live_values import strip_live_values
from ansible_collections.governed.change.plugins.module_utils.policy import ensure_policy
from ansible_collections.governed.change.plugins.module_utils.redact import redact_assessment
from ansible_collections.governed.change.plugins.module_utils.remediation import CATEGORY, check_standard_remediation
from ansible_collections.governed.change.plugins.module_utils.risk import classify_change, evaluate_rules
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, parse_instant, utc_now as clock_now

# Gates in the order a workflow runs them; required_gates() returns the applicable subset in this order.
GATE_ORDER = ("approval", "review", "freeze", "window", "precheck", "deploy", "verify", "post_review")
DIFF_KEYS = ("running", "candidate", "lines", "platform")


def content_hash(change_request, device_diffs):
    """The content hash approvals are bound to.

    sha256 (hex) of ``docfile.canonical_json`` (UTF-8, keys sorted, no whitespace) of::

        {"change_request": <normalised change request (validate_change_request)>,
         "diffs": [{"host": <host>, "diff": <unified diff text of that device>}, ... sorted by host]}

    Every target host appears in ``diffs`` (an unchanged device has diff ""); each diff is config_diff's unified
    diff of the normalised running vs candidate config (headers ``--- <host>/running`` / ``+++ <host>/candidate``,
    3 lines of context). So the hash changes when any field of the normalised change request changes (key order
    and YAML formatting do not matter) or any device's diff changes, including running-config drift inside the
    diff or its context, or a device becoming unreachable. Drift elsewhere in the running config does not change
    it, nor do the policy, the assessment time or cosmetic config differences (headers, '!' lines, spaces at end),
    nor live values (nft counters, quota use, set element expiry: ``live_values``, taken out before the diff).
    Secrets are part of it as they are (the hash reveals none): ``assess`` redacts the diffs only after hashing.
    """
    return sha256_of({
        "change_request": change_request,
        "diffs": [{"host": host, "diff": device_diffs[host]["diff"]} for host in sorted(device_diffs)],
    })


def _check_diffs_map(diffs, hosts):
    if not isinstance(diffs, dict):
        raise ValidationError("must be a mapping of host to {running, candidate|lines}, got %s." % describe(diffs),
                              where="diffs", fix="pass diffs keyed by target host.")
    targets = set(hosts)  # a set: membership per diffs entry must not scan the target list (quadratic at 10k hosts)
    for host in diffs:
        if host not in targets:
            raise ValidationError("host '%s' is not a target of the change." % host, where="diffs.%s" % host,
                                  fix="pass diffs only for the targets: %s." % ", ".join(hosts))


def _diff_entry(entry, where):
    """One host's diffs entry checked: (running text or None with live values out, platform or None)."""
    if not isinstance(entry, dict):
        raise ValidationError("must be a mapping with running and candidate or lines, got %s." % describe(entry),
                              where=where, fix="pass {running: <text or null>, candidate: <text>}.")
    unknown = sorted(set(entry) - set(DIFF_KEYS))
    if unknown:
        raise ValidationError("has unknown key '%s'." % unknown[0], where=where, fix="use only: %s." % ", ".join(DIFF_KEYS))
    running = entry.get("running")
    if running is not None and not isinstance(running, str):
        raise ValidationError("must be text or null, got %s." % describe(running), where=where + ".running",
                              fix="pass the device's running configuration as a string (null when unreachable).")
    platform = entry.get("platform")
    if platform is not None and not isinstance(platform, str):
        raise ValidationError("must be a platform name, got %s." % describe(platform), where=where + ".platform",
                              fix="pass the host's governed_platform (frr or linux), or leave platform out.")
    running = strip_live_values(running, platform)
    if "candidate" in entry and "lines" in entry:
        raise ValidationError("has both candidate and lines.", where=where, fix="pass one of them.")
    return running, platform


def _candidate_diff(host, entry, running, platform, where):
    if not isinstance(entry["candidate"], str):
        raise ValidationError("must be text, got %s." % describe(entry["candidate"]), where=where + ".candidate",
                              fix="pass the rendered candidate configuration as a string.")
    return device_diff(host, running=running, candidate=strip_live_values(entry["candidate"], platform))


def _lines_diff(host, lines, running, where, source):
    if not isinstance(lines, list):
        raise ValidationError("must be a list of configuration lines, got %s." % describe(lines), where=where + ".lines",
                              fix="pass the rendered lines as a list of strings.")
    for index, line in enumerate(lines):  # rendered template lines face the same limits as written ones
        if isinstance(line, str):
            check_config_line(line, "%s.lines[%d]" % (where, index), Checker(source))
    return device_diff(host, running=running, lines=lines)


def _no_config_diff(host):
    """The summary of a host the change has no config for: nothing will be pushed to it."""
    summary = diff_configs("", "", host=host)
    summary.update({"running_known": True, "no_config": True})
    return summary


def _host_diff(change_request, host, inventory, entry, source):
    where = "diffs.%s" % host
    running, platform = _diff_entry(entry, where)
    if "candidate" in entry:
        return _candidate_diff(host, entry, running, platform, where)
    lines = entry.get("lines")
    if lines is None:
        lines = _request_lines(change_request, host, inventory, where)
    if lines is None:
        return _no_config_diff(host)
    return _lines_diff(host, lines, running, where, source)


def prepare_diffs(change_request, hosts, inventory, diffs, source="change request"):
    """Per-host diff summaries for every target host.

    ``diffs`` maps host -> {"running": text or None (unknown), and optionally "candidate": text or "lines": [...],
    "platform": the host's governed_platform}. Without candidate/lines, the change request's config lines for the
    host are merged into running. A host without an entry is diffed against an unknown running config (all lines
    new, running_known false). Live values (``live_values.strip_live_values``) leave running and candidate first.
    """
    if diffs is None:
        diffs = {}
    _check_diffs_map(diffs, hosts)
    out = {}
    for host in hosts:
        entry = diffs.get(host)
        out[host] = _host_diff(change_request, host, inventory, {"running": None} if entry is None else entry, source)
    return out


def _changed_lines(device_diffs):
    """{host: the lines the change adds or removes} (merged lines, else the candidate diff's added lines)."""
    out = {}
    for host, summary in device_diffs.items():
        if "new_lines" in summary:
            out[host] = list(summary.get("new_lines") or []) + list(summary.get("removed_lines") or [])
        else:
            out[host] = list(summary.get("added") or [])
    return out


def _platforms(hosts, inventory, diffs):
    """{host: governed_platform} of the targets (inventory variable, else the platform passed with its diff)."""
    out = {}
    for host in hosts:
        variables = (inventory["hosts"].get(host) or {}).get("vars") or {}
        out[host] = variables.get("governed_platform") or ((diffs or {}).get(host) or {}).get("platform")
    return out


def _request_lines(change_request, host, inventory, where):
    entries = config_entries(change_request, host, inventory)
    if not entries:
        return None
    lines = []
    for key, entry in entries:
        if "template" in entry:
            # Templates are rendered by the assess action (Ansible templating); the core never guesses their output.
            raise ValidationError("the config for '%s' (config.%s) is a template and no rendered candidate was given." % (host, key),
                                  where=where, fix="render the template and pass diffs: {%s: {running: ..., lines: [...]}}." % host)
        lines.extend(entry["lines"])
    return lines


def required_gates(change_class, requirements, policy):
    """The gates the change must pass, in workflow order (see GATE_ORDER)."""
    gates = {"precheck", "deploy", "verify"}
    if change_class != "standard" and requirements["approvals"]["count"] > 0:
        gates.add("approval")
    if requirements["automation"] == "review":
        gates.add("review")
    if policy["freezes"]:
        gates.add("freeze")  # the freeze gate itself applies allow_emergency / bypass_freeze
    if requirements["window_required"] and not (change_class == "emergency" and policy["emergency"]["bypass_window"]):
        gates.add("window")
    if change_class == "emergency":
        gates.add("post_review")
    return [gate for gate in GATE_ORDER if gate in gates]


def _now(now):
    if now is None:
        return clock_now()
    if isinstance(now, str):
        try:
            now = datetime.datetime.fromisoformat(now)
        except ValueError:
            raise ValidationError("'%s' is not an ISO 8601 date-time." % now, where="now", fix="pass an aware date-time.")
    if not isinstance(now, datetime.datetime) or now.tzinfo is None:
        raise ValidationError("must be a date-time with a UTC offset.", where="now", fix="pass an aware date-time (e.g. UTC).")
    return now


def assess(change_request, policy, inventory, diffs=None, now=None, source="change request"):
    """Assess a change request (raw or normalised) against a policy (normalised or raw), an inventory view and diffs.

    Raises ValidationError / PolicyError / GateRefused instead of returning an assessment when anything cannot
    be decided (fail closed). ``diffs``: see prepare_diffs(). Returns the assessment dict (JSON-able).
    """
    request = validate_change_request(change_request, source=source)
    policy = ensure_policy(policy)
    inventory = normalize_inventory(inventory)
    now = _now(now)
    hosts = resolve_targets(request["targets"], inventory, source=source)
    check_config_keys(request, hosts, inventory, source=source)
    if request["author"] not in policy["identities"]:
        raise ValidationError("author '%s' is not an identity of the policy." % request["author"], where="%s: author" % source,
                              fix="use a name defined under identities in the policy (segregation of duties needs it).")
    if request["window"] is not None and parse_instant(request["window"]["end"], where="window.end") <= now:
        raise ValidationError("the requested window ended before the assessment (%s)." % iso_z(now, precision="seconds"),
                              where="%s: window.end" % source, fix="request a window in the future or remove it.")
    device_diffs = prepare_diffs(request, hosts, inventory, diffs, source=source)
    facts, blast = build_facts_and_blast_radius(request, policy, inventory, device_diffs)
    risk = evaluate_rules(policy, facts)
    klass = classify_change(policy, facts, risk["tier"], source=source)
    if request["category"] == CATEGORY:  # a remediation is pre-approved only as the catalogue generates it
        groups = (inventory["hosts"].get(hosts[0]) or {}).get("groups") or () if len(hosts) == 1 else ()
        klass = check_standard_remediation(policy, request, klass, groups)
    requirements = copy.deepcopy(policy["requirements"][risk["tier"]])
    if klass["change_class"] == "standard":
        # A standard change is pre-approved by its policy template: no approval gate.
        requirements["approvals"]["count"] = 0
        requirements["pre_approved_by"] = klass["standard_change"]
    assessment = {
        "change_id": request["id"],
        "title": request["title"],
        "type": request["type"],
        "category": request["category"],
        "author": request["author"],
        "hosts": hosts,
        "tier": risk["tier"],
        "score": risk["score"],
        "tier_by_score": risk["tier_by_score"],
        "forced_tier": risk["forced_tier"],
        "fired_rules": risk["fired_rules"],
        "rules_evaluated": risk["rules_evaluated"],
        "explanation": ["%s: %s" % (rule["name"], rule["explanation"]) for rule in risk["fired_rules"]],
        "change_class": klass["change_class"],
        "change_class_reason": klass["reason"],
        "standard_change": klass["standard_change"],
        "requirements": requirements,
        "required_gates": required_gates(klass["change_class"], requirements, policy),
        # What will be verified where: the scope rule, the hosts always verified, each expected check's hosts.
        "verification": verification_plan(hosts, request["expected"], requirements, inventory["hosts"], request.get("intended"),
                                          source=source),
        "window": request["window"],
        "blast_radius": blast,
        "facts": facts,
        "devices": device_diffs,
        "content_hash": content_hash(request, device_diffs),
        "change_request_sha256": sha256_of(request),
        "policy_sha256": policy["policy_sha256"],
        "policy_name": policy["name"],
        "assessed_at": iso_z(now),
    }
    # Traffic checks of a firewall change: the catalogue's services and the probes its rules name, run from their namespaces.
    assessment["verification"]["traffic"] = traffic_plan(
        policy.get("services") or [], _changed_lines(device_diffs), _platforms(hosts, inventory, diffs), inventory["hosts"],
        request.get("intended"), source=source)
    if klass["change_class"] == "emergency":
        due = now + datetime.timedelta(hours=policy["emergency"]["post_review_hours"])
        assessment["post_review_due"] = iso_z(due, precision="seconds")
    # The content hash above covers the real secrets (a changed secret voids an approval); what leaves is redacted.
    return redact_assessment(assessment)
