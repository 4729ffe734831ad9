# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workflow validator rules that follow what AWX accepts when the workflow is loaded (issue 15): prompts the job template
does not ask for, survey-only variables, two edge kinds between one pair, unified_job_template without type, integer
verbosity, prompts on approval nodes, absent nodes; and playbooks/controller_load.yml forwards every job template and
workflow field the validator and runner honour."""

from __future__ import annotations

import os

import pytest
import yaml

from repo_paths import ROOT, UNIT_FIXTURES

from ansible_collections.governed.change.plugins.module_utils.workflow import runner as wfr
from ansible_collections.governed.change.plugins.module_utils.workflow import validate as wfv
from ansible_collections.governed.change.plugins.module_utils.workflow.validate import validate_files

CONTROLLER = {
    "controller_projects": [{"name": "wf-tests", "organization": "Default", "scm_type": "git",
                             "scm_url": "https://example.invalid/wf-tests.git"}],
    "controller_inventories": [{"name": "wf-local", "organization": "Default"}],
    "controller_templates": [
        {"name": "open", "project": "wf-tests", "inventory": "wf-local", "playbook": "workflow_playbooks/step.yml",
         "ask_variables_on_launch": True, "ask_verbosity_on_launch": True, "ask_job_type_on_launch": True},
        {"name": "strict", "project": "wf-tests", "inventory": "wf-local", "playbook": "workflow_playbooks/step.yml"},
        {"name": "survey", "project": "wf-tests", "inventory": "wf-local", "playbook": "workflow_playbooks/step.yml",
         "survey_enabled": True, "survey_spec": {"name": "s", "description": "s", "spec": [
             {"variable": "color", "question_name": "color", "type": "text", "required": False}]}},
    ],
}


def check(tmp_path, nodes, **top):
    controller = tmp_path / "controller.yml"
    controller.write_text(yaml.safe_dump(CONTROLLER, sort_keys=False))
    path = tmp_path / "wf.yml"
    path.write_text(yaml.safe_dump(dict({"name": "wf", "workflow_nodes": nodes}, **top), sort_keys=False))
    report = validate_files([str(path)], controller_config=str(controller), project_dir=UNIT_FIXTURES)
    return str(path), [error["message"] for error in report["errors"]]


def jt(name):
    return {"name": name, "type": "job_template"}


def test_unprompted_node_field_is_refused_as_awx_refuses_it(tmp_path):
    """AWX LaunchConfigurationBaseSerializer.validate (awx/api/serializers.py) runs the node's prompts through
    JobTemplate._accept_or_ignore_job_kwargs (awx/main/models/jobs.py) and raises its errors ("Field is not configured to
    prompt on launch."): creating the node fails with HTTP 400; nothing is silently dropped."""
    path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": jt("strict"), "job_tags": "x"}])
    assert messages == [
        "%s: node 'n': the node sets job_tags, but job template 'strict' does not prompt for it (ask_tags_on_launch is not "
        "true): AWX refuses to create the node (HTTP 400, Field is not configured to prompt on launch). Fix: set "
        "ask_tags_on_launch: true on job template 'strict' in the controller configuration, or drop job_tags from the node."
        % path]


def test_survey_only_template_refuses_other_variables(tmp_path):
    """AWX SurveyJobTemplateMixin._accept_or_ignore_variables (awx/main/models/mixins.py): without ask_variables_on_launch
    only the survey's variables are accepted; the others are an error ("Variables ... are not allowed on launch"), which
    LaunchConfigurationBaseSerializer.validate raises for a node."""
    path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": jt("survey"),
                                       "extra_data": {"color": "red", "size": 3, "shape": "round"}}])
    assert messages == [
        "%s: node 'n': the node's extra_data sets shape, size, which job template 'survey' does not ask for (its survey asks "
        "for color; ask_variables_on_launch is not true): AWX refuses to create the node (HTTP 400). Fix: drop them from "
        "extra_data, add them to the survey, or set ask_variables_on_launch: true on job template 'survey'." % path]
    _path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": jt("survey"), "extra_data": {"color": "red"}}])
    assert messages == []


def test_two_edge_kinds_between_one_pair_are_refused(tmp_path):
    """AWX WorkflowJobTemplateNodeChildrenBaseList.is_valid_relation (awx/api/views/__init__.py): a child already linked
    from the same parent by another relationship gets {"Error": "Relationship not allowed."}."""
    path, messages = check(tmp_path, [
        {"identifier": "a", "unified_job_template": jt("open"),
         "related": {"success_nodes": [{"identifier": "b"}], "always_nodes": [{"identifier": "b"}]}},
        {"identifier": "b", "unified_job_template": jt("open")}])
    assert messages == [
        "%s: node 'a': it links to 'b' by success_nodes and always_nodes; AWX allows one relationship between two nodes "
        "(Relationship not allowed.). Fix: keep one edge from 'a' to 'b' (always_nodes when it must run either way)." % path]


def test_unified_job_template_without_type_is_refused(tmp_path):
    """awx.awx workflow_job_template create_workflow_nodes (plugins/modules/workflow_job_template.py) fails with "Could not
    find unified job template type in workflow_nodes" when unified_job_template has a name but no type."""
    path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": {"name": "open"}}])
    assert messages == [
        "%s: node 'n': unified_job_template 'open' has no type: awx.awx fails on it (Could not find unified job template type). "
        "Fix: add type: job_template (or the node's kind: %s)." % (path, ", ".join(wfv.UJT_TYPES))]


def test_integer_verbosity_is_accepted(tmp_path):
    """AWX's API documents verbosity's choices as integers 0-5 (awx/main/models/jobs.py JobOptions.verbosity,
    VERBOSITY_CHOICES); awx.awx converts an integer to its str option. An integer outside 0-5 is still refused."""
    _path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": jt("open"), "verbosity": 2}])
    assert messages == []
    path, messages = check(tmp_path, [{"identifier": "n", "unified_job_template": jt("open"), "verbosity": 7}])
    assert messages == ["%s: node 'n': field 'verbosity' is 7, not one of '0', '1', '2', '3', '4', '5'. Fix: use one of the "
                        "documented choices." % path]


@pytest.mark.parametrize("field, value", [("extra_data", {"color": "red"}), ("limit", "r1")])
def test_prompts_on_an_approval_node_are_refused(tmp_path, field, value):
    """AWX UnifiedJobTemplate._accept_or_ignore_job_kwargs (awx/main/models/unified_jobs.py), which
    WorkflowApprovalTemplate inherits: every launch field is an error ("Field is not allowed on launch."), so an approval
    node never carries extra_data or limit."""
    node = {"identifier": "gate", "unified_job_template": {"name": "ok?", "type": "workflow_approval", "timeout": 60}, field: value}
    path, messages = check(tmp_path, [node])
    assert messages == [
        "%s: node 'gate': approval node 'ok?' sets %s: AWX never applies a launch field to an approval (Field is not allowed "
        "on launch). Fix: drop %s from the approval node; set the variables on the workflow or the job template nodes." % (
            path, field, field)]


def test_an_absent_node_is_not_a_node(tmp_path):
    """awx.awx workflow_job_template create_workflow_nodes / create_workflow_nodes_association: a node with state: absent
    is deleted and an edge to it names no node ("Could not find ... entry")."""
    path, messages = check(tmp_path, [
        {"identifier": "a", "unified_job_template": jt("open"), "related": {"success_nodes": [{"identifier": "gone"}]}},
        {"identifier": "gone", "state": "absent", "unified_job_template": jt("strict"), "job_tags": "unasked"}])
    assert messages == [
        "%s: node 'a': related.success_nodes[0] names 'gone', which is not a node of this workflow (its state is absent). "
        "Fix: add a node with identifier 'gone' or correct the edge (nodes: a)." % path]


def _task_fields(playbook, module):
    tasks = [task for task in playbook[0]["tasks"] if module in task]
    assert len(tasks) == 1, module
    return set(tasks[0][module])


def test_controller_load_forwards_every_field_the_runner_honours():
    """What the validator and the local runner honour must reach the controller: awx.awx job_template and
    workflow_job_template (plugins/modules/*.py) options for every prompt (ask_*_on_launch), launch field, survey and
    extra_vars; a field left out would be honoured locally and dropped on load."""
    with open(os.path.join(ROOT, "playbooks", "controller_load.yml"), encoding="utf-8") as handle:
        playbook = yaml.safe_load(handle)
    job_template = _task_fields(playbook, "awx.awx.job_template")
    honoured = set(wfv.NODE_PROMPTS.values()) | set(wfr.JOB_PROMPTS) | set(wfv.RELATED_PROMPTS.values())
    honoured |= {"survey_enabled", "survey_spec", "extra_vars"}
    honoured -= {"ask_job_slice_count_on_launch", "ask_execution_environment_on_launch"}  # neither is run locally
    assert sorted(honoured - job_template) == []
    workflow = _task_fields(playbook, "awx.awx.workflow_job_template")
    assert sorted((set(wfr.WORKFLOW_PROMPTS) | {"survey_enabled", "survey_spec", "extra_vars"}) - workflow) == []
