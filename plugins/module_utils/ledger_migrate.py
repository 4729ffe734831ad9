# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`governed-change ledger migrate`: copy a ledger to another backend (SQLite -> PostgreSQL, or back) row for row.

The rows are copied as stored (seq, ts, data text, hashes), so the copy's chain is the source's chain: both are verified
afterwards and their head hashes and event counts must be the same. A target that already holds events is refused unless
it is a prefix-identical copy (an earlier migration, then only the newer rows are added)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import (
    LedgerTampered, is_database_url, open_ledger, rebuild_change_counts)

EVENT_COLUMNS = ("seq", "change_id", "ts", "kind", "actor", "data", "prev_hash", "hash")
CHANGE_COLUMNS = ("id", "title", "author", "state", "close_code", "tier", "content_hash", "created", "updated")
APPROVAL_COLUMNS = ("id", "change_id", "approver", "decision", "content_hash", "ts", "comment", "signature", "principal",
                    "source", "verified", "recorded")
LOCK_COLUMNS = ("device", "change_id", "owner", "acquired", "expires")
BATCH = 5000


def source_location(text):
    """A --from/--to value: ``sqlite:PATH`` or a bare path is a SQLite file, a postgresql:// URL a database."""
    if not text:
        raise LedgerError("no ledger location was given.", where="ledger migrate",
                          fix="pass --from sqlite:PATH and --to postgresql://HOST/DB.")
    return text[len("sqlite:"):] if text.startswith("sqlite:") else text


def _select(table, columns, order):
    return "SELECT %s FROM %s ORDER BY %s" % (", ".join(columns), table, order)


def _insert(table, columns):
    return "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join("?" * len(columns)))


def _executemany(conn, sql, rows):
    if rows:
        conn.executemany(sql, rows)


def _prefix_problem(src, dst):
    """Why the target's events are not a prefix of the source's (None: empty, or a prefix the copy continues)."""
    head = dst.head()
    if head["seq"] == 0:
        return None
    theirs = src.conn.execute("SELECT hash FROM events WHERE seq = ?", (head["seq"],)).fetchone()
    if theirs is None:
        return "the target holds %d events, more than the source" % head["seq"]
    if theirs[0] != head["hash"]:
        return "the target's event at seq %d is not the source's (hash %s, the source has %s)" % (
            head["seq"], head["hash"][:16], theirs[0][:16])
    report = dst.verify()
    if not report["ok"]:
        return "the target does not verify (%s)" % report["problems"][0]["problem"]
    return None


def _copy_changes(src, conn):
    present = {row[0] for row in conn.execute("SELECT id FROM changes")}
    inserts, updates = [], []
    for row in src.conn.execute(_select("changes", CHANGE_COLUMNS, "id")).fetchall():
        if row[0] in present:
            updates.append(row[3:7] + (row[8], row[0]))
        else:
            inserts.append(tuple(row))
    _executemany(conn, _insert("changes", CHANGE_COLUMNS), inserts)
    _executemany(conn, "UPDATE changes SET state = ?, close_code = ?, tier = ?, content_hash = ?, updated = ? WHERE id = ?",
                 updates)


def _copy_approvals(src, conn):
    theirs = [tuple(row) for row in src.conn.execute(_select("approvals", APPROVAL_COLUMNS, "id")).fetchall()]
    ours = [tuple(row) for row in conn.execute(_select("approvals", APPROVAL_COLUMNS, "id")).fetchall()]
    if ours != theirs[:len(ours)]:
        raise LedgerError("the target's approvals are not the source's first %d approvals." % len(ours), where="ledger migrate",
                          fix="migrate into an empty database (or schema).")
    _executemany(conn, _insert("approvals", APPROVAL_COLUMNS), theirs[len(ours):])


def _copy_events(src, conn, after):
    copied, batch = 0, []
    sql = _insert("events", EVENT_COLUMNS)
    for row in src.conn.execute(_select("events", EVENT_COLUMNS, "seq").replace(" ORDER BY", " WHERE seq > ? ORDER BY"), (after,)):
        batch.append(tuple(row))
        if len(batch) >= BATCH:
            _executemany(conn, sql, batch)
            copied, batch = copied + len(batch), []
    _executemany(conn, sql, batch)
    return copied + len(batch)


def _copy(src, dst, after):
    """Copy the rows in one write transaction of the target (its triggers allow inserts and forward moves only)."""
    def run(conn):
        copied = _copy_events(src, conn, after)
        rebuild_change_counts(conn)
        _copy_changes(src, conn)
        _copy_approvals(src, conn)
        conn.execute("DELETE FROM locks")
        _executemany(conn, _insert("locks", LOCK_COLUMNS), [tuple(r) for r in src.conn.execute(_select("locks", LOCK_COLUMNS, "device"))])
        head = src.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head is not None and copied:
            conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, "
                         "hash = excluded.hash", tuple(head))
        if hasattr(dst, "after_copy"):  # PostgreSQL: the approvals' identity sequence
            dst.after_copy(conn)
        return copied
    return dst._write(run)  # pylint: disable=protected-access


def _mark_verified(dst, head):
    """The copy verified in full: its checkpoint is the head (the stages' incremental checks start there)."""
    def run(conn):
        conn.execute("INSERT INTO checkpoint (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, "
                     "hash = excluded.hash", (head["seq"], head["hash"]))
    if head["seq"]:
        dst._write(run)  # pylint: disable=protected-access


def migrate(source, target):
    """Copy the ledger at ``source`` to ``target`` and verify both; returns {from, to, copied} with each side's
    {location, backend, events, head}. Refuses a source that does not verify, a target that is not empty or a
    prefix-identical copy, and a copy whose verification differs from the source's."""
    source, target = source_location(source), source_location(target)
    if source == target:
        raise LedgerError("--from and --to name the same ledger.", where="ledger migrate", fix="name another target.")
    with open_ledger(source, readonly=True) as src:
        before = src.verify()
        if not before["ok"]:
            raise LedgerTampered(before["problems"], source)
        with open_ledger(target) as dst:
            problem = _prefix_problem(src, dst)
            if problem:
                raise LedgerError("the target ledger is not empty and not a copy of the source: %s; nothing was copied." % problem,
                                  where=target, fix="migrate into an empty database (or schema), or drop the target first.")
            copied = _copy(src, dst, dst.head()["seq"])
            if hasattr(dst, "after_bulk_load"):  # PostgreSQL: statistics and visibility map after the bulk insert
                dst.after_bulk_load()
            after = dst.verify()
            now = src.verify()
            if not after["ok"] or (after["events"], after["head"]) != (now["events"], now["head"]):
                raise LedgerError("the copy does not verify like the source (source: %d events, head %s; copy: %d events, head "
                                  "%s%s)." % (now["events"], now["head"]["hash"], after["events"], after["head"]["hash"],
                                              "; " + after["problems"][0]["problem"] if after["problems"] else ""),
                                  where=target, fix="stop every pipeline writing the source, then run the migration again.")
            _mark_verified(dst, after["head"])
    return {"from": _side(source, now), "to": _side(target, after), "copied": copied}


def _side(location, report):
    return {"location": location, "backend": "postgresql" if is_database_url(location) else "sqlite",
            "events": report["events"], "head": report["head"], "ok": report["ok"]}
