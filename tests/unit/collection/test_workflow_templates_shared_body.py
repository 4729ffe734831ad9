# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The four workflow templates share one body: a node that several templates hold is the same node in each of them.

Each template is its shared nodes plus a few joints that differ on purpose (JOINTS: where the approval fragment plugs
in after assess, where the device stages start after the window gate, the approval node's name, text and timeout).
A node held by several templates must have the same job template, extra data, limit and edges in every template that
holds it; the gate nodes and the fragments must be where they belong. A drift names the node, the templates and the
field, e.g. "node 'close_after_rollback': extra_data differs - normal_change.yml {...} emergency_change.yml {...}".
"""

from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml

from repo_paths import ROOT

TEMPLATES = sorted(glob.glob(os.path.join(ROOT, "workflow_templates", "*.yml")))
# held by every template: the assessment, both gates, the gates' cancel path and the final close
GATES = ("assess", "review", "window", "close_canceled_gate", "escalate_gate", "close", "escalate_close")
# held by every template with a human approval
APPROVAL = ("approval", "review_after_approval", "close_canceled_approval", "escalate_approval")
# held by every single-domain template
SINGLE_DOMAIN = ("precheck", "precheck_retry", "close_canceled_precheck", "escalate_precheck", "deploy", "verify", "rollback",
                 "close_after_rollback", "escalate_after_rollback")
FRAGMENTS = {"normal_change.yml": GATES + APPROVAL + SINGLE_DOMAIN, "emergency_change.yml": GATES + APPROVAL + SINGLE_DOMAIN,
             "standard_change.yml": GATES + SINGLE_DOMAIN, "multi_domain_change.yml": GATES + APPROVAL}
# what may differ between templates on purpose: edges of a joint node (node, edge kind) and fields of a node
JOINT_EDGES = {("assess", "success_nodes"), ("window", "success_nodes")}
JOINT_FIELDS = {"approval": ("name", "description", "timeout")}  # keys of its unified_job_template
TOP_LEVEL_SHARED = ("organization", "ask_variables_on_launch", "allow_simultaneous")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def shape(doc):
    """{identifier: (definition without its edges and joint fields, {edge kind: sorted targets} without joint edges)}."""
    out = {}
    for node in doc.get("workflow_nodes") or []:
        ident = node["identifier"]
        body = copy.deepcopy({key: value for key, value in node.items() if key not in ("identifier", "related")})
        for field in JOINT_FIELDS.get(ident, ()):
            body.get("unified_job_template", {}).pop(field, None)
        edges = dict((kind, sorted(target["identifier"] for target in targets))
                     for kind, targets in (node.get("related") or {}).items() if (ident, kind) not in JOINT_EDGES)
        out[ident] = (body, edges)
    return out


def body_differences(docs):
    """Every drift of the shared body across ``docs`` ({file name: template}), one message naming the node each."""
    problems = []
    shapes = dict((name, shape(doc)) for name, doc in docs.items())
    for name, idents in sorted(FRAGMENTS.items()):
        if name in shapes:
            problems += ["node %r is missing from %s (its fragment is shared)" % (i, name) for i in idents if i not in shapes[name]]
    for key in TOP_LEVEL_SHARED:
        values = dict((name, doc.get(key)) for name, doc in docs.items())
        if len(set(repr(v) for v in values.values())) > 1:
            problems.append("top-level %s differs: %s" % (key, values))
    for ident in sorted(set().union(*shapes.values())):
        holders = sorted(name for name in shapes if ident in shapes[name])
        first = holders[0]
        for other in holders[1:]:
            (body_a, edges_a), (body_b, edges_b) = shapes[first][ident], shapes[other][ident]
            for field in sorted(set(body_a) | set(body_b)):
                if body_a.get(field) != body_b.get(field):
                    problems.append("node %r: %s differs - %s %r, %s %r" % (ident, field, first, body_a.get(field), other, body_b.get(field)))
            for kind in sorted(set(edges_a) | set(edges_b)):
                if edges_a.get(kind) != edges_b.get(kind):
                    problems.append("node %r: %s differs - %s %r, %s %r" % (ident, kind, first, edges_a.get(kind), other, edges_b.get(kind)))
    return problems


@pytest.fixture(scope="module")
def shipped():
    return dict((os.path.basename(path), load(path)) for path in TEMPLATES)


def test_the_four_templates_are_the_ones_described(shipped):  # pylint: disable=redefined-outer-name
    assert sorted(shipped) == sorted(FRAGMENTS)


def test_shipped_templates_share_one_body(shipped):  # pylint: disable=redefined-outer-name
    problems = body_differences(shipped)
    assert problems == [], "\n".join(problems)


def branch_differences(doc, first="routers", second="firewalls"):
    """The multi-domain template's two branches are one branch twice: each node of the first, with the branch's name
    swapped, is the second's node (job template, limit, edges)."""
    nodes = dict((node["identifier"], node) for node in doc["workflow_nodes"])
    problems = []
    for ident in sorted(i for i in nodes if first in i.split("_")):
        twin = "_".join(second if part == first else part for part in ident.split("_"))
        if twin not in nodes:
            problems.append("node %r has no twin %r in the %s branch" % (ident, twin, second))
        elif yaml.safe_dump(nodes[ident]).replace(first, "BRANCH") != yaml.safe_dump(nodes[twin]).replace(second, "BRANCH"):
            problems.append("node %r differs from its twin %r beyond the branch name" % (ident, twin))
    return problems


def test_the_multi_domain_branches_are_one_branch_twice(shipped):  # pylint: disable=redefined-outer-name
    doc = shipped["multi_domain_change.yml"]
    assert branch_differences(doc) == []
    assert len([n for n in doc["workflow_nodes"] if "routers" in n["identifier"].split("_")]) == 5
    drifted = copy.deepcopy(doc)
    drifted["workflow_nodes"][_index(drifted, "verify_firewalls")]["related"]["failure_nodes"] = [{"identifier": "close"}]
    assert branch_differences(drifted) == ["node 'verify_routers' differs from its twin 'verify_firewalls' beyond the branch name"]


@pytest.mark.parametrize("mutate, named", [
    (lambda doc: doc["workflow_nodes"][_index(doc, "close_after_rollback")].update(extra_data={"governed_close_outcome": "canceled"}),
     "node 'close_after_rollback': extra_data differs"),
    (lambda doc: doc["workflow_nodes"][_index(doc, "rollback")]["related"].update(always_nodes=[{"identifier": "escalate_close"}]),
     "node 'rollback': always_nodes differs"),
    (lambda doc: doc["workflow_nodes"][_index(doc, "review")]["related"].pop("failure_nodes"),
     "node 'review': failure_nodes differs"),
    (lambda doc: doc["workflow_nodes"][_index(doc, "escalate_gate")]["unified_job_template"].update(name="governed-change close"),
     "node 'escalate_gate': unified_job_template differs"),
    (lambda doc: doc["workflow_nodes"].pop(_index(doc, "escalate_precheck")),
     "node 'escalate_precheck' is missing from emergency_change.yml"),
    (lambda doc: doc["workflow_nodes"][_index(doc, "approval")]["related"]["failure_nodes"].append({"identifier": "close"}),
     "node 'approval': failure_nodes differs"),
])
def test_a_drift_in_one_template_names_the_node(shipped, mutate, named):  # pylint: disable=redefined-outer-name
    docs = copy.deepcopy(shipped)
    mutate(docs["emergency_change.yml"])
    problems = body_differences(docs)
    assert any(named in problem for problem in problems), problems


def test_the_joints_may_differ(shipped):  # pylint: disable=redefined-outer-name
    """The approval's name, text and timeout and the joints' success edges differ on purpose; nothing else does."""
    docs = copy.deepcopy(shipped)
    approval = docs["emergency_change.yml"]["workflow_nodes"][_index(docs["emergency_change.yml"], "approval")]
    approval["unified_job_template"].update(timeout=60, description="another text")
    assert body_differences(docs) == []
    approval["unified_job_template"]["type"] = "job_template"
    assert any("node 'approval': unified_job_template differs" in p for p in body_differences(docs))


def _index(doc, ident):
    return next(i for i, node in enumerate(doc["workflow_nodes"]) if node["identifier"] == ident)
