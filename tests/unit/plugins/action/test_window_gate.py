# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.window_gate in-process: ActionModule.run() with a real Task, the example policy's windows and freeze,
the lab inventory as task variables and a real SQLite ledger. Every run passes ``now`` (no dependence on today's date)."""

from __future__ import annotations

import json
import shutil

import pytest

from action_harness import lab_task_vars, run_action
from evidence_support import assessment as evidence_assessment
from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment

CHANGE = "CHG-8201"
SATURDAY_NIGHT = "2026-11-28T02:00:00Z"   # inside lon-weekend (Sat/Sun 01:00-05:00 Europe/London)
WEDNESDAY_NOON = "2026-11-25T12:00:00Z"   # outside every window, no freeze
FREEZE_SATURDAY = "2026-12-26T02:00:00Z"  # inside lon-weekend but inside the year-end freeze (20 Dec - 4 Jan)


@pytest.fixture
def gate(tmp_path):
    (tmp_path / "policy").mkdir()
    shutil.copy("%s/examples/policy/policy.yml" % ROOT, str(tmp_path / "policy" / "policy.yml"))
    doc = dict(evidence_assessment(CHANGE, "Tighten r1's import policy"), tier="high", score=55)  # high: a window is required
    (tmp_path / "assessment.json").write_text(json.dumps(doc))
    ledger = str(tmp_path / "ledger.sqlite")
    record_assessment(ledger, doc)
    return tmp_path, ledger


def window(base, now, ledger=None, check_mode=False, **args):
    options = {"policy": "policy/policy.yml", "assessment_file": "assessment.json", "now": now}
    if ledger:
        options["ledger"] = ledger
    options.update(args)
    return run_action("window_gate", options, task_vars=lab_task_vars(), check_mode=check_mode, basedir=base)


def window_events(ledger):
    with SqliteLedger(ledger) as led:
        return [e["data"]["verdict"]["decision"] for e in led.events(change_id=CHANGE) if e["kind"] == "verdict.window"]


def test_inside_the_sites_window_it_passes_and_is_recorded(gate):
    base, ledger = gate
    result = window(base, SATURDAY_NIGHT, ledger)
    assert not result.get("failed"), result.get("msg")
    assert result["decision"] == "pass" and result["recorded"] is True
    assert result["verdict"]["windows_open"] and "lon-weekend" in json.dumps(result["verdict"]["windows_open"])
    assert result["ansible_facts"]["governed_window"]["decision"] == "pass"
    assert window_events(ledger) == ["pass"]


def test_outside_every_window_it_is_refused_with_the_next_opening(gate):
    base, ledger = gate
    result = window(base, WEDNESDAY_NOON, ledger)
    assert result["failed"] is True and result["decision"] != "pass"
    assert result["msg"].startswith("governed.change.window_gate: change %s may not run now:" % CHANGE)
    assert result["summary"]["next_open"], result["summary"]
    assert window_events(ledger) == [result["decision"]]


def test_a_freeze_refuses_even_inside_the_window(gate):
    base, ledger = gate
    result = window(base, FREEZE_SATURDAY, ledger)
    assert result["failed"] is True and "freeze" in result["msg"].lower()


def test_check_mode_evaluates_and_records_nothing(gate):
    base, ledger = gate
    result = window(base, SATURDAY_NIGHT, ledger, check_mode=True)
    assert result["decision"] == "pass" and result["recorded"] is False and result["changed"] is False
    assert window_events(ledger) == []


def test_without_a_ledger_the_gate_decides_and_records_nothing(gate):
    base, _ledger = gate
    result = window(base, WEDNESDAY_NOON)
    assert result["failed"] is True and result["recorded"] is False


def test_a_host_missing_from_the_inventory_is_refused_naming_the_field(gate):
    base, ledger = gate
    doc = json.loads((base / "assessment.json").read_text())
    result = window(base, SATURDAY_NIGHT, ledger, assessment_file=None, assessment=dict(doc, hosts=["r9"]))
    assert result["failed"] is True and "assessment.hosts" in result["msg"] and "r9" in result["msg"]
    assert window_events(ledger) == []


def test_a_negative_wait_is_refused(gate):
    base, ledger = gate
    result = window(base, WEDNESDAY_NOON, ledger, wait=True, wait_max_seconds=-1)
    assert result["failed"] is True and "wait_max_seconds" in result["msg"]
