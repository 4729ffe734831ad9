# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: verify() of a 100,000-event hash chain in a temporary SQLite ledger (target < 1 s).

Run from the repository root: PYTHONPATH=.collections .venv/bin/python benchmarks/bench_ledger.py [--events N]
Baseline measured in the same run: reading the same rows without hashing (the floor set by SQLite).

With --incremental (e.g. --events 1000000 --incremental) it also measures what every stage pays before it reads or
writes a change: check_change() of one change (its own events, rows, approvals and leases, the tail since the verified
checkpoint) in a fresh connection, against the full verify(), and prints both figures with the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), ".collections"))

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger  # noqa: E402


def build(ledger, events, batch=10000):
    ledger.create_change("CHG-BENCH", "benchmark chain", "bench")
    done = 1
    while done < events:
        size = min(batch, events - done)
        ledger.append_events(("CHG-BENCH", "note", "bench", {"i": done + i, "host": "r%d" % ((done + i) % 1000),
                                                             "result": "ok"}) for i in range(size))
        done += size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--incremental", action="store_true", help="also time check_change() of one change against verify()")
    args = parser.parse_args(argv)
    if args.incremental:
        return incremental(args)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ledger.db")
        with SqliteLedger(path) as ledger:
            started = time.perf_counter()
            build(ledger, args.events)
            build_s = time.perf_counter() - started
            baseline = []
            timings = []
            for _run in range(args.repeat):
                started = time.perf_counter()
                rows = ledger.conn.execute("SELECT seq, change_id, ts, kind, actor, data, prev_hash, hash FROM events "
                                           "ORDER BY seq").fetchall()
                baseline.append(time.perf_counter() - started)
                del rows
                started = time.perf_counter()
                report = ledger.verify()
                timings.append(time.perf_counter() - started)
                if not report["ok"] or report["events"] != args.events:
                    print("FAILED: the chain does not verify: %s" % report["problems"][:3])
                    return 1
    best, base = min(timings), min(baseline)
    print("ledger chain: %d events built in %.2f s (%.0f events/s, bulk transactions)" % (args.events, build_s, args.events / build_s))
    print("verify(): best %.3f s of %d runs (%.0f events/s); target < 1 s: %s"
          % (best, args.repeat, args.events / best, "MET" if best < 1.0 else "MISSED"))
    print("baseline (read rows, no hashing): %.3f s; verify/baseline ratio %.2f" % (base, best / base if base else float("nan")))
    return 0 if best < 1.0 else 1


def _lifecycle(ledger, change_id, part):
    """One change's own events, written in three parts spread over the chain (about 40 events in all)."""
    if part == 0:
        ledger.create_change(change_id, "benchmark change", "carol", tier="high", content_hash="a" * 64)
        ledger.transition(change_id, "assess", "assess")
        ledger.set_assessment(change_id, "high", "a" * 64, "assess")
        ledger.record_verdict(change_id, "assess", {"decision": "assessed", "tier": "high"})
        ledger.transition(change_id, "authorize", "assess")
    elif part == 1:
        for approver in ("alice", "bob"):
            ledger.record_approval({"change_id": change_id, "approver": approver, "decision": "approve", "content_hash": "a" * 64,
                                    "ts": "2026-11-27T12:00:00Z", "source": "ssh", "signature": "sig-" + approver})
        ledger.record_verdict(change_id, "review", {"decision": "pass"})
        ledger.transition(change_id, "scheduled", "review")
        ledger.acquire_locks(change_id, ["r1", "r2"], "run-1", 3600)
        ledger.transition(change_id, "implement", "run-1")
    else:
        ledger.append_events((change_id, "task", "governed.change.evidence", {"task": "step %d" % i, "status": "ok"})
                             for i in range(25))
        ledger.release_locks(change_id)
        ledger.transition(change_id, "review", "close")


def incremental(args):
    """check_change() of one change on an N-event ledger (checkpoint at the head, a fresh connection) vs verify()."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ledger.db")
        started = time.perf_counter()
        with SqliteLedger(path) as ledger:
            third = max(1, args.events // 3)
            for part in range(3):
                done = 0
                while done < third:
                    size = min(10000, third - done)
                    ledger.append_events((None, "note", "bench", {"i": done + i, "host": "r%d" % ((done + i) % 1000)})
                                         for i in range(size))
                    done += size
                _lifecycle(ledger, "CHG-BENCH", part)
            total = ledger.head()["seq"]
            own = len(ledger.events(change_id="CHG-BENCH"))
        build_s = time.perf_counter() - started
        checks, verifies = [], []
        for _run in range(args.repeat):
            with SqliteLedger(path) as ledger:  # a fresh connection, as each stage opens one
                started = time.perf_counter()
                ledger.check_change("CHG-BENCH", devices=["r1", "r2"])
                checks.append(time.perf_counter() - started)
            with SqliteLedger(path) as ledger:
                started = time.perf_counter()
                report = ledger.verify()
                verifies.append(time.perf_counter() - started)
                if not report["ok"]:
                    print("FAILED: the chain does not verify: %s" % report["problems"][:3])
                    return 1
        with SqliteLedger(path) as ledger:  # no checkpoint yet (a ledger written before schema 2): the first check walks it all
            ledger.conn.execute("DELETE FROM checkpoint")
        with SqliteLedger(path) as ledger:
            started = time.perf_counter()
            ledger.check_change("CHG-BENCH")
            first_s = time.perf_counter() - started
    check, full = min(checks), min(verifies)
    print("ledger: %d events (%d of them CHG-BENCH's) built in %.1f s" % (total, own, build_s))
    print("check_change(CHG-BENCH) incremental, fresh connection: best %.4f s of %d runs" % (check, args.repeat))
    print("verify() full chain and tables:                        best %.3f s of %d runs" % (full, args.repeat))
    print("ratio full/incremental: %.0fx; first check without a checkpoint (walks the chain once): %.3f s" % (full / check, first_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
