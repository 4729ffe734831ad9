# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.tier_at_least test: a thin wrapper over module_utils/risk.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tier_at_least
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: Whether a risk tier is at least a given tier (low < medium < high < critical)
description:
  - Compares risk tiers by their order, not as strings. An unknown tier is an error, never false.
options:
  _input:
    description: The risk tier to test, for example an assessment's tier.
    type: str
    required: true
  minimum:
    description: The tier to compare with.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Ask for a human diff review from high risk on
  ansible.builtin.pause:
    prompt: "Review the diff of {{ assessment.change_id }}"
  when: assessment.tier is governed.change.tier_at_least('high')
"""

RETURN = r"""
_value:
  description: True when the input tier is the minimum or above.
  type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.risk import tier_at_least as _core_tier_at_least


def tier_at_least(tier, minimum):
    """True when ``tier`` is ``minimum`` or above (see DOCUMENTATION)."""
    try:
        return _core_tier_at_least(str(tier), str(minimum))
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.tier_at_least: %s" % exc)


class TestModule(object):
    """governed.change risk tests."""

    def tests(self):
        return {"tier_at_least": tier_at_least}
