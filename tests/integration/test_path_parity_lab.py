# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Path parity (issue 13, "Done when"): every scenario of the matrix closes the same through both paths.

Path A is the one-run pipeline (playbooks/governed_change.yml with ansible-playbook); path B is the AWX path, the
stage playbooks of a shipped workflow template run node by node by `governed-change workflow run`. Each scenario runs
the same change request, the same approvals and the same lab disturbance through both, each path with its own output
directory and ledger, and the test compares, field by field: the outcome (the change record's state and close code),
the escalation reasons sent, each device's state (the close's decision, and the hand-off packet's), and the ledger's
close events (kinds in order, with their decision fields; never timestamps, ids or paths).

Own lab instance (m6-, ports 280xx, /tmp/m6-lab), shared by the whole module; each scenario leaves every device's
running config as it found it (asserted). Approvals are real ed25519 signatures. The matrix (every field of both
paths) goes to out/path_parity.json and the timings to out/path_parity_timings.json.
"""

from __future__ import annotations

import copy
import datetime
import glob
import json
import os
import sqlite3
import subprocess
import threading
import time

import pytest
import yaml

from conftest_pipeline import ASSESS, CHANGES, PIPELINE, extra_vars, run_playbook
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env, signing_keys

from ansible_collections.governed.change.plugins.module_utils import clock
from ansible_collections.governed.change.plugins.module_utils.approvals import sign_approval
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "m6-", "GC_LAB_PORT_BASE": "28000", "GC_LAB_RUN": "/tmp/m6-lab"}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13, "fw1": PORT_BASE + 4}
R3_PORTS = (PORT_BASE + 3, PORT_BASE + 13)  # r3's vtysh and host shell ports on 127.0.0.1
BLOCK_TABLE = "gc_m6_block"  # this module's own nft table in the root namespace (loopback only)
DEVICES = ("r1", "r2", "r3", "fw1")
CLI = os.path.join(ROOT, ".venv", "bin", "governed-change")
WORKFLOWS = os.path.join(ROOT, "workflow_templates")
LAUNCHER = "svc-ci"
FREEZE_IN_DAYS = 30  # labfixture.lab_policy places the example's year-end freeze this many days after the clock's now
# the ledger events a close writes, and the fields of each that carry a decision (never a time, an id or a path)
CLOSE_KINDS = ("stage.results", "change.state", "change.outcome", "lock.released", "lock.broken", "escalation.sent",
               "escalation.failed_to_send")
MATRIX, TIMINGS = {}, {}


# ---------------------------------------------------------------------------------------------- the lab
@pytest.fixture(scope="module")
def parity_env():
    """This module's own lab instance, torn down on every exit path; yields the ansible run environment."""
    session = lab_session(env=dict(os.environ, **LAB_ENV))
    next(session, None)
    try:
        yield run_env(LAB_ENV)
    finally:
        session.close()  # lab down
        unblock_r3()


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    """alice (netops) and bob (netops, cab) with real ed25519 keys, and a copy of the lab policy trusting them."""
    return signing_keys(tmp_path_factory.mktemp("signers"), names=("alice", "bob"))


@pytest.fixture(scope="module")
def baseline(parity_env):  # pylint: disable=redefined-outer-name,unused-argument
    """Every device's running config before the first scenario: each scenario must leave the lab like this."""
    return {device: running_config(device) for device in DEVICES}


def host_shell(device, command):
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [command],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def running_config(device):
    if device == "fw1":
        return host_shell(device, "nft list ruleset")
    lines = host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"').splitlines()
    return "\n".join(line for line in lines if not line.startswith(("Building configuration", "Current configuration")))


def vtysh_config(device, *lines):
    """Configure a router directly (scenario set-up and clean-up only)."""
    args = " ".join("-c %s" % json.dumps(line) for line in lines)
    host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" %s' % args)


def wait_converged(timeout=60):
    """Every BGP session of the three routers Established (after a rollback reset one), so the next run's pre snapshot is
    the lab's steady state."""
    end = time.monotonic() + timeout
    while True:
        down = []
        for device in ("r1", "r2", "r3"):
            data = json.loads(host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show bgp ipv4 unicast summary json"'))
            peers = data.get("ipv4Unicast", data).get("peers") or {}
            down += ["%s-%s" % (device, peer) for peer, info in peers.items() if info.get("state") != "Established"]
        if not down:
            return
        assert time.monotonic() < end, "BGP sessions still down: %s" % ", ".join(down)
        time.sleep(0.5)


def block_r3():
    ports = ", ".join(str(port) for port in R3_PORTS)
    rules = ("table inet %s {\n chain output {\n  type filter hook output priority 0; policy accept;\n"
             "  oifname \"lo\" ip daddr 127.0.0.1 tcp dport { %s } reject with tcp reset\n }\n}\n" % (BLOCK_TABLE, ports))
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, timeout=30)


def unblock_r3():
    subprocess.run(["nft", "delete", "table", "inet", BLOCK_TABLE], check=False, timeout=30, capture_output=True)


# ---------------------------------------------------------------------------------------------- approvals
def assessment_of(out, change_id):
    found = sorted(glob.glob(str(out / "assessments" / ("%s*.json" % change_id))))
    if not found:
        return None, None
    with open(found[0], encoding="utf-8") as handle:
        doc = json.load(handle)
    return found[0], doc.get("assessment", doc) if isinstance(doc.get("assessment"), dict) else doc


def cli_sign(out, change_id, signing, who, decision):
    """`governed-change approve|deny` with the identity's SSH key, over the assessment the approver reads."""
    path, _doc = assessment_of(out, change_id)
    proc = subprocess.run([CLI, decision, "--ledger", str(out / "ledger.sqlite"), "--change", change_id, "--assessment", path,
                           "--key", str(signing / who), "--identity", who, "--policy", str(signing / "policy.yml"),
                           "--comment", "%s by %s (path parity lab test)" % (decision, who), "--yes"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def record_signed(out, change_id, signing, who, ts):
    """A signed approval with the given time stamp, recorded straight into the ledger (an old or a pre-dated one)."""
    _path, doc = assessment_of(out, change_id)
    approval = sign_approval(change_id, doc["content_hash"], "approve", who, str(signing / who), principal="%s@lab" % who, ts=ts)
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        ledger.record_approval(approval)


def approve(who="alice"):
    return lambda out, change_id, signing: cli_sign(out, change_id, signing, who, "approve")


def deny(who="bob"):
    return lambda out, change_id, signing: cli_sign(out, change_id, signing, who, "deny")


def signed_at(moment, who="alice"):
    return lambda out, change_id, signing: record_signed(out, change_id, signing, who, clock.iso_z(moment, precision="seconds"))


# ---------------------------------------------------------------------------------------------- the two paths
def _recorded(out, change_id):
    if not (out / "ledger.sqlite").exists():
        return False
    try:
        with sqlite3.connect("file:%s?mode=ro" % (out / "ledger.sqlite"), uri=True, timeout=5) as db:
            return db.execute("SELECT 1 FROM changes WHERE id=?", (change_id,)).fetchone() is not None
    except sqlite3.Error:  # the assess node is still creating the ledger
        return False


def wait_assessed(out, change_id, deadline_s=300):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if assessment_of(out, change_id)[0] and _recorded(out, change_id):
            return
        time.sleep(0.3)
    raise AssertionError("%s was never assessed" % change_id)


def run_pipeline(env, scenario, signing, base):
    """Path A: assess.yml, the scenario's approvals, then governed_change.yml (ansible-playbook)."""
    out = base / "out"
    variables = extra_vars(scenario["change"], out, signing)
    rc, _art, output, _s = run_playbook(env, ASSESS, variables, base, "assess")
    assert rc == 0, output[-3000:]
    if scenario.get("sign"):
        scenario["sign"](out, scenario["id"], signing)
    rc, _art, output, _s = run_playbook(env, PIPELINE, variables, base, "pipeline")
    return out, output


def workflow_file(scenario, base):
    """The scenario's shipped workflow template, or a copy with the approval node's timeout cut (a real timeout)."""
    path = os.path.join(WORKFLOWS, scenario["workflow"])
    if not scenario.get("approval_timeout"):
        return path
    with open(path, encoding="utf-8") as handle:
        doc = copy.deepcopy(yaml.safe_load(handle))
    for node in doc["workflow_nodes"]:
        if node["unified_job_template"]["type"] == "workflow_approval":
            node["unified_job_template"]["timeout"] = scenario["approval_timeout"]
    copied = base / "workflow_templates" / scenario["workflow"]
    copied.parent.mkdir(parents=True, exist_ok=True)
    copied.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(copied)


def run_awx(env, scenario, signing, base):
    """Path B: `governed-change workflow run` of the scenario's workflow template; the approvals are signed while the
    approval node waits on the ledger (as an approver would, from the assessment the assess node wrote)."""
    out, run_dir = base / "out", base / "run"
    argv = [CLI, "workflow", "run", workflow_file(scenario, base),
            "-e", "governed_change_request=%s" % scenario["change"], "-e", "governed_output_dir=%s" % out,
            "-e", "governed_ledger=%s" % (out / "ledger.sqlite"), "-e", "governed_policy=%s" % (signing / "policy.yml"),
            "--controller-config", os.path.join(ROOT, "controller"), "--project-dir", ROOT,
            "--launcher", LAUNCHER, "--run-dir", str(run_dir), "--poll-interval", "0.3", "--json"]
    with open(base / "runner.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)  # pylint: disable=consider-using-with
        try:
            if scenario.get("sign"):
                wait_assessed(out, scenario["id"])
                scenario["sign"](out, scenario["id"], signing)
            stdout, _err = proc.communicate(timeout=1200)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert (run_dir / "run.json").exists(), stdout[-3000:] + (base / "runner.log").read_text()[-3000:]
    record = json.loads((run_dir / "run.json").read_text())
    return out, "\n".join("%s: %s %s" % (n["identifier"], n["status"], n.get("explanation") or "") for n in record["nodes"])


# ---------------------------------------------------------------------------------------------- what is compared
def _sorted(value):
    return sorted(value or [])


def _decision_fields(kind, data):
    """The fields of a close event that carry a decision (no time stamp, sequence, hash, path or actor)."""
    if kind == "stage.results":
        stages = data.get("stages") or {}
        decision = stages.get("decision") or {}
        return {"outcome": decision.get("outcome"), "reason": decision.get("reason"), "release_locks": decision.get("release_locks"),
                "devices": dict((h, e.get("state")) for h, e in sorted((decision.get("devices") or {}).items())),
                "stage_failed": stages.get("stage_failed") or "", "deployed": _sorted(stages.get("deployed")),
                "failed_hosts": _sorted(stages.get("failed_hosts")), "rolled_back": _sorted(stages.get("rolled_back")),
                "rollback_verified": (decision.get("rollback") or {}).get("verified", stages.get("rollback_verified"))}
    if kind == "change.state":
        return {"from": data.get("from"), "to": data.get("to"), "close_code": data.get("close_code")}
    if kind == "change.outcome":
        return {"outcome": data.get("outcome"), "from_state": data.get("from_state")}
    if kind in ("lock.released", "lock.broken"):
        return {"devices": _sorted(data.get("devices"))}
    return {"reason": data.get("reason"), "severity": data.get("severity"), "target": data.get("escalation_target"),
            "next_step": data.get("recommended_next_step")}


def _without(out, value):
    """``value`` with the run's own output directory (the runbook's path in a next step) written as <out>."""
    if isinstance(value, str):
        return value.replace(str(out), "<out>")
    if isinstance(value, dict):
        return dict((key, _without(out, item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_without(out, item) for item in value]
    return value


def verdict(out, change_id):
    """The fields the two paths must agree on, read from the run's ledger and escalation packets."""
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        change, events, verified = ledger.get_change(change_id), ledger.events(change_id=change_id), ledger.verify()
    assert verified["ok"], verified["problems"]
    first = next((i for i, e in enumerate(events) if e["kind"] == "stage.results"), len(events))
    close_events = [[e["kind"], _without(out, _decision_fields(e["kind"], e["data"]))] for e in events[first:] if e["kind"] in CLOSE_KINDS]
    decisions = [fields for kind, fields in close_events if kind == "stage.results"]
    packets = []
    for path in sorted(glob.glob(str(out / "escalations" / ("%s-*.json" % change_id)))):
        with open(path, encoding="utf-8") as handle:
            packet = json.load(handle)
        packets.append({"reason": packet.get("reason"), "devices": dict((h, e.get("state")) for h, e in sorted((packet.get("devices") or {}).items()))})
    return {
        "outcome": {"state": change["state"], "close_code": change["close_code"]},
        "escalation reason": [fields["reason"] for kind, fields in close_events if kind.startswith("escalation.")],
        "device states": decisions[-1]["devices"] if decisions else None,
        "packet device states": [p["devices"] for p in packets],
        "close events": close_events,
    }


def differences(pipeline, awx):
    return dict((field, {"governed_change.yml": pipeline[field], "workflow": awx[field]})
                for field in pipeline if pipeline[field] != awx[field])


def _save(name, pipeline, awx, seconds):
    MATRIX[name] = {"identical": not differences(pipeline, awx), "governed_change.yml": pipeline, "workflow": awx,
                    "differences": differences(pipeline, awx)}
    TIMINGS[name] = seconds
    os.makedirs(os.path.join(ROOT, "out"), exist_ok=True)
    with open(os.path.join(ROOT, "out", "path_parity.json"), "w", encoding="utf-8") as handle:
        json.dump(MATRIX, handle, indent=2, sort_keys=True)
    with open(os.path.join(ROOT, "out", "path_parity_timings.json"), "w", encoding="utf-8") as handle:
        json.dump(TIMINGS, handle, indent=2, sort_keys=True)


# ---------------------------------------------------------------------------------------------- disturbances
class LedgerWatch:
    """Runs ``action`` once, the moment a run's ledger records the deploy stage's stage.started (before any device is
    touched); ``undo`` runs after the run, whether or not the action ran."""

    def __init__(self, action, undo):
        self.action, self.undo, self.fired = action, undo, []
        self.done, self.thread = threading.Event(), None

    def start(self, out, change_id):
        self.done.clear()
        self.thread = threading.Thread(target=self._watch, args=(str(out / "ledger.sqlite"), change_id), daemon=True)
        self.thread.start()

    def _watch(self, ledger_path, change_id):
        end = time.monotonic() + 600
        while not self.done.is_set() and time.monotonic() < end:
            try:
                with sqlite3.connect("file:%s?mode=ro" % ledger_path, uri=True, timeout=5) as db:
                    rows = db.execute("SELECT data FROM events WHERE change_id=? AND kind='stage.started'", (change_id,)).fetchall()
            except sqlite3.Error:
                rows = []
            if any(json.loads(data).get("stage") == "deploy" for (data,) in rows):
                self.action()
                self.fired.append(time.monotonic())
                return
            time.sleep(0.1)

    def stop(self):
        self.done.set()
        if self.thread is not None:
            self.thread.join(10)
        self.undo()


DRIFT_LINE = "ip prefix-list GC-M6-DRIFT seq 5 permit 10.96.0.0/16"


def drift_r2():
    """Somebody changes r2 by hand while the change deploys: r2 no longer equals its pre-change snapshot."""
    vtysh_config("r2", DRIFT_LINE)


def undo_drift_r2():
    if "GC-M6-DRIFT" in running_config("r2"):
        vtysh_config("r2", "no " + DRIFT_LINE)


# ---------------------------------------------------------------------------------------------- the scenarios
def _write_change(base, doc):
    path = base / ("%s.yml" % doc["id"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def r3_change(base):
    return _write_change(base, {
        "id": "CHG-6091", "title": "Service address on r3's loopback", "author": "carol", "type": "normal", "category": "other",
        "description": "A service address on r3's loopback (path parity: r3 stops answering mid-deploy).", "targets": ["r3"],
        "config": {"r3": {"lines": ["interface lo", " ip address 192.0.2.96/32"]}},
        "expected": [{"name": "service_address_up", "query": "contains(sections.interfaces.lo.addresses, '192.0.2.96/32')",
                      "op": "equals", "value": True, "snapshot": "post"}],
        "rollback": {"strategy": "backup"}})


def batch_change(base):
    """Two edge routers in two batches (medium tier: canary r1, then r3): r3's expected check fails in the second batch,
    after the canary passed."""
    lines = dict((host, {"lines": ["ip prefix-list GC-M6-BATCH-%s seq 5 permit 10.95.0.0/16" % host.upper()]}) for host in ("r1", "r3"))
    return _write_change(base, {
        "id": "CHG-6092", "title": "Prefix lists on both edge routers", "author": "carol", "type": "normal", "category": "other",
        "description": "A prefix list on r1 and r3 (path parity: the second batch fails on r3).", "targets": ["r1", "r3"],
        "config": lines,
        "expected": [{"name": "r3_announces_the_test_prefix", "hosts": ["r3"], "query": "contains(keys(sections.routes), '10.95.0.0/16')",
                      "op": "equals", "value": True, "snapshot": "post"}],
        "rollback": {"strategy": "backup"}})


def undo_if_present(device, marker, *lines):
    """Clean-up: when ``marker`` is in the device's running config, configure ``lines`` there."""
    def undo():
        if marker in running_config(device):
            vtysh_config(device, *lines)
    return undo


def undo_all(*undos):
    def undo():
        for one in undos:
            one()
    return undo


FREEZE_NOW = clock.relative(days=FREEZE_IN_DAYS + 1)  # inside the moved year-end freeze, whatever today is
STALE = clock.relative(days=-4)  # older than every tier's max_age_hours

SCENARIOS = {
    "good": lambda base: {"id": "CHG-2001", "change": os.path.join(CHANGES, "good_r1_static.yml"), "workflow": "normal_change.yml",
                          "sign": approve(), "undo": undo_if_present("r1", "192.0.2.1/32", "interface lo", "no ip address 192.0.2.1/32")},
    "bad-check": lambda base: {"id": "CHG-2002", "change": os.path.join(CHANGES, "bad_r1_bgp.yml"), "workflow": "normal_change.yml",
                               "sign": approve()},
    "unreachable": lambda base: {"id": "CHG-6091", "change": r3_change(base), "workflow": "normal_change.yml", "sign": approve(),
                                 "watch": LedgerWatch(block_r3, unblock_r3),
                                 "undo": undo_if_present("r3", "192.0.2.96/32", "interface lo", "no ip address 192.0.2.96/32")},
    "rollback-failed": lambda base: {"id": "CHG-2002", "change": os.path.join(CHANGES, "bad_r1_bgp.yml"),
                                     "workflow": "normal_change.yml", "sign": approve(), "watch": LedgerWatch(drift_r2, undo_drift_r2)},
    "canceled": lambda base: {"id": "CHG-2001", "change": os.path.join(CHANGES, "good_r1_static.yml"), "workflow": "normal_change.yml",
                              "sign": deny()},
    "approval-expired": lambda base: {"id": "CHG-2001", "change": os.path.join(CHANGES, "good_r1_static.yml"),
                                      "workflow": "normal_change.yml", "sign": signed_at(STALE), "approval_timeout": 3},
    "freeze": lambda base: {"id": "CHG-2001", "change": os.path.join(CHANGES, "good_r1_static.yml"), "workflow": "normal_change.yml",
                            "sign": signed_at(FREEZE_NOW - datetime.timedelta(hours=1)),
                            "env": {"GOVERNED_CHANGE_NOW": clock.iso_z(FREEZE_NOW, precision="seconds")}},
    "emergency": lambda base: {"id": "CHG-1003-EMERG", "change": os.path.join(CHANGES, "emergency_r1.yml"),
                               "workflow": "emergency_change.yml", "sign": approve(),
                               "undo": undo_if_present("r1", "203.0.113.66/32", "no ip route 203.0.113.66/32 blackhole",
                                                       "router bgp 65001", " address-family ipv4 unicast", "  no network 203.0.113.66/32")},
    "partial-batch-failure": lambda base: {"id": "CHG-6092", "change": batch_change(base), "workflow": "normal_change.yml",
                                           "sign": approve(),
                                           "undo": undo_all(*(undo_if_present(h, "GC-M6-BATCH", "no ip prefix-list GC-M6-BATCH-%s seq 5 "
                                                                              "permit 10.95.0.0/16" % h.upper()) for h in ("r1", "r3")))},
}


# what each scenario is, on path A (path B must equal it): (state, close code), escalation reasons, some device states
EXPECT = {
    "good": (("closed", "successful"), [], {"r1": "changed"}),
    "bad-check": (("closed", "unsuccessful"), ["change_failed"], {"r1": "rolled_back", "r2": "checks_failed"}),
    "unreachable": (("closed", "unsuccessful"), ["retries_exhausted"], {"r3": "unreachable"}),
    "rollback-failed": (("closed", "unsuccessful"), ["rollback_failed"], {"r1": "rolled_back", "r2": "state_differs"}),
    "canceled": (("canceled", None), [], {"r1": "untouched"}),
    "approval-expired": (("canceled", None), ["approval_timeout"], {"r1": "untouched"}),
    "freeze": (("canceled", None), [], {"r1": "untouched"}),
    "emergency": (("closed", "successful"), [], {"r1": "changed"}),
    "partial-batch-failure": (("closed", "unsuccessful"), ["change_failed"], {"r1": "rolled_back", "r3": "rolled_back"}),
}


# No row may differ: a denied approval and a freeze are canceled without a hand-off on both paths (the workflow's
# escalate node hands over only what run_decision names), so every field of every row is asserted equal.


def assert_is_the_scenario(name, seen):
    (state, close_code), reasons, devices = EXPECT[name]
    assert (seen["outcome"]["state"], seen["outcome"]["close_code"]) == (state, close_code), (name, seen["outcome"])
    assert seen["escalation reason"] == reasons, (name, seen["escalation reason"])
    assert dict((h, (seen["device states"] or {}).get(h)) for h in devices) == devices, (name, seen["device states"])


def run_path(path, env, scenario, signing, base):
    run = run_pipeline if path == "pipeline" else run_awx
    base.mkdir()
    env = dict(env, **scenario.get("env", {}))
    watch = scenario.get("watch")
    if watch is not None:
        watch.start(base / "out", scenario["id"])
    started = time.monotonic()
    try:
        out, explain = run(env, scenario, signing, base)
    finally:
        if watch is not None:
            watch.stop()
        if scenario.get("undo"):
            scenario["undo"]()
    seconds = round(time.monotonic() - started, 1)
    wait_converged()
    if watch is not None:
        assert watch.fired, "%s: the deploy never started\n%s" % (path, explain[-3000:])
    return verdict(out, scenario["id"]), explain, seconds


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_both_paths_close_identically(name, parity_env, signers, baseline, tmp_path):  # pylint: disable=redefined-outer-name
    scenario = SCENARIOS[name](tmp_path)
    pipeline, explain_a, seconds_a = run_path("pipeline", parity_env, scenario, signers, tmp_path / "pipeline")
    assert {d: running_config(d) for d in DEVICES} == baseline, "%s left the lab changed after the pipeline run" % name
    awx, explain_b, seconds_b = run_path("awx", parity_env, scenario, signers, tmp_path / "awx")
    assert {d: running_config(d) for d in DEVICES} == baseline, "%s left the lab changed after the workflow run" % name
    _save(name, pipeline, awx, {"governed_change.yml_s": seconds_a, "workflow_s": seconds_b})
    assert_is_the_scenario(name, pipeline)
    for field in pipeline:
        assert pipeline[field] == awx[field], "%s: %s differs\n governed_change.yml: %s\n workflow:            %s\n%s\n%s" % (
            name, field, json.dumps(pipeline[field]), json.dumps(awx[field]), explain_a[-1500:], explain_b)
