"""governed.change.assess against the real lab routers: a real running-config diff, read-only."""

from __future__ import annotations

import json
import os
import sqlite3

from conftest import device_ssh, run_playbook
from labfixture import ROOT

CHANGE = os.path.join(ROOT, "examples", "changes", "bgp_core_r2.yml")
R2_CLI, R2_HOST = 22202, 22212


def assess(tmp_path, ansible_env, *extra, check=True):
    out = tmp_path / "out"
    proc = run_playbook("playbooks/assess.yml", ansible_env, "-e", "governed_change_request=%s" % CHANGE,
                        "-e", "governed_output_dir=%s" % out, *extra, check=check)
    path = out / "assessments" / "CHG-1002.assessment.json"
    return proc, (json.loads(path.read_text()) if path.exists() else None), out


def test_bgp_change_on_core_router_is_high_risk_with_a_real_diff(lab, ansible_env, tmp_path):  # pylint: disable=unused-argument
    before = device_ssh(R2_CLI, "show running-config")
    proc, assessment, out = assess(tmp_path, ansible_env)
    assert "tier high" in proc.stdout
    assert assessment["tier"] == "high" and assessment["score"] == 70
    fired = {rule["name"] for rule in assessment["fired_rules"]}
    assert fired == {"touches_bgp", "routing_policy", "core_device", "high_criticality", "protected_prefix_routing"}
    r2 = assessment["devices"]["r2"]
    assert r2["running_known"] is True
    # Lines already in r2's running config are context, not additions: only the four new lines are added.
    assert r2["existing_lines"] == ["router bgp 65002", " address-family ipv4 unicast"]
    assert "+  redistribute connected route-map RM-CONNECTED" in r2["diff"]
    assert "+router bgp 65002" not in r2["diff"]
    assert "  network 10.255.0.2/32" in r2["diff"]  # context taken from the real device
    assert assessment["blast_radius"]["protected_overlap"]
    # Read-only: the device is untouched; the change record is open and awaiting authorization.
    assert device_ssh(R2_CLI, "show running-config") == before
    with sqlite3.connect(str(out / "ledger.sqlite")) as db:
        state, tier, content_hash = db.execute("SELECT state, tier, content_hash FROM changes WHERE id='CHG-1002'").fetchone()
    assert (state, tier, content_hash) == ("authorize", "high", assessment["content_hash"])


def test_content_hash_follows_the_device(lab, ansible_env, tmp_path):  # pylint: disable=unused-argument
    first = assess(tmp_path / "a", ansible_env)[1]
    again = assess(tmp_path / "b", ansible_env)[1]
    assert first["content_hash"] == again["content_hash"]
    line = "ip prefix-list PL-LOOPBACKS seq 5 permit 10.255.0.0/24 ge 32"
    device_ssh(R2_HOST, "vtysh --vty_socket $FRR_VTY_DIR -c 'configure terminal' -c '%s'" % line)
    try:
        drifted = assess(tmp_path / "c", ansible_env)[1]
    finally:
        device_ssh(R2_HOST, "vtysh --vty_socket $FRR_VTY_DIR -c 'configure terminal' -c 'no %s'" % line)
    assert drifted["content_hash"] != first["content_hash"]
    assert line in drifted["devices"]["r2"]["existing_lines"]
    assert drifted["devices"]["r2"]["lines_added"] == 3


def test_unreachable_device_is_reported_and_raises_the_risk(lab, ansible_env, tmp_path):  # pylint: disable=unused-argument
    _proc, assessment, _out = assess(tmp_path, ansible_env, "-e", "governed_host_port=1")
    r2 = assessment["devices"]["r2"]
    assert r2["running_known"] is False and "r2" in r2["unreachable"]
    assert "unverified_diff" in {rule["name"] for rule in assessment["fired_rules"]}
    assert assessment["tier"] == "critical"


def test_check_mode_writes_nothing(lab, ansible_env, tmp_path):  # pylint: disable=unused-argument
    proc, assessment, out = assess(tmp_path, ansible_env, "--check")
    assert "tier high" in proc.stdout
    assert assessment is None
    assert not (out / "ledger.sqlite").exists()


def test_malformed_change_request_is_refused_without_a_record(lab, ansible_env, tmp_path):  # pylint: disable=unused-argument
    bad = tmp_path / "bad.yml"
    bad.write_text("id: CHG-9\ntitle: t\ndescription: d\nauthor: carol\ntype: normal\ncategory: bgp_policy\ntargets: []\n")
    out = tmp_path / "out"
    proc = run_playbook("playbooks/assess.yml", ansible_env, "-e", "governed_change_request=%s" % bad,
                        "-e", "governed_output_dir=%s" % out, check=False)
    assert proc.returncode != 0
    assert "governed.change.assess:" in proc.stdout and "targets" in proc.stdout and "Fix:" in proc.stdout
    assert "Traceback" not in proc.stdout
    assert not (out / "ledger.sqlite").exists()
