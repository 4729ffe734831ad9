# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline lab suite again with the ledger on PostgreSQL (issue 16), plus a database restart mid-deploy and two
pipelines racing for r2 through the real pipeline playbook.

Own lab instance (p2-, ports 306xx, lab/run-p2) and its own throwaway PostgreSQL 15 cluster (tests/support/pg_server.py,
started for the module, removed after). Every run writes a fresh database of that cluster: governed_ledger is a
``postgresql://127.0.0.1:PORT/DB`` URL without credentials; the user comes from PGUSER in the runs' environment (as the
AWX credential type injects it), never from extra vars. The cases of pipeline_cases.py (test_pipeline_lab.py runs
them on SQLite) run here unchanged: their helpers find the lab and the ledger through conftest_pipeline.ACTIVE, which
this module's pipeline_lab sets. Timings go to out/pipeline_pg_timings.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml

import pg_server as pg_support
from conftest_pipeline import INVENTORY, PIPELINE, _json_doc, approve, extra_vars, good_change, instance_session, ledger_at
from conftest_pipeline import GOOD_LINE, running_config, undo_good_change, vtysh_config
from conftest_pipeline import pipeline_env, signing, webhook  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT
from pipeline_cases import assess, kinds, ledger_of, states
# the pipeline lab suite (test_pipeline_lab.py runs it on SQLite) collected again: on this module's lab and PostgreSQL ledger
from pipeline_cases import test_bad_change_rolls_back_escalates_and_restores_the_pre_state  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_change_in_a_freeze_stops_before_any_device_is_touched  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_expired_approval_cancels_and_escalates_approval_timeout  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_good_change_closes_successful  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_stage_playbooks_in_sequence_pass_artifacts_like_awx  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_unapproved_change_stops_before_any_device_is_touched  # noqa: F401 pylint: disable=unused-import

from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LAB_ENV = {"GC_LAB_PREFIX": "p2-", "GC_LAB_PORT_BASE": "30600", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-p2")}
CLI = os.path.join(ROOT, ".venv", "bin", "governed-change")


class PgLedgers:
    """The ledger of each run's output directory: a new database of the module's cluster (a URL, no credentials)."""

    def __init__(self, server):
        self.server, self.urls = server, {}

    def __call__(self, out):
        if str(out) not in self.urls:
            self.urls[str(out)] = self.server.fresh_url()
        return self.urls[str(out)]

    def share(self, out, url):
        """Make ``out``'s runs write ``url`` (two runs, one ledger)."""
        self.urls[str(out)] = url


@pytest.fixture(scope="module")
def pg_cluster():
    why = pg_support.available()
    if why:
        pytest.fail("the PostgreSQL lab tests need a local PostgreSQL 15: %s" % why)
    server = pg_support.PgServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pipeline_lab(pg_cluster):  # pylint: disable=redefined-outer-name
    """This module's lab instance with the ledger of every run on the module's PostgreSQL cluster."""
    yield from instance_session(LAB_ENV, ledger=PgLedgers(pg_cluster), env=pg_cluster.env, timings="pipeline_pg_timings.json")


def cli(env, *argv, cwd=ROOT, timeout=600):
    return subprocess.run([CLI] + list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def start_pipeline(env, variables, tmp_path, name):
    """ansible-playbook of the pipeline in the background (JSON callback); returns (process, log path)."""
    vars_file = tmp_path / ("%s.vars.json" % name)
    vars_file.write_text(json.dumps(variables))
    assert "password" not in vars_file.read_text().lower() and "@" not in variables["governed_ledger"]
    log = tmp_path / ("%s.log" % name)
    environ = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_SHOW_CUSTOM_STATS="1", ANSIBLE_NOCOLOR="1")
    with open(log, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), PIPELINE, "-e", "@%s" % vars_file],
                                cwd=ROOT, env=environ, stdout=handle, stderr=subprocess.STDOUT)
    return proc, log


def finish(proc, log, timeout=600):
    """Wait for a start_pipeline process; returns (rc, custom stats, output)."""
    rc = proc.wait(timeout=timeout)
    output = log.read_text()
    try:
        stats = _json_doc(output).get("global_custom_stats") or {}
    except ValueError:
        stats = {}
    return rc, stats, output


def change_copy(tmp_path, change_id, device="r1", line=GOOD_LINE):
    """The good change as another change id (and, for r2, another device and address)."""
    with open(good_change(tmp_path), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["id"] = change_id
    if device != "r1":
        address = line.split()[-1]
        doc.update(title="Service address on %s's loopback" % device, targets=[device],
                   config={device: {"lines": ["interface lo", " " + line]}})
        doc["expected"][0].update(description="%s's loopback carries %s" % (device, address),
                                  query="contains(sections.interfaces.lo.addresses, '%s')" % address)
    path = tmp_path / ("%s.yml" % change_id)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def wait_for(predicate, timeout_s, what):
    if not pg_support.wait_for(predicate, timeout_s=timeout_s, step_s=0.1):
        raise AssertionError("timed out after %ss waiting for %s" % (timeout_s, what))


def _implementing(url, change_id):
    """Whether the deploy has moved the change to implement (its references recorded, the next step touches r1)."""
    with open_ledger(url, readonly=True) as ledger:
        return "implement" in states(ledger.events(change_id=change_id))


def test_database_restart_mid_deploy_fails_closed_and_the_next_run_continues(pipeline_env, pg_cluster, signing, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    out = tmp_path / "out"
    before = running_config("r1")
    variables = extra_vars(good_change(tmp_path), out, signing)
    assess(pipeline_env, variables, tmp_path)
    approve(out, "CHG-2001", signing)
    url = ledger_at(out)
    started = time.monotonic()
    proc, log = start_pipeline(pipeline_env, variables, tmp_path, "restart")
    try:
        wait_for(lambda: _implementing(url, "CHG-2001"), 180, "the change moving to implement")
        pg_cluster.pg_ctl_stop("fast")  # every session cut, open transactions rolled back; down until the run has ended
        rc, stats, output = finish(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if not os.path.exists(os.path.join(pg_cluster.data, "postmaster.pid")):
            pg_cluster.pg_ctl_start()
    failed_s = time.monotonic() - started
    # the stage failed closed, saying why in words (no driver traceback)
    assert rc != 0 and stats.get("governed_outcome") != "successful", output[-4000:]
    assert "the PostgreSQL ledger cannot be reached" in output or "the ledger write failed" in output, output[-4000:]
    assert "Traceback" not in output
    # nothing half-written: the chain verifies through the CLI, as an operator checks it
    verified = cli(pipeline_env, "ledger", "verify", "--ledger", url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with open_ledger(url, readonly=True) as ledger:
        change = ledger.get_change("CHG-2001")
    assert change["state"] == "implement", change  # the run could not record anything after the restart began
    # the run ended holding r1 in implement: `governed-change recover` restores it from the ledger's references
    recovered = cli(pipeline_env, "recover", "CHG-2001", "--ledger", url, "-i", INVENTORY, cwd=str(out))
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr[-4000:]
    record, events, report, locks = ledger_of(out, "CHG-2001")
    assert record["state"] == "closed" and record["close_code"] == "unsuccessful", record
    assert locks == [] and report["ok"], report["problems"]
    assert running_config("r1") == before  # the device is as it was before the change
    # the next run continues on the same ledger: a new change deploys, closes and the chain still verifies
    nxt = extra_vars(change_copy(tmp_path, "CHG-2091"), out, signing)
    assess(pipeline_env, nxt, tmp_path)
    approve(out, "CHG-2091", signing)
    proc, log = start_pipeline(pipeline_env, nxt, tmp_path, "after-restart")
    try:
        rc, stats, output = finish(proc, log)
        after = running_config("r1")
    finally:
        undo_good_change()
    assert rc == 0 and stats["governed_outcome"] == "successful", output[-4000:]
    assert GOOD_LINE in after
    record, events, report, locks = ledger_of(out, "CHG-2091")
    assert (record["state"], record["close_code"]) == ("closed", "successful") and locks == []
    assert states(events)[-1] == "closed" and report["ok"], report["problems"]
    print("database restart mid-deploy: run failed after %.1f s; ledger %d events, verifies" % (failed_s, report["events"]))


R2_LINES = {"CHG-2081": "ip address 192.0.2.81/32", "CHG-2082": "ip address 192.0.2.82/32"}


def test_two_pipelines_racing_for_r2_one_deploys_the_other_is_refused_both_recorded(pipeline_env, signing, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    before = running_config("r2")
    runs, url = {}, None
    for change_id, line in R2_LINES.items():
        base = tmp_path / change_id
        base.mkdir()
        out = base / "out"
        if url is None:
            url = ledger_at(out)
        else:
            pipeline_lab_ledgers().share(out, url)  # both pipelines write one ledger, as two AWX jobs on two nodes do
        variables = extra_vars(change_copy(base, change_id, device="r2", line=line), out, signing)
        assess(pipeline_env, variables, base)
        approve(out, change_id, signing)
        runs[change_id] = variables
    started = time.monotonic()
    procs = {change_id: start_pipeline(pipeline_env, variables, tmp_path / change_id, "race") for change_id, variables in runs.items()}
    try:
        results = {change_id: finish(proc, log) for change_id, (proc, log) in procs.items()}
        after = running_config("r2")
    finally:
        for proc, _log in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        present = running_config("r2")
        leftover = ["no " + line for line in R2_LINES.values() if line in present]
        if leftover:
            vtysh_config("r2", "interface lo", *leftover)
    race_s = time.monotonic() - started
    deployed = [change_id for change_id, (_rc, stats, _out) in results.items() if stats.get("governed_deployed") == ["r2"]]
    assert len(deployed) == 1, {change_id: (rc, stats) for change_id, (rc, stats, _out) in results.items()}
    winner = deployed[0]
    loser = ({*R2_LINES} - {winner}).pop()
    rc, stats, output = results[winner]
    assert rc == 0 and stats["governed_outcome"] == "successful", output[-4000:]
    assert R2_LINES[winner] in after and R2_LINES[loser] not in after
    rc, stats, output = results[loser]
    assert rc != 0 and stats.get("governed_deployed") == [], output[-4000:]
    assert "r2 is locked by change %s" % winner in output, output[-4000:]
    with open_ledger(url, readonly=True) as ledger:
        report, locks = ledger.verify(), ledger.locks()
        won, lost = ledger.get_change(winner), ledger.get_change(loser)
        won_events, lost_events = ledger.events(change_id=winner), ledger.events(change_id=loser)
    assert report["ok"] and locks == [], (report["problems"], locks)
    assert (won["state"], won["close_code"]) == ("closed", "successful")
    assert lost["state"] in ("canceled", "closed") and "implement" not in states(lost_events), lost
    assert "lock.acquired" in kinds(won_events) and "lock.acquired" not in kinds(lost_events)
    assert "r2 is locked by change %s" % winner in json.dumps(lost_events)  # the refusal is in the loser's record
    assert running_config("r2") == before
    print("race for r2: %s deployed, %s refused, %.1f s" % (winner, loser, race_s))


def pipeline_lab_ledgers():
    """The active instance's PgLedgers (this module's)."""
    from conftest_pipeline import ACTIVE  # pylint: disable=import-outside-toplevel
    assert isinstance(ACTIVE["ledger"], PgLedgers)
    return ACTIVE["ledger"]
