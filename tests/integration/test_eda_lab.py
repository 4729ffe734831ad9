# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 18, part 1 on the lab: governed event-driven remediation with the real ansible-rulebook (Drools, Java 17).

Own lab instance (e1-, ports 304xx, /tmp/gc-e1). ansible-rulebook runs extensions/eda/rulebooks/governed_remediation.yml
with the governed.change.device_state source polling r1 and r2; the policy carries a remediations catalogue.

* r1's anchor route for 198.51.100.0/24 (announced by a network statement) is removed: the source reports prefix_lost,
  the catalogue's restore_anchor_route runs as a standard change through the pipeline (assessed low, deployed, verified,
  closed successful), the route is back on r1 and in its BGP table. The time from fault to verified recovery is printed.
* The same fault again within the rate limit's window: escalated (rate_limited), nothing deployed (r1's config unchanged).
* r2 shuts its neighbor r3: the source reports peer_down (admin_shutdown); clear_neighbor_shutdown covers it but the
  generated change on r2 (core, high criticality, BGP) assesses high, above the entry's max_tier low: escalated
  (above_risk) with the catalogue's runbook, r2's config unchanged, no deploy event in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from labfixture import ROOT, lab_policy, lab_session, lab_ssh_argv, run_env

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "e1-", "GC_LAB_PORT_BASE": "30400", "GC_LAB_RUN": "/tmp/gc-e1"}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12}
RULEBOOK = os.path.join(ROOT, "extensions", "eda", "rulebooks", "governed_remediation.yml")
ANCHOR = "198.51.100.0/24"
ANCHOR_LINE = "ip route %s blackhole" % ANCHOR
R2_PEER = "10.0.23.3"
CATALOGUE = [
    {"name": "restore_anchor_route", "description": "Put back the discard route anchoring an announced aggregate.",
     "condition": "prefix_lost", "devices": ["r1", "r3"], "prefixes": ["198.51.100.0/22"], "lines": ["ip route {prefix} blackhole"],
     "author": "carol", "rate_limit": {"max": 1, "window_minutes": 60}, "max_tier": "low",
     "runbook": "https://runbooks.example.invalid/netops/anchor-route"},
    {"name": "clear_neighbor_shutdown", "description": "Bring back a BGP neighbor shut by hand.", "condition": "peer_down",
     "match": {"cause": "admin_shutdown"}, "devices": ["routers"], "lines": ["router bgp {local_as}", " no neighbor {peer} shutdown"],
     "author": "carol", "rate_limit": {"max": 2, "window_minutes": 60}, "max_tier": "low",
     "runbook": "https://runbooks.example.invalid/netops/bgp-peer-down"},
]


def shell(device, command):
    """One command in the device's host shell; one retry when the SSH session hangs (seen once on a loaded machine)."""
    argv = lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], HOST_PORTS[device]) + [command]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    except subprocess.TimeoutExpired:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout


def vtysh(device, *commands):
    return shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" %s' % " ".join("-c %s" % json.dumps(c) for c in commands))


def configure(device, *lines):
    vtysh(device, "configure terminal", *lines)


def running_config(device):
    return [line for line in vtysh(device, "show running-config").splitlines()
            if not line.startswith(("Building configuration", "Current configuration"))]


def config_sha(device):
    return hashlib.sha256("\n".join(running_config(device)).encode()).hexdigest()


def bgp_prefixes(device):
    """The prefixes of the device's BGP table with a best path (a network statement without its route stays, invalid)."""
    routes = json.loads(vtysh(device, "show bgp ipv4 unicast json")).get("routes") or {}
    return {prefix for prefix, paths in routes.items() if any(path.get("bestpath") for path in paths)}


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Eda:
    """The running ansible-rulebook and the paths of its run."""

    def __init__(self, out):
        self.out = out
        self.ledger = str(out / "ledger.sqlite")
        self.log = out / "rulebook.log"
        self.proc = None

    def decisions(self):
        """remediation.decided events (data), oldest first; [] before the ledger exists."""
        if not os.path.isfile(self.ledger):
            return []
        with SqliteLedger(self.ledger, readonly=True) as ledger:
            return [dict(item["data"], change_id=item["change_id"]) for item in ledger.events() if item["kind"] == "remediation.decided"]

    def events(self, change_id):
        with SqliteLedger(self.ledger, readonly=True) as ledger:
            return ledger.events(change_id), ledger.get_change(change_id)

    def escalated(self, change_id):
        """(events, change) once the change's escalation was sent, else None."""
        events, change = self.events(change_id)
        return (events, change) if "escalation.sent" in [item["kind"] for item in events] else None

    def final(self, kind, device, count=1):
        """The count-th final decision (risk phase, or an escalation) on a kind of event on a device, once made."""
        found = [d for d in self.decisions() if d["event"]["kind"] == kind and d["device"] == device
                 and (d["phase"] == "risk" or d["decision"] == "escalate")]
        return found[count - 1] if len(found) >= count else None


@pytest.fixture(scope="module")
def eda(tmp_path_factory):
    """This module's lab, r1's announced anchor route, the catalogue policy, and ansible-rulebook running against them."""
    out = tmp_path_factory.mktemp("eda")
    session = lab_session(env=dict(os.environ, **LAB_ENV))
    next(session, None)
    state = Eda(out)
    try:
        configure("r1", ANCHOR_LINE, "router bgp 65001", "address-family ipv4 unicast", "network %s" % ANCHOR)
        wait_for(lambda: ANCHOR in bgp_prefixes("r2"), 30, "r2 to learn the anchor prefix")
        policy = yaml.safe_load(lab_policy(out / "policy.yml").read_text())
        policy["remediations"] = CATALOGUE
        (out / "policy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
        run = LAB_ENV["GC_LAB_RUN"]
        devices = [{"name": name, "port": port, "key_file": os.path.join(run, "id_ed25519"),
                    "known_hosts": os.path.join(run, "known_hosts")} for name, port in sorted(HOST_PORTS.items())]
        (out / "vars.yml").write_text(yaml.safe_dump({
            "governed_policy": str(out / "policy.yml"), "governed_output_dir": str(out), "governed_ledger": state.ledger,
            "governed_eda_devices": devices, "governed_eda_interval": 2}))
        env = run_env(LAB_ENV)
        env["PYTHONPATH"] = os.path.join(ROOT, ".collections") + os.pathsep + env.get("PYTHONPATH", "")
        with open(state.log, "w", encoding="utf-8") as log:
            state.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [os.path.join(ROOT, ".venv", "bin", "ansible-rulebook"), "-r", RULEBOOK, "-i", os.path.join(ROOT, "lab", "inventory", "hosts.yml"),
                 "--vars", str(out / "vars.yml"), "-v"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: state.log.read_text().count("baseline of") >= 2 or state.proc.poll() is not None, 90, "the source's baselines")
        assert state.proc.poll() is None, state.log.read_text()[-3000:]
        yield state
    finally:
        if state.proc is not None and state.proc.poll() is None:
            os.killpg(state.proc.pid, signal.SIGTERM)
            try:
                state.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(state.proc.pid, signal.SIGKILL)
                state.proc.wait(timeout=15)
        session.close()  # lab down


def test_prefix_lost_is_remediated_as_a_governed_standard_change(eda):  # pylint: disable=redefined-outer-name
    configure("r1", "no " + ANCHOR_LINE)
    fault = time.monotonic()
    decision = wait_for(lambda: eda.final("prefix_lost", "r1"), 150, "the remediation decision (see %s)" % eda.log)
    assert decision["decision"] == "remediate", decision
    assert decision["remediation"] == "restore_anchor_route" and decision["tier"] == "low" and decision["change_class"] == "standard"
    change_id = decision["change_id"]
    change = wait_for(lambda: eda.events(change_id)[1]["state"] in ("closed", "canceled") and eda.events(change_id)[1], 150,
                      "the standard change to close")
    recovered = time.monotonic() - fault
    assert change["state"] == "closed" and change["close_code"] == "successful", change
    assert ANCHOR_LINE in running_config("r1")
    assert ANCHOR in bgp_prefixes("r1") and ANCHOR in bgp_prefixes("r2")
    events, _change = eda.events(change_id)
    kinds = [item["kind"] for item in events]
    verdicts = {item["data"].get("gate"): item["data"] for item in events if item["kind"] == "gate.verdict"}
    assert kinds[0] == "change.created" and kinds.count("remediation.decided") == 2, kinds
    assert {"stage.started", "stage.results", "lock.acquired", "change.outcome", "evidence.built"} <= set(kinds), kinds
    states = [item["data"].get("to") for item in events if item["kind"] == "change.state"]
    assert states[-4:] == ["scheduled", "implement", "review", "closed"], states
    assessed = [item["data"].get("verdict") or {} for item in events if item["kind"] == "verdict.assess"]
    assert assessed and assessed[-1].get("change_class") == "standard" and assessed[-1].get("tier") == "low", (kinds, verdicts)
    print("\nEDA: fault -> verified recovery of %s on r1 in %.1f s (change %s)" % (ANCHOR, recovered, change_id))


def test_repeat_within_the_rate_limit_is_escalated_with_nothing_deployed(eda):  # pylint: disable=redefined-outer-name
    configure("r1", "no " + ANCHOR_LINE)
    try:
        before = config_sha("r1")
        decision = wait_for(lambda: eda.final("prefix_lost", "r1", count=2), 120, "the second decision")
        assert decision["decision"] == "escalate" and decision["reason_code"] == "rate_limited", decision
        assert decision["rate"] == {"used": 1, "max": 1, "window_minutes": 60}
        events, change = wait_for(lambda: eda.escalated(decision["change_id"]), 60, "the escalation")
        assert change["state"] == "canceled"
        packet = [e["data"] for e in events if e["kind"] == "escalation.sent"][0]
        assert "anchor-route" in json.dumps(packet), packet
        assert not [e for e in events if e["kind"].startswith(("deploy", "stage."))], [e["kind"] for e in events]
        assert config_sha("r1") == before and ANCHOR_LINE not in running_config("r1")
    finally:
        configure("r1", ANCHOR_LINE)


def test_high_risk_remediation_is_escalated_with_nothing_deployed(eda):  # pylint: disable=redefined-outer-name
    configure("r2", "router bgp 65002", "neighbor %s shutdown" % R2_PEER)
    try:
        before = config_sha("r2")
        decision = wait_for(lambda: eda.final("peer_down", "r2"), 150, "the peer_down decision")
        assert decision["decision"] == "escalate" and decision["reason_code"] == "above_risk", decision
        assert decision["remediation"] == "clear_neighbor_shutdown" and decision["tier"] == "high"
        events, change = wait_for(lambda: eda.escalated(decision["change_id"]), 60, "the escalation")
        assert change["state"] == "canceled"
        packet = [e["data"] for e in events if e["kind"] == "escalation.sent"][0]
        assert "bgp-peer-down" in json.dumps(packet), packet
        assert not [e for e in events if e["kind"].startswith(("deploy", "stage."))], [e["kind"] for e in events]
        assert config_sha("r2") == before and " neighbor %s shutdown" % R2_PEER in running_config("r2")
    finally:
        configure("r2", "router bgp 65002", "no neighbor %s shutdown" % R2_PEER)
