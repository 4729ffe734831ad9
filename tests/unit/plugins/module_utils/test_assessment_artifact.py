# -*- coding: utf-8 -*-
"""The assessment artifact: one writer, one loader (version, keys, sha256 stamp, content hash), one search order."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

HASH = "ab" * 32


def assessment(change_id="CHG-8001", **extra):
    doc = {"change_id": change_id, "title": "Artifact test", "author": "carol", "hosts": ["r1"], "tier": "low",
           "content_hash": HASH, "requirements": {"approvals": {"count": 1}}, "required_gates": ["review"],
           "devices": {"r1": {"diff": "+ x"}}, "facts": {"targets": [{"host": "r1"}]}}
    doc.update(extra)
    return doc


def _rewrite(path, change):
    with open(path, "r", encoding="utf-8") as handle:
        doc = json.load(handle)
    change(doc)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


def test_write_stamps_the_schema_version_and_sha256_and_load_returns_the_assessment(tmp_path):
    path = artifact.write(str(tmp_path / "assessments"), assessment())
    assert path == str(tmp_path / "assessments" / "CHG-8001.assessment.json")
    with open(path, "r", encoding="utf-8") as handle:
        stamp = json.load(handle)["artifact"]
    assert stamp["schema"] == "governed.change/assessment" and stamp["version"] == artifact.VERSION
    assert stamp["sha256"] == artifact.body_sha256(assessment())
    assert artifact.load(path) == assessment()
    read = artifact.read(path, expect_hash=HASH)
    assert read["version"] == 1 and read["path"] == path and len(read["file_sha256"]) == 64


def test_write_refuses_an_unsafe_change_id(tmp_path):
    with pytest.raises(ValidationError, match="not path-safe"):
        artifact.write(str(tmp_path), assessment(change_id="../etc"))


def test_a_file_changed_after_assess_wrote_it_is_refused(tmp_path):
    path = artifact.write(str(tmp_path), assessment())
    _rewrite(path, lambda doc: doc.update(tier="standard"))
    with pytest.raises(ValidationError, match="changed after governed.change.assess wrote it") as exc:
        artifact.load(path)
    assert "artifact.sha256" in str(exc.value)


@pytest.mark.parametrize("change, message, field", [
    (lambda doc: doc["artifact"].update(version=2), "artifact version 2; this release reads versions 0 to 1", "artifact.version"),
    (lambda doc: doc["artifact"].update(version="1"), "artifact version '1'", "artifact.version"),
    (lambda doc: doc["artifact"].update(schema="other/thing"), "is not a governed.change/assessment block", "artifact"),
    (lambda doc: doc.pop("hosts"), "the assessment lacks hosts", "assessment_file"),
    (lambda doc: doc.pop("content_hash"), "the assessment has no content_hash", "content_hash"),
])
def test_version_and_required_keys_are_checked(tmp_path, change, message, field):
    path = artifact.write(str(tmp_path), assessment())
    _rewrite(path, change)
    with pytest.raises(ValidationError, match=message) as exc:
        artifact.load(path)
    assert field in str(exc.value) and "Fix:" in str(exc.value)


def test_an_unstamped_file_is_version_0_and_needs_change_id_and_content_hash(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"change_id": "CHG-1", "tier": "high", "content_hash": HASH}))
    assert artifact.read(str(path))["version"] == 0
    path.write_text(json.dumps({"assessment": {"change_id": "CHG-1", "content_hash": HASH}}))  # a registered result, dumped
    assert artifact.load(str(path)) == {"change_id": "CHG-1", "content_hash": HASH}
    path.write_text(json.dumps({"content_hash": HASH}))
    with pytest.raises(ValidationError, match="the assessment lacks change_id"):
        artifact.load(str(path))


@pytest.mark.parametrize("content, message", [("a: b\n", "is not JSON"), ("[1, 2]", "does not hold an assessment")])
def test_not_an_assessment(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValidationError, match=message):
        artifact.load(str(path))


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        artifact.load(str(tmp_path / "none.json"))
    with pytest.raises(ValidationError, match="is a directory"):
        artifact.load(str(tmp_path))


def test_an_expected_content_hash_must_match(tmp_path):
    path = artifact.write(str(tmp_path), assessment())
    with pytest.raises(ValidationError, match="not the same assessment"):
        artifact.load(path, expect_hash="cd" * 32)


def test_find_has_one_search_order(tmp_path):
    assert artifact.find(str(tmp_path), "CHG-1") is None and artifact.find(None, "CHG-1") is None
    assert artifact.find(str(tmp_path), None) is None
    (tmp_path / "CHG-1.assessment.json").write_text("{}")
    assert artifact.find(str(tmp_path), "CHG-1") == str(tmp_path / "CHG-1.assessment.json")
    (tmp_path / "assessments").mkdir()
    (tmp_path / "assessments" / "CHG-1.json").write_text("{}")
    assert artifact.find(str(tmp_path), "CHG-1") == str(tmp_path / "assessments" / "CHG-1.json")
    (tmp_path / "assessments" / "CHG-1.assessment.json").write_text("{}")
    assert artifact.find(str(tmp_path), "CHG-1") == str(tmp_path / "assessments" / "CHG-1.assessment.json")


def test_resolve_prefers_the_given_assessment_and_follows_a_reference(tmp_path):
    path = artifact.write(str(tmp_path), assessment())
    full = assessment(tier="high")
    assert artifact.resolve(full) == (full, "assessment")
    summary = {"change_id": "CHG-8001", "content_hash": HASH, "assessment_file": os.path.basename(path)}
    loaded, source = artifact.resolve(summary, resolve_path=lambda name: os.path.join(str(tmp_path), name))
    assert loaded == assessment() and source == "assessment_file: %s" % path
    assert artifact.resolve(None, None, fallback=full) == (full, "governed_assessment")


def test_resolve_refuses_nothing_a_non_dict_and_a_summary_of_another_assessment(tmp_path):
    path = artifact.write(str(tmp_path), assessment())
    with pytest.raises(ValidationError, match="no assessment was given"):
        artifact.resolve(None, None)
    with pytest.raises(ValidationError, match="must be a dict"):
        artifact.resolve("CHG-8001")
    with pytest.raises(ValidationError, match="not the same assessment"):
        artifact.resolve({"content_hash": "cd" * 32, "assessment_file": path})
    assert artifact.is_reference({"assessment_file": path}) and not artifact.is_reference(assessment(assessment_file=path))
