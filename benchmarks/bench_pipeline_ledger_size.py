# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one real pipeline run on an empty ledger vs on a ledger holding 1M events (issue 16; goal: within 10%).

On a sized lab of 3 routers (`lab.py up --routers 3`, own instance: GC_LAB_PREFIX/GC_LAB_PORT_BASE/GC_LAB_RUN, default
s1- / 30000 / /tmp/gc-s1), the change of tests/support/scale_lab.py (a loopback address on every router, tier medium)
runs through the real playbooks: assess, a signed approval, playbooks/governed_change.yml. Each run gets a fresh
workspace whose ledger is either new (empty) or a copy of the large ledger (copied before the clock starts); the runs
alternate empty, large, empty, large, ... --runs times each. After each run the address is removed from the routers
again (vtysh on their sockets) so the next run deploys the same change.

Prints per run: the ledger's events before the run, assess and pipeline wall time, the evidence callback's own time
(its ledger appends and the evidence rebuild), the load average; then the medians and the ratio large / empty.

The large ledger: a SQLite ledger built by benchmarks/bench_ledger_growth.py (realistic task events, ~1 GB at 1M):
  .venv/bin/python benchmarks/bench_ledger_growth.py --small 10 --sizes 1000000 --keep /tmp/lg1m   (about 6 min)
It is opened once with the current code before the runs (a pending schema migration is applied then, not timed).

Run as root under the team's lab lock:
  flock /tmp/gc-lab.lock .venv/bin/python benchmarks/bench_pipeline_ledger_size.py --large /tmp/lg1m/ledger.sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import scale_lab  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger  # noqa: E402  pylint: disable=wrong-import-position

ROUTERS = 3
GOAL_RATIO = 1.10


def head_seq(path):
    """The ledger's head seq (0 for a missing or empty ledger)."""
    if not os.path.exists(path):
        return 0
    with SqliteLedger(path, readonly=True) as ledger:
        return ledger.head()["seq"]


def prepare_large(path):
    """Open the large ledger once read-write (applies a pending schema migration outside the timed runs); its events."""
    if not os.path.isfile(path):
        raise SystemExit("no large ledger at %s; build one with: .venv/bin/python benchmarks/bench_ledger_growth.py "
                         "--small 10 --sizes 1000000 --keep %s" % (path, os.path.dirname(path) or "."))
    started = time.perf_counter()
    with SqliteLedger(path) as ledger:
        events = ledger.head()["seq"]
    return events, time.perf_counter() - started


def remove_the_change(env):
    """Take the service address off every router again (the benchmark's own access, not the pipeline's)."""
    for i in range(1, ROUTERS + 1):
        subprocess.run(["vtysh", "--vty_socket", os.path.join(env["GC_LAB_RUN"], "r%d" % i), "-c", "configure terminal",
                        "-c", "interface lo", "-c", "no" + scale_lab.SERVICE_LINE], capture_output=True, text=True,
                       timeout=60, check=True)


def one_run(env, kind, large, inventory, keep):
    """One governed change on a fresh workspace whose ledger is empty or a copy of ``large``; returns its figures."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="bench-ledger-size-%s-" % kind))
    scale_lab.workspace(base)
    out = base / "out"
    out.mkdir()
    if kind == "large":
        shutil.copyfile(large, str(out / "ledger.sqlite"))
    events = head_seq(str(out / "ledger.sqlite"))
    timing = base / "evidence-timing.json"
    run_env = dict(env, GOVERNED_EVIDENCE_TIMING_FILE=str(timing))
    result = scale_lab.run_change(run_env, base, inventory)
    load = os.getloadavg()[0]
    if result.get("rc") != 0:
        log = result["pipeline_log"] if "rc" in result else result["assess_log"]
        raise SystemExit("the %s-ledger run failed (log %s):\n%s" % (kind, log, scale_lab.tail(log)))
    changed = scale_lab.routers_with_the_change(env, ROUTERS)
    with open(str(timing), encoding="utf-8") as handle:
        callback_s = json.load(handle).get("total_s")
    figures = {"kind": kind, "events": events, "assess_s": result["assess_s"], "pipeline_s": result["seconds"],
               "callback_s": callback_s, "load": load, "changed": len(changed), "workdir": str(base)}
    if not keep:
        shutil.rmtree(str(base), ignore_errors=True)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--large", required=True, help="a large ledger (bench_ledger_growth.py --keep DIR: DIR/ledger.sqlite)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind, alternating (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep each run's workspace (logs, ledger copy)")
    parser.add_argument("--prefix", default=os.environ.get("GC_LAB_PREFIX", "s1-"))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("GC_LAB_PORT_BASE", "30000")))
    parser.add_argument("--run", default=os.environ.get("GC_LAB_RUN", "/tmp/gc-s1"))
    args = parser.parse_args()
    events, prepared_s = prepare_large(args.large)
    print("large ledger: %d events (%.0f MB), opened in %.1f s before the runs" % (
        events, os.path.getsize(args.large) / 1e6, prepared_s), flush=True)
    env = scale_lab.lab_env(args.prefix, args.port_base, args.run)
    rows = []
    try:
        scale_lab.lab(env, "up", "--routers", str(ROUTERS))
        scale_lab.lab(env, "wait", "--timeout", "120")
        inventory = os.path.join(args.run, "inventory.yml")
        print("%-6s %10s %9s %11s %11s %6s %8s" % ("ledger", "events", "assess s", "pipeline s", "callback s", "load", "changed"))
        for _round in range(args.runs):
            for kind in ("empty", "large"):
                row = one_run(env, kind, args.large, inventory, args.keep)
                rows.append(row)
                print("%-6s %10d %9.1f %11.1f %11.2f %6.2f %5d/%d" % (
                    kind, row["events"], row["assess_s"], row["pipeline_s"], row["callback_s"] or 0.0, row["load"],
                    row["changed"], ROUTERS), flush=True)
                remove_the_change(env)
    finally:
        scale_lab.lab(env, "down")
    medians = {}
    for kind in ("empty", "large"):
        medians[kind] = {key: statistics.median(r[key] for r in rows if r["kind"] == kind) for key in ("assess_s", "pipeline_s")}
    ratio = medians["large"]["pipeline_s"] / medians["empty"]["pipeline_s"]
    print("median pipeline: empty %.1f s, %d events %.1f s; ratio %.2f (goal <= %.2f); assess %.1f / %.1f s" % (
        medians["empty"]["pipeline_s"], events, medians["large"]["pipeline_s"], ratio, GOAL_RATIO,
        medians["empty"]["assess_s"], medians["large"]["assess_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
