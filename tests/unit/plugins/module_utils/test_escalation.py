# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The escalation packet, its renderings and the webhook POST against real local HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time

import pytest

from receivers import Receiver, closed_port

from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

ASSESSMENT = {"change_id": "CHG-2002", "title": "Tune r1's BGP session to r2", "author": "carol", "type": "normal", "category": "other",
              "change_class": "normal", "tier": "medium", "score": 25, "hosts": ["r1"], "content_hash": "ab" * 32,
              "assessed_at": "2026-11-22T12:00:00+00:00", "policy_name": "lab-policy",
              "fired_rules": [{"name": "touches_bgp", "explanation": "Changes BGP configuration (+25)"}]}
ESCALATION = {"target": "netops-oncall", "runbook": "https://runbooks.example.invalid/netops/medium-risk"}


def packet(reason="rollback_failed", **extra):
    args = dict(detected=["check r2_session_established failed on r1: Idle, expected Established"],
                actions_taken=["deployed on r1 (canary)", "check failed: deploy halted", "restore of r1 did not verify"],
                devices={"r1": {"state": "restore_failed", "backup": "/out/store/ab/cd.json"}, "r2": "untouched"},
                escalation=ESCALATION, runbook="/out/runbooks/CHG-2002.md", assessment=ASSESSMENT)
    args.update(extra)
    return esc.build_packet("CHG-2002", reason, **args)


# -- the packet -----------------------------------------------------------------------------------------------------
def test_packet_has_the_full_context():
    doc = packet()
    assert doc["schema"] == esc.SCHEMA and doc["change_id"] == "CHG-2002" and doc["reason"] == "rollback_failed"
    assert doc["severity"] == "critical" and doc["escalation_target"] == "netops-oncall"
    assert doc["detected"][0].startswith("check r2_session_established failed")
    assert doc["actions_taken"][-1] == "restore of r1 did not verify"
    assert doc["devices"] == {"r1": {"state": "restore_failed", "backup": "/out/store/ab/cd.json"}, "r2": {"state": "untouched"}}
    assert doc["runbook"] == {"change": "/out/runbooks/CHG-2002.md", "policy": ESCALATION["runbook"]}
    assert doc["change"]["tier"] == "medium" and doc["change"]["why"] == ["Changes BGP configuration (+25)"]
    # the next step names the affected device and the target, not the untouched one
    assert "r1" in doc["recommended_next_step"] and "r2" not in doc["recommended_next_step"]
    assert "netops-oncall" in doc["recommended_next_step"]


@pytest.mark.parametrize("reason", sorted(esc.REASONS))
def test_every_reason_has_a_next_step(reason):
    doc = packet(reason)
    assert doc["recommended_next_step"] and "{" not in doc["recommended_next_step"]
    assert doc["severity"] in ("low", "medium", "high", "critical")


def test_given_next_step_wins_and_string_detected():
    doc = packet(detected="one thing", recommended_next_step="Call Bob.")
    assert doc["detected"] == ["one thing"] and doc["recommended_next_step"] == "Call Bob."


def test_secrets_are_redacted():
    doc = packet(detected=["neighbor 10.0.12.2 password s3cr3tpw was pushed"],
                 devices={"r1": {"state": "restore_failed", "api_token": "tok-123", "detail": "Bearer abc.def"}})
    text = json.dumps(doc)
    assert "s3cr3tpw" not in text and "tok-123" not in text and "abc.def" not in text
    assert "<redacted:" in doc["detected"][0]


@pytest.mark.parametrize("kwargs,where", [
    ({"change_id": "bad id!", "reason": "rollback_failed"}, "change_id"),
    ({"change_id": "CHG-1", "reason": "meteor"}, "reason"),
    ({"change_id": "CHG-1", "reason": "gate_refused", "devices": ["r1"]}, "devices"),
    ({"change_id": "CHG-1", "reason": "gate_refused", "devices": {"r1": 3}}, "devices.r1"),
    ({"change_id": "CHG-1", "reason": "gate_refused", "detected": 5}, "detected"),
])
def test_bad_input_is_refused(kwargs, where):
    with pytest.raises(ValidationError) as info:
        esc.build_packet(**kwargs)
    assert info.value.where == where and info.value.fix


def test_write_numbers_and_seals(tmp_path):
    first, second = packet(), packet()
    paths1 = esc.write_packet(str(tmp_path), first)
    paths2 = esc.write_packet(str(tmp_path), second)
    assert paths1["path"].endswith("escalations/CHG-2002-1.json") and paths2["path"].endswith("escalations/CHG-2002-2.json")
    stored = json.loads(open(paths1["path"], encoding="utf-8").read())
    assert stored["sequence"] == 1 and stored["sha256"] == first["sha256"]
    body = dict(stored)
    body.pop("sha256")
    assert esc.seal(body)["sha256"] == stored["sha256"]
    markdown = open(paths2["markdown_path"], encoding="utf-8").read()
    for text in ("# Escalation: CHG-2002: Rollback failed", "## Recommended next step", "## What was detected", "## Actions taken",
                 "3. restore of r1 did not verify", "| r1 | restore_failed |", "netops-oncall", "/out/runbooks/CHG-2002.md",
                 "escalation 2", second["sha256"]):
        assert text in markdown, text


def test_slack_payload_shape():
    doc = esc.seal(dict(packet(), sequence=1))
    body = esc.slack_payload(doc)
    assert body["text"].startswith("[CRITICAL] CHG-2002: Rollback failed") and "r1=restore_failed" in body["text"]
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds[0] == "header" and "context" in kinds
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    texts = json.dumps(body["blocks"])
    assert "Recommended next step" in texts and "netops-oncall" in texts
    long = esc.seal(dict(packet(detected=["x" * 5000]), sequence=1))
    assert all(len(block["text"]["text"]) <= 3000 for block in esc.slack_payload(long)["blocks"] if "text" in block)


def test_display_url_hides_the_secret_path():
    assert esc.display_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1") == "https://hooks.slack.com/..."
    with pytest.raises(ValidationError):
        esc.check_webhook_url("ftp://example.invalid/hook")


# -- the webhook, against real receivers --------------------------------------------------------------------------
def test_json_post_is_received():
    doc = esc.seal(dict(packet(), sequence=1))
    with Receiver() as receiver:
        outcome = esc.post_webhook(receiver.url("/hooks/SECRET-PATH"), esc.json_payload(doc), timeout=5, retries=2, retry_delay=0.05)
    assert outcome["sent"] is True and outcome["status"] == 200 and outcome["attempts"] == 1
    assert "SECRET-PATH" not in json.dumps(outcome)
    assert len(receiver.requests) == 1 and receiver.requests[0]["path"] == "/hooks/SECRET-PATH"
    assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"
    body = receiver.json()
    assert body["event"] == "governed.change.escalation" and body["reason"] == "rollback_failed"
    assert body["packet"]["sha256"] == doc["sha256"] and body["packet"]["devices"]["r1"]["state"] == "restore_failed"


def test_slack_post_is_received():
    doc = esc.seal(dict(packet("retries_exhausted", devices={"r3": {"state": "unreachable", "attempts": 3}}), sequence=4))
    with Receiver() as receiver:
        outcome = esc.post_webhook(receiver.url(), esc.payload_for(doc, "slack"), timeout=5, retries=0)
    assert outcome["sent"] is True
    body = receiver.json()
    assert set(body) == {"text", "blocks"} and body["blocks"][0]["text"]["text"] == "CHG-2002: Device unreachable after retries"
    assert "r3" in json.dumps(body["blocks"])


def test_receiver_failing_twice_then_succeeding():
    with Receiver(statuses=(503, 500, 200)) as receiver:
        outcome = esc.post_webhook(receiver.url(), {"x": 1}, timeout=5, retries=3, retry_delay=0.1)
    assert outcome["sent"] is True and outcome["attempts"] == 3 and len(receiver.requests) == 3
    assert [entry["status"] for entry in outcome["log"]] == [503, 500, 200]
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.requests, receiver.requests[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # exponential backoff: 0.1 s then 0.2 s


def test_client_error_is_not_retried():
    with Receiver(statuses=(404,)) as receiver:
        outcome = esc.post_webhook(receiver.url(), {"x": 1}, timeout=5, retries=3, retry_delay=0.05)
    assert outcome["sent"] is False and outcome["status"] == 404 and outcome["attempts"] == 1 and len(receiver.requests) == 1


def test_retries_are_bounded_when_the_receiver_keeps_failing():
    with Receiver(statuses=(500,)) as receiver:
        outcome = esc.post_webhook(receiver.url(), {"x": 1}, timeout=5, retries=2, retry_delay=0.05)
    assert outcome["sent"] is False and outcome["attempts"] == 3 and len(receiver.requests) == 3 and outcome["error"] == "HTTP 500"


def test_unreachable_receiver():
    start = time.monotonic()
    outcome = esc.post_webhook("http://127.0.0.1:%d/hook" % closed_port(), {"x": 1}, timeout=2, retries=2, retry_delay=0.05)
    assert outcome["sent"] is False and outcome["status"] is None and outcome["attempts"] == 3
    assert "refused" in outcome["error"].lower()
    assert time.monotonic() - start < 10


def test_retry_settings_are_bounded():
    with pytest.raises(ValidationError):
        esc.post_webhook("http://127.0.0.1:1/x", {}, retries=99)
    assert esc.backoff_delays(5, 1.0) == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_next_sequence_ignores_other_changes(tmp_path):
    directory = tmp_path / "escalations"
    directory.mkdir()
    for name in ("CHG-2002-1.json", "CHG-2002-7.json", "CHG-20021-9.json", "CHG-2002-3.md"):
        (directory / name).write_text("{}")
    assert esc.next_sequence(str(directory), "CHG-2002") == 8
    assert esc.next_sequence(str(tmp_path / "missing"), "CHG-2002") == 1
    assert os.path.isdir(str(directory))
