# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the review and window gates (and assess) over a 1,000-host inventory vs one debug task (targets <= 1.10).

Run from the repository root: .venv/bin/python benchmarks/bench_gates.py [--hosts 1000] [--repeat 3]

All in the same run, through real ansible-playbook on an inventory of local hosts (connection local, gather_facts
off, host vars site/role/criticality):
  (a) baseline: one ansible.builtin.debug task over every host;
  (b) one play over the same hosts running governed.change.review_gate and governed.change.window_gate once for the
      change (run_once: a governance decision is change-wide, evaluated once on the controller). The change targets
      every host (group routers), so the window gate classifies all of them; three SSH-signed approvals are verified;
  (c) the same play shape running governed.change.assess for a change targeting a few hosts (fetch_running false,
      running configs given as files).
The wall time of an empty play over the same inventory (Ansible's start-up and inventory floor) is printed for
context. Median wall time of --repeat runs each (interleaved, so machine noise hits all three alike); ratios (b)/(a), (c)/(a).
The policy is examples/policy/policy.yml plus one window (ams-weekend) so that a change spanning both sites has a
common opening; the allowed-signers file and the keys are generated in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
TARGET = 1.10
NOW = "2026-11-28T02:00:00Z"  # a Saturday: lon-weekend and ams-weekend are both open
APPROVERS = ("alice", "bob", "dave")  # netops + cab, none of them the author (carol)
SITES = ("lon", "ams")
ROLES = ("edge", "core", "access")
CRITICALITY = ("low", "medium", "high")


def inventory(count):
    hosts, groups = {}, {"core": {}, "edge": {}, "access": {}, "site_lon": {}, "site_ams": {}}
    for i in range(count):
        name = "h%04d" % i
        site, role = SITES[i % 2], ROLES[i % 3]
        hosts[name] = {"site": site, "role": role, "criticality": CRITICALITY[i % 3]}
        groups[role][name] = {}
        groups["site_" + site][name] = {}
    children = {"routers": {"hosts": hosts}}
    children.update({name: {"hosts": members} for name, members in groups.items()})
    return {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": os.path.join(VENV_BIN, "python")},
                    "children": children}}


WIDE_CHANGE = {
    "id": "CHG-BENCH-WIDE", "title": "Fleet-wide prefix-list update", "description": "Touches every router.",
    "author": "carol", "type": "normal", "category": "bgp_policy", "targets": ["routers"],
    "config": {"routers": {"lines": ["ip prefix-list PL-BENCH seq 5 permit 192.0.2.0/24"]}},
    "expected": [], "rollback": {"strategy": "backup"},
}
SMALL_CHANGE = {
    "id": "CHG-BENCH-SMALL", "title": "Prefix-list on three routers", "description": "Touches three routers.",
    "author": "carol", "type": "normal", "category": "bgp_policy", "targets": ["h0000", "h0001", "h0002"],
    "config": {"h0000": {"lines": ["ip prefix-list PL-BENCH seq 5 permit 192.0.2.0/24"]},
               "h0001": {"lines": ["ip prefix-list PL-BENCH seq 5 permit 192.0.2.0/24"]},
               "h0002": {"lines": ["ip prefix-list PL-BENCH seq 5 permit 192.0.2.0/24"]}},
    "expected": [], "rollback": {"strategy": "backup"},
}


def play(tasks):
    return [{"hosts": "all", "gather_facts": False, "tasks": tasks}]


def plays():
    gate_args = {"policy": "policy/policy.yml", "assessment_file": "out/CHG-BENCH-WIDE.assessment.json", "ledger": "ledger.sqlite"}
    return {
        "setup": play([{"name": "assess the wide change", "run_once": True, "governed.change.assess": {
            "change_request": "wide.yml", "policy": "policy/policy.yml", "fetch_running": False, "output_dir": "out",
            "ledger": "ledger.sqlite"}}]),
        "empty": play([]),
        "a_debug": play([{"name": "baseline", "ansible.builtin.debug": {"msg": "{{ inventory_hostname }}"}}]),
        "b_gates": play([
            {"name": "review", "run_once": True, "governed.change.review_gate": gate_args},
            {"name": "window", "run_once": True, "governed.change.window_gate": dict(gate_args, now=NOW)}]),
        "c_assess": play([{"name": "assess", "run_once": True, "governed.change.assess": {
            "change_request": "small.yml", "policy": "policy/policy.yml", "fetch_running": False, "output_dir": "out",
            "running_configs": {h: "running/%s.cfg" % h for h in SMALL_CHANGE["targets"]}}}]),
    }


def prepare(work, count):
    os.makedirs(os.path.join(work, "policy"))
    os.makedirs(os.path.join(work, "running"))
    with open(os.path.join(ROOT, "examples", "policy", "policy.yml"), encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    policy["windows"].append({"name": "ams-weekend", "scope": {"sites": ["ams"]}, "timezone": "Europe/Amsterdam",
                              "weekly": [{"days": ["sat", "sun"], "start": "02:00", "end": "06:00"}]})
    signers = []
    for user in APPROVERS:
        key = os.path.join(work, "key_" + user)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user, "-f", key], check=True)
        with open(key + ".pub", encoding="utf-8") as handle:
            kind, blob = handle.read().split()[:2]
        signers.append('%s@lab namespaces="governed.change" %s %s' % (user, kind, blob))
    files = {"policy/policy.yml": policy, "inventory.yml": inventory(count), "wide.yml": WIDE_CHANGE, "small.yml": SMALL_CHANGE}
    files.update({"%s.yml" % name: doc for name, doc in plays().items()})
    for name, doc in files.items():
        with open(os.path.join(work, name), "w", encoding="utf-8") as handle:
            yaml.safe_dump(doc, handle, sort_keys=False)
    with open(os.path.join(work, "policy", "allowed_signers"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(signers) + "\n")
    for host in SMALL_CHANGE["targets"]:
        with open(os.path.join(work, "running", "%s.cfg" % host), "w", encoding="utf-8") as handle:
            handle.write("frr version 8.4\nhostname %s\nip prefix-list PL-OLD seq 5 permit 198.51.100.0/24\n" % host)


def playbook(work, name):
    """Wall time of one ansible-playbook run (fails loudly: a refused gate would be a misleadingly fast run)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    started = time.perf_counter()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory.yml", "%s.yml" % name], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("FAILED: %s (rc %d):\n%s" % (name, proc.returncode, proc.stdout[-4000:]))
    return wall


def approve(work):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    for user in APPROVERS:
        subprocess.run([os.path.join(VENV_BIN, "python"), "-m", "ansible_collections.governed.change.plugins.module_utils.cli",
                        "approve", "--ledger", "ledger.sqlite", "--change", WIDE_CHANGE["id"],
                        "--assessment", "out/%s.assessment.json" % WIDE_CHANGE["id"], "--key", "key_" + user,
                        "--identity", user, "--policy", "policy/policy.yml", "--yes"],
                       cwd=work, env=env, stdout=subprocess.DEVNULL, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-gates-")
    try:
        prepare(work, args.hosts)
        setup_s = playbook(work, "setup")
        with open(os.path.join(work, "out", "%s.assessment.json" % WIDE_CHANGE["id"]), encoding="utf-8") as handle:
            wide = json.load(handle)
        approve(work)
        print("inventory: %d hosts (connection local); wide change: %d targets, tier %s, %d approvals required; "
              "assessed in %.1f s (setup, not timed below)" % (args.hosts, len(wide["hosts"]), wide["tier"],
                                                               wide["requirements"]["approvals"]["count"], setup_s))
        times = {"empty": [], "a_debug": [], "b_gates": [], "c_assess": []}
        for _run in range(args.repeat):
            for name in times:
                times[name].append(playbook(work, name))
        median = {name: statistics.median(values) for name, values in times.items()}
        labels = {"empty": "floor: an empty play over the same inventory (context, not a target)",
                  "a_debug": "(a) ansible.builtin.debug on every host (baseline)",
                  "b_gates": "(b) review_gate + window_gate, run_once, %d targets" % len(wide["hosts"]),
                  "c_assess": "(c) assess, run_once, %d targets, running configs from files" % len(SMALL_CHANGE["targets"])}
        for name, label in labels.items():
            print("%-70s median %6.2f s  (runs: %s)" % (label, median[name], ", ".join("%.2f" % t for t in times[name])))
        ok = True
        for name in ("b_gates", "c_assess"):
            ratio = median[name] / median["a_debug"]
            met = ratio <= TARGET
            ok = ok and met
            print("ratio %s/(a) = %.2f  (target <= %.2f: %s)" % (name[:1].join("()"), ratio, TARGET, "MET" if met else "MISSED"))
        if args.keep:
            print("kept: %s" % work)
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
