# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL ledger under concurrency and faults, on a real server: many processes append one chain without forks
or gaps; two pipelines race for one device's lease; an expired lease is broken (recorded); a ledger migrates and
verifies alike on both sides; the database restarting mid-append fails closed and leaves a consistent chain.

The race is the issue's: 8 writers x 10,000 events (GC_RACE_EVENTS overrides the 10,000 for a quick local run). A write's
check costs the same whatever the ledger's and the change's size (it reads only what is new since this connection last
verified the change and the tail since the verified checkpoint), so the 80,000 appends run at a steady rate; the wall
time is printed (see docs/performance.md for the figures measured here)."""

from __future__ import annotations

import datetime
import io
import multiprocessing
import os
import subprocess

import pytest

import ledger_race
import pg_server as pg_support
from ansible_collections.governed.change.plugins.module_utils import cli
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger, open_ledger
from repo_paths import VENV_BIN

RACE_WRITERS = 8
RACE_EVENTS = int(os.environ.get("GC_RACE_EVENTS", "10000"))
T0 = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_eight_processes_append_one_chain_without_forks_or_gaps(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as led:
        led.create_change("CHG-BASE", "already there", "carol")
        before = led.head()["seq"]
    wall, results = ledger_race.race_appends(url, "CHG-RACE", RACE_WRITERS, RACE_EVENTS)
    assert [error for _writer, _seconds, error in results] == [None] * RACE_WRITERS
    rate = RACE_WRITERS * RACE_EVENTS / wall
    print("race: %d writers x %d events in %.1f s (%.0f events/s)" % (RACE_WRITERS, RACE_EVENTS, wall, rate))
    with open_ledger(url, readonly=True) as led:
        report = led.verify()
        assert report["ok"], report["problems"][:5]
        events = led.events(since_seq=before)
    tasks = [event for event in events if event["kind"] == "task.ok"]
    assert len(tasks) == RACE_WRITERS * RACE_EVENTS  # every append is there once (80,000 with the numbers)
    assert report["events"] == before + RACE_WRITERS * (RACE_EVENTS + 1)  # + each writer's change.created
    assert [event["seq"] for event in events] == list(range(before + 1, report["events"] + 1))  # no gap, no duplicate
    assert len({event["prev_hash"] for event in events}) == len(events)  # no fork: no two events share a predecessor
    for n in range(RACE_WRITERS):
        mine = [event["data"]["i"] for event in tasks if event["actor"] == "w%d" % n]
        assert mine == list(range(RACE_EVENTS))  # each writer's events in its own order
    switches = sum(1 for a, b in zip(tasks, tasks[1:]) if a["actor"] != b["actor"])
    assert switches >= RACE_WRITERS  # they really appended at the same time, interleaved


def test_two_pipelines_racing_for_r2_one_wins_the_other_is_refused_and_both_are_recorded(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as led:
        for change_id in ("CHG-A", "CHG-B"):
            led.create_change(change_id, "wants r2", "carol")
    outcome = ledger_race.race_lease(url, [("CHG-A", "run-a"), ("CHG-B", "run-b")], "r2")
    winners = [owner for owner, result in outcome.items() if result == "won"]
    assert len(winners) == 1, outcome
    loser = ({"run-a", "run-b"} - set(winners)).pop()
    winner_change = "CHG-A" if winners[0] == "run-a" else "CHG-B"
    assert outcome[loser].startswith("cannot lock devices for change")
    assert "r2 is locked by change %s (owner %s)" % (winner_change, winners[0]) in outcome[loser]
    with open_ledger(url, readonly=True) as led:
        assert led.verify()["ok"]
        assert [(lock["device"], lock["owner"]) for lock in led.locks()] == [("r2", winners[0])]
        kinds = {(event["actor"], event["kind"]) for event in led.events() if event["kind"].startswith("lock.")}
    assert kinds == {(winners[0], "lock.acquired"), (loser, "lock.refused")}


def test_an_expired_lease_is_not_taken_over_and_break_lock_from_the_cli_is_recorded(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url, clock=lambda: T0) as led:
        led.create_change("CHG-A", "a", "carol")
        led.create_change("CHG-B", "b", "carol")
        led.acquire_locks("CHG-A", ["r2"], "run-a", 60)
    later = T0 + datetime.timedelta(minutes=5)
    with open_ledger(url, clock=lambda: later) as led:  # another host, after run-a crashed
        with pytest.raises(LedgerError) as exc:
            led.acquire_locks("CHG-B", ["r2"], "run-b", 60)
        assert "expired lease of change CHG-A" in exc.value.problem and "break-lock" in exc.value.fix
    code, out, err = _cli("ledger", "break-lock", "r2", "--reason", "run-a crashed (host gone)", "--actor", "alice",
                          "--ledger", url)
    assert (code, err) == (0, "")
    assert "broke the lease of r2 held by change CHG-A (owner run-a" in out
    with open_ledger(url, clock=lambda: later) as led:
        broken = led.events()[-1]
        assert (broken["kind"], broken["actor"], broken["change_id"]) == ("lock.broken", "alice", "CHG-A")
        assert broken["data"]["expired"] is True and broken["data"]["reason"] == "run-a crashed (host gone)"
        assert led.acquire_locks("CHG-B", ["r2"], "run-b", 60)[0]["owner"] == "run-b"
        assert led.verify()["ok"]


def test_an_approval_recorded_by_one_client_is_what_every_other_reader_sees(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as laptop, open_ledger(url, readonly=True) as job:
        laptop.create_change("CHG-1", "t", "carol")
        assert job.approvals("CHG-1") == []
        laptop.record_approval({"change_id": "CHG-1", "approver": "alice", "decision": "approve", "content_hash": "c" * 64,
                                "ts": "2026-11-27T11:00:00Z", "source": "ssh", "signature": "sig", "verified": True})
        assert [a["approver"] for a in job.approvals("CHG-1")] == ["alice"]  # no cache: the next read sees it
        assert job.check_change("CHG-1")["id"] == "CHG-1"


def test_migrate_round_trip_sqlite_to_postgresql_and_back(pg_server, tmp_path):
    source = str(tmp_path / "ledger.db")
    with SqliteLedger(source) as led:
        led.create_change("CHG-1", "t", "carol")
        led.acquire_locks("CHG-1", ["r1"], "run-1", 600)
        led.record_approval({"change_id": "CHG-1", "approver": "alice", "decision": "approve", "content_hash": "c" * 64,
                             "ts": "2026-11-27T11:00:00Z", "source": "ssh"})
        for index in range(50):
            led.append_event("CHG-1", "task.ok", "ansible", ledger_race.task_event("w", index))
        head = led.verify()["head"]
    url = pg_server.fresh_url()
    code, out, err = _cli("ledger", "migrate", "--from", "sqlite:" + source, "--to", url)
    assert (code, err) == (0, ""), err
    assert "copied 53 events" in out and "both chains verify with the same head and count" in out
    assert out.count("53 events, head seq 53 %s" % head["hash"]) == 2  # both sides, same head hash and count
    back = str(tmp_path / "back.db")
    code, out, err = _cli("ledger", "migrate", "--from", url, "--to", "sqlite:" + back, "--json")
    assert code == 0, err
    with SqliteLedger(source) as a, SqliteLedger(back) as b:
        assert a.events() == b.events() and a.approvals("CHG-1") == b.approvals("CHG-1") and a.locks() == b.locks()
        assert a.changes() == b.changes() and b.verify()["ok"]
    with SqliteLedger(source) as led:  # the source moves on: a second migration adds only the new rows
        led.append_event("CHG-1", "task.ok", "ansible", {"i": "late"})
    code, out, err = _cli("ledger", "migrate", "--from", "sqlite:" + source, "--to", url)
    assert code == 0 and "copied 1 events" in out and out.count("54 events") == 2
    with open_ledger(url) as led:  # the target diverges: it is no longer a prefix of the source
        led.append_event("CHG-1", "note", "bob", {"x": 1})
    code, out, err = _cli("ledger", "migrate", "--from", "sqlite:" + source, "--to", url)
    assert code == 2 and "not empty and not a copy of the source" in err and "Traceback" not in err


def _appender(location, results):
    """Append until the ledger fails; report (appended, the error's type, its text, whether it is a GovernedChangeError)."""
    count = 0
    try:
        with open_ledger(location, timeout_s=5) as led:
            while count < 100000:
                led.append_event("CHG-1", "task.ok", "w", ledger_race.task_event("w", count))
                count += 1
    except Exception as exc:  # pylint: disable=broad-except  # the test asserts on what it was
        results.put((count, type(exc).__name__, str(exc), isinstance(exc, GovernedChangeError)))


@pytest.mark.slow
def test_a_database_restart_mid_append_fails_closed_and_leaves_a_consistent_chain():
    why = pg_support.available()
    if why:
        pytest.skip(why)
    server = pg_support.PgServer.start()  # its own cluster: the restart must not disturb the other tests
    saved = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    try:
        url = server.fresh_url()
        with open_ledger(url) as led:
            led.create_change("CHG-1", "t", "carol")
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_appender, args=(url, results))
        proc.start()
        reader = open_ledger(url, readonly=True)
        assert pg_support.wait_for(lambda: _events(url) > 50, timeout_s=60)
        server.pg_ctl_stop("fast")  # every session is cut, open transactions rolled back
        count, kind, text, governed = results.get(timeout=60)
        proc.join(30)
        with pytest.raises(LedgerError, match="the ledger cannot be read"):  # a reader's lost connection, no driver error
            reader.events()
        reader.close()
        assert governed and kind == "LedgerError", (kind, text)
        assert "the ledger write failed" in text and "rolled back" in text and "ledger verify" in text
        done = subprocess.run([os.path.join(VENV_BIN, "governed-change"), "ledger", "verify", "--ledger", url],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and "cannot be reached" in done.stderr and "Traceback" not in done.stderr
        server.pg_ctl_start()
        with open_ledger(url) as led:
            report = led.verify()
            assert report["ok"], report["problems"][:3]
            assert report["events"] in (count + 1, count + 2)  # + change.created; + the one whose commit was cut
            led.append_event("CHG-1", "note", "carol", {"after": "restart"})  # the next run continues
            assert led.verify()["ok"] and led.head()["seq"] == report["events"] + 1
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _events(url):
    try:
        with open_ledger(url, readonly=True) as led:
            return led.head()["seq"]
    except LedgerError:
        return 0
