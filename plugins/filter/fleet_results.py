# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.fleet_results filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_results
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: Each device's result of a fleet task
description:
  - A device action run once over its O(hosts) (a fleet task, the device actions' C(hosts) option) registers one
    result holding every device's own under C(hosts). This returns C({host - result}) for every host of O(hosts); a
    host the task did not work on (or a skipped task) gets a skipped result, as a per-host task's skipped host does.
  - The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The fleet task's registered result.
    type: dict
    required: true
  hosts:
    description: The hosts whose results are wanted.
    type: list
    elements: str
    required: true
  key:
    description: Return this key of each device's result that did not fail, instead of the whole result.
    type: str
  failed:
    description: Return the hosts whose result failed or gave no verdict, instead of the results.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Snapshot every device of the scope from one task
  governed.change.snapshot:
    hosts: "{{ scope }}"
  register: snapshots
  run_once: true

- name: Each device's snapshot result
  ansible.builtin.set_fact:
    snapshot_results: "{{ snapshots | governed.change.fleet_results(scope) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: C({host - that device's result}), with O(key) C({host - that key of its result}), with O(failed) a list of hosts.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def fleet_results(registered, hosts, key=None, failed=False):
    """Each device's result of a fleet task (see DOCUMENTATION)."""
    try:
        if failed:
            return run_decisions.fleet_failed(registered, hosts)
        return run_decisions.fleet_results(registered, hosts, key=key)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.fleet_results: %s" % exc)


class FilterModule(object):
    """governed.change fleet_results filter."""

    def filters(self):
        return {"fleet_results": fleet_results}
