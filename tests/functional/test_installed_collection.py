# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a user gets it (issue 14): built with `ansible-galaxy collection build`, installed offline into a
clean collections path beside its dependencies (from .collections - Galaxy is unreachable), playbooks run by FQCN from
a working directory outside the repository with an ansible.cfg of the user's. A governed run without the evidence
callback refuses to start; with it, the run writes under ./out of the working directory (the ledger holding the tasks
the callback recorded) and nothing inside the installed collection; an output folder inside the collection is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from installed_collection import build_and_install, clean_env, tree
from repo_paths import ROOT, VENV_BIN

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = pytest.mark.slow  # build + install + three ansible-playbook runs: ~30 s

CHANGE = "CHG-2101"
FIX_LINE = "callbacks_enabled = governed.change.evidence"
INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: %s/python
  children:
    routers:
      hosts:
        r1: {site: lon, role: edge, criticality: medium, governed_platform: frr}
        r2: {site: lon, role: core, criticality: high, governed_platform: frr}
    edge: {hosts: {r1: {}}}
    core: {hosts: {r2: {}}}
    site_lon: {hosts: {r1: {}, r2: {}}}
""" % VENV_BIN
CHANGE_REQUEST = """
id: %s
title: Blackhole a documentation prefix on r1
description: A static discard route for TEST-NET-3 on r1.
author: carol
type: normal
category: other
targets: [r1]
config:
  r1:
    lines: ["ip route 203.0.113.0/24 blackhole"]
expected: []
rollback: {strategy: backup}
""" % CHANGE


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    root = build_and_install(base)
    for dev_only in ("Makefile", "scripts", "lab", "benchmarks", "pytest.ini", "requirements-test.txt", "pyproject.toml"):
        assert not (root / dev_only).exists(), dev_only
    work = base / "work"
    work.mkdir()
    (work / "ansible.cfg").write_text("[defaults]\ncollections_path = %s\nhost_key_checking = True\n"
                                      "retry_files_enabled = False\n" % (base / "collections"))
    (work / "inventory.yml").write_text(INVENTORY)
    (work / "change.yml").write_text(CHANGE_REQUEST)
    shutil.copy(os.path.join(ROOT, "examples", "policy", "policy.yml"), work / "policy.yml")
    return {"root": root, "work": work, "tree": tree(root)}


def _playbook(installed, fqcn, *extra, cwd=None, env=None):
    environ = clean_env(ANSIBLE_CONFIG=str(installed["work"] / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
                        PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    for name in ("GOVERNED_CHANGE_OUTPUT_DIR", "GOVERNED_EVIDENCE_ENABLED", "GOVERNED_LEDGER", "GOVERNED_OUTPUT_DIR"):
        environ.pop(name, None)
    environ.update(env or {})
    work = installed["work"]
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), fqcn, "-i", str(work / "inventory.yml"),
            "-e", "governed_change_request=%s" % (work / "change.yml"), "-e", "governed_policy=%s" % (work / "policy.yml"),
            "-e", "governed_fetch_running=false"] + list(extra)
    return subprocess.run(argv, cwd=str(cwd or work), env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False)


CALLBACK_ON = {"ANSIBLE_CALLBACKS_ENABLED": "governed.change.evidence"}


def test_the_pipeline_by_fqcn_refuses_to_start_without_the_evidence_callback(installed):
    proc = _playbook(installed, "governed.change.governed_change")
    assert proc.returncode != 0
    assert "refusing to start a governed change: the callback governed.change.evidence is not enabled" in proc.stdout, proc.stdout[-3000:]
    assert FIX_LINE in proc.stdout
    assert "Stage assess" not in proc.stdout and "Assess the change" not in proc.stdout
    assert not (installed["work"] / "out").exists()
    assert tree(installed["root"]) == installed["tree"]


def test_a_stage_by_fqcn_writes_under_the_working_directory_with_its_tasks_recorded(installed):
    proc = _playbook(installed, "governed.change.assess", env=CALLBACK_ON)
    assert proc.returncode == 0, proc.stdout[-4000:]
    out = installed["work"] / "out"
    assert (out / "assessments" / ("%s.assessment.json" % CHANGE)).is_file() and (out / "runbooks" / ("%s.md" % CHANGE)).is_file()
    ledger = out / "ledger.sqlite"
    with SqliteLedger(str(ledger)) as led:
        assert led.get_change(CHANGE) is not None
        tasks = [event["data"] for event in led.events(change_id=CHANGE) if event["kind"] == "task"]
        assert led.verify()["ok"]
    recorded = [task["task"] for task in tasks]
    assert "Assess the change" in recorded and "Write the change's runbook" in recorded, json.dumps(tasks)[:2000]
    assert tree(installed["root"]) == installed["tree"]
    assert not (installed["root"] / "out").exists()


def test_an_output_folder_inside_the_installed_collection_is_refused(installed):
    root = installed["root"]
    proc = _playbook(installed, "governed.change.assess", cwd=root, env=CALLBACK_ON)  # default ./out inside the collection
    assert proc.returncode != 0 and "inside the installed collection" in proc.stdout, proc.stdout[-3000:]
    proc = _playbook(installed, "governed.change.assess", "-e", "governed_output_dir=%s" % (root / "playbooks" / ".." / "state"),
                     env=CALLBACK_ON)
    assert proc.returncode != 0 and "inside the installed collection" in proc.stdout, proc.stdout[-3000:]
    assert "GOVERNED_CHANGE_OUTPUT_DIR" in proc.stdout
    assert tree(root) == installed["tree"]
    assert not (root / "out").exists() and not (root / "state").exists()
