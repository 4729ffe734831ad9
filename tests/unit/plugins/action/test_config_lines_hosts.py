# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.config_lines with ``hosts`` (issue 16: the deploy and verify stages render every device's lines in one
run_once task instead of one task per host): each host's lines are exactly those a task on that host renders, with
that host's own variables and groups (templates included)."""

from __future__ import annotations

import json

from action_harness import run_action


def workspace(base):
    (base / "lo.j2").write_text("interface lo\n ip address {{ loopback }}/32\n")
    request = {"id": "CHG-LINES", "title": "Loopbacks", "description": "A loopback per router.", "author": "carol",
               "type": "normal", "category": "other", "targets": ["routers", "h1"],
               "config": {"routers": {"template": "lo.j2"}, "core": {"lines": ["ip route 198.51.100.0/24 Null0"]}},
               "expected": [{"name": "far", "query": "contains(sections.interfaces.lo.addresses, '192.0.2.1/32')", "op": "equals",
                             "value": True, "snapshot": "post", "hosts": ["h1"]}],
               "rollback": {"strategy": "backup"}}
    (base / "change.yml").write_text(json.dumps(request))


def task_vars(host=None):
    hostvars = {"r1": {"loopback": "192.0.2.1", "governed_platform": "frr"},
                "r2": {"loopback": "192.0.2.2", "governed_platform": "frr"},
                "h1": {"governed_platform": "linux"}}
    out = {"groups": {"all": ["h1", "r1", "r2"], "routers": ["r1", "r2"], "core": ["r2"], "ungrouped": ["h1"]},
           "hostvars": hostvars}
    if host:
        out.update(hostvars[host], inventory_hostname=host)
    return out


def test_every_host_gets_the_lines_a_task_on_that_host_renders(tmp_path):
    workspace(tmp_path)
    together = run_action("config_lines", {"change_request": "change.yml", "hosts": ["r1", "r2", "h1"]},
                          task_vars=task_vars("r1"), basedir=tmp_path)
    assert not together.get("failed"), together.get("msg")
    assert together["lines_by_host"] == {"r1": ["interface lo", " ip address 192.0.2.1/32"],
                                         "r2": ["interface lo", " ip address 192.0.2.2/32", "ip route 198.51.100.0/24 Null0"],
                                         "h1": []}
    for host in ("r1", "r2", "h1"):
        alone = run_action("config_lines", {"change_request": "change.yml"}, task_vars=task_vars(host), basedir=tmp_path)
        assert not alone.get("failed"), alone.get("msg")
        assert together["by_host"][host] == {k: alone[k] for k in ("lines", "has_config", "entries")}
        assert together["expected"] == alone["expected"]


def test_a_host_outside_the_inventory_is_refused_by_name(tmp_path):
    workspace(tmp_path)
    result = run_action("config_lines", {"change_request": "change.yml", "hosts": ["r1", "r7"]}, task_vars=task_vars("r1"),
                        basedir=tmp_path)
    assert result["failed"] and "'r7' is not in the inventory" in result["msg"]
