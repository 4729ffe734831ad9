# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end assessment: the example changes, facts, gates, target resolution, diffs input and the content hash."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os

import pytest

from ansible_collections.governed.change.plugins.module_utils.assess import GATE_ORDER, assess, content_hash
from ansible_collections.governed.change.plugins.module_utils.change_request import change_request_sha256, validate_change_request
from ansible_collections.governed.change.plugins.module_utils.config_diff import device_diff
from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.facts import build_facts, normalize_inventory, resolve_targets
from ansible_collections.governed.change.plugins.module_utils.policy import FACT_FIELDS, load_policy

from assess_support import EXAMPLES, FRR_R2, INVENTORY, NFT_FW1, NOW, POLICY_FILE, ROOT, change, example, policy

FRR_R1 = FRR_R2.replace("hostname r2", "hostname r1").replace("65002", "65001").replace("10.255.0.2", "10.255.0.1")


@pytest.fixture(scope="module")
def lab_policy():
    return load_policy(POLICY_FILE)


def run(name, lab_policy, host, running):
    return assess(example("changes/%s" % name), lab_policy, INVENTORY, {host: {"running": running}}, now=NOW)


def test_acl_update_on_fw1_is_low_and_standard(lab_policy):
    out = run("acl_update_fw1.yml", lab_policy, "fw1", NFT_FW1)
    assert (out["tier"], out["score"], out["change_class"], out["standard_change"]) == ("low", 15, "standard", "edge_acl_update")
    assert [rule["name"] for rule in out["fired_rules"]] == ["high_criticality", "protected_prefix_filter"]
    assert out["required_gates"] == ["freeze", "precheck", "deploy", "verify"]
    assert out["requirements"]["approvals"]["count"] == 0 and out["requirements"]["pre_approved_by"] == "edge_acl_update"
    assert out["facts"]["sections_touched"] == ["table inet filter"]
    assert out["blast_radius"]["protected_overlap"] == ["10.0.45.10/32"]
    assert out["devices"]["fw1"]["diff"].count("\n+\t") == 1


def test_bgp_change_on_core_r2_is_high(lab_policy):
    out = run("bgp_core_r2.yml", lab_policy, "r2", FRR_R2)
    assert (out["tier"], out["score"], out["change_class"]) == ("high", 70, "normal")
    assert out["forced_tier"] == "high"
    assert [rule["name"] for rule in out["fired_rules"]] == [
        "touches_bgp", "routing_policy", "core_device", "high_criticality", "protected_prefix_routing"]
    assert out["required_gates"] == ["approval", "review", "freeze", "window", "precheck", "deploy", "verify"]
    assert out["requirements"]["approvals"] == {"count": 2, "groups": ["netops", "cab"], "segregation_of_duties": True, "max_age_hours": 24}
    assert out["requirements"]["escalation"]["target"] == "netops-oncall"
    assert out["facts"]["sections_touched"] == ["ip prefix-list", "route-map", "router bgp"]
    assert out["blast_radius"]["protected_hit"] == ["10.255.0.0/24"]
    assert out["explanation"][0] == "touches_bgp: Changes BGP configuration (sessions, address families, redistribution) (+25)"


def test_emergency_change_on_r1(lab_policy):
    out = run("emergency_r1.yml", lab_policy, "r1", FRR_R1)
    # Remote-triggered blackhole: the static route plus its BGP announcement (so a snapshot's routes show it).
    assert (out["tier"], out["score"], out["change_class"]) == ("medium", 40, "emergency")
    assert [rule["name"] for rule in out["fired_rules"]] == ["touches_bgp", "static_routes", "emergency_change"]
    assert out["required_gates"] == ["approval", "review", "freeze", "precheck", "deploy", "verify", "post_review"]
    assert "window" not in out["required_gates"] and out["required_gates"][-1] == "post_review"
    assert out["post_review_due"] == "2026-11-03T00:00:00Z"  # clock.iso_z, the form the window gate's post_review_due has
    assert out["facts"]["sections_touched"] == ["ip route", "router bgp"]
    assert out["facts"]["prefixes_touched"] == ["203.0.113.66/32"] and out["facts"]["touches_protected"] is False
    assert out["devices"]["r1"]["added"] == ["  network 203.0.113.66/32", "ip route 203.0.113.66/32 blackhole"]


def test_unreachable_device_raises_risk_and_is_reported(lab_policy):
    out = assess(example("changes/acl_update_fw1.yml"), lab_policy, INVENTORY, now=NOW)
    assert out["devices"]["fw1"]["running_known"] is False and out["facts"]["diff"]["devices_unverified"] == 1
    assert "unverified_diff" in [rule["name"] for rule in out["fired_rules"]]
    assert out["tier"] == "medium"  # no longer a pre-approved standard change
    assert out["change_class"] == "normal" and "assessed tier medium is above its max_tier low" in out["change_class_reason"]


def test_facts_document_has_every_documented_field(lab_policy):
    out = run("bgp_core_r2.yml", lab_policy, "r2", FRR_R2)
    facts = out["facts"]
    assert set(facts) | set(facts["targets"][0]) | set(facts["diff"]) == set(FACT_FIELDS)
    assert facts["targets"] == [{"host": "r2", "role": "core", "site": "lon", "criticality": "high", "groups": ["core", "routers", "site_lon"]}]
    assert (facts["device_count"], facts["site_count"], facts["fleet_size"], facts["fleet_share"]) == (1, 1, 4, 0.25)
    assert facts["diff"] == {"lines_added": 4, "lines_removed": 0, "lines_changed": 4, "devices_changed": 1, "devices_unverified": 0}
    assert facts["window_requested"] is False and facts["expected_count"] == 2  # the example requests no dated window
    json.dumps(out)  # the assessment is JSON-able


def test_a_requested_window_relative_to_now_is_a_fact(lab_policy):
    request = example("changes/bgp_core_r2.yml")
    start = datetime.datetime.fromisoformat(NOW) + datetime.timedelta(days=2)
    request["window"] = {"start": start.isoformat(), "end": (start + datetime.timedelta(hours=2)).isoformat()}
    out = assess(request, lab_policy, INVENTORY, {"r2": {"running": FRR_R2}}, now=NOW)
    assert out["facts"]["window_requested"] is True and out["window"]["start"] == start.isoformat()


def test_targets_groups_patterns_and_all(lab_policy):
    inventory = normalize_inventory(INVENTORY)
    assert resolve_targets(["r*"], inventory) == ["r1", "r2", "r3"]
    assert resolve_targets(["site_ams"], inventory) == ["fw1", "r3"]
    assert resolve_targets(["core", "fw?"], inventory) == ["fw1", "r2"]
    assert resolve_targets(["all"], inventory) == ["fw1", "r1", "r2", "r3"]
    out = assess(change(targets=["routers"], config={"routers": {"lines": ["ip route 192.0.2.0/24 blackhole"]}}, category="routing_core"),
                 lab_policy, INVENTORY, {host: {"running": FRR_R2} for host in ("r1", "r2", "r3")}, now=NOW)
    assert out["hosts"] == ["r1", "r2", "r3"] and out["facts"]["site_count"] == 2 and out["facts"]["fleet_share"] == 0.75
    assert {rule["name"] for rule in out["fired_rules"]} >= {"multi_site", "wide_fleet", "routing_core_change", "core_device"}
    assert out["blast_radius"]["critical_devices"] == ["r2"]


def test_group_and_host_config_are_combined(lab_policy):
    request = change(targets=["routers"], config={"routers": {"lines": ["ip route 192.0.2.0/24 blackhole"]},
                                                  "r2": {"lines": ["ip route 198.51.100.0/24 blackhole"]}})
    out = assess(request, lab_policy, INVENTORY, {"r2": {"running": ""}}, now=NOW)
    assert out["devices"]["r2"]["added"] == ["ip route 192.0.2.0/24 blackhole", "ip route 198.51.100.0/24 blackhole"]
    assert out["devices"]["r1"]["added"] == ["ip route 192.0.2.0/24 blackhole"]


def test_host_without_config_and_explicit_candidate(lab_policy):
    request = change(targets=["r1", "r2"], config={"r2": {"template": "templates/pl.j2"}})
    candidate = FRR_R2 + "ip prefix-list PL seq 5 permit 10.20.0.0/16\n"
    out = assess(request, lab_policy, INVENTORY, {"r2": {"running": FRR_R2, "candidate": candidate}}, now=NOW)
    assert out["devices"]["r1"]["no_config"] is True and out["devices"]["r1"]["diff"] == ""
    assert out["devices"]["r2"]["lines_added"] == 1 and out["facts"]["diff"]["devices_changed"] == 1


@pytest.mark.parametrize("diffs,message", [
    ({"r1": {"running": ""}}, "diffs.r1: host 'r1' is not a target of the change. Fix: pass diffs only for the targets: r2."),
    ({"r2": "config"},
     "diffs.r2: must be a mapping with running and candidate or lines, got a string. Fix: pass {running: <text or null>, candidate: <text>}."),
    ({"r2": {"running": 5}},
     "diffs.r2.running: must be text or null, got an integer (5). Fix: pass the device's running configuration as a string (null when unreachable)."),
    ({"r2": {"running": "", "config": ""}}, "diffs.r2: has unknown key 'config'. Fix: use only: running, candidate, lines, platform."),
    ({"r2": {"candidate": "", "lines": []}}, "diffs.r2: has both candidate and lines. Fix: pass one of them."),
    ({"r2": {"candidate": ["x"]}}, "diffs.r2.candidate: must be text, got a list. Fix: pass the rendered candidate configuration as a string."),
    ({"r2": {"lines": "x"}}, "diffs.r2.lines: must be a list of configuration lines, got a string. Fix: pass the rendered lines as a list of strings."),
    (["r2"], "diffs: must be a mapping of host to {running, candidate|lines}, got a list. Fix: pass diffs keyed by target host."),
])
def test_bad_diffs_input_is_refused(lab_policy, diffs, message):
    with pytest.raises(ValidationError) as info:
        assess(change(), lab_policy, INVENTORY, diffs, now=NOW)
    assert str(info.value) == message


@pytest.mark.parametrize("inventory,message", [
    ({}, "inventory: must be a mapping with a 'hosts' mapping, got a mapping. "
         "Fix: pass {\"hosts\": {name: {\"vars\": {...}, \"groups\": [...]}}, \"groups\": {group: [hosts]}}."),
    ({"hosts": {}}, "inventory.hosts: has no hosts. Fix: assess against an inventory that holds the targets."),
    ({"hosts": {"r2": {}}, "groups": {"core": ["r9"]}},
     "inventory.groups.core: lists host 'r9', which is not in inventory.hosts. Fix: add the host or remove it from the group."),
    ({"hosts": {"r2": {"vars": [1]}}}, "inventory.hosts.r2.vars: must be a mapping, got a list. Fix: pass the host's variables as a mapping."),
    ({"hosts": {"r2": {"vars": {"criticality": "urgent"}}}},
     "inventory: r2: host var criticality is 'urgent', not a criticality level. Fix: set it to one of: low, medium, high, critical."),
    ({"hosts": {"r2": {"vars": {"site": 7}}}}, "inventory: r2: host var site must be a string, got an integer (7). Fix: set site to a string."),
])
def test_bad_inventory_is_refused(lab_policy, inventory, message):
    with pytest.raises(ValidationError) as info:
        assess(change(), lab_policy, inventory, now=NOW)
    assert str(info.value) == message


def test_now_must_be_aware(lab_policy):
    with pytest.raises(ValidationError) as info:
        assess(change(), lab_policy, INVENTORY, now="2026-11-01T00:00:00")
    assert str(info.value) == "now: must be a date-time with a UTC offset. Fix: pass an aware date-time (e.g. UTC)."


# Content hash
def _hash(lab_policy, request=None, running=FRR_R2, **kwargs):
    return assess(request or change(), lab_policy, INVENTORY, {"r2": {"running": running}}, now=NOW, **kwargs)["content_hash"]


def test_content_hash_definition(lab_policy):
    out = assess(change(), lab_policy, INVENTORY, {"r2": {"running": FRR_R2}}, now=NOW)
    request = validate_change_request(change())
    expected = sha256_of({"change_request": request, "diffs": [{"host": "r2", "diff": out["devices"]["r2"]["diff"]}]})
    assert out["content_hash"] == expected
    raw = canonical_json({"change_request": request, "diffs": [{"host": "r2", "diff": out["devices"]["r2"]["diff"]}]}).encode("utf-8")
    assert out["content_hash"] == hashlib.sha256(raw).hexdigest()
    assert out["change_request_sha256"] == change_request_sha256(change())
    assert out["policy_sha256"] == lab_policy["policy_sha256"]


def test_content_hash_is_stable(lab_policy):
    first = _hash(lab_policy)
    assert _hash(lab_policy) == first
    assert _hash(lab_policy, copy.deepcopy(change())) == first
    # Key order of the change request is irrelevant.
    assert _hash(lab_policy, dict(reversed(list(change().items())))) == first
    # The assessment time and the policy do not enter the content hash.
    assert assess(change(), lab_policy, INVENTORY, {"r2": {"running": FRR_R2}}, now="2026-11-02T00:00:00+00:00")["content_hash"] == first
    # Cosmetic differences of the running config (headers, '!' comments, trailing spaces) do not change the diff.
    assert _hash(lab_policy, running=FRR_R2.replace("!\n", "").replace("hostname r2\n", "hostname r2   \n")) == first


@pytest.mark.parametrize("variant", [
    lambda: {"request": change(config={"r2": {"lines": ["ip prefix-list PL seq 5 permit 10.21.0.0/16"]}})},
    lambda: {"request": change(config={"r2": {"lines": ["ip prefix-list PL seq 5 permit 10.20.0.0/16", "ip route 192.0.2.0/24 blackhole"]}})},
    lambda: {"request": change(title="Another title")},
    lambda: {"request": change(expected=[{"name": "a", "query": "x", "op": "not_empty"}])},
    lambda: {"running": FRR_R2 + "ip prefix-list PL seq 5 permit 10.20.0.0/16\n"},
    lambda: {"running": FRR_R2.replace("  network 10.255.0.2/32", "  network 10.255.0.9/32")},
    lambda: {"running": None},
], ids=["diff_line", "extra_line", "title", "expected", "already_applied", "drift_in_context", "running_unknown"])
def test_content_hash_changes_with_any_input(lab_policy, variant):
    kwargs = variant()
    request = kwargs.get("request", change())
    running = kwargs.get("running", FRR_R2)
    assert _hash(lab_policy, request, running=running) != _hash(lab_policy)


def test_drift_outside_the_diff_context_keeps_the_hash(lab_policy):
    # The hash binds the rendered diff (changed lines plus 3 lines of context), not the whole running config.
    assert _hash(lab_policy, running=FRR_R2.replace("hostname r2", "hostname r2-drifted")) == _hash(lab_policy)


def test_content_hash_sorted_by_host_and_sensitive_per_device():
    diffs = {"r2": {"diff": "+a\n"}, "r1": {"diff": ""}}
    request = validate_change_request(change(targets=["r1", "r2"], config={}))
    assert content_hash(request, diffs) == content_hash(request, dict(reversed(list(diffs.items()))))
    assert content_hash(request, diffs) != content_hash(request, {"r2": {"diff": "+b\n"}, "r1": {"diff": ""}})
    assert content_hash(request, diffs) != content_hash(request, {"r2": {"diff": ""}, "r1": {"diff": "+a\n"}})


def test_gate_order_and_auto_automation(lab_policy):
    out = assess(change(category="other", type="normal", config={"r1": {"lines": ["ip route 192.0.2.0/24 blackhole"]}}, targets=["r1"],
                        expected=[{"name": "a", "query": "x", "op": "not_empty"}]), lab_policy, INVENTORY, {"r1": {"running": FRR_R1}}, now=NOW)
    assert out["tier"] == "low" and out["required_gates"] == ["approval", "freeze", "precheck", "deploy", "verify"]
    assert list(GATE_ORDER) == ["approval", "review", "freeze", "window", "precheck", "deploy", "verify", "post_review"]


def test_build_facts_directly(lab_policy):
    request = validate_change_request(change())
    facts = build_facts(request, lab_policy, INVENTORY, {"r2": device_diff("r2", FRR_R2, lines=request["config"]["r2"]["lines"])})
    assert facts["prefixes_touched"] == ["10.20.0.0/16"] and facts["touches_protected"] is False


@pytest.mark.parametrize("name", ["policy/policy.yml", "changes/acl_update_fw1.yml", "changes/bgp_core_r2.yml", "changes/emergency_r1.yml"])
def test_policy_reference_includes_the_examples_verbatim(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        text = handle.read()
    with open(os.path.join(ROOT, "docs", "policy.md"), encoding="utf-8") as handle:
        assert text in handle.read()


def test_support_data_is_consistent():
    """The shared inventory lists every host of every group."""
    for members in INVENTORY["groups"].values():
        assert set(members) <= set(INVENTORY["hosts"])
    assert policy()["name"] == "lab-policy"
