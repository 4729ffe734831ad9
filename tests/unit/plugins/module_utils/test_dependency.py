# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wait-for-dependency core (module_utils/dependency.py) with plain data, a fake clock and a fake sleeper."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils import dependency as dep
from ansible_collections.governed.change.plugins.module_utils import escalation, outcome, run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

SECRET = "s3cr3t-wait-token-41"


class FakeClock:
    """monotonic() and sleep() over one counter: sleeping advances the clock, each poll costs ``poll_cost`` seconds."""

    def __init__(self, poll_cost=0.0):
        self.now = 0.0
        self.sleeps = []
        self.poll_cost = poll_cost

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def scripted(*states):
    """A poll function answering the given states in turn (the last one repeats), counting its calls."""
    calls = []

    def poll():
        state = states[min(len(calls), len(states) - 1)]
        calls.append(state)
        return dep.poll_result(state, "poll %d: %s" % (len(calls), state))
    poll.calls = calls
    return poll


HTTP = {"url": "http://127.0.0.1:9/status?token=abc", "query": "status", "expected": "ready"}


def wait(poll, spec=None, check_mode=False, fake=None, source="http", condition=None):
    fake = fake or FakeClock()
    cond = dep.normalize_condition(source, condition or HTTP)
    return dep.wait_for(source, cond, spec or dep.schedule(60, 1, 8, 2), poll, check_mode=check_mode,
                        monotonic=fake.monotonic, sleep=fake.sleep), fake


# ---------------------------------------------------------------------------------------------- schedule and backoff
def test_backoff_grows_to_the_cap_and_the_last_sleep_ends_at_the_timeout():
    verdict, fake = wait(scripted(dep.NOT_MET), spec=dep.schedule(20, 1, 8, 2))
    assert fake.sleeps == [1, 2, 4, 8, 5]  # 1+2+4+8 = 15, then the 5 s left
    assert verdict["decision"] == "timeout" and verdict["passed"] is False
    assert verdict["attempts"] == 6 and verdict["elapsed_s"] == 20
    assert [p["at_s"] for p in verdict["polls"]] == [0, 1, 3, 7, 15, 20]
    assert "not ready within 20 s" in verdict["reason"] and "last poll: poll 6: not_met" in verdict["reason"]
    assert verdict["fix"].startswith("check why the dependency is not ready")
    assert dep.intervals(dep.schedule(20, 1, 8, 2), 6) == [1, 2, 4, 8, 8, 8]


def test_met_after_three_polls_stops_waiting():
    poll = scripted(dep.NOT_MET, dep.NOT_MET, dep.MET)
    verdict, fake = wait(poll)
    assert verdict["decision"] == "met" and verdict["passed"] is True
    assert verdict["attempts"] == 3 and len(poll.calls) == 3 and fake.sleeps == [1, 2]
    assert "fix" not in verdict


@pytest.mark.parametrize("state", [dep.UNDECIDABLE, dep.NEVER])
def test_undecidable_or_never_fails_closed_at_once(state):
    verdict, fake = wait(scripted(dep.NOT_MET, state))
    assert verdict["decision"] == state and verdict["passed"] is False
    assert verdict["attempts"] == 2 and fake.sleeps == [1]
    assert verdict["fix"] == dep.FIXES[state]


def test_a_poll_that_raises_a_core_error_is_undecidable():
    def poll():
        raise ValidationError("boom", where="x", fix="y")
    verdict, _fake = wait(poll)
    assert verdict["decision"] == "undecidable" and verdict["polls"][0]["detail"] == "boom"


def test_check_mode_polls_once_and_does_not_wait():
    verdict, fake = wait(scripted(dep.NOT_MET), check_mode=True)
    assert verdict["decision"] == "not_met" and verdict["passed"] is True and verdict["attempts"] == 1
    assert fake.sleeps == [] and verdict["check_mode"] is True
    assert "a real run waits up to 60 s" in verdict["reason"]
    verdict, _fake = wait(scripted(dep.UNDECIDABLE), check_mode=True)
    assert verdict["passed"] is False  # what the real run would refuse, check mode refuses too


def test_a_long_wait_keeps_its_first_and_last_polls():
    verdict, _fake = wait(scripted(dep.NOT_MET), spec=dep.schedule(100, 1, 1, 1))
    assert verdict["attempts"] == 101
    assert len(verdict["polls"]) == dep.POLLS_KEPT and verdict["polls_omitted"] == 81
    assert [p["attempt"] for p in verdict["polls"][:6]] == [1, 2, 3, 4, 5, 87]


@pytest.mark.parametrize("args, field", [
    ((-1, 1, 8, 2), "timeout"), ((10, 0, 8, 2), "interval"), ((10, 5, 2, 2), "max_interval"), ((10, 1, 8, 0.5), "backoff"),
])
def test_schedule_refuses_bad_bounds(args, field):
    with pytest.raises(ValidationError) as caught:
        dep.schedule(*args)
    assert caught.value.where == field


# ---------------------------------------------------------------------------------------------- conditions
@pytest.mark.parametrize("source, condition, where, text", [
    ("http", {"url": "http://x/"}, "condition.query", "needs query"),
    ("http", {"url": "ftp://x/", "query": "a"}, "condition.url", "not an http(s) URL"),
    ("http", {"url": "http://x/", "query": "a[", "expected": 1}, "condition.query", "not valid JMESPath"),
    ("http", {"url": "http://x/", "query": "a", "method": "POST"}, "condition", "unknown key(s) method"),
    ("ledger", {"change_id": "CHG-9", "close_codes": ["done"], "ledger": "/x"}, "condition.close_codes", "unknown close code"),
    ("device", {"host": "r1"}, "condition", "needs a route or a bgp_peer"),
    ("webhook", {"port": 80}, "condition.port", "from 1024 to 65535"),
    ("snmp", {}, "source", "unknown source"),
])
def test_conditions_are_validated_naming_the_field(source, condition, where, text):
    with pytest.raises(ValidationError) as caught:
        dep.normalize_condition(source, condition)
    assert caught.value.where == where and text in caught.value.problem, caught.value.render()


def test_not_declared_is_not_required_only_when_allowed():
    verdict = dep.run_wait("ledger", {"change_id": ""}, dep.schedule(5), required=False)
    assert verdict["decision"] == "not_required" and verdict["passed"] is True and verdict["attempts"] == 0
    with pytest.raises(ValidationError):
        dep.run_wait("ledger", {"change_id": ""}, dep.schedule(5), required=True)


def test_the_recorded_condition_holds_no_token_or_header_value():
    cond = dep.normalize_condition("http", dict(HTTP, headers={"Authorization": "Bearer " + SECRET}))
    shown = dep.describe("http", cond)
    assert shown == {"url": "http://127.0.0.1:9/status", "query": "status", "expected": "ready", "headers": ["Authorization"]}
    assert SECRET not in json.dumps(shown) and "token=abc" not in json.dumps(shown)


# ---------------------------------------------------------------------------------------------- HTTP source
def fetch_answers(*answers):
    seen = []

    def fetch(url, headers, timeout, validate_certs):
        seen.append((url, dict(headers), validate_certs))
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer
    fetch.seen = seen
    return fetch


def test_http_turns_ready_after_polls():
    fetch = fetch_answers((200, b'{"status": "starting"}'), (503, b""), (200, b'{"status": "ready"}'))
    verdict, fake = wait(dep.http_poller(dep.normalize_condition("http", HTTP), fetch))
    assert verdict["decision"] == "met" and verdict["attempts"] == 3 and fake.sleeps == [1, 2]
    assert [p["state"] for p in verdict["polls"]] == ["not_met", "not_met", "met"]
    assert verdict["polls"][0]["detail"] == 'status gives "starting", not "ready"'
    assert verdict["polls"][1]["detail"] == "GET http://127.0.0.1:9/status answered HTTP 503 (not ready)"
    assert fetch.seen[0][0] == HTTP["url"]  # the real URL is fetched; only the record drops the query


@pytest.mark.parametrize("answer, text", [
    ((200, b"<html>ready</html>"), "is not JSON"),
    (ConnectionRefusedError(111, "Connection refused"), "the URL is unreachable"),
    ((404, b""), "answered HTTP 404"),
])
def test_http_bad_json_unreachable_or_client_error_is_undecidable(answer, text):
    verdict, fake = wait(dep.http_poller(dep.normalize_condition("http", HTTP), fetch_answers(answer)))
    assert verdict["decision"] == "undecidable" and verdict["attempts"] == 1 and fake.sleeps == []
    assert text in verdict["reason"] and "could not be decided" in verdict["reason"]


def test_http_query_compares_any_json_value():
    cond = dep.normalize_condition("http", {"url": "http://x/", "query": "length(items[?up]) >= `2`"})
    poll = dep.http_poller(cond, fetch_answers((200, b'{"items": [{"up": true}, {"up": false}]}'),
                                               (200, b'{"items": [{"up": true}, {"up": true}]}')))
    assert poll()["state"] == "not_met" and poll()["state"] == "met"


# ---------------------------------------------------------------------------------------------- ledger source
def test_ledger_waits_for_the_dependency_to_close_successful(tmp_path):
    path = ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-FW", "dave", "scheduled"),))
    poller = dep.LedgerPoller(dep.normalize_condition("ledger", {"change_id": "CHG-FW", "ledger": path}))
    try:
        first = poller()
        assert first["state"] == "not_met" and first["detail"] == "change CHG-FW is scheduled"
        with SqliteLedger(path) as ledger:
            for state in ("implement", "review"):
                ledger.transition("CHG-FW", state, "dave")
            ledger.transition("CHG-FW", "closed", "dave", close_code="successful")
        assert poller() == {"state": "met", "detail": "change CHG-FW is closed successful",
                            "observed": {"state": "closed", "close_code": "successful"}}
    finally:
        poller.close()


def test_ledger_dependency_closed_unsuccessful_can_never_be_met(tmp_path):
    path = ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-FW", "dave", "scheduled"),))
    with SqliteLedger(path) as ledger:
        ledger.transition("CHG-FW", "canceled", "dave")
    verdict = dep.run_wait("ledger", {"change_id": "CHG-FW", "ledger": path}, dep.schedule(30), sleep=pytest.fail)
    assert verdict["decision"] == "never" and verdict["attempts"] == 1
    assert "change CHG-FW is canceled, so it can never close successful" in verdict["reason"]


def test_ledger_unknown_change_is_not_met_and_a_missing_file_undecidable(tmp_path):
    path = ledger_with_changes(str(tmp_path / "ledger.sqlite"), ())
    cond = dep.normalize_condition("ledger", {"change_id": "CHG-LATER", "ledger": path})
    assert dep.ledger_state(None, cond)["detail"] == "change CHG-LATER is not in the ledger yet"
    missing = dep.LedgerPoller(dep.normalize_condition("ledger", {"change_id": "C", "ledger": str(tmp_path / "none.sqlite")}))
    assert missing()["state"] == "undecidable"


def test_the_wait_is_recorded_on_the_waiting_change(tmp_path):
    path = ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-RT", "carol", "scheduled"),))
    verdict, _fake = wait(scripted(dep.NOT_MET), spec=dep.schedule(3, 1, 2, 2))
    seq = dep.record_wait(path, "CHG-RT", verdict)
    with SqliteLedger(path, readonly=True) as ledger:
        (event,) = [e for e in ledger.events("CHG-RT") if e["kind"] == "wait.dependency"]
    assert event["seq"] == seq
    data = event["data"]
    assert (data["source"], data["decision"], data["attempts"], data["elapsed_s"]) == ("http", "timeout", 3, 3)
    assert data["condition"]["url"] == "http://127.0.0.1:9/status" and "token" not in json.dumps(data)


# ---------------------------------------------------------------------------------------------- device source
def snapshot(routes=None, peers=None):
    sections = {}
    if routes is not None:
        sections["routes"] = dict((p, {"nexthop": "10.0.12.2"}) for p in routes)
    if peers is not None:
        sections["peers"] = dict((a, {"address": a, "state": s, "established": s == "Established"}) for a, s in peers.items())
    return {"device": "r1", "sections": sections}


def test_device_route_and_session_conditions():
    cond = dep.normalize_condition("device", {"host": "r1", "route": "203.0.113.0/24", "bgp_peer": "10.0.12.2"})
    assert dep.device_state(snapshot([], {"10.0.12.2": "Active"}), cond) == {
        "state": "not_met", "detail": "r1: route 203.0.113.0/24 absent; BGP session to 10.0.12.2 Active",
        "observed": {"route": False, "bgp_state": "Active"}}
    met = dep.device_state(snapshot(["203.0.113.0/24"], {"10.0.12.2": "Established"}), cond)
    assert met["state"] == "met" and met["detail"] == "r1: route 203.0.113.0/24 present and BGP session to 10.0.12.2 established"
    assert dep.device_state(snapshot(None, {}), cond)["state"] == "undecidable"  # routes not captured: fail closed


def test_device_without_a_snapshot_is_undecidable():
    def take():
        raise dep.GovernedChangeError("ssh: connect to host 127.0.0.1 port 1: Connection refused")
    poll = dep.device_poller(dep.normalize_condition("device", {"host": "r2", "bgp_peer": "10.0.23.3"}), take)
    assert poll()["state"] == "undecidable"


# ---------------------------------------------------------------------------------------------- webhook source
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port, body, secret=None, path="/ready"):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[dep.SECRET_HEADER] = secret
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_webhook_listener_on_loopback_needs_the_secret():
    cond = dep.normalize_condition("webhook", {"port": free_port(), "path": "/ready", "query": "firewall", "expected": "done"})
    with dep.WebhookListener(cond, SECRET) as listener:
        assert listener.server.server_address[0] == "127.0.0.1"
        assert listener()["state"] == "not_met"
        assert post(cond["port"], b'{"firewall": "done"}', secret="wrong") == 403
        assert post(cond["port"], b'{"firewall": "done"}', secret=SECRET, path="/other") == 404
        assert post(cond["port"], b"not json", secret=SECRET) == 400
        assert post(cond["port"], b'{"firewall": "pending"}', secret=SECRET) == 202
        assert listener()["state"] == "not_met"
        assert post(cond["port"], b'{"firewall": "done"}', secret=SECRET) == 202
        polled = listener()
    assert polled["state"] == "met"
    assert listener.rejected == {"wrong or missing secret": 1, "wrong path": 1, "body not JSON": 1}
    verdict = dep.wait_for("webhook", cond, dep.schedule(5), lambda: polled)
    assert SECRET not in json.dumps(verdict) and verdict["condition"]["listen"] == "127.0.0.1:%d" % cond["port"]


def test_webhook_without_a_secret_or_on_a_busy_port_is_refused(monkeypatch):
    monkeypatch.delenv(dep.SECRET_ENV, raising=False)
    cond = dep.normalize_condition("webhook", {"port": free_port()})
    with pytest.raises(ValidationError) as caught:
        dep.run_wait("webhook", {"port": cond["port"]}, dep.schedule(1))
    assert caught.value.where == "secret"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(ValidationError) as caught:
            dep.WebhookListener(dep.normalize_condition("webhook", {"port": busy.getsockname()[1]}), SECRET).start()
    assert caught.value.where == "condition.port"


def test_webhook_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv(dep.SECRET_ENV, SECRET)
    port = free_port()
    fake = FakeClock()

    def sleep(seconds):  # the sender posts while the stage waits
        fake.sleep(seconds)
        if len(fake.sleeps) == 2:
            assert post(port, b"", secret=SECRET, path="/") == 202
    verdict = dep.run_wait("webhook", {"port": port}, dep.schedule(30, 1, 4, 2), monotonic=fake.monotonic, sleep=sleep)
    assert verdict["decision"] == "met" and verdict["attempts"] == 3


# ---------------------------------------------------------------------------------------------- the run's decision
def test_a_failed_wait_cancels_the_change_and_escalates_dependency_not_ready():
    decision = run_decisions.run_decision({"change_id": "CHG-RT", "stage_failed": dep.STAGE, "review": "pass", "window": "pass",
                                           "error": "the dependency was not ready within 60 s", "assessment": {"hosts": ["r1"]}})
    assert (decision["outcome"], decision["reason"], decision["escalate"]) == ("canceled", "dependency_not_ready", True)
    assert decision["close_reason"] == "stage wait_for_dependency failed: the dependency was not ready within 60 s"
    assert decision["devices"]["r1"]["state"] == "untouched"
    assert "dependency_not_ready" in escalation.REASONS
    # a failure after a deploy keeps its own, worse reason: the wait's rule comes after the device rules
    assert outcome.decide({"stage_failed": "verify", "deployed": ["r1"], "failed_hosts": ["r1"], "escalation_configured": True,
                           "records": {"r1": {"verify": {"failed": True}}}})["reason"] == "change_failed"
