# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.runbook and governed.change.escalate run for real through ansible-playbook on local hosts.

The change record comes from a real governed.change.assess run of the example bad change (CHG-2002); the webhook
receivers are real HTTP servers on 127.0.0.1 (random ports) in a thread.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

from action_harness import R1_RUNNING
from play_runner import LOCAL_INVENTORY, run
from receivers import Receiver, closed_port
from repo_paths import ROOT

CHANGE = "CHG-2002"

INVENTORY = LOCAL_INVENTORY

ASSESS_PLAY = [{"hosts": "all", "gather_facts": False, "tasks": [{
    "name": "Assess", "run_once": True,
    "governed.change.assess": {"change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False,
                               "running_configs": {"r1": "r1.cfg"}, "output_dir": "out/assessments", "ledger": "ledger.sqlite"}}]}]


def play(module, args, **task):
    entry = dict({"name": module, "governed.change.%s" % module: args, "run_once": True}, **task)
    return [{"hosts": "all", "gather_facts": False, "tasks": [entry]}]


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    base = tmp_path_factory.mktemp("escalate")
    os.makedirs(str(base / "policy"))
    shutil.copy(os.path.join(ROOT, "examples", "policy", "policy.yml"), str(base / "policy" / "policy.yml"))
    shutil.copy(os.path.join(ROOT, "examples", "changes", "bad_r1_bgp.yml"), str(base / "change.yml"))
    (base / "inventory.yml").write_text(INVENTORY)
    (base / "r1.cfg").write_text(R1_RUNNING)
    rc, _result, _doc, output = run(base, ASSESS_PLAY)
    assert rc == 0, output[-3000:]
    assert (base / "out" / "assessments" / ("%s.assessment.json" % CHANGE)).is_file()
    return base


@pytest.fixture
def work(assessed, tmp_path):
    dest = tmp_path / "w"
    shutil.copytree(str(assessed), str(dest))
    return dest


def events(work, kind_prefix):
    with SqliteLedger(str(work / "ledger.sqlite")) as ledger:
        return [event for event in ledger.events(change_id=CHANGE) if event["kind"].startswith(kind_prefix)]


def assessment_tier(work):
    return json.loads((work / "out" / "assessments" / ("%s.assessment.json" % CHANGE)).read_text())["tier"]


RUNBOOK_ARGS = {"change_request": "change.yml", "assessment_file": "out/assessments/%s.assessment.json" % CHANGE,
                "policy": "policy/policy.yml", "output_dir": "out", "ledger": "ledger.sqlite"}


def escalate_args(**extra):
    args = {"change_id": CHANGE, "reason": "change_failed", "policy": "policy/policy.yml", "output_dir": "out", "ledger": "ledger.sqlite",
            "detected": ["check r2_session_established failed on r1: Idle, expected Established"],
            "actions_taken": ["deployed on r1 (canary)", "halted the deploy", "restored r1 from its backup (verified)"],
            "devices": {"r1": {"state": "rolled_back", "verified": True}, "r2": "untouched"},
            "webhook_retry_delay": 0.05}
    args.update(extra)
    return args


# -- runbook ------------------------------------------------------------------------------------------------------
def test_runbook_is_written_recorded_and_stable(work):
    rc, result, doc, output = run(work, play("runbook", RUNBOOK_ARGS))
    assert rc == 0 and not result.get("failed"), output[-3000:]
    ref = result["runbook"]
    assert ref["path"] == str(work / "out" / "runbooks" / ("%s.md" % CHANGE)) and os.path.isfile(ref["json_path"])
    text = open(ref["path"], encoding="utf-8").read()
    assert "neighbor 10.0.12.2 remote-as 65020" in text and "## 6. Escalation" in text
    assert result["changed"] is True and result["recorded"] is True and result["elements"]["steps"] >= 6
    assert doc["global_custom_stats"]["governed_runbook"] == ref["path"]
    recorded = events(work, "runbook.")
    assert len(recorded) == 1 and recorded[0]["kind"] == "runbook.generated" and recorded[0]["data"]["sha256"] == ref["sha256"]
    rc, again, _doc, _output = run(work, play("runbook", RUNBOOK_ARGS))
    assert rc == 0 and again["changed"] is False and again["runbook"]["sha256"] == ref["sha256"]


def test_runbook_finds_the_assessment_and_check_mode_writes_nothing(work):
    args = {"change_request": "change.yml", "policy": "policy/policy.yml", "output_dir": "out"}
    rc, result, _doc, output = run(work, play("runbook", args), "--check")
    assert rc == 0 and not result.get("failed"), output[-3000:]
    assert result["runbook"]["path"].endswith("runbooks/%s.md" % CHANGE) and not os.path.exists(result["runbook"]["path"])
    assert result["recorded"] is False


def test_runbook_bad_input_is_a_clear_failure(work):
    (work / "other.yml").write_text((work / "change.yml").read_text().replace("65020", "65021"))
    rc, result, _doc, output = run(work, play("runbook", dict(RUNBOOK_ARGS, change_request="other.yml")), check=False)
    assert rc == 2 and result["failed"] is True
    assert result["msg"].startswith("governed.change.runbook: change_request:") and "differs from the one assessed" in result["msg"]
    assert "Fix:" in result["msg"] and "Traceback" not in output
    rc, result, _doc, output = run(work, play("runbook", {"policy": "policy/policy.yml", "output_dir": "nothing-here"}), check=False)
    assert rc == 2 and "no assessment of the change was given" in result["msg"] and "Traceback" not in output


# -- escalate -----------------------------------------------------------------------------------------------------
def test_escalate_json_webhook(work):
    run(work, play("runbook", RUNBOOK_ARGS))
    with Receiver() as receiver:
        rc, result, doc, output = run(work, play("escalate", escalate_args(webhook_url=receiver.url("/hook/T0KEN-PATH"))))
    assert rc == 0 and not result.get("failed"), output[-3000:]
    esc = result["escalation"]
    assert esc["sent"] is True and esc["status"] == 200 and esc["attempts"] == 1 and esc["sequence"] == 1
    assert esc["path"] == str(work / "out" / "escalations" / ("%s-1.json" % CHANGE)) and os.path.isfile(esc["markdown_path"])
    assert "T0KEN-PATH" not in output and "T0KEN-PATH" not in json.dumps(events(work, "escalation."))
    body = receiver.json()
    packet = json.loads(open(esc["path"], encoding="utf-8").read())
    assert body["packet"] == packet and packet["sha256"] == esc["packet"]["sha256"]
    assert packet["escalation_target"] == "netops-oncall" and packet["change"]["tier"] == assessment_tier(work)
    assert packet["runbook"]["change"] == str(work / "out" / "runbooks" / ("%s.md" % CHANGE))
    assert packet["devices"]["r1"] == {"state": "rolled_back", "verified": True}
    assert doc["global_custom_stats"]["governed_escalation"] == esc["path"]
    recorded = events(work, "escalation.")
    assert [event["kind"] for event in recorded] == ["escalation.sent"]
    assert recorded[0]["data"]["packet_sha256"] == packet["sha256"] and recorded[0]["data"]["sent"] is True


def test_escalate_slack_webhook_after_two_failures(work):
    with Receiver(statuses=(502, 503, 200)) as receiver:
        rc, result, _doc, output = run(work, play("escalate", escalate_args(reason="rollback_failed", webhook_url=receiver.url(),
                                                                            webhook_format="slack", webhook_retries=3)))
    assert rc == 0 and not result.get("failed"), output[-3000:]
    assert result["escalation"]["sent"] is True and result["escalation"]["attempts"] == 3 and len(receiver.requests) == 3
    body = receiver.json()
    assert set(body) == {"text", "blocks"} and body["blocks"][0]["text"]["text"] == "%s: Rollback failed" % CHANGE
    assert "netops-oncall" in body["text"]


def test_escalate_unreachable_webhook_still_writes_the_packet(work):
    url = "http://127.0.0.1:%d/hook" % closed_port()
    rc, result, _doc, output = run(work, play("escalate", escalate_args(webhook_url=url, webhook_retries=1)))
    assert rc == 0 and not result.get("failed"), output[-3000:]
    esc = result["escalation"]
    assert esc["sent"] is False and esc["status"] is None and esc["attempts"] == 2 and os.path.isfile(esc["path"])
    assert result["event"] == "escalation.failed_to_send" and "did not accept it" in " ".join(result.get("warnings") or [])
    assert [event["kind"] for event in events(work, "escalation.")] == ["escalation.failed_to_send"]
    # a second escalation of the same change gets the next number
    rc, result, _doc, _output = run(work, play("escalate", escalate_args(reason="rollback_failed")))
    assert rc == 0 and result["escalation"]["sequence"] == 2 and result["event"] == "escalation.sent"


def test_escalate_check_mode_does_nothing(work):
    with Receiver() as receiver:
        rc, result, _doc, _output = run(work, play("escalate", escalate_args(webhook_url=receiver.url())), "--check")
    assert rc == 0 and result["escalation"]["sent"] is False and receiver.requests == []
    assert not os.path.exists(result["escalation"]["path"]) and events(work, "escalation.") == []


@pytest.mark.parametrize("args,message", [
    ({"reason": "meteor"}, "governed.change.escalate: invalid arguments"),
    ({"ledger": "missing.sqlite"}, "ledger: "),
    ({"change_id": "CHG-9999"}, "change CHG-9999 is not in the ledger"),
    ({"webhook_url": "ftp://127.0.0.1/x"}, "webhook_url: the webhook URL is not an http(s) URL"),
    ({"webhook_retries": 50}, "webhook_retries must be 0..10"),
    ({"devices": {"r1": 5}}, "devices.r1: must be a mapping"),
])
def test_escalate_bad_input_fails_clearly(work, args, message):
    rc, result, _doc, output = run(work, play("escalate", escalate_args(**args)), check=False)
    assert rc == 2 and result["failed"] is True, output[-2000:]
    assert message in result["msg"] and "Traceback" not in output
    assert not (work / "out" / "escalations").exists() or not os.listdir(str(work / "out" / "escalations"))
