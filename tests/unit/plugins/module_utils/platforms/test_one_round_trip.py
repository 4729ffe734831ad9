# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy (arm + merge + read back) and restore (disarm + read + restore + read back) each in one round trip to the
device, run for real with /bin/sh in a temporary state folder whose running config is a file."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms import base

SECRET = "neighbor 10.0.0.2 password SeCrEt\n"


class LocalShell(base.Transport):
    """Runs the device-side shell locally with /bin/sh and counts the round trips."""

    device = "local"

    def __init__(self):
        self.calls = []

    def run(self, command, stdin=None, timeout=None, check=True):
        self.calls.append((command, stdin))
        start = time.time()
        proc = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=timeout or 30, check=False)
        if check and proc.returncode != 0:
            raise DeviceError("rc %d: %s" % (proc.returncode, proc.stderr), where=self.device)
        return base.CommandResult(command, proc.returncode, proc.stdout, proc.stderr, time.time() - start)


class FileConfig(base.Platform):
    """A device whose running config is running.cfg in its state folder; a merge appends, a restore copies."""

    name = "fileconfig"

    def read_config_command(self):
        return "cat %s" % self.qpath("running.cfg")

    def normalize(self, text):
        return text

    def deploy_command(self, change_path):
        return "if grep -q refuse %s; then echo '%% refused' >&2; exit 3; fi; cat %s >> %s" % (
            base.q(change_path), base.q(change_path), self.qpath("running.cfg"))

    def restore_command(self, backup_path):
        return "cp %s %s" % (base.q(backup_path), self.qpath("running.cfg"))


@pytest.fixture(name="device")
def _device(tmp_path):
    with open(tmp_path / "running.cfg", "w", encoding="utf-8") as handle:
        handle.write("hostname r1\n" + SECRET)
    shell = LocalShell()
    yield FileConfig(shell, "r1", state_dir=str(tmp_path)), shell, tmp_path
    armed = tmp_path / base.ARMED
    if armed.exists():  # never leave a timer behind
        subprocess.run(["/bin/sh", "-c", "kill -TERM -$(cut -d' ' -f1 %s) 2>/dev/null" % armed], check=False)


def _read(path, name):
    with open(os.path.join(path, name), encoding="utf-8") as handle:
        return handle.read()


def test_deploy_arms_merges_and_reads_back_in_one_round_trip(device):
    drv, shell, path = device
    before = _read(path, "running.cfg")
    res = drv.deploy_confirmed(["router bgp 65001", " neighbor 10.0.12.2 description r2"], 60, before)
    assert len(shell.calls) == 1
    assert res["confirm"]["armed"] is True and res["confirm"]["seconds"] == 60
    assert res["after"] == before + "router bgp 65001\n neighbor 10.0.12.2 description r2\n" == _read(path, "running.cfg")
    assert _read(path, base.BACKUP_FILE) == before  # what the timer restores
    assert os.path.exists(os.path.join(path, base.ARMED))
    assert not [name for name in os.listdir(path) if name.startswith("change-")]  # the change file is removed
    command, stdin = shell.calls[0]
    assert "SeCrEt" not in command and "SeCrEt" in stdin  # config text travels on stdin only


def test_deploy_without_a_timer_merges_only(device):
    drv, shell, path = device
    res = drv.deploy_confirmed(["line a"], None, "ignored")
    assert len(shell.calls) == 1 and res["confirm"] == {"armed": False}
    assert _read(path, "running.cfg").endswith("line a\n")
    assert not os.path.exists(os.path.join(path, base.ARMED)) and not os.path.exists(os.path.join(path, base.BACKUP_FILE))


def test_a_refused_change_is_a_device_error_that_says_the_timer_is_armed(device):
    drv, _shell, path = device
    with pytest.raises(DeviceError) as caught:
        drv.deploy_confirmed(["refuse me"], 60, "backup\n")
    assert caught.value.confirm["armed"] is True
    assert "refused" in str(caught.value)
    assert os.path.exists(os.path.join(path, base.ARMED))  # the timer will revert whatever was half applied


def test_the_change_is_not_applied_when_the_timer_does_not_start(device, monkeypatch):
    drv, _shell, path = device
    monkeypatch.setattr(FileConfig, "arm_command", lambda self, seconds: "echo 'setsid: not found' >&2; exit 127")
    before = _read(path, "running.cfg")
    with pytest.raises(DeviceError) as caught:
        drv.deploy_confirmed(["line a"], 60, before)
    assert caught.value.confirm == {"armed": False}
    assert "did not start" in str(caught.value) and "setsid" in str(caught.value)
    assert _read(path, "running.cfg") == before


def test_deploy_refuses_a_short_timer(device):
    drv, shell, _path = device
    with pytest.raises(ValidationError) as caught:
        drv.deploy_confirmed(["line a"], 2, "x")
    assert "confirm_timeout" in str(caught.value) and not shell.calls


def test_restore_disarms_reads_restores_and_verifies_in_one_round_trip(device):
    drv, shell, path = device
    backup = _read(path, "running.cfg")
    drv.deploy_confirmed(["bad line"], 60, backup)
    pid = int(_read(path, base.ARMED).split()[0])
    shell.calls.clear()
    res = drv.restore(backup)
    assert len(shell.calls) == 1
    assert res["verified"] is True and res["attempts"] == 1
    assert res["before"] == backup + "bad line\n"  # the running config as it was, for the diff
    assert _read(path, "running.cfg") == backup
    assert not os.path.exists(os.path.join(path, base.ARMED)) and os.path.exists(os.path.join(path, base.CANCELLED))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["kill", "-0", str(pid)], capture_output=True, check=False).returncode == 0:
        time.sleep(0.05)
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True, check=False).returncode != 0  # the timer is gone


def test_restore_waits_for_a_timer_that_is_already_restoring(device):
    drv, _shell, path = device
    backup = _read(path, "running.cfg")
    firing = os.path.join(path, base.FIRING)
    with open(firing, "w", encoding="utf-8") as handle:
        handle.write("1 0\n")
    done = []

    def finish():
        time.sleep(0.6)
        done.append(time.monotonic())
        os.remove(firing)

    thread = threading.Thread(target=finish)
    thread.start()
    res = drv.restore(backup)
    thread.join()
    assert res["verified"] is True and done


def test_a_restore_that_does_not_give_back_the_backup_fails_after_its_attempts(device, monkeypatch):
    drv, shell, _path = device
    monkeypatch.setattr(FileConfig, "restore_command", lambda self, path: "echo 'frr-reload: error' >&2; exit 1")
    with pytest.raises(DeviceError) as caught:
        drv.restore("something else\n")
    assert len(shell.calls) == 2 and "frr-reload: error" in str(caught.value) and "still differs" in str(caught.value)
