# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.deploy action (the work is done by plugins/action/deploy.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy
short_description: Merge configuration lines into a device, optionally with a commit-confirmed revert timer
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Backs up the running configuration (unless C(backup) is given), writes it onto the device host.
  - With I(confirm_timeout), arms a detached timer there that restores it exactly unless M(governed.change.confirm) runs in time.
  - A device that loses contact reverts by itself.
  - Then merges I(lines) (FRR C(vtysh -f), Linux C(nft -f)).
  - A refused or partial change fails the task; the result still carries the backup reference so a rescue can restore.
options:
  lines:
    description: The configuration lines to merge (FRR config lines; nftables commands).
    type: list
    elements: str
    required: true
  backup:
    description: A backup reference from M(governed.change.backup); when omitted a fresh backup is taken.
    type: dict
  confirm_timeout:
    description:
      - Seconds before the device restores the backup by itself unless confirmed; C(0) deploys without the timer.
    type: int
    default: 0
extends_documentation_fragment:
  - governed.change.device_connection
notes:
  - An action plugin running on the controller; it reaches the device host over SSH (key auth, BatchMode) on its own.
  - Secrets in configs (for example C(neighbor X password Y)) are redacted in every result, diff and snapshot.
attributes:
  check_mode:
    support: full
    description: Reads and backs up only; reports the lines it would merge (Linux - validated with C(nft -c)); no write on the device.
  diff_mode:
    support: full
    description: Returns the running configuration before and after (redacted).
  platform:
    support: full
    description: FRR routers (vtysh, frr-reload.py) and Linux nftables firewalls.
    platforms: [frr, linux]
seealso:
  - module: governed.change.backup
  - module: governed.change.snapshot
  - module: governed.change.restore
  - module: governed.change.confirm
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Deploy with a 120 s commit-confirmed timer
  governed.change.deploy:
    lines:
      - ip prefix-list PL-LOOPBACKS seq 5 permit 10.255.0.0/16 le 32
    confirm_timeout: 120
  register: deployed
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
  returned: always when the backup was read
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
after:
  description:
    - A state store reference to the running configuration after the merge (the payload stays in the store).
    - Stored redacted, with the sha256 of the real text; only backups keep the real text (owner-only files).
  returned: success, not in check mode
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
confirm:
  description: The commit-confirmed timer (armed, seconds, deadline epoch).
  returned: success
  type: dict
summary:
  description: Lines applied, whether the config changed, timings.
  returned: success
  type: dict
changes:
  description: A short unified diff of the running configuration (redacted).
  returned: success
  type: list
  elements: str

"""
