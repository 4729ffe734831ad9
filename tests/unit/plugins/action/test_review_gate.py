# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.review_gate in-process: ActionModule.run() with a real Task, the example policy, real OpenSSH
signatures recorded by the governed-change approve command (in-process) and a real SQLite ledger. No device, no
ansible-playbook (tests/functional/test_gate_actions.py runs the same gate through ansible-playbook)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest

from action_harness import run_action
from evidence_support import assessment as evidence_assessment
from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen")

CHANGE = "CHG-8101"
HASH = "a" * 64


@pytest.fixture
def gate(tmp_path):
    """The example policy with the lab's identities' real keys, a medium-tier assessment by carol, its ledger record."""
    (tmp_path / "policy").mkdir()
    shutil.copy("%s/examples/policy/policy.yml" % ROOT, str(tmp_path / "policy" / "policy.yml"))
    lines = []
    for name in ("alice", "bob", "carol"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)], check=True)
        lines.append('%s@lab namespaces="governed.change" %s' % (name, (tmp_path / (name + ".pub")).read_text().strip()))
    (tmp_path / "policy" / "allowed_signers").write_text("\n".join(lines) + "\n")
    assessment = dict(evidence_assessment(CHANGE, "Raise r1's BGP hold time"), tier="medium", score=25, content_hash=HASH)
    (tmp_path / "assessment.json").write_text(json.dumps(assessment))
    ledger = str(tmp_path / "ledger.sqlite")
    record_assessment(ledger, assessment)  # as governed.change.assess records it: the change waits for authorization
    return tmp_path, ledger


def approve(base, ledger, who, decision="approve"):
    err = io.StringIO()
    code = main([decision, "--ledger", ledger, "--change", CHANGE, "--assessment", str(base / "assessment.json"), "--key",
                 str(base / who), "--identity", who, "--policy", str(base / "policy" / "policy.yml"), "--yes"],
                out=io.StringIO(), err=err, stdin=io.StringIO(""))
    assert code == 0, err.getvalue()


def review(base, ledger, check_mode=False, **args):
    options = {"policy": "policy/policy.yml", "assessment_file": "assessment.json", "ledger": ledger, "launcher": "svc-awx"}
    options.update(args)
    return run_action("review_gate", options, check_mode=check_mode, basedir=base)


def events(ledger):
    with SqliteLedger(ledger) as led:
        return ([(e["kind"], (e["data"].get("verdict") or e["data"]).get("decision")) for e in led.events(change_id=CHANGE)],
                led.get_change(CHANGE)["state"])


def test_an_approved_change_passes_is_recorded_and_scheduled(gate):
    base, ledger = gate
    approve(base, ledger, "alice")
    result = review(base, ledger)
    assert not result.get("failed"), result.get("msg")
    assert result["decision"] == "pass" and result["recorded"] is True and result["changed"] is True
    assert result["summary"]["approvers"] == ["alice"] and result["summary"]["tier"] == "medium"
    assert result["ansible_facts"]["governed_review"]["decision"] == "pass"
    assert result["ansible_stats"]["data"]["governed_review"]["change_id"] == CHANGE
    kinds, state = events(ledger)
    assert ("verdict.review", "pass") in kinds and state == "scheduled"


def test_without_approvals_it_is_refused_naming_the_shortfall_and_the_refusal_is_recorded(gate):
    base, ledger = gate
    result = review(base, ledger)
    assert result["failed"] is True and result["decision"] == "fail"
    assert result["msg"].startswith("governed.change.review_gate: change %s (tier medium) is not authorized:" % CHANGE)
    assert "approval" in result["msg"]
    kinds, state = events(ledger)
    assert ("verdict.review", "fail") in kinds and state != "scheduled"


def test_a_denial_refuses_the_change_even_with_an_approval(gate):
    base, ledger = gate
    approve(base, ledger, "alice")
    approve(base, ledger, "bob", decision="deny")
    result = review(base, ledger)
    assert result["failed"] is True and result["decision"] == "fail" and "bob" in result["msg"]
    assert events(ledger)[1] != "scheduled"


def test_an_approver_who_also_launches_the_run_is_not_counted(gate):
    base, ledger = gate
    approve(base, ledger, "alice")
    result = review(base, ledger, launcher="alice")
    assert result["failed"] is True and "Approvals not counted: alice" in result["msg"]


def test_check_mode_evaluates_and_writes_nothing(gate):
    base, ledger = gate
    approve(base, ledger, "alice")
    before = events(ledger)
    result = review(base, ledger, check_mode=True)
    assert result["decision"] == "pass" and result["recorded"] is False and result["changed"] is False
    assert events(ledger) == before


def test_a_missing_allowed_signers_file_fails_closed(gate):
    base, ledger = gate
    approve(base, ledger, "alice")
    (base / "policy" / "allowed_signers").unlink()
    result = review(base, ledger)
    assert result["failed"] is True and result.get("decision") != "pass"
    assert "allowed_signers" in result["msg"]


def test_no_assessment_is_refused_naming_the_field(gate):
    base, ledger = gate
    before = events(ledger)
    result = review(base, ledger, assessment_file=None)
    assert result["failed"] is True and "assessment" in result["msg"] and "Fix:" in result["msg"]
    assert events(ledger) == before


def test_a_missing_required_argument_is_refused_before_anything_runs(gate):
    base, ledger = gate
    result = run_action("review_gate", {"policy": "policy/policy.yml", "assessment_file": "assessment.json"}, basedir=base)
    assert result["failed"] is True
    assert result["msg"].startswith("governed.change.review_gate: invalid arguments:") and "ledger" in result["msg"]
