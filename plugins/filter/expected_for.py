# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.expected_for filter: a thin wrapper over module_utils/impact.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: expected_for
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The change's expected checks that run on one device
description:
  - A check naming hosts (C(hosts) - [r3]) runs on those hosts, targets or not; a check without hosts runs on every
    target. The C(hosts) key is left out of the checks returned.
  - Given a list of devices, returns C({device - its checks}) for every one (one task for a whole stage).
options:
  _input:
    description: The change request's expected checks.
    type: list
    elements: dict
    required: true
  device:
    description: The device (inventory name), or a list of devices.
    type: raw
    required: true
  targets:
    description: The change's targets.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The expected checks of this device
  ansible.builtin.set_fact:
    mine: "{{ change.expected | governed.change.expected_for(inventory_hostname, assess_assessment.hosts) }}"

- name: The expected checks of every device of the play, by device
  ansible.builtin.set_fact:
    by_device: "{{ change.expected | governed.change.expected_for(ansible_play_hosts_all, assess_assessment.hosts) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - The expected checks for the device, without their C(hosts) key (a list); for a list of devices, a dict of them
      by device.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.impact import expected_for as _core_expected_for


def expected_for(expected, device, targets):
    """The expected checks of one device (see DOCUMENTATION)."""
    try:
        if isinstance(device, (list, tuple)):
            return dict((str(one), _core_expected_for(expected or [], str(one), list(targets or []))) for one in device)
        return _core_expected_for(expected or [], device, list(targets or []))
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.expected_for: %s" % exc)


class FilterModule(object):
    """governed.change expected checks filter."""

    def filters(self):
        return {"expected_for": expected_for}
