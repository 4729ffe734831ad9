# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.content_drift filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: content_drift
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: Why a deploy must not go on because its content is not what was approved, or an empty string
description:
  - Compares the approved assessment (O(_input)) with a read-only re-assessment made just before the deploy
    (O(reassessed)). Returns an empty string when the content hashes match, else a message with both hashes and the fix
    (re-assess and have the change approved again).
  - A O(limited) play (one domain's branch of a workflow - another domain may already be deployed, which changes the
    whole change's hash) passes when the change request is the same and the diff of each of its own O(targets) is
    unchanged.
  - A missing hash or device counts as changed. The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The approved assessment.
    type: dict
    required: true
  reassessed:
    description: The re-assessment (C(assessment) of a C(governed.change.assess) run in check mode).
    type: dict
    required: true
  targets:
    description: The targets this play deploys.
    type: list
    elements: str
    required: true
  limited:
    description: Whether the play is limited.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse a change whose content or devices changed since the approval
  ansible.builtin.fail:
    msg: "{{ drift }}"
  when: drift | length > 0
  vars:
    drift: "{{ approved | governed.change.content_drift(reassess.assessment, targets, limited=false) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The refusal (the hashes, what changed, the fix), or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def content_drift(approved, reassessed, targets, limited=False):
    """Why the deploy must not go on (see DOCUMENTATION)."""
    try:
        return run_decisions.content_drift(approved, reassessed, targets, limited=limited)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.content_drift: %s" % exc)


class FilterModule(object):
    """governed.change content_drift filter."""

    def filters(self):
        return {"content_drift": content_drift}
