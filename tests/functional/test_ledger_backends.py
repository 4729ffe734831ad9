# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend parity: the ledger's unit scenarios (tests/unit/.../test_ledger.py) run unchanged on a real PostgreSQL
server, the tampering ones through a PostgreSQL tamperer; plus what only the PostgreSQL backend has (URL rules, its
triggers, one snapshot per read, the same hashes as SQLite for the same events)."""

from __future__ import annotations

import importlib.util
import inspect
import os

import psycopg
import pytest

from ansible_collections.governed.change.plugins.module_utils import ledger as ledger_mod
from ansible_collections.governed.change.plugins.module_utils import ledger_pg
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger, open_ledger
from repo_paths import TESTS


def _load_unit(name):
    path = os.path.join(TESTS, "unit", "plugins", "module_utils", name + ".py")
    spec = importlib.util.spec_from_file_location("parity_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


UNIT = _load_unit("test_ledger")
# the scenarios that take only a ledger (and its clock): each runs on both backends
SCENARIOS = sorted(name for name, func in vars(UNIT).items() if name.startswith("test_") and callable(func)
                   and set(inspect.signature(func).parameters) <= {"ledger", "clock"}
                   and "ledger" in inspect.signature(func).parameters)


class PgTamperer:
    """What UNIT._Tamperer is for SQLite: a raw connection that edits the tables with the append-only triggers
    disabled for the one statement (as an attacker with the database owner's rights would), then enabled again."""

    TABLES = ("events", "approvals", "changes", "chain_head")

    def __init__(self, url):
        self.conn = psycopg.connect(ledger_pg.conninfo(url), autocommit=True)

    def execute(self, sql, args=()):
        text = ledger_pg._pg_sql(sql) if args else sql  # pylint: disable=protected-access
        if sql.lstrip().upper().startswith("SELECT"):
            return self.conn.execute(text, args or None)
        for table in self.TABLES:
            self.conn.execute("ALTER TABLE %s DISABLE TRIGGER USER" % table)
        try:
            return self.conn.execute(text, args or None)
        finally:
            for table in self.TABLES:
                self.conn.execute("ALTER TABLE %s ENABLE TRIGGER USER" % table)

    def close(self):
        self.conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_ledger(request, tmp_path, monkeypatch):
    """(ledger, clock) on each backend; UNIT._raw tampers with the matching backend."""
    clock = UNIT.Clock()
    if request.param == "sqlite":
        led = SqliteLedger(str(tmp_path / "ledger.db"), clock=clock)
    else:
        server = request.getfixturevalue("pg_server")
        led = open_ledger(server.fresh_url(), clock=clock)
        monkeypatch.setattr(UNIT, "_raw", lambda ledger: PgTamperer(ledger.path))
    yield led, clock
    led.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_unit_scenario_on_each_backend(scenario, backend_ledger):
    led, clock = backend_ledger
    func = getattr(UNIT, scenario)
    params = inspect.signature(func).parameters
    func(**{name: value for name, value in (("ledger", led), ("clock", clock)) if name in params})


def test_the_scenarios_cover_the_ledger():
    assert len(SCENARIOS) >= 20, SCENARIOS  # the parity run fails loudly if the unit module's fixture names change
    assert "test_tamper_insert_detected" in SCENARIOS and "test_expired_lease_not_taken_over_and_break_lock_recorded" in SCENARIOS


def _same_history(led):
    led.create_change("CHG-1", "same events", "carol", tier="low", content_hash="c" * 64)
    led.transition("CHG-1", "assess", "carol")
    led.acquire_locks("CHG-1", ["r1", "r2"], "run-1", 600)
    led.record_approval({"change_id": "CHG-1", "approver": "alice", "decision": "approve", "content_hash": "c" * 64,
                         "ts": "2026-11-27T11:00:00Z", "source": "ssh", "signature": "sig", "verified": True})
    led.append_event("CHG-1", "task", "ansible", {"task": "deploy", "password": "hunter2", "text": "ünïcode ✓"})
    led.release_locks("CHG-1")
    return led.events(), led.verify()


def test_the_same_events_give_the_same_rows_and_hashes_on_both_backends(tmp_path, pg_server):
    clock_a, clock_b = UNIT.Clock(), UNIT.Clock()
    with SqliteLedger(str(tmp_path / "l.db"), clock=clock_a) as lite, open_ledger(pg_server.fresh_url(), clock=clock_b) as pg:
        events_a, report_a = _same_history(lite)
        events_b, report_b = _same_history(pg)
        assert events_a == events_b and report_a == report_b and report_a["ok"]
        assert lite.approvals("CHG-1") == pg.approvals("CHG-1") and lite.changes() == pg.changes()
        assert "hunter2" not in str(events_b)


def test_a_url_with_a_password_is_refused_before_anything_is_opened(pg_server):
    for url in ("postgresql://gc:s3cret@127.0.0.1:%d/x" % pg_server.port, "postgres://127.0.0.1/x?password=s3cret"):
        with pytest.raises(LedgerError) as exc:
            open_ledger(url)
        assert "holds a password" in exc.value.problem and "PGPASSWORD" in exc.value.fix
        assert "s3cret" not in str(exc.value)


def test_an_unreachable_server_is_a_ledger_error():
    with pytest.raises(LedgerError) as exc:
        open_ledger("postgresql://127.0.0.1:1/nothing", timeout_s=2)
    assert "cannot be reached" in exc.value.problem and "PGHOST" in exc.value.fix


def test_the_bare_scheme_takes_everything_from_the_environment(pg_server, monkeypatch):
    url = pg_server.fresh_url()
    monkeypatch.setenv("PGDATABASE", url.rsplit("/", 1)[1])
    with open_ledger("postgresql:") as led:
        led.create_change("CHG-1", "t", "carol")
    with open_ledger(url, readonly=True) as led:
        assert led.get_change("CHG-1")["author"] == "carol"


def test_the_triggers_refuse_edits_truncation_and_a_disabled_trigger_is_found(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as led:
        UNIT._chain(led, 5)  # pylint: disable=protected-access
    raw = psycopg.connect(ledger_pg.conninfo(url), autocommit=True)
    try:
        for sql in ("UPDATE events SET kind = 'x' WHERE seq = 2", "DELETE FROM events WHERE seq = 5", "TRUNCATE events",
                    "TRUNCATE changes CASCADE", "DELETE FROM chain_head", "UPDATE changes SET title = 'x'"):
            with pytest.raises(psycopg.errors.RaiseException, match="governed.change ledger: "):
                raw.execute(sql)
        raw.execute("ALTER TABLE events DISABLE TRIGGER events_append_only_delete")
    finally:
        raw.close()
    with open_ledger(url) as led:
        report = led.verify()
        assert not report["ok"]
        assert [p["problem"] for p in report["problems"]] == [
            "the append-only trigger events_append_only_delete was altered or disabled."]
        with pytest.raises(ledger_mod.LedgerTampered, match="events_append_only_delete"):
            led.append_event("CHG-1", "note", "carol")


def test_a_readonly_ledger_refuses_writes_in_the_database_too(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as led:
        UNIT._chain(led, 3)  # pylint: disable=protected-access
    with open_ledger(url, readonly=True) as led:
        assert led.check_change("CHG-1")["id"] == "CHG-1"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            led.conn.execute("INSERT INTO locks VALUES ('r1', 'CHG-1', 'x', 'a', 'b')")


def test_a_database_without_a_ledger_is_refused_readonly_and_an_unrelated_events_table_too(pg_server):
    url = pg_server.fresh_url()
    with pytest.raises(LedgerError, match="no events table"):
        open_ledger(url, readonly=True)
    with psycopg.connect(ledger_pg.conninfo(url), autocommit=True) as raw:
        raw.execute("CREATE TABLE events (id int)")
    with pytest.raises(LedgerError, match="without schema_version"):
        open_ledger(url)


METRICS = _load_unit("test_metrics")


@pytest.mark.parametrize("stories", ["ten_changes", "dst_changes"])
def test_the_metrics_of_a_postgresql_ledger_are_the_sqlite_ledgers(stories, tmp_path, pg_server):
    from ansible_collections.governed.change.plugins.module_utils import ledger_migrate, metrics  # pylint: disable=import-outside-toplevel
    path = METRICS.build(str(tmp_path / "ledger.sqlite"), getattr(METRICS, stories)())
    url = pg_server.fresh_url()
    ledger_migrate.migrate("sqlite:" + path, url)
    for options in ({}, {"period": "week", "by": "tier", "timezone": "Europe/Berlin"}):
        lite, pg = METRICS.report_of(path, **options), METRICS.report_of(url, **options)
        assert lite.pop("ledger") == path and pg.pop("ledger") == url
        assert pg == lite and lite["changes"] > 0
    assert metrics.SQL_POSTGRESQL != metrics.SQL


LOCK_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - {name: acquire, governed.change.lock: {ledger: "postgresql:", change_id: CHG-1, devices: [r1, r2], owner: alice, ttl: 600},
       register: acquire}
    - {name: conflict, governed.change.lock: {ledger: "postgresql:", change_id: CHG-2, devices: [r2], owner: bob},
       register: conflict, ignore_errors: true}
    - {name: implement, governed.change.lock: {ledger: "postgresql:", change_id: CHG-1, devices: [r1, r2], owner: alice,
       transition: implement}, register: implement}
    - {name: release, governed.change.lock: {state: released, ledger: "postgresql:", change_id: CHG-1}, register: release}
"""


def test_the_lock_stage_runs_on_a_postgresql_ledger_named_by_the_environment(pg_server, tmp_path):
    """governed.change.lock in a real ansible-playbook run, the ledger 'postgresql:' and the database from PG* variables
    (as the AWX credential type injects them)."""
    import json  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    from ledger_states import ledger_with_changes  # pylint: disable=import-outside-toplevel
    from repo_paths import ROOT, VENV_BIN  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils import ledger_migrate  # pylint: disable=import-outside-toplevel
    ledger_with_changes(str(tmp_path / "seed.sqlite"), (("CHG-1", "carol", "scheduled"), ("CHG-2", "dave", "scheduled")))
    url = pg_server.fresh_url()
    ledger_migrate.migrate("sqlite:" + str(tmp_path / "seed.sqlite"), url)
    (tmp_path / "play.yml").write_text(LOCK_PLAY)
    env = dict(os.environ, PGDATABASE=url.rsplit("/", 1)[1], ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "play.yml"], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.find("{"):])
    out = {task["task"]["name"]: task["hosts"]["localhost"] for task in doc["plays"][0]["tasks"]}
    assert out["acquire"]["changed"] and sorted(lock["device"] for lock in out["acquire"]["locks"]) == ["r1", "r2"]
    assert out["conflict"]["failed"] and "r2 is locked by change CHG-1 (owner alice)" in out["conflict"]["msg"]
    assert out["implement"]["ledger_state"] == "implement" and out["release"]["changed"]
    assert not (tmp_path / "postgresql:").exists()  # never taken for a file name
    with open_ledger(url, readonly=True) as led:
        assert led.verify()["ok"] and led.locks() == [] and led.get_change("CHG-1")["state"] == "implement"
        assert [e["kind"] for e in led.events()][-3:] == ["lock.acquired", "change.state", "lock.released"]


def _awkward_history(url):
    """A ledger whose texts need JSON escaping (quotes, backslashes, control characters, non-ASCII, NULL columns)."""
    with open_ledger(url, clock=UNIT.Clock()) as led:
        led.create_change("CHG-1", "quote \" backslash \\ tab \t and \u00fc", "carol")
        for index in range(30):
            led.append_event("CHG-1" if index % 3 else None, "note", "a\nb\u0001" if index == 7 else None,
                             {"i": index, "s": "\u00e9\u0001\"\\"})


@pytest.mark.parametrize("sql", ["UPDATE events SET actor = 'mallory' WHERE seq = 12",
                                 "UPDATE events SET prev_hash = hash WHERE seq = 20", "DELETE FROM events WHERE seq = 25"])
@pytest.mark.parametrize("split", [2, 10 ** 9], ids=["two ranges", "one range"])
def test_postgresql_verify_hashes_in_the_server_and_reports_what_the_walk_reports(pg_server, monkeypatch, sql, split):
    """The fast pass (sha256() and lag() in the server, JSON quoting by to_json; two seq ranges over two connections or
    one) finds a clean chain with awkward texts intact; after an edit, a relink or a deletion (12, 20, 25: both sides of
    the seam after seq 15) it steps aside and verify's report is the full walk's."""
    monkeypatch.setattr(ledger_mod, "VERIFY_SPLIT_MIN", split)
    url = pg_server.fresh_url()
    _awkward_history(url)
    with open_ledger(url, readonly=True) as led:
        clean = led.verify()
        assert clean["ok"] and led._intact_chain() == (clean["events"], clean["head"])  # pylint: disable=protected-access
    tamperer = PgTamperer(url)
    try:
        tamperer.execute(sql)
    finally:
        tamperer.close()
    with open_ledger(url, readonly=True) as led:
        assert led._intact_chain() is None  # pylint: disable=protected-access
        report = led.verify()
        assert report["ok"] is False and report == led._read(lambda: led._walk_verify(None))  # pylint: disable=protected-access
