# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/controller_load.yml with the real awx.awx modules (.collections) against a local server answering as the AWX
v2 API does (tests/support/awx_api.py), asserting what was sent: check mode on a fresh controller succeeds and writes
nothing, a load creates every object once with the fields of controller/ and workflow_templates/, and a second load keeps
each workflow's own approval template (functional tier, no lab)."""

from __future__ import annotations

import glob
import os
import subprocess

import pytest
import yaml

from awx_api import FakeAwx
from repo_paths import ROOT, VENV_BIN

TOKEN = "test-token-5f1c"
SIGNERS = 'alice@lab namespaces="governed.change" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOjQ'


def load(fake, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "TOWER_", "AWX_"))}
    env.update(CONTROLLER_HOST=fake.url, CONTROLLER_OAUTH_TOKEN=TOKEN, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "playbooks/controller_load.yml",
                           "-e", "governed_controller_allowed_signers='%s'" % SIGNERS] + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


def config(key):
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "controller", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            out.extend((yaml.safe_load(handle) or {}).get(key) or [])
    return out


def workflows():
    docs = []
    for entry in config("controller_workflows"):
        with open(os.path.join(ROOT, entry["file"]), encoding="utf-8") as handle:
            docs.append(yaml.safe_load(handle))
    return docs


def created(fake, endpoint):
    return [r["body"].get("name") for r in fake.requests if r["method"] == "POST" and r["path"] == "/api/v2/%s/" % endpoint]


def one(fake, endpoint, name):
    (obj,) = fake.of(endpoint, name=name)
    return obj


def approval_of(fake, workflow):
    """The approval template the workflow's current approval node points at."""
    wfjt = one(fake, "workflow_job_templates", workflow["name"])
    (node,) = [n for n in fake.of("workflow_job_template_nodes", workflow_job_template=wfjt["id"]) if n["identifier"] == "approval"]
    return fake.objects["workflow_approval_templates"][node["unified_job_template"]]


@pytest.fixture(scope="module")
def loaded():
    """One fresh server: check mode first (nothing there yet), then a load, then a second load. Yields the server and
    the outputs."""
    with FakeAwx(TOKEN) as fake:
        check_output = load(fake, "--check")
        check_writes = list(fake.writes())
        first_count = len(fake.requests)
        load(fake)
        first_load = fake.requests[first_count:]
        approvals_after_first = {wf["name"]: dict(approval_of(fake, wf)) for wf in workflows() if any(
            n["unified_job_template"].get("type") == "workflow_approval" for n in wf["workflow_nodes"])}
        second_count = len(fake.requests)
        load(fake)
        yield {"fake": fake, "check_output": check_output, "check_writes": check_writes, "first_load": first_load,
               "second_load": fake.requests[second_count:], "approvals_after_first": approvals_after_first}


def test_check_mode_on_a_fresh_controller_succeeds_and_creates_nothing(loaded):
    assert loaded["check_writes"] == []
    out = loaded["check_output"]
    # what it could not compare is named, with the object it waits for
    assert "controller_projects 'governed-change': would be created or updated after execution_environments " \
           "'governed-change ee' (not on the controller yet)" in out
    assert "controller_credentials 'governed-change': would be created or updated after credential_types 'governed-change' " \
           "(not on the controller yet)" in out
    assert "controller_schedules 'governed-change metrics daily': would be created or updated after unified_job_templates " \
           "'governed-change metrics' (not on the controller yet)" in out
    assert "changed: [localhost] => (item=governed-change ee)" in out  # would create the EE (nothing it refers to is missing)


@pytest.mark.parametrize("endpoint, key", [
    ("execution_environments", "controller_execution_environments"), ("projects", "controller_projects"),
    ("credential_types", "controller_credential_types"), ("credentials", "controller_credentials"),
    ("inventories", "controller_inventories"), ("inventory_sources", "controller_inventory_sources"),
    ("job_templates", "controller_templates"), ("schedules", "controller_schedules")])
def test_every_object_is_created_once(loaded, endpoint, key):
    names = sorted(entry["name"] for entry in config(key))
    assert names, key
    assert sorted(created(loaded["fake"], endpoint)) == names
    assert sorted(o["name"] for o in loaded["fake"].of(endpoint)) == names or endpoint == "credential_types"


def test_objects_carry_the_fields_and_references_of_the_configuration(loaded):
    fake = loaded["fake"]
    ee = one(fake, "execution_environments", "governed-change ee")
    assert ee["image"] == "quay.io/governed/governed-change-ee:1.0.0" and ee["pull"] == "missing"
    project = one(fake, "projects", "governed-change")
    assert project["default_environment"] == ee["id"] and project["scm_url"] == "https://example.invalid/governed/change.git"
    inventory = one(fake, "inventories", "governed-change lab")
    credential_ids = {c["id"] for c in fake.of("credentials")}
    assert one(fake, "credentials", "governed-change")["credential_type"] == one(fake, "credential_types", "governed-change")["id"]
    assert one(fake, "credentials", "governed-change devices")["credential_type"] == one(fake, "credential_types", "Machine")["id"]
    governed_inputs = one(fake, "credentials", "governed-change")["inputs"]
    assert governed_inputs["allowed_signers"] == SIGNERS and "signing_key" not in governed_inputs  # empty inputs not sent
    for entry in config("controller_templates"):
        template = fake.objects["job_templates"][one(fake, "job_templates", entry["name"])["id"]]
        assert (template["playbook"], template["project"], template["inventory"], template["execution_environment"]) == (
            entry["playbook"], project["id"], inventory["id"], ee["id"])
        for field in ("ask_variables_on_launch", "allow_simultaneous", "timeout", "use_fact_cache"):
            assert template.get(field) == entry.get(field), (entry["name"], field)
        wanted = {one(fake, "credentials", name)["id"] for name in entry["credentials"]}
        assert set(template["_associations"]["credentials"]) == wanted and wanted <= credential_ids
    for entry in config("controller_schedules"):
        schedule = one(fake, "schedules", entry["name"])
        assert schedule["rrule"] == entry["rrule"]
        assert schedule["unified_job_template"] == one(fake, "job_templates", entry["unified_job_template"])["id"]


def test_workflows_are_loaded_node_by_node_with_their_edges(loaded):
    fake = loaded["fake"]
    for workflow in workflows():
        wfjt = fake.objects["workflow_job_templates"][one(fake, "workflow_job_templates", workflow["name"])["id"]]
        assert wfjt["organization"] == one(fake, "organizations", "Default")["id"]
        nodes = {n["identifier"]: fake.objects["workflow_job_template_nodes"][n["id"]]
                 for n in fake.of("workflow_job_template_nodes", workflow_job_template=wfjt["id"])}
        assert sorted(nodes) == sorted(n["identifier"] for n in workflow["workflow_nodes"])
        for spec in workflow["workflow_nodes"]:
            node = nodes[spec["identifier"]]
            ujt = spec["unified_job_template"]
            if ujt["type"] == "job_template":
                assert node["unified_job_template"] == one(fake, "job_templates", ujt["name"])["id"], spec["identifier"]
            assert node.get("limit") == spec.get("limit") and node.get("extra_data") == spec.get("extra_data")
            for kind in ("success_nodes", "failure_nodes", "always_nodes"):
                wanted = sorted(nodes[child["identifier"]]["id"] for child in (spec.get("related") or {}).get(kind, []))
                assert sorted(node["_associations"].get(kind, [])) == wanted, (workflow["name"], spec["identifier"], kind)


def test_each_workflow_keeps_its_own_approval_template_after_a_reload(loaded):
    fake = loaded["fake"]
    seen = {}
    for workflow in workflows():
        specs = [n["unified_job_template"] for n in workflow["workflow_nodes"] if n["unified_job_template"]["type"] == "workflow_approval"]
        if not specs:
            continue
        template = approval_of(fake, workflow)
        assert (template["name"], template["description"], template["timeout"]) == (
            specs[0]["name"], specs[0]["description"], specs[0]["timeout"])
        assert loaded["approvals_after_first"][workflow["name"]]["description"] == specs[0]["description"]
        seen[template["id"]] = workflow["name"]
    assert len(seen) == 3  # normal, emergency, multi-domain: three templates, none shared
    normal = approval_of(fake, next(w for w in workflows() if w["name"] == "governed-change normal change"))
    assert normal["description"].startswith("Approve this change:") and "multi-domain" not in normal["description"]


def test_a_second_load_creates_no_object_again(loaded):
    # the workflows' graphs are replaced (destroy_current_nodes: true); every other object is found by name and kept
    posts = {r["path"] for r in loaded["second_load"] if r["method"] == "POST"}
    for endpoint in ("execution_environments", "projects", "credential_types", "credentials", "inventories", "inventory_sources",
                     "job_templates", "workflow_job_templates", "schedules"):
        assert "/api/v2/%s/" % endpoint not in posts, endpoint
