# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one governed change across 3, 10 and 30 routers of a sized lab (issue 16; goal: 30 routers < 3x 3 routers).

For each size N: `lab.py up --routers N` (a chain of FRR routers, own instance: GC_LAB_PREFIX/GC_LAB_PORT_BASE/GC_LAB_RUN,
default s1- / 30000 / /tmp/gc-s1), then the change of tests/support/scale_lab.py (a loopback address on every router,
tier medium, canary then one batch) through the real playbooks: assess (reads every router), a signed approval, and
playbooks/governed_change.yml. Prints per size: the pipeline's wall time and its ratio to the first size, the assess
time, the controller's peak memory (summed RSS of ansible-playbook and its forks, sampled every 0.2 s; and
RUSAGE_CHILDREN maxrss, the biggest single process), and that every router got the change.

Run as root under the team's lab lock:  flock /tmp/gc-lab.lock .venv/bin/python benchmarks/bench_scale_routers.py
Options: --sizes 3 10 30  --forks N (default: ansible.cfg's)  --batch-size B (default: one batch after the canary)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import scale_lab  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger  # noqa: E402  pylint: disable=wrong-import-position


def breakdown(ledger_path, change_id):
    """Where the pipeline's time went, from the evidence callback's task events: the results of one task (consecutive,
    one per host) form a step; a step's time runs from the end of the previous step to its own end (the gap before it,
    Ansible's own work, counts for it). Returns {action: seconds}, {"per_host": steps on every host, "once": ...} and
    the host-task results recorded."""
    with SqliteLedger(ledger_path, readonly=True) as ledger:
        items = [e["data"] for e in ledger.events(change_id=change_id) if e["kind"] == "task" and e["data"].get("started")]
    steps = []
    for item in items:
        start = parse_instant(item["started"]).timestamp()
        end = start + (item.get("duration_s") or 0.0)
        if steps and steps[-1]["task"] == item["task"] and item["host"] not in steps[-1]["hosts"]:
            steps[-1]["end"] = max(steps[-1]["end"], end)
        else:
            steps.append({"task": item["task"], "action": item["action"], "start": start, "end": end, "hosts": set()})
        steps[-1]["hosts"].add(item["host"])
    by_action, shape, previous = {}, {"per_host": 0, "once": 0}, steps[0]["start"] if steps else 0.0
    for step in steps:
        by_action[step["action"]] = by_action.get(step["action"], 0.0) + step["end"] - previous
        shape["per_host" if len(step["hosts"]) > 1 else "once"] += 1
        previous = max(previous, step["end"])
    return by_action, shape, len(items)


def child(size, args):
    """One size in its own process (so RUSAGE_CHILDREN is this size's only): lab up, change, check, lab down."""
    env = scale_lab.lab_env(args.prefix, args.port_base, args.run)
    base = pathlib.Path(tempfile.mkdtemp(prefix="bench-scale-%d-" % size))
    scale_lab.workspace(base, batch_size=args.batch_size)
    try:
        scale_lab.lab(env, "up", "--routers", str(size))
        scale_lab.lab(env, "wait", "--timeout", "120")
        result = scale_lab.run_change(env, base, os.path.join(args.run, "inventory.yml"), forks=args.forks)
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        result["load"] = os.getloadavg()[0]  # the CPU is shared: the 1-minute load average as the run ends
        if result.get("rc") != 0:
            log = result["pipeline_log"] if "rc" in result else result["assess_log"]
            raise SystemExit("the change at %d routers failed (log %s):\n%s" % (size, log, scale_lab.tail(log)))
        changed = len(scale_lab.routers_with_the_change(env, size))
        by_action, shape, results = breakdown(str(result["out"] / "ledger.sqlite"), scale_lab.CHANGE_ID)
    finally:
        scale_lab.lab(env, "down")
    print(json.dumps({"size": size, "seconds": result["seconds"], "assess_s": result["assess_s"],
                      "peak_mb": max(result["peak_mb"], result["assess_mb"]), "maxrss_mb": result["maxrss_mb"],
                      "changed": changed, "load": result["load"], "workdir": str(base),
                      "steps": shape, "host_task_results": results,
                      "by_action": dict(sorted(((k, round(v, 1)) for k, v in by_action.items()), key=lambda kv: -kv[1])[:8])}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 30])
    parser.add_argument("--forks", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--prefix", default=os.environ.get("GC_LAB_PREFIX", "s1-"))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("GC_LAB_PORT_BASE", "30000")))
    parser.add_argument("--run", default=os.environ.get("GC_LAB_RUN", "/tmp/gc-s1"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return 0
    argv = [sys.executable, os.path.abspath(__file__), "--prefix", args.prefix, "--port-base", str(args.port_base), "--run", args.run]
    argv += ["--forks", str(args.forks)] if args.forks else []
    argv += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    print("one governed change across N routers (chain), forks %s, batches: canary 1 then %s" % (
        args.forks or "ansible.cfg", "batches of %d" % args.batch_size if args.batch_size else "one batch"))
    columns = ("routers", "pipeline s", "ratio", "assess s", "peak tree MB", "maxrss MB", "changed", "load")
    print("%-8s %10s %8s %10s %14s %14s %10s %6s" % columns)
    results = {}
    for size in args.sizes:
        proc = subprocess.run(argv + ["--child", str(size)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit("size %d failed:\n%s%s" % (size, proc.stdout[-2000:], proc.stderr[-3000:]))
        result = results[size] = json.loads(proc.stdout.strip().splitlines()[-1])
        first = results[args.sizes[0]]
        print("%-8d %10.1f %8.2f %10.1f %14.0f %14.0f %7d/%-3d %6.2f" % (
            size, result["seconds"], result["seconds"] / first["seconds"], result["assess_s"], result["peak_mb"],
            result["maxrss_mb"], result["changed"], size, result["load"]), flush=True)
    print("where the time went (assess and pipeline runs, s per action; steps run on every host / once; host-task results):")
    for size in args.sizes:
        result = results[size]
        print("  %d routers: %s; steps %d per host / %d once; %d results" % (
            size, ", ".join("%s %.1f" % (k.replace("ansible.builtin.", "").replace("governed.change.", "gc."), v)
                            for k, v in result["by_action"].items()),
            result["steps"]["per_host"], result["steps"]["once"], result["host_task_results"]))
    last, first = args.sizes[-1], args.sizes[0]
    print("ratio %d / %d routers: %.2f (goal < 3)" % (last, first, results[last]["seconds"] / results[first]["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
