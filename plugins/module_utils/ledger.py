# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change ledger: change records, a hash-chained event log, approvals and device locks."""

from __future__ import annotations

import abc
import copy
import datetime
import hashlib
import json
import multiprocessing
import os
import re
import sqlite3
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.redact import redact_value
from ansible_collections.governed.change.plugins.module_utils.paths import SAFE_ID_HINT, SAFE_ID_RE, is_database_url
from ansible_collections.governed.change.plugins.module_utils import clock
from ansible_collections.governed.change.plugins.module_utils.clock import utc_now as clock_now

GENESIS_HASH = "0" * 64

STATES = ("new", "assess", "authorize", "scheduled", "implement", "review", "closed", "canceled")
CLOSE_CODES = ("successful", "successful_issues", "unsuccessful")
# Forward path of the ITSM lifecycle. "authorize"/"scheduled" -> "assess" is a re-assessment (the content
# changed, earlier approvals are void). "canceled" is reachable from every state but closed/canceled.
TRANSITIONS = {
    "new": ("assess",),
    "assess": ("authorize",),
    "authorize": ("scheduled", "assess"),
    "scheduled": ("implement", "assess"),
    "implement": ("review",),
    "review": ("closed",),
    "closed": (),
    "canceled": (),
}
FINAL_STATES = ("closed", "canceled")

_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,200}$")

try:  # the C string encoder of the json module: the exact form canonical_json gives a str
    from json.encoder import encode_basestring as _encode_str
except ImportError:  # pragma: no cover
    _encode_str = None


def redact(data):
    """Copy of ``data`` fit for an event: redact.redact_value (secret-looking keys, and secrets inside config text)."""
    return redact_value(data)


def utc_now():
    """The current time, timezone-aware UTC."""
    return clock_now()


def iso_z(moment):
    """A ledger timestamp: clock.iso_z (ISO 8601 UTC, trailing Z, microseconds kept when present), the form every row
    has had. A row's hash covers its ts as stored: stored rows are never re-formatted."""
    if moment.tzinfo is None:
        raise LedgerError("a naive datetime was given where an aware one is required.",
                          fix="pass timezone-aware datetimes (UTC).")
    return clock.iso_z(moment)


def parse_iso(text, where="timestamp"):
    """Parse ISO 8601 text (Z or offset) into an aware UTC datetime; naive text is refused (clock.parse_instant)."""
    return clock.parse_instant(text, where=where, error=LedgerError)


LOCK_FIX = ("wait for the holding change to finish; for an expired or stale lease check that its run is dead, then break it "
            "explicitly (`governed-change ledger break-lock DEVICE --reason ...`).")


def lock_conflicts(locks, change_id, devices, owner, now):
    """Why leasing ``devices`` to ``change_id``/``owner`` at ``now`` is refused, one reason per device ([]: all may be taken).

    ``locks``: lease rows ({device, change_id, owner, expires}). The change's own lease (same owner) is renewed; any other
    lease is refused, an expired one too (it is never taken over silently). The one rule of SqliteLedger.acquire_locks
    and of the lock stage's check mode (lifecycle.acquire_locks)."""
    wanted = set(devices)
    refused = []
    for lock in sorted(locks, key=lambda row: row["device"]):
        if lock["device"] not in wanted or (lock["change_id"] == change_id and lock["owner"] == owner):
            continue
        holder = (lock["device"], lock["change_id"], lock["owner"], lock["expires"])
        if parse_iso(lock["expires"]) > now:
            refused.append("%s is locked by change %s (owner %s) until %s" % holder)
        else:
            refused.append("%s has an expired lease of change %s (owner %s, expired %s); it is not taken over silently" % holder)
    return refused


def refuse_lock_conflicts(locks, change_id, devices, owner, now):
    """Raise LedgerError naming every device ``lock_conflicts`` refuses (nothing is written)."""
    refused = lock_conflicts(locks, change_id, devices, owner, now)
    if refused:
        raise LedgerError("cannot lock devices for change %s: %s." % (change_id, "; ".join(refused)), where="locks", fix=LOCK_FIX)


def event_hash(seq, change_id, ts, kind, actor, data_json, prev_hash):
    """sha256 of canonical_json({seq, change_id, ts, kind, actor, data, prev_hash}).

    ``data_json`` is the canonical JSON text of ``data`` (as stored). The document is assembled from the
    pre-serialised parts (keys in sorted order), which is byte-identical to canonical_json of the dict and
    lets verify() check 100,000 events in well under a second.
    """
    def enc(value):
        if value is None:
            return "null"
        return _encode_str(value) if _encode_str is not None else json.dumps(value, ensure_ascii=False)
    text = '{"actor":%s,"change_id":%s,"data":%s,"kind":%s,"prev_hash":%s,"seq":%d,"ts":%s}' % (
        enc(actor), enc(change_id), data_json, enc(kind), enc(prev_hash), seq, enc(ts))
    return sha256_of(text)


# ledger verify: a chain of at least this many events is hashed in two processes (VERIFY_CHUNKS ranges taken in turn),
# where fork is available
VERIFY_SPLIT_MIN = 200000
# ranges of a long chain that verify's process and its forked worker take in turn (about 0.1 s each at 1M events)
VERIFY_CHUNKS = 32
# how much of the ledger file the chain pass maps into memory (SQLite caps it at its own limit)
VERIFY_MMAP_BYTES = 1 << 34
# data comes as its UTF-8 bytes (the stored text's own encoding): hashed as it is, never decoded and encoded again; a
# data value stored as anything but text comes as None (not intact: the walk hashes what it reads and names the seq)
_RANGE_SQL = ("SELECT seq, change_id, ts, kind, actor, CASE typeof(data) WHEN 'text' THEN CAST(data AS BLOB) END, prev_hash, hash "
              "FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq")


def _quoted(value, cache):
    """The JSON form of a column value in an event's hashed document (event_hash's enc), cached for repeated values."""
    found = cache.get(value)
    if found is None:
        found = "null" if value is None else (_encode_str(value) if _encode_str is not None else json.dumps(value, ensure_ascii=False))
        if len(cache) < 50000:
            cache[value] = found
    return found


def _quote_ts(value):
    return _encode_str(value) if _encode_str is not None else json.dumps(value, ensure_ascii=False)


class _Tally:
    """What the chain pass gathers as it reads every event once, so that verify need not read the log again: per
    (actor, change_id) the sha256 state of the hashed document's opening (copied for each event: the opening is the
    same text for all of them), the events counted and the last seq; and the rows of the kinds that make the changes,
    approvals and locks tables. Its size follows the distinct (actor, change) pairs and those rows, not the log."""

    __slots__ = ("openings", "rows", "quoted")

    def __init__(self):
        self.openings, self.rows, self.quoted = {}, [], {}

    def opening(self, actor, change_id):
        """The entry [sha256 state of '{"actor":..,"change_id":..,"data":', events, last seq] of a new pair."""
        text = '{"actor":%s,"change_id":%s,"data":' % (_quoted(actor, self.quoted), _quoted(change_id, self.quoted))
        entry = self.openings[(actor, change_id)] = [hashlib.sha256(text.encode("utf-8")), 0, 0]
        return entry

    def counts(self):
        """{change_id: (events, last seq)} of the events read (_change_counts' form)."""
        counts = {}
        for (_actor, change_id), (_state, events, last) in self.openings.items():
            if change_id is not None:
                had = counts.get(change_id, (0, 0))
                counts[change_id] = (had[0] + events, max(had[1], last))
        return counts

    def export(self):
        """The counts and rows, to send from the worker process (sha256 states do not pickle)."""
        return self.counts(), self.rows

    def merge(self, exported):
        counts, rows = exported
        for change_id, (events, last) in counts.items():
            entry = self.openings.setdefault((None, change_id), [None, 0, 0])
            entry[1], entry[2] = entry[1] + events, max(entry[2], last)
        self.rows.extend(rows)

    def tables(self):
        """verify's table inputs: the records the events imply and each change's (events, last seq)."""
        self.rows.sort(key=lambda row: row[0])
        return {"derived": derive_state(self.rows), "counts": self.counts()}


def range_intact(rows, expected, last, tally=None):
    """Whether event rows (seq, change_id, ts, kind, actor, data as UTF-8 bytes, prev_hash, hash) in seq order continue a clean chain: the
    first is seq ``expected`` linked to the hash ``last``, each next one numbered and linked to the one before, each
    matching its hash (event_hash's document, built with less work per row). Returns (ok, next seq, last hash); any
    doubt is not ok (verify then walks the whole log and says what is wrong). ``tally`` (a _Tally) gathers the counts
    and table rows on the way."""
    # the loop is the whole cost of verify at 1M events (issue 16): the hashed document's opening (actor and change_id)
    # is a sha256 state copied per event, then the data's bytes as stored, then the rest as an f-string (the kind's JSON
    # form from a dict; a cached form is never empty): the same text as event_hash's (the tests compare this pass with
    # the walk, which hashes through event_hash)
    tally = _Tally() if tally is None else tally
    openings, cache, keep = tally.openings, tally.quoted, tally.rows.append
    opening, known = openings.get, cache.get
    quote_ts, table_kinds = _encode_str or _quote_ts, _DERIVE_RULES
    for seq, cid, ts, kind, actor, data, prev, digest in rows:
        if seq != expected or prev != last or ts.__class__ is not str or data.__class__ is not bytes:
            return False, expected, last
        entry = opening((actor, cid)) or tally.opening(actor, cid)
        entry[1] += 1
        entry[2] = seq
        state = entry[0].copy()
        state.update(data)
        state.update(f',"kind":{known(kind) or _quoted(kind, cache)},"prev_hash":"{prev}","seq":{seq:d},"ts":{quote_ts(ts)}}}'.encode())
        if state.hexdigest() != digest:
            return False, expected, last
        if kind in table_kinds:
            keep((seq, cid, ts, kind, actor, data.decode("utf-8")))
        expected, last = seq + 1, digest
    return True, expected, last


def _stored_type_problem(row):
    """An event row (seq, change_id, ts, kind, actor, data, prev_hash, hash) with a column stored as anything but text
    (change_id and actor may be NULL): the problem the walk reports for it, else None."""
    for column, value in zip(("change_id", "ts", "kind", "actor", "data", "prev_hash", "hash"), row[1:]):
        if value.__class__ is not str and not (value is None and column in ("change_id", "actor")):
            return {"seq": row[0], "problem": "its %s is stored as %s, not text: the event was edited outside the "
                    "ledger." % (column, "NULL" if value is None else type(value).__name__)}
    return None


def _chunk_intact(conn, low, high, tally=None):
    """range_intact over seqs low..high through ``conn``, starting from the stored hash of seq low-1 (which the chunk
    before shows to be the true one)."""
    before = conn.execute("SELECT hash FROM events WHERE seq = ?", (low - 1,)).fetchone() if low > 1 else (GENESIS_HASH,)
    if before is None:
        return False
    try:
        ok, expected, _last = range_intact(conn.execute(_RANGE_SQL, (low, high)), low, before[0], tally)
    except (TypeError, ValueError):  # a column of a type no event has (a hostile edit): the full walk says what it is
        return False
    return ok and expected == high + 1


def _take_chunks(conn, chunks, counter, tally=None):
    """Check chunks taken one by one from ``counter`` (shared with the other process) until none is left; False at the
    first chunk not intact (and no chunk is handed out after it)."""
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        if index >= len(chunks):
            return True
        if not _chunk_intact(conn, *chunks[index], tally=tally):
            with counter.get_lock():
                counter.value = len(chunks)
            return False


def _range_connection(path):
    """A read-only connection for the chain pass that maps the file into memory (a third less time stepping through the
    pages than reading them; the ranges only read, up to a seq fixed before the pass)."""
    conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path)), uri=True)
    conn.execute("PRAGMA mmap_size = %d" % VERIFY_MMAP_BYTES)
    return conn


def _send_chunks_result(pipe, path, chunks, counter):
    """The worker: its chunks' tally exported when they are intact, else None."""
    try:
        conn = _range_connection(path)
        try:
            tally = _Tally()
            result = tally.export() if _take_chunks(conn, chunks, counter, tally) else None
        finally:
            conn.close()
    except Exception:  # pylint: disable=broad-except  # any failure is "not shown intact": the full walk follows
        result = None
    pipe.send(result)
    pipe.close()


def _start_chunk_worker(path, chunks, counter):
    """A forked process taking chunks from ``counter`` (None where fork is not available): (process, pipe)."""
    if counter is None:
        return None
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_send_chunks_result, args=(send, path, chunks, counter), daemon=True)
    proc.start()
    send.close()
    return proc, receive


def _shared_counter():
    """A counter both processes take chunks from (None where fork is not available)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork").Value("l", 0)


def _range_worker_result(worker):
    """The worker's exported tally (None when its chunks were not intact, or it died or sent nothing)."""
    proc, receive = worker
    try:
        return receive.recv()
    except (EOFError, OSError):
        return None
    finally:
        receive.close()
        proc.join(5)


class LedgerBackend(abc.ABC):
    """What a ledger offers; SqliteLedger is the embedded default, a shared SQL DB or an ITSM may follow."""

    @abc.abstractmethod
    def create_change(self, change_id, title, author, actor=None, tier=None, content_hash=None):
        """Create a change record in state ``new``."""

    @abc.abstractmethod
    def get_change(self, change_id):
        """The change record as a dict, or None."""

    @abc.abstractmethod
    def transition(self, change_id, to_state, actor, close_code=None, reason=None):
        """Move a change along its lifecycle; illegal transitions raise LedgerError."""

    @abc.abstractmethod
    def set_assessment(self, change_id, tier, content_hash, actor):
        """Record the tier and content hash of the latest assessment."""

    @abc.abstractmethod
    def append_event(self, change_id, kind, actor, data=None):
        """Append one event to the hash chain; returns the event."""

    @abc.abstractmethod
    def events(self, change_id=None, since_seq=0):
        """Events in seq order, optionally of one change."""

    @abc.abstractmethod
    def record_approval(self, approval, actor=None):
        """Store an approval (as built by approvals.py or awx.py) and its event."""

    @abc.abstractmethod
    def approvals(self, change_id):
        """The stored approvals of a change, in the shape review_gate consumes."""

    @abc.abstractmethod
    def record_verdict(self, change_id, gate, verdict, actor="governed.change"):
        """Append a gate verdict as an event."""

    @abc.abstractmethod
    def acquire_locks(self, change_id, devices, owner, ttl_s):
        """Lease every device to the change, all or nothing."""

    @abc.abstractmethod
    def release_locks(self, change_id, devices=None):
        """Release the change's leases (all, or the listed devices)."""

    @abc.abstractmethod
    def break_lock(self, device, actor, reason):
        """Explicitly break a device lease; recorded as an event."""

    @abc.abstractmethod
    def locks(self, device=None):
        """Current lease rows."""

    @abc.abstractmethod
    def verify(self, anchor=None):
        """Check the whole event chain and the records derived from it; returns {ok, events, head, problems}."""

    @abc.abstractmethod
    def check_change(self, change_id=None, devices=()):
        """Verify what a decision about the change relies on, cheaply; raise LedgerTampered; return the change record."""


def _run_script(conn, script):
    """Execute DDL statement by statement (executescript would commit the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m1_initial(conn):
    _run_script(conn, """
        CREATE TABLE changes (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, state TEXT NOT NULL,
            close_code TEXT, tier TEXT, content_hash TEXT, created TEXT NOT NULL, updated TEXT NOT NULL);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY, change_id TEXT, ts TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT,
            data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE INDEX events_change ON events(change_id, seq);
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL, approver TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')), content_hash TEXT NOT NULL,
            ts TEXT NOT NULL, comment TEXT, signature TEXT, principal TEXT,
            source TEXT NOT NULL CHECK (source IN ('ssh', 'awx')), verified INTEGER NOT NULL DEFAULT 0,
            recorded TEXT NOT NULL);
        CREATE INDEX approvals_change ON approvals(change_id);
        CREATE TABLE locks (
            device TEXT PRIMARY KEY, change_id TEXT NOT NULL, owner TEXT NOT NULL,
            acquired TEXT NOT NULL, expires TEXT NOT NULL);
        CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    """)


def _abort(message):
    return "SELECT RAISE(ABORT, 'governed.change ledger: %s')" % message


# The append-only rules the database enforces itself (schema version 2). verify() compares the stored triggers with
# these exact texts, so a dropped or edited trigger is reported even when nothing else was touched.
APPEND_ONLY_TRIGGERS = {
    "events_append_only_update": "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN %s; END"
                                 % _abort("events are append-only (UPDATE refused)"),
    "events_append_only_delete": "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN %s; END"
                                 % _abort("events are append-only (DELETE refused)"),
    "approvals_append_only_update": "CREATE TRIGGER approvals_append_only_update BEFORE UPDATE ON approvals BEGIN %s; END"
                                    % _abort("approvals are append-only (UPDATE refused)"),
    "approvals_append_only_delete": "CREATE TRIGGER approvals_append_only_delete BEFORE DELETE ON approvals BEGIN %s; END"
                                    % _abort("approvals are append-only (DELETE refused)"),
    "changes_no_delete": "CREATE TRIGGER changes_no_delete BEFORE DELETE ON changes BEGIN %s; END"
                         % _abort("change records are never deleted"),
    "changes_fixed_fields": "CREATE TRIGGER changes_fixed_fields BEFORE UPDATE OF id, title, author, created ON changes "
                            "BEGIN %s; END" % _abort("the id, title, author and created of a change record are fixed"),
    "chain_head_forward_only": "CREATE TRIGGER chain_head_forward_only BEFORE UPDATE ON chain_head WHEN NEW.seq <= OLD.seq "
                               "BEGIN %s; END" % _abort("the chain head only moves forward"),
    "chain_head_no_delete": "CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head BEGIN %s; END"
                            % _abort("the chain head is never deleted"),
}


def _m2_append_only(conn):
    """Schema 2: record timestamps taken from their events (so they can be derived and compared), a verified
    checkpoint for incremental checks, an index on event kinds (lock history), and the append-only triggers."""
    rows = conn.execute("SELECT seq, change_id, ts, kind, actor, data FROM events ORDER BY seq")
    derived = derive_state(rows)
    for change_id, change in derived["changes"].items():
        conn.execute("UPDATE changes SET created = ?, updated = ? WHERE id = ?", (change["created"], change["updated"], change_id))
    for change_id, items in derived["approvals"].items():
        ids = [row[0] for row in conn.execute("SELECT id FROM approvals WHERE change_id = ? ORDER BY id", (change_id,))]
        for row_id, item in zip(ids, items):
            conn.execute("UPDATE approvals SET recorded = ? WHERE id = ?", (item["recorded"], row_id))
    for device, lock in derived["locks"].items():
        conn.execute("UPDATE locks SET acquired = ? WHERE device = ? AND change_id = ?", (lock["acquired"], device, lock["change_id"]))
    conn.execute("CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)")
    conn.execute("CREATE INDEX events_kind ON events(kind, seq)")
    for sql in APPEND_ONLY_TRIGGERS.values():
        conn.execute(sql)


CHANGE_EVENTS_TABLE = "CREATE TABLE change_events (change_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_seq INTEGER NOT NULL)"


def rebuild_change_counts(conn):
    """Fill change_events (per change: how many events it has and its last seq) from the events themselves: once, when
    the table is created or after rows were copied in (ledger migrate). Appends keep it up to date one row at a time."""
    conn.execute("DELETE FROM change_events")
    conn.execute("INSERT INTO change_events (change_id, events, last_seq) SELECT change_id, COUNT(*), MAX(seq) FROM events "
                 "WHERE change_id IS NOT NULL GROUP BY change_id")


def _m3_change_counts(conn):
    """Schema 3: each change's event count and last seq (change_events), so the check before a write finds a deleted event
    of the change by two indexed lookups instead of counting every event of the ledger."""
    conn.execute(CHANGE_EVENTS_TABLE)
    rebuild_change_counts(conn)


# Ordered migrations: index + 1 is the schema version each one produces. Append, never edit.
MIGRATIONS = (_m1_initial, _m2_append_only, _m3_change_counts)
SCHEMA_VERSION = len(MIGRATIONS)
NOT_A_LEDGER = "not a governed.change ledger: no events table"

_DERIVED_KINDS = ("change.", "approval.", "lock.")
LOCK_KINDS = ("lock.acquired", "lock.released", "lock.broken")


def _derive_created(records, seq, change_id, ts, actor, data):
    """change.created: the change record starts in state new, with the title, author, tier and hash it was created with."""
    records["changes"][change_id] = {"id": change_id, "title": data.get("title"), "author": data.get("author"), "state": "new",
                                     "close_code": None, "tier": data.get("tier"), "content_hash": data.get("content_hash"),
                                     "created": ts, "updated": ts, "_seq": seq}


def _derive_state_change(records, seq, change_id, ts, actor, data):
    """change.state: a known change moves to the event's state and close code."""
    change = records["changes"].get(change_id)
    if change is not None:
        change.update(state=data.get("to"), close_code=data.get("close_code"), updated=ts, _seq=seq)


def _derive_assessed(records, seq, change_id, ts, actor, data):
    """change.assessed: a known change takes the event's tier and content hash."""
    change = records["changes"].get(change_id)
    if change is not None:
        change.update(tier=data.get("tier"), content_hash=data.get("content_hash"), updated=ts, _seq=seq)


def _derive_approval(records, seq, change_id, ts, actor, data):
    """approval.approve / approval.deny: one more approvals row of the change, in event order."""
    records["approvals"].setdefault(change_id, []).append(dict(data, change_id=change_id, recorded=ts, seq=seq))


def _derive_lock_acquired(records, seq, change_id, ts, actor, data):
    """lock.acquired: each named device is leased to the change (replacing any earlier lease)."""
    for device in data.get("devices") or []:
        records["locks"][device] = {"device": device, "change_id": change_id, "owner": actor, "acquired": ts,
                                    "expires": data.get("expires"), "seq": seq}


def _derive_lock_released(records, seq, change_id, ts, actor, data):
    """lock.released: a named device's lease ends only when this change holds it."""
    locks = records["locks"]
    for device in data.get("devices") or []:
        if device in locks and locks[device]["change_id"] == change_id:
            del locks[device]


def _derive_lock_broken(records, seq, change_id, ts, actor, data):
    """lock.broken: the broken lease's device is free, whoever held it."""
    device = (data.get("lock") or {}).get("device")
    records["locks"].pop(device, None)


# event kind -> how it changes the derived records; other change./approval./lock. kinds change nothing
_DERIVE_RULES = {
    "change.created": _derive_created,
    "change.state": _derive_state_change,
    "change.assessed": _derive_assessed,
    "approval.approve": _derive_approval,
    "approval.deny": _derive_approval,
    "lock.acquired": _derive_lock_acquired,
    "lock.released": _derive_lock_released,
    "lock.broken": _derive_lock_broken,
}


def _event_object(data_json):
    """The event's data as a dict, or None when it is not a JSON object (an edited event: verify() reports its hash)."""
    try:
        data = json.loads(data_json)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def derive_state(rows, records=None):
    """Replay events ((seq, change_id, ts, kind, actor, data_json), in seq order) into the records they imply.

    Returns {changes: {id: row + _seq}, approvals: {change_id: [row + seq]}, locks: {device: row + seq}}: what the
    changes, approvals and locks tables must hold. The tables are a fast index of the chain, never an authority.
    ``records``: the records of the events before ``rows`` (replayed earlier), continued in place.
    """
    records = records if records is not None else {"changes": {}, "approvals": {}, "locks": {}}
    for seq, change_id, ts, kind, actor, data in rows:
        if not kind.startswith(_DERIVED_KINDS):
            continue
        data = _event_object(data)
        if data is None:
            continue
        rule = _DERIVE_RULES.get(kind)
        if rule is not None:
            rule(records, seq, change_id, ts, actor, data)
    return records


def _stored_form(key, value):
    """How ``value`` under ``key`` looks once stored in an event (secrets redacted)."""
    return json.loads(canonical_json(redact({key: value})))[key]


def _same(key, row_value, event_value):
    return row_value == event_value or _stored_form(key, row_value) == event_value


def _change_row_problems(change_id, row, want, times):
    """The problems of one changes row against the record its events imply (a missing side, or edited fields)."""
    if want is None:
        return [{"seq": None, "table": "changes", "problem": "changes row %s has no change.created event: the row "
                 "was inserted outside the ledger." % change_id}]
    if row is None:
        return [{"seq": want["_seq"], "table": "changes", "problem": "change %s has events but no changes row: the "
                 "row was deleted." % change_id}]
    problems = []
    for key in ("title", "author", "state", "close_code", "tier", "content_hash") + times:
        if not _same(key, row[key], want[key]):
            text = "changes row %s: %s is %r but its events (last at seq %d) say %r: the changes table was edited." % (
                change_id, key, row[key], want["_seq"], want[key])
            problems.append({"seq": want["_seq"], "table": "changes", "problem": text})
    return problems


def _compare_changes(derived, changes, times):
    """Problems of the changes table: every change id on either side, in id order."""
    problems = []
    for change_id in sorted(set(changes) | set(derived["changes"]), key=str):
        problems += _change_row_problems(change_id, changes.get(change_id), derived["changes"].get(change_id), times)
    return problems


def _approval_field_differences(row, want):
    """The plain fields an approvals row holds differently from its approval event (a field the event lacks is not compared)."""
    return ["%s is %r, the event says %r" % (key, row[key], want[key])
            for key in ("approver", "principal", "decision", "content_hash", "ts", "comment", "source")
            if key in want and not _same(key, row[key], want[key])]


def _approval_differences(row, want, strict_times):
    """What an approvals row says differently from its approval event (field by field, signature by its sha256)."""
    wrong = _approval_field_differences(row, want)
    if "signature_sha256" in want and (sha256_of(row["signature"]) if row["signature"] else None) != want["signature_sha256"]:
        wrong.append("the signature does not match the event's signature_sha256")
    if "verified" in want and bool(row["verified"]) != bool(want["verified"]):
        wrong.append("verified is %s, the event says %s" % (bool(row["verified"]), bool(want["verified"])))
    if strict_times and row["recorded"] != want["recorded"]:
        wrong.append("recorded is %r, the event says %r" % (row["recorded"], want["recorded"]))
    return wrong


def _approval_row_problem(change_id, position, row, want, strict_times):
    """The problem of the approval at ``position`` of a change (a missing side, or edited fields), or None."""
    if want is None:
        return {"seq": None, "table": "approvals", "problem": "approval #%d of %s (by %s) has no approval event: "
                "the row was inserted outside the ledger." % (position + 1, change_id, row["approver"])}
    if row is None:
        return {"seq": want["seq"], "table": "approvals", "problem": "the approval of %s recorded at seq %d has no "
                "approvals row: the row was deleted." % (change_id, want["seq"])}
    wrong = _approval_differences(row, want, strict_times)
    if not wrong:
        return None
    return {"seq": want["seq"], "table": "approvals", "problem": "approvals row of %s for the event at seq %d: "
            "%s: the approvals table was edited." % (change_id, want["seq"], "; ".join(wrong))}


def _at(items, position):
    """items[position], or None past its end."""
    return items[position] if position < len(items) else None


def _compare_approvals(derived, approvals, strict_times):
    """Problems of the approvals table: each change's rows against its approval events, position by position."""
    problems = []
    for change_id in sorted(set(approvals) | set(derived["approvals"]), key=str):
        rows, wants = approvals.get(change_id) or [], derived["approvals"].get(change_id) or []
        for position in range(max(len(rows), len(wants))):
            problem = _approval_row_problem(change_id, position, _at(rows, position), _at(wants, position), strict_times)
            if problem is not None:
                problems.append(problem)
    return problems


def _lock_row_problem(device, row, want, strict_times):
    """The problem of one device's locks row against the lease its events leave in force, or None."""
    if want is None:
        return {"seq": None, "table": "locks", "problem": "the lease of %s (change %s) has no lock.acquired event "
                "still in force: the locks table was edited." % (device, row["change_id"])}
    if row is None:
        return {"seq": want["seq"], "table": "locks", "problem": "%s is leased to change %s by the event at seq %d "
                "but has no locks row: the row was deleted." % (device, want["change_id"], want["seq"])}
    keys = ("change_id", "owner", "expires") + (("acquired",) if strict_times else ())
    wrong = ["%s is %r, the event says %r" % (key, row[key], want[key]) for key in keys if row[key] != want[key]]
    if not wrong:
        return None
    return {"seq": want["seq"], "table": "locks", "problem": "locks row of %s for the event at seq %d: %s: the "
            "locks table was edited." % (device, want["seq"], "; ".join(wrong))}


def _compare_locks(derived, locks, strict_times):
    """Problems of the locks table: every device on either side, in device order."""
    problems = []
    for device in sorted(set(locks) | set(derived["locks"]), key=str):
        problem = _lock_row_problem(device, locks.get(device), derived["locks"].get(device), strict_times)
        if problem is not None:
            problems.append(problem)
    return problems


def compare_tables(derived, changes, approvals, locks, strict_times=True):
    """Problems where the table rows (changes: {id: row}, approvals: {change_id: [row]}, locks: {device: row}) differ
    from what the events imply. Only the ids/devices present in either side of the given mappings are compared."""
    times = ("created", "updated") if strict_times else ()
    return [*_compare_changes(derived, changes, times), *_compare_approvals(derived, approvals, strict_times),
            *_compare_locks(derived, locks, strict_times)]


def _change_counts(rows):
    """{change_id: (events, last seq)} of event rows (seq, change_id, ...) in seq order."""
    counts = {}
    for row in rows:
        if row[1] is not None:
            counts[row[1]] = (counts.get(row[1], (0, 0))[0] + 1, row[0])
    return counts


def compare_change_counts(counts, stored, deleted=False):
    """Problems where change_events (``stored``: {change_id: (events, last_seq)}) differs from the events' own counts.
    ``deleted``: the log lacks events (reported by seq): a change counting more events than the log holds is explained."""
    problems = []
    for change_id in sorted(set(counts) | set(stored), key=str):
        want, have = counts.get(change_id, (0, 0)), stored.get(change_id)
        if have is not None and tuple(have) == want:
            continue
        have = have or (0, 0)
        if deleted and have[0] > want[0]:
            continue
        problems.append({"seq": want[1] or None, "table": "change_events", "problem": "change_events row of %s says %d events "
                         "(last at seq %d), the log has %d (last at seq %d): the change_events table was edited, or events "
                         "of the change were deleted." % (change_id, have[0], have[1], want[0], want[1])})
    return problems


def _anchor_problems(rows, anchor):
    """With an anchor ({seq, hash}): a problem when the log's event at that seq is missing or has another hash."""
    if not anchor:
        return []
    a_seq, a_hash = anchor.get("seq"), anchor.get("hash")
    actual = next((r[7] for r in rows if r[0] == a_seq), None)
    if actual == a_hash:
        return []
    return [{"seq": a_seq, "problem": "does not match the anchored hash %s: the chain was rewritten "
             "or truncated." % (a_hash,)}]


def _neighbour_links(conn, rows, batch=400):
    """{seq: (hash, prev_hash)} of the events just before and after each of ``rows`` (event rows), read in batches of
    primary-key lookups (one round trip per batch, not two per event)."""
    wanted = sorted({seq for row in rows for seq in (row[0] - 1, row[0] + 1) if seq > 0})
    links = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start:start + batch]
        links.update((seq, (digest, prev)) for seq, digest, prev in conn.execute(
            "SELECT seq, hash, prev_hash FROM events WHERE seq IN (%s)" % ", ".join("?" * len(chunk)), chunk))
    return links


def _acquisitions_backwards(conn, page=100):
    """(seq, data) of the lock.acquired events from the newest back, read a page at a time (a PostgreSQL cursor would
    otherwise bring every acquisition over before the walk stops at the first few)."""
    before = None
    while True:
        rows = conn.execute("SELECT seq, data FROM events WHERE kind = ?%s ORDER BY seq DESC LIMIT %d" % (
            "" if before is None else " AND seq < ?", page), (LOCK_KINDS[0],) + (() if before is None else (before,))).fetchall()
        yield from rows
        if len(rows) < page:
            return
        before = rows[-1][0]


def _already_walked(seq, walked_from, seen):
    """Whether a change's event needs no re-check: walked with the tail, or verified earlier by this connection."""
    return (walked_from is not None and seq > walked_from) or (seen is not None and seq <= seen[0])


class LedgerTampered(LedgerError):
    """The ledger does not verify: what a decision would rely on was edited outside the ledger."""

    kind = "ledger_tampered"

    def __init__(self, problems, path):
        self.problems = list(problems)
        seqs = [p["seq"] for p in self.problems if isinstance(p.get("seq"), int)]
        self.seq = min(seqs) if seqs else None
        first = next((p for p in self.problems if p.get("seq") == self.seq), self.problems[0])
        more = len(self.problems) - 1
        problem = "the ledger does not verify%s: %s%s" % (
            (" at seq %d" % self.seq) if self.seq is not None else "", first["problem"],
            (" (and %d more problem(s))" % more) if more > 0 else "")
        super().__init__(problem, where="ledger: %s" % path,
                         fix="nothing was recorded. Run `governed-change ledger verify --ledger %s` to list every problem, then "
                             "restore the ledger from a backup (or have the edit investigated); no stage records on a ledger "
                             "that does not verify." % path)


class SqliteLedger(LedgerBackend):
    """The embedded ledger: one SQLite file in WAL mode, safe with several writer processes."""

    _guard_schema = None  # the schema version, while a check runs
    _appended = None  # the events a guarded write appended (remembered as verified once it commits)

    def __init__(self, path, timeout_s=30.0, clock=None, readonly=False):
        if not path:
            raise LedgerError("no ledger path was given.", fix="pass the path of the ledger SQLite file.")
        self.path = str(path)
        self.clock = clock or utc_now
        self.readonly = bool(readonly)
        self._trusted = {"data_version": None, "changes": set(), "tail": False}
        # per change, the last event this connection verified ({seq, hash}): later checks re-hash only newer events
        self._seen = {}
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise LedgerError("the ledger directory does not exist.", where=parent,
                              fix="create the directory or choose another ledger path.")
        if self.readonly:
            self._open_readonly(timeout_s)
            return
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = %d" % int(timeout_s * 1000))
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise LedgerError("the ledger cannot be opened (%s)." % exc, where=self.path,
                              fix="check the path and its permissions; a corrupt file must be restored from backup.")
        if str(mode).lower() != "wal":
            raise LedgerError("the ledger cannot use WAL journaling (got %s)." % mode, where=self.path,
                              fix="put the ledger on a local filesystem that supports SQLite WAL mode.")
        self._migrate()

    def _open_readonly(self, timeout_s):
        """Open an existing file read-only (sqlite URI mode=ro): nothing is created, migrated or written."""
        if not os.path.isfile(self.path):
            raise LedgerError("the ledger file does not exist%s." % (" (it is a directory)" if os.path.isdir(self.path) else ""),
                              where=self.path, fix="check the ledger path.")
        uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(self.path))
        try:
            self.conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = %d" % int(timeout_s * 1000))
            tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            if getattr(self, "conn", None) is not None:
                self.conn.close()
            raise LedgerError("not a governed.change ledger: the file cannot be read as SQLite (%s)." % exc, where=self.path,
                              fix="pass the ledger file the stages write (governed_ledger), not another file.")
        if "events" not in tables:
            self.conn.close()
            raise LedgerError(NOT_A_LEDGER + ".", where=self.path,
                              fix="pass the ledger file the stages write (governed_ledger); nothing was read or changed.")
        missing = sorted({"changes", "approvals", "locks", "chain_head", "schema_version"} - tables)
        if missing:
            self.conn.close()
            raise LedgerError("not a governed.change ledger: the %s table(s) are missing." % ", ".join(missing), where=self.path,
                              fix="pass the ledger file the stages write (governed_ledger); a damaged ledger is restored from backup.")
        version = self.schema_version() or 0
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise LedgerError("the ledger schema is version %d, newer than this code (%d)." % (version, SCHEMA_VERSION),
                              where=self.path, fix="upgrade the governed.change collection.")

    # -- plumbing -------------------------------------------------------------------------------------
    def close(self):
        """Close the connection."""
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _begin(self):
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerError("the ledger is busy or unwritable (%s)." % exc, where=self.path,
                              fix="retry; if it persists, find the process holding the write lock.")

    def _write(self, func, guard=None):
        """Run func(conn) inside one BEGIN IMMEDIATE transaction; roll back on any error.

        ``guard`` ((change ids, devices)): verify what the write relies on first, in the same transaction, so nothing
        is recorded after a broken seq (LedgerTampered); the verified checkpoint then moves to the new head.
        """
        if self.readonly:
            raise LedgerError("the ledger was opened read-only.", where=self.path, fix="open it without readonly to record.")
        self._begin()
        self._appended = [] if guard is not None else None
        try:
            if guard is not None:
                self._guard(self.conn, guard[0], guard[1])
            result = func(self.conn)
            if guard is not None:
                self._advance_checkpoint(self.conn)
            self.conn.execute("COMMIT")
            self._remember_appended(self._appended or ())
            return result
        except BaseException as exc:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - nothing left to roll back
                pass
            if isinstance(exc, sqlite3.Error):
                raise LedgerError("the ledger write failed (%s)." % exc, where=self.path,
                                  fix="retry; run `governed-change ledger verify` if the file may be damaged.")
            raise

    def _migrate(self):
        def run(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise LedgerError("the ledger schema is version %d, newer than this code (%d)." % (current, SCHEMA_VERSION),
                                  where=self.path, fix="upgrade the governed.change collection.")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version - 1](conn)
                conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, iso_z(self.clock())))
            return current
        self._write(run)

    def schema_version(self):
        """The schema version of the open file."""
        return self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    def _append(self, conn, change_id, kind, actor, data, ts=None):
        """Append an event inside the caller's transaction (``ts``: the time the caller also wrote into a record)."""
        row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
        ts = ts or iso_z(self.clock())
        data_json = canonical_json(redact(data if data is not None else {}))
        digest = event_hash(seq, change_id, ts, kind, actor, data_json, prev)
        conn.execute("INSERT INTO events (seq, change_id, ts, kind, actor, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                     (seq, change_id, ts, kind, actor, data_json, prev, digest))
        conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) "
                     "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
        if change_id is not None:
            conn.execute("INSERT INTO change_events (change_id, events, last_seq) VALUES (?, 1, ?) ON CONFLICT(change_id) "
                         "DO UPDATE SET events = change_events.events + 1, last_seq = excluded.last_seq", (change_id, seq))
        if self._appended is not None:
            self._appended.append((seq, change_id, ts, kind, actor, data_json, prev, digest))
        return {"seq": seq, "change_id": change_id, "ts": ts, "kind": kind, "actor": actor,
                "data": json.loads(data_json), "prev_hash": prev, "hash": digest}

    # -- verification before use --------------------------------------------------------------------------
    def check_change(self, change_id=None, devices=()):
        """Verify, incrementally, what a decision about ``change_id`` relies on; raise LedgerTampered naming the seq.

        Checked: the append-only triggers, the chain head, every event since the last verified checkpoint, each event
        of the change (its hash and both links to its neighbours), and the change's row, approvals and leases against
        its events; with ``devices`` also those devices' leases against the lock history. Cost grows with the change's
        events and the new tail, not with the ledger. Returns the change row (None when the change is not recorded).
        """
        ids = [change_id] if change_id else []
        if self.readonly:
            self.conn.execute("BEGIN")
            try:
                self._guard(self.conn, ids, devices)
            finally:
                self.conn.execute("COMMIT")
        else:
            self._write(lambda conn: None, guard=(ids, devices))
        return self.get_change(change_id) if change_id else None

    def _guard(self, conn, change_ids, devices):
        version = self._data_version(conn)
        trusted = self._trusted
        if trusted["data_version"] != version:  # another connection committed since: trust nothing from before
            trusted.update(data_version=version, changes=set(), tail=False)
        change_ids = [cid for cid in dict.fromkeys(change_ids) if cid not in trusted["changes"]]
        if trusted["tail"] and not change_ids and not devices:
            return
        self._guard_schema = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        try:
            problems = self._guard_problems(conn, change_ids, devices)
        finally:
            self._guard_schema = None
        if problems:
            problems = list({(p.get("seq"), p["problem"]): p for p in problems}.values())
            raise LedgerTampered(sorted(problems, key=lambda p: p["seq"] if isinstance(p.get("seq"), int) else 0), self.path)
        trusted["tail"] = True
        trusted["changes"].update(change_ids)

    def _guard_problems(self, conn, change_ids, devices):
        """What _guard checks: the schema, the tail since the verified checkpoint, the changes and the devices' leases."""
        problems = self._schema_problems(conn)
        walked_from = None  # the seq after which the tail walk checked every event (None: no walk)
        if not self._trusted["tail"]:
            tail_problems, walked_from = self._tail_problems(conn)
            problems += tail_problems
        for change_id in change_ids:
            problems += self._change_problems(conn, change_id, walked_from)
        if devices:
            problems += self._device_problems(conn, devices)
        return problems

    def _has_since(self, conn, name, version):
        """Whether the ledger has the table ``name`` its schema ``version`` added (inside a check: from the schema version
        read once; a table dropped behind it then fails the query, closed)."""
        if self._guard_schema is not None:
            return self._guard_schema >= version
        return self._has_table(conn, name)

    def _remember_appended(self, rows):
        """After a committed guarded write: this connection's own events of a change it verified in that write extend what
        it verified (the next check of the change reads only events after them)."""
        for row in rows:
            seen = self._seen.get(row[1])
            if seen is not None and seen[0] < row[0] and row[1] in self._trusted["changes"]:
                derive_state([row[:6]], seen[2])
                self._seen[row[1]] = (row[0], row[7], seen[2], seen[3] + 1)

    @staticmethod
    def _data_version(conn):
        """A value that changes whenever another connection commits (SQLite: PRAGMA data_version)."""
        return conn.execute("PRAGMA data_version").fetchone()[0]

    @staticmethod
    def _has_table(conn, name):
        """Whether the ledger has the table ``name``."""
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def _schema_problems(self, conn):
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        stored = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
        has_checkpoint = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint'").fetchone()
        problems = []
        if version < 2:
            if has_checkpoint:
                problems.append({"seq": None, "table": "schema", "problem": "the schema_version table says %d but the ledger has "
                                 "the schema 2 checkpoint table: schema_version was edited." % version})
            return problems
        for name, sql in APPEND_ONLY_TRIGGERS.items():
            if name not in stored:
                problems.append({"seq": None, "table": "schema", "problem": "the append-only trigger %s is missing: it was "
                                 "dropped outside the ledger." % name})
            elif stored[name] != sql:
                problems.append({"seq": None, "table": "schema", "problem": "the append-only trigger %s was altered." % name})
        return problems

    def _tail_problems(self, conn):
        """Problems of the chain head and of every event after the verified checkpoint; (problems, checkpoint seq)."""
        problems = []
        start, prev_hash = 0, GENESIS_HASH
        row = None
        if self._has_since(conn, "checkpoint", 2):
            row = conn.execute("SELECT seq, hash FROM checkpoint WHERE id = 1").fetchone()
        if row is not None:
            found = conn.execute("SELECT hash FROM events WHERE seq = ?", (row[0],)).fetchone()
            if found is None or found[0] != row[1]:
                problems.append({"seq": row[0], "problem": "the event at seq %d differs from the verified checkpoint: it was %s "
                                 "after it was verified." % (row[0], "deleted" if found is None else "edited")})
            else:
                start, prev_hash = row[0], row[1]
        expected, last = start + 1, (start, prev_hash)
        for seq, cid, ts, kind, actor, data, prev, digest in conn.execute(
                "SELECT seq, change_id, ts, kind, actor, data, prev_hash, hash FROM events WHERE seq > ? ORDER BY seq", (start,)):
            if seq != expected:
                problems.append({"seq": seq, "problem": "seq %d-%d missing before seq %d: events were deleted." % (expected, seq - 1, seq)})
            if event_hash(seq, cid, ts, kind, actor, data, prev) != digest:
                problems.append({"seq": seq, "problem": "content does not match its hash: the event was edited."})
            elif prev != last[1]:
                problems.append({"seq": seq, "problem": "its prev_hash is not the hash of seq %d: events were inserted, deleted "
                                 "or reordered." % last[0]})
            expected, last = seq + 1, (seq, digest)
        head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head is not None and (head[0], head[1]) != last:
            problems.append({"seq": head[0], "problem": "the recorded chain head is seq %d but the log ends at seq %d: events at "
                             "the tail were deleted or appended outside the ledger." % (head[0], last[0])})
        elif head is None and last[0]:
            problems.append({"seq": last[0], "problem": "the chain head record is missing: the ledger was edited."})
        return problems, start

    @staticmethod
    def _first_gap(conn, last_seq):
        """The first seq in 1..last_seq with no event (a deletion), or None. Counts ranges of the primary key: only run once
        a cheap check has found an event missing, to name its seq."""
        if conn.execute("SELECT COUNT(*) FROM events WHERE seq BETWEEN 1 AND ?", (last_seq,)).fetchone()[0] == last_seq:
            return None
        low, high = 1, last_seq  # the first m with fewer than m events in 1..m
        while low < high:
            middle = (low + high) // 2
            if conn.execute("SELECT COUNT(*) FROM events WHERE seq BETWEEN 1 AND ?", (middle,)).fetchone()[0] < middle:
                high = middle
            else:
                low = middle + 1
        present = conn.execute("SELECT COUNT(*) FROM events WHERE seq BETWEEN 1 AND ?", (low,)).fetchone()[0]
        return low if present < low else None

    def _change_problems(self, conn, change_id, walked_from):
        """The change's own events (hash and both neighbour links), its event count, and its rows against its events.

        A connection that verified the change before reads only the change's events after the last one it verified (still
        there with its hash) and replays them onto the records it derived then: the cost of a write's check does not grow
        with the change or the ledger."""
        problems, seen = self._recheck_seen(conn, change_id)
        rows = conn.execute("SELECT seq, change_id, ts, kind, actor, data, prev_hash, hash FROM events WHERE change_id = ? "
                            "AND seq > ? ORDER BY seq", (change_id, seen[0] if seen else 0)).fetchall()
        head = (conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0) if rows else 0
        todo = [row for row in rows if not _already_walked(row[0], walked_from, seen)]
        links = _neighbour_links(conn, todo)
        for row in todo:
            problems += self._own_event_problems(row, head, links)
        derived = derive_state((row[:6] for row in rows), copy.deepcopy(seen[2]) if seen else None)
        count = (seen[3] if seen else 0) + len(rows)
        last = (rows[-1][0], rows[-1][7]) if rows else (seen[:2] if seen else (0, None))
        problems += self._count_problems(conn, change_id, count, last[0])
        problems += self._own_row_problems(conn, change_id, derived)
        if not problems and last[0]:
            self._seen[change_id] = (last[0], last[1], derived, count)
        return problems

    def _count_problems(self, conn, change_id, count, last_seq):
        """The change's events as read against change_events (schema 3): one of them deleted, wherever it sat, shows as a
        smaller count; the missing seq is then named by counting ranges of the primary key."""
        if not self._has_since(conn, "change_events", 3):
            return []
        row = conn.execute("SELECT events, last_seq FROM change_events WHERE change_id = ?", (change_id,)).fetchone()
        stored = (row[0], row[1]) if row is not None else (0, 0)
        if stored == (count, last_seq):
            return []
        gap = self._first_gap(conn, max(stored[1], last_seq))
        if gap is not None:
            return [{"seq": gap, "problem": "seq %d is missing: the event was deleted (change %s has %d events, its event count "
                     "says %d)." % (gap, change_id, count, stored[0])}]
        return [{"seq": last_seq or None, "table": "change_events", "problem": "change %s has %d events (last at seq %d) but "
                 "change_events says %d (last at seq %d): the change_events table was edited." % (
                     change_id, count, last_seq, stored[0], stored[1])}]

    def _recheck_seen(self, conn, change_id):
        """Whether the change's last event this connection verified is still as verified: (problems, seen or None)."""
        seen = self._seen.get(change_id)
        if seen is None:
            return [], None
        still = conn.execute("SELECT hash FROM events WHERE seq = ?", (seen[0],)).fetchone()
        if still is not None and still[0] == seen[1]:
            return [], seen
        return [{"seq": seen[0], "problem": "the event was %s after this process verified it." % (
            "deleted" if still is None else "edited")}], None

    @staticmethod
    def _own_event_problems(row, head, links):
        """One event of a change: its hash, then its link to the event before it and from the event after it (``links``:
        {seq: (hash, prev_hash)} of its neighbours, _neighbour_links)."""
        seq, cid, ts, kind, actor, data, prev, digest = row
        stored_as = _stored_type_problem(row)
        if stored_as is not None:
            return [stored_as]
        if event_hash(seq, cid, ts, kind, actor, data, prev) != digest:
            return [{"seq": seq, "problem": "content does not match its hash: the event was edited."}]
        problems = []
        before = links.get(seq - 1) if seq > 1 else (GENESIS_HASH,)
        if before is None or before[0] != prev:
            problems.append({"seq": seq, "problem": "its prev_hash is not the hash of seq %d: %s." % (
                seq - 1, "that event was deleted" if before is None else "events before it were edited, inserted or deleted")})
        if seq < head:
            after = links.get(seq + 1)
            after = after[1:] if after is not None else None
            if after is None or after[0] != digest:
                problems.append({"seq": seq, "problem": "seq %d does not chain to it: %s." % (
                    seq + 1, "that event was deleted" if after is None else "events after it were edited, inserted or deleted")})
        return problems

    def _own_row_problems(self, conn, change_id, derived):
        """The change's changes, approvals and locks rows against what its own events imply (``derived``, left unchanged)."""
        derived = dict(derived, locks={d: lock for d, lock in derived["locks"].items() if lock["change_id"] == change_id})
        change = self._change_row(conn, change_id)
        approvals = self._approval_rows(conn, change_id)
        locks = {lock["device"]: lock for lock in self._lock_rows(conn, "change_id", change_id)}
        return compare_tables(derived, {change_id: change} if change else {}, {change_id: approvals} if approvals else {},
                              locks, strict_times=self._strict_times(conn))

    def _device_problems(self, conn, devices):
        """The leases of ``devices`` against the lock history (found through the events_kind index), replayed from the
        oldest of the devices' latest lock.acquired events: what came before cannot change their leases."""
        wanted = set(devices)
        rows = conn.execute("SELECT seq, change_id, ts, kind, actor, data FROM events WHERE kind IN (?, ?, ?) AND seq >= ? "
                            "ORDER BY seq", LOCK_KINDS + (self._lease_history_start(conn, wanted),)).fetchall()
        derived = derive_state(rows)
        derived = {"changes": {}, "approvals": {}, "locks": {d: lock for d, lock in derived["locks"].items() if d in wanted}}
        locks = {}
        for device in sorted(wanted):
            locks.update({lock["device"]: lock for lock in self._lock_rows(conn, "device", device)})
        return compare_tables(derived, {}, {}, locks, strict_times=self._strict_times(conn))

    @staticmethod
    def _lease_history_start(conn, wanted):
        """The seq from which the lock history decides the leases of ``wanted``: the oldest of their latest lock.acquired
        events, found walking those events back from the head (an acquisition replaces any earlier lease, so nothing
        before it matters; a device never leased has none). Cost: the acquisitions since then, not the whole history."""
        pending, start = set(wanted), None
        for seq, data in _acquisitions_backwards(conn):
            named = (_event_object(data) or {}).get("devices")
            hit = {device for device in named if isinstance(device, str)} & pending if isinstance(named, list) else set()
            if hit:
                pending -= hit
                start = seq
                if not pending:
                    break
        return start if start is not None else (conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0) + 1

    def _strict_times(self, conn):
        if self._guard_schema is not None:
            return self._guard_schema >= 2
        return (conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0) >= 2

    def _advance_checkpoint(self, conn):
        """After a verified write: everything up to the head is verified (the tail was checked, the rest we appended)."""
        if self.readonly or not self._trusted["tail"]:
            return
        if self._appended:  # this write appended last, holding the write lock: its last event is the head
            head = (self._appended[-1][0], self._appended[-1][7])
        else:
            head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if head is not None:
            conn.execute("INSERT INTO checkpoint (id, seq, hash) VALUES (1, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", head)

    def _approval_rows(self, conn, change_id):
        keys = ("change_id", "approver", "decision", "content_hash", "ts", "comment", "signature", "principal", "source",
                "verified", "recorded")
        rows = conn.execute("SELECT %s FROM approvals WHERE change_id = ? ORDER BY id" % ", ".join(keys), (change_id,))
        return [dict(zip(keys, row)) for row in rows]

    @staticmethod
    def _lock_rows(conn, column, value):
        rows = conn.execute("SELECT device, change_id, owner, acquired, expires FROM locks WHERE %s = ? ORDER BY device" % column,
                            (value,))
        return [dict(zip(("device", "change_id", "owner", "acquired", "expires"), row)) for row in rows]

    @staticmethod
    def _check_id(value, what):
        if not isinstance(value, str) or not _ID.match(value):
            raise LedgerError("%s %r is not a valid identifier." % (what, value), where=what,
                              fix="use 1-200 characters from A-Z a-z 0-9 . _ : @ / -.")

    def _change_row(self, conn, change_id):
        row = conn.execute("SELECT id, title, author, state, close_code, tier, content_hash, created, updated "
                           "FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            return None
        keys = ("id", "title", "author", "state", "close_code", "tier", "content_hash", "created", "updated")
        return dict(zip(keys, row))

    def _require_change(self, conn, change_id):
        change = self._change_row(conn, change_id)
        if change is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where=self.path,
                              fix="create it first (the assess stage records new changes).")
        return change

    # -- changes --------------------------------------------------------------------------------------
    def create_change(self, change_id, title, author, actor=None, tier=None, content_hash=None):
        self._check_id(change_id, "change_id")
        if not SAFE_ID_RE.match(change_id):  # the id names evidence/runbook/escalation files: no '..', '/', leading '.'
            raise LedgerError("change_id %r is not path-safe." % change_id, where="change_id", fix="%s." % SAFE_ID_HINT)

        def run(conn):
            if self._change_row(conn, change_id) is not None:
                raise LedgerError("change %s already exists in the ledger." % change_id, where=self.path,
                                  fix="use a new change id, or continue the existing change.")
            now = iso_z(self.clock())
            conn.execute("INSERT INTO changes (id, title, author, state, close_code, tier, content_hash, created, updated) "
                         "VALUES (?, ?, ?, 'new', NULL, ?, ?, ?, ?)", (change_id, title, author, tier, content_hash, now, now))
            self._append(conn, change_id, "change.created", actor or author,
                         {"title": title, "author": author, "tier": tier, "content_hash": content_hash}, ts=now)
            return self._change_row(conn, change_id)
        return self._write(run, guard=([change_id], ()))

    def get_change(self, change_id):
        return self._change_row(self.conn, change_id)

    def transition(self, change_id, to_state, actor, close_code=None, reason=None):
        if to_state not in STATES:
            raise LedgerError("unknown state %r." % (to_state,), where="transition",
                              fix="use one of: %s." % ", ".join(STATES))

        def run(conn):
            change = self._require_change(conn, change_id)
            current = change["state"]
            allowed = TRANSITIONS[current] + (() if current in FINAL_STATES else ("canceled",))
            if to_state not in allowed:
                raise LedgerError("change %s cannot go from %s to %s." % (change_id, current, to_state),
                                  where="transition",
                                  fix=("from %s the next state may be: %s." % (current, ", ".join(allowed))) if allowed
                                  else "a %s change is final; open a new change." % current)
            if to_state == "closed" and close_code not in CLOSE_CODES:
                raise LedgerError("closing change %s needs a close code (got %r)." % (change_id, close_code),
                                  where="transition.close_code", fix="use one of: %s." % ", ".join(CLOSE_CODES))
            if to_state != "closed" and close_code is not None:
                raise LedgerError("a close code is only given when closing.", where="transition.close_code",
                                  fix="drop close_code, or transition to closed.")
            now = iso_z(self.clock())
            conn.execute("UPDATE changes SET state = ?, close_code = ?, updated = ? WHERE id = ?",
                         (to_state, close_code, now, change_id))
            self._append(conn, change_id, "change.state", actor,
                         {"from": current, "to": to_state, "close_code": close_code, "reason": reason}, ts=now)
            return self._change_row(conn, change_id)
        return self._write(run, guard=([change_id], ()))

    def set_assessment(self, change_id, tier, content_hash, actor):
        def run(conn):
            change = self._require_change(conn, change_id)
            if change["state"] in FINAL_STATES:
                raise LedgerError("change %s is %s; it cannot be re-assessed." % (change_id, change["state"]),
                                  where="set_assessment", fix="open a new change.")
            now = iso_z(self.clock())
            conn.execute("UPDATE changes SET tier = ?, content_hash = ?, updated = ? WHERE id = ?",
                         (tier, content_hash, now, change_id))
            self._append(conn, change_id, "change.assessed", actor,
                         {"tier": tier, "content_hash": content_hash, "previous_content_hash": change["content_hash"]}, ts=now)
            return self._change_row(conn, change_id)
        return self._write(run, guard=([change_id], ()))

    def changes(self):
        """Every change record."""
        ids = [row[0] for row in self.conn.execute("SELECT id FROM changes ORDER BY created, id")]
        return [self._change_row(self.conn, cid) for cid in ids]

    # -- events ---------------------------------------------------------------------------------------
    def append_event(self, change_id, kind, actor, data=None):
        if not isinstance(kind, str) or not kind:
            raise LedgerError("an event needs a kind.", where="append_event.kind", fix="pass a non-empty kind.")
        return self._write(lambda conn: self._append(conn, change_id, kind, actor, data), guard=([change_id], ()))

    def append_events(self, items):
        """Append many (change_id, kind, actor, data) events in one transaction (bulk import, benchmarks)."""
        items = list(items)
        return self._write(lambda conn: [self._append(conn, *item) for item in items],
                           guard=([item[0] for item in items if item[0] is not None], ()))

    def events(self, change_id=None, since_seq=0):
        sql = "SELECT seq, change_id, ts, kind, actor, data, prev_hash, hash FROM events WHERE seq > ?"
        args = [since_seq]
        if change_id is not None:
            sql += " AND change_id = ?"
            args.append(change_id)
        out = []
        for seq, cid, ts, kind, actor, data, prev, digest in self.conn.execute(sql + " ORDER BY seq", args):
            out.append({"seq": seq, "change_id": cid, "ts": ts, "kind": kind, "actor": actor,
                        "data": json.loads(data), "prev_hash": prev, "hash": digest})
        return out

    def head(self):
        """The last event's {seq, hash} (seq 0 and the genesis hash for an empty chain)."""
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return {"seq": row[0], "hash": row[1]} if row else {"seq": 0, "hash": GENESIS_HASH}

    def verify(self, anchor=None):
        """Walk the chain; report every edited, deleted, inserted or reordered event by seq, every row of the changes,
        approvals, locks and change_events tables that its events do not imply, and a dropped or altered append-only trigger.

        ``anchor`` ({seq, hash}, e.g. a head recorded in an evidence bundle) also catches a rewrite of
        the whole chain or a truncated tail.

        First a fast pass shows the chain intact (every event numbered, linked and matching its hash; streamed, in two
        processes for a long chain) and checks the tables against the events of the kinds that make them; only when that
        pass finds anything wrong does the full walk below run, which names each problem (the same report either way).
        """
        tables = {}
        intact = self._intact_chain(tables)
        if intact is None:
            return self._walk_verify(anchor)
        count, head = intact
        if not tables:
            self._read_tables(tables)
        problems = self._head_record_problems(head, bool(count))
        problems += self._schema_problems(self.conn)
        problems += self._table_problems(tables["derived"], tables["counts"], broken=bool(problems))
        problems += self._anchor_problems_at(anchor)
        problems.sort(key=lambda p: (p["seq"] if isinstance(p["seq"], int) else 0))
        return {"ok": not problems, "events": count, "head": head, "problems": problems}

    def _read_tables(self, tables):
        """Fill ``tables`` with verify's table inputs read from the log: the records the events of the table kinds
        imply (derived) and each change's (events, last seq) (counts)."""
        tables["derived"] = derive_state(self.conn.execute(
            "SELECT seq, change_id, ts, kind, actor, data FROM events WHERE kind IN (%s) ORDER BY seq"
            % ", ".join("?" * len(_DERIVE_RULES)), tuple(_DERIVE_RULES)))
        tables["counts"] = {row[0]: (row[1], row[2]) for row in self.conn.execute(
            "SELECT change_id, COUNT(*), MAX(seq) FROM events WHERE change_id IS NOT NULL GROUP BY change_id")}

    def _intact_chain(self, tables=None):
        """(events, head) when every event from seq 1 to the last is in place, linked and matching its hash; None at the
        first doubt. From VERIFY_SPLIT_MIN events the chain is cut into VERIFY_CHUNKS ranges that this process and a
        forked one take in turn from a shared counter (each range starts from the stored hash of the seq before it,
        which the range before shows to be the true one), so both finish together however the event sizes vary along
        the chain. With ``tables`` (a dict) an intact chain also fills it with verify's table inputs, tallied as the
        events went by (the log is read once)."""
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return 0, {"seq": 0, "hash": GENESIS_HASH}
        last_seq = row[0]
        count = VERIFY_CHUNKS if last_seq >= VERIFY_SPLIT_MIN else 1
        size = -(-last_seq // count)
        chunks = [(low, min(low + size - 1, last_seq)) for low in range(1, last_seq + 1, size)]
        counter = _shared_counter() if len(chunks) > 1 else None
        worker = _start_chunk_worker(self.path, chunks, counter)
        tally = _Tally()
        if counter is None:
            ok = all(_chunk_intact(self.conn, low, high, tally) for low, high in chunks)
        else:
            conn = _range_connection(self.path)
            try:
                ok = _take_chunks(conn, chunks, counter, tally)
            finally:
                conn.close()
        if worker is not None:
            other = _range_worker_result(worker)
            ok = ok and other is not None
            if ok:
                tally.merge(other)
        if not ok:
            return None
        if tables is not None:
            tables.update(tally.tables())
        return last_seq, {"seq": last_seq, "hash": row[1]}

    def _anchor_problems_at(self, anchor):
        """_anchor_problems by one lookup of the anchored seq."""
        if not anchor:
            return []
        found = self.conn.execute("SELECT seq, hash FROM events WHERE seq = ?", (anchor.get("seq"),)).fetchone()
        return _anchor_problems([(found[0],) + (None,) * 6 + (found[1],)] if found else [], anchor)

    def _walk_verify(self, anchor):
        """The full walk: every event read and checked in order, each problem named with its seq."""
        rows = self.conn.execute("SELECT seq, change_id, ts, kind, actor, data, prev_hash, hash FROM events ORDER BY seq").fetchall()
        problems = self._chain_problems(rows)
        last = rows[-1] if rows else None
        head = {"seq": last[0], "hash": last[7]} if last else {"seq": 0, "hash": GENESIS_HASH}
        problems += self._head_record_problems(head, bool(rows))
        problems += self._schema_problems(self.conn)
        problems += self._table_problems(derive_state(row[:6] for row in rows), _change_counts(rows), broken=bool(problems))
        problems += _anchor_problems(rows, anchor)
        problems.sort(key=lambda p: (p["seq"] if isinstance(p["seq"], int) else 0))
        return {"ok": not problems, "events": len(rows), "head": head, "problems": problems}

    def _chain_problems(self, rows):
        """Every event of the whole log in seq order: gaps before it, its hash, its link, and a shared predecessor."""
        stored, chained = {}, {}
        for row in rows:
            stored[row[7]] = row[0]
            chained.setdefault(row[6], []).append(row[0])
        problems = []
        expected_seq, prev_hash = 1, GENESIS_HASH
        for row in rows:
            seq, prev = row[0], row[6]
            if seq > expected_seq:
                missing = "%d" % expected_seq if seq == expected_seq + 1 else "%d-%d" % (expected_seq, seq - 1)
                problems.append({"seq": seq, "problem": "seq %s missing before seq %d: events were deleted." % (missing, seq)})
            problem = self._link_problem(row, prev_hash, stored)
            if problem is not None:
                problems.append(problem)
            siblings = chained.get(prev, [])
            if len(siblings) > 1 and siblings[-1] == seq:
                problems.append({"seq": seq, "problem": "seqs %s all claim the same predecessor: an event was inserted."
                                 % ", ".join(str(s) for s in siblings)})
            expected_seq, prev_hash = seq + 1, row[7]
        return problems

    def _link_problem(self, row, prev_hash, stored):
        """One event in the walk: edited or moved (hash fails), or chained after the wrong event; None when it holds."""
        seq, cid, ts, kind, actor, data, prev, digest = row
        stored_as = _stored_type_problem(row)
        if stored_as is not None:
            return stored_as
        if event_hash(seq, cid, ts, kind, actor, data, prev) != digest:
            moved_from = self._original_seq(seq, cid, ts, kind, actor, data, prev, digest, stored)
            if moved_from is not None:
                return {"seq": seq, "problem": "the event was recorded as seq %d and now sits at seq %d: events were "
                        "reordered, or inserted/deleted before it." % (moved_from, seq)}
            return {"seq": seq, "problem": "content does not match its hash: the event was edited."}
        if prev == prev_hash:
            return None
        if prev in stored:
            return {"seq": seq, "problem": "chained after seq %d, not seq %d: events were inserted, deleted "
                    "or reordered." % (stored[prev], seq - 1)}
        return {"seq": seq, "problem": "prev_hash matches no event: the event before it was deleted or "
                "edited, or this event was inserted."}

    def _head_record_problems(self, head, has_events):
        """The recorded chain head against the log's last event (missing, or at another seq/hash)."""
        row = self.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if row is not None and (row[0], row[1]) != (head["seq"], head["hash"]):
            return [{"seq": row[0], "problem": "the recorded chain head is seq %d but the log ends at seq %d: "
                     "events at the tail were deleted or appended outside the ledger." % (row[0], head["seq"])}]
        if row is None and has_events:
            return [{"seq": head["seq"], "problem": "the chain head record is missing: the ledger was edited."}]
        return []

    def _table_problems(self, derived, counts, broken=False):
        """The changes, approvals, locks and change_events tables against the records the events imply (``derived``) and
        the events' own counts per change (``counts``); ``broken``: the chain already reports problems, which explain a
        change counting more events than the log holds."""
        changes = {change["id"]: change for change in self.changes()}
        approvals = {}
        for change_id in {row[0] for row in self.conn.execute("SELECT DISTINCT change_id FROM approvals")}:
            approvals[change_id] = self._approval_rows(self.conn, change_id)
        locks = {lock["device"]: lock for lock in self.locks()}
        problems = compare_tables(derived, changes, approvals, locks, strict_times=self._strict_times(self.conn))
        if self._has_table(self.conn, "change_events"):
            stored = {row[0]: (row[1], row[2]) for row in self.conn.execute("SELECT change_id, events, last_seq FROM change_events")}
            problems += compare_change_counts(counts, stored, broken)
        return problems

    @staticmethod
    def _original_seq(seq, cid, ts, kind, actor, data, prev, digest, stored):
        """For an event whose hash fails at its seq: the seq it was hashed under, when it is near."""
        candidates = [stored[prev] + 1] if prev in stored else []
        candidates += [seq + delta for delta in range(-16, 17) if delta]
        for candidate in candidates:
            if candidate > 0 and candidate != seq and event_hash(candidate, cid, ts, kind, actor, data, prev) == digest:
                return candidate
        return None

    # -- approvals and verdicts -----------------------------------------------------------------------
    def record_approval(self, approval, actor=None):
        required = ("change_id", "approver", "decision", "content_hash", "ts", "source")
        missing = [key for key in required if not approval.get(key)]
        if missing:
            raise LedgerError("the approval lacks %s." % ", ".join(missing), where="record_approval",
                              fix="build approvals with approvals.sign_approval() or awx.read_workflow_approvals().")
        if approval["decision"] not in ("approve", "deny") or approval["source"] not in ("ssh", "awx"):
            raise LedgerError("the approval has decision %r / source %r." % (approval["decision"], approval["source"]),
                              where="record_approval", fix="decision is approve|deny, source is ssh|awx.")

        def run(conn):
            self._require_change(conn, approval["change_id"])
            now = iso_z(self.clock())
            conn.execute("INSERT INTO approvals (change_id, approver, decision, content_hash, ts, comment, signature, principal, "
                         "source, verified, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         (approval["change_id"], approval["approver"], approval["decision"], approval["content_hash"],
                          approval["ts"], approval.get("comment"), approval.get("signature"), approval.get("principal"),
                          approval["source"], 1 if approval.get("verified") is True else 0, now))
            signature = approval.get("signature")
            return self._append(conn, approval["change_id"], "approval." + approval["decision"], actor or approval["approver"], {
                "approver": approval["approver"], "principal": approval.get("principal"), "decision": approval["decision"],
                "content_hash": approval["content_hash"], "ts": approval["ts"], "comment": approval.get("comment"),
                "source": approval["source"], "signature_sha256": sha256_of(signature) if signature else None,
                "verified": approval.get("verified") is True}, ts=now)
        return self._write(run, guard=([approval["change_id"]], ()))

    def approvals(self, change_id):
        keys = ("change_id", "approver", "decision", "content_hash", "ts", "comment", "signature", "principal", "source", "verified")
        rows = self.conn.execute("SELECT %s FROM approvals WHERE change_id = ? ORDER BY id" % ", ".join(keys), (change_id,))
        out = []
        for row in rows:
            item = dict(zip(keys, row))
            item["verified"] = bool(item["verified"])
            out.append(item)
        return out

    def record_verdict(self, change_id, gate, verdict, actor="governed.change"):
        return self.append_event(change_id, "verdict." + str(gate), actor, {"gate": gate, "verdict": verdict})

    # -- locks ----------------------------------------------------------------------------------------
    def acquire_locks(self, change_id, devices, owner, ttl_s):
        devices = sorted(set(devices or []))
        if not devices:
            raise LedgerError("no devices to lock.", where="acquire_locks", fix="pass the target devices.")
        if not isinstance(ttl_s, (int, float)) or ttl_s <= 0:
            raise LedgerError("ttl_s must be a positive number of seconds (got %r)." % (ttl_s,), where="acquire_locks.ttl_s",
                              fix="pass the expected change duration plus a margin.")
        for device in devices:
            self._check_id(device, "device")

        def run(conn):
            self._require_change(conn, change_id)
            now = self.clock()
            held = []
            for device in devices:
                row = conn.execute("SELECT change_id, owner, expires FROM locks WHERE device = ?", (device,)).fetchone()
                if row is not None:
                    held.append({"device": device, "change_id": row[0], "owner": row[1], "expires": row[2]})
            refuse_lock_conflicts(held, change_id, devices, owner, now)
            acquired, expires = iso_z(now), iso_z(now + datetime.timedelta(seconds=ttl_s))
            for device in devices:
                conn.execute("INSERT INTO locks (device, change_id, owner, acquired, expires) VALUES (?,?,?,?,?) "
                             "ON CONFLICT(device) DO UPDATE SET change_id = excluded.change_id, owner = excluded.owner, "
                             "acquired = excluded.acquired, expires = excluded.expires", (device, change_id, owner, acquired, expires))
            self._append(conn, change_id, "lock.acquired", owner, {"devices": devices, "expires": expires, "ttl_s": ttl_s},
                         ts=acquired)
            return [{"device": d, "change_id": change_id, "owner": owner, "acquired": acquired, "expires": expires} for d in devices]
        return self._write(run, guard=([change_id], devices))

    def release_locks(self, change_id, devices=None):
        def run(conn):
            held = [row[0] for row in conn.execute("SELECT device FROM locks WHERE change_id = ? ORDER BY device", (change_id,))]
            chosen = held if devices is None else [d for d in held if d in set(devices)]
            for device in chosen:
                conn.execute("DELETE FROM locks WHERE device = ? AND change_id = ?", (device, change_id))
            if chosen:
                self._append(conn, change_id, "lock.released", None, {"devices": chosen})
            return chosen
        return self._write(run, guard=([change_id], ()))

    def break_lock(self, device, actor, reason):
        if not actor or not reason:
            raise LedgerError("breaking a lock needs an actor and a reason.", where="break_lock",
                              fix="say who breaks the lease and why (it is recorded in the ledger).")

        def run(conn):
            row = conn.execute("SELECT change_id, owner, acquired, expires FROM locks WHERE device = ?", (device,)).fetchone()
            if row is None:
                raise LedgerError("device %s is not locked." % device, where="break_lock", fix="nothing to break.")
            lock = {"device": device, "change_id": row[0], "owner": row[1], "acquired": row[2], "expires": row[3]}
            conn.execute("DELETE FROM locks WHERE device = ?", (device,))
            self._append(conn, row[0], "lock.broken", actor, {"lock": lock, "reason": reason,
                                                              "expired": parse_iso(row[3]) <= self.clock()})
            return lock
        return self._write(run, guard=(self._lock_holders(device), (device,)))

    def _lock_holders(self, device):
        return [row[0] for row in self.conn.execute("SELECT change_id FROM locks WHERE device = ?", (device,))]

    def locks(self, device=None):
        sql = "SELECT device, change_id, owner, acquired, expires FROM locks"
        rows = self.conn.execute(sql + (" WHERE device = ?" if device else "") + " ORDER BY device", (device,) if device else ())
        return [dict(zip(("device", "change_id", "owner", "acquired", "expires"), row)) for row in rows]


def open_ledger(location, **options):
    """The ledger at ``location``: a SQLite file path (the embedded default), or a ``postgresql://`` URL (ledger_pg, psycopg
    imported only then; credentials from the libpq environment). ``options``: timeout_s, clock, readonly."""
    if is_database_url(location):
        from ansible_collections.governed.change.plugins.module_utils import ledger_pg  # pylint: disable=import-outside-toplevel
        return ledger_pg.PostgresLedger(location, **options)
    return SqliteLedger(location, **options)


def ledger_exists(location):
    """Whether there is a ledger to open: a PostgreSQL URL always (its server answers when it is opened), a path when it
    is a regular file."""
    return is_database_url(location) or (bool(location) and os.path.isfile(location))


def ledger_location(location):
    """A ledger location as it is recorded (evidence, run records, playbook variables): a URL as given, a path absolute."""
    return location if is_database_url(location) or not location else os.path.abspath(location)
