# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tampered ledger stops the next stage on the lab: a real assess run opens the change, alice signs it, then the
ledger file is edited (an event, the change row, the approval) and the next stage playbook (review or window) refuses
with the seq that broke and records nothing after it. The untouched copy then passes the same review gate.

Own lab instance (k1-, ports 261xx, lab/run-k1), one for the module; run under `flock /tmp/gc-lab.lock`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from conftest_pipeline import ASSESS, approve, extra_vars, good_change, run_playbook
from conftest_pipeline import signing  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT, lab_session, run_env

from ansible_collections.governed.change.plugins.module_utils.ledger import APPEND_ONLY_TRIGGERS, SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "k1-", "GC_LAB_PORT_BASE": "26100", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k1")}
CHANGE = "CHG-2001"
REVIEW = os.path.join(ROOT, "playbooks", "review.yml")
WINDOW = os.path.join(ROOT, "playbooks", "window.yml")


@pytest.fixture(scope="module")
def tamper_lab():
    env = dict(os.environ, **LAB_ENV)
    yield from lab_session(env=env)


@pytest.fixture(scope="module")
def assessed(tamper_lab, signing, tmp_path_factory):  # noqa: F811 pylint: disable=unused-argument,redefined-outer-name
    """The good change assessed on the lab and approved by alice: (env, variables incl. the assess artifacts, clean copy)."""
    env = run_env(LAB_ENV)
    base = tmp_path_factory.mktemp("tamper")
    out = base / "out"
    variables = extra_vars(good_change(base), out, signing)
    rc, artifacts, output, _seconds = run_playbook(env, ASSESS, variables, base, "assess")
    assert rc == 0 and artifacts.get("governed_change_id") == CHANGE, output[-3000:]
    approve(out, CHANGE, signing)
    variables.update(artifacts)
    clean = base / "clean.sqlite"
    shutil.copy(str(out / "ledger.sqlite"), str(clean))
    return env, variables, out, clean


def _restore(out, clean):
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(out / "ledger.sqlite") + suffix):
            os.remove(str(out / "ledger.sqlite") + suffix)
    shutil.copy(str(clean), str(out / "ledger.sqlite"))


def _tamper(path, sql):
    raw = sqlite3.connect(path, isolation_level=None)
    for name in APPEND_ONLY_TRIGGERS:
        raw.execute("DROP TRIGGER IF EXISTS %s" % name)
    raw.execute(sql)
    for trigger in APPEND_ONLY_TRIGGERS.values():
        raw.execute(trigger)
    raw.close()


def _seq(path, kind):
    with SqliteLedger(path, readonly=True) as ledger:
        return [e["seq"] for e in ledger.events(change_id=CHANGE) if e["kind"] == kind][-1]


def _head(path):
    raw = sqlite3.connect(path)
    try:
        return raw.execute("SELECT MAX(seq), COUNT(*) FROM events").fetchone()
    finally:
        raw.close()


SCENARIOS = [
    # (name, the stage playbook that runs next, the kind of event whose seq is named, the edit)
    ("event", REVIEW, "verdict.assess", "UPDATE events SET actor = 'mallory' WHERE seq = {seq}"),
    ("change row", REVIEW, "change.state", "UPDATE changes SET tier = 'standard' WHERE id = '%s'" % CHANGE),
    ("approval", WINDOW, "approval.approve", "UPDATE approvals SET approver = 'bob', principal = 'bob@lab' WHERE change_id = '%s'"
                                             % CHANGE),
]


@pytest.mark.parametrize("name, playbook, kind, sql", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_the_next_stage_refuses_a_tampered_ledger_with_the_seq(assessed, tmp_path, name, playbook, kind, sql):  # pylint: disable=redefined-outer-name
    env, variables, out, clean = assessed
    _restore(out, clean)
    path = str(out / "ledger.sqlite")
    seq = _seq(path, kind)
    _tamper(path, sql.format(seq=seq))
    before = _head(path)
    rc, _stats, output, _seconds = run_playbook(env, playbook, variables, tmp_path, name.replace(" ", "_"))
    assert rc != 0, output[-3000:]
    assert "the ledger does not verify at seq %d" % seq in output, output[-3000:]
    assert "nothing was recorded" in output and "Traceback" not in output
    assert _head(path) == before  # nothing appended after the broken seq: no verdict, no task events
    with SqliteLedger(path, readonly=True) as ledger:
        report = ledger.verify()
    assert not report["ok"] and seq in [p["seq"] for p in report["problems"]]


def test_the_untouched_ledger_passes_the_same_gate(assessed, tmp_path):  # pylint: disable=redefined-outer-name
    env, variables, out, clean = assessed
    _restore(out, clean)
    before = _head(str(out / "ledger.sqlite"))
    rc, stats, output, _seconds = run_playbook(env, REVIEW, variables, tmp_path, "clean_review")
    assert rc == 0 and stats.get("governed_review") == "pass", output[-3000:]
    after = _head(str(out / "ledger.sqlite"))
    assert after[0] > before[0] and after[0] == after[1]  # the verdict was recorded on the verified chain
