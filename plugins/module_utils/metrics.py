# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change metrics from the ledger: lead time, MTTR, change failure rate, automation coverage and counts.

One streaming pass over the events table (SQL picks the few fields each event kind contributes, with SQLite's JSON
functions) folds the events into one small record per change (:class:`ChangeFacts`); :func:`aggregate` then buckets those
records per period (day / week / month in a time zone, DST-correct) and per group (risk tier, category, site, change
class). Every metric is attributed to the period of its own event (a lead time to the close, a failure to the deploy,
a count to the event counted). The definitions, and the DORA term each maps to, are in docs/metrics.md; the renderers
(table, JSON, Prometheus text, HTML) are in metrics_render.py.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import math
import sqlite3

from ansible_collections.governed.change.plugins.module_utils import clock, learning
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError

PERIODS = ("day", "week", "month")
DIMENSIONS = ("tier", "category", "site", "class")
# Actors whose stage events count as automation (globs; --automation-actor replaces them). Everything else is a person.
DEFAULT_AUTOMATION_ACTORS = ("governed.change*", "awx", "svc-*")
UNKNOWN = "unknown"
ALL = "all"
SUCCESSFUL = ("successful", "successful_issues")

# Post-hoc reviews and escalations: "due" is written by the window gate (lifecycle._record_window), "done" by
# `governed-change review complete` (post_review.py), "resolved" by the learning loop (learning.py).
POST_HOC_DUE = "review.post_hoc_due"
POST_HOC_DONE = ("review.post_hoc_done",)
ESCALATION_OPENED = ("escalation.sent", "escalation.failed_to_send")
ESCALATION_RESOLVED = ("escalation.resolved",)

COUNT_KEYS = ("requested", "approved", "denied", "canceled", "emergency", "freeze_bypasses", "deployed", "closed",
              "closed_successful", "failed", "post_hoc_due", "post_hoc_done", "post_hoc_overdue", "escalations",
              "escalations_resolved")
LEAD_PARTS = ("review", "window", "running")
# Lead-time histogram bounds (seconds) for the HTML distribution and the Prometheus histogram.
LEAD_BUCKETS = (300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400)

# Each kind's fields, read in SQL (one json_extract per event: one parse of its data). One path gives the value (a boolean
# as 1/0); several give a JSON array of them, decoded into a list. change.state gives "to:close_code" as text, and only
# the moves the metrics use reach Python (most events of a ledger are moves and task records: fewer rows, less time).
_FIELDS = {
    "change.created": ("$.tier",),
    "change.state": None,
    "verdict.assess": ("$.verdict.change_class", "$.verdict.category", "$.verdict.sites", "$.verdict.tier",
                       "$.verdict.required_gates", "$.verdict.post_review_due"),
    "verdict.review": ("$.verdict.decision",),
    "verdict.window": ("$.verdict.decision", "$.verdict.bypass.post_review_due"),
    "approval.deny": (),
    "stage.started": ("$.stage",),
    "stage.results": ("$.stages.decision.rollback.performed", "$.stages.failed_at", "$.stages.rollback_verified_at"),
    "change.outcome": (),
    "recovery.result": ("$.recovered",),
    "lock.broken": (),
    POST_HOC_DUE: ("$.post_review_due",),
}
for _kind in POST_HOC_DONE + ESCALATION_OPENED + ESCALATION_RESOLVED:
    _FIELDS[_kind] = ()
KINDS = tuple(sorted(_FIELDS))
_MULTI = frozenset(kind for kind, paths in _FIELDS.items() if paths and len(paths) > 1)
STATE_MOVES = ("scheduled", "implement", "closed", "canceled")


def _column():
    arms = ["WHEN 'change.state' THEN json_extract(data, '$.to') || ':' || coalesce(json_extract(data, '$.close_code'), '')"]
    arms += ["WHEN '%s' THEN json_extract(data, %s)" % (kind, ", ".join("'%s'" % path for path in paths))
             for kind, paths in sorted(_FIELDS.items()) if paths]
    return "CASE kind %s END" % " ".join(arms)


# NOT INDEXED: a scan in seq (rowid) order beats the kind index plus a sort of most of the table
SQL = ("SELECT change_id, ts, kind, actor, %s FROM events NOT INDEXED WHERE kind IN (%s) AND (kind != 'change.state' OR "
       "json_extract(data, '$.to') IN (%s)) ORDER BY seq" % (_column(), ", ".join("?" * len(KINDS)),
                                                             ", ".join("'%s'" % move for move in STATE_MOVES)))


def _pg_path(path):
    """A '$.a.b' path as a PostgreSQL text[] path ('{a,b}')."""
    return "'{%s}'" % ",".join(path[2:].split("."))


def _pg_column():
    """_column() for PostgreSQL: one jsonb value per row (several paths: the JSON text of their array, as SQLite gives)."""
    arms = ["WHEN 'change.state' THEN to_jsonb((d ->> 'to') || ':' || coalesce(d ->> 'close_code', ''))"]
    for kind, paths in sorted(_FIELDS.items()):
        if paths and len(paths) == 1:
            arms.append("WHEN '%s' THEN d #> %s" % (kind, _pg_path(paths[0])))
        elif paths:
            arms.append("WHEN '%s' THEN to_jsonb(jsonb_build_array(%s)::text)" % (
                kind, ", ".join("d #> %s" % _pg_path(path) for path in paths)))
    return "CASE kind %s END" % " ".join(arms)


# The same rows from a PostgreSQL ledger (ledger_pg: its connection's dialect); booleans come as true/false, not 1/0.
SQL_POSTGRESQL = ("SELECT change_id, ts, kind, actor, %s FROM (SELECT seq, change_id, ts, kind, actor, data::jsonb AS d "
                  "FROM events WHERE kind IN (%s)) AS e WHERE kind != 'change.state' OR d ->> 'to' IN (%s) ORDER BY seq" % (
                      _pg_column(), ", ".join("?" * len(KINDS)), ", ".join("'%s'" % move for move in STATE_MOVES)))


def _db_errors(conn):
    """The errors a read of ``conn`` may raise: sqlite3's, and the PostgreSQL driver's for a PostgreSQL ledger."""
    return (sqlite3.Error,) + tuple(getattr(conn, "errors", ()))


# ---------------------------------------------------------------------------------------------- time
class Clock:
    """Ledger timestamps to epoch seconds, and epoch seconds to period labels in a time zone (both cached per minute)."""

    def __init__(self, timezone="UTC", period="day"):
        self.zone = zone_of(timezone)
        self.timezone = timezone
        if period not in PERIODS:
            raise ValidationError("unknown period %r." % (period,), where="--period", fix="use one of: %s." % ", ".join(PERIODS))
        self.period = period
        self.minutes = {}
        self._labels = {}

    def epoch(self, ts):
        """Seconds since the epoch of a ledger timestamp (clock.iso_z: YYYY-MM-DDTHH:MM:SS[.ffffff]Z)."""
        if ts is None:
            return None
        base = self.minutes.get(ts[:16])
        if base is None:
            try:
                base = datetime.datetime.fromisoformat(ts[:16] + "+00:00").timestamp()
            except ValueError:
                return clock.parse_instant(ts, where="event ts").timestamp()
            self.minutes[ts[:16]] = base
        try:
            return base + float(ts[17:-1]) if ts.endswith("Z") and len(ts) > 17 else base
        except ValueError:
            return clock.parse_instant(ts, where="event ts").timestamp()

    def label(self, epoch):
        """The period (day YYYY-MM-DD, ISO week YYYY-Www, month YYYY-MM) holding ``epoch`` in the time zone.

        Zone offsets and their changes fall on quarter hours, so every instant of one UTC quarter hour is in the same
        local period: one conversion per quarter hour."""
        quarter = int(epoch // 900)
        label = self._labels.get(quarter)
        if label is None:
            local = datetime.datetime.fromtimestamp(quarter * 900, self.zone)
            if self.period == "day":
                label = local.strftime("%Y-%m-%d")
            elif self.period == "week":
                year, week, _day = local.isocalendar()
                label = "%04d-W%02d" % (year, week)
            else:
                label = local.strftime("%Y-%m")
            self._labels[quarter] = label
        return label


def zone_of(name):
    """The tzinfo of an IANA time zone name (UTC without the tz database)."""
    if name in (None, "", "UTC", "Z"):
        return datetime.timezone.utc
    try:
        import zoneinfo  # pylint: disable=import-outside-toplevel
        return zoneinfo.ZoneInfo(name)
    except (ImportError, ValueError, KeyError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValidationError("unknown time zone %r (%s)." % (name, exc.__class__.__name__), where="--timezone",
                              fix="pass an IANA zone name such as Europe/Berlin or UTC (the tzdata package provides them).")


def bound(text, zone, where):
    """--since / --until: an instant (ISO 8601 with Z or an offset), or a date YYYY-MM-DD at local midnight; epoch seconds."""
    if text in (None, ""):
        return None
    if len(text) == 10:
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None:
            return datetime.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    return clock.parse_instant(text, where=where, error=ValidationError).timestamp()


# ---------------------------------------------------------------------------------------------- one pass: events -> changes
class ChangeFacts:  # pylint: disable=too-many-instance-attributes,too-few-public-methods
    """What the metrics need of one change, folded from its events (timestamps as epoch seconds)."""

    __slots__ = ("change_id", "requested", "tier", "klass", "category", "sites", "scheduled", "window_passed", "implement",
                 "closed", "close_code", "canceled", "approved", "denied", "rolled_back", "failed_at", "restored_at",
                 "bypasses", "post_hoc_due", "post_hoc_done", "escalations", "resolutions", "stages_automated",
                 "stages_manual", "manual")

    def __init__(self, change_id):
        self.change_id = change_id
        self.requested = self.scheduled = self.window_passed = self.implement = None
        self.closed = self.canceled = self.approved = self.denied = None
        self.failed_at = self.restored_at = None
        self.tier = self.klass = self.category = self.close_code = None
        self.sites = ()
        self.rolled_back = self.manual = False
        self.bypasses, self.post_hoc_due, self.post_hoc_done = [], None, None  # due: (when made due, due text)
        self.escalations, self.resolutions = [], []
        self.stages_automated, self.stages_manual = [], []

    def group(self, dimension):
        """The change's values for ``dimension`` (a change touching several sites is in each of them)."""
        if dimension == "tier":
            return (self.tier or UNKNOWN,)
        if dimension == "class":
            return (self.klass or UNKNOWN,)
        if dimension == "category":
            return (self.category or UNKNOWN,)
        if dimension == "site":
            return tuple(self.sites) or (UNKNOWN,)
        return (ALL,)

    def failed(self):
        """A change that reached deploy and was rolled back or closed unsuccessful."""
        return self.implement is not None and (self.rolled_back or self.close_code == "unsuccessful")

    def successful(self):
        return self.closed is not None and self.close_code in SUCCESSFUL


def _on_created(change, when, actor, tier, ctx):
    change.requested, change.tier = when, tier


def _on_state(change, when, actor, move, ctx):
    """A lifecycle move, as "to:close_code"."""
    to, _sep, code = move.partition(":")
    if to == "scheduled":
        change.scheduled = when
    elif to == "implement" and change.implement is None:
        change.implement = when
    elif to == "closed":
        change.closed, change.close_code = when, code or None
    elif to == "canceled":
        change.canceled = when


def _on_assess(change, when, actor, fields, ctx):
    klass, category, sites, tier, gates, post_review_due = fields
    if post_review_due and isinstance(gates, list) and "post_review" in gates:  # post_review.obligations' rule
        change.post_hoc_due = (when, post_review_due)
    change.klass, change.category, change.tier = klass or change.klass, category or change.category, tier or change.tier
    if isinstance(sites, list):
        change.sites = tuple(str(site) for site in sites)
    _on_stage(change, when, actor, ctx)


def _on_review(change, when, actor, decision, ctx):
    if decision == "pass" and change.approved is None:
        change.approved = when
    _on_stage(change, when, actor, ctx)


def _on_window(change, when, actor, fields, ctx):
    decision, bypass_due = fields
    if decision == "pass":
        change.window_passed = when
        if bypass_due is not None:
            change.bypasses.append(when)
    _on_stage(change, when, actor, ctx)


def _on_deny(change, when, actor, _field, ctx):
    if change.denied is None:
        change.denied = when


def _on_started(change, when, actor, stage, ctx):
    if stage == "deploy" and change.implement is None:
        change.implement = when
    _on_stage(change, when, actor, ctx)


def _on_results(change, when, actor, fields, ctx):
    performed, failed_at, verified_at = fields
    change.rolled_back = change.rolled_back or bool(performed)
    if failed_at and verified_at:
        change.failed_at, change.restored_at = ctx.clock.epoch(failed_at), ctx.clock.epoch(verified_at)


def _on_outcome(change, when, actor, _field, ctx):
    _on_stage(change, when, actor, ctx)


def _on_recovery(change, when, actor, recovered, ctx):
    change.rolled_back = change.rolled_back or bool(recovered)
    _on_manual(change, when, actor, recovered, ctx)


def _on_manual(change, when, actor, _field, ctx):
    change.manual = True
    change.stages_manual.append(when)


def _on_due(change, when, actor, due, ctx):
    """The window gate's bypass record: the latest due date recorded (bypass or assessment) is the one that counts."""
    change.post_hoc_due = (when, due)


def _on_done(change, when, actor, _field, ctx):
    if change.post_hoc_done is None:
        change.post_hoc_done = when


def _on_escalation(change, when, actor, _field, ctx):
    change.escalations.append(when)
    _on_stage(change, when, actor, ctx)


def _on_resolved(change, when, actor, _field, ctx):
    change.resolutions.append(when)


def _on_stage(change, when, actor, ctx):
    """A stage ran: by automation when its actor matches an automation pattern, else by a person (a manual step)."""
    if ctx.automated[actor]:
        change.stages_automated.append(when)
    else:
        change.manual = True
        change.stages_manual.append(when)


_ON = {"change.created": _on_created, "change.state": _on_state, "verdict.assess": _on_assess, "verdict.review": _on_review,
       "verdict.window": _on_window, "approval.deny": _on_deny, "stage.started": _on_started, "stage.results": _on_results,
       # a broken lease and the recovery of a dead run are a person's step whoever records them
       "change.outcome": _on_outcome, "recovery.result": _on_recovery, "lock.broken": _on_manual, POST_HOC_DUE: _on_due}
_ON.update((kind, _on_done) for kind in POST_HOC_DONE)
_ON.update((kind, _on_escalation) for kind in ESCALATION_OPENED)
_ON.update((kind, _on_resolved) for kind in ESCALATION_RESOLVED)


class _Automated(dict):
    """actor -> whether it matches an automation pattern, matched once per actor."""

    def __init__(self, patterns):
        super().__init__()
        self.patterns = tuple(patterns)

    def __missing__(self, actor):
        known = self[actor] = any(fnmatch.fnmatchcase(actor or "", pattern) for pattern in self.patterns)
        return known


class _Context:  # pylint: disable=too-few-public-methods
    """What the event handlers share: the clock, the automation patterns (memoized per actor), a JSON decoder."""

    def __init__(self, time, automation_actors):
        self.clock = time
        self.json = json.loads
        self.automated = _Automated(automation_actors)


def read_changes(conn, time, automation_actors=DEFAULT_AUTOMATION_ACTORS):
    """Fold the ledger's events (one SQL pass in seq order) into {change_id: ChangeFacts}."""
    ctx = _Context(time, automation_actors)
    try:
        return _fold(conn.execute(SQL_POSTGRESQL if getattr(conn, "dialect", None) == "postgresql" else SQL, KINDS), ctx)
    except _db_errors(conn) as exc:  # e.g. an event whose data is no longer JSON (edited before the verified checkpoint)
        raise LedgerError("the ledger's events cannot be read for the metrics (%s)." % exc, where="events",
                          fix="run `governed-change ledger verify --ledger PATH` to find the edited event, and restore the ledger "
                              "from a backup.")


def _fold(rows, ctx):
    """{change_id: ChangeFacts} from the SQL rows (change_id, ts, kind, actor, field)."""
    changes = {}
    epoch, minutes, decode, multi, handlers = ctx.clock.epoch, ctx.clock.minutes, ctx.json, _MULTI, _ON
    for change_id, ts, kind, actor, field in rows:
        change = changes.get(change_id)
        if change is None:
            if change_id is None:
                continue
            change = changes[change_id] = ChangeFacts(change_id)
        base = minutes.get(ts[:16])  # Clock.epoch inlined for the common form (a minute seen before, trailing Z)
        when = (base + float(ts[17:-1]) if len(ts) > 17 else base) if base is not None and ts[-1] == "Z" else epoch(ts)
        handlers[kind](change, when, actor, decode(field) if kind in multi else field, ctx)
    return changes


# ---------------------------------------------------------------------------------------------- aggregation
def nearest_rank(ordered, fraction):
    """The nearest-rank percentile of an ascending list: the smallest value with at least ``fraction`` of the values <= it."""
    if not ordered:
        return None
    return ordered[max(0, min(len(ordered), int(math.ceil(fraction * len(ordered)))) - 1)]


def summary(samples):
    """{count, mean, p50, p90} of durations in seconds (None values without samples), rounded to milliseconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    return {"count": len(ordered), "mean": round(sum(ordered) / len(ordered), 3), "p50": round(nearest_rank(ordered, 0.5), 3),
            "p90": round(nearest_rank(ordered, 0.9), 3)}


def ratio(part, whole):
    return round(part / whole, 6) if whole else None


class Bucket:  # pylint: disable=too-few-public-methods
    """The counts and samples of one (period, group)."""

    __slots__ = ("counts", "lead", "parts", "mttr_restore", "mttr_escalation", "automated", "manual", "end_to_end")

    def __init__(self):
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self.lead, self.mttr_restore, self.mttr_escalation = [], [], []
        self.parts = {part: [] for part in LEAD_PARTS}
        self.automated = self.manual = self.end_to_end = 0

    def merge(self, other):
        """Add ``other``'s counts and samples to this bucket (the whole range from its periods)."""
        for key, value in other.counts.items():
            self.counts[key] += value
        self.lead += other.lead
        self.mttr_restore += other.mttr_restore
        self.mttr_escalation += other.mttr_escalation
        for part, values in other.parts.items():
            self.parts[part] += values
        self.automated += other.automated
        self.manual += other.manual
        self.end_to_end += other.end_to_end

    def row(self):
        counts = dict(self.counts)
        stages = self.automated + self.manual
        return {
            "counts": counts,
            "lead_time_s": dict(summary(self.lead), parts={part: summary(values) for part, values in self.parts.items()}),
            "mttr_s": {"restore": summary(self.mttr_restore), "escalation": summary(self.mttr_escalation)},
            "change_failure_rate": {"failed": counts["failed"], "deployed": counts["deployed"],
                                    "rate": ratio(counts["failed"], counts["deployed"])},
            "automation": {"stages_automated": self.automated, "stages_manual": self.manual, "stage_ratio": ratio(self.automated, stages),
                           "end_to_end": self.end_to_end, "closed": counts["closed"],
                           "end_to_end_ratio": ratio(self.end_to_end, counts["closed"])},
        }


class _Window:
    """The --since/--until filter and the per-period buckets of the change being observed (its groups are set once)."""

    def __init__(self, time, since, until):
        self.time, self.since, self.until = time, since, until
        self.buckets = {}
        self.groups = (ALL,)
        self.lead_samples = []

    def targets(self, when):
        """The buckets an observation at ``when`` goes to: its period's, one per group of the change ([] outside the range)."""
        if when is None or (self.since is not None and when < self.since) or (self.until is not None and when >= self.until):
            return []
        label = self.time.label(when)
        out = []
        for group in self.groups:
            bucket = self.buckets.get((label, group))
            if bucket is None:
                bucket = self.buckets[(label, group)] = Bucket()
            out.append(bucket)
        return out

    def count(self, key, when):
        for bucket in self.targets(when):
            bucket.counts[key] += 1


def _lead_parts(change):
    """(total, {review, window, running}) seconds of a successful change; the parts add up to the total."""
    start, end = change.requested, change.closed
    scheduled = min(max(change.scheduled if change.scheduled is not None else start, start), end)
    window = change.window_passed if change.window_passed is not None and change.window_passed >= scheduled else scheduled
    window = min(window, end)
    return end - start, {"review": scheduled - start, "window": window - scheduled, "running": end - window}


def _observe_counts(win, change, as_of):
    win.count("requested", change.requested)
    if change.klass == "emergency":
        win.count("emergency", change.requested)
    win.count("approved", change.approved)
    win.count("denied", change.denied)
    win.count("canceled", change.canceled)
    for when in change.bypasses:
        win.count("freeze_bypasses", when)
    _observe_post_hoc(win, change, as_of)
    for when in change.escalations:
        win.count("escalations", when)
    for when in change.resolutions:
        win.count("escalations_resolved", when)


def _due_epoch(text):
    """Epoch seconds of a recorded due date (any offset; Clock.epoch reads the ledger's own Z form only), or None when it
    is unreadable."""
    try:
        return clock.parse_instant(text, where="post_review_due").timestamp()
    except (clock.ClockError, ValueError, TypeError):
        return None


def _observe_post_hoc(win, change, as_of):
    """The post-hoc review a change owes, counted as `governed-change review list` lists it (post_review.obligations):
    one per change, due at the latest due date recorded (the window gate's bypass or the assessment's post_review gate),
    none for a change canceled before any deploy; done at the first signed review; overdue when not done and the due date
    has passed as of ``as_of`` (an unreadable due date counts as passed). Due and overdue are filed under the event that
    made it due, done under the review."""
    if change.post_hoc_due is None or (change.canceled is not None and change.implement is None):
        return
    when, due_text = change.post_hoc_due
    win.count("post_hoc_due", when)
    if change.post_hoc_done is not None:
        win.count("post_hoc_done", change.post_hoc_done)
        return
    due = _due_epoch(due_text)
    if due is None or due <= as_of:
        win.count("post_hoc_overdue", when)


def ended_deploy(change):
    """Whether the change counts in the change failure rate: it reached deploy and ended (closed or canceled)."""
    return change.implement is not None and (change.closed is not None or change.canceled is not None)


def _observe_deploy(win, change):
    """Change failure rate: a deploy that ended is counted at its start; failed when rolled back or closed unsuccessful."""
    if ended_deploy(change):
        win.count("deployed", change.implement)
        if change.failed():
            win.count("failed", change.implement)


def _observe_close(win, change):
    """Lead time and its parts, and end-to-end automation, at the close."""
    targets = win.targets(change.closed)
    if not targets:
        return
    successful = change.successful() and change.requested is not None
    if successful:
        total, parts = _lead_parts(change)
        win.lead_samples.append(total)
    for bucket in targets:
        bucket.counts["closed"] += 1
        bucket.end_to_end += 0 if change.manual else 1
        if successful:
            bucket.counts["closed_successful"] += 1
            bucket.lead.append(total)
            for part, seconds in parts.items():
                bucket.parts[part].append(seconds)


def _observe_recovery(win, change):
    """MTTR: failure detected -> verified restored (at the restore); escalation opened -> resolved (at the resolution)."""
    if change.failed_at is not None and change.restored_at is not None:
        for bucket in win.targets(change.restored_at):
            bucket.mttr_restore.append(max(0.0, change.restored_at - change.failed_at))
    opened = sorted(change.escalations)
    for index, when in enumerate(sorted(change.resolutions)):
        if index < len(opened):
            for bucket in win.targets(when):
                bucket.mttr_escalation.append(max(0.0, when - opened[index]))


def _observe_stages(win, change):
    for when in change.stages_automated:
        for bucket in win.targets(when):
            bucket.automated += 1
    for when in change.stages_manual:
        for bucket in win.targets(when):
            bucket.manual += 1


def histogram(samples, bounds=LEAD_BUCKETS):
    """Cumulative counts per upper bound (seconds), then +Inf: [{le, count}] (the Prometheus histogram's buckets)."""
    ordered = sorted(samples)
    out, index = [], 0
    for edge in bounds:
        while index < len(ordered) and ordered[index] <= edge:
            index += 1
        out.append({"le": edge, "count": index})
    out.append({"le": "+Inf", "count": len(ordered)})
    return out


def aggregate(changes, time, by=None, since=None, until=None, as_of=None):
    """The report's rows: one per (period, group) in period order, then the whole range (period "all") per group.

    ``changes``: read_changes' result; ``by``: None or one of DIMENSIONS; ``since``/``until``: epoch seconds (an
    observation counts when since <= its time < until); ``as_of``: epoch seconds for "overdue" (default: now)."""
    if by not in (None,) + DIMENSIONS:
        raise ValidationError("unknown grouping %r." % (by,), where="--by", fix="use one of: %s." % ", ".join(DIMENSIONS))
    as_of = clock.utc_now().timestamp() if as_of is None else as_of
    win = _Window(time, since, until)
    for change in changes.values():
        win.groups = change.group(by)
        _observe_counts(win, change, as_of)
        _observe_deploy(win, change)
        _observe_close(win, change)
        _observe_recovery(win, change)
        _observe_stages(win, change)
    totals = {}
    for (_period, group), bucket in win.buckets.items():
        totals.setdefault(group, Bucket()).merge(bucket)
    rows = [dict(win.buckets[key].row(), period=key[0], group=key[1]) for key in sorted(win.buckets)]
    rows += [dict(totals[group].row(), period=ALL, group=group) for group in sorted(totals)]
    return {"rows": rows, "lead_time_histogram": histogram(win.lead_samples), "lead_time_sum": round(sum(win.lead_samples), 3)}


def failure_by(changes, time, dimension, since=None, until=None):
    """The whole range's change failure rate per group of ``dimension``: [{group, failed, deployed, rate}] by group."""
    counts = {}
    for change in changes.values():
        if not ended_deploy(change) or (since is not None and change.implement < since) or (until is not None and change.implement >= until):
            continue
        failed = change.failed()
        for group in change.group(dimension):
            item = counts.setdefault(group, [0, 0])
            item[0] += 1 if failed else 0
            item[1] += 1
    return [{"group": group, "failed": failed, "deployed": deployed, "rate": ratio(failed, deployed)}
            for group, (failed, deployed) in sorted(counts.items())]


def compute(conn, period="day", by=None, timezone="UTC", since=None, until=None, as_of=None,
            automation_actors=DEFAULT_AUTOMATION_ACTORS):
    """The metrics report of an open ledger connection (see docs/metrics.md): {period, by, timezone, since, until, as_of,
    changes, rows, lead_time_histogram, failure_by}; ``failure_by`` holds the whole range's change failure rate per tier
    and per category (for the HTML page). ``since``/``until``: text (see :func:`bound`); ``as_of``: an aware datetime."""
    time = Clock(timezone, period)
    start, end = bound(since, time.zone, "--since"), bound(until, time.zone, "--until")
    if start is not None and end is not None and end <= start:
        raise ValidationError("--until is not after --since.", where="--until", fix="pass an end later than the start.")
    moment = as_of or clock.utc_now()
    changes = read_changes(conn, time, automation_actors)
    report = aggregate(changes, time, by=by, since=start, until=end, as_of=moment.timestamp())
    failures = {dimension: failure_by(changes, time, dimension, since=start, until=end) for dimension in ("tier", "category")}
    report.update(period=period, by=by, timezone=timezone, since=since, until=until, as_of=clock.iso_z(moment),
                  changes=len(changes), failure_by=failures, automation_actors=list(automation_actors),
                  repeat_causes=read_causes(conn, start, end))
    return report


CAUSES_SQL = "SELECT seq, change_id, ts, kind, actor, data FROM events WHERE kind = ? ORDER BY seq"


def read_causes(conn, since=None, until=None):
    """The learning loop's causes (learning.repeat_causes) of the escalations resolved in the range, most frequent first;
    ``since``/``until``: epoch seconds or None. Only escalation.resolved events are read (the kind index: few rows)."""
    try:
        events = [{"seq": seq, "change_id": cid, "ts": ts, "kind": kind, "actor": actor, "data": json.loads(data)}
                  for seq, cid, ts, kind, actor, data in conn.execute(CAUSES_SQL, ESCALATION_RESOLVED[:1])]
    except (ValueError,) + _db_errors(conn) as exc:
        raise LedgerError("the ledger's escalation resolutions cannot be read for the metrics (%s)." % exc, where="events",
                          fix="run `governed-change ledger verify --ledger PATH` to find the edited event, and restore the ledger "
                              "from a backup.")
    bounds = [None if edge is None else datetime.datetime.fromtimestamp(edge, datetime.timezone.utc) for edge in (since, until)]
    causes = learning.repeat_causes(events, since=bounds[0], until=bounds[1])
    for item in causes:  # a resolution written without a cause (not through learning.resolve) still counts, named so
        item["cause"] = item["cause"] if isinstance(item["cause"], str) and item["cause"] else "(no cause recorded)"
    return causes


def compute_ledger(path, **options):
    """compute() over the ledger file at ``path``, opened read-only; the chain since its verified checkpoint is checked
    first (SqliteLedger.check_change: a tampered ledger raises LedgerTampered naming the seq)."""
    from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger  # pylint: disable=import-outside-toplevel
    with open_ledger(path, readonly=True) as ledger:
        ledger.check_change()
        report = compute(ledger.conn, **options)
    report["ledger"] = str(path)
    return report


# ---------------------------------------------------------------------------------------------- the command line
def add_parser(sub):
    """Register `governed-change metrics` on the CLI's subparsers."""
    import os  # pylint: disable=import-outside-toplevel
    cmd = sub.add_parser("metrics", help="lead time, MTTR, change failure rate, automation coverage and counts from the ledger "
                         "(table, JSON, Prometheus text, HTML; definitions in docs/metrics.md)")
    cmd.add_argument("--ledger", default=os.environ.get("GOVERNED_CHANGE_LEDGER"), help="ledger SQLite file "
                     "(default $GOVERNED_CHANGE_LEDGER)")
    cmd.add_argument("--period", choices=PERIODS, default="day", help="bucket per day, ISO week or month (default day)")
    cmd.add_argument("--by", choices=DIMENSIONS, help="group by risk tier, category, site or change class")
    cmd.add_argument("--timezone", default="UTC", help="IANA zone the periods are cut in, e.g. Europe/Berlin (default UTC)")
    cmd.add_argument("--since", help="count from this instant (ISO 8601 with Z or offset) or date (local midnight)")
    cmd.add_argument("--until", help="count up to, not including, this instant or date")
    cmd.add_argument("--format", choices=("table", "json", "prometheus", "html"), default="table", help="output format")
    cmd.add_argument("--output", help="write to this file (atomically: a textfile collector never reads half a file)")
    cmd.add_argument("--serve", metavar="127.0.0.1:PORT", help="serve /metrics (Prometheus), /metrics.json and / (HTML) on the "
                     "loopback address until interrupted, computed afresh per request")
    cmd.add_argument("--automation-actor", action="append", default=None, metavar="GLOB",
                     help="actors whose stages count as automation (repeatable; default %s)" % " ".join(DEFAULT_AUTOMATION_ACTORS))


def options_of(args):
    """compute()'s keyword arguments from the parsed command line."""
    return {"period": args.period, "by": args.by, "timezone": args.timezone, "since": args.since, "until": args.until,
            "automation_actors": tuple(args.automation_actor or DEFAULT_AUTOMATION_ACTORS)}


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename (evidence.atomic_write);
    a missing directory is refused here rather than created."""
    import os  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.evidence import atomic_write  # pylint: disable=import-outside-toplevel
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValidationError("the output directory does not exist.", where=directory, fix="create it or choose another --output.")
    atomic_write(os.path.abspath(path), text)


def cmd_metrics(args, out, err):
    """metrics: compute once and print or write it, or serve it on the loopback address."""
    from ansible_collections.governed.change.plugins.module_utils import metrics_render  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.docfile import require_file  # pylint: disable=import-outside-toplevel
    if not args.ledger:
        raise ValidationError("no ledger was given.", where="--ledger", fix="pass --ledger PATH or set GOVERNED_CHANGE_LEDGER.")
    from ansible_collections.governed.change.plugins.module_utils.paths import is_database_url  # pylint: disable=import-outside-toplevel
    if not is_database_url(args.ledger):  # a database URL is checked when opened
        require_file(args.ledger, "ledger", fix="check --ledger (the SQLite file the stages record changes in).")
    options = options_of(args)
    if args.serve:
        server = metrics_render.make_server(args.serve, lambda fmt: metrics_render.render(compute_ledger(args.ledger, **options), fmt))
        err.write("governed-change metrics: serving http://%s:%d/metrics (and / as HTML); Ctrl-C stops.\n" % server.server_address[:2])
        err.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    text = metrics_render.render(compute_ledger(args.ledger, **options), args.format)
    if args.output:
        write_atomically(args.output, text)
        err.write("governed-change metrics: wrote %s (%s)\n" % (args.output, args.format))
    else:
        out.write(text)
    return 0
