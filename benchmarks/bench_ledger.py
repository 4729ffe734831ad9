# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: verify() of a 100,000-event hash chain in a temporary SQLite ledger (target < 1 s).

Run from the repository root: PYTHONPATH=.collections .venv/bin/python benchmarks/bench_ledger.py [--events N]
Baseline measured in the same run: reading the same rows without hashing (the floor set by SQLite).
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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
