# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets never leave the device: planted secrets of every kind the lab's platforms take, three governed pipeline runs,
then every output file, the playbook output, the webhook bodies and the SQLite ledger's dump are searched for them.

Own lab instance (k2-, ports 262xx, lab/run-k2). Planted before anything runs: r1's vty and enable passwords, a BGP
neighbor password on r1, a token in a comment of one of fw1's nft rules and a secret in a comment of an nft set element.
The changes carry secrets too: a BGP neighbor password (r1) and a token in a new nft rule's comment (fw1). Five runs:
a void approval (only the secret changed), a deploy, a standard fw1 change, an escalation, a verified rollback.
Only state store backups may hold them (the exact restore needs the real text); they must be owner-only (0600 in 0700).
FRR 8.4 has no `snmp-server community` command and the lab runs no ospfd: those kinds are covered by the unit tests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess

import pytest
import yaml

from conftest_pipeline import ASSESS, PIPELINE, approve, extra_vars, run_playbook
from conftest_pipeline import signing, webhook  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env

from ansible_collections.governed.change.plugins.module_utils import clock, statestore
from ansible_collections.governed.change.plugins.module_utils.approvals import now_z, sign_approval
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LAB_ENV = {"GC_LAB_PREFIX": "k2-", "GC_LAB_PORT_BASE": "26200", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k2")}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13, "fw1": PORT_BASE + 4}

PLANTED = {  # secret -> what it is
    "PlantedVtyPw1": "r1 vty password",
    "PlantedEnablePw1": "r1 enable password",
    "PlantedBgpPw1": "r1 BGP neighbor password",
    "PlantedTok3n1": "fw1 nft rule comment token",
    "PlantedSetPw1": "fw1 nft set element comment secret",
}
CHANGE_SECRET = "S3cr3tPassw0rd"      # the r1 change's BGP neighbor password
VOIDING_SECRET = "Ch4ngedPassw0rd"    # the same change with only the password changed
FW_TOKEN = "ChangeTok3n9"             # the fw1 change's rule comment
ROLLED_BACK_SECRET = CHANGE_SECRET.replace("S3", "R0")  # the change that fails its check and is rolled back
ALL_SECRETS = list(PLANTED) + [CHANGE_SECRET, VOIDING_SECRET, FW_TOKEN, ROLLED_BACK_SECRET]


@pytest.fixture(scope="module")
def secrets_lab():
    """This module's own lab instance, torn down on every exit path."""
    env = dict(os.environ, **LAB_ENV)
    yield from lab_session(env=env)


@pytest.fixture(scope="module")
def lab_env(secrets_lab):  # pylint: disable=unused-argument,redefined-outer-name
    return run_env(LAB_ENV)


def host_shell(device, command):
    """One command in a device's host shell of this lab instance (test set-up and checks only)."""
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [command],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def running_config(device):
    if device == "fw1":
        return host_shell(device, "nft list ruleset")
    return host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def plant():
    host_shell("r1", 'vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" -c "password PlantedVtyPw1" '
                     '-c "enable password PlantedEnablePw1" -c "router bgp 65001" -c "neighbor 10.0.99.9 remote-as 65099" '
                     '-c "neighbor 10.0.99.9 password PlantedBgpPw1"')
    host_shell("fw1", "nft add rule inet filter forward ip saddr 10.9.9.9 accept comment '\"token=PlantedTok3n1\"' && "
                      "nft add set inet filter k2keys '{ type ipv4_addr; }' && "
                      "nft add element inet filter k2keys '{ 10.9.9.8 comment \"secret PlantedSetPw1\" }'")
    configs = running_config("r1") + running_config("fw1")
    for secret in PLANTED:
        assert secret in configs, "%s (%s) was not planted" % (secret, PLANTED[secret])


def write_change(path, change_id, secret, peers_at_least=2):
    doc = {"id": change_id, "title": "New BGP peer on r1 with a session password", "author": "carol", "type": "normal",
           "category": "other", "targets": ["r1"],
           "description": "A lab peer (never up) whose session is protected by a TCP MD5 password.",
           "config": {"r1": {"lines": ["router bgp 65001", " neighbor 10.0.99.7 remote-as 65097",
                                       " neighbor 10.0.99.7 password %s" % secret]}},
           "expected": [{"name": "peer_configured", "query": "length(keys(sections.peers))", "op": "at_least",
                         "value": peers_at_least, "snapshot": "post"}],
           "rollback": {"strategy": "backup"}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def write_fw_change(path, change_id):
    doc = {"id": change_id, "title": "Allow 10.9.9.7 through fw1", "author": "carol", "type": "standard", "category": "acl_update",
           "targets": ["fw1"], "description": "One forward-chain rule whose comment carries a provisioning token.",
           "config": {"fw1": {"lines": ['add rule inet filter forward ip saddr 10.9.9.7 accept comment "token=%s"' % FW_TOKEN]}},
           "expected": [{"name": "rule_added", "query": "length(sections.rules.*|[?contains(expr, '10.9.9.7')])", "op": "at_least",
                         "value": 1, "snapshot": "post"}],
           "rollback": {"strategy": "backup"}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _content_hashes(out, change_id):
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        return [e["data"]["verdict"]["content_hash"] for e in ledger.events(change_id) if e["kind"] == "verdict.assess"]


def _dump(ledger_path):
    conn = sqlite3.connect(ledger_path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def _backup_files(out):
    """The state store files that are backups (kind backup): the only files allowed to hold a secret."""
    found = set()
    for folder, _dirs, files in os.walk(str(out / "store")):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                head = handle.read()
            try:
                data = json.loads(head)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("text"), str) and "redacted_sha256" in data:
                found.add(path)
    return found


def test_secrets_never_leave_the_device(lab_env, signing, webhook, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    plant()
    out = tmp_path / "out"
    outputs = []

    def assess_approve_run(change, change_id, name):
        """Assess (must pass), approve as alice, run the pipeline; (rc, artifacts, output), both outputs kept."""
        variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
        rc, _art, output, _s = run_playbook(lab_env, ASSESS, variables, tmp_path, "assess-" + name)
        assert rc == 0, output[-3000:]
        outputs.append(output)
        approve(out, change_id, signing)
        rc, art, output, _s = run_playbook(lab_env, PIPELINE, variables, tmp_path, name)
        outputs.append(output)
        return rc, art, output

    # 1. approve a change, then change only its secret: the approval is void, nothing is deployed
    change = write_change(tmp_path / "chg-void.yml", "CHG-2901", CHANGE_SECRET)
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    rc, _art, output, _s = run_playbook(lab_env, ASSESS, variables, tmp_path, "assess-void")
    assert rc == 0, output[-3000:]
    outputs.append(output)
    approve(out, "CHG-2901", signing)
    write_change(tmp_path / "chg-void.yml", "CHG-2901", VOIDING_SECRET)
    before = running_config("r1")
    rc, art, output, _s = run_playbook(lab_env, PIPELINE, variables, tmp_path, "void")
    outputs.append(output)
    assert rc != 0 and art.get("governed_review") == "fail" and art.get("governed_deployed") == [], output[-4000:]
    assert "void" in output, output[-4000:]
    hashes = _content_hashes(out, "CHG-2901")
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # only the secret differs, yet the content hash moved
    assert running_config("r1") == before and "10.0.99.7" not in before

    # 2. the same change, approved as it is: deployed with the real secret on the device
    change = write_change(tmp_path / "chg-ok.yml", "CHG-2902", CHANGE_SECRET)
    rc, art, output = assess_approve_run(change, "CHG-2902", "ok")
    assert rc == 0 and art.get("governed_outcome") == "successful", output[-4000:]
    assert " neighbor 10.0.99.7 password %s" % CHANGE_SECRET in running_config("r1")  # the real secret, not a placeholder
    report = art["governed_report"]

    # 3. a standard change on fw1 whose rule comment carries a token
    change = write_fw_change(tmp_path / "chg-fw.yml", "CHG-2903")
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    rc, art, output, _s = run_playbook(lab_env, PIPELINE, variables, tmp_path, "fw")
    outputs.append(output)
    assert rc == 0 and art.get("governed_outcome") == "successful", output[-4000:]
    assert 'comment "token=%s"' % FW_TOKEN in running_config("fw1")

    # 4. the change approved too long ago: canceled and escalated (approval_timeout), packet and webhook with its context
    change = write_change(tmp_path / "chg-stale.yml", "CHG-2904", CHANGE_SECRET)
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    rc, art, output, _s = run_playbook(lab_env, ASSESS, variables, tmp_path, "assess-stale")
    assert rc == 0, output[-3000:]
    outputs.append(output)
    stale = now_z(clock.relative(days=-4))  # older than the medium tier's max_age_hours (48)
    approval = sign_approval("CHG-2904", art["governed_content_hash"], "approve", "alice", str(signing / "alice"),
                             principal="alice@lab", ts=stale)
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        ledger.record_approval(approval)
    rc, art, output, _s = run_playbook(lab_env, PIPELINE, variables, tmp_path, "stale")
    outputs.append(output)
    assert rc != 0 and art.get("governed_escalation"), output[-4000:]

    # 5. a change whose check fails: rolled back exactly, so r1 keeps every planted secret (the backup held the real text)
    before = running_config("r1")
    change = write_change(tmp_path / "chg-rollback.yml", "CHG-2905", ROLLED_BACK_SECRET, peers_at_least=99)
    rc, art, output = assess_approve_run(change, "CHG-2905", "rollback")
    assert rc != 0 and art.get("governed_rolled_back") == ["r1"] and art.get("governed_rollback_verified") is True, output[-4000:]
    assert running_config("r1") == before

    # every output: files under the output directory (but backups), the playbook output, webhook bodies, the ledger dump
    backups = _backup_files(out)
    assert backups, "no backup in the state store"
    searched, leaks = [], []
    for folder, _dirs, files in os.walk(str(out)):
        for name in files:
            path = os.path.join(folder, name)
            if path in backups or name.startswith("ledger.sqlite"):
                continue
            with open(path, "rb") as handle:
                data = handle.read().decode("utf-8", "replace")
            searched.append(os.path.relpath(path, str(out)))
            leaks.extend("%s in %s" % (secret, os.path.relpath(path, str(out))) for secret in ALL_SECRETS if secret in data)
    dump = _dump(str(out / "ledger.sqlite"))
    leaks.extend("%s in the ledger" % secret for secret in ALL_SECRETS if secret in dump)
    leaks.extend("%s in the playbook output" % secret for secret in ALL_SECRETS for text in outputs if secret in text)
    bodies = json.dumps([item["body"] for item in webhook.received])
    leaks.extend("%s in a webhook body" % secret for secret in ALL_SECRETS if secret in bodies)
    assert leaks == [], leaks
    kinds = {path.split(os.sep)[0] for path in searched}
    assert {"assessments", "evidence", "runbooks", "store"} <= kinds, sorted(searched)
    assert any(path.startswith("escalations") for path in searched) and webhook.received, sorted(searched)
    with open(report, encoding="utf-8") as handle:
        assert "password &lt;redacted:" in handle.read()  # the report shows the diff, with the placeholder

    # the files that must hold the secrets (exact restore) do, and are owner-only, as is every store file and folder
    held = "".join(statestore.get({"path": path, "sha256": os.path.basename(path)[:-5]})["text"] for path in backups)
    for secret in PLANTED:  # taken before the deploy: the change's own secret is in no backup
        assert secret in held, "%s is not in any backup (the exact restore needs it)" % secret
    for folder, dirs, files in os.walk(str(out / "store")):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name
