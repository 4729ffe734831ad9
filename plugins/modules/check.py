# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.check action (the work is done by plugins/action/check.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: check
short_description: Run declarative checks over pre/post snapshots of a device
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Runs I(checks), the change's I(expected) checks and the platform's built-in no-regression set.
  - The built-in set - no Established BGP session lost, no route lost beyond tolerance, no interface down, no probe newly failing.
  - Without I(post), snapshots the device itself until the checks pass or I(settle_timeout) runs out (wait until settled).
  - Returns every check with the values it compared; fails when any check fails or cannot be decided.
options:
  pre:
    description: Reference (or snapshot) taken before the change.
    type: dict
  post:
    description: Reference (or snapshot) taken after the change; when omitted the action snapshots the device.
    type: dict
  checks:
    description: Checks (name, query, op, value, snapshot, tolerance_pct); see plugins/module_utils/checks.py.
    type: list
    elements: dict
    default: []
  expected:
    description: The change request's expected checks (same format).
    type: list
    elements: dict
    default: []
  no_regression:
    description: Add the platform's built-in no-regression checks.
    type: bool
    default: true
  same_as_pre:
    description:
      - Add the platform's built-in checks that the state equals the pre-change snapshot (the rollback's verification, see
        C(same_as_pre_checks) in plugins/module_utils/checks.py). A section collected on demand (probes, BGP peers,
        firewall rules) that is in neither snapshot is recorded as skipped with the reason, not failed.
    type: bool
    default: false
  tolerance_pct:
    description: Route loss tolerated by the built-in checks, in percent of the pre routes.
    type: float
    default: 0
  settle_timeout:
    description: Seconds to poll until the checks pass (when I(post) is omitted).
    type: float
    default: 10
  settle_interval:
    description: Seconds between polls.
    type: float
    default: 1
  hold:
    description: After the checks pass, wait this long and check again (catches a session that flaps a moment later).
    type: float
    default: 0
  pass_hold:
    description:
      - A pass (with no failure seen before it) settles only once the same passing state - the routing state unchanged -
        was read on consecutive polls spanning this many seconds (at most half of I(settle_timeout)). A change reaches
        the devices it is not deployed on through the routing protocol (a neighbor withdraws, the next one learns it a
        moment later), so a read taken right after the commit proves nothing there. C(0) settles a pass on its first read.
    type: float
    default: 1
  fail_fast_polls:
    description:
      - Fail fast - the same failure seen on this many consecutive polls with the routing state unchanged, and for at
        least 1 s, ends the wait (not before the BGP convergence bound from the pre snapshot's timers, when known); a
        pass that follows a failure must hold as many polls. C(0) waits for I(settle_timeout) as before.
      - A decisive failure (a BGP session that was Established is refused with an OPEN Message Error - a configuration
        mismatch no retry can heal) ends the wait after 2 polls at least 0.2 s apart, without waiting for the bound.
    type: int
    default: 3
  halt_group:
    description:
      - The devices checked together (one deploy batch, one run) - when one of them fails decisively, the others stop
        waiting while their checks fail (they look for the marker between polls, every 0.05 s) and report that failure
        (C(settle.halted)), so the batch's verdict is known at once. A device whose checks pass, or pass after a failure
        and must still hold, is not stopped. Omit to wait independently.
    type: str
  change_lines:
    description:
      - The change's configuration lines of every target (a mapping of target to its list of lines), for fail fast only. On a device of
        I(deployed_hosts), a C(neighbor A remote-as N) of the change's default C(router bgp) block that differs from the
        AS the neighbor presented before the change (the I(pre) snapshot - Established, remote AS Z) makes that session,
        once down, a decisive failure from the first poll (still 2 polls at least 0.2 s apart), without waiting for
        the reconnect's refusal - unless another target's lines write C(router bgp N) or C(local-as N) (both ends
        renumbered, or possibly so), the neighbor was not Established before, or I(intended) declares it down.
    type: dict
  deployed_hosts:
    description: The hosts whose I(change_lines) are on the device now (the batches deployed so far, this one included).
    type: list
    elements: str
    default: []
  intended:
    description:
      - Losses the change declares intended (the change request's C(intended)) - C(prefixes_lost) and C(sessions_down);
        the built-in no_route_lost / no_bgp_session_lost checks (the network-wide invariant) do not count them.
    type: dict
  probes:
    description:
      - Probes for the snapshots the action takes (see M(governed.change.snapshot)).
      - Without probes, a Linux device's snapshots run the probes its C(pre) snapshot recorded (pre and post compared like
        for like); the stage roles pass a firewall's traffic checks from the assessment (C(verification.traffic)).
    type: list
    elements: dict
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
  - module: governed.change.snapshot
  - module: governed.change.deploy
  - module: governed.change.restore
  - module: governed.change.confirm
"""

EXAMPLES = r"""
- name: Post checks, network-wide
  governed.change.check:
    pre: "{{ pre.snapshot }}"
    expected:
      - {name: loopback_r3_present, query: "sections.routes.\"10.255.0.3/32\"", op: exists, snapshot: post}
    settle_timeout: 10
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
passed:
  description: Every check passed and none was undecidable.
  returned: always
  type: bool
undecidable:
  description: At least one check could not be decided (fails closed).
  returned: always
  type: bool
results:
  description: One entry per check with the compared values (name, passed, op, expected, actual, reason).
  returned: always
  type: list
  elements: dict
post:
  description: Reference of the post snapshot the checks read.
  returned: when the action took it
  type: dict
settle:
  description:
    - Attempts and seconds spent waiting until settled, why the wait ended (C(reason)), C(fail_fast) when a stable
      failure ended it early, C(converge_s), the BGP convergence bound used (null when unknown), and C(config_refusals),
      the sessions the change's own lines make impossible on the device (see I(change_lines)).
  returned: when the action polled
  type: dict
  sample: {settled: false, attempts: 5, elapsed_s: 2.4, fail_fast: true, converge_s: 2.0, config_refusals: {},
           reason: "the same failure on 3 consecutive polls with the routing state unchanged (BGP convergence bound 2.0 s passed)"}

"""
