# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The authorization audit: a change carried through the ledger the way the pipeline records it (real assessment, real
ed25519 approvals, the review and window gates through lifecycle, the deploy's stage start, the close) audits clean;
each planted deviation is found with its ledger seq and nothing else; a tampered ledger is refused with its seq."""

from __future__ import annotations

import datetime
import io
import os
import shutil
import sqlite3

import pytest
import yaml

from ansible_collections.governed.change.plugins.module_utils import approvals as ap
from ansible_collections.governed.change.plugins.module_utils import audit, cli, lifecycle, records, windows
from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.clock import ENV, iso_z
from ansible_collections.governed.change.plugins.module_utils.ledger import LedgerTampered, SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

from assess_support import FRR_R2, INVENTORY, example, raw_policy
from signing_keys import make_signing_keys

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen")

# The injected instant every time is built from: a Saturday 01:30 UTC, 02:30 in London (summer time), inside the
# policy's lon-weekend window (Sat/Sun 01:00-05:00 Europe/London), far from the year-end freeze.
BASE = datetime.datetime(2031, 6, 7, 1, 30, tzinfo=datetime.timezone.utc)
KEYS = {"alice": "alice@lab", "bob": "bob@lab", "carol": "carol@lab", "dave": "dave@lab"}
REF = {"path": "store/aa/aaaa.json", "sha256": "a" * 64, "kind": "backup"}


def at(monkeypatch, minutes):
    """Move the project clock (every ledger write) to BASE + minutes."""
    monkeypatch.setenv(ENV, iso_z(BASE + datetime.timedelta(minutes=minutes)))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    make_signing_keys(base, KEYS)
    doc = raw_policy()
    doc["allowed_signers"] = str(base / "allowed_signers")
    (base / "policy.yml").write_text(yaml.safe_dump(doc))
    return {"dir": base, "policy_file": str(base / "policy.yml"), **{name: str(base / name) for name in KEYS}}


@pytest.fixture(scope="module")
def policy(keys):
    return load_policy(keys["policy_file"])


@pytest.fixture(scope="module")
def approved(policy):
    """The real assessment of the high-tier BGP change on r2 (approval, review, freeze, window, precheck, deploy, verify)."""
    return assess(example("changes/bgp_core_r2.yml"), policy, INVENTORY, {"r2": {"running": FRR_R2}}, now=BASE)


LINES = example("changes/bgp_core_r2.yml")["config"]["r2"]["lines"]


class Pipeline:
    """One change through the ledger, step by step, as the stages record it; each step can be skipped or altered."""

    def __init__(self, tmp_path, monkeypatch, keys, policy, assessment):
        self.path, self.mp, self.keys, self.policy, self.assessment = str(tmp_path / "ledger.sqlite"), monkeypatch, keys, policy, assessment
        self.out = str(tmp_path / "out")
        self.cid = assessment["change_id"]

    def assess(self, minutes=0, assessment=None):
        at(self.mp, minutes)
        records.record_assessment(self.path, assessment or self.assessment)

    def approve(self, who, minutes=5, content_hash=None):
        at(self.mp, minutes)
        approval = ap.sign_approval(self.cid, content_hash or self.assessment["content_hash"], "approve", who, self.keys[who],
                                    principal=KEYS[who], ts=ap.now_z(BASE + datetime.timedelta(minutes=minutes)))
        with SqliteLedger(self.path) as ledger:
            return ledger.record_approval(approval, actor=who)["seq"]

    def review(self, minutes=10, launcher="bob"):
        at(self.mp, minutes)
        now = BASE + datetime.timedelta(minutes=minutes)
        signers = ap.allowed_signers_path(self.policy)
        verdict, _recorded = lifecycle.evaluate_and_record(self.path, self.cid, "review", lambda ledger, record: lifecycle.review_verdict(
            self.policy, self.assessment, record, ledger.approvals(self.cid), None, [launcher], now=now, allowed_signers=signers,
            ledger_path=self.path))
        assert verdict["decision"] == "pass", verdict["reasons"]

    def window(self, minutes=15):
        at(self.mp, minutes)
        now = BASE + datetime.timedelta(minutes=minutes)
        verdict, _recorded = lifecycle.evaluate_and_record(self.path, self.cid, "window", lambda ledger, record: (
            windows.window_gate(self.policy, self.assessment, self.assessment["facts"]["targets"], now=now), {}))
        assert verdict["decision"] == "pass", verdict["reasons"]

    def deploy(self, minutes=20, hosts=("r2",), lines=None):
        at(self.mp, minutes)
        hosts = list(hosts)
        refs = {"backups": {h: REF for h in hosts}, "pre_snapshots": {h: dict(REF, kind="snapshot") for h in hosts}}
        event = records.record_stage_start(self.path, self.cid, "deploy", hosts, refs,
                                           candidates={h: list(lines or LINES) for h in hosts}, run={"pid": 1})
        lifecycle.acquire_locks(self.path, self.cid, hosts, "governed.change", 600, transition="implement")
        self.deployed = hosts
        return event["seq"]

    def close(self, minutes=40):
        at(self.mp, minutes)
        stages = {"hosts": {h: {"check": {"passed": True, "results": []}, "post": dict(REF, kind="snapshot")} for h in self.deployed},
                  "deployed": self.deployed}
        lifecycle.release_locks(self.path, self.cid)
        request = {"output_dir": self.out, "actor": "governed.change", "stages": stages}
        lifecycle.close_change(self.path, self.cid, "successful", request)

    def run(self, skip=()):
        self.assess()
        self.approve("alice")
        self.approve("dave", minutes=6)
        self.review()
        if "window" not in skip:
            self.window()
        seq = self.deploy()
        self.close()
        return seq

    def audit(self, minutes=60 * 24):
        return audit.run_audit(self.path, self.keys["policy_file"], now=BASE + datetime.timedelta(minutes=minutes))


@pytest.fixture
def pipeline(tmp_path, monkeypatch, keys, policy, approved):
    return Pipeline(tmp_path, monkeypatch, keys, policy, approved)


def found(report):
    return sorted((d["kind"], d["seq"]) for d in report["deviations"])


def test_a_change_recorded_by_the_pipeline_audits_clean(pipeline):
    pipeline.run()
    report = pipeline.audit()
    assert report["deviations"] == [] and report["ok"] is True
    assert report["changes"] == 1 and report["changes_audited"] == [pipeline.cid]
    with SqliteLedger(pipeline.path, readonly=True) as ledger:
        kinds = [event["kind"] for event in ledger.events()]
    # the audit saw every step it judges (not a vacuous pass)
    for kind in ("verdict.assess", "approval.approve", "verdict.review", "verdict.window", "stage.started", "lock.acquired",
                 "stage.results", "change.outcome"):
        assert kind in kinds


def test_a_device_outside_the_approved_targets(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    pipeline.review()
    pipeline.window()
    seq = pipeline.deploy(hosts=("r2", "r1"))
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("device_not_approved", seq)]
    assert report["deviations"][0]["hosts"] == ["r1"] and "r1" in report["deviations"][0]["detail"]


def test_lines_that_were_not_approved(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    pipeline.review()
    pipeline.window()
    seq = pipeline.deploy(lines=LINES + ["ip route 0.0.0.0/0 blackhole"])
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("lines_not_approved", seq)]
    assert report["deviations"][0]["lines"] == ["ip route 0.0.0.0/0 blackhole"]


def test_content_changed_after_the_approval(pipeline, approved, policy):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    pipeline.review()
    request = example("changes/bgp_core_r2.yml")
    request["config"]["r2"]["lines"] = LINES + ["ip prefix-list PL-LOOPBACKS seq 10 permit 10.254.0.0/24 ge 32"]
    changed = assess(request, policy, INVENTORY, {"r2": {"running": FRR_R2}}, now=BASE)
    assert changed["content_hash"] != approved["content_hash"]
    pipeline.assess(minutes=12, assessment=changed)
    with SqliteLedger(pipeline.path) as ledger:  # someone schedules the re-assessed change by hand, without a new review
        ledger.transition(pipeline.cid, "scheduled", "bob", reason="rescheduled by hand")
    pipeline.window()
    seq = pipeline.deploy(lines=request["config"]["r2"]["lines"])
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("content_not_approved", seq)]
    assert report["deviations"][0]["content_hash"] == changed["content_hash"]


def test_an_approver_the_policy_does_not_allow(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    own = pipeline.approve("carol", minutes=7)  # the author approving her own change (the CLI refuses it; the ledger API not)
    pipeline.review()
    pipeline.window()
    pipeline.deploy()
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("approver_not_allowed", own)]
    assert "segregation of duties" in report["deviations"][0]["detail"]


def test_a_deploy_without_the_approvals_the_tier_requires(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    at(pipeline.mp, 10)
    with SqliteLedger(pipeline.path) as ledger:  # a review verdict written by hand: one approval, no cab member
        ledger.record_verdict(pipeline.cid, "review", {"gate": "review", "decision": "pass", "content_hash":
                                                       pipeline.assessment["content_hash"], "launchers": ["bob"]}, actor="bob")
        ledger.transition(pipeline.cid, "scheduled", "bob", reason="review gate passed")
    pipeline.window()
    seq = pipeline.deploy()
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("approval_quorum_not_met", seq)]
    assert "cab" in report["deviations"][0]["detail"]


def test_a_required_gate_that_did_not_run(pipeline):
    seq = pipeline.run(skip=("window",))
    report = pipeline.audit()
    assert found(report) == [("gate_missing", seq), ("gate_missing", seq)]
    assert sorted(d["gate"] for d in report["deviations"]) == ["freeze", "window"]


def test_a_deploy_after_the_window_closed(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    pipeline.review()
    pipeline.window()
    seq = pipeline.deploy(minutes=4 * 60)  # 05:30 UTC = 06:30 in London: lon-weekend closed at 05:00 local
    pipeline.close(minutes=4 * 60 + 20)
    report = pipeline.audit()
    assert found(report) == [("deploy_outside_window", seq)]
    assert report["deviations"][0]["windows"] == ["lon-weekend"]


def test_an_action_by_an_identity_not_in_the_policy(pipeline):
    pipeline.assess()
    pipeline.approve("alice")
    pipeline.approve("dave", minutes=6)
    pipeline.review()
    pipeline.window()
    pipeline.deploy()
    with SqliteLedger(pipeline.path) as ledger:
        broken = ledger.break_lock("r2", "eve", "the run looked stuck")
        seq = ledger.events()[-1]["seq"]
    assert broken["device"] == "r2"
    pipeline.close()
    report = pipeline.audit()
    assert found(report) == [("unknown_identity", seq)]
    assert report["deviations"][0]["identity"] == "eve"


def test_every_kind_has_a_planted_case():
    planted = {"device_not_approved", "lines_not_approved", "content_not_approved", "approver_not_allowed",
               "approval_quorum_not_met", "gate_missing", "deploy_outside_window", "unknown_identity"}
    assert planted == set(audit.KINDS)


def test_a_tampered_ledger_is_refused_with_its_seq(pipeline):
    pipeline.run()
    with SqliteLedger(pipeline.path, readonly=True) as ledger:
        target = next(e["seq"] for e in ledger.events() if e["kind"] == "stage.started")
    conn = sqlite3.connect(pipeline.path)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("UPDATE events SET data = replace(data, '\"r2\"', '\"r9\"') WHERE seq = ?", (target,))
    conn.commit()
    conn.close()
    with pytest.raises(LedgerTampered) as caught:
        pipeline.audit()
    assert caught.value.seq == target
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["audit", "--ledger", pipeline.path, "--policy", pipeline.keys["policy_file"]], out=out, err=err)
    assert code == 3 and "refused" in err.getvalue() and "at seq %d" % target in err.getvalue()


def test_cli_exit_codes_and_table(pipeline, monkeypatch):
    seq = pipeline.run(skip=("window",))
    at(monkeypatch, 60 * 24)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["audit", "--ledger", pipeline.path, "--policy", pipeline.keys["policy_file"]], out=out, err=err)
    assert code == 1, err.getvalue()
    assert "%6d  %-14s %-24s" % (seq, pipeline.cid, "gate_missing") in out.getvalue()
    assert "DEVIATIONS: 1 change(s) audited, 2 deviation(s) (gate_missing 2)" in out.getvalue()
    # a period holding none of the change's events audits nothing: clean
    out = io.StringIO()
    code = cli.main(["audit", "--ledger", pipeline.path, "--policy", pipeline.keys["policy_file"], "--format", "json",
                     "--since", iso_z(BASE + datetime.timedelta(days=2)), "--until", iso_z(BASE + datetime.timedelta(days=3))],
                    out=out, err=err)
    assert code == 0 and '"changes": 0' in out.getvalue()


@pytest.mark.parametrize("argv, where", [
    (["--since", "yesterday"], "--since"),
    (["--since", "2031-06-07T00:00:00"], "--since"),
    (["--since", "2031-06-08T00:00:00Z", "--until", "2031-06-07T00:00:00Z"], "--until"),
    (["--policy", ""], "--policy"),
    (["--ledger", "/nonexistent/ledger.sqlite"], "ledger"),
])
def test_cli_bad_input_exits_2_naming_the_field(pipeline, argv, where):
    pipeline.assess()
    base = ["audit", "--ledger", pipeline.path, "--policy", pipeline.keys["policy_file"]]
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(base + argv, out=out, err=err)
    assert code == 2 and where in err.getvalue() and "Fix:" in err.getvalue() and "Traceback" not in err.getvalue()
    assert os.path.exists(pipeline.path)
