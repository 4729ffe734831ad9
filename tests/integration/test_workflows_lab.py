# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped AWX workflow templates run on the lab through the local runner (`governed-change workflow run`).

Own lab instance (h5-, ports 235xx, lab/run-h5). Approvals are real: ssh-keygen keys, signed with `governed-change
approve` while the workflow's approval node waits on the ledger, verified again by the review gate. Nothing is mocked:
every node is the stage playbook of its job template, run by ansible-runner against the lab devices.
"""

from __future__ import annotations

import copy
import datetime
import glob
import json
import os
import sqlite3
import subprocess
import time
import zoneinfo

import pytest
import yaml

from labfixture import ROOT, lab_policy, lab_session, lab_ssh_argv, run_env
from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils.clock import utc_now as clock_now
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

# this module's lab instance; GC_LAB_PREFIX/GC_LAB_PORT_BASE/GC_LAB_RUN in the environment pick another one
LAB_ENV = {key: os.environ.get(key) or default for key, default in (
    ("GC_LAB_PREFIX", "h5-"), ("GC_LAB_PORT_BASE", "23500"), ("GC_LAB_RUN", os.path.join(ROOT, "lab", "run-h5")))}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13, "fw1": PORT_BASE + 4}
CLI = os.path.join(ROOT, ".venv", "bin", "governed-change")
CHANGES = os.path.join(ROOT, "examples", "changes")
LAUNCHER = "svc-ci"
DEVICE_NODES = {"precheck", "precheck_retry", "deploy", "verify", "rollback"}

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def wf_lab():
    """This module's own lab instance, torn down on every exit path."""
    env = dict(os.environ, **LAB_ENV)
    yield from lab_session(env=env)


@pytest.fixture(scope="module")
def wf_env(wf_lab):  # pylint: disable=unused-argument,redefined-outer-name
    env = run_env(LAB_ENV)
    return env


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    """alice (netops) and bob (netops, cab) with real ed25519 keys; a copy of the lab policy trusting them."""
    base = tmp_path_factory.mktemp("signers")
    lines = []
    for name in ("alice", "bob"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(base / name)], check=True)
        lines.append('%s@lab namespaces="governed.change" %s' % (name, (base / (name + ".pub")).read_text().strip()))
    (base / "allowed_signers").write_text("\n".join(lines) + "\n")
    with open(lab_policy(base / "policy.yml"), encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    policy["allowed_signers"] = str(base / "allowed_signers")
    (base / "policy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return base


def host_shell(device, command):
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [command],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def running_config(device):
    if device == "fw1":
        return host_shell(device, "nft list ruleset")
    return host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def bgp_state(device, peer):
    data = json.loads(host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show bgp ipv4 unicast summary json"'))
    return data.get("ipv4Unicast", data)["peers"][peer]["state"]


def change_id_of(change_file):
    with open(change_file, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["id"]


def ledger_row(out, change_id):
    with sqlite3.connect(str(out / "ledger.sqlite")) as db:
        return db.execute("SELECT state, close_code FROM changes WHERE id=?", (change_id,)).fetchone()


def _recorded(out, change_id):
    if not (out / "ledger.sqlite").exists():
        return False
    try:
        return ledger_row(out, change_id) is not None
    except sqlite3.Error:  # the assess node is still creating the ledger
        return False


def ledger_events(out, change_id):
    with sqlite3.connect(str(out / "ledger.sqlite")) as db:
        return [(kind, json.loads(data)) for kind, data in
                db.execute("SELECT kind, data FROM events WHERE change_id=? ORDER BY seq", (change_id,)).fetchall()]


def sign(env, out, change_id, who, signers_dir, decision="approve", deadline=600):
    """Wait for the assess node to open the record, then sign (as an approver would, from the assessment they read)."""
    end = time.time() + deadline
    while time.time() < end:
        found = glob.glob(str(out / "assessments" / ("%s*.json" % change_id)))
        if found and _recorded(out, change_id):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the workflow never assessed %s" % change_id)
    proc = subprocess.run([CLI, decision, "--ledger", str(out / "ledger.sqlite"), "--change", change_id, "--assessment", found[0],
                           "--key", str(signers_dir / who), "--identity", who, "--policy", str(signers_dir / "policy.yml"),
                           "--comment", "%s by %s in the workflow lab test" % (decision, who), "--yes"],
                          env=env, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run_workflow(env, tmp_path, workflow, change_file, signers_dir, approver=(), decision="approve", extra=(), workflow_path=None):
    """`governed-change workflow run` of a workflow on the lab; returns (record, out dir, CompletedProcess-like output)."""
    out, run_dir = tmp_path / "out", tmp_path / "run"
    argv = [CLI, "workflow", "run", workflow_path or os.path.join(ROOT, "workflow_templates", workflow),
            "-e", "governed_change_request=%s" % change_file, "-e", "governed_output_dir=%s" % out,
            "-e", "governed_ledger=%s" % (out / "ledger.sqlite"), "-e", "governed_policy=%s" % (signers_dir / "policy.yml"),
            "--launcher", LAUNCHER, "--run-dir", str(run_dir), "--poll-interval", "0.5", "--json"] + list(extra)
    if workflow_path:
        argv += ["--controller-config", os.path.join(ROOT, "controller"), "--project-dir", ROOT]
    with open(tmp_path / "runner.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)  # pylint: disable=consider-using-with
        try:
            for who in [approver] if isinstance(approver, str) else approver:
                sign(env, out, change_id_of(change_file), who, signers_dir, decision=decision)
            stdout, _err = proc.communicate(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert (run_dir / "run.json").exists(), stdout[-3000:] + (tmp_path / "runner.log").read_text()[-3000:]
    record = json.loads((run_dir / "run.json").read_text())
    return record, out, stdout


def nodes_of(record):
    return {node["identifier"]: node for node in record["nodes"]}


def statuses(record):
    return {ident: node["status"] for ident, node in nodes_of(record).items()}


def explain(record):
    return "\n".join("%s: %s %s" % (n["identifier"], n["status"], n.get("explanation") or "") for n in record["nodes"])


def moment(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_normal_good_change_ends_successful(wf_env, signers, tmp_path):
    change = os.path.join(CHANGES, "good_r1_static.yml")
    before = running_config("r1")
    assert "ip address 192.0.2.1/32" not in before
    record, out, _stdout = run_workflow(wf_env, tmp_path, "normal_change.yml", change, signers, approver="alice")
    status = statuses(record)
    assert record["status"] == "successful", explain(record)
    for ident in ("assess", "approval", "review", "window", "precheck", "deploy", "verify", "close"):
        assert status[ident] == "successful", explain(record)
    for ident in ("precheck_retry", "rollback", "close_after_rollback", "escalate_after_rollback",
                  "close_canceled_approval", "escalate_approval", "close_canceled_gate"):
        assert status[ident] == "do_not_run", ident
    nodes = nodes_of(record)
    assert nodes["approval"]["approval"]["source"] == "ledger" and nodes["approval"]["approval"]["decision"] == "approve"
    # artifacts flowed: the close node saw the assess node's change id and the deploy's backups
    assert nodes["close"]["extra_vars"]["governed_change_id"] == "CHG-2001"
    assert nodes["close"]["artifacts"].get("governed_outcome") == "successful"
    assert "ip address 192.0.2.1/32" in running_config("r1")
    assert ledger_row(out, "CHG-2001") == ("closed", "successful")
    assert (out / "evidence" / "CHG-2001" / "bundle.json").exists()


def test_normal_bad_change_rolls_back_and_escalates(wf_env, signers, tmp_path):
    change = os.path.join(CHANGES, "bad_r1_bgp.yml")
    before = running_config("r1")
    record, out, _stdout = run_workflow(wf_env, tmp_path, "normal_change.yml", change, signers, approver="alice")
    status = statuses(record)
    # the deploy stage checks each batch (canary first): r1's session to r2 drops, the deploy node fails
    assert status["deploy"] == "failed", explain(record)
    for ident in ("rollback", "close_after_rollback", "escalate_after_rollback"):
        assert status[ident] == "successful", explain(record)
    assert status["verify"] == "do_not_run" and status["close"] == "do_not_run"
    # the failure path handled the failed verify node: AWX counts that workflow job as successful
    assert record["failed_without_handler"] == []
    nodes = nodes_of(record)
    assert nodes["close_after_rollback"]["extra_vars"]["governed_close_outcome"] == "unsuccessful"
    assert "r1" in (nodes["rollback"]["artifacts"].get("governed_rolled_back") or [])
    assert nodes["rollback"]["artifacts"].get("governed_rollback_verified") is True
    assert running_config("r1") == before
    assert bgp_state("r1", "10.0.12.2") == "Established"
    assert ledger_row(out, "CHG-2002") == ("closed", "unsuccessful")
    packets = sorted(glob.glob(str(out / "escalations" / "CHG-2002-*.json")))
    assert packets, "no hand-off packet was written"
    with open(packets[-1], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert packet["reason"] == "change_failed"


def _assert_canceled_untouched(record, out, change_id, configs_before):
    status = statuses(record)
    assert status["approval"] == "failed", explain(record)
    assert status["close_canceled_approval"] == "successful" and status["escalate_approval"] == "successful", explain(record)
    for ident in DEVICE_NODES | {"review", "window"}:
        assert status[ident] == "do_not_run", ident
    nodes = nodes_of(record)
    assert nodes["close_canceled_approval"]["extra_vars"]["governed_close_outcome"] == "canceled"
    # no forced reason: a deny, or a local approval node that timed out with no approval recorded anywhere, is canceled
    # without a hand-off, as governed_change.yml cancels a change nobody approved
    assert "governed_escalation_reason" not in nodes["escalate_approval"]["extra_vars"]
    assert not glob.glob(str(out / "escalations" / ("%s-*.json" % change_id))), "a canceled change was handed over"
    assert not [kind for kind, _data in ledger_events(out, change_id) if kind.startswith("escalation.")]
    assert ledger_row(out, change_id)[0] == "canceled"
    assert not [kind for kind, _data in ledger_events(out, change_id) if kind.startswith(("deploy", "lock.acquire"))]
    for device, text in configs_before.items():
        assert running_config(device) == text, device


def test_denied_approval_ends_canceled_with_no_device_touched(wf_env, signers, tmp_path):
    change = os.path.join(CHANGES, "bad_r1_bgp.yml")
    before = {"r1": running_config("r1")}
    record, out, _stdout = run_workflow(wf_env, tmp_path, "normal_change.yml", change, signers, approver="bob", decision="deny")
    assert nodes_of(record)["approval"]["approval"]["decision"] == "deny"
    _assert_canceled_untouched(record, out, "CHG-2002", before)


def test_timed_out_approval_ends_canceled_with_no_device_touched(wf_env, signers, tmp_path):
    """The shipped normal workflow with its approval timeout cut to 3 s; nobody signs, so the node really times out."""
    with open(os.path.join(ROOT, "workflow_templates", "normal_change.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    short = copy.deepcopy(doc)
    for node in short["workflow_nodes"]:
        if node["unified_job_template"]["type"] == "workflow_approval":
            node["unified_job_template"]["timeout"] = 3
    path = tmp_path / "workflow_templates" / "normal_change_short_timeout.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(short, sort_keys=False))
    change = os.path.join(CHANGES, "bad_r1_bgp.yml")
    before = {"r1": running_config("r1")}
    record, out, _stdout = run_workflow(wf_env, tmp_path, None, change, signers, workflow_path=str(path))
    approval = nodes_of(record)["approval"]
    assert approval["timed_out"] is True and approval["approval"]["decision"] == "timeout", explain(record)
    assert 3 <= approval["elapsed"] < 30
    _assert_canceled_untouched(record, out, "CHG-2002", before)


def standard_change(tmp_path):
    """examples/changes/acl_update_fw1.yml with its expected check matching the snapshot's rule text.

    fw1 snapshots normalize nft expressions with explicit operators ("tcp dport == 8443"), so the example's
    `contains(expr, 'dport 8443')` never matches the rule it adds.
    """
    with open(os.path.join(CHANGES, "acl_update_fw1.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["expected"][0]["query"] = "length(sections.rules.*|[?contains(expr, 'dport == 8443')])"
    path = tmp_path / "acl_update_fw1_matching_check.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_standard_change_without_approval_ends_successful(wf_env, signers, tmp_path):
    change = standard_change(tmp_path)
    assert "dport 8443" not in running_config("fw1")
    record, out, _stdout = run_workflow(wf_env, tmp_path, "standard_change.yml", change, signers)
    assert record["status"] == "successful", explain(record)
    status = statuses(record)
    for ident in ("assess", "review", "window", "precheck", "deploy", "verify", "close"):
        assert status[ident] == "successful", explain(record)
    assert "approval" not in status
    assert "dport 8443" in running_config("fw1")
    assert ledger_row(out, "CHG-1001") == ("closed", "successful")
    with sqlite3.connect(str(out / "ledger.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM approvals WHERE change_id='CHG-1001'").fetchone()[0] == 0


def test_emergency_change_is_expedited_and_schedules_the_post_review(wf_env, signers, tmp_path):
    change = os.path.join(CHANGES, "emergency_r1.yml")
    record, out, _stdout = run_workflow(wf_env, tmp_path, "emergency_change.yml", change, signers, approver="alice")
    assert record["status"] == "successful", explain(record)
    status = statuses(record)
    for ident in ("assess", "approval", "review", "window", "precheck", "deploy", "verify", "close"):
        assert status[ident] == "successful", explain(record)
    assert "ip route 203.0.113.66/32 blackhole" in running_config("r1")
    assert ledger_row(out, "CHG-1003-EMERG") == ("closed", "successful")
    verdicts = {kind: data for kind, data in ledger_events(out, "CHG-1003-EMERG") if kind.startswith("verdict.")}
    assert "post_review" in verdicts["verdict.assess"]["verdict"]["required_gates"]
    assert verdicts["verdict.window"]["verdict"]["type"] == "emergency"
    assert verdicts["verdict.window"]["verdict"]["decision"] == "pass"


def _lon_window_open_now():
    london = clock_now().astimezone(zoneinfo.ZoneInfo("Europe/London"))
    return london.weekday() >= 5 and 1 <= london.hour < 5


def test_emergency_change_bypasses_the_closed_window_and_records_it(wf_env, signers, tmp_path):
    """A high-risk emergency on the core router r2 while its maintenance window is closed: the window gate lets it
    through as the policy allows, and records the bypass and the post-hoc review due date in the ledger."""
    if _lon_window_open_now():
        pytest.skip("the lon-weekend maintenance window is open right now; nothing would be bypassed")
    doc = {"id": "CHG-1004-EMERG", "title": "Blackhole a second DDoS source on r2", "author": "carol", "type": "emergency",
           "description": "Blackhole 203.0.113.77 on the core router r2 and announce it (remote-triggered blackhole).",
           "category": "other", "targets": ["r2"],
           "config": {"r2": {"lines": ["ip route 203.0.113.77/32 blackhole", "router bgp 65002", " address-family ipv4 unicast",
                                       "  network 203.0.113.77/32"]}},
           "expected": [{"name": "blackhole_announced", "query": "contains(keys(sections.routes), '203.0.113.77/32')",
                         "op": "equals", "value": True}],
           "rollback": {"strategy": "backup"}, "links": {"ticket": "INC-4712"}}
    change = tmp_path / "emergency_r2.yml"
    change.write_text(yaml.safe_dump(doc, sort_keys=False))
    record, out, _stdout = run_workflow(wf_env, tmp_path, "emergency_change.yml", str(change), signers, approver=("alice", "bob"))
    assert record["status"] == "successful", explain(record)
    assert statuses(record)["close"] == "successful", explain(record)
    verdicts = {kind: data for kind, data in ledger_events(out, "CHG-1004-EMERG") if kind.startswith("verdict.")}
    assert verdicts["verdict.assess"]["verdict"]["tier"] == "high"
    window = verdicts["verdict.window"]["verdict"]
    assert window["decision"] == "pass" and window["window_required"] is True
    assert window["bypass"]["emergency"] is True and window["bypass"]["post_review_due"]
    assert any("post-hoc review due by" in reason for reason in window["reasons"])
    assert "ip route 203.0.113.77/32 blackhole" in running_config("r2")
    assert ledger_row(out, "CHG-1004-EMERG") == ("closed", "successful")


def test_multi_domain_branches_overlap_and_converge(wf_env, signers, tmp_path):
    change = os.path.join(CHANGES, "multi_domain_r3_fw1.yml")
    # routing waits for the firewall change it depends on (node wait_firewall_change, ledger source): closed successful here
    (tmp_path / "out").mkdir()
    ledger_with_changes(str(tmp_path / "out" / "ledger.sqlite"), (("CHG-3000-FW", "dave", "scheduled"),))
    with SqliteLedger(str(tmp_path / "out" / "ledger.sqlite")) as ledger:
        for state in ("implement", "review"):
            ledger.transition("CHG-3000-FW", state, "dave")
        ledger.transition("CHG-3000-FW", "closed", "dave", close_code="successful")
    record, out, _stdout = run_workflow(wf_env, tmp_path, "multi_domain_change.yml", change, signers, approver="alice",
                                        extra=["-e", "governed_wait_change_id=CHG-3000-FW"])
    nodes = nodes_of(record)
    # the branches start together: the routers' wait and the firewalls' precheck run before either ends
    first, second = nodes["wait_firewall_change"], nodes["precheck_firewalls"]
    assert first["start"] and second["start"], explain(record)
    assert moment(first["start"]) < moment(second["end"]) and moment(second["start"]) < moment(first["end"])
    assert record["status"] == "successful", explain(record)
    for ident in ("wait_firewall_change", "precheck_routers", "deploy_routers", "verify_routers", "precheck_firewalls",
                  "deploy_firewalls", "verify_firewalls", "verify_network", "close"):
        assert nodes[ident]["status"] == "successful", explain(record)
    assert moment(nodes["precheck_routers"]["start"]) >= moment(nodes["wait_firewall_change"]["end"])
    (waited,) = [data for kind, data in ledger_events(out, "CHG-3001") if kind == "wait.dependency"]
    assert (waited["source"], waited["decision"], waited["condition"]["change_id"]) == ("ledger", "met", "CHG-3000-FW"), waited
    assert nodes["deploy_routers"]["limit"] == "routers" and nodes["deploy_firewalls"]["limit"] == "firewalls"
    # the two branches really ran at the same time
    routers = (moment(nodes["wait_firewall_change"]["start"]), moment(nodes["verify_routers"]["end"]))
    firewalls = (moment(nodes["precheck_firewalls"]["start"]), moment(nodes["verify_firewalls"]["end"]))
    assert routers[0] < firewalls[1] and firewalls[0] < routers[1], (routers, firewalls)
    # the convergence node waited for both branches
    assert moment(nodes["verify_network"]["start"]) >= max(routers[1], firewalls[1])
    assert "192.0.2.33/32" in running_config("r3")
    assert "198.51.100.0/24" in running_config("fw1")
    assert ledger_row(out, "CHG-3001") == ("closed", "successful")
    # the branches' per-host references survive the convergence node (AWX merges artifacts key by key): each device
    # stage recorded its own domain in the ledger, and verify_network and close completed their artifacts from it
    with open(out / "evidence" / "CHG-3001" / "bundle.json", encoding="utf-8") as handle:
        sections = json.load(handle)["sections"]
    assert sorted(sections["outcome"]["deployed"]) == ["fw1", "r3"], sections["outcome"]
    for host in ("r3", "fw1"):
        assert {"backup", "pre", "post"} <= set(sections["devices"][host]), (host, sorted(sections["devices"][host]))
    with sqlite3.connect(str(out / "ledger.sqlite")) as conn:
        refs = [(json.loads(data)["stage"], sorted(json.loads(data)["refs"].get("backups", {})))
                for (data,) in conn.execute("SELECT data FROM events WHERE change_id = ? AND kind = 'stage.refs'", ("CHG-3001",))]
    # the two branches run side by side, so the firewalls' deploy may write its refs before the routers' precheck
    # does: compare each stage's refs, not their order in the ledger
    assert sorted(entry for entry in refs if entry[0] == "precheck") == [("precheck", ["fw1"]), ("precheck", ["r3"])], refs
    assert {host for stage, hosts in refs if stage == "deploy" for host in hosts} == {"fw1", "r3"}, refs
