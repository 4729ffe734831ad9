# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Risk rules: every operator style, tier boundaries, force_tier, fail-closed evaluation, change class."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused, PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import validate_policy
from ansible_collections.governed.change.plugins.module_utils.risk import (
    classify_change, evaluate_condition, evaluate_rules, highest_tier, tier_at_least, tier_for_score, tier_index,
)

from assess_support import FRR_R2, INVENTORY, NOW, change, facts, raw_policy, rules_policy

TIERS = {"low": 0, "medium": 20, "high": 50, "critical": 80}


def rule(when, score=10, name="r", force_tier=None):
    entry = {"name": name, "description": "rule %s" % name, "when": when, "score": score}
    if force_tier:
        entry["force_tier"] = force_tier
    return entry


# (operator, expression, facts overrides that make it fire, overrides that make it not fire)
OPERATORS = [
    ("==", "category == 'bgp_policy'", {}, {"category": "acl_update"}),
    ("!=", "rollback_strategy != 'backup'", {"rollback_strategy": "custom"}, {}),
    ("<", "device_count < `2`", {}, {"device_count": 2}),
    ("<=", "fleet_share <= `0.25`", {}, {"fleet_share": 0.26}),
    (">", "site_count > `1`", {"site_count": 2}, {}),
    (">=", "diff.lines_changed >= `4`", {}, {"diff": {"lines_changed": 3}}),
    ("contains", "contains(sections_touched, 'router bgp')", {}, {"sections_touched": ["interface"]}),
    ("length", "length(prefixes_touched) > `0`", {}, {"prefixes_touched": []}),
    ("&&", "touches_protected && max_criticality == 'high'", {"touches_protected": True}, {}),
    ("||", "touches_protected || contains(roles, 'core')", {}, {"roles": ["edge"]}),
    ("!", "!touches_protected", {}, {"touches_protected": True}),
    ("!()", "!(contains(roles, 'edge') || contains(roles, 'firewall'))", {}, {"roles": ["edge"]}),
    ("filter", "targets[?criticality=='high']", {}, {"targets": [{"host": "r1", "criticality": "medium"}]}),
    ("nested", "length(targets[?site=='lon' && role=='core']) >= `1`", {}, {"targets": [{"site": "ams", "role": "core"}]}),
    ("starts_with", "starts_with(id, 'CHG-')", {}, {"id": "INC-1"}),
    ("max_by", "max_by(targets, &site).site == 'lon'", {}, {"targets": [{"site": "ams"}]}),
]


@pytest.mark.parametrize("expression,fire,quiet", [case[1:] for case in OPERATORS], ids=[case[0] for case in OPERATORS])
def test_rule_operator(expression, fire, quiet):
    pol = rules_policy([rule(expression, score=25)])
    fired = evaluate_rules(pol, facts(**fire))
    assert [entry["name"] for entry in fired["fired_rules"]] == ["r"]
    assert fired["score"] == 25 and fired["tier"] == "medium"
    assert fired["fired_rules"][0]["explanation"] == "rule r (+25)"
    silent = evaluate_rules(pol, facts(**quiet))
    assert silent["fired_rules"] == [] and silent["score"] == 0 and silent["tier"] == "low"


def test_fired_rule_records_value_and_order():
    pol = rules_policy([rule("targets[?role=='core']", 5, "a"), rule("device_count == `9`", 7, "b"), rule("!touches_protected", -2, "c")])
    out = evaluate_rules(pol, facts())
    assert [entry["name"] for entry in out["fired_rules"]] == ["a", "c"]
    assert out["fired_rules"][0]["value"] == facts()["targets"]
    assert out["fired_rules"][1] == {"name": "c", "description": "rule c", "score": -2, "force_tier": None, "value": True,
                                     "when": "!touches_protected", "explanation": "rule c (-2)"}
    assert out["score"] == 3 and out["rules_evaluated"] == 3


@pytest.mark.parametrize("score,expected", [
    (-10, "low"), (0, "low"), (19, "low"), (20, "medium"), (49, "medium"), (50, "high"), (79, "high"), (80, "critical"), (500, "critical"),
])
def test_tier_boundaries(score, expected):
    assert tier_for_score(score, TIERS) == expected
    pol = rules_policy([rule("type == 'normal'", score=score)], tiers=TIERS)
    assert evaluate_rules(pol, facts())["tier"] == expected


@pytest.mark.parametrize("tiers", [{"low": 0, "medium": 1, "high": 2, "critical": 3}, {"low": 0, "medium": 35, "high": 60, "critical": 90}])
def test_every_threshold_and_one_below(tiers):
    names = ["low", "medium", "high", "critical"]
    for index, name in enumerate(names[1:], start=1):
        assert tier_for_score(tiers[name], tiers) == name
        assert tier_for_score(tiers[name] - 1, tiers) == names[index - 1]


def test_force_tier_raises_the_floor_but_never_lowers():
    pol = rules_policy([rule("touches_protected", 5, "protected", force_tier="high"), rule("device_count >= `1`", 85, "big")])
    both = evaluate_rules(pol, facts(touches_protected=True))
    assert both["tier_by_score"] == "critical" and both["forced_tier"] == "high" and both["tier"] == "critical"
    pol = rules_policy([rule("touches_protected", 5, "protected", force_tier="high")])
    forced = evaluate_rules(pol, facts(touches_protected=True))
    assert (forced["score"], forced["tier_by_score"], forced["forced_tier"], forced["tier"]) == (5, "low", "high", "high")
    assert forced["fired_rules"][0]["explanation"] == "rule protected (+5), forces tier >= high"


def test_force_tier_with_zero_score_and_highest_force_wins():
    pol = rules_policy([rule("device_count >= `1`", 0, "a", force_tier="medium"), rule("site_count >= `1`", 0, "b", force_tier="critical")])
    out = evaluate_rules(pol, facts())
    assert out["score"] == 0 and out["tier"] == "critical" and out["forced_tier"] == "critical"


def test_tier_helpers():
    assert [tier_index(name) for name in ("low", "medium", "high", "critical")] == [0, 1, 2, 3]
    assert tier_at_least("high", "medium") and tier_at_least("high", "high") and not tier_at_least("medium", "high")
    assert highest_tier(None, "medium", "low") == "medium" and highest_tier() == "low"
    with pytest.raises(ValidationError) as info:
        tier_index("severe")
    assert str(info.value) == "tier: 'severe' is not a risk tier. Fix: use one of: low, medium, high, critical."


# Expressions that compile but fail or give an unusable result on real facts: the assessment fails closed.
FAIL_CLOSED = [
    ("type_error_in_function", "length(fleet_share) > `0`",
     "failed to evaluate (JMESPathTypeError: In function length(), invalid type for value: 0.25, expected one of: ['string', 'array', 'object'], "
     "received: \"number\"), so the change cannot be classified."),
    ("comparison_of_types", "max_criticality < `2`",
     "failed to evaluate (TypeError: '<' not supported between instances of 'str' and 'int'), so the change cannot be classified."),
    ("null_result", "targets[3].site",
     "returned null (None) instead of true/false, so the change cannot be classified."),
    ("number_result", "device_count", "returned int (1) instead of true/false, so the change cannot be classified."),
    ("string_result", "category", "returned str ('bgp_policy') instead of true/false, so the change cannot be classified."),
]


@pytest.mark.parametrize("expression,problem", [case[1:] for case in FAIL_CLOSED], ids=[case[0] for case in FAIL_CLOSED])
def test_rule_failing_at_evaluation_fails_closed(expression, problem):
    pol = rules_policy([rule("device_count >= `1`", 5, "fine"), rule(expression, 10, "broken")])
    with pytest.raises(PolicyError) as info:
        evaluate_rules(pol, facts())
    assert info.value.where == "policy.yml: risk.rules[1].when (rule broken)"
    assert info.value.problem == problem
    assert " Fix: " in str(info.value)
    # The full assessment fails closed as well: no assessment, no silent pass.
    with pytest.raises(PolicyError) as again:
        assess(change(), pol, INVENTORY, {"r2": {"running": FRR_R2}}, now=NOW)
    assert again.value.problem == problem


def test_evaluate_condition_accepts_lists_and_objects_with_truthiness():
    assert evaluate_condition("targets", facts(), "w") == (True, facts()["targets"])
    assert evaluate_condition("protected_overlap", facts(), "w") == (False, [])
    assert evaluate_condition("diff", facts(), "w")[0] is True


# Change class
def test_normal_request_is_normal():
    out = classify_change(rules_policy([]), facts(), "low")
    assert out == {"change_class": "normal", "standard_change": None, "reason": "requested as a normal change."}


def test_standard_request_matching_template_is_standard():
    pol = rules_policy([])
    out = classify_change(pol, facts(type="standard", category="acl_update", device_count=1, diff={"lines_changed": 1},
                                     sections_touched=["table inet filter"]), "low")
    assert out["change_class"] == "standard" and out["standard_change"] == "edge_acl_update"
    assert out["reason"] == "matches pre-approved standard change edge_acl_update (category acl_update, tier low <= low)."


@pytest.mark.parametrize("fact_overrides,tier,reason", [
    ({"category": "bgp_policy"}, "low", "no standard change of category bgp_policy is defined in the policy"),
    ({"device_count": 3}, "low", "edge_acl_update: its condition is false"),
    ({}, "medium", "edge_acl_update: assessed tier medium is above its max_tier low"),
])
def test_unmatched_standard_request_becomes_normal(fact_overrides, tier, reason):
    base = {"type": "standard", "category": "acl_update", "device_count": 1, "diff": {"lines_changed": 1}, "sections_touched": []}
    base.update(fact_overrides)
    out = classify_change(rules_policy([]), facts(**base), tier)
    assert out == {"change_class": "normal", "standard_change": None,
                   "reason": "requested as standard but treated as normal: %s." % reason}


def test_standard_change_condition_failing_fails_closed():
    doc = raw_policy()
    doc["standard_changes"][0]["when"] = "device_count"
    pol = validate_policy(doc, source="policy.yml")
    with pytest.raises(PolicyError) as info:
        classify_change(pol, facts(type="standard", category="acl_update"), "low")
    assert str(info.value).startswith("policy.yml: standard_changes[0].when (edge_acl_update): returned int (1) instead of true/false")


def test_emergency_class_and_refusal_when_not_allowed():
    assert classify_change(rules_policy([]), facts(type="emergency"), "high")["change_class"] == "emergency"
    pol = rules_policy([], emergency={"allowed": False})
    with pytest.raises(GateRefused) as info:
        classify_change(pol, facts(type="emergency"), "high")
    assert str(info.value) == ("change request: type: emergency changes are not allowed by the policy. "
                               "Fix: submit it as type: normal, or set emergency.allowed: true in the policy.")
