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
from ansible_collections.governed.change.plugins.module_utils.clock import instant_or_none, iso_z, utc_now as clock_now

TIERS = ("low", "medium", "high", "critical")
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _parse_ts(text):
    """An approval's time as an aware UTC datetime (clock.instant_or_none), or None when it is not one."""
    return instant_or_none(text, where="approval time") if isinstance(text, str) else None


def _iso(moment):
    return iso_z(moment, precision="seconds")


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
    verdict = _new_verdict(policy, assessment, approvals, author, launcher, now)
    problem = _assessment_problem(verdict)
    if problem:
        verdict["reasons"].append(problem)
        return verdict
    verdict["required"] = requirements_for(policy, verdict["tier"])
    review = _Review(policy, verdict, author, launcher, allowed_signers, policy_dir, now)
    for position, approval in enumerate(approvals):
        review.weigh(position, approval)
    _decide(verdict, assessment, author, launcher)
    return verdict


def _new_verdict(policy, assessment, approvals, author, launcher, now):
    """The failing verdict every review starts from (it passes only when a rule below lets it)."""
    return {"gate": "review", "decision": "fail", "change_id": change_id_of(assessment), "tier": assessment.get("tier"),
            "change_class": assessment.get("change_class"), "content_hash": assessment.get("content_hash"),
            "author": author, "launcher": launcher, "evaluated_at": _iso(now),
            "reasons": [], "counted": [], "rejected": [], "denied_by": [], "required": {},
            "inputs": {"policy_sha256": sha256_of(policy or {}), "assessment_sha256": sha256_of(assessment),
                       "approvals_sha256": sha256_of(approvals)}}


def _assessment_problem(verdict):
    """Rule: the assessment names its change, its content hash and a known tier (else the gate cannot decide)."""
    missing = [name for name in ("change_id", "content_hash", "tier") if not verdict[name]]
    if missing:
        return "the assessment lacks %s; fix: run governed.change.assess and pass its result." % ", ".join(missing)
    if verdict["tier"] not in TIERS:
        return "the assessment tier %r is unknown; fix: re-run governed.change.assess." % (verdict["tier"],)
    return None


class _Review:
    """One review's identities and running tally: each approval is weighed once, in order."""

    def __init__(self, policy, verdict, author, launcher, allowed_signers, policy_dir, now):
        self.verdict, self.required, self.now = verdict, verdict["required"], now
        self.index = approvals_mod.identity_index(policy)
        self.signers = approvals_mod.allowed_signers_path(policy, allowed_signers, policy_dir)
        author_id = approvals_mod.resolve_identity(self.index, author) or author
        launcher_id = approvals_mod.resolve_identity(self.index, launcher) or launcher
        # Segregation of duties and distinct approvers compare persons: identities sharing `person` are one person.
        self.roles = (("author", author, author_id, approvals_mod.person_of(self.index, author_id)),
                      ("launcher", launcher, launcher_id, approvals_mod.person_of(self.index, launcher_id)))
        self.seen = {}

    def weigh(self, position, approval):
        """Count, reject or record as a deny one approval (the verdict's counted, rejected and denied_by)."""
        verdict = self.verdict
        if not isinstance(approval, dict):
            verdict["rejected"].append({"approver": None, "index": position, "reason": "not an approval record (got %s); fix: "
                                        "record approvals with governed-change approve or read them from AWX."
                                        % type(approval).__name__})
            return
        name = approval.get("approver")
        problem, identity = _check_one(approval, self.index, self.signers, verdict["change_id"], verdict["content_hash"],
                                       self.required, self.now)
        person = approvals_mod.person_of(self.index, identity)
        entry = {"approver": name, "identity": identity, "person": person, "index": position, "decision": approval.get("decision"),
                 "source": approval.get("source"), "principal": approval.get("principal"), "ts": approval.get("ts")}
        if _denies_current_content(approval, verdict):
            _record_deny(verdict, approval, entry, problem)
            return
        if problem is None:
            problem = self.quorum_problem(identity, name, person)
        if problem is not None:
            verdict["rejected"].append(dict(entry, reason=problem))
            return
        self.seen[person] = (position, identity)
        verdict["counted"].append(dict(entry, groups=approvals_mod.identity_groups(self.index, identity)))

    def quorum_problem(self, identity, name, person):
        """The first quorum rule (APPROVAL_RULES) a verified approval breaks, or None when it counts."""
        for rule in APPROVAL_RULES:
            problem = rule(self, identity, name, person)
            if problem is not None:
                return problem
        return None


def _denies_current_content(approval, verdict):
    """Rule: a deny for this change's current content blocks, even when it is otherwise imperfect (blocking is safe)."""
    return approval.get("decision") == "deny" and approval.get("change_id") == verdict["change_id"] and (
        approval.get("content_hash") == verdict["content_hash"])


def _record_deny(verdict, approval, entry, problem):
    """A deny is listed in denied_by and rejected (it never counts), noting what was wrong with it."""
    verdict["denied_by"].append({"approver": entry["approver"], "identity": entry["identity"], "ts": approval.get("ts"),
                                 "comment": approval.get("comment"), "verified": problem is None})
    note = "" if problem is None else " (deny honoured although: %s)" % problem
    verdict["rejected"].append(dict(entry, reason="denied the change" + note))


def _segregation_rule(review, identity, name, person):
    """Rule: with segregation of duties, neither the author nor the launcher (nor the same person) approves."""
    if not review.required["segregation_of_duties"]:
        return None
    return _own_change(identity, name, person, review.roles, review.required)


def _group_rule(review, identity, _name, _person):
    """Rule: when the tier names groups, an approver belongs to one of them."""
    required = review.required["groups"]
    if not required:
        return None
    groups = approvals_mod.identity_groups(review.index, identity)
    if set(groups) & set(required):
        return None
    return ("%s is in groups [%s], none of the required [%s]; fix: an approver from a required group signs."
            % (identity, ", ".join(groups), ", ".join(required)))


def _distinct_person_rule(review, identity, _name, person):
    """Rule: one person counts once, whatever key, principal or identity they sign with."""
    if person not in review.seen:
        return None
    first = review.seen[person]
    return ("%s already counted (approval #%d%s); the same person under another key or name counts once."
            % (identity, first[0], "" if first[1] == identity else " by %s, the same person per the policy's "
               "identities.<name>.person" % first[1]))


# The quorum rules, in the order their refusals are reported (the first broken one is the approval's reason).
APPROVAL_RULES = (_segregation_rule, _group_rule, _distinct_person_rule)


def _decide(verdict, assessment, author, launcher):
    """Set the decision: a deny blocks; an exemption passes; else the quorum rules' shortfalls, or a pass."""
    reasons = verdict["reasons"]
    if verdict["denied_by"]:
        reasons.append("denied by %s; fix: address the objection, change the content (a new assessment voids the deny) or "
                       "cancel the change." % ", ".join(str(d["identity"] or d["approver"]) for d in verdict["denied_by"]))
        return
    exemption = _exemption(verdict, assessment)
    if exemption:
        verdict["decision"] = "pass"
        reasons.append(exemption)
        return
    shortfalls = [*_unknown_parties(verdict["required"], author, launcher), *_count_shortfall(verdict), *_missing_groups(verdict)]
    if shortfalls:
        reasons.extend(shortfalls)
        return
    counted, required = verdict["counted"], verdict["required"]
    verdict["decision"] = "pass"
    reasons.append("%d distinct approvals (%s) meet tier %s's requirement of %d." % (
        len(counted), ", ".join(item["identity"] for item in counted), verdict["tier"], required["count"]))


def _exemption(verdict, assessment):
    """Rule: a standard change (a pre-approved template) or a tier requiring no approvals passes without any."""
    if verdict["change_class"] == "standard":
        template = assessment.get("standard_change")
        return ("standard change (pre-approved template%s): no approvals required."
                % (" " + template if isinstance(template, str) else ""))
    if verdict["required"]["count"] == 0:
        return "tier %s requires no approvals." % verdict["tier"]
    return None


def _unknown_parties(required, author, launcher):
    """Rule: segregation of duties needs to know the author and the launcher (an unknown one fails the gate)."""
    if not required["segregation_of_duties"]:
        return []
    out = []
    if not author:
        out.append("the change author is unknown, so segregation of duties cannot be checked; fix: pass the author.")
    if not launcher:
        out.append("the launcher (who runs the pipeline) is unknown, so segregation of duties cannot be checked; "
                   "fix: pass the launching user.")
    return out


def _count_shortfall(verdict):
    """Rule: at least the tier's count of distinct approvals are counted."""
    counted, required = len(verdict["counted"]), verdict["required"]
    if counted >= required["count"]:
        return []
    return ["%d of %d required distinct approvals for tier %s; fix: %d more approver(s)%s sign with `governed-change approve`."
            % (counted, required["count"], verdict["tier"], required["count"] - counted,
               (" from [%s]" % ", ".join(required["groups"])) if required["groups"] else "")]


def _missing_groups(verdict):
    """Rule: every group the tier names is represented among the counted approvals."""
    represented = {group for item in verdict["counted"] for group in item["groups"]}
    return ["no approval from group %s; fix: a member of %s approves." % (group, group)
            for group in verdict["required"]["groups"] if group not in represented]


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
    identity = approvals_mod.resolve_identity(index, approval.get("approver"))
    problem = _record_problem(approval, change_id)
    if problem:
        return problem, identity
    identity, problem = _source_problem(approval, index, signers, identity)
    if problem:
        return problem, identity
    return _currency_problem(approval, content_hash, required, now), identity


def _record_problem(approval, change_id):
    """Rule: an approval record is complete, decides approve or deny, and is about this change."""
    for key in ("approver", "decision", "change_id", "content_hash", "ts", "source"):
        if not approval.get(key):
            return "the approval lacks %s; fix: record approvals with governed-change approve or from AWX." % key
    if approval["decision"] not in approvals_mod.DECISIONS:
        return "decision %s is neither approve nor deny; fix: sign approve or deny." % shown(approval["decision"])
    if approval["change_id"] != change_id:
        return ("the approval is for change %s, not %s; fix: approve this change's assessment."
                % (shown(approval["change_id"]), change_id))
    return None


def _source_problem(approval, index, signers, identity):
    """Rule: an ssh approval's signature verifies; an awx or servicenow approval is a policy identity its system confirmed.

    Returns (identity, problem or None): for ssh the identity is the one the signature proves."""
    source = approval["source"]
    if source == "ssh":
        return approvals_mod.verify_approval(approval, index, signers)
    if source not in EXTERNAL_SOURCES:
        return identity, "unknown approval source %s; fix: use ssh (governed-change approve), awx or servicenow." % shown(source)
    label, user, reread = EXTERNAL_SOURCES[source]
    if identity is None:
        return None, ("%s user %s is not an identity of the policy; fix: name the identity after the %s username (or list "
                      "the username as one of its principals)." % (label, shown(approval.get("approver")), user))
    if approval.get("verified") is not True:
        return identity, approval.get("refusal") or ("the %s approval was not confirmed by the %s API; fix: re-read "
                                                     "approvals from %s." % (label, reread, label))
    return identity, None


# Approvals a system of record confirmed when it was read (never signed): its label, whose username, what is re-read.
EXTERNAL_SOURCES = {"awx": ("AWX", "AWX", "controller"), "servicenow": ("ServiceNow", "ServiceNow (sys_user.user_name)", "Table")}


def _currency_problem(approval, content_hash, required, now):
    """Rule: an approval is for the current content, timed (not in the future) and younger than max_age_hours."""
    if approval["content_hash"] != content_hash:
        return ("the approval is for content %s..., the change is now %s...: the content changed, earlier approvals are "
                "void; fix: approve the current assessment." % (approval["content_hash"][:12], content_hash[:12]))
    moment = _parse_ts(approval["ts"])
    if moment is None:
        return ("the approval time %s is not an ISO 8601 UTC time; fix: sign again (the time is set when signing)."
                % shown(approval["ts"]))
    if moment > now + CLOCK_SKEW:
        return "the approval time %s is in the future; fix: check the approver's clock and sign again." % approval["ts"]
    max_age = required.get("max_age_hours")
    if max_age is not None and now - moment > datetime.timedelta(hours=max_age):
        return "the approval from %s is older than %s hours (expired); fix: approve again." % (approval["ts"], max_age)
    return None
