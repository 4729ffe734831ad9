# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device stages through the real stage playbooks (the AWX path), on the lab: a commit that is never confirmed reverts
by itself, and the stages after it decide the run as the pipeline would.

This replaces tests/integration/test_device_stages.py, which drove the device actions through a demo playbook outside
governance (playbooks/device_stages_demo.yml, removed). What it proved is proved on the real path:

- a good change deploys, its checks pass network-wide and its commit is confirmed: test_pipeline_lab (good change);
- a bad change caught on a device the change did not touch, restored exactly, the state equal to pre everywhere:
  test_impact_lab (remote route loss);
- a firewall change blocking a service rolled back, the service reachable again: test_traffic_lab;
- a device unreachable mid-deploy: test_escalation_lab;
- secrets redacted in output, artifacts and state: test_secrets_lab;
- a failing batch halts the later batches: test_path_parity_lab (partial batch failure) and the unit tests of
  module_utils/batches.py and run_decisions.py;
- the commit-confirmed timer reverting a commit nobody confirmed: here.

Own lab instance (m5-, ports 278xx, /tmp/m5-lab), torn down on every exit path. Approvals are real ed25519 signatures.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml

from conftest_pipeline import ASSESS, approve, extra_vars, run_playbook
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env, signing_keys

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.platforms.frr import strip_header
from ansible_collections.governed.change.plugins.module_utils.snapshot import normalize_config

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "m5-", "GC_LAB_PORT_BASE": "27800", "GC_LAB_RUN": "/tmp/m5-lab"}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
R3_SHELL = PORT_BASE + 13
TIMER_S = 8
LINE = "ip prefix-list GC-UNCONFIRMED seq 5 permit 10.99.0.0/16"


@pytest.fixture(scope="module")
def stages_env():
    session = lab_session(env=dict(os.environ, **LAB_ENV))
    next(session, None)
    try:
        yield run_env(LAB_ENV)
    finally:
        session.close()  # lab down


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    return signing_keys(tmp_path_factory.mktemp("signing"))


def r3_shell(command):
    return subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], R3_SHELL) + [command], capture_output=True, text=True, timeout=60,
                          check=True).stdout


def r3_config():
    return r3_shell('vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def unconfirmed_change(tmp_path):
    """A low-risk routing-policy object on r3 whose expected check cannot be decided (its query finds nothing: fail closed):
    the deploy stage fails and confirms nothing."""
    doc = {"id": "CHG-5091", "title": "Prefix list on r3 (never confirmed)", "author": "carol", "type": "normal", "category": "other",
           "description": "A prefix list on r3 whose expected check fails, so its commit is never confirmed (lab test).",
           "targets": ["r3"], "config": {"r3": {"lines": [LINE]}},
           "expected": [{"name": "impossible_route", "query": 'sections.routes."10.99.0.0/16".nexthop', "op": "equals",
                         "value": "10.0.23.2", "snapshot": "post"}],
           "rollback": {"strategy": "backup"}}
    path = tmp_path / "unconfirmed_r3.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_an_unconfirmed_commit_reverts_by_itself_and_the_close_decides_as_the_pipeline(stages_env, signers, tmp_path):
    out = tmp_path / "out"
    variables = extra_vars(unconfirmed_change(tmp_path), out, signers, governed_hosts="routers", deploy_confirm_timeout=TIMER_S,
                           deploy_settle_timeout=3)
    before = normalize_config(strip_header(r3_config()))
    artifacts = {}

    def node(stage, expect_ok=True):
        rc, art, output, _seconds = run_playbook(stages_env, os.path.join(ROOT, "playbooks", "%s.yml" % stage),
                                                 dict(variables, **artifacts), tmp_path, stage)
        assert (rc == 0) == expect_ok, "%s: rc %s\n%s" % (stage, rc, output[-4000:])
        artifacts.update(art)  # AWX: a node's artifacts become the extra vars of the nodes after it
        return art, output

    rc, assessed, output, _s = run_playbook(stages_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0 and assessed["governed_tier"] == "low", output[-3000:]
    artifacts.update(assessed)
    approve(out, "CHG-5091", signers)
    node("review")
    node("window")
    node("precheck")
    deployed, output = node("deploy", expect_ok=False)
    finished = time.time()
    record = deployed["governed_deploy"]["hosts"]["r3"]
    assert deployed["governed_deployed"] == ["r3"] and deployed["governed_stage_failed"] == "deploy", output[-3000:]
    assert record["deploy"]["changed"] and record["deploy"]["confirm"]["armed"] and record["confirmed"] is False, record
    assert "deploy failed on r3" in deployed["governed_error"]
    # nobody confirms: the device's own timer restores the backup, no controller involved
    deadline = finished + TIMER_S + 20
    while time.time() < deadline and LINE in r3_config():
        time.sleep(0.5)
    assert LINE not in r3_config()
    assert normalize_config(strip_header(r3_config())) == before
    backup = statestore.get(record["deploy"]["backup"])["text"]
    assert normalize_config(strip_header(r3_config())) == normalize_config(backup)
    # the timer's own record on the device (the frr driver's default state folder, $FRR_VTY_DIR/governed): "<rc> <epoch>"
    status = r3_shell('cat "$FRR_VTY_DIR/governed/confirm.reverted"').split()
    assert status[0] == "0", status
    # the rollback stage finds the state equal to the pre-change snapshot; close and escalate decide as the pipeline does:
    # the AWX path knows the check was undecidable (governed_deploy.undecidable), so the reason is check_undecidable
    rolled, _output = node("rollback")
    assert rolled["governed_rollback_verified"] is True and rolled["governed_rolled_back"] == ["r3"]
    assert rolled["governed_rollback"]["verified_at"]
    closed, output = node("close")
    assert closed["governed_outcome"] == "unsuccessful", output[-3000:]
    escalated, _output = node("escalate")
    with open(escalated["governed_escalation"], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert packet["reason"] == "check_undecidable" and packet["devices"]["r3"]["state"] == "rolled_back", packet
    assert "restored r3 from the backup; rollback verified: the state equals the pre-change snapshot" in packet["actions_taken"]
    assert packet["actions_taken"][0] == "assessed: tier low (score %s)" % assessed["governed_assessment"]["score"]
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        change, events, locks = ledger.get_change("CHG-5091"), ledger.events(change_id="CHG-5091"), ledger.locks()
        assert ledger.verify()["ok"]
    assert (change["state"], change["close_code"]) == ("closed", "unsuccessful")
    closes = [e["data"] for e in events if e["kind"] == "change.outcome"]
    assert closes and closes[-1].get("reason", "").startswith("stage deploy failed: deploy failed on r3"), closes
    assert [lock for lock in locks if lock["change_id"] == "CHG-5091"] == []


DRIFT_LINE = "ip prefix-list GC-DRIFT seq 5 permit 10.98.0.0/16"


def test_a_target_changed_between_the_approval_and_the_deploy_is_refused_untouched(stages_env, signers, tmp_path):
    """An engineer applies the change's line by hand after the precheck: the deploy's re-assessment finds a different
    diff, so the content is not what was approved - the deploy stage refuses before it touches r3 (no commit, no
    confirm timer), and says to re-assess and approve again."""
    doc = {"id": "CHG-5092", "title": "Prefix list on r3 (drifted before the deploy)", "author": "carol", "type": "normal",
           "category": "other", "description": "A prefix list on r3 that someone applies by hand before the deploy (lab test).",
           "targets": ["r3"], "config": {"r3": {"lines": [DRIFT_LINE]}}, "rollback": {"strategy": "backup"}}
    change = tmp_path / "drift_r3.yml"
    change.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "out"
    variables = extra_vars(str(change), out, signers, governed_hosts="routers")
    artifacts = {}

    def node(stage, expect_ok=True):
        rc, art, output, _seconds = run_playbook(stages_env, os.path.join(ROOT, "playbooks", "%s.yml" % stage),
                                                 dict(variables, **artifacts), tmp_path, stage)
        assert (rc == 0) == expect_ok, "%s: rc %s\n%s" % (stage, rc, output[-4000:])
        artifacts.update(art)
        return art, output

    rc, assessed, output, _s = run_playbook(stages_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    artifacts.update(assessed)
    approve(out, "CHG-5092", signers)
    node("review")
    node("window")
    node("precheck")
    r3_shell('vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" -c "%s"' % DRIFT_LINE)
    try:
        by_hand = r3_config()
        assert DRIFT_LINE in by_hand
        deployed, output = node("deploy", expect_ok=False)
        assert "deploy: the content hash is now" in output and "have it approved again" in output, output[-3000:]
        assert deployed.get("governed_deployed") in (None, []) and deployed.get("governed_stage_failed") == "deploy", deployed
        assert r3_config() == by_hand  # nothing deployed
        with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
            refs = [e["data"]["stage"] for e in ledger.events(change_id="CHG-5092") if e["kind"] == "stage.refs"]
            assert ledger.verify()["ok"]
        # the precheck recorded its references; the deploy stopped before it records how to restore (its first ledger step)
        assert refs == ["precheck"], refs
    finally:
        r3_shell('vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" -c "no %s"' % DRIFT_LINE)
    assert DRIFT_LINE not in r3_config()
