# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.assess action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: assess
short_description: Validate a change request, classify its risk and compute its blast radius and content hash
version_added: 0.1.0
description:
  - Validates a change request and the policy (unknown keys, wrong types, missing fields and empty targets are
    refused with the field and the fix), resolves the targets against the inventory, renders each target's
    candidate configuration and diffs it against the running configuration.
  - Evaluates the policy's risk rules (JMESPath conditions over the change facts) into a score and a risk tier
    (low, medium, high, critical), decides the change class (standard, normal, emergency), the requirements of
    the tier and the gates the change must pass, and computes the blast radius (devices, sites, critical devices,
    prefixes touched and their overlap with protected prefixes) and the content hash approvals are bound to.
  - Runs once on the controller for the whole change (use C(run_once) in a play over many hosts); the result is
    returned, set as the fact C(governed_assessment) (unless O(publish_fact=false)) and passed through C(set_stats)
    so the next AWX workflow node receives it.
  - Fails closed, with no assessment, when the change request, the policy or a rule cannot be evaluated.
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: Read-only; in check mode nothing is written (no assessment file, no ledger record).
  diff_mode:
    support: full
    description: Returns each target's configuration diff.
  platform:
    support: full
    description: Runs on the controller; targets any platform with a governed.change platform driver.
    platforms: all
options:
  change_request:
    description: Path to the change request YAML file (relative paths are resolved from the playbook directory).
    type: path
    required: true
  policy:
    description: Path to the policy YAML file, or a folder of policy YAML files merged in name order.
    type: path
    required: true
  running_configs:
    description:
      - Running configuration of target hosts, as a mapping of host name to a file path holding it.
      - Hosts not listed are read from the device when O(fetch_running=true), else diffed against an unknown
        (empty) running configuration.
    type: dict
    default: {}
  publish_fact:
    description:
      - Set the assessment as the fact C(governed_assessment) of every host of the play, for later tasks that are given
        no assessment. V(false) leaves the facts alone - the pipeline gives every stage the assessment file instead, and
        Ansible copies every fact of a host each time it runs a task there (issue 16, at 30 routers about 2 ms a task).
    type: bool
    default: true
  fetch_running:
    description:
      - Read the running configuration of each reachable target over its management SSH (read-only) to diff the
        candidate against it. An unreachable device is reported and diffed against an unknown configuration.
    type: bool
    default: true
  templates_dir:
    description:
      - A folder of templates that C(template:) entries of the change request may also come from.
      - Without it a template must lie in the change request's folder (or below it); a path resolving anywhere else
        (an absolute path, C(..), a symlink leading out) is refused. Templates are rendered with the host's variables
        and the entry's C(vars), exactly as M(governed.change.config_lines) renders them at deploy time.
    type: path
  now:
    description: Assessment time (ISO 8601 with offset); defaults to the current time.
    type: str
  output_dir:
    description: Folder where the full assessment is written as C(<change id>.assessment.json) (not in check mode).
    type: path
  ledger:
    description: Path of the ledger (SQLite) in which to open the change record and record the assessment.
    type: path
notes:
  - The content hash is sha256 over the canonical change request plus every target's rendered diff, sorted by host;
    a changed diff therefore voids approvals given for an earlier hash.
  - Secrets in configs and diffs (for example C(neighbor X password Y)) are redacted in the returned and written
    assessment, after the content hash was computed over the real text; a changed secret still changes the hash.
seealso:
  - name: Policy reference
    description: Every policy key, the change facts document and example change requests.
    link: https://example.invalid/governed/change/docs/policy.md
"""

EXAMPLES = r"""
- name: Assess the change once for the whole inventory
  governed.change.assess:
    change_request: changes/CHG-1001.yml
    policy: policy/policy.yml
    output_dir: "{{ playbook_dir }}/../out/assessments"
    ledger: "{{ playbook_dir }}/../out/ledger.sqlite"
  run_once: true
  register: assessment

- name: Stop here when the change is critical
  ansible.builtin.fail:
    msg: "{{ assessment.assessment.explanation }}"
  when: assessment.assessment.tier is governed.change.tier_at_least('critical')
"""

RETURN = r"""
host_key_checking:
  description:
    - C(false) when host key checking was turned off for a device this task reached (C(ansible_host_key_checking=false)
      or ansible.cfg C(host_key_checking = False)); the device's identity was not verified. A warning names the devices.
  returned: when host key checking was off
  type: bool
  sample: false
assessment:
  description: The full assessment.
  returned: success
  type: dict
  contains:
    change_id:
      description: The change request id.
      type: str
      returned: success
    tier:
      description: "Risk tier: low, medium, high or critical."
      type: str
      returned: success
    score:
      description: Sum of the scores of the rules that fired.
      type: int
      returned: success
    fired_rules:
      description: Every rule that fired, with its explanation and value.
      type: list
      elements: dict
      returned: success
    change_class:
      description: "standard, normal or emergency (see change_class_reason)."
      type: str
      returned: success
    requirements:
      description: The policy's requirements for the tier (approvals, window, checks, canary, rollback).
      type: dict
      returned: success
    required_gates:
      description: The gates the change must pass, in workflow order.
      type: list
      elements: str
      returned: success
    blast_radius:
      description: Devices, sites and critical devices touched, prefixes touched and their overlap with protected prefixes.
      type: dict
      returned: success
    devices:
      description: Per target host the diff summary (lines added and removed, sections, prefixes, diff text).
      type: dict
      returned: success
    content_hash:
      description: The sha256 the approvals are bound to.
      type: str
      returned: success
  sample:
    change_id: CHG-1001
    tier: low
    score: 5
    change_class: normal
    content_hash: 3f1c...
summary:
  description: A small summary (also the C(governed_assessment) set_stats artifact) for the next workflow node.
  returned: success
  type: dict
assessment_file:
  description: Path of the written assessment (absent in check mode or without O(output_dir)).
  returned: when output_dir is set and not in check mode
  type: str
unreachable_devices:
  description: Targets whose running configuration could not be read (diffed against an unknown configuration).
  returned: always
  type: dict
"""
