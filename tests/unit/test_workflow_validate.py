# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workflow validator: each broken fixture rejected with its exact message; the node schema comes from awx.awx's docs."""

from __future__ import annotations

import io
import json
import os
import shutil

import pytest

from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.workflow import schema
from ansible_collections.governed.change.plugins.module_utils.workflow.validate import validate_files

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
WORKFLOWS = os.path.join(FIXTURES, "workflows")
CONTROLLER = os.path.join(WORKFLOWS, "controller.yml")
NODE_FIELDS = ("all_parents_must_converge, diff_mode, execution_environment, extra_data, forks, identifier, inventory, "
               "job_slice_count, job_tags, job_type, limit, related, scm_branch, skip_tags, state, timeout, unified_job_template, "
               "verbosity")


def check(name, **kwargs):
    path = os.path.join(WORKFLOWS, name)
    report = validate_files([path], controller_config=kwargs.pop("controller_config", CONTROLLER),
                            project_dir=kwargs.pop("project_dir", FIXTURES), **kwargs)
    return path, report, [error["message"] for error in report["errors"]]


def test_good_workflow_passes():
    _path, report, messages = check("good.yml")
    assert messages == [] and report["ok"] is True
    assert report["files"][0]["nodes"] == 4 and report["files"][0]["name"] == "wf good"


def test_dangling_edge():
    path, report, messages = check("broken_dangling_edge.yml")
    assert report["ok"] is False
    assert messages == ["%s: node 'first': related.always_nodes[0] names 'nowhere', which is not a node of this workflow. "
                        "Fix: add a node with identifier 'nowhere' or correct the edge (nodes: first, second)." % path]


def test_cycle_named_with_its_edges():
    path, _report, messages = check("broken_cycle.yml")
    assert messages == ["%s: the workflow has a cycle: a -[success]-> b -[success]-> c -[failure]-> a. "
                        "Fix: remove one of these edges; AWX workflows must be acyclic." % path]


def test_deploy_without_rollback_path():
    # verify's failure edge reaches rollback, but deploy's own failure path (notify) does not
    path, _report, messages = check("broken_deploy_no_rollback.yml")
    assert messages == ["%s: node 'deploy': deploy node (job template 'wf deploy') has no failure or always path that reaches a "
                        "rollback node. Fix: add related.failure_nodes from 'deploy' leading to a node whose job template matches "
                        "'rollback'." % path]


def test_deploy_patterns_are_configurable():
    # with 'notify' as the only rollback pattern, deploy's failure path is fine; wf rollback no longer counts
    _path, report, _messages = check("broken_deploy_no_rollback.yml", rollback_patterns=("wf step",))
    assert report["ok"] is True
    _path, report, _messages = check("good.yml", deploy_patterns=("wf step",))  # verify (wf step) has no failure path
    assert [e["where"] for e in report["errors"]] == ["%s: node 'verify'" % os.path.join(WORKFLOWS, "good.yml")]


def test_approval_without_timeout_and_with_zero_timeout():
    path, _report, messages = check("broken_approval_no_timeout.yml")
    fix = ("Fix: set unified_job_template.timeout to the seconds approvers have (e.g. 86400), and route the timeout through "
           "failure_nodes.")
    assert messages == [
        "%s: node 'approve': approval node 'approve the change' has no timeout: it would wait for an approver forever. %s" % (path, fix),
        "%s: node 'approve_zero': approval node 'approve again' has timeout 0: it would wait for an approver forever. %s" % (path, fix)]


def test_unknown_job_template():
    path, _report, messages = check("broken_unknown_template.yml")
    assert messages == ["%s: node 'work': job template 'wf stpe' is not in the controller configuration (%s). Fix: add it to "
                        "controller_templates or correct the name (known: wf deploy, wf fail, wf missing playbook, wf rollback, "
                        "wf short timeout, wf step, wf strict)." % (path, CONTROLLER)]


def test_fields_awx_does_not_document():
    path, _report, messages = check("broken_undocumented_field.yml")
    assert messages == [
        "%s: node 'work': field 'unified_job_template.retries' is not documented by awx.awx workflow_job_template (workflow_nodes). "
        "Fix: remove it or use a documented field: description, inventory, name, organization, timeout, type." % path,
        "%s: node 'work': field 'retry_on_failure' is not documented by awx.awx workflow_job_template (workflow_nodes). "
        "Fix: remove it or use a documented field: %s." % (path, NODE_FIELDS),
        "%s: node 'approve': field 'approval_node' is not documented by awx.awx workflow_job_template (workflow_nodes) (it is an "
        "option of the separate workflow_job_template_node module). Fix: write the approval as unified_job_template: "
        "{type: workflow_approval, name: ..., description: ..., timeout: SECONDS}." % path]


def test_duplicate_identifier():
    path, _report, messages = check("broken_duplicate_identifier.yml")
    assert messages == ["%s: node 'work': identifier 'work' is used by 2 nodes (workflow_nodes[0] and workflow_nodes[2]). "
                        "Fix: give every node a unique identifier; edges refer to nodes by identifier." % path]


def test_wrong_types():
    path, _report, messages = check("broken_wrong_type.yml")
    assert messages == [
        "%s: field 'extra_vars' must be a mapping (got str 'color=blue'). Fix: write it as a mapping, as awx.awx "
        "workflow_job_template documents it." % path,
        "%s: node 'work': field 'all_parents_must_converge' must be a boolean (got str 'yes'). Fix: write it as a boolean, as "
        "awx.awx workflow_job_template (workflow_nodes) documents it." % path,
        "%s: node 'work': field 'verbosity' must be a string (got int 1). Fix: write it as a string, as awx.awx "
        "workflow_job_template (workflow_nodes) documents it." % path,
        "%s: node 'work': field 'related.success_nodes' must be a list (got str 'work2'). Fix: write it as a list, as awx.awx "
        "workflow_job_template (workflow_nodes) documents it." % path,
        "%s: node 'work': the node sets verbosity, but job template 'wf step' does not prompt for it (ask_verbosity_on_launch is "
        "not true), so AWX would ignore it. Fix: set ask_verbosity_on_launch: true on job template 'wf step' in the controller "
        "configuration, or drop verbosity from the node." % path]


def test_prompts_and_missing_playbook():
    path, _report, messages = check("broken_template_problems.yml")
    assert messages == [
        "%s: node 'strict': the node sets extra_data, but job template 'wf strict' does not prompt for it (ask_variables_on_launch "
        "is not true), so AWX would ignore it. Fix: set ask_variables_on_launch: true on job template 'wf strict' in the controller "
        "configuration, or drop extra_data from the node." % path,
        "%s: node 'strict': the node sets limit, but job template 'wf strict' does not prompt for it (ask_limit_on_launch is not "
        "true), so AWX would ignore it. Fix: set ask_limit_on_launch: true on job template 'wf strict' in the controller "
        "configuration, or drop limit from the node." % path,
        "%s: controller_templates 'wf missing playbook': playbook 'workflow_playbooks/nope.yml' of job template 'wf missing "
        "playbook' does not exist in the project (%s). Fix: correct the playbook path (relative to the project root) or pass "
        "--project-dir." % (CONTROLLER, FIXTURES)]


def test_all_problems_of_several_files_are_collected():
    names = sorted(n for n in os.listdir(WORKFLOWS) if n.startswith("broken_"))
    report = validate_files([os.path.join(WORKFLOWS, n) for n in names] + [os.path.join(WORKFLOWS, "good.yml")],
                            controller_config=CONTROLLER, project_dir=FIXTURES)
    assert len(report["files"]) == 10 and report["ok"] is False
    assert [bool(f["errors"]) for f in report["files"]] == [True] * 9 + [False]
    assert len(report["errors"]) == 18  # the missing playbook of a shared job template is reported once
    assert all(error["fix"] and error["where"] for error in report["errors"])


def test_controller_config_checked_against_awx_docs(tmp_path):
    config = tmp_path / "controller.yml"
    config.write_text("controller_templates:\n  - name: wf step\n    playbook: workflow_playbooks/step.yml\n    ask_variables: true\n"
                      "    project: nowhere\ncontroller_projects:\n  - name: wf-tests\n    organization: Default\n")
    report = validate_files([os.path.join(WORKFLOWS, "broken_unknown_template.yml")], controller_config=str(config),
                            project_dir=FIXTURES)
    messages = [e["message"] for e in report["errors"]]
    assert messages[0].startswith("%s: controller_templates 'wf step': field 'ask_variables' is not documented by awx.awx "
                                  "job_template. Fix: remove it or use a documented field: " % config)
    assert "project 'nowhere' of job template 'wf step' is not in controller_projects (known: wf-tests)" not in " ".join(messages)
    assert any("job template 'wf stpe' is not in the controller configuration" in m for m in messages)


def test_no_controller_configuration_fails_closed(tmp_path):
    shutil.copy(os.path.join(WORKFLOWS, "good.yml"), tmp_path / "good.yml")
    report = validate_files([str(tmp_path / "good.yml")])
    assert report["ok"] is False
    assert "job template 'wf deploy' cannot be checked: no controller configuration." in report["errors"][0]["message"]


def test_schema_is_read_from_the_installed_awx_collection(tmp_path, monkeypatch):
    # a copy of awx.awx whose documentation adds a node field: the validator accepts it without any code change
    source = schema.module_path("workflow_job_template")
    assert source and source.endswith("awx/awx/plugins/modules/workflow_job_template.py")
    root = tmp_path / "collections"
    target = root / schema.AWX_MODULES_DIR
    target.mkdir(parents=True)
    text = open(source, encoding="utf-8").read()
    anchor = "        all_parents_must_converge:\n"
    assert anchor in text
    text = text.replace(anchor, "        retry_on_failure:\n          description: test-only field\n          type: bool\n" + anchor, 1)
    (target / "workflow_job_template.py").write_text(text)
    for module in ("job_template", "project", "inventory", "inventory_source", "credential_type"):
        shutil.copy(schema.module_path(module), target / (module + ".py"))
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(root))
    assert "retry_on_failure" in schema.workflow_node_options()
    _path, _report, messages = check("broken_undocumented_field.yml")
    assert not any("'retry_on_failure'" in m for m in messages) and len(messages) == 2


def test_cli_validate_exit_codes_and_json():
    out, err = io.StringIO(), io.StringIO()
    code = main(["workflow", "validate", os.path.join(WORKFLOWS, "good.yml"), "--controller-config", CONTROLLER,
                 "--project-dir", FIXTURES], out=out, err=err)
    assert code == 0 and out.getvalue().endswith("OK: 1 file(s), 0 error(s), 0 warning(s)\n")
    out = io.StringIO()
    code = main(["workflow", "validate", os.path.join(WORKFLOWS, "broken_cycle.yml"), os.path.join(WORKFLOWS, "good.yml"),
                 "--controller-config", CONTROLLER, "--project-dir", FIXTURES, "--json"], out=out, err=err)
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["ok"] is False and [f["name"] for f in doc["files"]] == ["wf cycle", "wf good"]
    assert doc["errors"][0]["problem"].startswith("the workflow has a cycle: a -[success]-> b")


@pytest.mark.parametrize("argv", [["workflow"], ["workflow", "validate"]])
def test_cli_usage_errors(argv):
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 2
