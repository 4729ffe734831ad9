# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The review gate: quorum of distinct, verified, current approvals with segregation of duties."""

from __future__ import annotations

import datetime

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils.change_request import shown
from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, PolicyError
from ansible_collections.governed.change.plugins.module_utils.clock import utc_now as clock_now

TIERS = ("low", "medium", "high", "critical")
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _parse_ts(text):
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(datetime.timezone.utc) if moment.tzinfo else None


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def change_id_of(assessment):
    """The change id an assessment is about (``change_id`` or ``id``)."""
    return assessment.get("change_id") or assessment.get("id")


def requirements_for(policy, tier):
    """The approvals requirement of a tier, with fail-closed defaults for unset keys."""
    reqs = (policy or {}).get("requirements") or {}
    if tier not in reqs:
        raise PolicyError("the policy has no requirements for tier %s." % tier, where="policy: requirements.%s" % tier,
                          fix="define requirements for all four tiers (low, medium, high, critical).")
    spec = (reqs[tier] or {}).get("approvals") or {}
    count = spec.get("count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise PolicyError("approvals.count must be a non-negative integer.", where="policy: requirements.%s.approvals.count" % tier,
                          fix="set an integer such as 2.")
    max_age = spec.get("max_age_hours")
    return {"count": count, "groups": list(spec.get("groups") or []),
            "segregation_of_duties": spec.get("segregation_of_duties", True) is not False,
            "max_age_hours": max_age}


def review_gate(policy, assessment, approvals, author, launcher, now=None, allowed_signers=None, policy_dir=None):
    """Decide whether the change's approvals satisfy the policy for its tier.

    ``approvals``: records as built by approvals.sign_approval (source ssh: the signature is verified here, a
    stored ``verified`` flag is never trusted) or awx.read_workflow_approvals (source awx: ``verified`` is
    true only when the controller API answered). Identity = the policy identity name an approver or
    principal maps to; distinct approvers are distinct identities.
    Returns {decision: pass|fail, reasons, counted, rejected, required, ...}. Never passes on doubt.
    """
    now = now or clock_now()
    if now.tzinfo is None:
        raise GovernedChangeError("review_gate was given a naive 'now'.", where="review_gate.now", fix="pass an aware datetime.")
    assessment = assessment or {}
    approvals = list(approvals or [])
    reasons, counted, rejected = [], [], []
    change_id = change_id_of(assessment)
    content_hash = assessment.get("content_hash")
    tier = assessment.get("tier")
    change_class = assessment.get("change_class")
    verdict = {"gate": "review", "decision": "fail", "change_id": change_id, "tier": tier, "change_class": change_class,
               "content_hash": content_hash, "author": author, "launcher": launcher, "evaluated_at": _iso(now),
               "reasons": reasons, "counted": counted, "rejected": rejected, "denied_by": [], "required": {},
               "inputs": {"policy_sha256": sha256_of(policy or {}), "assessment_sha256": sha256_of(assessment),
                          "approvals_sha256": sha256_of(approvals)}}

    missing = [name for name, value in (("change_id", change_id), ("content_hash", content_hash), ("tier", tier)) if not value]
    if missing:
        reasons.append("the assessment lacks %s; fix: run governed.change.assess and pass its result." % ", ".join(missing))
        return verdict
    if tier not in TIERS:
        reasons.append("the assessment tier %r is unknown; fix: re-run governed.change.assess." % (tier,))
        return verdict

    required = requirements_for(policy, tier)
    verdict["required"] = required
    index = approvals_mod.identity_index(policy)
    signers = approvals_mod.allowed_signers_path(policy, allowed_signers, policy_dir)
    author_id = approvals_mod.resolve_identity(index, author) or author
    launcher_id = approvals_mod.resolve_identity(index, launcher) or launcher
    # Segregation of duties and distinct approvers compare persons: identities sharing `person` are one person.
    author_person = approvals_mod.person_of(index, author_id)
    launcher_person = approvals_mod.person_of(index, launcher_id)

    seen = {}
    for position, approval in enumerate(approvals):
        if not isinstance(approval, dict):
            rejected.append({"approver": None, "index": position, "reason": "not an approval record (got %s); fix: record "
                             "approvals with governed-change approve or read them from AWX." % type(approval).__name__})
            continue
        name = approval.get("approver")
        problem, identity = _check_one(approval, index, signers, change_id, content_hash, required, now)
        person = approvals_mod.person_of(index, identity)
        entry = {"approver": name, "identity": identity, "person": person, "index": position, "decision": approval.get("decision"),
                 "source": approval.get("source"), "principal": approval.get("principal"), "ts": approval.get("ts")}
        # A deny for the current content wins even when it is otherwise imperfect (blocking is always safe).
        if approval.get("decision") == "deny" and approval.get("change_id") == change_id \
                and approval.get("content_hash") == content_hash:
            verdict["denied_by"].append({"approver": name, "identity": identity, "ts": approval.get("ts"),
                                         "comment": approval.get("comment"), "verified": problem is None})
            rejected.append(dict(entry, reason="denied the change" + ("" if problem is None else " (deny honoured although: %s)" % problem)))
            continue
        if problem is None and required["segregation_of_duties"]:
            problem = _own_change(identity, name, person, (("author", author, author_id, author_person),
                                                           ("launcher", launcher, launcher_id, launcher_person)), required)
        if problem is None and required["groups"]:
            groups = approvals_mod.identity_groups(index, identity)
            if not set(groups) & set(required["groups"]):
                problem = ("%s is in groups [%s], none of the required [%s]; fix: an approver from a required group signs."
                           % (identity, ", ".join(groups), ", ".join(required["groups"])))
        if problem is None and person in seen:
            first = seen[person]
            problem = ("%s already counted (approval #%d%s); the same person under another key or name counts once."
                       % (identity, first[0], "" if first[1] == identity else " by %s, the same person per the policy's "
                          "identities.<name>.person" % first[1]))
        if problem is not None:
            rejected.append(dict(entry, reason=problem))
            continue
        seen[person] = (position, identity)
        counted.append(dict(entry, groups=approvals_mod.identity_groups(index, identity)))

    if verdict["denied_by"]:
        reasons.append("denied by %s; fix: address the objection, change the content (a new assessment voids the deny) or "
                       "cancel the change." % ", ".join(str(d["identity"] or d["approver"]) for d in verdict["denied_by"]))
        return verdict

    if change_class == "standard":
        verdict["decision"] = "pass"
        reasons.append("standard change (pre-approved template%s): no approvals required."
                       % (" " + assessment["standard_change"] if isinstance(assessment.get("standard_change"), str) else ""))
        return verdict
    if required["count"] == 0:
        verdict["decision"] = "pass"
        reasons.append("tier %s requires no approvals." % tier)
        return verdict

    if required["segregation_of_duties"]:
        if not author:
            reasons.append("the change author is unknown, so segregation of duties cannot be checked; fix: pass the author.")
        if not launcher:
            reasons.append("the launcher (who runs the pipeline) is unknown, so segregation of duties cannot be checked; "
                           "fix: pass the launching user.")
    if len(counted) < required["count"]:
        reasons.append("%d of %d required distinct approvals for tier %s; fix: %d more approver(s)%s sign with "
                       "`governed-change approve`." % (len(counted), required["count"], tier, required["count"] - len(counted),
                                                       (" from [%s]" % ", ".join(required["groups"])) if required["groups"] else ""))
    represented = {group for item in counted for group in item["groups"]}
    for group in required["groups"]:
        if group not in represented:
            reasons.append("no approval from group %s; fix: a member of %s approves." % (group, group))
    if reasons:
        return verdict
    verdict["decision"] = "pass"
    reasons.append("%d distinct approvals (%s) meet tier %s's requirement of %d." % (
        len(counted), ", ".join(item["identity"] for item in counted), tier, required["count"]))
    return verdict


def _own_change(identity, name, person, roles, required):
    """The segregation-of-duties refusal when the approver is the author or launcher (same person counts), else None."""
    for role, given, role_identity, role_person in roles:
        if identity == role_identity or (name or "").casefold() == (given or "").casefold():
            return ("%s is the change's %s; segregation of duties forbids approving your own change; fix: another person "
                    "from %s approves." % (identity, role, ", ".join(required["groups"]) or "the approvers"))
        if person is not None and role_person is not None and person == role_person:
            return ("%s is the same person as the change's %s %s (policy identities.<name>.person); segregation of duties "
                    "forbids approving your own change; fix: another person from %s approves."
                    % (identity, role, role_identity, ", ".join(required["groups"]) or "the approvers"))
    return None


def _check_one(approval, index, signers, change_id, content_hash, required, now):
    """(problem or None, identity or None) for one approval, before quorum rules."""
    name = approval.get("approver")
    identity = approvals_mod.resolve_identity(index, name)
    for key in ("approver", "decision", "change_id", "content_hash", "ts", "source"):
        if not approval.get(key):
            return "the approval lacks %s; fix: record approvals with governed-change approve or from AWX." % key, identity
    if approval["decision"] not in approvals_mod.DECISIONS:
        return "decision %s is neither approve nor deny; fix: sign approve or deny." % shown(approval["decision"]), identity
    if approval["change_id"] != change_id:
        return ("the approval is for change %s, not %s; fix: approve this change's assessment."
                % (shown(approval["change_id"]), change_id)), identity
    source = approval["source"]
    if source == "ssh":
        identity, problem = approvals_mod.verify_approval(approval, index, signers)
        if problem:
            return problem, identity
    elif source == "awx":
        if identity is None:
            return ("AWX user %s is not an identity of the policy; fix: name the identity after the AWX username (or list "
                    "the username as one of its principals)." % shown(name)), None
        if approval.get("verified") is not True:
            return "the AWX approval was not confirmed by the controller API; fix: re-read approvals from AWX.", identity
    else:
        return "unknown approval source %s; fix: use ssh (governed-change approve) or awx." % shown(source), identity
    if approval["content_hash"] != content_hash:
        return ("the approval is for content %s..., the change is now %s...: the content changed, earlier approvals are "
                "void; fix: approve the current assessment." % (approval["content_hash"][:12], content_hash[:12])), identity
    moment = _parse_ts(approval["ts"])
    if moment is None:
        return ("the approval time %s is not an ISO 8601 UTC time; fix: sign again (the time is set when signing)."
                % shown(approval["ts"])), identity
    if moment > now + CLOCK_SKEW:
        return "the approval time %s is in the future; fix: check the approver's clock and sign again." % approval["ts"], identity
    max_age = required.get("max_age_hours")
    if max_age is not None and now - moment > datetime.timedelta(hours=max_age):
        return ("the approval from %s is older than %s hours (expired); fix: approve again." % (approval["ts"], max_age)), identity
    return None, identity
