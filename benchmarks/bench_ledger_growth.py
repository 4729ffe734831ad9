# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the SQLite ledger as it grows to 1M realistic events (issue 16).

The ledger is built through the ledger's own API (no shortcut: every row and hash is what a pipeline writes): changes
created, assessed, moved along their lifecycle, devices leased and released, and task events of about 850 bytes
(``append_events``, one transaction per batch). Measured at SMALL events (default 10,000) and at each of --sizes
(default 100,000 and 1,000,000), each figure in a fresh connection as a stage process opens it:

  verify      full ``ledger verify`` (every hash, link and table row);
  pre-check   ``check_change(change, devices)``, what a stage runs before it acts (chain tail since the verified
              checkpoint, the change's own events and rows, the devices' leases);
  append      single ``append_event`` calls (one transaction each), events/s;
  pipeline    the ledger calls one pipeline run makes (9 stage processes: open, pre-check, its events and
              transitions, approvals, leases; about 40 events), seconds - simulated ledger work, no devices.

Prints each figure, and the ratios large/small (goal: pre-check and pipeline about 1, within 10%; verify at 1M < 2 s).
Usage: .venv/bin/python benchmarks/bench_ledger_growth.py [--sizes 100000 1000000] [--small 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), ".collections"))

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger  # noqa: E402

DEVICES = ["r%d" % i for i in range(1, 31)]
PAD = "x" * 560  # with the other fields, a task event's stored row is about 850 bytes


def task_event(change, i):
    host = DEVICES[i % len(DEVICES)]
    return (change, "task.result", "svc-ci", {
        "host": host, "task": "governed.change.deploy : Push the configuration lines to %s" % host, "status": "ok",
        "changed": bool(i % 2), "duration_s": 1.234, "stage": "deploy", "attempts": 1, "stdout": PAD,
        "diff_lines": ["+ interface lo", "+  ip address 192.0.2.1/32"]})


def add_change(ledger, number, tasks):
    """One change's life as a pipeline records it, with ``tasks`` task events; returns the events written."""
    change = "CHG-B%07d" % number
    devices = [DEVICES[number % len(DEVICES)], DEVICES[(number + 1) % len(DEVICES)]]
    ledger.create_change(change, "benchmark change %d" % number, "carol")
    ledger.transition(change, "assess", "carol")
    ledger.set_assessment(change, "medium", "sha256:%064d" % number, "carol")
    ledger.transition(change, "authorize", "carol")
    ledger.transition(change, "scheduled", "alice")
    ledger.acquire_locks(change, devices, "svc-ci", 3600)
    ledger.transition(change, "implement", "svc-ci")
    written = 7
    for start in range(0, tasks, 5000):
        count = min(5000, tasks - start)
        ledger.append_events(task_event(change, start + i) for i in range(count))
        written += count
    ledger.release_locks(change)
    ledger.transition(change, "review", "svc-ci")
    ledger.transition(change, "closed", "svc-ci", close_code="successful")
    return written + 3


def grow(path, target, state):
    """Append changes (about 500 events each) until the ledger holds ``target`` events."""
    with SqliteLedger(path) as ledger:
        while state["events"] < target:
            tasks = max(1, min(490, target - state["events"] - 10))
            state["events"] += add_change(ledger, state["changes"], tasks)
            state["changes"] += 1
        return ledger.head()["seq"]


def timed(func, repeat=3):
    best = None
    for _run in range(repeat):
        started = time.perf_counter()
        func()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def verify_s(path):
    def run():
        with SqliteLedger(path, readonly=True) as ledger:
            result = ledger.verify()
        if not result["ok"]:
            raise SystemExit("the benchmark ledger does not verify: %s" % result["problems"][:3])
    return timed(run, repeat=1)


def precheck_s(path, change):
    def run():
        with SqliteLedger(path) as ledger:
            ledger.check_change(change, devices=DEVICES[:3])
    return timed(run, repeat=5)


def append_rate(path, count=300):
    with SqliteLedger(path) as ledger:
        ledger.create_change("CHG-APPEND-%d" % ledger.head()["seq"], "append rate", "carol")
        change = "CHG-APPEND-%d" % (ledger.head()["seq"] - 1)
        started = time.perf_counter()
        for i in range(count):
            ledger.append_event(change, *task_event(change, i)[1:])
        return count / (time.perf_counter() - started)


def pipeline_s(path, number):
    """The ledger work of one pipeline run: 9 stage processes, each opening the ledger and checking before it acts."""
    change = "CHG-PIPE-%d" % number
    devices = DEVICES[:3]

    def stage(work):
        with SqliteLedger(path) as ledger:
            ledger.check_change(change if work is not assess else None, devices=devices)
            work(ledger)

    def assess(ledger):
        ledger.create_change(change, "pipeline", "carol")
        ledger.transition(change, "assess", "carol")
        ledger.set_assessment(change, "medium", "sha256:%064d" % number, "carol")

    def review(ledger):
        ledger.append_event(change, "approval.note", "alice", {"note": "approved out of band in this benchmark"})
        ledger.record_verdict(change, "review", {"decision": "pass"})
        ledger.transition(change, "authorize", "carol")

    def window(ledger):
        ledger.record_verdict(change, "window", {"decision": "pass"})
        ledger.transition(change, "scheduled", "carol")

    def precheck(ledger):
        ledger.acquire_locks(change, devices, "svc-ci", 3600)
        ledger.transition(change, "implement", "svc-ci")
        ledger.append_events([(change, "task.result", "svc-ci", task_event(change, i)[3]) for i in range(6)])

    def deploy(ledger):
        for i in range(3):
            ledger.append_event(change, "task.result", "svc-ci", task_event(change, i)[3])

    def verify(ledger):
        ledger.append_events([(change, "task.result", "svc-ci", task_event(change, i)[3]) for i in range(6)])

    def close(ledger):
        ledger.release_locks(change)
        ledger.transition(change, "review", "svc-ci")
        ledger.transition(change, "closed", "svc-ci", close_code="successful")

    def evidence(ledger):
        ledger.append_events([(change, "task.result", "svc-ci", task_event(change, i)[3]) for i in range(12)])

    started = time.perf_counter()
    for work in (assess, review, window, precheck, deploy, verify, evidence, close):
        stage(work)
    return time.perf_counter() - started


def measure(path, label, results, number):
    with SqliteLedger(path, readonly=True) as ledger:
        events = ledger.head()["seq"]
    figures = {"events": events, "precheck_s": precheck_s(path, "CHG-B%07d" % 0), "append_eps": append_rate(path),
               "pipeline_s": min(pipeline_s(path, number + i) for i in range(3))}
    if label != "small":
        figures["verify_s"] = verify_s(path)
    figures["file_mb"] = os.path.getsize(path) / 1e6
    results[label] = figures
    print("%-8s %10d events %8.1f MB  pre-check %7.2f ms  append %6.0f ev/s  pipeline ledger work %6.3f s%s" % (
        label, events, figures["file_mb"], figures["precheck_s"] * 1000, figures["append_eps"], figures["pipeline_s"],
        "  verify %6.2f s" % figures["verify_s"] if "verify_s" in figures else ""), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--keep", help="build (or reuse) the ledger in this folder instead of a temporary one")
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="bench-ledger-growth-")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "ledger.sqlite")
    state = {"events": 0, "changes": 0}
    if os.path.exists(path):
        with SqliteLedger(path, readonly=True) as ledger:
            state["events"] = ledger.head()["seq"]
            state["changes"] = len(ledger.changes())
    results = {}
    try:
        for number, (label, size) in enumerate([("small", args.small)] + [(str(s), s) for s in args.sizes]):
            started = time.perf_counter()
            grow(path, size, state)
            print("built %d events in %.0f s" % (size, time.perf_counter() - started), flush=True)
            measure(path, label, results, 1000 * (number + 1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    small, large = results["small"], results[str(args.sizes[-1])]
    print("ratios %s / %s events: pre-check %.2f, append rate %.2f, pipeline ledger work %.2f (goal ~1, within 1.10)" % (
        large["events"], small["events"], large["precheck_s"] / small["precheck_s"], large["append_eps"] / small["append_eps"],
        large["pipeline_s"] / small["pipeline_s"]))
    verified = ["%s events %.2f s" % (results[str(s)]["events"], results[str(s)]["verify_s"]) for s in args.sizes]
    print("verify: %s (goal at 1M < 2 s)" % ", ".join(verified))
    return 0


if __name__ == "__main__":
    sys.exit(main())
