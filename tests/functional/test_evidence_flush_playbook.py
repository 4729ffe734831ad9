# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence callback in a real ansible-playbook run killed by SIGKILL right after a device task: the task events
are already in the ledger (functional tier)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from evidence_support import CHANGE, ROOT, VENV_BIN, scheduled_change

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


def test_a_run_killed_after_a_device_task_keeps_its_task_events(tmp_path):
    """The evidence callback appends its buffer before and after a device-changing task: a SIGKILL after it loses nothing."""
    ledger, _out = scheduled_change(tmp_path)
    tasks = [{"name": "Before the device stage", "ansible.builtin.debug": {"msg": "hello"}},
             # a device-changing task (it fails fast: nothing listens on the port); its result is appended at once
             {"name": "Confirm on a device", "ignore_errors": True,
              "governed.change.confirm": {"platform": "frr", "state_dir": "/tmp/gc-none", "port": 9, "retries": 0, "connect_timeout": 1}},
             {"name": "A long step (the controller dies here)", "ansible.builtin.wait_for": {"timeout": 15}},
             {"name": "Never reached", "ansible.builtin.debug": {"msg": "no"}}]
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": tasks,
                                "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}}]))
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")

    def recorded():
        with SqliteLedger(ledger) as led:
            return [(e["data"]["task"], e["data"]["status"]) for e in led.events(change_id=CHANGE) if e["kind"] == "task"]

    with open(tmp_path / "play.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", str(path), "-e",
                                 "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger],
                                cwd=str(tmp_path), env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ("Confirm on a device", "failed") not in recorded() and proc.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # with batches of 50 and no flush around device tasks, both events would have died with the controller
    assert recorded() == [("Before the device stage", "ok"), ("Confirm on a device", "failed")], (tmp_path / "play.log").read_text()
    with SqliteLedger(ledger) as led:
        assert led.verify()["ok"]
