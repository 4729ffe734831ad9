# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.restore action (the work is done by plugins/action/restore.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: restore
short_description: Restore a device's backed-up configuration exactly, and verify it
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - FRR - C(frr-reload.py --reload) computes and applies the delta, so nothing the change added is left behind.
  - Linux - one atomic C(nft -f) of C(flush ruleset) plus the backup.
  - A pending commit-confirmed timer is disarmed first.
  - The running configuration is read back and must equal the backup after normalization, else the task fails.
options:
  backup:
    description: The backup reference returned by M(governed.change.backup) or M(governed.change.deploy).
    type: dict
    required: true
  platform:
    description:
      - The device's platform driver; defaults to the host variable C(governed_platform).
    type: str
    choices: [frr, linux]
  state_dir:
    description:
      - Absolute folder on the device host for the backup file and the commit-confirmed timer's markers.
      - Defaults to the host variable C(governed_state_dir), else C($FRR_VTY_DIR/governed) (frr) or C(/var/lib/governed-change) (linux).
    type: str
  port:
    description:
      - SSH port of the device host's shell; defaults to C(governed_host_port), else C(ansible_port).
    type: int
  connect_timeout:
    description: Seconds to wait for the SSH connection; an unreachable device fails with a transient device error.
    type: int
    default: 5
  retries:
    description:
      - How many times a connection failure (ssh exit 255 before the command ran) is retried, with exponential backoff.
      - Auth or host-key refusals, command failures and sessions that broke mid-command are never retried.
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry; each further retry waits twice as long (at most 30 s per wait).
    type: float
    default: 1.0
  command_timeout:
    description: Seconds one device command may take.
    type: int
    default: 60
  store_dir:
    description:
      - Folder of the content-addressed state store on the controller (big state travels by reference).
      - Defaults to the variable C(governed_store_dir), else C(<playbook_dir>/../out/store).
    type: path
notes:
  - An action plugin running on the controller; it reaches the device host over SSH (key auth, BatchMode) on its own.
  - Secrets in configs (for example C(neighbor X password Y)) are redacted in every result, diff and snapshot.
attributes:
  check_mode:
    support: full
    description: Reads the running configuration and reports whether a restore would change it; no write.
  diff_mode:
    support: full
    description: Returns the running configuration before and the backup (redacted).
  platform:
    support: full
    description: FRR routers (vtysh, frr-reload.py) and Linux nftables firewalls.
    platforms: [frr, linux]
seealso:
  - module: governed.change.backup
  - module: governed.change.snapshot
  - module: governed.change.deploy
  - module: governed.change.confirm
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Roll back
  governed.change.restore:
    backup: "{{ deployed.backup }}"
"""

RETURN = r"""
attempts:
  description: The most attempts one device command needed (1 when no connection failure was retried).
  returned: when the device was contacted
  type: int
  sample: 1
transient:
  description:
    - C(true) when the task failed because the device stayed unreachable after every retry (a transient error; a role
      escalates it with reason C(retries_exhausted)).
  returned: when the device stayed unreachable after the retries
  type: bool
  sample: true
retried:
  description: Each connection failure that was retried (command, attempt, ssh message, wait in seconds).
  returned: when a connection failure was retried
  type: list
  elements: dict
device:
  description: The inventory name of the device.
  returned: always
  type: str
  sample: r1
platform:
  description: The platform driver used.
  returned: always
  type: str
  sample: frr
verified:
  description: The running configuration equals the backup after the restore.
  returned: success
  type: bool
summary:
  description: Attempts, elapsed seconds, sha256 of the running configuration.
  returned: success
  type: dict

"""
