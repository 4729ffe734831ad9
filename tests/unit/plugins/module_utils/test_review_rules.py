# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The review gate's named rules, one by one, on plain data (awx-source approvals: no keys needed)."""

from __future__ import annotations

import datetime

from ansible_collections.governed.change.plugins.module_utils import review

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
HASH = "c" * 64
POLICY = {
    "identities": {"alice": {"groups": ["netops"]}, "alice2": {"groups": ["netops"], "person": "alice"},
                   "bob": {"groups": ["netops", "cab"]}, "carol": {"groups": ["cab"]}, "dave": {"groups": ["netops"]}},
    "requirements": {
        "low": {"approvals": {"count": 0}},
        "medium": {"approvals": {"count": 1, "segregation_of_duties": False}},
        "high": {"approvals": {"count": 2, "groups": ["netops"], "max_age_hours": 24}},
        "critical": {"approvals": {"count": 2, "groups": ["netops", "cab"], "max_age_hours": 24}},
    },
}


def awx(approver, decision="approve", hours_ago=1, content_hash=HASH, change_id="CHG-1", verified=True):
    ts = (NOW - datetime.timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    return {"approver": approver, "decision": decision, "change_id": change_id, "content_hash": content_hash, "ts": ts,
            "source": "awx", "verified": verified}


def verdict_of(tier="high", change_class="normal", approvals=(), author="dave", launcher="svc"):
    assessment = {"change_id": "CHG-1", "tier": tier, "content_hash": HASH, "change_class": change_class}
    return review.review_gate(POLICY, assessment, list(approvals), author, launcher, NOW)


def test_assessment_rule_names_what_is_missing_and_refuses_unknown_tiers():
    base = {"change_id": "CHG-1", "content_hash": HASH, "tier": "high"}
    assert review._assessment_problem(base) is None
    assert "lacks content_hash, tier" in review._assessment_problem(dict(base, content_hash="", tier=None))
    assert "tier 'urgent' is unknown" in review._assessment_problem(dict(base, tier="urgent"))


def test_record_rule_refuses_incomplete_foreign_or_undecided_records():
    good = awx("alice")
    assert review._record_problem(good, "CHG-1") is None
    assert review._record_problem(dict(good, ts=""), "CHG-1").startswith("the approval lacks ts;")
    assert "neither approve nor deny" in review._record_problem(dict(good, decision="maybe"), "CHG-1")
    assert "is for change CHG-2, not CHG-1" in review._record_problem(dict(good, change_id="CHG-2"), "CHG-1")


def test_source_rule_for_awx_and_unknown_sources():
    index = review.approvals_mod.identity_index(POLICY)
    assert review._source_problem(awx("alice"), index, None, "alice") == ("alice", None)
    identity, problem = review._source_problem(awx("zed"), index, None, None)
    assert identity is None and "AWX user zed is not an identity" in problem
    assert "not confirmed by the controller API" in review._source_problem(awx("alice", verified="yes"), index, None, "alice")[1]
    identity, problem = review._source_problem(dict(awx("alice"), source="email"), index, None, "alice")
    assert identity == "alice" and problem.startswith("unknown approval source email;")


def test_currency_rule_voids_other_content_future_and_expired_approvals():
    required = {"max_age_hours": 24}
    assert review._currency_problem(awx("alice", hours_ago=23), HASH, required, NOW) is None
    assert "the content changed" in review._currency_problem(awx("alice", content_hash="b" * 64), HASH, required, NOW)
    assert "in the future" in review._currency_problem(awx("alice", hours_ago=-1), HASH, required, NOW)
    # within the clock skew (5 minutes) a slightly early clock is tolerated
    assert review._currency_problem(awx("alice", hours_ago=-0.05), HASH, required, NOW) is None
    assert "older than 24 hours (expired)" in review._currency_problem(awx("alice", hours_ago=25), HASH, required, NOW)
    assert review._currency_problem(awx("alice", hours_ago=1000), HASH, {"max_age_hours": None}, NOW) is None
    assert "not an ISO 8601 UTC time" in review._currency_problem(dict(awx("alice"), ts="2026-11-27 12:00"), HASH, required, NOW)


def test_deny_rule_only_for_the_current_content_of_this_change():
    verdict = {"change_id": "CHG-1", "content_hash": HASH}
    assert review._denies_current_content(awx("bob", decision="deny"), verdict)
    assert not review._denies_current_content(awx("bob", decision="deny", content_hash="b" * 64), verdict)
    assert not review._denies_current_content(awx("bob", decision="deny", change_id="CHG-2"), verdict)
    assert not review._denies_current_content(awx("bob"), verdict)


def test_quorum_rules_in_order_segregation_then_groups_then_distinct_person():
    verdict = verdict_of()
    rules = review._Review(POLICY, dict(verdict, required=review.requirements_for(POLICY, "critical")), "dave", "svc", None,
                           None, NOW)
    assert "is the change's author" in rules.quorum_problem("dave", "dave", "dave")
    assert "none of the required [netops, cab]" not in (rules.quorum_problem("alice", "alice", "alice") or "")
    carol_only = review._Review(POLICY, dict(verdict, required=dict(rules.required, groups=["netops"])), "dave", "svc",
                                None, None, NOW)
    assert "carol is in groups [cab], none of the required [netops]" in carol_only.quorum_problem("carol", "carol", "carol")
    rules.seen["alice"] = (0, "alice")
    assert "already counted (approval #0 by alice, the same person" in rules.quorum_problem("alice2", "alice2", "alice")
    assert rules.quorum_problem("bob", "bob", "bob") is None


def test_segregation_rule_is_off_when_the_tier_turns_it_off():
    verdict = dict(verdict_of(tier="medium"), required=review.requirements_for(POLICY, "medium"))
    rules = review._Review(POLICY, verdict, "dave", "svc", None, None, NOW)
    assert review._segregation_rule(rules, "dave", "dave", "dave") is None
    assert review._unknown_parties(verdict["required"], None, None) == []


def test_exemptions_shortfalls_and_missing_groups():
    required = review.requirements_for(POLICY, "critical")
    assert review._exemption({"change_class": "standard", "required": required}, {"standard_change": "ntp"}) == \
        "standard change (pre-approved template ntp): no approvals required."
    assert review._exemption({"change_class": "normal", "required": {"count": 0}, "tier": "low"}, {}) == \
        "tier low requires no approvals."
    assert review._exemption({"change_class": "normal", "required": required, "tier": "critical"}, {}) is None
    assert len(review._unknown_parties(required, "", None)) == 2
    one = {"counted": [{"identity": "alice", "groups": ["netops"]}], "required": required, "tier": "critical"}
    assert review._count_shortfall(one) == ["1 of 2 required distinct approvals for tier critical; fix: 1 more approver(s) "
                                            "from [netops, cab] sign with `governed-change approve`."]
    assert review._missing_groups(one) == ["no approval from group cab; fix: a member of cab approves."]
    two = dict(one, counted=one["counted"] + [{"identity": "carol", "groups": ["cab"]}])
    assert review._count_shortfall(two) == [] and review._missing_groups(two) == []


def test_gate_decisions_through_the_rules():
    assert verdict_of(approvals=[awx("alice"), awx("bob")])["decision"] == "pass"
    same_person = verdict_of(approvals=[awx("alice"), awx("alice2")])
    assert same_person["decision"] == "fail" and [c["identity"] for c in same_person["counted"]] == ["alice"]
    denied = verdict_of(approvals=[awx("alice"), awx("bob"), awx("carol", decision="deny", verified=False)])
    assert denied["decision"] == "fail" and denied["denied_by"][0]["verified"] is False
    assert denied["reasons"][0].startswith("denied by carol;")
    assert "deny honoured although" in denied["rejected"][-1]["reason"]
    assert verdict_of(change_class="standard")["decision"] == "pass"
    no_launcher = verdict_of(approvals=[awx("alice"), awx("bob")], launcher=None)
    assert no_launcher["decision"] == "fail" and "launcher (who runs the pipeline) is unknown" in no_launcher["reasons"][0]
    junk = verdict_of(approvals=["alice"])
    assert junk["rejected"][0]["reason"].startswith("not an approval record (got str)")
