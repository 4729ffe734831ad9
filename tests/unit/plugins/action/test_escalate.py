# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.escalate in-process: ActionModule.run() with a real Task over a change assessed in-process, a real
SQLite ledger and real HTTP receivers on 127.0.0.1. The same action through ansible-playbook:
tests/functional/test_escalate_action.py."""

from __future__ import annotations

import json
import os

import pytest

from action_harness import assessed_workspace, run_action
from receivers import Receiver, closed_port

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

CHANGE = "CHG-2002"


def escalate(base, check_mode=False, **extra):
    args = {"change_id": CHANGE, "reason": "change_failed", "policy": "policy/policy.yml", "output_dir": "out", "ledger": "ledger.sqlite",
            "detected": ["check r2_session_established failed on r1: Idle, expected Established"],
            "actions_taken": ["deployed on r1 (canary)", "halted the deploy", "restored r1 from its backup (verified)"],
            "devices": {"r1": {"state": "rolled_back", "verified": True}, "r2": "untouched"}, "webhook_retry_delay": 0.05}
    args.update(extra)
    return run_action("escalate", args, check_mode=check_mode, basedir=base)


def escalation_events(base):
    with SqliteLedger(str(base / "ledger.sqlite")) as led:
        return [e for e in led.events(change_id=CHANGE) if e["kind"].startswith("escalation.")]


def test_the_packet_is_written_posted_and_recorded(tmp_path):
    tier = assessed_workspace(tmp_path)["assessment"]["tier"]
    with Receiver() as receiver:
        result = escalate(tmp_path, webhook_url=receiver.url("/hook/T0KEN-PATH"))
    assert not result.get("failed"), result.get("msg")
    esc = result["escalation"]
    assert esc["sent"] is True and esc["status"] == 200 and esc["attempts"] == 1 and esc["sequence"] == 1
    assert esc["path"] == str(tmp_path / "out" / "escalations" / ("%s-1.json" % CHANGE)) and os.path.isfile(esc["markdown_path"])
    packet = json.loads(open(esc["path"], encoding="utf-8").read())
    assert receiver.json()["packet"] == packet and packet["sha256"] == esc["packet"]["sha256"]
    assert packet["escalation_target"] == "netops-oncall" and packet["change"]["tier"] == tier
    assert packet["devices"]["r1"] == {"state": "rolled_back", "verified": True}
    recorded = escalation_events(tmp_path)
    assert [e["kind"] for e in recorded] == ["escalation.sent"] and recorded[0]["data"]["packet_sha256"] == packet["sha256"]
    assert "T0KEN-PATH" not in json.dumps(recorded) and "T0KEN-PATH" not in json.dumps(result["escalation"]["target"])


def test_an_unreachable_webhook_still_writes_the_packet_and_warns(tmp_path):
    assessed_workspace(tmp_path)
    result = escalate(tmp_path, webhook_url="http://127.0.0.1:%d/hook" % closed_port(), webhook_retries=1)
    assert not result.get("failed"), result.get("msg")
    esc = result["escalation"]
    assert esc["sent"] is False and esc["attempts"] == 2 and os.path.isfile(esc["path"])
    assert result["event"] == "escalation.failed_to_send" and "did not accept it" in " ".join(result["warnings"])
    again = escalate(tmp_path, reason="rollback_failed")
    assert again["escalation"]["sequence"] == 2 and again["event"] == "escalation.sent"
    assert [e["kind"] for e in escalation_events(tmp_path)] == ["escalation.failed_to_send", "escalation.sent"]


def test_check_mode_writes_and_sends_nothing(tmp_path):
    assessed_workspace(tmp_path)
    with Receiver() as receiver:
        result = escalate(tmp_path, check_mode=True, webhook_url=receiver.url())
    assert result["changed"] is False and result["escalation"]["sent"] is False and receiver.requests == []
    assert not os.path.exists(result["escalation"]["path"]) and escalation_events(tmp_path) == []


@pytest.mark.parametrize("args,message", [
    ({"reason": "meteor"}, "governed.change.escalate: invalid arguments"),
    ({"ledger": "missing.sqlite"}, "ledger: "),
    ({"change_id": "../CHG-2002"}, "change_id"),
    ({"webhook_retries": 99}, "webhook_retries"),
    ({"webhook_url": "ftp://example.invalid/hook"}, "webhook"),
])
def test_bad_input_is_refused_before_anything_is_written_or_sent(tmp_path, args, message):
    assessed_workspace(tmp_path)
    result = escalate(tmp_path, **args)
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert not os.path.exists(str(tmp_path / "out" / "escalations")) and escalation_events(tmp_path) == []
