# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.post_reviews action (the work is done by plugins/action/post_reviews.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: post_reviews
short_description: List the post-hoc reviews emergency changes owe and escalate the overdue ones once each
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - Reads the post-hoc review obligations from the ledger (the chain is checked first; a tampered ledger fails the task
    naming the seq) - an emergency change owes one when its window gate recorded a bypass or its assessment requires the
    C(post_review) gate - and says which are due, done or overdue.
  - With O(escalate), escalates every overdue review not escalated yet, once - the escalation packet (reason
    C(post_review_overdue), to the escalation target of the change's tier in O(policy)) under
    C(<output_dir>/escalations/), the webhook when O(webhook_url) is given, and an C(escalation.sent) or
    C(escalation.failed_to_send) ledger event. Running it again escalates nothing twice.
  - The same core as C(governed-change review list) and C(governed-change review escalate-overdue) (docs/audit.md); meant
    for a scheduled AWX job template (C(playbooks/post_reviews.yml)).
  - A webhook that does not accept a packet does not fail the task (the packet is written, the event says so); the
    result lists it under RV(unsent).
  - Runs once on the controller.
options:
  ledger:
    description: Path of the ledger (SQLite); it must exist.
    type: path
    required: true
  policy:
    description: Path of the policy (file or folder); each escalation goes to the target of the change's tier in its requirements.
    type: path
    required: true
  escalate:
    description: Escalate the overdue reviews; with C(false) the task only lists the obligations.
    type: bool
    default: true
  output_dir:
    description:
      - Folder under which C(escalations/) is written; defaults to the variable C(governed_output_dir), else
        C($GOVERNED_CHANGE_OUTPUT_DIR), else C(out) in the working directory (never inside the installed collection).
    type: path
  webhook_url:
    description:
      - The receiver's http(s) URL (for example a Slack incoming webhook); the packets are only written without it.
      - Results, logs and the ledger show it as scheme and host only.
    type: str
  webhook_format:
    description: C(json) - a generic envelope with the whole packet; C(slack) - a Slack incoming-webhook body.
    type: str
    choices: [json, slack]
    default: json
attributes:
  check_mode:
    support: full
    description: Lists the obligations and the reviews that would be escalated; writes no packet, sends nothing, records nothing.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
seealso:
  - module: governed.change.escalate
  - module: governed.change.metrics
"""

EXAMPLES = r"""
- name: Escalate the overdue post-hoc reviews (an hourly AWX schedule)
  governed.change.post_reviews:
    ledger: /var/lib/governed-change/ledger.sqlite
    policy: /var/lib/governed-change/policy
    output_dir: /var/lib/governed-change/out
    webhook_url: "{{ governed_webhook_url }}"
    webhook_format: slack
  run_once: true
  register: post_reviews

- name: Only list what is owed
  governed.change.post_reviews:
    ledger: out/ledger.sqlite
    policy: examples/policy/policy.yml
    escalate: false
  run_once: true
"""

RETURN = r"""
reviews:
  description: Every post-hoc review owed, by due date.
  returned: always
  type: list
  elements: dict
  sample: [{"change_id": "CHG-1003-EMERG", "status": "overdue", "due": "2026-12-01T10:00:00Z", "due_seq": 12,
            "done_seq": null, "reviewer": null, "verdict": null, "escalated_seq": null}]
counts:
  description: How many reviews are due (not yet late), done and overdue.
  returned: always
  type: dict
  sample: {"due": 0, "done": 3, "overdue": 1}
escalated:
  description:
    - The overdue reviews escalated by this run (change_id, seq of the ledger event, path of the packet, sent, kind).
    - In check mode, the ones that would be (change_id, due_seq), nothing written.
  returned: always
  type: list
  elements: dict
  sample: [{"change_id": "CHG-1003-EMERG", "seq": 31, "path": "/var/lib/governed-change/out/escalations/CHG-1003-EMERG-1.json",
            "sent": true, "kind": "escalation.sent"}]
unsent:
  description: Change ids whose packet the webhook did not accept (event C(escalation.failed_to_send)).
  returned: always
  type: list
  elements: str
changed:
  description: Whether anything was escalated (in check mode, would be).
  returned: always
  type: bool
"""
