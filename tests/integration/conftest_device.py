"""Fixtures of the device-stage tests: an own lab instance (ge-, ports 252xx), playbook runs, device reads."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from labfixture import ROOT, lab_session, lab_ssh_argv, run_env

LAB_ENV = {"GC_LAB_PREFIX": "ge-", "GC_LAB_PORT_BASE": "25200", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-ge")}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13, "fw1": PORT_BASE + 4}
PLAYBOOK = "playbooks/device_stages_demo.yml"


@pytest.fixture(scope="module")
def device_lab():
    """This module's own lab instance (never the session `lab`), torn down on every exit path."""
    env = dict(os.environ, **LAB_ENV)
    yield from lab_session(env=env)


@pytest.fixture(scope="module")
def device_env(device_lab):  # pylint: disable=unused-argument,redefined-outer-name
    env = run_env(LAB_ENV, keep_ledger=True)
    return env


def host_shell(device, command, stdin=None):
    """One command in a device's host shell (routers: inside the router's namespaces, FRR_VTY_DIR set)."""
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [command],
                          input=stdin, capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def running_config(device):
    if device == "fw1":
        return host_shell(device, "nft list ruleset")
    return host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def run_change(env, tmp_path, name, change):
    """Run the device-stages playbook for one change; returns (CompletedProcess, results dict)."""
    out = tmp_path / ("%s.json" % name)
    data = dict(change, gc_out=str(out), gc_store=str(tmp_path / "store"))
    vars_file = tmp_path / ("%s.vars.yml" % name)
    vars_file.write_text(yaml.safe_dump(data))
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), PLAYBOOK, "-e", "@%s" % vars_file],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert out.exists(), proc.stdout[-4000:]
    return proc, json.loads(out.read_text())
