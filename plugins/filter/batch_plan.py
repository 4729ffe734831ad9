# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.batch_plan filter: a thin wrapper over module_utils/batches.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: batch_plan
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: Plan a change's deploy in batches - the canary batch first, then the rest
description:
  - Takes the change's target devices (in order; the first ones form the canary batch) and returns the batching
    settings and the batches.
  - Settings come from O(overrides) (for example extra vars), else the policy tier's O(requirements)
    (C(canary), C(batch_size), C(max_failures), C(rollback_scope)), else O(defaults), else the policy's defaults
    (canary 1, batch_size 1, max_failures 0, rollback_scope all). V(null) values are ignored.
  - Fails on a duplicate device or an invalid setting, naming the field.
options:
  _input:
    description: The change's target devices (inventory host names), canary first.
    type: list
    elements: str
    required: true
  requirements:
    description: The policy tier's requirements (for example C(governed_assessment.requirements)).
    type: dict
  overrides:
    description: Settings that win over the requirements (for example from extra vars).
    type: dict
  defaults:
    description: Settings used when neither the overrides nor the requirements give them; C(batch_size=null) means the rest in one batch.
    type: dict
"""

EXAMPLES = r"""
- name: Plan the batches from the assessed tier's requirements
  ansible.builtin.set_fact:
    plan: "{{ ['r1', 'r2', 'r3'] | governed.change.batch_plan(governed_assessment.requirements, {'canary': 1}) }}"
"""

RETURN = r"""
_value:
  description: The settings (canary, batch_size, max_failures, rollback_scope) and C(batches), a list of lists of devices.
  type: dict
  sample: {"canary": 1, "batch_size": 2, "max_failures": 0, "rollback_scope": "all", "batches": [["r1"], ["r2", "r3"]]}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.batches import batch_plan as _core_plan
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def batch_plan(devices, requirements=None, overrides=None, defaults=None):
    """The batch plan of a change (see DOCUMENTATION)."""
    try:
        return _core_plan(list(devices), requirements=requirements, overrides=overrides, defaults=defaults)
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.batch_plan: %s" % exc)


class FilterModule(object):
    """governed.change batch planning filter."""

    def filters(self):
        return {"batch_plan": batch_plan}
