# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A change's ServiceNow change request walked through its whole lifecycle by ansible-playbook on localhost.

ServiceNow here is tests/support/servicenow_server.py: a local stand-in of the Table and Attachment APIs on 127.0.0.1
(ServiceNow's documented request and response shapes and its change state model). It is not a ServiceNow instance
and servicenow.itsm is not used (it is not installable here); docs/itsm.md says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import urllib.request

import pytest


from play_runner import LOCAL_INVENTORY, run
from repo_paths import ROOT, VENV_BIN
from servicenow_server import ServiceNowStandIn

from ansible_collections.governed.change.plugins.module_utils import itsm_servicenow
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

PASSWORD = "sn-Pa55word-never-logged-77c1"
TOKEN = "sn-oauth-t0ken-never-logged-4b2e"
CHANGE = "CHG-2001"
ITSM = """
itsm:
  required: %s
  approval_source: true
  group_map: {netops: Network Operations}
  assignment_group: Network Operations
  retries: 1
  timeout_s: 5
"""
CHANGE_YML = """
id: CHG-2001
title: Service address on r1's loopback
description: Add 192.0.2.1/32 as a secondary address on r1's loopback for the monitoring responder.
author: carol
type: normal
category: other
targets: [r1]
config:
  r1:
    lines: ["interface lo", " ip address %s/32"]
expected: []
rollback: {strategy: backup}
"""


def play(*tasks):
    return json.dumps([{"hosts": "all", "gather_facts": False, "tasks": [dict(task, run_once=True) for task in tasks]}])


def itsm_task(stage, policy="policy/policy.yml", change_id=CHANGE, **extra):
    args = dict({"ledger": "ledger.sqlite", "policy": policy, "change_id": change_id, "stage": stage}, **extra)
    return {"name": "ServiceNow at %s" % stage, "governed.change.itsm_change": args, "register": "itsm_%s" % stage}


ASSESS = {"name": "Assess", "register": "assessed", "governed.change.assess": {
    "change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False, "running_configs": {"r1": "r1.cfg"},
    "output_dir": "out", "ledger": "ledger.sqlite"}}
ASSESS_ITSM = itsm_task("assess", assessment="{{ assessed.assessment }}",
                        description="{{ (lookup('file', 'change.yml') | from_yaml).description }}")
REVIEW = {"name": "Review gate", "register": "review", "ignore_errors": True, "governed.change.review_gate": {
    "policy": "policy/policy.yml", "assessment_file": "out/%s.assessment.json" % CHANGE, "ledger": "ledger.sqlite",
    "launcher": "ci-runner", "awx": {"enabled": False}}}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _workdir(base, required="false"):
    os.makedirs(base / "policy")
    text = open(os.path.join(ROOT, "examples", "policy", "policy.yml"), encoding="utf-8").read()
    (base / "policy" / "policy.yml").write_text(text + ITSM % required)
    (base / "inventory.yml").write_text(LOCAL_INVENTORY)
    (base / "change.yml").write_text(CHANGE_YML % "192.0.2.1")
    (base / "r1.cfg").write_text("frr version 8.4\nhostname r1\n")
    return base


def _seed(sn):
    """The CMDB and the users: r1 is a CI (r2 too); bob and carol are in Network Operations, alice is not."""
    for name in ("r1", "r2"):
        sn.insert("cmdb_ci", {"name": name, "sys_class_name": "cmdb_ci_ip_router"})
    group = sn.insert("sys_user_group", {"name": "Network Operations"})
    users = {name: sn.insert("sys_user", {"user_name": name, "name": name.title()}) for name in ("alice", "bob", "carol")}
    for name in ("bob", "carol"):
        sn.insert("sys_user_grmember", {"user": users[name]["sys_id"], "group": group["sys_id"]})
    return users


def _call(sn, method, path, body, user="admin", password=None):
    request = urllib.request.Request(sn.url + path, data=json.dumps(body).encode(), method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json",
        "Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password or sn.users[user])).encode()).decode()})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["result"]


def _decide(sn, approval_sys_id, state):
    """The CAB member decides in ServiceNow (the approval record's state, as the approval form sets it)."""
    return _call(sn, "PATCH", "/api/now/table/sysapproval_approver/%s" % approval_sys_id, {"state": state})


def _env(sn, host=None):
    return {"SN_HOST": host or sn.url, "SN_USERNAME": "admin", "SN_PASSWORD": PASSWORD}


def _events(base, kind):
    ledger = SqliteLedger(str(base / "ledger.sqlite"))
    try:
        return [event["data"] for event in ledger.events(CHANGE) if event["kind"] == kind], ledger.verify()
    finally:
        ledger.close()


def test_a_change_request_follows_the_whole_lifecycle(tmp_path):
    base = _workdir(tmp_path)
    outputs = []
    with ServiceNowStandIn(users={"admin": PASSWORD}, token=TOKEN) as sn:
        users = _seed(sn)
        env = _env(sn)

        # assess: the change request is created from the assessment and moved New -> Assess -> Authorize
        rc, result, _doc, output = run(base, play(ASSESS, ASSESS_ITSM), env=env)
        outputs.append(output)
        assert rc == 0 and result["ok"] is True, output[-3000:]
        [record] = sn.records("change_request")
        assert result["change_request"] == {"sys_id": record["sys_id"], "number": record["number"], "instance": "127.0.0.1:%d" % sn.port}
        tier = json.load(open(base / "out" / ("%s.assessment.json" % CHANGE)))["tier"]
        assert record["type"] == "normal" and record["risk"] == {"low": "4", "medium": "3"}[tier]
        group = next(row for row in sn.records("sys_user_group") if row["name"] == "Network Operations")
        assert record["assignment_group"] == group["sys_id"] and record["chg_model"] == "normal"
        assert record["correlation_id"] == CHANGE and record["short_description"] == "[CHG-2001] Service address on r1's loopback"
        assert record["description"].startswith("Add 192.0.2.1/32 as a secondary address")
        r1 = next(ci for ci in sn.records("cmdb_ci") if ci["name"] == "r1")
        assert record["cmdb_ci"] == r1["sys_id"]
        assert [(row["task"], row["ci_item"]) for row in sn.records("task_ci")] == [(record["sys_id"], r1["sys_id"])]
        assert record["state"] == "-3" and result["steps"] == ["assess", "authorize"]
        linked, _verified = _events(base, "itsm.linked")
        assert linked == [dict(linked[0], sys_id=record["sys_id"], number=record["number"])]

        # the CAB: bob approves, then the change is re-assessed with other content, so bob's approval is stale;
        # carol (the author) approves her own change; alice approves but ServiceNow does not list her in Network Operations
        approvals = {name: sn.insert("sysapproval_approver", {
            "sysapproval": record["sys_id"], "approver": users[name]["sys_id"], "state": "requested"}) for name in ("bob", "carol", "alice")}
        _decide(sn, approvals["bob"]["sys_id"], "approved")
        (base / "change.yml").write_text(CHANGE_YML % "192.0.2.9")
        rc, result, _doc, output = run(base, play(ASSESS, ASSESS_ITSM), env=env)
        outputs.append(output)
        assert rc == 0 and result["steps"] == [], output[-3000:]
        current = json.load(open(base / "out" / ("%s.assessment.json" % CHANGE)))["content_hash"]
        assert "governed.change content_hash: %s" % current in sn.records("change_request")[0]["description"]
        _decide(sn, approvals["carol"]["sys_id"], "approved")
        _decide(sn, approvals["alice"]["sys_id"], "approved")
        rc, result, _doc, output = run(base, play(REVIEW), env=env)
        outputs.append(output)
        assert "verdict" in result, output[-3000:]
        verdict = result["verdict"]
        assert verdict["decision"] == "fail", output[-3000:]
        reasons = {item["approver"]: item["reason"] for item in verdict["rejected"]}
        assert "the content changed, earlier approvals are void" in reasons["bob"]
        assert "segregation of duties forbids approving your own change" in reasons["carol"]
        assert "ServiceNow does not list alice in Network Operations" in reasons["alice"]
        assert verdict["sources"]["servicenow"]["number"] == record["number"]

        # bob approves the current content: the review gate passes on the CAB approval
        _decide(sn, approvals["bob"]["sys_id"], "requested")
        _decide(sn, approvals["bob"]["sys_id"], "approved")
        rc, result, _doc, output = run(base, play(REVIEW, itsm_task("review", note="{{ review.verdict.reasons | join('; ') }}")), env=env)
        outputs.append(output)
        verdict = result and _doc["plays"][0]["tasks"][0]["hosts"]
        verdict = next(iter(verdict.values()))["verdict"]
        assert verdict["decision"] == "pass", output[-3000:]
        assert [(item["identity"], item["source"]) for item in verdict["counted"]] == [("bob", "servicenow")]
        assert result["state"] == "scheduled" and result["steps"] == ["scheduled"]

        # implement: the locks move the ledger to implement; verify adds a note only
        lock = {"name": "Lock", "governed.change.lock": {
            "ledger": "ledger.sqlite", "change_id": CHANGE, "devices": ["r1"], "owner": "ci-runner", "ttl": 600, "transition": "implement"}}
        before = len(sn.requests)
        rc, result, _doc, output = run(base, play(lock, itsm_task("deploy"), itsm_task("verify")),
                                       env={"SN_HOST": sn.url, "SN_ACCESS_TOKEN": TOKEN, "SN_USERNAME": "", "SN_PASSWORD": ""})
        outputs.append(output)
        assert rc == 0 and result["state"] == "implement" and result["steps"] == [], output[-3000:]
        assert {req[3] for req in sn.requests[before:]} == {"oauth"}  # the bearer token, not basic auth

        # close: the ledger closes successful, then the change request gets the evidence and its close code
        close = {"name": "Close", "register": "closed", "governed.change.close": {
            "ledger": "ledger.sqlite", "change_id": CHANGE, "outcome": "successful", "reason": "verified on r1",
            "output_dir": "out", "policy": "policy/policy.yml"}}
        decision = {"outcome": "successful", "close_reason": "verified: service address up on r1"}
        rc, result, _doc, output = run(base, play(close, itsm_task("close", decision=decision, output_dir="out",
                                                                   servicenow={"password": PASSWORD})),
                                       env=dict(env, SN_PASSWORD="wrong", GOVERNED_EVIDENCE_ENABLED="0"))
        outputs.append(output)
        assert rc == 0 and result["state"] == "closed" and result["steps"] == ["review", "closed"], output[-3000:]

        record = sn.records("change_request")[0]
        steps = [(old, new) for sys_id, old, new, _at in sn.state_changes if sys_id == record["sys_id"]]
        assert steps == [("-5", "-4"), ("-4", "-3"), ("-3", "-2"), ("-2", "-1"), ("-1", "0"), ("0", "3")]
        assert record["close_code"] == "successful" and record["close_notes"] == "verified: service address up on r1"
        notes = [row["value"].split(":")[0] for row in sn.journal(record["sys_id"])]
        assert notes == ["governed.change stage %s" % stage for stage in ("assess", "assess", "review", "deploy", "verify", "close")]
        evidence = base / "out" / "evidence" / CHANGE
        attached = {row["file_name"]: row for row in sn.records("sys_attachment") if row["table_sys_id"] == record["sys_id"]}
        assert sorted(attached) == ["bundle.json", "report.html"]
        for name, row in attached.items():
            payload = (evidence / name).read_bytes()
            assert sn.files[row["sys_id"]] == payload and row["hash"] == hashlib.sha256(payload).hexdigest()
        assert [item["sha256"] for item in result["attachments"]] == [attached[n]["hash"] for n in ("bundle.json", "report.html")]
        assert {req[3] for req in sn.requests[:before]} == {"admin"} and not sn.refused

    synced, verified = _events(base, "itsm.synced")
    assert verified["ok"] is True and [item["stage"] for item in synced] == ["assess", "assess", "review", "deploy", "verify", "close"]
    assert synced[-1]["attachments"][0]["sha256"] == hashlib.sha256((evidence / "bundle.json").read_bytes()).hexdigest()
    # the password never reaches the ledger, the evidence or the output of any run
    for secret in (PASSWORD, TOKEN):
        assert secret.encode() not in (base / "ledger.sqlite").read_bytes()
        for name in ("bundle.json", "report.html"):
            assert secret.encode() not in (evidence / name).read_bytes()
        assert not any(secret in output for output in outputs)


def test_unreachable_servicenow_is_recorded_or_fails_closed(tmp_path):
    base = _workdir(tmp_path)
    (base / "policy_required").mkdir()
    text = (base / "policy" / "policy.yml").read_text().replace("required: false", "required: true")
    (base / "policy_required" / "policy.yml").write_text(text)
    env = {"SN_HOST": "http://127.0.0.1:%d" % _free_port(), "SN_USERNAME": "admin", "SN_PASSWORD": PASSWORD}
    optional = dict(ASSESS_ITSM, ignore_errors=True)
    required = dict(itsm_task("assess", policy="policy_required/policy.yml", assessment="{{ assessed.assessment }}"))
    rc, _result, doc, output = run(base, play(ASSESS, optional, required), env=env)
    # the optional and the required task share a name: read them in order
    _assessed, optional_result, required_result = [next(iter(task["hosts"].values())) for task in doc["plays"][0]["tasks"]]
    assert optional_result.get("failed") is not True and optional_result["ok"] is False, output[-3000:]
    assert "ServiceNow is unreachable" in optional_result["msg"]
    assert rc == 2 and required_result["failed"] is True
    message = required_result["msg"]
    assert message.startswith("governed.change.itsm_change: ") and "ServiceNow is unreachable" in message
    assert "(stage assess)" in message and "itsm.required: true" in message
    failed, verified = _events(base, "itsm.failed")
    assert verified["ok"] is True and [item["required"] for item in failed] == [False, True]
    linked, _verified = _events(base, "itsm.linked")
    assert linked == []
    assert PASSWORD not in output and PASSWORD.encode() not in (base / "ledger.sqlite").read_bytes()


def _stage(base, playbook, env, *extra):
    """One stage playbook (an AWX job template) as AWX runs it: the shared governed_* extra vars."""
    variables = {"governed_policy": str(base / "policy" / "policy.yml"), "governed_output_dir": str(base / "out"),
                 "governed_change_request": str(base / "change.yml"), "governed_fetch_running": False,
                 "governed_assessment_file": str(base / "out" / "assessments" / ("%s.assessment.json" % CHANGE)), "governed_change_id": CHANGE,
                 "governed_launcher": "ci-runner"}
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", **env)
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory.yml", os.path.join(ROOT, "playbooks", playbook),
                           "-e", json.dumps(variables)] + list(extra), cwd=str(base), env=environ, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


def test_the_stage_playbooks_keep_the_change_request(tmp_path):
    """playbooks/assess.yml, review.yml and close.yml (the AWX job templates) call the adapter through the pipeline
    role's itsm tasks: created at assess, scheduled after the review, canceled with its notes and evidence at close."""
    base = _workdir(tmp_path)
    with ServiceNowStandIn(users={"admin": PASSWORD}) as sn:
        users = _seed(sn)
        env = _env(sn)
        rc, output = _stage(base, "assess.yml", env)
        assert rc == 0, output[-3000:]
        [record] = sn.records("change_request")
        assert record["state"] == "-3" and record["correlation_id"] == CHANGE
        approval = sn.insert("sysapproval_approver", {"sysapproval": record["sys_id"], "approver": users["bob"]["sys_id"],
                                                      "state": "requested"})
        _decide(sn, approval["sys_id"], "approved")
        rc, output = _stage(base, "review.yml", env)
        assert rc == 0, output[-3000:]
        assert sn.records("change_request")[0]["state"] == "-2"
        rc, output = _stage(base, "close.yml", env, "-e", "governed_close_outcome=canceled")
        assert rc == 0, output[-3000:]
        record = sn.records("change_request")[0]
        assert record["state"] == "4" and record["close_notes"]
        assert [row["value"].split(":")[0] for row in sn.journal(record["sys_id"])] == [
            "governed.change stage %s" % stage for stage in ("assess", "review", "close")]
        attached = sorted(row["file_name"] for row in sn.records("sys_attachment"))
        assert attached == ["bundle.json", "report.html"]
    assert PASSWORD not in output


@pytest.mark.parametrize("change_class, expected", [
    ("standard", [("-5", "-2"), ("-2", "-1"), ("-1", "0"), ("0", "3")]),
    ("emergency", [("-5", "-3"), ("-3", "-2"), ("-2", "-1"), ("-1", "0"), ("0", "3")]),
])
def test_standard_and_emergency_changes_follow_their_state_models(change_class, expected):
    """The adapter's client against the stand-in, stage by stage as the ledger moves (no play: the models only)."""
    assessment = {"change_id": "CHG-7", "title": "t", "change_class": change_class, "tier": "low", "hosts": ["r9"],
                  "content_hash": "c" * 64}
    with ServiceNowStandIn(users={"admin": PASSWORD}) as sn:
        client = itsm_servicenow.client_from({}, env={"SN_HOST": sn.url, "SN_USERNAME": "admin", "SN_PASSWORD": PASSWORD})
        link = itsm_servicenow.create_change(client, assessment)
        assert link["missing_cis"] == ["r9"] and link["cis"] == {}
        for stage, state in (("assess", "authorize"), ("review", "scheduled"), ("deploy", "implement"), ("close", "closed")):
            itsm_servicenow.sync_change(client, link, state, stage, assessment["content_hash"], outcome="successful_issues",
                                        reason="one check flapped")
        record = sn.records("change_request")[0]
        assert [(old, new) for _sys_id, old, new, _at in sn.state_changes] == expected
        assert record["type"] == change_class and record["close_code"] == "successful_issues" and not sn.refused


def _raw(sn, method, path, body=None, content_type="application/json"):
    """One call as servicenow.itsm's client makes it; (status, headers, decoded JSON or None)."""
    request = urllib.request.Request(sn.url + path, data=body, method=method, headers={
        "Accept": "application/json", "Content-Type": content_type,
        "Authorization": "Basic " + base64.b64encode(("admin:%s" % PASSWORD).encode()).decode()})
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
        return response.status, response.headers, json.loads(raw) if raw else None


def test_the_stand_in_answers_the_calls_servicenow_itsm_makes():
    """The request shapes of servicenow.itsm's TableClient and AttachmentClient (name-value filters, paging with
    X-Total-Count, sysparm_exclude_reference_link, attachment upload with content_type and hash, DELETE) - the
    collection itself is not installed here, so these are its calls as its module_utils make them."""
    with ServiceNowStandIn(users={"admin": PASSWORD}) as sn:
        users = _seed(sn)
        change = sn.insert("change_request", {"short_description": "x", "requested_by": users["bob"]["sys_id"]})
        status, headers, doc = _raw(sn, "GET", "/api/now/table/change_request?number=%s&sysparm_exclude_reference_link=true"
                                    "&sysparm_limit=1000&sysparm_offset=0" % change["number"])
        assert status == 200 and headers["X-Total-Count"] == "1"
        assert doc["result"][0]["requested_by"] == users["bob"]["sys_id"]  # a bare sys_id, no {link, value}
        status, headers, doc = _raw(sn, "GET", "/api/now/table/sys_user?sysparm_limit=2&sysparm_offset=2")
        assert headers["X-Total-Count"] == "3" and [row["user_name"] for row in doc["result"]] == ["carol"]
        payload = b"\x00evidence\xff"
        query = "table_name=change_request&table_sys_id=%s&file_name=e.bin&content_type=application/octet-stream&hash=%s" % (
            change["sys_id"], hashlib.sha256(payload).hexdigest())
        status, _headers, doc = _raw(sn, "POST", "/api/now/attachment/file?" + query, payload, "application/octet-stream")
        assert status == 201 and doc["result"]["hash"] == hashlib.sha256(payload).hexdigest()
        status, headers, listed = _raw(sn, "GET", "/api/now/attachment?table_name=change_request&table_sys_id=%s&sysparm_limit=10000"
                                       "&sysparm_offset=0" % change["sys_id"])
        assert headers["X-Total-Count"] == "1" and listed["result"][0]["file_name"] == "e.bin"
        assert _raw(sn, "DELETE", "/api/now/attachment/%s" % doc["result"]["sys_id"])[0] == 204
        assert _raw(sn, "GET", "/api/now/attachment?table_name=change_request")[2]["result"] == []
