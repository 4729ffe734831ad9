# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.close action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: close
short_description: Close a change in the ledger and write its evidence bundle and HTML report
version_added: 0.1.0
description:
  - Moves the change to its final ledger state along the lifecycle (scheduled -> implement -> review -> closed with the
    outcome as close code, or canceled), recording the stage results (references only, secrets redacted) as a
    C(stage.results) event and the outcome as a C(change.outcome) event.
  - Builds the evidence bundle (C(evidence/<change id>/bundle.json) under O(output_dir)) from the ledger, the assessment
    file and the state store, and the self-contained HTML report beside it (C(report.html)); records an
    C(evidence.built) event with the bundle's sha256.
  - Closing a change that is already closed with the same outcome only rebuilds the bundle and the report
    (C(changed=false)); a different outcome is refused.
  - A change that never passed the review gate (state new, assess or authorize) can only be canceled; a change whose
    devices were touched (implement, review) cannot be canceled, close it as V(unsuccessful).
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: Nothing is written; the summary shows the evidence as it stands with the outcome that would be recorded.
  diff_mode:
    support: none
    description: No diff is returned.
  platform:
    support: full
    description: Runs on the controller.
    platforms: all
options:
  ledger:
    description: Path of the ledger (SQLite) holding the change record; the file and the change must exist.
    type: path
    required: true
  change_id:
    description: The change id.
    type: str
    required: true
  outcome:
    description:
      - V(successful), V(successful_issues) and V(unsuccessful) close the change with that close code;
        V(canceled) cancels it (nothing was touched).
    type: str
    required: true
    choices: [successful, successful_issues, unsuccessful, canceled]
  reason:
    description: Why the change ends this way (recorded in the ledger and shown in the report).
    type: str
  output_dir:
    description:
      - The pipeline's output folder; the evidence goes to C(evidence/<change id>/) and, without O(assessment_file),
        the assessment is read from C(assessments/<change id>.assessment.json), else C(assessments/<change id>.json),
        else C(<change id>.assessment.json) in it (the one search order of every stage).
    type: path
    required: true
  store_dir:
    description: The content-addressed state store; recorded with the outcome (references carry their own paths).
    type: path
  stages:
    description:
      - The stage results (all keys optional). C(hosts) maps a host to C(backup), C(pre), C(post) (state store
        references), C(deploy), C(check), C(confirmed), C(restore) and C(verify) results; C(deployed), C(failed_hosts),
        C(rolled_back) list hosts; C(halted), C(plan), C(stage_failed) and C(escalation) (the hand-off packet path).
      - Payloads are never kept; only references, summaries and compared values go into the ledger and the bundle.
    type: dict
    default: {}
  started:
    description: ISO 8601 time the run started (the duration in the summary is measured from it).
    type: str
  policy:
    description: Path of the policy the change was governed by (recorded with the outcome).
    type: path
  assessment_file:
    description: Path of the assessment JSON, when it is not in the default place under O(output_dir).
    type: path
  actor:
    description: Who closes the change (recorded in the ledger); defaults to C(governed_launcher), else C(governed.change.close).
    type: str
  diff_limit:
    description: At most this many added, removed and changed entries of each device's pre/post state diff are listed (counts stay exact).
    type: int
    default: 50
notes:
  - The evidence callback M(governed.change.evidence) rebuilds the bundle at the end of the run so that it also holds
    the task timeline of the run.
seealso:
  - name: Evidence
    description: The bundle's sections, hashes and ledger anchor, and how to verify a bundle.
    link: https://example.invalid/governed/change/docs/evidence.md
"""

EXAMPLES = r"""
- name: Close the change and write its evidence
  governed.change.close:
    ledger: "{{ governed_ledger }}"
    change_id: "{{ governed_change_id }}"
    outcome: "{{ 'successful' if governed_failed_hosts | length == 0 else 'unsuccessful' }}"
    output_dir: "{{ governed_output_dir }}"
    stages:
      hosts:
        r1:
          backup: "{{ backup_r1.backup }}"
          pre: "{{ pre_r1.snapshot }}"
          post: "{{ check_r1.post }}"
          check: "{{ check_r1 }}"
      deployed: [r1]
  run_once: true
  delegate_to: localhost
  register: closed

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ closed.summary_lines }}"
"""

RETURN = r"""
change_id:
  description: The change id.
  returned: always
  type: str
outcome:
  description: The outcome recorded.
  returned: success
  type: str
state:
  description: The ledger state of the change after the close (closed or canceled; unchanged in check mode).
  returned: success
  type: str
evidence:
  description: Path of the evidence bundle JSON (where it would be written in check mode).
  returned: success
  type: str
report:
  description: Path of the HTML report.
  returned: success
  type: str
bundle_sha256:
  description: sha256 of the bundle (over every section and the ledger anchor).
  returned: success
  type: str
ledger:
  description: The ledger path, and its head and verify result at bundle time.
  returned: success
  type: dict
output_dir:
  description: The output folder the evidence was written under.
  returned: success
  type: str
summary_lines:
  description: The short human summary (change, tier, gates, devices ok/failed/rolled back, duration, report path).
  returned: success
  type: list
  elements: str
summary:
  description: The same summary as data.
  returned: success
  type: dict
rebuilt:
  description: True when the change was already closed with this outcome and only the evidence was rebuilt.
  returned: success
  type: bool
"""
