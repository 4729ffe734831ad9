# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one clock: real UTC by default, moved by GOVERNED_CHANGE_NOW (offset or pinned instant), never naive."""

from __future__ import annotations

import datetime
import os
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
