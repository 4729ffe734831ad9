# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""checks.py's named rules: check validation, one comparison rule per operator family, the run verdict."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import checks
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError


def refusal(check):
    with pytest.raises(ValidationError) as info:
        checks.validate_check(check)
    return info.value


def test_validation_rules_report_the_first_broken_rule_in_order():
    # both the value and the tolerance are wrong: the value rule comes first
    error = refusal({"name": "c", "query": "a", "op": "equals", "tolerance_pct": 500})
    assert error.where == "check 'c'.value" and "needs a value" in error.problem
    # a bad query is reported before a missing 'where' and a bad flag
    error = refusal({"name": "c", "query": "a[", "op": "all_match", "skip_if_absent": "yes"})
    assert error.where == "check 'c'.query" and "not a valid JMESPath" in error.problem
    error = refusal({"name": "c", "query": "a", "op": "all_match", "skip_if_absent": "yes"})
    assert error.where == "check 'c'.where"
    error = refusal({"name": "c", "query": "a", "op": "all_match", "where": "x", "skip_if_absent": "yes"})
    assert error.where == "check 'c'.skip_if_absent" and error.problem == "skip_if_absent must be true or false."


def test_snapshot_rule_defaults_and_refusals():
    assert checks.validate_check({"name": "c", "query": "a", "op": "unchanged"})["snapshot"] == "pre_vs_post"
    assert checks.validate_check({"name": "c", "query": "a", "op": "is_empty"})["snapshot"] == "post"
    assert "cannot read snapshot pre_vs_post" in refusal({"name": "c", "query": "a", "op": "is_empty",
                                                          "snapshot": "pre_vs_post"}).problem
    assert refusal({"name": "c", "query": "a", "op": "is_empty", "snapshot": "later"}).problem == "unknown snapshot 'later'."


@pytest.mark.parametrize("check, where, words", [
    ({"name": "c", "query": "a", "op": "unchanged", "value": 1}, ".value", "not used with snapshot pre_vs_post"),
    ({"name": "c", "query": "a", "op": "subset", "value": "x"}, ".value", "needs a list value"),
    ({"name": "c", "query": " ", "op": "is_empty"}, ".query", "query is missing or empty"),
    ({"name": "c", "query": "a", "op": "is_empty", "where": "x"}, ".where", "only used by all_match and none_match"),
    ({"name": "c", "query": "a", "op": "within_pct_of_pre"}, ".tolerance_pct", "needs tolerance_pct"),
    ({"name": "c", "query": "a", "op": "equals", "value": 1, "tolerance_pct": 5}, ".tolerance_pct", "not used by equals"),
    ({"name": "c", "query": "a", "op": "at_least", "value": 1, "tolerance_pct": True}, ".tolerance_pct", "from 0 to 100"),
    ({"name": "c", "query": "a", "op": "is_empty", "devices": "r1"}, ".devices", "list of inventory names"),
    ({"name": "c", "query": "a", "op": "subset", "value": [], "ignore": ["x"]}, ".ignore", "superset only"),
])
def test_each_validation_rule_refuses_with_its_field(check, where, words):
    error = refusal(check)
    assert error.where == "check 'c'" + where and words in error.problem


def test_within_pct_accepts_a_numeric_value_instead_of_a_tolerance():
    out = checks.validate_check({"name": "c", "query": "a", "op": "within_pct_of_pre", "value": 10})
    assert out["snapshot"] == "pre_vs_post" and out["_where"] is None


def test_bound_rule_moves_only_at_least_and_at_most_by_the_tolerance():
    assert checks._bound_holds("at_least", 95, 100, 5) == (95.0, True)
    assert checks._bound_holds("at_least", 94, 100, 5) == (95.0, False)
    assert checks._bound_holds("at_most", 105, 100, 5) == (105.0, True)
    assert checks._bound_holds("greater_than", 100, 100, 50) == (100, False)
    assert checks._bound_holds("less_than", 99, 100, 50) == (100, True)
    ok, reason, _extra = checks._compare({"op": "at_least", "tolerance_pct": 5}, 94, 100, relative=True)
    assert not ok and reason == "94 is not >= 95.0 (pre 100, tolerance 5%)"


def test_comparison_rules_per_operator():
    compare = checks._compare
    assert compare({"op": "unchanged"}, [1], [1], True)[:2] == (True, "equal to pre")
    assert compare({"op": "not_equals"}, 1, 1, False)[:2] == (False, "equal to the expected value")
    assert compare({"op": "contains"}, {"k": 1}, "k", False)[:2] == (True, "'k' found")
    assert compare({"op": "not_contains"}, "abc", "b", False)[:2] == (False, "'b' found")
    assert compare({"op": "subset"}, [1, 3], [1, 2], False) == (False, "1 item(s) not in the expected value", {"extra": [3]})
    ok, reason, extra = compare({"op": "superset", "ignore": ["b"]}, ["a"], ["a", "b"], True)
    assert ok and reason == "0 of 1 pre item(s) missing (allowed 0 = 0%); 1 declared intended" and extra["intended_missing"] == ["b"]
    assert compare({"op": "within_pct_of_pre", "value": 10}, 111, 100, True)[0] is False
    assert compare({"op": "is_empty"}, {}, None, False)[:2] == (True, "empty")
    assert compare({"op": "all_match"}, [], None, False)[0] is False
    assert compare({"op": "all_match", "allow_empty": True}, [], None, False)[0] is True


def test_comparison_rules_refuse_undecidable_types():
    with pytest.raises(checks._Undecidable, match="needs lists"):
        checks._compare({"op": "superset"}, "a", ["a"], False)
    with pytest.raises(checks._Undecidable, match="value must be a string too"):
        checks._compare({"op": "contains"}, "abc", 1, False)
    with pytest.raises(checks._Undecidable, match="needs a number"):
        checks._compare({"op": "at_most", "tolerance_pct": 1}, [1], 2, True)


def test_run_verdict_needs_results_and_no_failure():
    assert checks._run_verdict([])["passed"] is False
    good = {"name": "a", "passed": True, "undecidable": False}
    bad = {"name": "b", "passed": False, "undecidable": True, "device": "r1"}
    assert checks._run_verdict([good])["passed"] is True
    verdict = checks._run_verdict([good, bad])
    assert verdict["passed"] is False and verdict["undecidable"] is True
    assert verdict["summary"]["failed_checks"] == ["r1/b"] and verdict["summary"]["passed"] == 1


def test_network_maps_tell_one_diff_from_a_mapping_of_diffs():
    assert checks._diff_map({"added": {}, "removed": {}}) == {}
    assert checks._diff_map({"r1": {"added": {}}}) == {"r1": {"added": {}}}
    assert checks._diff_map(None) == {}
    assert checks._network_map({"r1": None}) == {"r1": None}
    assert checks._network_map({"sections": {}, "device": "r1", "platform": "frr"}) == {}
    assert not checks._already_validated([]) and not checks._already_validated([{"name": "a"}])


def test_pre_vs_post_reading_rule_skips_only_a_section_absent_from_both():
    check = checks.validate_check({"name": "c", "query": "sections.probes", "op": "unchanged", "skip_if_absent": True})
    empty = {"sections": {}}
    result = {}
    assert checks._read_pre_vs_post(check, {"pre": empty, "post": empty}, result) is None
    assert result["skipped"] is True and result["reason"].startswith("skipped: nothing collected")
    with pytest.raises(checks._Undecidable, match="found nothing in post"):
        checks._read_pre_vs_post(check, {"pre": {"sections": {"probes": {}}}, "post": empty}, {})
    with pytest.raises(checks._Undecidable, match="no post snapshot was given"):
        checks._read_pre_vs_post(check, {"pre": empty, "post": None}, {})
    result = {}
    assert checks._read_pre_vs_post(check, {"pre": {"sections": {"probes": 1}}, "post": {"sections": {"probes": 1}}}, result)[0]
    assert result["pre"] == 1 and result["expected"] == 1


def test_one_snapshot_reading_rule_skips_when_asked_else_is_undecidable():
    check = checks.validate_check({"name": "c", "query": "sections.peers", "op": "is_empty", "snapshot": "diff"})
    with pytest.raises(checks._Undecidable, match="no diff snapshot was given"):
        checks._read_one_snapshot(check, {"diff": None}, {})
    with pytest.raises(checks._Undecidable, match="found nothing in diff"):
        checks._read_one_snapshot(check, {"diff": {}}, {})
    skipping = dict(check, skip_if_absent=True)
    result = {}
    assert checks._read_one_snapshot(skipping, {"diff": None}, result) is None and result["reason"] == "skipped: no diff snapshot"
    result = {}
    assert checks._read_one_snapshot(skipping, {"diff": {}}, result) is None
    assert result["reason"] == "skipped: the query found nothing in diff"
    assert checks.evaluate_check(check, {"diff": {"sections": {"peers": []}}})["passed"] is True
