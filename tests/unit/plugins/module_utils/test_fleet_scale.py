# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Close's per-device bookkeeping in sets, not list scans (issue 16): the same results as the list-scan implementations
they replaced, on a generated fleet, and a 20,000-host close summary in well under a second."""

from __future__ import annotations

import random
import time

import pytest

from ansible_collections.governed.change.plugins.module_utils import evidence, outcome
from ansible_collections.governed.change.plugins.module_utils.assess import _check_diffs_map  # pylint: disable=protected-access
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError


def fleet(count, seed=16):
    rng = random.Random(seed)
    hosts = ["h%05d" % i for i in range(count)]
    deployed = sorted(h for h in hosts if rng.random() < 0.7)
    failed = sorted(h for h in deployed if rng.random() < 0.1)
    rolled = sorted(h for h in failed if rng.random() < 0.8)
    records = {}
    for host in rolled:
        restored_ok = rng.random() < 0.8
        records[host] = {"restore": {"changed": True, "config_equal": restored_ok, "failed": not restored_ok},
                         "rollback_verify": {"failed": rng.random() < 0.1}}
    return hosts, deployed, failed, rolled, records


def old_host_results(stages):
    """evidence._host_results before issue 16 (list scans)."""
    hosts = sorted(((stages.get("hosts") or {}).keys()))
    failed = sorted(stages.get("failed_hosts") or [])
    rolled = sorted(stages.get("rolled_back") or [])
    deployed = sorted(stages.get("deployed") or [])
    ok = [h for h in deployed if h not in failed and h not in rolled]
    untouched = [h for h in hosts if h not in deployed and h not in failed and h not in rolled]
    return {"deployed": deployed, "failed_hosts": failed, "rolled_back": rolled, "ok_hosts": ok, "untouched_hosts": untouched}


def test_host_results_are_the_list_scan_results():
    hosts, deployed, failed, rolled, _records = fleet(600)
    stages = {"hosts": {h: {} for h in hosts}, "deployed": deployed, "failed_hosts": failed, "rolled_back": rolled}
    new = evidence._host_results(stages)  # pylint: disable=protected-access
    assert new == old_host_results(stages)
    assert new["untouched_hosts"] and new["ok_hosts"] and new["rolled_back"]


def test_device_states_and_rollback_verdict_at_fleet_size_are_decided_per_host():
    hosts, deployed, failed, rolled, records = fleet(600)
    verdict = outcome.rollback_verdict({"rollback": {"targets": rolled}}, records)
    # what the per-host records say, host by host (the list-scan result)
    bad_restore = sorted(h for h in rolled if records[h]["restore"]["failed"])
    assert verdict["restore_failed"] == bad_restore
    assert verdict["rolled_back"] == sorted(h for h in rolled if h not in bad_restore)
    assert verdict["state_differs"] == sorted(h for h in rolled if records[h]["rollback_verify"]["failed"])
    states = outcome.device_states(hosts, deployed, failed, records, {}, verdict)
    expected = {}
    for host in hosts:
        if host in verdict["restore_failed"]:
            expected[host] = "restore_failed"
        elif host in verdict["state_differs"]:
            expected[host] = "state_differs"
        elif host in verdict["rolled_back"]:
            expected[host] = "rolled_back"
        elif host in failed:
            expected[host] = "checks_failed"
        elif host in deployed:
            expected[host] = "changed"
        else:
            expected[host] = "untouched"
    assert {h: s["state"] for h, s in states.items()} == expected
    assert isinstance(verdict["rolled_back"], list)  # the verdict handed back keeps its lists


def test_a_20000_host_close_summary_and_diff_map_check_take_well_under_a_second():
    hosts, deployed, failed, rolled, records = fleet(20000)
    started = time.perf_counter()
    verdict = outcome.rollback_verdict({"rollback": {"targets": rolled}}, records)
    outcome.device_states(hosts, deployed, failed, records, {}, verdict)
    evidence._host_results({"hosts": {h: {} for h in hosts}, "deployed": deployed, "failed_hosts": failed,  # pylint: disable=protected-access
                            "rolled_back": rolled})
    elapsed = time.perf_counter() - started
    # the list scans took several seconds here (20,000 x 14,000 comparisons); sets take a few tens of milliseconds
    assert elapsed < 1.0, elapsed


def test_the_diffs_map_check_is_not_a_scan_of_the_targets_per_entry():
    hosts = ["h%05d" % i for i in range(20000)]
    diffs = {h: {"running": None} for h in hosts}
    started = time.perf_counter()
    _check_diffs_map(diffs, hosts)  # a list scan per entry: 200 million comparisons (seconds); a set: milliseconds
    assert time.perf_counter() - started < 0.5
    with pytest.raises(ValidationError, match="not a target"):
        _check_diffs_map(dict(diffs, stranger={}), hosts)
