# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.rollback_choice filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rollback_choice
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The devices a rollback restores
description:
  - The explicit O(hosts) when given; else the tier's rollback scope (O(scope), else the policy requirements'
    C(rollback_scope), default C(all)) over the deployed devices O(_input) - C(all) restores every deployed device,
    C(failed) only the failed ones unless a device the change did not touch failed. With no failed device known, every
    deployed one counts as failed.
options:
  _input:
    description: The deployed devices.
    type: list
    elements: str
    required: true
  failed_hosts:
    description: The devices whose deploy or checks failed.
    type: list
    elements: str
    default: []
  scope:
    description: The rollback scope (C(all) or C(failed)); none for the policy's.
    type: str
  requirements:
    description: The tier's requirements from the assessment.
    type: dict
  hosts:
    description: Explicit devices to restore (wins).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Choose the devices to restore
  ansible.builtin.set_fact:
    targets: "{{ deployed | governed.change.rollback_choice(failed, none, assessment.requirements) }}"
"""

RETURN = r"""
_value:
  description: The devices to restore.
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def rollback_choice(deployed, failed_hosts=None, scope=None, requirements=None, hosts=None):
    """The devices to restore (see DOCUMENTATION)."""
    try:
        return run_decisions.rollback_choice(deployed or [], failed_hosts or [], scope=scope, requirements=requirements, hosts=hosts)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.rollback_choice: %s" % exc)


class FilterModule(object):
    """governed.change rollback_choice filter."""

    def filters(self):
        return {"rollback_choice": rollback_choice}
