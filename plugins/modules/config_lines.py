# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.config_lines action (the work is done by plugins/action/config_lines.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_lines
short_description: The configuration lines a change request gives one target, templates rendered as assess renders them
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Returns the configuration lines of the change request's C(config) entries that apply to the task's host (group
    entries, then the host's own entry, in document order) - C(lines) as written, C(template) entries rendered.
  - A template is rendered with ansible-core's templating under its trust model - only the template file is trusted
    as a template - with the entry's C(vars) (plain data, never templated themselves) over the host's variables
    (C(hostvars[inventory_hostname])). Lookups (C(lookup), C(query), C(q)) are refused in templates.
  - The template must lie in the change request's folder or in O(templates_dir); C(..), absolute paths and symlinks
    that resolve anywhere else are refused.
  - This is the same function M(governed.change.assess) renders with, so the deploy stage pushes the lines whose diff
    was assessed and approved (the content hash); the deploy role uses it for every target.
  - Also returns the change request's validated C(expected) checks, so no task re-reads the change request.
  - Runs on the controller for each host; reads no device.
options:
  change_request:
    description: Path of the change request YAML (relative paths are resolved from the playbook directory).
    type: path
    required: true
  templates_dir:
    description: A folder of templates that C(template:) entries may also come from (the same as the assess stage's).
    type: path
  render:
    description:
      - Whether to render the host's lines. V(false) returns only the change request's validated C(expected) checks
        (a host an expected check names, which gets no lines).
    type: bool
    default: true
  hosts:
    description:
      - Render these hosts' lines in one task (run it once for the whole stage) instead of the task host's; the result
        then carries C(by_host). Each host's lines are rendered with that host's variables and groups, exactly as for
        a task on that host. V(render) does not apply; a listed host the change request gives no configuration gets
        empty C(lines) and C(has_config=false).
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Read-only; the same result in check mode.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.assess
  - module: governed.change.deploy
"""

EXAMPLES = r"""
- name: Render this target's configuration lines from the change request
  governed.change.config_lines:
    change_request: changes/CHG-1003.yml
  register: rendered

- name: Deploy them
  governed.change.deploy:
    lines: "{{ rendered.lines }}"
    backup: "{{ governed_backups[inventory_hostname] }}"

- name: Render every target's lines in one task
  governed.change.config_lines:
    change_request: changes/CHG-1003.yml
    hosts: "{{ targets }}"
  run_once: true
  no_log: true  # the lines may carry secrets
  register: rendered_all
"""

RETURN = r"""
lines:
  description: The host's configuration lines, in order (empty when the change request has no config for the host).
  returned: success
  type: list
  elements: str
  sample: ["router bgp 65002", " neighbor 10.0.12.1 description to r1"]
has_config:
  description: Whether any config entry of the change request applies to the host.
  returned: success
  type: bool
entries:
  description: The config entries used, in order (their keys, and C(template) for rendered ones).
  returned: success
  type: list
  elements: dict
by_host:
  description:
    - With O(hosts), each listed host's C(lines), C(has_config) and C(entries) (as the task-host fields above).
  returned: when O(hosts) is given
  type: dict
lines_by_host:
  description: With O(hosts), each listed host's C(lines).
  returned: when O(hosts) is given
  type: dict
expected:
  description:
    - The change request's expected checks, validated as the assess stage validates them (each with its C(hosts), empty
      for every target); C(governed.change.expected_for) picks a host's.
  returned: success
  type: list
  elements: dict
"""
