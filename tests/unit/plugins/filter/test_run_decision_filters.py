"""The thin filters over module_utils/run_decisions.py: they delegate, and a bad input fails naming the filter and the field."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.filter import (content_drift, rollback_choice, run_decision, stage_hosts, stage_probes,
                                                                stage_refusal, stage_results)


def test_each_filter_module_exposes_its_filter_under_its_name():
    for module, name in ((run_decision, "run_decision"), (stage_hosts, "stage_hosts"), (stage_probes, "stage_probes"),
                         (stage_results, "stage_results"), (rollback_choice, "rollback_choice"),
                         (stage_refusal, "stage_refusal"), (content_drift, "content_drift")):
        assert list(module.FilterModule().filters()) == [name]


def test_run_decision_delegates_and_refuses_an_unknown_key_by_name():
    got = run_decision.run_decision({"stage_failed": "verify", "deploy": {"deployed": ["r1"]}})
    assert got["outcome"] == "unsuccessful" and got["close_reason"] == "stage verify failed"
    with pytest.raises(AnsibleFilterError, match=r"^governed.change.run_decision: .*deployd"):
        run_decision.run_decision({"deployd": []})


def test_stage_results_names_the_stages_it_knows():
    assert stage_results.stage_results([{"failed": True, "msg": "x"}], "precheck") == {"failed": True, "transient": False, "msg": "x"}
    assert stage_results.stage_results({"r1": {"failed": True}}, "verify", now="t")["failed_at"] == "t"
    assert stage_results.stage_results({}, "rollback")["verified"] is None
    assert stage_results.stage_results({"r1": [{"failed": True, "msg": "x"}], "r2": [{}]}, "precheck") == {
        "r1": {"failed": True, "transient": False, "msg": "x"}, "r2": {"failed": False, "transient": False, "msg": ""}}
    assert stage_results.stage_results({"hosts": ["r1"]}, "deploy")["r1"]["confirmed"] is False
    assert stage_results.stage_results({"r1": {"skipped": True}, "r2": {"changed": False}}, "ran") == {"r2": {"changed": False}}
    with pytest.raises(AnsibleFilterError, match="stage 'deplyo' is not one of precheck, deploy, verify, rollback, ran"):
        stage_results.stage_results({}, "deplyo")


def test_rollback_choice_refuses_an_unknown_scope_naming_the_policy_field():
    assert rollback_choice.rollback_choice(["r1", "r2"], ["r2"], "failed") == ["r2"]
    with pytest.raises(AnsibleFilterError, match=r"governed.change.rollback_choice: .*policy.deploy.rollback_scope"):
        rollback_choice.rollback_choice(["r1"], ["r1"], "most")


def test_stage_hosts_and_probes_delegate():
    assert stage_hosts.stage_hosts(["r1", "r2"], ["r2"], True) == ["r2"]
    assert stage_probes.stage_probes(None, None, "fw1", "linux") == []


def test_stage_refusal_and_content_drift_delegate_and_name_the_filter():
    assert stage_refusal.stage_refusal("rollback", ["r1"], ["r1"], backups={"r1": "b"}) == ""
    assert "no backup: r1" in stage_refusal.stage_refusal("rollback", ["r1"], ["r1"], backups={})
    with pytest.raises(AnsibleFilterError, match=r"^governed.change.stage_refusal: .*unknown stage 'verfiy'"):
        stage_refusal.stage_refusal("verfiy", ["r1"], ["r1"])
    assert content_drift.content_drift({"content_hash": "h"}, {"content_hash": "h"}, ["r1"]) == ""
    assert "content hash is now g" in content_drift.content_drift({"content_hash": "h"}, {"content_hash": "g"}, ["r1"])


def test_stage_results_takes_the_precheck_fleet_shape():
    out = stage_results.stage_results({"fleet": True, "hosts": ["r1"], "steps": [{"hosts": {"r1": {"backup": "b"}}}],
                                       "targets": ["r1"], "scope": []}, "precheck")
    assert out["failed_hosts"] == [] and out["backups"] == {"r1": "b"}
