# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX/AAP approvals as a second source, against a local HTTP server.

The server below is NOT AWX: it is a stand-in on 127.0.0.1 that answers with JSON shaped like the AWX/AAP
controller API v2 (GET /api/v2/workflow_jobs/{id}/ with ``launched_by`` and ``summary_fields.created_by``;
/api/v2/workflow_jobs/{id}/workflow_nodes/ as a paginated {count, next, previous, results} list whose nodes
carry ``summary_fields.job`` {id, type: workflow_approval, status}; /api/v2/workflow_approvals/{id}/ with
``status`` successful|failed|pending, ``timed_out``, ``finished`` and ``summary_fields.approved_or_denied_by``
{id, username}), as AWX's WorkflowApprovalSerializer / WorkflowJobSerializer render them.
"""

from __future__ import annotations

import datetime
import http.server
import threading

import pytest

from ansible_collections.governed.change.plugins.module_utils.awx import AwxClient, read_workflow_approvals
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

from receivers import JsonHandler

TOKEN = "s3cr3t-awx-token-value"
HASH = "c" * 64
NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


def user(uid, name):
    return {"id": uid, "username": name, "first_name": "", "last_name": ""}


def job(job_id, launcher):
    return {"id": job_id, "type": "workflow_job", "url": "/api/v2/workflow_jobs/%d/" % job_id, "name": "governed-change",
            "status": "running", "launch_type": "manual",
            "launched_by": {"id": 7, "name": launcher, "type": "user", "url": "/api/v2/users/7/"},
            "summary_fields": {"created_by": user(7, launcher), "workflow_job_template": {"id": 3, "name": "governed-change"}}}


def node(node_id, approval_id, status="successful", kind="workflow_approval"):
    return {"id": node_id, "type": "workflow_job_node", "job": approval_id, "workflow_job": 42,
            "summary_fields": {"job": {"id": approval_id, "name": "CAB approval", "status": status, "type": kind},
                               "unified_job_template": {"id": 9, "name": "CAB approval", "unified_job_type": kind}}}


def approval(approval_id, status, by=None, timed_out=False, description=""):
    return {"id": approval_id, "type": "workflow_approval", "url": "/api/v2/workflow_approvals/%d/" % approval_id,
            "name": "CAB approval", "description": description, "status": status, "failed": status == "failed",
            "timed_out": timed_out, "finished": "2026-11-27T10:00:00.123456Z" if status != "pending" else None,
            "modified": "2026-11-27T10:00:00.123456Z", "approval_expiration": None, "can_approve_or_deny": False,
            "summary_fields": ({"approved_or_denied_by": user(2, by)} if by else {})}


def routes():
    nodes_42 = [node(1, None, kind="job"), node(2, 101), node(3, 102), node(4, 103, "pending")]
    nodes_42[0]["summary_fields"]["job"] = {"id": 55, "type": "job", "status": "successful"}
    nodes_42[0]["summary_fields"]["unified_job_template"]["unified_job_type"] = "job"
    return {
        # workflow 42: launched by bob, approved by alice and by bob himself (AWX allows that: awx#10610)
        "/api/v2/workflow_jobs/42/": job(42, "bob"),
        "/api/v2/workflow_jobs/42/workflow_nodes/": {"count": 4, "next": "/api/v2/workflow_jobs/42/workflow_nodes/?page=2",
                                                     "previous": None, "results": nodes_42[:2]},
        "/api/v2/workflow_jobs/42/workflow_nodes/?page=2": {"count": 4, "next": None, "previous": "x", "results": nodes_42[2:]},
        "/api/v2/workflow_approvals/101/": approval(101, "successful", "alice"),
        "/api/v2/workflow_approvals/102/": approval(102, "successful", "bob"),
        "/api/v2/workflow_approvals/103/": approval(103, "pending"),
        # workflow 43: launched by svc-pipeline, approved by alice and bob
        "/api/v2/workflow_jobs/43/": job(43, "svc-pipeline"),
        "/api/v2/workflow_jobs/43/workflow_nodes/": {"count": 2, "next": None, "previous": None,
                                                     "results": [node(5, 101), node(6, 102)]},
        # workflow 44: one approves, one denies, one timed out
        "/api/v2/workflow_jobs/44/": job(44, "svc-pipeline"),
        "/api/v2/workflow_jobs/44/workflow_nodes/": {"count": 3, "next": None, "previous": None,
                                                     "results": [node(7, 101), node(8, 104), node(9, 105)]},
        "/api/v2/workflow_approvals/104/": approval(104, "failed", "carol"),
        "/api/v2/workflow_approvals/105/": approval(105, "failed", None, timed_out=True),
        # workflow 45: an approval node whose description binds an older content hash
        "/api/v2/workflow_jobs/45/": job(45, "svc-pipeline"),
        "/api/v2/workflow_jobs/45/workflow_nodes/": {"count": 2, "next": None, "previous": None,
                                                     "results": [node(10, 101), node(11, 106)]},
        "/api/v2/workflow_approvals/106/": approval(106, "successful", "bob", description="content_hash: %s" % ("b" * 64)),
    }


class Handler(JsonHandler):
    """Answers GETs from the routes table; 401 without the right bearer token."""

    seen_auth = []

    def do_GET(self):  # noqa: N802 - http.server API
        self.seen_auth.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self._send(401, {"detail": "Authentication credentials were not provided."})
        doc = routes().get(self.path)
        if doc is None:
            return self._send(404, {"detail": "Not found."})
        return self._send(200, doc)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server):
    return AwxClient(server, TOKEN, timeout=5)


POLICY = {
    "identities": {"alice": {"groups": ["netops"], "principals": ["alice@lab"]},
                   "bob": {"groups": ["netops", "cab"], "principals": ["bob@lab"]},
                   "carol": {"groups": ["cab"], "principals": ["carol@lab"]}},
    "requirements": {tier: {"approvals": {"count": 2, "groups": ["netops"], "segregation_of_duties": True, "max_age_hours": 24}}
                     for tier in ("low", "medium", "high", "critical")},
}
ASSESSMENT = {"change_id": "CHG-1001", "tier": "high", "content_hash": HASH, "change_class": "normal"}


def test_reads_launcher_and_approval_nodes(client):
    result = read_workflow_approvals(client, 42, "CHG-1001", content_hash=HASH)
    assert result["launcher"] == "bob" and result["created_by"] == "bob" and result["workflow_job"] == 42
    assert [(a["approver"], a["decision"]) for a in result["approvals"]] == [("alice", "approve"), ("bob", "approve")]
    first = result["approvals"][0]
    assert first["source"] == "awx" and first["verified"] is True and first["content_hash"] == HASH
    assert first["ts"] == "2026-11-27T10:00:00.123456Z" and first["awx"]["binding"] == "workflow_job"
    assert [p["approval_id"] for p in result["pending"]] == [103]


def test_self_approval_by_launcher_refused(client):
    result = read_workflow_approvals(client, 42, "CHG-1001", content_hash=HASH)
    verdict = review_gate(POLICY, ASSESSMENT, result["approvals"], "erin", result["launcher"], NOW)
    assert verdict["decision"] == "fail"
    assert verdict["rejected"][0]["approver"] == "bob" and "bob is the change's launcher" in verdict["rejected"][0]["reason"]


def test_honest_awx_path_passes(client):
    result = read_workflow_approvals(client, 43, "CHG-1001", content_hash=HASH)
    verdict = review_gate(POLICY, ASSESSMENT, result["approvals"], "erin", result["launcher"], NOW)
    assert verdict["decision"] == "pass", verdict["reasons"]
    assert [c["identity"] for c in verdict["counted"]] == ["alice", "bob"]


def test_deny_in_awx_wins_and_timeout_is_no_decision(client):
    result = read_workflow_approvals(client, 44, "CHG-1001", content_hash=HASH)
    assert [(a["approver"], a["decision"]) for a in result["approvals"]] == [("alice", "approve"), ("carol", "deny")]
    assert [i["approval_id"] for i in result["ignored"]] == [105]
    verdict = review_gate(POLICY, ASSESSMENT, result["approvals"], "erin", result["launcher"], NOW)
    assert verdict["decision"] == "fail" and verdict["denied_by"][0]["identity"] == "carol"


def test_awx_approval_bound_to_older_hash_is_void(client):
    result = read_workflow_approvals(client, 45, "CHG-1001", content_hash=HASH)
    assert result["approvals"][1]["content_hash"] == "b" * 64 and result["approvals"][1]["awx"]["binding"] == "statement"
    verdict = review_gate(POLICY, ASSESSMENT, result["approvals"], "erin", result["launcher"], NOW)
    assert verdict["decision"] == "fail" and "void" in verdict["rejected"][0]["reason"]


def test_unconfirmed_awx_approval_not_counted(client):
    result = read_workflow_approvals(client, 43, "CHG-1001", content_hash=HASH)
    forged = [dict(a, verified=False) for a in result["approvals"]]
    verdict = review_gate(POLICY, ASSESSMENT, forged, "erin", result["launcher"], NOW)
    assert verdict["decision"] == "fail" and "not confirmed by the controller API" in verdict["rejected"][0]["reason"]


def test_wrong_token_refused_and_never_echoed(server):
    bad = AwxClient(server, "wrong-token-value", timeout=5)
    with pytest.raises(GateRefused) as exc:
        read_workflow_approvals(bad, 42, "CHG-1001", content_hash=HASH)
    assert "HTTP 401" in str(exc.value) and "refresh the credential" in exc.value.fix
    assert "wrong-token-value" not in str(exc.value.as_dict()) and "wrong-token-value" not in repr(bad)
    assert TOKEN not in repr(AwxClient(server, TOKEN))


def test_missing_job_and_unreachable_controller(client):
    with pytest.raises(GateRefused, match="HTTP 404"):
        read_workflow_approvals(client, 99, "CHG-1001", content_hash=HASH)
    with pytest.raises(GateRefused, match="unreachable"):
        read_workflow_approvals(AwxClient("http://127.0.0.1:9", TOKEN, timeout=2), 42, "CHG-1001")
    with pytest.raises(GateRefused, match="not a number"):
        read_workflow_approvals(client, "42; rm", "CHG-1001")
    with pytest.raises(GateRefused, match="no controller token"):
        AwxClient("https://aap.example.invalid", "")


def test_token_is_sent_as_bearer(client):
    Handler.seen_auth.clear()
    client.get("/api/v2/workflow_jobs/42/")
    assert Handler.seen_auth == ["Bearer " + TOKEN]
