# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.controller_check_plan filter: a thin wrapper over module_utils/controller_refs.py (check mode of
playbooks/controller_load.yml)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controller_check_plan
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: What check mode of the controller load could not compare, and references to nothing
description:
  - C(pending) lists the entries left out of the awx.awx module calls in check mode because they refer to objects the same
    load creates (a real load creates or updates them after those).
  - C(unknown) lists references to objects neither on the controller nor in the configuration; the real load would fail on them.
options:
  _input:
    description: The controller configuration, a mapping of controller_* keys (C(controller_projects), ...) to their entries.
    type: dict
    required: true
  existing:
    description: The names the controller has per API list endpoint (C(organizations), C(projects), ...).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What check mode could not compare
  ansible.builtin.debug:
    msg: "{{ (__controller_config | governed.change.controller_check_plan(__controller_existing)).pending }}"
"""

RETURN = r"""
_value:
  description: C(pending) and C(unknown), lists of text naming the entry and the reference.
  type: dict
  sample: {"pending": ["controller_projects 'governed-change': would be created or updated after
    execution_environments 'governed-change ee' (not on the controller yet)"], "unknown": []}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import controller_refs
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def controller_check_plan(config, existing):
    """{pending, unknown} of a controller configuration in check mode."""
    try:
        return controller_refs.check_plan(config, existing)
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.controller_check_plan: %s" % exc)


class FilterModule(object):
    """governed.change controller_check_plan filter."""

    def filters(self):
        return {"controller_check_plan": controller_check_plan}
