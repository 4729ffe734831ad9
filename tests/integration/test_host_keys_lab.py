# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Device access verifies who it talks to, on an own lab instance (k5-, ports 265xx): a device whose host key
changed is refused before anything is written, the opt-out is recorded, and a device reachable only through a
bastion is reached with the inventory's ProxyJump (by the device stages and by Ansible's own ssh connection)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess

import yaml

from labfixture import ROOT, lab_session

LAB_ENV = {"GC_LAB_PREFIX": "k5-", "GC_LAB_PORT_BASE": "26500", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k5")}
RUN = LAB_ENV["GC_LAB_RUN"]
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12}
PROBE_LINE = "ip prefix-list GC-K5 seq 5 permit 10.255.0.0/16 le 32"

PLAYBOOK = """
- name: Device stages over the inventory's SSH settings
  hosts: "{{ gc_hosts }}"
  gather_facts: false
  tasks:
    - name: Take the device action
      governed.change.%(action)s:
%(args)s
        store_dir: "{{ gc_store }}"
        retries: 0
      register: gc_result
      ignore_errors: true

    - name: Ask the host its name over Ansible's own ssh connection
      ansible.builtin.command: hostname
      register: gc_hostname
      changed_when: false
      when: inventory_hostname == 'fw1'

    - name: Hand the results to the test
      ansible.builtin.copy:
        content: "{{ {'result': gc_result, 'hostname': gc_hostname.stdout | default('')} | to_json }}"
        dest: "{{ gc_out }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
"""


@contextlib.contextmanager
def own_lab(bastion=False):
    """This module's lab instance for one test (with or without the bastion); torn down on every exit path."""
    env = dict(os.environ, **LAB_ENV)
    if bastion:
        env["GC_LAB_BASTION"] = "1"
    session = lab_session(env=env)
    status = next(session, None)
    assert status is not None, "the lab session yielded no status"
    try:
        env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
        env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
        yield env, status
    finally:
        session.close()


def run_action(env, tmp_path, name, hosts, action, args, *extra):
    """Run one device action on hosts; returns (CompletedProcess, {host: {'result', 'hostname'}})."""
    out = tmp_path / name
    out.mkdir()
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text(PLAYBOOK % {"action": action, "args": "".join("        %s: %s\n" % (k, json.dumps(v)) for k, v in args.items())})
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(ROOT, "lab", "inventory", "hosts.yml"),
                           str(playbook), "-e", "gc_hosts=%s" % hosts, "-e", "gc_out=%s" % out, "-e", "gc_store=%s" % (tmp_path / ("%s-store" % name))]
                          + list(extra), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    results = {path[:-5]: json.loads((out / path).read_text()) for path in os.listdir(out)}
    return proc, results


def running_config(device):
    """The router's running config read over its vty socket on this machine (no SSH involved)."""
    return subprocess.run(["vtysh", "--vty_socket", os.path.join(RUN, device), "-c", "show running-config"],
                          capture_output=True, text=True, timeout=30, check=True).stdout


def files_under(path):
    return sorted(os.path.join(root, name) for root, _dirs, names in os.walk(path) for name in names) if os.path.isdir(path) else []


def test_changed_host_key_is_refused_and_nothing_is_written(tmp_path):
    with own_lab() as (env, _status):
        known_hosts = os.path.join(RUN, "known_hosts")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
        kind, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
        entry = "[127.0.0.1]:%d " % HOST_PORTS["r2"]
        with open(known_hosts, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        assert sum(line.startswith(entry) for line in lines) == 1
        # r2's shell now presents a key other than the one on record (as a re-keyed or impersonated device would).
        with open(known_hosts, "w", encoding="utf-8") as handle:
            handle.write("\n".join("%s%s %s" % (entry, kind, blob) if line.startswith(entry) else line for line in lines) + "\n")
        r2_state_before = files_under(os.path.join(RUN, "r2", "governed"))

        proc, results = run_action(env, tmp_path, "deploy", "r1,r2", "deploy", {"lines": [PROBE_LINE]})
        r1, r2 = results["r1"]["result"], results["r2"]["result"]
        assert not r1.get("failed") and r1.get("changed"), proc.stdout[-3000:]
        assert "host_key_checking" not in r1  # verified, nothing to record
        assert r2.get("failed") and "host key verification failed" in r2["msg"], proc.stdout[-3000:]
        assert "known_hosts" in r2["msg"] and "ansible_host_key_checking: false" in r2["msg"]
        assert not r2.get("transient") and r2.get("attempts") == 1
        assert PROBE_LINE in running_config("r1")
        assert PROBE_LINE not in running_config("r2")  # nothing deployed on the device that failed verification
        assert files_under(os.path.join(RUN, "r2", "governed")) == r2_state_before  # no backup or timer written there
        assert "backup" not in r2 and "backup" in r1  # r2's config was never read, so no backup reference either

        # The explicit opt-out connects to the same device, and says so in the result (kept by the evidence callback).
        proc, results = run_action(env, tmp_path, "optout", "r2", "snapshot", {}, "-e", "ansible_host_key_checking=false")
        r2 = results["r2"]["result"]
        assert not r2.get("failed"), proc.stdout[-3000:]
        assert r2["host_key_checking"] is False and any("host key checking is off for r2" in w for w in r2.get("warnings", []))

        # Arguments that would quietly undo checking while it is on are refused before any connection.
        proc, results = run_action(env, tmp_path, "undo", "r1", "snapshot", {}, "-e",
                                   "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'")
        r1 = results["r1"]["result"]
        assert r1.get("failed") and "turn host key checking off" in r1["msg"] and "r1: ansible_ssh_common_args" in r1["msg"]


def test_device_behind_a_bastion_is_reached_through_proxyjump(tmp_path):
    with own_lab(bastion=True) as (env, status):
        assert status["bastion"] == PORT_BASE + 20
        # Direct: the devices' sshd does not listen on this machine's loopback at all.
        proc, results = run_action(env, tmp_path, "direct", "r1", "snapshot", {})
        direct = results["r1"]["result"]
        assert direct.get("failed") and "unreachable over SSH" in direct["msg"], proc.stdout[-3000:]

        overlay = tmp_path / "bastion.yml"
        jump = "-F %s -o ProxyJump=k5-bastion -o UserKnownHostsFile=%s -o LogLevel=ERROR" % (
            os.path.join(RUN, "ssh_config"), os.path.join(RUN, "known_hosts"))
        overlay.write_text(yaml.safe_dump({"all": {"hosts": {"r1": {"ansible_ssh_common_args": jump},
                                                             "fw1": {"ansible_ssh_common_args": jump}}}}))
        proc, results = run_action(env, tmp_path, "jump", "r1,fw1", "snapshot", {}, "-i", str(overlay))
        r1, fw1 = results["r1"]["result"], results["fw1"]["result"]
        assert not r1.get("failed") and not fw1.get("failed"), proc.stdout[-3000:]
        assert r1["summary"]["peers"] == 1 and r1["summary"]["established"] == 1
        assert fw1["summary"]["rules"] >= 4
        assert "host_key_checking" not in r1 and "host_key_checking" not in fw1  # verified through the jump host
        assert results["fw1"]["hostname"] == "fw1"  # Ansible's own ssh connection went through the bastion too
