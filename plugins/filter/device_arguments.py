# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.device_arguments filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: device_arguments
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: Each device's own arguments of a fleet snapshot or check (by_host)
description:
  - For the devices O(_input), C({host - arguments}) to pass as C(by_host) to a fleet M(governed.change.snapshot) or
    M(governed.change.check) - the device's own C(pre) and C(post) snapshot references, its C(expected) checks and its
    C(probes); for a fleet M(governed.change.deploy), its C(lines) and C(backup).
  - A target (O(targets)) not in O(expected_only) gets no expected checks (its lines are not on it yet); without
    O(expected_only) every device gets its own. Probes as the C(governed.change.stage_probes) filter decides them - on a
    firewall (platform C(linux)) only, the explicit O(probes), else the assessment's traffic checks; left out when none.
  - The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The devices.
    type: list
    elements: str
    required: true
  platforms:
    description: C({host - governed_platform}).
    type: dict
  hostvars:
    description: Ansible's C(hostvars); each device's platform is its C(governed_platform) there (O(platforms) wins).
    type: raw
  pre:
    description: C({host - pre-change snapshot reference}).
    type: dict
  post:
    description: C({host - snapshot reference}) to check instead of taking one.
    type: dict
  expected:
    description: C({host - expected checks}).
    type: dict
  expected_only:
    description: The targets whose expected checks apply now (the ones deployed so far); none - every device's apply.
    type: list
    elements: str
  targets:
    description: The change's targets.
    type: list
    elements: str
  probes:
    description: The explicit probes (empty - the assessment's).
    type: list
    elements: dict
  assessment:
    description: The assessment (or any mapping with its C(verification) block).
    type: dict
  lines:
    description: C({host - configuration lines}) (a deploy's C(lines)).
    type: dict
  backup:
    description: C({host - backup reference}) (a deploy's C(backup)).
    type: dict
"""

EXAMPLES = r"""
- name: Check every device of the scope from one task, each against its own pre snapshot
  governed.change.check:
    hosts: "{{ scope }}"
    by_host: "{{ scope | governed.change.device_arguments(hostvars=hostvars, pre=pre_snapshots, expected=expected_by_host) }}"
  register: checks
  run_once: true
"""

RETURN = r"""
_value:
  description: C({host - {pre, post, expected, probes, lines, backup}}) (only the keys that apply).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def device_arguments(hosts, platforms=None, pre=None, post=None, expected=None, expected_only=None, targets=None,
                     probes=None, assessment=None, lines=None, backup=None, hostvars=None):
    """Each device's own arguments of a fleet snapshot or check (see DOCUMENTATION)."""
    try:
        if platforms is None and hostvars is not None:
            platforms = dict((host, hostvars[host].get("governed_platform") or "") for host in hosts or [] if host in hostvars)
        return run_decisions.device_arguments(hosts, platforms=platforms, pre=pre, post=post, expected=expected,
                                              expected_only=expected_only, targets=targets, probes=probes,
                                              assessment=assessment, lines=lines, backup=backup)
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.device_arguments: %s" % exc)


class FilterModule(object):
    """governed.change device_arguments filter."""

    def filters(self):
        return {"device_arguments": device_arguments}
