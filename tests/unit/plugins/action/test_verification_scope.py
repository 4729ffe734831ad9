# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.verification_scope in-process: ActionModule.run() with a real Task decides the devices a change is
verified on (targets, hosts named by expected checks, the tier's snapshot scope) and refuses a scope it cannot verify."""

from __future__ import annotations

import pytest

from action_harness import run_action

from ansible_collections.governed.change.plugins.module_utils import statestore


@pytest.fixture(name="pre")
def pre_snapshots(tmp_path):
    """Real state store references of a pre-change snapshot of every lab device."""
    store = str(tmp_path / "store")
    return {host: statestore.put(store, {"device": host, "platform": "frr", "sections": {"interfaces": {}}}, "snapshot")
            for host in ("r1", "r2", "r3", "fw1")}


def assessment(snapshot_scope="targets_only", check_hosts=()):
    return {"change_id": "CHG-1", "hosts": ["r1"], "requirements": {"snapshot_scope": snapshot_scope},
            "verification": {"check_hosts": list(check_hosts)}}


def scope(doc, pre, **args):
    return run_action("verification_scope", dict({"assessment": doc, "pre_snapshots": pre}, **args))


def test_targets_only_verifies_the_targets_and_the_hosts_checks_name(pre):
    result = scope(assessment(check_hosts=["r2"]), pre)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["mode"] == "targets_only" and result["hosts"] == ["r1", "r2"]
    assert result["reasons"] == {"r1": ["target"], "r2": ["named by an expected check"]}
    assert sorted(result["excluded"]) == ["fw1", "r3"] and set(result["pre_snapshots"]) == {"r1", "r2"}


def test_network_scope_verifies_every_snapshotted_device(pre):
    result = scope(assessment("network"), pre)
    assert result["mode"] == "network" and result["hosts"] == ["fw1", "r1", "r2", "r3"] and result["excluded"] == []


def test_the_scope_argument_overrides_the_tier(pre):
    assert scope(assessment("network"), pre, scope="targets_only")["hosts"] == ["r1"]


def test_a_limited_play_leaves_the_hosts_it_does_not_hold_to_the_branch_that_does(pre):
    result = scope(assessment(check_hosts=["r2"]), pre, play_hosts=["r1"])
    assert result["hosts"] == ["r1"] and result["elsewhere"] == ["r2"]


def test_a_device_of_the_scope_without_a_pre_change_snapshot_is_refused_naming_the_field(pre):
    del pre["r2"]
    result = scope(assessment(check_hosts=["r2"]), pre)
    assert result["failed"] is True and result["error"]["where"] == "pre_snapshots"
    assert "no pre-change snapshot of r2" in result["msg"]


def test_an_unknown_scope_is_refused(pre):
    result = scope(assessment("everything"), pre)
    assert result["failed"] is True and "snapshot_scope" in result["msg"] and "Fix:" in result["msg"]
