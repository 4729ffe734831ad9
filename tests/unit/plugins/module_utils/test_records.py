# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device stages' per-host references in the ledger (records.py); the stage_refs action in a real run: tests/functional/."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.records import fill_stage_refs, load_stage_refs, record_stage_refs

from ledger_states import ledger_with_changes


def ref(name):
    return {"path": "store/%s.json" % name, "sha256": name * 4, "kind": "backup"}


@pytest.fixture
def ledger_path(tmp_path):
    return ledger_with_changes(str(tmp_path / "ledger.sqlite"), (("CHG-1", "carol", None), ("CHG-2", "dave", None)))


def test_two_branches_merge_host_by_host_and_lists_as_a_union(ledger_path):
    record_stage_refs(ledger_path, "CHG-1", "precheck", {"backups": {"r3": ref("a")}, "pre_snapshots": {"r3": ref("b")}})
    record_stage_refs(ledger_path, "CHG-1", "precheck", {"backups": {"fw1": ref("c")}, "pre_snapshots": {"fw1": ref("d")}})
    record_stage_refs(ledger_path, "CHG-1", "deploy", {"deployed": ["r3"], "failed_hosts": []})
    record_stage_refs(ledger_path, "CHG-1", "deploy", {"deployed": ["fw1", "r3"]})
    record_stage_refs(ledger_path, "CHG-2", "precheck", {"backups": {"r1": ref("e")}})
    got = load_stage_refs(ledger_path, "CHG-1")
    assert got["backups"] == {"r3": ref("a"), "fw1": ref("c")} and got["pre_snapshots"] == {"r3": ref("b"), "fw1": ref("d")}
    assert got["deployed"] == ["r3", "fw1"] and got["failed_hosts"] == [] and got["post_snapshots"] == {}
    # a later record of the same host wins
    record_stage_refs(ledger_path, "CHG-1", "precheck", {"backups": {"r3": ref("z")}})
    assert load_stage_refs(ledger_path, "CHG-1")["backups"]["r3"] == ref("z")
    with SqliteLedger(ledger_path) as ledger:
        kinds = [event["kind"] for event in ledger.events("CHG-1")]
        assert kinds.count("stage.refs") == 5 and ledger.verify()["ok"]


def test_nothing_to_record_appends_nothing_and_an_unknown_change_has_no_refs(ledger_path):
    assert record_stage_refs(ledger_path, "CHG-1", "verify", {"post_snapshots": {}, "failed_hosts": []}) is None
    assert load_stage_refs(ledger_path, "CHG-1")["backups"] == {}
    assert load_stage_refs(ledger_path, "CHG-9") == fill_stage_refs({}, {})


def test_bad_input_is_refused(ledger_path):
    with pytest.raises(ValidationError, match="unknown keys"):
        record_stage_refs(ledger_path, "CHG-1", "precheck", {"backup": {"r3": ref("a")}})
    with pytest.raises(ValidationError, match="list of host names"):
        record_stage_refs(ledger_path, "CHG-1", "deploy", {"deployed": "r3"})
    with pytest.raises(ValidationError, match="reference"):
        record_stage_refs(ledger_path, "CHG-1", "precheck", {"backups": {"r3": "path"}})
    with pytest.raises(ValidationError, match="stage"):
        record_stage_refs(ledger_path, "CHG-1", "", {"deployed": ["r3"]})
    with pytest.raises(LedgerError, match="not in the ledger"):
        record_stage_refs(ledger_path, "CHG-9", "precheck", {"deployed": ["r3"]})


def test_fill_keeps_the_incoming_artifacts_and_adds_the_missing_hosts():
    recorded = {"backups": {"r3": ref("old"), "fw1": ref("c")}, "deployed": ["r3", "fw1"], "rolled_back": ["fw1"]}
    got = fill_stage_refs({"backups": {"r3": ref("new")}, "deployed": ["r3"]}, recorded)
    assert got["backups"] == {"r3": ref("new"), "fw1": ref("c")}
    assert got["deployed"] == ["r3", "fw1"] and got["rolled_back"] == ["fw1"] and got["pre_snapshots"] == {}
