# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transient-error retry of the SSH transport: real ssh runs against a closed port and a private local sshd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport, backoff_delays, is_connection_failure


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# classification -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rc,stdout,stderr,expected", [
    (255, "", "ssh: connect to host 127.0.0.1 port 1: Connection refused", True),
    (255, "", "ssh: connect to host 10.0.0.1 port 22: Connection timed out", True),
    (255, "", "kex_exchange_identification: read: Connection reset by peer", True),
    (255, "", "", True),
    (255, "", "root@127.0.0.1: Permission denied (publickey).", False),
    (255, "", "Host key verification failed.", False),
    (255, "", "Connection to 127.0.0.1 closed by remote host.", False),
    (255, "", "Timeout, server 127.0.0.1 not responding.", False),
    (255, "partial output", "Connection refused", False),
    (1, "", "Connection refused", False),
    (0, "ok", "", False),
])
def test_connection_failure_classification(rc, stdout, stderr, expected):
    assert is_connection_failure(rc, stdout, stderr) is expected


def test_backoff_is_exponential_and_capped():
    assert backoff_delays(4, 0.5) == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delays(3, 20.0) == [20.0, 30.0, 30.0]
    assert backoff_delays(0, 1.0) == []


@pytest.mark.parametrize("retries,delay", [(-1, 1.0), (11, 1.0), (2, -0.5), ("x", 1.0)])
def test_retry_settings_are_bounded(retries, delay):
    with pytest.raises(ValidationError) as info:
        SSHTransport("127.0.0.1", port=22, retries=retries, retry_delay=delay, device="r9")
    assert "r9: retries" in str(info.value)


# a real ssh against a closed port -------------------------------------------------------------------------

def test_closed_port_is_retried_then_transient():
    port = free_port()  # bound then released: nothing listens there
    transport = SSHTransport("127.0.0.1", port=port, connect_timeout=3, retries=2, retry_delay=0.2, device="r9")
    start = time.monotonic()
    with pytest.raises(DeviceError) as info:
        transport.run("true")
    elapsed = time.monotonic() - start
    assert info.value.transient is True
    assert "after 3 attempt(s)" in info.value.problem and "unreachable" in info.value.problem
    assert transport.max_attempts == 3 and transport.exhausted is True
    assert [item["wait_s"] for item in transport.retried] == [0.2, 0.4]
    assert 0.6 <= elapsed < 10.0  # the two waits happened, and the whole thing is bounded


def test_no_retries_means_one_attempt():
    transport = SSHTransport("127.0.0.1", port=free_port(), connect_timeout=3, retries=0, device="r9")
    with pytest.raises(DeviceError) as info:
        transport.run("true")
    assert transport.max_attempts == 1 and "after 1 attempt(s)" in info.value.problem


# a stand-in ssh client (a real process) that fails to connect twice, then runs the command ----------------

def flaky_ssh(tmp_path, failures):
    counter = tmp_path / "count"
    script = tmp_path / "flaky-ssh"
    script.write_text("#!/bin/sh\nn=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s\n"
                      "if [ $n -le %d ]; then echo 'ssh: connect to host x port 22: Connection refused' >&2; exit 255; fi\n"
                      "echo ran; exit 0\n" % (counter, counter, failures))
    script.chmod(0o755)
    return str(script), counter


def test_recovers_after_two_connection_failures(tmp_path):
    binary, counter = flaky_ssh(tmp_path, 2)
    transport = SSHTransport("127.0.0.1", retries=2, retry_delay=0.05, device="r9", ssh_binary=binary)
    result = transport.run("true")
    assert result.stdout.strip() == "ran" and counter.read_text().strip() == "3"
    assert transport.max_attempts == 3 and transport.exhausted is False and len(transport.retried) == 2


def test_more_failures_than_retries(tmp_path):
    binary, counter = flaky_ssh(tmp_path, 5)
    transport = SSHTransport("127.0.0.1", retries=1, retry_delay=0.01, device="r9", ssh_binary=binary)
    with pytest.raises(DeviceError):
        transport.run("true")
    assert counter.read_text().strip() == "2"  # 1 + 1 retry, then stop


# a private sshd on 127.0.0.1: a command that fails is not retried ----------------------------------------

@pytest.fixture(scope="module")
def local_sshd(tmp_path_factory):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if os.geteuid() != 0 or not os.path.exists(sshd):
        pytest.skip("needs root and openssh-server (sshd) for a private sshd")
    base = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client_key")], check=True)
    shutil.copy(str(base / "client_key.pub"), str(base / "authorized_keys"))
    port = free_port()
    config = base / "sshd_config"
    config.write_text("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\nStrictModes no\n"
                      "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                      % (port, base / "host_key", base / "authorized_keys", base / "sshd.pid"))
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    kind, blob = (base / "host_key.pub").read_text().split()[:2]
    (base / "known_hosts").write_text("[127.0.0.1]:%d %s %s\n" % (port, kind, blob))
    try:
        yield {"port": port, "key": str(base / "client_key"), "known_hosts": str(base / "known_hosts"),
               "args": "-o UserKnownHostsFile=%s" % (base / "known_hosts")}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_command_failure_is_not_retried(local_sshd):
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], retries=3, retry_delay=0.5, device="r9",
                             common_args=local_sshd["args"])
    assert transport.run("echo hello").stdout.strip() == "hello"
    with pytest.raises(DeviceError) as info:
        transport.run("echo boom >&2; exit 3")
    assert transport.retried == [] and transport.max_attempts == 1  # one attempt, no backoff wait
    assert "rc 3" in info.value.problem and info.value.transient is False
    assert transport.max_attempts == 1 and transport.retried == [] and transport.exhausted is False
    result = transport.run("exit 4", check=False)
    assert result.rc == 4 and transport.max_attempts == 1


def test_command_exiting_255_with_output_is_not_retried(local_sshd):
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], retries=3, retry_delay=0.5, device="r9",
                             common_args=local_sshd["args"])
    with pytest.raises(DeviceError) as info:
        transport.run("echo partial; exit 255")
    assert transport.max_attempts == 1 and transport.retried == []
    assert "after" not in info.value.problem  # the command ran: not a connection failure


def test_auth_refusal_is_not_retried(local_sshd, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=str(other), retries=3, retry_delay=0.5, device="r9",
                             common_args=local_sshd["args"])
    with pytest.raises(DeviceError) as info:
        transport.run("true")
    assert "Permission denied" in info.value.problem
    assert transport.max_attempts == 1 and transport.exhausted is False


# host keys: verified against the known_hosts the arguments name; a changed key is refused before anything runs -----

def test_known_host_key_is_accepted(local_sshd):
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], device="r9", common_args=local_sshd["args"])
    assert "StrictHostKeyChecking=yes" in transport.argv("true")
    assert transport.run("echo verified").stdout.strip() == "verified"


@pytest.mark.parametrize("case", ["changed", "unknown"])
def test_changed_or_unknown_host_key_is_refused_and_nothing_runs(local_sshd, tmp_path, case):
    known = tmp_path / "known_hosts"
    if case == "changed":
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
        kind, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
        known.write_text("[127.0.0.1]:%d %s %s\n" % (local_sshd["port"], kind, blob))
    else:
        known.write_text("")
    marker = tmp_path / "ran"
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], retries=3, retry_delay=0.5,
                             device="r9", common_args=["-o", "UserKnownHostsFile=%s" % known])
    with pytest.raises(DeviceError) as info:
        transport.run("touch %s" % marker)
    assert info.value.problem.startswith("host key verification failed")
    assert "known_hosts" in info.value.fix and "ansible_host_key_checking: false" in info.value.fix
    assert info.value.transient is False and transport.max_attempts == 1 and transport.retried == []
    assert not marker.exists()


def test_opt_out_connects_to_a_changed_key(local_sshd, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
    kind, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text("[127.0.0.1]:%d %s %s\n" % (local_sshd["port"], kind, blob))
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], device="r9",
                             host_key_checking=False, common_args=["-o", "UserKnownHostsFile=%s" % (tmp_path / "known_hosts")])
    assert transport.run("echo unverified").stdout.strip() == "unverified"


def test_become_runs_the_command_as_the_become_user_with_stdin_intact(local_sshd):
    if not shutil.which("sudo"):
        pytest.fail("sudo is missing: `make setup` installs it (the device stages' become uses sudo)")
    transport = SSHTransport("127.0.0.1", port=local_sshd["port"], key_file=local_sshd["key"], device="r9",
                             common_args=local_sshd["args"], become_user="nobody")
    assert transport.run("id -un").stdout.strip() == "nobody"
    assert transport.run("cat", stdin="line one\nline two\n").stdout == "line one\nline two\n"
