"""The lab as a pytest fixture: up and converged before the tests, torn down on every exit path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "lab", "lab.py")
EXAMPLE_POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from relative_policy import relative_policy  # noqa: E402  pylint: disable=wrong-import-position


def run_env(lab_vars=None, keep_ledger=False):
    """The environment of ansible runs against one lab instance: its GC_LAB_* settings, the project's ansible.cfg,
    the venv first on PATH, and (unless ``keep_ledger``) no GOVERNED_CHANGE_LEDGER leaking in from the caller."""
    env = dict(os.environ, **(lab_vars or {}))
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    if not keep_ledger:
        env.pop("GOVERNED_CHANGE_LEDGER", None)
    return env


def signing_keys(base, names=("alice",)):
    """Real ed25519 keys for ``names`` in ``base``, an allowed_signers trusting them as <name>@lab, and the lab policy
    beside it (its allowed_signers: is the relative file name, so the copy trusts these keys); returns base."""
    lines = []
    for name in names:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(base / name)], check=True)
        pub = (base / (name + ".pub")).read_text().split()
        lines.append('%s@lab namespaces="governed.change" %s %s' % (name, pub[0], pub[1]))
    (base / "allowed_signers").write_text("\n".join(lines) + "\n")
    lab_policy(base / "policy.yml")
    return base


# One HTTP GET to srv1:8080 (lab addresses only); exit 0 on a 200.
_HTTP_GET = ("import socket,sys\ns=socket.create_connection(('10.0.45.10',8080),timeout=2)\n"
             "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\nsys.exit(0 if b'200' in s.recv(64) else 1)")


def srv1_answers_from(namespace):
    """True when srv1:8080 answers an HTTP GET sent from ``namespace`` (e.g. 'k6-r3'): real traffic through fw1."""
    return subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", _HTTP_GET], capture_output=True,
                          timeout=10, check=False).returncode == 0


def nft_ruleset(namespace):
    """The live nft ruleset of a lab firewall's namespace (e.g. 'k6-fw1')."""
    return subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "ruleset"], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def lab_policy(dst, freeze_in_days=30):
    """The example policy with its freezes placed after the clock's now (tests run on any day); returns dst."""
    relative_policy(EXAMPLE_POLICY, str(dst), freeze_in_days)
    return dst


def lab_ssh_argv(run_dir, port):
    """ssh to a lab port as root with the lab's key, verifying the host key against the lab's known_hosts."""
    return ["ssh", "-p", str(port), "-i", os.path.join(run_dir, "id_ed25519"),
            "-o", "UserKnownHostsFile=%s" % os.path.join(run_dir, "known_hosts"), "-o", "StrictHostKeyChecking=yes",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@127.0.0.1"]


def lab_cmd(*args, env=None, check=True):
    proc = subprocess.run([sys.executable, LAB] + list(args), capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("lab %s failed: %s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc


def _terminate_as_interrupt(signum, frame):  # pylint: disable=unused-argument
    raise KeyboardInterrupt("SIGTERM")  # lets pytest run the fixture's teardown


def lab_session(env=None):
    """Generator fixture body: yields the lab status dict; `lab down` always runs afterwards."""
    if os.geteuid() != 0:
        raise RuntimeError("the lab tests need root (network namespaces): run `make test` as root")
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        lab_cmd("up", env=env)
        lab_cmd("wait", "--timeout", "60", env=env)
        yield json.loads(lab_cmd("status", "--json", env=env).stdout)
    finally:
        lab_cmd("down", env=env, check=False)
        signal.signal(signal.SIGTERM, previous)
