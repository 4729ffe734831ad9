# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.assess in-process: ActionModule.run() with a real Task, the lab inventory as task variables and the
device's running config given as a file (fetch_running: false), so no device is read; the example policy and change
requests, a real SQLite ledger."""

from __future__ import annotations

import json
import os

from action_harness import assessed_workspace, lab_task_vars, run_action

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

ARGS = {"change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False, "running_configs": {"r1": "r1.cfg"},
        "output_dir": "out/assessments", "ledger": "ledger.sqlite"}


def assess(base, check_mode=False, **args):
    return run_action("assess", dict(ARGS, **args), task_vars=lab_task_vars(), check_mode=check_mode, basedir=base)


def ledger_events(base):
    with SqliteLedger(str(base / "ledger.sqlite")) as led:
        return [(e["change_id"], e["kind"]) for e in led.events()]


def test_the_bad_bgp_change_is_medium_recorded_and_written(tmp_path):
    result = assessed_workspace(tmp_path)
    assessment = result["assessment"]
    assert result["changed"] is True and assessment["change_id"] == "CHG-2002" and assessment["tier"] == "medium"
    assert assessment["hosts"] == ["r1"] and "touches_bgp" in [rule["name"] for rule in assessment["fired_rules"]]
    assert "+ neighbor 10.0.12.2 remote-as 65020" in assessment["devices"]["r1"]["diff"]
    path = result["assessment_file"]
    assert path == str(tmp_path / "out" / "assessments" / "CHG-2002.assessment.json")
    assert json.loads(open(path, encoding="utf-8").read())["content_hash"] == assessment["content_hash"]
    assert result["ansible_facts"]["governed_assessment"]["content_hash"] == assessment["content_hash"]
    assert result["ansible_stats"]["data"]["governed_assessment"]["tier"] == "medium"
    assert ("CHG-2002", "change.assessed") in ledger_events(tmp_path)


def test_the_same_inputs_give_the_same_content_hash(tmp_path):
    first = assessed_workspace(tmp_path)["assessment"]["content_hash"]
    assert assess(tmp_path)["assessment"]["content_hash"] == first


def test_check_mode_assesses_and_writes_nothing(tmp_path):
    assessed_workspace(tmp_path)
    before = ledger_events(tmp_path)
    os.unlink(str(tmp_path / "out" / "assessments" / "CHG-2002.assessment.json"))
    result = assess(tmp_path, check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["assessment"]["tier"] == "medium" and "assessment_file" not in result
    assert ledger_events(tmp_path) == before and not os.listdir(str(tmp_path / "out" / "assessments"))


def test_the_fact_is_set_unless_publish_fact_is_off(tmp_path):
    """The pipeline turns the governed_assessment fact off (issue 16: Ansible copies every fact for every host and task);
    the same assessment is still returned and written."""
    assessed_workspace(tmp_path)
    published = assess(tmp_path, check_mode=True)
    quiet = assess(tmp_path, check_mode=True, publish_fact=False)
    assert published["ansible_facts"]["governed_assessment"]["content_hash"] == published["assessment"]["content_hash"]
    assert "ansible_facts" not in quiet and quiet["assessment"]["content_hash"] == published["assessment"]["content_hash"]
    assert quiet["ansible_stats"] == published["ansible_stats"]


def test_an_unreadable_running_config_is_refused_naming_the_host(tmp_path):
    assessed_workspace(tmp_path)
    before = ledger_events(tmp_path)
    result = assess(tmp_path, running_configs={"r1": "missing.cfg"})
    assert result["failed"] is True and "running_configs.r1" in result["msg"] and "Fix:" in result["msg"]
    assert ledger_events(tmp_path) == before


def test_a_change_request_naming_an_unknown_field_is_refused(tmp_path):
    assessed_workspace(tmp_path)
    (tmp_path / "change.yml").write_text((tmp_path / "change.yml").read_text() + "\nsurprise: 1\n")
    result = assess(tmp_path)
    assert result["failed"] is True and result["msg"].startswith("governed.change.assess:") and "surprise" in result["msg"]
