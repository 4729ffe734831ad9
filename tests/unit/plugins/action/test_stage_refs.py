# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.stage_refs in-process: ActionModule.run() with a real Task against a real SQLite ledger (the playbook
run of the same action is tests/functional/test_stage_refs_playbook.py)."""

from __future__ import annotations

import pytest

from action_harness import run_action
from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

REF_A = {"path": "store/a.json", "sha256": "a" * 64, "kind": "backup"}
REF_B = {"path": "store/b.json", "sha256": "b" * 64, "kind": "snapshot"}
REF_C = {"path": "store/c.json", "sha256": "c" * 64, "kind": "backup"}


@pytest.fixture
def ledger(tmp_path):
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), actor="test")


def refs(ledger, check_mode=False, **args):
    return run_action("stage_refs", dict({"ledger": ledger, "change_id": "CHG-1"}, **args), check_mode=check_mode)


def kinds(ledger):
    with SqliteLedger(ledger) as led:
        return [e["kind"] for e in led.events(change_id="CHG-1")]


def test_two_stages_record_host_by_host_and_the_union_is_returned(ledger):
    first = refs(ledger, stage="precheck", record={"backups": {"r3": REF_A}})
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True and first["event"]["kind"] == "stage.refs"
    second = refs(ledger, stage="precheck", record={"backups": {"fw1": REF_C}})
    assert sorted(second["recorded"]["backups"]) == ["fw1", "r3"] and kinds(ledger).count("stage.refs") == 2


def test_incoming_artifacts_win_and_missing_hosts_are_completed_from_the_ledger(ledger):
    refs(ledger, stage="precheck", record={"backups": {"r3": REF_A, "fw1": REF_C}})
    result = refs(ledger, incoming={"backups": {"fw1": {"path": "x"}}})
    assert result["changed"] is False
    assert result["refs"]["backups"] == {"r3": REF_A, "fw1": {"path": "x"}}


def test_check_mode_records_nothing(ledger):
    before = kinds(ledger)
    result = refs(ledger, check_mode=True, stage="precheck", record={"backups": {"r3": REF_A}})
    assert result["changed"] is False and result["recorded"]["backups"] == {}
    assert kinds(ledger) == before


def test_start_hosts_records_the_references_and_the_stage_start_in_one_event(ledger):
    result = refs(ledger, stage="deploy", start_hosts=["r3"], record={"backups": {"r3": REF_A}, "pre_snapshots": {"r3": REF_B}})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["event"]["kind"] == "stage.started"
    assert result["recorded"]["backups"] == {"r3": REF_A} and "stage.started" in kinds(ledger)


def test_a_device_without_a_pre_change_snapshot_is_never_started(ledger):
    before = kinds(ledger)
    result = refs(ledger, stage="deploy", start_hosts=["r3"], record={"backups": {"r3": REF_A}})
    assert result["failed"] is True and "r3" in result["msg"] and "Fix:" in result["msg"]
    assert kinds(ledger) == before


def test_recording_without_a_stage_is_refused_naming_the_field(ledger):
    result = refs(ledger, record={"deployed": ["r3"]})
    assert result["failed"] is True and result["error"]["where"] == "stage" and "stage is required" in result["msg"]


def test_no_ledger_reads_as_empty_but_recording_into_it_is_refused(tmp_path):
    missing = str(tmp_path / "none.sqlite")
    empty = refs(missing)
    assert not empty.get("failed") and empty["refs"]["backups"] == {} and empty["changed"] is False
    refused = refs(missing, stage="precheck", record={"backups": {"r3": REF_A}})
    assert refused["failed"] is True and "the ledger file does not exist" in refused["msg"] and refused["error"]["where"].startswith("ledger")
    assert not (tmp_path / "none.sqlite").exists()
