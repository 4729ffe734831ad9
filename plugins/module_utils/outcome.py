# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's verdict, decided once: outcome, escalation reason, each device's state, what was detected, the rollback's
verdict and whether the change's device locks are released.

The pipeline role (``roles/pipeline/tasks/finish.yml``) and the stage playbooks of the AWX path (``playbooks/close.yml``,
``playbooks/escalate.yml``) pass the facts they hold to :func:`decide` (through the ``governed.change.run_outcome``
filter); the summary, the evidence bundle, the report and the escalation packet all show its answer, so they agree.

Input (plain data, every key optional)::

    {stage_failed, error, implementing, forced_outcome, forced_reason, close_error,
     hosts: [...], deployed: [...], failed_hosts: [...],
     records: {host: {precheck?, deploy?, check?, verify?, restore?, rollback_verify?, confirmed?}},
     rollback: {targets, rolled_back, restore_failed, state_differs, verified, records?},
     review: {decision, expired, denied}, window: decision,
     escalate_on_failure, escalate_on_denial, escalation_configured}

A record is a stage's task result for the device (``failed``, ``msg``, ``transient``, ``undecidable``, ``results``,
``settle.last_error``...). A record with ``transient: true`` means the device stayed unreachable after the retries.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data

OUTCOMES = ("successful", "unsuccessful", "canceled")
DEVICE_STAGES = ("deploy", "verify", "rollback")
RECORD_KEYS = ("precheck", "deploy", "check", "verify", "restore", "rollback_verify")
# device states, worst first: the state a device is left in, and whether a person must look at it
STATES = {
    "restore_failed": "the restore from the backup failed",
    "state_differs": "the state differs from the pre-change snapshot after the rollback",
    "unreachable": "unreachable over SSH",
    "not_verified": "restored from the backup, but the rollback was not verified",
    "checks_failed": "checks failed",
    "rolled_back": "rolled back: the backup restored exactly and the state equals the pre-change snapshot",
    "changed": "changed",
    "untouched": "untouched",
}
MSG_LIMIT = 500
AFFECTED = ("restore_failed", "state_differs", "unreachable", "not_verified", "checks_failed")  # a person must look at these


# ---------------------------------------------------------------------------------------------- reading the facts
def _list(value):
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, set)):
        return sorted(set(str(v) for v in value))
    return [str(value)]


def _dict(value):
    return value if isinstance(value, dict) else {}


def _flag(value, default=False):
    """A yes/no fact as Ansible may pass it (a bool, or a string such as "False" from a template)."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _clip(text):
    text = " ".join(str(text or "").split())
    return text if len(text) <= MSG_LIMIT else text[:MSG_LIMIT - 3] + "..."


def _error_text(record):
    """The device's own error of a record: its message, or the last SSH error a settle wait kept."""
    record = _dict(record)
    last = _dict(_dict(record.get("settle")).get("last_error"))
    if record.get("transient") and last.get("message"):
        return _clip(last["message"])
    return _clip(record.get("msg") or last.get("message") or "")


def _failed_checks(record):
    """Names (with their reasons) of the checks that failed in a check record; skipped checks are not failures."""
    out = []
    for item in _dict(record).get("results") or []:
        if isinstance(item, dict) and not item.get("passed") and not item.get("skipped"):
            out.append("%s (%s)" % (item.get("name"), _clip(item.get("reason") or "failed")))
    return out


def unreachable_hosts(records):
    """{host: the SSH error} of every device a stage could not reach after its retries (a record with transient: true)."""
    out = {}
    for host in sorted(records):
        for key in RECORD_KEYS:
            record = _dict(_dict(records[host]).get(key))
            if _flag(record.get("transient")):
                out[host] = _error_text(record) or "unreachable"
                break
    return out


def _merge_rollback_records(rollback, records):
    """The rollback stage's own records (the AWX artifact) fill the devices' restore and rollback_verify records."""
    for host, record in _dict(rollback.get("records")).items():
        mine = records.setdefault(str(host), {})
        for key, theirs in (("restore", "restore"), ("rollback_verify", "verify")):
            if isinstance(_dict(record).get(theirs), dict) and key not in mine:
                mine[key] = record[theirs]


def _restore_failed(restore):
    return bool(restore.get("failed") or restore.get("verified") is False)


def _from_records(records, targets, restore_failed, state_differs):
    """Complete the rollback's lists from the per-device records: a restore that ran makes a target, one that failed (or did
    not give back the backup) a failed restore; a state check that failed after the rollback a state that differs."""
    add_target, add_failed, add_differs = _adder(targets), _adder(restore_failed), _adder(state_differs)
    for host in sorted(records):
        restore = _dict(_dict(records[host]).get("restore"))
        if restore and not restore.get("skipped"):
            add_target(host)
            if _restore_failed(restore):
                add_failed(host)
        verify = _dict(_dict(records[host]).get("rollback_verify"))
        if verify.get("failed") and not verify.get("skipped"):
            add_differs(host)


def _adder(items):
    """A function appending a host to ``items`` once (membership in a set: a list scan per host was quadratic)."""
    seen = set(items)

    def add(host):
        if host not in seen:
            seen.add(host)
            items.append(host)
    return add


def _given_verified(value):
    """The caller's verdict: None, or a bool (a template may hand "True", "False" or "None")."""
    if isinstance(value, str):
        return None if value.strip().lower() in ("", "none", "null") else _flag(value)
    return value


def _verified(given, targets, restore_failed, state_differs):
    """None when nothing was restored (unless the caller says otherwise); false on any failed restore or differing state."""
    if not targets and not state_differs:
        return None if given is None else bool(given)
    if restore_failed or state_differs:
        return False
    return True if given is None else bool(given)


def _rollback_errors(records, restore_failed, state_differs):
    errors = {}
    for host in restore_failed:
        errors[host] = _error_text(_dict(records.get(host)).get("restore")) or "the restore did not give back the backup"
    for host in state_differs:
        record = _dict(records.get(host)).get("rollback_verify")
        errors.setdefault(host, "; ".join(_failed_checks(record)) or _error_text(record) or "the state differs from the pre-change snapshot")
    return errors


def rollback_verdict(facts, records):
    """{performed, targets, rolled_back, restore_failed, state_differs, verified, errors} from the rollback's facts.

    The lists the rollback role computed win; without them (an AWX close with artifacts only) they follow from the
    per-device records. ``verified`` is None when nothing was restored, else true only when every restore gave back
    the backup exactly and every device of the rollback's scope equals its pre-change snapshot.
    """
    rollback = _dict(facts.get("rollback"))
    _merge_rollback_records(rollback, records)
    targets = _list(rollback.get("targets"))
    restore_failed = _list(rollback.get("restore_failed"))
    state_differs = _list(rollback.get("state_differs"))
    _from_records(records, targets, restore_failed, state_differs)
    failed_set = set(restore_failed)
    rolled_back = [h for h in _list(rollback.get("rolled_back")) or targets if h not in failed_set]
    verified = _verified(_given_verified(rollback.get("verified")), targets, restore_failed, state_differs)
    return {"performed": bool(targets), "targets": sorted(targets), "rolled_back": sorted(rolled_back),
            "restore_failed": sorted(restore_failed), "state_differs": sorted(state_differs), "verified": verified,
            "errors": _rollback_errors(records, restore_failed, state_differs)}


# ---------------------------------------------------------------------------------------------- the rules
def decide_outcome(facts, deployed, failed_hosts, rollback):
    """successful / unsuccessful / canceled (or the forced outcome): a change that reached a device ends unsuccessful
    when a device stage failed, a check failed, anything was rolled back or its close could not be recorded; one that
    reached none is canceled."""
    forced = facts.get("forced_outcome") or ""
    if forced:
        if forced not in OUTCOMES:
            raise ValidationError("%r is not an outcome." % (forced,), where="forced_outcome", fix="use one of %s." % ", ".join(OUTCOMES))
        return forced
    stage_failed = facts.get("stage_failed") or ""
    implementing = facts.get("implementing")
    if implementing is None or implementing == "":
        implementing = bool(deployed) or stage_failed in DEVICE_STAGES
    implementing = _flag(implementing)
    if not implementing:
        return "canceled" if stage_failed or not deployed else "successful"
    if stage_failed or failed_hosts or rollback["performed"]:
        return "unsuccessful"
    # a change whose close could not be recorded (the ledger unreachable) is not a success: the record is not closed
    return "unsuccessful" if facts.get("close_error") else "successful"


def _undecidable(facts, records):
    if (facts.get("stage_failed") or "") not in ("deploy", "verify"):
        return False
    if _flag(facts.get("undecidable")):
        return True
    return any(_flag(_dict(_dict(r).get(key)).get("undecidable")) for r in records.values() for key in ("check", "verify"))


def decide_reason(facts, records, unreachable, rollback):
    """The escalation reason ('' = no escalation); the cause decides it, worst first:

    1. the rollback is not verified: ``retries_exhausted`` when every device it could not restore or verify was
       unreachable (the cause is the management path, not the restore), else ``rollback_failed``;
    2. a device stayed unreachable after the retries: ``retries_exhausted``;
    3. a check could not be decided in deploy/verify: ``check_undecidable``;
    4. deploy/verify failed and the tier escalates failures: ``change_failed``;
    5. a dependency the change waited for was not ready (timeout, undecidable, never met): ``dependency_not_ready``;
    6. the approval timed out / was denied: ``approval_timeout`` / ``approval_denied``;
    7. the close itself failed: ``change_failed``.
    A reason forced by the caller (``forced_reason``) wins.
    """
    if facts.get("forced_reason"):
        return str(facts["forced_reason"])
    stage_failed = facts.get("stage_failed") or ""
    review = _dict(facts.get("review"))
    if rollback["verified"] is False:
        unsettled = set(rollback["restore_failed"]) | set(rollback["state_differs"])
        return "retries_exhausted" if unsettled and unsettled <= set(unreachable) else "rollback_failed"
    if unreachable:
        return "retries_exhausted"
    if _undecidable(facts, records):
        return "check_undecidable"
    if stage_failed in ("deploy", "verify") and _flag(facts.get("escalate_on_failure"), True) and _flag(facts.get("escalation_configured")):
        return "change_failed"
    if stage_failed == "wait_for_dependency":
        return "dependency_not_ready"
    if stage_failed == "review" and _flag(review.get("expired")):
        return "approval_timeout"
    if stage_failed == "review" and _flag(review.get("denied")) and _flag(facts.get("escalate_on_denial"), True):
        return "approval_denied"
    if facts.get("close_error"):
        return "change_failed"
    return ""


def _checks_failed_detail(record):
    failed = _failed_checks(record.get("check")) + _failed_checks(record.get("verify"))
    return "; ".join(failed) or _error_text(record.get("deploy")) or _error_text(record.get("check"))


def _rollback_state(host, unreachable, rollback):
    """A device the rollback could not settle: restore_failed / state_differs with the error (unreachable when the cause
    is the management path); a restored device with no verdict naming any device: not_verified; else rolled_back."""
    for state in ("restore_failed", "state_differs"):
        if host in rollback[state]:
            return ("unreachable", unreachable[host]) if host in unreachable else (state, rollback["errors"].get(host))
    if host in unreachable:
        return "unreachable", unreachable[host]
    if host in rollback["rolled_back"]:
        unnamed = rollback["verified"] is False and not rollback["restore_failed"] and not rollback["state_differs"]
        return ("not_verified" if unnamed else "rolled_back"), ""  # the verdict names no device: every restored one is in doubt
    return None


def _device_state(host, deployed, failed_hosts, record, unreachable, rollback):
    """(state, detail) of one device, worst first (see STATES)."""
    settled = _rollback_state(host, unreachable, rollback)
    if settled:
        return settled
    if host in failed_hosts:
        return "checks_failed", _checks_failed_detail(record)
    if host in deployed:
        unconfirmed = record.get("confirmed") is False
        return "changed", "the commit was not confirmed: its commit-confirmed timer reverts it" if unconfirmed else ""
    return "untouched", ""


def device_states(hosts, deployed, failed_hosts, records, unreachable, rollback):
    """{host: {state, label, detail?, affected}} - one vocabulary (STATES) for the summary, bundle, report and packet."""
    out = {}
    # Membership in sets, not lists: one list scan per host was quadratic in the fleet size.
    deployed, failed_hosts = frozenset(deployed), frozenset(failed_hosts)
    rollback = dict(rollback, **{key: frozenset(rollback[key]) for key in ("restore_failed", "state_differs", "rolled_back")})
    for host in hosts:
        state, detail = _device_state(host, deployed, failed_hosts, _dict(records.get(host)), unreachable, rollback)
        entry = {"state": state, "label": STATES[state], "affected": state in AFFECTED}
        if host in unreachable and host in deployed and not rollback["verified"]:
            detail = "%s; the deploy's commit-confirmed timer reverts an unconfirmed commit by itself" % detail
        if detail:
            entry["detail"] = _clip(detail)
        out[host] = entry
    return out


def _detected(facts, states, rollback, failed_hosts, records):
    """What was detected: the failed stage, every device whose checks failed (with the checks, whatever its state is
    now), every unreachable device with its SSH error, every failed restore with its error, every state that differs."""
    items = []
    if facts.get("stage_failed"):
        items.append(_clip("stage %s failed: %s" % (facts["stage_failed"], facts.get("error") or "")))
    for host, entry in states.items():
        record = _dict(records.get(host))
        if entry["state"] == "unreachable":
            items.append("%s unreachable: %s" % (host, entry.get("detail") or "no SSH connection"))
        elif host in failed_hosts:
            failed = _failed_checks(record.get("check")) + _failed_checks(record.get("verify"))
            why = "; ".join(failed) or _error_text(record.get("deploy")) or _error_text(record.get("check")) or "see the stage's message"
            items.append(_clip("%s: checks failed - %s" % (host, why)))
        if entry["state"] == "restore_failed":
            items.append("%s: the restore failed - %s" % (host, entry.get("detail") or "no message"))
        elif entry["state"] == "state_differs":
            items.append("%s: after the rollback the state differs from the pre-change snapshot - %s" % (host, entry.get("detail") or ""))
    if rollback["verified"] is True:
        items.append("rollback verified on %s: the state equals the pre-change snapshot" % ", ".join(rollback["targets"]))
    return items


def _locks_sentence(release, states):
    if release:
        return "The change's device locks were released."
    held = [h for h, e in states.items() if e["state"] in ("restore_failed", "state_differs", "unreachable", "not_verified")]
    return ("The change's device locks are held (%s not back in its pre-change state): once each device is, release them with "
            "`governed-change ledger break-lock DEVICE --reason ...`." % (", ".join(held) or "a device"))


def decide(facts):
    """The whole verdict of a run from plain facts (see the module docstring); secrets in messages are redacted.

    Returns ``{outcome, reason, devices, detected, rollback, unreachable, release_locks, locks, summary}``.
    """
    if not isinstance(facts, dict):
        raise ValidationError("the run's facts must be a mapping, got %s." % type(facts).__name__, where="run_outcome",
                              fix="pass {stage_failed, deployed, failed_hosts, records, rollback, ...}.")
    facts = redact_data(facts)[0]
    records = dict((str(h), _dict(r)) for h, r in _dict(facts.get("records")).items())
    deployed = _list(facts.get("deployed"))
    failed_hosts = _list(facts.get("failed_hosts"))
    rollback = rollback_verdict(facts, records)
    hosts = sorted(set().union(_list(facts.get("hosts")), records, deployed, failed_hosts, rollback["targets"],
                               rollback["state_differs"]))
    unreachable = unreachable_hosts(records)
    outcome = decide_outcome(facts, deployed, failed_hosts, rollback)
    reason = decide_reason(facts, records, unreachable, rollback)
    states = device_states(hosts, deployed, failed_hosts, records, unreachable, rollback)
    # a device that may not be in its pre-change state keeps the change's locks: a person releases them after looking
    release = rollback["verified"] is not False and not any(
        states[h]["state"] in ("restore_failed", "state_differs", "not_verified") or (states[h]["state"] == "unreachable" and h in deployed) for h in states)
    return {"outcome": outcome, "reason": reason, "devices": states, "detected": _detected(facts, states, rollback, failed_hosts, records),
            "rollback": rollback, "unreachable": unreachable, "release_locks": release, "locks": _locks_sentence(release, states),
            "summary": summary_line(outcome, reason, states, rollback)}


def summary_line(outcome, reason, states, rollback):
    """One line: the outcome, the rollback's verdict, the escalation reason and the devices not in a good state."""
    bad = ["%s %s" % (h, e["state"]) for h, e in states.items() if e["affected"] or e["state"] == "rolled_back"]
    text = outcome or "not closed"
    if rollback["verified"] is not None:
        text += ", rollback %s" % ("verified" if rollback["verified"] else "NOT verified")
    if reason:
        text += ", escalated (%s)" % reason
    if bad:
        text += ": " + ", ".join(bad)
    return text
