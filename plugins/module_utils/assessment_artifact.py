# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The assessment as one typed, versioned artifact: the only writer and the only reader of assessment files.

``governed.change.assess`` writes ``<output_dir>/<change id>.assessment.json`` with ``write``; every stage, the CLI,
the evidence bundle and the workflow runner read it back with ``load`` / ``read``, and find it with ``find`` (one
search order). Stages pass a reference (the file, or the set_stats summary naming it), not a second copy.

The file is the assessment dict plus one ``artifact`` block::

    {"schema": "governed.change/assessment", "version": 1, "sha256": <sha256 of the assessment without the block>}

``load`` checks the schema and version, the keys every stage reads, the block's sha256 (a file edited after
assess wrote it is refused) and, when the caller knows it, the content hash the approvals are bound to.
A file without the block (written before the artifact was versioned, or a hand-written test fixture) is version 0:
it must hold at least ``change_id`` and ``content_hash``; the ledger's content hash still binds it.
"""

from __future__ import annotations

import json
import os

from ansible_collections.governed.change.plugins.module_utils.docfile import MAX_DOCUMENT_BYTES, require_file, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id, safe_join

SCHEMA = "governed.change/assessment"
VERSION = 1
STAMP_KEY = "artifact"
# Keys a version 0 file must hold, and the keys every stage reads from a stamped one.
MINIMAL_KEYS = ("change_id", "content_hash")
REQUIRED_KEYS = ("change_id", "title", "author", "hosts", "tier", "content_hash", "requirements", "required_gates", "devices")
# Keys only the full assessment has; a set_stats summary lacks them and names the file instead (``assessment_file``).
FULL_KEYS = ("author", "facts")
FILE_NAME = "%s.assessment.json"
# The one search order under an output dir: assess's own name in assessments/, the contract name, then the dir itself.
SEARCH_ORDER = (("assessments", FILE_NAME), ("assessments", "%s.json"), (FILE_NAME,))
FIX = ("pass the <change id>.assessment.json governed.change.assess wrote (or its registered result's "
       "assessment / assessment_file), and assess the change again if the file was changed.")


def body_sha256(assessment):
    """sha256 of the assessment without its artifact block (canonical JSON)."""
    return sha256_of({key: value for key, value in assessment.items() if key != STAMP_KEY})


def stamp(assessment):
    """A copy of ``assessment`` with the artifact block of the current version."""
    body = {key: value for key, value in assessment.items() if key != STAMP_KEY}
    return dict(body, **{STAMP_KEY: {"schema": SCHEMA, "version": VERSION, "sha256": sha256_of(body)}})


def file_path(folder, change_id):
    """Where ``write`` puts the assessment of ``change_id`` in ``folder`` (refused unless the id is path-safe)."""
    return safe_join(folder, FILE_NAME % check_safe_id(change_id), where="output_dir")


def write(folder, assessment):
    """Write the stamped assessment into ``folder`` (created), atomically; returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = file_path(folder, assessment.get("change_id"))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(stamp(assessment), handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def find(output_dir, change_id):
    """The assessment file of ``change_id`` under ``output_dir`` (SEARCH_ORDER), or None."""
    if not output_dir or not change_id:
        return None
    for parts in SEARCH_ORDER:
        path = os.path.join(str(output_dir), *[part % change_id if "%s" in part else part for part in parts])
        if os.path.isfile(path):
            return path
    return None


def _raw(path, where):
    require_file(path, "assessment", where=where, fix=FIX)
    if os.path.getsize(path) > MAX_DOCUMENT_BYTES:
        raise ValidationError("the assessment is larger than %d bytes." % MAX_DOCUMENT_BYTES, where=where, fix=FIX)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ValidationError("the assessment cannot be read (%s)." % (exc.strerror or exc), where=where, fix=FIX)


def _parse(raw, where):
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValidationError("the assessment is not JSON (%s)." % exc, where=where, fix=FIX)
    if isinstance(doc, dict) and isinstance(doc.get("assessment"), dict):
        doc = doc["assessment"]  # a registered governed.change.assess result, dumped
    if not isinstance(doc, dict):
        raise ValidationError("the file does not hold an assessment (a JSON object).", where=where, fix=FIX)
    return doc


def _version(block, where):
    """The artifact version of a stamp block (0: no block), refused unless this release can read it."""
    if block is None:
        return 0
    if not isinstance(block, dict) or block.get("schema") != SCHEMA:
        raise ValidationError("the artifact block is not a %s block." % SCHEMA, where="%s: artifact" % where, fix=FIX)
    version = block.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise ValidationError("the assessment has artifact version %r; this release reads versions 0 to %d." % (version, VERSION),
                              where="%s: artifact.version" % where,
                              fix="assess the change again with this release, or upgrade governed.change to the release that wrote it.")
    return version


def validate(doc, where="assessment", expect_hash=None):
    """(assessment without its block, version) of a parsed artifact; refused with the field that is wrong."""
    if not isinstance(doc, dict):
        raise ValidationError("the assessment must be a dict (got %s)." % type(doc).__name__, where=where, fix=FIX)
    version = _version(doc.get(STAMP_KEY), where)
    body = {key: value for key, value in doc.items() if key != STAMP_KEY}
    if not body.get("content_hash"):
        raise ValidationError("the assessment has no content_hash.", where="%s: content_hash" % where, fix=FIX)
    missing = [key for key in (REQUIRED_KEYS if version else MINIMAL_KEYS) if key not in body]
    if missing:
        raise ValidationError("the assessment lacks %s." % ", ".join(missing), where=where, fix=FIX)
    if version and doc[STAMP_KEY].get("sha256") != sha256_of(body):
        raise ValidationError("the assessment was changed after governed.change.assess wrote it (its artifact sha256 does not "
                              "match).", where="%s: artifact.sha256" % where, fix=FIX)
    if expect_hash and body["content_hash"] != expect_hash:
        raise ValidationError("the assessment has content hash %s but %s was expected: they are not the same assessment." % (
            str(body["content_hash"])[:12], str(expect_hash)[:12]), where="%s: content_hash" % where,
            fix="pass the file of the latest assessment of the change.")
    return body, version


def read(path, expect_hash=None):
    """{assessment, path, version, file_sha256} of an assessment file (validated)."""
    where = "assessment_file: %s" % path
    raw = _raw(path, where)
    assessment, version = validate(_parse(raw, where), where=where, expect_hash=expect_hash)
    return {"assessment": assessment, "path": path, "version": version, "file_sha256": sha256_of(raw)}


def load(path, expect_hash=None):
    """The validated assessment of a file written by ``write`` (see ``read``)."""
    return read(path, expect_hash=expect_hash)["assessment"]


def is_reference(given):
    """True for a set_stats summary naming the assessment's file instead of carrying the full assessment."""
    return isinstance(given, dict) and bool(given.get("assessment_file")) and not all(key in given for key in FULL_KEYS)


def resolve(given, path=None, fallback=None, resolve_path=None):
    """(assessment, source) from what a stage was given, one rule for every stage.

    ``given``: the full assessment or a reference (a summary with ``assessment_file``); ``path``: the assessment file;
    ``fallback``: the governed_assessment fact or extra var, used when neither is given. A reference is replaced by the
    file it names; a file read next to a given assessment must carry the same content hash.
    """
    source = "assessment"
    if given is None and not path:
        given, source = fallback, "governed_assessment"
        if given is None:
            raise ValidationError("no assessment was given and no governed_assessment fact or extra var is set.",
                                  where="assessment", fix=FIX)
    if given is not None and not isinstance(given, dict):
        raise ValidationError("the assessment must be a dict (got %s)." % type(given).__name__, where=source, fix=FIX)
    if not path and is_reference(given):
        path = given["assessment_file"]
    if not path:
        return given, source
    path = resolve_path(str(path)) if resolve_path else str(path)
    expect = given.get("content_hash") if given is not None else None
    return load(path, expect_hash=expect), "assessment_file: %s" % path
