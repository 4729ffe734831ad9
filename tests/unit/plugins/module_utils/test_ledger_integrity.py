# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger is the authority: every table a decision reads is derived from the hash chain and checked against it,
append-only triggers, the incremental check before every write (nothing recorded after a broken seq), read-only opening."""

from __future__ import annotations

import datetime
import os
import re
import sqlite3

import pytest

from ansible_collections.governed.change.plugins.module_utils import ledger as ledger_mod
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import APPEND_ONLY_TRIGGERS, LedgerTampered, SqliteLedger

T0 = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        self.now += datetime.timedelta(microseconds=137)  # every read differs, as a real clock does
        return self.now


@pytest.fixture
def path(tmp_path):
    """A ledger with one closed change (approved, locked, released), one open change holding leases, and other traffic."""
    file = str(tmp_path / "ledger.db")
    with SqliteLedger(file, clock=Clock()) as led:
        led.create_change("CHG-1", "closed change", "carol", tier="high", content_hash="a" * 64)
        led.transition("CHG-1", "assess", "assess")
        led.set_assessment("CHG-1", "high", "a" * 64, "assess")
        led.transition("CHG-1", "authorize", "assess")
        led.record_approval({"change_id": "CHG-1", "approver": "alice", "decision": "approve", "content_hash": "a" * 64,
                             "ts": "2026-11-27T12:00:00Z", "source": "ssh", "signature": "SIG-A", "principal": "alice@lab",
                             "verified": True})
        led.record_verdict("CHG-1", "review", {"decision": "pass"})
        led.transition("CHG-1", "scheduled", "review")
        led.acquire_locks("CHG-1", ["r1", "r2"], "run-1", 600)
        led.transition("CHG-1", "implement", "run-1")
        led.release_locks("CHG-1")
        led.transition("CHG-1", "review", "close")
        led.transition("CHG-1", "closed", "close", close_code="unsuccessful")
        led.create_change("CHG-2", "open change", "dave", tier="medium", content_hash="b" * 64)
        led.acquire_locks("CHG-2", ["r3"], "run-2", 600)
        for i in range(10):
            led.append_event(None, "note", "x", {"i": i})
        assert led.verify()["ok"], led.verify()["problems"]
    return file


def tamper(file, *statements, restore_triggers=True):
    """Edit the file like someone with write access: lift the append-only triggers, edit, put them back."""
    raw = sqlite3.connect(file, isolation_level=None)
    for name in APPEND_ONLY_TRIGGERS:
        raw.execute("DROP TRIGGER IF EXISTS %s" % name)
    for sql in statements:
        raw.execute(sql)
    if restore_triggers:
        for trigger in APPEND_ONLY_TRIGGERS.values():
            raw.execute(trigger)
    raw.close()


def head(file):
    raw = sqlite3.connect(file)
    try:
        return raw.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    finally:
        raw.close()


def seq_of(file, change_id, kind, nth=-1):
    raw = sqlite3.connect(file)
    try:
        return [r[0] for r in raw.execute("SELECT seq FROM events WHERE change_id = ? AND kind = ? ORDER BY seq", (change_id, kind))][nth]
    finally:
        raw.close()


TAMPERS = [
    # (name, statements, change checked, expected problem text)
    ("event data", ["UPDATE events SET data = '{\"decision\":\"approve\"}' WHERE kind = 'verdict.review'"], "CHG-1",
     "content does not match its hash: the event was edited."),
    ("change state", ["UPDATE changes SET state = 'scheduled', close_code = NULL WHERE id = 'CHG-1'"], "CHG-1",
     "changes row CHG-1: state is 'scheduled' but its events"),
    ("change tier", ["UPDATE changes SET tier = 'low' WHERE id = 'CHG-1'"], "CHG-1", "changes row CHG-1: tier is 'low'"),
    ("change close code", ["UPDATE changes SET close_code = 'successful' WHERE id = 'CHG-1'"], "CHG-1",
     "close_code is 'successful' but its events (last at seq"),
    ("change content hash", ["UPDATE changes SET content_hash = 'c' WHERE id = 'CHG-2'"], "CHG-2", "content_hash is 'c'"),
    ("approval approver", ["UPDATE approvals SET approver = 'mallory'"], "CHG-1",
     "approver is 'mallory', the event says 'alice': the approvals table was edited."),
    ("approval decision", ["UPDATE approvals SET decision = 'deny'"], "CHG-1", "decision is 'deny', the event says 'approve'"),
    ("approval inserted", ["INSERT INTO approvals (change_id, approver, decision, content_hash, ts, source, verified, recorded) "
                           "VALUES ('CHG-1', 'bob', 'approve', 'x', 't', 'ssh', 1, 't')"], "CHG-1",
     "has no approval event: the row was inserted outside the ledger."),
    ("approval deleted", ["DELETE FROM approvals"], "CHG-1", "has no approvals row: the row was deleted."),
    ("lock owner", ["UPDATE locks SET owner = 'run-9' WHERE device = 'r3'"], "CHG-2", "owner is 'run-9', the event says 'run-2'"),
    ("lock expiry", ["UPDATE locks SET expires = '2099-01-01T00:00:00Z' WHERE device = 'r3'"], "CHG-2", "expires is '2099"),
    ("lock deleted", ["DELETE FROM locks WHERE device = 'r3'"], "CHG-2", "r3 is leased to change CHG-2 by the event at seq"),
    ("lock planted", ["INSERT INTO locks VALUES ('r9', 'CHG-2', 'run-2', 't', '2099-01-01T00:00:00Z')"], "CHG-2",
     "the lease of r9 (change CHG-2) has no lock.acquired event"),
    ("change row planted", ["INSERT INTO changes VALUES ('CHG-9', 't', 'eve', 'scheduled', NULL, 'low', 'h', 't', 't')"], "CHG-9",
     "changes row CHG-9 has no change.created event"),
]


@pytest.mark.parametrize("name, statements, change_id, text", TAMPERS, ids=[t[0] for t in TAMPERS])
def test_every_tamper_kind_is_found_by_verify_and_refused_by_the_check(path, name, statements, change_id, text):
    tamper(path, *statements)
    with SqliteLedger(path) as led:
        report = led.verify()
        assert report["ok"] is False and any(text in p["problem"] for p in report["problems"]), (name, report["problems"])
        before = head(path)
        with pytest.raises(LedgerTampered) as caught:
            led.check_change(change_id)
        assert text in caught.value.problem and "nothing was recorded" in caught.value.fix
        seqs = [p["seq"] for p in report["problems"] if text in p["problem"]]
        if isinstance(seqs[0], int):
            assert caught.value.seq == seqs[0] and ("at seq %d" % seqs[0]) in caught.value.problem
        # every write about the change is refused the same way, and nothing is appended
        for write in (lambda: led.append_event(change_id, "note", "x", {}), lambda: led.record_verdict(change_id, "review", {}),
                      lambda: led.transition(change_id, "canceled", "x")):
            with pytest.raises(LedgerTampered):
                write()
        assert head(path) == before


def test_the_seq_named_is_the_tampered_event(path):
    seq = seq_of(path, "CHG-1", "verdict.review")
    tamper(path, "UPDATE events SET actor = 'mallory' WHERE seq = %d" % seq)
    with SqliteLedger(path) as led:
        with pytest.raises(LedgerTampered) as caught:
            led.check_change("CHG-1")
    assert caught.value.seq == seq and "does not verify at seq %d: content does not match its hash" % seq in caught.value.problem


def test_an_edit_of_another_change_before_the_checkpoint_does_not_block_but_verify_finds_it(path):
    """The incremental check covers the change's own events and the tail; the full verify covers everything."""
    seq = seq_of(path, "CHG-1", "verdict.review")
    tamper(path, "UPDATE events SET actor = 'mallory' WHERE seq = %d" % seq)
    with SqliteLedger(path) as led:
        assert led.check_change("CHG-2")["state"] == "new"
        assert [p["seq"] for p in led.verify()["problems"]] == [seq]


def test_an_edit_in_the_unverified_tail_blocks_every_change(path):
    with SqliteLedger(path) as led:
        led.append_event(None, "note", "x", {"i": "after"})  # checkpoint at the head
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("INSERT INTO events SELECT seq + 1, change_id, ts, kind, actor, data, hash, hash FROM events "
                "WHERE seq = (SELECT MAX(seq) FROM events)")  # appended outside the ledger (insert is not refused)
    raw.close()
    with SqliteLedger(path) as led:
        with pytest.raises(LedgerTampered) as caught:
            led.check_change("CHG-2")
    assert "content does not match its hash" in caught.value.problem or "chain head" in caught.value.problem


def test_a_dropped_trigger_is_found_and_refused(path):
    tamper(path, restore_triggers=False)
    with SqliteLedger(path) as led:
        problems = [p["problem"] for p in led.verify()["problems"]]
        assert len(problems) == len(APPEND_ONLY_TRIGGERS)
        assert "the append-only trigger events_append_only_update is missing: it was dropped outside the ledger." in problems
        with pytest.raises(LedgerTampered) as caught:
            led.check_change("CHG-2")
        assert "append-only trigger" in caught.value.problem and caught.value.seq is None


def test_an_altered_trigger_is_found(path):
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("DROP TRIGGER events_append_only_delete")
    raw.execute("CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events WHEN 0 BEGIN SELECT 1; END")
    raw.close()
    with SqliteLedger(path) as led:
        assert [p["problem"] for p in led.verify()["problems"]] == ["the append-only trigger events_append_only_delete was altered."]


def test_downgraded_schema_version_is_found(path):
    tamper(path, "DELETE FROM schema_version WHERE version >= 2", restore_triggers=False)
    with SqliteLedger(path, readonly=True) as led:
        assert "schema_version was edited" in led.verify()["problems"][0]["problem"]


@pytest.mark.parametrize("sql", [
    "UPDATE events SET actor = 'x' WHERE seq = 1", "DELETE FROM events WHERE seq = 1",
    "UPDATE approvals SET approver = 'x'", "DELETE FROM approvals",
    "DELETE FROM changes WHERE id = 'CHG-1'", "UPDATE changes SET author = 'x' WHERE id = 'CHG-1'",
    "UPDATE chain_head SET seq = 1", "DELETE FROM chain_head",
])
def test_append_only_triggers_refuse_an_accidental_write(path, sql):
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="governed.change ledger: "):
            raw.execute(sql)
    finally:
        raw.close()
    with SqliteLedger(path) as led:
        assert led.verify()["ok"]


def test_readonly_verify_of_a_non_ledger_leaves_it_byte_identical(tmp_path):
    other = tmp_path / "app.db"
    raw = sqlite3.connect(str(other))
    raw.execute("CREATE TABLE users (name TEXT)")
    raw.execute("INSERT INTO users VALUES ('x')")
    raw.commit()
    raw.close()
    before = other.read_bytes()
    with pytest.raises(LedgerError, match="not a governed.change ledger: no events table"):
        SqliteLedger(str(other), readonly=True)
    assert other.read_bytes() == before and sorted(os.listdir(str(tmp_path))) == ["app.db"]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00" * 100 + b"not sqlite")
    with pytest.raises(LedgerError, match="not a governed.change ledger"):
        SqliteLedger(str(garbage), readonly=True)
    with pytest.raises(LedgerError, match="does not exist"):
        SqliteLedger(str(tmp_path / "missing.db"), readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_readonly_ledger_refuses_writes_and_checks_without_writing(path):
    before = open(path, "rb").read()
    with SqliteLedger(path, readonly=True) as led:
        assert led.verify()["ok"] and led.check_change("CHG-2")["state"] == "new"
        with pytest.raises(LedgerError, match="read-only"):
            led.append_event("CHG-2", "note", "x", {})
    assert open(path, "rb").read() == before


def test_check_is_incremental_and_moves_the_checkpoint(path):
    with SqliteLedger(path) as led:
        led.append_event("CHG-2", "note", "x", {})
        top = led.head()
        assert led.conn.execute("SELECT seq, hash FROM checkpoint").fetchone() == (top["seq"], top["hash"])
    with SqliteLedger(path) as led:  # a fresh process: a tail of one event and CHG-2's own events are checked
        calls = []
        original = ledger_mod.event_hash

        def counting(*args):
            calls.append(args[0])
            return original(*args)
        ledger_mod.event_hash = counting
        try:
            led.check_change("CHG-2")
        finally:
            ledger_mod.event_hash = original
        own = [e["seq"] for e in led.events(change_id="CHG-2")]
        assert sorted(calls) == sorted(own) and top["seq"] - len(own) > 10  # far fewer than the chain


def test_migration_from_schema_1_aligns_times_and_installs_the_triggers(tmp_path, path):
    # turn the fixture into a schema 1 file, with record times a few microseconds off their events (as schema 1 wrote them)
    tamper(path, "DROP TABLE checkpoint", "DROP TABLE change_events", "DROP INDEX events_kind",
           "DELETE FROM schema_version WHERE version >= 2",
           "UPDATE changes SET updated = '2026-11-27T12:00:00.999999Z'", "UPDATE locks SET acquired = 'x'",
           "UPDATE approvals SET recorded = 'y'", restore_triggers=False)
    with SqliteLedger(path, readonly=True) as led:
        assert led.schema_version() == 1 and led.verify()["ok"]  # times are not compared on schema 1
    with SqliteLedger(path) as led:
        assert led.schema_version() == ledger_mod.SCHEMA_VERSION
        report = led.verify()
        assert report["ok"], report["problems"]
        names = {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert names == set(APPEND_ONLY_TRIGGERS)
    tamper(path, "UPDATE changes SET state = 'implement', close_code = NULL WHERE id = 'CHG-1'")
    with SqliteLedger(path) as led:
        assert "state is 'implement'" in led.verify()["problems"][0]["problem"]


def test_secret_looking_values_compare_in_their_stored_form(tmp_path):
    with SqliteLedger(str(tmp_path / "l.db")) as led:
        led.create_change("CHG-S", "Bearer abc.def", "carol")
        led.record_approval({"change_id": "CHG-S", "approver": "bob", "decision": "deny", "content_hash": "h",
                             "ts": "2026-11-27T12:00:00Z", "source": "ssh", "comment": "Bearer zzz"})
        assert led.verify()["ok"] and led.check_change("CHG-S")["title"] == "Bearer abc.def"


def test_a_deleted_deny_of_the_change_is_found_by_the_check_even_with_its_row(path):
    """The deny event and its approvals row are removed together (the rows then match the events): the gap in the
    numbering gives it away, with the seq, even though the neighbours belong to other changes."""
    with SqliteLedger(path) as led:
        led.append_event(None, "note", "x", {})
        led.record_approval({"change_id": "CHG-2", "approver": "bob", "decision": "deny", "content_hash": "b" * 64,
                             "ts": "2026-11-27T12:00:00Z", "source": "ssh"})
        for i in range(3):
            led.append_event(None, "note", "x", {"i": i})
    seq = seq_of(path, "CHG-2", "approval.deny")
    tamper(path, "DELETE FROM events WHERE seq = %d" % seq, "DELETE FROM approvals WHERE decision = 'deny'")
    with SqliteLedger(path) as led:
        with pytest.raises(LedgerTampered) as caught:
            led.check_change("CHG-2")
        assert caught.value.seq == seq and "seq %d is missing: the event was deleted" % seq in caught.value.problem
        assert led.verify()["ok"] is False


# -- ledger verify: the fast pass (seq ranges in two processes) reports what the full walk reports -------------------------

def test_the_ranges_are_handed_out_once_each_and_none_after_a_failure(path):
    with SqliteLedger(path, readonly=True) as led:
        events = led.verify()["events"]
        chunks = [(1, 3), (4, 6), (7, events)]
        counter = ledger_mod._shared_counter()  # pylint: disable=protected-access
        assert ledger_mod._take_chunks(led.conn, chunks, counter) is True  # pylint: disable=protected-access
        assert counter.value == len(chunks) + 1  # each range taken once, then the end seen
    tamper(path, "UPDATE events SET actor = 'mallory' WHERE seq = 5")
    with SqliteLedger(path, readonly=True) as led:
        counter = ledger_mod._shared_counter()  # pylint: disable=protected-access
        assert ledger_mod._take_chunks(led.conn, chunks, counter) is False  # pylint: disable=protected-access
        assert counter.value == len(chunks)  # the other process takes no range after the failed one


@pytest.mark.parametrize("split", [10 ** 9, 2])
def test_the_chain_pass_tallies_what_verify_would_read_from_the_tables(path, monkeypatch, split):
    """The fast pass reads the log once: the records its table-making events imply and each change's event count and
    last seq, gathered as it hashes (one process, or two taking ranges in turn), equal what the queries read."""
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", split)
    monkeypatch.setattr(ledger_mod, "VERIFY_CHUNKS", 3)
    with SqliteLedger(path, readonly=True) as led:
        tallied, read = {}, {}
        assert led._intact_chain(tallied) is not None  # pylint: disable=protected-access
        led._read_tables(read)  # pylint: disable=protected-access
        assert tallied == read
        assert set(read["counts"]) >= {"CHG-1", "CHG-2"} and read["derived"]


@pytest.mark.parametrize("column", ["data", "actor", "ts"])
def test_a_column_stored_as_bytes_is_not_intact_and_the_walk_reports_it(path, monkeypatch, column):
    """A hostile edit that keeps an event's text but stores it as a blob: the fast pass neither accepts it nor raises;
    verify's report is the walk's."""
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", 2)
    tamper(path, "UPDATE events SET %s = CAST(%s AS BLOB) WHERE seq = 4" % (column, column))
    with SqliteLedger(path, readonly=True) as led:
        assert led._intact_chain() is None  # pylint: disable=protected-access
        report = led.verify()
        assert report["ok"] is False and report == led._walk_verify(None)  # pylint: disable=protected-access
    assert {"seq": 4, "problem": "its %s is stored as bytes, not text: the event was edited outside the ledger." % column} \
        in report["problems"]


@pytest.mark.parametrize("name, statements, change_id, text", TAMPERS, ids=[t[0] for t in TAMPERS])
def test_verify_reports_what_the_full_walk_reports(path, monkeypatch, name, statements, change_id, text):
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", 2)  # two ranges even for this small chain
    tamper(path, *statements)
    with SqliteLedger(path, readonly=True) as led:
        report = led.verify()
        assert report == led._walk_verify(None) and report["ok"] is False, name  # pylint: disable=protected-access


def _boundary_tampers(middle):
    """Edits at the seam of the two ranges verify splits the chain into (seqs 1..middle and middle+1..N)."""
    return {
        "last event of the first range edited": ["UPDATE events SET actor = 'mallory' WHERE seq = %d" % middle],
        "first event of the second range edited": ["UPDATE events SET actor = 'mallory' WHERE seq = %d" % (middle + 1)],
        "the seam's link broken": ["UPDATE events SET prev_hash = hash WHERE seq = %d" % (middle + 1)],
        "the last event of the first range deleted": ["DELETE FROM events WHERE seq = %d" % middle],
        "the first event of the second range deleted": ["DELETE FROM events WHERE seq = %d" % (middle + 1)],
        "the seam's hash replaced": ["UPDATE events SET hash = (SELECT hash FROM events WHERE seq = 1) WHERE seq = %d" % middle],
    }


@pytest.mark.parametrize("which", sorted(_boundary_tampers(1)))
def test_a_tamper_at_the_seam_of_two_ranges_is_reported_as_the_walk_reports_it(path, monkeypatch, which):
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", 2)
    monkeypatch.setattr(ledger_mod, "VERIFY_CHUNKS", 3)  # the two processes take three ranges in turn
    with SqliteLedger(path, readonly=True) as led:
        clean = led.verify()
        assert clean["ok"] and clean == led._walk_verify(None)  # pylint: disable=protected-access
        assert led._intact_chain() == (clean["events"], clean["head"])  # pylint: disable=protected-access
    middle = -(-clean["events"] // 3)  # the last seq of the first range
    assert 1 < middle < clean["events"] - 1
    tamper(path, *_boundary_tampers(middle)[which])
    with SqliteLedger(path, readonly=True) as led:
        assert led._intact_chain() is None  # pylint: disable=protected-access
        report = led.verify()
        assert report["ok"] is False and report == led._walk_verify(None)  # pylint: disable=protected-access


def test_an_anchor_is_checked_by_lookup_like_the_walk(path):
    with SqliteLedger(path, readonly=True) as led:
        head = led.head()
        assert led.verify(anchor=head)["ok"]
        wrong = {"seq": head["seq"] - 1, "hash": head["hash"]}
        assert led.verify(anchor=wrong) == led._walk_verify(wrong)  # pylint: disable=protected-access
        beyond = {"seq": head["seq"] + 5, "hash": "x"}
        assert led.verify(anchor=beyond)["problems"] == led._walk_verify(beyond)["problems"]  # pylint: disable=protected-access


# -- the check before a write costs the same however long the change and the ledger grow ----------------------------------

def _shape(statement):
    """A traced statement without its values."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", statement)


def _statements_of_one_append(led, change_id):
    statements = []
    led.conn.set_trace_callback(statements.append)
    try:
        led.append_event(change_id, "note", "x", {"n": 1})
    finally:
        led.conn.set_trace_callback(None)
    return statements


def test_a_writes_check_reads_only_what_is_new(path):
    with SqliteLedger(path) as led, SqliteLedger(path) as other:
        led.append_event("CHG-2", "note", "x", {})
        other.append_event("CHG-1", "note", "y", {})  # another writer: the tail and the trust are re-established
        early = _statements_of_one_append(led, "CHG-2")
        for i in range(300):
            led.append_event("CHG-2", "note", "x", {"i": i})
            other.append_event(None, "note", "y", {"i": i})
        other.append_event("CHG-1", "note", "y", {})
        late = _statements_of_one_append(led, "CHG-2")
        assert [_shape(s) for s in late] == [_shape(s) for s in early]  # the same statements, only the values differ
        assert not any("COUNT(" in s for s in late)  # nothing counts the ledger
        assert led.verify()["ok"]


def test_a_deleted_event_below_the_checkpoint_of_another_change_is_left_to_verify(path):
    """What the stage check catches of a deletion below the checkpoint: an event of the change it checks (its count in
    change_events no longer matches; the seq is named) or a neighbour of one of its events. Any other deletion is found by
    `ledger verify`, which reads every event (the check no longer counts the whole ledger)."""
    seq = seq_of(path, "CHG-1", "verdict.review")
    tamper(path, "DELETE FROM events WHERE seq = %d" % seq)
    with SqliteLedger(path) as led:
        assert led.check_change("CHG-2")["state"] == "new"  # not CHG-2's, nor next to one of its events
        with pytest.raises(LedgerTampered) as caught:
            led.check_change("CHG-1")
        assert caught.value.seq == seq - 1 and "seq %d does not chain to it: that event was deleted" % seq in caught.value.problem
        report = led.verify()
        assert report["ok"] is False and report["problems"][0]["seq"] == seq + 1 and "missing before" in report["problems"][0]["problem"]


def test_an_edited_change_events_row_is_refused_by_the_check_and_named_by_verify(path):
    tamper(path, "UPDATE change_events SET events = events + 1 WHERE change_id = 'CHG-2'")
    with SqliteLedger(path) as led:
        with pytest.raises(LedgerTampered, match="change_events"):
            led.check_change("CHG-2")
        problems = led.verify()["problems"]
        assert len(problems) == 1 and problems[0]["table"] == "change_events" and "CHG-2" in problems[0]["problem"]


def test_the_fast_pass_hashes_texts_that_need_json_escaping_like_event_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", 2)
    with SqliteLedger(str(tmp_path / "l.db"), clock=Clock()) as led:
        led.create_change("CHG-1", "quote \" backslash \\ tab \t and \u00fc", "carol")
        for index in range(30):
            led.append_event("CHG-1" if index % 3 else None, "note", "a\nb\u0001" if index == 7 else None,
                             {"i": index, "s": "\u00e9\u0001\"\\"})
        report = led.verify()
        assert report["ok"] and led._intact_chain() == (report["events"], report["head"])  # pylint: disable=protected-access
