"""Device stages on the real lab through real ansible-playbook: deploy, checks, commit-confirmed, exact rollback.

Runs on its own lab instance (prefix ge-, ports 252xx, run folder lab/run-ge) so it never collides with
the session lab; the module fixture tears it down on every exit path. Timings go to out/device_stages_timings.json.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest_device import device_env, device_lab, host_shell, run_change, running_config  # noqa: F401 pylint: disable=unused-import
from labfixture import ROOT

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.platforms.frr import strip_header
from ansible_collections.governed.change.plugins.module_utils.platforms.linux import normalize_ruleset
from ansible_collections.governed.change.plugins.module_utils.snapshot import normalize_config

SECRET = "Gc-s3cret-7f3a"
TIMINGS = {}

GOOD_R1 = {
    "gc_lines": {"r1": [
        "ip prefix-list GC-LOOPBACKS seq 5 permit 10.255.0.0/16 le 32",
        "route-map GC-FROM-R2 permit 10",
        " match ip address prefix-list GC-LOOPBACKS",
        " set local-preference 200",
        "route-map GC-FROM-R2 permit 20",
        "router bgp 65001",
        " address-family ipv4 unicast",
        "  neighbor 10.0.12.2 route-map GC-FROM-R2 in",
    ]},
    "gc_expected": {"r1": [{"name": "loopback_r3_learned_via_r2", "query": 'sections.routes."10.255.0.3/32".nexthop',
                            "op": "equals", "value": "10.0.12.2", "snapshot": "post"}]},
    "gc_scope": "routers",
}


def _record(name, **values):
    TIMINGS.setdefault(name, {}).update(values)
    path = os.path.join(ROOT, "out", "device_stages_timings.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(TIMINGS, handle, indent=2, sort_keys=True)


def _store_texts(results):
    """Every file of the state store named in the results, by kind."""
    texts = {}
    for host in results["hosts"].values():
        for reg in host.values():
            for key in ("snapshot", "post", "backup", "after"):
                ref = reg.get(key) if isinstance(reg, dict) else None
                if statestore.is_ref(ref):
                    texts.setdefault(ref["kind"], []).append(statestore.read_bytes(ref).decode())
    return texts


def _same_config(device, backup_ref):
    backup = statestore.get(backup_ref)["text"]
    running = running_config(device)
    if device == "fw1":
        return normalize_ruleset(running) == normalize_ruleset(backup)
    return normalize_config(strip_header(running)) == normalize_config(backup)


def test_a_good_change_deploys_checks_pass_commit_confirmed(device_env, tmp_path):  # noqa: F811
    proc, res = run_change(device_env, tmp_path, "good", GOOD_R1)
    assert proc.returncode == 0, proc.stdout[-3000:]
    r1 = res["hosts"]["r1"]
    assert res["rollback"] == [] and res["failed_hosts"] == []
    assert r1["gc_deploy"]["changed"] and r1["gc_deploy"]["confirm"]["armed"]
    assert any("route-map GC-FROM-R2 in" in line for line in r1["gc_deploy"]["changes"])
    for host in ("r1", "r2", "r3"):
        check = res["hosts"][host]["gc_check"]
        assert check["passed"] and not check["undecidable"], (host, check)
        assert all("actual" in r for r in check["results"])  # every check reports the values it compared
    assert {r["name"] for r in r1["gc_check"]["results"]} >= {"no_bgp_session_lost", "no_route_lost", "loopback_r3_learned_via_r2"}
    assert r1["gc_confirmed"]["confirm"]["state"] == "confirmed"
    assert "route-map GC-FROM-R2 in" in running_config("r1")
    _record("a_good_change", deploy_s=r1["gc_deploy"]["summary"]["elapsed_s"], post_checks_s=r1["gc_check"]["elapsed_s"])


def test_f_secret_change_is_redacted_everywhere(device_env, tmp_path):  # noqa: F811
    change = {"gc_lines": {"r2": ["router bgp 65002", " neighbor 10.0.23.3 password %s" % SECRET],
                           "r3": ["router bgp 65003", " neighbor 10.0.23.2 password %s" % SECRET]},
              "gc_scope": "routers", "gc_settle_timeout": 20}
    proc, res = run_change(device_env, tmp_path, "secret", change)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert SECRET not in proc.stdout
    assert SECRET not in json.dumps(res)
    texts = _store_texts(res)
    assert texts["snapshot"] and not any(SECRET in t for t in texts["snapshot"])
    assert any("<redacted:" in line for line in res["hosts"]["r2"]["gc_deploy"]["changes"])
    assert "password %s" % SECRET in running_config("r2")


def test_b_bad_change_detected_network_wide_and_rolled_back_exactly(device_env, tmp_path):  # noqa: F811
    change = {"gc_lines": {"r2": ["router bgp 65002", " neighbor 10.0.12.1 remote-as 65099"]}, "gc_scope": "routers",
              "gc_settle_timeout": 6}
    start = time.time()
    proc, res = run_change(device_env, tmp_path, "bad", change)
    assert proc.returncode != 0 and "change rolled back on r2" in proc.stdout
    r1, r2 = res["hosts"]["r1"], res["hosts"]["r2"]
    # detected on r1, which the change did not touch
    assert "r1/no_bgp_session_lost" in r1["gc_check"]["summary"]["failed_checks"], r1["gc_check"]
    lost = [r for r in r1["gc_check"]["results"] if r["name"] == "no_bgp_session_lost"][0]
    assert lost["missing"] == ["10.0.12.2"]
    assert res["rollback"] == ["r2"]
    assert r2["gc_restore"]["verified"] and r2["gc_restore"]["changed"]
    # byte for byte after normalization: the running config is the backup, the secret (set in test f) restored too
    assert _same_config("r2", r2["gc_deploy"]["backup"])
    assert "password %s" % SECRET in running_config("r2")
    assert SECRET not in proc.stdout and SECRET not in json.dumps(res)
    # post-rollback state equals pre-change state everywhere (sessions re-established)
    for host in ("r1", "r2", "r3"):
        assert res["hosts"][host]["gc_verify"]["passed"], (host, res["hosts"][host]["gc_verify"])
    _record("b_bad_change", deploy_s=r2["gc_deploy"]["summary"]["elapsed_s"],
            detection_s=max(res["hosts"][h]["gc_check"]["elapsed_s"] for h in ("r1", "r2", "r3")),
            restore_s=r2["gc_restore"]["summary"]["elapsed_s"],
            mttr_s=round(r2["gc_restore"]["summary"]["elapsed_s"] + max(res["hosts"][h]["gc_verify"]["elapsed_s"] for h in ("r1", "r2", "r3")), 3),
            playbook_wall_s=round(time.time() - start, 3))


def test_c_firewall_change_blocking_the_service_is_rolled_back(device_env, tmp_path):  # noqa: F811
    change = {"gc_lines": {"fw1": ['insert rule inet filter forward tcp dport 8080 counter drop comment "blocks web"']},
              "gc_scope": "firewalls", "gc_settle_timeout": 4}
    proc, res = run_change(device_env, tmp_path, "fw", change)
    assert proc.returncode != 0
    fw1 = res["hosts"]["fw1"]
    assert "fw1/probes_still_pass" in fw1["gc_check"]["summary"]["failed_checks"]
    probe = [r for r in fw1["gc_check"]["results"] if r["name"] == "probes_still_pass"][0]
    assert "srv1:8080 from r3" in probe["missing"]
    assert fw1["gc_restore"]["verified"] and _same_config("fw1", fw1["gc_deploy"]["backup"])
    assert fw1["gc_verify"]["passed"], fw1["gc_verify"]
    _record("c_firewall", deploy_s=fw1["gc_deploy"]["summary"]["elapsed_s"], detection_s=fw1["gc_check"]["elapsed_s"],
            mttr_s=round(fw1["gc_restore"]["summary"]["elapsed_s"] + fw1["gc_verify"]["elapsed_s"], 3))


def test_d_unconfirmed_commit_reverts_by_itself(device_env, tmp_path):  # noqa: F811
    change = {"gc_lines": {"r3": ["ip prefix-list GC-UNCONFIRMED seq 5 permit 10.99.0.0/16"]}, "gc_scope": "r3",
              "gc_confirm": False, "gc_confirm_timeout": 8}
    proc, res = run_change(device_env, tmp_path, "unconfirmed", change)
    assert proc.returncode == 0, proc.stdout[-3000:]
    deployed_at = time.time()
    assert "GC-UNCONFIRMED" in running_config("r3")
    state_dir = os.path.join(os.environ.get("GC_LAB_RUN", os.path.join(ROOT, "lab", "run-ge")), "governed", "r3")
    deadline = deployed_at + 8 + 20
    while time.time() < deadline and "GC-UNCONFIRMED" in running_config("r3"):
        time.sleep(0.5)
    reverted_s = time.time() - deployed_at
    assert "GC-UNCONFIRMED" not in running_config("r3")
    assert _same_config("r3", res["hosts"]["r3"]["gc_deploy"]["backup"])
    status = host_shell("r3", "cat %s/confirm.reverted" % state_dir).split()
    assert status[0] == "0"
    assert reverted_s <= 8 + 5, reverted_s
    _record("d_commit_confirmed", timer_s=8, reverted_after_deploy_s=round(reverted_s, 3))


@pytest.mark.parametrize("scope", ["all", "failed"])
def test_e_unreachable_device_mid_deploy(device_env, tmp_path, scope):  # noqa: F811
    change = {"gc_lines": {"r1": ["ip prefix-list GC-BATCH-%s seq 5 permit 10.98.0.0/16" % scope.upper()],
                           "r3": ["ip prefix-list GC-BATCH-%s seq 5 permit 10.98.0.0/16" % scope.upper()]},
              "gc_scope": "routers", "gc_broken_host": "r3", "gc_rollback_scope": scope, "gc_settle_timeout": 3}
    proc, res = run_change(device_env, tmp_path, "unreachable-" + scope, change)
    assert proc.returncode != 0
    r3 = res["hosts"]["r3"]["gc_deploy"]
    assert r3["failed"] and r3["error"]["kind"] == "device" and "unreachable over SSH" in r3["msg"], r3
    assert r3["unreachable_device"] is True and r3["error"]["fix"]
    assert "GC-BATCH" not in running_config("r3")
    r1 = res["hosts"]["r1"]
    if scope == "all":
        assert sorted(res["rollback"]) == ["r1", "r3"]
        assert r1["gc_restore"]["verified"] and "GC-BATCH-ALL" not in running_config("r1")
    else:
        assert res["rollback"] == ["r3"]
        assert r1["gc_confirmed"]["confirm"]["state"] == "confirmed" and "GC-BATCH-FAILED" in running_config("r1")


def test_g_bad_canary_halts_the_batches_and_rolls_back_only_the_canary(device_env, tmp_path):  # noqa: F811
    # r1 is the canary (first target); its wrong remote-as drops the r1-r2 session: halt after batch 1, r2/r3 never touched
    change = {"gc_lines": {"r1": ["router bgp 65001", " neighbor 10.0.12.2 remote-as 65098"],
                           "r2": ["ip prefix-list GC-CANARY-R2 seq 5 permit 10.97.0.0/16"],
                           "r3": ["ip prefix-list GC-CANARY-R3 seq 5 permit 10.97.0.0/16"]},
              "gc_scope": "routers", "gc_canary": 1, "gc_batch_size": 1, "gc_max_failures": 0, "gc_rollback_scope": "failed",
              "gc_settle_timeout": 6}
    before = {host: normalize_config(strip_header(running_config(host))) for host in ("r2", "r3")}
    proc, res = run_change(device_env, tmp_path, "canary", change)
    assert proc.returncode != 0 and "change rolled back on r1" in proc.stdout, proc.stdout[-3000:]
    assert res["plan"]["batches"] == [["r1"], ["r2"], ["r3"]]
    assert res["halted"] is True and res["batches_run"] == 1 and res["deployed"] == ["r1"], res["decision"]
    assert res["rollback"] == ["r1"]
    # r2 and r3: never deployed, running config unchanged
    for host in ("r2", "r3"):
        assert "gc_deploy" not in res["hosts"][host] and "gc_confirmed" not in res["hosts"][host], res["hosts"][host].keys()
        assert normalize_config(strip_header(running_config(host))) == before[host], host
        assert "GC-CANARY" not in running_config(host)
    # the canary: detected, rolled back exactly, state back to pre everywhere
    r1 = res["hosts"]["r1"]
    assert r1["gc_deploy"]["changed"] and "gc_confirmed" not in r1
    assert r1["gc_restore"]["verified"] and _same_config("r1", r1["gc_deploy"]["backup"])
    assert "remote-as 65098" not in running_config("r1")
    for host in ("r1", "r2", "r3"):
        assert res["hosts"][host]["gc_verify"]["passed"], (host, res["hosts"][host]["gc_verify"])
