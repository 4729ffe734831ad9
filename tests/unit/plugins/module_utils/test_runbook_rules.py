# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's named rules and sections on plain data (no assessment run)."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import runbook
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

REQUIREMENTS = {"approvals": {"count": 2, "groups": ["netops", "cab"], "segregation_of_duties": True, "max_age_hours": 24},
                "checks": ["baseline"], "canary": 1, "batch_size": 2, "max_failures": 0, "auto_rollback": True,
                "rollback_scope": "failed", "escalation": {"target": "netops-oncall"}}
POLICY = {"requirements": {"high": REQUIREMENTS},
          "windows": [{"name": "lon-weekend", "scope": {"sites": ["lon"]}}, {"name": "core", "scope": {"groups": ["core"]}},
                      {"name": "nyc", "scope": {"hosts": ["nyc1"]}}],
          "freezes": [{"name": "year-end"}]}


def assessment(**extra):
    doc = {"change_id": "CHG-7", "tier": "high", "title": "t", "author": "carol", "content_hash": "ab" * 32,
           "hosts": ["r1", "r2"], "required_gates": ["approval", "review", "window", "freeze"],
           "facts": {"targets": [{"host": "r1", "site": "lon", "groups": ["edge"]}, {"host": "r2", "site": "ams", "groups": ["core"]}]}}
    doc.update(extra)
    return doc


def test_assessment_and_same_change_rules(monkeypatch):
    with pytest.raises(ValidationError, match="needs the change's assessment"):
        runbook._assessment_rule({"change_id": "CHG-7"})
    runbook._assessment_rule(assessment())
    runbook._same_change_rule(None, assessment())
    with pytest.raises(ValidationError, match="the change request is CHG-8 but the assessment is of CHG-7"):
        runbook._same_change_rule({"id": "CHG-8"}, assessment())
    monkeypatch.setattr(runbook, "change_request_sha256", lambda request: "1" * 64)  # the hash itself: test_change_request.py
    runbook._same_change_rule({"id": "CHG-7"}, assessment(change_request_sha256="1" * 64))
    with pytest.raises(ValidationError, match=r"differs from the one assessed \(sha256 000000000000 expected\)"):
        runbook._same_change_rule({"id": "CHG-7"}, assessment(change_request_sha256="0" * 64))


def test_tier_requirements_from_the_policy_else_the_assessment_else_refused():
    assert runbook._tier_requirements(POLICY, assessment(), "high")["batch_size"] == 2
    assert runbook._tier_requirements({}, assessment(requirements={"batch_size": 9}), "high") == {"batch_size": 9}
    with pytest.raises(ValidationError) as info:
        runbook._tier_requirements({}, assessment(), "high")
    assert info.value.where == "policy.requirements.high"


def test_prerequisites_follow_the_required_gates():
    ctx = runbook._runbook_context(None, assessment(), POLICY, 120)
    lines = runbook._prerequisites(ctx)
    assert lines[0] == ("2 signed approval(s) from netops or cab by someone other than the author (carol), each at most 24 h "
                        "old and bound to content hash abababababab.")
    assert lines[1] == "The review gate passes (automation: review)."
    assert lines[2] == "Now is inside an open maintenance window of every target: lon-weekend, core."
    assert lines[3] == "No change freeze covering a target is active (year-end)."
    assert lines[4:] == ["Device locks are free for r1, r2 (another change holding one stops this one).",
                         "Every target answers over its management SSH port (precheck)."]
    bare = runbook._prerequisites(runbook._runbook_context(None, assessment(required_gates=[]), POLICY, 120))
    assert bare[:2] == ["No approval is required for this change class and tier.", "No maintenance window is required for this tier."]
    assert len(bare) == 4


def test_window_cover_rule():
    assert runbook._window_covers({}, {"host": "x"})
    assert runbook._window_covers({"hosts": ["nyc1"]}, {"host": "nyc1"})
    assert runbook._window_covers({"groups": ["core"]}, {"host": "r2", "groups": ["core", "edge"]})
    assert not runbook._window_covers({"sites": ["nyc"], "groups": ["core"]}, {"host": "r1", "site": "lon", "groups": ["edge"]})


def test_entry_lines_rule_literal_or_rendered():
    device = {"new_lines": ["a", "b"], "added": ["b"]}
    assert runbook._entry_lines("r1", {"lines": ["x"]}, device) == (["x"], "config.r1.lines")
    assert runbook._entry_lines("core", {"template": "t.j2"}, device) == (["a", "b"], "config.core.template t.j2 (rendered by assess)")
    assert runbook._entry_lines("core", {"template": "t.j2"}, {"added": ["b"]})[0] == ["b"]
    lines, sources = runbook.device_lines({"config": {"core": {"lines": ["g"]}, "r2": {"lines": ["h"]}}}, assessment(), "r2")
    assert lines == ["g", "h"] and sources == ["config.core.lines", "config.r2.lines"]


def test_steps_per_batch_and_host_with_and_without_the_timer():
    ctx = runbook._runbook_context({"id": "CHG-7", "config": {"r1": {"lines": ["x"]}, "r2": {"lines": ["y"]}},
                                    "expected": [{"name": "up", "hosts": ["r2"]}]}, assessment(), POLICY, 120)
    steps = runbook._steps(ctx)
    assert [s["number"] for s in steps] == list(range(1, len(steps) + 1))
    actions = [s["action"] for s in steps]
    assert actions[2] == "r1 (canary batch): merge these lines with a commit-confirmed timer of 120 s (governed.change.deploy)."
    assert actions[3] == "r1: run the checks - baseline (governed.change.check)."
    assert actions[5].startswith("After the canary batch:")
    assert "r2: run the checks - up, baseline (governed.change.check)." in actions
    untimed = runbook._steps(dict(ctx, confirm_timeout=0))
    assert len(untimed) == len(steps) - 2 and not any("confirm the change" in s["action"] for s in untimed)


def test_rollback_rule_custom_lines_or_backup_restore():
    custom = runbook._rollback_steps({"strategy": "custom", "steps": ["no ip address 192.0.2.1/32"]})
    assert custom[0]["lines"] == ["no ip address 192.0.2.1/32"] and "custom rollback" in custom[1]["expected"]
    backup = runbook._rollback_steps({"strategy": "backup"})
    assert "lines" not in backup[0] and backup[0]["action"].startswith("Restore each device's backup")


def test_markdown_sections_and_traffic_lines():
    assert runbook._md_code(["a"]) == ["", "   ```", "   a", "   ```", ""]
    assert runbook._md_scope(None) == []
    scope = {"mode": "impact", "rule": "r", "always": ["r1"], "invariants": ["i"], "intended": {"prefixes_lost": ["p"]},
             "checks_where": {"up": ["r2"]}}
    assert runbook._md_scope(scope)[-2:] == ['Network-wide invariant: i - intended, not counted: {"prefixes_lost": ["p"]}.',
                                             "- check `up` runs on r2"]
    assert runbook._probe_line("fw1", {"name": "web", "type": "tcp", "host": "10.0.0.1", "port": 80, "from": "r3", "timeout": 2}) == \
        "- probe `web`: tcp 10.0.0.1:80 from r3's namespace, with fw1's snapshots (timeout 2 s)"
    assert runbook._traffic_lines({}) == []
    lines = runbook._traffic_lines({"firewalls": ["fw1"], "verdict": "v", "intended": {"services_blocked": ["web"]},
                                    "unprobed": [{"rule": "drop", "reason": "a range"}]})
    assert lines[1:] == ["Traffic checks (firewall fw1): v.", "- not probed: drop - a range",
                         "- declared intended (blocked on purpose, not counted): web"]
