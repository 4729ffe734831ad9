# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped AWX workflow templates (workflow_templates/*.yml): the validator passes them, and each has its pattern."""

from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.workflow import validate

WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflow_templates", "*.yml")))
STAGES = ("assess", "review", "window", "precheck", "deploy", "verify", "rollback", "close", "escalate")
STAGE_TEMPLATES = {"governed-change %s" % stage for stage in STAGES + ("wait_for_dependency",)}


def load(name):
    with open(os.path.join(ROOT, "workflow_templates", name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def graph(doc):
    nodes = {node["identifier"]: node for node in doc["workflow_nodes"]}
    edges = [(ident, kind, child["identifier"]) for ident, node in nodes.items()
             for kind, children in (node.get("related") or {}).items() if kind.endswith("_nodes") for child in children]
    return nodes, edges


def children(edges, ident, kind):
    return [child for parent, edge_kind, child in edges if parent == ident and edge_kind == kind]


def parents(edges, ident):
    return sorted((parent, kind) for parent, kind, child in edges if child == ident)


def stage(node):
    return node["unified_job_template"]["name"]


def test_four_workflows_are_shipped():
    names = [os.path.basename(path) for path in WORKFLOWS]
    assert names == ["emergency_change.yml", "multi_domain_change.yml", "normal_change.yml", "standard_change.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_validator_passes_every_shipped_template(path):
    report = validate.validate_files([path])
    assert report["controller_config"] == os.path.join(ROOT, "controller")
    assert report["ok"], "\n".join(error["message"] for error in report["errors"])
    assert report["files"][0]["nodes"] == len(load(os.path.basename(path))["workflow_nodes"])
    assert not report["warnings"], report["warnings"]


def test_validator_rejects_a_shipped_template_without_its_rollback_edge(tmp_path):
    doc = load("normal_change.yml")
    broken = copy.deepcopy(doc)
    for node in broken["workflow_nodes"]:
        if node["identifier"] in ("deploy", "verify"):
            node["related"].pop("failure_nodes")
    path = tmp_path / "workflow_templates" / "broken.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(broken))
    report = validate.validate_files([str(path)], controller_config=os.path.join(ROOT, "controller"), project_dir=ROOT)
    messages = [error["message"] for error in report["errors"]]
    assert any("node 'deploy'" in text and "reaches a rollback node" in text for text in messages), messages


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_every_node_names_a_contract_job_template_or_is_an_approval(path):
    nodes, _edges = graph(load(os.path.basename(path)))
    for ident, node in nodes.items():
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            assert 0 < ujt["timeout"] <= 86400, ident
        else:
            assert ujt["type"] == "job_template" and ujt["name"] in STAGE_TEMPLATES, ident
            assert ujt["organization"] == {"name": "Default"}


@pytest.mark.parametrize("name", ["normal_change.yml", "emergency_change.yml", "multi_domain_change.yml"])
def test_approval_timeout_or_deny_cancels_then_escalates_by_the_decision(name):
    nodes, edges = graph(load(name))
    (approval,) = [ident for ident, node in nodes.items() if node["unified_job_template"]["type"] == "workflow_approval"]
    assert parents(edges, approval) == [("assess", "success_nodes")]
    assert children(edges, approval, "success_nodes") == ["review"]
    # a failed approval (denied or timed out) goes through the review gate first, which records why (deny, expired or
    # missing approvals) as the pipeline's review gate does; whatever it decides, the change is then canceled
    (why,) = children(edges, approval, "failure_nodes")
    assert stage(nodes[why]) == "governed-change review"
    (cancel,) = children(edges, why, "always_nodes")
    assert not children(edges, why, "success_nodes") and not children(edges, why, "failure_nodes")
    assert stage(nodes[cancel]) == "governed-change close"
    assert nodes[cancel]["extra_data"] == {"governed_close_outcome": "canceled"}
    (notify,) = children(edges, cancel, "always_nodes")
    assert stage(nodes[notify]) == "governed-change escalate"
    # no forced reason: the escalate node hands over only what the run's decision names (an expired approval or an AWX
    # approval node that timed out: approval_timeout; a deny: nothing), as governed_change.yml does
    assert "governed_escalation_reason" not in (nodes[notify].get("extra_data") or {})


@pytest.mark.parametrize("name", ["normal_change.yml", "standard_change.yml", "emergency_change.yml"])
def test_single_domain_chain_retry_and_rollback(name):
    nodes, edges = graph(load(name))
    chain = ["review", "window", "precheck", "deploy", "verify", "close"]
    for parent, child in zip(chain, chain[1:]):
        assert child in children(edges, parent, "success_nodes"), (parent, child)
    # transient failures: one retry node for the read-only precheck, then cancel (nothing was deployed)
    assert children(edges, "precheck", "failure_nodes") == ["precheck_retry"]
    assert stage(nodes["precheck_retry"]) == "governed-change precheck"
    assert children(edges, "precheck_retry", "success_nodes") == ["deploy"]
    assert nodes[children(edges, "precheck_retry", "failure_nodes")[0]]["extra_data"] == {"governed_close_outcome": "canceled"}
    # any failure after the first device may have changed goes straight to rollback (no second deploy job whose
    # artifacts would hide the first one's deployed hosts from the rollback)
    assert children(edges, "deploy", "failure_nodes") == ["rollback"]
    assert children(edges, "verify", "failure_nodes") == ["rollback"]
    assert not [ident for ident, node in nodes.items() if stage(node) == "governed-change deploy" and ident != "deploy"]
    assert children(edges, "rollback", "always_nodes") == ["close_after_rollback"]
    assert nodes["close_after_rollback"]["extra_data"] == {"governed_close_outcome": "unsuccessful"}
    assert stage(nodes[children(edges, "close_after_rollback", "always_nodes")[0]]) == "governed-change escalate"
    # a refused gate cancels before any device is touched
    for gate in ("review", "window"):
        (cancel,) = children(edges, gate, "failure_nodes")
        assert nodes[cancel]["extra_data"] == {"governed_close_outcome": "canceled"}


def test_standard_change_has_no_human_approval():
    nodes, edges = graph(load("standard_change.yml"))
    assert all(node["unified_job_template"]["type"] == "job_template" for node in nodes.values())
    assert children(edges, "assess", "success_nodes") == ["review"]


def test_emergency_approval_is_expedited():
    def timeout(name):
        nodes, _edges = graph(load(name))
        return nodes["approval"]["unified_job_template"]["timeout"]
    assert timeout("emergency_change.yml") < timeout("normal_change.yml")


def test_multi_domain_branches_run_in_parallel_and_converge():
    nodes, edges = graph(load("multi_domain_change.yml"))
    # routing waits for the firewall change (wait_for_dependency, ledger source) before its branch starts
    assert sorted(children(edges, "window", "success_nodes")) == ["precheck_firewalls", "wait_firewall_change"]
    wait = nodes["wait_firewall_change"]
    assert stage(wait) == "governed-change wait_for_dependency" and "limit" not in wait
    assert wait["extra_data"]["governed_wait_source"] == "ledger"
    assert children(edges, "wait_firewall_change", "success_nodes") == ["precheck_routers"]
    assert children(edges, "wait_firewall_change", "failure_nodes") == ["close_failed"]
    assert stage(nodes[children(edges, "close_failed", "always_nodes")[0]]) == "governed-change escalate"
    for domain in ("routers", "firewalls"):
        branch = ["precheck_%s" % domain, "deploy_%s" % domain, "verify_%s" % domain]
        for ident in branch + ["precheck_%s_retry" % domain, "rollback_%s" % domain]:
            assert nodes[ident]["limit"] == domain, ident
        for parent, child in zip(branch, branch[1:]):
            assert child in children(edges, parent, "success_nodes")
        assert children(edges, "precheck_%s" % domain, "failure_nodes") == ["precheck_%s_retry" % domain]
        assert children(edges, "deploy_%s" % domain, "failure_nodes") == ["rollback_%s" % domain]
        assert children(edges, "verify_%s" % domain, "failure_nodes") == ["rollback_%s" % domain]
    converge = nodes["verify_network"]
    assert converge["all_parents_must_converge"] is True and "limit" not in converge
    assert parents(edges, "verify_network") == [("verify_firewalls", "success_nodes"), ("verify_routers", "success_nodes")]
    assert children(edges, "verify_network", "success_nodes") == ["close"]
    assert children(edges, "verify_network", "failure_nodes") == ["rollback_network"]
