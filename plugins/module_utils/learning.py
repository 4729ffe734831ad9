# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The learning loop: an escalated change is resolved with a cause and a follow-up (event escalation.resolved), and the
causes that repeat across changes are counted (``repeat_causes``, what the metrics page shows)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.change_request import shown
from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

RESOLVED_EVENT = "escalation.resolved"
ESCALATION_EVENTS = ("escalation.sent", "escalation.failed_to_send")
MAX_TEXT = 500


def cause_key(cause):
    """How causes are compared: case and runs of spaces do not make two causes different."""
    return " ".join(str(cause).split()).casefold()


def _check_text(name, value):
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("%s is empty." % name, where="--%s" % name.replace("_", "-"),
                              fix="say it in one sentence (e.g. --cause 'route-map typo not caught by precheck').")
    if "\n" in value or "\r" in value or any(not char.isprintable() for char in value):
        raise ValidationError("%s contains a line break or a control character (%s)." % (name, shown(value)),
                              where="--%s" % name.replace("_", "-"), fix="write one line of plain printable text.")
    if len(value) > MAX_TEXT:
        raise ValidationError("%s is %d characters long; the limit is %d." % (name, len(value), MAX_TEXT),
                              where="--%s" % name.replace("_", "-"), fix="keep it short; details belong in the ticket.")


def open_escalations(events):
    """The escalation events of one change not yet covered by a resolution (seq order)."""
    pending = []
    for event in events:
        if event["kind"] in ESCALATION_EVENTS:
            pending.append(event)
        elif event["kind"] == RESOLVED_EVENT:
            pending = []
    return pending


def resolve(ledger, change_id, cause, follow_up, actor, identities=None):
    """Record the resolution of every open escalation of ``change_id``; returns the event.

    Refused, nothing recorded: a change that is not in the ledger, one never escalated or already resolved since its
    last escalation, an empty or multi-line cause/follow-up, an actor outside ``identities`` (when a policy is given)."""
    _check_text("cause", cause)
    _check_text("follow_up", follow_up)
    if identities is not None and actor not in identities:
        raise ValidationError("identity %s is not in the policy's identities." % shown(actor), where="--identity",
                              fix="use your identity name as listed under identities.")
    change = ledger.check_change(change_id)
    if change is None:
        raise ValidationError("change %s is not in the ledger." % shown(change_id), where="--change", fix="check the change id.")
    events = ledger.events(change_id=change_id)
    pending = open_escalations(events)
    if not pending:
        resolved = [event["seq"] for event in events if event["kind"] == RESOLVED_EVENT]
        raise ValidationError("change %s has no open escalation%s." % (
            change_id, (" (resolved at ledger seq %d)" % resolved[-1]) if resolved else " (it was never escalated)"),
            where="--change", fix="resolve a change after it was escalated (`governed-change ledger show` lists its events).")
    return ledger.append_event(change_id, RESOLVED_EVENT, actor, {
        "cause": cause.strip(), "cause_normalized": cause_key(cause), "follow_up": follow_up.strip(),
        "escalations": [event["seq"] for event in pending], "reasons": sorted({(event["data"] or {}).get("reason") or ""
                                                                              for event in pending})})


def repeat_causes(events, since=None, until=None):
    """The causes of resolved escalations with how often each was given, most frequent first.

    ``events``: ledger events (dicts as SqliteLedger.events() returns them, any order); ``since``/``until``: aware datetimes
    bounding the resolution time (``until`` exclusive), or None. Returns [{cause, count, changes, seqs, follow_ups,
    repeated}]; ``cause`` is the first wording given, ``repeated`` is count > 1."""
    found = {}
    for event in sorted(events, key=lambda item: item["seq"]):
        if event["kind"] != RESOLVED_EVENT:
            continue
        moment = parse_instant(event["ts"], where="event %d ts" % event["seq"])
        if (since is not None and moment < since) or (until is not None and moment >= until):
            continue
        data = event["data"] or {}
        key = data.get("cause_normalized") or cause_key(data.get("cause") or "")
        item = found.setdefault(key, {"cause": data.get("cause"), "count": 0, "changes": [], "seqs": [], "follow_ups": []})
        item["count"] += 1
        item["seqs"].append(event["seq"])
        if event["change_id"] not in item["changes"]:
            item["changes"].append(event["change_id"])
        if data.get("follow_up") and data["follow_up"] not in item["follow_ups"]:
            item["follow_ups"].append(data["follow_up"])
    rows = [dict(item, repeated=item["count"] > 1) for item in found.values()]
    return sorted(rows, key=lambda item: (-item["count"], cause_key(item["cause"] or "")))
