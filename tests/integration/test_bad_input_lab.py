"""Hostile change requests through the real assess stage (ansible-playbook playbooks/assess.yml) on an own lab instance.

Each run must fail the task cleanly (the plugin's message with the field and the fix, no traceback), quickly, without
writing an assessment or opening a ledger, and leave the devices' running configs as they were. The full table of
bad inputs runs in-process in tests/unit/plugins/module_utils/test_bad_input.py.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import yaml

from labfixture import ROOT, lab_session, lab_ssh_argv, run_env

LAB_ENV = {"GC_LAB_PREFIX": "k3-", "GC_LAB_PORT_BASE": "26300", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k3")}
R2_CLI = int(LAB_ENV["GC_LAB_PORT_BASE"]) + 2
GOOD = {"id": "CHG-3001", "title": "Blackhole 10.9.0.0/16 on r2", "description": "Drop traffic to a retired range.",
        "author": "carol", "type": "normal", "category": "other", "targets": ["r2"],
        "config": {"r2": {"lines": ["ip route 10.9.0.0/16 blackhole"]}}}
BOMB = "\n".join(
    ["id: CHG-3002", "title: bomb", "description: d", "author: carol", "type: normal", "category: other", "targets: [r2]",
     "config:", "  r2:", "    template: t.j2", "    vars:", '      a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + ["      a%d: &a%d [%s]" % (n, n, ",".join(["*a%d" % (n - 1)] * 9)) for n in range(1, 9)]
    + ["      a9: [%s]" % ",".join(["*a8"] * 9), ""])


@pytest.fixture(scope="module")
def k3_env():
    """This module's own lab (k3-, ports 263xx), torn down on every exit path."""
    env = run_env(LAB_ENV)
    session = lab_session(env=env)
    for _status in session:  # up once; closing the session runs its `lab down` on every exit path
        try:
            yield env
        finally:
            session.close()


def r2_config():
    argv = lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], R2_CLI) + ["show running-config"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def assess(env, change_path, out):
    started = time.monotonic()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "playbooks/assess.yml",
                           "-e", "governed_change_request=%s" % change_path, "-e", "governed_output_dir=%s" % out],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    return proc, time.monotonic() - started


def write_change(tmp_path, name, doc=None, text=None):
    path = tmp_path / name
    path.write_text(text if text is not None else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(path)


def test_the_good_change_assesses_on_this_lab(k3_env, tmp_path):
    """The control: the same change without the defect assesses against the real r2 and opens a record."""
    proc, _elapsed = assess(k3_env, write_change(tmp_path, "good.yml", GOOD), tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "out" / "assessments" / "CHG-3001.assessment.json").exists()
    assert (tmp_path / "out" / "ledger.sqlite").exists()


CASES = [
    ("alias_bomb", lambda tmp: write_change(tmp, "bomb.yml", text=BOMB), "anchors and aliases are not accepted", "bomb.yml:12"),
    ("dotdot_id", lambda tmp: write_change(tmp, "dotdot.yml", dict(GOOD, id="..")), "has invalid characters", "id"),
    ("bad_ipv4", lambda tmp: write_change(tmp, "ip.yml", dict(GOOD, config={"r2": {"lines": ["ip route 999.1.1.0/24 blackhole"]}})),
     "'999.1.1.0/24' is not a valid IPv4 prefix", "config.r2.lines[0]"),
    ("huge_title", lambda tmp: write_change(tmp, "title.yml", dict(GOOD, title="x" * 1000000)), "the limit is 200", "title"),
    ("duplicate_author", lambda tmp: write_change(tmp, "dup.yml", text=yaml.safe_dump(GOOD, sort_keys=False) + "author: dave\n"),
     "'author' appears twice", "dup.yml:"),
    ("fifo", lambda tmp: (os.mkfifo(str(tmp / "fifo.yml")), str(tmp / "fifo.yml"))[1], "is a named pipe (FIFO)", "fifo.yml"),
]


@pytest.mark.parametrize("make,expect,field", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_change_request_fails_the_task_cleanly(k3_env, tmp_path, make, expect, field):
    before = r2_config()
    out = tmp_path / "out"
    proc, elapsed = assess(k3_env, make(tmp_path), out)
    assert proc.returncode != 0
    assert "governed.change.assess:" in proc.stdout and expect in proc.stdout and field in proc.stdout, proc.stdout[-3000:]
    assert "Fix:" in proc.stdout and "Traceback" not in proc.stdout and "MemoryError" not in proc.stdout
    assert len(proc.stdout) < 20000, "the refusal echoed the input"
    assert elapsed < 60, "%.0f s to refuse" % elapsed
    assert not (out / "ledger.sqlite").exists(), "a refused change request opened a record"
    assert not (out / "assessments").exists() or not os.listdir(str(out / "assessments"))
    assert r2_config() == before
