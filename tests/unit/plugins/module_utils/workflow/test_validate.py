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
import yaml

from repo_paths import ROOT, UNIT_FIXTURES

from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.workflow import schema
from ansible_collections.governed.change.plugins.module_utils.workflow.validate import validate_files

FIXTURES = UNIT_FIXTURES
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
    assert messages == ["%s: node 'deploy': deploy node 'deploy' (job template 'wf deploy', playbook workflow_playbooks/deploy.yml): "
                        "its failure path deploy -[failure]-> notify ends at 'notify' without reaching a rollback node. Fix: point "
                        "related.failure_nodes of 'deploy' straight at a rollback node (a job template whose playbook file name "
                        "contains 'rollback'), and join any node in between with always_nodes only." % path]


def test_stage_patterns_match_playbook_file_names():
    # the rollback template's playbook (workflow_playbooks/rollback.yml) no longer matches: neither failure path reaches one
    path, report, messages = check("good.yml", rollback_patterns=("undo",))
    assert [e["where"] for e in report["errors"]] == ["%s: node 'deploy'" % path, "%s: node 'verify'" % path]
    assert messages[0].endswith("its failure path deploy -[failure]-> rollback ends at 'rollback' without reaching a rollback node. "
                                "Fix: point related.failure_nodes of 'deploy' straight at a rollback node (a job template whose "
                                "playbook file name contains 'undo'), and join any node in between with always_nodes only.")
    # no playbook matches the deploy pattern: no deploy node, so no deploy rule applies
    _path, report, _messages = check("broken_deploy_no_rollback.yml", deploy_patterns=("push",))
    assert report["ok"] is True


def test_approval_without_timeout_and_with_zero_timeout():
    path, _report, messages = check("broken_approval_no_timeout.yml")
    fix = ("Fix: set unified_job_template.timeout to the seconds approvers have (e.g. 86400), and route the timeout through "
           "failure_nodes.")
    assert messages == [
        "%s: node 'approve': approval node 'approve the unbounded change' has no timeout: it would wait for an approver forever. %s" % (path, fix),
        "%s: node 'approve_zero': approval node 'approve again' has timeout 0: it would wait for an approver forever. %s" % (path, fix)]


def test_unknown_job_template():
    path, _report, messages = check("broken_unknown_template.yml")
    assert messages == ["%s: node 'work': job template 'wf stpe' is not in the controller configuration (%s). Fix: add it to "
                        "controller_templates or correct the name (known: wf deploy, wf fail, wf missing playbook, wf rollback, "
                        "wf short timeout, wf step, wf strict, wf verify)." % (path, CONTROLLER)]


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
        "%s: node 'work': field 'related.success_nodes' must be a list (got str 'work2'). Fix: write it as a list, as awx.awx "
        "workflow_job_template (workflow_nodes) documents it." % path,
        "%s: node 'work': the node sets verbosity, but job template 'wf step' does not prompt for it (ask_verbosity_on_launch is "
        "not true): AWX refuses to create the node (HTTP 400, Field is not configured to prompt on launch). Fix: set "
        "ask_verbosity_on_launch: true on job template 'wf step' in the controller "
        "configuration, or drop verbosity from the node." % path]


def test_prompts_and_missing_playbook():
    path, _report, messages = check("broken_template_problems.yml")
    assert messages == [
        "%s: node 'strict': the node sets extra_data, but job template 'wf strict' does not prompt for it (ask_variables_on_launch "
        "is not true): AWX refuses to create the node (HTTP 400, Field is not configured to prompt on launch). Fix: set "
        "ask_variables_on_launch: true on job template 'wf strict' in the controller "
        "configuration, or drop extra_data from the node." % path,
        "%s: node 'strict': the node sets limit, but job template 'wf strict' does not prompt for it (ask_limit_on_launch is not "
        "true): AWX refuses to create the node (HTTP 400, Field is not configured to prompt on launch). Fix: set "
        "ask_limit_on_launch: true on job template 'wf strict' in the controller "
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
    # the missing playbook of a shared job template is reported once; an integer verbosity (1) is accepted (AWX's choices)
    assert len(report["errors"]) == 17
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


# Safety rules on the shipped normal change (workflow_templates/normal_change.yml) with one unsafe edit each; the stage
# roles come from the job templates' playbooks in the shipped controller configuration.
SHIPPED_CONTROLLER = os.path.join(ROOT, "controller")
FAILURE_FIX = ("Fix: point related.failure_nodes of '%s' straight at a rollback node (a job template whose playbook file name "
               "contains 'rollback'), and join any node in between with always_nodes only.")
DEPLOY = "deploy node 'deploy' (job template 'governed-change deploy', playbook playbooks/deploy.yml)"


def shipped_variant(tmp_path, edit, controller=SHIPPED_CONTROLLER):
    with open(os.path.join(ROOT, "workflow_templates", "normal_change.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    nodes = {node["identifier"]: node for node in doc["workflow_nodes"]}
    edit(doc, nodes)
    path = tmp_path / "normal_variant.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    report = validate_files([str(path)], controller_config=controller, project_dir=ROOT)
    return str(path), [error["message"] for error in report["errors"]]


def test_shipped_normal_change_is_safe(tmp_path):
    _path, messages = shipped_variant(tmp_path, lambda doc, nodes: None)
    assert messages == []


def test_deploy_failure_through_verify_is_refused(tmp_path):
    # deploy failure -> verify (failure -> rollback): a passing verify would close a failed deploy as successful
    def edit(_doc, nodes):
        nodes["deploy"]["related"]["failure_nodes"] = [{"identifier": "verify"}]
    path, messages = shipped_variant(tmp_path, edit)
    assert messages == ["%s: node 'deploy': it links to 'verify' by success_nodes and failure_nodes; AWX allows one relationship "
                        "between two nodes (Relationship not allowed.). Fix: keep one edge from 'deploy' to 'verify' (always_nodes "
                        "when it must run either way)." % path,
                        "%s: node 'deploy': %s: its failure path deploy -[failure]-> verify reaches verify node 'verify' before any "
                        "rollback node: a passing verify would take the failed change on to close as successful. %s" % (
                            path, DEPLOY, FAILURE_FIX % "deploy")]


def test_deploy_failure_through_another_outcome_is_refused_and_always_joins_are_accepted(tmp_path):
    # deploy failure -> escalate whose success -> rollback: the rollback depends on the escalation succeeding
    def conditional(_doc, nodes):
        nodes["deploy"]["related"]["failure_nodes"] = [{"identifier": "escalate_close"}]
        nodes["escalate_close"]["related"] = {"success_nodes": [{"identifier": "rollback"}]}
    path, messages = shipped_variant(tmp_path, conditional)
    assert messages == ["%s: node 'deploy': %s: its failure path deploy -[failure]-> escalate_close depends on the outcome of "
                        "'escalate_close' before any rollback node: a successful 'escalate_close' would carry the failed deploy "
                        "on as a success. %s" % (path, DEPLOY, FAILURE_FIX % "deploy")]

    def always(doc, nodes):
        conditional(doc, nodes)
        nodes["escalate_close"]["related"] = {"always_nodes": [{"identifier": "rollback"}]}
    _path, messages = shipped_variant(tmp_path, always)
    assert messages == []


def test_rollback_waiting_for_all_parents_is_refused(tmp_path):
    # rollback's parents are deploy (failure) and verify (failure): with ALL convergence a failed deploy skips it
    def edit(_doc, nodes):
        nodes["rollback"]["all_parents_must_converge"] = True
    path, messages = shipped_variant(tmp_path, edit)
    assert messages == ["%s: node 'deploy': %s: its failure path deploy -[failure]-> rollback reaches 'rollback', which waits for "
                        "all its parents (all_parents_must_converge: true), so AWX skips it when another parent took a different "
                        "edge. %s" % (path, DEPLOY, FAILURE_FIX % "deploy"),
                        "%s: node 'verify': verify node 'verify' (job template 'governed-change verify', playbook "
                        "playbooks/verify.yml): its failure path verify -[failure]-> rollback reaches 'rollback', which waits for "
                        "all its parents (all_parents_must_converge: true), so AWX skips it when another parent took a different "
                        "edge. %s" % (path, FAILURE_FIX % "verify")]


def test_close_on_deploy_success_without_verify_is_refused(tmp_path):
    # verify removed: deploy success -> close would close an unverified change as successful
    def edit(doc, nodes):
        doc["workflow_nodes"].remove(nodes["verify"])
        nodes["deploy"]["related"]["success_nodes"] = [{"identifier": "close"}]
    path, messages = shipped_variant(tmp_path, edit)
    assert messages == ["%s: node 'deploy': %s: its success path deploy -[success]-> close reaches close node 'close' without a "
                        "verify node in between: a change nobody verified would be closed as successful. Fix: route "
                        "related.success_nodes of 'deploy' to a verify node (a job template whose playbook file name contains "
                        "'verify') and close only after it." % (path, DEPLOY)]


def test_verify_without_parent_is_refused(tmp_path):
    # deploy's success edge dropped: verify has no parent, so AWX would run it at launch as a root
    def edit(_doc, nodes):
        del nodes["deploy"]["related"]["success_nodes"]
    path, messages = shipped_variant(tmp_path, edit)
    assert messages == [
        "%s: node 'deploy': %s: no verify node is sure to run when it succeeds. Fix: route related.success_nodes of 'deploy' to a "
        "verify node (a job template whose playbook file name contains 'verify') and close only after it." % (path, DEPLOY),
        "%s: node 'verify': verify node 'verify' (job template 'governed-change verify', playbook playbooks/verify.yml) has no "
        "parent: AWX starts every node without a parent at launch, so this verify would run at once, before assess, the gates "
        "and the deploy. Fix: make 'verify' a child of the node it must follow (e.g. related.success_nodes of the deploy node "
        "for a verify), or remove it." % path]


def test_second_root_is_refused(tmp_path):
    # close's failure edge dropped: escalate_close has no parent and would hand off a packet at every launch
    def edit(_doc, nodes):
        del nodes["close"]["related"]
    path, messages = shipped_variant(tmp_path, edit)
    assert messages == ["%s: node 'escalate_close': node 'escalate_close' has no parent: AWX starts every node without a parent at "
                        "launch, so it would run at once beside the entry node 'assess'; a governed change has one entry. Fix: "
                        "make 'escalate_close' a child of the node it must follow, or remove it." % path]


def test_renamed_deploy_template_is_recognised_by_its_playbook(tmp_path):
    # "governed-change push" runs playbooks/deploy.yml: its failure -> close is refused although the name says nothing
    controller = tmp_path / "controller"
    shutil.copytree(SHIPPED_CONTROLLER, controller)
    with open(controller / "job_templates.yml", encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    (deploy,) = [t for t in config["controller_templates"] if t["name"] == "governed-change deploy"]
    deploy["name"] = "governed-change push"
    (controller / "job_templates.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def edit(_doc, nodes):
        nodes["deploy"]["unified_job_template"]["name"] = "governed-change push"
        nodes["deploy"]["related"]["failure_nodes"] = [{"identifier": "close"}]
    path, messages = shipped_variant(tmp_path, edit, controller=str(controller))
    assert messages == ["%s: node 'deploy': deploy node 'deploy' (job template 'governed-change push', playbook "
                        "playbooks/deploy.yml): its failure path deploy -[failure]-> close reaches close node 'close' before any "
                        "rollback node: the failed change would be closed without being rolled back. %s" % (
                            path, FAILURE_FIX % "deploy")]


# -- names a controller must tell apart (issue 14) ----------------------------------------------------------------------
def shipped_project(tmp_path):
    """A copy of the shipped controller configuration and workflow templates (the playbooks linked), as its own project."""
    shutil.copytree(SHIPPED_CONTROLLER, tmp_path / "controller")
    shutil.copytree(os.path.join(ROOT, "workflow_templates"), tmp_path / "workflow_templates")
    os.symlink(os.path.join(ROOT, "playbooks"), tmp_path / "playbooks")
    return tmp_path


def edit_yaml(path, edit):
    with open(path, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def approval_node(doc):
    return next(node for node in doc["workflow_nodes"] if node["unified_job_template"].get("type") == "workflow_approval")


def test_shipped_workflows_name_every_template_once(tmp_path):
    project = shipped_project(tmp_path)
    report = validate_files(sorted(str(p) for p in (project / "workflow_templates").glob("*.yml")))
    assert report["ok"] is True, report["errors"]


def test_one_approval_name_in_two_workflows_is_refused_naming_both(tmp_path):
    project = shipped_project(tmp_path)
    normal, multi = project / "workflow_templates" / "normal_change.yml", project / "workflow_templates" / "multi_domain_change.yml"
    edit_yaml(multi, lambda doc: approval_node(doc)["unified_job_template"].update(name="governed-change normal approval"))
    # only normal_change.yml is given: the other workflows come from controller_workflows
    report = validate_files([str(normal)])
    assert report["ok"] is False
    out = io.StringIO()
    assert main(["workflow", "validate", str(normal)], out=out, err=io.StringIO()) == 1
    assert "INVALID: 1 file(s), 1 error(s)" in out.getvalue()
    assert [e["message"] for e in report["errors"]] == [
        "%s: node 'approval': template name 'governed-change normal approval' is used 2 times: approval template (%s: node "
        "'approval') and approval template (%s: node 'approval'). A controller finds job, workflow and approval templates by "
        "name, so one load binds or rewrites the other's template (an approval would show the other workflow's description). "
        "Fix: give each template a name of its own (an approval node: '<workflow name> approval')." % (
            "workflow_templates/multi_domain_change.yml", normal, "workflow_templates/multi_domain_change.yml")]


def test_an_approval_named_like_a_job_template_is_refused(tmp_path):
    project = shipped_project(tmp_path)
    normal = project / "workflow_templates" / "normal_change.yml"
    edit_yaml(normal, lambda doc: approval_node(doc)["unified_job_template"].update(name="governed-change review"))
    messages = [e["message"] for e in validate_files([str(normal)])["errors"]]
    assert len(messages) == 1
    assert "template name 'governed-change review' is used 2 times: job template (%s: controller_templates 'governed-change " \
           "review') and approval template (%s: node 'approval')" % (project / "controller" / "job_templates.yml", normal) in messages[0]


def test_a_credential_defined_in_two_files_is_refused_naming_both(tmp_path):
    # controller_credentials has no schema check here: the uniqueness rule covers every controller_* list all the same
    project = shipped_project(tmp_path)
    extra = project / "controller" / "more_credentials.yml"
    extra.write_text(yaml.safe_dump({"controller_credentials": [{"name": "governed-change", "organization": "Default",
                                                                 "credential_type": "Machine", "inputs": {}}]}))
    messages = [e["message"] for e in validate_files([str(project / "workflow_templates" / "normal_change.yml")])["errors"]]
    assert messages == ["%s: controller_credentials 'governed-change': controller_credentials 'governed-change' is defined 2 "
                        "times: %s: controller_credentials 'governed-change' and %s: controller_credentials 'governed-change'. "
                        "Fix: give each object a name of its own; a controller finds it by name, so a second definition "
                        "rewrites the first." % (extra, project / "controller" / "credentials.yml", extra)]


def test_a_workflow_entry_whose_file_names_another_workflow_is_refused(tmp_path):
    project = shipped_project(tmp_path)
    edit_yaml(project / "workflow_templates" / "standard_change.yml", lambda doc: doc.update(name="governed-change std"))
    messages = [e["message"] for e in validate_files([str(project / "workflow_templates" / "normal_change.yml")])["errors"]]
    assert messages == ["%s: controller_workflows 'governed-change standard change': controller_workflows names 'governed-change "
                        "standard change', but its file workflow_templates/standard_change.yml defines workflow 'governed-change "
                        "std': the load creates the file's name. Fix: use one name in both places." % (
                            project / "controller" / "workflows.yml")]
