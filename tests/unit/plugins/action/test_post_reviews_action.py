# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.post_reviews in-process (ActionModule.run() with a real Task): lists the post-hoc reviews owed,
escalates each overdue one once through post_review.escalate_overdue (the core of `governed-change review
escalate-overdue`), writes nothing in check mode, and refuses bad arguments naming them. Also: the escalate module
accepts every reason the escalation core knows (post_review_overdue included)."""

from __future__ import annotations

import datetime
import os

import pytest
import yaml

from action_harness import run_action
from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils.clock import ENV, iso_z
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.modules import escalate as escalate_doc

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    """CHG-LATE's review was due an hour ago, CHG-SOON's is due in an hour (both after an emergency bypass)."""
    monkeypatch.setenv(ENV, iso_z(NOW))
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path, clock=lambda: NOW - datetime.timedelta(hours=30)) as led:
        for cid, due in (("CHG-LATE", NOW - datetime.timedelta(hours=1)), ("CHG-SOON", NOW + datetime.timedelta(hours=1))):
            led.create_change(cid, "emergency %s" % cid, "carol", actor="governed.change.assess", tier="medium")
            led.append_event(cid, "review.post_hoc_due", "governed.change",
                             {"reason": "emergency bypass of year-end", "post_review_due": iso_z(due, precision="seconds")})
    return path


def events(path, kind):
    with SqliteLedger(path, readonly=True) as led:
        return [event for event in led.events() if event["kind"] == kind]


def test_escalates_the_overdue_review_once_and_lists_all(ledger, tmp_path):
    out = tmp_path / "out"
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(out)})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["counts"] == {"due": 1, "done": 0, "overdue": 1}
    assert [(r["change_id"], r["status"]) for r in result["reviews"]] == [("CHG-LATE", "overdue"), ("CHG-SOON", "due")]
    (item,) = result["escalated"]
    sent = events(ledger, "escalation.sent")
    assert item["change_id"] == "CHG-LATE" and item["seq"] == sent[0]["seq"] and len(sent) == 1
    assert sent[0]["data"]["reason"] == "post_review_overdue" and sent[0]["data"]["escalation_target"] == "netops-oncall"
    assert os.path.isfile(item["path"]) and os.path.dirname(item["path"]) == str(out / "escalations")
    assert result["unsent"] == [] and result["ansible_stats"]["data"] == {"governed_post_reviews": result["counts"]}
    again = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(out)})
    assert again["changed"] is False and again["escalated"] == [] and len(events(ledger, "escalation.sent")) == 1
    assert again["reviews"][0]["escalated_seq"] == item["seq"]


def test_check_mode_writes_nothing(ledger, tmp_path):
    with open(ledger, "rb") as handle:
        before = handle.read()
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(tmp_path / "out")}, check_mode=True)
    assert result["changed"] is True and [e["change_id"] for e in result["escalated"]] == ["CHG-LATE"]
    assert not (tmp_path / "out").exists() and events(ledger, "escalation.sent") == []
    with open(ledger, "rb") as handle:
        assert handle.read() == before


def test_escalate_false_only_lists(ledger, tmp_path):
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(tmp_path), "escalate": False})
    assert result["changed"] is False and result["escalated"] == [] and result["counts"]["overdue"] == 1
    assert events(ledger, "escalation.sent") == []


def test_an_unreachable_webhook_is_listed_as_unsent(ledger, tmp_path):
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(tmp_path),
                                         "webhook_url": "http://127.0.0.1:9/hook"})
    assert not result.get("failed"), result.get("msg")
    assert result["unsent"] == ["CHG-LATE"] and "did not accept" in result["warnings"][0]
    (failed,) = events(ledger, "escalation.failed_to_send")
    assert failed["data"]["webhook"] == "http://127.0.0.1:9/..."  # scheme and host only: the path can be a secret


def test_bad_arguments_fail_naming_the_field(ledger, tmp_path):
    result = run_action("post_reviews", {"ledger": ledger})
    assert result["failed"] and "policy" in result["msg"] and "governed.change.post_reviews" in result["msg"]
    result = run_action("post_reviews", {"ledger": str(tmp_path / "none.sqlite"), "policy": POLICY})
    assert result["failed"] and "ledger" in result["msg"] and "does not exist" in result["msg"]
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "webhook_format": "teams"})
    assert result["failed"] and "webhook_format" in result["msg"]
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(tmp_path),
                                         "webhook_url": "ftp://example.invalid/x"})
    assert result["failed"] and "webhook" in result["msg"] and events(ledger, "escalation.sent") == []


def test_a_tampered_ledger_fails_the_task(ledger, tmp_path):
    with SqliteLedger(ledger) as led:
        led.conn.execute("DROP TRIGGER events_append_only_update")
        led.conn.execute("UPDATE events SET data = '{}' WHERE seq = (SELECT MAX(seq) FROM events)")
    result = run_action("post_reviews", {"ledger": ledger, "policy": POLICY, "output_dir": str(tmp_path), "escalate": False})
    assert result["failed"] and "events_append_only_update" in result["msg"]


def test_the_escalate_module_accepts_every_reason_of_the_core():
    options = yaml.safe_load(escalate_doc.DOCUMENTATION)["options"]
    assert set(options["reason"]["choices"]) == set(esc.REASONS) and "post_review_overdue" in esc.REASONS
