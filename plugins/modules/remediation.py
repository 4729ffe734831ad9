# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.remediation action (the work is done by plugins/action/remediation.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: remediation
short_description: Decide whether a detected event is remediated as a pre-approved standard change or escalated
version_added: 1.0.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Phase C(decide) - looks the event (from the C(governed.change.device_state) event source, passed by ansible-rulebook
    as C(ansible_eda.event)) up in the policy's C(remediations) catalogue - its condition, the device (name or inventory
    group), the match fields and prefixes - and counts the entry's earlier remediations of that device in the ledger
    against its rate limit. A covered event within the limit gives C(remediate) and the generated standard change
    request (written to C(<output_dir>/remediations/<change_id>.json)); anything else gives C(escalate).
  - Phase C(risk) - after the generated change was assessed, C(remediate) only when the assessment classed it as that
    catalogue entry's standard change and its tier is within the entry's C(max_tier); otherwise C(escalate).
  - Each decision is appended to the ledger as a C(remediation.decided) event of the change (the change record is
    opened when missing). An escalation cancels the change - nothing is deployed under it.
  - Every event value that reaches a configuration line is checked first (an IP address, a prefix or an AS number).
options:
  phase:
    description: Which decision to make.
    type: str
    choices: [decide, risk]
    default: decide
  event:
    description: The event (C(ansible_eda.event) - C({governed_event - {schema, kind, device, ...}}) - or its body). Phase C(decide).
    type: dict
  policy:
    description: Path of the policy holding the C(remediations) catalogue. Phase C(decide).
    type: path
  ledger:
    description: Path of the ledger (SQLite); the rate limit counts its C(remediation.decided) events and the decision is recorded in it.
    type: path
    required: true
  output_dir:
    description: Folder under which C(remediations/) is written; defaults to the variable C(governed_output_dir).
    type: path
  decision:
    description: The phase C(decide) result's C(decision). Phase C(risk).
    type: dict
  assessment_file:
    description: The assessment of the generated change (M(governed.change.assess)'s C(assessment_file)). Phase C(risk).
    type: path
attributes:
  check_mode:
    support: full
    description: Decides and returns the decision; nothing is written or recorded.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
notes:
  - The catalogue format, the event source and the rulebook are described in the collection's C(docs/eda.md).
seealso:
  - module: governed.change.assess
  - module: governed.change.escalate
"""

EXAMPLES = r"""
- name: Decide on the event the rulebook passed
  governed.change.remediation:
    event: "{{ ansible_eda.event }}"
    policy: policy/policy.yml
    ledger: out/ledger.sqlite
  register: decided
  run_once: true

- name: Decide on the risk of the assessed standard change
  governed.change.remediation:
    phase: risk
    decision: "{{ decided.decision }}"
    assessment_file: "{{ assess_assessment_file }}"
    ledger: out/ledger.sqlite
  run_once: true
"""

RETURN = r"""
decision:
  description:
    - The decision - decision (remediate or escalate), reason_code, reasons, remediation, change_id, runbook, rate, and in
      phase decide the change_request (and change_request_file).
  returned: always
  type: dict
  sample: {"decision": "escalate", "reason_code": "rate_limited", "remediation": "restore_anchor_route", "change_id": "RMD-r1-20261130170000-ab12cd",
           "reasons": ["restore_anchor_route already ran 1 time(s) on r1 in the last 60 minutes (max 1)"]}
remediate:
  description: True when the standard change may go ahead.
  returned: always
  type: bool
detected:
  description: The escalation packet's detected sentences (empty for a remediation).
  returned: always
  type: list
  elements: str
event:
  description: The appended ledger event (seq, kind, ts).
  returned: when not in check mode
  type: dict
"""
