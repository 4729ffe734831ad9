"""Integration tests run against the real lab (FRR routers, nftables firewall, SSH on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess

import pytest

from labfixture import ROOT, lab_session, lab_ssh_argv


@pytest.fixture(scope="session")
def lab():
    yield from lab_session()


@pytest.fixture(scope="session")
def ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    return env


def run_playbook(playbook, env, *extra, check=True):
    """Run a real ansible-playbook; returns the CompletedProcess (stdout+stderr in .stdout)."""
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), playbook] + list(extra),
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("ansible-playbook %s failed (rc %d):\n%s" % (playbook, proc.returncode, proc.stdout[-4000:]))
    return proc


def device_ssh(port, command):
    """Run one command on a lab device over its management SSH port (vtysh for routers, a shell for fw1)."""
    proc = subprocess.run(lab_ssh_argv(os.path.join(ROOT, "lab", "run"), port) + [command],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout


# Side by side: `make test` runs this tier with pytest-xdist (`-n 2 --dist loadgroup`). Each module builds its own
# lab instance (its own namespace prefix and ports) in a module-scoped fixture, so a module must run whole on one
# worker; the modules that share the session lab (the default prefix) must all run on the same worker.
SHARED_LAB_GROUP = "session-lab"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the node ids
def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    by_module = {}
    for item in items:
        by_module.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    for module, module_items in by_module.items():
        shared = any("lab" in item.fixturenames for item in module_items)
        group = SHARED_LAB_GROUP if shared else os.path.splitext(os.path.basename(module))[0]
        for item in module_items:
            item.add_marker(pytest.mark.xdist_group(group))
            _suffix_group(config, item, group)


def _suffix_group(config, item, group):
    """xdist 3.8 groups by a node id ending in "@group", which it writes to ``item._nodeid``; pytest 9 keeps the
    node id in ``item._id``, so the suffix never reaches the scheduler. Write it where pytest 9 reads it."""
    if not getattr(config.option, "loadgroup", False):
        return
    if hasattr(item, "_id") and not item.nodeid.endswith("@" + group):
        from _pytest.nodeid import coerce_node_id  # pylint: disable=import-outside-toplevel
        item._id = coerce_node_id("%s@%s" % (item.nodeid, group))  # pylint: disable=protected-access
