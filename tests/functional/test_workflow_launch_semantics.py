# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local workflow runner launches each job the way AWX does (issue 15): which prompts reach the job, whose prompt wins,
the extra vars precedence with surveys and AWX's meta variables, and nodes with state: absent. Real ansible-runner jobs
on localhost (tests/unit/fixtures/workflow_playbooks/prompts.yml reports how it was started)."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from repo_paths import ROOT, UNIT_FIXTURES
from signing_keys import make_signing_keys

from ansible_collections.governed.change.plugins.module_utils import approvals as ap
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.workflow.runner import WorkflowRunner

LAUNCHER = "carol"
ASK_ALL = {"ask_variables_on_launch": True, "ask_limit_on_launch": True, "ask_inventory_on_launch": True,
           "ask_job_type_on_launch": True, "ask_tags_on_launch": True, "ask_skip_tags_on_launch": True,
           "ask_diff_mode_on_launch": True, "ask_verbosity_on_launch": True, "ask_forks_on_launch": True,
           "ask_timeout_on_launch": True, "ask_scm_branch_on_launch": True}


def _template(name, playbook="workflow_playbooks/prompts.yml", **fields):
    return dict({"name": name, "project": "wf-tests", "inventory": "wf-local", "playbook": playbook}, **fields)


CONTROLLER = {
    "controller_projects": [{"name": "wf-tests", "organization": "Default", "scm_type": "git",
                             "scm_url": "https://example.invalid/wf-tests.git", "allow_override": True}],
    "controller_inventories": [{"name": "wf-local", "organization": "Default"}, {"name": "wf-other", "organization": "Default"}],
    "controller_inventory_sources": [{"name": "wf-local file", "inventory": "wf-local", "source": "scm",
                                      "source_project": "wf-tests", "source_path": "workflow_playbooks/inventory.ini"}],
    "controller_templates": [
        _template("probe asks all", extra_vars={"probe_echo": ["awx_job_scm_branch", "tower_user_name"]}, **ASK_ALL),
        _template("probe strict", job_type="run", verbosity=1, extra_vars={"probe_echo": ["awx_user_name"]}),
        _template("probe survey", extra_vars={
            "probe_echo": ["v_jt", "v_s", "v_node", "v_art", "v_wf", "v_wfs", "v_launch", "awx_user_name", "tower_user_name",
                           "awx_workflow_job_name", "not_in_survey"],
            "v_jt": "jt", "v_s": "jt", "v_node": "jt", "v_art": "jt", "v_wf": "jt", "awx_user_name": "mallory-jt"},
            survey_enabled=True, survey_spec={"name": "probe", "description": "probe", "spec": [
                {"variable": "v_s", "question_name": "s", "type": "text", "required": False, "default": "survey"},
                {"variable": "v_node", "question_name": "n", "type": "text", "required": False, "default": "survey"},
                {"variable": "v_art", "question_name": "a", "type": "text", "required": False, "default": "survey"},
                {"variable": "v_wf", "question_name": "w", "type": "text", "required": False}]}),
        _template("probe emit", playbook="workflow_playbooks/step.yml", ask_variables_on_launch=True),
    ],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("launch")
    (base / "controller.yml").write_text(yaml.safe_dump(CONTROLLER, sort_keys=False))
    (base / "other.ini").write_text("probe_other ansible_connection=local probe_where=other "
                                    "ansible_python_interpreter='{{ ansible_playbook_python }}'\n")
    return base


def run(lab, name, doc, **kwargs):
    path = lab / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    runner = WorkflowRunner(str(path), controller_config=str(lab / "controller.yml"), project_dir=UNIT_FIXTURES,
                            run_dir=str(lab / ("run-" + name)), interactive=False, launcher=LAUNCHER,
                            inventory=["wf-other=%s" % (lab / "other.ini")], **kwargs)
    record = runner.run()
    return record, {node["identifier"]: node for node in record["nodes"]}


def jt(name):
    return {"name": name, "type": "job_template"}


def test_node_prompts_the_template_asks_for_reach_the_job(lab):
    """AWX WorkflowJobNode.get_job_kwargs (awx/main/models/workflow.py) passes the node's prompts through
    JobTemplate._accept_or_ignore_job_kwargs (awx/main/models/jobs.py): every field whose ask_*_on_launch is true is
    accepted, and RunJob.build_args (awx/main/tasks/jobs.py) turns job_type check, diff_mode, verbosity, forks, job_tags
    and skip_tags into ansible-playbook's --check, --diff, -v, --forks, -t and --skip-tags; Job.awx_meta_vars adds
    awx_job_scm_branch for a job with an scm_branch."""
    record, nodes = run(lab, "prompts", {"name": "wf prompts", "workflow_nodes": [
        {"identifier": "probe", "unified_job_template": jt("probe asks all"), "job_type": "check", "job_tags": "tagged",
         "skip_tags": "skipped", "diff_mode": True, "verbosity": "2", "forks": 3, "timeout": 120, "scm_branch": "feature-x"}]})
    assert record["status"] == "successful", record
    probe = nodes["probe"]["artifacts"]["probe"]
    assert probe["check_mode"] is True and probe["diff_mode"] is True
    assert int(probe["verbosity"]) == 2 and int(probe["forks"]) == 3
    assert probe["run_tags"] == ["tagged"] and probe["skip_tags"] == ["skipped"]
    assert nodes["probe"]["artifacts"].get("probe_tagged_ran") is True
    assert nodes["probe"]["artifacts"]["probe_vars"]["awx_job_scm_branch"] == "feature-x"
    assert nodes["probe"]["launch"] == {"job_type": "check", "job_tags": "tagged", "skip_tags": "skipped", "diff_mode": True,
                                        "verbosity": 2, "forks": 3, "timeout": 120, "scm_branch": "feature-x",
                                        "limit": None, "inventory": "wf-local"}


def test_template_values_apply_when_the_node_sets_nothing(lab):
    """AWX JobTemplate.create_unified_job (awx/main/models/unified_jobs.py, _get_unified_job_field_names): a job copies
    the template's own job_type and verbosity; the template's extra_vars reach the job."""
    record, nodes = run(lab, "strict", {"name": "wf strict", "workflow_nodes": [
        {"identifier": "probe", "unified_job_template": jt("probe strict")}]})
    assert record["status"] == "successful", record
    probe = nodes["probe"]["artifacts"]["probe"]
    assert probe["check_mode"] is False and int(probe["verbosity"]) == 1 and probe["run_tags"] == ["all"]
    assert nodes["probe"]["artifacts"].get("probe_tagged_ran") is True


def test_workflow_limit_and_inventory_beat_the_nodes(lab):
    """AWX WorkflowJobNode.get_job_kwargs: node_prompts_data.update(wj_prompts_data), the workflow job's prompts at the
    higher level; AWX's own test TestWorkflowJob.test_combine_prompts_WFJT_to_node
    (awx/main/tests/functional/models/test_workflow.py) expects data['limit'] == 'wj_limit' over the node's limit."""
    node = {"identifier": "probe", "unified_job_template": jt("probe asks all"), "limit": "localhost",
            "inventory": {"name": "wf-local"}}
    record, nodes = run(lab, "wf_beats", {"name": "wf beats node", "limit": "probe_other", "inventory": "wf-other",
                                          "workflow_nodes": [node]})
    assert record["status"] == "successful", record
    probe = nodes["probe"]["artifacts"]["probe"]
    assert probe["host"] == "probe_other" and probe["where"] == "other" and probe["limit"] == "probe_other"
    assert nodes["probe"]["limit"] == "probe_other" and nodes["probe"]["launch"]["inventory"] == "wf-other"


SURVEY_WORKFLOW = {
    "name": "wf survey", "extra_vars": {"v_wf": "wf", "v_wfs": "wf"},
    "survey_enabled": True, "survey_spec": {"name": "wf", "description": "wf", "spec": [
        {"variable": "v_wfs", "question_name": "wfs", "type": "text", "required": False, "default": "wfsurvey"}]},
    "workflow_nodes": [
        {"identifier": "emit", "unified_job_template": jt("probe emit"),
         "extra_data": {"step_emit": {"v_art": "artifact", "v_wf": "artifact", "awx_user_name": "mallory-artifact"}},
         "related": {"success_nodes": [{"identifier": "gate"}]}},
        {"identifier": "gate", "unified_job_template": {"name": "a gate", "type": "workflow_approval", "timeout": 60},
         "related": {"success_nodes": [{"identifier": "probe"}]}},
        {"identifier": "probe", "unified_job_template": jt("probe survey"),
         "extra_data": {"v_node": "node", "v_art": "node", "v_wf": "node"}}]}


@pytest.fixture(scope="module")
def survey_run(lab):
    return run(lab, "survey", SURVEY_WORKFLOW, answers={"gate": "approve"},
               extra_vars={"v_launch": "launch", "awx_user_name": "mallory-launch", "tower_user_name": "mallory-launch"})


def test_extra_vars_precedence_with_surveys(survey_run):
    """AWX precedence, lowest to highest: job template extra_vars < its survey defaults
    (SurveyJobTemplateMixin._update_unified_job_kwargs, awx/main/models/mixins.py) < node extra_data < ancestor artifacts
    < the workflow job's extra_vars (WorkflowJobNode.get_job_kwargs: "Workflow Job extra_vars higher precedence than
    ancestor artifacts"), which are the workflow's extra_vars < its survey defaults < launch vars (the same mixin on
    WorkflowJobTemplate)."""
    record, nodes = survey_run
    assert record["status"] == "successful", record
    echo = nodes["probe"]["artifacts"]["probe_vars"]
    assert echo["v_jt"] == "jt" and echo["v_s"] == "survey"
    assert echo["v_node"] == "node" and echo["v_art"] == "artifact"
    assert echo["v_wf"] == "wf" and echo["v_wfs"] == "wfsurvey" and echo["v_launch"] == "launch"


def test_awx_meta_variables_override_every_extra_var(survey_run):
    """AWX RunJob.build_extra_vars_file loads the meta variables after the job's extra vars since ansible/awx#11840 ("load
    job meta vars after JT extra vars"): awx_user_name/tower_user_name are the launcher whatever the template, an artifact
    or a launch var say; approval resolution reads the approval node's awx_user_name as the launcher."""
    _record, nodes = survey_run
    echo = nodes["probe"]["artifacts"]["probe_vars"]
    assert echo["awx_user_name"] == LAUNCHER and echo["tower_user_name"] == LAUNCHER
    assert echo["awx_workflow_job_name"] == "wf survey"
    assert nodes["gate"]["extra_vars"]["awx_user_name"] == LAUNCHER


def test_survey_only_template_admits_only_survey_variables(lab):
    """AWX SurveyJobTemplateMixin._accept_or_ignore_variables (awx/main/models/mixins.py): without
    ask_variables_on_launch a template with a survey accepts only the survey's variables; others are rejected (the runner
    drops them even with validation off; the validator refuses the node)."""
    doc = {"name": "wf survey only", "workflow_nodes": [
        {"identifier": "probe", "unified_job_template": jt("probe survey"),
         "extra_data": {"v_node": "node", "not_in_survey": "smuggled", "v_jt": "node"}}]}
    record, nodes = run(lab, "survey_only", doc, validate=False)
    assert record["status"] == "successful", record
    echo = nodes["probe"]["artifacts"]["probe_vars"]
    assert echo["v_node"] == "node" and echo["not_in_survey"] == "UNDEFINED" and echo["v_jt"] == "jt"


def test_absent_node_is_not_part_of_the_workflow(lab):
    """awx.awx workflow_job_template create_workflow_nodes (plugins/modules/workflow_job_template.py): a node with
    state: absent is deleted, not created, so it never runs."""
    record, nodes = run(lab, "absent", {"name": "wf absent", "workflow_nodes": [
        {"identifier": "probe", "unified_job_template": jt("probe strict")},
        {"identifier": "gone", "state": "absent", "unified_job_template": jt("probe strict")}]})
    assert record["status"] == "successful", record
    assert set(nodes) == {"probe"}


@pytest.fixture
def signed_by_bob(tmp_path):
    """A ledger with change CHG-1 (medium: one approval from netops, author dave) that bob approved with a real key."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH ssh-keygen")
    make_signing_keys(tmp_path, {"bob": "bob@lab"})
    shutil.copy(os.path.join(ROOT, "examples", "policy", "policy.yml"), tmp_path / "policy.yml")
    ledger = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(ledger) as led:
        led.create_change("CHG-1", "test change", "dave")
        led.set_assessment("CHG-1", "medium", "e" * 64, "assess")
        led.record_approval(ap.sign_approval("CHG-1", "e" * 64, "approve", "bob", str(tmp_path / "bob"), principal="bob@lab",
                                             comment="ok"), actor="bob")
    return {"governed_ledger": ledger, "governed_policy": str(tmp_path / "policy.yml"), "governed_change_id": "CHG-1"}


POSING = [("ci-runner", {}, "approve"), ("bob", {"awx_user_name": "ci-runner"}, "timeout"),
          ("bob", {"governed_launcher": "ci-runner"}, "timeout")]


@pytest.mark.parametrize("launcher, posing, decision", POSING)
def test_no_variable_poses_as_the_launcher_of_an_approval(lab, signed_by_bob, launcher, posing, decision):
    """AWX RunJob.build_extra_vars_file loads the meta variables last (ansible/awx#11840), so awx_user_name is the user
    who launched; the approval is resolved with that launcher, and segregation of duties (review.review_gate) does not
    count the launcher's own approval. A launch var naming someone else (awx_user_name or governed_launcher) changes
    nothing: bob launching leaves bob's approval uncounted until the timeout."""
    doc = {"name": "wf launcher", "extra_vars": signed_by_bob, "workflow_nodes": [
        {"identifier": "gate", "unified_job_template": {"name": "a gate", "type": "workflow_approval", "timeout": 2}}]}
    path = lab / "launcher.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    record = WorkflowRunner(str(path), controller_config=str(lab / "controller.yml"), project_dir=UNIT_FIXTURES,
                            run_dir=str(lab / ("run-launcher-%s-%s" % (launcher, "-".join(posing)))), interactive=False,
                            launcher=launcher, extra_vars=posing, poll_interval=0.2).run()
    gate = record["nodes"][0]
    assert gate["approval"]["source"] == "ledger" and gate["approval"]["decision"] == decision, gate["approval"]
