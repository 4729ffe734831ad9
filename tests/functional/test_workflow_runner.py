# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local workflow runner: AWX's DAG semantics on small synthetic graphs, through real ansible-runner (localhost only)."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import time

import pytest

from repo_paths import ROOT, UNIT_FIXTURES
from signing_keys import make_signing_keys

from ansible_collections.governed.change.plugins.module_utils import approvals as ap
from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.workflow import runner
from ansible_collections.governed.change.plugins.module_utils.workflow.runner import WorkflowRunner, parse_answers

FIXTURES = UNIT_FIXTURES
CONTROLLER = os.path.join(FIXTURES, "workflows", "controller.yml")
HASH = "e" * 64


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def run(tmp_path, name, text, **kwargs):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(text)
    runner = WorkflowRunner(str(path), controller_config=CONTROLLER, project_dir=FIXTURES, run_dir=str(tmp_path / ("run-" + name)),
                            interactive=False, **kwargs)
    record = runner.run()
    return record, {node["identifier"]: node for node in record["nodes"]}


def status(nodes):
    return {ident: node["status"] for ident, node in nodes.items()}


EDGES = """
name: wf edges
workflow_nodes:
  - identifier: ok
    unified_job_template: {name: wf step, type: job_template}
    related:
      success_nodes: [{identifier: ok_success}]
      failure_nodes: [{identifier: ok_failure}]
      always_nodes: [{identifier: ok_always}]
  - identifier: ok_success
    unified_job_template: {name: wf step, type: job_template}
  - identifier: ok_failure
    unified_job_template: {name: wf step, type: job_template}
  - identifier: ok_always
    unified_job_template: {name: wf step, type: job_template}
  - identifier: bad
    unified_job_template: {name: wf fail, type: job_template}
    related:
      success_nodes: [{identifier: bad_success}]
      failure_nodes: [{identifier: bad_failure}]
      always_nodes: [{identifier: bad_always}]
  - identifier: bad_success
    unified_job_template: {name: wf step, type: job_template}
  - identifier: bad_failure
    unified_job_template: {name: wf step, type: job_template}
  - identifier: bad_always
    unified_job_template: {name: wf step, type: job_template}
  - identifier: slow
    unified_job_template: {name: wf short timeout, type: job_template}
    extra_data: {step_delay: 2}
    related:
      failure_nodes: [{identifier: slow_failure}]
  - identifier: slow_failure
    unified_job_template: {name: wf step, type: job_template}
"""


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    return run(tmp_path_factory.mktemp("edges"), "edges", EDGES, parallel=8)


def test_success_failure_always_edges(edges):
    record, nodes = edges
    assert status(nodes) == {"ok": "successful", "ok_success": "successful", "ok_failure": "do_not_run",
                             "ok_always": "successful", "bad": "failed", "bad_success": "do_not_run",
                             "bad_failure": "successful", "bad_always": "successful", "slow": "failed",
                             "slow_failure": "successful"}
    # every failure has a failure/always child: the workflow succeeds (AWX: failed only when a failure is unhandled)
    assert record["status"] == "successful" and record["failed_without_handler"] == []
    assert nodes["bad"]["rc"] == 2 and "this step always fails" in nodes["bad"]["explanation"]
    assert os.path.isfile(nodes["bad"]["stdout"]) and nodes["bad"]["private_data_dir"].startswith(record["run_dir"])


def test_job_timeout_counts_as_failure(edges):
    _record, nodes = edges
    assert nodes["slow"]["status"] == "failed" and nodes["slow"]["explanation"] == "the job ran longer than its timeout (1s)"
    # nothing started for the timed-out node outlives it (ansible's workers run in their own sessions)
    deadline = time.time() + 5
    while runner.node_processes(nodes["slow"]["private_data_dir"]) and time.time() < deadline:
        time.sleep(0.2)
    assert runner.node_processes(nodes["slow"]["private_data_dir"]) == []


def test_run_record_and_summary_written(edges):
    record, _nodes = edges
    with open(os.path.join(record["run_dir"], "run.json"), encoding="utf-8") as handle:
        stored = json.load(handle)
    assert stored["status"] == "successful" and len(stored["nodes"]) == 10
    for node in stored["nodes"]:
        assert set(node) >= {"identifier", "job_template", "status", "start", "end", "rc", "artifacts", "private_data_dir", "timed_out"}
        if node["status"] == "do_not_run":
            assert node["start"] is None and node["private_data_dir"] is None
        else:
            assert ts(node["start"]) <= ts(node["end"])
    summary = open(record["summary_path"], encoding="utf-8").read()
    assert summary.startswith("workflow wf edges: SUCCESSFUL in ")
    assert re.search(r"^  bad_success +do_not_run +wf step - no edge from a parent fired$", summary, re.M)


def test_unhandled_failure_fails_the_workflow(tmp_path):
    record, nodes = run(tmp_path, "unhandled", """
name: wf unhandled
workflow_nodes:
  - identifier: breaks
    unified_job_template: {name: wf fail, type: job_template}
    related:
      success_nodes: [{identifier: never}]
  - identifier: never
    unified_job_template: {name: wf step, type: job_template}
""")
    assert status(nodes) == {"breaks": "failed", "never": "do_not_run"}
    assert record["status"] == "failed" and record["failed_without_handler"] == ["breaks"]
    assert record["explanation"] == "no failure or always path for failed node(s): breaks (failed)"


CONVERGE = """
name: wf converge
workflow_nodes:
  - identifier: p_ok
    unified_job_template: {name: wf step, type: job_template}
    related:
      success_nodes: [{identifier: any_node}, {identifier: all_node}, {identifier: all_ok}, {identifier: any_wait}]
  - identifier: p_fail
    unified_job_template: {name: wf fail, type: job_template}
    related:
      success_nodes: [{identifier: any_node}, {identifier: all_node}]
      failure_nodes: [{identifier: all_ok}]
  - identifier: p_slow
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {step_delay: 1}
    related:
      success_nodes: [{identifier: any_wait}]
  - identifier: any_node
    unified_job_template: {name: wf step, type: job_template}
  - identifier: all_node
    all_parents_must_converge: true
    unified_job_template: {name: wf step, type: job_template}
    related:
      success_nodes: [{identifier: all_child}]
      always_nodes: [{identifier: all_child_always}]
  - identifier: all_child
    unified_job_template: {name: wf step, type: job_template}
  - identifier: all_child_always
    unified_job_template: {name: wf step, type: job_template}
  - identifier: all_ok
    all_parents_must_converge: true
    unified_job_template: {name: wf step, type: job_template}
  - identifier: any_wait
    unified_job_template: {name: wf step, type: job_template}
  - identifier: none_fired
    unified_job_template: {name: wf step, type: job_template}
"""


@pytest.fixture(scope="module")
def converge(tmp_path_factory):
    return run(tmp_path_factory.mktemp("converge"), "converge", CONVERGE, parallel=8)


def test_any_versus_all_convergence(converge):
    record, nodes = converge
    assert status(nodes) == {"p_ok": "successful", "p_fail": "failed", "p_slow": "successful",
                             "any_node": "successful",        # ANY: p_ok's success edge fired (p_fail's did not)
                             "all_node": "do_not_run",        # ALL: p_fail did not reach it by a failure/always edge
                             "all_child": "do_not_run", "all_child_always": "do_not_run",  # propagated, even over always
                             "all_ok": "successful",          # ALL: p_ok by success, p_fail by failure
                             "any_wait": "successful", "none_fired": "successful"}
    assert record["status"] == "successful"  # p_fail's failure edge exists


def test_any_node_waits_for_every_relevant_parent(converge):
    # AWX runs an ANY node only once every parent not marked do-not-run has finished
    _record, nodes = converge
    assert ts(nodes["any_wait"]["start"]) >= ts(nodes["p_slow"]["end"])
    assert ts(nodes["any_node"]["start"]) >= max(ts(nodes["p_ok"]["end"]), ts(nodes["p_fail"]["end"]))
    assert ts(nodes["all_ok"]["start"]) >= max(ts(nodes["p_ok"]["end"]), ts(nodes["p_fail"]["end"]))


def test_parallel_roots_overlap_in_time(converge):
    _record, nodes = converge
    roots = [nodes[name] for name in ("p_ok", "p_fail", "p_slow", "none_fired")]
    assert max(ts(n["start"]) for n in roots) < min(ts(n["end"]) for n in roots)


ARTIFACTS = """
name: wf artifacts
extra_vars: {color: from_workflow}
workflow_nodes:
  - identifier: a
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {step_emit: {x: from_a, shared: from_a, keep: from_a, color: from_a}, step_delay: 1}
    related:
      success_nodes: [{identifier: b}]
  - identifier: side
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {step_echo_vars: [x]}
  - identifier: b
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {step_emit: {shared: from_b}}
    related:
      always_nodes: [{identifier: c}]
  - identifier: c
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {shared: from_node_data, only_data: from_node_data, step_echo_vars: [x, shared, keep, color, only_data, launch]}
"""


def test_artifacts_reach_descendants_child_overrides_parent(tmp_path):
    record, nodes = run(tmp_path, "artifacts", ARTIFACTS, extra_vars={"launch": "from_cli"})
    assert record["status"] == "successful"
    assert nodes["a"]["artifacts"] == {"x": "from_a", "shared": "from_a", "keep": "from_a", "color": "from_a"}
    assert nodes["b"]["artifacts"] == {"shared": "from_b"}
    # what c's playbook actually received: b overrides a; artifacts override node extra_data; workflow vars override artifacts
    assert nodes["c"]["artifacts"]["step_echo"] == {"x": "from_a", "shared": "from_b", "keep": "from_a", "color": "from_workflow",
                                                    "only_data": "from_node_data", "launch": "from_cli"}
    assert nodes["c"]["ancestor_artifacts"]["shared"] == "from_b"
    assert nodes["side"]["artifacts"]["step_echo"] == {"x": "UNDEFINED"}  # not a descendant of a
    assert ts(nodes["side"]["start"]) < ts(nodes["a"]["end"]) and ts(nodes["a"]["start"]) < ts(nodes["side"]["end"])


def test_bounded_parallelism_serialises(tmp_path):
    _record, nodes = run(tmp_path, "serial", """
name: wf serial
workflow_nodes:
  - identifier: one
    unified_job_template: {name: wf step, type: job_template}
  - identifier: two
    unified_job_template: {name: wf step, type: job_template}
""", parallel=1)
    first, second = sorted(nodes.values(), key=lambda n: n["start"])
    assert ts(second["start"]) >= ts(first["end"])


APPROVAL = """
name: wf approval
extra_vars: %s
workflow_nodes:
  - identifier: approve_change
    unified_job_template: {name: approve the change, type: workflow_approval, timeout: %d}
    related:
      success_nodes: [{identifier: work}]
      failure_nodes: [{identifier: on_no}]
  - identifier: work
    unified_job_template: {name: wf step, type: job_template}
  - identifier: on_no
    unified_job_template: {name: wf step, type: job_template}
"""


ANSWER_CASES = [("approve", "successful", False), ("deny", "failed", False), ("timeout", "failed", True)]


@pytest.mark.parametrize("answer,expected,timed_out", ANSWER_CASES)
def test_approval_answers(tmp_path, answer, expected, timed_out):
    record, nodes = run(tmp_path, "answer", APPROVAL % ("{}", 60), answers=parse_answers(["approve_change=%s" % answer]))
    node = nodes["approve_change"]
    assert node["status"] == expected and node["timed_out"] is timed_out
    assert node["approval"]["source"] == "answer" and node["approval"]["decision"] == answer
    assert (nodes["work"]["status"], nodes["on_no"]["status"]) == (
        ("successful", "do_not_run") if answer == "approve" else ("do_not_run", "successful"))
    assert record["status"] == "successful"


def test_approval_without_any_source_fails_closed(tmp_path):
    _record, nodes = run(tmp_path, "nosource", APPROVAL % ("{}", 60))
    node = nodes["approve_change"]
    assert node["status"] == "failed" and node["approval"]["decision"] == "unresolved" and node["elapsed"] < 1
    assert nodes["work"]["status"] == "do_not_run"


def test_interactive_prompt(tmp_path):
    path = tmp_path / "prompt.yml"
    path.write_text(APPROVAL % ("{}", 60))
    out = io.StringIO()
    record = WorkflowRunner(str(path), controller_config=CONTROLLER, project_dir=FIXTURES, run_dir=str(tmp_path / "run"),
                            interactive=True, prompt_in=io.StringIO("maybe\ndeny\n"), prompt_out=out).run()
    nodes = {n["identifier"]: n for n in record["nodes"]}
    assert nodes["approve_change"]["approval"]["source"] == "prompt" and nodes["approve_change"]["status"] == "failed"
    assert "Approval node 'approve_change': approve the change" in out.getvalue()
    assert out.getvalue().count("approve or deny (") == 2  # the unclear answer is asked again


EXAMPLE_POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")


@pytest.fixture
def ledger_env(tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH ssh-keygen")
    make_signing_keys(tmp_path, {"bob": "bob@lab"})
    shutil.copy(EXAMPLE_POLICY, tmp_path / "policy.yml")  # medium: 1 approval from netops; high: 2 from netops and cab
    ledger = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(ledger) as led:
        for change_id, tier in (("CHG-1", "medium"), ("CHG-2", "high")):
            led.create_change(change_id, "test change", "dave")
            led.set_assessment(change_id, tier, HASH, "assess")
    variables = {"governed_ledger": ledger, "governed_policy": str(tmp_path / "policy.yml")}
    return tmp_path, ledger, variables


def test_ledger_signed_approval_resolves_the_node(ledger_env):
    base, ledger, variables = ledger_env
    approval = ap.sign_approval("CHG-1", HASH, "approve", "bob", str(base / "bob"), principal="bob@lab", comment="ok")
    with SqliteLedger(ledger) as led:
        led.record_approval(approval, actor="bob")
    record, nodes = run(base, "ledger", APPROVAL % (json.dumps(dict(variables, governed_change_id="CHG-1")), 30),
                        launcher="ci-runner", poll_interval=0.2)
    node = nodes["approve_change"]
    assert node["status"] == "successful" and node["approval"]["source"] == "ledger"
    assert "1 distinct approvals (bob) meet tier medium's requirement of 1." in node["approval"]["detail"]
    assert nodes["work"]["status"] == "successful" and record["status"] == "successful"


def test_ledger_deny_and_real_timeout(ledger_env):
    base, ledger, variables = ledger_env
    deny = ap.sign_approval("CHG-1", HASH, "deny", "bob", str(base / "bob"), principal="bob@lab", comment="no")
    with SqliteLedger(ledger) as led:
        led.record_approval(deny, actor="bob")
    _record, nodes = run(base, "deny", APPROVAL % (json.dumps(dict(variables, governed_change_id="CHG-1")), 30), poll_interval=0.2)
    assert nodes["approve_change"]["status"] == "failed" and nodes["approve_change"]["approval"]["decision"] == "deny"
    # CHG-2 is high tier (2 approvals) and has none: pending until the 2 s timeout elapses
    record, nodes = run(base, "timeout", APPROVAL % (json.dumps(dict(variables, governed_change_id="CHG-2")), 2), poll_interval=0.2)
    node = nodes["approve_change"]
    assert node["status"] == "failed" and node["timed_out"] is True and node["approval"]["decision"] == "timeout"
    assert 1.9 <= node["elapsed"] < 4
    assert "0 of 2 required distinct approvals" in node["approval"]["detail"]
    assert (nodes["work"]["status"], nodes["on_no"]["status"]) == ("do_not_run", "successful")
    assert record["status"] == "successful"


def test_cli_run_with_answers_and_extra_vars(tmp_path):
    path = tmp_path / "cli.yml"
    path.write_text(APPROVAL % ("{}", 60))
    out = io.StringIO()
    code = main(["workflow", "run", str(path), "--controller-config", CONTROLLER, "--project-dir", FIXTURES, "--run-dir",
                 str(tmp_path / "run"), "--approve", "approve the change=deny", "-e", "color=red", "--json"], out=out, err=io.StringIO())
    record = json.loads(out.getvalue())
    nodes = {n["identifier"]: n for n in record["nodes"]}
    assert code == 0 and nodes["approve_change"]["approval"]["decision"] == "deny"
    assert nodes["on_no"]["extra_vars"]["color"] == "red"
    out = io.StringIO()
    code = main(["workflow", "run", str(path), "--controller-config", CONTROLLER, "--project-dir", FIXTURES, "--run-dir",
                 str(tmp_path / "run2"), "--approve", "approve_change=maybe"], out=out, err=io.StringIO())
    assert code == 2
