# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Impact-aware verification on the lab (issue 12, findings 1 and 2), through the whole pipeline with a signed approval.

Own lab instance (k8-, ports 268xx, lab/run-k8). A change on r1 that stops advertising r1's loopback to r2 (an AS-path
filter outbound: no prefix in its text) keeps every check on r1 green; only r2 and r3 see it (they lose 10.255.0.1/32).
It must be caught there, rolled back, and the restore verified on every device of the scope.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from conftest_pipeline import PIPELINE, approve, extra_vars, run_playbook
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env, signing_keys

from ansible_collections.governed.change.plugins.module_utils import clock, statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "k8-", "GC_LAB_PORT_BASE": "26800", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k8")}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13}
ASSESS = os.path.join(ROOT, "playbooks", "assess.yml")
R1_LOOPBACK = "10.255.0.1/32"

# Drops every route r1 originates (empty AS path) on the way to r2; the text names no prefix.
ROUTE_LOSS_CHANGE = {
    "id": "CHG-2801", "title": "Outbound AS-path policy on r1 towards r2",
    "description": "Filter what r1 announces to r2 with an AS-path list. It also drops r1's own routes (the empty AS path): "
                   "r2 and r3 lose r1's loopback while r1 looks healthy.",
    "author": "carol", "type": "normal", "category": "other", "targets": ["r1"],
    "config": {"r1": {"lines": [
        "bgp as-path access-list GC-OUT seq 5 deny ^$",
        "bgp as-path access-list GC-OUT seq 10 permit .*",
        "route-map GC-TO-R2 permit 10",
        " match as-path GC-OUT",
        "router bgp 65001",
        " address-family ipv4 unicast",
        "  neighbor 10.0.12.2 route-map GC-TO-R2 out",
    ]}},
    "rollback": {"strategy": "backup"},
}


@pytest.fixture(scope="module")
def impact_lab():
    env = dict(os.environ, **LAB_ENV)
    yield from lab_session(env=env)


@pytest.fixture(scope="module")
def impact_env(impact_lab):  # pylint: disable=unused-argument,redefined-outer-name
    env = run_env(LAB_ENV)
    return env


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    return signing_keys(tmp_path_factory.mktemp("signing"))


def vtysh(device, command):
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [
        'vtysh --vty_socket "$FRR_VTY_DIR" -c %s' % json.dumps(command)], capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def bgp_routes(device):
    return set(json.loads(vtysh(device, "show bgp ipv4 unicast json")).get("routes") or {})


def write_change(tmp_path, doc):
    path = tmp_path / ("%s.yml" % doc["id"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def assess_and_approve(env, change, out, signing_dir, tmp_path, change_id):  # pylint: disable=redefined-outer-name
    variables = extra_vars(change, out, signing_dir)
    rc, _art, output, _seconds = run_playbook(env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    approve(out, change_id, signing_dir)
    return variables


def events_of(out, change_id):
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        return ledger.get_change(change_id), ledger.events(change_id=change_id), ledger.verify(), ledger.locks()


def test_remote_route_loss_is_caught_rolled_back_and_verified_on_every_affected_device(impact_env, signing, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    before = {device: bgp_routes(device) for device in ("r1", "r2", "r3")}
    assert R1_LOOPBACK in before["r3"] and R1_LOOPBACK in before["r2"]
    before_r1 = vtysh("r1", "show running-config")
    change = write_change(tmp_path, ROUTE_LOSS_CHANGE)
    variables = assess_and_approve(impact_env, change, out, signing, tmp_path, "CHG-2801")
    with open(out / "assessments" / "CHG-2801.assessment.json", encoding="utf-8") as handle:
        plan = json.load(handle)["verification"]
    assert plan["mode"] == "impact" and plan["always"] == ["r1"] and plan["snapshot_play"] is True
    rc, art, output, _seconds = run_playbook(impact_env, PIPELINE, variables, tmp_path, "route-loss")
    explain = output[-5000:]
    assert rc != 0 and art["governed_outcome"] == "unsuccessful" and art["governed_stage_failed"] == "deploy", explain
    # verified where the change reaches: r1's neighbor r2 and r3, which routes through r1 (learned from the pre snapshots)
    scope = art["governed_verification_scope"]
    assert scope["mode"] == "impact" and scope["hosts"] == ["r1", "r2", "r3"], scope
    assert scope["reasons"]["r2"][0] == "BGP neighbor of r1" and "through r1" in scope["reasons"]["r3"][-1], scope
    assert sorted(art["governed_pre_snapshots"]) == ["r1", "r2", "r3"]
    # caught on the devices that lost the prefix (r1 itself stays green), rolled back on r1, verified on all three
    assert "r3" in art["governed_failed_hosts"] and "r2" in art["governed_failed_hosts"], explain
    assert "r1" not in art["governed_failed_hosts"], explain
    assert art["governed_rolled_back"] == ["r1"] and art["governed_rollback_verified"] is True, explain
    assert sorted(art["governed_post_snapshots"]) == ["r1", "r2", "r3"]
    for device in ("r1", "r2", "r3"):
        pre, post = statestore.get(art["governed_pre_snapshots"][device]), statestore.get(art["governed_post_snapshots"][device])
        assert sorted(post["sections"]["routes"]) == sorted(pre["sections"]["routes"]), device
    assert "r3: " in output and "no_route_lost" in output
    # the devices: r1's config is back, r3 has r1's loopback again
    assert vtysh("r1", "show running-config").split("\n", 3)[-1] == before_r1.split("\n", 3)[-1]
    assert R1_LOOPBACK in bgp_routes("r3") and R1_LOOPBACK in bgp_routes("r2")
    record, events, verified, locks = events_of(out, "CHG-2801")
    assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
    assert locks == [] and verified["ok"], verified["problems"]
    with open(art["governed_escalation"], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert any("no_route_lost" in line and "r3" in line for line in packet["detected"]), packet["detected"]


def test_a_check_naming_a_non_target_host_is_evaluated_there(impact_env, signing, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    with open(os.path.join(ROOT, "examples", "changes", "good_r1_static.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    # r3 never learns the service address (the good change does not announce it): this check fails - on r3 only
    doc["expected"].append({"name": "r3_learns_service_address", "query": "contains(keys(sections.routes), '192.0.2.1/32')",
                            "op": "equals", "value": True, "snapshot": "post", "hosts": ["r3"]})
    change = write_change(tmp_path, doc)
    variables = assess_and_approve(impact_env, change, out, signing, tmp_path, "CHG-2001")
    rc, art, output, _seconds = run_playbook(impact_env, PIPELINE, variables, tmp_path, "named-host")
    explain = output[-5000:]
    assert rc != 0 and art["governed_outcome"] == "unsuccessful", explain
    assert "r3" in art["governed_verification_scope"]["hosts"]
    assert "named by an expected check" in art["governed_verification_scope"]["reasons"]["r3"]
    assert art["governed_failed_hosts"] == ["r3"] and art["governed_rolled_back"] == ["r1"], explain
    assert "r3/r3_learns_service_address" in output
    assert "192.0.2.1/32" not in vtysh("r1", "show running-config")


def test_a_check_naming_a_host_outside_the_inventory_is_refused_at_assess(impact_env, signing, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    with open(os.path.join(ROOT, "examples", "changes", "good_r1_static.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["expected"].append({"name": "far_check", "query": "sections.routes", "op": "not_empty", "snapshot": "post", "hosts": ["r9"]})
    change = write_change(tmp_path, doc)
    rc, _art, output, _seconds = run_playbook(impact_env, ASSESS, extra_vars(change, out, signing), tmp_path, "assess-r9")
    assert rc != 0
    assert "expected[1].hosts: check 'far_check' names r9, not in the inventory: it could never be evaluated." in output, output[-3000:]


CHECK_TASK = "Check every device of the scope (network-wide), waiting until settled"


def check_task_hosts(output):
    """{host: result} and the duration in seconds of the deploy stage's check task, from the JSON callback's document."""
    doc, _end = json.JSONDecoder().raw_decode(output[output.find("{"):])
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            if CHECK_TASK in task["task"]["name"] and task.get("hosts"):  # the callback prefixes the role: "deploy : ..."
                span = task["task"]["duration"]
                seconds = (clock.parse_instant(span["end"]) - clock.parse_instant(span["start"])).total_seconds()
                # one task over every device (a fleet task, run once): each device's result is under its `hosts`
                fleet = [result["hosts"] for result in task["hosts"].values() if result.get("fleet")]
                return (fleet[0] if fleet else task["hosts"]), seconds
    raise AssertionError("no %r task in the run" % CHECK_TASK)


def test_a_decisive_failure_ends_detection_well_before_the_settle_timeout(impact_env, signing, tmp_path):  # noqa: F811
    """The demo's bad change (r1's peer AS to r2 mistyped): r1 refuses r2's OPEN (Bad Peer AS), a failure no wait can heal.
    The deploy checks end on that decisive fact - not on the 4 s convergence bound, not on the settle timeout (30 s
    here) - r2 and r3 stop with r1, and the rollback restores r1 and verifies the scope."""
    out, settle_timeout = tmp_path / "out", 30
    before_r1 = vtysh("r1", "show running-config")
    with open(os.path.join(ROOT, "examples", "changes", "bad_r1_bgp.yml"), encoding="utf-8") as handle:
        change = write_change(tmp_path, yaml.safe_load(handle))
    variables = assess_and_approve(impact_env, change, out, signing, tmp_path, "CHG-2002")
    variables["pipeline_settle_timeout"] = settle_timeout
    rc, art, output, _seconds = run_playbook(impact_env, PIPELINE, variables, tmp_path, "decisive")
    explain = output[-5000:]
    assert rc != 0 and art["governed_outcome"] == "unsuccessful" and art["governed_stage_failed"] == "deploy", explain
    hosts, task_s = check_task_hosts(output)
    r1 = hosts["r1"]["settle"]
    # ended by the decisive rule from the configuration (r1's peer AS 65020 is not the AS 65002 r2 presented before the
    # change, and no target moves to it), seen twice - not waiting for the reconnect's refusal, the bound (4 s on the
    # lab) or the timeout
    assert set(r1["config_refusals"]) == {"10.0.12.2"} and "remote-as to 65020" in r1["config_refusals"]["10.0.12.2"], r1
    assert r1["fail_fast"] and "cannot come up" in (r1["decisive"] or "") and "presented AS 65002" in r1["decisive"], r1
    assert r1["converge_s"] == 4.0 and r1["elapsed_s"] < r1["converge_s"] < settle_timeout, r1
    assert r1["attempts"] < settle_timeout / 0.25, r1  # far from polling out the timeout
    # every device of the batch ended with it (r2 on the same refusal, r3 on the batch's halt marker), none passed
    for device in ("r2", "r3"):
        other = hosts[device]["settle"]
        assert other["settled"] is False and (other["halted"] or other["decisive"]), (device, other)
        assert other["elapsed_s"] < r1["converge_s"], (device, other)
    assert task_s < settle_timeout / 3, task_s  # the whole check task (Ansible included), not only the wait
    # restored and verified: r1's config is back, its session to r2 up, the ledger closed and unlocked
    assert art["governed_rolled_back"] == ["r1"] and art["governed_rollback_verified"] is True, explain
    assert vtysh("r1", "show running-config").split("\n", 3)[-1] == before_r1.split("\n", 3)[-1]
    post = statestore.get(art["governed_post_snapshots"]["r1"])
    assert post["sections"]["peers"]["10.0.12.2"]["state"] == "Established"
    record, _events, verified, locks = events_of(out, "CHG-2002")
    assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
    assert locks == [] and verified["ok"], verified["problems"]


def test_a_halted_canary_keeps_its_checks_in_the_deploy_records(impact_env, tmp_path):  # noqa: F811
    """Two targets, canary r1 then r2: r1's mistyped peer AS fails the canary's checks and halts the change, so r2's
    batch never runs. Ansible replaces a registered result with a skipped one when a task is skipped (as every task of
    the halted change's later batch is), so the deploy records are gathered by the batch decision itself: the evidence
    still holds the failed check of r1, and r2 is never touched."""
    out = tmp_path / "out"
    before_r2 = vtysh("r2", "show running-config")
    with open(os.path.join(ROOT, "examples", "changes", "bad_r1_bgp.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc.update(id="CHG-2012", targets=["r1", "r2"])
    doc["config"]["r2"] = {"lines": ["router bgp 65002", " neighbor 10.0.23.3 description r3-core"]}
    change = write_change(tmp_path, doc)
    # the lab policy scoring only touches_bgp (as the demo's one-router change scores), so two routers stay medium (one
    # approval, no window) instead of high for a core router and half the fleet
    (tmp_path / "signers").mkdir()
    signers = signing_keys(tmp_path / "signers")
    policy = yaml.safe_load((signers / "policy.yml").read_text())
    for rule in policy["risk"]["rules"]:
        if rule["name"] != "touches_bgp":
            rule["score"] = 0
    (signers / "policy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    variables = assess_and_approve(impact_env, change, out, signers, tmp_path, "CHG-2012")
    variables["deploy_canary"] = 1  # batches [r1], [r2]
    rc, art, output, _seconds = run_playbook(impact_env, PIPELINE, variables, tmp_path, "halted-canary")
    explain = output[-5000:]
    assert rc != 0 and art["governed_outcome"] == "unsuccessful" and art["governed_stage_failed"] == "deploy", explain
    assert art["governed_deployed"] == ["r1"] and art["governed_rolled_back"] == ["r1"], explain
    assert vtysh("r2", "show running-config").split("\n", 3)[-1] == before_r2.split("\n", 3)[-1]  # r2 never touched
    with open(art["governed_evidence"], encoding="utf-8") as handle:
        devices = json.load(handle)["sections"]["devices"]
    # the canary's failed check is in the record (a skipped later batch no longer wipes it), and r2 has no deploy
    assert devices["r1"]["check"]["passed"] is False, devices["r1"]
    assert devices["r1"]["deploy"]["changed"] is True and devices["r1"]["confirmed"] is False, devices["r1"]
    assert not (devices["r2"].get("deploy") or {}).get("changed"), devices["r2"]
    record, _events, verified, locks = events_of(out, "CHG-2012")
    assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
    assert locks == [] and verified["ok"], verified["problems"]
