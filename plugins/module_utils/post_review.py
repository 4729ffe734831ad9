# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Post-hoc reviews of emergency changes as obligations: which are due, done or overdue, completing one with a signed
statement (ssh-keygen, like approvals), and escalating the overdue ones once each through the escalation core."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils.change_request import shown
from ansible_collections.governed.change.plugins.module_utils.clock import instant_or_none, iso_z, utc_now
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import ledger_exists

DUE_EVENT = "review.post_hoc_due"  # written by the window gate when an emergency change bypasses a window or freeze
DONE_EVENT = "review.post_hoc_done"  # written here: the signed review
ESCALATION_EVENTS = ("escalation.sent", "escalation.failed_to_send")
OVERDUE_REASON = "post_review_overdue"
HEADER = "governed.change post-hoc review v1"
VERDICTS = ("accepted", "follow_up_required")
ACTOR = "governed.change"


def _instant(text):
    """An aware datetime from a recorded due date, or None when it is missing or unreadable (clock.instant_or_none)."""
    return instant_or_none(text, where="post_review_due")


def _obligation(change_id):
    return {"change_id": change_id, "due": None, "due_seq": None, "done_seq": None, "reviewer": None, "verdict": None,
            "escalated_seq": None, "deployed": False, "state": None, "status": None}


def _note_assess(item, event):
    """verdict.assess: an emergency change that requires a post_review gate owes one, due at the assessment's date."""
    verdict = (event["data"] or {}).get("verdict") or {}
    if "post_review" in (verdict.get("required_gates") or []) and verdict.get("post_review_due"):
        item["due"], item["due_seq"] = verdict["post_review_due"], event["seq"]


def _note_due(item, event):
    """review.post_hoc_due: the window gate's bypass record; its due date is the one that counts."""
    item["due"], item["due_seq"] = (event["data"] or {}).get("post_review_due"), event["seq"]
    item["bypass"] = True


def _note_done(item, event):
    data = event["data"] or {}
    if item["done_seq"] is None:
        item.update(done_seq=event["seq"], reviewer=data.get("reviewer"), verdict=data.get("verdict"), done_at=data.get("ts"))


def _note_escalation(item, event):
    if (event["data"] or {}).get("reason") == OVERDUE_REASON and item["escalated_seq"] is None:
        item["escalated_seq"] = event["seq"]


def _note_start(item, event):
    if (event["data"] or {}).get("stage") == "deploy":
        item["deployed"] = True


_NOTES = {"verdict.assess": _note_assess, DUE_EVENT: _note_due, DONE_EVENT: _note_done, "stage.started": _note_start}


def obligations(events, changes, now=None):
    """Every post-hoc review owed, by change id: {change_id, due, due_seq, status (due|done|overdue), done_seq, reviewer,
    verdict, escalated_seq}. ``events``: ledger events in seq order; ``changes``: {id: change row}. A change owes one when
    the window gate recorded an emergency bypass, or its assessment required the post_review gate; a change canceled
    before any deploy owes none (nothing was touched)."""
    now = now or utc_now()
    found = {}
    for event in events:
        note = _NOTES.get(event["kind"])
        if note is None and event["kind"] not in ESCALATION_EVENTS:
            continue
        item = found.setdefault(event["change_id"], _obligation(event["change_id"]))
        (note or _note_escalation)(item, event)
    out = {}
    for change_id, item in found.items():
        change = changes.get(change_id) or {}
        item["state"] = change.get("state")
        if item["due"] is None or (item["state"] == "canceled" and not item["deployed"]):
            continue
        due = _instant(item["due"])
        if item["done_seq"] is not None:
            item["status"] = "done"
        elif due is None or due <= now:
            item["status"] = "overdue"  # an unreadable due date is treated as past (fail closed)
        else:
            item["status"] = "due"
        out[change_id] = item
    return out


def list_reviews(ledger, now=None, overdue_only=False):
    """The obligations of a (verified) ledger, by due date; only the overdue ones when asked."""
    items = obligations(ledger.events(), {change["id"]: change for change in ledger.changes()}, now=now).values()
    rows = [item for item in items if not overdue_only or item["status"] == "overdue"]
    return sorted(rows, key=lambda item: (item["due"] or "", item["change_id"]))


def pending_escalations(reviews):
    """The reviews escalate_overdue escalates: overdue and not escalated yet (the check-mode preview uses it too)."""
    return [item for item in reviews if item["status"] == "overdue" and item["escalated_seq"] is None]


# -- the signed review ---------------------------------------------------------------------------------------------
def _check_field(name, value, required=True):
    if not isinstance(value, str):
        raise ValidationError("%s must be text." % name, where="--%s" % name.replace("_", "-"), fix="pass text.")
    if "\n" in value or "\r" in value or any(not char.isprintable() for char in value):
        raise ValidationError("%s contains a line break or a control character (%s)." % (name, shown(value)),
                              where="--%s" % name.replace("_", "-"),
                              fix="write it on one line of plain printable text (a line break could forge another field).")
    if len(value) > 1000:
        raise ValidationError("%s is %d characters long; the limit is 1000." % (name, len(value)),
                              where="--%s" % name.replace("_", "-"), fix="keep it short; details belong in the ticket.")
    if required and not value.strip():
        raise ValidationError("%s is empty." % name, where="--%s" % name.replace("_", "-"), fix="give a value.")


def statement_text(change_id, content_hash, verdict, reviewer, ts, notes):
    """The canonical text a reviewer signs: it binds the change, its content hash, the verdict and the notes."""
    for name, value in (("change", change_id), ("content_hash", content_hash), ("reviewer", reviewer), ("time", ts)):
        _check_field(name, value)
    _check_field("notes", notes)
    if verdict not in VERDICTS:
        raise ValidationError("verdict %s is not one of %s." % (shown(verdict), ", ".join(VERDICTS)), where="--verdict",
                              fix="use accepted, or follow_up_required when the review found work to do.")
    return ("%s\nchange: %s\ncontent_hash: %s\nverdict: %s\nreviewer: %s\ntime: %s\nnotes: %s\n"
            % (HEADER, change_id, content_hash, verdict, reviewer, ts, notes))


def record_text(record):
    """The statement of a recorded review (review.post_hoc_done event data)."""
    return statement_text(record.get("change_id"), record.get("content_hash"), record.get("verdict"), record.get("reviewer"),
                          record.get("ts"), record.get("notes"))


def _reviewer(policy, identity, change, principal):
    """The reviewer's signing principal; the reviewer is a policy identity and not the change's author."""
    index = approvals_mod.identity_index(policy)
    if approvals_mod.resolve_identity(index, identity) != identity:
        raise ValidationError("identity %s is not in the policy's identities." % shown(identity), where="--identity",
                              fix="use your identity name as listed under identities.")
    author = approvals_mod.resolve_identity(index, change.get("author")) or change.get("author")
    if approvals_mod.person_of(index, author) == approvals_mod.person_of(index, identity):
        raise ValidationError("%s is the author of change %s; the post-hoc review is done by another person."
                              % (identity, change["id"]), where="--identity", fix="another identity of the policy reviews it.")
    return principal or ((index["identities"][identity] or {}).get("principals") or [identity])[0]


def complete(ledger, change_id, identity, key_path, policy, policy_dir, verdict, notes, principal=None, now=None):
    """Sign and record the post-hoc review of ``change_id`` (event review.post_hoc_done); returns the event.

    Refused, with nothing recorded: a change owing no review, a review already completed, a reviewer outside the policy
    or the change's author, a signature that does not verify against the policy's allowed_signers."""
    change = ledger.check_change(change_id)
    if change is None:
        raise ValidationError("change %s is not in the ledger." % shown(change_id), where="--change", fix="check the change id.")
    owed = obligations(ledger.events(change_id=change_id), {change_id: change}, now=now).get(change_id)
    if owed is None:
        raise ValidationError("change %s owes no post-hoc review (it is not an emergency change that bypassed a gate)."
                              % change_id, where="--change", fix="list the reviews due with `governed-change review list`.")
    if owed["done_seq"] is not None:
        raise ValidationError("the post-hoc review of %s was already completed by %s (ledger seq %d)."
                              % (change_id, owed["reviewer"], owed["done_seq"]), where="--change",
                              fix="nothing to do; a review is recorded once.")
    principal = _reviewer(policy, identity, change, principal)
    record = {"change_id": change_id, "content_hash": change.get("content_hash") or "", "verdict": verdict, "reviewer": identity,
              "principal": principal, "ts": iso_z(now or utc_now(), precision="seconds"), "notes": notes}
    text = record_text(record)
    signers = approvals_mod.allowed_signers_path(policy, policy_dir=policy_dir)
    record["signature"] = approvals_mod.sign_statement(text, key_path)
    ok, reason = approvals_mod.verify_statement(text, record["signature"], principal, signers)
    if not ok:
        raise ValidationError("your signature does not verify: %s" % reason, where="--key",
                              fix="ask for your public key to be listed in allowed_signers under your principal.")
    record.update(due=owed["due"], due_seq=owed["due_seq"], late=owed["status"] == "overdue")
    return ledger.append_event(change_id, DONE_EVENT, identity, record)


def verify_record(record, policy, policy_dir=None):
    """(ok, reason) for a recorded review: a policy identity, its own principal, a good signature."""
    index = approvals_mod.identity_index(policy)
    identity = approvals_mod.resolve_identity(index, record.get("reviewer"))
    if identity is None:
        return False, "reviewer %s is not an identity of the policy" % shown(record.get("reviewer"))
    if index["principals"].get(record.get("principal")) != identity:
        return False, "principal %s is not one of %s's principals" % (shown(record.get("principal")), identity)
    try:
        text = record_text(record)
    except ValidationError as exc:
        return False, "the review statement is malformed (%s)" % exc.render()
    return approvals_mod.verify_statement(text, record.get("signature"), record.get("principal"),
                                          approvals_mod.allowed_signers_path(policy, policy_dir=policy_dir))


# -- escalating overdue reviews ------------------------------------------------------------------------------------
def _tier_escalation(policy, ledger, change_id):
    """The escalation settings of the change's tier in the policy ({} when the tier or the section is missing)."""
    tier = (ledger.get_change(change_id) or {}).get("tier")
    return esc.tier_settings(policy or {}, tier)


def _packet(ledger, item, policy, now):
    change = ledger.get_change(item["change_id"]) or {}
    detected = ["the post-hoc review of emergency change %s was due at %s (ledger seq %s) and is not recorded."
                % (item["change_id"], item["due"], item["due_seq"])]
    actions = ["the change is %s%s." % (change.get("state"), (" (%s)" % change["close_code"]) if change.get("close_code") else "")]
    return esc.build_packet(item["change_id"], OVERDUE_REASON, detected=detected, actions_taken=actions,
                            escalation=_tier_escalation(policy, ledger, item["change_id"]),
                            ledger={"path": os.path.abspath(ledger.path), "due_seq": item["due_seq"]},
                            created_at=iso_z(now, precision="seconds"))


def escalate_overdue(ledger, output_dir, policy=None, webhook_url=None, webhook_format="json", now=None, post=None):
    """Escalate every overdue review not escalated yet: the packet (escalation.write_packet), the webhook when given, and
    one ledger event (escalation.sent / escalation.failed_to_send with reason post_review_overdue). Running it again
    escalates nothing twice. Returns [{change_id, event seq, path, sent}]."""
    now = now or utc_now()
    if webhook_url:
        esc.check_webhook_url(webhook_url)
    if webhook_format not in esc.FORMATS:
        raise ValidationError("%s is not a webhook format." % shown(webhook_format), where="--webhook-format", fix="use json or slack.")
    ledger.check_change()  # the chain and the tail verify before anything is written (LedgerTampered names the seq)
    done = []
    for item in pending_escalations(list_reviews(ledger, now=now, overdue_only=True)):
        packet = _packet(ledger, item, policy, now)
        paths = esc.write_packet(output_dir, packet)
        delivery = {"sent": False, "status": None, "attempts": 0, "error": None, "target": None}
        if webhook_url:
            delivery = (post or esc.post_webhook)(webhook_url, esc.payload_for(packet, webhook_format))
        kind = esc.event_kind(webhook_url, delivery)
        event = ledger.append_event(item["change_id"], kind, ACTOR, {
            "reason": OVERDUE_REASON, "sequence": packet["sequence"], "path": paths["path"], "markdown_path": paths["markdown_path"],
            "packet_sha256": packet["sha256"], "escalation_target": packet["escalation_target"], "severity": packet["severity"],
            "webhook": delivery["target"], "sent": delivery["sent"], "status": delivery["status"], "error": delivery["error"],
            "post_review_due": item["due"], "due_seq": item["due_seq"]})
        done.append({"change_id": item["change_id"], "seq": event["seq"], "path": paths["path"], "sent": delivery["sent"],
                     "kind": kind})
    return done


def require_open_ledger_path(path):
    """A ledger path that exists (the review commands never create one)."""
    if not path:
        raise ValidationError("no ledger was given.", where="--ledger", fix="pass --ledger PATH or set GOVERNED_CHANGE_LEDGER.")
    if not ledger_exists(path):
        raise LedgerError("the ledger file does not exist.", where="--ledger: %s" % path, fix="pass the ledger the stages write.")
    return path
