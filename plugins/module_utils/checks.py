# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative checks over snapshots: a JMESPath query, an operator, and the snapshot it reads.

A check: ``{name, query, op, value?, snapshot: pre|post|diff|pre_vs_post, tolerance_pct?, where?,
description?, platform?, devices?, skip_if_absent?, allow_empty?}``.

* ``pre`` / ``post`` / ``diff``: the query runs on that document and its result is compared with ``value``.
* ``pre_vs_post``: the query runs on pre and on post and post is compared with pre (``unchanged``: equal;
  ``at_least``: post >= pre; ``superset``: post holds everything pre held...). ``tolerance_pct`` loosens
  at_least / at_most / superset / within_pct_of_pre by that share of the pre value.

Fail closed: a query that errors or finds nothing (null), a missing snapshot, a value of the wrong type,
all give ``passed: false`` with a reason starting "cannot evaluate" and make the run ``undecidable``.
"""

from __future__ import annotations

import time

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, MissingLibrary, ValidationError
from ansible_collections.governed.change.plugins.module_utils.impact import (
    FAIL_FAST_POLLS, SettleTracker, decisive_failure, failure_signature, normalize_intended, routing_signature,
)

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions
except ImportError:  # pragma: no cover - guarded: the core imports without jmespath
    jmespath = None
    jmespath_exceptions = None

SNAPSHOTS = ("pre", "post", "diff", "pre_vs_post")
# op -> (needs value, snapshots it accepts)
OPERATORS = {
    "equals": (True, SNAPSHOTS),
    "not_equals": (True, SNAPSHOTS),
    "at_least": (True, SNAPSHOTS),
    "at_most": (True, SNAPSHOTS),
    "greater_than": (True, SNAPSHOTS),
    "less_than": (True, SNAPSHOTS),
    "contains": (True, ("pre", "post", "diff")),
    "not_contains": (True, ("pre", "post", "diff")),
    "subset": (True, SNAPSHOTS),
    "superset": (True, SNAPSHOTS),
    "within_pct_of_pre": (False, ("pre_vs_post",)),
    "all_match": (False, ("pre", "post", "diff")),
    "none_match": (False, ("pre", "post", "diff")),
    "is_empty": (False, ("pre", "post", "diff")),
    "not_empty": (False, ("pre", "post", "diff")),
    "unchanged": (False, ("pre_vs_post",)),
}
CHECK_KEYS = ("name", "query", "op", "value", "snapshot", "tolerance_pct", "description", "where", "platform", "devices",
              "skip_if_absent", "allow_empty", "ignore")
MAX_LISTED = 20  # values longer than this are reported as {count, sample}
MAX_WAIT_S = 3600


def _require_jmespath():
    if jmespath is None:
        raise MissingLibrary("jmespath", "to evaluate checks")


# ------------------------------------------------------------------------------------------------ validation


def _fail(where, problem, fix):
    raise ValidationError(problem, where=where, fix=fix)


def validate_check(check, where="check"):
    """Validate one check document; returns a normalized copy (defaults filled, queries compiled)."""
    _require_jmespath()
    _named_mapping_rule(check, where)
    where = "check '%s'" % check["name"]
    _known_keys_rule(check, where)
    _operator_rule(check, where)
    snapshot = _snapshot_of(check, where)
    for rule in VALUE_RULES:
        rule(check, snapshot, where)
    compiled = _compile(check.get("query"), where + ".query")
    compiled_where = _where_expression(check, where)
    for rule in OPTION_RULES:
        rule(check, snapshot, where)
    out = dict(check)
    out["snapshot"] = snapshot
    out["_query"] = compiled
    out["_where"] = compiled_where
    return out


def _named_mapping_rule(check, where):
    """Rule: a check is a mapping with a non-empty name."""
    if not isinstance(check, dict):
        _fail(where, "a check must be a mapping, got %s." % type(check).__name__, "write it as {name, query, op, ...}.")
    name = check.get("name")
    if not isinstance(name, str) or not name.strip():
        _fail(where + ".name", "name is missing or empty.", "give every check a unique name.")


def _known_keys_rule(check, where):
    """Rule: a check uses only the keys in CHECK_KEYS."""
    unknown = sorted(set(check) - set(CHECK_KEYS))
    if unknown:
        _fail(where, "unknown key(s): %s." % ", ".join(unknown), "use only: %s." % ", ".join(CHECK_KEYS))


def _operator_rule(check, where):
    """Rule: the operator is one of OPERATORS."""
    op = check.get("op")
    if op not in OPERATORS:
        _fail(where + ".op", "unknown operator %r." % (op,), "use one of: %s." % ", ".join(sorted(OPERATORS)))


def _snapshot_of(check, where):
    """Rule: the snapshot (default pre_vs_post for unchanged/within_pct_of_pre, else post) is one the operator reads."""
    op = check["op"]
    snapshot = check.get("snapshot", "pre_vs_post" if op in ("unchanged", "within_pct_of_pre") else "post")
    if snapshot not in SNAPSHOTS:
        _fail(where + ".snapshot", "unknown snapshot %r." % (snapshot,), "use one of: %s." % ", ".join(SNAPSHOTS))
    allowed = OPERATORS[op][1]
    if snapshot not in allowed:
        _fail(where + ".snapshot", "operator %s cannot read snapshot %s." % (op, snapshot), "use snapshot: %s." % " or ".join(allowed))
    return snapshot


def _value_needed_rule(check, snapshot, where):
    """Rule: an operator that compares with a value has one (pre_vs_post compares with pre instead)."""
    op = check["op"]
    if OPERATORS[op][0] and "value" not in check and snapshot != "pre_vs_post":
        _fail(where + ".value", "operator %s needs a value to compare with." % op, "add value: <expected>.")


def _value_unused_rule(check, snapshot, where):
    """Rule: pre_vs_post takes no value (post is compared with pre), except within_pct_of_pre's percentage."""
    if snapshot == "pre_vs_post" and "value" in check and check["op"] != "within_pct_of_pre":
        _fail(where + ".value", "value is not used with snapshot pre_vs_post: post is compared with pre.",
              "remove value, or read one snapshot (snapshot: post) to compare with a fixed value.")


def _list_value_rule(check, _snapshot, where):
    """Rule: subset and superset compare with a list."""
    op = check["op"]
    if op in ("subset", "superset") and "value" in check and not isinstance(check["value"], list):
        _fail(where + ".value", "operator %s needs a list value." % op, "write value as a YAML list.")


def _query_rule(check, _snapshot, where):
    """Rule: a check has a non-empty query (compiled next)."""
    query = check.get("query")
    if not isinstance(query, str) or not query.strip():
        _fail(where + ".query", "query is missing or empty.", "write a JMESPath expression, e.g. sections.peers.*.state.")


def _where_expression(check, where):
    """Rule: all_match and none_match need a 'where' sub-expression (compiled); no other operator takes one."""
    op, where_expr = check["op"], check.get("where")
    if op in ("all_match", "none_match"):
        if not isinstance(where_expr, str) or not where_expr.strip():
            _fail(where + ".where", "operator %s needs a 'where' sub-expression evaluated on each item." % op,
                  "add e.g. where: \"state == 'Established'\".")
        return _compile(where_expr, where + ".where")
    if where_expr is not None:
        _fail(where + ".where", "'where' is only used by all_match and none_match.", "remove it, or filter in the query.")
    return None


def _tolerance_range_rule(check, _snapshot, where):
    """Rule: tolerance_pct is a number from 0 to 100."""
    tol = check.get("tolerance_pct")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0 or tol > 100):
        _fail(where + ".tolerance_pct", "tolerance_pct must be a number from 0 to 100, got %r." % (tol,), "write e.g. tolerance_pct: 5.")


def _tolerance_needed_rule(check, _snapshot, where):
    """Rule: within_pct_of_pre has its percentage (tolerance_pct or a numeric value)."""
    if check["op"] == "within_pct_of_pre" and check.get("tolerance_pct") is None and not isinstance(check.get("value"), (int, float)):
        _fail(where + ".tolerance_pct", "within_pct_of_pre needs tolerance_pct (or a numeric value).", "add tolerance_pct: <percent>.")


def _tolerance_used_rule(check, _snapshot, where):
    """Rule: only within_pct_of_pre, at_least, at_most and superset take tolerance_pct."""
    op = check["op"]
    if check.get("tolerance_pct") is not None and op not in ("within_pct_of_pre", "at_least", "at_most", "superset"):
        _fail(where + ".tolerance_pct", "tolerance_pct is not used by %s." % op, "remove it, or use at_least/at_most/superset/within_pct_of_pre.")


def _devices_rule(check, _snapshot, where):
    """Rule: devices, when given, is a list of inventory names."""
    devices = check.get("devices")
    if devices is not None and (not isinstance(devices, list) or not all(isinstance(d, str) for d in devices)):
        _fail(where + ".devices", "devices must be a list of inventory names.", "write e.g. devices: [r1, r2].")


def _ignore_rule(check, _snapshot, where):
    """Rule: ignore (items allowed to be missing) is a list, on a superset check only."""
    ignore = check.get("ignore")
    if ignore is not None and (not isinstance(ignore, list) or check["op"] != "superset"):
        _fail(where + ".ignore", "ignore must be a list, used by superset only (items allowed to be missing).",
              "write e.g. ignore: [\"10.255.0.1/32\"] on a superset check, or remove it.")


def _flags_rule(check, _snapshot, where):
    """Rule: skip_if_absent and allow_empty are booleans."""
    for flag in ("skip_if_absent", "allow_empty"):
        if flag in check and not isinstance(check[flag], bool):
            _fail(where + "." + flag, "%s must be true or false." % flag, "write %s: true." % flag)


# The rules of a check, in the order their refusals are reported: those before the query is compiled, those after.
VALUE_RULES = (_value_needed_rule, _value_unused_rule, _list_value_rule, _query_rule)
OPTION_RULES = (_tolerance_range_rule, _tolerance_needed_rule, _tolerance_used_rule, _devices_rule, _ignore_rule, _flags_rule)


def _compile(expr, where):
    try:
        return jmespath.compile(expr)
    except jmespath_exceptions.JMESPathError as exc:
        _fail(where, "is not a valid JMESPath expression (%s)." % str(exc).splitlines()[0],
              "fix the expression (https://jmespath.org/specification.html).")


def validate_checks(checks, where="checks"):
    """Validate a list of checks (names must be unique); returns the normalized list."""
    if not isinstance(checks, list):
        _fail(where, "checks must be a list, got %s." % type(checks).__name__, "write checks as a YAML list of mappings.")
    seen, out = set(), []
    for index, check in enumerate(checks):
        normalized = validate_check(check, where="%s[%d]" % (where, index))
        ident = (normalized["name"], normalized.get("platform"))
        if ident in seen:
            _fail("%s[%d].name" % (where, index), "check name %r is used twice%s." % (
                normalized["name"], " for platform %s" % ident[1] if ident[1] else ""), "give every check a unique name.")
        seen.add(ident)
        out.append(normalized)
    return out


# ------------------------------------------------------------------------------------------------ built-ins


def no_regression_checks(platform, tolerance_pct=0, intended=None):
    """The built-in "no regression" checks of a platform (pre_vs_post), tagged with the platform they apply to.

    On FRR, no_bgp_session_lost and no_route_lost are the network-wide invariant (run on every device of the
    verification scope); ``intended`` ({prefixes_lost, sessions_down}) lists the losses the change declares.
    """
    checks = _no_regression(platform, tolerance_pct)
    wanted = None
    if intended:
        wanted = normalize_intended(intended)
    for check in checks:
        check["platform"] = platform
        if wanted and check["name"] == "no_bgp_session_lost" and wanted["sessions_down"]:
            check["ignore"] = wanted["sessions_down"]
        if wanted and check["name"] == "no_route_lost" and wanted["prefixes_lost"]:
            check["ignore"] = wanted["prefixes_lost"]
        if wanted and check["name"] == "probes_still_pass" and wanted["services_blocked"]:
            check["ignore"] = wanted["services_blocked"]  # traffic.py: a probe's key is its service's name
    return checks


def _no_regression(platform, tolerance_pct):
    common_if = {"name": "no_interface_up_to_down", "query": "sections.interfaces.*|[?state=='up'].name", "op": "superset",
                 "snapshot": "pre_vs_post", "description": "every interface that was up is still up"}
    if platform == "frr":
        return [
            {"name": "no_bgp_session_lost", "query": "sections.peers.*|[?state=='Established'].address", "op": "superset",
             "snapshot": "pre_vs_post", "description": "every BGP session that was Established still is"},
            {"name": "no_route_lost", "query": "keys(sections.routes)", "op": "superset", "snapshot": "pre_vs_post",
             "tolerance_pct": tolerance_pct, "description": "no route lost beyond %s%% of the pre routes" % tolerance_pct},
            dict(common_if),
        ]
    if platform == "linux":
        return [
            dict(common_if),
            {"name": "probes_still_pass", "query": "sections.probes.*|[?result=='ok' && probe.reachable!=`false`].target", "op": "superset",
             "snapshot": "pre_vs_post", "skip_if_absent": True, "description": "every reachability probe that passed still passes"},
            # traffic.py: a catalogue service marked reachable: false must not become reachable
            {"name": "blocked_services_stay_blocked", "query": "sections.probes.*|[?result=='ok' && probe.reachable==`false`].target",
             "op": "subset", "snapshot": "pre_vs_post", "skip_if_absent": True,
             "description": "no service the catalogue marks reachable: false became reachable"},
        ]
    raise ValidationError("no built-in checks for platform %r." % (platform,), where="no_regression_checks(platform)",
                          fix="use frr or linux.")


SAME_AS_PRE = (
    {"name": "same_established_peers", "query": "sections.peers.*|[?state=='Established'].address | sort(@)", "op": "unchanged",
     "snapshot": "pre_vs_post", "platform": "frr", "skip_if_absent": True},
    {"name": "same_routes", "query": "keys(sections.routes) | sort(@)", "op": "unchanged", "snapshot": "pre_vs_post", "platform": "frr"},
    {"name": "same_config", "query": "sections.config.running.sha256", "op": "unchanged", "snapshot": "pre_vs_post", "platform": "frr"},
    {"name": "same_rules", "query": "sections.rules.*.[chain, expr] | sort_by(@, &to_string(@))", "op": "unchanged",
     "snapshot": "pre_vs_post", "platform": "linux", "skip_if_absent": True},
    {"name": "same_probes", "query": "sections.probes", "op": "unchanged", "snapshot": "pre_vs_post", "platform": "linux",
     "skip_if_absent": True},
)


def same_as_pre_checks(platform=None):
    """The checks proving a device's state equals its pre-change snapshot (the rollback's verification), per platform.

    A section that is collected only on demand (probes, BGP peers, firewall rules) and is absent from both the pre and
    the post snapshot is skipped with its reason ("nothing collected"), not failed: nothing was there to compare. A
    section present in one snapshot only still fails closed (undecidable).
    """
    return [dict(check) for check in SAME_AS_PRE if platform is None or check["platform"] == platform]


# ------------------------------------------------------------------------------------------------ evaluation


class _Undecidable(Exception):
    pass


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value):
    """A value as reported: big lists are cut to a sample with their count."""
    if isinstance(value, list) and len(value) > MAX_LISTED:
        return {"count": len(value), "sample": value[:MAX_LISTED]}
    if isinstance(value, dict) and len(value) > MAX_LISTED:
        keys = sorted(value, key=str)[:MAX_LISTED]
        return {"count": len(value), "sample": dict((k, value[k]) for k in keys)}
    return value


def _search(compiled, data, label):
    try:
        return compiled.search(data)
    except jmespath_exceptions.JMESPathError as exc:
        raise _Undecidable("cannot evaluate the query on %s (%s)." % (label, str(exc).splitlines()[0]))


def _items(value, op):
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    raise _Undecidable("cannot evaluate: %s needs a list (or mapping) but the query returned %s." % (op, type(value).__name__))


def _numbers(op, actual, expected):
    if not _is_number(actual):
        hint = " (wrap the query in length(...) to count)" if isinstance(actual, (list, dict)) else ""
        raise _Undecidable("cannot evaluate: %s needs a number but the query returned %s%s." % (op, type(actual).__name__, hint))
    if not _is_number(expected):
        raise _Undecidable("cannot evaluate: %s needs a numeric value, got %s." % (op, type(expected).__name__))


def _hashable(items):
    out = set()
    for item in items:
        try:
            out.add(item)
        except TypeError:
            out.add(repr(item))
    return out


def _compare(check, actual, expected, relative):
    """(passed, reason, extra) for one operator; relative=True when expected is the pre value."""
    op = check["op"]
    for ops, compare in COMPARISONS:
        if op in ops:
            return compare(check, actual, expected, relative)
    raise _Undecidable("cannot evaluate: operator %s is not implemented." % op)  # pragma: no cover


def _against(relative):
    return "pre" if relative else "the expected value"


def _tolerance(check):
    return check.get("tolerance_pct") or 0


def _compare_equal(_check, actual, expected, relative):
    """Rule of equals and unchanged: the value equals the expected one (or pre)."""
    ok = actual == expected
    return ok, ("equal to %s" % _against(relative)) if ok else ("differs from %s" % _against(relative)), {}


def _compare_not_equal(_check, actual, expected, relative):
    """Rule of not_equals: the value differs from the expected one (or pre)."""
    ok = actual != expected
    return ok, ("differs from %s" % _against(relative)) if ok else ("equal to %s" % _against(relative)), {}


BOUND_WORDS = {"at_least": ">=", "at_most": "<=", "greater_than": ">", "less_than": "<"}


def _bound_holds(op, actual, expected, tol):
    """(bound, ok): at_least/at_most move the bound by tol percent of the expected value; > and < do not."""
    if op == "at_least":
        bound = expected - abs(expected) * tol / 100.0
        return bound, actual >= bound
    if op == "at_most":
        bound = expected + abs(expected) * tol / 100.0
        return bound, actual <= bound
    if op == "greater_than":
        return expected, actual > expected
    return expected, actual < expected


def _compare_bound(check, actual, expected, relative):
    """Rule of at_least, at_most, greater_than and less_than: two numbers, compared (with the tolerance)."""
    op, tol = check["op"], _tolerance(check)
    _numbers(op, actual, expected)
    bound, ok = _bound_holds(op, actual, expected, tol)
    words = BOUND_WORDS[op]
    return ok, "%s %s %s %s" % (actual, words if ok else "is not " + words, bound, "(pre %s, tolerance %s%%)" % (expected, tol) if relative else ""), {}


def _found(op, actual, expected):
    """Whether expected is in actual (a substring of a string, an item of a list, a key of a mapping)."""
    if isinstance(actual, str):
        if not isinstance(expected, str):
            raise _Undecidable("cannot evaluate: the query returned a string; value must be a string too.")
        return expected in actual
    if isinstance(actual, (list, dict)):
        return expected in (list(actual) if isinstance(actual, dict) else actual)
    raise _Undecidable("cannot evaluate: %s needs a list, mapping or string but the query returned %s." % (op, type(actual).__name__))


def _compare_contains(check, actual, expected, _relative):
    """Rule of contains and not_contains: the value is (not) found in the query's result."""
    op = check["op"]
    found = _found(op, actual, expected)
    ok = found if op == "contains" else not found
    return ok, "%r %s" % (expected, "found" if found else "not found"), {}


def _lists(op, actual, expected):
    if not isinstance(actual, list) or not isinstance(expected, list):
        raise _Undecidable("cannot evaluate: %s needs lists, the query returned %s." % (op, type(actual).__name__))


def _compare_subset(check, actual, expected, relative):
    """Rule of subset: every item of the result is in the expected list (or pre)."""
    _lists(check["op"], actual, expected)
    extra = sorted(_hashable(actual) - _hashable(expected), key=repr)
    ok = not extra
    return ok, "all items are in %s" % _against(relative) if ok else "%d item(s) not in %s" % (len(extra), _against(relative)), {"extra": _show(extra)}


def _compare_superset(check, actual, expected, relative):
    """Rule of superset: at most tol percent of the expected (or pre) items are missing; declared ignores are excused."""
    _lists(check["op"], actual, expected)
    tol = _tolerance(check)
    have, want = _hashable(actual), _hashable(expected)
    excused = want & _hashable(check.get("ignore") or [])
    want = want - excused
    missing = sorted(want - have, key=repr)
    allowed = int(len(want) * tol / 100.0)
    ok = len(missing) <= allowed
    reason = "%d of %d %s item(s) missing (allowed %d = %s%%)" % (len(missing), len(want), "pre" if relative else "expected", allowed, tol)
    extra = {"missing": _show(missing), "missing_count": len(missing)}
    if excused:
        gone = sorted(excused - have, key=repr)
        reason += "; %d declared intended" % len(gone)
        extra["intended_missing"] = _show(gone)
    return ok, reason, extra


def _compare_within_pct(check, actual, expected, _relative):
    """Rule of within_pct_of_pre: post differs from pre by at most the percentage."""
    _numbers(check["op"], actual, expected)
    pct = check["tolerance_pct"] if check.get("tolerance_pct") is not None else check.get("value")
    delta = abs(actual - expected)
    limit = abs(expected) * pct / 100.0
    ok = delta <= limit
    return ok, "post %s is %s %s%% of pre %s (delta %s)" % (actual, "within" if ok else "not within", pct, expected, delta), {}


def _compare_empty(check, actual, _expected, _relative):
    """Rule of is_empty and not_empty: the list, mapping or string is (not) empty."""
    op = check["op"]
    if not isinstance(actual, (list, dict, str)):
        raise _Undecidable("cannot evaluate: %s needs a list, mapping or string but the query returned %s." % (op, type(actual).__name__))
    empty = len(actual) == 0
    ok = empty if op == "is_empty" else not empty
    return ok, "empty" if empty else "%d item(s)" % len(actual), {}


def _compare_match(check, actual, _expected, _relative):
    """Rule of all_match and none_match: every item (none) satisfies 'where'; all_match on nothing needs allow_empty."""
    op = check["op"]
    items = _items(actual, op)
    hits, misses = [], []
    for item in items:
        (hits if _truthy(_search(check["_where"], item, "an item")) else misses).append(item)
    if op == "none_match":
        return not hits, "%d of %d item(s) match" % (len(hits), len(items)), {"matching": _show(hits)}
    if not items and not check.get("allow_empty"):
        return False, "no items to match (set allow_empty: true if none is acceptable)", {}
    return not misses, "%d of %d item(s) match" % (len(hits), len(items)), {"not_matching": _show(misses)}


# operators -> their rule (the first row naming an operator decides it)
COMPARISONS = (
    (("equals", "unchanged"), _compare_equal),
    (("not_equals",), _compare_not_equal),
    (("at_least", "at_most", "greater_than", "less_than"), _compare_bound),
    (("contains", "not_contains"), _compare_contains),
    (("subset",), _compare_subset),
    (("superset",), _compare_superset),
    (("within_pct_of_pre",), _compare_within_pct),
    (("is_empty", "not_empty"), _compare_empty),
    (("all_match", "none_match"), _compare_match),
)


def _truthy(value):
    """JMESPath truthiness: null, false and empty list/object/string are false (0 is true)."""
    return not (value is None or value is False or (isinstance(value, (list, dict, str)) and len(value) == 0))


def _doc(documents, name):
    doc = documents.get(name)
    if doc is None:
        raise _Undecidable("cannot evaluate: no %s snapshot was given." % name)
    return doc


def evaluate_check(check, documents):
    """Evaluate one validated check against {pre, post, diff} (values may be None); returns a result dict."""
    snap, op = check["snapshot"], check["op"]
    result = {"name": check["name"], "op": op, "snapshot": snap, "query": check["query"], "passed": False, "undecidable": False}
    if check.get("description"):
        result["description"] = check["description"]
    try:
        read = _read_pre_vs_post if snap == "pre_vs_post" else _read_one_snapshot
        outcome = read(check, documents, result)
        if outcome is None:
            return result
        passed, reason, extra = outcome
        result.update(extra)
        result["passed"] = bool(passed)
        result["reason"] = reason.strip()
    except _Undecidable as exc:
        result.update(passed=False, undecidable=True, reason=str(exc))
    return result


def _read_pre_vs_post(check, documents, result):
    """Rule of pre_vs_post: the query finds something in both snapshots (a section captured in neither is skipped when
    skip_if_absent); post is compared with pre. Returns (passed, reason, extra), or None when skipped."""
    pre_doc, post_doc = documents.get("pre"), documents.get("post")
    pre_val = _search(check["_query"], pre_doc, "pre") if pre_doc is not None else None
    post_val = _search(check["_query"], post_doc, "post") if post_doc is not None else None
    if pre_val is None and post_val is None and check.get("skip_if_absent") and pre_doc is not None and post_doc is not None:
        result.update(passed=True, skipped=True, reason="skipped: nothing collected (not captured in either snapshot)")
        return None
    _doc(documents, "pre")
    _doc(documents, "post")
    if pre_val is None or post_val is None:
        raise _Undecidable("cannot evaluate: the query found nothing in %s (section not captured?)." % ("pre" if pre_val is None else "post"))
    result.update(pre=_show(pre_val), post=_show(post_val), actual=_show(post_val), expected=_show(pre_val))
    return _compare(check, post_val, pre_val, relative=True)


def _read_one_snapshot(check, documents, result):
    """Rule of pre, post and diff: the query finds something in that snapshot (a missing snapshot or an empty finding
    is skipped when skip_if_absent); it is compared with value. Returns (passed, reason, extra), or None when skipped."""
    snap = check["snapshot"]
    doc = documents.get(snap)
    if doc is None and check.get("skip_if_absent"):
        result.update(passed=True, skipped=True, reason="skipped: no %s snapshot" % snap)
        return None
    doc = _doc(documents, snap)
    actual = _search(check["_query"], doc, snap)
    if actual is None:
        if check.get("skip_if_absent"):
            result.update(passed=True, skipped=True, reason="skipped: the query found nothing in %s" % snap)
            return None
        raise _Undecidable("cannot evaluate: the query found nothing in %s (section not captured?)." % snap)
    expected = check.get("value")
    result.update(actual=_show(actual), expected=_show(expected))
    return _compare(check, actual, expected, relative=False)


def _documents(pre, post, diff, lazy_diff):
    docs = {"pre": statestore.load(pre) if pre is not None else None,
            "post": statestore.load(post) if post is not None else None,
            "diff": statestore.load(diff) if diff is not None else None}
    if docs["diff"] is None and lazy_diff and docs["pre"] is not None and docs["post"] is not None:
        from ansible_collections.governed.change.plugins.module_utils.state_diff import diff_states
        docs["diff"] = diff_states(pre if statestore.is_ref(pre) else docs["pre"], post if statestore.is_ref(post) else docs["post"])
    return docs


def _is_network(value):
    """A mapping {device: snapshot-or-ref} rather than one snapshot."""
    return isinstance(value, dict) and not statestore.is_snapshot(value) and not statestore.is_ref(value) and \
        all(statestore.is_snapshot(v) or statestore.is_ref(v) or v is None for v in value.values())


def _applies(check, device, platform):
    if check.get("devices") is not None and device not in check["devices"]:
        return False
    if check.get("platform") is not None and platform is not None and check["platform"] != platform:
        return False
    return True


def _platform_of(*docs):
    for doc in docs:
        if isinstance(doc, dict) and doc.get("platform"):
            return doc["platform"]
        if statestore.is_ref(doc):
            return (doc.get("summary") or {}).get("platform")
    return None


def run_checks(checks, pre=None, post=None, diff=None):
    """Run checks on one device's snapshots, or on {device: snapshot} mappings (network-wide).

    Snapshots may be statestore references. Returns ``{passed, undecidable, results: [{name, passed, op,
    expected, actual, pre?, post?, reason, device?}], summary}``; ``passed`` is true only when every
    check passed and none was undecidable.
    """
    validated = checks if _already_validated(checks) else validate_checks(checks)
    lazy = any(c["snapshot"] == "diff" for c in validated)
    if _is_network(pre) or _is_network(post):
        results = _network_results(validated, pre, post, diff, lazy)
    else:
        results = _device_results(validated, pre, post, diff, lazy)
    return _run_verdict(results)


def _already_validated(checks):
    """A non-empty list whose every check came out of validate_check (compiled) is not validated again."""
    return bool(checks and all(isinstance(c, dict) and "_query" in c for c in checks))


def _network_map(value):
    """The {device: snapshot} mapping of a network-wide run ({} when the value is one device's snapshot)."""
    return value if isinstance(value, dict) and _is_network(value) else {}


def _diff_map(diff):
    """The {device: diff} mapping of a network-wide run ({} when the value is one diff or nothing)."""
    return diff if isinstance(diff, dict) and diff and not any(k in diff for k in ("added", "removed", "changed")) else {}


def _network_results(validated, pre, post, diff, lazy):
    """Each device's results (tagged with the device) for the checks that apply to its name and platform."""
    pre_map, post_map, diff_map = _network_map(pre), _network_map(post), _diff_map(diff)
    results = []
    for device in sorted(set(pre_map) | set(post_map)):
        dev_pre, dev_post = pre_map.get(device), post_map.get(device)
        platform = _platform_of(dev_pre, dev_post)
        mine = [c for c in validated if _applies(c, device, platform)]
        if not mine:
            continue
        docs = _documents(dev_pre, dev_post, diff_map.get(device), lazy)
        for check in mine:
            item = evaluate_check(check, docs)
            item["device"] = device
            results.append(item)
    return results


def _device_results(validated, pre, post, diff, lazy):
    """One device's results, tagged with the device its snapshots name (when they name one)."""
    docs = _documents(pre, post, diff, lazy)
    device = _platform_device(docs)
    results = []
    for check in validated:
        item = evaluate_check(check, docs)
        if device:
            item["device"] = device
        results.append(item)
    return results


def _run_verdict(results):
    """Rule: a run passes only when it has results, every check passed and none was undecidable."""
    failed = [r for r in results if not r["passed"]]
    undecidable = [r for r in results if r["undecidable"]]
    return {"passed": bool(results) and not failed, "undecidable": bool(undecidable), "results": results,
            "summary": {"total": len(results), "passed": len(results) - len(failed), "failed": len(failed),
                        "undecidable": len(undecidable), "skipped": sum(1 for r in results if r.get("skipped")),
                        "failed_checks": sorted(set(("%s/%s" % (r["device"], r["name"])) if r.get("device") else r["name"] for r in failed))}}


def _platform_device(docs):
    for name in ("post", "pre"):
        doc = docs.get(name)
        if isinstance(doc, dict) and doc.get("device"):
            return doc["device"]
    return None


def wait_until_settled(take_snapshot_fn, checks, timeout_s, interval_s, pre=None, sleep=time.sleep, clock=time.monotonic,
                       fail_fast_polls=None, converge_s=None, halted=None, refusals=None, pass_hold_s=0.0):
    """Poll ``take_snapshot_fn()`` until ``checks`` pass against ``pre``, fail for good, or ``timeout_s`` runs out (bounded).

    Fail fast (impact.SettleTracker): the same failure on ``fail_fast_polls`` consecutive polls with the routing state
    unchanged - and, when ``converge_s`` (the BGP convergence bound from the timers) is known, that long after the wait
    began - ends the wait; a pass that follows a failure must hold as many polls. ``fail_fast_polls=0`` waits for the
    timeout as before. A decisive failure (impact.decisive_failure: the device says it cannot heal) ends the wait
    after a short hold instead of the bound; ``refusals`` (impact.config_refusals: sessions the change's own lines make
    impossible) makes such a session decisive from the first poll it is seen down. ``halted()`` (optional) is asked after every undecided poll: a reason
    (another device of the batch failed decisively) ends the wait with this device's last result, ``halted: True``.
    ``pass_hold_s``: a first pass settles only once it held that long (SettleTracker), at most half of ``timeout_s``
    (so that a passing device is never reported unsettled for want of time).
    A transient DeviceError from the snapshot is retried within the timeout; any other is raised.
    Returns ``{settled, attempts, elapsed_s, post, result, fail_fast?, decisive?, halted?, reason?}``.
    """
    for label, value in (("timeout_s", timeout_s), ("interval_s", interval_s)):
        if not _is_number(value) or value <= 0:
            raise ValidationError("%s must be a positive number of seconds, got %r." % (label, value), where="wait_until_settled(%s)" % label,
                                  fix="pass e.g. timeout_s=60, interval_s=5.")
    if timeout_s > MAX_WAIT_S:
        raise ValidationError("timeout_s %s is above the %d s bound." % (timeout_s, MAX_WAIT_S), where="wait_until_settled(timeout_s)",
                              fix="converge within an hour, or split the change.")
    validated = validate_checks(checks)
    tracker = SettleTracker(FAIL_FAST_POLLS if fail_fast_polls is None else fail_fast_polls, converge_s,
                            min(pass_hold_s, timeout_s / 2.0) if _is_number(pass_hold_s) and pass_hold_s > 0 else pass_hold_s)
    start = clock()
    attempts, post, result, last_error = 0, None, None, None
    while True:
        attempts += 1
        verdict = None
        polled_at = clock()
        try:
            post = take_snapshot_fn()
            result = run_checks(validated, pre=pre, post=post)
            last_error = None
            verdict = tracker.observe(clock() - start, result["passed"], failure_signature(result), routing_signature(post),
                                      None if result["passed"] else decisive_failure(pre, post, result, refusals))
        except DeviceError as exc:
            if not exc.transient:
                raise
            last_error = exc.as_dict()
        elapsed = clock() - start
        if verdict is not None:
            out = {"settled": verdict["settled"], "attempts": attempts, "elapsed_s": round(elapsed, 3), "post": post, "result": result,
                   "reason": verdict["reason"]}
            if verdict.get("fail_fast"):
                out["fail_fast"] = True
            if verdict.get("decisive"):
                out["decisive"] = verdict["decisive"]
            return out
        # only a failing device stops early: a pass that follows a failure still has to hold (flapping never passes)
        watch = _halt_watch(halted, result)
        stop = watch()
        if not stop:
            # polls start every interval_s: a poll slower than that (SSH, several show commands) is followed at once
            pause = max(0.0, interval_s - (clock() - polled_at))
            if elapsed + pause > timeout_s:
                out = {"settled": False, "attempts": attempts, "elapsed_s": round(elapsed, 3), "post": post, "result": result,
                       "reason": "settle timeout %s s ran out" % timeout_s}
                if last_error:
                    out["last_error"] = last_error
                return out
            stop = _pause(pause, sleep, watch)
        if stop:
            return {"settled": False, "attempts": attempts, "elapsed_s": round(clock() - start, 3), "post": post, "result": result,
                    "halted": True, "reason": stop}


HALT_LOOK_S = 0.05


def _never_halted():
    return None


def _halt_watch(halted, result):
    """What to ask for a halt after a poll: ``halted`` while the device's last run failed, else nothing (never halted)."""
    if halted is None or result is None or result["passed"]:
        return _never_halted
    return halted


def _pause(seconds, sleep, watch):
    """Sleep ``seconds``; a failing device looks for the batch's halt marker (``watch``) every HALT_LOOK_S meanwhile, so
    it stops as soon as another device failed decisively, not at its next poll. Returns the halt reason, or None."""
    if watch is _never_halted:
        sleep(seconds)
        return None
    left = seconds
    while left > 0:
        step = min(HALT_LOOK_S, left)
        sleep(step)
        left -= step
        stop = watch()
        if stop:
            return stop
    return None
