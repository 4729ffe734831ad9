# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/post_reviews.yml (the AWX job template "governed-change post-hoc reviews") through ansible-playbook: an
overdue post-hoc review is escalated once (a second run escalates nothing), check mode records nothing, and a webhook
that does not accept the packet fails the job naming the change (functional tier)."""

from __future__ import annotations

import datetime
import os
import subprocess

import pytest

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.clock import ENV, iso_z
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

PLAYBOOK = os.path.join(ROOT, "playbooks", "post_reviews.yml")
POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")
NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def workspace(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path, clock=lambda: NOW - datetime.timedelta(hours=30)) as led:
        led.create_change("CHG-LATE", "emergency", "carol", actor="governed.change.assess", tier="medium")
        led.append_event("CHG-LATE", "review.post_hoc_due", "governed.change",
                         {"reason": "emergency bypass", "post_review_due": iso_z(NOW - datetime.timedelta(hours=1), precision="seconds")})
    return {"ledger": path, "out": str(tmp_path / "out")}


def play(workspace, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), **{ENV: iso_z(NOW)})
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), PLAYBOOK, "-e", "governed_ledger=%s" % workspace["ledger"],
            "-e", "governed_policy=%s" % POLICY, "-e", "governed_output_dir=%s" % workspace["out"]] + list(extra)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)


def sent(workspace):
    with SqliteLedger(workspace["ledger"], readonly=True) as led:
        return [e["kind"] for e in led.events() if e["kind"].startswith("escalation.")]


def test_check_mode_then_escalate_once(workspace):
    proc = play(workspace, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 overdue" in proc.stdout and sent(workspace) == []
    proc = play(workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "msg: '1 overdue, 0 due, 0 done; escalated: [''CHG-LATE'']'" in proc.stdout, proc.stdout  # YAML quoting
    assert sent(workspace) == ["escalation.sent"] and os.listdir(os.path.join(workspace["out"], "escalations"))
    proc = play(workspace)
    assert proc.returncode == 0 and "escalated: []" in proc.stdout and sent(workspace) == ["escalation.sent"]


def test_a_refused_webhook_fails_the_job(workspace):
    proc = play(workspace, "-e", "governed_webhook_url=http://127.0.0.1:9/hook")
    assert proc.returncode != 0
    assert "The webhook did not accept the escalation of CHG-LATE" in proc.stdout
    assert sent(workspace) == ["escalation.failed_to_send"]
