# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL ledger backend (psycopg 3): the SQLite ledger's schema, rules and verification on a shared server.

Selected by a ``postgresql://`` / ``postgres://`` URL (or ``postgresql:`` alone: everything from the environment) where
a ledger path goes. Credentials come from libpq's environment (PGHOST, PGUSER, PGPASSWORD, PGSERVICE, ...) or a service
file, never from the URL: a URL holding a password is refused. psycopg is imported only when such a URL is opened.

Every write runs in one transaction that first takes a transaction-scoped advisory lock: the head of the hash chain,
the device leases and the change records are read and written by one writer at a time across every machine, so many
writers append one chain without forks or gaps. Reads that take several queries (verify, a read-only check) run in one
REPEATABLE READ snapshot, so a concurrent append never looks like a truncated tail.
"""

from __future__ import annotations

import functools
import re
import threading
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils import ledger as base
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.paths import is_database_url

# pg_advisory_xact_lock key of every ledger write ("governed" in ASCII, as a signed 64-bit number)
WRITE_LOCK_KEY = 0x676F7665726E6564
PSYCOPG_FIX = ("install psycopg 3 where the ledger is opened (`pip install 'psycopg[binary]'`; the governed.change "
               "execution environment carries it), or use a SQLite ledger path.")
NO_PASSWORD_FIX = ("remove the password from the URL and give it through the environment (PGPASSWORD, e.g. injected by the "
                   "'governed.change ledger (PostgreSQL)' AWX credential type) or a libpq password/service file "
                   "(~/.pgpass, PGSERVICE); extra vars and URLs end up in job logs and evidence.")


def is_url(location):
    """Whether a ledger location names a PostgreSQL database rather than a SQLite file (paths.is_database_url)."""
    return is_database_url(location)


def _conninfo_items(location):
    """The URL's connection parameters (keyword -> value), password included, for the refusal below."""
    parts = urllib.parse.urlsplit(location)
    items = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if parts.password is not None:
        items["password"] = parts.password
    return items


def conninfo(location):
    """The libpq connection string of a ledger URL; a password in it is refused (fail closed, nothing is opened)."""
    if not is_url(location):
        raise LedgerError("%r is not a PostgreSQL ledger URL." % location, where="governed_ledger",
                          fix="use postgresql://HOST[:PORT]/DATABASE (credentials from the environment) or a SQLite path.")
    try:
        items = _conninfo_items(location)
    except ValueError as exc:
        raise LedgerError("the PostgreSQL ledger URL cannot be read (%s)." % exc, where="governed_ledger",
                          fix="use postgresql://HOST[:PORT]/DATABASE.")
    if "password" in items:
        raise LedgerError("the PostgreSQL ledger URL holds a password; it is refused and nothing was opened.",
                          where="governed_ledger", fix=NO_PASSWORD_FIX)
    lowered = location.lower()
    if lowered in ("postgresql:", "postgres:", "postgresql://", "postgres://"):
        return ""  # everything from PGHOST, PGDATABASE, PGSERVICE, ...
    return "postgresql:" + location.split(":", 1)[1] if lowered.startswith("postgres:") else location


def _psycopg():
    try:
        import psycopg  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise LedgerError("the ledger is a PostgreSQL URL but psycopg (3) is not installed.", where="governed_ledger",
                          fix=PSYCOPG_FIX) from None
    return psycopg


@functools.lru_cache(maxsize=512)
def _pg_sql(sql):
    """The ledger's SQL (qmark placeholders) in psycopg's form (%s; a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """The sqlite3-shaped connection the shared ledger code uses: execute(sql with ?, params) -> a cursor.

    ``streaming`` (inside a transaction): SELECTs run through a server-side cursor, fetched in batches, so a walk of the
    whole log does not hold it in memory at once."""

    dialect = "postgresql"

    def __init__(self, raw, errors=()):
        self.raw = raw
        self.errors = errors  # what a caller reading through execute() catches (psycopg.Error)
        self.streaming = False
        self._cursors = 0

    def execute(self, sql, params=()):
        if sql == "BEGIN":  # a multi-query read: one snapshot
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ"
        if params is None or len(params) == 0:
            params = None
        text = _pg_sql(sql) if params is not None else sql
        if self.streaming and _walks_events(sql):
            self._cursors += 1
            cursor = self.raw.cursor(name="governed_stream_%d" % self._cursors)
            cursor.itersize = 20000
            return cursor.execute(text, params)
        return self.raw.execute(text, params)

    def executemany(self, sql, rows):
        with self.raw.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), rows)

    def close(self):
        self.raw.close()


def _walks_events(sql):
    """A SELECT that may return a large part of the log (worth a server-side cursor)."""
    return sql.lstrip().upper().startswith("SELECT") and " FROM events" in sql and "seq = " not in sql and "COUNT(" not in sql


def _refuse(message):
    return "governed_refuse('%s')" % message


# The PostgreSQL form of ledger.APPEND_ONLY_TRIGGERS (same names, same refusals; TRUNCATE bypasses row triggers, so
# the append-only tables refuse it too). verify() compares pg_get_triggerdef and the function body with these texts.
PG_TRIGGERS = {
    "events_append_only_update": ("events", "BEFORE UPDATE", "FOR EACH ROW", "events are append-only (UPDATE refused)"),
    "events_append_only_delete": ("events", "BEFORE DELETE", "FOR EACH ROW", "events are append-only (DELETE refused)"),
    "events_append_only_truncate": ("events", "BEFORE TRUNCATE", "FOR EACH STATEMENT",
                                    "events are append-only (TRUNCATE refused)"),
    "approvals_append_only_update": ("approvals", "BEFORE UPDATE", "FOR EACH ROW", "approvals are append-only (UPDATE refused)"),
    "approvals_append_only_delete": ("approvals", "BEFORE DELETE", "FOR EACH ROW", "approvals are append-only (DELETE refused)"),
    "approvals_append_only_truncate": ("approvals", "BEFORE TRUNCATE", "FOR EACH STATEMENT",
                                       "approvals are append-only (TRUNCATE refused)"),
    "changes_no_delete": ("changes", "BEFORE DELETE", "FOR EACH ROW", "change records are never deleted"),
    "changes_no_truncate": ("changes", "BEFORE TRUNCATE", "FOR EACH STATEMENT", "change records are never deleted"),
    "changes_fixed_fields": ("changes", "BEFORE UPDATE OF id, title, author, created", "FOR EACH ROW",
                             "the id, title, author and created of a change record are fixed"),
    "chain_head_forward_only": ("chain_head", "BEFORE UPDATE", "FOR EACH ROW WHEN ((new.seq <= old.seq))",
                                "the chain head only moves forward"),
    "chain_head_no_delete": ("chain_head", "BEFORE DELETE", "FOR EACH ROW", "the chain head is never deleted"),
    "chain_head_no_truncate": ("chain_head", "BEFORE TRUNCATE", "FOR EACH STATEMENT", "the chain head is never deleted"),
}
REFUSE_BODY = " BEGIN RAISE EXCEPTION 'governed.change ledger: %', TG_ARGV[0]; END "

PG_SCHEMA = (
    "CREATE TABLE changes (id TEXT COLLATE \"C\" PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, state TEXT NOT NULL, "
    "close_code TEXT, tier TEXT, content_hash TEXT, created TEXT COLLATE \"C\" NOT NULL, updated TEXT NOT NULL)",
    "CREATE TABLE events (seq BIGINT PRIMARY KEY, change_id TEXT COLLATE \"C\", ts TEXT NOT NULL, kind TEXT COLLATE \"C\" NOT NULL, "
    "actor TEXT, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX events_change ON events(change_id, seq)",
    "CREATE INDEX events_kind ON events(kind, seq)",
    "CREATE TABLE approvals (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, change_id TEXT COLLATE \"C\" NOT NULL, "
    "approver TEXT NOT NULL, decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')), content_hash TEXT NOT NULL, "
    "ts TEXT NOT NULL, comment TEXT, signature TEXT, principal TEXT, source TEXT NOT NULL CHECK (source IN ('ssh', 'awx')), "
    "verified INTEGER NOT NULL DEFAULT 0, recorded TEXT NOT NULL)",
    "CREATE INDEX approvals_change ON approvals(change_id)",
    "CREATE TABLE locks (device TEXT COLLATE \"C\" PRIMARY KEY, change_id TEXT COLLATE \"C\" NOT NULL, owner TEXT NOT NULL, "
    "acquired TEXT NOT NULL, expires TEXT NOT NULL)",
    "CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE change_events (change_id TEXT COLLATE \"C\" PRIMARY KEY, events BIGINT NOT NULL, last_seq BIGINT NOT NULL)",
    "CREATE FUNCTION governed_refuse() RETURNS trigger LANGUAGE plpgsql AS $body$%s$body$" % REFUSE_BODY,
) + tuple("CREATE TRIGGER %s %s ON %s %s EXECUTE FUNCTION %s" % (
    name, when, table, each.replace("((", "(").replace("))", ")"), _refuse(message))
    for name, (table, when, each, message) in PG_TRIGGERS.items())
LEDGER_TABLES = ("changes", "events", "approvals", "locks", "chain_head", "checkpoint", "schema_version", "change_events")
# A PostgreSQL ledger created at schema 2 moves on with these (the SQLite migrations' PostgreSQL form), in order
PG_UPGRADES = {
    3: ("CREATE TABLE change_events (change_id TEXT COLLATE \"C\" PRIMARY KEY, events BIGINT NOT NULL, last_seq BIGINT NOT NULL)",),
}


def _json_sql(column):
    """SQL for the JSON text of a text column in an event's hashed document (to_json, null for NULL)."""
    return "COALESCE(to_json(%s)::text, 'null')" % column


# Every event's hash and links checked in the server: the rows that fail (and the count and head) come back, not the log.
# The document is event_hash's; where to_json would quote a value otherwise than Python's json does, the event fails here
# and the full walk (in Python) decides.
# Parameters: the hash before the range, the range's first seq, its first and last seq.
INTACT_SQL = (
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE intact IS NOT TRUE) FROM (SELECT seq, hash = encode(sha256(convert_to("
    "'{\"actor\":' || %s || ',\"change_id\":' || %s || ',\"data\":' || data || ',\"kind\":' || %s || "
    "',\"prev_hash\":' || %s || ',\"seq\":' || seq || ',\"ts\":' || %s || '}', 'UTF8')), 'hex') "
    "AND prev_hash IS NOT DISTINCT FROM COALESCE(lag(hash) OVER w, %%s) AND seq = COALESCE(lag(seq) OVER w, %%s - 1) + 1 "
    "AS intact FROM events WHERE seq BETWEEN %%s AND %%s WINDOW w AS (ORDER BY seq)) checked"
    % (_json_sql("actor"), _json_sql("change_id"), _json_sql("kind"), _json_sql("prev_hash"), _json_sql("ts")))


def _range_intact(raw, low, high):
    """Whether seqs low..high are all there, linked and matching their hashes (checked in the server; raw: a psycopg
    connection); the first is linked to the stored hash of seq low - 1."""
    before = raw.execute("SELECT hash FROM events WHERE seq = %s", (low - 1,)).fetchone() if low > 1 else (base.GENESIS_HASH,)
    if before is None:
        return False
    count, failed = raw.execute(INTACT_SQL, (before[0], low, low, high)).fetchone()
    return not failed and count == high - low + 1


class _RangeThread(threading.Thread):
    """_range_intact over its own connection (the server hashes the two ranges at once); ``ok`` False on any error."""

    def __init__(self, connect, low, high):
        super().__init__(daemon=True)
        self.connect, self.low, self.high, self.ok = connect, low, high, False

    def run(self):
        try:
            with self.connect() as raw:
                self.ok = _range_intact(raw, self.low, self.high)
        except Exception:  # pylint: disable=broad-except  # not shown intact: verify walks the log and says why
            self.ok = False


def _db_error_fix(location):
    return ("check that the database server is up and reachable and the PG* credentials; nothing half-written stays (the "
            "write was one transaction). Run `governed-change ledger verify --ledger %s` before the next run." % location)


class PostgresLedger(base.SqliteLedger):
    """The shared ledger: the SQLite ledger's records and checks on a PostgreSQL database (psycopg 3)."""

    def __init__(self, location, timeout_s=30.0, clock=None, readonly=False):  # pylint: disable=super-init-not-called
        self.path = str(location)
        self.clock = clock or base.utc_now
        self.readonly = bool(readonly)
        self._trusted = {"data_version": None, "changes": set(), "tail": False}
        self._seen = {}
        self._snapshot = 0
        self._pg = _psycopg()
        info = conninfo(self.path)
        try:
            raw = self._pg.connect(info, autocommit=True, connect_timeout=max(1, int(timeout_s)),
                                   application_name="governed.change")
            raw.execute("SET lock_timeout = %d" % int(timeout_s * 1000))
        except self._pg.Error as exc:
            raise LedgerError("the PostgreSQL ledger cannot be reached (%s)." % _one_line(exc), where=self.path,
                              fix="check the server address and the PG* credentials in the environment (PGHOST, PGUSER, "
                                  "PGPASSWORD, PGSERVICE) or the libpq service file.") from None
        self.conn = PgConnection(raw, errors=(self._pg.Error,))
        try:
            if self.readonly:
                self._open_readonly(timeout_s)
            else:
                self._migrate()
        except BaseException as exc:
            raw.close()
            if isinstance(exc, self._pg.Error):
                raise LedgerError("the PostgreSQL ledger cannot be read (%s)." % _one_line(exc), where=self.path,
                                  fix=_db_error_fix(self.path)) from None
            raise

    def _open_readonly(self, timeout_s):
        """Check the database holds a ledger; the session then refuses every write (default_transaction_read_only)."""
        present = {name for name in LEDGER_TABLES if self._has_table(self.conn, name)}
        if "events" not in present:
            raise LedgerError(base.NOT_A_LEDGER + ".", where=self.path,
                              fix="pass the ledger database the stages write (governed_ledger); nothing was read or changed.")
        missing = sorted({"changes", "approvals", "locks", "chain_head", "schema_version"} - present)
        if missing:
            raise LedgerError("not a governed.change ledger: the %s table(s) are missing." % ", ".join(missing), where=self.path,
                              fix="pass the ledger database the stages write; a damaged ledger is restored from backup.")
        version = self.schema_version() or 0
        if version > base.SCHEMA_VERSION:
            raise LedgerError("the ledger schema is version %d, newer than this code (%d)." % (version, base.SCHEMA_VERSION),
                              where=self.path, fix="upgrade the governed.change collection.")
        self.conn.raw.execute("SET default_transaction_read_only = on")

    # -- plumbing -------------------------------------------------------------------------------------
    def _write(self, func, guard=None):
        """Run func(conn) in one transaction holding the ledger's write lock (pg_advisory_xact_lock); roll back on any
        error. A lost connection is a LedgerError naming the database: nothing half-written is left (one transaction)."""
        if self.readonly:
            raise LedgerError("the ledger was opened read-only.", where=self.path, fix="open it without readonly to record.")
        raw = self.conn.raw
        self._appended = [] if guard is not None else None
        try:
            raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            if guard is not None:
                self._guard(self.conn, guard[0], guard[1])
            result = func(self.conn)
            if guard is not None:
                self._advance_checkpoint(self.conn)
            raw.execute("COMMIT")
            self._remember_appended(self._appended or ())
            return result
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, self._pg.Error):
                raise LedgerError("the ledger write failed (%s); it was rolled back, or, when the connection was lost while "
                                  "committing, it is either wholly recorded or not at all." % _one_line(exc), where=self.path,
                                  fix=_db_error_fix(self.path)) from None
            raise

    def _rollback(self):
        raw = self.conn.raw
        if raw.closed:
            return
        try:
            raw.execute("ROLLBACK")
        except self._pg.Error:  # the connection is gone: the server rolled the transaction back
            pass

    def _read(self, func):
        """Run func() in one REPEATABLE READ snapshot (nested calls, and calls inside a write, use the open transaction);
        database errors become LedgerError."""
        status = self._pg.pq.TransactionStatus
        if self._snapshot or self.conn.raw.info.transaction_status in (status.INTRANS, status.INERROR, status.ACTIVE):
            return func()
        self._snapshot += 1
        try:
            self.conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            result = func()
            self.conn.raw.execute("COMMIT")
            return result
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, self._pg.Error):
                raise LedgerError("the ledger cannot be read (%s)." % _one_line(exc), where=self.path,
                                  fix=_db_error_fix(self.path)) from None
            raise
        finally:
            self._snapshot -= 1

    def _migrate(self):
        def run(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
            current = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            if current > base.SCHEMA_VERSION:
                raise LedgerError("the ledger schema is version %d, newer than this code (%d)." % (current, base.SCHEMA_VERSION),
                                  where=self.path, fix="upgrade the governed.change collection.")
            if current == 0:
                if self._has_table(conn, "events"):
                    text = base.NOT_A_LEDGER.replace("no events table", "an events table without schema_version")
                    raise LedgerError(text + ".", where=self.path, fix="use a database (or schema) of its own for the ledger.")
                for statement in PG_SCHEMA:
                    conn.execute(statement)
                for version in range(1, base.SCHEMA_VERSION + 1):  # the SQLite migrations' end state, at once
                    conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, iso_z(self.clock())))
                return current
            for version in range(current + 1, base.SCHEMA_VERSION + 1):
                for statement in PG_UPGRADES[version]:
                    conn.execute(statement)
                if version == 3:
                    base.rebuild_change_counts(conn)
                conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, iso_z(self.clock())))
            return current
        self._write(run)

    @staticmethod
    def after_copy(conn):
        """After rows were copied in with their ids (ledger migrate): the approvals' id sequence continues after them."""
        conn.execute("SELECT setval(pg_get_serial_sequence('approvals', 'id'), GREATEST(COALESCE(MAX(id), 0), 1), "
                     "MAX(id) IS NOT NULL) FROM approvals")

    def after_bulk_load(self):
        """VACUUM (FREEZE, ANALYZE) the tables after a bulk copy: planner statistics and a set visibility map, so index
        scans of the events (verify's counts per change, the kind index) are index-only, not reads of every row (a plain
        VACUUM right after the copy left the map unset; autovacuum keeps it set in a running ledger)."""
        for table in ("events", "changes", "approvals", "locks"):
            self.conn.raw.execute("VACUUM (FREEZE, ANALYZE) %s" % table)

    @staticmethod
    def _data_version(conn):
        """PostgreSQL has no commit counter for a connection to compare: nothing is trusted from an earlier call."""
        return object()

    @staticmethod
    def _has_table(conn, name):
        return conn.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]

    def _schema_problems(self, conn):
        """The append-only triggers (and the function they call) against PG_TRIGGERS; a disabled trigger counts as altered."""
        version = self._guard_schema
        if version is None:  # outside a check (verify): read it
            version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        if version < 2:
            return [{"seq": None, "table": "schema", "problem": "the schema_version table says %d: schema_version was "
                     "edited (a PostgreSQL ledger starts at 2)." % version}]
        rows = conn.execute(
            "SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, p.proname, p.prosrc FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())::oid").fetchall()
        stored = {name: (re.sub(r" ON \S+\.", " ON ", definition), enabled, func, body)
                  for name, definition, enabled, func, body in rows}
        problems = []
        for name, (table, when, each, message) in PG_TRIGGERS.items():
            want = "CREATE TRIGGER %s %s ON %s %s EXECUTE FUNCTION %s" % (name, when, table, each, _refuse(message))
            if name not in stored:
                problems.append({"seq": None, "table": "schema", "problem": "the append-only trigger %s is missing: it was "
                                 "dropped outside the ledger." % name})
            elif not _trigger_intact(stored[name], want):
                problems.append({"seq": None, "table": "schema", "problem": "the append-only trigger %s was altered or "
                                 "disabled." % name})
        return problems

    # -- reads in one snapshot ------------------------------------------------------------------------
    def verify(self, anchor=None):
        """ledger.SqliteLedger.verify in one REPEATABLE READ snapshot, the log streamed through a server-side cursor."""
        def run():
            self.conn.streaming = True
            try:
                return base.SqliteLedger.verify(self, anchor=anchor)
            finally:
                self.conn.streaming = False
        return self._read(run)

    def _intact_chain(self, tables=None):
        """ledger.SqliteLedger._intact_chain computed in the server (sha256 and lag() over the log, one row back per range);
        from VERIFY_SPLIT_MIN events the second half is hashed at the same time over a second connection, and verify's
        table reads (``tables``) run on this connection before that half is waited for."""
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return 0, {"seq": 0, "hash": base.GENESIS_HASH}
        last_seq = row[0]
        middle = last_seq // 2 if last_seq >= base.VERIFY_SPLIT_MIN else last_seq
        other = None
        if middle < last_seq:
            other = _RangeThread(lambda: self._pg.connect(conninfo(self.path), autocommit=True), middle + 1, last_seq)
            other.start()
        ok = _range_intact(self.conn.raw, 1, middle)
        if ok and tables is not None:
            self._read_tables(tables)
        if other is not None:
            other.join()
            ok = ok and other.ok
        return (last_seq, {"seq": last_seq, "hash": row[1]}) if ok else None

    def check_change(self, change_id=None, devices=()):
        if not self.readonly:
            return base.SqliteLedger.check_change(self, change_id, devices)
        self._read(lambda: self._guard(self.conn, [change_id] if change_id else [], devices))
        return self.get_change(change_id) if change_id else None

    def events(self, change_id=None, since_seq=0):
        return self._read(lambda: base.SqliteLedger.events(self, change_id, since_seq))

    def head(self):
        return self._read(lambda: base.SqliteLedger.head(self))

    def changes(self):
        return self._read(lambda: base.SqliteLedger.changes(self))

    def locks(self, device=None):
        return self._read(lambda: base.SqliteLedger.locks(self, device))

    def approvals(self, change_id):
        return self._read(lambda: base.SqliteLedger.approvals(self, change_id))

    def get_change(self, change_id):
        return self._read(lambda: base.SqliteLedger.get_change(self, change_id))

    def schema_version(self):
        return self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]


def _one_line(exc):
    """A database error as one line (psycopg messages may span lines)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _trigger_intact(stored, want):
    """A stored trigger (definition, enabled flag, -, function body) is the ledger's own, enabled, refusing body."""
    definition = re.sub(r"EXECUTE FUNCTION \S+\.governed_refuse", "EXECUTE FUNCTION governed_refuse", stored[0])
    return definition == want and stored[1] == "O" and stored[3] == REFUSE_BODY
