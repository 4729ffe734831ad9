# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.lock through a real ansible-playbook run against a real SQLite ledger (no device needed)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ledger_states import ledger_with_changes
from repo_paths import ROOT, VENV_BIN

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    ledger: "{{ playbook_dir }}/ledger.sqlite"
  tasks:
    - {name: acquire, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-1, devices: [r1, r2], owner: alice, ttl: 600},
       register: acquire}
    - {name: renew, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-1, devices: [r1, r2], owner: alice},
       register: renew}
    - {name: conflict, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-2, devices: [r2, r3], owner: bob},
       register: conflict, ignore_errors: true}
    - {name: conflict_check_mode, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-2, devices: [r2], owner: bob},
       register: conflict_check_mode, ignore_errors: true, check_mode: true}
    - {name: implement_unreviewed, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-2, devices: [r3], owner: bob,
       transition: implement}, register: implement_unreviewed, ignore_errors: true}
    - {name: implement, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-1, devices: [r1, r2], owner: alice,
       transition: implement}, register: implement}
    - {name: release_check_mode, governed.change.lock: {state: released, ledger: "{{ ledger }}", change_id: CHG-1},
       register: release_check_mode, check_mode: true}
    - {name: release, governed.change.lock: {state: released, ledger: "{{ ledger }}", change_id: CHG-1}, register: release}
    - {name: release_again, governed.change.lock: {state: released, ledger: "{{ ledger }}", change_id: CHG-1}, register: release_again}
    - {name: release_no_ledger, governed.change.lock: {state: released, ledger: "{{ playbook_dir }}/none.sqlite", change_id: CHG-1},
       register: release_no_ledger}
    - {name: acquire_no_devices, governed.change.lock: {ledger: "{{ ledger }}", change_id: CHG-1, devices: []},
       register: acquire_no_devices, ignore_errors: true}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every task's result of one run over a ledger with CHG-1 (scheduled) and CHG-2 (authorize)."""
    base = tmp_path_factory.mktemp("lock")
    ledger_with_changes(str(base / "ledger.sqlite"), (("CHG-1", "carol", "scheduled"), ("CHG-2", "dave", "authorize")))
    (base / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "play.yml"], cwd=str(base), env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.find("{"):])
    out = {task["task"]["name"]: task["hosts"]["localhost"] for task in doc["plays"][0]["tasks"]}
    with SqliteLedger(str(base / "ledger.sqlite")) as ledger:
        out["_events"] = [e["kind"] for e in ledger.events()]
        out["_locks"] = ledger.locks()
        out["_states"] = {cid: ledger.get_change(cid)["state"] for cid in ("CHG-1", "CHG-2")}
        out["_verify"] = ledger.verify()
    return out


def test_acquire_leases_every_device_and_renews_for_the_same_owner(results):
    acquire = results["acquire"]
    assert acquire["changed"] and sorted(lock["device"] for lock in acquire["locks"]) == ["r1", "r2"]
    assert {lock["owner"] for lock in acquire["locks"]} == {"alice"} and acquire["ledger_state"] == "scheduled"
    assert not results["renew"].get("failed") and results["renew"]["locks"][0]["expires"] >= acquire["locks"][0]["expires"]


def test_a_device_held_by_another_change_is_refused_naming_the_holder_and_the_way_out(results):
    for name in ("conflict", "conflict_check_mode"):
        msg = results[name]["msg"]
        assert results[name]["failed"], name
        assert msg.startswith("governed.change.lock:") and "r2 is locked by change CHG-1 (owner alice)" in msg, msg
        assert "governed-change ledger break-lock" in msg, msg
    # all or none: r3 was free but is not leased by the refused request
    assert "r3" not in [lock["device"] for lock in results["_locks"]]


def test_implement_needs_a_passed_review_and_follows_the_leases(results):
    refused = results["implement_unreviewed"]
    assert refused["failed"] and "CHG-2 is authorize" in refused["msg"] and "review gate" in refused["msg"]
    assert results["implement"]["ledger_state"] == "implement"
    assert results["_states"] == {"CHG-1": "implement", "CHG-2": "authorize"}


def test_release_frees_the_leases_once_and_check_mode_writes_nothing(results):
    # check mode predicts the release (changed) but writes nothing: the real release still finds both leases
    assert results["release_check_mode"]["released"] == ["r1", "r2"] and results["release_check_mode"]["changed"]
    assert results["release"]["released"] == ["r1", "r2"] and results["release"]["changed"]
    assert results["release_again"]["released"] == [] and not results["release_again"]["changed"]
    assert results["release_no_ledger"]["released"] == [] and not results["release_no_ledger"].get("failed")
    assert results["_locks"] == []
    assert results["_events"].count("lock.released") == 1 and results["_events"].count("lock.acquired") == 3


def test_acquire_without_devices_is_refused(results):
    assert results["acquire_no_devices"]["failed"] and "no devices to lock" in results["acquire_no_devices"]["msg"]


def test_the_ledger_chain_still_verifies(results):
    assert results["_verify"]["ok"], results["_verify"]["problems"]
