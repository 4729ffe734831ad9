# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change request validation: normalisation and malformed documents (each refused, no assessment produced)."""

from __future__ import annotations

import copy
import datetime
import os

import pytest

from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.change_request import (
    canonical_change_request, change_request_sha256, load_change_request, validate_change_request,
)
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError

from assess_support import EXAMPLES, INVENTORY, NOW, change, example, policy

CR = "change request"
TOP = "id, title, description, author, type, category, targets, config, expected, rollback, window, links, intended"
ID_FIX = "use 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit (e.g. CHG-1001), quoted if numeric."
LINES_FIX = 'list the configuration lines, e.g. lines: ["ip prefix-list PL seq 5 permit 10.0.0.0/8"].'
TARGETS_FIX = "list inventory hosts, groups or patterns, e.g. targets: [fw1]."
EXP = {"name": "check_one", "query": "x", "op": "equals", "value": True}
# The `expected` operators are the checks engine's (plugins/module_utils/checks.py): one list for the project.
OPS = ("all_match, at_least, at_most, contains, equals, greater_than, is_empty, less_than, none_match, not_contains, not_empty, "
       "not_equals, subset, superset, unchanged, within_pct_of_pre")
EXPECTED_KEYS = "name, description, query, op, value, snapshot, tolerance_pct, where, hosts"


def with_config(entry, host="r2"):
    return change(config={host: entry})


def with_expected(*items):
    return change(expected=list(items))


# (case id, change request document, exact error message)
MALFORMED = [
    ("empty", None, "change request: is empty. Fix: write the change request as a YAML mapping (id, title, description, ...)."),
    ("not_mapping", ["id", "CHG-1"],
     "change request: must be a mapping (the change request), got a list. Fix: write it as a mapping with the keys: %s." % TOP),
    ("unknown_top_key", change(tittle="x"),
     "change request: tittle: is not a known key. Fix: remove it or use one of the allowed keys: %s." % TOP),
    ("missing_id", change(id=None), "change request: id: is required but missing. Fix: add the 'id' key."),
    ("id_integer", change(id=1001), "change request: id: must be a string, got an integer (1001). Fix: " + ID_FIX),
    ("id_space", change(id="CHG 1"), "change request: id: 'CHG 1' has invalid characters or length. Fix: " + ID_FIX),
    ("id_empty", change(id=""), "change request: id: must not be empty. Fix: " + ID_FIX),
    ("id_too_long", change(id="C" * 65), "change request: id: '%s' has invalid characters or length. Fix: %s" % ("C" * 65, ID_FIX)),
    ("missing_title", change(title=None), "change request: title: is required but missing. Fix: add the 'title' key."),
    ("title_blank", change(title="   "), "change request: title: must not be empty. Fix: give it a value."),
    ("description_list", change(description=["a"]),
     "change request: description: must be a string, got a list. Fix: write it as a quoted string."),
    ("missing_author", change(author=None), "change request: author: is required but missing. Fix: add the 'author' key."),
    ("author_space", change(author="carol smith"),
     "change request: author: 'carol smith' has invalid characters or length. Fix: use the author's identity name from the policy (e.g. carol)."),
    ("type_unknown", change(type="urgent"),
     "change request: type: 'urgent' is not allowed. Fix: use one of: standard, normal, emergency."),
    ("type_boolean", change(type=True),
     "change request: type: must be a string, got a boolean (true). Fix: use one of: standard, normal, emergency."),
    ("missing_type", change(type=None), "change request: type: is required but missing. Fix: add the 'type' key."),
    ("category_unknown", change(category="acl"),
     "change request: category: 'acl' is not allowed. Fix: use one of: acl_update, vlan_add, bgp_policy, routing_core, firmware, "
     "interface, remediation, other."),
    ("missing_category", change(category=None), "change request: category: is required but missing. Fix: add the 'category' key."),
    ("missing_targets", change(targets=None), "change request: targets: is required but missing. Fix: add the 'targets' key."),
    ("targets_empty", change(targets=[]), "change request: targets: must not be an empty list. Fix: " + TARGETS_FIX),
    ("targets_string", change(targets="r2"), "change request: targets: must be a list, got a string. Fix: " + TARGETS_FIX),
    ("targets_duplicate", change(targets=["r2", "r2"]), "change request: targets[1]: 'r2' is listed twice. Fix: remove the duplicate."),
    ("targets_blank_item", change(targets=[""]), "change request: targets[0]: must not be empty. Fix: give it a value."),
    ("targets_int_item", change(targets=["r2", 7]),
     "change request: targets[1]: must be a string, got an integer (7). Fix: write it as a quoted string."),
    ("config_list", change(config=["ip route 1.1.1.1/32 null0"]),
     "change request: config: must be a mapping of host or group name to {lines|template}, got a list. Fix: write it like config: {fw1: {lines: [...]}}."),
    ("config_lines_and_template", with_config({"lines": ["x"], "template": "t.j2"}),
     "change request: config.r2: must have exactly one of 'lines' or 'template'. Fix: give either lines: [...] or template: path/to/file.j2."),
    ("config_neither", with_config({}),
     "change request: config.r2: must have exactly one of 'lines' or 'template'. Fix: give either lines: [...] or template: path/to/file.j2."),
    ("config_typo_key", with_config({"line": ["x"]}),
     "change request: config.r2.line: is not a known key. Fix: remove it or use one of the allowed keys: lines, template, vars."),
    ("config_entry_string", with_config("ip route 1.1.1.1/32 null0"),
     "change request: config.r2: must be a mapping, got a string. Fix: write it as a mapping with the keys: lines, template, vars."),
    ("config_lines_empty", with_config({"lines": []}),
     'change request: config.r2.lines: must not be an empty list. Fix: ' + LINES_FIX),
    ("config_lines_string", with_config({"lines": "ip route 1.1.1.1/32 null0"}),
     'change request: config.r2.lines: must be a list, got a string. Fix: ' + LINES_FIX),
    ("config_line_integer", with_config({"lines": ["a", "b", 42]}),
     "change request: config.r2.lines[2]: must be a string, got an integer (42). Fix: quote the configuration line as a string."),
    ("config_line_null", with_config({"lines": ["a", None]}),
     "change request: config.r2.lines[1]: must be a string, got null. Fix: quote the configuration line as a string."),
    ("config_line_break", with_config({"lines": ["a\nb"]}),
     "change request: config.r2.lines[0]: contains a line break. Fix: put each configuration line in its own list item."),
    ("config_vars_with_lines", with_config({"lines": ["a"], "vars": {"x": 1}}),
     "change request: config.r2.vars: only applies to a template. Fix: remove vars or use template."),
    ("config_template_blank", with_config({"template": ""}),
     "change request: config.r2.template: must not be empty. Fix: give the template path, e.g. templates/prefix_list.j2."),
    ("config_vars_list", with_config({"template": "t.j2", "vars": [1]}),
     "change request: config.r2.vars: must be a mapping, got a list. Fix: write template variables as a mapping."),
    ("config_key_invalid", change(config={"r 2": {"lines": ["a"]}}),
     "change request: config.r 2: 'r 2' has invalid characters or length. Fix: use an inventory host or group name as the key."),
    ("expected_mapping", change(expected={"name": "x"}),
     "change request: expected: must be a list, got a mapping. Fix: list the checks, e.g. - {name: x, query: ..., op: equals, value: true}."),
    ("expected_missing_query", with_expected({"name": "a", "op": "not_empty"}),
     "change request: expected[0].query: is required but missing. Fix: add the 'query' key."),
    ("expected_bad_op", with_expected(dict(EXP, op="eq")),
     "change request: expected[0].op: 'eq' is not allowed. Fix: use one of: %s." % OPS),
    # The former private operators are gone on purpose: they are refused like any unknown operator.
    ("expected_removed_op_exists", with_expected({"name": "a", "query": "x", "op": "exists"}),
     "change request: expected[0].op: 'exists' is not allowed. Fix: use one of: %s." % OPS),
    ("expected_removed_op_ge", with_expected(dict(EXP, op="ge", value=1)),
     "change request: expected[0].op: 'ge' is not allowed. Fix: use one of: %s." % OPS),
    ("expected_op_integer", with_expected(dict(EXP, op=1)),
     "change request: expected[0].op: must be a string, got an integer (1). Fix: use one of: %s." % OPS),
    ("expected_missing_value", with_expected({"name": "a", "query": "x", "op": "equals"}),
     "change request: check 'a'.value: operator equals needs a value to compare with. Fix: add value: <expected>."),
    ("expected_subset_value_not_list", with_expected(dict(EXP, op="subset", value="10.0.0.0/8")),
     "change request: check 'check_one'.value: operator subset needs a list value. Fix: write value as a YAML list."),
    ("expected_value_with_pre_vs_post", with_expected(dict(EXP, op="at_least", value=1, snapshot="pre_vs_post")),
     "change request: check 'check_one'.value: value is not used with snapshot pre_vs_post: post is compared with pre. "
     "Fix: remove value, or read one snapshot (snapshot: post) to compare with a fixed value."),
    ("expected_op_cannot_read_snapshot", with_expected({"name": "a", "query": "x", "op": "unchanged", "snapshot": "post"}),
     "change request: check 'a'.snapshot: operator unchanged cannot read snapshot post. Fix: use snapshot: pre_vs_post."),
    ("expected_query_not_jmespath", with_expected(dict(EXP, query="sections.peers[?state==]")),
     "change request: check 'check_one'.query: is not a valid JMESPath expression "
     "(invalid token: Parse error at column 23, token \"]\" (RBRACKET), for expression:). "
     "Fix: fix the expression (https://jmespath.org/specification.html)."),
    ("expected_query_blank", with_expected(dict(EXP, query="  ")),
     "change request: expected[0].query: must not be empty. Fix: give the query as a string."),
    ("expected_all_match_without_where", with_expected({"name": "a", "query": "sections.peers", "op": "all_match"}),
     "change request: check 'a'.where: operator all_match needs a 'where' sub-expression evaluated on each item. "
     "Fix: add e.g. where: \"state == 'Established'\"."),
    ("expected_where_on_equals", with_expected(dict(EXP, where="state == 'up'")),
     "change request: check 'check_one'.where: 'where' is only used by all_match and none_match. Fix: remove it, or filter in the query."),
    ("expected_tolerance_out_of_range", with_expected({"name": "a", "query": "x", "op": "within_pct_of_pre", "tolerance_pct": 150}),
     "change request: check 'a'.tolerance_pct: tolerance_pct must be a number from 0 to 100, got 150. Fix: write e.g. tolerance_pct: 5."),
    ("expected_tolerance_on_equals", with_expected(dict(EXP, tolerance_pct=5)),
     "change request: check 'check_one'.tolerance_pct: tolerance_pct is not used by equals. "
     "Fix: remove it, or use at_least/at_most/superset/within_pct_of_pre."),
    ("expected_within_pct_without_tolerance", with_expected({"name": "a", "query": "x", "op": "within_pct_of_pre"}),
     "change request: check 'a'.tolerance_pct: within_pct_of_pre needs tolerance_pct (or a numeric value). Fix: add tolerance_pct: <percent>."),
    ("expected_hosts_string", with_expected(dict(EXP, hosts="r2")),
     "change request: expected[0].hosts: must be a list, got a string. Fix: write it as a YAML list: [a, b]."),
    ("expected_duplicate_name", with_expected(EXP, dict(EXP)),
     "change request: expected[1].name: 'check_one' is used by another expected check. Fix: give each check a unique name."),
    ("expected_bad_name", with_expected(dict(EXP, name="Check-One")),
     "change request: expected[0].name: 'Check-One' has invalid characters or length. Fix: use 1-64 characters from a-z 0-9 _."),
    ("expected_bad_snapshot", with_expected(dict(EXP, snapshot="during")),
     "change request: check 'check_one'.snapshot: unknown snapshot 'during'. Fix: use one of: pre, post, diff, pre_vs_post."),
    ("expected_unknown_key", with_expected(dict(EXP, operator="equals")),
     "change request: expected[0].operator: is not a known key. Fix: remove it or use one of the allowed keys: %s." % EXPECTED_KEYS),
    # Keys of the checks engine that a change request does not take (hosts scopes an expected check instead).
    ("expected_devices_key", with_expected(dict(EXP, devices=["r2"])),
     "change request: expected[0].devices: is not a known key. Fix: remove it or use one of the allowed keys: %s." % EXPECTED_KEYS),
    ("rollback_bad_strategy", change(rollback={"strategy": "manual"}),
     "change request: rollback.strategy: 'manual' is not allowed. Fix: use one of: backup, custom."),
    ("rollback_custom_without_steps", change(rollback={"strategy": "custom"}),
     "change request: rollback.steps: is required when strategy is custom. Fix: list the rollback configuration lines in steps."),
    ("rollback_backup_with_steps", change(rollback={"strategy": "backup", "steps": ["x"]}),
     "change request: rollback.steps: only applies to strategy custom. Fix: remove steps, or set strategy: custom."),
    ("rollback_string", change(rollback="backup"),
     "change request: rollback: must be a mapping, got a string. Fix: write it as a mapping with the keys: strategy, steps."),
    ("window_naive", change(window={"start": "2026-11-28T01:00:00", "end": "2026-11-28T03:00:00+00:00"}),
     'change request: window.start: has no UTC offset, so the instant is ambiguous. Fix: add the offset, e.g. "2026-11-28T01:00:00+00:00".'),
    ("window_not_iso", change(window={"start": "tomorrow", "end": "2026-11-28T03:00:00+00:00"}),
     "change request: window.start: 'tomorrow' is not an ISO 8601 date-time. Fix: write it like \"2026-11-28T01:00:00+00:00\"."),
    ("window_end_before_start", change(window={"start": "2026-11-28T03:00:00+00:00", "end": "2026-11-28T01:00:00+00:00"}),
     "change request: window.end: is not after window.start. Fix: make the requested window end after it starts."),
    ("window_missing_end", change(window={"start": "2026-11-28T03:00:00+00:00"}),
     "change request: window.end: is required but missing. Fix: add the 'end' key."),
    ("window_number", change(window={"start": 1, "end": 2}),
     'change request: window.start: must be an ISO 8601 date-time string, got an integer (1). Fix: write it like "2026-11-28T01:00:00+00:00".'),
    ("links_unknown_key", change(links={"jira": "X-1"}),
     "change request: links.jira: is not a known key. Fix: remove it or use one of the allowed keys: ticket, merge_request, documentation."),
    ("links_ticket_int", change(links={"ticket": 1234}),
     "change request: links.ticket: must be a string, got an integer (1234). Fix: write it as a quoted string."),
    ("non_string_key", {**change(), 3: "x"},
     "change request: has a non-string key 3. Fix: quote the key or use one of: %s." % TOP),
]

# Refused only at assessment time, because they need the inventory or the policy.
MALFORMED_IN_CONTEXT = [
    ("target_unknown_host", change(targets=["r9"], config={}),
     "change request: targets[0]: 'r9' matches no host or group of the inventory. Fix: use an inventory host, group or pattern (e.g. r*); "
     "known groups: all, core, edge, firewalls, routers, site_ams, site_lon."),
    ("target_pattern_matches_nothing", change(targets=["sw*"], config={}),
     "change request: targets[0]: 'sw*' matches no host or group of the inventory. Fix: use an inventory host, group or pattern (e.g. r*); "
     "known groups: all, core, edge, firewalls, routers, site_ams, site_lon."),
    ("config_host_not_target", change(targets=["r2"], config={"r1": {"lines": ["x"]}}),
     "change request: config.r1: host 'r1' is not one of the targets. Fix: add it to targets or remove its config."),
    ("config_group_without_targets", change(targets=["r2"], config={"firewalls": {"lines": ["x"]}}),
     "change request: config.firewalls: group 'firewalls' contains none of the targets. Fix: target the group (or some of its hosts) or remove its config."),
    ("config_unknown_key", change(config={"r9": {"lines": ["x"]}}),
     "change request: config.r9: 'r9' is not a host or group of the inventory. Fix: key config by an inventory host or group name."),
    ("author_not_identity", change(author="mallory"),
     "change request: author: author 'mallory' is not an identity of the policy. Fix: use a name defined under identities in the policy "
     "(segregation of duties needs it)."),
    ("window_in_the_past", change(window={"start": "2020-01-01T01:00:00+00:00", "end": "2020-01-01T03:00:00+00:00"}),
     "change request: window.end: the requested window ended before the assessment (2026-11-01T00:00:00Z). "
     "Fix: request a window in the future or remove it."),
    ("template_without_rendering", change(config={"r2": {"template": "templates/pl.j2"}}),
     "diffs.r2: the config for 'r2' (config.r2) is a template and no rendered candidate was given. "
     "Fix: render the template and pass diffs: {r2: {running: ..., lines: [...]}}."),
]


@pytest.mark.parametrize("doc,message", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_change_request_is_refused(doc, message):
    with pytest.raises(ValidationError) as info:
        validate_change_request(copy.deepcopy(doc))
    assert str(info.value) == message
    assert not isinstance(info.value, PolicyError)
    # ... and no assessment is produced from it.
    with pytest.raises(ValidationError) as again:
        assess(copy.deepcopy(doc), policy(), INVENTORY, now=NOW)
    assert str(again.value) == message


@pytest.mark.parametrize("doc,message", [case[1:] for case in MALFORMED_IN_CONTEXT], ids=[case[0] for case in MALFORMED_IN_CONTEXT])
def test_change_request_refused_in_context(doc, message):
    validate_change_request(copy.deepcopy(doc))  # structurally fine
    with pytest.raises(ValidationError) as info:
        assess(doc, policy(), INVENTORY, now=NOW)
    assert str(info.value) == message


def test_every_message_names_a_field_and_a_fix():
    for _case, _doc, message in MALFORMED + MALFORMED_IN_CONTEXT:
        assert " Fix: " in message
        assert message.startswith(("change request: ", "diffs."))


def test_valid_change_request_is_normalised():
    doc = change(window={"start": datetime.datetime(2026, 11, 28, 1, tzinfo=datetime.timezone.utc),
                         "end": "2026-11-28T03:00:00Z"})
    out = validate_change_request(doc)
    assert out["window"] == {"start": "2026-11-28T01:00:00+00:00", "end": "2026-11-28T03:00:00+00:00"}
    assert out["rollback"] == {"strategy": "backup", "steps": []}
    assert out["expected"] == [] and out["links"] == {}
    assert out["config"] == {"r2": {"lines": ["ip prefix-list PL seq 5 permit 10.20.0.0/16"]}}


def test_normalisation_is_idempotent_and_hash_ignores_key_order():
    doc = example("changes/bgp_core_r2.yml")
    once = validate_change_request(doc)
    assert validate_change_request(once) == once
    reordered = dict(reversed(list(doc.items())))
    assert change_request_sha256(reordered) == change_request_sha256(doc) == sha256_of(canonical_change_request(doc))


def test_hash_changes_with_any_field():
    base = change_request_sha256(change())
    assert change_request_sha256(change(title="Other title")) != base
    assert change_request_sha256(change(config={"r2": {"lines": ["ip prefix-list PL seq 5 permit 10.21.0.0/16"]}})) != base


def test_template_entry_keeps_vars_and_custom_rollback_steps():
    out = validate_change_request(change(config={"routers": {"template": "t.j2", "vars": {"asn": 1}}},
                                         rollback={"strategy": "custom", "steps": ["no ip prefix-list PL"]},
                                         expected=[{"name": "up", "query": "x", "op": "not_empty"}]))
    assert out["config"]["routers"] == {"template": "t.j2", "vars": {"asn": 1}}
    assert out["rollback"] == {"strategy": "custom", "steps": ["no ip prefix-list PL"]}
    # The normalised form holds only the documented keys (it is hashed: content_hash binds the approvals).
    assert out["expected"][0] == {"name": "up", "query": "x", "op": "not_empty", "snapshot": "post", "hosts": []}


@pytest.mark.parametrize("name", ["acl_update_fw1.yml", "bgp_core_r2.yml", "emergency_r1.yml"])
def test_example_change_requests_are_valid(name):
    out = load_change_request(os.path.join(EXAMPLES, "changes", name))
    assert out["author"] == "carol"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ValidationError) as info:
        load_change_request(str(tmp_path / "nope.yml"))
    assert "the change request file does not exist. Fix:" in str(info.value)
    bad = tmp_path / "bad.yml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(ValidationError) as info:
        load_change_request(str(bad))
    assert str(info.value).startswith(str(bad) + ":") and "Fix: correct the YAML syntax" in str(info.value)
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("id: CHG-1\ntitle: t\n")
    with pytest.raises(ValidationError) as info:
        load_change_request(str(wrong))
    assert str(info.value) == "%s: description: is required but missing. Fix: add the 'description' key." % wrong
