# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence callback records the stage role that ran each task, with the task's real start and duration, so the
report's stage timeline draws each stage at its real times (functional tier: an ansible-playbook subprocess)."""

from __future__ import annotations

from evidence_support import CHANGE, playbook, scheduled_change

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger, parse_iso


def test_each_task_is_recorded_with_its_stage_and_real_times(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    tasks = tmp_path / "roles" / "precheck" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text('- name: Wait in the precheck stage\n  ansible.builtin.pause:\n    seconds: 1\n')
    plays = [{"name": "Outside any stage", "ansible.builtin.debug": {"msg": "before"}},
             {"name": "Run the precheck stage", "ansible.builtin.include_role": {"name": "precheck"}}]
    playbook(tmp_path, plays, extra=["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger],
             env={"ANSIBLE_ROLES_PATH": str(tmp_path / "roles")})
    with SqliteLedger(ledger) as led:
        recorded = dict((e["data"]["task"], e["data"]) for e in led.events(change_id=CHANGE) if e["kind"] == "task")
    assert "stage" not in recorded["Outside any stage"] and "stage" not in recorded["Run the precheck stage"]  # the pipeline's own
    waited = recorded["Wait in the precheck stage"]
    assert waited["stage"] == "precheck" and waited["duration_s"] >= 1.0
    spans = evidence.stage_spans(list(recorded.values()))
    assert [s["stage"] for s in spans] == ["precheck"] and spans[0]["start"] == waited["started"]
    assert (parse_iso(spans[0]["end"]) - parse_iso(spans[0]["start"])).total_seconds() >= 1.0
