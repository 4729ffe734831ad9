# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Governance policy: strict structural validation, JMESPath compilation at load, criticality resolution."""

from __future__ import annotations

import copy
import datetime
import functools
import glob
import os
import re

from ansible_collections.governed.change.plugins.module_utils.change_request import (
    CATEGORIES, Checker, NAME_RE, describe, join_path,
)
from ansible_collections.governed.change.plugins.module_utils.docfile import load_document, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.traffic import validate_services
from ansible_collections.governed.change.plugins.module_utils.itsm_servicenow import validate_itsm
from ansible_collections.governed.change.plugins.module_utils.notify import validate_notifications
from ansible_collections.governed.change.plugins.module_utils.remediation import validate_remediations

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions
    from jmespath import functions as jmespath_functions
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    jmespath = None
    jmespath_exceptions = None
    jmespath_functions = None

try:
    import netaddr
except ImportError:  # pragma: no cover
    netaddr = None

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None

TIERS = ("low", "medium", "high", "critical")
CRITICALITY_LEVELS = ("low", "medium", "high", "critical")
RULE_NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")

# Every field of the change facts document (top level and nested). Rule expressions may only name these,
# so a typo such as `sections_touchd` is refused at load instead of silently evaluating to null forever.
FACT_FIELDS = frozenset((
    "id", "type", "category", "author", "targets", "device_count", "site_count", "sites", "fleet_size",
    "fleet_share", "max_criticality", "critical_device_count", "roles", "groups", "diff", "sections_touched",
    "prefixes_touched", "protected_overlap", "touches_protected", "window_requested", "rollback_strategy",
    "expected_count",
    # targets[]
    "host", "role", "site", "criticality",
    # diff
    "lines_added", "lines_removed", "lines_changed", "devices_changed", "devices_unverified",
))

TOP_KEYS = ("policy_version", "name", "description", "criticality", "protected_prefixes", "risk", "requirements",
            "standard_changes", "identities", "allowed_signers", "windows", "freezes", "emergency", "services",
            "notifications", "itsm", "remediations")
TOP_REQUIRED = ("policy_version", "name", "risk", "requirements")
CRITICALITY_KEYS = ("default", "hostvar", "groups", "tagvar", "tags", "critical_at")
RULE_KEYS = ("name", "description", "when", "score", "force_tier")
REQUIREMENT_KEYS = ("approvals", "window_required", "automation", "checks", "canary", "batch_size", "max_failures",
                    "auto_rollback", "rollback_scope", "snapshot_scope", "escalation")
APPROVAL_KEYS = ("count", "groups", "segregation_of_duties", "max_age_hours")
STANDARD_KEYS = ("name", "description", "category", "when", "max_tier")
IDENTITY_KEYS = ("groups", "principals", "person")
WINDOW_KEYS = ("name", "scope", "timezone", "weekly", "rrule", "duration_minutes", "exdate")
SCOPE_KEYS = ("sites", "groups", "hosts")
FREEZE_KEYS = ("name", "start", "end", "yearly", "timezone", "scope", "allow_emergency", "reason")
YEARLY_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
EMERGENCY_KEYS = ("allowed", "bypass_window", "bypass_freeze", "post_review_hours")

REQUIREMENT_DEFAULTS = {
    "approvals": {"count": 1, "groups": [], "segregation_of_duties": True, "max_age_hours": 24},
    "window_required": False,
    "automation": "review",  # a missing setting must not silently allow unattended deploys
    "checks": [],
    "canary": 1,
    "batch_size": 1,
    "max_failures": 0,
    "auto_rollback": True,
    "rollback_scope": "all",
    "snapshot_scope": "impact",
    "escalation": None,
}
EMERGENCY_DEFAULTS = {"allowed": True, "bypass_window": True, "bypass_freeze": False, "post_review_hours": 48}
# Keys validate_policy adds to the normalised dict (skipped when re-validating with normalized=True).
DERIVED_KEYS = ("policy_sha256", "source", "allowed_signers_path")


def load_policy(path):
    """Load a policy file, or a directory of ``*.yml``/``*.yaml`` files merged in name order."""
    if not path:
        raise PolicyError("no policy path was given.", fix="pass the path to the policy file or directory.")
    path = str(path)
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.yml")) + glob.glob(os.path.join(path, "*.yaml")),
                       key=os.path.basename)
        if not files:
            raise PolicyError("the policy directory has no *.yml files.", where=path,
                              fix="put the policy in one or more .yml files in that directory.")
        merged, key_sources = {}, {}
        for name in files:
            part = _load_part(name)
            if part is None:
                continue
            for key, value in part.items():
                if key in merged:
                    raise PolicyError("top-level key '%s' is also defined in %s." % (key, key_sources[key]),
                                      where="%s: %s" % (name, key),
                                      fix="define each top-level key in exactly one policy file.")
                merged[key] = value
                key_sources[key] = name
        return validate_policy(merged, source=path, base_dir=path, key_sources=key_sources)
    return validate_policy(_load_part(path), source=path, base_dir=os.path.dirname(os.path.abspath(path)))


def _load_part(path):
    try:
        doc = load_document(path, what="policy")
    except PolicyError:
        raise
    except ValidationError as exc:  # re-type so callers can catch PolicyError for every policy problem
        raise PolicyError(exc.problem, where=exc.where, fix=exc.fix)
    if doc is not None and not isinstance(doc, dict):
        raise PolicyError("must be a mapping of policy sections, got %s." % describe(doc), where=str(path),
                          fix="start the file with top-level keys such as policy_version: 1.")
    return doc


class _PolicyChecker(Checker):
    """Checker whose ``where`` names the file that defined the top-level key (policy directories)."""

    def __init__(self, source, key_sources=None):
        super().__init__(source, PolicyError)
        self.key_sources = key_sources or {}

    def fail(self, path, problem, fix):
        top = re.split(r"[.\[]", path, maxsplit=1)[0] if path else ""
        source = self.key_sources.get(top, self.source)
        where = "%s: %s" % (source, path) if path else source
        raise PolicyError(problem, where=where, fix=fix)


def validate_policy(doc, source="policy", base_dir=None, key_sources=None, normalized=False):
    """Validate a whole policy document and return the normalised dict (defaults filled, ``policy_sha256`` added).

    ``normalized=True`` re-validates a dict returned by this function (its derived keys are then ignored).
    """
    check = _PolicyChecker(source, key_sources)
    if doc is None:
        check.fail("", "is empty.", "write the policy as a YAML mapping starting with policy_version: 1.")
    raw = doc
    if normalized and isinstance(doc, dict):
        raw = {key: value for key, value in doc.items() if key not in DERIVED_KEYS}
    check.mapping(raw, "", TOP_KEYS, TOP_REQUIRED, what="mapping (the policy)")
    version = check.integer(raw["policy_version"], "policy_version")
    if version != 1:
        check.fail("policy_version", "version %d is not supported." % version, "set policy_version: 1.")
    out = {
        "policy_version": 1,
        "name": check.string(raw["name"], "name"),
        "description": check.string(raw.get("description", ""), "description", allow_empty=True),
        "criticality": _criticality(check, raw.get("criticality", {})),
        "protected_prefixes": _prefixes(check, raw.get("protected_prefixes", [])),
    }
    out["risk"] = _risk(check, raw["risk"])
    out["identities"] = _identities(check, raw.get("identities", {}))
    out["requirements"] = _requirements(check, raw["requirements"], out["identities"])
    out["standard_changes"] = _standard_changes(check, raw.get("standard_changes", []))
    signers = raw.get("allowed_signers")
    out["allowed_signers"] = None if signers is None else check.string(signers, "allowed_signers")
    out["windows"] = _windows(check, raw.get("windows", []))
    out["freezes"] = _freezes(check, raw.get("freezes", []))
    out["emergency"] = _emergency(check, raw.get("emergency", {}))
    if raw.get("services") is not None:  # only when written: the hash of a policy without a catalogue stays as it was
        out["services"] = validate_services(raw["services"], "services", fail=check.fail)
    if raw.get("notifications") is not None:  # only when written, as services: the hash of a policy without it stays as it was
        out["notifications"] = validate_notifications(check, raw["notifications"])
    if raw.get("remediations") is not None:  # only when written: the catalogue of pre-approved remediations (docs/eda.md)
        out["remediations"] = validate_remediations(check, raw["remediations"], out["identities"])
    if raw.get("itsm") is not None:  # only when written, as services: the hash of a policy without it stays as it was
        out["itsm"] = validate_itsm(raw["itsm"], "itsm", fail=check.fail)
    # Hash of the effective policy (defaults filled, before the derived keys below: no machine-specific paths),
    # so it is the same on every controller and for a re-validated normalised policy.
    out["policy_sha256"] = sha256_of(out)
    out["source"] = str(source)
    if out["allowed_signers"] is not None and base_dir is not None:
        out["allowed_signers_path"] = os.path.normpath(os.path.join(base_dir, out["allowed_signers"]))
    else:
        out["allowed_signers_path"] = out["allowed_signers"]
    return out


def _section(value, default):
    """An omitted or null optional section takes its default."""
    return copy.deepcopy(default) if value is None else value


def _criticality(check, section):
    section = _section(section, {})
    check.mapping(section, "criticality", CRITICALITY_KEYS)
    out = {
        "default": check.string(section.get("default", "low"), "criticality.default", choices=CRITICALITY_LEVELS),
        "hostvar": check.string(section.get("hostvar", "criticality"), "criticality.hostvar"),
        "tagvar": check.string(section.get("tagvar", "tags"), "criticality.tagvar"),
        "critical_at": check.string(section.get("critical_at", "high"), "criticality.critical_at", choices=CRITICALITY_LEVELS),
        "groups": {},
        "tags": {},
    }
    for key in ("groups", "tags"):
        mapping = _section(section.get(key), {})
        path = "criticality.%s" % key
        if not isinstance(mapping, dict):
            check.fail(path, "must be a mapping of %s name to level, got %s." % (key[:-1], describe(mapping)),
                       "write it like %s: {core: high}." % key)
        for name, level in mapping.items():
            check.string(name, path, pattern=NAME_RE, hint="use a %s name as the key." % key[:-1])
            out[key][name] = check.string(level, join_path(path, name), choices=CRITICALITY_LEVELS)
    return out


def _prefixes(check, prefixes):
    prefixes = _section(prefixes, [])
    check.list_of(prefixes, "protected_prefixes", hint='list CIDR prefixes, e.g. ["10.255.0.0/24", "fd00:255::/48"].')
    if netaddr is None:
        raise MissingLibrary("netaddr", "to validate protected prefixes")
    out = []
    for index, item in enumerate(prefixes):
        path = join_path("protected_prefixes", index)
        check.string(item, path, hint='write the prefix as a quoted string, e.g. "10.0.45.0/24".')
        try:
            network = netaddr.IPNetwork(item.strip())
        except (netaddr.AddrFormatError, ValueError, TypeError):
            check.fail(path, "'%s' is not an IPv4 or IPv6 prefix." % item, 'write it in CIDR form, e.g. "10.0.45.0/24".')
        if network.ip != network.network:
            check.fail(path, "'%s' has host bits set." % item, "use the network address: %s." % network.cidr)
        out.append(str(network.cidr))
    return out


def _risk(check, risk):
    check.mapping(risk, "risk", ("rules", "tiers"), ("rules", "tiers"))
    rules = check.list_of(risk["rules"], "risk.rules", hint="list the rules: - {name, description, when, score}.")
    out_rules, names = [], set()
    for index, rule in enumerate(rules):
        path = join_path("risk.rules", index)
        check.mapping(rule, path, RULE_KEYS, ("name", "description", "when"))
        name = check.string(rule["name"], join_path(path, "name"), pattern=RULE_NAME_RE,
                            hint="use 1-64 characters from a-z 0-9 _.")
        if name in names:
            check.fail(join_path(path, "name"), "rule '%s' is defined twice." % name, "give every rule a unique name.")
        names.add(name)
        entry = {
            "name": name,
            "description": check.string(rule["description"], join_path(path, "description"),
                                        hint="explain what the rule detects; it is shown when the rule fires."),
            "when": compile_expression(check, rule["when"], join_path(path, "when")),
            "score": check.integer(rule.get("score", 0), join_path(path, "score")),
            "force_tier": None,
        }
        if rule.get("force_tier") is not None:
            entry["force_tier"] = check.string(rule["force_tier"], join_path(path, "force_tier"), choices=TIERS)
        if entry["score"] == 0 and entry["force_tier"] is None and "score" not in rule:
            check.fail(join_path(path, "score"), "is missing and the rule has no force_tier, so it could never matter.",
                       "add score: <int> or force_tier: <tier>.")
        out_rules.append(entry)
    tiers = check.mapping(risk["tiers"], "risk.tiers", TIERS, TIERS)
    out_tiers = {}
    previous = None
    for tier in TIERS:
        value = check.integer(tiers[tier], join_path("risk.tiers", tier))
        if previous is None and value != 0:
            check.fail("risk.tiers.low", "must be 0, got %d." % value, "set low: 0 (every score below medium is low).")
        if previous is not None and value <= previous[1]:
            check.fail(join_path("risk.tiers", tier), "(%d) must be greater than %s (%d)." % (value, previous[0], previous[1]),
                       "make the thresholds strictly increasing: low < medium < high < critical.")
        out_tiers[tier] = value
        previous = (tier, value)
    return {"rules": out_rules, "tiers": out_tiers}


@functools.lru_cache(maxsize=1024)
def compiled(expression):
    """The compiled JMESPath expression (cached: the same policy is evaluated for every change)."""
    if jmespath is None:
        raise MissingLibrary("jmespath", "to evaluate risk rules")
    return jmespath.compile(expression)


def compile_expression(check, expression, path):
    """Compile a JMESPath condition at load; syntax errors, unknown functions and unknown facts are refused."""
    if jmespath is None:
        raise MissingLibrary("jmespath", "to evaluate risk rules")
    check.string(expression, path, hint="quote the JMESPath expression, e.g. \"contains(sections_touched, 'router bgp')\".")
    try:
        parsed = compiled(expression)
    except jmespath_exceptions.JMESPathError as exc:
        check.fail(path, "is not a valid JMESPath expression (%s)." % _parse_problem(exc, expression),
                   "fix the syntax; literals go in backticks (`2`) and strings in single quotes ('router bgp').")
    table = jmespath_functions.Functions.FUNCTION_TABLE
    for node in _walk(parsed.parsed):
        if node.get("type") == "function_expression":
            name = node.get("value")
            if name not in table:
                check.fail(path, "calls unknown function %s()." % name,
                           "use a JMESPath built-in function: %s." % ", ".join(sorted(table)))
            _check_arity(check, path, name, table[name]["signature"], len(node.get("children", [])))
        if node.get("type") == "field" and node.get("value") not in FACT_FIELDS:
            check.fail(path, "refers to '%s', which is not a change fact." % node.get("value"),
                       "use the change facts fields: %s." % ", ".join(sorted(FACT_FIELDS)))
    return expression


def _parse_problem(exc, expression):
    """One-line description of a JMESPath parse error (jmespath's own text spans several lines)."""
    if isinstance(exc, jmespath_exceptions.IncompleteExpressionError):
        return "incomplete expression at character %d" % len(expression)
    if isinstance(exc, jmespath_exceptions.LexerError):
        return "%s at character %d" % (exc.message, exc.lexer_position)
    if isinstance(exc, jmespath_exceptions.ParseError) and getattr(exc, "lex_position", None) is not None:
        return "unexpected %s at character %d" % (repr(exc.token_value) if exc.token_value else exc.token_type.lower(), exc.lex_position)
    return str(exc).splitlines()[0]


def _check_arity(check, path, name, signature, given):
    """Argument count checked at load (jmespath only checks it when the expression runs)."""
    variadic = bool(signature) and signature[-1].get("variadic", False)
    if given < len(signature) or (given > len(signature) and not variadic):
        expected = "at least %d" % len(signature) if variadic else "%d" % len(signature)
        check.fail(path, "calls %s() with %d argument(s); it takes %s." % (name, given, expected),
                   "pass %s argument(s) to %s()." % (expected, name))


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.get("children", []))


def _identities(check, identities):
    identities = _section(identities, {})
    if not isinstance(identities, dict):
        check.fail("identities", "must be a mapping of name to {groups, principals}, got %s." % describe(identities),
                   "write it like identities: {alice: {groups: [netops], principals: [alice@lab]}}.")
    out = {}
    for name, entry in identities.items():
        path = join_path("identities", name)
        check.string(name, path, pattern=NAME_RE, hint="use 1-64 characters from A-Z a-z 0-9 . _ - as the identity name.")
        check.mapping(entry, path, IDENTITY_KEYS, ("principals",))
        out[name] = {
            "groups": check.string_list(_section(entry.get("groups"), []), join_path(path, "groups"), pattern=NAME_RE),
            "principals": check.string_list(entry["principals"], join_path(path, "principals"), nonempty=True,
                                            hint="list the signing principal(s) used in allowed_signers, e.g. [alice@lab]."),
        }
        if entry.get("person") is not None:
            person = check.string(entry["person"], join_path(path, "person"), pattern=NAME_RE,
                                  hint="name the person with 1-64 characters from A-Z a-z 0-9 . _ - (e.g. the identity "
                                       "name of their main account).")
            if person != name:  # the default (the identity's own name) is not stored: same policy, same hash
                out[name]["person"] = person
    _check_persons(check, out)
    return out


def _check_persons(check, identities):
    """A person label that is another identity's name must be that identity's own person (no chains, no cycles)."""
    folded = {name.casefold(): name for name in identities}
    for name, entry in identities.items():
        person = entry.get("person")
        if person is None:
            continue
        other = folded.get(person.casefold())
        if other is not None and other != name and identities[other].get("person", other).casefold() != person.casefold():
            check.fail(join_path(join_path("identities", name), "person"),
                       "names identity '%s', which is itself person '%s'." % (other, identities[other]["person"]),
                       "give every account of one person the same person value (e.g. person: %s on each)."
                       % identities[other]["person"])


def _tier_approvals(check, block, path, identities, known_groups, result):
    """A tier's approvals block over its defaults in ``result``; a rule nobody can satisfy is refused."""
    approvals = _section(block.get("approvals"), {})
    apath = join_path(path, "approvals")
    check.mapping(approvals, apath, APPROVAL_KEYS)
    if "count" in approvals:
        result["count"] = check.integer(approvals["count"], join_path(apath, "count"), minimum=0)
    if "groups" in approvals:
        result["groups"] = check.string_list(_section(approvals["groups"], []), join_path(apath, "groups"), pattern=NAME_RE)
    if "segregation_of_duties" in approvals:
        result["segregation_of_duties"] = check.boolean(approvals["segregation_of_duties"], join_path(apath, "segregation_of_duties"))
    if "max_age_hours" in approvals:
        result["max_age_hours"] = check.integer(approvals["max_age_hours"], join_path(apath, "max_age_hours"), minimum=1)
    # An approval rule nobody can satisfy would block every change of the tier: refuse it at load.
    for index, group in enumerate(result["groups"]):
        if group not in known_groups:
            check.fail(join_path(join_path(apath, "groups"), index), "no identity is in group '%s'." % group,
                       "add the group to an identity under identities, or remove it here.")
    if result["count"] > len(identities):
        check.fail(join_path(apath, "count"), "needs %d approver(s) but only %d identities are defined." % (result["count"], len(identities)),
                   "define more identities or lower the count.")
    if result["groups"] and result["count"] == 0:
        check.fail(join_path(apath, "count"), "is 0 but groups are listed.", "set count to at least 1 or remove groups.")


# A tier's plain settings, checked in this order: key -> how to read it.
_TIER_SETTINGS = (
    ("window_required", lambda check, value, path: check.boolean(value, path)),
    ("automation", lambda check, value, path: check.string(value, path, choices=("auto", "review"))),
    ("checks", lambda check, value, path: check.string_list(_section(value, []), path, pattern=NAME_RE)),
    ("canary", lambda check, value, path: check.integer(value, path, minimum=0)),
    ("batch_size", lambda check, value, path: check.integer(value, path, minimum=1)),
    ("max_failures", lambda check, value, path: check.integer(value, path, minimum=0)),
    ("auto_rollback", lambda check, value, path: check.boolean(value, path)),
    ("rollback_scope", lambda check, value, path: check.string(value, path, choices=("all", "failed"))),
)


def _snapshot_scope(check, value, path):
    # "targets" (before the impact scope) is read as "impact"; narrowing to the targets is written targets_only.
    scope = check.string(value, path, choices=("impact", "network", "targets_only", "targets"))
    return "impact" if scope == "targets" else scope


def _tier_escalation(check, value, path):
    escalation = check.mapping(value, path, ("target", "runbook"), ("target",))
    out = {"target": check.string(escalation["target"], join_path(path, "target"))}
    if "runbook" in escalation:
        out["runbook"] = check.string(escalation["runbook"], join_path(path, "runbook"))
    return out


def _tier_settings(check, block, path, merged):
    for key, read in _TIER_SETTINGS:
        if key in block:
            merged[key] = read(check, block[key], join_path(path, key))
    if "snapshot_scope" in block:
        merged["snapshot_scope"] = _snapshot_scope(check, block["snapshot_scope"], join_path(path, "snapshot_scope"))
    if block.get("escalation") is not None:
        merged["escalation"] = _tier_escalation(check, block["escalation"], join_path(path, "escalation"))


def _requirements(check, requirements, identities):
    check.mapping(requirements, "requirements", TIERS, TIERS)
    known_groups = {group for entry in identities.values() for group in entry["groups"]}
    out = {}
    for tier in TIERS:
        path = join_path("requirements", tier)
        block = _section(requirements[tier], {})
        check.mapping(block, path, REQUIREMENT_KEYS)
        merged = copy.deepcopy(REQUIREMENT_DEFAULTS)
        _tier_approvals(check, block, path, identities, known_groups, merged["approvals"])
        _tier_settings(check, block, path, merged)
        out[tier] = merged
    return out


def _standard_changes(check, entries):
    entries = _section(entries, [])
    check.list_of(entries, "standard_changes", hint="list the templates: - {name, category, when, max_tier}.")
    out, names = [], set()
    for index, entry in enumerate(entries):
        path = join_path("standard_changes", index)
        check.mapping(entry, path, STANDARD_KEYS, ("name", "category"))
        name = check.string(entry["name"], join_path(path, "name"), pattern=RULE_NAME_RE, hint="use 1-64 characters from a-z 0-9 _.")
        if name in names:
            check.fail(join_path(path, "name"), "standard change '%s' is defined twice." % name, "give each one a unique name.")
        names.add(name)
        item = {
            "name": name,
            "description": check.string(entry.get("description", ""), join_path(path, "description"), allow_empty=True),
            "category": check.string(entry["category"], join_path(path, "category"), choices=CATEGORIES),
            "when": None,
            "max_tier": check.string(entry.get("max_tier", "low"), join_path(path, "max_tier"), choices=TIERS),
        }
        if entry.get("when") is not None:
            item["when"] = compile_expression(check, entry["when"], join_path(path, "when"))
        out.append(item)
    return out


def _scope(check, scope, path):
    scope = _section(scope, {})
    check.mapping(scope, path, SCOPE_KEYS)
    return {key: check.string_list(_section(scope.get(key), []), join_path(path, key), pattern=NAME_RE) for key in SCOPE_KEYS}


def _hhmm(check, value, path):
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the base-60 integer 1320.
        check.fail(path, "was read as the number %d (unquoted HH:MM in YAML is base 60)." % value,
                   'quote the time, e.g. "22:00".')
    check.string(value, path, hint='write the time as a quoted "HH:MM".')
    if not HHMM_RE.match(value):
        check.fail(path, "'%s' is not a time of day." % value, 'write it as "HH:MM" (00:00 to 24:00).')
    return value


def _windows(check, windows):
    windows = _section(windows, [])
    check.list_of(windows, "windows", hint="list the maintenance windows: - {name, timezone, weekly: [...]}.")
    out, names = [], set()
    for index, window in enumerate(windows):
        path = join_path("windows", index)
        check.mapping(window, path, WINDOW_KEYS, ("name", "timezone"))
        name = check.string(window["name"], join_path(path, "name"), pattern=NAME_RE)
        if name in names:
            check.fail(join_path(path, "name"), "window '%s' is defined twice." % name, "give each window a unique name.")
        names.add(name)
        item = {"name": name, "scope": _scope(check, window.get("scope"), join_path(path, "scope")),
                "timezone": _timezone(check, window["timezone"], join_path(path, "timezone"))}
        if ("weekly" in window) == ("rrule" in window):
            check.fail(path, "must have exactly one of 'weekly' or 'rrule'.",
                       'give weekly: [{days: [sat], start: "01:00", end: "05:00"}] or rrule + duration_minutes.')
        if "weekly" in window:
            for key in ("duration_minutes", "exdate"):
                if key in window:
                    check.fail(join_path(path, key), "only applies to rrule windows.", "remove it or use rrule.")
            item["weekly"] = _weekly(check, window["weekly"], join_path(path, "weekly"))
        else:
            item["rrule"] = check.string(window["rrule"], join_path(path, "rrule"),
                                         hint='give an RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22;BYMINUTE=0".')
            if "duration_minutes" not in window:
                check.fail(join_path(path, "duration_minutes"), "is required with rrule.", "add duration_minutes: <minutes>.")
            item["duration_minutes"] = check.integer(window["duration_minutes"], join_path(path, "duration_minutes"), minimum=1)
            exdates = check.list_of(_section(window.get("exdate"), []), join_path(path, "exdate"))
            item["exdate"] = []
            for position, value in enumerate(exdates):
                item["exdate"].append(_local_datetime(check, value, join_path(join_path(path, "exdate"), position)))
        out.append(item)
    return out


def _timezone(check, value, path):
    check.string(value, path, hint="use an IANA time zone name, e.g. Europe/London.")
    if zoneinfo is None:  # pragma: no cover
        raise MissingLibrary("zoneinfo", "to check window time zones")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a zone directory such as "Europe"
        check.fail(path, "'%s' is not a known time zone." % value, "use an IANA time zone name, e.g. Europe/London or UTC.")
    return value


def _local_datetime(check, value, path):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    check.string(value, path, hint='write it like "2026-12-29T22:00:00".')
    try:
        return datetime.datetime.fromisoformat(value).isoformat()
    except ValueError:
        check.fail(path, "'%s' is not an ISO 8601 date-time." % value, 'write it like "2026-12-29T22:00:00".')


def _weekly(check, slots, path):
    check.list_of(slots, path, nonempty=True, hint='list slots: - {days: [sat, sun], start: "01:00", end: "05:00"}.')
    out = []
    for index, slot in enumerate(slots):
        spath = join_path(path, index)
        check.mapping(slot, spath, ("days", "start", "end"), ("days", "start", "end"))
        days = check.string_list(slot["days"], join_path(spath, "days"), nonempty=True, choices=DAYS)
        start = _hhmm(check, slot["start"], join_path(spath, "start"))
        end = _hhmm(check, slot["end"], join_path(spath, "end"))
        if start == end or start == "24:00":
            check.fail(join_path(spath, "end"), "gives an empty slot (%s-%s)." % (start, end),
                       "use a start before 24:00 and an end different from the start (an end before the start spans midnight).")
        out.append({"days": days, "start": start, "end": end})
    return out


def _freezes(check, freezes):
    freezes = _section(freezes, [])
    check.list_of(freezes, "freezes", hint="list the freezes: - {name, start, end}.")
    out, names = [], set()
    for index, freeze in enumerate(freezes):
        path = join_path("freezes", index)
        check.mapping(freeze, path, FREEZE_KEYS, ("name",))
        name = check.string(freeze["name"], join_path(path, "name"), pattern=NAME_RE)
        if name in names:
            check.fail(join_path(path, "name"), "freeze '%s' is defined twice." % name, "give each freeze a unique name.")
        names.add(name)
        item = {"name": name}
        item.update(_yearly_freeze(check, freeze, path) if "yearly" in freeze else _dated_freeze(check, freeze, path))
        item.update({
            "scope": _scope(check, freeze.get("scope"), join_path(path, "scope")),
            "allow_emergency": check.boolean(freeze.get("allow_emergency", False), join_path(path, "allow_emergency")),
            "reason": check.string(freeze.get("reason", ""), join_path(path, "reason"), allow_empty=True)})
        out.append(item)
    return out


def _dated_freeze(check, freeze, path):
    """A one-off freeze: start and end, ISO 8601 instants with an offset."""
    for key in ("start", "end"):
        if key not in freeze:
            check.fail(join_path(path, key), "is required but missing.",
                       "give start and end (ISO 8601 with an offset), or a yearly freeze: yearly: {start: \"12-20\", end: \"01-04\"} "
                       "with a timezone.")
    if "timezone" in freeze:
        check.fail(join_path(path, "timezone"), "only applies to yearly freezes (start and end carry their offset).", "remove it.")
    start = check.timestamp(freeze["start"], join_path(path, "start"))
    end = check.timestamp(freeze["end"], join_path(path, "end"))
    if end <= start:
        check.fail(join_path(path, "end"), "is not after start.", "make the freeze end after it starts.")
    return {"start": start.isoformat(), "end": end.isoformat()}


def _yearly_freeze(check, freeze, path):
    """A freeze that recurs every year: local month-day start (inclusive, 00:00) to end (exclusive, 00:00)."""
    for key in ("start", "end"):
        if key in freeze:
            check.fail(join_path(path, key), "does not go with yearly (the yearly dates repeat every year).",
                       "remove it, or remove yearly for a one-off freeze.")
    ypath = join_path(path, "yearly")
    check.mapping(freeze["yearly"], ypath, ("start", "end"), ("start", "end"))
    days = {}
    for key in ("start", "end"):
        days[key] = check.string(freeze["yearly"][key], join_path(ypath, key), pattern=YEARLY_RE,
                                 hint='write the month and day as "MM-DD", e.g. "12-20".')
        month, day = (int(part) for part in days[key].split("-"))
        try:
            datetime.date(2000, month, day)  # a leap year: 02-29 is allowed (it falls on 03-01 in other years)
        except ValueError:
            check.fail(join_path(ypath, key), "'%s' is not a day of the year." % days[key], 'use a real date, e.g. "12-20".')
    if days["start"] == days["end"]:
        check.fail(join_path(ypath, "end"), "equals start, so the freeze would be empty.",
                   "give a different end (an end before the start spans the new year).")
    if "timezone" not in freeze:
        check.fail(join_path(path, "timezone"), "is required with yearly.", "set an IANA zone such as Europe/London or UTC.")
    return {"yearly": dict(days), "timezone": _timezone(check, freeze["timezone"], join_path(path, "timezone"))}


def _emergency(check, section):
    section = _section(section, {})
    check.mapping(section, "emergency", EMERGENCY_KEYS)
    out = dict(EMERGENCY_DEFAULTS)
    for key in ("allowed", "bypass_window", "bypass_freeze"):
        if key in section:
            out[key] = check.boolean(section[key], join_path("emergency", key))
    if "post_review_hours" in section:
        out["post_review_hours"] = check.integer(section["post_review_hours"], "emergency.post_review_hours", minimum=1)
    return out


def ensure_policy(policy):
    """Return a normalised policy: a dict from load_policy/validate_policy is used as is, anything else validated."""
    if isinstance(policy, dict) and "policy_sha256" in policy and "source" in policy:
        return policy
    return validate_policy(policy)


def device_criticality(policy, host, hostvars, groups):
    """Criticality of one device: the host var wins; else the highest of matching groups and tags; else default."""
    policy = ensure_policy(policy)
    rules = policy["criticality"]
    hostvars = hostvars or {}
    explicit = hostvars.get(rules["hostvar"])
    if explicit is not None:
        if explicit not in CRITICALITY_LEVELS:
            raise ValidationError("host var %s is %r, not a criticality level." % (rules["hostvar"], explicit),
                                  where="inventory: %s" % host, fix="set it to one of: %s." % ", ".join(CRITICALITY_LEVELS))
        return explicit
    levels = [rules["groups"][group] for group in (groups or ()) if group in rules["groups"]]
    tags = hostvars.get(rules["tagvar"]) or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, (list, tuple)):
        raise ValidationError("host var %s must be a list of tags, got %s." % (rules["tagvar"], describe(tags)),
                              where="inventory: %s" % host, fix="write it as a list, e.g. [pci].")
    levels.extend(rules["tags"][tag] for tag in tags if isinstance(tag, str) and tag in rules["tags"])
    if not levels:
        return rules["default"]
    return max(levels, key=CRITICALITY_LEVELS.index)
