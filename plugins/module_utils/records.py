# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change-record steps the stages share: opening and (re-)assessing a change, and the device stages' per-host references."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import FINAL_STATES, ledger_exists, open_ledger
from ansible_collections.governed.change.plugins.module_utils.redact import redact_text

# A change whose content was re-assessed goes back to "assess" and waits for authorization again.
REASSESSABLE = ("new", "assess", "authorize", "scheduled")


def refuse_unassessable(change, where):
    """Raise when ``change`` (a ledger row, or None) may not be (re-)assessed: its devices may be changed, or it is final.

    Called before anything is written (the assessment file, any event), so a refused run leaves no trace.
    """
    if change is None or change["state"] in REASSESSABLE:
        return
    if change["state"] in FINAL_STATES:
        raise LedgerError("change %s is %s; it cannot be re-assessed." % (change["id"], change["state"]), where=where,
                          fix="a %s change is final: open a new change id for further work." % change["state"])
    fixes = {"implement": "its deploy started and may have changed devices: when that run died, run `governed-change recover %s` "
                          "(or playbooks/recover.yml) to restore and close it; otherwise let the run finish." % change["id"],
             "review": "its deploy is over: run the close stage (playbooks/close.yml) to end it."}
    raise LedgerError("change %s is in %s, so it cannot be re-assessed (nothing was recorded)." % (change["id"], change["state"]),
                      where=where, fix=fixes.get(change["state"], "end the change first."))


def check_assessable(ledger_path, change_id):
    """Refuse, before anything is written, to (re-)assess a change the ledger holds in implement, review or a final state."""
    if not ledger_exists(ledger_path):
        return None
    with open_ledger(ledger_path) as ledger:
        change = ledger.check_change(change_id)
    refuse_unassessable(change, "ledger: %s" % ledger_path)
    return change


def approved_lines(assessment):
    """{host: the sorted configuration lines the assessment merged for it} (new, existing, removed and no-op lines, as
    redacted in the assessment); a host assessed from a whole candidate configuration has no line list and is left out."""
    out = {}
    for host, summary in sorted(((assessment.get("devices") or {}) if isinstance(assessment.get("devices"), dict) else {}).items()):
        if not isinstance(summary, dict) or "new_lines" not in summary:
            continue
        lines = {str(line).rstrip() for key in ("new_lines", "existing_lines", "removed_lines", "noop_lines")
                 for line in summary.get(key) or []}
        out[host] = sorted(line for line in lines if line.strip())
    return out


def record_assessment(ledger_path, assessment, actor="governed.change.assess"):
    """Open the change record (or re-assess it) and leave it in "authorize": assessed, awaiting the gates.

    Returns the change row. A closed or canceled change is refused by the ledger (open a new change id).
    """
    change_id = assessment["change_id"]
    with open_ledger(ledger_path) as ledger:
        change = ledger.check_change(change_id)  # refuses (LedgerTampered, with the seq) before anything is recorded
        refuse_unassessable(change, "ledger: %s" % ledger_path)  # before set_assessment appends anything
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
            # what the metrics group by (module_utils/metrics.py): the request's category and the sites it touches
            "category": assessment.get("category"),
            "sites": (assessment.get("blast_radius") or {}).get("sites") or [],
            "fired_rules": [{"name": r["name"], "explanation": r.get("explanation")} for r in assessment["fired_rules"]],
            "required_gates": assessment["required_gates"],
            "content_hash": assessment["content_hash"],
            # what the authorization audit (module_utils/audit.py) compares a deploy with, and when a post-hoc review is due
            "hosts": list(assessment.get("hosts") or []),
            "approved_lines": approved_lines(assessment),
            "post_review_due": assessment.get("post_review_due"),
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
    with open_ledger(ledger_path) as ledger:
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
    with open_ledger(ledger_path) as ledger:
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


# Written before a device stage touches any device, in one transaction with its references ("stage.refs"): which devices it
# is about to change, the candidate lines (redacted, with their sha256) and the run doing it (for `governed-change recover`).
STAGE_STARTED_EVENT = "stage.started"


def _candidates(candidates, hosts):
    if candidates is None:
        return {}
    if not isinstance(candidates, dict):
        raise ValidationError("must be a mapping of host to its configuration lines.", where="candidates",
                              fix="pass {host: [lines]} (the lines the stage deploys).")
    out = {}
    for host in hosts:
        lines = candidates.get(host)
        if lines is None:
            continue
        if isinstance(lines, str):
            lines = lines.splitlines()
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise ValidationError("must be a list of configuration lines.", where="candidates.%s" % host,
                                  fix="pass the host's rendered lines (deploy_config_lines).")
        text = "\n".join(line.rstrip("\r\n") for line in lines) + "\n"
        out[host] = {"sha256": sha256_of(text), "lines": redact_text(text)[0].splitlines()}
    return out


def record_stage_start(ledger_path, change_id, stage, hosts, refs, candidates=None, run=None, actor="governed.change"):
    """Before a stage touches ``hosts``: record every reference needed to restore them, then "stage.started" (one transaction).

    Every host needs a backup and a pre-change snapshot in ``refs`` (fail closed: a device without them is never touched).
    Returns the "stage.started" event.
    """
    _check_refs(refs)
    if not isinstance(stage, str) or not stage:
        raise ValidationError("a stage name is required.", where="stage", fix="pass the stage about to touch devices (e.g. deploy).")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise ValidationError("the devices the stage is about to touch are required.", where="start_hosts",
                              fix="pass the list of devices (the deploy's targets).")
    for key, what in (("backups", "backup"), ("pre_snapshots", "pre-change snapshot")):
        missing = [host for host in hosts if host not in (refs.get(key) or {})]
        if missing:
            raise ValidationError("no %s reference for %s: a device is only touched once the ledger can say how to restore it."
                                  % (what, ", ".join(missing)), where="refs.%s" % key,
                                  fix="run the precheck stage first and pass its governed_backups and governed_pre_snapshots.")
    data = {key: refs[key] for key in REF_MAPS + REF_LISTS if refs.get(key)}
    started = {"stage": stage, "hosts": list(hosts), "candidates": _candidates(candidates, hosts), "run": run or {}}
    with open_ledger(ledger_path) as ledger:
        change = ledger.check_change(change_id)
        if change is None:
            raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % ledger_path,
                              fix="run governed.change.assess with this ledger first (it opens the change record).")
        if change["state"] in FINAL_STATES:
            raise LedgerError("change %s is %s; no stage may start." % (change_id, change["state"]), where="ledger: %s" % ledger_path,
                              fix="a %s change is final: open a new change id." % change["state"])
        events = ledger.append_events([(change_id, STAGE_REFS_EVENT, actor, {"stage": stage, "refs": data}),
                                       (change_id, STAGE_STARTED_EVENT, actor, started)])
    return events[-1]


def stage_starts(events, stage=None):
    """The "stage.started" events' data among ``events`` (of one change), oldest first; only ``stage``'s when given."""
    return [dict(event["data"], seq=event["seq"], ts=event["ts"]) for event in events
            if event["kind"] == STAGE_STARTED_EVENT and (stage is None or (event.get("data") or {}).get("stage") == stage)]
