# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.itsm_change action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: itsm_change
short_description: Keep the change's ServiceNow change request in step with the ledger
version_added: 1.0.0
description:
  - At O(stage=assess) creates the ServiceNow change request (table C(change_request)) from the assessment - C(type)
    from the change class (standard, normal, emergency), C(risk) and C(impact) from the risk tier, C(start_date) and
    C(end_date) from the requested window, C(cmdb_ci) and the affected CIs (C(task_ci)) from the targets looked up in
    C(cmdb_ci) by name, C(short_description) and C(description) from the change (with its content hash),
    C(correlation_id) set to the change id - and records its C(sys_id) and C(number) in the ledger (C(itsm.linked)).
  - At every stage moves the change request's C(state) to the ledger's state, one step at a time along ServiceNow's
    model for its type - New, Assess, Authorize, Scheduled, Implement, Review, Closed for a normal change; no Assess for
    an emergency change; no Assess nor Authorize for a standard change; Canceled from any open state - and adds a work
    note naming the stage and the content hash. At O(stage=close) the closing step carries C(close_code) (successful, successful_issues,
    unsuccessful) and C(close_notes) from the run's decision, and the evidence bundle and the HTML report are attached
    (Attachment API) before it.
  - The ledger is the authority; it gains an C(itsm.synced) event after ServiceNow answered, or one C(itsm.failed)
    event when it did not. A failure fails the task only when the policy's C(itsm.required) is true; otherwise the
    result says C(ok=false) and the pipeline continues.
  - Does nothing (C(skipped)) when the policy has no C(itsm) section or it is disabled.
  - Talks to ServiceNow's REST Table and Attachment APIs directly (no extra collection needed); the equivalent
    servicenow.itsm tasks are in docs/itsm.md.
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: Nothing is sent to ServiceNow and nothing is written to the ledger; the linked record is returned.
  diff_mode:
    support: none
    description: No diff is returned.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
options:
  ledger:
    description: Path of the ledger holding the change record; the file and the change must exist (run assess first).
    type: path
    required: true
  change_id:
    description: The change id (the change request's C(correlation_id) in ServiceNow).
    type: str
    required: true
  policy:
    description: Path of the policy file or directory; its C(itsm) section says whether and how the record is kept.
    type: path
    required: true
  stage:
    description: The stage that just ran; named in the work note and the ledger event.
    type: str
    required: true
    choices: [assess, review, window, precheck, deploy, verify, rollback, close, escalate]
  assessment:
    description:
      - The assessment (or its summary with C(assessment_file)) returned by governed.change.assess; needed when the
        change request is created. Defaults to the C(governed_assessment) fact or extra var.
    type: dict
  assessment_file:
    description: Path of the assessment JSON, instead of O(assessment).
    type: path
  description:
    description: The change request's own text (the change request's C(description)), put before what governs it.
    type: str
  note:
    description: Extra text for this stage's work note (for instance the gate's reasons).
    type: str
  outcome:
    description:
      - The run's outcome at O(stage=close) (C(governed.change.run_decision)'s C(outcome)); the close code.
      - Defaults to the C(outcome) of O(decision).
    type: str
    choices: [successful, successful_issues, unsuccessful, canceled]
  reason:
    description: The close notes; defaults to the C(close_reason) of O(decision).
    type: str
  decision:
    description: The run's decision (the C(governed.change.run_decision) filter's result); its C(outcome) and C(close_reason) are used at close.
    type: dict
  attachments:
    description:
      - Files to attach to the change request. At O(stage=close) they default to the evidence bundle and the HTML report
        under O(output_dir) (C(evidence/<change id>/bundle.json), C(report.html)) when the policy's C(itsm.attach_evidence) is true.
    type: list
    elements: path
  output_dir:
    description: The pipeline's output folder (where governed.change.close wrote the evidence); defaults to C(governed_output_dir).
    type: path
extends_documentation_fragment:
  - governed.change.servicenow
notes:
  - Tested against a local stand-in of the ServiceNow Table and Attachment APIs (tests/support/servicenow_server.py),
    not against a ServiceNow instance nor with servicenow.itsm; see docs/itsm.md.
  - The CAB approvals are read back by governed.change.review_gate when the policy sets C(itsm.approval_source).
seealso:
  - module: governed.change.review_gate
  - module: governed.change.close
  - name: The ITSM change record
    description: Field mapping, state model, approvals and the servicenow.itsm equivalents.
    link: https://example.invalid/governed/change/docs/itsm.md
"""

EXAMPLES = r"""
- name: Open the ServiceNow change request after the assessment
  governed.change.itsm_change:
    ledger: "{{ governed_ledger }}"
    policy: policy/policy.yml
    change_id: "{{ assessment.summary.change_id }}"
    stage: assess
    assessment: "{{ assessment.assessment }}"
  run_once: true

- name: Close it with the run's decision and attach the evidence
  governed.change.itsm_change:
    ledger: "{{ governed_ledger }}"
    policy: policy/policy.yml
    change_id: CHG-2001
    stage: close
    decision: "{{ stages | governed.change.run_decision }}"
    output_dir: out
    servicenow:
      host: https://example.service-now.com
      username: "{{ sn_user }}"
      password: "{{ sn_password }}"
  run_once: true
"""

RETURN = r"""
ok:
  description: Whether ServiceNow is in step with the ledger after this task (false when a failure was recorded and ignored).
  type: bool
  returned: always
change_request:
  description: The linked change request.
  type: dict
  returned: when linked
  contains:
    sys_id:
      description: Its sys_id.
      type: str
      returned: always
    number:
      description: Its number, such as C(CHG0030001).
      type: str
      returned: always
    instance:
      description: The instance's host name.
      type: str
      returned: always
state:
  description:
    - The ServiceNow state the change request was moved to, by the ledger's state names (new .. closed, canceled).
    - The ledger's state, or for a standard change (no Assess, no Authorize) and an emergency change (no Assess) the last
      state of its model before it.
  type: str
  returned: when synced
steps:
  description: The states set, in order, by this task.
  type: list
  elements: str
  returned: when synced
attachments:
  description: The files attached, each with C(file_name), C(sha256), C(size_bytes) and ServiceNow's C(sys_id).
  type: list
  elements: dict
  returned: when synced
error:
  description: The recorded ITSM failure (kind, where, problem, fix) when it did not fail the task.
  type: dict
  returned: when ok is false
"""
