# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writers that race on one ledger from separate processes (the race tests and benchmarks/bench_ledger_backends.py).

Each process opens its own connection (as a job on another execution node would), waits at a barrier, then appends
one event per transaction through the public API; the parent reads what they did from the ledger itself."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def task_event(writer, index):
    """A realistic task event (~850 bytes of canonical JSON): what the evidence callback records for one task."""
    return {"task": "governed.change.deploy : push the candidate configuration (batch %d)" % (index % 7),
            "host": "r%d" % (index % 30 + 1), "writer": writer, "i": index, "status": "ok", "changed": index % 3 == 0,
            "duration_s": round(0.137 + (index % 97) / 1000, 3), "stage": "deploy", "attempt": 1,
            "diff": {"before_sha256": "%064x" % (index * 7919), "after_sha256": "%064x" % (index * 104729),
                     "lines_added": index % 11, "lines_removed": index % 5},
            "result": {"msg": "configuration applied and saved; the session was closed cleanly", "rc": 0,
                       "stdout_lines": ["interface eth%d" % (index % 4), " description governed change batch rollout",
                                        " ip ospf cost %d" % (10 + index % 50), "exit", "write memory",
                                        "Building Configuration...", "[OK]"]},
            "play": "governed change: deploy", "run_id": "run-%s" % writer,
            "checks": {"bgp_neighbors_up": True, "ospf_full": True, "ping_loss_pct": 0, "interfaces_up": 4,
                       "routes": 1200 + index % 40, "window": "maint-sat-0200", "verdict": "pass"}}


def append_worker(location, change_id, writer, count, barrier, results):
    """Append ``count`` task events to ``change_id`` (created here when missing, as a pipeline's assess does), one
    transaction each; put (writer, seconds, error or None) on ``results``."""
    from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger  # pylint: disable=import-outside-toplevel
    error = None
    with open_ledger(location) as ledger:
        if ledger.get_change(change_id) is None:
            ledger.create_change(change_id, "race writer %s" % writer, "carol")
        barrier.wait(60)
        started = time.perf_counter()
        try:
            for index in range(count):
                ledger.append_event(change_id, "task.ok", writer, task_event(writer, index))
        except Exception as exc:  # pylint: disable=broad-except  # reported to the parent, which asserts on it
            error = "%s: %s" % (type(exc).__name__, exc)
        results.put((writer, time.perf_counter() - started, error))


def race_appends(location, change_id, writers, count, timeout_s=1800):
    """Run ``writers`` processes appending ``count`` events each at once, each to its own change ``change_id``-wN (as
    concurrent pipelines do); returns (wall seconds, [(writer, s, error)])."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=append_worker, args=(location, "%s-w%d" % (change_id, n), "w%d" % n, count, barrier, results))
             for n in range(writers)]
    for proc in procs:
        proc.start()
    barrier.wait(120)
    started = time.perf_counter()
    out = [results.get(timeout=timeout_s) for _proc in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(60)
    return wall, sorted(out)


def lease_worker(location, change_id, owner, device, barrier, results):
    """Try to lease ``device`` to ``change_id``; put (owner, 'won' | refusal text) on ``results``."""
    from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger  # pylint: disable=import-outside-toplevel
    with open_ledger(location) as ledger:
        ledger.check_change(change_id, devices=[device])
        barrier.wait(60)
        try:
            ledger.acquire_locks(change_id, [device], owner, 600)
            results.put((owner, "won"))
        except LedgerError as exc:
            ledger.append_event(change_id, "lock.refused", owner, {"devices": [device], "reason": exc.problem})
            results.put((owner, exc.problem))


def race_lease(location, contenders, device):
    """Each (change_id, owner) of ``contenders`` tries to lease ``device`` at once from its own process."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(contenders)), ctx.Queue()
    procs = [ctx.Process(target=lease_worker, args=(location, change_id, owner, device, barrier, results))
             for change_id, owner in contenders]
    for proc in procs:
        proc.start()
    out = dict(results.get(timeout=120) for _proc in procs)
    for proc in procs:
        proc.join(60)
    return out
