# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress lines a person follows (module_utils/progress.py): plain data in, text out."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import progress
from ansible_collections.governed.change.plugins.module_utils.evidence import STAGES

CHECKS_OK = {"passed": True, "undecidable": False, "results": [{"name": "c%d" % i, "passed": True} for i in range(8)]}
CHECKS_BAD = {"passed": False, "undecidable": False, "msg": "1 of 2 checks failed",
              "results": [{"name": "route_present", "passed": True},
                          {"name": "peer_up", "passed": False, "expected": "Established", "actual": "Active"}]}


def test_stage_line_counter_and_elapsed():
    assert progress.stage_line("deploy", "r1", "pushed, timer armed 60 s") == "[5/9] deploy r1: pushed, timer armed 60 s"
    assert progress.stage_line("verify", "r1", "8 check(s) passed", 2.14) == "[6/9] verify r1: 8 check(s) passed (2.1 s)"
    assert progress.stage_line("assess", None, "x", 0) == "[1/9] assess: x (0.0 s)"
    assert progress.stage_line("escalate", None, "x").startswith("[9/9] escalate: ")
    assert progress.stage_line("nonsense", None, "x") == "[-/9] nonsense: x"
    assert progress.position("rollback") == (7, len(STAGES)) and len(STAGES) == 9


def test_elapsed_text_and_shorten():
    assert progress.elapsed_text(75) == "1 min 15 s" and progress.elapsed_text(None) == "0.0 s" and progress.elapsed_text(-3) == "0.0 s"
    assert progress.shorten("a\n  b\tc") == "a b c"
    cut = progress.shorten("x" * 500, 50)
    assert len(cut) == 50 and cut.endswith("...")


def test_stage_of_role():
    assert progress.stage_of_role("governed.change.deploy") == "deploy" and progress.stage_of_role("verify") == "verify"
    assert progress.stage_of_role("governed.change.pipeline") is None and progress.stage_of_role(None) is None


def test_action_words():
    deploy = {"summary": {"applied": ["ip route 192.0.2.0/24 blackhole"], "config_changed": True},
              "confirm": {"armed": True, "seconds": 60}}
    assert progress.summarize("governed.change.deploy", deploy) == "pushed 1 line(s), timer armed 60 s"
    assert progress.summarize("governed.change.deploy", {"summary": {"config_changed": False}}) == "nothing to push (already in place)"
    assert progress.summarize("governed.change.deploy", {"summary": {"applied": 2, "config_changed": True}}) == "pushed 2 line(s)"
    assert progress.summarize("governed.change.check", CHECKS_OK) == "8 check(s) passed"
    assert progress.summarize("governed.change.check", CHECKS_BAD) == \
        "1 of 2 check(s) failed: peer_up expected 'Established', got 'Active'"
    assessed = {"assessment": {"change_id": "CHG-1", "tier": "low", "score": 15, "targets": ["r1"]}}
    assert progress.summarize("governed.change.assess", assessed) == "CHG-1 tier low (score 15), 1 target(s)"
    gate = {"decision": "pass", "summary": {"approvers": ["alice", "bob"]}}
    assert progress.summarize("governed.change.review_gate", gate) == "passed (approved by alice, bob)"
    refused = {"decision": "fail", "verdict": {"reasons": ["freeze year-end active", "next window Monday"]}}
    assert progress.summarize("governed.change.window_gate", refused) == "did not pass: freeze year-end active; next window Monday"
    assert progress.summarize("governed.change.restore", {"verified": True}) == "restored (running config equals the backup)"
    assert progress.summarize("governed.change.restore", {"verified": False}) == "restored, NOT equal to the backup"
    assert progress.summarize("governed.change.snapshot", {"summary": {"peers": 2, "established": 1, "routes": 9}}) == \
        "snapshot (1/2 peers up, 9 routes)"
    assert progress.summarize("governed.change.escalate", {"event": "escalation.failed_to_send"}).startswith("escalation NOT delivered")
    assert progress.summarize("ansible.builtin.debug", {"msg": "x"}) is None
    assert progress.summarize("governed.change.deploy", "not a dict") is None


def test_undecidable_checks_say_so():
    result = {"passed": False, "undecidable": True,
              "results": [{"name": "route", "passed": False, "reason": "the query found nothing (fails closed)"}]}
    assert progress.check_text(result) == "1 of 1 check(s) undecidable: route: the query found nothing (fails closed)"


def test_failure_text():
    assert progress.failure_text("Push", {"msg": "connection\n refused"}) == "'Push': connection refused"
    assert progress.failure_text("Check", CHECKS_BAD).startswith("1 of 2 check(s) failed: peer_up")
    assert progress.failure_text("Push", {"msg": "ssh: no route"}, "unreachable") == "unreachable: ssh: no route"
    assert progress.failure_text("Push", None) == "'Push': failed"
    loop = {"msg": "All items completed", "results": [{"item": "a", "failed": False}, {"item": "b", "failed": True, "msg": "no such file"}]}
    assert progress.failure_text("Copy", loop) == "'Copy': no such file"
    command = {"msg": "non-zero return code", "rc": 2, "stdout": "governed run: x\nrun finished in 1.1 s: failed on r1\n", "stderr": ""}
    assert progress.failure_text("Run", command) == "'Run': rc 2: run finished in 1.1 s: failed on r1"


def _run(tracker, events):
    """Feed (kind, ...) events to a StageProgress; return every line it gave back."""
    lines = []
    for event in events:
        if event[0] == "task":
            lines += tracker.task(event[1], event[2])
        elif event[0] == "result":
            lines += tracker.result(*event[1:])
        else:
            lines += tracker.finish(event[1])
    return lines


def test_a_pipeline_folds_into_one_line_per_stage_and_device():
    deploy = {"summary": {"applied": ["a", "b"], "config_changed": True}, "confirm": {"armed": True, "seconds": 60}}
    events = [
        ("task", None, 0.0),
        ("task", "assess", 1.0),
        ("result", "assess", "r1", "governed.change.assess", "ok", {"assessment": {"change_id": "CHG-9", "tier": "low"}}, "Assess"),
        ("result", "assess", "r1", "ansible.builtin.set_fact", "ok", {}, "Keep"),
        ("task", None, 2.5),  # a pipeline task between stages ends the stage
        ("task", "window", 3.0),
        ("result", "window", "r1", "ansible.builtin.debug", "skipped", {}, "Wait"),
        ("task", "deploy", 4.0),
        ("result", "deploy", "r1", "governed.change.deploy", "changed", deploy, "Push"),
        ("result", "deploy", "r2", "governed.change.deploy", "changed", deploy, "Push"),
        ("result", "deploy", "r1", "governed.change.check", "ok", CHECKS_OK, "Check"),
        ("result", "deploy", "r2", "governed.change.check", "failed", CHECKS_BAD, "Check"),
        ("result", "deploy", "r2", "ansible.builtin.fail", "failed", {"msg": "ignored"}, "Probe", True),
        ("task", "rollback", 10.25),
        ("result", "rollback", "r2", "governed.change.restore", "changed", {"verified": True}, "Restore"),
        ("finish", 12.0),
    ]
    assert _run(progress.StageProgress(), events) == [
        "[1/9] assess: CHG-9 tier low (1.5 s)",
        "[3/9] window: skipped (1.0 s)",
        "[5/9] deploy r1: pushed 2 line(s), timer armed 60 s, 8 check(s) passed (6.2 s)",
        "[5/9] deploy r2: FAILED - 1 of 2 check(s) failed: peer_up expected 'Established', got 'Active' (6.2 s)",
        "[7/9] rollback r2: restored (running config equals the backup) (1.8 s)",
    ]


def test_failures_outside_a_stage_print_at_once_and_point_back():
    tracker = progress.StageProgress()
    events = [("task", "review", 0.0),
              ("result", "review", "localhost", "governed.change.review_gate", "failed", {"msg": "not authorized: 0 of 1"}, "Gate"),
              ("task", None, 1.0),
              ("result", None, "localhost", "ansible.builtin.fail", "failed", {"msg": "not authorized: 0 of 1"}, "Fail the stage"),
              ("result", None, "r1", "ansible.builtin.fail", "failed", {"msg": "something else"}, "Other"),
              ("finish", 2.0)]
    assert _run(tracker, events) == [
        "[2/9] review: FAILED - 'Gate': not authorized: 0 of 1 (1.0 s)",
        "FAILED on localhost 'Fail the stage': the review failure above",
        "FAILED on r1 'Other': something else",
    ]
    assert tracker.failures == 3


def test_recap_line():
    assert progress.recap_line({"r1": {"failures": 0}, "r2": {"unreachable": 0}}, 41.23) == "run finished in 41.2 s: 2 host(s) ok"
    assert progress.recap_line({"r1": {"failures": 1}, "r2": {"unreachable": 1}, "r3": {}}, 3) == "run finished in 3.0 s: failed on r1, r2"


def test_workflow_node_lines():
    node = {"identifier": "deploy", "job_template": "governed-change deploy", "status": "running"}
    assert progress.node_line("start", node, 2, 7) == "[2/7] started  deploy (governed-change deploy)"
    done = dict(node, status="successful", elapsed=12.34, explanation="x")
    assert progress.node_line("end", done, 3, 7) == "[3/7] finished deploy (governed-change deploy): successful in 12.3 s"
    failed = dict(node, status="failed", elapsed=1.0, explanation="Push: boom")
    assert progress.node_line("end", failed, 4, 7) == "[4/7] finished deploy (governed-change deploy): failed in 1.0 s - Push: boom"
    skipped = {"identifier": "close", "job_template": None, "type": "job_template", "status": "do_not_run",
               "explanation": "no edge from a parent fired"}
    assert progress.node_line("end", skipped, 5, 7) == "[5/7] will not run close (job_template): no edge from a parent fired"
