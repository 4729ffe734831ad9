# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commit-confirmed timer's shell, run for real with /bin/sh (dash on Debian) in a temporary state folder:
a confirm kills the timer, and a timer that outlived its claim never fires on a later change's marker."""

from __future__ import annotations

import os
import subprocess
import time

from ansible_collections.governed.change.plugins.module_utils.platforms import base


class LocalShell(base.Transport):
    """Runs the device-side shell locally with /bin/sh, as the device host's sh would."""

    device = "local"

    def run(self, command, stdin=None, timeout=None, check=True):
        start = time.time()
        proc = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=timeout or 30, check=False)
        return base.CommandResult(command, proc.returncode, proc.stdout, proc.stderr, time.time() - start)


class Recorder(base.Platform):
    """A platform whose 'restore' appends a line to restored.log, so a firing timer is visible."""

    name = "recorder"

    def restore_command(self, backup_path):
        return "sh -c %s" % base.q("echo restored >> %s" % base.q(self.path("restored.log")))

    def restore_file_text(self, backup_text):
        return backup_text


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        return handle.read().split()[2] != "Z"


def _wait_gone(pid, limit=15.0):
    """Until the process has ended (a loaded machine may wake a 1 s timer late); the test fails after ``limit``."""
    deadline = time.monotonic() + limit
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _arm(platform, seconds):
    out = platform._run(platform.arm_command(seconds)).stdout  # pylint: disable=protected-access
    assert out.startswith("armed ")
    return int(out.split()[1])


def test_confirm_kills_the_timer_and_nothing_is_restored(tmp_path):
    platform = Recorder(LocalShell(), "r1", str(tmp_path))
    pid = _arm(platform, 1)
    assert platform.confirm_status()["state"] == "armed" and _alive(pid)
    assert platform.confirm() == {"confirmed": True, "state": "confirmed"}
    _wait_gone(pid, limit=0.9)  # killed at once, well before the 1 s timer would wake up by itself
    assert not _alive(pid)  # dash's kill: `kill -TERM -PGID` (it refuses `--`)
    time.sleep(1.2)
    assert not (tmp_path / "restored.log").exists()
    assert platform.confirm_status()["state"] == "confirmed"


def test_a_surviving_timer_never_fires_on_a_later_changes_marker(tmp_path):
    platform = Recorder(LocalShell(), "r1", str(tmp_path))
    old = _arm(platform, 1)
    os.rename(str(tmp_path / base.ARMED), str(tmp_path / base.CONFIRMED))  # claimed, but (say) the kill was lost
    new = _arm(platform, 30)  # the next change arms its own timer in the same folder
    _wait_gone(old)  # the old timer wakes up after 1 s, finds a marker that is not its own, and leaves it
    assert not (tmp_path / "restored.log").exists()
    status = platform.confirm_status()
    assert status["state"] == "armed" and status["pid"] == new and not _alive(old)
    assert platform.cancel_timer() == "claimed"
    _wait_gone(new)
    assert not _alive(new) and not (tmp_path / "restored.log").exists()


def test_an_unclaimed_timer_fires_once(tmp_path):
    platform = Recorder(LocalShell(), "r1", str(tmp_path))
    _arm(platform, 1)
    deadline = time.time() + 5
    while time.time() < deadline and platform.confirm_status()["state"] != "reverted":
        time.sleep(0.2)
    assert platform.confirm_status()["state"] == "reverted"
    assert (tmp_path / "restored.log").read_text() == "restored\n"
