# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.window_gate action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: window_gate
short_description: Decide whether a change may run now - maintenance windows, change freezes and emergency bypass
version_added: 0.1.0
description:
  - Checks that every target of the change is inside an open maintenance window of its scope (site, group or host),
    that no change freeze covering a target is active, and that now is inside the window the change request asked
    for, if any. Whether a window is required at all comes from the policy's requirement for the assessed tier.
  - Windows are weekly local wall-clock ranges or iCalendar RRULE/EXDATE recurrences (python-dateutil) in an IANA time
    zone (zoneinfo), so they stay right across daylight-saving changes.
  - An emergency change bypasses a window or a freeze only where the policy allows it (C(emergency.allowed),
    C(emergency.bypass_window), C(emergency.bypass_freeze) or the freeze's C(allow_emergency)); the bypass is part of
    the verdict, is recorded in the ledger and schedules a mandatory post-hoc review due after
    C(emergency.post_review_hours).
  - With O(wait=true) the gate waits for the next opening when it lies within O(wait_max_seconds), instead of failing.
  - The targets' site and groups come from the inventory of the play (only the assessment's hosts are read).
  - Returns the verdict, sets the fact C(governed_window) and passes a small summary through C(set_stats). Fails the
    task (closed) when a target is outside its windows, frozen, or the gate cannot decide; the message starts with
    C(governed.change.window_gate:) and gives every reason, the fix and the next opening.
  - Runs once on the controller for the whole change (use C(run_once) in a play over many hosts).
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: The gate is evaluated (and waits when asked to); in check mode nothing is written to the ledger.
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
        full assessment, which is then read (it carries the change type and the requested window).
      - When neither O(assessment) nor O(assessment_file) is given, the C(governed_assessment) fact or extra var is used.
    type: dict
  assessment_file:
    description:
      - Path of the full assessment JSON written by M(governed.change.assess) (its O(governed.change.assess#module:output_dir)).
      - When O(assessment) is also given, both must carry the same content hash.
    type: path
  ledger:
    description:
      - Path of the ledger (SQLite) holding the change record, to record the verdict and, for an emergency bypass, the
        scheduled post-hoc review. Nothing is recorded without it or in check mode.
      - When given, the file and the change record must exist.
    type: path
  now:
    description: Evaluation time (ISO 8601 with an offset or Z); defaults to the current time. While waiting, it advances with the clock.
    type: str
  wait:
    description: Wait for the next opening of the windows (or the end of a freeze) when it is within O(wait_max_seconds), instead of failing.
    type: bool
    default: false
  wait_max_seconds:
    description: The longest the gate waits when O(wait=true); an opening further away fails the task at once.
    type: int
    default: 3600
notes:
  - Ansible sets the fact and the C(set_stats) data of a task that succeeds only; when the gate refuses (even with
    C(ignore_errors)), C(register) the task to read RV(verdict).
  - A change assessed with a tier whose requirements are missing from the policy needs a window (fail closed).
  - The gate waits in the controller process; give the task a longer timeout than O(wait_max_seconds) if the play sets one.
seealso:
  - module: governed.change.assess
  - module: governed.change.review_gate
  - name: Policy reference
    description: The C(windows), C(freezes), C(emergency) and C(requirements.<tier>.window_required) keys.
    link: https://example.invalid/governed/change/docs/policy.md
"""

EXAMPLES = r"""
- name: Window gate, once for the whole change
  governed.change.window_gate:
    policy: policy/policy.yml
    assessment: "{{ assessment.assessment }}"
    ledger: "{{ playbook_dir }}/../out/ledger.sqlite"
  run_once: true
  register: window

- name: Wait up to 30 minutes for the window to open
  governed.change.window_gate:
    policy: policy/policy.yml
    assessment_file: out/assessments/CHG-1001.assessment.json
    wait: true
    wait_max_seconds: 1800
  run_once: true

- name: Remind about the post-hoc review of an emergency change
  ansible.builtin.debug:
    msg: "{{ window.verdict.bypass.note }}"
  when: window.verdict.bypass is defined
"""

RETURN = r"""
verdict:
  description: The window verdict (also the C(governed_window) fact).
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: dict
  contains:
    gate:
      description: Always C(window).
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
    window_required:
      description: Whether the tier requires a maintenance window.
      type: bool
      returned: always
    windows_open:
      description: The windows open now for the targets.
      type: list
      elements: str
      returned: always
    freezes_active:
      description: The freezes active now that cover a target.
      type: list
      elements: str
      returned: always
    hosts_outside:
      description: Targets outside all of their windows (or covered by none).
      type: list
      elements: str
      returned: always
    next_open:
      description: The next instant every target may be changed (UTC), when the gate refused and there is one within a year.
      type: str
      returned: always
    wait_s:
      description: Seconds until RV(verdict.next_open).
      type: float
      returned: always
    waited_s:
      description: Seconds the gate waited (with O(wait=true)).
      type: float
      returned: when wait is true
    bypass:
      description: The emergency bypass - what was bypassed and when the mandatory post-hoc review is due.
      type: dict
      returned: when an emergency change bypassed a window or a freeze
      contains:
        bypassed:
          description: Each bypassed window or freeze, with the hosts.
          type: list
          elements: dict
          returned: always
        post_review_due:
          description: When the post-hoc review is due (UTC).
          type: str
          returned: always
        note:
          description: A sentence to show the operator.
          type: str
          returned: always
    targets:
      description: The number of targets.
      type: int
      returned: always
    inputs:
      description: sha256 of the policy's window keys, the change and the targets.
      type: dict
      returned: always
    evaluated_at:
      description: Evaluation time (UTC).
      type: str
      returned: always
  sample:
    gate: window
    decision: fail
    change_id: CHG-1002
    freezes_active: [year-end]
    next_open: "2027-01-04T00:00:00Z"
decision:
  description: C(pass) or C(fail) (the verdict's decision).
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: str
  sample: pass
recorded:
  description: Whether the verdict (and a bypass's post-hoc review) was recorded in the ledger.
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: bool
summary:
  description: The small summary also passed as the C(governed_window) C(set_stats) artifact.
  returned: always, unless the arguments, the policy, the assessment or the ledger could not be read
  type: dict
  sample:
    change_id: CHG-1003-EMERG
    decision: pass
    post_review_due: "2026-11-29T12:00:00Z"
"""
