# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.backup action (the work is done by plugins/action/backup.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup
short_description: Back up a device's running configuration into the state store
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Reads the running configuration (FRR C(show running-config) without its header; Linux C(nft list ruleset)).
  - Stores the real text in the state store (the exact restore needs it) and returns only a reference and redacted hashes.
options: {}
extends_documentation_fragment:
  - governed.change.device_connection
notes:
  - An action plugin running on the controller; it reaches the device host over SSH (key auth, BatchMode) on its own.
  - Secrets in configs (for example C(neighbor X password Y)) are redacted in every result, diff and snapshot.
attributes:
  check_mode:
    support: full
    description: Read-only, runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing changes on the device.
  platform:
    support: full
    description: FRR routers (vtysh, frr-reload.py) and Linux nftables firewalls.
    platforms: [frr, linux]
seealso:
  - module: governed.change.snapshot
  - module: governed.change.deploy
  - module: governed.change.restore
  - module: governed.change.confirm
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Back up the routers
  governed.change.backup:
  register: backup

- name: Restore it later
  governed.change.restore:
    backup: "{{ backup.backup }}"
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
backup:
  description: A state store reference (the payload stays in the store).
  returned: success
  type: dict
  contains:
    path:
      description: The stored file.
      type: str
    sha256:
      description: sha256 of the stored bytes.
      type: str
    kind:
      description: What the data is.
      type: str
    bytes:
      description: Size of the stored file.
      type: int
    summary:
      description: Record counts.
      type: dict
summary:
  description: sha256 of the real and redacted text, line and redaction counts.
  returned: success
  type: dict
  sample: {sha256: 3f0c..., redacted_sha256: 9a11..., lines: 24, redactions: 1}

"""
