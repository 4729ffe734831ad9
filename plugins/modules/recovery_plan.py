# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.recovery_plan action (the work is done by plugins/action/recovery_plan.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recovery_plan
short_description: Read from the ledger what recovering a change whose run died means (read-only)
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Reads the change's record, the devices its deploy was about to touch (the C(stage.started) event written before any
    device was touched), and each device's backup and pre-change snapshot references (C(stage.refs)).
  - A closed or canceled change gives C(recover=false) (a no-op). A change in any other state than C(implement) is
    refused, and so is one whose deploying run is still alive on this controller (its ansible-playbook process exists) unless
    O(force). Nothing is ever written.
  - Runs once on the controller for the whole change (use C(run_once)).
options:
  ledger:
    description: Path of the ledger (SQLite).
    type: path
    required: true
  change_id:
    description: The change to recover.
    type: str
    required: true
  force:
    description: Recover even though the deploying run still looks alive (its ansible-playbook process exists on this controller).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Read-only in every mode.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.recover
  - module: governed.change.recovery_record
"""

EXAMPLES = r"""
- name: What does recovering CHG-7001 mean
  governed.change.recovery_plan:
    ledger: out/ledger.sqlite
    change_id: CHG-7001
  register: plan
  run_once: true
"""

RETURN = r"""
recover:
  description: Whether there is something to recover (false for a closed or canceled change).
  returned: always
  type: bool
state:
  description: The change's lifecycle state.
  returned: always
  type: str
  sample: implement
hosts:
  description: The devices to inspect.
  returned: always
  type: list
  elements: str
  sample: [r2]
devices:
  description: Per device, the backup and pre-change snapshot references and the candidate lines (redacted).
  returned: always
  type: dict
missing:
  description: Devices the ledger holds no backup or pre-change snapshot reference for (they cannot be recovered).
  returned: always
  type: dict
run:
  description: The run that started the deploy (controller host, ansible-playbook pid and start time, worker pid).
  returned: always
  type: dict
run_alive:
  description: Whether that run is alive (null when it ran on another controller).
  returned: always
  type: bool
locks:
  description: The devices the change holds leases on.
  returned: always
  type: list
  elements: str
msg:
  description: What the plan is, in one sentence.
  returned: always
  type: str
"""
