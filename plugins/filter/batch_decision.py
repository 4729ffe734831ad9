# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.batch_decision filter: a thin wrapper over module_utils/batches.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: batch_decision
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: After a deploy batch - halt or continue, and the devices to roll back
description:
  - Counts the failures so far (failed deployed devices, plus devices the change did not touch whose checks failed)
    and halts when they exceed O(max_failures); no further batch is deployed after a halt.
  - Returns the devices to roll back per O(rollback_scope) - C(all) every deployed device once anything failed,
    C(failed) only the failed ones (every deployed one when a check failed on a device the change did not touch).
options:
  _input:
    description: The devices deployed so far (all batches).
    type: list
    elements: str
    required: true
  failed:
    description: The deployed devices whose deploy or checks failed.
    type: list
    elements: str
    required: true
  max_failures:
    description: Halt when the failures exceed this.
    type: int
    default: 0
  rollback_scope:
    description: Which devices roll back.
    type: str
    choices: [all, failed]
    default: all
  failed_elsewhere:
    description: Devices the change did not touch whose checks failed.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Decide after the batch
  ansible.builtin.set_fact:
    decision: "{{ deployed | governed.change.batch_decision(failed, plan.max_failures, plan.rollback_scope, failed_untouched) }}"
"""

RETURN = r"""
_value:
  description: C(halt) (bool), C(failures) (sorted devices), C(reason) and C(rollback) (devices to restore, in deploy order).
  type: dict
  sample: {"halt": true, "failures": ["r1", "r2"], "reason": "2 failure(s) > max_failures 0: halt, no further batch", "rollback": ["r1"]}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import batches
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def batch_decision(deployed, failed, max_failures=0, rollback_scope="all", failed_elsewhere=()):
    """Halt or continue, and the rollback targets (see DOCUMENTATION)."""
    try:
        deployed = list(deployed)
        elsewhere = sorted(set(failed_elsewhere or ()) - set(deployed))
        decision = batches.batch_decision(deployed, list(failed), int(max_failures), failed_elsewhere=elsewhere)
        decision["rollback"] = batches.rollback_targets(rollback_scope, deployed, list(failed), failed_elsewhere=elsewhere)
        return decision
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.batch_decision: %s" % exc)


class FilterModule(object):
    """governed.change batch decision filter."""

    def filters(self):
        return {"batch_decision": batch_decision}
