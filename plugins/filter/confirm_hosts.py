# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.confirm_hosts filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: confirm_hosts
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: The devices whose commit-confirmed deploy is confirmed now
description:
  - Of the devices O(_input), the ones whose commit is confirmed now - not failed (O(failed)), not to be rolled back
    (O(rollback)), not confirmed already (O(confirmed)), and whose deploy result (O(results)) did not fail. The deploy
    role confirms them from one fleet M(governed.change.confirm) task.
  - The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The candidate devices (a batch's, or every deployed one).
    type: list
    elements: str
    required: true
  results:
    description: C({host - deploy task result}).
    type: dict
  failed:
    description: The devices that failed (deploy or checks).
    type: list
    elements: str
  rollback:
    description: The devices to roll back.
    type: list
    elements: str
  confirmed:
    description: The devices confirmed already (a list, or a mapping keyed by device).
    type: raw
"""

EXAMPLES = r"""
- name: Confirm the batch's commit once its checks passed
  governed.change.confirm:
    hosts: "{{ batch | governed.change.confirm_hosts(results=deploy_results, failed=failed_hosts) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The devices to confirm, in the order given.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def confirm_hosts(hosts, results=None, failed=None, rollback=None, confirmed=None):
    """The devices to confirm (see DOCUMENTATION)."""
    try:
        return run_decisions.confirm_hosts(hosts, results=results, failed=failed or (), rollback=rollback or (),
                                           confirmed=list(confirmed or ()))
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.confirm_hosts: %s" % exc)


class FilterModule(object):
    """governed.change confirm_hosts filter."""

    def filters(self):
        return {"confirm_hosts": confirm_hosts}
