# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A device action through a real ansible-playbook run against a closed port: the failed result carries attempts and
transient, bounded by the retries argument (functional tier)."""

from __future__ import annotations

import socket
import time

from play_runner import VENV_BIN, run


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_device_action_reports_attempts_and_transient(tmp_path):
    (tmp_path / "inventory.yml").write_text(
        "all:\n  hosts:\n    r9:\n      ansible_connection: local\n      ansible_python_interpreter: %s/python\n"
        "      ansible_host: 127.0.0.1\n      governed_host_port: %d\n      governed_platform: frr\n" % (VENV_BIN, free_port()))
    play = [{"hosts": "r9", "gather_facts": False, "tasks": [
        {"name": "backup", "governed.change.backup": {"retries": 2, "retry_delay": 0.1, "connect_timeout": 2, "store_dir": str(tmp_path / "store")}}]}]
    start = time.monotonic()
    rc, result, _doc, output = run(tmp_path, play, check=False)
    assert rc == 2 and result["failed"] is True, output[-2000:]
    assert result["attempts"] == 3 and result["transient"] is True and len(result["retried"]) == 2
    assert "after 3 attempt(s)" in result["msg"] and "Traceback" not in output
    assert time.monotonic() - start < 60
    play[0]["tasks"][0]["governed.change.backup"]["retries"] = 0
    rc, result, _doc, _output = run(tmp_path, play, check=False)
    assert rc == 2 and result["attempts"] == 1 and result["transient"] is True and "retried" not in result
