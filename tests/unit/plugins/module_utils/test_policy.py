# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy validation: the example policy, directories, criticality, and malformed policies (refused, no assessment)."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import (
    FACT_FIELDS, device_criticality, load_policy, validate_policy,
)

from assess_support import EXAMPLES, INVENTORY, NOW, POLICY_FILE, change, facts, raw_policy

P = "policy.yml"
TOP = ("policy_version, name, description, criticality, protected_prefixes, risk, requirements, standard_changes, identities, "
       "allowed_signers, windows, freezes, emergency, services, notifications, itsm, remediations")
FIELDS = ", ".join(sorted(FACT_FIELDS))
JMES_FIX = "fix the syntax; literals go in backticks (`2`) and strings in single quotes ('router bgp')."


def mutate(path, value):
    """The example policy with the value at a dotted/indexed path replaced (value DELETE removes it)."""
    doc = raw_policy()
    if path.startswith("freezes[0]."):  # the freeze cases below are about a dated freeze (the example's is yearly)
        doc["freezes"][0] = {"name": "year-end", "start": "2026-12-20T00:00:00+00:00", "end": "2027-01-04T00:00:00+00:00",
                             "scope": {}, "allow_emergency": True}
    keys = path.replace("[", ".").replace("]", "").split(".")
    node = doc
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


DELETE = object()
RULE0 = "risk.rules[0]"

MALFORMED = [
    ("empty", None, "policy.yml: is empty. Fix: write the policy as a YAML mapping starting with policy_version: 1."),
    ("not_mapping", [1], "policy.yml: must be a mapping (the policy), got a list. Fix: write it as a mapping with the keys: %s." % TOP),
    ("unknown_top_key", dict(raw_policy(), rsik={}), "policy.yml: rsik: is not a known key. Fix: remove it or use one of the allowed keys: %s." % TOP),
    ("missing_version", mutate("policy_version", DELETE), "policy.yml: policy_version: is required but missing. Fix: add the 'policy_version' key."),
    ("version_2", mutate("policy_version", 2), "policy.yml: policy_version: version 2 is not supported. Fix: set policy_version: 1."),
    ("version_string", mutate("policy_version", "1"),
     "policy.yml: policy_version: must be an integer, got a string. Fix: write a whole number without quotes."),
    ("missing_name", mutate("name", DELETE), "policy.yml: name: is required but missing. Fix: add the 'name' key."),
    ("missing_risk", mutate("risk", DELETE), "policy.yml: risk: is required but missing. Fix: add the 'risk' key."),
    ("rules_not_list", mutate("risk.rules", {"a": 1}),
     "policy.yml: risk.rules: must be a list, got a mapping. Fix: list the rules: - {name, description, when, score}."),
    ("rule_missing_when", mutate(RULE0 + ".when", DELETE), "policy.yml: risk.rules[0].when: is required but missing. Fix: add the 'when' key."),
    ("rule_missing_description", mutate(RULE0 + ".description", DELETE),
     "policy.yml: risk.rules[0].description: is required but missing. Fix: add the 'description' key."),
    ("rule_unknown_key", mutate(RULE0 + ".weight", 3),
     "policy.yml: risk.rules[0].weight: is not a known key. Fix: remove it or use one of the allowed keys: name, description, when, score, force_tier."),
    ("rule_when_syntax", mutate(RULE0 + ".when", "contains(sections_touched, 'router bgp'"),
     "policy.yml: risk.rules[0].when: is not a valid JMESPath expression (incomplete expression at character 39). Fix: " + JMES_FIX),
    ("rule_when_bad_operator", mutate(RULE0 + ".when", "device_count ==== `1`"),
     "policy.yml: risk.rules[0].when: is not a valid JMESPath expression (unexpected '==' at character 15). Fix: " + JMES_FIX),
    ("rule_wrong_arity", mutate(RULE0 + ".when", "contains(sections_touched)"),
     "policy.yml: risk.rules[0].when: calls contains() with 1 argument(s); it takes 2. Fix: pass 2 argument(s) to contains()."),
    ("rule_when_unclosed_literal", mutate(RULE0 + ".when", "device_count > `2"),
     "policy.yml: risk.rules[0].when: is not a valid JMESPath expression (Unclosed ` delimiter at character 15). Fix: " + JMES_FIX),
    ("rule_when_empty", mutate(RULE0 + ".when", ""),
     "policy.yml: risk.rules[0].when: must not be empty. Fix: quote the JMESPath expression, e.g. \"contains(sections_touched, 'router bgp')\"."),
    ("rule_when_not_string", mutate(RULE0 + ".when", True),
     "policy.yml: risk.rules[0].when: must be a string, got a boolean (true). "
     "Fix: quote the JMESPath expression, e.g. \"contains(sections_touched, 'router bgp')\"."),
    ("rule_unknown_function", mutate(RULE0 + ".when", "includes(sections_touched, 'router bgp')"),
     "policy.yml: risk.rules[0].when: calls unknown function includes(). Fix: use a JMESPath built-in function: abs, avg, ceil, contains, ends_with, "
     "floor, join, keys, length, map, max, max_by, merge, min, min_by, not_null, reverse, sort, sort_by, starts_with, sum, to_array, to_number, "
     "to_string, type, values."),
    ("rule_unknown_fact", mutate(RULE0 + ".when", "contains(sections_touchd, 'router bgp')"),
     "policy.yml: risk.rules[0].when: refers to 'sections_touchd', which is not a change fact. Fix: use the change facts fields: %s." % FIELDS),
    ("rule_name_uppercase", mutate(RULE0 + ".name", "TouchesBGP"),
     "policy.yml: risk.rules[0].name: 'TouchesBGP' has invalid characters or length. Fix: use 1-64 characters from a-z 0-9 _."),
    ("rule_duplicate_name", mutate("risk.rules[1].name", "touches_bgp"),
     "policy.yml: risk.rules[1].name: rule 'touches_bgp' is defined twice. Fix: give every rule a unique name."),
    ("rule_score_string", mutate(RULE0 + ".score", "25"),
     "policy.yml: risk.rules[0].score: must be an integer, got a string. Fix: write a whole number without quotes."),
    ("rule_score_bool", mutate(RULE0 + ".score", True),
     "policy.yml: risk.rules[0].score: must be an integer, got a boolean (true). Fix: write a whole number without quotes."),
    ("rule_score_float", mutate(RULE0 + ".score", 2.5),
     "policy.yml: risk.rules[0].score: must be an integer, got a number (2.5). Fix: write a whole number without quotes."),
    ("rule_force_tier_unknown", mutate(RULE0 + ".force_tier", "severe"),
     "policy.yml: risk.rules[0].force_tier: 'severe' is not allowed. Fix: use one of: low, medium, high, critical."),
    ("rule_without_effect", mutate(RULE0 + ".score", DELETE),
     "policy.yml: risk.rules[0].score: is missing and the rule has no force_tier, so it could never matter. Fix: add score: <int> or force_tier: <tier>."),
    ("tiers_missing_critical", mutate("risk.tiers", {"low": 0, "medium": 20, "high": 50}),
     "policy.yml: risk.tiers.critical: is required but missing. Fix: add the 'critical' key."),
    ("tiers_unknown", mutate("risk.tiers", {"low": 0, "medium": 20, "high": 50, "critical": 80, "extreme": 99}),
     "policy.yml: risk.tiers.extreme: is not a known key. Fix: remove it or use one of the allowed keys: low, medium, high, critical."),
    ("tiers_low_not_zero", mutate("risk.tiers.low", 5), "policy.yml: risk.tiers.low: must be 0, got 5. Fix: set low: 0 (every score below medium is low)."),
    ("tiers_not_increasing", mutate("risk.tiers.high", 20),
     "policy.yml: risk.tiers.high: (20) must be greater than medium (20). Fix: make the thresholds strictly increasing: low < medium < high < critical."),
    ("missing_requirements", mutate("requirements", DELETE), "policy.yml: requirements: is required but missing. Fix: add the 'requirements' key."),
    ("requirements_missing_tier", mutate("requirements.high", DELETE),
     "policy.yml: requirements.high: is required but missing. Fix: add the 'high' key."),
    ("requirements_unknown_key", mutate("requirements.high.approval", {"count": 1}),
     "policy.yml: requirements.high.approval: is not a known key. Fix: remove it or use one of the allowed keys: approvals, window_required, automation, "
     "checks, canary, batch_size, max_failures, auto_rollback, rollback_scope, snapshot_scope, escalation."),
    ("approvals_negative", mutate("requirements.high.approvals.count", -1),
     "policy.yml: requirements.high.approvals.count: must be >= 0, got -1. Fix: use a value of at least 0."),
    ("approvals_group_nobody", mutate("requirements.high.approvals.groups", ["netops", "ghosts"]),
     "policy.yml: requirements.high.approvals.groups[1]: no identity is in group 'ghosts'. "
     "Fix: add the group to an identity under identities, or remove it here."),
    ("approvals_count_unsatisfiable", mutate("requirements.critical.approvals.count", 5),
     "policy.yml: requirements.critical.approvals.count: needs 5 approver(s) but only 4 identities are defined. "
     "Fix: define more identities or lower the count."),
    ("approvals_sod_string", mutate("requirements.high.approvals.segregation_of_duties", "yes"),
     "policy.yml: requirements.high.approvals.segregation_of_duties: must be true or false, got a string. Fix: write true or false without quotes."),
    ("approvals_max_age_zero", mutate("requirements.high.approvals.max_age_hours", 0),
     "policy.yml: requirements.high.approvals.max_age_hours: must be >= 1, got 0. Fix: use a value of at least 1."),
    ("automation_unknown", mutate("requirements.low.automation", "manual"),
     "policy.yml: requirements.low.automation: 'manual' is not allowed. Fix: use one of: auto, review."),
    ("batch_size_zero", mutate("requirements.low.batch_size", 0),
     "policy.yml: requirements.low.batch_size: must be >= 1, got 0. Fix: use a value of at least 1."),
    ("rollback_scope_unknown", mutate("requirements.high.rollback_scope", "some"),
     "policy.yml: requirements.high.rollback_scope: 'some' is not allowed. Fix: use one of: all, failed."),
    ("snapshot_scope_unknown", mutate("requirements.high.snapshot_scope", "site"),
     "policy.yml: requirements.high.snapshot_scope: 'site' is not allowed. Fix: use one of: impact, network, targets_only, targets."),
    ("escalation_missing_target", mutate("requirements.high.escalation", {"runbook": "x"}),
     "policy.yml: requirements.high.escalation.target: is required but missing. Fix: add the 'target' key."),
    ("checks_not_list", mutate("requirements.high.checks", "baseline"),
     "policy.yml: requirements.high.checks: must be a list, got a string. Fix: write it as a YAML list: [a, b]."),
    ("prefix_invalid", mutate("protected_prefixes", ["10.0.0.300/24"]),
     "policy.yml: protected_prefixes[0]: '10.0.0.300/24' is not an IPv4 or IPv6 prefix. Fix: write it in CIDR form, e.g. \"10.0.45.0/24\"."),
    ("prefix_host_bits", mutate("protected_prefixes", ["10.0.45.1/24"]),
     "policy.yml: protected_prefixes[0]: '10.0.45.1/24' has host bits set. Fix: use the network address: 10.0.45.0/24."),
    ("prefix_v6_invalid", mutate("protected_prefixes", ["fd00::zz/48"]),
     "policy.yml: protected_prefixes[0]: 'fd00::zz/48' is not an IPv4 or IPv6 prefix. Fix: write it in CIDR form, e.g. \"10.0.45.0/24\"."),
    ("prefixes_string", mutate("protected_prefixes", "10.0.0.0/8"),
     "policy.yml: protected_prefixes: must be a list, got a string. Fix: list CIDR prefixes, e.g. [\"10.255.0.0/24\", \"fd00:255::/48\"]."),
    ("criticality_default_unknown", mutate("criticality.default", "extreme"),
     "policy.yml: criticality.default: 'extreme' is not allowed. Fix: use one of: low, medium, high, critical."),
    ("criticality_group_level", mutate("criticality.groups.core", "urgent"),
     "policy.yml: criticality.groups.core: 'urgent' is not allowed. Fix: use one of: low, medium, high, critical."),
    ("criticality_unknown_key", mutate("criticality.levels", []),
     "policy.yml: criticality.levels: is not a known key. Fix: remove it or use one of the allowed keys: default, hostvar, groups, tagvar, tags, critical_at."),
    ("standard_bad_category", mutate("standard_changes[0].category", "acl"),
     "policy.yml: standard_changes[0].category: 'acl' is not allowed. "
     "Fix: use one of: acl_update, vlan_add, bgp_policy, routing_core, firmware, interface, remediation, other."),
    ("standard_bad_when", mutate("standard_changes[0].when", "device_count <="),
     "policy.yml: standard_changes[0].when: is not a valid JMESPath expression (incomplete expression at character 15). Fix: " + JMES_FIX),
    ("standard_bad_max_tier", mutate("standard_changes[0].max_tier", "lowest"),
     "policy.yml: standard_changes[0].max_tier: 'lowest' is not allowed. Fix: use one of: low, medium, high, critical."),
    ("identity_no_principals", mutate("identities.alice.principals", []),
     "policy.yml: identities.alice.principals: must not be an empty list. Fix: list the signing principal(s) used in allowed_signers, e.g. [alice@lab]."),
    ("identity_missing_principals", mutate("identities.alice", {"groups": ["netops"]}),
     "policy.yml: identities.alice.principals: is required but missing. Fix: add the 'principals' key."),
    ("identities_list", mutate("identities", ["alice"]),
     "policy.yml: identities: must be a mapping of name to {groups, principals}, got a list. "
     "Fix: write it like identities: {alice: {groups: [netops], principals: [alice@lab]}}."),
    ("window_bad_timezone", mutate("windows[0].timezone", "Mars/Olympus"),
     "policy.yml: windows[0].timezone: 'Mars/Olympus' is not a known time zone. Fix: use an IANA time zone name, e.g. Europe/London or UTC."),
    ("window_timezone_is_a_region", mutate("windows[0].timezone", "Europe"),
     "policy.yml: windows[0].timezone: 'Europe' is not a known time zone. Fix: use an IANA time zone name, e.g. Europe/London or UTC."),
    ("window_weekly_and_rrule", mutate("windows[0].rrule", "FREQ=DAILY"),
     "policy.yml: windows[0]: must have exactly one of 'weekly' or 'rrule'. "
     "Fix: give weekly: [{days: [sat], start: \"01:00\", end: \"05:00\"}] or rrule + duration_minutes."),
    ("window_unquoted_time", mutate("windows[0].weekly[0].start", 1320),
     "policy.yml: windows[0].weekly[0].start: was read as the number 1320 (unquoted HH:MM in YAML is base 60). Fix: quote the time, e.g. \"22:00\"."),
    ("window_bad_time", mutate("windows[0].weekly[0].end", "25:00"),
     "policy.yml: windows[0].weekly[0].end: '25:00' is not a time of day. Fix: write it as \"HH:MM\" (00:00 to 24:00)."),
    ("window_bad_day", mutate("windows[0].weekly[0].days", ["sat", "funday"]),
     "policy.yml: windows[0].weekly[0].days[1]: 'funday' is not allowed. Fix: use one of: mon, tue, wed, thu, fri, sat, sun."),
    ("window_empty_slot", mutate("windows[0].weekly[0].end", "01:00"),
     "policy.yml: windows[0].weekly[0].end: gives an empty slot (01:00-01:00). "
     "Fix: use a start before 24:00 and an end different from the start (an end before the start spans midnight)."),
    ("window_rrule_not_string", mutate("windows[1].rrule", 7),
     "policy.yml: windows[1].rrule: must be a string, got an integer (7). Fix: give an RFC 5545 rule, e.g. \"FREQ=WEEKLY;BYDAY=TU;BYHOUR=22;BYMINUTE=0\"."),
    ("window_rrule_no_duration", mutate("windows[1].duration_minutes", DELETE),
     "policy.yml: windows[1].duration_minutes: is required with rrule. Fix: add duration_minutes: <minutes>."),
    ("window_bad_exdate", mutate("windows[1].exdate", ["someday"]),
     "policy.yml: windows[1].exdate[0]: 'someday' is not an ISO 8601 date-time. Fix: write it like \"2026-12-29T22:00:00\"."),
    ("window_scope_unknown", mutate("windows[0].scope", {"site": ["lon"]}),
     "policy.yml: windows[0].scope.site: is not a known key. Fix: remove it or use one of the allowed keys: sites, groups, hosts."),
    ("window_duplicate_name", mutate("windows[1].name", "lon-weekend"),
     "policy.yml: windows[1].name: window 'lon-weekend' is defined twice. Fix: give each window a unique name."),
    ("freeze_end_before_start", mutate("freezes[0].end", "2026-12-01T00:00:00+00:00"),
     "policy.yml: freezes[0].end: is not after start. Fix: make the freeze end after it starts."),
    ("freeze_naive_start", mutate("freezes[0].start", "2026-12-20T00:00:00"),
     "policy.yml: freezes[0].start: has no UTC offset, so the instant is ambiguous. Fix: add the offset, e.g. \"2026-11-28T01:00:00+00:00\"."),
    ("freeze_missing_end", mutate("freezes[0].end", DELETE),
     "policy.yml: freezes[0].end: is required but missing. Fix: give start and end (ISO 8601 with an offset), or a yearly freeze: "
     "yearly: {start: \"12-20\", end: \"01-04\"} with a timezone."),
    ("emergency_allowed_string", mutate("emergency.allowed", "yes"),
     "policy.yml: emergency.allowed: must be true or false, got a string. Fix: write true or false without quotes."),
    ("emergency_review_zero", mutate("emergency.post_review_hours", 0),
     "policy.yml: emergency.post_review_hours: must be >= 1, got 0. Fix: use a value of at least 1."),
    ("allowed_signers_int", mutate("allowed_signers", 5),
     "policy.yml: allowed_signers: must be a string, got an integer (5). Fix: write it as a quoted string."),
]


@pytest.mark.parametrize("doc,message", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_policy_is_refused(doc, message):
    with pytest.raises(PolicyError) as info:
        validate_policy(copy.deepcopy(doc), source=P)
    assert str(info.value) == message
    assert " Fix: " in message
    # ... and no assessment is produced with it (assess validates a raw policy; source is then "policy").
    with pytest.raises(PolicyError) as again:
        assess(change(), copy.deepcopy(doc), INVENTORY, now=NOW)
    assert str(again.value) == message.replace("policy.yml", "policy", 1)


def test_example_policy_loads_with_defaults_and_hash():
    out = load_policy(POLICY_FILE)
    assert out["name"] == "lab-policy" and out["source"] == POLICY_FILE
    assert out["allowed_signers_path"] == os.path.join(EXAMPLES, "policy", "allowed_signers")
    assert out["requirements"]["high"]["approvals"]["count"] == 2
    assert out["policy_sha256"] == validate_policy(raw_policy())["policy_sha256"]
    assert len(out["policy_sha256"]) == 64
    # A normalised policy validates again to the same content (derived keys are skipped).
    again = validate_policy(out, source=POLICY_FILE, base_dir=os.path.dirname(POLICY_FILE), normalized=True)
    assert again == out
    # In a policy as written, derived keys are unknown keys like any other.
    with pytest.raises(PolicyError) as info:
        validate_policy(dict(raw_policy(), policy_sha256="0" * 64), source=P)
    assert str(info.value).startswith("policy.yml: policy_sha256: is not a known key. Fix:")


def test_defaults_fill_omitted_sections():
    doc = {"policy_version": 1, "name": "min", "identities": {"a": {"principals": ["a@x"]}},
           "risk": {"rules": [], "tiers": {"low": 0, "medium": 1, "high": 2, "critical": 3}},
           "requirements": {"low": {}, "medium": None, "high": {"approvals": {"count": 1}}, "critical": {}}}
    out = validate_policy(doc)
    assert out["requirements"]["medium"]["automation"] == "review"
    assert out["requirements"]["low"]["approvals"] == {"count": 1, "groups": [], "segregation_of_duties": True, "max_age_hours": 24}
    assert out["emergency"] == {"allowed": True, "bypass_window": True, "bypass_freeze": False, "post_review_hours": 48}
    assert out["criticality"]["default"] == "low" and out["windows"] == [] and out["standard_changes"] == []


def test_policy_hash_changes_with_content():
    assert validate_policy(mutate("risk.rules[0].score", 26))["policy_sha256"] != validate_policy(raw_policy())["policy_sha256"]


def _split(tmp_path, parts):
    folder = tmp_path / "policy.d"
    folder.mkdir()
    for name, doc in parts.items():
        (folder / name).write_text(yaml.safe_dump(doc))
    return folder


def test_directory_merges_files_in_name_order(tmp_path):
    doc = raw_policy()
    keys = list(doc)
    folder = _split(tmp_path, {"10-base.yml": {key: doc[key] for key in keys[:5]}, "20-rest.yaml": {key: doc[key] for key in keys[5:]}})
    out = load_policy(str(folder))
    assert out["policy_sha256"] == validate_policy(doc)["policy_sha256"]
    assert out["allowed_signers_path"] == os.path.join(str(folder), "allowed_signers")


def test_directory_duplicate_key_is_refused(tmp_path):
    doc = raw_policy()
    folder = _split(tmp_path, {"a.yml": doc, "b.yml": {"name": "other"}})
    with pytest.raises(PolicyError) as info:
        load_policy(str(folder))
    assert str(info.value) == ("%s: name: top-level key 'name' is also defined in %s. Fix: define each top-level key in exactly one policy file."
                               % (folder / "b.yml", folder / "a.yml"))


def test_directory_error_names_the_file_of_the_key(tmp_path):
    doc = raw_policy()
    doc["risk"]["rules"][0]["when"] = "nope("
    rest = {key: value for key, value in doc.items() if key != "risk"}
    folder = _split(tmp_path, {"a.yml": rest, "b.yml": {"risk": doc["risk"]}})
    with pytest.raises(PolicyError) as info:
        load_policy(str(folder))
    assert str(info.value).startswith("%s: risk.rules[0].when: is not a valid JMESPath expression" % (folder / "b.yml"))


def test_empty_directory_and_missing_file(tmp_path):
    with pytest.raises(PolicyError) as info:
        load_policy(str(tmp_path))
    assert str(info.value) == "%s: the policy directory has no *.yml files. Fix: put the policy in one or more .yml files in that directory." % tmp_path
    with pytest.raises(PolicyError) as info:
        load_policy(str(tmp_path / "missing.yml"))
    assert "the policy file does not exist. Fix:" in str(info.value)
    bad = tmp_path / "list.yml"
    bad.write_text("- 1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(str(bad))
    assert str(info.value) == "%s: must be a mapping of policy sections, got a list. Fix: start the file with top-level keys such as policy_version: 1." % bad


def test_device_criticality_precedence():
    pol = validate_policy(mutate("criticality.tags", {"pci": "critical", "lab": "low"}))
    assert device_criticality(pol, "r2", {"criticality": "medium"}, ["core"]) == "medium"  # host var wins over groups
    assert device_criticality(pol, "x", {}, ["core"]) == "high"
    assert device_criticality(pol, "x", {"tags": ["pci"]}, ["core"]) == "critical"  # highest of groups and tags
    assert device_criticality(pol, "x", {"tags": "lab"}, []) == "low"
    assert device_criticality(pol, "x", {}, ["edge"]) == "low"  # default
    with pytest.raises(ValidationError) as info:
        device_criticality(pol, "x", {"criticality": "urgent"}, [])
    assert str(info.value) == "inventory: x: host var criticality is 'urgent', not a criticality level. Fix: set it to one of: low, medium, high, critical."


def test_fact_fields_match_the_facts_document():
    doc = facts()
    names = set(doc) | set(doc["targets"][0]) | set(doc["diff"])
    assert names == set(FACT_FIELDS)


@pytest.mark.parametrize("freeze, message", [
    ({"name": "f", "yearly": {"start": "12-20", "end": "01-04"}},
     "policy.yml: freezes[0].timezone: is required with yearly. Fix: set an IANA zone such as Europe/London or UTC."),
    ({"name": "f", "yearly": {"start": "12-32", "end": "01-04"}, "timezone": "UTC"},
     "policy.yml: freezes[0].yearly.start: "),
    ({"name": "f", "yearly": {"start": "02-30", "end": "03-04"}, "timezone": "UTC"},
     "policy.yml: freezes[0].yearly.start: '02-30' is not a day of the year."),
    ({"name": "f", "yearly": {"start": "12-20", "end": "12-20"}, "timezone": "UTC"},
     "policy.yml: freezes[0].yearly.end: equals start, so the freeze would be empty."),
    ({"name": "f", "yearly": {"start": "12-20", "end": "01-04"}, "timezone": "UTC", "start": "2026-12-20T00:00:00Z"},
     "policy.yml: freezes[0].start: does not go with yearly"),
    ({"name": "f", "start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z", "timezone": "UTC"},
     "policy.yml: freezes[0].timezone: only applies to yearly freezes"),
    ({"name": "f", "start": "2026-12-20T00:00:00Z"}, "policy.yml: freezes[0].end: is required but missing."),
    ({"name": "f", "yearly": {"start": "12-20", "end": "01-04"}, "timezone": "Mars/Olympus"},
     "policy.yml: freezes[0].timezone: 'Mars/Olympus' is not a known time zone."),
])
def test_freeze_forms_are_validated(freeze, message):
    raw = raw_policy()
    raw["freezes"] = [freeze]
    with pytest.raises(PolicyError) as info:
        validate_policy(raw, source=P)
    assert str(info.value).startswith(message), str(info.value)


def test_yearly_freeze_is_accepted():
    raw = raw_policy()
    raw["freezes"] = [{"name": "year-end", "yearly": {"start": "12-20", "end": "01-04"}, "timezone": "Europe/London"}]
    assert validate_policy(raw, source=P)["freezes"][0]["yearly"] == {"start": "12-20", "end": "01-04"}
