# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change request templates on the lab (own instance k4-): rendered with the host's variables by assess (against r2's
real running config) and identically by governed.change.config_lines (the deploy role's rendering); a template outside
the change request's folder or calling a lookup is refused with nothing recorded."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest_pipeline import approve, extra_vars, run_playbook, signing  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT, lab_session, run_env

from ansible_collections.governed.change.plugins.module_utils import statestore

pytestmark = [pytest.mark.lab]

LAB_ENV = {"GC_LAB_PREFIX": "k4-", "GC_LAB_PORT_BASE": "26400", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k4")}
ASSESS = os.path.join(ROOT, "playbooks", "assess.yml")
PIPELINE = os.path.join(ROOT, "playbooks", "governed_change.yml")

TEMPLATE = """{# r2's peering, from the inventory: bgp_asn and loopback are host variables #}
router bgp {{ bgp_asn }}
 neighbor 10.0.12.1 description {{ inventory_hostname }}-to-r1 ({{ 7*6 }})
{% for prefix in prefixes %}
ip prefix-list PL-{{ inventory_hostname | upper }} seq {{ loop.index * 5 }} permit {{ prefix }}
{% endfor %}
ip prefix-list PL-{{ inventory_hostname | upper }} seq 100 permit {{ loopback }}/32
"""

RENDERED = ["router bgp 65002", " neighbor 10.0.12.1 description r2-to-r1 (42)",
            "ip prefix-list PL-R2 seq 5 permit 10.99.1.0/24", "ip prefix-list PL-R2 seq 10 permit 10.99.2.0/24",
            "ip prefix-list PL-R2 seq 100 permit 10.255.0.2/32"]


@pytest.fixture(scope="module")
def k4_lab():
    """This module's own lab instance (k4-, ports 264xx), torn down on every exit path."""
    yield from lab_session(env=dict(os.environ, **LAB_ENV))


@pytest.fixture(scope="module")
def k4_env(k4_lab):  # pylint: disable=unused-argument,redefined-outer-name
    env = run_env(LAB_ENV)
    return env


def playbook(env, path, *extra):
    return subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), path] + list(extra), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)


def write_change(folder, template, change_id, variables=None):
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"template": template}
    if variables is not None:
        entry["vars"] = variables
    doc = {"id": change_id, "title": "Describe r2's peering from a template", "author": "carol", "type": "normal",
           "category": "bgp_policy", "targets": ["r2"], "description": "Template rendered with r2's host variables.",
           "config": {"r2": entry}}
    path = folder / "change.yml"
    path.write_text(json.dumps(doc, indent=1))  # JSON is YAML
    return path


def assess(env, change, out):
    return playbook(env, ASSESS, "-e", "governed_change_request=%s" % change, "-e", "governed_output_dir=%s" % out)


def test_template_is_rendered_with_r2s_variables_in_the_assessment_and_identically_for_deploy(k4_env, tmp_path):  # pylint: disable=redefined-outer-name
    folder = tmp_path / "changes"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "peering.j2").write_text(TEMPLATE)
    change = write_change(folder, "templates/peering.j2", "CHG-K4-1", {"prefixes": ["10.99.1.0/24", "10.99.2.0/24"]})
    out = tmp_path / "out"
    proc = assess(k4_env, change, out)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assessment = json.loads((out / "assessments" / "CHG-K4-1.assessment.json").read_text())
    r2 = assessment["devices"]["r2"]
    assert r2["running_known"] is True  # diffed against the lab router's real running config
    assert r2["existing_lines"] == ["router bgp 65002"]
    assert r2["new_lines"] == RENDERED[1:]
    for line in RENDERED[1:]:
        assert "+" + line in r2["diff"].splitlines()
    assert "{{" not in r2["diff"] and "{%" not in r2["diff"]

    # The deploy role renders with governed.change.config_lines: the same function, so the same lines.
    render_play = tmp_path / "render.yml"
    render_play.write_text(
        "- hosts: r2\n  gather_facts: false\n  tasks:\n"
        "    - governed.change.config_lines: {change_request: %s}\n      register: rendered\n"
        "    - ansible.builtin.copy: {content: \"{{ rendered.lines | to_json }}\", dest: %s}\n      delegate_to: localhost\n"
        % (change, tmp_path / "lines.json"))
    proc = playbook(k4_env, str(render_play))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert json.loads((tmp_path / "lines.json").read_text()) == RENDERED


@pytest.mark.parametrize("case", ["absolute", "dotdot", "symlink", "lookup"])
def test_a_template_outside_the_folder_or_calling_a_lookup_is_refused_with_nothing_recorded(k4_env, tmp_path, case):  # pylint: disable=redefined-outer-name
    folder = tmp_path / "changes"
    folder.mkdir()
    template = {"absolute": "/etc/passwd", "dotdot": "../../../../../../../../etc/passwd", "symlink": "passwd.j2",
                "lookup": "lookup.j2"}[case]
    if case == "symlink":
        os.symlink("/etc/passwd", str(folder / "passwd.j2"))
    if case == "lookup":
        (folder / "lookup.j2").write_text("hostname {{ lookup('ansible.builtin.file', '/etc/passwd') }}\n")
    change = write_change(folder, template, "CHG-K4-2")
    out = tmp_path / "out"
    proc = assess(k4_env, change, out)
    assert proc.returncode != 0
    assert "governed.change.assess: %s: config.r2.template:" % change in proc.stdout
    if case == "lookup":
        assert "calls a lookup; lookups (lookup, query, q) are not available in change request templates." in proc.stdout
    else:
        assert "resolves to /etc/passwd, outside the folders templates may come from" in proc.stdout
    assert "Fix:" in proc.stdout and "Traceback" not in proc.stdout
    assert "root:x:0:0" not in proc.stdout
    # Nothing recorded: no assessment, no ledger, no runbook.
    assert not (out / "assessments").exists() and not (out / "ledger.sqlite").exists() and not (out / "runbooks").exists()


def test_the_pipeline_deploys_the_rendered_lines_it_assessed(k4_env, signing, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    """A templated change through assess, a signed approval and the whole pipeline: deploy re-renders the same lines
    (the content hash check passes) and r1 carries the address computed from its host variable."""
    folder = tmp_path / "changes"
    folder.mkdir()
    (folder / "loopback.j2").write_text("interface lo\n ip address 192.0.2.{{ bgp_asn - 65000 }}/32\n")
    change = folder / "change.yml"
    change.write_text(json.dumps({
        "id": "CHG-K4-3", "title": "Service address on r1's loopback, from a template", "author": "carol", "type": "normal",
        "category": "other", "targets": ["r1"], "description": "192.0.2.<asn-65000>/32 on r1's loopback.",
        "config": {"r1": {"template": "loopback.j2"}},
        "expected": [{"name": "service_address_up", "query": "contains(sections.interfaces.lo.addresses, '192.0.2.1/32')",
                      "op": "equals", "value": True, "snapshot": "post"}]}))
    out = tmp_path / "out"
    variables = extra_vars(change, out, signing)
    rc, _stats, output, _seconds = run_playbook(k4_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    assessment = json.loads((out / "assessments" / "CHG-K4-3.assessment.json").read_text())
    r1 = assessment["devices"]["r1"]
    assert r1["running_known"] is True, r1.get("unreachable")
    assert sorted(r1["existing_lines"] + r1["new_lines"]) == [" ip address 192.0.2.1/32", "interface lo"]
    assert "+ ip address 192.0.2.1/32" in r1["diff"].splitlines()
    approve(out, "CHG-K4-3", signing)
    rc, art, output, _seconds = run_playbook(k4_env, PIPELINE, variables, tmp_path, "pipeline")
    assert rc == 0 and art.get("governed_outcome") == "successful", output[-4000:]
    assert art["governed_deployed"] == ["r1"]
    post = statestore.get(art["governed_post_snapshots"]["r1"])
    assert "192.0.2.1/32" in post["sections"]["interfaces"]["lo"]["addresses"]
