# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash recovery: end a change whose run died while it was in "implement" (controller killed mid-deploy).

The ledger says what the dead run was about to touch ("stage.started": devices, candidate lines, the run) and how to
restore each device ("stage.refs": backup and pre-change snapshot). ``plan`` reads that (read-only), ``recover_device``
inspects one device against it - the commit-confirmed timer, the running config against the backup and the candidate -
restores the backup exactly where the device differs or confirms it already equals it, then verifies the state against
the pre-change snapshot; ``record`` appends the verdicts and decides whether the change can be closed and its locks
released. One core for governed-change recover and playbooks/recover.yml.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

from ansible_collections.governed.change.plugins.module_utils import checks as checks_core
from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, GovernedChangeError, LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import FINAL_STATES, is_database_url, ledger_exists, ledger_location, open_ledger
from ansible_collections.governed.change.plugins.module_utils.records import STAGE_STARTED_EVENT, load_stage_refs, stage_starts

RECOVERED_RESTORED = "recovered_restored"    # the device differed from its backup: restored exactly, state verified
RECOVERED_CONFIRMED = "recovered_confirmed"  # the device already equalled its backup (e.g. the timer reverted it), verified
RECOVERY_FAILED = "recovery_failed"          # not restored, or the state differs from the pre-change snapshot
VERDICTS = (RECOVERED_RESTORED, RECOVERED_CONFIRMED, RECOVERY_FAILED)

DEVICE_EVENT = "recovery.device"
RESULT_EVENT = "recovery.result"
RECOVER_STATE = "implement"  # the only state a dead run can leave a change in with devices possibly changed

# The state that must equal the pre-change snapshot after a restore (the same as the rollback stage proves).
RESTORE_CHECKS = tuple(checks_core.same_as_pre_checks())  # one list: module_utils/checks.py


# ---------------------------------------------------------------------------------------------- the run
def _start_ticks(pid):
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22): tells a reused pid apart; None off Linux."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def current_run():
    """The run doing this stage: controller host name and the ansible-playbook process (pid and start time).

    Called in an Ansible worker, which is a forked child of ansible-playbook in a session of its own: the parent is the run.
    """
    pid = os.getppid()
    return {"controller": socket.gethostname(), "pid": pid, "started": _start_ticks(pid), "worker_pid": os.getpid()}


def run_alive(run):
    """True/False when the run was on this controller (its process still exists or not); None when it cannot be told."""
    if not isinstance(run, dict) or run.get("controller") != socket.gethostname() or not isinstance(run.get("pid"), int):
        return None
    try:
        os.kill(run["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _start_ticks(run["pid"])
    if run.get("started") is not None and started is not None and started != run["started"]:
        return False  # the pid was reused by another process
    return True


# ---------------------------------------------------------------------------------------------- plan (read-only)
def _refuse_state(change, where):
    state, cid = change["state"], change["id"]
    if state == "review":
        fix = "its deploy is over (verified or rolled back): run the close stage (playbooks/close.yml) to end it."
    else:
        fix = ("no device was touched (it never reached implement): re-run the pipeline, or close it as canceled "
               "(playbooks/close.yml with governed_outcome=canceled); `governed-change ledger break-lock` frees a lease.")
    raise LedgerError("change %s is in %s, not implement: there is nothing to recover (nothing was recorded)." % (cid, state),
                      where=where, fix=fix)


def _hosts(starts, refs, locked):
    hosts = []
    for start in starts:
        hosts.extend(h for h in start.get("hosts") or [] if h not in hosts)
    hosts.extend(h for h in refs["deployed"] + refs["failed_hosts"] if h not in hosts)
    if not hosts:  # a ledger from before stage.started: the change's leased devices are the ones it may have touched
        hosts = [h for h in locked if h in refs["backups"]]
    return hosts


def _read_change(ledger_path, change_id, where):
    """The change row, its events and the devices it leases, from a verified ledger (refused when missing or tampered)."""
    if not ledger_exists(ledger_path):
        raise LedgerError("the ledger file does not exist.", where=where, fix="pass the ledger the change was recorded in.")
    with open_ledger(ledger_path, readonly=True) as ledger:
        change = ledger.check_change(change_id)  # refuses a tampered ledger with the seq
        if change is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where=where, fix="check the change id and --ledger.")
        events = ledger.events(change_id=change_id)
        locked = [lock["device"] for lock in ledger.locks() if lock["change_id"] == change_id]
    return change, events, locked


def _final_reason(change_id, change, events):
    """Why a final change has nothing to recover (with the time of an earlier recovery)."""
    done = [e for e in events if e["kind"] == RESULT_EVENT]
    return "change %s is already %s%s%s: nothing to recover." % (
        change_id, change["state"], " (%s)" % change["close_code"] if change["close_code"] else "",
        "; recovered at %s" % done[-1]["ts"] if done else "")


def _refuse_no_hosts(change_id, where):
    raise LedgerError("change %s is in implement but the ledger names no device it touched (no stage.started, no "
                      "deployed hosts, no leased device with a backup)." % change_id, where=where,
                      fix="inspect the targets by hand against their backups, restore them, then close the change and "
                          "break its leases (`governed-change ledger break-lock DEVICE --reason ...`).")


def _refuse_alive(start, run, where):
    raise LedgerError("the run that started the %s stage is still alive (ansible-playbook pid %s on %s)." % (
        start.get("stage"), run.get("pid"), run.get("controller")), where=where,
        fix="let it finish, or stop it first; recover only a run that died (--force / governed_recover_force "
            "overrides this check).")


def _plan_devices(out, hosts, starts, refs):
    """Each host's backup, pre-snapshot and candidate references into out["devices"]; what is missing into out["missing"]."""
    candidates = {}
    for start in starts:
        candidates.update(start.get("candidates") or {})
    for host in hosts:
        device = {"backup": refs["backups"].get(host), "pre_snapshot": refs["pre_snapshots"].get(host),
                  "candidate": (candidates.get(host) or {}).get("lines")}
        missing = [name for name in ("backup", "pre_snapshot") if not device[name]]
        if missing:
            out["missing"][host] = "no %s reference in the ledger" % " or ".join(m.replace("_", " ") for m in missing)
        out["devices"][host] = device


_RUN_STATUS = {False: "is gone", None: "cannot be checked from here", True: "is alive (forced)"}


def plan(ledger_path, change_id, force=False):
    """What ``recover`` does for ``change_id``, read from the ledger; nothing is written.

    Returns {change_id, state, recover (bool), reason, hosts, devices {host: {backup, pre_snapshot, candidate}},
    missing {host: what}, run, run_alive, locks}. A final change gives recover false (a no-op); any other state than
    implement, or a run still alive on this controller (unless ``force``), raises (nothing is recorded).
    """
    where = "ledger: %s" % ledger_path
    change, events, locked = _read_change(ledger_path, change_id, where)
    out = {"change_id": change_id, "state": change["state"], "close_code": change["close_code"], "recover": False,
           "hosts": [], "devices": {}, "missing": {}, "run": {}, "run_alive": None, "locks": locked}
    if change["state"] in FINAL_STATES:
        out["reason"] = _final_reason(change_id, change, events)
        return out
    if change["state"] != RECOVER_STATE:
        _refuse_state(change, where)
    starts = stage_starts(events)
    refs = load_stage_refs(ledger_path, change_id)
    hosts = _hosts(starts, refs, locked)
    if not hosts:
        _refuse_no_hosts(change_id, where)
    run = starts[-1].get("run") or {} if starts else {}
    alive = run_alive(run)
    if alive and not force:
        _refuse_alive(starts[-1], run, where)
    _plan_devices(out, hosts, starts, refs)
    out.update(recover=True, hosts=hosts, run=run, run_alive=alive,
               reason="change %s is in implement (its run %s): inspect %s against the ledger." % (
                   change_id, _RUN_STATUS.get(alive, _RUN_STATUS[True]), ", ".join(hosts)))
    return out


# ---------------------------------------------------------------------------------------------- one device
def restore_checks(pre, platform=None):
    """The platform's checks proving the state equals the pre-change snapshot (probes only when the snapshot has some)."""
    doc = statestore.load(pre) if pre is not None else {}
    has_probes = bool(((doc or {}).get("sections") or {}).get("probes"))
    return [dict(check) for check in RESTORE_CHECKS if (check["name"] != "same_probes" or has_probes) and (
        platform is None or check["platform"] == platform)]


def change_presence(candidate, running, backup):
    """How much of the candidate is on the device: all | some | none, or None when the candidate adds no line.

    Only the candidate's lines the backup lacked count (compared stripped, redacted on both sides).
    """
    if not candidate:
        return None
    from ansible_collections.governed.change.plugins.module_utils.redact import redact_text  # pylint: disable=import-outside-toplevel

    def stripped(text):
        return set(line.strip() for line in redact_text(text or "")[0].splitlines() if line.strip())

    before, now = stripped(backup), stripped(running)
    added = [line.strip() for line in candidate if line.strip() and line.strip() not in before]
    if not added:
        return None
    present = sum(1 for line in added if line in now)
    return "all" if present == len(added) else "some" if present else "none"


def classify(result):
    """The verdict of one device's recovery result."""
    if result.get("error") or not result.get("action"):
        return RECOVERY_FAILED
    if not (result.get("verify") or {}).get("passed"):
        return RECOVERY_FAILED
    return RECOVERED_RESTORED if result["action"] == "restored" else RECOVERED_CONFIRMED


def recover_device(driver, backup_text, pre, take_snapshot, candidate=None, settle_timeout=30.0, settle_interval=1.0):
    """Inspect one device against the ledger, restore or confirm, verify against ``pre``; returns the result.

    ``driver``: a platforms.Platform; ``take_snapshot()``: a fresh snapshot of the device. The result holds the timer
    state seen, running == backup, how much of the candidate was on the device, the action (restored | confirmed), the
    restore's numbers, the verification and the verdict; ``post`` is the last snapshot (for the caller to store).
    """
    out = {"device": driver.device, "platform": driver.name, "timer": None, "running_equals_backup": None,
           "change_on_device": None, "action": None, "restore": None, "verify": None, "error": None, "post": None}
    try:
        timer = driver.confirm_status()
        if timer.get("state") == "firing":  # the timer is restoring right now: let it finish, then look
            driver.wait_timer_done(driver.restore_timeout)
            timer = driver.confirm_status()
        out["timer"] = timer
        running = driver.read_config()
        equal = driver.normalize(running) == driver.normalize(backup_text)
        out["running_equals_backup"] = equal
        out["change_on_device"] = change_presence(candidate, running, backup_text)
        if equal:
            if timer.get("state") == "armed":  # nothing to revert: a timer firing later would only re-apply the backup
                driver.cancel_timer()
            out["action"] = "confirmed"
        else:
            restored = driver.restore(backup_text)  # disarms a pending timer first; exact (frr-reload.py / nft -f)
            out["action"] = "restored"
            out["restore"] = {"verified": restored["verified"], "attempts": restored["attempts"], "elapsed_s": restored["elapsed"],
                              "running_sha256": restored["sha256"]}
    except GovernedChangeError as exc:
        out["error"] = {"where": "inspect/restore", "message": str(exc), "transient": bool(getattr(exc, "transient", False))}
        out["verdict"] = RECOVERY_FAILED
        return out
    try:
        settle = checks_core.wait_until_settled(take_snapshot, restore_checks(pre, driver.name), settle_timeout, settle_interval, pre=pre)
    except GovernedChangeError as exc:
        out["error"] = {"where": "verify", "message": str(exc), "transient": isinstance(exc, DeviceError) and exc.transient}
        out["verdict"] = RECOVERY_FAILED
        return out
    run = settle["result"] or {"passed": False, "summary": {"failed_checks": ["(no snapshot could be taken)"]}}
    out["verify"] = {"passed": bool(run["passed"]), "failed_checks": run["summary"].get("failed_checks", []),
                     "attempts": settle["attempts"], "elapsed_s": settle["elapsed_s"]}
    if settle.get("last_error"):
        out["verify"]["last_error"] = settle["last_error"]
    out["post"] = settle["post"]
    out["verdict"] = classify(out)
    return out


# ---------------------------------------------------------------------------------------------- record and decide
def decide(verdicts, missing):
    """Close and release only when every device was recovered and verified; else keep the change open and locked."""
    failed = sorted(set(h for h, v in verdicts.items() if v != RECOVERED_RESTORED and v != RECOVERED_CONFIRMED) | set(missing))
    restored = sorted(h for h, v in verdicts.items() if v == RECOVERED_RESTORED)
    confirmed = sorted(h for h, v in verdicts.items() if v == RECOVERED_CONFIRMED)
    if failed:
        return {"recovered": False, "close": False, "release_locks": False, "outcome": None, "failed": failed,
                "restored": restored, "confirmed": confirmed,
                "reason": "recovery failed on %s: the change stays in implement and its devices stay locked; restore them by "
                          "hand (see each device's recovery event), then run recover again, or escalate." % ", ".join(failed)}
    parts = []
    if restored:
        parts.append("%s restored from the backup" % ", ".join(restored))
    if confirmed:
        parts.append("%s already equal to the backup (confirmed)" % ", ".join(confirmed))
    return {"recovered": True, "close": True, "release_locks": True, "outcome": "unsuccessful", "failed": [],
            "restored": restored, "confirmed": confirmed,
            "reason": "recovered after the run died in implement: %s; state verified against the pre-change snapshot." % "; ".join(parts)}


def _event_data(host, result):
    keep = ("device", "platform", "timer", "running_equals_backup", "change_on_device", "action", "restore", "verify", "error",
            "post_ref", "elapsed_s")
    data = {key: result.get(key) for key in keep if result.get(key) is not None}
    data["device"] = host
    data["verdict"] = result.get("verdict") if result.get("verdict") in VERDICTS else RECOVERY_FAILED
    return data


def record(ledger_path, change_id, results, missing=None, actor="governed.change.recover"):
    """Append one "recovery.device" event per device and a "recovery.result"; returns the decision (see ``decide``).

    ``results``: {host: recover_device result (a task result without a verdict counts as failed)}; ``missing``:
    {host: why it could not be inspected}. Refused (nothing appended) unless the change is still in implement.
    """
    if not isinstance(results, dict):
        raise ValidationError("must be a mapping of host to its recovery result.", where="results",
                              fix="pass {host: the governed.change.recover result}.")
    missing = dict(missing or {})
    items, verdicts = [], {}
    for host in sorted(results):
        result = results[host] if isinstance(results[host], dict) else {}
        if result.get("verdict") not in VERDICTS:  # the task did not run or broke before deciding
            result = dict(error={"where": "task", "message": str(result.get("msg") or "the device was not inspected")},
                          verdict=RECOVERY_FAILED)
        verdicts[host] = result["verdict"]
        items.append((change_id, DEVICE_EVENT, actor, _event_data(host, result)))
    for host, why in sorted(missing.items()):
        if host not in results:
            verdicts[host] = RECOVERY_FAILED
            data = {"device": host, "verdict": RECOVERY_FAILED, "error": {"where": "ledger", "message": why}}
            items.append((change_id, DEVICE_EVENT, actor, data))
    decision = decide(verdicts, list(missing))
    decision["verdicts"] = verdicts
    with open_ledger(ledger_path) as ledger:
        change = ledger.check_change(change_id)
        if change is None or change["state"] != RECOVER_STATE:
            raise LedgerError("change %s is %s, no longer implement: another run ended it meanwhile (nothing was recorded)." % (
                change_id, change["state"] if change else "not in the ledger"), where="ledger: %s" % ledger_path,
                fix="check `governed-change ledger show %s`." % change_id)
        ledger.append_events(items + [(change_id, RESULT_EVENT, actor, decision)])
    return decision


def summary(ledger_path, change_id):
    """The change's state, locks and last recovery result, from the ledger (read-only)."""
    with open_ledger(ledger_path, readonly=True) as ledger:
        change = ledger.check_change(change_id)
        events = ledger.events(change_id=change_id)
        locks = [lock["device"] for lock in ledger.locks() if lock["change_id"] == change_id]
    results = [e for e in events if e["kind"] == RESULT_EVENT]
    devices = {}
    for event in events:
        if event["kind"] == DEVICE_EVENT:
            devices[event["data"]["device"]] = event["data"]
    return {"change": change, "locks": locks, "result": results[-1]["data"] if results else None, "devices": devices,
            "started": [e["data"] for e in events if e["kind"] == STAGE_STARTED_EVENT]}


def summary_lines(result):
    """Human lines of ``summary``: the change's state and locks, each device's verdict, the decision."""
    change = result["change"] or {}
    lines = ["%s: %s%s; locks held: %s" % (change.get("id"), change.get("state"),
                                           " (%s)" % change["close_code"] if change.get("close_code") else "",
                                           ", ".join(result["locks"]) or "none")]
    for host, data in sorted(result["devices"].items()):
        timer = (data.get("timer") or {}).get("state")
        detail = ["timer %s" % timer] if timer else []
        if data.get("running_equals_backup") is not None:
            detail.append("running %s the backup" % ("equalled" if data["running_equals_backup"] else "differed from"))
        if data.get("change_on_device"):
            detail.append("change on the device: %s" % data["change_on_device"])
        if data.get("restore"):
            detail.append("restored in %ss" % data["restore"].get("elapsed_s"))
        if data.get("verify"):
            failed = ", ".join(data["verify"].get("failed_checks") or [])
            detail.append("pre-change state %s" % ("verified" if data["verify"].get("passed") else "DIFFERS (%s)" % failed))
        if data.get("error"):
            detail.append("error: %s" % data["error"].get("message"))
        lines.append("  %s: %s (%s)" % (host, data.get("verdict"), "; ".join(detail)))
    if result["result"]:
        lines.append(result["result"].get("reason") or "")
    return lines


def playbook_argv(ledger_path, change_id, inventories=(), extra_vars=(), force=False):
    """The ansible-playbook command running playbooks/recover.yml for the change (the ledger's folder as output dir)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    playbook = os.path.join(root, "playbooks", "recover.yml")
    if not os.path.isfile(playbook):
        playbook = "governed.change.recover"  # the installed collection's playbook
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.isfile(binary):
        binary = shutil.which("ansible-playbook")
    if not binary:
        raise ValidationError("ansible-playbook was not found.", where="PATH",
                              fix="install ansible-core in this Python environment (pip install ansible-core).")
    ledger_path = ledger_location(ledger_path)
    variables = {"governed_recover_change": change_id, "governed_ledger": ledger_path,
                 "governed_output_dir": os.getcwd() if is_database_url(ledger_path) else os.path.dirname(ledger_path), "governed_recover_force": bool(force)}
    argv = [binary, playbook, "-e", json.dumps(variables)]
    for inventory in inventories or ():
        argv += ["-i", inventory]
    for item in extra_vars or ():
        argv += ["-e", item]
    return argv


def run_playbook(ledger_path, change_id, inventories=(), extra_vars=(), force=False, timeout=1800):
    """Run playbooks/recover.yml; {rc, output, seconds}."""
    argv = playbook_argv(ledger_path, change_id, inventories, extra_vars, force)
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DeviceError("the recovery playbook did not finish within %d s." % timeout, where=" ".join(argv[:2]),
                          fix="check the devices' reachability; run the playbook by hand to see where it waits.") from exc
    return {"rc": proc.returncode, "output": proc.stdout, "seconds": round(time.monotonic() - started, 3)}
