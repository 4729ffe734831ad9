# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.metrics action (the work is done by plugins/action/metrics.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metrics
short_description: Compute change metrics (lead time, MTTR, change failure rate, automation coverage) from the ledger
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Reads the ledger read-only (the chain is checked from its last verified checkpoint first; a tampered ledger fails
    the task naming the seq) and computes, per period and optionally per group, the lead time (p50, p90 and its parts),
    the MTTR, the change failure rate, the automation coverage and the counts defined in C(docs/metrics.md), each with
    the DORA term it maps to. The same core as C(governed-change metrics).
  - With O(output_dir), writes the chosen O(formats) there (C(governed_change.prom) for a node exporter textfile
    collector, C(metrics.json), C(metrics.html), C(metrics.txt)), each through a temporary file and a rename.
  - Runs once on the controller.
options:
  ledger:
    description: Path of the ledger (SQLite).
    type: path
    required: true
  period:
    description: The periods the figures are cut into, in O(timezone).
    type: str
    choices: [day, week, month]
    default: day
  by:
    description: Split each period per risk tier, category, site or change class.
    type: str
    choices: [tier, category, site, class]
  timezone:
    description: IANA time zone the periods are cut in (DST-correct), e.g. C(Europe/Berlin).
    type: str
    default: UTC
  since:
    description: Count from this instant (ISO 8601 with C(Z) or an offset) or date (C(YYYY-MM-DD), local midnight).
    type: str
  before:
    description:
      - Count up to, not including, this instant or date (the command's C(--until); not named C(until), the task keyword).
    type: str
  automation_actors:
    description: Actors (globs) whose stages count as automation; every other actor is a person.
    type: list
    elements: str
    default: ["governed.change*", "awx", "svc-*"]
  output_dir:
    description: Folder to write the O(formats) into (it must exist); nothing is written without it.
    type: path
  formats:
    description: The files to write into O(output_dir).
    type: list
    elements: str
    choices: [prometheus, json, html, table]
    default: [prometheus, json, html]
attributes:
  check_mode:
    support: full
    description: Computes the metrics and says which files would change; writes nothing.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.close
"""

EXAMPLES = r"""
- name: Metrics of the last 30 days per tier, for Prometheus and people
  governed.change.metrics:
    ledger: out/ledger.sqlite
    period: week
    by: tier
    timezone: Europe/Berlin
    since: "2026-11-01"
    output_dir: /var/lib/node_exporter/textfile_collector
    formats: [prometheus]
  run_once: true

- name: Metrics as data only
  governed.change.metrics:
    ledger: out/ledger.sqlite
  register: metrics
  run_once: true
"""

RETURN = r"""
totals:
  description: The whole range's figures per group (the rows whose period is C(all)); one group C(all) without O(by).
  returned: always
  type: list
  elements: dict
  sample: [{"group": "all", "period": "all", "counts": {"requested": 10, "deployed": 10, "failed": 2},
            "change_failure_rate": {"failed": 2, "deployed": 10, "rate": 0.2}}]
report:
  description: The whole report (rows per period and group, the lead-time histogram, the failure rate by tier and category, the options).
  returned: always
  type: dict
files:
  description: The files written (or, in check mode, that would be written), by format.
  returned: always
  type: dict
  sample: {"prometheus": "/var/lib/node_exporter/textfile_collector/governed_change.prom"}
changed:
  description: Whether files were written (each run rewrites them; they say when they were computed). False without O(output_dir).
  returned: always
  type: bool
"""
