# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.close in-process: ActionModule.run() with a real Task closes a change in a real SQLite ledger and writes
its evidence; the transitions a close walks from each lifecycle state, and the refusals. The same action through
ansible-playbook (and the evidence callback) is tests/functional/test_close_action.py."""

from __future__ import annotations

import os

import pytest

from action_harness import run_action
from evidence_support import CHANGE, SECRET, scheduled_change, stages

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.lifecycle import plan_transitions


@pytest.mark.parametrize("state,outcome,steps", [
    ("scheduled", "successful", ("implement", "review", "closed")), ("implement", "unsuccessful", ("review", "closed")),
    ("review", "successful_issues", ("closed",)), ("authorize", "canceled", ("canceled",)), ("new", "canceled", ("canceled",))])
def test_plan_transitions(state, outcome, steps):
    assert plan_transitions(state, outcome, CHANGE) == steps


@pytest.mark.parametrize("state,outcome,message", [
    ("implement", "canceled", "its devices were touched"), ("review", "canceled", "its devices were touched"),
    ("authorize", "unsuccessful", "never passed the review gate"), ("assess", "successful", "never passed the review gate")])
def test_plan_transitions_refusals(state, outcome, message):
    with pytest.raises(LedgerError, match=message):
        plan_transitions(state, outcome, CHANGE)


def close(ledger, out, outcome, check_mode=False, **args):
    options = {"ledger": ledger, "change_id": CHANGE, "outcome": outcome, "output_dir": out, "reason": "because"}
    options.update(args)
    return run_action("close", options, check_mode=check_mode, basedir=os.path.dirname(out))


def ledger_view(ledger):
    with SqliteLedger(ledger) as led:
        return led.get_change(CHANGE), [e["kind"] for e in led.events(change_id=CHANGE)]


def test_a_good_change_is_closed_successful_with_its_evidence(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    result = close(ledger, out, "successful", stages=stages(tmp_path), started="2026-11-22T13:00:00Z")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["rebuilt"] is False and result["state"] == "closed"
    change, kinds = ledger_view(ledger)
    assert change["state"] == "closed" and change["close_code"] == "successful"
    assert kinds[-6:] == ["stage.results", "change.state", "change.state", "change.state", "change.outcome", "evidence.built"]
    assert result["evidence"] == os.path.join(out, "evidence", CHANGE, "bundle.json") and os.path.isfile(result["report"])
    with SqliteLedger(ledger) as led:
        assert evidence.verify_bundle(evidence.load_bundle(result["evidence"]), led)["ok"] is True
    assert SECRET not in open(result["evidence"], encoding="utf-8").read()
    assert result["ansible_stats"]["data"]["governed_outcome"] == "successful" and result["ledger"]["verify_ok"] is True


def test_check_mode_previews_and_writes_nothing(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    before = ledger_view(ledger)
    result = close(ledger, out, "successful", check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert ledger_view(ledger) == before and not os.path.exists(os.path.join(out, "evidence"))
    assert "(check mode) would move scheduled -> implement -> review -> closed and record outcome successful" in \
        " ".join(" ".join(result["summary_lines"]).split())


def test_closing_again_only_rebuilds_and_another_outcome_is_refused(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    close(ledger, out, "unsuccessful", stages=stages(tmp_path, failed=True))
    _change, before = ledger_view(ledger)
    again = close(ledger, out, "unsuccessful")
    assert again["changed"] is False and again["rebuilt"] is True and ledger_view(ledger)[1] == before + ["evidence.built"]
    refused = close(ledger, out, "successful")
    assert refused["failed"] is True
    assert "change CHG-7001 is already unsuccessful; it cannot be closed again as successful" in " ".join(refused["msg"].split())
    assert ledger_view(ledger)[0]["close_code"] == "unsuccessful"


def test_an_unauthorized_change_cannot_be_closed_as_done_but_can_be_canceled(tmp_path):
    ledger, out = scheduled_change(tmp_path, state="authorize")
    refused = close(ledger, out, "successful")
    assert refused["failed"] is True and "never passed the review gate" in refused["msg"] and ledger_view(ledger)[0]["state"] == "authorize"
    canceled = close(ledger, out, "canceled", reason="approval denied")
    assert canceled["state"] == "canceled" and ledger_view(ledger)[1][-3:] == ["change.state", "change.outcome", "evidence.built"]


@pytest.mark.parametrize("args,message", [
    ({"outcome": "done"}, "value of outcome must be one of"),
    ({"change_id": "../CHG-1"}, "change_id"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, args, message):
    ledger, out = scheduled_change(tmp_path)
    before = ledger_view(ledger)
    options = dict({"outcome": "successful"}, **args)
    result = close(ledger, out, options.pop("outcome"), **options)
    assert result["failed"] is True and message in result["msg"] and result["msg"].startswith("governed.change.close:")
    assert ledger_view(ledger) == before and not os.path.exists(os.path.join(out, "evidence"))


def test_a_missing_ledger_is_refused(tmp_path):
    _ledger, out = scheduled_change(tmp_path)
    result = close(str(tmp_path / "nope.sqlite"), out, "successful")
    assert result["failed"] is True and "the ledger file does not exist" in result["msg"] and "ledger" in result["error"]["where"]
    assert not (tmp_path / "nope.sqlite").exists()
