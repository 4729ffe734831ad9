# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.stage_refs action (the work is done by plugins/action/stage_refs.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stage_refs
short_description: Record and read the device stages' per-host references in the change's ledger record
version_added: 0.1.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - The ledger is the durable record of which backup, pre-change and post-change snapshot belongs to which device, and
    which devices were deployed, failed or rolled back. With O(record), appends a C(stage.refs) event holding them to
    the change's hash chain (empty mappings and lists are left out; nothing to record appends nothing).
  - Always returns every reference recorded for the change so far, merged oldest first (per-host mappings host by
    host, a later record of a host winning; host lists as a union), and, with O(incoming), those artifacts completed
    with the recorded references of the hosts they lack (the incoming artifacts win for the hosts they have).
  - This is how a stage of an AWX workflow sees both domains after a convergence node, where the controller merges the
    parents' artifacts key by key (one branch's C(governed_backups) replaces the other's).
  - Runs once on the controller for the whole change (use C(run_once) in a play over many hosts).
options:
  ledger:
    description: Path of the ledger (SQLite). A missing file has no references (nothing can be recorded into it).
    type: path
    required: true
  change_id:
    description: The change whose references are recorded and read.
    type: str
    required: true
  stage:
    description: The stage recording (precheck, deploy, verify, rollback); required with O(record).
    type: str
  record:
    description:
      - References to record; keys C(backups), C(pre_snapshots), C(post_snapshots) ({host - ref}) and C(deployed),
        C(failed_hosts), C(rolled_back) (lists of hosts).
    type: dict
  incoming:
    description: The stage's incoming artifacts, same keys as O(record), to complete with the recorded references.
    type: dict
  start_hosts:
    description:
      - The devices the stage is about to touch. Given before a device stage changes anything, the O(record) must hold a
        backup and a pre-change snapshot reference for every one of them (else the task fails and nothing is recorded);
        the references and a C(stage.started) event (the devices, the candidate lines redacted with their sha256, and
        the run - controller host, ansible-playbook pid and start time - for C(governed-change recover)) are appended in one transaction.
    type: list
    elements: str
  candidates:
    description: With O(start_hosts), each device's configuration lines about to be deployed ({host - [lines]}).
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads and merges; nothing is recorded.
  diff_mode:
    support: none
    description: No configuration changes.
  platform:
    support: full
    description: Runs on the controller; independent of the devices' platform.
    platforms: all
notes:
  - A stage that records must hold a change record in the ledger (governed.change.assess opens it).
seealso:
  - module: governed.change.lock
  - module: governed.change.close
"""

EXAMPLES = r"""
- name: Before the deploy touches a device, record how to restore each target
  governed.change.stage_refs:
    ledger: out/ledger.sqlite
    change_id: CHG-3001
    stage: deploy
    record:
      backups: "{{ precheck_backups }}"
      pre_snapshots: "{{ precheck_pre_snapshots }}"
    start_hosts: [r2]
    candidates: {r2: ["interface lo", " ip address 192.0.2.2/32"]}
  run_once: true

- name: Record the precheck's backups and pre-change snapshots
  governed.change.stage_refs:
    ledger: out/ledger.sqlite
    change_id: CHG-3001
    stage: precheck
    record:
      backups: "{{ precheck_backups }}"
      pre_snapshots: "{{ precheck_pre_snapshots }}"
  run_once: true

- name: Complete the incoming artifacts with what the other branch recorded
  governed.change.stage_refs:
    ledger: out/ledger.sqlite
    change_id: CHG-3001
    incoming:
      backups: "{{ governed_backups | default({}) }}"
      pre_snapshots: "{{ governed_pre_snapshots | default({}) }}"
  register: refs
  run_once: true
"""

RETURN = r"""
recorded:
  description: Every reference recorded for the change (including this task's), merged oldest first.
  returned: always
  type: dict
  sample: {"backups": {"r3": {"path": "store/ab/abcd.json", "sha256": "abcd...", "kind": "backup"}}, "pre_snapshots": {},
           "post_snapshots": {}, "deployed": ["r3"], "failed_hosts": [], "rolled_back": []}
refs:
  description: O(incoming) completed with the recorded references of the hosts it lacks (the recorded ones without O(incoming)).
  returned: always
  type: dict
  sample: {"backups": {"r3": {"path": "store/ab/abcd.json"}, "fw1": {"path": "store/cd/cdef.json"}}, "pre_snapshots": {},
           "post_snapshots": {}, "deployed": ["r3", "fw1"], "failed_hosts": [], "rolled_back": []}
event:
  description: The appended ledger event (seq, kind, ts), when something was recorded (with O(start_hosts), the C(stage.started) event).
  returned: when something was recorded
  type: dict
  sample: {"seq": 42, "kind": "stage.refs", "ts": "2026-11-22T13:00:00Z"}
"""
