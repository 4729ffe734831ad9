# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The core pieces behind the bad-input suite: safe_join, path-safe ids in every writer, config-line checks that
accept real configs, and identities.<name>.person in the review gate."""

from __future__ import annotations

import copy
import datetime
import os

import pytest

from ansible_collections.governed.change.plugins.module_utils import escalation, evidence, runbook
from ansible_collections.governed.change.plugins.module_utils.approvals import identity_index, person_of
from ansible_collections.governed.change.plugins.module_utils.change_request import check_config_line
from ansible_collections.governed.change.plugins.module_utils.docfile import parse_yaml_text
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.paths import safe_join
from ansible_collections.governed.change.plugins.module_utils.policy import validate_policy
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

HASH = "a" * 64
NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
POLICY = {
    "policy_version": 1, "name": "persons",
    "risk": {"rules": [], "tiers": {"low": 0, "medium": 10, "high": 20, "critical": 30}},
    "identities": {
        "alice": {"groups": ["netops"], "principals": ["alice@lab"]},
        "alice-admin": {"groups": ["netops"], "principals": ["alice-admin@lab"], "person": "alice"},
        "bob": {"groups": ["netops"], "principals": ["bob@lab"]},
        "carol": {"groups": ["netops"], "principals": ["carol@lab"]},
    },
    "requirements": {"low": {}, "medium": {}, "high": {"approvals": {"count": 2}}, "critical": {}},
}
ASSESSMENT = {"change_id": "CHG-1", "content_hash": HASH, "tier": "high", "change_class": "normal"}


def awx(approver):
    return {"change_id": "CHG-1", "approver": approver, "decision": "approve", "content_hash": HASH,
            "ts": "2026-10-31T23:00:00Z", "source": "awx", "verified": True}


def gate(approvers, author="carol", launcher="svc-ci"):
    return review_gate(validate_policy(copy.deepcopy(POLICY)), ASSESSMENT, [awx(name) for name in approvers],
                       author=author, launcher=launcher, now=NOW)


def test_two_identities_of_one_person_count_once():
    verdict = gate(["alice", "alice-admin"])
    assert verdict["decision"] == "fail"
    assert [item["identity"] for item in verdict["counted"]] == ["alice"]
    assert "by alice, the same person" in verdict["rejected"][0]["reason"]
    assert "1 of 2 required distinct approvals" in verdict["reasons"][0]


def test_two_people_pass():
    verdict = gate(["alice", "bob"])
    assert verdict["decision"] == "pass"
    assert [item["person"] for item in verdict["counted"]] == ["alice", "bob"]


def test_the_authors_other_identity_may_not_approve():
    verdict = gate(["alice", "bob"], author="alice-admin")
    assert verdict["decision"] == "fail"
    assert verdict["rejected"][0]["reason"].startswith("alice is the same person as the change's author alice-admin")


def test_the_launchers_other_identity_may_not_approve():
    verdict = gate(["alice-admin", "bob"], launcher="alice")
    assert verdict["decision"] == "fail"
    assert "same person as the change's launcher alice" in verdict["rejected"][0]["reason"]


def test_person_defaults_to_the_identity_and_keeps_the_policy_hash():
    explicit = copy.deepcopy(POLICY)
    explicit["identities"]["bob"]["person"] = "bob"
    assert validate_policy(explicit)["policy_sha256"] == validate_policy(copy.deepcopy(POLICY))["policy_sha256"]
    index = identity_index(validate_policy(copy.deepcopy(POLICY)))
    assert person_of(index, "alice-admin") == person_of(index, "alice") == "alice"
    assert person_of(index, "bob") == "bob" and person_of(index, "unknown") == "unknown"


def test_a_person_chain_is_refused():
    doc = copy.deepcopy(POLICY)
    doc["identities"]["alice"]["person"] = "bob"
    with pytest.raises(PolicyError) as info:
        validate_policy(doc)
    assert info.value.where.endswith("identities.alice-admin.person")


def test_safe_join_keeps_paths_inside(tmp_path):
    assert safe_join(str(tmp_path), "evidence", "CHG-1") == os.path.join(str(tmp_path), "evidence", "CHG-1")
    for parts in (("..", "x"), ("evidence", "..", "..", "x"), ("/etc/passwd",), ("a\x00b",)):
        with pytest.raises(ValidationError):
            safe_join(str(tmp_path), *parts)
    os.symlink("/tmp", str(tmp_path / "escape"))
    with pytest.raises(ValidationError) as info:
        safe_join(str(tmp_path), "escape", "x")
    assert "outside the output directory" in info.value.problem


@pytest.mark.parametrize("change_id", ["..", ".", "../x", "-rf", "a/b", ".hidden", ""])
def test_every_writer_refuses_an_unsafe_change_id(tmp_path, change_id):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(GovernedChangeError):
        evidence.write_evidence({"change_id": change_id}, str(out))
    with pytest.raises(GovernedChangeError):
        runbook.write_runbook(str(out), {"change": {"change_id": change_id}})
    with pytest.raises(GovernedChangeError):
        escalation.write_packet(str(out), {"change_id": change_id})
    with pytest.raises(GovernedChangeError):
        with SqliteLedger(str(tmp_path / "ledger.sqlite")) as led:
            led.create_change(change_id, "t", "carol")
    assert os.listdir(str(out)) == [] and sorted(os.listdir(str(tmp_path))) in (["out"], ["ledger.sqlite", "out"])


@pytest.mark.parametrize("line", [
    "ip route 10.9.0.0/16 blackhole", "ipv6 route fd00:255::/48 fd00::1", " neighbor 10.0.12.2 remote-as 65001",
    "set large-community 65001:100:200", "set community 65001:100", "add rule inet filter input ip saddr 10.0.0.1-10.0.0.9 accept",
    "\t\tip daddr 10.0.45.10 tcp dport 8443 accept", " description café — uplink", "ip prefix-list PL seq 5 permit 0.0.0.0/0 le 32",
])
def test_real_config_lines_are_accepted(line):
    assert check_config_line(line, "config.r2.lines[0]") == line


def test_a_document_with_a_few_keys_and_no_alias_loads_unchanged():
    expected = {"a": {"b": [1, 2]}, "c": "x", "d": datetime.date(2026, 11, 1)}
    assert parse_yaml_text("a: {b: [1, 2]}\nc: 'x'\nd: 2026-11-01\n") == expected
