# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""statestore: content-addressed, atomic, verified."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.docfile import canonical_json
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

SNAP = {"device": "r1", "platform": "frr", "taken_at": "t", "sections": {
    "routes": {"10.0.0.0/24": {"nexthop": "10.0.12.2", "metric": 0}, "10.0.1.0/24": {"nexthop": "10.0.12.2", "metric": 5}},
    "peers": {}, "config": {"running": {"sha256": "ab"}}, "notes": "x\ny"}}


@pytest.mark.parametrize("data", [SNAP, [{"prefix": "10.0.0.0/8", "n": "é"}, {"prefix": "::/0"}], {"a": {"b": 1}, "c": [1, 2]},
                                  [], {}, 42, {"sections": {}}])
def test_round_trip_and_layout(tmp_path, data):
    ref = statestore.put(str(tmp_path), data, "snapshot")
    assert set(ref) == set(statestore.REF_KEYS)
    assert ref["path"].endswith(os.path.join(ref["sha256"][:2], ref["sha256"] + ".json"))
    assert statestore.get(ref) == data
    raw = open(ref["path"], "rb").read()
    assert ref["bytes"] == len(raw)
    # the stored text is canonical JSON with newlines between records only
    assert canonical_json(json.loads(raw)) == canonical_json(data)
    assert statestore.put(str(tmp_path), data, "snapshot")["sha256"] == ref["sha256"]  # content-addressed, idempotent


def test_summary_is_small(tmp_path):
    ref = statestore.put(str(tmp_path), SNAP, "snapshot")
    assert ref["summary"] == {"layout": "snapshot", "kind": "snapshot", "device": "r1", "platform": "frr", "taken_at": "t",
                              "sections": {"routes": 2, "peers": 0, "config": 1, "notes": 1}}
    assert not [n for n in os.listdir(os.path.dirname(ref["path"])) if n.startswith(".tmp-")]


def test_sha_mismatch_detected(tmp_path):
    ref = statestore.put(str(tmp_path), SNAP, "snapshot")
    with open(ref["path"], "r+b") as handle:
        raw = handle.read().replace(b"10.0.12.2", b"10.0.12.9", 1)
        handle.seek(0)
        handle.write(raw)
    with pytest.raises(ValidationError) as err:
        statestore.get(ref)
    assert "sha256 mismatch" in str(err.value) and "Fix:" in str(err.value)


def test_bad_refs(tmp_path):
    with pytest.raises(ValidationError, match="not a state reference"):
        statestore.get({"path": "x"})
    with pytest.raises(ValidationError, match="not a lowercase hex"):
        statestore.get({"path": "x", "sha256": "XYZ"})
    with pytest.raises(ValidationError, match="cannot be read"):
        statestore.get({"path": str(tmp_path / "nope.json"), "sha256": "0" * 64})
    with pytest.raises(ValidationError, match="kind must be"):
        statestore.put(str(tmp_path), {}, "")
    with pytest.raises(ValidationError, match="no store directory"):
        statestore.put("", {}, "x")


def test_store_is_owner_only(tmp_path):
    # backups hold the devices' real configs (secrets included): every file 0600, every folder 0700
    store = tmp_path / "out" / "store"
    ref = statestore.put(str(store), {"text": "password zebra\n"}, "backup")
    assert stat.S_IMODE(os.stat(ref["path"]).st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o700 and stat.S_IMODE(os.stat(os.path.dirname(ref["path"])).st_mode) == 0o700
    # a store written by an older version (0644 files, 0755 folders) is tightened when the same data is stored again
    os.chmod(ref["path"], 0o644)
    os.chmod(os.path.dirname(ref["path"]), 0o755)
    assert statestore.put(str(store), {"text": "password zebra\n"}, "backup")["path"] == ref["path"]
    assert stat.S_IMODE(os.stat(ref["path"]).st_mode) == 0o600 and stat.S_IMODE(os.stat(os.path.dirname(ref["path"])).st_mode) == 0o700
