# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence report a change manager reads in one minute, checked in headless Chromium at 1280 px wide.

A four-device change fails its deploy checks on r2 and is rolled back on all four: its tasks are in the ledger as the
evidence callback records them (real start and duration, the stage role that ran them), its stage results carry the
run's verdict (module_utils/outcome.decide) and real state store snapshots, and governed.change.close writes the
bundle and the report. The page must show one bar per stage at the tasks' real times, the peers and routes of each
device before and after, the blast radius as fields, the approver's groups, the rollback's state-equal verdict filled
in, the task list collapsed, and stay under a height bound."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from action_harness import run_action
from evidence_support import CHANGE, scheduled_change

from ansible_collections.governed.change.plugins.module_utils import evidence, statestore
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, relative
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.outcome import decide
from ansible_collections.governed.change.plugins.module_utils.report import CSS

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
HOSTS = ("r1", "r2", "r3", "r4")
WIDTH = 1280
HEIGHT_BOUND = 4000  # px at 1280 px wide for a four-device rolled-back change with 200+ recorded tasks
# (stage, seconds from the run's start to its first task, seconds it lasts, tasks per device); verify never ran
PLAN = (("assess", 0, 6, 6), ("review", 7, 2, 3), ("window", 10, 2, 3), ("precheck", 13, 9, 12), ("deploy", 23, 20, 14),
        ("rollback", 45, 12, 10), ("close", 58, 2, 4), ("escalate", 61, 2, 3))


def _snapshot(host, peers_up, routes):
    peers = dict(("10.0.%d.%d" % (n, n + 1), {"address": "10.0.%d.%d" % (n, n + 1), "established": n < peers_up,
                                              "state": "Established" if n < peers_up else "Idle"}) for n in range(2))
    return {"device": host, "platform": "frr", "taken_at": iso_z(relative(minutes=-10)),
            "sections": {"peers": peers, "routes": dict(("10.255.%d.0/24" % n, {"nexthop": "10.0.0.%d" % n}) for n in range(routes))}}


def _tasks(start):
    """The task events of the run, as the evidence callback records them (one per device per task, real times)."""
    items = []
    for stage, offset, seconds, count in PLAN:
        for index in range(count):
            began = relative(seconds=offset + seconds * index / float(count), base=start)
            for host in HOSTS:
                failed = stage == "deploy" and index == 5 and host == "r2"
                items.append({"task": "%s step %d" % (stage, index), "action": "governed.change.check" if failed else "ansible.builtin.set_fact",
                              "host": host, "status": "failed" if failed else "ok", "started": iso_z(began),
                              "duration_s": round(seconds / float(count), 3), "stage": stage, "result": {"changed": False}})
    return items


def _stages(tmp_path):
    """The close action's stages: refs for four devices, r2's checks failed, all four restored and verified equal."""
    store = str(tmp_path / "out" / "store")
    hosts, records = {}, {}
    for host in HOSTS:
        pre = statestore.put(store, _snapshot(host, 2, 12), "snapshot")
        post = statestore.put(store, _snapshot(host, 2, 12), "snapshot")  # after the rollback: as before
        backup = statestore.put(store, {"text": "hostname %s\n" % host}, "backup")
        passed = host != "r2"
        check = {"passed": passed, "undecidable": False, "results": [
            {"name": "peers_established", "op": "equals", "snapshot": "post", "expected": "Established",
             "actual": "Established" if passed else "Idle", "passed": passed, "reason": "" if passed else "Idle != Established"}]}
        same = {"passed": True, "results": [{"name": "same_routes", "op": "unchanged", "expected": 12, "actual": 12, "passed": True}]}
        hosts[host] = {"backup": backup, "pre": pre, "post": post, "check": check, "confirmed": False,
                       "deploy": {"failed": False, "changed": True, "changes": ["ip route 192.0.2.0/24 blackhole"]},
                       "restore": {"failed": False, "verified": True, "msg": "restored"}, "rollback_verify": same}
        records[host] = {"deploy": {"changed": True}, "check": check, "restore": {"verified": True}, "rollback_verify": same}
    facts = {"stage_failed": "deploy", "implementing": True, "hosts": list(HOSTS), "deployed": list(HOSTS), "failed_hosts": ["r2"],
             "records": records, "rollback": {"targets": list(HOSTS), "rolled_back": list(HOSTS), "restore_failed": [],
                                              "state_differs": [], "verified": True}}
    return {"hosts": hosts, "deployed": list(HOSTS), "failed_hosts": ["r2"], "rolled_back": list(HOSTS), "stage_failed": "deploy",
            "halted": True, "decision": decide(facts)}


def _four_device_assessment(out):
    """The assessment file widened to the four devices (same content hash as the ledger's record)."""
    path = os.path.join(out, "assessments", "%s.json" % CHANGE)
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["hosts"] = list(HOSTS)
    doc["blast_radius"] = {"device_count": 4, "devices": list(HOSTS), "sites": ["lon", "par"], "site_count": 2, "critical_devices": ["r2"],
                           "fleet_share": 0.5, "prefixes_touched": ["192.0.2.0/24"], "protected_overlap": [], "touches_protected": False}
    doc["devices"] = dict((h, dict(doc["devices"]["r1"], diff=doc["devices"]["r1"]["diff"].replace("r1", h))) for h in HOSTS)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


@pytest.fixture(name="closed")
def _closed(tmp_path):
    """The rolled-back change closed by governed.change.close: (result, bundle, report path)."""
    ledger_path, out = scheduled_change(tmp_path, state="implement")
    _four_device_assessment(out)
    start = relative(seconds=-70)  # the run's first task; the close comes just after its last
    with SqliteLedger(ledger_path) as ledger:
        ledger.append_events([(CHANGE, "task", "governed.change.evidence", item) for item in _tasks(start)])
    stages = _stages(tmp_path)
    result = run_action("close", {"ledger": ledger_path, "change_id": CHANGE, "outcome": stages["decision"]["outcome"],
                                  "output_dir": out, "reason": "stage deploy failed: checks failed on r2", "stages": stages, "started": iso_z(start)},
                        basedir=os.path.dirname(out))
    assert not result.get("failed"), result.get("msg")
    return result, evidence.load_bundle(result["evidence"]), result["report"]


def test_the_bundle_holds_the_stage_spans_and_the_rollback_verdict(closed):
    _result, bundle, _report = closed
    sec = bundle["sections"]
    spans = sec["tasks"]["stages"]
    assert [s["stage"] for s in spans] == [p[0] for p in PLAN]  # in the order they ran; verify never did
    deploy = next(s for s in spans if s["stage"] == "deploy")
    assert deploy["tasks"] == 14 * 4 and deploy["failed"] == 1 and 19.0 < deploy["seconds"] < 21.0
    assert sec["rollback"]["verified"] is True
    assert dict((h, d["state_equal"]) for h, d in sec["rollback"]["detail"].items()) == dict((h, True) for h in HOSTS)
    assert sec["devices"]["r1"]["pre"]["glance"] == {"peers": 2, "peers_established": 2, "routes": 12}
    # the only problem: this in-process close ran without the evidence callback (the tasks above stand in for it)
    assert [p for p in bundle["problems"] if "did not record its tasks" not in p] == []


def _chromium(*args):
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + list(args),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _page_height(report, tmp_path):
    """The page's height at WIDTH px: a copy of the report with a probe that writes it into the title, read from the DOM."""
    with open(report, encoding="utf-8") as handle:
        page = handle.read()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>document.title='height='+document.documentElement.scrollHeight</script></body>"),
                     encoding="utf-8")
    dom = _chromium("--window-size=%d,1000" % WIDTH, "--dump-dom", probe.as_uri())
    return int(re.search(r"<title>height=(\d+)</title>", dom).group(1))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (scripts/setup.sh installs it)")
def test_the_report_reads_in_one_minute_in_headless_chromium(closed, tmp_path):
    _result, _bundle, report = closed
    with open(report, encoding="utf-8") as handle:
        page = handle.read()
    assert "<script" not in page and "<link" not in page and not re.search(r'(src|href)="', page)
    dom = _chromium("--window-size=%d,2000" % WIDTH, "--dump-dom", "file://%s" % report)
    # the picture: one bar per stage that ran, at the tasks' real times, the failed stage red, the rollback amber
    svg = re.search(r'<svg[^>]*id="stage-timeline".*?</svg>', dom, re.S).group(0)
    bars = re.findall(r'<rect class="([^"]+)" data-stage="([^"]+)" data-start="([^"]+)" data-end="([^"]+)" x="([0-9.]+)"', svg)
    assert [b[1] for b in bars] == [p[0] for p in PLAN]
    assert dict((b[1], b[0]) for b in bars)["deploy"] == "stage failed" and dict((b[1], b[0]) for b in bars)["rollback"] == "stage recovery"
    xs = [float(b[4]) for b in bars]
    assert xs == sorted(xs) and xs[-1] > xs[0] + 500  # laid out on one time axis, not stacked at the flush time
    # pre/post at a glance: peers up and routes before -> after, per device
    glance = re.search(r'<table class="glance">.*?</table>', dom, re.S).group(0)
    assert "<p id=\"state-same\">r1, r2, r3, r4: no change between pre and post</p>" in dom
    assert glance.count("2/2 up \u2192 2/2 up") == 4 and glance.count("12 \u2192 12") == 4 and "rolled back" in glance
    # the blast radius as fields
    assert "<dt>Devices</dt><dd>4: r1, r2, r3, r4</dd>" in dom and "<dt>Critical devices</dt><dd>r2</dd>" in dom
    assert "<dt>Share of the fleet</dt><dd>50%</dd>" in dom
    # the approver with its groups, and what the gate required
    assert re.search(r"<td>alice</td><td>alice</td><td>netops</td><td>approve</td>", dom)
    # the rollback's verdict filled in: every device restored, config and state equal
    rollback = re.search(r'<table class="rollback">.*?</table>', dom, re.S).group(0)
    assert rollback.count('<td class="pass">equal</td><td class="pass">equal</td>') == 4
    assert "not checked" not in rollback and "verified (config and state equal to the pre-change snapshot)" in dom
    # the task list and the ledger's events collapsed, the failed task's status kept on one line
    tasks = re.search(r'<h2 id="tasks">.*?</details>', dom, re.S).group(0)
    assert "<details><summary>Show the %d tasks" % (sum(p[3] for p in PLAN) * len(HOSTS)) in tasks and " open" not in tasks.split("<summary>")[0]
    assert '<td class="fail">failed</td>' in tasks
    assert re.search(r'<h2 id="timeline">[^<]*<span[^>]*>[^<]*</span></h2><details><summary>', dom)
    # short enough to read: under the bound at 1280 px, measured by Chromium's layout
    height = _page_height(report, tmp_path)
    assert 1500 < height < HEIGHT_BOUND, height
    shot = tmp_path / "report.png"
    _chromium("--window-size=%d,%d" % (WIDTH, height), "--screenshot=%s" % shot, "file://%s" % report)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == WIDTH
    if os.environ.get("GC_REPORT_SHOT"):  # keep the picture for a person to look at
        shutil.copy(str(shot), os.environ["GC_REPORT_SHOT"])


def test_the_status_cells_never_break_a_word():
    assert "td.pass,td.fail,td.undecidable,td.num,.nowrap{white-space:nowrap}" in CSS
    assert "overflow-wrap:anywhere" not in CSS and "word-break:break-word" not in CSS
