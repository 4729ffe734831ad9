# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.prefix_overlap filter: a thin wrapper over module_utils/blast_radius.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: prefix_overlap
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The address space two prefix lists share (IPv4 and IPv6, as sets)
description:
  - Compares two lists of prefixes as address sets (netaddr IPSet), not as strings, so a subnet, a supernet,
    an equal prefix written differently (C(2001:DB8::/32), C(2001:db8::/32)) and a host address all overlap.
  - Returns the shared address space as sorted CIDRs (IPv4 first); an empty list when the lists are disjoint.
  - The same function computes the blast radius' overlap with the policy's protected prefixes.
options:
  _input:
    description: Prefixes (or addresses, taken as /32 or /128).
    type: list
    elements: str
    required: true
  others:
    description: The prefixes to compare with, for example the policy's protected_prefixes.
    type: list
    elements: str
    required: true
requirements:
  - netaddr
"""

EXAMPLES = r"""
- name: Refuse a change touching a protected prefix
  ansible.builtin.assert:
    that: assessment.blast_radius.prefixes_touched | governed.change.prefix_overlap(['10.255.0.0/24']) | length == 0
    fail_msg: the change touches the router loopbacks
"""

RETURN = r"""
_value:
  description: The shared address space as sorted CIDR strings; empty when disjoint.
  type: list
  elements: str
  sample: ["10.255.0.2/32"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.blast_radius import prefix_overlap as _core_overlap
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def prefix_overlap(prefixes, others):
    """Shared address space of two prefix lists (see DOCUMENTATION)."""
    try:
        return _core_overlap([str(p) for p in prefixes], [str(p) for p in others])
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.prefix_overlap: %s" % exc)


class FilterModule(object):
    """governed.change prefix filters."""

    def filters(self):
        return {"prefix_overlap": prefix_overlap}
