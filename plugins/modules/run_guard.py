# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.run_guard action (the work is done by plugins/action/run_guard.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_guard
short_description: Refuse to start a governed change whose evidence would not be recorded or would land inside the collection
version_added: 1.0.0
author:
  - Governed Change Maintainers (@governed-change)
description:
  - The first task of the pipeline role and of every stage playbook. It fails, before anything is assessed, locked or
    changed, when
  - the callback C(governed.change.evidence) is not enabled in this run (not in C(callbacks_enabled) of the
    C(ansible.cfg) in use nor in C(ANSIBLE_CALLBACKS_ENABLED), or switched off with its C(enabled) option /
    C(GOVERNED_EVIDENCE_ENABLED)) - without it no task of the run reaches the ledger and the evidence bundle has no task
    timeline. The message names the one line of configuration that fixes it.
  - or one of the run's output paths (O(output_dir), O(ledger), O(store_dir)) resolves inside the installed collection (a
    folder holding C(MANIFEST.json)), where an upgrade or reinstall would delete the ledger and the evidence.
  - Runs on the controller; nothing is written.
options:
  output_dir:
    description: The run's output folder (C(governed_output_dir)).
    type: path
  ledger:
    description: The run's ledger (C(governed_ledger)).
    type: path
  store_dir:
    description: The run's backup and snapshot store (C(governed_store_dir)).
    type: path
attributes:
  check_mode:
    support: full
    description: The same checks; nothing is written in either mode.
  diff_mode:
    support: none
    description: Nothing is changed.
  platform:
    support: full
    description: Runs on the controller; independent of the devices' platform.
    platforms: all
notes:
  - The evidence callback is enabled by the line C(callbacks_enabled = governed.change.evidence) in the C([defaults])
    section of C(ansible.cfg), or by the environment variable C(ANSIBLE_CALLBACKS_ENABLED=governed.change.evidence)
    (on AWX - the job template's or the global extra environment variables, or an C(ansible.cfg) at the project root).
"""

EXAMPLES = r"""
- name: Refuse to start without the evidence recorder
  governed.change.run_guard:
    output_dir: "{{ governed_output_dir }}"
    ledger: "{{ governed_ledger }}"
    store_dir: "{{ governed_store_dir }}"
  run_once: true
"""

RETURN = r"""
callback:
  description: The evidence callback found enabled.
  returned: success
  type: str
  sample: governed.change.evidence
output_dir:
  description: The output folder, absolute.
  returned: success and O(output_dir) given
  type: str
ledger:
  description: The ledger, absolute.
  returned: success and O(ledger) given
  type: str
store_dir:
  description: The store, absolute.
  returned: success and O(store_dir) given
  type: str
"""
