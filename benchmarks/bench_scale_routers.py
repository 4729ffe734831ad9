# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one governed change across 3, 10 and 30 routers of a sized lab (issue 16; goal: 30 routers < 3x 3 routers).

For each size N: `lab.py up --routers N` (a chain of FRR routers, own instance: GC_LAB_PREFIX/GC_LAB_PORT_BASE/GC_LAB_RUN,
default s1- / 33600 / /tmp/gc-s1), then the change of tests/support/scale_lab.py (a loopback address on every router,
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
        if result.get("rc") != 0:
            log = result["pipeline_log"] if "rc" in result else result["assess_log"]
            raise SystemExit("the change at %d routers failed (log %s):\n%s" % (size, log, scale_lab.tail(log)))
        changed = len(scale_lab.routers_with_the_change(env, size))
    finally:
        scale_lab.lab(env, "down")
    print(json.dumps({"size": size, "seconds": result["seconds"], "assess_s": result["assess_s"],
                      "peak_mb": max(result["peak_mb"], result["assess_mb"]), "maxrss_mb": result["maxrss_mb"],
                      "changed": changed, "workdir": str(base)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 30])
    parser.add_argument("--forks", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--prefix", default=os.environ.get("GC_LAB_PREFIX", "s1-"))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("GC_LAB_PORT_BASE", "33600")))
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
    columns = ("routers", "pipeline s", "ratio", "assess s", "peak tree MB", "maxrss MB", "changed")
    print("%-8s %10s %8s %10s %14s %14s %10s" % columns)
    results = {}
    for size in args.sizes:
        proc = subprocess.run(argv + ["--child", str(size)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit("size %d failed:\n%s%s" % (size, proc.stdout[-2000:], proc.stderr[-3000:]))
        result = results[size] = json.loads(proc.stdout.strip().splitlines()[-1])
        first = results[args.sizes[0]]
        print("%-8d %10.1f %8.2f %10.1f %14.0f %14.0f %7d/%-3d" % (
            size, result["seconds"], result["seconds"] / first["seconds"], result["assess_s"], result["peak_mb"],
            result["maxrss_mb"], result["changed"], size), flush=True)
    last, first = args.sizes[-1], args.sizes[0]
    print("ratio %d / %d routers: %.2f (goal < 3)" % (last, first, results[last]["seconds"] / results[first]["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
