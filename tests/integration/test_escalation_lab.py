# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 12, findings 6, 7 and 9 on the lab: escalations follow the cause, a rollback with nothing collected is not a
failed rollback, and every check's result is in the ledger.

Own lab instance (k9-, ports 269xx, lab/run-k9). Approvals are real (ed25519, `governed-change approve`).

* r3 made unreachable mid-deploy (its SSH ports on 127.0.0.1 refused by an nft table of this test, added the moment the
  deploy stage records stage.started, removed afterwards): the escalation is ``retries_exhausted`` naming r3 and the SSH
  error, never ``rollback_failed``; r3's state is "unreachable", the change's locks stay held, as the packet says.
* The bad BGP change verified on every device of the play (snapshot_scope network, fw1 included, no probes taken): the
  rollback is verified, fw1's same_probes is skipped ("nothing collected"), the escalation is change_failed, and the
  packet, the summary and the bundle agree; the ledger's check task events hold each check's name, host, phase and verdict.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time

import pytest
import yaml

from conftest_pipeline import ASSESS, CHANGES, PIPELINE, approve, extra_vars, run_playbook
from conftest_pipeline import signing, webhook  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "k9-", "GC_LAB_PORT_BASE": "26900", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k9")}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
R3_PORTS = (PORT_BASE + 3, PORT_BASE + 13)  # r3's vtysh and host shell ports on 127.0.0.1
BLOCK_TABLE = "gc_k9_block"  # this test's own nft table in the root namespace (loopback only)
R3_LINE = "ip address 192.0.2.93/32"


@pytest.fixture(scope="module")
def k9_env():
    session = lab_session(env=dict(os.environ, **LAB_ENV))
    next(session, None)
    try:
        yield run_env(LAB_ENV)
    finally:
        session.close()  # lab down


def r3_shell(command):
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], PORT_BASE + 13) + [command], capture_output=True, text=True, timeout=60,
                          check=True)
    return proc.stdout


def r3_config():
    return r3_shell('vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def block_r3():
    ports = ", ".join(str(port) for port in R3_PORTS)
    rules = ("table inet %s {\n chain output {\n  type filter hook output priority 0; policy accept;\n"
             "  oifname \"lo\" ip daddr 127.0.0.1 tcp dport { %s } reject with tcp reset\n }\n}\n" % (BLOCK_TABLE, ports))
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, timeout=30)


def unblock_r3():
    subprocess.run(["nft", "delete", "table", "inet", BLOCK_TABLE], check=False, timeout=30, capture_output=True)


def events_of(ledger_path, change_id, kind=None):
    """The change's events read-only (a second reader beside the run)."""
    conn = sqlite3.connect("file:%s?mode=ro" % ledger_path, uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT kind, data FROM events WHERE change_id = ? ORDER BY seq", (change_id,)).fetchall()
    finally:
        conn.close()
    return [{"kind": k, "data": json.loads(d)} for k, d in rows if kind is None or k == kind]


def block_when_deploy_starts(ledger_path, change_id, done, seen):
    """Refuse r3's SSH ports the moment the deploy stage records stage.started (before any device is touched)."""
    deadline = time.monotonic() + 300
    while not done.is_set() and time.monotonic() < deadline:
        try:
            started = [e for e in events_of(ledger_path, change_id, "stage.started") if e["data"].get("stage") == "deploy"]
        except sqlite3.Error:
            started = []
        if started:
            block_r3()
            seen.append(time.monotonic())
            return
        time.sleep(0.1)


def r3_change(tmp_path):
    doc = {"id": "CHG-2091", "title": "Service address on r3's loopback", "author": "carol", "type": "normal", "category": "other",
           "description": "A service address on r3's loopback (lab test: r3 stops answering mid-deploy).", "targets": ["r3"],
           "config": {"r3": {"lines": ["interface lo", " " + R3_LINE]}},
           "expected": [{"name": "service_address_up", "query": "contains(sections.interfaces.lo.addresses, '192.0.2.93/32')",
                         "op": "equals", "value": True, "snapshot": "post"}],
           "rollback": {"strategy": "backup"}}
    path = tmp_path / "r3_service.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def run_stage(env, playbook, variables, tmp_path, name):
    rc, artifacts, output, seconds = run_playbook(env, playbook, variables, tmp_path, name)
    return rc, artifacts, output, seconds


def test_r3_unreachable_mid_deploy_escalates_unreachable_not_rollback_failed(k9_env, signing, webhook, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    variables = extra_vars(r3_change(tmp_path), out, signing, governed_webhook_url=webhook.url)
    rc, _art, output, _s = run_stage(k9_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    approve(out, "CHG-2091", signing)
    ledger_path = str(out / "ledger.sqlite")
    done, seen = threading.Event(), []
    watcher = threading.Thread(target=block_when_deploy_starts, args=(ledger_path, "CHG-2091", done, seen), daemon=True)
    watcher.start()
    try:
        rc, art, output, seconds = run_stage(k9_env, PIPELINE, variables, tmp_path, "unreachable")
    finally:
        done.set()
        watcher.join(10)
        unblock_r3()
    try:
        assert seen, "the deploy never started:\n" + output[-4000:]
        assert rc != 0 and art["governed_outcome"] == "unsuccessful" and art["governed_stage_failed"] == "deploy", output[-4000:]
        with open(art["governed_escalation"], encoding="utf-8") as handle:
            packet = json.load(handle)
        # the cause decides the reason: r3 unreachable, named with the SSH error; never "rollback_failed" or "checks failed"
        assert packet["reason"] == "retries_exhausted" and packet["severity"] == "high", packet
        assert packet["devices"]["r3"]["state"] == "unreachable", packet["devices"]
        assert "Connection refused" in packet["devices"]["r3"]["detail"] and "unreachable over SSH" in packet["devices"]["r3"]["detail"]
        assert any(item.startswith("r3 unreachable: ") and "Connection refused" in item for item in packet["detected"]), packet["detected"]
        assert "checks failed" not in json.dumps(packet["devices"]["r3"]) and "rollback_failed" not in json.dumps(packet)
        assert packet["recommended_next_step"].startswith("r3 stayed unreachable")
        # the packet says the locks are held, and they are
        assert any("locks are held" in item and "r3" in item for item in packet["actions_taken"]), packet["actions_taken"]
        with SqliteLedger(ledger_path) as ledger:
            record, events, locks = ledger.get_change("CHG-2091"), ledger.events(change_id="CHG-2091"), ledger.locks()
            assert ledger.verify()["ok"]
        assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
        assert [lock["device"] for lock in locks if lock["change_id"] == "CHG-2091"] == ["r3"]
        assert "lock.released" not in [e["kind"] for e in events]
        sent = [e["data"] for e in events if e["kind"] == "escalation.sent"]
        assert [s["reason"] for s in sent] == ["retries_exhausted"] and len(webhook.received) >= 1
        # the bundle, the summary and the packet agree
        bundle = evidence.load_bundle(art["governed_evidence"])
        assert bundle["sections"]["outcome"]["escalation_reason"] == "retries_exhausted"
        assert bundle["sections"]["devices"]["r3"]["state"]["state"] == "unreachable"
        assert "escalated (retries_exhausted)" in output
        print("unreachable run: %.1f s" % seconds)
    finally:
        config = r3_config()  # the refused connection never reached r3: nothing to undo, but never leave the lab changed
        if R3_LINE in config:
            r3_shell('vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" -c "interface lo" -c "no %s"' % R3_LINE)
    assert R3_LINE not in r3_config()


def test_verified_rollback_with_no_probes_is_not_rollback_failed_and_checks_reach_the_ledger(k9_env, signing, webhook, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    with open(signing / "policy.yml", encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    policy["requirements"]["medium"]["snapshot_scope"] = "network"  # every device of the play, fw1 included
    (signing / "policy-network.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    variables = extra_vars(os.path.join(CHANGES, "bad_r1_bgp.yml"), out, signing, governed_webhook_url=webhook.url,
                           governed_policy=str(signing / "policy-network.yml"))
    rc, _art, output, _s = run_stage(k9_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    approve(out, "CHG-2002", signing)
    rc, art, output, seconds = run_stage(k9_env, PIPELINE, variables, tmp_path, "bad")
    assert rc != 0 and art["governed_outcome"] == "unsuccessful", output[-4000:]
    assert "fw1" in art["governed_pre_snapshots"] and art["governed_rolled_back"] == ["r1"], art
    with open(art["governed_escalation"], encoding="utf-8") as handle:
        packet = json.load(handle)
    # finding 6: fw1's same_probes had nothing to compare - skipped, so the rollback is verified and nobody is told otherwise
    assert packet["reason"] == "change_failed", packet["reason"]
    assert packet["devices"]["r1"]["state"] == "rolled_back" and packet["devices"]["fw1"]["state"] == "untouched", packet["devices"]
    assert any("rollback verified" in item for item in packet["actions_taken"])
    assert any("locks were released" in item for item in packet["actions_taken"])
    bundle = evidence.load_bundle(art["governed_evidence"])
    assert bundle["sections"]["rollback"]["verified"] is True and art["governed_rollback_verified"] is True
    assert bundle["sections"]["outcome"]["escalation_reason"] == "change_failed"
    assert "rollback verified" in output and "escalated (change_failed)" in output and "rollback_failed" not in output
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        events, locks = ledger.events(change_id="CHG-2002"), ledger.locks()
        assert ledger.verify()["ok"]
    assert [lock for lock in locks if lock["change_id"] == "CHG-2002"] == []
    # finding 9: every check's result is in the ledger, one row per check with name, host, phase, verdict
    rows = [row for e in events if e["kind"] == "task" for row in e["data"].get("checks") or []]
    by_key = dict(((row["host"], row["phase"], row["name"]), row) for row in rows)
    assert by_key[("fw1", "rollback_verify", "same_probes")]["verdict"] == "skipped", sorted(by_key)
    assert "nothing collected" in by_key[("fw1", "rollback_verify", "same_probes")]["reason"]
    assert by_key[("r1", "deploy", "no_bgp_session_lost")]["verdict"] == "failed"
    assert "10.0.12.2" in by_key[("r1", "deploy", "no_bgp_session_lost")]["expected"]
    assert by_key[("r1", "rollback_verify", "same_config")]["verdict"] == "passed"
    assert by_key[("r1", "deploy", "r2_session_established")]["actual"] != "Established"
    check_tasks = [e["data"] for e in events if e["kind"] == "task" and e["data"]["action"] == "governed.change.check"]
    assert check_tasks and not [t for t in check_tasks if '"item"' in json.dumps(t["result"])]
    print("bad change, network scope: %.1f s, %d check rows" % (seconds, len(rows)))
