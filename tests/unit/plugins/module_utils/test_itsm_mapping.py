# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ServiceNow adapter's plain data: field mapping, state machine, close codes, policy section, approval binding."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import itsm_servicenow as sn
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError
from ansible_collections.governed.change.plugins.module_utils.policy import validate_policy
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

HASH_1, HASH_2 = "a" * 64, "b" * 64
ASSESSMENT = {"change_id": "CHG-9", "title": "Loopback on r1", "change_class": "normal", "tier": "medium", "score": 30,
              "author": "carol", "hosts": ["r1", "r2"], "content_hash": HASH_1, "explanation": ["edge: an edge router"],
              "window": {"start": "2026-12-05T01:00:00Z", "end": "2026-12-05T03:30:00+01:00"}}


@pytest.mark.parametrize("change_class, tier, risk, impact", [
    ("standard", "low", "4", "3"), ("normal", "medium", "3", "2"), ("normal", "high", "2", "1"), ("emergency", "critical", "1", "1")])
def test_type_risk_and_impact_follow_the_class_and_tier(change_class, tier, risk, impact):
    fields = sn.change_fields(dict(ASSESSMENT, change_class=change_class, tier=tier))
    assert (fields["type"], fields["chg_model"], fields["risk"], fields["impact"]) == (change_class, change_class, risk, impact)


def test_window_description_and_correlation():
    fields = sn.change_fields(ASSESSMENT, "Add a loopback.", {"assignment_group": "Network Operations"})
    assert fields["start_date"] == "2026-12-05 01:00:00"
    assert fields["end_date"] == "2026-12-05 02:30:00"  # converted to UTC
    assert fields["short_description"] == "[CHG-9] Loopback on r1"
    assert fields["correlation_id"] == "CHG-9" and fields["assignment_group"] == "Network Operations"
    assert fields["description"].startswith("Add a loopback.\n")
    assert "governed.change content_hash: %s" % HASH_1 in fields["description"]
    assert "targets: r1, r2" in fields["description"] and "rule: edge: an edge router" in fields["description"]


def test_no_window_no_planned_dates_and_long_titles_are_cut():
    fields = sn.change_fields(dict(ASSESSMENT, window=None, title="x" * 300))
    assert "start_date" not in fields and "end_date" not in fields
    assert len(fields["short_description"]) == sn.SHORT_DESCRIPTION_LIMIT


@pytest.mark.parametrize("key, value, message", [("change_class", "minor", "change class 'minor'"), ("tier", "huge", "tier 'huge'")])
def test_an_unknown_class_or_tier_is_refused(key, value, message):
    with pytest.raises(sn.ItsmError, match=message):
        sn.change_fields(dict(ASSESSMENT, **{key: value}))


@pytest.mark.parametrize("current, target, steps", [
    ("new", "authorize", ["assess", "authorize"]),
    ("authorize", "closed", ["scheduled", "implement", "review", "closed"]),
    ("scheduled", "assess", ["assess"]),  # a re-assessment
    ("scheduled", "authorize", ["assess", "authorize"]),  # re-assessed and back at authorize before the sync
    ("implement", "canceled", ["canceled"]),
    ("review", "review", []),
])
def test_state_steps_walk_one_step_at_a_time(current, target, steps):
    assert sn.state_steps(current, target) == steps


@pytest.mark.parametrize("change_type, current, target, steps", [
    ("standard", "new", "authorize", []),  # a standard change has no Assess nor Authorize: it stays New
    ("standard", "new", "scheduled", ["scheduled"]),
    ("standard", "scheduled", "authorize", ["new"]),  # re-assessed: back to New
    ("standard", "new", "closed", ["scheduled", "implement", "review", "closed"]),
    ("emergency", "new", "authorize", ["authorize"]),
    ("emergency", "scheduled", "authorize", ["new", "authorize"]),
])
def test_state_steps_follow_the_model_of_the_change_type(change_type, current, target, steps):
    assert sn.state_steps(current, target, change_type) == steps


def test_a_state_outside_the_types_model_is_refused():
    with pytest.raises(sn.ItsmError, match="a state the standard change model does not have"):
        sn.state_steps("assess", "scheduled", "standard")


@pytest.mark.parametrize("current, target, message", [
    ("review", "implement", "past the ledger's implement"),
    ("closed", "review", "closed in ServiceNow"),
    ("canceled", "assess", "canceled in ServiceNow"),
    ("new", "done", "target state 'done'"),
])
def test_state_steps_refuse_backwards_and_out_of_final(current, target, message):
    with pytest.raises(sn.ItsmError, match=message):
        sn.state_steps(current, target)


def test_state_values_are_servicenows():
    assert [sn.SN_STATES[name] for name in sn.LIFECYCLE] == [-5, -4, -3, -2, -1, 0, 3]
    assert sn.sn_state_name("-2") == "scheduled" and sn.sn_state_name(3) == "closed" and sn.sn_state_name("7") is None


@pytest.mark.parametrize("outcome, code", [("successful", "successful"), ("successful_issues", "successful_issues"),
                                           ("unsuccessful", "unsuccessful")])
def test_close_codes(outcome, code):
    assert sn.close_fields(outcome, "why") == {"close_code": code, "close_notes": "why"}


def test_cancel_has_notes_only_and_an_unknown_outcome_is_refused():
    assert sn.close_fields("canceled", None) == {"close_notes": "canceled"}
    with pytest.raises(sn.ItsmError, match="outcome None has no ServiceNow close code"):
        sn.close_fields(None, "x")


def test_work_note_carries_the_hash_the_approvals_bind_to():
    note = sn.work_note("review", "scheduled", HASH_2, "1 approval")
    assert sn.HASH_NOTE.search(note).group(1) == HASH_2 and note.endswith("\n1 approval")


def test_query_values_with_operators_are_refused():
    assert sn.query_value("CHG-9") == "CHG-9"
    with pytest.raises(sn.ItsmError, match="holds"):
        sn.query_value("r1^ORname=r2")


def test_sn_times_round_trip():
    assert sn.sn_time("2026-01-02T03:04:05.9Z", "w") == "2026-01-02 03:04:05"
    assert sn.from_sn_time("2026-01-02 03:04:05") == "2026-01-02T03:04:05Z"
    assert sn.from_sn_time("") is None and sn.from_sn_time("yesterday") is None


def test_hash_in_force_is_the_last_one_noted_strictly_before():
    history = [("2026-01-01T00:00:01Z", HASH_1), ("2026-01-01T00:00:05Z", HASH_2)]
    assert sn.hash_at(history, "2026-01-01T00:00:00Z") is None
    assert sn.hash_at(history, "2026-01-01T00:00:04Z") == HASH_1
    assert sn.hash_at(history, "2026-01-01T00:00:05Z") == HASH_1  # same second: fail closed, the older hash
    assert sn.hash_at(history, "2026-01-01T00:00:06Z") == HASH_2


# ---------------------------------------------------------------------------------------------- policy section
def _policy(itsm):
    doc = {"policy_version": 1, "name": "p", "risk": {"rules": [], "tiers": {"low": 0, "medium": 20, "high": 50, "critical": 80}},
           "requirements": {tier: {"approvals": {"count": 1, "groups": ["netops"]}} for tier in ("low", "medium", "high", "critical")},
           "identities": {"carol": {"groups": ["netops"], "principals": ["carol@lab"]},
                          "bob": {"groups": ["netops", "cab"], "principals": ["bob@lab"]}}}
    if itsm is not None:
        doc["itsm"] = itsm
    return doc


def test_policy_itsm_section_defaults_and_values():
    policy = validate_policy(_policy({"required": True, "approval_source": True, "group_map": {"netops": "Network Ops"}}))
    assert policy["itsm"] == dict(sn.ITSM_DEFAULTS, required=True, approval_source=True, group_map={"netops": "Network Ops"})
    assert sn.itsm_settings(policy)["required"] is True
    assert "itsm" not in validate_policy(_policy(None))  # the hash of a policy without it is unchanged
    assert sn.itsm_settings(validate_policy(_policy({"enabled": False}))) is None


@pytest.mark.parametrize("itsm, where, message", [
    ({"requierd": True}, "itsm.requierd", "is not an itsm setting"),
    ({"required": "yes"}, "itsm.required", "must be true or false"),
    ({"retries": -1}, "itsm.retries", "integer >= 0"),
    ({"instance": "example.service-now.com"}, "itsm.instance", "not an http(s) URL"),
    ({"missing_ci": "ignore"}, "itsm.missing_ci", "neither warn nor fail"),
    ({"group_map": ["cab"]}, "itsm.group_map", "must map a policy group"),
    ([], "itsm", "must be a mapping"),
])
def test_policy_itsm_section_is_validated(itsm, where, message):
    with pytest.raises(PolicyError) as caught:
        validate_policy(_policy(itsm))
    assert caught.value.where == "policy: %s" % where and message in caught.value.problem and caught.value.fix


# ---------------------------------------------------------------------------------------------- client, no network
def test_client_refuses_without_url_or_credentials_and_hides_them():
    with pytest.raises(sn.ItsmError, match="not an http"):
        sn.ServiceNowClient("example.service-now.com", "u", "p")
    with pytest.raises(sn.ItsmError, match="no ServiceNow credentials"):
        sn.ServiceNowClient("https://example.service-now.com", "u")
    client = sn.client_from({"timeout_s": 3}, env={"SN_HOST": "https://x.example", "SN_USERNAME": "u", "SN_PASSWORD": "pw-secret-1"})
    assert "pw-secret-1" not in repr(client) and client.timeout == 3


def test_unreachable_is_retried_then_fails_closed_without_the_secret():
    slept = []
    client = sn.ServiceNowClient("http://127.0.0.1:9", token="tok-secret-2", timeout=1, retries=2, sleep=slept.append)
    with pytest.raises(sn.ItsmError) as caught:
        client.get("change_request", "abc")
    assert caught.value.transient and len(slept) == 2 and "unreachable" in caught.value.problem
    assert "tok-secret-2" not in str(caught.value.as_dict())


# ---------------------------------------------------------------------------------------------- approvals in the gate
POLICY = validate_policy(_policy(None))
ASSESSED = {"change_id": "CHG-9", "tier": "medium", "change_class": "normal", "content_hash": HASH_2}


def _sn_approval(approver, content_hash=HASH_2, **extra):
    approval = {"change_id": "CHG-9", "approver": approver, "decision": "approve", "content_hash": content_hash,
                "ts": "2026-11-30T10:00:00Z", "source": "servicenow", "verified": True}
    approval.update(extra)
    return approval


NOW = sn.parse_instant("2026-11-30T11:00:00Z")


def test_a_servicenow_approval_counts_under_the_same_rules():
    verdict = review_gate(POLICY, ASSESSED, [_sn_approval("bob")], "carol", "ci", now=NOW)
    assert verdict["decision"] == "pass" and verdict["counted"][0]["source"] == "servicenow"


@pytest.mark.parametrize("approval, reason", [
    (_sn_approval("carol"), "segregation of duties forbids approving your own change"),
    (_sn_approval("bob", HASH_1), "the content changed, earlier approvals are void"),
    (_sn_approval("mallory"), "ServiceNow user mallory is not an identity of the policy"),
    (_sn_approval("bob", verified=False, refusal="ServiceNow does not list bob in Network Ops"), "does not list bob"),
])
def test_a_servicenow_approval_is_refused_like_any_other(approval, reason):
    verdict = review_gate(POLICY, ASSESSED, [approval], "carol", "ci", now=NOW)
    assert verdict["decision"] == "fail" and reason in verdict["rejected"][0]["reason"]


def test_group_map_confirms_policy_groups_from_servicenow_membership():
    index = approvals_mod.identity_index(POLICY)
    assert sn.group_problem(index, "bob", ["Network Ops"], {"netops": "Network Ops"}) is None
    problem = sn.group_problem(index, "bob", ["Other"], {"netops": "Network Ops", "cab": "CAB"})
    assert "Network Ops, CAB" in problem and "policy group netops, cab" in problem
    assert sn.group_problem(index, "bob", [], {}) is None
