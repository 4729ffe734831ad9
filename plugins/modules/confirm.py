# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.confirm action (the work is done by plugins/action/confirm.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: confirm
short_description: Confirm a commit-confirmed deploy (disarm the revert timer), or read its state
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - C(state=confirmed) claims the timer's marker with an atomic rename and stops the timer; too late (already reverted) is a failure.
  - C(state=status) only reads the state (none, armed, firing, reverted, confirmed, cancelled).
options:
  state:
    description: Confirm, or only read the timer's state.
    type: str
    choices: [confirmed, status]
    default: confirmed
extends_documentation_fragment:
  - governed.change.device_connection
notes:
  - An action plugin running on the controller; it reaches the device host over SSH (key auth, BatchMode) on its own.
  - Secrets in configs (for example C(neighbor X password Y)) are redacted in every result, diff and snapshot.
attributes:
  check_mode:
    support: full
    description: Reads the timer's state and reports whether it would confirm; no write.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: FRR routers (vtysh, frr-reload.py) and Linux nftables firewalls.
    platforms: [frr, linux]
seealso:
  - module: governed.change.backup
  - module: governed.change.snapshot
  - module: governed.change.deploy
  - module: governed.change.restore
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Confirm after the post checks passed
  governed.change.confirm:
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
confirm:
  description: The timer's state (state, remaining, revert_rc, reverted_at).
  returned: always
  type: dict

"""
