"""The lab itself and the spine of the pipeline, on real devices through real ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

from conftest import device_ssh, run_playbook
from labfixture import LAB, ROOT, lab_cmd

from ansible_collections.governed.change.plugins.module_utils.platforms import frr
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport

ROUTER_PORTS = {"r1": 22201, "r2": 22202, "r3": 22203}


def test_bgp_converged_and_server_reachable(lab):
    assert lab["converged"], lab
    for router, peers in lab["routers"].items():
        assert peers, router
        assert all(p["state"] == "Established" for p in peers.values()), (router, peers)
    assert lab["srv1_from_r1"]


def test_backup_equals_running_config_and_bgp_snapshot(lab, ansible_env):
    out = os.path.join(ROOT, "out", "snapshot")
    proc = run_playbook("playbooks/lab_snapshot.yml", ansible_env)
    assert "failed=0" in proc.stdout
    for router, port in ROUTER_PORTS.items():
        with open(os.path.join(out, router + ".cfg"), encoding="utf-8") as handle:
            backup = handle.read()
        running = device_ssh(port, "show running-config")
        assert backup.strip() == running.strip(), router
        assert "hostname %s" % router in backup
        with open(os.path.join(out, router + ".bgp.json"), encoding="utf-8") as handle:
            peers = json.load(handle)["peers"]
        assert peers and all(p["state"] == "Established" for p in peers.values()), (router, peers)
    with open(os.path.join(out, "fw1.nft"), encoding="utf-8") as handle:
        ruleset = handle.read()
    assert ruleset.strip() == device_ssh(22204, "nft list ruleset").strip()
    assert 'comment "acl: web to srv1"' in ruleset


def test_fw1_is_a_linux_host_in_its_own_namespace(lab):
    assert device_ssh(22204, "hostname").strip() == "fw1"
    addrs = device_ssh(22204, "ip -j addr")
    assert "10.0.45.1" in addrs and "10.0.34.4" in addrs
    assert "policy drop" in device_ssh(22204, "nft list chain inet filter forward")


def test_teardown_after_a_test_fails_midway(tmp_path, lab):  # pylint: disable=unused-argument
    """A second lab (own prefix, ports and run folder) whose test fails midway leaves nothing behind."""
    env = dict(os.environ, GC_LAB_PREFIX="gt-", GC_LAB_PORT_BASE="23200", GC_LAB_RUN=os.path.join(ROOT, "lab", "run-gt"))
    inner = tmp_path / "test_inner.py"
    inner.write_text(textwrap.dedent("""
        import sys
        import pytest
        sys.path.insert(0, %r)
        from labfixture import lab_session

        @pytest.fixture(scope="session")
        def lab():
            yield from lab_session()

        def test_fails_midway(lab):
            assert lab["converged"]
            assert False, "failing on purpose with the lab up"
    """ % os.path.join(ROOT, "tests", "integration")))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, str(inner)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, check=False,
                          executable=os.path.join(ROOT, ".venv", "bin", "python"))
    assert proc.returncode == 1 and "failing on purpose" in proc.stdout, proc.stdout + proc.stderr
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "gt-" not in namespaces
    assert not os.path.exists(env["GC_LAB_RUN"])
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert env["GC_LAB_RUN"] not in ps, [line for line in ps.splitlines() if env["GC_LAB_RUN"] in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "gtv" not in links


def test_lab_up_is_safe_to_run_twice(lab):  # pylint: disable=unused-argument
    env = dict(os.environ, GC_LAB_PREFIX="gu-", GC_LAB_PORT_BASE="24200", GC_LAB_RUN=os.path.join(ROOT, "lab", "run-gu"))
    try:
        lab_cmd("up", env=env)
        lab_cmd("up", env=env)  # clears the first one's leftovers and starts clean
        lab_cmd("wait", "--timeout", "60", env=env)
        status = json.loads(lab_cmd("status", "--json", env=env).stdout)
        assert status["converged"]
        assert sorted(status["namespaces"]) == ["gu-fw1", "gu-r1", "gu-r2", "gu-r3", "gu-srv1"]
    finally:
        lab_cmd("down", env=env, check=False)
    assert "gu-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert os.path.exists(LAB)


def test_a_snapshot_read_through_one_vtysh_equals_the_one_read_command_by_command(lab):  # pylint: disable=unused-argument
    """Issue 16: an FRR snapshot reads its five answers through one vtysh; on the real routers that snapshot equals the
    one read with a vtysh per command (everything but the time it was taken)."""
    run_dir = os.path.join(ROOT, "lab", "run")
    for name, port in ROUTER_PORTS.items():  # each router's host shell listens 10 ports above its vtysh
        transport = SSHTransport("127.0.0.1", port + 10, "root", os.path.join(run_dir, "id_ed25519"), device=name,
                                 common_args="-o UserKnownHostsFile=%s -o LogLevel=ERROR" % os.path.join(run_dir, "known_hosts"))
        one, each = frr.FrrPlatform(transport, name), frr.FrrPlatform(transport, name)
        each.combined = False
        # read command by command before and after the combined read: the comparison counts only when the network held
        # still between them (a session or route still settling after the lab came up changes the state, not the reading)
        for _attempt in range(10):
            before, combined, after = each.snapshot(), one.snapshot(), each.snapshot()
            for snap in (before, combined, after):
                snap.pop("taken_at", None)
            if before == after:
                break
            time.sleep(1)
        assert before == after, "%s: the state kept changing between two readings 1 s apart" % name
        assert one.combined is True, name  # the combined answer was taken, not the fallback
        assert combined == before, name
        assert combined["sections"]["peers"] and combined["sections"]["routes"], name
