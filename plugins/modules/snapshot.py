# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.snapshot action (the work is done by plugins/action/snapshot.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: snapshot
short_description: Take a normalized state snapshot of a device into the state store
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - FRR - BGP peers, the BGP table, interfaces and the running-config hash (C(vtysh ... json)).
  - Linux - nftables rules, counters, chains, sets, interfaces and reachability probes.
  - The snapshot is normalized by the core (plugins/module_utils/snapshot.py) and stored; the task returns its reference and a small summary.
options:
  probes:
    description:
      - Reachability probes to record in a Linux host's snapshot (section C(probes)).
    type: list
    elements: dict
    suboptions:
      name:
        description: The probe's identity in the snapshot (default C(tcp HOST:PORT) or C(ping HOST), plus C( from X)).
        type: str
      type:
        description: A TCP connect or one ICMP echo.
        type: str
        choices: [tcp, ping]
        default: tcp
      host:
        description: Address to probe.
        type: str
        required: true
      port:
        description: TCP port (tcp probes).
        type: int
      timeout:
        description: Seconds before the probe counts as failed.
        type: int
        default: 2
      from:
        description: Inventory host whose shell runs the probe (its namespaces are the vantage point); default the device itself.
        type: str
      reachable:
        description:
          - C(false) for a service that must stay unreachable (a catalogue service marked so); the no-regression check
            C(blocked_services_stay_blocked) fails when it becomes reachable.
        type: bool
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
  - module: governed.change.backup
  - module: governed.change.deploy
  - module: governed.change.restore
  - module: governed.change.confirm
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Snapshot before the change
  governed.change.snapshot:
    probes:
      - {type: tcp, host: 10.0.45.10, port: 8080, from: r3}
      - {type: ping, host: 10.255.0.1}
  register: pre
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
snapshot:
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
  description: Small counts (established sessions, routes, rules, probes passing).
  returned: success
  type: dict
  sample: {peers: 2, established: 2, routes: 9, interfaces: 4}

"""
