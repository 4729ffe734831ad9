# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one clock: real UTC by default, moved by GOVERNED_CHANGE_NOW (offset or pinned instant), never naive."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys

import pytest

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils import clock
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError


def _real():
    return datetime.datetime.now(datetime.timezone.utc)


def test_unset_is_real_utc(monkeypatch):
    monkeypatch.delenv(clock.ENV, raising=False)
    before, now, after = _real(), clock.utc_now(), _real()
    assert before <= now <= after and now.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("text, delta", [("+1826d", datetime.timedelta(days=1826)), ("-3h", datetime.timedelta(hours=-3)),
                                         ("+90m", datetime.timedelta(minutes=90)), ("+5y", datetime.timedelta(days=5 * 365)),
                                         ("+30s", datetime.timedelta(seconds=30))])
def test_offsets_shift_real_time(monkeypatch, text, delta):
    monkeypatch.setenv(clock.ENV, text)
    before, now, after = _real(), clock.utc_now(), _real()
    assert before + delta <= now <= after + delta


def test_a_pinned_instant_starts_there_and_runs(monkeypatch):
    monkeypatch.setenv(clock.ENV, "2041-06-01T10:00:00+02:00")
    first = clock.utc_now()
    assert datetime.datetime(2041, 6, 1, 8, 0, tzinfo=datetime.timezone.utc) <= first < \
        datetime.datetime(2041, 6, 1, 8, 0, 5, tzinfo=datetime.timezone.utc)
    assert clock.utc_now() >= first


@pytest.mark.parametrize("text, message", [
    ("tomorrow", "GOVERNED_CHANGE_NOW: 'tomorrow' is not an ISO 8601 date-time."),
    ("2041-06-01T10:00:00", "GOVERNED_CHANGE_NOW: '2041-06-01T10:00:00' has no UTC offset. Fix: add Z or an offset such as +01:00."),
    ("+3w", "GOVERNED_CHANGE_NOW: '+3w' is not an ISO 8601 date-time."),
])
def test_malformed_values_are_refused_with_a_fix(monkeypatch, text, message):
    monkeypatch.setenv(clock.ENV, text)
    with pytest.raises(ValidationError) as info:
        clock.utc_now()
    assert str(info.value).startswith(message) and "Fix:" in str(info.value)


def test_iso_z_formats_and_refuses_naive():
    moment = datetime.datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone.utc)
    assert clock.iso_z(moment) == "2030-01-02T03:04:05.000678Z"
    assert clock.iso_z(moment, precision="seconds") == "2030-01-02T03:04:05Z"
    with pytest.raises(ValidationError):
        clock.iso_z(datetime.datetime(2030, 1, 2))


def test_every_entry_point_reads_the_moved_clock(monkeypatch, tmp_path):
    """The ledger, approvals, snapshots and evidence all stamp with the moved clock (another process, too)."""
    monkeypatch.setenv(clock.ENV, "+3653d")
    from ansible_collections.governed.change.plugins.module_utils import approvals, evidence, ledger, snapshot  # pylint: disable=import-outside-toplevel
    year = (_real() + datetime.timedelta(days=3653)).year
    assert ledger.utc_now().year == year
    assert approvals.now_z().startswith(str(year))
    assert snapshot.now_iso().startswith(str(year))
    assert evidence.ts_now().startswith(str(year))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    out = subprocess.run([sys.executable, "-c", "from ansible_collections.governed.change.plugins.module_utils import clock; "
                          "print(clock.utc_now().year)"], env=env, capture_output=True, text=True, check=True).stdout
    assert int(out) == year


def test_no_entry_point_reads_the_system_clock_for_calendar_decisions():
    """Calendar reads go through clock.utc_now(); datetime.now() elsewhere in plugins/ would escape the moved clock."""
    offenders = []
    for base, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if name.endswith(".py") and name != "clock.py":
                with open(os.path.join(base, name), encoding="utf-8") as handle:
                    for number, line in enumerate(handle, 1):
                        if "datetime.now(" in line or "datetime.utcnow(" in line or "date.today(" in line:
                            offenders.append("%s:%d" % (os.path.relpath(os.path.join(base, name), ROOT), number))
    for base, _dirs, files in os.walk(ROOT):
        if any(part in base for part in (".venv", ".collections", ".git", "tests", ".build")):
            continue
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(base, name), encoding="utf-8", errors="replace") as handle:
                    if "now(" in handle.read().replace("lookup('governed.change.now')", ""):
                        offenders.append(os.path.relpath(os.path.join(base, name), ROOT))
    assert offenders == []


# -- one timestamp format: every helper formats with clock.iso_z, every reader parses with clock.parse_instant --------
ONE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")
MOMENT = datetime.datetime(2031, 6, 1, 10, 0, 0, 250000, tzinfo=datetime.timezone.utc)


def _writers(moment):
    """{helper: text} of every helper that writes an instant, at ``moment`` (helpers without an argument read the clock)."""
    from ansible_collections.governed.change.plugins.callback import evidence as callback  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.lookup.now import LookupModule  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        approvals, escalation, evidence, ledger, review, snapshot, windows)
    from ansible_collections.governed.change.plugins.module_utils.workflow import runner  # pylint: disable=import-outside-toplevel
    fine = {
        "ledger.iso_z": ledger.iso_z(moment),
        "evidence.ts_now": evidence.ts_now(),
        "callback evidence _iso": callback._iso(moment.timestamp()),  # pylint: disable=protected-access
        "workflow runner _iso": runner._iso(moment.timestamp()),  # pylint: disable=protected-access
        "lookup governed.change.now": LookupModule().run([])[0],
    }
    seconds = {
        "approvals.now_z": approvals.now_z(moment),
        "escalation.utc_iso": escalation.utc_iso(moment),
        "review._iso": review._iso(moment),  # pylint: disable=protected-access
        "windows._iso": windows._iso(moment),  # pylint: disable=protected-access
        "snapshot.now_iso": snapshot.now_iso(),
    }
    return fine, seconds


@pytest.mark.parametrize("moment", [MOMENT, MOMENT.replace(microsecond=0)], ids=["fraction", "whole-second"])
def test_every_helper_writes_the_one_format(monkeypatch, moment):
    monkeypatch.delenv(clock.ENV, raising=False)
    monkeypatch.setattr(clock, "_real", lambda: moment)
    fine, seconds = _writers(moment)
    assert fine == dict.fromkeys(fine, clock.iso_z(moment))
    assert seconds == dict.fromkeys(seconds, clock.iso_z(moment, precision="seconds"))
    assert all(ONE_FORMAT.match(text) for text in list(fine.values()) + list(seconds.values()))
    if moment.microsecond == 0:  # a whole-second instant reads the same at either precision: one format, not two
        assert set(fine.values()) == set(seconds.values()) == {"2031-06-01T10:00:00Z"}
    else:
        assert set(fine.values()) == {"2031-06-01T10:00:00.250000Z"} and set(seconds.values()) == {"2031-06-01T10:00:00Z"}


def test_the_assessment_writes_the_one_format(monkeypatch):
    from ansible_collections.governed.change.plugins.module_utils import assess  # pylint: disable=import-outside-toplevel
    monkeypatch.delenv(clock.ENV, raising=False)
    monkeypatch.setattr(clock, "_real", lambda: MOMENT)
    assert assess._now(None) == MOMENT  # pylint: disable=protected-access
    assert assess._now("2031-06-01T12:00:00.25+02:00") == MOMENT  # pylint: disable=protected-access


# Every form a ledger, an assessment, a bundle or a run record holds from before: Z or +00:00, milliseconds (the workflow
# runner's), microseconds with and without the fraction, another offset.
FORMS_WRITTEN_BEFORE = ["2031-06-01T10:00:00.250000Z", "2031-06-01T10:00:00.250Z", "2031-06-01T10:00:00.250000+00:00",
                        "2031-06-01T12:00:00.25+02:00", " 2031-06-01T10:00:00.250000z "]


def _readers():
    from ansible_collections.governed.change.plugins.module_utils import ledger, review, windows  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.plugin_utils import gates  # pylint: disable=import-outside-toplevel
    return {"clock.parse_instant": clock.parse_instant, "ledger.parse_iso": ledger.parse_iso,
            "review._parse_ts": review._parse_ts,  # pylint: disable=protected-access
            "windows._aware": lambda text: windows._aware(text, "where"),  # pylint: disable=protected-access
            "gates.parse_now": gates.parse_now}


@pytest.mark.parametrize("text", FORMS_WRITTEN_BEFORE + ["2031-06-01T10:00:00Z", "2031-06-01T10:00:00+00:00"])
def test_every_reader_accepts_every_form_written_before(text):
    expected = MOMENT if ".25" in text else MOMENT.replace(microsecond=0)
    assert {name: read(text) for name, read in _readers().items()} == dict.fromkeys(_readers(), expected)
    assert clock.iso_z(clock.parse_instant(text)) == clock.iso_z(expected)  # read back, written in the one format


def test_readers_refuse_naive_and_garbage_with_their_own_error():
    from ansible_collections.governed.change.plugins.module_utils import ledger, windows  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, PolicyError  # pylint: disable=import-outside-toplevel
    readers = _readers()
    for text in ("2031-06-01T10:00:00", "yesterday"):
        with pytest.raises(LedgerError):
            ledger.parse_iso(text)
        with pytest.raises(PolicyError):
            windows._aware(text, "where")  # pylint: disable=protected-access
        with pytest.raises(ValidationError):
            readers["gates.parse_now"](text)
        assert readers["review._parse_ts"](text) is None
    with pytest.raises(LedgerError) as info:
        ledger.parse_iso("2031-06-01T10:00:00", where="locks.expires")
    assert str(info.value) == "locks.expires: '2031-06-01T10:00:00' has no UTC offset. Fix: add Z or an offset such as +01:00."
    # naive text local to a zone: only where a zone is named (a window's local times)
    zone = datetime.timezone(datetime.timedelta(hours=2))
    assert windows._aware("2031-06-01T12:00:00.25", "where", zone) == MOMENT  # pylint: disable=protected-access


def test_iso_z_takes_epoch_seconds_and_refuses_an_unknown_precision():
    assert clock.iso_z(MOMENT.timestamp()) == "2031-06-01T10:00:00.250000Z"
    with pytest.raises(ValidationError):
        clock.iso_z(MOMENT, precision="minutes")


def test_no_time_helper_outside_the_clock():
    """Timestamps are formatted by clock.iso_z and parsed by clock.parse_instant; only these other uses remain."""
    allowed = {
        # input normalisation of user documents: the text is kept as written (it is part of content and policy hashes)
        ("plugins/module_utils/change_request.py", "fromisoformat("), ("plugins/module_utils/change_request.py", "isoformat("),
        ("plugins/module_utils/policy.py", "fromisoformat("), ("plugins/module_utils/policy.py", "isoformat("),
        # the ``now`` argument of assess: naive text gets assess's own message (test_assess.test_now_must_be_aware)
        ("plugins/module_utils/assess.py", "fromisoformat("),
        # an RRULE's DTSTART is iCalendar basic format local time, not an instant
        ("plugins/module_utils/windows.py", "strptime("),
        # a run directory's name (no colons in file names), not an instant anything reads back
        ("plugins/module_utils/workflow/runner.py", "strftime("),
        # AWX's own timestamp text, kept as AWX wrote it with Z for +00:00
        ("plugins/module_utils/awx.py", 'replace("+00:00"'),
        # metrics' hot path over a million ledger rows: one minute-prefix parse cached per minute (anything else goes to
        # clock.parse_instant), period labels (a local day/month name, not an instant) and a --since date at local midnight
        ("plugins/module_utils/metrics.py", "fromisoformat("), ("plugins/module_utils/metrics.py", "fromtimestamp("),
        ("plugins/module_utils/metrics.py", "strftime("),
    }
    found = set()
    for base, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            path = os.path.relpath(os.path.join(base, name), ROOT)
            if not name.endswith(".py") or path == "plugins/module_utils/clock.py":
                continue
            with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
                text = handle.read()
            plain = text.replace("fromisoformat(", "")  # so that isoformat( counts only the formatter
            for needle in ("fromisoformat(", "strftime(", "strptime(", "fromtimestamp(", 'replace("+00:00"'):
                if needle in text:
                    found.add((path, needle))
            if "isoformat(" in plain:
                found.add((path, "isoformat("))
    assert found - allowed == set()
