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


def parse_instant(text, where="now"):
    """An aware UTC datetime from ISO 8601 text with an offset or Z (ClockError otherwise)."""
    raw = str(text).strip()
    try:
        moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ClockError("%r is not an ISO 8601 date-time." % (raw,), where=where,
                         fix="use the form 2026-11-28T01:30:00Z, or for %s an offset such as +30d." % ENV)
    if moment.tzinfo is None:
        raise ClockError("%r has no UTC offset." % (raw,), where=where, fix="add Z or an offset such as +01:00.")
    return moment.astimezone(UTC)


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


def iso_z(moment=None, precision="microseconds"):
    """ISO 8601 UTC text with a trailing Z; ``moment`` defaults to utc_now(). precision: microseconds|seconds."""
    moment = utc_now() if moment is None else moment
    if moment.tzinfo is None:
        raise ClockError("a naive datetime was given where an aware one is required.", fix="pass timezone-aware datetimes (UTC).")
    moment = moment.astimezone(UTC)
    if precision == "seconds":
        moment = moment.replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def relative(days=0, hours=0, minutes=0, seconds=0, base=None):
    """utc_now() (or ``base``) plus an offset: how tests and the demo build dates that never expire."""
    return (base or utc_now()) + datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
