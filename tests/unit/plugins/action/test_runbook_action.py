# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.runbook in-process: ActionModule.run() with a real Task over a change assessed in-process (the example
bad BGP change), a real SQLite ledger. The same action through ansible-playbook: tests/functional/test_escalate_action.py."""

from __future__ import annotations

import os

from action_harness import assessed_workspace, run_action

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

CHANGE = "CHG-2002"
ARGS = {"change_request": "change.yml", "assessment_file": "out/assessments/%s.assessment.json" % CHANGE,
        "policy": "policy/policy.yml", "output_dir": "out", "ledger": "ledger.sqlite"}


def runbook(base, check_mode=False, **args):
    return run_action("runbook", dict(ARGS, **args), check_mode=check_mode, basedir=base)


def runbook_events(base):
    with SqliteLedger(str(base / "ledger.sqlite")) as led:
        return [e for e in led.events(change_id=CHANGE) if e["kind"].startswith("runbook.")]


def test_the_runbook_is_written_recorded_and_stable(tmp_path):
    assessed_workspace(tmp_path)
    result = runbook(tmp_path)
    assert not result.get("failed"), result.get("msg")
    ref = result["runbook"]
    assert ref["path"] == str(tmp_path / "out" / "runbooks" / ("%s.md" % CHANGE)) and os.path.isfile(ref["json_path"])
    text = open(ref["path"], encoding="utf-8").read()
    assert "neighbor 10.0.12.2 remote-as 65020" in text and "## 6. Escalation" in text
    assert result["changed"] is True and result["recorded"] is True and result["elements"]["steps"] >= 6
    assert result["ansible_stats"]["data"]["governed_runbook"] == ref["path"]
    recorded = runbook_events(tmp_path)
    assert [e["kind"] for e in recorded] == ["runbook.generated"] and recorded[0]["data"]["sha256"] == ref["sha256"]
    again = runbook(tmp_path)
    assert again["changed"] is False and again["runbook"]["sha256"] == ref["sha256"]


def test_check_mode_finds_the_assessment_and_writes_nothing(tmp_path):
    assessed_workspace(tmp_path)
    result = runbook(tmp_path, check_mode=True, assessment_file=None, ledger=None)
    assert not result.get("failed"), result.get("msg")
    assert result["runbook"]["path"].endswith("runbooks/%s.md" % CHANGE) and not os.path.exists(result["runbook"]["path"])
    assert result["recorded"] is False and result["changed"] is False and runbook_events(tmp_path) == []


def test_a_change_request_that_differs_from_the_assessed_one_is_refused(tmp_path):
    assessed_workspace(tmp_path)
    (tmp_path / "other.yml").write_text((tmp_path / "change.yml").read_text().replace("65020", "65021"))
    result = runbook(tmp_path, change_request="other.yml")
    assert result["failed"] is True and result["msg"].startswith("governed.change.runbook: change_request:")
    assert "differs from the one assessed" in result["msg"] and "Fix:" in result["msg"]
    assert not os.path.exists(str(tmp_path / "out" / "runbooks")) and runbook_events(tmp_path) == []


def test_no_assessment_given_or_found_is_refused_naming_the_field(tmp_path):
    assessed_workspace(tmp_path)
    result = run_action("runbook", {"policy": "policy/policy.yml", "output_dir": "nothing-here"}, basedir=tmp_path)
    assert result["failed"] is True and "no assessment of the change was given" in result["msg"]
    assert result["error"]["where"] == "assessment"
