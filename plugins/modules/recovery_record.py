# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.recovery_record action (the work is done by plugins/action/recovery_record.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recovery_record
short_description: Record the recovery verdicts of a change's devices in the ledger and decide whether it can close
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Appends one C(recovery.device) event per device (verdict, timer, running vs backup and candidate, restore,
    verification, error) and one C(recovery.result) event with the decision, in one transaction.
  - The change may close (outcome C(unsuccessful)) and release its locks only when every device is C(recovered_restored)
    or C(recovered_confirmed); otherwise it stays in C(implement) with its devices locked (fail closed).
  - Refused, with nothing recorded, when the change is no longer in C(implement).
options:
  ledger:
    description: Path of the ledger (SQLite).
    type: path
    required: true
  change_id:
    description: The change recovered.
    type: str
    required: true
  results:
    description: Each device's M(governed.change.recover) result ({host - result}); a result without a verdict counts as failed.
    type: dict
    required: true
  missing:
    description: Devices that could not be inspected, with the reason ({host - reason}); they count as failed.
    type: dict
  actor:
    description: Who records (default governed.change.recover).
    type: str
attributes:
  check_mode:
    support: full
    description: Decides without recording.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.recover
  - module: governed.change.recovery_plan
  - module: governed.change.close
"""

EXAMPLES = r"""
- name: Record the verdicts
  governed.change.recovery_record:
    ledger: out/ledger.sqlite
    change_id: CHG-7001
    results: "{{ dict(plan.hosts | zip(plan.hosts | map('extract', hostvars, '__recovered'))) }}"
  register: decision
  run_once: true
"""

RETURN = r"""
recovered:
  description: Every device was restored or confirmed and verified.
  returned: always
  type: bool
close:
  description: Whether the change may be closed now.
  returned: always
  type: bool
release_locks:
  description: Whether the change's leases may be released now.
  returned: always
  type: bool
outcome:
  description: The close outcome (C(unsuccessful)) when it may close.
  returned: always
  type: str
verdicts:
  description: Each device's verdict.
  returned: always
  type: dict
  sample: {"r2": "recovered_restored"}
restored:
  description: Devices restored from their backup.
  returned: always
  type: list
  elements: str
confirmed:
  description: Devices that already equalled their backup.
  returned: always
  type: list
  elements: str
failed:
  description: Devices not recovered.
  returned: always
  type: list
  elements: str
msg:
  description: The decision in one sentence (the close reason).
  returned: always
  type: str
"""
