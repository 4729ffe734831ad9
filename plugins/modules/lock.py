# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.lock action (the work is done by plugins/action/lock.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lock
short_description: Take or release a change's device locks (leases) in the ledger
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - C(state=acquired) leases every device of the change in the ledger for O(ttl) seconds, all or none, before any
    device is touched. A device leased by another change (or by another owner) fails the task closed, naming the
    holder, the lease's expiry and the explicit way out (C(governed-change ledger break-lock DEVICE --reason ...));
    an expired lease is never taken over silently.
  - Acquiring again for the same change and owner renews the lease (a later stage re-checks that it still holds the
    devices before it touches them).
  - With O(transition=implement), after the locks are held the change record moves from C(scheduled) to C(implement)
    (the deploy stage does this before the first device is changed); a change in any other state than C(scheduled) or
    C(implement) fails closed (for example C(authorize) - the review gate has not passed).
  - C(state=released) releases the change's leases (all of them, or the listed O(devices)); releasing nothing is not
    an error, so the release can run on every exit path.
  - Runs once on the controller for the whole change (use C(run_once) in a play over many hosts).
options:
  state:
    description: Take (or renew) the leases, or release them.
    type: str
    choices: [acquired, released]
    default: acquired
  ledger:
    description: Path of the ledger (SQLite); the file and, to acquire, the change record must exist.
    type: path
    required: true
  change_id:
    description: The change holding the leases.
    type: str
    required: true
  devices:
    description:
      - Inventory names of the devices to lease (required to acquire; to release, only these - default all of the change's).
    type: list
    elements: str
  owner:
    description: Who holds the lease (the launcher of the run); recorded with the lease and in the ledger event.
    type: str
    default: governed.change
  ttl:
    description: Seconds the lease lasts; the expected change duration plus a margin.
    type: int
    default: 3600
  transition:
    description:
      - After acquiring, move the change record to this state (only C(implement), from C(scheduled)); already in
        C(implement) is accepted (a re-run).
    type: str
    choices: [implement]
attributes:
  check_mode:
    support: full
    description: Reports which devices it would lease or release and refuses a conflicting lease; nothing is written.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: Runs on the controller; independent of the devices' platform.
    platforms: all
notes:
  - The leases live in the ledger's C(locks) table; acquiring and releasing append C(lock.acquired) and C(lock.released)
    events to the change's hash chain.
seealso:
  - module: governed.change.review_gate
  - module: governed.change.deploy
"""

EXAMPLES = r"""
- name: Lease the change's devices before the precheck touches them
  governed.change.lock:
    ledger: out/ledger.sqlite
    change_id: CHG-2001
    devices: [r1]
    owner: alice
    ttl: 1800
  run_once: true

- name: Renew the leases and move the change to implement before the deploy
  governed.change.lock:
    ledger: out/ledger.sqlite
    change_id: CHG-2001
    devices: [r1]
    owner: alice
    transition: implement
  run_once: true

- name: Always release them
  governed.change.lock:
    state: released
    ledger: out/ledger.sqlite
    change_id: CHG-2001
  run_once: true
"""

RETURN = r"""
locks:
  description: The leases held after an acquire (device, change_id, owner, acquired, expires), or the current leases in check mode.
  returned: when state is acquired
  type: list
  elements: dict
  sample: [{"device": "r1", "change_id": "CHG-2001", "owner": "alice", "acquired": "2026-11-22T13:00:00Z",
            "expires": "2026-11-22T14:00:00Z"}]
released:
  description: The devices whose lease was released (would be, in check mode).
  returned: when state is released
  type: list
  elements: str
  sample: [r1]
ledger_state:
  description: The change record's state after the task (C(implement) after O(transition=implement)).
  returned: when the change record exists
  type: str
  sample: implement
"""
