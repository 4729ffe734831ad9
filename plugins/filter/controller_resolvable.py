# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.controller_resolvable filter: a thin wrapper over module_utils/controller_refs.py (check mode of
playbooks/controller_load.yml)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controller_resolvable
author: Governed Change Maintainers (@governed-change)
version_added: "1.0.0"
short_description: The controller configuration entries an awx.awx module can be called with (check mode)
description:
  - Outside check mode (O(existing) null) returns the entries unchanged.
  - In check mode returns the entries whose references (organization, project, inventory, execution environment,
    credentials, credential type, unified job template, notification templates, a workflow's node templates) the
    controller already has. The others refer to objects the same load would create, which an awx.awx module cannot look
    up before they exist; the governed.change.controller_check_plan filter reports them.
options:
  _input:
    description: The entries of one controller_* list (awx.awx module options; a workflow job template with its workflow_nodes).
    type: list
    elements: dict
    required: true
  existing:
    description: The names the controller has per API list endpoint (C(organizations), C(projects), ...), or null outside check mode.
    type: dict
"""

EXAMPLES = r"""
- name: Projects
  awx.awx.project:
    name: "{{ item.name }}"
    organization: "{{ item.organization }}"
    default_environment: "{{ item.default_environment | default(omit) }}"
  loop: "{{ controller_projects | governed.change.controller_resolvable(__controller_existing | default(none)) }}"
"""

RETURN = r"""
_value:
  description: The entries an awx.awx module can look every reference of up (all of them outside check mode).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import controller_refs
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def controller_resolvable(entries, existing=None):
    """The entries whose references exist (all of them outside check mode)."""
    try:
        return controller_refs.resolvable(entries, existing)
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.controller_resolvable: %s" % exc)


class FilterModule(object):
    """governed.change controller_resolvable filter."""

    def filters(self):
        return {"controller_resolvable": controller_resolvable}
