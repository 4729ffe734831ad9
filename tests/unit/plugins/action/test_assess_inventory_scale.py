# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assess linear in the inventory size (issue 16): the inventory view is normalised a fixed number of times per change,
never once per target, and the result is the one the per-host normalisation gave (old vs new on a generated inventory).
Timed at 1,000 and 10,000 hosts by benchmarks/bench_assess_scale.py --hosts."""

from __future__ import annotations

import json
import shutil

import pytest

from action_harness import run_action
from repo_paths import ROOT

from ansible_collections.governed.change.plugins.action import assess as assess_action
from ansible_collections.governed.change.plugins.module_utils import assess as assess_core
from ansible_collections.governed.change.plugins.module_utils import facts
from ansible_collections.governed.change.plugins.plugin_utils.render import render_config_lines


def generated_task_vars(count):
    """``count`` routers in 7 sites, every 10th a core router (criticality high), groups routers, core and site_<n>."""
    hostvars, groups = {}, {"routers": [], "core": []}
    for index in range(count):
        name = "e%05d" % index
        core = index % 10 == 0
        hostvars[name] = {"site": "s%d" % (index % 7), "role": "core" if core else "edge",
                          "criticality": "high" if core else "medium", "governed_platform": "frr"}
        groups["routers"].append(name)
        groups.setdefault("site_%d" % (index % 7), []).append(name)
        if core:
            groups["core"].append(name)
    return {"groups": dict(groups, all=sorted(hostvars)), "hostvars": hostvars}


def change_request(base):
    request = {"id": "CHG-HOSTS", "title": "A static route everywhere", "description": "One route on every router.",
               "author": "carol", "type": "normal", "category": "other", "targets": ["routers"],
               "config": {"routers": {"lines": ["ip route 192.0.2.0/24 Null0"]},
                          "core": {"lines": ["ip route 198.51.100.0/24 Null0"]}},
               "expected": [], "rollback": {"strategy": "backup"}}
    (base / "policy").mkdir(exist_ok=True)
    shutil.copy("%s/examples/policy/policy.yml" % ROOT, str(base / "policy" / "policy.yml"))
    (base / "change.yml").write_text(json.dumps(request))


def assess(base, count):
    args = {"change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False,
            "now": "2026-11-01T00:00:00+00:00"}
    result = run_action("assess", args, task_vars=generated_task_vars(count), check_mode=True, basedir=base)
    assert not result.get("failed"), result.get("msg")
    return result["assessment"]


@pytest.fixture(name="normalize_calls")
def _normalize_calls(monkeypatch):
    """Counts every normalize_inventory call of the action and of the assess core (their own imported names)."""
    calls = []
    real = facts.normalize_inventory

    def counting(inventory):
        calls.append(len(inventory.get("hosts") or {}))
        return real(inventory)
    monkeypatch.setattr(assess_action, "normalize_inventory", counting)
    monkeypatch.setattr(assess_core, "normalize_inventory", counting)
    monkeypatch.setattr(facts, "normalize_inventory", counting)
    return calls


def test_the_inventory_is_normalised_a_fixed_number_of_times_whatever_the_target_count(tmp_path, normalize_calls):
    change_request(tmp_path)
    assessment = assess(tmp_path, 20)
    small = len(normalize_calls)
    assert len(assessment["hosts"]) == 20
    del normalize_calls[:]
    assessment = assess(tmp_path, 200)
    assert len(assessment["hosts"]) == 200
    # per target it was 200 + 3 calls here (issue 16: 1,004 s at 10,000 hosts); now the same few calls at any size
    assert len(normalize_calls) == small <= 4, normalize_calls


def test_the_result_is_the_one_the_per_host_normalisation_gave(tmp_path, monkeypatch):
    change_request(tmp_path)
    new = assess(tmp_path, 150)

    def old_render_lines(self, request, host, inventory, cr_path, task_vars, templates_dir=None):
        # the implementation before issue 16: the whole inventory normalised again for every target
        return render_config_lines(self._templar, request, host, facts.normalize_inventory(inventory), cr_path,
                                   task_vars["hostvars"][host], templates_dir=templates_dir)
    monkeypatch.setattr(assess_action.ActionModule, "_render_lines", old_render_lines)
    old = assess(tmp_path, 150)
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)
    assert new["content_hash"] == old["content_hash"] and len(new["hosts"]) == 150
    core_hosts = [h for h, d in new["devices"].items() if "ip route 198.51.100.0/24 Null0" in d.get("new_lines", [])]
    assert core_hosts == ["e%05d" % i for i in range(0, 150, 10)]


class ScannedList(list):
    """A list that counts membership tests (each one is a scan)."""
    scans = 0

    def __contains__(self, item):
        ScannedList.scans += 1
        return list.__contains__(self, item)


def test_the_inventory_view_does_not_scan_the_target_list_per_host(tmp_path, monkeypatch):
    change_request(tmp_path)
    real = assess_action.resolve_targets
    monkeypatch.setattr(assess_action, "resolve_targets", lambda *a, **k: ScannedList(real(*a, **k)))
    ScannedList.scans = 0
    assert len(assess(tmp_path, 120)["hosts"]) == 120
    # one scan of the target list per inventory host made the view quadratic (1.5 s of 20 s at 10,000 hosts)
    assert ScannedList.scans < 10, ScannedList.scans
