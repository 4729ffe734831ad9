# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.review_gate and window_gate run for real through ansible-playbook on local hosts.

Approvals are signed with real ssh-keygen keys through the governed-change command; the change record comes from a
real governed.change.assess run. The AWX source is a local http.server on 127.0.0.1 answering with JSON shaped like
the AWX/AAP controller API v2 (the same shapes as tests/unit/plugins/module_utils/test_awx.py; it is not AWX).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

from play_runner import LOCAL_INVENTORY, run
from receivers import JsonHandler
from repo_paths import ROOT, VENV_BIN

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import clock
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

TOKEN = "awx-t0ken-never-logged-5f1e"
BGP = "CHG-2001"
EMERGENCY = "CHG-2003-EMERG"
USERS = ("alice", "bob", "carol", "dave")

INVENTORY = LOCAL_INVENTORY

CHANGES = {
    "bgp.yml": """
id: CHG-2001
title: Advertise loopbacks from r2 via BGP
description: Redistribute connected loopbacks on r2 into BGP.
author: carol
type: normal
category: bgp_policy
targets: [r2]
config:
  r2:
    lines:
      - "ip prefix-list PL-LOOPBACKS seq 5 permit 10.255.0.0/24 ge 32"
      - "router bgp 65002"
      - " address-family ipv4 unicast"
      - "  redistribute connected route-map RM-CONNECTED"
expected: []
rollback: {strategy: backup}
""",
    "emergency.yml": """
id: CHG-2003-EMERG
title: Blackhole a DDoS source on r1
description: Install a blackhole route now; reviewed after the fact.
author: carol
type: emergency
category: other
targets: [r1]
config:
  r1:
    lines: ["ip route 203.0.113.66/32 blackhole"]
expected: []
rollback: {strategy: backup}
""",
}

ASSESS_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Assess {{ item }}
      governed.change.assess:
        change_request: "{{ item }}"
        policy: policy/policy.yml
        fetch_running: false
        running_configs: {r1: r1.cfg, r2: r2.cfg}
        output_dir: out
        ledger: ledger.sqlite
      run_once: true
      loop: [bgp.yml, emergency.yml]
"""


def gate_play(name, args):
    """A play over every host running one gate once for the change."""
    return json.dumps([{"hosts": "all", "gather_facts": False,
                        "tasks": [{"name": name, "governed.change.%s" % name: args, "run_once": True}]}])


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    """A policy with real allowed signers, an inventory, and both changes assessed into a ledger."""
    base = tmp_path_factory.mktemp("gates")
    os.makedirs(base / "policy")
    shutil.copy(os.path.join(ROOT, "examples", "policy", "policy.yml"), base / "policy" / "policy.yml")
    signers = []
    for user in USERS:
        key = base / ("key_%s" % user)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user, "-f", str(key)], check=True)
        pub = (base / ("key_%s.pub" % user)).read_text().split()
        signers.append('%s@lab namespaces="governed.change" %s %s' % (user, pub[0], pub[1]))
    (base / "policy" / "allowed_signers").write_text("\n".join(signers) + "\n")
    (base / "inventory.yml").write_text(INVENTORY)
    for name, text in CHANGES.items():
        (base / name).write_text(text)
    (base / "r1.cfg").write_text("frr version 8.4\nhostname r1\n")
    (base / "r2.cfg").write_text("frr version 8.4\nhostname r2\nrouter bgp 65002\n address-family ipv4 unicast\n"
                                 "  network 10.255.0.2/32\n exit-address-family\n")
    rc, _result, _doc, output = run(base, ASSESS_PLAY)
    assert rc == 0, output[-3000:]
    assert os.path.isfile(base / "out" / ("%s.assessment.json" % BGP))
    return base


@pytest.fixture
def work(assessed, tmp_path):
    """A private copy of the assessed workspace (its own ledger), so each test starts from the assessed change."""
    dest = tmp_path / "w"
    shutil.copytree(str(assessed), str(dest))
    return dest


def approve(work, user, change=BGP, decision="approve", expect=0):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.run([os.path.join(VENV_BIN, "python"), "-m", "ansible_collections.governed.change.plugins.module_utils.cli",
                           decision, "--ledger", "ledger.sqlite", "--change", change,
                           "--assessment", "out/%s.assessment.json" % change, "--key", "key_%s" % user,
                           "--identity", user, "--policy", "policy/policy.yml", "--yes"],
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout if expect == 0 else proc.stderr


def ledger_view(work, change=BGP):
    with SqliteLedger(str(work / "ledger.sqlite")) as ledger:
        return ledger.get_change(change), ledger.events(change_id=change), ledger.approvals(change)


def review(work, *extra, check=True, env=None, **args):
    options = {"policy": "policy/policy.yml", "assessment_file": "out/%s.assessment.json" % BGP, "ledger": "ledger.sqlite"}
    options.update(args)
    return run(work, gate_play("review_gate", options), *extra, env=env, check=check)


def window(work, now, *extra, change=BGP, **args):
    options = {"policy": "policy/policy.yml", "assessment_file": "out/%s.assessment.json" % change, "ledger": "ledger.sqlite",
               "now": now}
    options.update(args)
    return run(work, gate_play("window_gate", options), *extra)


# -- review gate --------------------------------------------------------------------------------------------------
def test_honest_path_passes_and_is_recorded(work):
    approve(work, "alice")
    approve(work, "bob")
    rc, result, doc, _output = review(work)
    assert rc == 0, result.get("msg")
    verdict = result["verdict"]
    assert verdict["decision"] == "pass" and sorted(i["identity"] for i in verdict["counted"]) == ["alice", "bob"]
    assert verdict["reasons"] == ["2 distinct approvals (alice, bob) meet tier high's requirement of 2."]
    assert result["ansible_facts"]["governed_review"]["decision"] == "pass"
    stats = doc["global_custom_stats"]["governed_review"]
    assert stats["decision"] == "pass" and stats["approvers"] == ["alice", "bob"] and "counted" not in stats
    change, events, _approvals = ledger_view(work)
    assert events[-2]["kind"] == "verdict.review" and events[-2]["data"]["verdict"]["decision"] == "pass"
    assert change["state"] == "scheduled" and events[-1]["data"]["reason"] == "review gate passed"


def test_self_approval_by_the_author_is_refused_with_the_reason(work):
    approve(work, "alice")
    # carol wrote the change: governed-change approve refuses to sign it ...
    assert "carol is the author of change CHG-2001" in approve(work, "carol", expect=2)
    # ... and a self-approval that reaches the ledger another way (signed by hand, recorded directly) is refused by the gate
    with SqliteLedger(str(work / "ledger.sqlite")) as ledger:
        content_hash = ledger.get_change(BGP)["content_hash"]
        ledger.record_approval(approvals_mod.sign_approval(BGP, content_hash, "approve", "carol", str(work / "key_carol"),
                                                           principal="carol@lab"), actor="carol")
    rc, result, _doc, _output = review(work)
    assert rc == 2 and result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("governed.change.review_gate: change CHG-2001 (tier high) is not authorized:")
    assert ("carol (ssh): carol is the change's author; segregation of duties forbids approving your own change; "
            "fix: another person from netops, cab approves.") in msg
    assert "1 of 2 required distinct approvals for tier high; fix: 1 more approver(s) from [netops, cab] sign" in msg
    assert "no approval from group cab; fix: a member of cab approves." in msg
    _change, events, _approvals = ledger_view(work)
    assert events[-1]["kind"] == "verdict.review" and events[-1]["data"]["verdict"]["decision"] == "fail"


def test_approval_by_the_launcher_is_refused(work):
    approve(work, "alice")
    approve(work, "bob")
    rc, result, _doc, _output = review(work, "-e", "awx_user_name=bob")
    assert rc == 2
    assert "bob (ssh): bob is the change's launcher; segregation of duties forbids approving your own change" in result["msg"]
    rc, result, _doc, _output = review(work, launcher="alice")
    assert rc == 2 and "alice (ssh): alice is the change's launcher" in result["msg"]


def test_missing_allowed_signers_fails_closed(work):
    approve(work, "alice")
    approve(work, "bob")
    rc, result, _doc, _output = review(work, allowed_signers="policy/no_such_signers")
    assert rc == 2 and "no_such_signers does not exist" in result["msg"]


def test_check_mode_evaluates_and_records_nothing(work):
    approve(work, "alice")
    approve(work, "bob")
    before = ledger_view(work)
    rc, result, _doc, _output = review(work, "--check")
    assert rc == 0 and result["verdict"]["decision"] == "pass"
    assert result["recorded"] is False and result["changed"] is False
    rc, result, _doc, _output = window(work, "2026-11-28T02:00:00Z", "--check")
    assert rc == 0 and result["recorded"] is False
    assert ledger_view(work) == before


# -- window gate --------------------------------------------------------------------------------------------------
def test_window_open_passes_and_closed_is_refused(work):
    rc, result, _doc, _output = window(work, "2026-11-28T02:00:00Z")  # Saturday 02:00 in London: lon-weekend is open
    assert rc == 0 and result["verdict"]["windows_open"] == ["lon-weekend"]
    rc, result, doc, _output = window(work, "2026-11-27T12:00:00Z")  # Friday noon
    assert rc == 2
    assert result["msg"] == ("governed.change.window_gate: change CHG-2001 may not run now: r2 outside their maintenance windows "
                             "(lon-weekend); fix: run when the windows open (see next opening, or wait for it) or reschedule the "
                             "change. next opening for all targets: 2026-11-28T01:00:00Z (in 13h00m).")
    assert result["verdict"]["next_open"] == "2026-11-28T01:00:00Z"
    assert "governed_window" not in doc.get("global_custom_stats", {})  # Ansible applies set_stats of successful tasks only
    _change, events, _approvals = ledger_view(work)
    assert [e["data"]["verdict"]["decision"] for e in events if e["kind"] == "verdict.window"] == ["pass", "fail"]


def test_freeze_is_refused(work):
    rc, result, _doc, _output = window(work, "2026-12-26T02:00:00Z")  # a Saturday window, inside the year-end freeze
    assert rc == 2 and result["verdict"]["freezes_active"] == ["year-end"]
    assert "freeze year-end (2026-12-20T00:00:00Z to 2027-01-04T00:00:00Z) covers r2; fix: wait until 2027-01-04T00:00:00Z" in result["msg"]


def test_emergency_bypass_records_the_post_hoc_review(work):
    rc, result, doc, _output = window(work, "2026-12-26T12:00:00Z", change=EMERGENCY)
    assert rc == 0, result.get("msg")
    bypass = result["verdict"]["bypass"]
    assert bypass["post_review_due"] == "2026-12-28T12:00:00Z"
    assert bypass["bypassed"] == [{"kind": "freeze", "name": "year-end", "hosts": ["r1"]}]
    assert doc["global_custom_stats"]["governed_window"]["post_review_due"] == "2026-12-28T12:00:00Z"
    _change, events, _approvals = ledger_view(work, EMERGENCY)
    assert events[-2]["kind"] == "verdict.window"
    assert events[-1]["kind"] == "review.post_hoc_due" and events[-1]["data"]["post_review_due"] == "2026-12-28T12:00:00Z"
    # The same freeze still blocks a normal change.
    rc, _result, _doc, _output = window(work, "2026-12-26T02:00:00Z")
    assert rc == 2


def test_wait_for_the_window_to_open(work):
    rc, result, _doc, _output = window(work, "2026-11-28T00:59:58Z", wait=True, wait_max_seconds=30)
    assert rc == 0 and 1.5 <= result["verdict"]["waited_s"] < 30
    rc, result, _doc, _output = window(work, "2026-11-27T12:00:00Z", wait=True, wait_max_seconds=30)
    assert rc == 2 and result["verdict"]["can_wait"] is False and "2026-11-28T01:00:00Z" in result["msg"]


# -- AWX as a second source ---------------------------------------------------------------------------------------
def _user(uid, name):
    return {"id": uid, "username": name}


def _job(job_id, launcher):
    return {"id": job_id, "type": "workflow_job", "status": "running",
            "launched_by": {"id": 7, "name": launcher, "type": "user", "url": "/api/v2/users/7/"},
            "summary_fields": {"created_by": _user(7, launcher)}}


def _node(node_id, approval_id):
    return {"id": node_id, "type": "workflow_job_node", "job": approval_id,
            "summary_fields": {"job": {"id": approval_id, "name": "CAB approval", "status": "successful", "type": "workflow_approval"},
                               "unified_job_template": {"id": 9, "name": "CAB approval", "unified_job_type": "workflow_approval"}}}


def _approval(approval_id, by, finished):
    return {"id": approval_id, "type": "workflow_approval", "name": "CAB approval", "description": "", "status": "successful",
            "timed_out": False, "finished": finished, "modified": finished,
            "summary_fields": {"approved_or_denied_by": _user(2, by)}}


class AwxHandler(JsonHandler):
    """AWX-shaped answers; 401 without the bearer token. Workflow 42 is launched by bob, who also approves."""

    routes = {}

    def do_GET(self):  # noqa: N802 - http.server API
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self._send(401, {"detail": "Authentication credentials were not provided."})
        doc = self.routes.get(self.path)
        return self._send(404, {"detail": "Not found."}) if doc is None else self._send(200, doc)


@pytest.fixture(scope="module")
def awx_server():
    finished = clock.utc_now().strftime("%Y-%m-%dT%H:%M:%S.123456Z")
    AwxHandler.routes = {
        "/api/v2/workflow_jobs/42/": _job(42, "bob"),
        "/api/v2/workflow_jobs/42/workflow_nodes/": {"count": 2, "next": None, "previous": None, "results": [_node(1, 101), _node(2, 102)]},
        "/api/v2/workflow_jobs/43/": _job(43, "svc-pipeline"),
        "/api/v2/workflow_jobs/43/workflow_nodes/": {"count": 2, "next": None, "previous": None, "results": [_node(3, 101), _node(4, 102)]},
        "/api/v2/workflow_approvals/101/": _approval(101, "alice", finished),
        "/api/v2/workflow_approvals/102/": _approval(102, "bob", finished),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AwxHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_awx_launcher_approving_is_refused(work, awx_server):
    rc, result, _doc, output = review(work, "-vvv", awx={"url": awx_server, "token": TOKEN, "workflow_job_id": 42})
    assert rc == 2
    verdict = result["verdict"]
    assert verdict["launchers"] == ["bob"] and verdict["sources"]["awx"]["launcher"] == "bob"
    assert "bob (awx): bob is the change's launcher; segregation of duties forbids approving your own change" in result["msg"]
    assert [i["identity"] for i in verdict["counted"]] == ["alice"]
    assert TOKEN not in output
    _change, events, approvals = ledger_view(work)
    assert sorted((a["approver"], a["source"]) for a in approvals) == [("alice", "awx"), ("bob", "awx")]
    assert TOKEN not in json.dumps(events)


def test_awx_source_inside_a_workflow_passes_and_counts_once(work, awx_server):
    env = {"CONTROLLER_HOST": awx_server, "CONTROLLER_OAUTH_TOKEN": TOKEN}
    args = ("-e", "awx_workflow_job_id=43", "-e", "awx_user_name=svc-pipeline")
    rc, result, _doc, output = review(work, *args, env=env)
    assert rc == 0, result.get("msg")
    assert sorted(i["identity"] for i in result["verdict"]["counted"]) == ["alice", "bob"]
    assert TOKEN not in output
    rc, result, _doc, _output = review(work, *args, env=env)  # the copies in the ledger are not counted twice
    assert rc == 0 and len(result["verdict"]["counted"]) == 2
    assert len(ledger_view(work)[2]) == 2
    # Inside a workflow without a controller credential the gate cannot read AWX: it fails closed.
    rc, result, _doc, _output = review(work, *args)
    assert rc == 2
    assert ("governed.change.review_gate: awx: the AWX approval source is in use (inside AWX workflow job 43) but not all "
            "of it is known (missing: url, token)") in result["msg"]
