# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change clock as a lookup: the time every stage records, moved by GOVERNED_CHANGE_NOW."""

from __future__ import annotations

DOCUMENTATION = r"""
name: now
author:
  - Governed Change Maintainers (@governed-change)
version_added: 1.0.0
short_description: The current UTC time from the governed.change clock
description:
  - Returns the current time in UTC as ISO 8601 text with microseconds and a trailing C(Z)
    (for example C(2026-11-30T10:22:05.123456Z)), the collection's one timestamp format
    (the fraction is left out when it is zero, as in the ledger's rows).
  - It reads the same clock as every gate, the ledger and the evidence, so the environment variable
    C(GOVERNED_CHANGE_NOW) moves it too (an ISO 8601 instant, or an offset such as C(+1826d)).
  - Use it instead of Jinja's C(now()) for timestamps that are compared with ledger or evidence times.
options: {}
notes:
  - Takes no terms; any given are ignored.
"""

EXAMPLES = r"""
- name: Remember when the deploy stage started
  ansible.builtin.set_fact:
    deploy_started: "{{ lookup('governed.change.now') }}"
"""

RETURN = r"""
_raw:
  description: One ISO 8601 UTC timestamp with microseconds (left out when zero) and a trailing Z.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.governed.change.plugins.module_utils.clock import ClockError, iso_z


class LookupModule(LookupBase):
    """lookup('governed.change.now') -> the clock's current UTC time."""

    def run(self, terms, variables=None, **kwargs):
        try:
            return [iso_z()]
        except ClockError as exc:
            raise AnsibleLookupError(str(exc))
