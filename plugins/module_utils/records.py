# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change-record steps the stages share: opening and (re-)assessing a change, and the device stages' per-host references."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

# A change whose content was re-assessed goes back to "assess" and waits for authorization again.
REASSESSABLE = ("new", "assess", "authorize", "scheduled")


def record_assessment(ledger_path, assessment, actor="governed.change.assess"):
    """Open the change record (or re-assess it) and leave it in "authorize": assessed, awaiting the gates.

    Returns the change row. A closed or canceled change is refused by the ledger (open a new change id).
    """
    change_id = assessment["change_id"]
    with SqliteLedger(ledger_path) as ledger:
        change = ledger.check_change(change_id)  # refuses (LedgerTampered, with the seq) before anything is recorded
        if change is None:
            change = ledger.create_change(change_id, assessment["title"], assessment["author"], actor=actor,
                                          tier=assessment["tier"], content_hash=assessment["content_hash"])
        if change["state"] in REASSESSABLE and change["state"] != "assess":
            ledger.transition(change_id, "assess", actor, reason="assessment started")
        ledger.set_assessment(change_id, assessment["tier"], assessment["content_hash"], actor)
        ledger.record_verdict(change_id, "assess", {
            "decision": "assessed",
            "tier": assessment["tier"],
            "score": assessment["score"],
            "change_class": assessment["change_class"],
            "fired_rules": [{"name": r["name"], "explanation": r.get("explanation")} for r in assessment["fired_rules"]],
            "required_gates": assessment["required_gates"],
            "content_hash": assessment["content_hash"],
            "policy_sha256": assessment["policy_sha256"],
            "change_request_sha256": assessment["change_request_sha256"],
        }, actor=actor)
        return ledger.transition(change_id, "authorize", actor, reason="assessed: tier %s" % assessment["tier"])


# Per-host references the device stages keep in the ledger (event "stage.refs"), so a later stage of a workflow can fill in
# what its incoming artifacts lack (at an AWX convergence node the parents' artifacts merge key by key, not host by host).
REF_MAPS = ("backups", "pre_snapshots", "post_snapshots")
REF_LISTS = ("deployed", "failed_hosts", "rolled_back")
STAGE_REFS_EVENT = "stage.refs"


def _check_refs(refs):
    if not isinstance(refs, dict):
        raise ValidationError("must be a mapping, got %s." % type(refs).__name__, where="refs",
                              fix="pass {backups: {host: ref}, pre_snapshots: ..., deployed: [hosts], ...}.")
    unknown = sorted(set(refs) - set(REF_MAPS) - set(REF_LISTS))
    if unknown:
        raise ValidationError("unknown keys %s." % ", ".join(unknown), where="refs",
                              fix="use only %s." % ", ".join(REF_MAPS + REF_LISTS))
    for key in REF_MAPS:
        value = refs.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())):
            raise ValidationError("must be a mapping of host to a reference (dict).", where="refs.%s" % key,
                                  fix="pass the {host: ref} mapping the stage published.")
    for key in REF_LISTS:
        value = refs.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValidationError("must be a list of host names.", where="refs.%s" % key, fix="pass the list of hosts the stage published.")


def empty_stage_refs():
    """Stage references with nothing recorded."""
    out = {key: {} for key in REF_MAPS}
    out.update({key: [] for key in REF_LISTS})
    return out


def record_stage_refs(ledger_path, change_id, stage, refs, actor="governed.change"):
    """Append the per-host references a device stage produced (event "stage.refs") to the change's record.

    Empty mappings and lists are left out; nothing is appended when nothing is left. Returns the event or None.
    """
    _check_refs(refs)
    if not isinstance(stage, str) or not stage:
        raise ValidationError("a stage name is required.", where="stage", fix="pass the stage that produced the references (e.g. precheck).")
    data = {key: refs[key] for key in REF_MAPS + REF_LISTS if refs.get(key)}
    if not data:
        return None
    with SqliteLedger(ledger_path) as ledger:
        if ledger.check_change(change_id) is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger_path,
                              fix="run governed.change.assess with this ledger first (it opens the change record).")
        return ledger.append_event(change_id, STAGE_REFS_EVENT, actor, {"stage": stage, "refs": data})


def load_stage_refs(ledger_path, change_id):
    """Merge every "stage.refs" event of the change, oldest first.

    Per-host mappings merge host by host (a later record of the same host wins); host lists are the union, in the order
    first recorded. A change without records gives empty references.
    """
    out = empty_stage_refs()
    with SqliteLedger(ledger_path) as ledger:
        ledger.check_change(change_id)
        events = [event for event in ledger.events(change_id) if event["kind"] == STAGE_REFS_EVENT]
    for event in events:
        refs = (event.get("data") or {}).get("refs") or {}
        for key in REF_MAPS:
            out[key].update(refs.get(key) or {})
        for key in REF_LISTS:
            out[key].extend(host for host in refs.get(key) or [] if host not in out[key])
    return out


def fill_stage_refs(incoming, recorded):
    """The incoming artifacts, completed with the recorded references of the hosts they lack (incoming wins per host)."""
    out = empty_stage_refs()
    incoming = incoming or {}
    for key in REF_MAPS:
        out[key] = dict(recorded.get(key) or {}, **(incoming.get(key) or {}))
    for key in REF_LISTS:
        mine = list(incoming.get(key) or [])
        out[key] = mine + [host for host in recorded.get(key) or [] if host not in mine]
    return out
