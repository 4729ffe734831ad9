# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.run_decision filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_decision
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: Every decision of a run from its stage results - the same call on the pipeline and the AWX path
description:
  - Takes the stage results of a run in one shape and returns the verdict of C(governed.change.run_outcome) (outcome,
    escalation reason, device states, rollback verdict, locks) plus what the close and the escalation show - the close
    reason, the actions taken, the MTTR, whether to escalate, the summary lines and the stage results the close action
    records.
  - The pipeline role (C(roles/pipeline/tasks/finish.yml)) and the stage playbooks C(playbooks/close.yml) and
    C(playbooks/escalate.yml) call it, so a change closes and escalates the same way on both paths. The rules are in
    plugins/module_utils/run_decisions.py and plugins/module_utils/outcome.py.
options:
  _input:
    description:
      - The stage results, every key optional - C(change_id), C(tier), C(score), C(stage_failed), C(error),
        C(implementing), C(forced_outcome), C(forced_reason), C(close_reason), C(close_error), C(review) (the decision, or
        the review gate's verdict with C(decision), C(rejected), C(denied_by)), C(window), C(hosts), C(backups),
        C(pre_snapshots), C(post_snapshots), C(precheck) ({host - failed, transient, msg}), C(deploy) ({host - deploy,
        check, confirmed}), C(verify) ({host - check record}), C(deployed), C(failed_hosts), C(rollback) (targets,
        rolled_back, restore_failed, state_differs, verified, verified_at, records, post_snapshots), C(halted), C(plan),
        C(undecidable), C(escalate_on_failure), C(escalate_on_denial), C(escalation_configured), C(confirm_timeout),
        C(failed_at), C(escalation), C(report).
      - An unknown key is refused.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the run once
  ansible.builtin.set_fact:
    verdict: >-
      {{ {'change_id': 'CHG-1', 'stage_failed': 'verify', 'deployed': ['r1'], 'failed_hosts': ['r1'],
          'rollback': {'targets': ['r1'], 'verified': true}} | governed.change.run_decision }}
"""

RETURN = r"""
_value:
  description:
    - The keys of C(governed.change.run_outcome) (C(outcome), C(reason), C(devices), C(detected), C(rollback),
      C(unreachable), C(release_locks), C(locks), C(summary)) plus C(close_reason), C(actions_taken) (sentences),
      C(mttr_s) (seconds or none), C(escalate) (bool), C(summary_lines) and C(stages) (for the close action).
  type: dict
  sample: {"outcome": "unsuccessful", "reason": "", "escalate": false, "close_reason": "stage verify failed: verify failed on r1",
           "mttr_s": 4.2, "actions_taken": ["review gate: pass", "window gate: pass", "deployed to r1"]}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def run_decision(stages):
    """Every decision of the run (see DOCUMENTATION)."""
    try:
        return run_decisions.run_decision(dict(stages or {}))
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.run_decision: %s" % exc)


class FilterModule(object):
    """governed.change run decision filter."""

    def filters(self):
        return {"run_decision": run_decision}
