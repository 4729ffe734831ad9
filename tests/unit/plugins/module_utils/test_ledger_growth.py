# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device lease check before a stage replays the lock history only from the devices' latest acquisitions (issue 16:
it replayed every lock event ever recorded, growing with the ledger): same leases as the full replay, on a generated
history of acquisitions, releases and broken leases; a forged lease row is still caught. Timed by
benchmarks/bench_ledger_growth.py."""

from __future__ import annotations

import random

import pytest

from ansible_collections.governed.change.plugins.module_utils.ledger import LOCK_KINDS, LedgerTampered, SqliteLedger, derive_state

DEVICES = ["r%d" % i for i in range(1, 13)]


@pytest.fixture(name="history")
def _history(tmp_path):
    """A ledger of 60 changes leasing 1-3 devices each, releasing most, one lease broken; returns its path."""
    rng = random.Random(16)
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path) as ledger:
        for number in range(60):
            change = "CHG-%03d" % number
            ledger.create_change(change, "history %d" % number, "carol")
            free = [d for d in DEVICES if not ledger.locks(d)]
            if not free:
                continue
            devices = rng.sample(free, min(len(free), rng.randint(1, 3)))
            ledger.acquire_locks(change, devices, "svc-ci", 3600)
            roll = rng.random()
            if roll < 0.75:
                ledger.release_locks(change)
            elif roll < 0.8:
                ledger.break_lock(devices[0], "alice", "the job crashed")
        ledger.release_locks(ledger.locks()[0]["change_id"])  # at least one device free again
    return path


def full_replay(conn, wanted):
    rows = conn.execute("SELECT seq, change_id, ts, kind, actor, data FROM events WHERE kind IN (?, ?, ?) ORDER BY seq",
                        LOCK_KINDS).fetchall()
    return {d: lock for d, lock in derive_state(rows)["locks"].items() if d in wanted}


def bounded_replay(conn, wanted):
    start = SqliteLedger._lease_history_start(conn, set(wanted))  # pylint: disable=protected-access
    rows = conn.execute("SELECT seq, change_id, ts, kind, actor, data FROM events WHERE kind IN (?, ?, ?) AND seq >= ? "
                        "ORDER BY seq", LOCK_KINDS + (start,)).fetchall()
    return {d: lock for d, lock in derive_state(rows)["locks"].items() if d in wanted}, start


def test_the_bounded_replay_gives_the_full_replays_leases(history):
    rng = random.Random(7)
    with SqliteLedger(history, readonly=True) as ledger:
        held = {lock["device"] for lock in ledger.locks()}
        assert held and len(held) < len(DEVICES)  # some leases held, some not: both cases are compared
        for wanted in [DEVICES, DEVICES[:1], ["r99"], ["r99", "r1"]] + [rng.sample(DEVICES, 3) for _round in range(20)]:
            bounded, _start = bounded_replay(ledger.conn, wanted)
            assert bounded == full_replay(ledger.conn, wanted), wanted


def test_recently_leased_devices_skip_the_older_history(history):
    with SqliteLedger(history, readonly=True) as ledger:
        last = ledger.events()[-1]["seq"]
        recent = [e for e in ledger.events() if e["kind"] == "lock.acquired"][-1]
        _bounded, start = bounded_replay(ledger.conn, recent["data"]["devices"])
        assert start == recent["seq"] and start > last // 2
        _bounded, start = bounded_replay(ledger.conn, ["r99"])  # never leased: nothing to replay
        assert start == last + 1


def test_a_forged_lease_row_is_still_caught(history):
    with SqliteLedger(history) as ledger:
        free = [d for d in DEVICES if not ledger.locks(d)][0]
        ledger.conn.execute("INSERT INTO locks (device, change_id, owner, acquired, expires) VALUES (?, 'CHG-000', 'eve', "
                            "'2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z')", (free,))
        ledger.conn.commit()
    with SqliteLedger(history) as ledger:
        with pytest.raises(LedgerTampered):
            ledger.check_change(None, devices=[free])


def test_the_acquisitions_are_read_back_from_the_head_a_page_at_a_time(history):
    from ansible_collections.governed.change.plugins.module_utils import ledger as ledger_mod  # pylint: disable=import-outside-toplevel
    with SqliteLedger(history, readonly=True) as ledger:
        every = ledger.conn.execute("SELECT seq, data FROM events WHERE kind = 'lock.acquired' ORDER BY seq DESC").fetchall()
        assert len(every) > 7
        for page in (1, 3, 7, len(every), len(every) + 1):
            assert list(ledger_mod._acquisitions_backwards(ledger.conn, page=page)) == every  # pylint: disable=protected-access
