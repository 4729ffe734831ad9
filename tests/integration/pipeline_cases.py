# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline lab suite's cases: the whole governed pipeline (playbooks/governed_change.yml) on the lab, through
ansible-playbook and ansible-runner. Not a test module itself: test_pipeline_lab.py collects these tests with a SQLite
ledger (lab instance h3-), test_pipeline_pg_lab.py with a PostgreSQL one (lab instance p2-); the helpers find the
instance's lab and ledger through conftest_pipeline.ACTIVE, which the importing module's pipeline_lab fixture sets.

Approvals are real: an ed25519 key, signed with `governed-change approve` over the change's assessed content hash and
verified by the review gate. Every run leaves a ledger whose hash chain verifies. Timings go to out/<ACTIVE["timings"]>.
"""

from __future__ import annotations

import datetime
import json
import os

import pytest

from conftest_pipeline import ASSESS, CHANGES, PIPELINE, approve, config_sha, extra_vars, good_change, run_playbook, run_runner
from conftest_pipeline import ACTIVE, GOOD_LINE, ledger_at, running_config, undo_good_change
from labfixture import ROOT

from ansible_collections.governed.change.plugins.module_utils import clock, statestore
from ansible_collections.governed.change.plugins.module_utils.approvals import sign_approval
from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger

DRIVERS = ["ansible-playbook", "ansible-runner"]
DEVICES = ("r1", "r2", "r3", "fw1")
FREEZE_IN_DAYS = 30  # lab_policy() places the example's year-end freeze this many days after the clock's now
TIMINGS = {}


def _record(name, **values):
    TIMINGS.setdefault(name, {}).update(values)
    path = os.path.join(ROOT, "out", ACTIVE["timings"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(TIMINGS, handle, indent=2, sort_keys=True)


class Run:
    """One pipeline run: rc, whether it succeeded, the set_stats artifacts, the output and the wall time."""

    def __init__(self, rc, artifacts, output, seconds, status=None):
        self.rc, self.artifacts, self.output, self.seconds, self.status = rc, artifacts, output, seconds, status

    def explain(self):
        return "rc %s status %s artifacts %s\n%s" % (self.rc, self.status, json.dumps(self.artifacts)[:2000], self.output[-4000:])


def pipeline(driver, env, variables, tmp_path, name):
    if driver == "ansible-runner":
        rc, status, artifacts, output, seconds = run_runner(env, PIPELINE, variables, tmp_path, name)
        return Run(rc, artifacts, output, seconds, status)
    rc, artifacts, output, seconds = run_playbook(env, PIPELINE, variables, tmp_path, name)
    return Run(rc, artifacts, output, seconds, "successful" if rc == 0 else "failed")


def assess(env, variables, tmp_path):
    rc, artifacts, output, _seconds = run_playbook(env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    return artifacts


def ledger_of(out, change_id):
    """(change record, events, verify result, locks) of the run's ledger (SQLite, or PostgreSQL in test_pipeline_pg_lab)."""
    with open_ledger(ledger_at(out)) as ledger:
        return ledger.get_change(change_id), ledger.events(change_id=change_id), ledger.verify(), ledger.locks()


def kinds(events):
    return [event["kind"] for event in events]


def states(events):
    return [event["data"]["to"] for event in events if event["kind"] == "change.state"]


def load_ref(ref):
    return statestore.get(ref)


@pytest.mark.parametrize("driver", DRIVERS)
def test_good_change_closes_successful(driver, pipeline_env, signing, tmp_path):  # noqa: F811
    change, out = good_change(tmp_path), tmp_path / "out"
    before = running_config("r1")
    assert GOOD_LINE not in before
    variables = extra_vars(change, out, signing)
    assess(pipeline_env, variables, tmp_path)
    approve(out, "CHG-2001", signing)
    try:
        run = pipeline(driver, pipeline_env, variables, tmp_path, "good")
        after = running_config("r1")
    finally:
        undo_good_change()
    art = run.artifacts
    assert run.rc == 0 and run.status == "successful", run.explain()
    assert art["governed_outcome"] == "successful" and art["governed_stage_failed"] == "", run.explain()
    assert (art["governed_change_id"], art["governed_tier"], art["governed_review"], art["governed_window"]) == \
        ("CHG-2001", "low", "pass", "pass")
    assert art["governed_deployed"] == ["r1"] and art["governed_failed_hosts"] == [] and art["governed_rolled_back"] == []
    # verified where the change reaches (impact scope, learned from the pre snapshots): r1, its neighbor r2, r3 behind r2
    assert sorted(art["governed_backups"]) == ["r1"] and sorted(art["governed_pre_snapshots"]) == ["r1", "r2", "r3"]
    assert art["governed_verification_scope"]["hosts"] == ["r1", "r2", "r3"], art["governed_verification_scope"]
    # the device has the change, and the snapshots show it: the loopback address is new, the BGP session kept
    assert GOOD_LINE in after
    pre, post = load_ref(art["governed_pre_snapshots"]["r1"]), load_ref(art["governed_post_snapshots"]["r1"])
    assert "192.0.2.1/32" not in pre["sections"]["interfaces"]["lo"]["addresses"]
    assert "192.0.2.1/32" in post["sections"]["interfaces"]["lo"]["addresses"]
    assert post["sections"]["peers"]["10.0.12.2"]["state"] == "Established"
    record, events, verified, locks = ledger_of(out, "CHG-2001")
    assert (record["state"], record["close_code"]) == ("closed", "successful")
    assert states(events)[-4:] == ["scheduled", "implement", "review", "closed"]
    assert "lock.acquired" in kinds(events) and "lock.released" in kinds(events) and locks == []
    assert "escalation.sent" not in kinds(events)
    assert verified["ok"], verified["problems"]
    assert os.path.isfile(art["governed_evidence"]) and os.path.isfile(art["governed_report"])
    assert os.path.isfile(art["governed_runbook"])
    assert running_config("r1") == before  # the test's clean-up restored the lab for the next test
    _record("good change (%s)" % driver, end_to_end_s=round(run.seconds, 2))


@pytest.mark.parametrize("driver", DRIVERS)
def test_bad_change_rolls_back_escalates_and_restores_the_pre_state(driver, pipeline_env, signing, webhook, tmp_path):  # noqa: F811
    change, out = os.path.join(CHANGES, "bad_r1_bgp.yml"), tmp_path / "out"
    before, before_sha = running_config("r1"), config_sha("r1")
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    assess(pipeline_env, variables, tmp_path)
    approve(out, "CHG-2002", signing)
    sent_before = len(webhook.received)
    run = pipeline(driver, pipeline_env, variables, tmp_path, "bad")
    art = run.artifacts
    # the run fails (the change did not stay), after the rollback, the close and the escalation
    assert run.rc != 0 and run.status == "failed", run.explain()
    assert (art["governed_outcome"], art["governed_stage_failed"], art["governed_tier"]) == ("unsuccessful", "deploy", "medium"), \
        run.explain()
    # the session r1-r2 is down on both ends and r3 lost r1's routes: all three fail, r1 (the only one changed) rolls back
    assert art["governed_deployed"] == ["r1"] and art["governed_failed_hosts"] == ["r1", "r2", "r3"] and art["governed_rolled_back"] == ["r1"]
    assert art["governed_rollback_verified"] is True
    # state equal to the pre-change snapshot: the running config is byte-identical, the session to r2 is back
    assert config_sha("r1") == before_sha and running_config("r1") == before
    pre, post = load_ref(art["governed_pre_snapshots"]["r1"]), load_ref(art["governed_post_snapshots"]["r1"])
    assert post["sections"]["config"]["running"]["sha256"] == pre["sections"]["config"]["running"]["sha256"]
    assert post["sections"]["peers"]["10.0.12.2"]["state"] == "Established"
    assert sorted(post["sections"]["routes"]) == sorted(pre["sections"]["routes"])
    # the hand-off packet: written, sent to the receiver, with the failed checks, the actions and each device's state
    with open(art["governed_escalation"], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert packet["reason"] == "change_failed" and packet["change_id"] == "CHG-2002"
    assert any("r2_session_established" in line for line in packet["detected"]), packet["detected"]
    assert any("rollback verified" in line for line in packet["actions_taken"]), packet["actions_taken"]
    assert "rolled back" in json.dumps(packet["devices"]["r1"])
    assert os.path.isfile(os.path.splitext(art["governed_escalation"])[0] + ".md")
    received = webhook.received[sent_before:]
    assert len(received) == 1 and "CHG-2002" in json.dumps(received[0]["body"]), received
    record, events, verified, locks = ledger_of(out, "CHG-2002")
    assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
    assert "escalation.sent" in kinds(events) and "lock.released" in kinds(events) and locks == []
    assert verified["ok"], verified["problems"]
    assert art["governed_mttr_s"] is not None and 0 < float(art["governed_mttr_s"]) < 60
    _record("bad change (%s)" % driver, end_to_end_s=round(run.seconds, 2), mttr_s=float(art["governed_mttr_s"]))


def _assert_stopped_before_any_device(run, out, change_id, configs, stage):
    art = run.artifacts
    assert run.rc != 0 and run.status == "failed", run.explain()
    assert (art["governed_outcome"], art["governed_stage_failed"]) == ("canceled", stage), run.explain()
    assert art["governed_deployed"] == [] and art["governed_backups"] == {} and art["governed_pre_snapshots"] == {}
    # no device touched: every running config unchanged, no backup or snapshot taken (no state store at all)
    assert {device: running_config(device) for device in DEVICES} == configs
    assert not (out / "store").exists()
    record, events, verified, locks = ledger_of(out, change_id)
    assert record["state"] == "canceled" and record["close_code"] is None
    assert "implement" not in states(events) and "lock.acquired" not in kinds(events) and locks == []
    assert not [event for event in events if "governed.change.deploy" in json.dumps(event["data"]) and event["kind"] == "task"
                and "skipped" not in json.dumps(event["data"])]
    assert verified["ok"], verified["problems"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_unapproved_change_stops_before_any_device_is_touched(driver, pipeline_env, signing, tmp_path):  # noqa: F811
    change, out = good_change(tmp_path), tmp_path / "out"
    configs = {device: running_config(device) for device in DEVICES}
    run = pipeline(driver, pipeline_env, extra_vars(change, out, signing), tmp_path, "unapproved")
    assert run.artifacts.get("governed_review") == "fail", run.explain()
    _assert_stopped_before_any_device(run, out, "CHG-2001", configs, "review")
    _record("unapproved change (%s)" % driver, end_to_end_s=round(run.seconds, 2))


@pytest.mark.parametrize("driver", DRIVERS)
def test_change_in_a_freeze_stops_before_any_device_is_touched(driver, pipeline_env, signing, tmp_path):  # noqa: F811
    change, out = good_change(tmp_path), tmp_path / "out"
    configs = {device: running_config(device) for device in DEVICES}
    freeze_now = clock.relative(days=FREEZE_IN_DAYS + 1)  # inside the year-end freeze, whatever today is
    variables = extra_vars(change, out, signing, governed_now=clock.iso_z(freeze_now, precision="seconds"))
    art = assess(pipeline_env, variables, tmp_path)
    # approved an hour before "now" (inside the approval's max age), so only the freeze can stop it
    approval = sign_approval("CHG-2001", art["governed_content_hash"], "approve", "alice", str(signing / "alice"),
                             principal="alice@lab", ts=clock.iso_z(freeze_now - datetime.timedelta(hours=1), precision="seconds"))
    with open_ledger(ledger_at(out)) as ledger:
        ledger.record_approval(approval)
    run = pipeline(driver, pipeline_env, variables, tmp_path, "freeze")
    assert (run.artifacts.get("governed_review"), run.artifacts.get("governed_window")) == ("pass", "fail"), run.explain()
    assert "year-end" in run.output, run.explain()
    _assert_stopped_before_any_device(run, out, "CHG-2001", configs, "window")
    _record("freeze (%s)" % driver, end_to_end_s=round(run.seconds, 2))


def test_stage_playbooks_in_sequence_pass_artifacts_like_awx(pipeline_env, signing, webhook, tmp_path):  # noqa: F811
    """The bad change through the stage playbooks one by one (ansible-runner, as AWX job templates), each node's
    set_stats artifacts merged into the next node's extra vars: the same result as the one-run pipeline."""
    change, out = os.path.join(CHANGES, "bad_r1_bgp.yml"), tmp_path / "out"
    before = running_config("r1")
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    nodes = {}

    def node(stage, expect_ok=True, **more):
        rc, status, artifacts, output, seconds = run_runner(pipeline_env, os.path.join(ROOT, "playbooks", "%s.yml" % stage),
                                                            dict(variables, **more), tmp_path, stage)
        assert (rc == 0) == expect_ok, "%s: rc %s %s\n%s" % (stage, rc, status, output[-4000:])
        variables.update(artifacts)  # AWX: a node's artifacts become the extra vars of the nodes after it
        nodes[stage] = {"rc": rc, "seconds": round(seconds, 2), "artifacts": artifacts}
        return artifacts

    assert node("assess")["governed_tier"] == "medium"
    approve(out, "CHG-2002", signing)
    assert node("review")["governed_review"] == "pass"
    assert node("window")["governed_window"] == "pass"
    assert sorted(node("precheck")["governed_backups"]) == ["r1"]
    deployed = node("deploy", expect_ok=False)
    assert (deployed["governed_deployed"], deployed["governed_failed_hosts"], deployed["governed_stage_failed"]) == \
        (["r1"], ["r1", "r2", "r3"], "deploy")
    rolled = node("rollback")
    assert rolled["governed_rolled_back"] == ["r1"] and rolled["governed_rollback_verified"] is True
    assert running_config("r1") == before
    closed = node("close")
    assert closed["governed_outcome"] == "unsuccessful" and os.path.isfile(closed["governed_report"])
    escalated = node("escalate")
    with open(escalated["governed_escalation"], encoding="utf-8") as handle:
        assert json.load(handle)["reason"] == "change_failed"
    record, events, verified, locks = ledger_of(out, "CHG-2002")
    assert (record["state"], record["close_code"]) == ("closed", "unsuccessful") and locks == []
    assert "escalation.sent" in kinds(events) and verified["ok"], verified["problems"]
    _record("stage playbooks in sequence (ansible-runner)", **{stage: item["seconds"] for stage, item in nodes.items()})


def test_expired_approval_cancels_and_escalates_approval_timeout(pipeline_env, signing, webhook, tmp_path):  # noqa: F811
    change, out = good_change(tmp_path), tmp_path / "out"
    configs = {device: running_config(device) for device in DEVICES}
    variables = extra_vars(change, out, signing, governed_webhook_url=webhook.url)
    art = assess(pipeline_env, variables, tmp_path)
    # signed four days ago: older than the low tier's max_age_hours (72), so the approval has timed out
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    approval = sign_approval("CHG-2001", art["governed_content_hash"], "approve", "alice", str(signing / "alice"),
                             principal="alice@lab", ts=stale)
    with open_ledger(ledger_at(out)) as ledger:
        ledger.record_approval(approval)
    sent_before = len(webhook.received)
    run = pipeline("ansible-playbook", pipeline_env, variables, tmp_path, "expired")
    assert run.artifacts.get("governed_review") == "fail" and "expired" in run.output, run.explain()
    _assert_stopped_before_any_device(run, out, "CHG-2001", configs, "review")
    with open(run.artifacts["governed_escalation"], encoding="utf-8") as handle:
        assert json.load(handle)["reason"] == "approval_timeout"
    assert len(webhook.received) == sent_before + 1
