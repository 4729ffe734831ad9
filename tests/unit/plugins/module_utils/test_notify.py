# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""notify core: the policy section, recipient selection, message building and redaction, retry (plain data, injected
sleeper). Real HTTP/SMTP receivers are in tests/functional/test_notify_playbook.py."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils import notify, run_decisions
from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError
from ansible_collections.governed.change.plugins.module_utils.policy import validate_policy

SLACK_URL = "https://hooks.slack.example/services/T000/B000/sekretPathToken123"
SECTION = {
    "retries": 2,
    "retry_delay": 0.5,
    "evidence_base_url": "https://evidence.example.com/gc/",
    "channels": [
        {"name": "netops-slack", "type": "slack", "url_var": "NETOPS_SLACK_WEBHOOK"},
        {"name": "cab-teams", "type": "teams", "url_var": "CAB_TEAMS_WEBHOOK"},
        {"name": "itsm-hook", "type": "webhook", "url_var": "ITSM_HOOK_URL", "token_var": "ITSM_HOOK_TOKEN"},
        {"name": "cab-mail", "type": "email", "to": ["cab@example.com"], "from": "gc@example.com", "smtp_host": "127.0.0.1",
         "smtp_port": 2525, "starttls": False, "username": "gc-bot", "password_var": "SMTP_PASSWORD"},
    ],
    "routes": [
        {"name": "everything-to-netops", "channels": ["netops-slack"]},
        {"name": "cab-high", "tiers": ["high", "critical"], "events": ["scheduled", "approval_needed", "escalated"],
         "channels": ["cab-teams", "cab-mail"]},
        {"name": "ams-firewalls", "sites": ["ams"], "categories": ["acl_update"], "events": ["succeeded", "failed", "rolled_back"],
         "channels": ["itsm-hook"]},
    ],
}


def base_policy():
    with open(os.path.join(ROOT, "examples", "policy", "policy.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc.pop("allowed_signers", None)
    return doc


def section():
    return validate_policy(dict(base_policy(), notifications=copy.deepcopy(SECTION)))["notifications"]


ASSESSMENT = {"change_id": "CHG-2001", "title": "Raise BGP local-pref on r2", "tier": "high", "category": "bgp_policy",
              "change_class": "normal", "author": "alice", "hosts": ["r2"],
              "facts": {"sites": ["lon"], "targets": [{"host": "r2", "site": "lon"}]},
              "window": {"start": "2026-12-01T22:00:00Z", "end": "2026-12-01T23:00:00Z"}}


# ---------------------------------------------------------------------------------------------- the policy section
def test_the_section_is_validated_and_normalized():
    out = section()
    assert out["retries"] == 2 and out["retry_delay"] == 0.5 and out["timeout"] == 10.0
    assert [c["name"] for c in out["channels"]] == ["netops-slack", "cab-teams", "itsm-hook", "cab-mail"]
    assert out["channels"][3]["smtp_port"] == 2525 and out["channels"][3]["password_var"] == "SMTP_PASSWORD"
    assert out["routes"][0]["events"] == list(notify.EVENTS)  # all events when a route names none


def test_a_policy_without_the_section_keeps_its_hash():
    assert "notifications" not in validate_policy(base_policy())
    with_section = validate_policy(dict(base_policy(), notifications=copy.deepcopy(SECTION)))
    assert with_section["policy_sha256"] != validate_policy(base_policy())["policy_sha256"]


@pytest.mark.parametrize("mutate, where, fix", [
    (lambda s: s["channels"][0].update(url=SLACK_URL), "notifications.channels[0].url", "url_var"),
    (lambda s: s["channels"][3].update(password="hunter22"), "notifications.channels[3].password", "password_var"),
    (lambda s: s["routes"][1]["channels"].append("pager"), "notifications.routes[1].channels[2]", "define it"),
    (lambda s: s["routes"][0].update(events=["deployed"]), "notifications.routes[0].events[0]", "approval_needed"),
    (lambda s: s["channels"][1].update(type="discord"), "notifications.channels[1].type", "slack"),
    (lambda s: s["channels"][3].pop("password_var"), "notifications.channels[3].password_var", "SMTP password"),
    (lambda s: s["channels"][0].update(url_var="not a var"), "notifications.channels[0].url_var", "NETOPS_SLACK_WEBHOOK"),
    (lambda s: s["channels"][3].update(to=["nobody"]), "notifications.channels[3].to[0]", "address"),
    (lambda s: s.update(retries=11), "notifications.retries", "at most 10"),
    (lambda s: s["channels"].append(dict(s["channels"][0])), "notifications.channels[4].name", "own name"),
    (lambda s: s["channels"][0].update(to=["a@b.c"]), "notifications.channels[0].to", "allowed keys"),
])
def test_bad_sections_are_refused_naming_the_field_and_the_fix(mutate, where, fix):
    bad = copy.deepcopy(SECTION)
    mutate(bad)
    with pytest.raises(PolicyError) as caught:
        validate_policy(dict(base_policy(), notifications=bad))
    assert caught.value.where.endswith(where)
    assert fix in caught.value.fix
    assert SLACK_URL not in str(caught.value) and "hunter22" not in str(caught.value)


# ---------------------------------------------------------------------------------------------- recipients
def names(channels):
    return [channel["name"] for channel in channels]


def test_recipients_per_tier_site_category_and_event():
    out = section()
    high_lon = notify.change_scope(ASSESSMENT)
    assert high_lon == {"tier": "high", "category": "bgp_policy", "sites": ["lon"]}
    assert names(notify.recipients(out, "scheduled", high_lon)) == ["netops-slack", "cab-teams", "cab-mail"]
    assert names(notify.recipients(out, "started", high_lon)) == ["netops-slack"]  # cab-high does not list started
    low_ams_acl = {"tier": "low", "category": "acl_update", "sites": ["ams"]}
    assert names(notify.recipients(out, "scheduled", low_ams_acl)) == ["netops-slack"]
    assert names(notify.recipients(out, "succeeded", low_ams_acl)) == ["netops-slack", "itsm-hook"]
    assert names(notify.recipients(out, "succeeded", dict(low_ams_acl, sites=["lon"]))) == ["netops-slack"]
    assert names(notify.recipients(out, "succeeded", dict(low_ams_acl, category="vlan_add"))) == ["netops-slack"]
    assert notify.recipients(None, "succeeded", low_ams_acl) == []


def test_an_unknown_event_is_refused():
    with pytest.raises(Exception) as caught:
        notify.recipients(section(), "deployed", {})
    assert "approval_needed" in caught.value.fix


def test_scheduled_only_before_the_window():
    before = parse_instant("2026-12-01T20:00:00Z")
    during = parse_instant("2026-12-01T22:30:00Z")
    assert notify.scheduled_due(ASSESSMENT, before) == (True, "")
    assert notify.scheduled_due(ASSESSMENT, during) == (False, "the requested window has already started")
    assert notify.scheduled_due(dict(ASSESSMENT, window=None), before) == (False, "the change requests no window")


# ---------------------------------------------------------------------------------------------- the message
RUN = {"outcome": "unsuccessful", "reason": "rollback_failed", "stage_failed": "verify",
       "summary": "unsuccessful, rollback NOT verified: r2 state_differs",
       "report": "/srv/out/reports/CHG-2001.html", "escalation": "/srv/out/escalations/CHG-2001-1.json",
       "links": {"ticket": "https://itsm.example.com/CHG-2001"}}


def test_the_message_is_built_once_from_the_record():
    message = notify.build_message("escalated", ASSESSMENT, RUN, output_dir="/srv/out", base_url="https://evidence.example.com/gc/")
    assert message["title"] == "Change escalated: CHG-2001 Raise BGP local-pref on r2"
    assert (message["tier"], message["targets"], message["sites"]) == ("high", ["r2"], ["lon"])
    assert message["window"] == {"start": "2026-12-01T22:00:00Z", "end": "2026-12-01T23:00:00Z"}
    assert (message["outcome"], message["reason"], message["stage_failed"]) == ("unsuccessful", "rollback_failed", "verify")
    assert message["links"] == [
        {"label": "Report", "url": "https://evidence.example.com/gc/reports/CHG-2001.html"},
        {"label": "Escalation packet", "url": "https://evidence.example.com/gc/escalations/CHG-2001-1.json"},
        {"label": "ticket", "url": "https://itsm.example.com/CHG-2001"}]
    text = notify.plain_text(message)
    assert "Escalation reason: rollback_failed" in text and "Targets: r2" in text and "Window: 2026-12-01T22:00:00Z" in text
    # without a base URL the evidence is named by its path
    assert notify.build_message("failed", ASSESSMENT, RUN)["links"][0] == {"label": "Report", "url": "/srv/out/reports/CHG-2001.html"}


def test_secrets_are_redacted_from_the_message_and_every_format():
    """Config-shaped secrets (redact.py's rules), secret-looking keys, and the resolved secret values themselves."""
    run = dict(RUN, summary="deploy said:\nsnmp-server community s3cretCommunity RO\nwebhook %s" % SLACK_URL,
               links={"api_token": "Bearer abcdefgh12345"})
    message = notify.build_message("failed", dict(ASSESSMENT, title="neighbor 10.0.0.1 password Hunter2Pass"), run, secrets=[SLACK_URL])
    forms = [notify.plain_text(message), str(notify.json_payload(message)), str(notify.slack_payload(message)),
             str(notify.teams_payload(message)), notify.email_message(message, section()["channels"][3]).as_string()]
    for form in forms:
        assert "s3cretCommunity" not in form and "Hunter2Pass" not in form and SLACK_URL not in form and "abcdefgh12345" not in form
        assert "CHG-2001" in form


def test_slack_teams_and_json_shapes():
    message = notify.build_message("rolled_back", ASSESSMENT, RUN, output_dir="/srv/out", base_url="https://e.example/")
    slack = notify.slack_payload(message)
    assert slack["text"].startswith("Change rolled back: CHG-2001")
    assert slack["blocks"][0]["type"] == "header" and slack["blocks"][-1]["type"] == "context"
    assert any(block.get("fields") for block in slack["blocks"])
    assert "<https://e.example/reports/CHG-2001.html|Report>" in str(slack["blocks"])
    teams = notify.teams_payload(message)
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    facts = {fact["title"]: fact["value"] for fact in card["content"]["body"][2]["facts"]}
    assert facts["Tier"] == "high" and facts["Outcome"] == "unsuccessful"
    assert card["content"]["actions"][0] == {"type": "Action.OpenUrl", "title": "Report", "url": "https://e.example/reports/CHG-2001.html"}
    generic = notify.json_payload(message)
    assert generic["schema"] == notify.SCHEMA and generic["event"] == "rolled_back" and "Tier: high" in generic["text_plain"]


# ---------------------------------------------------------------------------------------------- secrets and retry
def test_secrets_come_from_the_named_variables_only():
    channels = section()["channels"]
    env = {"NETOPS_SLACK_WEBHOOK": SLACK_URL, "ITSM_HOOK_URL": "http://127.0.0.1:9/hook"}
    secrets, problem = notify.resolve_secrets(channels[0], env.get)
    assert secrets == {"url": SLACK_URL} and problem is None
    assert notify.target_of(channels[0], secrets) == "https://hooks.slack.example/..."
    secrets, problem = notify.resolve_secrets(channels[2], env.get)
    assert problem == "the variable ITSM_HOOK_TOKEN (token_var of channel itsm-hook) is not set"
    _secrets, problem = notify.resolve_secrets(channels[1], {"CAB_TEAMS_WEBHOOK": "ftp://x"}.get)
    assert "does not hold an http(s) URL" in problem and "ftp" not in problem
    assert notify.target_of(channels[3], {}) == "smtp://127.0.0.1:2525 -> cab@example.com"


def test_scrub_replaces_every_occurrence_in_nested_data():
    data = {"error": "cannot reach %s" % SLACK_URL, "log": [{"error": "x %s y" % SLACK_URL}], "n": 3}
    assert notify.scrub(data, [SLACK_URL]) == {"error": "cannot reach ********", "log": [{"error": "x ******** y"}], "n": 3}


class Flaky:
    """An attempt that fails ``failures`` times (retryable or not) and then succeeds."""

    def __init__(self, failures, retryable=True):
        self.failures, self.retryable, self.calls = failures, retryable, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            return {"ok": False, "status": 503, "error": "HTTP 503", "retryable": self.retryable}
        return {"ok": True, "status": 200, "error": None, "retryable": False}


def test_retry_fails_twice_then_succeeds_with_backoff():
    slept = []
    result = notify.deliver(Flaky(2), retries=3, retry_delay=0.5, sleep=slept.append)
    assert (result["delivered"], result["attempts"], result["status"]) == (True, 3, 200)
    assert slept == [0.5, 1.0]
    assert [entry["ok"] for entry in result["log"]] == [False, False, True]


def test_retry_gives_up_after_the_retries():
    slept = []
    result = notify.deliver(Flaky(99), retries=3, retry_delay=1.0, sleep=slept.append)
    assert (result["delivered"], result["attempts"], result["error"]) == (False, 4, "HTTP 503")
    assert slept == [1.0, 2.0, 4.0]


def test_a_final_failure_is_not_retried_and_an_exception_is_a_failed_attempt():
    slept = []
    assert notify.deliver(Flaky(5, retryable=False), retries=3, sleep=slept.append)["attempts"] == 1
    assert slept == []

    def boom():
        raise RuntimeError("library bug")
    result = notify.deliver(boom, retries=3, sleep=slept.append)
    assert (result["delivered"], result["attempts"], result["error"]) == (False, 1, "RuntimeError: library bug")


def test_a_channel_with_an_unset_secret_is_recorded_not_sent():
    out = section()
    message = notify.build_message("started", ASSESSMENT, {})
    results = notify.notify_all(out, "started", message, [out["channels"][0]], {}.get, sleep=lambda s: None)
    assert results == [{"event": "started", "channel": "netops-slack", "type": "slack", "recipient": None, "delivered": False,
                        "attempts": 0, "status": None, "error": "the variable NETOPS_SLACK_WEBHOOK (url_var of channel netops-slack) is not set",
                        "log": [], "elapsed_s": 0.0}]
    kind, data = notify.ledger_event("started", out["channels"][0], None, results[0])
    assert kind == "notification.failed" and data["channel"] == "netops-slack" and data["attempts"] == 0


# ---------------------------------------------------------------------------------------------- the run's final event
def _stages(**extra):
    stages = {"change_id": "CHG-1", "assessment": {"tier": "medium", "score": 42, "hosts": ["r1"], "requirements": {"escalation": {}}},
              "stage_failed": "", "error": "", "review": {"decision": "pass", "rejected": [], "denied_by": []}, "window": "pass",
              "precheck": {"backups": {"r1": "b1"}, "pre_snapshots": {"r1": "p1"}, "hosts": {"r1": {"failed": False}}},
              "deploy": {"deployed": ["r1"], "failed_hosts": [], "implementing": True, "hosts": {"r1": {"deploy": {"changed": True}}}},
              "verify": {"failed_hosts": [], "hosts": {"r1": {"passed": True, "failed": False, "results": []}}},
              "rollback": {}, "escalate_on_failure": True, "escalate_on_denial": True}
    stages.update(extra)
    return stages


def _gate_refused(review):
    return _stages(stage_failed="review", error="review gate refused", deploy={}, verify={}, precheck={}, review=review)


@pytest.mark.parametrize("stages, event", [
    (_stages(), "succeeded"),
    (_stages(stage_failed="verify", error="checks failed",
             verify={"failed_hosts": ["r1"], "hosts": {"r1": {"passed": False, "failed": True, "results": []}}},
             rollback={"targets": ["r1"], "rolled_back": ["r1"], "restore_failed": [], "state_differs": [], "verified": True}), "rolled_back"),
    (_stages(stage_failed="deploy", error="deploy failed on r1", rollback={},
             deploy={"deployed": ["r1"], "failed_hosts": ["r1"], "implementing": True, "hosts": {"r1": {"deploy": {"failed": True}}}}), "failed"),
    (_stages(stage_failed="precheck", error="precheck failed", deploy={}, verify={}), "failed"),
    (_gate_refused({"decision": "fail", "rejected": [], "denied_by": []}), "approval_needed"),
    (_gate_refused({"decision": "fail", "rejected": [], "denied_by": ["bob"]}), "failed"),
    (_gate_refused({"decision": "fail", "rejected": [{"approver": "alice", "reason": "approval expired"}], "denied_by": []}), "failed"),
])
def test_the_run_decides_its_final_lifecycle_event(stages, event):
    assert run_decisions.run_decision(stages)["event"] == event
