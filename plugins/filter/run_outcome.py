# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.run_outcome filter: a thin wrapper over module_utils/outcome.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_outcome
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: The run's verdict - outcome, escalation reason, device states, rollback verdict, locks
description:
  - Decides once, from the facts the stages left, the change's outcome (successful, unsuccessful, canceled), the
    escalation reason (empty when none; the cause decides it - an unreachable device gives C(retries_exhausted), a
    restore that failed or a state that differs after the rollback C(rollback_failed)), each device's state
    (untouched, changed, checks_failed, unreachable, rolled_back, restore_failed, state_differs, with the device's own
    error as detail), what was detected, the rollback's verdict and whether the change's device locks are released
    (not while a device may be away from its pre-change state).
  - The pipeline role and the stage playbooks call it, so the summary, the evidence bundle, the report and the
    escalation packet agree. The rules are in plugins/module_utils/outcome.py.
options:
  _input:
    description:
      - The run's facts - C(stage_failed), C(error), C(implementing), C(forced_outcome), C(forced_reason),
        C(close_error), C(hosts), C(deployed), C(failed_hosts), C(records) (per device - precheck, deploy, check,
        verify, restore, rollback_verify task results and confirmed), C(rollback) (targets, rolled_back,
        restore_failed, state_differs, verified), C(review) (decision, expired, denied), C(escalate_on_failure),
        C(escalate_on_denial), C(escalation_configured). Every key is optional.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the run's verdict
  ansible.builtin.set_fact:
    verdict: >-
      {{ {'stage_failed': pipeline_stage_failed, 'deployed': deploy_deployed, 'failed_hosts': failed,
          'records': records, 'rollback': {'targets': rollback_targets, 'verified': rollback_verified}}
         | governed.change.run_outcome }}
"""

RETURN = r"""
_value:
  description:
    - C(outcome), C(reason) (escalation reason or empty), C(devices) ({host - state, label, detail, affected}),
      C(detected) (sentences), C(rollback) (performed, targets, rolled_back, restore_failed, state_differs, verified,
      errors), C(unreachable) ({host - SSH error}), C(release_locks) (bool), C(locks) (sentence) and C(summary) (one line).
  type: dict
  sample: {"outcome": "unsuccessful", "reason": "retries_exhausted", "release_locks": false,
           "devices": {"r3": {"state": "unreachable", "label": "unreachable over SSH", "affected": true,
                              "detail": "unreachable over SSH after 3 attempt(s): Connection refused"}}}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import outcome
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def run_outcome(facts):
    """The run's verdict (see DOCUMENTATION)."""
    try:
        return outcome.decide(dict(facts or {}))
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.run_outcome: %s" % exc)


class FilterModule(object):
    """governed.change run outcome filter."""

    def filters(self):
        return {"run_outcome": run_outcome}
