# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change lifecycle service: every ledger step a stage takes after the assessment goes through here.

``evaluate_and_record`` (the review and window gates record their verdict), ``acquire_locks`` / ``release_locks``
(device leases, with a check-mode path that refuses what the ledger would refuse, without writing) and
``close_change`` (the final state, the outcome and the evidence). Opening and (re-)assessing a change stays in
``records``. The action plugins validate their arguments, make one call here and shape the result
(``servicenow.itsm``'s ``run -> ensure_*``).
"""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact, evidence
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import FINAL_STATES, ledger_exists, open_ledger, refuse_lock_conflicts
from ansible_collections.governed.change.plugins.module_utils.report import render_html
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

ACTOR = "governed.change"
ASSESS_FIRST = "run governed.change.assess with this ledger first (it opens the change record)."
# The lifecycle steps from each state to "review" (the last step before "closed").
TO_REVIEW = {"scheduled": ("implement", "review"), "implement": ("review",), "review": ()}
NOT_AUTHORIZED = ("new", "assess", "authorize")
LOCKABLE = ("scheduled", "implement")


# -- the change record ---------------------------------------------------------------------------------------------
def require_ledger(path, fix="run governed.change.assess with ledger: set to this path first (it opens the change record)."):
    """Refuse a ledger file that does not exist (nothing is created)."""
    if not ledger_exists(path):
        raise LedgerError("the ledger file does not exist.", where="ledger: %s" % path, fix=fix)
    return path


def open_change(path, change_id):
    """(ledger, change record), verified for this change (SqliteLedger.check_change: its events, rows, approvals and
    leases, and the chain since the last verified checkpoint); a missing file or change is refused (nothing is created),
    a ledger that does not verify is refused with the seq that broke (LedgerTampered). The caller closes the ledger."""
    require_ledger(path)
    ledger = open_ledger(path)
    try:
        record = ledger.check_change(change_id) if change_id else None
        if record is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % path, fix=ASSESS_FIRST)
    except LedgerError:
        ledger.close()
        raise
    return ledger, record


# -- gates ---------------------------------------------------------------------------------------------------------
def evaluate_and_record(ledger_path, change_id, gate, evaluate, check_mode=False):
    """Evaluate a gate against the verified change record and record its verdict (not in check mode).

    ``evaluate(ledger, record)`` returns ``(verdict, effects)``; ``effects`` carries what the gate's recorder needs
    beyond the verdict (the actor, approvals to copy). Without a ledger (``ledger_path`` None) the gate is evaluated
    with no record and nothing is recorded. Returns ``(verdict, recorded)``.
    """
    if not ledger_path:
        return evaluate(None, None)[0], False
    ledger, record = open_change(ledger_path, change_id)
    try:
        verdict, effects = evaluate(ledger, record)
        if check_mode:
            return verdict, False
        RECORDERS[gate](ledger, change_id, record, verdict, effects or {})
        return verdict, True
    finally:
        ledger.close()


def counted_approvals(stored, awx, itsm=None):
    """The approvals the review gate weighs: the ledger's, with AWX copies replaced by the controller's live answer,
    and ServiceNow's CAB approvals as ServiceNow answered now (``itsm``: itsm.read_approvals, None when not in use).

    An AWX approval copied into the ledger counts only while the controller confirms it (``awx`` None: AWX not in use,
    the copies are listed but unverified)."""
    approvals = [dict(a, verified=False) if a["source"] == "awx" else a for a in stored if a["source"] != "awx" or awx is None]
    if awx is not None:
        approvals.extend(awx["approvals"])
    if itsm is not None:
        approvals.extend(itsm["approvals"])
    return approvals


def merge_verdicts(verdicts):
    """One verdict for several launchers: a refusal for any launcher is a refusal, with every distinct reason."""
    verdict = next((v for v in verdicts if v["decision"] != "pass"), verdicts[0])
    for other in verdicts:
        if other is verdict or other["decision"] == "pass":
            continue
        verdict["reasons"].extend([r for r in other["reasons"] if r not in verdict["reasons"]])
        verdict["rejected"].extend([r for r in other["rejected"] if r not in verdict["rejected"]])
    return verdict


def refuse_by_record(verdict, record, assessment):
    """The ledger's word over the assessment's: a re-assessed change (other content hash) and a final change fail."""
    current, given = record.get("content_hash"), assessment.get("content_hash")
    if current and given and current != given:
        verdict["decision"] = "fail"
        verdict["reasons"].insert(0, "the assessment's content hash %s... is not the ledger's current %s... (the change was "
                                     "re-assessed); fix: pass the latest assessment." % (given[:12], current[:12]))
    if record.get("state") in ("closed", "canceled"):
        verdict["decision"] = "fail"
        verdict["reasons"].insert(0, "change %s is %s in the ledger; fix: open a new change." % (record.get("id"), record["state"]))
    verdict["ledger_state"] = record.get("state")
    return verdict


def review_sources(ledger_path, stored, awx):
    """Where the review gate's approvals came from (counts, the AWX workflow job), for the verdict."""
    sources = {"ledger": {"path": ledger_path, "approvals": len(stored)}, "awx": None}
    if awx is not None:
        sources["awx"] = {key: awx[key] for key in ("workflow_job", "launcher", "pending", "ignored")}
        sources["awx"]["approvals"] = len(awx["approvals"])
    return sources


def review_verdict(policy, assessment, record, stored, awx, launchers, now=None, allowed_signers=None, ledger_path=None,
                   itsm=None):
    """(verdict, effects) of the review gate for the change ``record`` (the ledger's row), one evaluation per launcher."""
    approvals = counted_approvals(stored, awx, itsm)
    author = assessment.get("author") or record.get("author")
    verdict = merge_verdicts([review_gate(policy, assessment, approvals, author, launcher, now=now, allowed_signers=allowed_signers)
                              for launcher in launchers])
    verdict["launchers"] = launchers
    refuse_by_record(verdict, record, assessment)
    verdict["sources"] = review_sources(ledger_path, stored, awx)
    if itsm is not None:
        verdict["sources"]["servicenow"] = {"number": itsm["number"], "sys_id": itsm["sys_id"], "approvals": len(itsm["approvals"]),
                                            "pending": itsm["pending"], "ignored": itsm["ignored"]}
    effects = {"actor": launchers[0] or ACTOR, "stored": stored, "awx_approvals": None if awx is None else awx["approvals"]}
    return verdict, effects


def copy_awx_approvals(ledger, stored, approvals):
    """Copy AWX approvals into the ledger as evidence, once each."""
    seen = {(a["approver"], a["decision"], a["ts"], a["content_hash"]) for a in stored if a["source"] == "awx"}
    for approval in approvals:
        key = (approval["approver"], approval["decision"], approval["ts"], approval["content_hash"])
        if key not in seen:
            ledger.record_approval(approval, actor="awx:%s" % approval["approver"])
            seen.add(key)


def _record_review(ledger, change_id, record, verdict, effects):
    actor = effects.get("actor") or ACTOR
    if effects.get("awx_approvals") is not None:
        copy_awx_approvals(ledger, effects.get("stored") or [], effects["awx_approvals"])
    ledger.record_verdict(change_id, "review", verdict, actor=actor)
    if verdict["decision"] == "pass" and record.get("state") == "authorize":
        ledger.transition(change_id, "scheduled", actor, reason="review gate passed")


def _record_window(ledger, change_id, record, verdict, effects):
    ledger.record_verdict(change_id, "window", verdict)
    bypass = verdict.get("bypass")
    if verdict["decision"] == "pass" and bypass:
        ledger.append_event(change_id, "review.post_hoc_due", ACTOR, {
            "reason": "emergency bypass of %s" % ", ".join(item.get("name") or item["kind"] for item in bypass["bypassed"]),
            "post_review_due": bypass["post_review_due"], "post_review_hours": bypass["post_review_hours"],
            "bypassed": bypass["bypassed"], "evaluated_at": verdict["evaluated_at"]})


RECORDERS = {"review": _record_review, "window": _record_window}


# -- device leases -------------------------------------------------------------------------------------------------
def _check_lock_request(change_id, devices, ttl, change, transition, ledger_path):
    if not devices:
        raise ValidationError("no devices to lock.", where="devices", fix="pass the change's target devices (and its snapshot scope).")
    if ttl <= 0:
        raise ValidationError("ttl must be a positive number of seconds (got %d)." % ttl, where="ttl",
                              fix="pass the expected change duration plus a margin.")
    if change is None:
        raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger_path, fix=ASSESS_FIRST)
    if transition and change["state"] not in LOCKABLE:
        raise LedgerError("change %s is %s, so it cannot move to %s." % (change_id, change["state"], transition),
                          where="ledger: %s" % ledger_path,
                          fix="a change is implemented only after its review gate passed (state scheduled); run the review stage.")


def _move_to(ledger, change, transition, owner):
    """Move the locked change to ``transition``; a parallel workflow branch of the same change may have moved it first."""
    if not transition or change["state"] == transition:
        return change
    try:
        return ledger.transition(change["id"], transition, owner, reason="devices locked; the deploy starts")
    except LedgerError:
        change = ledger.get_change(change["id"])
        if change is None or change["state"] != transition:
            raise
        return change


def acquire_locks(ledger_path, change_id, devices, owner, ttl, transition=None, check_mode=False):
    """Lease the devices to the change (all or nothing) and optionally move it to ``transition``.

    In check mode nothing is written: the leases the ledger would refuse are refused the same way (ledger.lock_conflicts,
    the rule SqliteLedger.acquire_locks applies). Returns {changed, locks, ledger_state}."""
    require_ledger(ledger_path)
    with open_ledger(ledger_path) as ledger:
        ledger.check_change(change_id, devices=devices or ())  # refuses a tampered ledger with the seq
        change = ledger.get_change(change_id)
        _check_lock_request(change_id, devices, ttl, change, transition, ledger_path)
        if check_mode:
            held = ledger.locks()
            refuse_lock_conflicts(held, change_id, devices, owner, ledger.clock())
            return {"changed": True, "ledger_state": change["state"], "locks": [lock for lock in held if lock["device"] in set(devices)]}
        locks = ledger.acquire_locks(change_id, devices, owner, ttl)
        change = _move_to(ledger, change, transition, owner)
        return {"changed": True, "locks": locks, "ledger_state": change["state"]}


def release_locks(ledger_path, change_id, devices=None, check_mode=False):
    """Release the change's leases (all, or the listed devices); a ledger that does not exist holds none."""
    if not ledger_exists(ledger_path):
        return {"changed": False, "released": []}
    with open_ledger(ledger_path) as ledger:
        ledger.check_change(change_id, devices=devices or ())
        held = [lock["device"] for lock in ledger.locks() if lock["change_id"] == change_id]
        chosen = held if devices is None else [d for d in held if d in set(devices)]
        if not check_mode and chosen:
            chosen = ledger.release_locks(change_id, devices)
        out = {"changed": bool(chosen), "released": chosen}
        change = ledger.get_change(change_id)
        if change is not None:
            out["ledger_state"] = change["state"]
        return out


# -- closing -------------------------------------------------------------------------------------------------------
def plan_transitions(state, outcome, change_id):
    """The states to move through to end ``change_id`` (in ``state``) with ``outcome``; illegal endings raise."""
    if outcome == "canceled":
        if state in ("implement", "review"):
            raise LedgerError("change %s is in %s: its devices were touched, so it cannot be canceled." % (change_id, state),
                              where="close.outcome", fix="close it as unsuccessful (rolled back) or successful_issues.")
        return ("canceled",)
    if state in NOT_AUTHORIZED:
        raise LedgerError("change %s is in %s: it never passed the review gate, so it cannot be closed as %s." % (change_id, state, outcome),
                          where="close.outcome", fix="close it as canceled, or pass the review gate before deploying.")
    return TO_REVIEW[state] + ("closed",)


def final_outcome(change):
    """The outcome a final change was closed with (None while it is open)."""
    if change["state"] not in FINAL_STATES:
        return None
    return "canceled" if change["state"] == "canceled" else change["close_code"]


def _closing_steps(change, outcome):
    """(steps, rebuilt): the transitions to make, or none when the change is already closed with this outcome."""
    done = final_outcome(change)
    if done is not None and done != outcome:
        raise LedgerError("change %s is already %s; it cannot be closed again as %s." % (change["id"], done, outcome),
                          where="close.outcome", fix="a closed change is final: open a new change for further work.")
    if done is not None:
        return (), True
    return plan_transitions(change["state"], outcome, change["id"]), False


def _record_close(ledger, change, outcome, steps, request):
    """Record the stage results, walk the transitions and record the outcome (with where its evidence goes)."""
    change_id, actor = change["id"], request["actor"]
    bundle_path, report_path = evidence.bundle_paths(request["output_dir"], change_id)
    ledger.append_event(change_id, "stage.results", actor, {"stages": evidence.refs_only(request.get("stages") or {})})
    for step in steps:
        if step == "closed":
            ledger.transition(change_id, "closed", actor, close_code=outcome, reason=request.get("reason"))
        else:
            ledger.transition(change_id, step, actor, reason="close: %s" % outcome)
    ledger.append_event(change_id, "change.outcome", actor, {
        "outcome": outcome, "reason": request.get("reason"), "started": request.get("started"), "from_state": change["state"],
        "output_dir": os.path.abspath(request["output_dir"]), "store_dir": request.get("store_dir"), "policy": request.get("policy"),
        "assessment_file": request.get("assessment_file"), "evidence": os.path.abspath(bundle_path), "report": os.path.abspath(report_path)})


def _preview_close(ledger, change, outcome, steps, request):
    """The bundle and summary a close would produce, nothing written (check mode)."""
    change_id = change["id"]
    bundle = evidence.build_bundle(ledger, change_id, output_dir=request["output_dir"], stages=request.get("stages") or None,
                                   assessment_file=request.get("assessment_file"), diff_limit=request["diff_limit"],
                                   run_problems=request.get("run_problems"))
    bundle_path, report_path = evidence.bundle_paths(request["output_dir"], change_id)
    paths = {"evidence": os.path.abspath(bundle_path), "report": os.path.abspath(report_path)}
    lines = evidence.summary_lines(bundle, paths)
    if steps:
        lines.insert(1, "  (check mode) would move %s -> %s and record outcome %s" % (change["state"], " -> ".join(steps), outcome))
    return bundle, paths, lines, change["state"]


def _check_assessment(request, change_id):
    """Load the change's assessment file (given, or found under output_dir) the way the evidence bundle will."""
    path = request.get("assessment_file") or assessment_artifact.find(request["output_dir"], change_id)
    if path:
        assessment_artifact.read(path)


def close_change(ledger_path, change_id, outcome, request, check_mode=False):
    """End the change with ``outcome`` and build its evidence, once.

    ``request``: {output_dir, actor, reason, started, stages, store_dir, policy, assessment_file, diff_limit, run_problems
    (what the closing run knows the evidence lacks, listed in the bundle's problems)}.
    A change already closed with this outcome only gets its evidence rebuilt; with another outcome it is refused.
    Returns {bundle, paths, lines, state, changed, rebuilt}.
    """
    request = dict(request)
    request.setdefault("diff_limit", evidence.DIFF_LIMIT)
    request.setdefault("actor", ACTOR)
    require_ledger(ledger_path, fix="pass the ledger the assess stage recorded the change in.")
    with open_ledger(ledger_path) as ledger:
        change = ledger.check_change(change_id)  # refuses a tampered ledger with the seq; nothing is recorded
        if change is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger_path,
                              fix="assess the change with this ledger first.")
        steps, rebuilt = _closing_steps(change, outcome)
        _check_assessment(request, change_id)  # a bad assessment file is refused before anything is recorded
        if check_mode:
            bundle, paths, lines, state = _preview_close(ledger, change, outcome, steps, request)
            return {"bundle": bundle, "paths": paths, "lines": lines, "state": state, "changed": bool(steps), "rebuilt": rebuilt}
        if not rebuilt:
            _record_close(ledger, change, outcome, steps, request)
        bundle, paths = evidence.build_and_write(ledger, change_id, request["output_dir"], stages=None,
                                                 assessment_file=request.get("assessment_file"), render_report=render_html,
                                                 actor=request["actor"], diff_limit=request["diff_limit"],
                                                 run_problems=request.get("run_problems"))
        return {"bundle": bundle, "paths": paths, "lines": evidence.summary_lines(bundle, paths),
                "state": ledger.get_change(change_id)["state"], "changed": not rebuilt, "rebuilt": rebuilt}
