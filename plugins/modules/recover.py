# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.recover action (the work is done by plugins/action/recover.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recover
short_description: Recover one device of a change whose run died - restore or confirm its backup, verify the pre-change state
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - For a change left in C(implement) by a run that died (controller killed mid-deploy). The references come from the
    ledger (M(governed.change.recovery_plan)).
  - Reads the commit-confirmed timer (waits for a revert in progress), the running configuration, and compares it with
    the backup and with the candidate lines the deploy recorded (C(change_on_device) - all, some or none of the lines
    the change adds were on the device).
  - Where the running configuration differs from the backup, restores it exactly (FRR - C(frr-reload.py --reload);
    Linux - one atomic C(nft -f)), disarming a pending timer first; where it already equals the backup (the timer
    reverted it, or the change never reached the device), disarms a pending timer and confirms.
  - Then verifies that the state equals the pre-change snapshot (established peers, routes, configuration; rules and
    probes on Linux), polling until settled.
  - The verdict is C(recovered_restored), C(recovered_confirmed) or C(recovery_failed) (the task fails). Record the
    verdicts with M(governed.change.recovery_record).
options:
  backup:
    description: The device's backup reference (from the ledger, M(governed.change.recovery_plan)'s C(devices.<host>.backup)).
    type: dict
    required: true
  pre:
    description: The device's pre-change snapshot reference.
    type: dict
    required: true
  candidate:
    description: The candidate lines the deploy recorded (redacted); only used to report how much of the change was on the device.
    type: list
    elements: str
  settle_timeout:
    description: Seconds to wait for the state to equal the pre-change snapshot after the restore.
    type: float
    default: 30
  settle_interval:
    description: Seconds between two snapshots while waiting.
    type: float
    default: 1
  probes:
    description: Reachability probes for Linux devices; without them, the probes the pre-change snapshot recorded.
    type: list
    elements: dict
  store_dir:
    description: State store for the post-recovery snapshot; defaults to C(governed_store_dir).
    type: path
extends_documentation_fragment:
  - governed.change.device_connection
notes:
  - An action plugin running on the controller; it reaches the device host over SSH (key auth, BatchMode) on its own.
  - Secrets in configs are redacted in every result.
attributes:
  check_mode:
    support: full
    description: Reads the timer and the running configuration and reports whether a restore would be needed; no write.
  diff_mode:
    support: none
    description: See M(governed.change.restore) for a diff of the running configuration against the backup.
  platform:
    support: full
    description: FRR routers and Linux nftables firewalls.
    platforms: [frr, linux]
seealso:
  - module: governed.change.recovery_plan
  - module: governed.change.recovery_record
  - module: governed.change.restore
"""

EXAMPLES = r"""
- name: Inspect, restore or confirm, verify
  governed.change.recover:
    backup: "{{ plan.devices[inventory_hostname].backup }}"
    pre: "{{ plan.devices[inventory_hostname].pre_snapshot }}"
    candidate: "{{ plan.devices[inventory_hostname].candidate }}"
  when: inventory_hostname in plan.hosts
"""

RETURN = r"""
device:
  description: The inventory name of the device.
  returned: always
  type: str
  sample: r2
verdict:
  description: C(recovered_restored), C(recovered_confirmed) or C(recovery_failed).
  returned: success or failure after the device was reached
  type: str
  sample: recovered_restored
action:
  description: C(restored) (the device differed from its backup) or C(confirmed) (it already equalled it).
  returned: when the device was inspected
  type: str
timer:
  description: The commit-confirmed timer state seen first (none, armed, reverted, confirmed, cancelled).
  returned: when the device was reached
  type: dict
  sample: {"state": "armed", "remaining": 95}
running_equals_backup:
  description: Whether the running configuration equalled the backup (normalized) before anything was done.
  returned: when the device was reached
  type: bool
change_on_device:
  description: How many of the lines the change adds were on the device (all, some, none; null when unknown).
  returned: when the device was reached
  type: str
restore:
  description: The restore's verification, attempts and seconds.
  returned: when restored
  type: dict
verify:
  description: Whether the state equals the pre-change snapshot, the failed checks, attempts and seconds.
  returned: when the device was restored or confirmed
  type: dict
post_ref:
  description: The post-recovery snapshot's state-store reference.
  returned: when a snapshot was taken
  type: dict
error:
  description: Where and why the recovery of this device failed.
  returned: on failure
  type: dict
elapsed_s:
  description: Seconds the task took.
  returned: always
  type: float
"""
