# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ledger: lifecycle, hash chain and tamper detection, concurrent writers, locks, redaction."""

from __future__ import annotations

import datetime
import multiprocessing
import sqlite3
import time

import pytest

from ansible_collections.governed.change.plugins.module_utils import ledger as ledger_mod
from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import GENESIS_HASH, SqliteLedger, event_hash, redact

T0 = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


class Clock:
    """A settable clock for lease expiry."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += datetime.timedelta(**kw)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock):
    led = SqliteLedger(str(tmp_path / "ledger.db"), clock=clock)
    yield led
    led.close()


def _chain(led, n=20):
    led.create_change("CHG-1", "test change", "carol")
    for i in range(n - 1):
        led.append_event("CHG-1", "note", "carol", {"i": i})
    assert led.verify()["ok"]


class _Tamperer:
    """A raw connection like an attacker with write access to the file: for each edit it drops the append-only triggers
    and puts them back afterwards, so only the edit itself is left to be found."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)

    def execute(self, sql, args=()):
        if sql.lstrip().upper().startswith("SELECT"):
            return self.conn.execute(sql, args)
        for name in ledger_mod.APPEND_ONLY_TRIGGERS:
            self.conn.execute("DROP TRIGGER IF EXISTS %s" % name)
        try:
            return self.conn.execute(sql, args)
        finally:
            for trigger in ledger_mod.APPEND_ONLY_TRIGGERS.values():
                self.conn.execute(trigger)

    def close(self):
        self.conn.close()


def _raw(led):
    return _Tamperer(led.path)


# -- lifecycle --------------------------------------------------------------------------------------------

def test_lifecycle_full_path(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    for state in ("assess", "authorize", "scheduled", "implement", "review"):
        assert ledger.transition("CHG-1", state, "pipeline")["state"] == state
    change = ledger.transition("CHG-1", "closed", "pipeline", close_code="successful_issues")
    assert (change["state"], change["close_code"]) == ("closed", "successful_issues")
    kinds = [e["kind"] for e in ledger.events("CHG-1")]
    assert kinds == ["change.created"] + ["change.state"] * 6


def test_illegal_transition_refused_with_fix(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    with pytest.raises(LedgerError) as exc:
        ledger.transition("CHG-1", "implement", "mallory")
    assert "cannot go from new to implement" in str(exc.value)
    assert exc.value.fix == "from new the next state may be: assess, canceled."
    assert ledger.get_change("CHG-1")["state"] == "new"
    assert len(ledger.events()) == 1  # the refused write appended nothing


def test_close_needs_code_and_closed_is_final(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    for state in ("assess", "authorize", "scheduled", "implement", "review"):
        ledger.transition("CHG-1", state, "p")
    with pytest.raises(LedgerError, match="needs a close code"):
        ledger.transition("CHG-1", "closed", "p")
    with pytest.raises(LedgerError, match="close code"):
        ledger.transition("CHG-1", "closed", "p", close_code="great")
    ledger.transition("CHG-1", "closed", "p", close_code="unsuccessful")
    with pytest.raises(LedgerError) as exc:
        ledger.transition("CHG-1", "canceled", "p")
    assert "final" in exc.value.fix


def test_cancel_from_any_open_state_and_reassess(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    for state in ("assess", "authorize", "assess", "authorize", "scheduled", "implement"):
        ledger.transition("CHG-1", state, "p")
    assert ledger.transition("CHG-1", "canceled", "p", reason="aborted")["state"] == "canceled"
    with pytest.raises(LedgerError):
        ledger.transition("CHG-1", "assess", "p")


def test_unknown_change_and_duplicate(ledger):
    with pytest.raises(LedgerError, match="not in the ledger"):
        ledger.transition("CHG-404", "assess", "p")
    ledger.create_change("CHG-1", "t", "carol")
    with pytest.raises(LedgerError, match="already exists"):
        ledger.create_change("CHG-1", "t", "carol")
    with pytest.raises(LedgerError, match="not a valid identifier"):
        ledger.create_change("CHG 1; DROP", "t", "carol")


def test_set_assessment_records_previous_hash(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    ledger.set_assessment("CHG-1", "high", "a" * 64, "assess")
    ledger.set_assessment("CHG-1", "high", "b" * 64, "assess")
    assert ledger.get_change("CHG-1")["content_hash"] == "b" * 64
    assert ledger.events("CHG-1")[-1]["data"]["previous_content_hash"] == "a" * 64


# -- schema -----------------------------------------------------------------------------------------------

def test_schema_versioned_and_reopen(tmp_path):
    path = str(tmp_path / "l.db")
    with SqliteLedger(path) as led:
        assert led.schema_version() == ledger_mod.SCHEMA_VERSION
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        led.create_change("CHG-1", "t", "carol")
    with SqliteLedger(path) as led:
        assert led.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == ledger_mod.SCHEMA_VERSION
        assert led.get_change("CHG-1")["state"] == "new"


def test_newer_schema_refused(tmp_path):
    path = str(tmp_path / "l.db")
    SqliteLedger(path).close()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("INSERT INTO schema_version VALUES (99, 'x')")
    raw.close()
    with pytest.raises(LedgerError) as exc:
        SqliteLedger(path)
    assert "newer than this code" in str(exc.value) and "upgrade" in exc.value.fix


def test_missing_directory_refused(tmp_path):
    with pytest.raises(LedgerError, match="directory does not exist"):
        SqliteLedger(str(tmp_path / "nope" / "l.db"))


# -- the chain --------------------------------------------------------------------------------------------

def test_event_hash_is_sha256_of_canonical_event(ledger):
    ledger.create_change("CHG-1", "tést", "carol")
    event = ledger.append_event("CHG-1", "note", "carol", {"z": [1, 2], "a": "x\n\"y\""})
    first = ledger.events()[0]
    assert first["prev_hash"] == GENESIS_HASH and event["prev_hash"] == first["hash"]
    body = {k: event[k] for k in ("seq", "change_id", "ts", "kind", "actor", "data", "prev_hash")}
    assert event["hash"] == sha256_of(body)
    assert event["hash"] == event_hash(event["seq"], "CHG-1", event["ts"], "note", "carol", canonical_json(event["data"]),
                                       event["prev_hash"])


def test_verify_clean_chain(ledger):
    _chain(ledger, 30)
    report = ledger.verify()
    assert report == {"ok": True, "events": 30, "head": ledger.head(), "problems": []}


def test_tamper_edit_detected(ledger):
    _chain(ledger)
    raw = _raw(ledger)
    raw.execute("UPDATE events SET data = ? WHERE seq = 7", ('{"i":999}',))
    report = ledger.verify()
    assert not report["ok"]
    assert report["problems"] == [{"seq": 7, "problem": "content does not match its hash: the event was edited."}]


def test_tamper_edit_of_actor_detected(ledger):
    _chain(ledger)
    _raw(ledger).execute("UPDATE events SET actor = 'alice' WHERE seq = 3")
    assert [p["seq"] for p in ledger.verify()["problems"]] == [3]


def test_tamper_delete_detected(ledger):
    _chain(ledger)
    _raw(ledger).execute("DELETE FROM events WHERE seq = 5")
    report = ledger.verify()
    assert not report["ok"]
    assert report["problems"][0] == {"seq": 6, "problem": "seq 5 missing before seq 6: events were deleted."}
    assert all(p["seq"] == 6 for p in report["problems"])


def test_tamper_delete_tail_detected_by_chain_head(ledger):
    _chain(ledger)
    _raw(ledger).execute("DELETE FROM events WHERE seq = 20")
    report = ledger.verify()
    assert not report["ok"] and report["problems"][0]["seq"] == 20
    assert "tail were deleted" in report["problems"][0]["problem"]


def test_truncation_with_rewritten_head_caught_by_anchor(ledger):
    _chain(ledger)
    anchor = ledger.head()
    raw = _raw(ledger)
    raw.execute("DELETE FROM events WHERE seq = 20")
    raw.execute("UPDATE chain_head SET seq = 19, hash = (SELECT hash FROM events WHERE seq = 19)")
    assert not ledger.verify()["ok"]  # the change's event count (change_events) still says 20 ...
    raw.execute("UPDATE change_events SET events = 19, last_seq = 19 WHERE change_id = 'CHG-1'")
    assert ledger.verify()["ok"]  # ... but a careful rewrite of that too needs an external anchor ...
    report = ledger.verify(anchor=anchor)  # ... such as the head recorded in an evidence bundle
    assert not report["ok"] and report["problems"][0]["seq"] == 20


def test_tamper_insert_detected(ledger):
    """An attacker who knows the hash recipe renumbers the tail and inserts a well-formed event at seq 6."""
    _chain(ledger)
    raw = _raw(ledger)
    raw.execute("UPDATE events SET seq = seq + 1000 WHERE seq >= 6")
    raw.execute("UPDATE events SET seq = seq - 999 WHERE seq >= 1000")
    prev = raw.execute("SELECT hash FROM events WHERE seq = 5").fetchone()[0]
    data = canonical_json({"forged": True})
    ts = "2026-11-27T12:00:00Z"
    digest = event_hash(6, "CHG-1", ts, "approval.approve", "mallory", data, prev)
    raw.execute("INSERT INTO events VALUES (6, 'CHG-1', ?, 'approval.approve', 'mallory', ?, ?, ?)", (ts, data, prev, digest))
    report = ledger.verify()
    assert not report["ok"]
    seqs = {p["seq"] for p in report["problems"]}
    assert 7 in seqs  # the displaced original event 6
    assert any("inserted" in p["problem"] for p in report["problems"])
    assert any(p["problem"].startswith("the event was recorded as seq 6 and now sits at seq 7") for p in report["problems"])


def test_tamper_append_outside_ledger_detected(ledger):
    _chain(ledger)
    raw = _raw(ledger)
    prev = raw.execute("SELECT hash FROM events WHERE seq = 20").fetchone()[0]
    data = canonical_json({})
    digest = event_hash(21, "CHG-1", "2026-11-27T12:00:00Z", "note", "mallory", data, prev)
    raw.execute("INSERT INTO events VALUES (21, 'CHG-1', '2026-11-27T12:00:00Z', 'note', 'mallory', ?, ?, ?)", (data, prev, digest))
    report = ledger.verify()
    assert not report["ok"] and report["problems"][0]["seq"] == 20


def test_tamper_reorder_detected(ledger):
    _chain(ledger)
    raw = _raw(ledger)
    raw.execute("UPDATE events SET seq = -1 WHERE seq = 10")
    raw.execute("UPDATE events SET seq = 10 WHERE seq = 11")
    raw.execute("UPDATE events SET seq = 11 WHERE seq = -1")
    report = ledger.verify()
    assert not report["ok"]
    assert report["problems"][:2] == [
        {"seq": 10, "problem": "the event was recorded as seq 11 and now sits at seq 10: events were reordered, or "
                               "inserted/deleted before it."},
        {"seq": 11, "problem": "the event was recorded as seq 10 and now sits at seq 11: events were reordered, or "
                               "inserted/deleted before it."},
    ]
    assert report["problems"][2:] == [{"seq": 12, "problem": "chained after seq 10, not seq 11: events were inserted, "
                                                             "deleted or reordered."}]


# -- concurrency ------------------------------------------------------------------------------------------

def _writer(path, name, count, barrier):
    led = SqliteLedger(path)
    barrier.wait(30)
    for i in range(count):
        led.append_event("CHG-1", "note", name, {"writer": name, "i": i})
        if i % 10 == 0:
            time.sleep(0.002)  # let the other writer in now and then (SQLite's busy handler backs off)
    led.close()


@pytest.mark.slow
def test_two_processes_write_at_once_and_lose_nothing(tmp_path):
    path = str(tmp_path / "ledger.db")
    with SqliteLedger(path) as led:
        led.create_change("CHG-1", "t", "carol")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, name, 500, barrier)) for name in ("w1", "w2")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    with SqliteLedger(path) as led:
        report = led.verify()
        assert report["ok"], report["problems"][:5]
        assert report["events"] == 1001
        events = led.events()
        assert [e["seq"] for e in events] == list(range(1, 1002))
        for name in ("w1", "w2"):
            mine = [e["data"]["i"] for e in events if e["actor"] == name]
            assert mine == list(range(500))
        switches = sum(1 for a, b in zip(events[1:], events[2:]) if a["actor"] != b["actor"])
        assert switches >= 2  # they really wrote at the same time (interleaved), not one after the other


# -- locks ------------------------------------------------------------------------------------------------

def test_lock_refuses_second_change_all_or_nothing(ledger):
    ledger.create_change("CHG-A", "a", "carol")
    ledger.create_change("CHG-B", "b", "carol")
    locks = ledger.acquire_locks("CHG-A", ["r1", "r2"], "run-a", 600)
    assert {lock["device"] for lock in locks} == {"r1", "r2"}
    with pytest.raises(LedgerError) as exc:
        ledger.acquire_locks("CHG-B", ["r2", "r3"], "run-b", 600)
    message = str(exc.value)
    assert "r2 is locked by change CHG-A (owner run-a) until 2026-11-27T12:10:00Z" in message
    assert "break it explicitly" in exc.value.fix
    assert ledger.locks("r3") == []  # nothing was taken
    assert ledger.release_locks("CHG-A") == ["r1", "r2"]
    assert {lock["device"] for lock in ledger.acquire_locks("CHG-B", ["r2", "r3"], "run-b", 600)} == {"r2", "r3"}


def test_lock_renewal_by_same_run_and_refusal_of_other_run_of_same_change(ledger, clock):
    ledger.create_change("CHG-A", "a", "carol")
    ledger.acquire_locks("CHG-A", ["r1"], "run-a", 60)
    clock.advance(seconds=30)
    assert ledger.acquire_locks("CHG-A", ["r1"], "run-a", 60)[0]["expires"] == "2026-11-27T12:01:30Z"
    with pytest.raises(LedgerError, match="owner run-a"):
        ledger.acquire_locks("CHG-A", ["r1"], "run-a2", 60)


def test_expired_lease_not_taken_over_and_break_lock_recorded(ledger, clock):
    ledger.create_change("CHG-A", "a", "carol")
    ledger.create_change("CHG-B", "b", "carol")
    ledger.acquire_locks("CHG-A", ["r1"], "run-a", 60)
    clock.advance(minutes=5)
    with pytest.raises(LedgerError) as exc:
        ledger.acquire_locks("CHG-B", ["r1"], "run-b", 60)
    assert "expired lease of change CHG-A" in str(exc.value) and "not taken over silently" in str(exc.value)
    with pytest.raises(LedgerError, match="actor and a reason"):
        ledger.break_lock("r1", "alice", "")
    broken = ledger.break_lock("r1", "alice", "run-a died (pid gone)")
    assert broken["change_id"] == "CHG-A"
    event = ledger.events()[-1]
    assert event["kind"] == "lock.broken" and event["actor"] == "alice" and event["change_id"] == "CHG-A"
    assert event["data"]["reason"] == "run-a died (pid gone)" and event["data"]["expired"] is True
    ledger.acquire_locks("CHG-B", ["r1"], "run-b", 60)
    with pytest.raises(LedgerError, match="not locked"):
        ledger.break_lock("r9", "alice", "x")
    assert ledger.verify()["ok"]


def test_lock_arguments_validated(ledger):
    ledger.create_change("CHG-A", "a", "carol")
    with pytest.raises(LedgerError, match="no devices"):
        ledger.acquire_locks("CHG-A", [], "o", 60)
    with pytest.raises(LedgerError, match="ttl_s"):
        ledger.acquire_locks("CHG-A", ["r1"], "o", 0)
    with pytest.raises(LedgerError, match="not in the ledger"):
        ledger.acquire_locks("CHG-X", ["r1"], "o", 60)


# -- redaction, approvals, verdicts -----------------------------------------------------------------------

def test_redact_helper():
    data = {"password": "hunter2", "nested": {"api_token": "abc", "ssh_key": "k", "private_key_file": "/x"},
            "items": [{"secret": "s"}, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA"], "author": "carol",
            "content_hash": "ab", "tier": "high", "Authorization": "Bearer xyz", "note": "Bearer abc.def"}
    out = redact(data)
    assert out["password"] == out["nested"]["api_token"] == out["nested"]["ssh_key"] == "********"
    assert out["nested"]["private_key_file"] == out["items"][0]["secret"] == out["items"][1] == "********"
    assert out["Authorization"] == out["note"] == "********"
    assert (out["author"], out["content_hash"], out["tier"]) == ("carol", "ab", "high")
    assert data["password"] == "hunter2"  # the input is untouched


def test_no_secret_reaches_an_event(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    ledger.append_event("CHG-1", "device.connect", "p", {"host": "r1", "ansible_password": "hunter2", "token": "t0k"})
    raw = _raw(ledger).execute("SELECT data FROM events WHERE seq = 2").fetchone()[0]
    assert "hunter2" not in raw and "t0k" not in raw
    assert ledger.verify()["ok"]


def test_record_approval_and_verdict(ledger):
    ledger.create_change("CHG-1", "t", "carol")
    approval = {"change_id": "CHG-1", "approver": "alice", "decision": "approve", "content_hash": "a" * 64,
                "ts": "2026-11-27T11:00:00Z", "comment": "ok", "signature": "-----BEGIN SSH SIGNATURE-----\nx\n",
                "principal": "alice@lab", "source": "ssh", "verified": False}
    event = ledger.record_approval(approval)
    assert event["kind"] == "approval.approve" and event["data"]["signature_sha256"] == sha256_of(approval["signature"])
    assert ledger.approvals("CHG-1") == [approval]
    with pytest.raises(LedgerError, match="lacks content_hash"):
        ledger.record_approval(dict(approval, content_hash=""))
    with pytest.raises(LedgerError, match="not in the ledger"):
        ledger.record_approval(dict(approval, change_id="CHG-9"))
    verdict_event = ledger.record_verdict("CHG-1", "review", {"decision": "fail", "reasons": ["x"]})
    assert verdict_event["kind"] == "verdict.review" and verdict_event["data"]["verdict"]["decision"] == "fail"
    assert ledger.verify()["ok"]
