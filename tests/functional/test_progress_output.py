# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run a person can follow (issue 14, item 7), functional tier (subprocesses, localhost, no lab):

- the stdout callback governed.change.progress prints one line per stage with its counter and elapsed time for the real
  stage playbooks (playbooks/window.yml passing, playbooks/review.yml refused), a failure as a sentence, a recap; the
  evidence callback still records every task in the ledger;
- GOVERNED_PROGRESS_VERBOSE=1 and -v give Ansible's default (raw) output;
- ``governed-change workflow run`` prints each node's start and end line while the workflow runs (streamed: the first
  node's end line arrives seconds before the command ends)."""

from __future__ import annotations

import os
import re
import subprocess
import time

from evidence_support import CHANGE, scheduled_change
from repo_paths import ROOT, UNIT_FIXTURES, VENV_BIN

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")
LINE = re.compile(r"^\[(\d)/9\] (\w+)(?: (\S+))?: (.*) \((\d+\.\d) s\)$")


def _stage(tmp_path, name, env=None, extra=()):
    ledger, out = scheduled_change(tmp_path, state="authorize")
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_STDOUT_CALLBACK="governed.change.progress", ANSIBLE_DEPRECATION_WARNINGS="0")
    for key in ("GOVERNED_PROGRESS_VERBOSE", "GOVERNED_EVIDENCE_ENABLED"):
        environ.pop(key, None)
    environ.update(env or {})
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", name), "-e", "governed_output_dir=%s" % out,
            "-e", "governed_ledger=%s" % ledger, "-e", "governed_policy=%s" % POLICY, "-e", "governed_change_id=%s" % CHANGE,
            "-e", "governed_assessment_file=%s" % os.path.join(out, "assessments", "%s.json" % CHANGE)] + list(extra)
    proc = subprocess.run(argv, cwd=str(tmp_path), env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False)
    return proc, ledger


def test_a_passing_stage_prints_one_counted_line_and_the_evidence_is_recorded(tmp_path):
    proc, ledger = _stage(tmp_path, "window.yml")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.strip().splitlines()
    stage_lines = [m.groups() for m in map(LINE.match, lines) if m]
    assert [(n, stage, host, text) for n, stage, host, text, _s in stage_lines] == [("3", "window", None, "passed")], proc.stdout
    assert lines[0].startswith("governed run: ") and "GOVERNED_PROGRESS_VERBOSE=1" in lines[0]
    assert re.match(r"^run finished in \d+\.\d s: 1 host\(s\) ok$", lines[-1]), lines[-1]
    assert "TASK [" not in proc.stdout and "PLAY RECAP" not in proc.stdout and len(lines) <= 4
    with SqliteLedger(ledger) as led:  # the evidence callback recorded the stage's tasks, the stdout callback changed nothing there
        recorded = [e["data"] for e in led.events(change_id=CHANGE) if e["kind"] == "task"]
    assert any(t["action"] == "governed.change.window_gate" and t.get("stage") == "window" for t in recorded), recorded


def test_a_refused_stage_says_why_in_one_sentence(tmp_path):
    proc, _ledger = _stage(tmp_path, "review.yml")
    assert proc.returncode != 0
    lines = proc.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith("[2/9] review: FAILED - ")]
    assert len(failed) == 1, proc.stdout
    # the gate's task and its whole message (problem and fix) on one line, not a result dump
    assert "'Evaluate the review gate (approvals) for the change': governed.change.review_gate: " in failed[0]
    assert "fix" in failed[0].lower() and "{" not in failed[0]
    assert "FAILED on localhost 'Fail the stage with its error': the review failure above" in lines
    assert lines[-1].endswith("failed on localhost") and "Traceback" not in proc.stdout


def test_verbose_switch_and_dash_v_give_the_raw_output(tmp_path):
    for env, extra in (({"GOVERNED_PROGRESS_VERBOSE": "1"}, ()), ({}, ("-v",))):
        proc, _ledger = _stage(tmp_path / ("v%d" % len(extra)), "window.yml", env=env, extra=extra)
        assert proc.returncode == 0, proc.stdout
        assert "TASK [governed.change.window : Evaluate the window gate" in proc.stdout and "PLAY RECAP" in proc.stdout
        assert not any(LINE.match(line) for line in proc.stdout.splitlines())


WORKFLOW = """
name: progress streaming
workflow_nodes:
  - identifier: first
    unified_job_template: {name: wf step, type: job_template}
    related:
      success_nodes: [{identifier: second}]
      failure_nodes: [{identifier: on_failure}]
  - identifier: second
    unified_job_template: {name: wf step, type: job_template}
    extra_data: {step_delay: 3}
  - identifier: on_failure
    unified_job_template: {name: wf step, type: job_template}
"""


def test_workflow_run_streams_each_node_as_it_starts_and_ends(tmp_path):
    path = tmp_path / "progress.yml"
    path.write_text(WORKFLOW)
    argv = [os.path.join(VENV_BIN, "governed-change"), "workflow", "run", str(path), "--controller-config",
            os.path.join(UNIT_FIXTURES, "workflows", "controller.yml"), "--project-dir", UNIT_FIXTURES, "--run-dir", str(tmp_path / "run")]
    seen = []
    with subprocess.Popen(argv, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                          text=True) as proc:
        for line in proc.stdout:
            seen.append((time.monotonic(), line.rstrip("\n")))
        code = proc.wait(timeout=120)
    ended = time.monotonic()
    text = [line for _t, line in seen]
    assert code == 0, text
    assert text[0] == "[0/3] started  first (wf step)"
    assert re.match(r"^\[1/3\] finished first \(wf step\): successful in \d+\.\d s$", text[1]), text
    assert text[2] == "[2/3] will not run on_failure (wf step): no edge from a parent fired"
    assert text[3] == "[2/3] started  second (wf step)"
    assert re.match(r"^\[3/3\] finished second \(wf step\): successful in [3-9]\.\d s$", text[4]), text
    assert text[5].startswith("workflow progress streaming: SUCCESSFUL")  # then the final table, as before
    # streamed, not printed at the end: the first node's end line arrived while the second node (3 s) still ran
    assert ended - seen[1][0] >= 2.5, (ended - seen[1][0], text)
