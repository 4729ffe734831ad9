# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo the way a Galaxy user runs it (issue 14): the collection built and installed into a clean collections path,
the good and the bad change run by FQCN (governed.change.assess, governed.change.governed_change) from a working
directory outside the repository with the user's own ansible.cfg (the evidence callback enabled there) on this module's
own lab instance. The evidence is recorded (task timeline, honest problems), ./out of the working directory holds the
ledger and the evidence, and nothing is written inside the installed collection."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from installed_collection import build_and_install, clean_env, tree
from labfixture import lab_session, signing_keys
from repo_paths import ROOT, VENV_BIN

from ansible_collections.governed.change.plugins.module_utils import cli
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LAB_ENV = {"GC_LAB_PREFIX": "m12-", "GC_LAB_PORT_BASE": "29200", "GC_LAB_RUN": "/tmp/m12-lab"}
CHANGES = os.path.join(ROOT, "examples", "changes")
INVENTORY = os.path.join(ROOT, "lab", "inventory", "hosts.yml")
USER_CFG = """[defaults]
collections_path = %s
inventory = %s
callbacks_enabled = governed.change.evidence
host_key_checking = True
interpreter_python = auto_silent
retry_files_enabled = False
forks = 10
timeout = 20

[persistent_connection]
connect_timeout = 30
command_timeout = 30
"""


@pytest.fixture(scope="module")
def own_lab():
    yield from lab_session(env=dict(os.environ, **LAB_ENV))


@pytest.fixture(scope="module")
def user(tmp_path_factory, own_lab):  # pylint: disable=unused-argument,redefined-outer-name
    base = tmp_path_factory.mktemp("galaxy-user")
    root = build_and_install(base)
    work = base / "work"
    work.mkdir()
    (work / "ansible.cfg").write_text(USER_CFG % (base / "collections", INVENTORY))
    signing = base / "signing"
    signing.mkdir()
    signing_keys(signing)
    return {"root": root, "work": work, "signing": signing, "tree": tree(root)}


def _fqcn(user, playbook, change):  # pylint: disable=redefined-outer-name
    env = clean_env(ANSIBLE_CONFIG=str(user["work"] / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), **LAB_ENV)
    for name in ("GOVERNED_CHANGE_OUTPUT_DIR", "GOVERNED_CHANGE_LEDGER", "GOVERNED_EVIDENCE_ENABLED", "GOVERNED_LEDGER"):
        env.pop(name, None)
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), playbook, "-e", "governed_change_request=%s" % os.path.join(CHANGES, change),
            "-e", "governed_policy=%s" % (user["signing"] / "policy.yml"), "-e", "governed_launcher=carol"]
    return subprocess.run(argv, cwd=str(user["work"]), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, check=False)


def _assess_approve_run(user, change, change_id):  # pylint: disable=redefined-outer-name
    proc = _fqcn(user, "governed.change.assess", change)
    assert proc.returncode == 0, proc.stdout[-4000:]
    out = user["work"] / "out"
    assessment = out / "assessments" / ("%s.assessment.json" % change_id)
    assert assessment.is_file()
    rc = cli.main(["approve", "--ledger", str(out / "ledger.sqlite"), "--change", change_id, "--assessment", str(assessment),
                   "--key", str(user["signing"] / "alice"), "--identity", "alice", "--policy", str(user["signing"] / "policy.yml"),
                   "--comment", "installed-collection demo", "--yes"])
    assert rc == 0
    proc = _fqcn(user, "governed.change.governed_change", change)
    with open(out / "evidence" / change_id / "bundle.json", encoding="utf-8") as handle:
        bundle = json.load(handle)
    return proc, bundle


def _recorded_tasks(user, change_id):  # pylint: disable=redefined-outer-name
    with SqliteLedger(str(user["work"] / "out" / "ledger.sqlite")) as led:
        assert led.verify()["ok"]
        return [event["data"]["task"] for event in led.events(change_id=change_id) if event["kind"] == "task"]


def test_the_good_change_by_fqcn_closes_successful_with_its_evidence(user):  # pylint: disable=redefined-outer-name
    proc, bundle = _assess_approve_run(user, "good_r1_static.yml", "CHG-2001")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert bundle["sections"]["outcome"]["outcome"] == "successful", bundle["sections"]["outcome"]
    assert bundle["problems"] == []
    tasks = _recorded_tasks(user, "CHG-2001")
    assert len(tasks) > 20 and any("Deploy" in name or "deploy" in name for name in tasks), tasks[:40]
    assert (user["work"] / "out" / "evidence" / "CHG-2001" / "report.html").is_file()
    assert tree(user["root"]) == user["tree"] and not (user["root"] / "out").exists()


def test_the_bad_change_by_fqcn_rolls_back_and_escalates_with_its_evidence(user):  # pylint: disable=redefined-outer-name
    proc, bundle = _assess_approve_run(user, "bad_r1_bgp.yml", "CHG-2002")
    assert proc.returncode != 0
    outcome = bundle["sections"]["outcome"]
    assert outcome["outcome"] != "successful", outcome
    assert bundle["sections"]["rollback"], bundle["sections"]["rollback"]
    assert bundle["problems"] == []
    assert len(_recorded_tasks(user, "CHG-2002")) > 20
    assert list((user["work"] / "out" / "escalations").glob("CHG-2002*"))
    assert tree(user["root"]) == user["tree"] and not (user["root"] / "out").exists()
