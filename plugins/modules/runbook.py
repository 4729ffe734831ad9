# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.runbook action (the work is done by plugins/action/runbook.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: runbook
short_description: Generate the runbook of a change from its change request, its assessment and the policy
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Writes C(runbooks/<change_id>.md) and C(runbooks/<change_id>.json) under O(output_dir) with the six elements of a
    runbook - trigger, prerequisites, numbered steps with expected outputs (per device - the exact configuration lines,
    the commit-confirmed timer, the checks), verification (the expected checks and no-regression), rollback (backup
    restore verified against the pre-change snapshot, or the custom steps) and escalation (target and runbook of the
    tier, from the policy).
  - The content is deterministic, so the same change request, assessment and policy give the same sha256.
  - The tier (from the assessment) decides the prerequisites, batches, checks, rollback and escalation; without an
    assessment the task fails. Given both, the change request must be the one assessed (same sha256).
  - Runs once on the controller.
options:
  change_request:
    description:
      - Path of the change request YAML; defaults to the variable C(governed_change_request). Gives the exact lines,
        the expected checks and custom rollback steps.
    type: path
  assessment:
    description: The assessment (the C(assessment) of a registered M(governed.change.assess) result, or its summary naming C(assessment_file)).
    type: dict
  assessment_file:
    description:
      - Path of the full assessment JSON written by M(governed.change.assess). When no assessment is given at all,
        the C(governed_assessment) variable, then C(<output_dir>/assessments/<change_id>.assessment.json),
        C(assessments/<change_id>.json) and C(<change_id>.assessment.json) are tried.
    type: path
  policy:
    description: Path to the policy YAML file, or a folder of policy YAML files merged in name order.
    type: path
    required: true
  output_dir:
    description:
      - Folder under which C(runbooks/) is written; defaults to the variable C(governed_output_dir), else
        C($GOVERNED_CHANGE_OUTPUT_DIR), else C(out) in the working directory (never inside the installed collection).
    type: path
  base_url:
    description: Where the runbooks folder is published (for example a Git web UI); the returned C(url) is C(<base_url>/<change_id>.md).
    type: str
  confirm_timeout:
    description: The commit-confirmed timer (seconds) the deploy steps use; C(0) for none.
    type: int
    default: 120
  ledger:
    description: Path of the ledger holding the change record; when given, the event C(runbook.generated) is recorded.
    type: path
notes:
  - Secrets in configuration lines are redacted in the runbook.
attributes:
  check_mode:
    support: full
    description: Builds the runbook and returns its reference; writes no file and no ledger event.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.assess
  - module: governed.change.escalate
"""

EXAMPLES = r"""
- name: Runbook of the change
  governed.change.runbook:
    change_request: changes/CHG-2002.yml
    assessment_file: "{{ assessed.assessment_file }}"
    policy: policy/policy.yml
    output_dir: "{{ playbook_dir }}/../out"
  run_once: true
  register: runbook

- name: Show where it is
  ansible.builtin.debug:
    msg: "{{ runbook.runbook.path }} ({{ runbook.runbook.sha256 }})"
"""

RETURN = r"""
runbook:
  description: Where the runbook is and its hashes.
  returned: success
  type: dict
  contains:
    path:
      description: The Markdown runbook (C(runbooks/<change_id>.md)).
      type: str
    json_path:
      description: The JSON runbook (C(runbooks/<change_id>.json)).
      type: str
    sha256:
      description: sha256 of the Markdown file.
      type: str
    json_sha256:
      description: sha256 of the JSON file.
      type: str
    content_sha256:
      description: sha256 of the runbook document's canonical JSON (stable for the same inputs).
      type: str
    url:
      description: C(<base_url>/<change_id>.md), or the Markdown path without O(base_url).
      type: str
change_id:
  description: The change id.
  returned: success
  type: str
  sample: CHG-2002
elements:
  description: The six elements and how many items each has (steps, prerequisites, checks, rollback steps).
  returned: success
  type: dict
recorded:
  description: Whether the event C(runbook.generated) was recorded in the ledger.
  returned: success
  type: bool
"""
