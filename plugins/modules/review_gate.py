# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.review_gate action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: review_gate
short_description: Decide whether a change's signed approvals satisfy the policy for its risk tier
version_added: 0.1.0
description:
  - Reads the change's approvals from the ledger (statements signed with the approvers' SSH keys by
    C(governed-change approve) or C(governed-change deny)) and, inside an AWX/AAP workflow, the workflow job's
    approval nodes from the controller API as a second source.
  - Applies the policy's requirement for the assessed tier to both sources alike - a quorum of distinct approvers
    (the same person under two keys or names counts once), approvers from every required group, no approval by the
    change's author or by the user who launched the run (segregation of duties; AWX itself lets the launcher approve,
    see U(https://github.com/ansible/awx/issues/10610)), every approval bound to the current content hash (a changed
    diff voids earlier approvals), approvals not older than C(max_age_hours), a verified signature from a key listed
    for the approver in the allowed-signers file; any deny wins.
  - Returns the verdict with every reason, sets the fact C(governed_review), passes a small summary through
    C(set_stats) and records the verdict in the ledger (not in check mode); a pass moves the change record from
    C(authorize) to C(scheduled).
  - Fails the task when the decision is not C(pass); the message starts with C(governed.change.review_gate:) and
    lists every reason with its fix. Fails closed when anything is missing or cannot be verified (no ledger record,
    no allowed-signers file, an unreachable controller, an unknown launcher).
  - Runs once on the controller for the whole change (use C(run_once) in a play over many hosts).
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: The gate is evaluated; in check mode nothing is written to the ledger (no verdict, no AWX approval copied).
  diff_mode:
    support: none
    description: The gate changes no configuration, so there is no diff.
  platform:
    support: full
    description: Runs on the controller; independent of the targets' platform.
    platforms: all
options:
  policy:
    description: Path to the policy YAML file, or a folder of policy YAML files merged in name order.
    type: path
    required: true
  assessment:
    description:
      - The assessment of the change - the C(assessment) of a registered M(governed.change.assess) result, or its
        C(set_stats) summary (C(governed_assessment) in the next AWX workflow node) whose C(assessment_file) names the
        full assessment, which is then read.
      - When neither O(assessment) nor O(assessment_file) is given, the C(governed_assessment) fact or extra var is used.
    type: dict
  assessment_file:
    description:
      - Path of the full assessment JSON written by M(governed.change.assess) (its O(governed.change.assess#module:output_dir)).
      - When O(assessment) is also given, both must carry the same content hash.
    type: path
  ledger:
    description:
      - Path of the ledger (SQLite) holding the change record. Approvals are read from it and the verdict is recorded
        in it.
      - The file and the change record must exist (M(governed.change.assess) with O(governed.change.assess#module:ledger)
        creates them).
    type: path
    required: true
  launcher:
    description:
      - The user who launched the run; they may not approve the change when the policy requires segregation of duties.
      - Defaults to the extra var C(awx_user_name) (or C(tower_user_name)) that AWX/AAP sets, else the controller's
        operating-system user. When the AWX source is read, the workflow job's C(launched_by) user is checked as well.
    type: str
  allowed_signers:
    description:
      - Path of the allowed-signers file used to verify approval signatures, instead of the policy's
        C(allowed_signers) (relative to the policy file).
      - A missing file refuses every SSH-signed approval.
    type: path
  awx:
    description:
      - Read the approval nodes of an AWX/AAP workflow job as a second approval source.
      - Used when this option is given, or when the run is inside an AWX/AAP workflow (the extra var
        C(awx_workflow_job_id) or C(tower_workflow_job_id) is set). Inside a workflow without a controller URL and
        token the gate fails closed; set O(awx.enabled=false) to rely on signed approvals only.
      - The token is only sent to the controller's host, in the C(Authorization) header; it is never returned, logged
        or recorded.
    type: dict
    suboptions:
      enabled:
        description: Set to V(false) to not read AWX approvals even inside an AWX/AAP workflow.
        type: bool
        default: true
      url:
        description:
          - Base URL of the controller, such as C(https://aap.example.com).
          - Defaults to the environment variable C(CONTROLLER_HOST) (or C(TOWER_HOST)) that the controller credential
            type injects.
        type: str
      token:
        description:
          - OAuth2 or personal access token of a user who may read the workflow job.
          - Defaults to the environment variable C(CONTROLLER_OAUTH_TOKEN) (or C(TOWER_OAUTH_TOKEN)).
        type: str
      workflow_job_id:
        description: The workflow job whose approval nodes are read; defaults to the extra var C(awx_workflow_job_id) (or C(tower_workflow_job_id)).
        type: int
      validate_certs:
        description:
          - Verify the controller's TLS certificate.
          - Defaults to the environment variable C(CONTROLLER_VERIFY_SSL) when set, else V(true).
        type: bool
      timeout:
        description: Seconds to wait for each controller API answer.
        type: float
        default: 10
  now:
    description: Evaluation time (ISO 8601 with an offset or Z); defaults to the current time. Approval expiry is measured from it.
    type: str
extends_documentation_fragment:
  - governed.change.servicenow
notes:
  - With the policy's C(itsm.approval_source=true), the CAB approvals of the change's ServiceNow change request
    (C(sysapproval_approver)) are a third approval source under the same rules - the approver's C(user_name) must be a
    policy identity, not the author nor the launcher, in a required group (confirmed by ServiceNow group membership
    when C(itsm.group_map) is set), and the approval is bound to the content hash the change request's work notes
    carried before the approver decided (an approval given before a re-assessment is stale). See docs/itsm.md.
  - Ansible sets the fact and the C(set_stats) data of a task that succeeds only; when the gate refuses (even with
    C(ignore_errors)), C(register) the task to read RV(verdict).
  - The AWX source applies the same rules as signed approvals. An AWX approval is bound to the content hash the
    workflow assessed unless its node's name, description or message carries C(content_hash:<hex>).
  - Approvals read from AWX are copied into the ledger as evidence (once each); a copy in the ledger counts only while
    the controller still confirms it.
seealso:
  - module: governed.change.assess
  - module: governed.change.window_gate
  - module: governed.change.itsm_change
  - name: Policy reference
    description: The C(requirements.<tier>.approvals), C(identities) and C(allowed_signers) keys.
    link: https://example.invalid/governed/change/docs/policy.md
"""

EXAMPLES = r"""
- name: Review gate, once for the whole change
  governed.change.review_gate:
    policy: policy/policy.yml
    assessment: "{{ assessment.assessment }}"
    ledger: "{{ playbook_dir }}/../out/ledger.sqlite"
  run_once: true
  register: review

- name: In the next AWX workflow node (the assess node passed governed_assessment through set_stats)
  governed.change.review_gate:
    policy: policy/policy.yml
    ledger: /var/lib/governed-change/ledger.sqlite
    awx:
      url: https://aap.example.com
      token: "{{ controller_token }}"
  run_once: true

- name: Evaluate without failing the play, to report
  governed.change.review_gate:
    policy: policy/policy.yml
    assessment_file: out/assessments/CHG-1001.assessment.json
    ledger: out/ledger.sqlite
    launcher: carol
  run_once: true
  check_mode: true
  ignore_errors: true
  register: review
"""

RETURN = r"""
verdict:
  description: The review verdict (also the C(governed_review) fact).
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: dict
  contains:
    gate:
      description: Always C(review).
      type: str
      returned: always
    decision:
      description: C(pass) or C(fail).
      type: str
      returned: always
    reasons:
      description: Why, each with its fix when the decision is C(fail).
      type: list
      elements: str
      returned: always
    change_id:
      description: The change id.
      type: str
      returned: always
    tier:
      description: The assessed risk tier.
      type: str
      returned: always
    content_hash:
      description: The content hash approvals had to be bound to.
      type: str
      returned: always
    author:
      description: The change's author.
      type: str
      returned: always
    launcher:
      description: The launcher the segregation of duties was checked against (see RV(verdict.launchers)).
      type: str
      returned: always
    launchers:
      description: Every launcher checked (the O(launcher), the AWX extra var and the AWX workflow job's C(launched_by)).
      type: list
      elements: str
      returned: always
    required:
      description: The policy's approvals requirement for the tier (count, groups, segregation_of_duties, max_age_hours).
      type: dict
      returned: always
    counted:
      description: The approvals that count (approver, identity, source, groups, time).
      type: list
      elements: dict
      returned: always
    rejected:
      description: The approvals that do not count, each with its reason (self-approval, wrong hash, expired, bad signature, deny...).
      type: list
      elements: dict
      returned: always
    denied_by:
      description: Who denied the current content.
      type: list
      elements: dict
      returned: always
    sources:
      description: Where approvals were read (ledger path and count; AWX workflow job, launcher, pending and ignored nodes).
      type: dict
      returned: always
    inputs:
      description: sha256 of the policy, the assessment and the approvals the verdict was computed from.
      type: dict
      returned: always
    evaluated_at:
      description: Evaluation time (UTC).
      type: str
      returned: always
    ledger_state:
      description: The change record's state in the ledger when the gate was evaluated (a pass moves C(authorize) to C(scheduled)).
      type: str
      returned: always
  sample:
    gate: review
    decision: fail
    change_id: CHG-1002
    tier: high
    reasons:
      - "1 of 2 required distinct approvals for tier high; fix: 1 more approver(s) from [netops, cab] sign with `governed-change approve`."
decision:
  description: C(pass) or C(fail) (the verdict's decision).
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: str
  sample: pass
recorded:
  description: Whether the verdict was recorded in the ledger (false in check mode).
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: bool
summary:
  description: The small summary also passed as the C(governed_review) C(set_stats) artifact.
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: dict
  sample:
    change_id: CHG-1002
    decision: pass
    approvers: [alice, bob]
"""
