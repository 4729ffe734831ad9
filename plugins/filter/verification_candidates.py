# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.verification_candidates filter: a thin wrapper over module_utils/impact.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: verification_candidates
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The devices to snapshot before a change, from which its verification scope is learned
description:
  - Takes the assessment's C(verification) plan and returns the devices the precheck stage snapshots (sorted).
  - C(impact) - the hosts always verified (targets, hosts the expected checks name) and every routing device of the
    play (their pre snapshots show sessions and next hops); C(network) - every device of the play; C(targets_only) -
    the hosts always verified.
options:
  _input:
    description: The assessment's C(verification) mapping.
    type: dict
    required: true
  platforms:
    description: The play's devices and their C(governed_platform) ({host - platform}).
    type: dict
    required: true
  scope:
    description: An explicit scope mode that wins over the plan's (empty for the plan's).
    type: str
"""

EXAMPLES = r"""
- name: The devices to snapshot
  ansible.builtin.set_fact:
    candidates: "{{ assess_assessment.verification | governed.change.verification_candidates({'r1': 'frr', 'fw1': 'linux'}) }}"
"""

RETURN = r"""
_value:
  description: The devices to snapshot, sorted.
  type: list
  elements: str
  sample: [r1, r2, r3]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.impact import snapshot_candidates


def verification_candidates(plan, platforms, scope=None):
    """The devices to snapshot (see DOCUMENTATION)."""
    try:
        return snapshot_candidates(plan, platforms, scope or None)
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.verification_candidates: %s" % exc)


class FilterModule(object):
    """governed.change verification scope filter."""

    def filters(self):
        return {"verification_candidates": verification_candidates}
