# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.stage_refs through a real ansible-playbook run: records a stage's references, completes the incoming
artifacts, check mode records nothing (functional tier)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ledger_states import ledger_with_changes
from repo_paths import ROOT, VENV_BIN


@pytest.fixture
def ledger_path(tmp_path):
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-1", "carol", None), ("CHG-2", "dave", None)))


PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    ledger: "{{ playbook_dir }}/ledger.sqlite"
    ref_a: {path: store/a.json, sha256: aaaa}
    ref_c: {path: store/c.json, sha256: cccc}
  tasks:
    - {name: routers, governed.change.stage_refs: {ledger: "{{ ledger }}", change_id: CHG-1, stage: precheck,
       record: {backups: {r3: "{{ ref_a }}"}}}, register: routers}
    - {name: firewalls_check_mode, governed.change.stage_refs: {ledger: "{{ ledger }}", change_id: CHG-1, stage: precheck,
       record: {backups: {fw1: "{{ ref_c }}"}}}, register: firewalls_check_mode, check_mode: true}
    - {name: firewalls, governed.change.stage_refs: {ledger: "{{ ledger }}", change_id: CHG-1, stage: precheck,
       record: {backups: {fw1: "{{ ref_c }}"}}}, register: firewalls}
    - {name: converge, governed.change.stage_refs: {ledger: "{{ ledger }}", change_id: CHG-1, incoming: {backups: {fw1: {path: x}}}},
       register: converge}
    - {name: no_ledger, governed.change.stage_refs: {ledger: "{{ playbook_dir }}/none.sqlite", change_id: CHG-1}, register: no_ledger}
    - {name: no_stage, governed.change.stage_refs: {ledger: "{{ ledger }}", change_id: CHG-1, record: {deployed: [r3]}},
       register: no_stage, ignore_errors: true}
"""


def test_action_records_and_completes_the_incoming_artifacts(ledger_path, tmp_path):
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "play.yml"], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.find("{"):])
    out = {task["task"]["name"]: task["hosts"]["localhost"] for task in doc["plays"][0]["tasks"]}
    assert out["routers"]["changed"] and out["routers"]["event"]["kind"] == "stage.refs"
    assert not out["firewalls_check_mode"]["changed"] and list(out["firewalls_check_mode"]["recorded"]["backups"]) == ["r3"]
    assert sorted(out["firewalls"]["recorded"]["backups"]) == ["fw1", "r3"]
    assert out["converge"]["refs"]["backups"] == {"r3": {"path": "store/a.json", "sha256": "aaaa"}, "fw1": {"path": "x"}}
    assert out["no_ledger"]["refs"]["backups"] == {} and not out["no_ledger"]["changed"]
    assert out["no_stage"]["failed"] and "stage is required" in out["no_stage"]["msg"]
