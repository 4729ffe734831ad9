# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's one clock: every calendar decision (windows, freezes, approval age, requested windows,
ledger and evidence timestamps) reads the time here.

``GOVERNED_CHANGE_NOW`` moves the clock for every entry point (actions, CLI, callback, workflow runner):

- an ISO 8601 instant with an offset (``2031-06-01T10:00:00Z``): the clock starts there when the process
  first reads it and then runs at real speed (so durations and ages stay real);
- a signed offset (``+1826d``, ``-3h``, ``+90m``, ``+30s``, ``+5y`` where a year is 365 days): real time
  shifted by that much, identical in every process that reads it.

Unset (the default), it is the real UTC time. Elapsed-time measurements use ``time.monotonic`` and are
never shifted.

It is also the one timestamp formatter and parser. Every instant the collection writes is ISO 8601 in UTC with a
trailing Z, made by ``iso_z`` (``2026-11-28T01:30:00.123456Z``; the fraction is left out when it is zero, as in
every ledger row written so far). Stamps of events keep microseconds (ledger rows, task records, stage and run
times, the assessment); instants a person reads or signs use ``precision="seconds"``, the same form truncated
(approval statements, gate verdicts, windows, due dates, escalation packets, snapshots). ``parse_instant`` reads
all of these and every form written before (``+00:00`` offsets, milliseconds), so older ledgers, assessments and
bundles stay readable. Compare instants after parsing them, never as text.
"""

from __future__ import annotations

import datetime
import os
import re
import time

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

ENV = "GOVERNED_CHANGE_NOW"
UTC = datetime.timezone.utc
_OFFSET = re.compile(r"^([+-])(\d+(?:\.\d+)?)([ydhms])$")
_UNIT_S = {"y": 365 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PINNED = {}  # env text -> (pinned instant, monotonic at first read)


class ClockError(ValidationError):
    """A time that is neither an aware instant nor an offset (GOVERNED_CHANGE_NOW, a ``now`` option)."""


def _real():
    return datetime.datetime.now(UTC)


def parse_instant(text, where="now", error=ClockError, local_zone=None):
    """An aware UTC datetime from ISO 8601 text with an offset or Z (or an aware datetime); ``error`` otherwise.

    Text without an offset is refused, unless ``local_zone`` (a tzinfo) is given: then it is local time there.
    ``error`` is the GovernedChangeError subclass raised, so each caller keeps its own error type.
    """
    if isinstance(text, datetime.datetime):
        moment = text
    else:
        raw = str(text).strip()
        try:
            moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise error("%r is not an ISO 8601 date-time." % (raw,), where=where,
                        fix="use the form 2026-11-28T01:30:00Z%s." % (", or an offset such as +30d" if where == ENV else ""))
    if moment.tzinfo is None or moment.utcoffset() is None:
        if local_zone is None:
            raise error("%r has no UTC offset." % (text if isinstance(text, str) else moment.isoformat(),), where=where,
                        fix="add Z or an offset such as +01:00.")
        moment = moment.replace(tzinfo=local_zone)
    return moment.astimezone(UTC)


def instant_or_none(text, where="now"):
    """parse_instant of a recorded time, or None when it is missing (empty) or not an instant with an offset."""
    if not text:
        return None
    try:
        return parse_instant(text, where=where)
    except ClockError:
        return None


def _moved(text, real):
    """The clock's reading for a GOVERNED_CHANGE_NOW value, given the real time; ClockError when malformed."""
    match = _OFFSET.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return real + datetime.timedelta(seconds=sign * float(match.group(2)) * _UNIT_S[match.group(3)])
    if text not in _PINNED:
        _PINNED[text] = (parse_instant(text, where=ENV), time.monotonic())
    pinned, started = _PINNED[text]
    return pinned + datetime.timedelta(seconds=time.monotonic() - started)


def utc_now():
    """The current time as an aware UTC datetime, moved by GOVERNED_CHANGE_NOW when it is set."""
    text = os.environ.get(ENV, "").strip()
    real = _real()
    return _moved(text, real) if text else real


PRECISIONS = ("microseconds", "seconds")


def iso_z(moment=None, precision="microseconds"):
    """The one timestamp format: ISO 8601 UTC text with a trailing Z; ``moment`` defaults to utc_now().

    ``moment``: an aware datetime or epoch seconds (time.time()). precision: microseconds (six digits, left out when
    zero: the form every ledger row has had) | seconds (truncated, never rounded up).
    """
    if moment is None:
        moment = utc_now()
    elif isinstance(moment, (int, float)) and not isinstance(moment, bool):
        moment = datetime.datetime.fromtimestamp(moment, UTC)
    if moment.tzinfo is None:
        raise ClockError("a naive datetime was given where an aware one is required.", fix="pass timezone-aware datetimes (UTC).")
    if precision not in PRECISIONS:
        raise ClockError("unknown precision %r." % (precision,), where="iso_z", fix="use one of: %s." % ", ".join(PRECISIONS))
    moment = moment.astimezone(UTC)
    if precision == "seconds":
        moment = moment.replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def relative(days=0, hours=0, minutes=0, seconds=0, base=None):
    """utc_now() (or ``base``) plus an offset: how tests and the demo build dates that never expire."""
    return (base or utc_now()) + datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
