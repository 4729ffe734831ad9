"""module_utils/run_decisions.py: every decision of a run from plain stage results, no lab (issue 13, step 1).

One test per scenario of the issue's matrix: good, bad check, unreachable, rollback failed, canceled, approval expired,
freeze, emergency, partial batch failure; then the pieces the close and the escalation show.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

SSH = "r3 (ssh root@127.0.0.1:26913): unreachable over SSH after 3 attempt(s): Connection refused"
FAILED_CHECK = {"passed": False, "failed": True, "msg": "checks failed",
                "results": [{"name": "no_bgp_session_lost", "passed": False, "reason": "10.0.12.2 missing"}]}
PASSED = {"passed": True, "failed": False, "results": [{"name": "same_config", "passed": True}]}


def _good():
    return {
        "change_id": "CHG-1", "assessment": {"tier": "medium", "score": 42, "hosts": ["r1"], "requirements": {"escalation": {}}},
        "stage_failed": "", "error": "", "review": {"decision": "pass", "rejected": [], "denied_by": []}, "window": "pass",
        "precheck": {"backups": {"r1": "b1"}, "pre_snapshots": {"r1": "p1", "r2": "p2"},
                     "hosts": {"r1": {"failed": False}, "r2": {"failed": False}}},
        "deploy": {"deployed": ["r1"], "failed_hosts": [], "implementing": True, "halted": False, "plan": {"batches": [["r1"]]},
                   "failed_at": "", "undecidable": False, "confirm_timeout": 60,
                   "hosts": {"r1": {"deploy": {"changed": True}, "check": PASSED, "confirmed": True}, "r2": {"check": PASSED}}},
        "verify": {"failed_hosts": [], "failed_at": "", "undecidable": False,
                   "hosts": {"r1": dict(PASSED, post="post1"), "r2": dict(PASSED, post="post2")}},
        "rollback": {}, "escalate_on_failure": True, "escalate_on_denial": True,
    }


def _bad_check():
    run = _good()
    run.update(stage_failed="verify", error="verify failed on r1: checks failed")
    run["verify"].update(failed_hosts=["r1"], failed_at="2026-11-30T10:00:00.000000Z")
    run["verify"]["hosts"]["r1"] = dict(FAILED_CHECK, post="post1")
    run["rollback"] = {"targets": ["r1"], "rolled_back": ["r1"], "restore_failed": [], "state_differs": [], "verified": True,
                       "verified_at": "2026-11-30T10:00:04.250000Z", "post_snapshots": {"r1": "post-rb"},
                       "records": {"r1": {"restore": {"verified": True}, "verify": PASSED}, "r2": {"verify": {"skipped": True}}}}
    return run


# ---------------------------------------------------------------------------------------------- the matrix
def test_good_change_is_successful_closes_verified_and_does_not_escalate():
    got = run_decisions.run_decision(_good())
    assert (got["outcome"], got["reason"], got["escalate"], got["release_locks"]) == ("successful", "", False, True)
    assert got["close_reason"] == "deployed and verified"
    assert {h: e["state"] for h, e in got["devices"].items()} == {"r1": "changed", "r2": "untouched"}
    assert got["mttr_s"] is None
    assert got["summary_lines"][0] == "change CHG-1: SUCCESSFUL"
    assert got["stages"]["hosts"]["r1"] == {"backup": "b1", "pre": "p1", "deploy": {"changed": True}, "check": PASSED,
                                            "confirmed": True, "verify": dict(PASSED, post="post1"), "post": "post1",
                                            "precheck": {"failed": False}}


def test_bad_check_rolls_back_verified_escalates_change_failed_with_mttr():
    got = run_decisions.run_decision(_bad_check())
    assert (got["outcome"], got["reason"], got["escalate"]) == ("unsuccessful", "change_failed", True)
    assert got["devices"]["r1"]["state"] == "rolled_back" and got["devices"]["r2"]["state"] == "untouched"
    assert got["mttr_s"] == 4.25
    # what the close records in stage.results, for the ledger's MTTR (metrics.py)
    assert (got["stages"]["failed_at"], got["stages"]["rollback_verified_at"], got["stages"]["mttr_s"]) == (
        "2026-11-30T10:00:00.000000Z", "2026-11-30T10:00:04.250000Z", 4.25)
    assert got["close_reason"] == "stage verify failed: verify failed on r1: checks failed"
    assert "r1: checks failed - no_bgp_session_lost (10.0.12.2 missing)" in got["detected"]
    assert got["actions_taken"] == [
        "assessed: tier medium (score 42)", "review gate: pass", "window gate: pass", "locked, backed up and snapshotted r1",
        "deployed to r1 with a commit-confirmed timer of 60 s",
        "restored r1 from the backup; rollback verified: the state equals the pre-change snapshot",
        "closed unsuccessful", "The change's device locks were released."]
    record = got["stages"]["hosts"]["r1"]
    assert record["post"] == "post-rb" and record["restore"] == {"verified": True} and record["rollback_verify"] == PASSED
    assert "rollback_verify" not in got["stages"]["hosts"]["r2"]  # a skipped verification is left out
    assert "rollback verified in 4.25 s from the failed check (MTTR)" in got["summary_lines"]


def test_a_tier_without_escalation_does_not_escalate_a_verified_rollback():
    run = _bad_check()
    run["assessment"]["requirements"] = {}
    got = run_decisions.run_decision(run)
    assert got["reason"] == "" and got["escalate"] is False and got["outcome"] == "unsuccessful"


def test_unreachable_mid_deploy_is_retries_exhausted_and_keeps_the_locks():
    run = _good()
    run["assessment"]["hosts"] = ["r1", "r3"]
    run.update(stage_failed="deploy", error="deploy failed on r3")
    run["deploy"].update(deployed=["r1", "r3"], failed_hosts=["r3"], failed_at="2026-11-30T10:00:00Z")
    run["deploy"]["hosts"]["r3"] = {"deploy": {"failed": True, "transient": True, "msg": SSH}}
    run["rollback"] = {"targets": ["r1", "r3"], "rolled_back": ["r1"], "restore_failed": ["r3"], "state_differs": [], "verified": False,
                       "records": {"r3": {"restore": {"failed": True, "transient": True, "msg": SSH}}, "r1": {"restore": {"verified": True}}}}
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"], got["release_locks"]) == ("unsuccessful", "retries_exhausted", False)
    assert got["devices"]["r3"]["state"] == "unreachable" and "Connection refused" in got["devices"]["r3"]["detail"]
    assert got["mttr_s"] is None
    assert any("locks are held" in item and "r3" in item for item in got["actions_taken"])


def test_rollback_failed_when_the_state_differs_after_the_restore():
    run = _bad_check()
    run["rollback"].update(state_differs=["r1"], verified=False,
                           records={"r1": {"restore": {"verified": True}, "verify": dict(FAILED_CHECK, results=[
                               {"name": "same_routes", "passed": False, "reason": "10.255.0.3/32 missing"}])}})
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"], got["release_locks"]) == ("unsuccessful", "rollback_failed", False)
    assert got["devices"]["r1"]["state"] == "state_differs" and "same_routes" in got["devices"]["r1"]["detail"]
    assert "restored r1 from the backup; rollback NOT verified" in got["actions_taken"]


def test_a_change_stopped_before_any_device_is_canceled():
    run = _good()
    run.update(stage_failed="precheck", error="precheck failed on r1")
    run["deploy"] = {}
    run["verify"] = {}
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"]) == ("canceled", "")
    assert got["close_reason"] == "stage precheck failed: precheck failed on r1"
    assert {e["state"] for e in got["devices"].values()} == {"untouched"}


def test_an_expired_approval_escalates_approval_timeout_and_a_denial_approval_denied():
    run = _good()
    run.update(stage_failed="review", error="review gate refused", deploy={}, verify={}, precheck={})
    run["review"] = {"decision": "fail", "rejected": [{"approver": "alice", "reason": "approval expired 2 days ago"}], "denied_by": []}
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"]) == ("canceled", "approval_timeout")
    assert got["actions_taken"][1] == "review gate: fail"
    run["review"] = {"decision": "fail", "rejected": [], "denied_by": ["bob"]}
    assert run_decisions.run_decision(run)["reason"] == "approval_denied"
    run["escalate_on_denial"] = False
    assert run_decisions.run_decision(run)["reason"] == ""
    # the AWX path may only know the decision string: no reason can be made up from it
    run["review"] = "fail"
    assert run_decisions.run_decision(run)["reason"] == ""


def test_an_awx_approval_node_that_timed_out_is_an_expired_approval_and_a_missing_one_is_no_reason():
    run = _good()
    run.update(stage_failed="review", error="review gate refused", deploy={}, verify={}, precheck={}, escalate_on_denial=False)
    awx = {"workflow_job": 41, "pending": [], "approvals": 0, "ignored": [{"node": 7, "timed_out": False, "reason": "canceled"}]}
    missing = {"decision": "fail", "rejected": [], "denied_by": [], "sources": {"ledger": {"approvals": 0}, "awx": awx}}
    run["review"] = missing
    assert run_decisions.run_decision(run)["reason"] == ""  # nobody approved, nothing timed out: canceled, no hand-off
    timed_out = dict(missing, sources=dict(missing["sources"], awx=dict(missing["sources"]["awx"], ignored=[
        {"node": 7, "approval_id": 12, "timed_out": True, "reason": "timed out, canceled or no approver recorded"}])))
    run["review"] = timed_out
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"], got["escalate"]) == ("canceled", "approval_timeout", True)


def test_a_freeze_cancels_without_escalation_and_a_workflow_can_force_the_reason():
    run = _good()
    run.update(stage_failed="window", error="window gate refused: year-end freeze", window="fail", deploy={}, verify={}, precheck={})
    got = run_decisions.run_decision(run)
    assert (got["outcome"], got["reason"]) == ("canceled", "")
    assert got["summary_lines"][:2] == ["change CHG-1: CANCELED (stage window failed)", "gates: review pass, window fail"]
    run["forced_reason"] = "gate_refused"
    assert run_decisions.run_decision(run)["reason"] == "gate_refused"


def test_an_emergency_change_decides_as_any_other():
    run = _good()
    run["assessment"]["tier"] = "critical"
    run["window"] = "pass"  # the window gate recorded the emergency bypass and passed
    got = run_decisions.run_decision(run)
    assert got["outcome"] == "successful" and got["actions_taken"][0] == "assessed: tier critical (score 42)"


def test_a_partial_batch_failure_rolls_back_the_failed_batch_only_and_keeps_the_canary():
    run = _good()
    run["assessment"]["hosts"] = ["r1", "r2"]
    run.update(stage_failed="deploy", error="deploy failed on r2 after 2 of 2 batch(es)")
    run["deploy"].update(deployed=["r1", "r2"], failed_hosts=["r2"], halted=True, failed_at="2026-11-30T10:00:00Z")
    run["deploy"]["hosts"]["r2"] = {"deploy": {"changed": True}, "check": FAILED_CHECK, "confirmed": False}
    run["verify"] = {}
    run["rollback"] = {"targets": ["r2"], "rolled_back": ["r2"], "restore_failed": [], "state_differs": [], "verified": True,
                       "verified_at": "2026-11-30T10:00:03Z", "records": {"r2": {"restore": {"verified": True}, "verify": PASSED}}}
    got = run_decisions.run_decision(run)
    assert got["outcome"] == "unsuccessful" and got["reason"] == "change_failed"
    assert {h: e["state"] for h, e in got["devices"].items()} == {"r1": "changed", "r2": "rolled_back"}
    assert got["mttr_s"] == 3.0 and got["stages"]["halted"] is True


# ---------------------------------------------------------------------------------------------- the pieces
def test_a_failed_close_escalates_change_failed_and_says_so():
    got = run_decisions.run_decision(dict(_good(), close_error="ledger is locked"))
    assert got["reason"] == "change_failed" and got["actions_taken"][-2] == "close FAILED: ledger is locked"
    assert got["summary_lines"][-1] == "close FAILED: ledger is locked"
    assert got["outcome"] == "unsuccessful" and run_decisions.run_decision(_good())["outcome"] == "successful"


def test_the_summary_names_the_escalation_and_the_report():
    got = run_decisions.run_decision(dict(_bad_check(), escalation="/out/esc.json", report="/out/report.html"))
    assert got["summary_lines"][-2:] == ["escalated (change_failed): /out/esc.json", "report: /out/report.html"]
    assert got["stages"]["escalation"] == "/out/esc.json"
    assert "escalation" not in run_decisions.run_decision(_bad_check())["stages"]


def test_the_same_results_give_the_same_decision_whatever_the_path_adds():
    """The AWX path passes host lists completed from the ledger and the assess summary; the pipeline the whole assessment."""
    pipeline = _bad_check()
    awx = copy.deepcopy(pipeline)
    awx["assessment"] = dict(awx["assessment"], content_hash="abc", change_class="normal")
    awx["deploy"]["failed_hosts"] = ["r1"]  # the ledger's union of deploy's and verify's failed hosts
    a, b = run_decisions.run_decision(pipeline), run_decisions.run_decision(awx)
    for key in ("outcome", "reason", "devices", "detected", "rollback", "release_locks", "close_reason", "actions_taken", "mttr_s"):
        assert a[key] == b[key], key


def test_mttr_needs_a_verified_rollback_and_readable_times():
    assert run_decisions.mttr_seconds("2026-11-30T10:00:00Z", "2026-11-30T10:00:01.5Z", True) == 1.5
    assert run_decisions.mttr_seconds("2026-11-30T10:00:00Z", "2026-11-30T10:00:01.5Z", False) is None
    assert run_decisions.mttr_seconds("", "2026-11-30T10:00:01Z", True) is None
    assert run_decisions.mttr_seconds("yesterday", "2026-11-30T10:00:01Z", True) is None


def test_bad_stage_results_are_refused_naming_the_key():
    with pytest.raises(ValidationError, match="mapping"):
        run_decisions.run_decision(["r1"])
    with pytest.raises(ValidationError, match="unknown stage result.*deployd"):
        run_decisions.run_decision({"deployd": ["r1"]})
    with pytest.raises(ValidationError, match="run_decision.deploy"):
        run_decisions.run_decision({"deploy": {"deployd": ["r1"]}})
    with pytest.raises(ValidationError, match="rollback must be a mapping"):
        run_decisions.run_decision({"rollback": ["r1"]})


# ---------------------------------------------------------------------------------------------- the stages' own decisions
def test_a_limited_play_acts_on_the_devices_it_holds():
    assert run_decisions.stage_hosts(["r1", "r2", "r3"], ["r2", "r3", "fw1"], False) == ["r1", "r2", "r3"]
    assert run_decisions.stage_hosts(["r1", "r2", "r3"], ["r3", "r2", "fw1"], True) == ["r2", "r3"]
    assert run_decisions.stage_hosts({"r1": "ref", "fw1": "ref"}, ["fw1"], "True") == ["fw1"]  # a mapping's keys; a templated bool


def test_probes_run_on_firewalls_only_explicit_first_then_the_traffic_plan():
    plan = {"verification": {"traffic": {"probes_by_host": {"fw1": [{"name": "web"}]}}}}
    assert run_decisions.stage_probes([], plan, "fw1", "linux") == [{"name": "web"}]
    assert run_decisions.stage_probes([{"name": "mine"}], plan, "fw1", "linux") == [{"name": "mine"}]
    assert run_decisions.stage_probes([{"name": "mine"}], plan, "r1", "frr") == []
    assert run_decisions.stage_probes([], {}, "fw2", "linux") == []


def test_a_precheck_fails_on_any_failed_step_with_its_messages():
    assert run_decisions.precheck_status([{"changed": True}, {"snapshot": "ref"}, {"skipped": True}]) == \
        {"failed": False, "transient": False, "msg": ""}
    got = run_decisions.precheck_status([{"failed": True, "transient": True, "msg": "no SSH"}, {"failed": True, "msg": "no snapshot"}, {}])
    assert got == {"failed": True, "transient": True, "msg": "no SSH; no snapshot"}


def test_the_verification_collects_failures_posts_and_the_failure_time():
    got = run_decisions.verify_results({"r1": {"failed": False, "post": "p1"}, "r2": {"failed": True, "undecidable": True, "post": ""}},
                                       now="2026-11-30T10:00:00Z")
    assert got["failed_hosts"] == ["r2"] and got["post_snapshots"] == {"r1": "p1"} and got["passed"] is False
    assert got["undecidable"] is True and got["transient"] is False and got["failed_at"] == "2026-11-30T10:00:00Z"
    assert run_decisions.verify_results({"r1": {"failed": False}}, now="x")["failed_at"] == ""


def test_the_rollback_restores_the_tiers_scope_or_the_explicit_hosts():
    assert run_decisions.rollback_choice(["r1", "r2"], ["r2"], None, {"rollback_scope": "failed"}) == ["r2"]
    assert run_decisions.rollback_choice(["r1", "r2"], ["r2"], None, {}) == ["r1", "r2"]  # default all
    assert run_decisions.rollback_choice(["r1", "r2"], ["r2"], "all", {"rollback_scope": "failed"}) == ["r1", "r2"]
    # a device the change did not touch failed: the culprit cannot be told apart, everything deployed goes back
    assert run_decisions.rollback_choice(["r1", "r2"], ["r3"], "failed", {}) == ["r1", "r2"]
    assert run_decisions.rollback_choice(["r1"], [], "failed", {}) == ["r1"]  # asked to roll back with no failure known
    assert run_decisions.rollback_choice(["r1", "r2"], ["r2"], None, {}, hosts=["r1"]) == ["r1"]
    with pytest.raises(ValidationError, match="rollback scope"):
        run_decisions.rollback_choice(["r1"], ["r1"], "some", {})


def test_the_rollback_is_verified_only_when_every_restore_and_every_state_check_passed():
    records = {"r1": {"restore": {"verified": True}, "verify": {"failed": False, "post": "p1"}},
               "r2": {"verify": {"failed": False, "post": "p2"}}}
    got = run_decisions.rollback_results(records, ["r1"])
    assert (got["verified"], got["rolled_back"], got["restore_failed"], got["state_differs"]) == (True, ["r1"], [], [])
    assert got["post_snapshots"] == {"r1": "p1", "r2": "p2"}
    assert got["message"] == "rollback of r1: restored r1; verified: the state equals the pre-change snapshot"
    records["r2"]["verify"]["failed"] = True
    records["r1"]["restore"] = {"verified": False, "failed": True, "transient": True}
    got = run_decisions.rollback_results(records, ["r1"])
    assert (got["verified"], got["restore_failed"], got["state_differs"], got["transient"]) == (False, ["r1"], ["r2"], True)
    assert got["message"].endswith("NOT verified (restore failed on r1; state differs on r2)")
    got = run_decisions.rollback_results({}, [])
    assert got["verified"] is None and got["message"] == "rollback of nothing: restored none; nothing to restore"


# --- the device stages' refusals before any device is touched (stage_refusal) and the deploy's content drift ---

PLAY = ["r1", "r2", "r3", "fw1"]
INVENTORY = PLAY + ["srv1"]


def test_a_stage_with_everything_it_needs_goes_on():
    full = {"r1": "b1", "r2": "b2"}
    assert run_decisions.stage_refusal("precheck", ["r1", "r2"], PLAY, inventory=INVENTORY) == ""
    assert run_decisions.stage_refusal("deploy", ["r1", "r2"], PLAY, inventory=INVENTORY, pre_snapshots=full,
                                       backups=full, lines={"r1": ["x"], "r2": ["y"]}) == ""
    assert run_decisions.stage_refusal("verify", ["r1"], PLAY, inventory=INVENTORY, pre_snapshots=["r1", "r3"],
                                       check_hosts=["r3", "r9"]) == ""  # r9 not in the play: not checked here
    assert run_decisions.stage_refusal("rollback", ["r2"], ["r2"], backups=full) == ""


def test_the_deploy_refusal_names_every_missing_piece_for_its_hosts_and_the_fixes():
    msg = run_decisions.stage_refusal("deploy", ["r1", "r2", "r9"], PLAY, inventory=INVENTORY, pre_snapshots={"r1": "p"},
                                      backups={"r1": "b", "r2": ""}, lines={"r1": ["x"], "r2": []})
    assert msg.startswith("deploy: refused before any device was touched - ")
    for part in ("not in the inventory: r9", "not in this play's hosts: r9", "no pre snapshot: r2, r9",
                 "no backup: r2, r9", "no configuration lines: r2, r9", "pass governed_pre_snapshots from the precheck stage",
                 "pass governed_backups from the precheck stage", "or pass deploy_lines"):
        assert part in msg, (part, msg)


def test_a_limited_play_is_refused_only_for_the_targets_it_holds():
    # a workflow branch holding fw1: r1's missing backup is the other branch's business
    assert run_decisions.stage_refusal("deploy", ["r1", "fw1"], ["fw1"], limited=True, inventory=INVENTORY,
                                       pre_snapshots=["fw1"], backups={"fw1": "b"}, lines={"fw1": ["x"]}) == ""
    assert run_decisions.stage_refusal("precheck", ["r1", "fw1"], ["fw1"], limited=True, inventory=INVENTORY) == ""
    unlimited = run_decisions.stage_refusal("precheck", ["r1", "fw1"], ["fw1"], inventory=INVENTORY)
    assert "not in this play's hosts (the play is not limited): r1" in unlimited and "--limit" in unlimited
    # the inventory is checked for every target, limited or not
    limited = run_decisions.stage_refusal("precheck", ["r9", "fw1"], ["fw1"], limited=True, inventory=INVENTORY)
    assert "not in the inventory: r9" in limited


def test_verify_and_rollback_refusals():
    msg = run_decisions.stage_refusal("verify", ["r1"], PLAY, inventory=INVENTORY, pre_snapshots={"r1": "p"}, check_hosts=["r3"])
    assert "no pre snapshot: r3" in msg and "no backup" not in msg
    assert "no backup: r2" in run_decisions.stage_refusal("rollback", ["r1", "r2"], ["r1", "r2"], backups={"r1": "b"})
    assert "no backup: r1" in run_decisions.stage_refusal("rollback", ["r1"], ["r1"], backups="not a mapping")  # fail closed
    with pytest.raises(ValidationError, match="unknown stage 'deplyo'"):
        run_decisions.stage_refusal("deplyo", ["r1"], PLAY)


def _assessed(content_hash, request="cr1", diffs=None):
    return {"content_hash": content_hash, "change_request_sha256": request,
            "devices": {host: {"diff": diff} for host, diff in (diffs or {"r3": "+a", "fw1": "+b"}).items()}}


def test_the_deploy_goes_on_only_with_the_approved_content():
    approved = _assessed("h1")
    assert run_decisions.content_drift(approved, _assessed("h1"), ["r3", "fw1"]) == ""
    msg = run_decisions.content_drift(approved, _assessed("h2"), ["r3", "fw1"])
    assert msg.startswith("deploy: the content hash is now h2... but the approved assessment's is h1...")
    assert "fix: re-assess the change and have it approved again." in msg
    assert run_decisions.content_drift({"content_hash": None}, {"content_hash": None}, ["r3"]) != ""  # no hash: refused
    assert run_decisions.content_drift(approved, {}, ["r3"]) != ""


def test_a_limited_play_compares_the_change_request_and_its_own_targets_diffs():
    approved = _assessed("h1")
    # the other domain (r3) already deployed: the whole hash moved, fw1's diff did not
    other_done = _assessed("h2", diffs={"r3": "", "fw1": "+b"})
    assert run_decisions.content_drift(approved, other_done, ["fw1"], limited=True) == ""
    assert run_decisions.content_drift(approved, other_done, ["fw1"], limited=False) != ""
    mine_changed = run_decisions.content_drift(approved, _assessed("h2", diffs={"r3": "+a", "fw1": "+c"}), ["fw1"], limited=True)
    assert "the diff of fw1 changed" in mine_changed
    assert run_decisions.content_drift(approved, _assessed("h2", request="cr2"), ["fw1"], limited=True) != ""
    assert "the diff of fw9 changed" in run_decisions.content_drift(approved, other_done, ["fw9"], limited=True)


def test_the_precheck_outcome_from_its_fleet_tasks():
    backup = {"fleet": True, "hosts": {"r1": {"backup": "b1"}, "r2": {"failed": True, "transient": True, "msg": "r2: no answer"}}}
    snapshot = {"fleet": True, "hosts": {"r1": {"snapshot": "s1"}, "r2": {"snapshot": "s2"}, "r3": {"snapshot": "s3"}}}
    asserted = {"skipped": True}  # no pre-assertions
    out = run_decisions.precheck_fleet({"hosts": ["r1", "r2", "r3"], "steps": [backup, snapshot, asserted],
                                        "targets": ["r1", "r2"], "scope": ["r1", "r2", "r3"]})
    assert out["failed_hosts"] == ["r2"] and out["transient"] is True and out["messages"] == {"r2": "r2: no answer"}
    assert out["backups"] == {"r1": "b1"} and out["pre_snapshots"] == {"r1": "s1", "r3": "s3"}  # r2's snapshot dropped
    assert out["hosts"]["r3"] == {"failed": False, "transient": False, "msg": ""}
    # a step that failed before any device fails every device (never a skip): nothing to deploy from
    broken = run_decisions.precheck_fleet({"hosts": ["r1"], "steps": [{"failed": True, "msg": "bad args"}, snapshot, asserted],
                                           "targets": ["r1"], "scope": ["r1"]})
    assert broken["failed_hosts"] == ["r1"] and broken["backups"] == {} and broken["pre_snapshots"] == {}
