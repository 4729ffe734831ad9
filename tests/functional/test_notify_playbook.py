# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.notify and the pipeline's lifecycle hook run for real through ansible-playbook on local hosts.

The change record comes from a real governed.change.assess run of the example change CHG-2002 (with a requested window
two days ahead); the receivers are real servers on 127.0.0.1: HTTP (tests/support/receivers.Receiver) standing in for a
generic webhook, Slack and Teams, and SMTP (aiosmtpd, tests/support/smtp_receiver.SmtpReceiver, with AUTH).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, relative
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

from action_harness import R1_RUNNING
from play_runner import LOCAL_INVENTORY, run
from receivers import Receiver
from repo_paths import ROOT, VENV_BIN
from smtp_receiver import SmtpReceiver, self_signed_context

# the SMTP login is tested without TLS on 127.0.0.1 (aiosmtpd warns about it; STARTTLS is the channel's option)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CHANGE = "CHG-2002"
EVENTS = ("scheduled", "approval_needed", "started", "succeeded", "failed", "rolled_back", "escalated")
HOOK_TOKEN = "hookBearerTok3n"
SMTP_PASSWORD = "smtpPassw0rdXyz"
SECRET_PATHS = {"webhook": "/hooks/generic/Gx7secretPathA", "slack": "/services/T01/B02/slackSecretPathB", "teams": "/workflows/teamsSecretPathC"}

ASSESS_PLAY = [{"hosts": "all", "gather_facts": False, "tasks": [{
    "name": "Assess", "run_once": True,
    "governed.change.assess": {"change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False,
                               "running_configs": {"r1": "r1.cfg"}, "output_dir": "out", "ledger": "ledger.sqlite"}}]}]


def policy_with(section):
    with open(os.path.join(ROOT, "examples", "policy", "policy.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["notifications"] = section
    return yaml.safe_dump(doc, sort_keys=False)


def channels_section(smtp_port, retries=2):
    return {"retries": retries, "retry_delay": 0.05, "timeout": 5, "evidence_base_url": "https://evidence.example.com/gc/",
            "channels": [
                {"name": "itsm-hook", "type": "webhook", "url_var": "GC_TEST_HOOK_URL", "token_var": "GC_TEST_HOOK_TOKEN"},
                {"name": "netops-slack", "type": "slack", "url_var": "GC_TEST_SLACK_URL"},
                {"name": "cab-teams", "type": "teams", "url_var": "GC_TEST_TEAMS_URL"},
                {"name": "cab-mail", "type": "email", "to": ["cab@example.com", "netops@example.com"], "from": "gc@example.com",
                 "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "username": "gc-bot", "password_var": "gc_test_smtp_password"}],
            "routes": [{"name": "lon-everything", "sites": ["lon"], "channels": ["itsm-hook", "netops-slack", "cab-teams", "cab-mail"]},
                       {"name": "ams-only", "sites": ["ams"], "channels": ["cab-mail"]}]}


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    base = tmp_path_factory.mktemp("notify")
    os.makedirs(str(base / "policy"))
    (base / "policy" / "policy.yml").write_text(policy_with(channels_section(2525)))
    with open(os.path.join(ROOT, "examples", "changes", "bad_r1_bgp.yml"), encoding="utf-8") as handle:
        change = yaml.safe_load(handle)
    change["window"] = {"start": iso_z(relative(days=2), precision="seconds"), "end": iso_z(relative(days=2, hours=2), precision="seconds")}
    (base / "change.yml").write_text(yaml.safe_dump(change, sort_keys=False))
    (base / "inventory.yml").write_text(LOCAL_INVENTORY)
    (base / "r1.cfg").write_text(R1_RUNNING)
    rc, _result, _doc, output = run(base, ASSESS_PLAY)
    assert rc == 0, output[-3000:]
    return base


@pytest.fixture
def work(assessed, tmp_path):
    dest = tmp_path / "w"
    shutil.copytree(str(assessed), str(dest))
    return dest


def set_policy(work, section):
    (work / "policy" / "policy.yml").write_text(policy_with(section))


def notify_task(event, **extra):
    args = {"event": event, "policy": "policy/policy.yml", "ledger": "ledger.sqlite", "output_dir": "out",
            "assessment_file": "out/%s.assessment.json" % CHANGE,
            "secrets": {"gc_test_smtp_password": "{{ vault_smtp_password }}"}}
    args.update(extra)
    return {"name": "notify %s" % event, "governed.change.notify": args, "run_once": True, "register": "notified_%s" % event}


def play_of(tasks):
    return [{"hosts": "all", "gather_facts": False, "vars": {"vault_smtp_password": SMTP_PASSWORD}, "tasks": tasks}]


def env_for(receivers):
    env = {"GC_TEST_HOOK_TOKEN": HOOK_TOKEN}
    for kind, var in (("webhook", "GC_TEST_HOOK_URL"), ("slack", "GC_TEST_SLACK_URL"), ("teams", "GC_TEST_TEAMS_URL")):
        env[var] = receivers[kind].url(SECRET_PATHS[kind])
    return env


def notification_events(work):
    with SqliteLedger(str(work / "ledger.sqlite")) as ledger:
        return [e for e in ledger.events(change_id=CHANGE) if e["kind"].startswith("notification.")]


def results_of(doc):
    """{task name: the result} of the play's tasks."""
    return {task["task"]["name"]: next(iter(task["hosts"].values())) for task in doc["plays"][-1]["tasks"]}


def assert_no_secret(text, where):
    for secret in (HOOK_TOKEN, SMTP_PASSWORD) + tuple(SECRET_PATHS.values()):
        assert secret not in text, "%s shows the secret %s" % (where, secret)


RUN = {"outcome": "unsuccessful", "reason": "change_failed", "stage_failed": "verify", "summary": "unsuccessful, rollback verified: r1 rolled_back",
       "report": "out/reports/%s.html" % CHANGE, "escalation": "out/escalations/%s-1.json" % CHANGE,
       "links": {"ticket": "https://itsm.example.com/%s" % CHANGE}}


def test_every_event_reaches_every_channel_with_secrets_absent(work):
    with Receiver() as hook, Receiver() as slack, Receiver() as teams, SmtpReceiver(user="gc-bot", password=SMTP_PASSWORD) as smtp:
        set_policy(work, channels_section(smtp.port))
        tasks = [notify_task(event, run=RUN) for event in EVENTS]
        rc, _result, doc, output = run(work, play_of(tasks), "-v", env=env_for({"webhook": hook, "slack": slack, "teams": teams}))
    assert rc == 0, output[-3000:]
    results = results_of(doc)
    for event in EVENTS:
        result = results["notify %s" % event]
        assert (result["delivered"], result["undelivered"], result["skip_reason"]) == (4, 0, ""), result["skip_reason"]
        assert [n["channel"] for n in result["notifications"]] == ["itsm-hook", "netops-slack", "cab-teams", "cab-mail"]
    # the generic webhook: the message as JSON, the bearer token in the header (and nowhere else)
    bodies = [json.loads(r["body"]) for r in hook.requests]
    assert [b["event"] for b in bodies] == list(EVENTS)
    assert all(r["headers"]["Authorization"] == "Bearer %s" % HOOK_TOKEN for r in hook.requests)
    assert bodies[0]["change_id"] == CHANGE and bodies[0]["targets"] == ["r1"] and bodies[0]["sites"] == ["lon"]
    assert bodies[0]["window"]["start"] and bodies[-1]["reason"] == "change_failed"
    assert {"label": "Report", "url": "https://evidence.example.com/gc/reports/%s.html" % CHANGE} in bodies[-1]["links"]
    # Slack: blocks with a header per event; Teams: an Adaptive Card per event
    slack_titles = [json.loads(r["body"])["blocks"][0]["text"]["text"] for r in slack.requests]
    assert [t.split(":")[0] for t in slack_titles] == ["Change scheduled", "Approval needed", "Change started", "Change succeeded",
                                                       "Change failed", "Change rolled back", "Change escalated"]
    cards = [json.loads(r["body"])["attachments"][0]["content"] for r in teams.requests]
    assert len(cards) == 7 and all(card["type"] == "AdaptiveCard" for card in cards)
    assert cards[5]["body"][0]["text"].startswith("Change rolled back: %s" % CHANGE)
    # email: one per event to both addresses, after a login with the vaulted password
    assert len(smtp.messages) == 7 and smtp.logins == ["gc-bot"] * 7
    assert smtp.messages[0]["rcpt"] == ["cab@example.com", "netops@example.com"]
    assert smtp.messages[6]["message"]["Subject"].startswith("Change escalated: %s" % CHANGE)
    assert "Escalation reason: change_failed" in smtp.messages[6]["message"].get_content()
    # the ledger: one event per notification, the recipient without its secret path
    events = notification_events(work)
    assert len(events) == 28 and {e["kind"] for e in events} == {"notification.delivered"}
    assert {e["data"]["recipient"] for e in events if e["data"]["channel"] == "netops-slack"} == {"http://127.0.0.1:%d/..." % slack.port}
    assert all(e["data"]["attempts"] == 1 for e in events)
    # no secret in any message, the ledger file, the play's output or the results
    for kind, receiver in (("webhook", hook), ("slack", slack), ("teams", teams)):
        for request in receiver.requests:
            assert_no_secret(request["body"].decode(), kind)
    for message in smtp.messages:
        assert_no_secret(message["raw"].decode(), "email")
    assert_no_secret((work / "ledger.sqlite").read_bytes().decode("latin-1"), "ledger")
    assert_no_secret(output, "ansible-playbook output")


def test_routes_pick_the_channels_of_the_change_and_scheduled_waits_for_the_window(work):
    section = channels_section(2525)
    section["routes"] = [{"name": "ams-only", "sites": ["ams"], "channels": ["cab-mail"]},
                         {"name": "lon-starts", "sites": ["lon"], "events": ["started", "scheduled"], "channels": ["netops-slack"]}]
    set_policy(work, section)
    with Receiver() as slack:
        tasks = [notify_task("succeeded"), notify_task("started"),
                 notify_task("scheduled", now=iso_z(relative(days=2, hours=1), precision="seconds")), notify_task("started", check_mode=True)]
        tasks[-1]["name"] = "check mode"
        tasks[-1]["governed.change.notify"].pop("check_mode")
        tasks[-1]["check_mode"] = True
        rc, _result, doc, output = run(work, play_of(tasks), env={"GC_TEST_SLACK_URL": slack.url(SECRET_PATHS["slack"])})
    assert rc == 0, output[-3000:]
    results = results_of(doc)
    assert results["notify succeeded"]["skip_reason"] == "no route of the policy's notifications names this event for this change"
    assert results["notify started"]["delivered"] == 1
    assert results["notify scheduled"]["skip_reason"] == "the requested window has already started"
    assert results["check mode"]["skip_reason"] == "check mode: nothing sent" and results["check mode"]["changed"] is False
    assert len(slack.requests) == 1 and json.loads(slack.requests[0]["body"])["blocks"][0]["text"]["text"].startswith("Change started")
    assert len(notification_events(work)) == 1


def test_a_receiver_failing_twice_then_succeeding_is_recorded_with_three_attempts(work):
    section = channels_section(2525, retries=3)
    section["routes"] = [{"name": "slack", "channels": ["netops-slack"]}]
    set_policy(work, section)
    with Receiver(statuses=(503, 500, 200)) as slack:
        rc, _result, doc, output = run(work, play_of([notify_task("started")]), env={"GC_TEST_SLACK_URL": slack.url(SECRET_PATHS["slack"])})
    assert rc == 0, output[-3000:]
    assert len(slack.requests) == 3
    (entry,) = results_of(doc)["notify started"]["notifications"]
    assert (entry["delivered"], entry["attempts"]) == (True, 3)
    (event,) = notification_events(work)
    assert event["kind"] == "notification.delivered"
    assert (event["data"]["attempts"], event["data"]["channel"], event["data"]["event"]) == (3, "netops-slack", "started")
    assert [a["status"] for a in event["data"]["log"]] == [503, 500, 200]


ROLLBACK_PLAY = """
- hosts: r1
  gather_facts: false
  vars:
    pipeline_policy: policy/policy.yml
    pipeline_ledger: ledger.sqlite
    pipeline_output_dir: out
    pipeline_now: ""
    pipeline_notify_secrets: {}
    assess_assessment_file: out/CHG-2002.assessment.json
  tasks:
    - name: Govern the change (the pipeline's shape - its hook points, a failing deploy, the rollback in rescue)
      run_once: true
      block:
        - name: Lifecycle event started (the pipeline's own hook, roles/pipeline/tasks/lifecycle_event.yml)
          ansible.builtin.include_role:
            name: governed.change.pipeline
            tasks_from: lifecycle_event
          vars:
            pipeline_event: started
        - name: Stage deploy fails
          ansible.builtin.fail:
            msg: the deploy's checks failed on r1
      rescue:
        - name: Record the failed stage
          ansible.builtin.set_fact:
            failed_error: "{{ ansible_failed_result.msg }}"
        - name: Roll back (stand-in for the rollback stage - a file written)
          ansible.builtin.copy:
            content: "rolled back after: {{ failed_error }}\\n"
            dest: "{{ playbook_dir }}/rolled_back.txt"
            mode: "0644"
          delegate_to: localhost
      always:
        - name: Lifecycle event rolled_back
          ansible.builtin.include_role:
            name: governed.change.pipeline
            tasks_from: lifecycle_event
          vars:
            pipeline_event: rolled_back
            pipeline_event_run: {outcome: unsuccessful, stage_failed: deploy}
        - name: A notification with a bad argument is ignored too
          ansible.builtin.include_role:
            name: governed.change.pipeline
            tasks_from: lifecycle_event
          vars:
            pipeline_event: not_an_event
    - name: The play goes on
      ansible.builtin.debug:
        msg: "verdict unchanged: {{ failed_error }}"
      run_once: true
"""


def test_a_receiver_that_always_fails_is_recorded_failed_and_neither_blocks_the_rollback_nor_the_play(work):
    section = channels_section(2525, retries=2)
    section["routes"] = [{"name": "slack", "channels": ["netops-slack"]}]
    set_policy(work, section)
    with Receiver(statuses=(500,)) as slack:
        rc, result, _doc, output = run(work, ROLLBACK_PLAY, env={"GC_TEST_SLACK_URL": slack.url(SECRET_PATHS["slack"])})
    assert rc == 0, output[-3000:]
    assert len(slack.requests) == 6  # 2 events x (1 + 2 retries)
    # the rollback ran, for the deploy's failure - not for the notification's
    assert (work / "rolled_back.txt").read_text() == "rolled back after: the deploy's checks failed on r1\n"
    assert result["msg"] == "verdict unchanged: the deploy's checks failed on r1"
    events = notification_events(work)
    assert [(e["kind"], e["data"]["event"], e["data"]["attempts"]) for e in events] == [
        ("notification.failed", "started", 3), ("notification.failed", "rolled_back", 3)]
    assert events[0]["data"]["error"] == "HTTP 500"
    assert "was not delivered on netops-slack after 3 attempt(s): HTTP 500" in output
    assert_no_secret(output, "ansible-playbook output")


def test_the_awx_close_stage_notifies_the_run_s_final_event(work):
    """playbooks/close.yml (the AWX job template) decides the final event as the pipeline does: a run stopped at the review
    gate for want of approvals is closed canceled and tells the approvers approval_needed."""
    section = channels_section(2525)
    section["routes"] = [{"name": "approvers", "events": ["approval_needed"], "channels": ["netops-slack"]}]
    set_policy(work, section)
    out = str(work / "out")
    extra = {"governed_change_id": CHANGE, "governed_ledger": str(work / "ledger.sqlite"), "governed_output_dir": out,
             "governed_store_dir": str(work / "store"), "governed_policy": str(work / "policy" / "policy.yml"),
             "governed_assessment_file": "%s/%s.assessment.json" % (out, CHANGE), "governed_stage_failed": "review",
             "governed_error": "review gate refused: 0 of 1 approvals", "governed_review": "fail",
             "governed_review_verdict": {"decision": "fail", "rejected": [], "denied_by": []},
             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    with Receiver() as slack:
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   GC_TEST_SLACK_URL=slack.url(SECRET_PATHS["slack"]))
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               os.path.join(ROOT, "playbooks", "close.yml"), "-e", json.dumps(extra)],
                              cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(slack.requests) == 1, proc.stdout[-3000:]
    body = json.loads(slack.requests[0]["body"])
    assert body["text"].startswith("Approval needed: %s" % CHANGE)
    assert "*Outcome*\ncanceled" in json.dumps(body["blocks"]).replace("\\n", "\n")
    (event,) = notification_events(work)
    assert (event["kind"], event["data"]["event"]) == ("notification.delivered", "approval_needed")
    assert_no_secret(proc.stdout, "ansible-playbook output")


def test_email_over_starttls_with_login(work, tmp_path):
    """The SMTP server demands STARTTLS before AUTH (aiosmtpd require_starttls, auth_require_tls): the channel's
    ``starttls: true`` upgrades the session (a self-signed certificate, so validate_certs: false) and logs in."""
    section = channels_section(2525)
    with SmtpReceiver(user="gc-bot", password=SMTP_PASSWORD, tls_context=self_signed_context(tmp_path)) as smtp:
        section["channels"][3].update(smtp_port=smtp.port, starttls=True, validate_certs=False)
        section["routes"] = [{"name": "mail", "channels": ["cab-mail"]}]
        set_policy(work, section)
        rc, _result, doc, output = run(work, play_of([notify_task("escalated", run=RUN)]))
        section["channels"][3]["starttls"] = False  # the same server refuses a login without TLS: recorded, not retried
        set_policy(work, section)
        rc_plain, _result, doc_plain, output_plain = run(work, play_of([notify_task("escalated", run=RUN)]))
    assert rc == 0 and rc_plain == 0, output[-2000:] + output_plain[-2000:]
    (entry,) = results_of(doc)["notify escalated"]["notifications"]
    assert (entry["delivered"], entry["attempts"]) == (True, 1) and smtp.logins == ["gc-bot"]
    assert len(smtp.messages) == 1 and smtp.messages[0]["message"]["Subject"].startswith("Change escalated: %s" % CHANGE)
    (refused,) = results_of(doc_plain)["notify escalated"]["notifications"]
    assert (refused["delivered"], refused["attempts"]) == (False, 1) and "AUTH" in refused["error"], refused
    assert_no_secret(output + output_plain, "ansible-playbook output")
