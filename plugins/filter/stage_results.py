# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.stage_results filter: a thin wrapper over module_utils/run_decisions.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_results
author: Governed Change Maintainers (@governed-change)
version_added: "0.1.0"
short_description: A stage's results from its per-device records (precheck, deploy, verify, rollback)
description:
  - C(precheck) - O(_input) is one device's steps (backup, snapshot, pre-assertions task results); returns
    C(failed), C(transient) and C(msg) (the failed steps' messages). Given C({host - steps}), returns
    C({host - that result}) for every device. Given C({fleet - true, hosts, steps, targets, scope}) (the backup,
    snapshot and pre-assertions fleet tasks' registered results as C(steps)), returns C(hosts) (each device's result),
    C(failed_hosts), C(transient), C(messages) and the C(backups) and C(pre_snapshots) of the devices that did not fail.
  - C(verify) - O(_input) is C({host - check record}) (the check task's result; only its C(passed), C(undecidable),
    C(results), C(post), C(settle), C(failed), C(msg) and C(transient) are kept); returns C(hosts), C(failed_hosts), C(post_snapshots),
    C(transient), C(undecidable), C(passed) and C(failed_at) (O(now) when a device failed, else empty).
  - C(deploy) - O(_input) is C({hosts, deploy, check, confirm, final}) (the devices, and per device its deploy, last
    check, batch confirm and final confirm task results); returns C({host - {deploy, check, confirmed, transient,
    undecidable}}).
  - C(ran) - O(_input) is C({host - task result}); returns it without the skipped results.
  - C(rollback) - O(_input) is C({host - {restore, verify}}), or C({fleet - true, hosts, restore, verify}) (the devices
    and the registered results of the fleet restore and state check); returns C(hosts), C(rolled_back), C(restore_failed),
    C(state_differs), C(transient), C(post_snapshots), C(verified) (none when O(targets) is empty) and C(message).
  - The rules are in plugins/module_utils/run_decisions.py.
options:
  _input:
    description: The records (see the description).
    type: raw
    required: true
  stage:
    description: Which stage's results.
    type: str
    choices: [precheck, deploy, verify, rollback, ran]
    required: true
  now:
    description: The time to give as C(failed_at) (verify).
    type: str
    default: ""
  targets:
    description: The devices the rollback restored (rollback).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Collect the verification
  ansible.builtin.set_fact:
    verification: "{{ records | governed.change.stage_results('verify', now=lookup('governed.change.now')) }}"
"""

RETURN = r"""
_value:
  description: The stage's results (see the description).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


def stage_results(records, stage, now="", targets=None):
    """A stage's results (see DOCUMENTATION)."""
    try:
        if stage == "precheck":
            if isinstance(records, Mapping) and records.get("fleet") is True:
                return run_decisions.precheck_fleet(records)
            if isinstance(records, Mapping):
                return run_decisions.precheck_statuses(records)
            return run_decisions.precheck_status(records)
        if stage == "verify":
            return run_decisions.verify_results(records, now=now or "")
        if stage == "deploy":
            return run_decisions.deploy_records(records)
        if stage == "ran":
            return run_decisions.ran(records)
        if stage == "rollback":
            if isinstance(records, Mapping) and records.get("fleet") is True:
                records = run_decisions.rollback_fleet_records(records)
            return run_decisions.rollback_results(records, targets or [])
    except (GovernedChangeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("governed.change.stage_results: %s" % exc)
    raise AnsibleFilterError("governed.change.stage_results: stage %r is not one of precheck, deploy, verify, rollback, ran; fix: name one of them." % (stage,))


class FilterModule(object):
    """governed.change stage_results filter."""

    def filters(self):
        return {"stage_results": stage_results}
