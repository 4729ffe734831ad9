# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.escalate action (the work is done by plugins/action/escalate.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: escalate
short_description: Hand a failed or stuck change over to a person - packet as JSON and Markdown, webhook with retry
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Builds the escalation hand-off packet - what was detected, what actions were taken, the current state of each
    device, the recommended next step (from the reason unless given), the runbook link, the escalation target of the
    change's tier (policy C(requirements.<tier>.escalation)) and a summary of the change from its assessment.
  - Writes it as C(escalations/<change_id>-<n>.json) and C(.md) under O(output_dir) (n = 1, 2, ... per escalation).
  - With O(webhook_url), POSTs it - a generic JSON body or a Slack-compatible body (C(text) + C(blocks)) - and retries
    connection errors, timeouts, HTTP 408/425/429 and 5xx with bounded exponential backoff.
  - A webhook that cannot be reached does not fail the task - the packet is still written and the result says
    C(sent=false). Only bad input (arguments, policy, ledger) fails it.
  - With O(ledger), appends the event C(escalation.sent) (hand-off made - packet written and, when a webhook is
    configured, delivered) or C(escalation.failed_to_send) (webhook configured but not delivered) to the change.
  - Secrets are redacted in the packet, the webhook body and the ledger; the webhook URL itself is only ever shown as
    scheme and host (a Slack webhook's path is its secret).
options:
  change_id:
    description: The change id; defaults to the assessment's change id.
    type: str
  reason:
    description: Why the change is escalated; decides the severity and the recommended next step.
    type: str
    required: true
    choices: [rollback_failed, retries_exhausted, approval_timeout, approval_denied, check_undecidable, change_failed, gate_refused,
              post_review_overdue, remediation_refused, dependency_not_ready]
  detected:
    description: What was detected - a sentence or a list of sentences (a non-string item is shown as JSON).
    type: raw
  actions_taken:
    description: What the pipeline (or a person) already did, in order.
    type: list
    elements: str
  devices:
    description: "The current state of each device - C({host: {state, detail...}}), or C({host: state})."
    type: dict
  recommended_next_step:
    description: The next step to recommend; computed from O(reason), the devices and the target when omitted.
    type: str
  policy:
    description: Path to the policy (file or folder); the escalation target and the tier runbook come from its requirements for the change's tier.
    type: path
  tier:
    description: The tier whose escalation settings apply; defaults to the assessment's tier.
    type: str
    choices: [low, medium, high, critical]
  assessment:
    description: The assessment (registered M(governed.change.assess) result's C(assessment), or its summary naming C(assessment_file)).
    type: dict
  assessment_file:
    description:
      - Path of the full assessment JSON. When neither this nor O(assessment) is given, the C(governed_assessment)
        variable, then C(<output_dir>/assessments/<change_id>.assessment.json), C(assessments/<change_id>.json) and
        C(<change_id>.assessment.json) are tried.
    type: path
  runbook:
    description: Path or URL of the change's runbook; defaults to C(<output_dir>/runbooks/<change_id>.md) when it exists.
    type: str
  output_dir:
    description:
      - Folder under which C(escalations/) is written; defaults to the variable C(governed_output_dir), else
        C($GOVERNED_CHANGE_OUTPUT_DIR), else C(out) in the working directory (never inside the installed collection).
    type: path
  ledger:
    description: Path of the ledger holding the change record (the record must exist); the escalation event is appended to it.
    type: path
  webhook_url:
    description:
      - The receiver's http(s) URL (for example a Slack incoming webhook); nothing is sent without it.
      - Results, logs and the ledger show it as scheme and host only.
    type: str
  webhook_format:
    description: C(json) - a generic envelope with the whole packet; C(slack) - a Slack incoming-webhook body (C(text) and C(blocks)).
    type: str
    choices: [json, slack]
    default: json
  webhook_timeout:
    description: Seconds one POST may take.
    type: float
    default: 10
  webhook_retries:
    description: How many times a failed POST is retried (0 to 10); waits O(webhook_retry_delay), then twice as long each time (at most 8 s).
    type: int
    default: 3
  webhook_retry_delay:
    description: Seconds before the first retry.
    type: float
    default: 0.5
  validate_certs:
    description: Verify the receiver's TLS certificate.
    type: bool
    default: true
notes:
  - Runs once on the controller (use C(run_once) in a play over many hosts).
attributes:
  check_mode:
    support: full
    description: Builds the packet and returns it; writes no file, sends nothing and records nothing.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.runbook
  - name: Escalation hand-off
    description: Packet fields, reasons and webhook formats (docs/escalation.md).
    link: https://example.invalid/governed/change/docs/escalation.md
"""

EXAMPLES = r"""
- name: Escalate a rollback that did not verify
  governed.change.escalate:
    change_id: CHG-2002
    reason: rollback_failed
    detected: "check r2_session_established failed on r1: state Idle, expected Established"
    actions_taken:
      - deployed on r1 (canary)
      - check failed, deploy halted
      - restore of r1 did not verify
    devices:
      r1: {state: restore_failed, backup: "{{ hostvars.r1.deployed.backup.path }}"}
    policy: policy/policy.yml
    assessment_file: out/assessments/CHG-2002.assessment.json
    ledger: out/ledger.sqlite
    webhook_url: "{{ governed_webhook_url }}"
    webhook_format: slack
  run_once: true
  register: escalation
"""

RETURN = r"""
escalation:
  description: The hand-off.
  returned: success
  type: dict
  contains:
    path:
      description: The packet JSON (C(escalations/<change_id>-<n>.json)); in check mode the path it would have.
      type: str
    markdown_path:
      description: The packet as Markdown.
      type: str
    sent:
      description: Whether the webhook accepted it (HTTP 2xx); C(false) without a webhook.
      type: bool
    status:
      description: The last HTTP status (none when the receiver could not be reached).
      type: int
    attempts:
      description: POST attempts made (0 without a webhook).
      type: int
    error:
      description: Why the webhook did not accept it.
      type: str
    target:
      description: The webhook as scheme and host only.
      type: str
    sequence:
      description: The n of this escalation of the change.
      type: int
    packet:
      description: The packet (schema, change_id, sequence, created_at, reason, title, severity, escalation_target, detected,
        actions_taken, devices, recommended_next_step, runbook, change, ledger, sha256).
      type: dict
recorded:
  description: Whether the escalation event was appended to the ledger.
  returned: success
  type: bool
event:
  description: The ledger event kind - C(escalation.sent) or C(escalation.failed_to_send).
  returned: success
  type: str
"""
