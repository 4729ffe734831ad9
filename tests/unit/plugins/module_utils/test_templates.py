# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change request templates: confined to the change request's folder (or templates_dir), rendered by ansible-core."""

from __future__ import annotations

import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.governed.change.plugins.module_utils import templates
from ansible_collections.governed.change.plugins.module_utils.change_request import validate_change_request
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.facts import normalize_inventory
from ansible_collections.governed.change.plugins.module_utils.templates import resolve_template
from ansible_collections.governed.change.plugins.plugin_utils.render import render_config_lines

from assess_support import change

HOST_VARS = {"inventory_hostname": "r2", "bgp_asn": 65002, "loopback": "10.255.0.2", "group_names": ["core", "routers"]}
INVENTORY = normalize_inventory({"hosts": {"r2": {"groups": ["routers", "core"]}}})


@pytest.fixture(name="folder")
def _folder(tmp_path):
    (tmp_path / "changes" / "templates").mkdir(parents=True)
    return tmp_path / "changes"


def render(folder, config, host_vars=None, templates_dir=None):
    request = validate_change_request(change(config=config))
    return render_config_lines(Templar(loader=DataLoader()), request, "r2", INVENTORY, str(folder / "change.yml"),
                               HOST_VARS if host_vars is None else host_vars, templates_dir=templates_dir)


def refused(folder, config, **kwargs):
    with pytest.raises(ValidationError) as info:
        render(folder, config, **kwargs)
    return info.value


def test_template_is_rendered_with_the_host_variables_and_the_entry_vars(folder):
    (folder / "templates" / "bgp.j2").write_text(
        "{# a comment #}\nrouter bgp {{ bgp_asn }}\n neighbor 10.0.12.1 description {{ inventory_hostname }}-{{ 7*6 }}\n"
        "{% for prefix in prefixes %}\nip prefix-list PL seq {{ loop.index * 5 }} permit {{ prefix }}\n{% endfor %}\n\n")
    lines = render(folder, {"r2": {"template": "templates/bgp.j2", "vars": {"prefixes": ["10.9.1.0/24", "10.9.2.0/24"]}}})
    assert lines == ["router bgp 65002", " neighbor 10.0.12.1 description r2-42",
                     "ip prefix-list PL seq 5 permit 10.9.1.0/24", "ip prefix-list PL seq 10 permit 10.9.2.0/24"]


def test_entry_vars_are_data_never_templates(folder):
    # Only the template file is trusted as a template: a value in the change request stays as written.
    (folder / "t.j2").write_text("hostname {{ name }}\n")
    assert render(folder, {"r2": {"template": "t.j2", "vars": {"name": "{{ 7*6 }}"}}}) == ["hostname {{ 7*6 }}"]


def test_entry_vars_win_over_host_vars_and_group_entries_come_first(folder):
    (folder / "t.j2").write_text("router bgp {{ bgp_asn }}\n")
    lines = render(folder, {"routers": {"lines": ["ip forwarding"]}, "r2": {"template": "t.j2", "vars": {"bgp_asn": 1}}})
    assert lines == ["ip forwarding", "router bgp 1"]


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../../../etc/passwd", "templates/../../secret.j2"])
def test_a_template_outside_the_change_request_folder_is_refused(folder, path):
    (folder.parent / "secret.j2").write_text("root:x:0:0\n")
    error = refused(folder, {"r2": {"template": path}})
    assert error.where.endswith("config.r2.template")
    assert "outside the folders templates may come from (%s)" % os.path.realpath(str(folder)) in error.problem
    assert "relative to it" in error.fix and "root:x" not in str(error)


def test_a_symlink_leading_out_is_refused(folder):
    os.symlink("/etc/passwd", str(folder / "templates" / "passwd.j2"))
    error = refused(folder, {"r2": {"template": "templates/passwd.j2"}})
    assert "resolves to /etc/passwd, outside" in error.problem


def test_a_declared_templates_dir_is_allowed_and_nothing_else(folder, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ntp.j2").write_text("ntp server {{ loopback }}\n")
    assert render(folder, {"r2": {"template": "ntp.j2"}}, templates_dir=str(shared)) == ["ntp server 10.255.0.2"]
    assert render(folder, {"r2": {"template": str(shared / "ntp.j2")}}, templates_dir=str(shared)) == ["ntp server 10.255.0.2"]
    error = refused(folder, {"r2": {"template": "ntp.j2"}})  # without templates_dir: not found in the change's folder
    assert "does not exist in %s" % os.path.realpath(str(folder)) in error.problem
    error = refused(folder, {"r2": {"template": "ntp.j2"}}, templates_dir=str(tmp_path / "missing"))
    assert error.where == "templates_dir"


def test_a_directory_or_fifo_says_what_it_is(folder):
    os.mkfifo(str(folder / "pipe.j2"))
    assert "is a named pipe (FIFO), not a template file" in refused(folder, {"r2": {"template": "pipe.j2"}}).problem
    assert "is a directory, not a template file" in refused(folder, {"r2": {"template": "templates"}}).problem


@pytest.mark.parametrize("call", ["lookup('file', '/etc/passwd')", "query('pipe', 'id')", "q('env', 'HOME')"])
def test_lookups_are_refused_in_templates(folder, call):
    (folder / "t.j2").write_text("hostname {{ %s }}\n" % call)
    error = refused(folder, {"r2": {"template": "t.j2"}})
    assert error.problem == "calls a lookup; lookups (lookup, query, q) are not available in change request templates."
    assert "host variable" in error.fix


def test_an_include_cannot_leave_the_template_folder(folder):
    (folder / "t.j2").write_text("{% include '/etc/passwd' %}\n")
    error = refused(folder, {"r2": {"template": "t.j2"}})
    assert "root:" not in str(error) and error.where.endswith("config.r2.template")


def test_an_undefined_variable_names_the_host_and_the_variable(folder):
    (folder / "t.j2").write_text("router bgp {{ asn_typo }}\n")
    error = refused(folder, {"r2": {"template": "t.j2"}})
    assert "cannot be rendered for r2" in error.problem and "asn_typo" in error.problem
    assert "under the entry's vars" in error.fix


def test_a_syntax_error_names_the_template_line(folder):
    (folder / "t.j2").write_text("router bgp 1\n neighbor {{ peer \n")
    error = refused(folder, {"r2": {"template": "t.j2"}})
    assert error.problem.startswith("is not a valid Jinja2 template:") and "template line" in error.problem


def test_oversized_templates_and_output_are_refused(folder, monkeypatch):
    (folder / "t.j2").write_text("{% for i in range(100) %}ip route 10.0.{{ i }}.0/24 Null0\n{% endfor %}")
    monkeypatch.setattr(templates, "MAX_RENDERED_CHARS", 1000)
    assert "the rendered template is" in refused(folder, {"r2": {"template": "t.j2"}}).problem
    monkeypatch.setattr(templates, "MAX_TEMPLATE_BYTES", 10)
    error = refused(folder, {"r2": {"template": "t.j2"}})
    assert "over the limit of 10" in error.problem and "split the template" in error.fix


def test_resolve_template_refuses_a_nul_byte(folder):
    with pytest.raises(ValidationError) as info:
        resolve_template("t\x00.j2", str(folder / "change.yml"), where="x: config.r2.template")
    assert info.value.where == "x: config.r2.template"
