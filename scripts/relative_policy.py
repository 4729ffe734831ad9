#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a copy of a policy whose dated entries are placed relative to the governed.change clock.

The example policy freezes changes every year from 20 December to 4 January. The demo and the lab tests
run changes *now*, on any day of any year, so they use a copy in which every freeze (yearly or dated) is a
dated one that starts ``--freeze-in`` days after the clock's now, keeping its length. (A past exdate only skips an occurrence that is gone anyway.)
The clock is governed.change's own (GOVERNED_CHANGE_NOW moves it), so a shifted test run gets a matching
policy.

Usage: relative_policy.py SRC DST [--freeze-in DAYS]
Prints the freezes as placed (name start end), one per line.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")


def _clock():
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.governed.change.plugins.module_utils import clock  # pylint: disable=import-outside-toplevel
    return clock


def _parse(text):
    return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def relative_policy(src, dst, freeze_in_days=30, now=None):
    """Copy ``src`` to ``dst`` with its freezes re-dated after ``now``; returns [(name, start, end)]."""
    clock = _clock()
    now = now or clock.utc_now()
    with open(src, encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    placed = []
    base = (now + datetime.timedelta(days=freeze_in_days)).replace(microsecond=0)
    for freeze in policy.get("freezes") or []:
        if "yearly" in freeze:  # a yearly freeze becomes a dated one of the same length (in days)
            (m1, d1), (m2, d2) = ([int(part) for part in freeze["yearly"][key].split("-")] for key in ("start", "end"))
            first = datetime.date(2001, m1, min(d1, 28) if m1 == 2 else d1)
            last = datetime.date(2001 + (1 if (m2, d2) <= (m1, d1) else 0), m2, min(d2, 28) if m2 == 2 else d2)
            length = datetime.timedelta(days=(last - first).days)
            del freeze["yearly"]
            freeze.pop("timezone", None)
        else:
            length = _parse(freeze["end"]) - _parse(freeze["start"])
        freeze["start"], freeze["end"] = clock.iso_z(base), clock.iso_z(base + length)
        placed.append((freeze["name"], freeze["start"], freeze["end"]))
    with open(dst, "w", encoding="utf-8") as handle:
        yaml.safe_dump(policy, handle, sort_keys=False)
    return placed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--freeze-in", type=float, default=30, help="days from now to each freeze's start (default 30)")
    args = parser.parse_args(argv)
    for name, start, end in relative_policy(args.src, args.dst, args.freeze_in):
        print("%s %s %s" % (name, start, end))
    return 0


if __name__ == "__main__":
    sys.exit(main())
