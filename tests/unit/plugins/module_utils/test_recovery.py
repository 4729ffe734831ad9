# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash recovery: references before any device is touched, refusals that append nothing, the recovery core's decisions."""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils import cli, recovery, statestore
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.platforms.base import Platform
from ansible_collections.governed.change.plugins.module_utils.records import (
    check_assessable, load_stage_refs, record_assessment, record_stage_start)


def ref(name):
    return {"path": "store/%s.json" % name, "sha256": name * 4, "kind": "backup"}


REFS = {"backups": {"r2": ref("a")}, "pre_snapshots": {"r2": ref("b"), "r3": ref("c")}}


def _events(path, change_id="CHG-1"):
    with SqliteLedger(path) as ledger:
        return ledger.events(change_id=change_id)


@pytest.fixture
def ledger_path(tmp_path):
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), actor="test")


def _implement(path, run=None):
    record_stage_start(path, "CHG-1", "deploy", ["r2"], REFS,
                       candidates={"r2": ["interface lo", " ip address 192.0.2.2/32", "neighbor 10.0.0.1 password s3cret"]},
                       run=run or {"controller": "elsewhere.invalid", "pid": 1, "started": 1})
    with SqliteLedger(path) as ledger:
        ledger.acquire_locks("CHG-1", ["r2"], "svc-ci", 3600)
        ledger.transition("CHG-1", "implement", "svc-ci")


# ---------------------------------------------------------------------------------------------- stage.started
def test_stage_start_records_every_reference_and_the_run_before_any_device(ledger_path):
    event = record_stage_start(ledger_path, "CHG-1", "deploy", ["r2"], REFS, candidates={"r2": ["neighbor 10.0.0.1 password s3cret"]},
                               run={"controller": "c1", "pid": 42, "started": 7})
    assert event["kind"] == "stage.started" and event["data"]["hosts"] == ["r2"] and event["data"]["run"]["pid"] == 42
    assert "s3cret" not in str(_events(ledger_path))  # the candidate lines are redacted in the ledger
    assert event["data"]["candidates"]["r2"]["sha256"]  # ... and identified by the real text's sha256
    refs = load_stage_refs(ledger_path, "CHG-1")
    assert refs["backups"] == {"r2": ref("a")} and refs["pre_snapshots"]["r3"] == ref("c")
    kinds = [e["kind"] for e in _events(ledger_path)]
    assert kinds[-2:] == ["stage.refs", "stage.started"]


@pytest.mark.parametrize("refs, missing", [({"pre_snapshots": {"r2": ref("b")}}, "backup"),
                                           ({"backups": {"r2": ref("a")}}, "pre-change snapshot")])
def test_stage_start_without_a_reference_is_refused_and_appends_nothing(ledger_path, refs, missing):
    before = len(_events(ledger_path))
    with pytest.raises(ValidationError) as info:
        record_stage_start(ledger_path, "CHG-1", "deploy", ["r2"], refs)
    assert "no %s reference for r2" % missing in str(info.value)
    assert len(_events(ledger_path)) == before


# ---------------------------------------------------------------------------------------------- refusals append nothing
def test_reassessing_a_change_in_implement_is_refused_before_anything_is_appended(ledger_path):
    _implement(ledger_path)
    before = _events(ledger_path)
    with pytest.raises(LedgerError) as info:
        check_assessable(ledger_path, "CHG-1")
    assert "is in implement, so it cannot be re-assessed" in str(info.value) and "governed-change recover CHG-1" in str(info.value)
    assessment = {"change_id": "CHG-1", "title": "t", "author": "carol", "tier": "low", "content_hash": "x" * 64, "score": 0,
                  "change_class": "normal", "fired_rules": [], "required_gates": [], "policy_sha256": "p", "change_request_sha256": "c"}
    with pytest.raises(LedgerError):
        record_assessment(ledger_path, assessment)
    assert _events(ledger_path) == before  # no change.assessed (the old code appended one, then refused the transition)


def test_a_new_or_scheduled_change_may_still_be_assessed(ledger_path, tmp_path):
    assert check_assessable(ledger_path, "CHG-1")["state"] == "scheduled"
    assert check_assessable(ledger_path, "CHG-NEW") is None
    assert check_assessable(str(tmp_path / "no-ledger.sqlite"), "CHG-1") is None


# ---------------------------------------------------------------------------------------------- plan
def test_plan_of_a_change_in_implement_names_its_devices_and_references(ledger_path):
    _implement(ledger_path)
    plan = recovery.plan(ledger_path, "CHG-1")
    assert plan["recover"] and plan["hosts"] == ["r2"] and plan["missing"] == {} and plan["locks"] == ["r2"]
    assert plan["devices"]["r2"]["backup"] == ref("a") and plan["devices"]["r2"]["pre_snapshot"] == ref("b")
    assert plan["run_alive"] is None  # the run was on another controller: it cannot be told from here


def test_plan_refuses_while_the_deploying_run_is_alive_unless_forced(ledger_path):
    _implement(ledger_path, run=recovery.current_run())  # this process's parent (as ansible-playbook is a worker's): alive
    before = _events(ledger_path)
    with pytest.raises(LedgerError) as info:
        recovery.plan(ledger_path, "CHG-1")
    assert "still alive" in str(info.value)
    assert recovery.plan(ledger_path, "CHG-1", force=True)["recover"]
    assert _events(ledger_path) == before


def test_plan_of_a_dead_run_on_this_controller(ledger_path):
    proc = subprocess.Popen(["sleep", "0"])
    proc.wait()
    _implement(ledger_path, run=dict(recovery.current_run(), pid=proc.pid, started=None))
    assert recovery.plan(ledger_path, "CHG-1")["run_alive"] is False


def test_a_reused_pid_is_not_the_run():
    run = dict(recovery.current_run(), pid=os.getpid())
    assert recovery.run_alive(dict(run, started=recovery._start_ticks(os.getpid()))) is True  # pylint: disable=protected-access
    assert recovery.run_alive(dict(run, started=1)) is False


def test_plan_refuses_a_change_that_never_reached_implement(ledger_path):
    with pytest.raises(LedgerError) as info:
        recovery.plan(ledger_path, "CHG-1")
    assert "is in scheduled, not implement" in str(info.value) and "no device was touched" in str(info.value)


def test_plan_reports_a_device_without_references(ledger_path):
    record_stage_start(ledger_path, "CHG-1", "deploy", ["r2"], REFS)
    with SqliteLedger(ledger_path) as ledger:
        ledger.transition("CHG-1", "implement", "svc-ci")
        ledger.append_event("CHG-1", "stage.refs", "t", {"stage": "deploy", "refs": {"deployed": ["r2", "r9"]}})
    plan = recovery.plan(ledger_path, "CHG-1")
    assert plan["hosts"] == ["r2", "r9"] and plan["missing"] == {"r9": "no backup or pre snapshot reference in the ledger"}


# ---------------------------------------------------------------------------------------------- record and decide
def _result(verdict, action="restored"):
    return {"device": "r2", "verdict": verdict, "action": action, "verify": {"passed": verdict != recovery.RECOVERY_FAILED}}


def test_record_closes_only_when_every_device_is_recovered(ledger_path):
    _implement(ledger_path)
    decision = recovery.record(ledger_path, "CHG-1", {"r2": _result(recovery.RECOVERED_RESTORED)})
    assert decision["recovered"] and decision["close"] and decision["release_locks"] and decision["outcome"] == "unsuccessful"
    assert "r2 restored from the backup" in decision["reason"]
    kinds = [e["kind"] for e in _events(ledger_path)]
    assert kinds[-2:] == ["recovery.device", "recovery.result"]
    assert _events(ledger_path)[-2]["data"]["verdict"] == "recovered_restored"


def test_a_failed_device_keeps_the_change_open_and_locked(ledger_path):
    _implement(ledger_path)
    decision = recovery.record(ledger_path, "CHG-1", {"r2": {"failed": True, "msg": "unreachable"}}, missing={"r9": "no backup"})
    assert not decision["recovered"] and not decision["close"] and not decision["release_locks"]
    assert decision["failed"] == ["r2", "r9"] and decision["verdicts"] == {"r2": "recovery_failed", "r9": "recovery_failed"}
    assert "stays in implement" in decision["reason"]


def test_record_after_the_change_left_implement_appends_nothing(ledger_path):
    before = _events(ledger_path)
    with pytest.raises(LedgerError):
        recovery.record(ledger_path, "CHG-1", {"r2": _result(recovery.RECOVERED_CONFIRMED, "confirmed")})
    assert _events(ledger_path) == before


def test_plan_of_a_closed_change_is_a_no_op_and_the_cli_appends_nothing(ledger_path):
    _implement(ledger_path)
    recovery.record(ledger_path, "CHG-1", {"r2": _result(recovery.RECOVERED_RESTORED)})
    with SqliteLedger(ledger_path) as ledger:
        ledger.transition("CHG-1", "review", "t")
        ledger.transition("CHG-1", "closed", "t", close_code="unsuccessful")
        ledger.release_locks("CHG-1")
    before = _events(ledger_path)
    plan = recovery.plan(ledger_path, "CHG-1")
    assert not plan["recover"] and "already closed (unsuccessful)" in plan["reason"] and "recovered at" in plan["reason"]
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["recover", "CHG-1", "--ledger", ledger_path], out=out, err=err) == 0
    assert "nothing to recover" in out.getvalue()
    assert _events(ledger_path) == before


def test_cli_refusal_names_the_state_and_appends_nothing(ledger_path):
    before = _events(ledger_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["recover", "CHG-1", "--ledger", ledger_path], out=out, err=err) == 2
    assert "is in scheduled, not implement" in err.getvalue() and "Traceback" not in err.getvalue()
    assert _events(ledger_path) == before


# ---------------------------------------------------------------------------------------------- one device (a fake platform)
class FakeDevice(Platform):
    """A platform whose device is a dict: running config, timer state; restore sets the running config."""

    name = "frr"

    def __init__(self, running, timer="none", restore_fails=False):
        super().__init__(transport=None, device="r2", state_dir="/tmp/gc-fake")
        self.running, self.timer, self.restore_fails, self.calls = running, timer, restore_fails, []

    def normalize(self, text):
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def read_config(self):
        return self.running

    def confirm_status(self):
        return {"state": self.timer}

    def cancel_timer(self):
        self.calls.append("cancel")
        self.timer = "cancelled"
        return "claimed"

    def restore(self, backup_text, attempts=2):
        self.calls.append("restore")
        if self.restore_fails:
            raise DeviceError("Read-only file system", where="r2: restore", fix="escalate.")
        self.timer, self.running = "cancelled", backup_text
        return {"verified": True, "attempts": 1, "elapsed": 0.1, "sha256": "s"}


BACKUP = "hostname r2\ninterface lo\n ip address 10.255.0.2/32\n"


def _snapshots(tmp_path, device):
    pre = {"device": "r2", "platform": "frr", "sections": {"peers": {}, "routes": {"10.255.0.2/32": {}},
                                                           "config": {"running": {"sha256": "same"}}}}
    pre_ref = statestore.put(str(tmp_path / "store"), pre, "snapshot")

    def snap():
        post = dict(pre, sections=dict(pre["sections"], config={"running": {"sha256": "same" if device.running == BACKUP else "other"}}))
        return post
    return pre_ref, snap


def test_a_device_holding_the_change_is_restored_and_verified(tmp_path):
    device = FakeDevice(BACKUP + " ip address 192.0.2.2/32\n", timer="armed")
    pre, snap = _snapshots(tmp_path, device)
    out = recovery.recover_device(device, BACKUP, pre, snap, candidate=["interface lo", " ip address 192.0.2.2/32"],
                                  settle_timeout=1, settle_interval=0.1)
    assert out["verdict"] == recovery.RECOVERED_RESTORED and out["action"] == "restored" and device.calls == ["restore"]
    assert out["running_equals_backup"] is False and out["change_on_device"] == "all" and out["verify"]["passed"]


def test_a_device_the_timer_already_reverted_is_confirmed_without_a_restore(tmp_path):
    device = FakeDevice(BACKUP, timer="reverted")
    pre, snap = _snapshots(tmp_path, device)
    out = recovery.recover_device(device, BACKUP, pre, snap, candidate=["interface lo", " ip address 192.0.2.2/32"],
                                  settle_timeout=1, settle_interval=0.1)
    assert out["verdict"] == recovery.RECOVERED_CONFIRMED and device.calls == [] and out["change_on_device"] == "none"


def test_an_armed_timer_on_an_unchanged_device_is_disarmed(tmp_path):
    device = FakeDevice(BACKUP, timer="armed")
    pre, snap = _snapshots(tmp_path, device)
    out = recovery.recover_device(device, BACKUP, pre, snap, settle_timeout=1, settle_interval=0.1)
    assert out["verdict"] == recovery.RECOVERED_CONFIRMED and device.calls == ["cancel"]


def test_a_failed_restore_is_a_failed_recovery_with_the_device_error(tmp_path):
    device = FakeDevice(BACKUP + " ip address 192.0.2.2/32\n", restore_fails=True)
    pre, snap = _snapshots(tmp_path, device)
    out = recovery.recover_device(device, BACKUP, pre, snap, settle_timeout=1, settle_interval=0.1)
    assert out["verdict"] == recovery.RECOVERY_FAILED and "Read-only file system" in out["error"]["message"]


def test_a_state_that_differs_from_the_pre_snapshot_fails_the_recovery(tmp_path):
    device = FakeDevice(BACKUP)
    pre, _snap = _snapshots(tmp_path, device)

    def other():
        doc = statestore.get(pre)
        doc["sections"]["routes"] = {}  # a route lost
        return doc
    out = recovery.recover_device(device, BACKUP, pre, other, settle_timeout=0.3, settle_interval=0.1)
    assert out["verdict"] == recovery.RECOVERY_FAILED and out["verify"]["failed_checks"] == ["r2/same_routes"]


def test_probes_are_verified_only_when_the_pre_snapshot_has_some():
    names = [c["name"] for c in recovery.restore_checks({"sections": {}}, "linux")]
    assert names == ["same_rules"]
    assert "same_probes" in [c["name"] for c in recovery.restore_checks({"sections": {"probes": {"p": {"result": "ok"}}}}, "linux")]
    assert [c["name"] for c in recovery.restore_checks({"sections": {}}, "frr")] == ["same_established_peers", "same_routes", "same_config"]


def test_the_cli_runs_the_collection_playbook():
    argv = recovery.playbook_argv("/tmp/x/ledger.sqlite", "CHG-1", inventories=["inv.yml"], extra_vars=["a=b"])
    assert argv[1].endswith(os.path.join("playbooks", "recover.yml")) and os.path.isfile(argv[1])
    assert argv[argv.index("-i") + 1] == "inv.yml" and argv[-1] == "a=b" and '"governed_recover_change": "CHG-1"' in argv[3]
