# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the ledger's backends - append throughput on PostgreSQL with 1, 4 and 8 concurrent writers against
SQLite with one, and `ledger verify` on both at one size.

Run from the repository root as root (it starts a throwaway PostgreSQL 15 cluster as the postgres user, like the tests):
  .venv/bin/python benchmarks/bench_ledger_backends.py [--events 500] [--writers 1,4,8] [--verify-events 100000]
The issue's race is --writers 8 --events 10000 (80,000 appends). Each append is one transaction through the public API
(append_event: the incremental check, then the event) with a realistic ~850-byte task event, each writer in its own
process on its own change, as concurrent pipelines are. The verify ledgers are built in bulk (append_events) on SQLite
and copied to PostgreSQL with `ledger migrate`, so both hold the same chain.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

import ledger_race  # noqa: E402  # pylint: disable=wrong-import-position
import pg_server  # noqa: E402  # pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils import ledger_migrate  # noqa: E402  # pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json  # noqa: E402  # pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger  # noqa: E402  # pylint: disable=wrong-import-position


def sqlite_one_writer(tmp, events):
    """Events/s of one process appending ``events`` task events to a SQLite ledger, one transaction each."""
    path = os.path.join(tmp, "append.db")
    with open_ledger(path) as ledger:
        ledger.create_change("CHG-BENCH-w0", "bench", "bench")
        started = time.perf_counter()
        for index in range(events):
            ledger.append_event("CHG-BENCH-w0", "task.ok", "w0", ledger_race.task_event("w0", index))
        seconds = time.perf_counter() - started
        assert ledger.verify()["ok"]
    return events / seconds


def postgres_writers(server, writers, events):
    """Events/s of ``writers`` processes appending ``events`` each at once to one PostgreSQL ledger."""
    url = server.fresh_url()
    with open_ledger(url) as ledger:
        ledger.create_change("CHG-SETUP", "bench", "bench")
    wall, results = ledger_race.race_appends(url, "CHG-BENCH", writers, events)
    errors = [error for _writer, _seconds, error in results if error]
    if errors:
        raise SystemExit("a writer failed: %s" % errors[0])
    with open_ledger(url, readonly=True) as ledger:
        report = ledger.verify()
    if not report["ok"] or report["events"] != 1 + writers * (events + 1):
        raise SystemExit("the chain does not verify with every event: %s" % report["problems"][:3])
    return writers * events / wall, wall


def stage_write_s(location, repeat):
    """What a stage pays on a big ledger, in a fresh connection: check_change() of a small change and one append (best of
    ``repeat``; the goal is a cost that does not grow with the ledger)."""
    best = None
    for run in range(repeat):
        with open_ledger(location) as ledger:
            change_id = "CHG-STAGE-%d" % run
            ledger.create_change(change_id, "a stage on a big ledger", "bench")
        with open_ledger(location) as ledger:
            started = time.perf_counter()
            ledger.check_change(change_id, devices=["r1"])
            ledger.append_event(change_id, "task.ok", "ansible", ledger_race.task_event("w", run))
            seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return best


def verify_times(server, tmp, size, repeat):
    """(seconds of verify on SQLite, on PostgreSQL, seconds of the migration, {backend: a stage's check + append}) for one
    chain of ``size`` events."""
    path = os.path.join(tmp, "verify.db")
    with open_ledger(path) as ledger:
        ledger.create_change("CHG-V", "bench", "bench")
        done = 1
        while done < size:
            batch = min(10000, size - done)
            ledger.append_events(("CHG-V", "task.ok", "ansible", ledger_race.task_event("w", done + i)) for i in range(batch))
            done += batch
    url = server.fresh_url()
    started = time.perf_counter()
    ledger_migrate.migrate("sqlite:" + path, url)
    migrate_s = time.perf_counter() - started
    out = []
    for location in (path, url):
        best = None
        with open_ledger(location, readonly=True) as ledger:
            for _run in range(repeat):
                started = time.perf_counter()
                report = ledger.verify()
                seconds = time.perf_counter() - started
                assert report["ok"] and report["events"] == size
                best = seconds if best is None else min(best, seconds)
        out.append(best)
    stage = {"SQLite": stage_write_s(path, repeat), "PostgreSQL": stage_write_s(url, repeat)}
    return out[0], out[1], migrate_s, stage


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="task events each writer appends (default 500)")
    parser.add_argument("--writers", default="1,4,8", help="PostgreSQL writer counts (default 1,4,8)")
    parser.add_argument("--verify-events", type=int, default=100000, help="size of the verify ledgers (default 100000)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    why = pg_server.available()
    if why:
        raise SystemExit(why)
    size = len(canonical_json(ledger_race.task_event("w0", 1234)))
    server = pg_server.PgServer.start()
    os.environ.update(server.env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("task event: %d bytes of canonical JSON; one transaction per append" % size)
            lite = sqlite_one_writer(tmp, args.events)
            print("SQLite      1 writer : %8.0f events/s (%d events)" % (lite, args.events))
            for writers in [int(n) for n in args.writers.split(",")]:
                rate, wall = postgres_writers(server, writers, args.events)
                print("PostgreSQL %2d writers: %8.0f events/s (%d events in %.1f s), %.2fx SQLite with 1 writer" % (
                    writers, rate, writers * args.events, wall, rate / lite))
            if args.verify_events:
                lite_s, pg_s, migrate_s, stage = verify_times(server, tmp, args.verify_events, args.repeat)
                print("ledger verify at %d events: SQLite %.2f s, PostgreSQL %.2f s (%.2fx); ledger migrate SQLite -> "
                      "PostgreSQL %.1f s" % (args.verify_events, lite_s, pg_s, pg_s / lite_s, migrate_s))
                print("a stage on that ledger (fresh connection: check_change of a small change + one append): SQLite "
                      "%.1f ms, PostgreSQL %.1f ms" % (stage["SQLite"] * 1000, stage["PostgreSQL"] * 1000))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
