# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.notify action (the work is done by plugins/action/notify.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: notify
short_description: Tell the stakeholders the policy names about a change's lifecycle event - webhook, Slack, Teams, email
version_added: 1.0.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Picks the channels of the policy's C(notifications) section whose routes match the event and the change (its sites,
    tier and category), builds one message from the change's record (id, title, targets, tier, window, outcome,
    escalation reason, links to its evidence), redacts it, and delivers it on each channel - a generic JSON webhook,
    a Slack incoming webhook (C(text) + C(blocks)), a Microsoft Teams webhook (an Adaptive Card) or an email over SMTP
    (STARTTLS and login optional).
  - Each delivery is retried with exponential backoff (connection errors, timeouts, HTTP 408/425/429/5xx, SMTP 4xx) as
    the policy's C(notifications.retries) and C(notifications.retry_delay) say.
  - With O(ledger), appends one event per channel - C(notification.delivered) or C(notification.failed) with the
    channel, the recipient (webhook scheme and host, or the SMTP server and addresses), the event, and every attempt.
  - A notification never fails the task - not a receiver that is down, not an unset secret variable, not a ledger
    that cannot be written; the result says what happened and warns. Only invalid arguments fail it. So a
    notification can never block a rollback or change a change's verdict.
  - Secrets are never in the policy - it names the variables that hold them (C(url_var), C(token_var),
    C(password_var)); each is looked up in O(secrets), then in the play's variables, then in the environment. Messages,
    results, logs and the ledger never show them.
options:
  event:
    description:
      - The lifecycle event. C(scheduled) is sent only while the change's requested window has not started yet
        (otherwise nothing is sent and C(skip_reason) says why).
    type: str
    required: true
    choices: [scheduled, approval_needed, started, succeeded, failed, rolled_back, escalated]
  policy:
    description: Path to the policy (file or folder); its C(notifications) section names the channels and routes. Without one nothing is sent.
    type: path
    required: true
  change_id:
    description: The change id; defaults to the assessment's change id.
    type: str
  assessment:
    description: The assessment (registered M(governed.change.assess) result's C(assessment)).
    type: dict
  assessment_file:
    description:
      - Path of the full assessment JSON. When neither this nor O(assessment) is given, the C(governed_assessment)
        variable, then the assessment found under O(output_dir) for O(change_id), are tried.
    type: path
  run:
    description:
      - What the run decided, shown in the message - C(outcome), C(reason) (the escalation reason), C(stage_failed),
        C(summary) - and links to its evidence - C(report), C(bundle), C(escalation), C(runbook) (paths, turned into
        links under the policy's C(notifications.evidence_base_url) when set) and C(links) (label -> URL).
    type: dict
    default: {}
  secrets:
    description:
      - Values of the variables the policy names (variable name -> value), for secrets kept in a vault. Looked up before
        the play's variables and the environment.
      - Never returned, logged or recorded; the results, the message and the ledger name only the variables.
    type: dict
    default: {}
  channels:
    description: Send only on these channels (names from the policy) among those the routes pick.
    type: list
    elements: str
  now:
    description: The current time (ISO 8601 with offset) used to decide whether the window has started; defaults to the clock.
    type: str
  output_dir:
    description:
      - Folder whose files the evidence links point into; defaults to the variable C(governed_output_dir), else
        C($GOVERNED_CHANGE_OUTPUT_DIR), else C(out) in the working directory.
    type: path
  ledger:
    description: Path of the ledger holding the change record; one event per notification is appended to it.
    type: path
notes:
  - Runs once on the controller (use C(run_once) in a play over many hosts).
attributes:
  check_mode:
    support: full
    description: Picks the channels and builds the message; sends nothing and records nothing.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.escalate
  - name: Stakeholder notifications
    description: The policy section, the events, the formats and what is recorded (docs/notifications.md).
    link: https://example.invalid/governed/change/docs/notifications.md
"""

EXAMPLES = r"""
- name: Tell the stakeholders the change is about to be deployed
  governed.change.notify:
    event: started
    policy: policy/
    ledger: out/ledger.sqlite
    assessment_file: out/assessments/CHG-1001.assessment.json
  run_once: true

- name: Tell them how it ended, with the report linked (the Slack URL comes from a vaulted variable)
  governed.change.notify:
    event: rolled_back
    policy: policy/
    ledger: out/ledger.sqlite
    change_id: CHG-1001
    run:
      outcome: unsuccessful
      stage_failed: verify
      summary: "unsuccessful, rollback verified: r2 rolled_back"
      report: out/reports/CHG-1001.html
      links:
        ticket: https://itsm.example.com/CHG-1001
    secrets:
      NETOPS_SLACK_WEBHOOK: "{{ vault_netops_slack_webhook }}"
  run_once: true
"""

RETURN = r"""
event:
  description: The event notified.
  returned: always
  type: str
  sample: started
skip_reason:
  description: Why nothing was sent (no notifications section, no route matches, the window has started), else empty.
  returned: always
  type: str
  sample: ""
message:
  description: The message built once for every channel (redacted).
  returned: when a channel was picked
  type: dict
notifications:
  description: One entry per channel - channel, type, recipient, delivered, attempts, status, error, log (per attempt).
  returned: always
  type: list
  elements: dict
  sample:
    - {channel: netops-slack, type: slack, recipient: "https://hooks.slack.com/...", delivered: true, attempts: 3, status: 200,
       error: null, log: [{attempt: 1, ok: false, status: 503, error: HTTP 503}]}
delivered:
  description: How many channels accepted the message.
  returned: always
  type: int
failed:
  description: Always false - a notification never fails the run (see C(undelivered)).
  returned: always
  type: bool
undelivered:
  description: How many channels did not accept it after every retry (or could not be tried).
  returned: always
  type: int
recorded:
  description: Whether the ledger events were appended.
  returned: always
  type: bool
"""
