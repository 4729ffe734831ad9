# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash recovery on the lab (issue 12, finding 8): kill -9 of the pipeline mid-deploy on r2, then `governed-change recover`.

Own lab instance (k7-, ports 267xx, lab/run-k7). The change is approved for real (ed25519, `governed-change approve`).
The pipeline is killed (its whole process group, SIGKILL) once the ledger holds the deploy's stage.started event and r2
runs the change; recover must restore r2's backup exactly (or confirm the commit-confirmed timer already reverted it),
verify the pre-change state, record the verdict, close the change and release its lock - and a second recover, or a
re-assessment of the change, appends nothing. Timings go to out/recovery_timings.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from conftest_pipeline import ASSESS, INVENTORY, PIPELINE, approve, extra_vars, run_playbook
from conftest_pipeline import signing  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LAB_ENV = {"GC_LAB_PREFIX": "k7-", "GC_LAB_PORT_BASE": "26700", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k7")}
R2_PORT = int(LAB_ENV["GC_LAB_PORT_BASE"]) + 12
LINE = "ip address 192.0.2.2/32"
CLI = os.path.join(ROOT, ".venv", "bin", "governed-change")
TIMINGS = {}


@pytest.fixture(scope="module")
def recovery_env():
    """This module's own lab instance, torn down on every exit path; the environment of its runs."""
    env = run_env(LAB_ENV)
    for _status in lab_session(env=dict(os.environ, **LAB_ENV)):
        yield env


def r2_running():
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], R2_PORT) + ['vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"'],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def change_file(tmp_path, change_id):
    doc = {"id": change_id, "title": "Service address on r2's loopback", "author": "carol", "type": "normal", "category": "other",
           "description": "Crash-recovery test change: a lab-internal service address on r2's loopback.",
           "targets": ["r2"], "config": {"r2": {"lines": ["interface lo", " " + LINE]}},
           "expected": [{"name": "service_address_up", "query": "contains(sections.interfaces.lo.addresses, '192.0.2.2/32')",
                         "op": "equals", "value": True, "snapshot": "post"}],
           "rollback": {"strategy": "backup"}}
    path = tmp_path / ("%s.yml" % change_id)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def ledger_events(out, change_id):
    with SqliteLedger(str(out / "ledger.sqlite"), readonly=True) as ledger:
        return ledger.events(change_id=change_id)


def ledger_state(out, change_id):
    with SqliteLedger(str(out / "ledger.sqlite"), readonly=True) as ledger:
        return ledger.get_change(change_id), ledger.locks(), ledger.verify()


def wait_for(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def _deploy_started(out, change_id):
    if not (out / "ledger.sqlite").exists():
        return None
    started = [e for e in ledger_events(out, change_id) if e["kind"] == "stage.started" and e["data"].get("stage") == "deploy"]
    return started[-1] if started else None


def _deploy_task(out, change_id):
    return [e for e in ledger_events(out, change_id) if e["kind"] == "task" and e["data"]["action"] == "governed.change.deploy"
            and e["data"]["host"] == "r2" and e["data"]["status"] == "changed"]


def start_and_kill_mid_deploy(env, tmp_path, change_id, signing_dir, confirm_timeout):  # pylint: disable=redefined-outer-name
    """Assess, approve, start the pipeline, kill -9 its process group once r2's deploy is recorded; (out, kill epoch, monotonic, pid)."""
    out = tmp_path / "out"
    variables = extra_vars(change_file(tmp_path, change_id), out, signing_dir)
    rc, artifacts, output, _seconds = run_playbook(env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    assert artifacts["governed_tier"] in ("low", "medium"), artifacts  # one approval, no window: the pipeline runs now
    approve(out, change_id, signing_dir)
    # deploy_hold keeps the deploy's checks polling for a while after the commit, so the kill lands inside the deploy stage
    run_vars = dict(variables, pipeline_confirm_timeout=confirm_timeout, deploy_hold=30)
    vars_file = tmp_path / "pipeline.vars.json"
    vars_file.write_text(json.dumps(run_vars))
    with open(tmp_path / "pipeline.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), PIPELINE, "-e", "@%s" % vars_file],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _deploy_started(out, change_id), 120, "the deploy's stage.started event")
        # the evidence callback appends a device-changing task's result as soon as it arrives: kill right after r2's deploy
        wait_for(lambda: _deploy_task(out, change_id), 60, "r2's deploy task event", interval=0.1)
        assert proc.poll() is None, (tmp_path / "pipeline.log").read_text()[-3000:]
    finally:
        killed_at, killed_mono = time.time(), time.monotonic()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)  # reaped: the dead group is gone, as after a real controller crash
    return out, killed_at, killed_mono, proc.pid


def recover(env, out, change_id):
    proc = subprocess.run([CLI, "recover", change_id, "--ledger", str(out / "ledger.sqlite"), "-i", INVENTORY], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc


def _record(name, **values):
    TIMINGS.setdefault(name, {}).update(values)
    path = os.path.join(ROOT, "out", "recovery_timings.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(TIMINGS, handle, indent=2, sort_keys=True)


def _assert_crash_left_a_recoverable_record(out, change_id, pipeline_pid):
    events = ledger_events(out, change_id)
    kinds = [e["kind"] for e in events]
    change, locks, _verified = ledger_state(out, change_id)
    assert change["state"] == "implement" and [lock["device"] for lock in locks if lock["change_id"] == change_id] == ["r2"]
    started = [e for e in events if e["kind"] == "stage.started"][-1]
    assert started["data"]["hosts"] == ["r2"] and started["data"]["run"]["pid"] == pipeline_pid
    refs = [e for e in events if e["kind"] == "stage.refs" and e["data"]["stage"] == "deploy"][-1]["data"]["refs"]
    assert set(refs["backups"]) == {"r2"} and "r2" in refs["pre_snapshots"]  # the snapshot scope may hold r2's neighbours too
    # the evidence callback flushed its batch before the device stage: the precheck's tasks are in the ledger
    tasks = [e["data"] for e in events if e["kind"] == "task"]
    assert any(t["action"] == "governed.change.backup" and t["host"] == "r2" and t["status"] == "ok" for t in tasks), kinds
    assert any(t["action"] == "governed.change.deploy" and t["host"] == "r2" and t["status"] == "changed" for t in tasks), kinds
    assert kinds.index("stage.started") < kinds.index("change.state", kinds.index("stage.started"))  # refs before implement
    return events


def _assert_recovered(out, change_id, proc, verdict):
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    change, locks, verified = ledger_state(out, change_id)
    assert (change["state"], change["close_code"]) == ("closed", "unsuccessful"), proc.stdout
    assert [lock for lock in locks if lock["change_id"] == change_id] == []
    assert verified["ok"], verified["problems"]
    events = ledger_events(out, change_id)
    device = [e["data"] for e in events if e["kind"] == "recovery.device"]
    result = [e["data"] for e in events if e["kind"] == "recovery.result"]
    assert len(device) == 1 and device[0]["device"] == "r2" and device[0]["verdict"] == verdict, device
    assert device[0]["verify"]["passed"] is True and device[0]["verify"]["failed_checks"] == []
    assert len(result) == 1 and result[0]["recovered"] is True and result[0]["verdicts"] == {"r2": verdict}
    outcome = [e["data"] for e in events if e["kind"] == "change.outcome"][-1]
    assert outcome["outcome"] == "unsuccessful" and "recovered after the run died" in outcome["reason"]
    assert "lock.released" in [e["kind"] for e in events]
    assert "r2: %s" % verdict in proc.stdout
    return device[0], events


def _assert_second_recover_appends_nothing(env, out, change_id, events):
    again = recover(env, out, change_id)
    assert again.returncode == 0 and "nothing to recover" in again.stdout, again.stdout + again.stderr[-2000:]
    assert ledger_events(out, change_id) == events


def test_kill_mid_deploy_then_recover_restores_r2_exactly(recovery_env, signing, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    change_id = "CHG-7001"
    before = r2_running()
    assert LINE not in before
    out, killed_at, killed_mono, pid = start_and_kill_mid_deploy(recovery_env, tmp_path, change_id, signing, confirm_timeout=120)
    events = _assert_crash_left_a_recoverable_record(out, change_id, pid)
    assert LINE in r2_running()  # the change is still on r2 (its timer has 120 s to go)

    # re-running the change is refused before anything is appended (and the approved assessment file is kept)
    assessment = out / "assessments" / ("%s.assessment.json" % change_id)
    kept = assessment.read_bytes()
    rc, _art, output, _s = run_playbook(recovery_env, ASSESS, extra_vars(str(tmp_path / ("%s.yml" % change_id)), out, signing),
                                        tmp_path, "reassess")
    assert rc != 0 and "is in implement, so it cannot be re-assessed" in output, output[-3000:]
    assert ledger_events(out, change_id) == events and assessment.read_bytes() == kept

    proc = recover(recovery_env, out, change_id)
    recovered_s = time.monotonic() - killed_mono
    device, events = _assert_recovered(out, change_id, proc, "recovered_restored")
    assert device["running_equals_backup"] is False and device["change_on_device"] == "all" and device["action"] == "restored"
    assert device["timer"]["state"] == "armed" and device["restore"]["verified"] is True
    assert r2_running() == before  # byte for byte the pre-change running config
    result_ts = [e["ts"] for e in events if e["kind"] == "recovery.result"][0]
    _assert_second_recover_appends_nothing(recovery_env, out, change_id, events)
    _record("kill -9 mid-deploy, recover restores", kill_to_recovered_s=round(recovered_s, 2),
            kill_epoch=round(killed_at, 3), recovery_result_ts=result_ts, restore_s=device["restore"]["elapsed_s"],
            verify_s=device["verify"]["elapsed_s"])


def test_kill_mid_deploy_after_the_timer_reverted_recover_confirms(recovery_env, signing, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    change_id = "CHG-7002"
    before = r2_running()
    out, _killed_at, killed_mono, pid = start_and_kill_mid_deploy(recovery_env, tmp_path, change_id, signing, confirm_timeout=8)
    _assert_crash_left_a_recoverable_record(out, change_id, pid)
    reverted = wait_for(lambda: r2_running() == before, 60, "the commit-confirmed timer to revert r2", interval=0.5)
    reverted_s = time.monotonic() - killed_mono
    assert reverted
    started = time.monotonic()
    proc = recover(recovery_env, out, change_id)
    recover_s = time.monotonic() - started
    device, events = _assert_recovered(out, change_id, proc, "recovered_confirmed")
    assert device["running_equals_backup"] is True and device["action"] == "confirmed" and device["change_on_device"] == "none"
    assert device["timer"]["state"] == "reverted" and "restore" not in device
    assert r2_running() == before
    _assert_second_recover_appends_nothing(recovery_env, out, change_id, events)
    _record("kill -9 mid-deploy, timer reverted, recover confirms", kill_to_timer_revert_s=round(reverted_s, 2),
            recover_s=round(recover_s, 2))
