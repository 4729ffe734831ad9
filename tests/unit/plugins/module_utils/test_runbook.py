# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook of a change: built from real assessments of the example changes against the lab policy."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.change_request import validate_change_request
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.runbook import ELEMENTS, build_runbook
from ansible_collections.governed.change.plugins.module_utils.runbook import preview_ref, render_markdown, write_runbook

from assess_support import FRR_R2, INVENTORY, NOW, POLICY_FILE, example

FRR_R1 = FRR_R2.replace("hostname r2", "hostname r1").replace("65002", "65001").replace("10.255.0.2", "10.255.0.1")


@pytest.fixture(scope="module")
def lab_policy():
    return load_policy(POLICY_FILE)


def assessed(name, lab_policy, host="r1", running=FRR_R1, **overrides):
    request = example("changes/%s" % name)
    request.update(overrides)
    request = validate_change_request(request)
    return request, assess(request, lab_policy, INVENTORY, {host: {"running": running}}, now=NOW)


def test_six_elements_of_the_bad_bgp_change(lab_policy):
    request, assessment = assessed("bad_r1_bgp.yml", lab_policy)
    doc = build_runbook(request, assessment, lab_policy, confirm_timeout=90)
    assert all(key in doc for key in ELEMENTS)
    assert doc["change"]["change_id"] == "CHG-2002" and doc["change"]["tier"] == assessment["tier"]
    assert doc["change"]["links"] == {"ticket": "REQ-2102"}
    assert "REQ-2102" in doc["trigger"]["summary"]
    deploy = [step for step in doc["steps"] if step.get("lines")]
    assert len(deploy) == 1 and deploy[0]["device"] == "r1"
    assert deploy[0]["lines"] == ["router bgp 65001", " neighbor 10.0.12.2 remote-as 65020", " neighbor 10.0.12.2 description r2-core"]
    assert "commit-confirmed timer of 90 s" in deploy[0]["action"] and "confirm.armed: true" in deploy[0]["expected"]
    numbers = [step["number"] for step in doc["steps"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(step["expected"] for step in doc["steps"])
    checks = [step for step in doc["steps"] if step.get("checks") is not None]
    assert checks[0]["checks"] == ["r2_session_established"]
    assert any("confirm the change before the 90 s timer" in step["action"] for step in doc["steps"])
    assert doc["verification"]["expected_checks"][0]["name"] == "r2_session_established"
    assert doc["verification"]["policy_checks"] == lab_policy["requirements"][assessment["tier"]]["checks"]
    assert doc["rollback"]["strategy"] == "backup" and doc["rollback"]["automatic"] is True
    assert "pre-change snapshot" in doc["rollback"]["steps"][1]["action"]
    tier_escalation = lab_policy["requirements"][assessment["tier"]]["escalation"]
    assert doc["escalation"]["target"] == tier_escalation["target"] and doc["escalation"]["policy_runbook"] == tier_escalation["runbook"]


def test_markdown_holds_every_element(lab_policy):
    request, assessment = assessed("bad_r1_bgp.yml", lab_policy)
    text = render_markdown(build_runbook(request, assessment, lab_policy))
    for heading in ("## 1. Trigger", "## 2. Prerequisites", "## 3. Steps", "## 4. Verification", "## 5. Rollback", "## 6. Escalation"):
        assert heading in text
    assert "    neighbor 10.0.12.2 remote-as 65020" in text  # the exact line, indented in a code block
    assert "`r2_session_established`: `sections.peers.\"10.0.12.2\".state` equals `\"Established\"`" in text
    assert "Escalate to: netops-oncall" in text
    assert "- [ ] 1 signed approval(s) from netops by someone other than the author (carol)" in text


def test_same_inputs_same_hash_and_changes_show(lab_policy, tmp_path):
    request, assessment = assessed("good_r1_static.yml", lab_policy)
    first = write_runbook(str(tmp_path / "a"), build_runbook(request, assessment, lab_policy))
    second = write_runbook(str(tmp_path / "b"), build_runbook(copy.deepcopy(request), copy.deepcopy(assessment), lab_policy))
    assert first["sha256"] == second["sha256"] and first["content_sha256"] == second["content_sha256"]
    assert first["sha256"] == hashlib.sha256(open(first["path"], "rb").read()).hexdigest()
    assert first["json_sha256"] == hashlib.sha256(open(first["json_path"], "rb").read()).hexdigest()
    assert first["path"].endswith("runbooks/CHG-2001.md") and first["json_path"].endswith("runbooks/CHG-2001.json")
    stored = json.loads(open(first["json_path"], encoding="utf-8").read())
    assert stored["content_sha256"] == first["content_sha256"]
    other = build_runbook(request, assessment, lab_policy, confirm_timeout=30)
    assert other["content_sha256"] != first["content_sha256"]
    preview = preview_ref(str(tmp_path / "a"), build_runbook(request, assessment, lab_policy), base_url="https://git.example.invalid/rb/")
    assert preview["sha256"] == first["sha256"] and preview["url"] == "https://git.example.invalid/rb/CHG-2001.md"


def test_custom_rollback_and_no_timer(lab_policy):
    request, assessment = assessed("good_r1_static.yml", lab_policy, rollback={"strategy": "custom", "steps": ["no ip route 192.0.2.0/24 blackhole"]})
    doc = build_runbook(request, assessment, lab_policy, confirm_timeout=0)
    assert doc["rollback"]["strategy"] == "custom"
    assert doc["rollback"]["steps"][0]["lines"] == ["no ip route 192.0.2.0/24 blackhole"]
    assert not any("confirm the change" in step["action"] for step in doc["steps"])
    assert "without a commit-confirmed timer" in [s for s in doc["steps"] if s.get("lines")][0]["action"]


def test_secrets_in_lines_are_redacted(lab_policy):
    request, assessment = assessed("bad_r1_bgp.yml", lab_policy, config={"r1": {"lines": [
        "router bgp 65001", " neighbor 10.0.12.2 password Sup3rS3cret"]}})
    text = render_markdown(build_runbook(request, assessment, lab_policy))
    assert "Sup3rS3cret" not in text and "<redacted:" in text


def test_assessment_only_uses_the_assessed_lines(lab_policy):
    _request, assessment = assessed("good_r1_static.yml", lab_policy)
    doc = build_runbook(None, assessment, lab_policy)
    deploy = [step for step in doc["steps"] if step.get("lines")][0]
    assert deploy["lines"] == [" ip address 192.0.2.1/32"] and deploy["lines_from"] == ["assessment.devices.r1"]
    assert "Lines from: assessment.devices.r1" in render_markdown(doc)


def test_refuses_a_change_request_that_was_not_assessed(lab_policy):
    request, assessment = assessed("good_r1_static.yml", lab_policy)
    edited = copy.deepcopy(request)
    edited["config"]["r1"]["lines"].append("ip route 198.51.100.0/24 blackhole")
    with pytest.raises(ValidationError) as info:
        build_runbook(edited, assessment, lab_policy)
    assert info.value.where == "change_request" and "differs from the one assessed" in info.value.problem
    other, _assessment = assessed("bad_r1_bgp.yml", lab_policy)
    with pytest.raises(ValidationError):
        build_runbook(other, assessment, lab_policy)
    with pytest.raises(ValidationError) as info:
        build_runbook(request, {"change_id": "CHG-2001"}, lab_policy)
    assert info.value.where == "assessment"


def test_batches_follow_the_tier(lab_policy):
    request = validate_change_request(dict(example("changes/good_r1_static.yml"), targets=["r1", "r3"],
                                           config={"edge": {"lines": ["ip route 192.0.2.0/24 blackhole"]}}))
    assessment = assess(request, lab_policy, INVENTORY, {"r1": {"running": FRR_R1}, "r3": {"running": FRR_R1.replace("hostname r1", "hostname r3")}},
                        now=NOW)
    doc = build_runbook(request, assessment, lab_policy)
    plan = lab_policy["requirements"][assessment["tier"]]
    assert doc["plan"]["batches"][0] == ["r1"] and doc["plan"]["canary"] == plan["canary"]
    deploys = [step for step in doc["steps"] if step.get("lines")]
    assert [step["device"] for step in deploys] == ["r1", "r3"]
    assert deploys[1]["lines"] == ["ip route 192.0.2.0/24 blackhole"] and deploys[1]["lines_from"] == ["config.edge.lines"]
    assert "canary batch" in deploys[0]["action"]
