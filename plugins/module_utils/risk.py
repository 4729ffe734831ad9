# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Risk classification: JMESPath rules over the change facts, score to tier, force_tier floors, change class."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused, MissingLibrary, PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import TIERS, compiled
from ansible_collections.governed.change.plugins.module_utils.remediation import standard_templates

try:
    import jmespath
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    jmespath = None


def tier_index(tier):
    """Position of a tier in low < medium < high < critical; an unknown tier is a ValidationError."""
    if tier not in TIERS:
        raise ValidationError("'%s' is not a risk tier." % (tier,), where="tier", fix="use one of: %s." % ", ".join(TIERS))
    return TIERS.index(tier)


def tier_at_least(tier, minimum):
    """True when ``tier`` is ``minimum`` or above."""
    return tier_index(tier) >= tier_index(minimum)


def highest_tier(*tiers):
    """The highest of the given tiers (None entries ignored); low when none."""
    present = [tier for tier in tiers if tier is not None]
    return max(present, key=tier_index) if present else TIERS[0]


def tier_for_score(score, thresholds):
    """The highest tier whose threshold is <= score (a negative score is low)."""
    result = TIERS[0]
    for tier in TIERS:
        if score >= thresholds[tier]:
            result = tier
    return result


def evaluate_condition(expression, facts, where):
    """Evaluate a JMESPath condition; returns (fired, value). Errors and non-boolean results raise PolicyError.

    Accepted results: true/false, or a list/object (fires when non-empty, JMESPath truthiness). A null, number or
    string is refused: it usually means a misspelt path or a comparison between different types, and treating it
    as "did not fire" would silently pass a risky change.
    """
    if jmespath is None:
        raise MissingLibrary("jmespath", "to evaluate risk rules")
    try:
        value = compiled(expression).search(facts)
    except Exception as exc:  # jmespath raises its own errors and plain TypeError (e.g. 'a' < 1): all fail closed
        raise PolicyError("failed to evaluate (%s: %s), so the change cannot be classified." % (type(exc).__name__, str(exc).splitlines()[0]),
                          where=where, fix="correct the expression so it works on the change facts documented in docs/policy.md.")
    if isinstance(value, bool):
        return value, value
    if isinstance(value, (list, dict)):
        return bool(value), value
    kind = "null" if value is None else type(value).__name__
    raise PolicyError("returned %s (%r) instead of true/false, so the change cannot be classified." % (kind, value), where=where,
                      fix="make the expression a condition, e.g. length(prefixes_touched) > `0`.")


def evaluate_rules(policy, facts):
    """Evaluate every risk rule in order; returns score, tier, the forced floor and the fired rules with explanations."""
    fired, score, forced = [], 0, None
    for index, rule in enumerate(policy["risk"]["rules"]):
        where = "%s: risk.rules[%d].when (rule %s)" % (policy.get("source", "policy"), index, rule["name"])
        hit, value = evaluate_condition(rule["when"], facts, where)
        if not hit:
            continue
        score += rule["score"]
        forced = highest_tier(forced, rule["force_tier"]) if rule["force_tier"] else forced
        explanation = "%s (%+d)" % (rule["description"], rule["score"])
        if rule["force_tier"]:
            explanation += ", forces tier >= %s" % rule["force_tier"]
        fired.append({"name": rule["name"], "description": rule["description"], "score": rule["score"],
                      "force_tier": rule["force_tier"], "value": value, "when": rule["when"], "explanation": explanation})
    by_score = tier_for_score(score, policy["risk"]["tiers"])
    tier = highest_tier(by_score, forced)
    return {"score": score, "tier": tier, "tier_by_score": by_score, "forced_tier": forced, "fired_rules": fired,
            "rules_evaluated": len(policy["risk"]["rules"])}


def classify_change(policy, facts, tier, source="change request"):
    """Change class: standard (matched template within max_tier), normal, or emergency; with the reason."""
    change_type = facts["type"]
    if change_type == "emergency":
        if not policy["emergency"]["allowed"]:
            raise GateRefused("emergency changes are not allowed by the policy.", where="%s: type" % source,
                              fix="submit it as type: normal, or set emergency.allowed: true in the policy.")
        return {"change_class": "emergency", "standard_change": None,
                "reason": "requested as emergency; the policy allows emergency changes."}
    if change_type == "normal":
        return {"change_class": "normal", "standard_change": None, "reason": "requested as a normal change."}
    reasons = []
    # The remediation catalogue's entries are standard change templates too (category remediation).
    for index, entry in enumerate(policy["standard_changes"] + standard_templates(policy)):
        if entry["category"] != facts["category"]:
            continue
        where = "%s: standard_changes[%d].when (%s)" % (policy.get("source", "policy"), index, entry["name"])
        if entry["when"] is not None and not evaluate_condition(entry["when"], facts, where)[0]:
            reasons.append("%s: its condition is false" % entry["name"])
            continue
        if not tier_at_least(entry["max_tier"], tier):
            reasons.append("%s: assessed tier %s is above its max_tier %s" % (entry["name"], tier, entry["max_tier"]))
            continue
        return {"change_class": "standard", "standard_change": entry["name"],
                "reason": "matches pre-approved standard change %s (category %s, tier %s <= %s)."
                % (entry["name"], entry["category"], tier, entry["max_tier"])}
    if not reasons:
        reasons.append("no standard change of category %s is defined in the policy" % facts["category"])
    return {"change_class": "normal", "standard_change": None,
            "reason": "requested as standard but treated as normal: %s." % "; ".join(reasons)}
