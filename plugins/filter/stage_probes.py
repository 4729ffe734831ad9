# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.stage_probes filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_probes
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The reachability probes a device's snapshot runs in a stage
description:
  - None for a device whose platform is not C(linux); else the explicit probes O(_input) when given, else the
    firewall's traffic checks the assessment planned for the device (C(verification.traffic.probes_by_host)).
options:
  _input:
    description: The explicit probes (empty for none).
    type: list
    elements: dict
    required: true
  assessment:
    description: The assessment (or any mapping with its C(verification) block).
    type: dict
    required: true
  host:
    description: The device.
    type: str
    required: true
  platform:
    description: The device's platform (C(governed_platform)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Snapshot with the device's probes (none means the option is left out)
  governed.change.snapshot:
    probes: "{{ probes | governed.change.stage_probes(assessment, inventory_hostname, governed_platform | default('')) | default(omit, true) }}"
"""

RETURN = r"""
_value:
  description: The probes (a list, empty for none).
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def stage_probes(explicit, assessment, host, platform):
    """The device's probes (see DOCUMENTATION)."""
    try:
        return run_decisions.stage_probes(explicit or [], assessment or {}, host, platform or "")
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.stage_probes: %s" % exc)


class FilterModule(object):
    """governed.change stage_probes filter."""

    def filters(self):
        return {"stage_probes": stage_probes}
