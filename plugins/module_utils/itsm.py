# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ITSM change record beside the ledger: which record a change is linked to, and each stage's sync, recorded.

The ledger is the authority: ServiceNow is told what the ledger says (never the reverse), and the ledger only ever
gains whole events about it (``itsm.linked``, ``itsm.synced``, ``itsm.failed``), written after ServiceNow answered, so
a failed or half-done call leaves the chain as it was plus at most one ``itsm.failed`` event. Whether a failure stops the
stage is the policy's ``itsm.required``.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import itsm_servicenow as sn
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused, LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.lifecycle import open_change

ACTOR = "governed.change.itsm_change"
LINKED, SYNCED, FAILED = "itsm.linked", "itsm.synced", "itsm.failed"
LINK_KEYS = ("sys_id", "number", "instance", "cis", "missing_cis", "created")


def linked(ledger, change_id):
    """The change's ServiceNow link from its last ``itsm.linked`` event, or None."""
    link = None
    for event in ledger.events(change_id):
        if event["kind"] == LINKED:
            link = event["data"]
    return link


def _required_fix(settings):
    return ("bring ServiceNow back (or fix the credentials) and re-run this stage; the policy requires the ITSM record "
            "(itsm.required: true)" if settings.get("required") else None)


def record_stage(ledger_path, change_id, stage, settings, make_client, request=None, check_mode=False):
    """Keep the change's ServiceNow record in step with the ledger for one stage; record what happened in the ledger.

    ``request``: {assessment, description, note, outcome, reason, attachments}. ``make_client()`` returns the
    ServiceNowClient (called only when ServiceNow is needed). Returns {ok, changed, link, sync, error}; an ITSM failure
    raises (ItsmError) only when the policy requires the record, else it is recorded and returned."""
    request = request or {}
    ledger, record = open_change(ledger_path, change_id)
    try:
        link = linked(ledger, change_id)
        if check_mode:
            return {"ok": True, "changed": False, "link": link, "sync": None, "error": None, "check_mode": True,
                    "ledger_state": record["state"]}
        try:
            client = make_client()
            if link is None or stage == "assess":  # a re-assessment updates the fields (tier, window, content hash)
                link = _link(ledger, change_id, client, request, settings, link)
            synced = sn.sync_change(client, link, record["state"], stage, record.get("content_hash"), note=request.get("note"),
                                    outcome=_outcome(record, request), reason=request.get("reason"),
                                    attachments=request.get("attachments") or ())
        except sn.ItsmError as exc:
            return _failed(ledger, change_id, stage, link, exc, settings)
        ledger.append_event(change_id, SYNCED, ACTOR, {"stage": stage, "sys_id": link["sys_id"], "number": link.get("number"),
                                                       "steps": synced["steps"], "state": synced["state"],
                                                       "attachments": synced["attachments"]})
        return {"ok": True, "changed": True, "link": link, "sync": synced, "error": None, "ledger_state": record["state"]}
    finally:
        ledger.close()


def _outcome(record, request):
    """The close code the ledger recorded (the authority), else the one the stage was given."""
    if record["state"] == "canceled":
        return "canceled"
    return record.get("close_code") or request.get("outcome")


def _link(ledger, change_id, client, request, settings, known=None):
    """Create (or find and update) the change request from the assessment; record the link when it is new or moved."""
    assessment = request.get("assessment")
    if not isinstance(assessment, dict) or assessment.get("change_id") != change_id:
        raise ValidationError("change %s has no ServiceNow change request yet and no assessment of it was given." % change_id,
                              where="assessment", fix="run governed.change.itsm_change at assess with the assessment.")
    link = sn.create_change(client, assessment, request.get("description"), settings)
    if known is None or known.get("sys_id") != link["sys_id"]:
        ledger.append_event(change_id, LINKED, ACTOR, {key: link[key] for key in LINK_KEYS})
    return link


def _failed(ledger, change_id, stage, link, exc, settings):
    """Record the failure (one whole event; a ledger that refuses it is reported, never half-written) and decide."""
    error = exc.as_dict()
    try:
        ledger.append_event(change_id, FAILED, ACTOR, {"stage": stage, "required": bool(settings.get("required")),
                                                       "sys_id": (link or {}).get("sys_id"), "error": error})
    except LedgerError as ledger_exc:
        error["ledger"] = ledger_exc.as_dict()
    if settings.get("required"):
        raise sn.ItsmError("%s (stage %s)" % (exc.problem, stage), where=exc.where, fix=_required_fix(settings) or exc.fix)
    return {"ok": False, "changed": False, "link": link, "sync": None, "error": error}


def read_approvals(ledger, change_id, settings, make_client, index=None):
    """The CAB approvals of the change's ServiceNow record for the review gate (read_cab_approvals), failing closed."""
    link = linked(ledger, change_id)
    if link is None:
        raise GateRefused("the policy takes approvals from ServiceNow (itsm.approval_source: true) but change %s has no "
                          "ServiceNow change request in the ledger." % change_id, where="itsm",
                          fix="run governed.change.itsm_change at assess first (it creates the change request).")
    try:
        return sn.read_cab_approvals(make_client(), link, change_id, index=index, group_map=settings.get("group_map"))
    except sn.ItsmError as exc:
        raise GateRefused("the CAB approvals cannot be read from ServiceNow: %s" % exc.problem, where=exc.where,
                          fix=exc.fix or "check the instance and the credentials.")
