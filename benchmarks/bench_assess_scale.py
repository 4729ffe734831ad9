# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: assess time against the size of a device's configuration (issue 11: 82,000 lines took 173-249 s).

For N config lines, r2's running configuration holds N lines (the lab's r2 plus N prefix-list entries) and the change
request brings N/2 lines for r2, half of them already in the running configuration (existing) and half new. Measured,
each in a fresh subprocess (wall time and peak RSS):

  (a) core:    module_utils.assess.assess() on the parsed change request (merge, diff, facts, blast radius, hash);
  (b) action:  with --action, the governed.change.assess action in ansible-playbook (change request YAML of N/2
               lines, running config from a file, no device), whole process wall time;
  (c) old:     unless --skip-old, the core of an earlier commit (default: the one before the indexed merge) at the
               smaller sizes only (it grows quadratically), from `git archive` of its plugins/ folder.

Prints each time and its ratio to the first size (linear growth: 100k / 10k = about 10).

With --hosts (issue 16: 1,004 s at 10,000 hosts against 7.3 s at 1,000, quadratic), it measures instead a change that
targets every host of a generated inventory of N hosts (default 1,000 and 10,000: routers in 50 sites, one line for the
group, no device read): the governed.change.assess action in ansible-playbook (check mode), its wall time minus the
same playbook with a no-op task on the same inventory (inventory parsing and start-up), and the assess core alone on
the inventory view; each with its ratio 10k/1k (goal <= 10).

Usage: .venv/bin/python benchmarks/bench_assess_scale.py [--sizes 10000 100000] [--action] [--skip-old]
       [--old-rev 8616cd3] [--old-sizes 10000 20000]
       .venv/bin/python benchmarks/bench_assess_scale.py --hosts [1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
OLD_REV = "8616cd3"  # the last commit with the per-line block scan in config_diff.render_candidate and blast_radius.to_ipset
NOW = "2026-11-01T00:00:00+00:00"

R2_RUNNING = """frr version 8.4.4
frr defaults traditional
hostname r2
interface lo
 ip address 10.255.0.2/32
exit
router bgp 65002
 bgp router-id 10.255.0.2
 neighbor 10.0.12.1 remote-as 65001
 address-family ipv4 unicast
  network 10.255.0.2/32
 exit-address-family
exit
"""


def _entry(i):
    return "ip prefix-list PL-BIG seq %d permit 10.%d.%d.0/24" % (5 + 5 * i, (i >> 8) & 255, i & 255)


def workload(size):
    """(running config text, change lines): running holds ``size`` lines, the change ``size/2`` (half existing)."""
    base = R2_RUNNING.count("\n")
    running = R2_RUNNING + "\n".join(_entry(i) for i in range(size - base)) + "\n"
    first = (size - base) - size // 4
    lines = [_entry(i) for i in range(first, first + size // 2)]
    return running, lines


def change_request(lines):
    return {"id": "CHG-SCALE", "title": "Scale benchmark", "description": "A big prefix-list on r2.", "author": "carol",
            "type": "normal", "category": "bgp_policy", "targets": ["r2"], "config": {"r2": {"lines": lines}}}


INVENTORY = {
    "hosts": {"r1": {"vars": {"site": "lon", "role": "edge", "criticality": "medium"}, "groups": ["routers"]},
              "r2": {"vars": {"site": "lon", "role": "core", "criticality": "high"}, "groups": ["routers", "core"]},
              "r3": {"vars": {"site": "ams", "role": "edge", "criticality": "medium"}, "groups": ["routers"]}},
    "groups": {"routers": ["r1", "r2", "r3"], "core": ["r2"]},
}


def child_core(size, collections, policy_path):
    """Run in a subprocess: time assess() on the workload; prints one JSON line."""
    sys.path.insert(0, collections)
    # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.assess import assess
    from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

    running, lines = workload(size)
    policy = load_policy(policy_path)
    started = time.perf_counter()
    out = assess(change_request(lines), policy, INVENTORY, {"r2": {"running": running}}, now=NOW)
    elapsed = time.perf_counter() - started
    device = out["devices"]["r2"]
    print(json.dumps({"seconds": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "lines_added": device["lines_added"], "existing": len(device["existing_lines"]),
                      "content_hash": out["content_hash"]}))


def run_core(size, collections, timeout, policy_path=None):
    started = time.perf_counter()
    policy_path = policy_path or os.path.join(ROOT, "examples", "policy", "policy.yml")
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-core", str(size), "--collections", collections,
                               "--policy", policy_path],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "note": "over %d s, stopped" % timeout}
    if proc.returncode != 0:
        raise SystemExit("core run at %d lines failed:\n%s" % (size, proc.stderr[-3000:]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def run_action(size, workdir):
    """ansible-playbook running governed.change.assess on a change request file with size/2 lines."""
    running, lines = workload(size)
    folder = os.path.join(workdir, "action-%d" % size)
    os.makedirs(folder)
    with open(os.path.join(folder, "running-r2.cfg"), "w", encoding="utf-8") as handle:
        handle.write(running)
    with open(os.path.join(folder, "change.yml"), "w", encoding="utf-8") as handle:
        json.dump(change_request(lines), handle)  # JSON is YAML: the action reads it with the same loader
    playbook = os.path.join(folder, "assess.yml")
    values = (os.path.join(folder, "change.yml"), os.path.join(ROOT, "examples", "policy", "policy.yml"),
              os.path.join(folder, "running-r2.cfg"), NOW, size // 4)
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write("""- hosts: localhost
  gather_facts: false
  tasks:
    - governed.change.assess:
        change_request: %s
        policy: %s
        running_configs: {r2: %s}
        fetch_running: false
        now: "%s"
      check_mode: true
      register: result
    - ansible.builtin.assert:
        that: result.assessment.devices.r2.lines_added == %d
""" % values)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    started = time.perf_counter()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(ROOT, "lab", "inventory", "hosts.yml"),
                           playbook], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("the action run at %d lines failed:\n%s" % (size, proc.stdout[-3000:]))
    return {"seconds": elapsed}


def old_collections(rev, workdir):
    """(collections folder, policy path): this collection's plugins/ and example policy as of ``rev`` (git archive)."""
    target = os.path.join(workdir, "old", "ansible_collections", "governed", "change")
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "plugins", "examples/policy"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return os.path.join(workdir, "old"), os.path.join(target, "examples", "policy", "policy.yml")


def host_inventory(count, folder):
    """An Ansible inventory file (JSON) of ``count`` routers in 50 sites, and a change request targeting them all."""
    hosts = {"e%05d" % i: {"site": "s%d" % (i % 50), "role": "edge", "criticality": "medium", "governed_platform": "frr"}
             for i in range(count)}
    with open(os.path.join(folder, "hosts.json"), "w", encoding="utf-8") as handle:
        json.dump({"all": {"children": {"routers": {"hosts": hosts}}}}, handle)
    request = {"id": "CHG-HOSTS", "title": "A static route everywhere", "description": "One route on every router.",
               "author": "carol", "type": "normal", "category": "other", "targets": ["routers"],
               "config": {"routers": {"lines": ["ip route 192.0.2.0/24 Null0"]}}, "expected": [],
               "rollback": {"strategy": "backup"}}
    with open(os.path.join(folder, "change.yml"), "w", encoding="utf-8") as handle:
        json.dump(request, handle)
    return request, {"hosts": {name: {"vars": dict(v), "groups": ["routers"]} for name, v in hosts.items()},
                     "groups": {"routers": sorted(hosts)}}


def _playbook_seconds(folder, task):
    playbook = os.path.join(folder, "play.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n%s" % task)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    started = time.perf_counter()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(folder, "hosts.json"),
                           playbook], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("the playbook failed:\n%s" % proc.stdout[-3000:])
    return elapsed, proc.stdout


ASSESS_TASK = """    - governed.change.assess:
        change_request: %s
        policy: %s
        fetch_running: false
        now: "%s"
      check_mode: true
      register: result
    - ansible.builtin.debug: {msg: "assessed {{ result.assessment.hosts | length }} hosts, tier {{ result.assessment.tier }}"}
"""


def run_hosts(count, workdir):
    """{action_s, baseline_s, core_s, hosts}: the assess action (minus start-up) and the core, for ``count`` hosts."""
    folder = os.path.join(workdir, "hosts-%d" % count)
    os.makedirs(folder)
    request, view = host_inventory(count, folder)
    baseline, _out = _playbook_seconds(folder, "    - ansible.builtin.debug: {msg: start-up only}\n")
    task = ASSESS_TASK % (os.path.join(folder, "change.yml"), os.path.join(ROOT, "examples", "policy", "policy.yml"), NOW)
    total, out = _playbook_seconds(folder, task)
    if "assessed %d hosts" % count not in out:
        raise SystemExit("the assess action did not assess %d hosts:\n%s" % (count, out[-2000:]))
    sys.path.insert(0, COLLECTIONS)
    # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.assess import assess
    from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
    policy = load_policy(os.path.join(ROOT, "examples", "policy", "policy.yml"))
    started = time.perf_counter()
    assess(request, policy, view, now=NOW)
    core = time.perf_counter() - started
    return {"hosts": count, "playbook_s": total, "baseline_s": baseline, "action_s": total - baseline, "core_s": core}


def main_hosts(sizes):
    print("assess of a change targeting every host of an N-host inventory (check mode, no device read)")
    print("%-8s %12s %12s %12s %10s %10s" % ("hosts", "playbook s", "start-up s", "assess s", "ratio", "core s"))
    workdir = tempfile.mkdtemp(prefix="bench-assess-hosts-")
    results = []
    try:
        for count in sizes:
            result = run_hosts(count, workdir)
            results.append(result)
            print("%-8d %12.2f %12.2f %12.2f %10.1f %10.2f" % (count, result["playbook_s"], result["baseline_s"], result["action_s"],
                                                               result["action_s"] / results[0]["action_s"], result["core_s"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    first, last = results[0], results[-1]
    print("ratio %d / %d hosts: assess action %.1f, whole playbook %.1f, core %.1f (goal <= %.0f)" % (
        last["hosts"], first["hosts"], last["action_s"] / first["action_s"], last["playbook_s"] / first["playbook_s"],
        last["core_s"] / first["core_s"], float(last["hosts"]) / first["hosts"]))
    return 0


def _fmt(seconds):
    return "%8.2f" % seconds if seconds is not None else "     n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--action", action="store_true", help="also time the governed.change.assess action in ansible-playbook")
    parser.add_argument("--skip-old", action="store_true", help="do not time the earlier commit's core")
    parser.add_argument("--old-rev", default=OLD_REV)
    parser.add_argument("--old-sizes", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--old-timeout", type=int, default=300)
    parser.add_argument("--hosts", type=int, nargs="*", help="time assess against the inventory size instead (default 1000 10000)")
    parser.add_argument("--child-core", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--collections", default=COLLECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--policy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_core:
        child_core(args.child_core, args.collections, args.policy)
        return 0
    if args.hosts is not None:
        return main_hosts(args.hosts or [1000, 10000])

    base = args.sizes[0]
    print("assess time against config lines per device (running config of N lines, change of N/2 lines, half new)")
    print("%-10s %-8s %10s %8s %10s %8s %s" % ("lines", "what", "seconds", "ratio", "rss MB", "added", "content hash"))
    core = {}
    for size in args.sizes:
        result = run_core(size, COLLECTIONS, timeout=3600)
        core[size] = result
        print("%-10d %-8s %10s %8.1f %10.0f %8d %s" % (size, "core", _fmt(result["seconds"]), result["seconds"] / core[base]["seconds"],
                                                       result["rss_mb"], result["lines_added"], result["content_hash"][:16]))
    last = args.sizes[-1]
    print("ratio %d / %d lines: %.1f (linear growth: %.0f)" % (last, base, core[last]["seconds"] / core[base]["seconds"],
                                                               float(last) / base))
    workdir = tempfile.mkdtemp(prefix="bench-assess-")
    try:
        if args.action:
            action = {}
            for size in args.sizes:
                action[size] = run_action(size, workdir)
                print("%-10d %-8s %10s %8.1f   (ansible-playbook wall time, YAML parse and task overhead included)" % (
                    size, "action", _fmt(action[size]["seconds"]), action[size]["seconds"] / action[base]["seconds"]))
        if not args.skip_old:
            old, old_policy = old_collections(args.old_rev, workdir)
            for size in args.old_sizes:
                if size not in core:
                    core[size] = run_core(size, COLLECTIONS, timeout=3600)
                result = run_core(size, old, timeout=args.old_timeout, policy_path=old_policy)
                if result["seconds"] is None:
                    print("%-10d %-8s %10s   %s" % (size, "old", "n/a", result["note"]))
                    continue
                now = core[size]["seconds"]
                print("%-10d %-8s %10s %8s %10.0f %8d %s (%s; now %.2f s: %.0fx faster; same content hash: %s)" % (
                    size, "old", _fmt(result["seconds"]), "", result["rss_mb"], result["lines_added"], result["content_hash"][:16],
                    args.old_rev, now, result["seconds"] / now, "yes" if result["content_hash"] == core[size]["content_hash"] else "NO"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
