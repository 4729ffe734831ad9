# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.lock in-process: ActionModule.run() with a real Task against a real SQLite ledger (the same decisions
tests/functional/test_lock_action.py checks through ansible-playbook)."""

from __future__ import annotations

import pytest

from action_harness import run_action
from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


@pytest.fixture
def ledger(tmp_path):
    """CHG-1 (carol) passed the review gate and is scheduled; CHG-2 (dave) waits for authorization."""
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-1", "carol", "scheduled"), ("CHG-2", "dave", "authorize")))


def lock(ledger, check_mode=False, **args):
    return run_action("lock", dict({"ledger": ledger, "change_id": "CHG-1", "owner": "alice"}, **args), check_mode=check_mode)


def snapshot(ledger):
    with SqliteLedger(ledger) as led:
        return [e["kind"] for e in led.events()], [(lease["device"], lease["change_id"]) for lease in led.locks()], led.get_change("CHG-1")["state"]


def test_acquire_leases_every_device_and_records_it(ledger):
    result = lock(ledger, devices=["r1", "r2"])
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and sorted(lease["device"] for lease in result["locks"]) == ["r1", "r2"]
    assert {lease["owner"] for lease in result["locks"]} == {"alice"} and result["ledger_state"] == "scheduled"
    kinds, locks, _state = snapshot(ledger)
    assert kinds.count("lock.acquired") == 1 and sorted(locks) == [("r1", "CHG-1"), ("r2", "CHG-1")]


def test_acquire_with_transition_moves_the_change_to_implement(ledger):
    result = lock(ledger, devices=["r1"], transition="implement")
    assert result["ledger_state"] == "implement" and snapshot(ledger)[2] == "implement"


def test_a_device_held_by_another_change_is_refused_naming_the_holder_all_or_nothing(ledger):
    assert not lock(ledger, devices=["r2"]).get("failed")
    with SqliteLedger(ledger) as led:
        led.transition("CHG-2", "scheduled", "dave")
    for check_mode in (True, False):
        result = lock(ledger, check_mode=check_mode, change_id="CHG-2", owner="bob", devices=["r3", "r2"])
        assert result["failed"] is True, check_mode
        assert result["msg"].startswith("governed.change.lock:") and "r2 is locked by change CHG-1 (owner alice)" in result["msg"]
        assert "governed-change ledger break-lock" in result["msg"]
    assert ("r3", "CHG-2") not in snapshot(ledger)[1]


def test_implement_needs_a_passed_review(ledger):
    before = snapshot(ledger)
    result = lock(ledger, change_id="CHG-2", devices=["r3"], transition="implement")
    assert result["failed"] is True and "CHG-2 is authorize" in result["msg"] and "review gate" in result["msg"]
    assert snapshot(ledger) == before


def test_check_mode_writes_nothing(ledger):
    before = snapshot(ledger)
    result = lock(ledger, check_mode=True, devices=["r1", "r2"], transition="implement")
    assert not result.get("failed") and result["ledger_state"] == "scheduled"
    assert snapshot(ledger) == before


def test_release_frees_the_leases_once_and_check_mode_keeps_them(ledger):
    lock(ledger, devices=["r1", "r2"])
    preview = lock(ledger, check_mode=True, state="released")
    assert preview["released"] == ["r1", "r2"] and preview["changed"] is True and len(snapshot(ledger)[1]) == 2
    assert lock(ledger, state="released")["released"] == ["r1", "r2"]
    again = lock(ledger, state="released")
    assert again["released"] == [] and again["changed"] is False
    kinds, locks, _state = snapshot(ledger)
    assert locks == [] and kinds.count("lock.released") == 1


def test_release_without_a_ledger_holds_nothing(tmp_path):
    result = lock(str(tmp_path / "none.sqlite"), state="released")
    assert result["released"] == [] and result["changed"] is False and not result.get("failed")
    assert not (tmp_path / "none.sqlite").exists()


def test_no_devices_is_refused_naming_the_field(ledger):
    result = lock(ledger, devices=[])
    assert result["failed"] is True and result["error"]["where"] == "devices" and "no devices to lock" in result["msg"]


def test_an_unknown_state_is_refused_by_the_argument_check(ledger):
    result = lock(ledger, devices=["r1"], state="held")
    assert result["failed"] is True and result["msg"].startswith("governed.change.lock: invalid arguments:") and "state" in result["msg"]
    assert snapshot(ledger)[1] == []
