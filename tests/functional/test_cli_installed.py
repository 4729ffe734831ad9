# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed governed-change command (the venv's entry point) as a subprocess (functional tier)."""

from __future__ import annotations

import os
import subprocess

import pytest

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


def test_ledger_show_into_a_closed_pipe_ends_quietly(tmp_path):
    ledger = str(tmp_path / "ledger.db")
    with SqliteLedger(ledger) as led:
        led.create_change("CHG-1001", "Tighten BGP import policy on r2", "dave")
        led.set_assessment("CHG-1001", "high", "d" * 64, "assess")
        led.append_events(("CHG-1001", "note", "x", {"i": i, "pad": "p" * 200}) for i in range(400))
    cli = os.path.join(ROOT, ".venv", "bin", "governed-change")
    if not os.path.exists(cli):
        pytest.skip("needs the governed-change entry point of the venv")
    proc = subprocess.run("%s ledger show CHG-1001 --ledger %s | head -n 2" % (cli, ledger), shell=True,
                          capture_output=True, text=True, timeout=60, check=False)
    assert len(proc.stdout.splitlines()) == 2 and proc.stdout.startswith("CHG-1001")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
