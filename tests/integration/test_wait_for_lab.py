# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait-for-dependency on the lab (own instance w1-, ports 305xx): each source turns ready while the stage waits, and a
wait that times out cancels the change through the pipeline and escalates it (dependency_not_ready), nothing deployed."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest_pipeline import approve, extra_vars, good_change, run_playbook
from labfixture import ROOT, lab_session, lab_ssh_argv, run_env, signing_keys
from ledger_states import ledger_with_changes

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "w1-", "GC_LAB_PORT_BASE": "30500", "GC_LAB_RUN": "/tmp/gc-w1"}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13}  # the routers' host shells (lab.py PORTS)
WAIT = os.path.join(ROOT, "playbooks", "wait_for_dependency.yml")
PIPELINE = os.path.join(ROOT, "playbooks", "governed_change.yml")
WAITING, DEPENDENCY = "CHG-W1-RT", "CHG-W1-FW"
SECRET = "w1-shared-secret-7f3a9c"
TIMINGS = {}


@pytest.fixture(scope="module")
def wait_lab():
    """This module's own lab instance, torn down on every exit path."""
    yield from lab_session(env=dict(os.environ, **LAB_ENV))
    path = os.path.join(ROOT, "out", "wait_for_timings.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(TIMINGS, handle, indent=2, sort_keys=True)


@pytest.fixture(scope="module")
def lab_env(wait_lab):  # pylint: disable=unused-argument,redefined-outer-name
    return run_env(LAB_ENV)


def vtysh(device, *lines):
    """Configure a lab router directly (test set-up only)."""
    args = " ".join("-c %s" % json.dumps(line) for line in ("configure terminal",) + lines)
    subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + ['vtysh --vty_socket "$FRR_VTY_DIR" %s' % args],
                   capture_output=True, text=True, timeout=60, check=True)


def later(seconds, action):
    """Run ``action`` in a thread after ``seconds`` (something turns ready while the stage waits)."""
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def waiting_out(tmp_path):
    """An output directory with a ledger holding the waiting change and the dependency, both scheduled."""
    out = tmp_path / "out"
    out.mkdir()
    ledger_with_changes(str(out / "ledger.sqlite"), ((WAITING, "carol", "scheduled"), (DEPENDENCY, "dave", "scheduled")))
    return out


def wait_stage(env, tmp_path, name, out, **variables):
    """The stage playbook (an AWX job template) for the waiting change; (rc, governed_wait artifact, output, seconds)."""
    data = {"governed_output_dir": str(out), "governed_ledger": str(out / "ledger.sqlite"), "governed_change_id": WAITING,
            "governed_wait_interval": 0.3, "governed_wait_max_interval": 1, "governed_wait_timeout": 30}
    data.update(variables)
    rc, stats, output, seconds = run_playbook(env, WAIT, data, tmp_path, name)
    TIMINGS[name] = round(seconds, 2)
    return rc, stats.get("governed_wait") or {}, output, seconds


def wait_events(out, change_id=WAITING):
    with SqliteLedger(str(out / "ledger.sqlite"), readonly=True) as ledger:
        return [event["data"] for event in ledger.events(change_id) if event["kind"] == "wait.dependency"]


class Status(http.server.BaseHTTPRequestHandler):
    """An API that answers {"status": "starting"} until its ``ready_after``-th GET, then {"status": "ready"}."""

    def do_GET(self):  # noqa: N802 - the http.server API names it so
        self.server.gets += 1
        ready = self.server.ready_after and self.server.gets >= self.server.ready_after
        body = json.dumps({"status": "ready" if ready else "starting", "gets": self.server.gets}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return


@pytest.fixture()
def api():
    server = http.server.HTTPServer(("127.0.0.1", 0), Status)
    server.gets, server.ready_after = 0, 0
    server.url = "http://127.0.0.1:%d/status?token=abc" % server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_http_source_proceeds_when_the_api_turns_ready(lab_env, api, tmp_path):  # pylint: disable=redefined-outer-name
    api.ready_after = 4
    out = waiting_out(tmp_path)
    condition = {"url": api.url, "query": "status", "expected": "ready"}
    rc, summary, output, _seconds = wait_stage(lab_env, tmp_path, "http", out, governed_wait_source="http",
                                               governed_wait_condition=condition)
    assert rc == 0, output[-3000:]
    assert (summary["decision"], summary["attempts"]) == ("met", 4) and api.gets == 4, summary
    (event,) = wait_events(out)
    assert (event["source"], event["decision"], event["attempts"]) == ("http", "met", 4)
    assert [poll["state"] for poll in event["polls"]] == ["not_met", "not_met", "not_met", "met"]
    assert event["condition"]["url"].endswith("/status") and "token" not in json.dumps(event)
    # backoff: 0.3 s, then 0.6 s, then capped at 1 s
    gaps = [round(b["at_s"] - a["at_s"], 1) for a, b in zip(event["polls"], event["polls"][1:])]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6 and gaps[2] >= 1.0 and gaps[2] < 2.0, gaps


def test_ledger_source_proceeds_when_the_firewall_change_closes(lab_env, tmp_path):  # pylint: disable=redefined-outer-name
    out = waiting_out(tmp_path)

    def close_firewall_change():
        with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
            for state in ("implement", "review"):
                ledger.transition(DEPENDENCY, state, "dave")
            ledger.transition(DEPENDENCY, "closed", "dave", close_code="successful")
    closer = later(6, close_firewall_change)  # ansible-playbook reaches the wait in 2-4 s: the stage polls before and after
    rc, summary, output, _seconds = wait_stage(lab_env, tmp_path, "ledger", out, governed_wait_source="ledger",
                                               governed_wait_change_id=DEPENDENCY)
    closer.join()
    assert rc == 0, output[-3000:]
    (event,) = wait_events(out)
    assert event["decision"] == "met" and event["attempts"] >= 2, event
    assert event["polls"][0]["detail"] == "change %s is scheduled" % DEPENDENCY
    assert event["polls"][-1]["detail"] == "change %s is closed successful" % DEPENDENCY
    assert event["condition"] == {"change_id": DEPENDENCY, "close_codes": ["successful"]} and summary["decision"] == "met"


def test_device_source_proceeds_when_the_bgp_session_comes_up(lab_env, tmp_path):  # pylint: disable=redefined-outer-name
    out = waiting_out(tmp_path)
    vtysh("r1", "router bgp 65001", "neighbor 10.0.12.2 shutdown")
    try:
        opener = later(6, lambda: vtysh("r1", "router bgp 65001", "no neighbor 10.0.12.2 shutdown"))
        condition = {"host": "r1", "bgp_peer": "10.0.12.2", "route": "10.255.0.2/32"}
        rc, _summary, output, _seconds = wait_stage(lab_env, tmp_path, "device", out, governed_wait_source="device",
                                                    governed_wait_condition=condition)
        opener.join()
    finally:
        vtysh("r1", "router bgp 65001", "no neighbor 10.0.12.2 shutdown")
    assert rc == 0, output[-3000:]
    (event,) = wait_events(out)
    assert event["decision"] == "met" and event["attempts"] >= 2, event
    first, last = event["polls"][0], event["polls"][-1]
    assert first["state"] == "not_met" and "BGP session to 10.0.12.2" in first["detail"], first
    assert "route 10.255.0.2/32 absent" in first["detail"], first
    assert last["observed"] == {"route": True, "bgp_state": "Established"}, last


def post(port, secret, body):
    request = urllib.request.Request("http://127.0.0.1:%d/firewall" % port, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Governed-Secret": secret})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def sender(port, answers):
    """Once the stage's listener is up: a POST with a wrong secret, one not satisfying the query, then the right one."""
    for _attempt in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    answers.append(post(port, "wrong-secret", {"state": "done"}))
    answers.append(post(port, SECRET, {"state": "pending"}))
    time.sleep(1)
    answers.append(post(port, SECRET, {"state": "done"}))


def test_webhook_source_proceeds_on_the_authenticated_post(lab_env, tmp_path):  # pylint: disable=redefined-outer-name
    out = waiting_out(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answers = []
    thread = later(0, lambda: sender(port, answers))
    env = dict(lab_env, GOVERNED_WAIT_SECRET=SECRET)
    condition = {"port": port, "path": "/firewall", "query": "state", "expected": "done"}
    rc, summary, output, _seconds = wait_stage(env, tmp_path, "webhook", out, governed_wait_source="webhook",
                                               governed_wait_condition=condition)
    thread.join(timeout=30)
    assert rc == 0, output[-3000:]
    assert answers == [403, 202, 202] and summary["decision"] == "met", (answers, summary)
    (event,) = wait_events(out)
    assert event["condition"]["listen"] == "127.0.0.1:%d" % port
    assert any("wrong or missing secret x1" in poll["detail"] for poll in event["polls"]), event["polls"]
    # the secret is nowhere: not in the output, the ledger, the evidence or any other file the run wrote
    assert SECRET not in output
    for folder, _dirs, files in os.walk(str(out)):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                assert SECRET.encode() not in handle.read(), os.path.join(folder, name)


def test_timeout_cancels_the_change_and_escalates_nothing_deployed(lab_env, api, tmp_path):  # pylint: disable=redefined-outer-name
    (tmp_path / "keys").mkdir()
    signing = signing_keys(tmp_path / "keys")
    change, out = good_change(tmp_path), tmp_path / "out"
    before = running_config_r1()
    wait_for = {"source": "http", "condition": {"url": api.url, "query": "status", "expected": "ready"},
                "timeout": 2, "interval": 0.5, "max_interval": 1}
    variables = extra_vars(change, out, signing, governed_wait_for=wait_for)
    rc, _stats, output, _seconds = run_playbook(lab_env, os.path.join(ROOT, "playbooks", "assess.yml"), variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    approve(out, "CHG-2001", signing)
    rc, stats, output, seconds = run_playbook(lab_env, PIPELINE, variables, tmp_path, "pipeline")
    TIMINGS["pipeline timeout"] = round(seconds, 2)
    assert rc != 0, output[-3000:]
    assert stats["governed_outcome"] == "canceled" and stats["governed_stage_failed"] == "wait_for_dependency", stats
    assert stats["governed_deployed"] == [] and running_config_r1() == before
    with open(stats["governed_escalation"], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert packet["reason"] == "dependency_not_ready", packet["reason"]
    assert any("not ready within 2" in item for item in packet["detected"]), packet["detected"]
    with SqliteLedger(str(out / "ledger.sqlite"), readonly=True) as ledger:
        record, events, locks = ledger.get_change("CHG-2001"), ledger.events("CHG-2001"), ledger.locks()
    assert record["state"] == "canceled" and locks == []
    kinds = [event["kind"] for event in events]
    assert "lock.acquired" not in kinds and "escalation.sent" in kinds, kinds  # no device was locked, the hand-off recorded
    (waited,) = [event["data"] for event in events if event["kind"] == "wait.dependency"]
    assert (waited["decision"], waited["source"]) == ("timeout", "http") and waited["attempts"] >= 3
    assert 2 <= waited["elapsed_s"] < 4, waited


def running_config_r1():
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS["r1"]) +
                          ['vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"'],
                          capture_output=True, text=True, timeout=60, check=True)
    return "\n".join(line for line in proc.stdout.splitlines() if not line.startswith(("Building", "Current configuration")))
