# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: `governed-change metrics` (metrics.compute_ledger) on ledgers of 10,000 and 1,000,000 events (goal: 1M < 10 s).

The ledgers are built fast with direct SQL inserts in the ledger's schema (a file SqliteLedger created and migrated),
each event hashed into the chain exactly as SqliteLedger._append does (canonical JSON data, event_hash, prev_hash); the
chain head and the verified checkpoint are set to the last event, as after the last stage write of a live ledger.

Mixes (per change):
  pipeline   (default) what a pipeline run writes: the lifecycle events (assess, gates with their verdicts, approval, lock,
             deploy start, stage results with per-host records, close, outcome, evidence) and 26 "task" events from the
             evidence callback - about 40 events a change, so 1M events hold 25,000 changes;
  lifecycle  (--mix lifecycle) the lifecycle events only - the worst case for the metrics, every event is read.

Timed, each the best of --repeat runs in this process: a plain `SELECT count(*) FROM events`, a plain scan reading
every row's kind and data into Python (the baseline), and metrics.compute_ledger() (open read-only, check the chain
since the checkpoint, one SQL pass, aggregate per day and per tier). Prints each time and the ratio metrics / scan.

Usage: .venv/bin/python benchmarks/bench_metrics.py [--sizes 10000 1000000] [--mix pipeline|lifecycle] [--repeat 3]
       [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils import metrics  # noqa: E402
from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json  # noqa: E402
from ansible_collections.governed.change.plugins.module_utils.ledger import GENESIS_HASH, SqliteLedger, event_hash  # noqa: E402

START = datetime.datetime(2026, 11, 2, tzinfo=datetime.timezone.utc)
HASH = "ab" * 32
TIERS = ("low", "medium", "high", "critical")
CATEGORIES = ("routing", "firewall", "interface")
FILLER = ["%s: rule %d fired for prefix 10.%d.0.0/16 on r%d" % ("reason", n, n, n % 9) for n in range(24)]


def _host_record(host):
    return {"check": {"failed": False, "passed": True, "settle": {"attempts": 2, "elapsed_s": 4.1}, "results": [
        {"name": "no_bgp_session_lost", "device": host, "passed": True, "expected": ["10.0.12.2"], "actual": ["10.0.12.2"]},
        {"name": "no_route_lost", "device": host, "passed": True, "expected": ["10.0.%d.0/24" % n for n in range(8)]}]},
        "deploy": {"changed": True, "attempts": 1, "after": {"kind": "config", "sha256": HASH, "path": "store/ab/%s.json" % HASH}}}


def lifecycle(i):
    """Change i's lifecycle events: (seconds after its request, kind, actor, data)."""
    cid, tier, klass = "CHG-%07d" % i, TIERS[i % 4], "emergency" if i % 100 == 0 else "normal"
    events = [(0, "change.created", "governed.change.assess", {"title": cid, "author": "carol", "tier": tier, "content_hash": HASH}),
              (0, "change.state", "governed.change.assess", {"from": "new", "to": "assess", "close_code": None, "reason": "assessment started"}),
              (0, "change.assessed", "governed.change.assess", {"tier": tier, "content_hash": HASH, "previous_content_hash": HASH}),
              (0, "verdict.assess", "governed.change.assess", {"gate": "assess", "verdict": {
                  "decision": "assessed", "tier": tier, "score": 40, "change_class": klass, "category": CATEGORIES[i % 3],
                  "sites": ["fra", "ams"][: 1 + i % 2], "fired_rules": [{"name": "rule%d" % n, "explanation": FILLER[n]} for n in range(4)],
                  "required_gates": ["approval", "freeze", "precheck", "deploy", "verify"], "content_hash": HASH}}),
              (0, "change.state", "governed.change.assess", {"from": "assess", "to": "authorize", "close_code": None, "reason": "assessed"})]
    if i % 50 == 1:
        return cid, events + [(600, "approval.deny", "bob", {"approver": "bob", "decision": "deny", "content_hash": HASH}),
                              (660, "change.state", "governed.change", {"from": "authorize", "to": "canceled", "close_code": None})]
    failed, rolled_back = i % 10 in (3, 7), i % 10 == 3
    code = "unsuccessful" if failed else "successful"
    window = {"decision": "pass", "reasons": FILLER[:3], "bypass": {"post_review_due": "2026-12-01T00:00:00Z"} if klass == "emergency" else None}
    stages = {"deployed": ["r1", "r2"], "rolled_back": ["r1"] if rolled_back else [], "hosts": {h: _host_record(h) for h in ("r1", "r2")},
              "decision": {"outcome": code, "rollback": {"performed": rolled_back, "verified": rolled_back}, "detected": FILLER[:2]},
              "failed_at": "2026-11-02T00:20:00Z" if failed else "", "rollback_verified_at": "2026-11-02T00:21:30Z" if rolled_back else ""}
    events += [(600, "approval.approve", "alice", {"approver": "alice", "decision": "approve", "content_hash": HASH, "source": "ssh"}),
               (601, "verdict.review", "svc-ci", {"gate": "review", "verdict": {
                   "decision": "pass", "reasons": FILLER[:8], "counted": [{"approver": "alice", "groups": ["netops"]}]}}),
               (601, "change.state", "svc-ci", {"from": "authorize", "to": "scheduled", "close_code": None, "reason": "review gate passed"}),
               (900, "verdict.window", "governed.change", {"gate": "window", "verdict": window}),
               (905, "lock.acquired", "svc-ci", {"devices": ["r1", "r2"], "expires": "2026-11-02T02:00:00Z", "ttl_s": 3600}),
               (930, "stage.refs", "governed.change.deploy", {"stage": "deploy", "refs": {"backups": {"r1": {"sha256": HASH}}}}),
               (930, "stage.started", "governed.change.deploy", {"stage": "deploy", "hosts": ["r1", "r2"], "candidates": {}}),
               (931, "change.state", "svc-ci", {"from": "scheduled", "to": "implement", "close_code": None}),
               (1800, "stage.results", "svc-ci", {"stages": stages}),
               (1800, "change.state", "svc-ci", {"from": "implement", "to": "review", "close_code": None}),
               (1800, "change.state", "svc-ci", {"from": "review", "to": "closed", "close_code": code}),
               (1800, "change.outcome", "svc-ci", {"outcome": code, "from_state": "implement", "evidence": "out/evidence/%s/bundle.json" % cid}),
               (1801, "lock.released", None, {"devices": ["r1", "r2"]}),
               (1802, "evidence.built", "svc-ci", {"bundle_sha256": HASH, "evidence": "out/evidence/%s/bundle.json" % cid})]
    return cid, events


def task_events(i):
    """The evidence callback's task events of change i's run (26 of them)."""
    return [(10 + 60 * n, "task", "governed.change.evidence", {
        "action": "governed.change.%s" % ("check", "snapshot", "deploy", "backup")[n % 4], "host": "r%d" % (n % 3 + 1),
        "status": "ok", "duration_s": 1.234, "started": "2026-11-02T00:00:%02dZ" % (n % 60), "task": "Task number %d of the run" % n,
        "result": {"changed": n % 2 == 0, "msg": FILLER[n % 24], "keys": ["changed", "msg", "failed"]}}) for n in range(26)]


def build(path, events, mix):
    """A ledger of exactly ``events`` events (the last change cut short when needed), by direct SQL inserts."""
    for suffix in ("", "-wal", "-shm"):  # a kept ledger of an earlier run is rebuilt
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    SqliteLedger(path, clock=lambda: START).close()  # the schema, migrated
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    seq, prev, rows = 0, GENESIS_HASH, []
    i = 0
    while seq < events:
        cid, items = lifecycle(i)
        if mix != "lifecycle":
            items = sorted(items + task_events(i), key=lambda item: item[0])
        base = START + datetime.timedelta(minutes=i)
        for offset, kind, actor, data in items:
            if seq >= events:
                break
            seq += 1
            ts = (base + datetime.timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")
            data_json = canonical_json(data)
            digest = event_hash(seq, cid, ts, kind, actor, data_json, prev)
            rows.append((seq, cid, ts, kind, actor, data_json, prev, digest))
            prev = digest
        if len(rows) >= 50000:
            conn.executemany("INSERT INTO events (seq, change_id, ts, kind, actor, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", rows)
            rows = []
        i += 1
    conn.executemany("INSERT INTO events (seq, change_id, ts, kind, actor, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", rows)
    for table in ("chain_head", "checkpoint"):
        conn.execute("INSERT INTO %s (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, "
                     "hash = excluded.hash" % table, (seq, prev))
    conn.execute("COMMIT")
    conn.close()
    return i


def best_of(repeat, func):
    times, value = [], None
    for _run in range(repeat):
        started = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - started)
    return min(times), value


def scan(path):
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return sum(len(data) for _kind, data in conn.execute("SELECT kind, data FROM events"))
    finally:
        conn.close()


def count(path):
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def measure(path, size, mix, repeat):
    started = time.perf_counter()
    changes = build(path, size, mix)
    built = time.perf_counter() - started
    count_s, total = best_of(repeat, lambda: count(path))
    scan_s, _bytes = best_of(repeat, lambda: scan(path))
    metrics_s, report = best_of(repeat, lambda: metrics.compute_ledger(path, period="day", by="tier"))
    total_row = next(r for r in report["rows"] if r["period"] == "all" and r["group"] == "low")
    assert total == size and report["changes"] == changes, (total, report["changes"], changes)
    print("%9d events (%s, %d changes, %.0f MB): built in %.1f s | count(*) %.3f s | scan %.3f s | metrics %.3f s"
          " (%.1fx the scan) | goal 1M < 10 s: %s" % (
              size, mix, changes, os.path.getsize(path) / 1e6, built, count_s, scan_s, metrics_s, metrics_s / scan_s,
              "n/a" if size < 1000000 else ("MET" if metrics_s < 10 else "MISSED")))
    print("          low tier, whole range: %d requested, CFR %s, lead p50 %s s" % (
        total_row["counts"]["requested"], total_row["change_failure_rate"]["rate"], total_row["lead_time_s"]["p50"]))
    return metrics_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 1000000])
    parser.add_argument("--mix", choices=("pipeline", "lifecycle"), default="pipeline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="build the ledgers in this directory and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or tmp
        results = [measure(os.path.join(where, "metrics-%s-%d.sqlite" % (args.mix, size)), size, args.mix, args.repeat)
                   for size in args.sizes]
    missed = [size for size, seconds in zip(args.sizes, results) if size >= 1000000 and seconds >= 10]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
