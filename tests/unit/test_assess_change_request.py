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

from test_assess_support import EXAMPLES, INVENTORY, NOW, change, example, policy

CR = "change request"
TOP = "id, title, description, author, type, category, targets, config, expected, rollback, window, links"
ID_FIX = "use 1-64 characters from A-Z a-z 0-9 . _ - (e.g. CHG-1001), quoted if numeric."
LINES_FIX = 'list the configuration lines, e.g. lines: ["ip prefix-list PL seq 5 permit 10.0.0.0/8"].'
TARGETS_FIX = "list inventory hosts, groups or patterns, e.g. targets: [fw1]."
EXP = {"name": "check_one", "query": "x", "op": "equals", "value": True}


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
     "change request: category: 'acl' is not allowed. Fix: use one of: acl_update, vlan_add, bgp_policy, routing_core, firmware, interface, other."),
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
    ("expected_missing_query", with_expected({"name": "a", "op": "exists"}),
     "change request: expected[0].query: is required but missing. Fix: add the 'query' key."),
    ("expected_bad_op", with_expected(dict(EXP, op="eq")),
     "change request: expected[0].op: 'eq' is not allowed. Fix: use one of: equals, not_equals, lt, le, gt, ge, contains, not_contains, "
     "in, not_in, matches, exists, not_exists."),
    ("expected_missing_value", with_expected({"name": "a", "query": "x", "op": "equals"}),
     "change request: expected[0].value: is required for op 'equals'. Fix: add the value to compare with (ops without a value: exists, not_exists)."),
    ("expected_duplicate_name", with_expected(EXP, dict(EXP)),
     "change request: expected[1].name: 'check_one' is used by another expected check. Fix: give each check a unique name."),
    ("expected_bad_name", with_expected(dict(EXP, name="Check-One")),
     "change request: expected[0].name: 'Check-One' has invalid characters or length. Fix: use 1-64 characters from a-z 0-9 _."),
    ("expected_bad_snapshot", with_expected(dict(EXP, snapshot="during")),
     "change request: expected[0].snapshot: 'during' is not allowed. Fix: use one of: pre, post."),
    ("expected_unknown_key", with_expected(dict(EXP, operator="equals")),
     "change request: expected[0].operator: is not a known key. "
     "Fix: remove it or use one of the allowed keys: name, description, query, op, value, snapshot, hosts."),
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
     "change request: window.end: the requested window ended before the assessment (2026-11-01T00:00:00+00:00). "
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
                                         expected=[{"name": "up", "query": "x", "op": "exists"}]))
    assert out["config"]["routers"] == {"template": "t.j2", "vars": {"asn": 1}}
    assert out["rollback"] == {"strategy": "custom", "steps": ["no ip prefix-list PL"]}
    assert out["expected"][0] == {"name": "up", "query": "x", "op": "exists", "snapshot": "post", "hosts": [], "value": None}


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
