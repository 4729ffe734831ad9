# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.stage_hosts filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_hosts
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The devices a stage acts on - all, or on a limited play the ones the play holds
description:
  - Returns O(_input) (a list of hosts, or a mapping keyed by host) unchanged as a list, or - when O(limited) is true
    (a C(--limit), as a workflow branch sets) - only the hosts O(play_hosts) holds. The stage roles use it so a limited
    play acts on its own devices only.
options:
  _input:
    description: The hosts (a list, or a mapping whose keys are hosts).
    type: raw
    required: true
  play_hosts:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  limited:
    description: Whether the play is limited.
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: The targets this play holds
  ansible.builtin.set_fact:
    targets: "{{ assessment.hosts | governed.change.stage_hosts(ansible_play_hosts_all, ansible_limit | default('') | length > 0) }}"
"""

RETURN = r"""
_value:
  description: The hosts, in their order.
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def stage_hosts(hosts, play_hosts, limited):
    """The devices a stage acts on (see DOCUMENTATION)."""
    try:
        return run_decisions.stage_hosts(hosts, play_hosts, limited)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.stage_hosts: %s" % exc)


class FilterModule(object):
    """governed.change stage_hosts filter."""

    def filters(self):
        return {"stage_hosts": stage_hosts}
