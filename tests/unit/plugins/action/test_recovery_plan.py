# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.recovery_plan in-process: ActionModule.run() with a real Task reads what recovering a change whose run
died means from a real SQLite ledger, and writes nothing."""

from __future__ import annotations

import pytest

from action_harness import run_action
from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.records import record_stage_start

REF_A = {"path": "store/a.json", "sha256": "a" * 64, "kind": "backup"}
REF_B = {"path": "store/b.json", "sha256": "b" * 64, "kind": "snapshot"}
DEAD_RUN = {"controller": "elsewhere.invalid", "pid": 1, "started": 1}  # not this controller: its liveness cannot be told


@pytest.fixture
def ledger(tmp_path):
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), actor="test")


def implement(ledger):
    record_stage_start(ledger, "CHG-1", "deploy", ["r2"], {"backups": {"r2": REF_A}, "pre_snapshots": {"r2": REF_B}}, run=DEAD_RUN)
    with SqliteLedger(ledger) as led:
        led.acquire_locks("CHG-1", ["r2"], "svc-ci", 3600)
        led.transition("CHG-1", "implement", "svc-ci")


def plan(ledger, **args):
    return run_action("recovery_plan", dict({"ledger": ledger, "change_id": "CHG-1"}, **args))


def events(ledger):
    with SqliteLedger(ledger) as led:
        return [e["kind"] for e in led.events()]


def test_a_change_left_in_implement_names_its_devices_and_references(ledger):
    implement(ledger)
    before = events(ledger)
    result = plan(ledger)
    assert not result.get("failed"), result.get("msg")
    assert result["recover"] is True and result["hosts"] == ["r2"] and result["locks"] == ["r2"] and result["changed"] is False
    assert result["devices"]["r2"]["backup"] == REF_A and result["devices"]["r2"]["pre_snapshot"] == REF_B
    assert result["msg"].startswith("change CHG-1 is in implement")
    assert events(ledger) == before  # read-only


def test_a_scheduled_change_has_nothing_to_recover_and_is_refused(ledger):
    result = plan(ledger)
    assert result["failed"] is True and result["msg"].startswith("governed.change.recovery_plan:") and "scheduled" in result["msg"]


def test_a_closed_change_is_a_no_op(ledger):
    with SqliteLedger(ledger) as led:
        led.transition("CHG-1", "canceled", "test")
    result = plan(ledger)
    assert not result.get("failed") and result["recover"] is False and result["state"] == "canceled" and result["msg"]


def test_an_unknown_change_or_ledger_is_refused(ledger, tmp_path):
    assert plan(ledger, change_id="CHG-404")["failed"] is True
    result = plan(str(tmp_path / "none.sqlite"))
    assert result["failed"] is True and "ledger" in result["msg"] and "Fix:" in result["msg"]
