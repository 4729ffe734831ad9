# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller glue shared by the review and window gate actions: the assessment, the time, the ledger, targets."""

from __future__ import annotations

import datetime
import json
import os

from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

ASSESS_FIX = ("pass assessment: \"{{ assessment.assessment }}\" (the registered governed.change.assess result), or "
              "assessment_file: the JSON governed.change.assess wrote to its output_dir.")
# Keys only the full assessment has; a set_stats summary lacks them and points at the full file instead.
FULL_KEYS = ("author", "facts")


def read_assessment_file(path):
    """The full assessment from a JSON file written by governed.change.assess (or a registered result dumped)."""
    require_file(path, "assessment", where="assessment_file: %s" % path,
                 fix="point assessment_file at the <change id>.assessment.json governed.change.assess wrote.")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise ValidationError("the assessment file cannot be read (%s)." % (exc.strerror or exc), where="assessment_file: %s" % path,
                              fix="point assessment_file at the <change id>.assessment.json governed.change.assess wrote.")
    except ValueError as exc:
        raise ValidationError("the assessment file is not JSON (%s)." % exc, where="assessment_file: %s" % path, fix=ASSESS_FIX)
    if isinstance(doc, dict) and isinstance(doc.get("assessment"), dict):
        doc = doc["assessment"]
    if not isinstance(doc, dict):
        raise ValidationError("the assessment file does not hold an assessment.", where="assessment_file: %s" % path, fix=ASSESS_FIX)
    return doc


def resolve_assessment(given, file_path, fallback, resolve_path):
    """(assessment, where it came from). ``given``: the assessment dict or a set_stats summary with ``assessment_file``;
    ``file_path``: the full assessment's JSON; ``fallback``: the governed_assessment fact or extra var.
    A summary is replaced by the file it names; a file and a dict must agree on the content hash."""
    source = "assessment"
    if given is None and not file_path:
        given, source = fallback, "governed_assessment"
        if given is None:
            raise ValidationError("no assessment was given and no governed_assessment fact or extra var is set.",
                                  where="assessment", fix=ASSESS_FIX)
    if given is not None and not isinstance(given, dict):
        raise ValidationError("the assessment must be a dict (got %s)." % type(given).__name__, where=source, fix=ASSESS_FIX)
    if not file_path and given is not None and given.get("assessment_file") and not all(k in given for k in FULL_KEYS):
        file_path = given["assessment_file"]
    if not file_path:
        return given, source
    path = resolve_path(str(file_path))
    doc = read_assessment_file(path)
    if given is not None and given.get("content_hash") and given.get("content_hash") != doc.get("content_hash"):
        raise ValidationError("the assessment file has content hash %s but the given assessment %s: they are not the same "
                              "assessment." % (str(doc.get("content_hash"))[:12], str(given.get("content_hash"))[:12]),
                              where="assessment_file: %s" % path, fix="pass the file of the latest assessment of the change.")
    return doc, "assessment_file: %s" % path


def parse_now(text):
    """An aware UTC datetime from the ``now`` option (ISO 8601 with an offset or Z), or None for the current time."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("%r is not an ISO 8601 date-time." % (text,), where="now", fix="use the form 2026-11-28T01:30:00+00:00.")
    if moment.tzinfo is None:
        raise ValidationError("%r has no UTC offset." % (text,), where="now", fix="add Z or an offset such as +01:00.")
    return moment.astimezone(datetime.timezone.utc)


def open_ledger(path, change_id):
    """The ledger holding the change record, verified for this change (SqliteLedger.check_change: its events, rows,
    approvals and leases, and the chain since the last verified checkpoint); a missing file or change is refused
    (nothing is created), a ledger that does not verify is refused with the seq that broke (LedgerTampered)."""
    if not os.path.isfile(path):
        raise LedgerError("the ledger file does not exist.", where="ledger: %s" % path,
                          fix="run governed.change.assess with ledger: set to this path first (it opens the change record).")
    ledger = SqliteLedger(path)
    try:
        record = ledger.check_change(change_id) if change_id else None
    except LedgerError:
        ledger.close()
        raise
    if record is None:
        ledger.close()
        raise LedgerError("change %s is not in the ledger." % change_id, where="ledger: %s" % path,
                          fix="run governed.change.assess with this ledger first (it opens the change record).")
    return ledger, record


def inventory_targets(hosts, task_vars, templar):
    """[{host, site, groups}] of the assessment's hosts from the play's inventory (only these hosts' vars are read)."""
    hostvars = task_vars.get("hostvars") or {}
    wanted = set(hosts)
    groups = {host: [] for host in hosts}
    for group, members in (task_vars.get("groups") or {}).items():
        if group in ("all", "ungrouped"):
            continue
        for member in members:
            if member in wanted:
                groups[member].append(group)
    known = set((task_vars.get("groups") or {}).get("all") or [])
    targets = []
    for host in hosts:
        if host not in known:
            raise ValidationError("host %s of the assessment is not in the inventory." % host, where="assessment.hosts",
                                  fix="run the gate with the inventory the change was assessed against.")
        site = hostvars[host].get("site") if host in hostvars else None
        targets.append({"host": host, "site": templar.template(site) if site is not None else None, "groups": sorted(groups[host])})
    return targets


def join_reasons(reasons):
    """The verdict's reasons as one message, each ending with a full stop."""
    return " ".join(text if text.rstrip().endswith((".", "!", "?")) else text.rstrip() + "." for text in reasons)
