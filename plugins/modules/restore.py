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
extends_documentation_fragment:
  - governed.change.device_connection
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
host_key_checking:
  description:
    - C(false) when host key checking was turned off for a device this task reached (C(ansible_host_key_checking=false)
      or ansible.cfg C(host_key_checking = False)); the device's identity was not verified. A warning names the devices.
  returned: when host key checking was off
  type: bool
  sample: false
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
