# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode of the controller load: which entries an awx.awx module can be called with, and what is pending or unknown."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import controller_refs
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

EMPTY = {endpoint: [] for endpoint in controller_refs.LOOKUP_ENDPOINTS}
FRESH = dict(EMPTY, organizations=["Default"], credential_types=["Machine"])
PROJECT = {"name": "p", "organization": "Default", "default_environment": "ee", "scm_url": "https://x.invalid/r.git"}
TEMPLATE = {"name": "jt", "organization": "Default", "project": "p", "inventory": "inv", "credentials": ["c1", "c2"]}
WORKFLOW = {"name": "wf", "organization": "Default", "workflow_nodes": [
    {"identifier": "a", "unified_job_template": {"name": "jt", "type": "job_template", "organization": {"name": "Default"}}},
    {"identifier": "ok", "unified_job_template": {"name": "wf approval", "type": "workflow_approval", "timeout": 60}}]}


def test_references_of_options_lists_and_workflow_nodes():
    assert controller_refs.references(TEMPLATE) == [
        ("organization", "organizations", "Default"), ("project", "projects", "p"), ("inventory", "inventories", "inv"),
        ("credentials", "credentials", "c1"), ("credentials", "credentials", "c2")]
    # an approval node creates its template: it refers to nothing
    assert controller_refs.references(WORKFLOW) == [("organization", "organizations", "Default"),
                                                    ("workflow_nodes[0].unified_job_template", "unified_job_templates", "jt")]


def test_outside_check_mode_every_entry_is_kept():
    assert controller_refs.resolvable([PROJECT, TEMPLATE], None) == [PROJECT, TEMPLATE]


def test_check_mode_keeps_only_entries_whose_references_exist():
    assert controller_refs.resolvable([PROJECT, TEMPLATE, {"name": "ee", "organization": "Default"}], FRESH) == [
        {"name": "ee", "organization": "Default"}]
    loaded = dict(FRESH, execution_environments=["ee"], projects=["p"], inventories=["inv"], credentials=["c1", "c2"])
    assert controller_refs.resolvable([PROJECT, TEMPLATE], loaded) == [PROJECT, TEMPLATE]


def test_plan_names_pending_entries_and_references_to_nothing():
    config = {"controller_execution_environments": [{"name": "ee", "organization": "Default"}],
              "controller_projects": [PROJECT], "controller_templates": [TEMPLATE], "controller_workflows": [WORKFLOW]}
    plan = controller_refs.check_plan(config, FRESH)
    assert plan["pending"] == [
        "controller_projects 'p': would be created or updated after execution_environments 'ee' (not on the controller yet)",
        "controller_templates 'jt': would be created or updated after projects 'p' (not on the controller yet)",
        "controller_workflows 'wf': would be created or updated after unified_job_templates 'jt' (not on the controller yet)"]
    assert plan["unknown"] == ["controller_templates 'jt' refers to inventories 'inv'; credentials 'c1', 'c2': neither on the "
                               "controller nor in the configuration"]


def test_an_endpoint_not_looked_up_fails_closed():
    with pytest.raises(ValidationError, match="the controller's projects were not looked up"):
        controller_refs.resolvable([TEMPLATE], {"organizations": ["Default"]})
