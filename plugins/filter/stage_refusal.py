# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.stage_refusal filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_refusal
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: Why a device stage must not start, or an empty string
description:
  - The check a device stage role makes before it touches any device. Returns an empty string when the stage may go
    on, else a message naming every missing piece with its fix.
  - Every target must be in O(inventory) (when given). C(precheck) - every target in O(play_hosts) unless the play is
    O(limited). C(deploy) - each of its targets in the play, with a pre snapshot (O(pre_snapshots)), a backup
    (O(backups)) and configuration lines (O(lines)). C(verify) - its targets and the O(check_hosts) the play holds with
    a pre snapshot. C(rollback) - each device to restore with a backup.
  - A limited play (a C(--limit), as a workflow branch sets) acts on the targets it holds (see
    R(governed.change.stage_hosts,ansible_collections.governed.change.stage_hosts_filter)).
  - The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The stage - C(precheck), C(deploy), C(verify) or C(rollback).
    type: str
    required: true
    choices: [precheck, deploy, verify, rollback]
  targets:
    description: The change's targets (the rollback - the devices chosen to restore).
    type: list
    elements: str
    required: true
  play_hosts:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  limited:
    description: Whether the play is limited.
    type: bool
    default: false
  inventory:
    description: Every inventory host (C(groups['all'])); omitted, the inventory is not checked.
    type: list
    elements: str
  pre_snapshots:
    description: The pre-change snapshots by host (or the hosts that have one).
    type: raw
  backups:
    description: The backups by host.
    type: dict
  lines:
    description: The configuration lines by host.
    type: dict
  check_hosts:
    description: The hosts the change's checks run on beyond its targets (the verify stage).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Refuse a deploy without what every target needs (nothing is touched)
  ansible.builtin.fail:
    msg: "{{ refusal }}"
  when: refusal | length > 0
  vars:
    refusal: >-
      {{ 'deploy' | governed.change.stage_refusal(assessment.hosts, ansible_play_hosts_all, limited=false,
         inventory=groups['all'], pre_snapshots=governed_pre_snapshots, backups=governed_backups, lines=lines_by_host) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: The refusal (what is missing, for which hosts, and the fix), or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def stage_refusal(stage, targets, play_hosts, limited=False, inventory=None, pre_snapshots=None, backups=None, lines=None,
                  check_hosts=None):
    """Why a device stage must not start (see DOCUMENTATION)."""
    try:
        return run_decisions.stage_refusal(stage, targets, play_hosts, limited=limited, inventory=inventory,
                                           pre_snapshots=pre_snapshots, backups=backups, lines=lines,
                                           check_hosts=check_hosts)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.stage_refusal: %s" % exc)


class FilterModule(object):
    """governed.change stage_refusal filter."""

    def filters(self):
        return {"stage_refusal": stage_refusal}
