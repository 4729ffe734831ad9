# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's modules called through pytest-ansible's fixtures on localhost (real action plugins, a real SQLite
ledger, no device): device leases, the per-host stage references and the window gate."""

from __future__ import annotations

import os

from evidence_support import CHANGE, scheduled_change
from ledger_states import ledger_with_changes
from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")


def _only(result):
    """The localhost result of an ad-hoc run (pytest-ansible's AdHocResult)."""
    return result["localhost"]


def test_lock_acquire_conflict_release(localhost, tmp_path):
    ledger = ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-1", "carol", "scheduled"), ("CHG-2", "dave", "scheduled")))
    lock = getattr(localhost, "governed.change.lock")
    held = _only(lock(ledger=ledger, change_id="CHG-1", devices=["r1", "r2"], owner="alice", ttl=600))
    assert held["changed"] is True and sorted(item["device"] for item in held["locks"]) == ["r1", "r2"]
    refused = _only(lock(ledger=ledger, change_id="CHG-2", devices=["r2"], owner="bob"))
    assert refused.get("failed") is True and "r2" in refused["msg"] and "CHG-1" in refused["msg"]
    released = _only(lock(state="released", ledger=ledger, change_id="CHG-1"))
    assert released["changed"] is True and sorted(released["released"]) == ["r1", "r2"]
    with SqliteLedger(ledger) as led:
        assert [lease for lease in led.locks() if lease["change_id"] == "CHG-1"] == []


def test_stage_refs_record_then_complete_incoming(ansible_module, tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    refs = getattr(ansible_module, "governed.change.stage_refs")
    recorded = _only(refs(ledger=ledger, change_id=CHANGE, stage="precheck",
                          record={"backups": {"r1": {"path": "b1"}, "r2": {"path": "b2"}}}))
    assert recorded["changed"] is True
    merged = _only(refs(ledger=ledger, change_id=CHANGE, incoming={"backups": {"r2": {"path": "newer"}}}))
    assert merged["changed"] is False
    assert merged["refs"]["backups"] == {"r1": {"path": "b1"}, "r2": {"path": "newer"}}  # the incoming artifact wins for its host
    with SqliteLedger(ledger) as led:
        assert [e["kind"] for e in led.events(change_id=CHANGE)].count("stage.refs") == 1


def test_window_gate_passes_and_records_its_verdict(ansible_adhoc, tmp_path):
    ledger, out = scheduled_change(tmp_path, state="authorize")
    # r1 in the inventory: the gate refuses an assessment naming a device the inventory does not hold
    host = ansible_adhoc(inventory="localhost,r1,", connection="local", host_pattern="localhost")["localhost"]
    with SqliteLedger(ledger) as led:
        before = led.head()
    gate = getattr(host, "governed.change.window_gate")
    result = _only(gate(policy=POLICY, ledger=ledger, assessment_file=os.path.join(out, "assessments", "%s.json" % CHANGE)))
    assert result["decision"] == "pass" and result["recorded"] is True, result
    with SqliteLedger(ledger) as led:
        assert led.head() != before and led.verify()["ok"] is True
    missing = _only(gate(policy=POLICY, ledger=ledger, assessment_file=str(tmp_path / "none.json")))
    assert missing.get("failed") is True and "none.json" in missing["msg"]  # fails closed, naming the file
