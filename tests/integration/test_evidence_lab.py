"""Evidence on the real lab: assess -> approve -> gates -> backup -> snapshot -> deploy -> check -> close in one ansible-playbook
run with the evidence callback enabled; the bundle verifies against the ledger and the report renders in headless Chromium.

Runs on its own lab instance (prefix h2-, ports 234xx, run folder lab/run-h2); the module fixture tears it down on every exit path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from labfixture import ROOT, lab_policy, lab_session

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

LAB_ENV = {"GC_LAB_PREFIX": "h2-", "GC_LAB_PORT_BASE": "23400", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-h2")}
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
CHANGE = "CHG-2091"
# A medium-risk change whose effect shows in the snapshot (the lab's snapshots hold the BGP table): originate a discard
# route for TEST-NET-1 from r1.
REQUEST = {
    "id": CHANGE, "title": "Originate a discard route for TEST-NET-1 from r1", "author": "carol", "type": "normal",
    "category": "other", "description": "Blackhole 192.0.2.0/24 on r1 and announce it, so stray traffic is dropped at the edge.",
    "targets": ["r1"],
    "config": {"r1": {"lines": ["ip route 192.0.2.0/24 blackhole", "router bgp 65001", " address-family ipv4 unicast",
                                "  network 192.0.2.0/24"]}},
    "expected": [{"name": "discard_route_originated", "description": "r1's BGP table holds 192.0.2.0/24",
                  "query": "contains(keys(sections.routes), '192.0.2.0/24')", "op": "equals", "value": True, "snapshot": "post"}],
    "rollback": {"strategy": "backup"}, "links": {"ticket": "REQ-2191"},
}
USERS = ("alice", "carol")
TIMINGS_FILE = os.path.join(ROOT, "out", "evidence_timings.json")

# The governed run: every stage of a good change in one play over the change's target, controller steps run once.
PLAY = """
- name: Govern {change} on r1
  hosts: r1
  gather_facts: false
  vars:
    governed_output_dir: "{out}"
    governed_ledger: "{out}/ledger.sqlite"
    governed_store_dir: "{out}/store"
    governed_state_dir: "{lab_run}/governed/{{{{ inventory_hostname }}}}"
    gc_started: "{{{{ now(utc=true).strftime('%Y-%m-%dT%H:%M:%SZ') }}}}"
  tasks:
    - name: Assess the change
      governed.change.assess:
        change_request: "{work}/change.yml"
        policy: "{work}/policy/policy.yml"
        output_dir: "{out}/assessments"
        ledger: "{{{{ governed_ledger }}}}"
      run_once: true
      register: gc_assess

    - name: Approve as alice (a second identity, signed with her key)
      ansible.builtin.command:
        argv: ["{venv}/python", "-m", "ansible_collections.governed.change.plugins.module_utils.cli", "approve",
               "--ledger", "{{{{ governed_ledger }}}}", "--change", "{change}",
               "--assessment", "{{{{ gc_assess.assessment_file }}}}", "--key", "{work}/key_alice", "--identity", "alice",
               "--policy", "{work}/policy/policy.yml", "--yes"]
      environment:
        PYTHONPATH: "{root}/.collections"
      changed_when: true
      run_once: true
      delegate_to: localhost

    - name: Review gate
      governed.change.review_gate:
        policy: "{work}/policy/policy.yml"
        assessment_file: "{{{{ gc_assess.assessment_file }}}}"
        ledger: "{{{{ governed_ledger }}}}"
      run_once: true

    - name: Window gate
      governed.change.window_gate:
        policy: "{work}/policy/policy.yml"
        assessment_file: "{{{{ gc_assess.assessment_file }}}}"
        ledger: "{{{{ governed_ledger }}}}"
      run_once: true

    - name: Back up the running configuration
      governed.change.backup:
      register: gc_backup

    - name: Snapshot before the change
      governed.change.snapshot:
      register: gc_pre

    - name: Deploy with a commit-confirmed timer
      governed.change.deploy:
        lines: "{{{{ gc_lines }}}}"
        confirm_timeout: 120
      register: gc_deploy

    - name: Check the expectation and no regression
      governed.change.check:
        pre: "{{{{ gc_pre.snapshot }}}}"
        expected: "{{{{ gc_expected }}}}"
        settle_timeout: 15
        settle_interval: 0.5
      register: gc_check

    - name: Confirm the commit
      governed.change.confirm:
      register: gc_confirm

    - name: Close the change and write the evidence
      governed.change.close:
        ledger: "{{{{ governed_ledger }}}}"
        change_id: "{change}"
        outcome: "{{{{ 'successful' if gc_check.passed else 'unsuccessful' }}}}"
        reason: "deployed, checks passed, commit confirmed"
        output_dir: "{{{{ governed_output_dir }}}}"
        store_dir: "{{{{ governed_store_dir }}}}"
        started: "{{{{ gc_started }}}}"
        stages:
          hosts:
            r1:
              backup: "{{{{ gc_backup.backup }}}}"
              pre: "{{{{ gc_pre.snapshot }}}}"
              post: "{{{{ gc_check.post }}}}"
              deploy: "{{{{ gc_deploy }}}}"
              check: "{{{{ gc_check }}}}"
              confirmed: "{{{{ gc_confirm is succeeded }}}}"
          deployed: [r1]
          failed_hosts: []
          rolled_back: []
      run_once: true
      register: gc_close

    - name: Leave the working copy as it was (take the discard route out again, not part of the governed run)
      governed.change.restore:
        backup: "{{{{ gc_backup.backup }}}}"
"""


def _record(**values):
    os.makedirs(os.path.dirname(TIMINGS_FILE), exist_ok=True)
    data = {}
    if os.path.isfile(TIMINGS_FILE):
        with open(TIMINGS_FILE, encoding="utf-8") as handle:
            data = json.load(handle)
    data.update(values)
    with open(TIMINGS_FILE, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)


@pytest.fixture(scope="module")
def evidence_lab():
    """This module's own lab instance, torn down on every exit path."""
    yield from lab_session(env=dict(os.environ, **LAB_ENV))


@pytest.fixture(scope="module")
def governed_run(evidence_lab, tmp_path_factory):  # pylint: disable=redefined-outer-name,unused-argument
    """One governed run of the good change with the callback enabled; (CompletedProcess, out dir, seconds)."""
    work = tmp_path_factory.mktemp("evidence")
    out = work / "out"
    out.mkdir()
    (work / "policy").mkdir()
    lab_policy(work / "policy" / "policy.yml")
    signers = []
    for user in USERS:
        key = work / ("key_%s" % user)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user, "-f", str(key)], check=True)
        pub = (work / ("key_%s.pub" % user)).read_text().split()
        signers.append('%s@lab namespaces="governed.change" %s %s' % (user, pub[0], pub[1]))
    (work / "policy" / "allowed_signers").write_text("\n".join(signers) + "\n")
    request = REQUEST
    (work / "change.yml").write_text(yaml.safe_dump(request))
    (work / "play.yml").write_text(PLAY.format(change=CHANGE, out=out, work=work, venv=VENV_BIN, root=ROOT, lab_run=LAB_ENV["GC_LAB_RUN"]))
    (work / "vars.yml").write_text(yaml.safe_dump({"gc_expected": request["expected"], "gc_lines": request["config"]["r1"]["lines"]}))
    env = dict(os.environ, **LAB_ENV)
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", PATH=VENV_BIN + os.pathsep + env.get("PATH", ""))
    env.pop("GOVERNED_EVIDENCE_ENABLED", None)
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), str(work / "play.yml"), "-e", "@%s" % (work / "vars.yml")],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-5000:]
    _record(governed_run_s=round(seconds, 2))
    return proc, str(out), seconds


def test_the_change_is_closed_and_the_bundle_verifies_against_the_ledger(governed_run):  # pylint: disable=redefined-outer-name
    _proc, out, seconds = governed_run
    bundle_path, _report = evidence.bundle_paths(out, CHANGE)
    bundle = evidence.load_bundle(bundle_path)
    with SqliteLedger(os.path.join(out, "ledger.sqlite")) as ledger:
        change = ledger.get_change(CHANGE)
        assert change["state"] == "closed" and change["close_code"] == "successful"
        assert evidence.verify_bundle(bundle, ledger) == {"ok": True, "problems": []}
        assert ledger.verify()["ok"] is True
        built = [e for e in ledger.events(change_id=CHANGE) if e["kind"] == "evidence.built"]
        states = [(e["data"]["from"], e["data"]["to"]) for e in ledger.events(change_id=CHANGE) if e["kind"] == "change.state"]
    assert built[-1]["data"]["bundle_sha256"] == bundle["sha256"] and built[-1]["actor"] == "governed.change.evidence"
    assert states == [("new", "assess"), ("assess", "authorize"), ("authorize", "scheduled"), ("scheduled", "implement"),
                      ("implement", "review"), ("review", "closed")]
    sec = bundle["sections"]
    assert bundle["problems"] == []
    assert sec["gates"]["review"]["decision"] == "pass" and sec["gates"]["review"]["approvers"] == ["alice"]
    assert sec["approvals"]["items"][0]["verified"] is True and sec["approvals"]["items"][0]["principal"] == "alice@lab"
    r1 = sec["devices"]["r1"]
    assert r1["backup"]["integrity"] == "ok" and r1["pre"]["integrity"] == "ok" and r1["post"]["integrity"] == "ok"
    assert any(e["section"] == "routes" and e["id"] == "192.0.2.0/24" for e in r1["state_diff"]["added"]), r1["state_diff"]
    assert "ip route 192.0.2.0/24 blackhole" in sec["assessment"]["devices"]["r1"]["diff"]
    checks = dict((c["name"], c) for c in sec["checks"]["items"])
    assert checks["discard_route_originated"]["passed"] is True and checks["discard_route_originated"]["actual"] is True
    # the callback recorded every task of the run, including those before the change id was known and after the close
    tasks = [t["task"] for t in sec["tasks"]["items"]]
    assert tasks[0] == "Assess the change" and "Close the change and write the evidence" in tasks
    assert sec["tasks"]["by_status"].get("failed") is None and sec["tasks"]["count"] == 11
    # from the first task's start to the close: most of the run, never more than the whole run
    assert seconds * 0.3 < sec["outcome"]["duration_s"] < seconds, (sec["outcome"]["duration_s"], seconds)


def test_the_run_ends_with_the_summary(governed_run):  # pylint: disable=redefined-outer-name
    proc, out, _seconds = governed_run
    text = proc.stdout.split("GOVERNED CHANGE SUMMARY")[-1]
    assert 'Change CHG-2091 "Originate a discard route for TEST-NET-1 from r1": closed/successful' in text
    assert "Risk: tier medium" in text and "touches_bgp" in text and "review pass" in text and "approved by alice" in text
    assert "Devices: 1 ok (r1), 0 failed, 0 rolled back" in text
    assert "Report: %s" % os.path.join(out, "evidence", CHANGE, "report.html") in text


def test_the_report_renders_in_headless_chromium(governed_run, tmp_path):  # pylint: disable=redefined-outer-name
    _proc, out, _seconds = governed_run
    chromium = shutil.which("chromium")
    assert chromium, "Debian chromium is a setup dependency (scripts/setup.sh installs it)"
    _bundle, report = evidence.bundle_paths(out, CHANGE)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400"]
    shot = tmp_path / "report.png"
    started = time.monotonic()
    subprocess.run([chromium] + flags + ["--screenshot=%s" % shot, "file://%s" % report], capture_output=True, timeout=120, check=True)
    render_s = time.monotonic() - started
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50000  # a real page, not a blank frame
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
    shutil.copy(str(shot), os.path.join(out, "evidence", CHANGE, "report.png"))
    dom = subprocess.run([chromium] + flags + ["--dump-dom", "file://%s" % report], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    _record(chromium_screenshot_s=round(render_s, 2), report_png_bytes=len(data))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "CHG-2091: SUCCESSFUL" in text and "closed/successful" in text
    assert "tier medium" in text and "touches_bgp" in text and "static_routes" in text
    assert "alice" in text and "verified" in text
    added = re.findall(r'<span class="add">([^<]*)</span>', dom)
    # the assessed diff first, then what the device applied (as the deploy reported it)
    assert added[:2] == ["+  network 192.0.2.0/24", "+ip route 192.0.2.0/24 blackhole"], added
    assert "+ip route 192.0.2.0/24 blackhole" in added[2:] and "+  network 192.0.2.0/24" in added[2:], added
    assert "discard_route_originated" in text and "pass" in text
    assert "No rollback was needed." in text
    assert "Close the change and write the evidence" in text  # the task timeline of the run
    assert "<script" not in dom
