# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.verification_scope action (the work is done by plugins/action/verification_scope.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verification_scope
short_description: The devices a change is verified on, learned from the pre-change snapshots
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Decides where a change is checked before, during and after its deploy (the precheck stage calls it once its
    candidate devices are snapshotted). The rules are in plugins/module_utils/impact.py.
  - C(impact) (the default) - the targets, the hosts the change's expected checks name, every BGP neighbor of a target
    and every device holding a route through a target (next hop on a target, or the target's AS in the AS path).
  - C(network) - every device snapshotted. C(targets_only) - the targets and the hosts the expected checks name (a
    policy narrows the scope only by writing it).
  - Fails when a device of the scope has no pre-change snapshot (it could not be compared).
  - Runs once on the controller (use C(run_once) in a play over many hosts).
options:
  assessment:
    description: The change's assessment (its C(hosts), C(requirements.snapshot_scope) and C(verification)).
    type: dict
    required: true
  pre_snapshots:
    description: The candidates' pre-change snapshots or their references ({host - ref}).
    type: dict
    required: true
  scope:
    description: C(impact), C(network) or C(targets_only); empty for the assessment's (the policy tier's C(snapshot_scope)).
    type: str
    default: ""
  play_hosts:
    description:
      - The devices a limited play holds (an AWX workflow branch with a limit); omit for an unlimited play.
      - Targets and checked hosts outside them are left to the branch that holds them (returned in RV(elsewhere)) and
        are not required to have a pre-change snapshot here.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reads references only; runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing changes.
  platform:
    support: full
    description: Runs on the controller.
    platforms: [frr, linux]
seealso:
  - module: governed.change.snapshot
  - module: governed.change.check
"""

EXAMPLES = r"""
- name: Decide the verification scope from the pre snapshots
  governed.change.verification_scope:
    assessment: "{{ assess_assessment }}"
    pre_snapshots: "{{ candidate_pre_snapshots }}"
  register: scope
  run_once: true
"""

RETURN = r"""
mode:
  description: The scope mode applied.
  returned: always
  type: str
  sample: impact
hosts:
  description: The devices verified (sorted).
  returned: always
  type: list
  elements: str
  sample: [r1, r2, r3]
reasons:
  description: Why each device is in the scope.
  returned: always
  type: dict
  sample: {r1: [target], r2: [BGP neighbor of r1], r3: ["4 route(s) through r1 (e.g. 10.0.12.0/24)"]}
elsewhere:
  description: Targets and checked hosts that a limited play leaves to the branch holding them.
  returned: always
  type: list
  elements: str
  sample: [fw1]
excluded:
  description: Devices snapshotted but outside the scope (not verified).
  returned: always
  type: list
  elements: str
pre_snapshots:
  description: The pre-change snapshot references of the scope's devices only.
  returned: always
  type: dict
"""
