# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.notify in-process: ActionModule.run() with a real Task over a change assessed in-process, a real
SQLite ledger and a real HTTP receiver on 127.0.0.1. Through ansible-playbook, with every channel type:
tests/functional/test_notify_playbook.py."""

from __future__ import annotations

import json

import pytest
import yaml

from action_harness import assessed_workspace, run_action
from receivers import Receiver, closed_port

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

CHANGE = "CHG-2002"
HOOK_PATH = "/hook/N0TIFY-SECRET-PATH"
SECTION = {"retries": 1, "retry_delay": 0.01, "channels": [{"name": "ops-hook", "type": "webhook", "url_var": "OPS_HOOK_URL"}],
           "routes": [{"name": "all", "channels": ["ops-hook"]}]}


def workspace(base, section=None):
    assessed_workspace(base)
    path = base / "policy" / "policy.yml"
    doc = yaml.safe_load(path.read_text())
    if section is not None:
        doc["notifications"] = section
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return base


def notify(base, event="started", check_mode=False, task_vars=None, **extra):
    args = {"event": event, "policy": "policy/policy.yml", "change_id": CHANGE, "output_dir": "out/assessments", "ledger": "ledger.sqlite"}
    args.update(extra)
    return run_action("notify", args, task_vars=task_vars, check_mode=check_mode, basedir=base)


def notification_events(base):
    with SqliteLedger(str(base / "ledger.sqlite")) as led:
        return [e for e in led.events(change_id=CHANGE) if e["kind"].startswith("notification.")]


def test_the_message_is_sent_to_the_url_a_play_variable_holds_and_recorded(tmp_path):
    workspace(tmp_path, SECTION)
    with Receiver() as receiver:
        result = notify(tmp_path, task_vars={"OPS_HOOK_URL": receiver.url(HOOK_PATH)}, run={"outcome": "successful"})
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["delivered"], result["undelivered"], result["recorded"]) == (True, 1, 0, True)
    body = receiver.json()
    assert (body["event"], body["change_id"], body["targets"]) == ("started", CHANGE, ["r1"])
    (event,) = notification_events(tmp_path)
    assert event["kind"] == "notification.delivered" and event["data"]["recipient"] == "http://127.0.0.1:%d/..." % receiver.port
    assert "N0TIFY-SECRET-PATH" not in json.dumps(result) + json.dumps(event)


def test_an_unreachable_receiver_warns_records_and_does_not_fail(tmp_path):
    workspace(tmp_path, SECTION)
    result = notify(tmp_path, secrets={"OPS_HOOK_URL": "http://127.0.0.1:%d%s" % (closed_port(), HOOK_PATH)})
    assert result.get("failed") is False and result["undelivered"] == 1
    assert "was not delivered on ops-hook after 2 attempt(s)" in result["warnings"][0]
    (event,) = notification_events(tmp_path)
    assert event["kind"] == "notification.failed" and event["data"]["attempts"] == 2
    assert "N0TIFY-SECRET-PATH" not in json.dumps(result) + json.dumps(event)


@pytest.mark.parametrize("section, extra, reason", [
    (None, {}, "the policy has no notifications section"),
    (SECTION, {"channels": ["someone-else"]}, "no route of the policy's notifications names this event for this change"),
    (SECTION, {"event": "scheduled"}, "the change requests no window"),
])
def test_nothing_to_send_is_said_not_failed(tmp_path, section, extra, reason):
    workspace(tmp_path, section)
    result = notify(tmp_path, **extra)
    assert (result.get("failed"), result["changed"], result["skip_reason"]) == (False, False, reason)
    assert notification_events(tmp_path) == []


def test_check_mode_and_a_broken_policy_send_and_record_nothing(tmp_path):
    workspace(tmp_path, SECTION)
    with Receiver() as receiver:
        checked = notify(tmp_path, check_mode=True, secrets={"OPS_HOOK_URL": receiver.url(HOOK_PATH)})
        (tmp_path / "policy" / "policy.yml").write_text("policy_version: 1\nname: [broken\n")
        broken = notify(tmp_path, secrets={"OPS_HOOK_URL": receiver.url(HOOK_PATH)})
    assert checked["skip_reason"] == "check mode: nothing sent" and checked["notifications"][0]["channel"] == "ops-hook"
    assert broken.get("failed") is False and broken["skip_reason"].startswith("not sent: ") and broken["warnings"]
    assert receiver.requests == [] and notification_events(tmp_path) == []


def test_an_unknown_event_is_an_invalid_argument(tmp_path):
    workspace(tmp_path, SECTION)
    result = notify(tmp_path, event="deployed")
    assert result["failed"] is True and result["msg"].startswith("governed.change.notify: invalid arguments")
