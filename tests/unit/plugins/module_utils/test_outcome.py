"""module_utils/outcome.py: the run's verdict (outcome, escalation reason, device states, rollback, locks) from plain data."""

from __future__ import annotations

import json

import pytest

from ansible_collections.governed.change.plugins.module_utils import outcome
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.escalation import build_packet

SSH_ERROR = ("r3 (ssh root@127.0.0.1:26913): unreachable over SSH after 3 attempt(s): ssh: connect to host 127.0.0.1 port 26913: "
             "Connection refused")
TRANSIENT = {"failed": True, "transient": True, "msg": SSH_ERROR}
RESTORED = {"failed": False, "verified": True, "msg": "restored"}
PASSED = {"passed": True, "failed": False, "results": [{"name": "same_config", "passed": True}]}


def _run(**extra):
    facts = {"stage_failed": "deploy", "error": "deploy failed on r3", "implementing": True, "hosts": ["r1", "r2", "r3"],
             "deployed": ["r3"], "failed_hosts": ["r3"], "records": {}, "escalation_configured": True}
    facts.update(extra)
    return outcome.decide(facts)


# ---------------------------------------------------------------------------------------------- outcome
def test_a_verified_change_is_successful_and_releases_its_locks():
    got = outcome.decide({"implementing": True, "hosts": ["r1", "r2"], "deployed": ["r1"], "records": {"r1": {"confirmed": True}}})
    assert got["outcome"] == "successful" and got["reason"] == "" and got["release_locks"] is True
    assert got["devices"] == {"r1": {"state": "changed", "label": "changed", "affected": False},
                              "r2": {"state": "untouched", "label": "untouched", "affected": False}}
    assert got["rollback"]["verified"] is None and got["rollback"]["performed"] is False


def test_a_change_that_reached_no_device_is_canceled():
    assert outcome.decide({"stage_failed": "review", "implementing": False})["outcome"] == "canceled"
    assert outcome.decide({"stage_failed": "precheck", "hosts": ["r1"]})["outcome"] == "canceled"


def test_a_failed_device_stage_after_implement_is_unsuccessful():
    assert _run()["outcome"] == "unsuccessful"
    # the AWX path does not know "implementing": a device stage that failed or a deployed device says it
    assert outcome.decide({"stage_failed": "verify", "deployed": ["r1"]})["outcome"] == "unsuccessful"
    assert outcome.decide({"deployed": ["r1"], "rollback": {"targets": ["r1"], "verified": True}})["outcome"] == "unsuccessful"


def test_a_forced_outcome_wins_and_an_unknown_one_is_refused():
    assert outcome.decide({"forced_outcome": "canceled", "deployed": ["r1"]})["outcome"] == "canceled"
    with pytest.raises(ValidationError, match="forced_outcome"):
        outcome.decide({"forced_outcome": "great"})
    with pytest.raises(ValidationError, match="mapping"):
        outcome.decide(["r1"])


# ---------------------------------------------------------------------------------------------- reasons
def test_unreachable_mid_deploy_is_retries_exhausted_naming_the_device_and_the_ssh_error():
    # r3 stopped answering: its deploy and its restore failed with the SSH error; the others were verified
    records = {"r3": {"deploy": TRANSIENT, "restore": dict(TRANSIENT, verified=None)},
               "r1": {"rollback_verify": PASSED}, "r2": {"rollback_verify": PASSED}}
    got = _run(records=records, rollback={"targets": ["r3"], "restore_failed": ["r3"], "state_differs": [], "verified": False})
    assert got["reason"] == "retries_exhausted"
    assert got["unreachable"] == {"r3": SSH_ERROR}
    assert got["devices"]["r3"]["state"] == "unreachable" and "Connection refused" in got["devices"]["r3"]["detail"]
    assert "checks failed" not in json.dumps(got["devices"])
    assert any(item.startswith("r3 unreachable: ") and "Connection refused" in item for item in got["detected"])
    assert got["release_locks"] is False and "held" in got["locks"] and "r3" in got["locks"]
    packet = build_packet("CHG-1", got["reason"], detected=got["detected"], devices=got["devices"])
    assert packet["title"] == "CHG-1: Device unreachable after retries" and packet["recommended_next_step"].startswith("r3 stayed unreachable")


def test_an_unreachable_check_host_is_unreachable_from_the_settle_error():
    last = {"kind": "device", "message": "r2 (ssh root@127.0.0.1:26912): unreachable over SSH after 3 attempt(s): timed out"}
    records = {"r2": {"check": {"failed": True, "transient": True, "msg": "no post snapshot could be taken", "settle": {"last_error": last}}}}
    got = _run(records=records, failed_hosts=["r2"], deployed=["r1"])
    assert got["reason"] == "retries_exhausted" and got["unreachable"] == {"r2": last["message"]}
    assert got["devices"]["r2"]["state"] == "unreachable" and got["release_locks"] is True  # r2 was not changed


def test_a_restore_error_is_rollback_failed_with_the_error_text_and_locks_held():
    records = {"r2": {"restore": {"failed": True, "msg": "r2: cannot write /etc/frr/frr.conf: [Errno 30] Read-only file system"}}}
    got = _run(records=records, deployed=["r2"], failed_hosts=["r2"],
               rollback={"targets": ["r2"], "restore_failed": ["r2"], "state_differs": [], "verified": False})
    assert got["reason"] == "rollback_failed"
    assert got["devices"]["r2"]["state"] == "restore_failed" and "Read-only file system" in got["devices"]["r2"]["detail"]
    assert any("Read-only file system" in item for item in got["detected"])
    assert got["release_locks"] is False and got["rollback"]["errors"]["r2"].endswith("Read-only file system")
    packet = build_packet("CHG-1", got["reason"], detected=got["detected"], devices=got["devices"])
    assert "Keep the devices locked" in packet["recommended_next_step"] and "r2" in packet["recommended_next_step"]


def test_unreachable_and_a_restore_error_together_is_rollback_failed():
    records = {"r3": {"restore": TRANSIENT}, "r2": {"restore": {"failed": True, "msg": "Read-only file system"}}}
    got = _run(records=records, deployed=["r2", "r3"],
               rollback={"targets": ["r2", "r3"], "restore_failed": ["r2", "r3"], "verified": False})
    assert got["reason"] == "rollback_failed"
    assert got["devices"]["r3"]["state"] == "unreachable" and got["devices"]["r2"]["state"] == "restore_failed"


def test_a_state_that_differs_after_the_rollback_is_rollback_failed_naming_the_checks():
    differs = {"failed": True, "results": [{"name": "same_routes", "passed": False, "reason": "differs from pre"}]}
    got = _run(records={"r2": {"rollback_verify": differs}, "r3": {"restore": RESTORED, "rollback_verify": PASSED}},
               rollback={"targets": ["r3"], "rolled_back": ["r3"], "state_differs": ["r2"], "verified": False})
    assert got["reason"] == "rollback_failed" and got["rollback"]["verified"] is False
    assert got["devices"]["r2"] == {"state": "state_differs", "label": outcome.STATES["state_differs"], "affected": True,
                                    "detail": "same_routes (differs from pre)"}
    assert got["devices"]["r3"]["state"] == "rolled_back" and got["release_locks"] is False


def test_a_verified_rollback_with_a_skipped_check_is_not_rollback_failed():
    # finding 6: no probes were taken, same_probes is skipped (not failed): the rollback is verified
    skipped = {"passed": True, "failed": False, "results": [
        {"name": "same_probes", "passed": True, "skipped": True, "reason": "skipped: nothing collected (not captured in either snapshot)"},
        {"name": "same_rules", "passed": True}]}
    records = {"r1": {"check": {"failed": True, "results": [{"name": "no_route_lost", "passed": False, "reason": "1 missing"}]},
                      "restore": RESTORED, "rollback_verify": PASSED}, "fw1": {"rollback_verify": skipped}}
    got = _run(records=records, hosts=["r1", "fw1"], deployed=["r1"], failed_hosts=["r1"],
               rollback={"targets": ["r1"], "rolled_back": ["r1"], "restore_failed": [], "state_differs": [], "verified": True})
    assert got["rollback"]["verified"] is True and got["reason"] == "change_failed" and got["release_locks"] is True
    assert got["devices"]["r1"]["state"] == "rolled_back" and got["devices"]["fw1"]["state"] == "untouched"
    assert "rollback verified" in got["summary"] and "rollback_failed" not in json.dumps(got)
    # what was detected keeps r1's failed check although r1 is rolled back now
    assert "r1: checks failed - no_route_lost (1 missing)" in got["detected"]


def test_check_undecidable_change_failed_and_gate_reasons():
    undecidable = {"r1": {"check": {"failed": True, "undecidable": True}}}
    assert _run(records=undecidable, deployed=["r1"], failed_hosts=["r1"])["reason"] == "check_undecidable"
    assert _run(records=undecidable, stage_failed="precheck")["reason"] == ""  # undecidable only counts in deploy/verify
    assert _run(deployed=["r1"], failed_hosts=["r1"])["reason"] == "change_failed"
    assert _run(deployed=["r1"], failed_hosts=["r1"], escalation_configured=False)["reason"] == ""
    assert _run(deployed=["r1"], failed_hosts=["r1"], escalate_on_failure=False)["reason"] == ""
    review = {"stage_failed": "review", "implementing": False, "deployed": [], "failed_hosts": []}
    assert _run(review={"expired": True}, **review)["reason"] == "approval_timeout"
    assert _run(review={"denied": True}, **review)["reason"] == "approval_denied"
    assert _run(review={"denied": True}, escalate_on_denial=False, **review)["reason"] == ""
    assert _run(close_error="ledger locked", stage_failed="", deployed=["r1"], failed_hosts=[])["reason"] == "change_failed"
    assert _run(forced_reason="gate_refused")["reason"] == "gate_refused"


def test_unreachable_at_precheck_is_retries_exhausted_and_releases_the_locks():
    got = outcome.decide({"stage_failed": "precheck", "hosts": ["r1"], "records": {"r1": {"precheck": TRANSIENT}}})
    assert got["reason"] == "retries_exhausted" and got["outcome"] == "canceled" and got["release_locks"] is True


# ---------------------------------------------------------------------------------------------- device states, AWX artifacts
def test_awx_artifacts_only_an_unverified_rollback_holds_the_locks_and_names_the_restored_devices():
    got = outcome.decide({"stage_failed": "deploy", "deployed": ["r1", "r2"], "failed_hosts": ["r1"],
                          "rollback": {"rolled_back": ["r1", "r2"], "targets": ["r1", "r2"], "verified": False}})
    assert got["reason"] == "rollback_failed" and got["release_locks"] is False
    assert set(e["state"] for e in got["devices"].values()) == {"not_verified"}


def test_awx_artifacts_rollback_failed_with_nothing_restored():
    got = outcome.decide({"stage_failed": "deploy", "deployed": ["r1"], "rollback": {"rolled_back": [], "verified": False}})
    assert got["reason"] == "rollback_failed" and got["release_locks"] is False and got["rollback"]["verified"] is False


def test_an_unconfirmed_commit_is_said_and_checks_failed_names_the_checks():
    records = {"r1": {"confirmed": False}, "r2": {"check": {"failed": True, "results": [
        {"name": "no_bgp_session_lost", "passed": False, "reason": "1 of 2 pre item(s) missing"},
        {"name": "probes_still_pass", "passed": True, "skipped": True}]}}}
    got = outcome.decide({"implementing": True, "deployed": ["r1"], "failed_hosts": ["r2"], "records": records})
    assert "commit-confirmed timer" in got["devices"]["r1"]["detail"]
    assert got["devices"]["r2"]["detail"] == "no_bgp_session_lost (1 of 2 pre item(s) missing)"
    assert got["devices"]["r2"]["affected"] is True


def test_secrets_in_messages_are_redacted():
    records = {"r2": {"restore": {"failed": True, "msg": "r2: the device refused the line\nneighbor 10.0.12.2 password Zz-sEcret-9"}}}
    got = _run(records=records, deployed=["r2"], rollback={"targets": ["r2"], "restore_failed": ["r2"], "verified": False})
    assert "Zz-sEcret-9" not in json.dumps(got) and "<redacted:" in got["devices"]["r2"]["detail"]


def test_long_messages_are_clipped():
    records = {"r3": {"deploy": dict(TRANSIENT, msg="x" * 5000)}}
    got = _run(records=records)
    assert len(got["devices"]["r3"]["detail"]) <= outcome.MSG_LIMIT


def test_flags_passed_as_template_strings_are_read_as_booleans():
    review = {"stage_failed": "review", "implementing": "False", "deployed": [], "failed_hosts": []}
    assert _run(review={"expired": "False", "denied": "False"}, **review)["reason"] == ""
    assert _run(review={"expired": "True"}, **review)["reason"] == "approval_timeout"
    assert _run(review={"expired": "True"}, **review)["outcome"] == "canceled"
    assert _run(deployed=["r1"], failed_hosts=["r1"], escalation_configured="false")["reason"] == ""
    got = outcome.decide({"stage_failed": "deploy", "deployed": ["r1"], "rollback": {"rolled_back": ["r1"], "verified": "False"}})
    assert got["rollback"]["verified"] is False and got["reason"] == "rollback_failed"
    assert outcome.decide({"rollback": {"verified": "None"}})["rollback"]["verified"] is None


def test_awx_rollback_artifact_records_carry_the_restore_error_and_the_unreachable_cause():
    artifact = {"targets": ["r1", "r2"], "restore_failed": ["r2"], "state_differs": ["r2"],
                "records": {"r1": {"restore": RESTORED, "verify": PASSED},
                            "r2": {"restore": {"failed": True, "msg": "r2: cannot write frr.conf: Read-only file system"},
                                   "verify": {"failed": True, "results": [{"name": "same_config", "passed": False, "reason": "differs"}]}}}}
    got = outcome.decide({"stage_failed": "deploy", "deployed": ["r1", "r2"], "failed_hosts": ["r1"],
                          "rollback": dict(artifact, rolled_back=["r1"], verified=False)})
    assert got["reason"] == "rollback_failed" and got["devices"]["r1"]["state"] == "rolled_back"
    assert got["devices"]["r2"]["state"] == "restore_failed" and got["devices"]["r2"]["detail"].endswith("Read-only file system")
    unreachable = {"targets": ["r3"], "restore_failed": ["r3"], "records": {"r3": {"restore": TRANSIENT, "verify": TRANSIENT}}}
    got = outcome.decide({"stage_failed": "deploy", "deployed": ["r3"], "failed_hosts": ["r3"],
                          "rollback": dict(unreachable, rolled_back=[], verified=False)})
    assert got["reason"] == "retries_exhausted" and got["devices"]["r3"]["state"] == "unreachable" and got["release_locks"] is False
