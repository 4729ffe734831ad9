# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Review gate: every attack on peer review refused, the honest path passing (real ed25519 keys)."""

from __future__ import annotations

import datetime
import os
import shutil

import pytest

from ansible_collections.governed.change.plugins.module_utils import approvals as ap
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

from signing_keys import make_signing_keys

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen")

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
HASH = "c" * 64
OLD_HASH = "b" * 64
# person -> (key file, principal); alice has two keys (two principals), mallory is in no allowed_signers
KEYS = {"alice": "alice@lab", "alice_laptop": "alice@laptop", "bob": "bob@lab", "carol": "carol@lab",
        "dave": "dave@lab", "mallory": "mallory@evil"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    signers = make_signing_keys(base, KEYS, unlisted=("mallory",))
    return {"dir": base, "signers": signers, **{name: str(base / name) for name in KEYS}}


@pytest.fixture
def policy(keys):
    return {
        "identities": {
            "alice": {"groups": ["netops"], "principals": ["alice@lab", "alice@laptop"]},
            "bob": {"groups": ["netops", "cab"], "principals": ["bob@lab"]},
            "carol": {"groups": ["cab"], "principals": ["carol@lab"]},
            "dave": {"groups": ["netops"], "principals": ["dave@lab"]},
        },
        "allowed_signers": keys["signers"],
        "requirements": {
            "low": {"approvals": {"count": 0, "groups": [], "segregation_of_duties": True, "max_age_hours": 24}},
            "medium": {"approvals": {"count": 1, "groups": [], "segregation_of_duties": True, "max_age_hours": 24}},
            "high": {"approvals": {"count": 2, "groups": ["netops"], "segregation_of_duties": True, "max_age_hours": 24}},
            "critical": {"approvals": {"count": 2, "groups": ["netops", "cab"], "segregation_of_duties": True,
                                       "max_age_hours": 24}},
        },
    }


def assessment(tier="high", content_hash=HASH, change_class="normal"):
    return {"change_id": "CHG-1001", "tier": tier, "content_hash": content_hash, "change_class": change_class}


def sign(keys, key, approver, principal=None, decision="approve", content_hash=HASH, hours_ago=1, change_id="CHG-1001"):
    ts = ap.now_z(NOW - datetime.timedelta(hours=hours_ago))
    return ap.sign_approval(change_id, content_hash, decision, approver, keys[key], principal=principal or KEYS[key],
                            comment="looks good", ts=ts)


def gate(policy, approvals, tier="high", author="dave", launcher="svc-awx", **kw):
    return review_gate(policy, assessment(tier=tier, **kw), approvals, author, launcher, NOW)


def reasons_of(verdict):
    return " | ".join(verdict["reasons"] + [r["reason"] for r in verdict["rejected"]])


# -- the honest path --------------------------------------------------------------------------------------

def test_honest_path_passes(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")])
    assert verdict["decision"] == "pass", verdict["reasons"]
    assert [c["identity"] for c in verdict["counted"]] == ["alice", "bob"]
    assert verdict["rejected"] == []
    assert verdict["required"] == {"count": 2, "groups": ["netops"], "segregation_of_duties": True, "max_age_hours": 24}
    assert set(verdict["inputs"]) == {"policy_sha256", "assessment_sha256", "approvals_sha256"}


def test_honest_critical_needs_each_group(keys, policy):
    only_netops = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "dave", "dave")], tier="critical", author="erin")
    assert only_netops["decision"] == "fail"
    assert "no approval from group cab" in reasons_of(only_netops)
    both = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")], tier="critical", author="erin")
    assert both["decision"] == "pass", both["reasons"]


def test_standard_change_needs_no_approval(policy):
    verdict = review_gate(policy, dict(assessment(change_class="standard"), standard_change="edge_acl_update"), [],
                          "dave", "dave", NOW)
    assert verdict["decision"] == "pass"
    assert verdict["reasons"] == ["standard change (pre-approved template edge_acl_update): no approvals required."]


def test_tier_with_zero_approvals_passes_with_reason(policy):
    verdict = gate(policy, [], tier="low")
    assert verdict["decision"] == "pass" and verdict["reasons"] == ["tier low requires no approvals."]


# -- attacks ----------------------------------------------------------------------------------------------

def test_self_approval_by_author_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "dave", "dave")], author="dave")
    assert verdict["decision"] == "fail"
    assert verdict["rejected"][0]["approver"] == "dave"
    assert "dave is the change's author; segregation of duties" in verdict["rejected"][0]["reason"]
    assert "1 of 2 required distinct approvals" in verdict["reasons"][0]


def test_author_named_by_principal_still_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "dave", "dave")], author="dave@lab")
    assert verdict["decision"] == "fail" and "author" in verdict["rejected"][0]["reason"]


def test_approval_by_launcher_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")], launcher="bob")
    assert verdict["decision"] == "fail"
    assert verdict["rejected"][0]["approver"] == "bob" and "launcher" in verdict["rejected"][0]["reason"]


def test_same_person_under_two_keys_counts_once(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "alice_laptop", "alice")])
    assert verdict["decision"] == "fail"
    assert [c["identity"] for c in verdict["counted"]] == ["alice"]
    assert "alice already counted" in verdict["rejected"][0]["reason"]


def test_same_person_under_two_names_counts_once(keys, policy):
    # the second approval names the person by a principal and in another case: same identity
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "alice_laptop", "alice@laptop"),
                            sign(keys, "alice", "ALICE")])
    assert verdict["decision"] == "fail"
    assert len(verdict["counted"]) == 1
    assert [r["identity"] for r in verdict["rejected"]] == ["alice", "alice"]


def test_approver_outside_required_group_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "carol", "carol")])
    assert verdict["decision"] == "fail"
    assert "carol is in groups [cab], none of the required [netops]" in verdict["rejected"][0]["reason"]


def test_approval_for_older_content_hash_is_void(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob", content_hash=OLD_HASH)])
    assert verdict["decision"] == "fail"
    assert "the content changed, earlier approvals are void" in verdict["rejected"][0]["reason"]


def test_rebinding_an_old_approval_to_the_new_hash_breaks_its_signature(keys, policy):
    old = sign(keys, "bob", "bob", content_hash=OLD_HASH)
    verdict = gate(policy, [sign(keys, "alice", "alice"), dict(old, content_hash=HASH)])
    assert verdict["decision"] == "fail"
    assert "does not verify for principal bob@lab" in verdict["rejected"][0]["reason"]


def test_expired_approval_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob", hours_ago=25)])
    assert verdict["decision"] == "fail"
    assert "older than 24 hours (expired)" in verdict["rejected"][0]["reason"]


def test_future_dated_approval_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob", hours_ago=-2)])
    assert verdict["decision"] == "fail" and "in the future" in verdict["rejected"][0]["reason"]


def test_forged_signature_refused(keys, policy):
    # mallory signs a statement that claims to come from bob
    forged = sign(keys, "mallory", "bob", principal="bob@lab")
    verdict = gate(policy, [sign(keys, "alice", "alice"), forged])
    assert verdict["decision"] == "fail"
    assert "does not verify for principal bob@lab" in verdict["rejected"][0]["reason"]


def test_corrupted_signature_refused(keys, policy):
    good = sign(keys, "bob", "bob")
    lines = good["signature"].splitlines()
    body = lines[3]
    lines[3] = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    verdict = gate(policy, [sign(keys, "alice", "alice"), dict(good, signature="\n".join(lines) + "\n")])
    assert verdict["decision"] == "fail"
    assert "does not verify" in verdict["rejected"][0]["reason"]
    garbage = gate(policy, [sign(keys, "alice", "alice"), dict(good, signature="-----BEGIN SSH SIGNATURE-----\nnope\n")])
    assert garbage["decision"] == "fail"


def test_signed_with_own_key_but_claiming_another_principal_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "carol", "bob", principal="bob@lab")])
    assert verdict["decision"] == "fail" and verdict["rejected"][0]["approver"] == "bob"
    principal_mismatch = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob", principal="alice@lab")])
    assert "is not one of identity bob's principals" in principal_mismatch["rejected"][0]["reason"]


def test_deny_among_approvals_wins(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob"),
                            sign(keys, "carol", "carol", decision="deny")])
    assert verdict["decision"] == "fail"
    assert verdict["denied_by"][0]["identity"] == "carol" and verdict["denied_by"][0]["verified"] is True
    assert verdict["reasons"][0].startswith("denied by carol")


def test_deny_on_standard_change_still_wins(keys, policy):
    verdict = review_gate(policy, assessment(change_class="standard"), [sign(keys, "bob", "bob", decision="deny")],
                          "dave", "svc", NOW)
    assert verdict["decision"] == "fail"


def test_missing_allowed_signers_file_refused(keys, policy):
    policy["allowed_signers"] = str(keys["dir"] / "missing_allowed_signers")
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")])
    assert verdict["decision"] == "fail" and verdict["counted"] == []
    assert all("allowed_signers file" in r["reason"] and "does not exist" in r["reason"] for r in verdict["rejected"])


def test_allowed_signers_relative_to_policy_dir(keys, policy):
    policy["allowed_signers"] = "allowed_signers"
    verdict = review_gate(policy, assessment(), [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")], "dave", "svc",
                          NOW, policy_dir=str(keys["dir"]))
    assert verdict["decision"] == "pass"


def test_unknown_identity_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "mallory", "mallory")])
    assert "not an identity of the policy" in verdict["rejected"][0]["reason"]


def test_stored_verified_flag_is_not_trusted_for_ssh(keys, policy):
    fake = dict(sign(keys, "bob", "bob"), signature=None, verified=True)
    verdict = gate(policy, [sign(keys, "alice", "alice"), fake])
    assert verdict["decision"] == "fail" and "no SSH signature" in verdict["rejected"][0]["reason"]


def test_approval_for_another_change_refused(keys, policy):
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob", change_id="CHG-9")])
    assert "is for change CHG-9, not CHG-1001" in verdict["rejected"][0]["reason"]


def test_unknown_launcher_or_author_fails_closed(keys, policy):
    approvals = [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")]
    assert gate(policy, approvals, launcher=None)["decision"] == "fail"
    assert "launcher" in gate(policy, approvals, launcher=None)["reasons"][0]
    assert gate(policy, approvals, author="")["decision"] == "fail"


def test_incomplete_assessment_fails_closed(policy):
    verdict = review_gate(policy, {"change_id": "CHG-1", "tier": "high"}, [], "dave", "svc", NOW)
    assert verdict["decision"] == "fail" and "lacks content_hash" in verdict["reasons"][0]
    assert review_gate(policy, dict(assessment(), tier="extreme"), [], "d", "s", NOW)["decision"] == "fail"


def test_principal_claimed_by_two_identities_is_policy_error(policy):
    policy["identities"]["carol"]["principals"].append("bob@lab")
    with pytest.raises(PolicyError) as exc:
        review_gate(policy, assessment(), [], "dave", "svc", NOW)
    assert "claimed by identities bob and carol" in str(exc.value) and exc.value.fix


def test_tier_without_requirements_is_policy_error(policy):
    del policy["requirements"]["high"]
    with pytest.raises(PolicyError, match="no requirements for tier high"):
        review_gate(policy, assessment(), [], "dave", "svc", NOW)


def test_statement_text_is_canonical_and_refuses_injection():
    text = ap.statement_text("CHG-1", HASH, "approve", "alice", "2026-11-27T11:00:00Z", "ok")
    assert text == ("governed.change approval v1\nchange: CHG-1\ncontent_hash: %s\ndecision: approve\napprover: alice\n"
                    "time: 2026-11-27T11:00:00Z\ncomment: ok\n" % HASH)
    with pytest.raises(ValidationError, match="line break"):
        ap.statement_text("CHG-1", HASH, "approve", "alice", "2026-11-27T11:00:00Z", "ok\ndecision: deny")
    with pytest.raises(ValidationError, match="approve or deny"):
        ap.statement_text("CHG-1", HASH, "maybe", "alice", "2026-11-27T11:00:00Z")


def test_signing_never_exposes_key_material(keys, tmp_path):
    with open(keys["alice"], encoding="utf-8") as handle:
        secret = handle.read()
    approval = sign(keys, "alice", "alice")
    assert "PRIVATE KEY" not in str(approval) and secret.splitlines()[1] not in str(approval)
    bad = tmp_path / "not_a_key"
    bad.write_text("garbage")
    os.chmod(str(bad), 0o600)
    with pytest.raises(ValidationError) as exc:
        ap.sign_approval("CHG-1", HASH, "approve", "alice", str(bad))
    assert "ssh-keygen -Y sign failed" in str(exc.value)


def test_normalized_policy_allowed_signers_path_is_used(keys, policy):
    # policy.py resolves allowed_signers relative to the policy file into allowed_signers_path
    policy["allowed_signers"] = "allowed_signers"
    policy["allowed_signers_path"] = keys["signers"]
    verdict = gate(policy, [sign(keys, "alice", "alice"), sign(keys, "bob", "bob")])
    assert verdict["decision"] == "pass", verdict["reasons"]
