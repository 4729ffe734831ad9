# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content-addressed store for big state (snapshots, route tables): big state travels by reference.

A stored file is canonical JSON (``docfile.canonical_json`` for every value) laid out with one record
per line: a list has one item per line, a dict one entry per line, a snapshot one entry per line
inside each of its sections. The layout is deterministic, so the same data always gives the same
bytes, and ``sha256`` is the digest of those bytes. The line layout lets ``state_diff`` compare two
stored states line by line and parse only the lines that differ (see BENCHMARKS.md).

A reference is a small dict ``{path, sha256, kind, bytes, summary}``; tasks, artifacts and the evidence
carry it, never the payload.

Files are written 0600 in 0700 folders: a backup (kind ``backup``) keeps the device's real running config, secrets
included, because the exact restore needs them (docs/security.md). Everything else stored is redacted by its writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

REF_KEYS = ("path", "sha256", "kind", "bytes", "summary")
# Backups hold the real config (secrets included: the exact restore needs them), so every stored file is owner-only.
FILE_MODE = 0o600
DIR_MODE = 0o700
LAYOUT_LIST = "list"
LAYOUT_DICT = "dict"
LAYOUT_SNAPSHOT = "snapshot"
LAYOUT_SINGLE = "single"

# The same options as docfile.canonical_json; one encoder object is reused per record (far faster
# than json.dumps(...) per call at a million records) and gives byte-identical output.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_encode = _ENCODER.encode


def is_snapshot(data):
    """True for a normalized snapshot: a dict whose ``sections`` is a dict."""
    return isinstance(data, dict) and isinstance(data.get("sections"), dict)


def layout_of(data):
    """The line layout a value is stored with."""
    if isinstance(data, list):
        return LAYOUT_LIST if data else LAYOUT_SINGLE
    if is_snapshot(data):
        return LAYOUT_SNAPSHOT if data["sections"] else LAYOUT_SINGLE
    if isinstance(data, dict):
        return LAYOUT_DICT if data else LAYOUT_SINGLE
    return LAYOUT_SINGLE


def _dict_entries(mapping):
    return [_encode(str(key)) + ":" + _encode(mapping[key]) for key in sorted(mapping, key=str)]


def serialize(data):
    """The stored bytes of ``data``: canonical JSON, one record per line (see the module docstring)."""
    layout = layout_of(data)
    if layout == LAYOUT_LIST:
        text = "[\n" + ",\n".join([_encode(item) for item in data]) + "\n]\n"
    elif layout == LAYOUT_DICT:
        text = "{\n" + ",\n".join(_dict_entries(data)) + "\n}\n"
    elif layout == LAYOUT_SNAPSHOT:
        meta = dict((k, v) for k, v in data.items() if k != "sections")
        head = _encode(meta)[:-1]
        head = head + (',"sections":{' if meta else '"sections":{')
        parts = []
        sections = data["sections"]
        for name in sorted(sections, key=str):
            value = sections[name]
            label = _encode(str(name)) + ":"
            if isinstance(value, dict) and value:
                parts.append(label + "{\n" + ",\n".join(_dict_entries(value)) + "\n}")
            elif isinstance(value, list) and value:
                parts.append(label + "[\n" + ",\n".join([_encode(item) for item in value]) + "\n]")
            else:
                parts.append(label + _encode(value))
        text = head + "\n" + ",\n".join(parts) + "\n}}\n"
    else:
        text = _encode(data) + "\n"
    return text.encode("utf-8")


def summarize(data, kind=None):
    """A small JSON-able summary of a value (record counts), safe to carry in task results."""
    summary = {"layout": layout_of(data)}
    if kind:
        summary["kind"] = kind
    if isinstance(data, list):
        summary["records"] = len(data)
    elif is_snapshot(data):
        for key in ("device", "platform", "taken_at"):
            if key in data:
                summary[key] = data[key]
        counts = {}
        for name, value in data["sections"].items():
            counts[str(name)] = len(value) if isinstance(value, (dict, list)) else 1
        summary["sections"] = counts
    elif isinstance(data, dict):
        summary["records"] = len(data)
    return summary


def _check_kind(kind):
    if not isinstance(kind, str) or not kind.strip():
        raise ValidationError("kind must be a non-empty string (e.g. 'snapshot', 'routes', 'diff').", where="statestore.put(kind)",
                              fix="pass what the data is as kind.")


def _owner_only_dirs(store_dir, folder):
    """Create the store and its shard folder owner-only (0700): backups in it hold the devices' secrets."""
    for path in (store_dir, folder):
        if not os.path.isdir(path):
            os.makedirs(path, mode=DIR_MODE, exist_ok=True)
        if os.stat(path).st_mode & 0o077 and path == folder:
            os.chmod(path, DIR_MODE)  # a shard folder made by an older version


def put(store_dir, data, kind):
    """Write ``data`` to ``<store_dir>/<sha256[:2]>/<sha256>.json`` atomically; return its reference."""
    _check_kind(kind)
    if not store_dir:
        raise ValidationError("no store directory was given.", where="statestore.put(store_dir)",
                              fix="pass the directory that holds the change's state files.")
    try:
        raw = serialize(data)
    except (TypeError, ValueError) as exc:
        raise ValidationError("the %s cannot be serialised as JSON (%s)." % (kind, exc), where="statestore.put(data)",
                              fix="pass plain JSON-able data (dicts, lists, strings, numbers, booleans, null).")
    digest = hashlib.sha256(raw).hexdigest()
    folder = os.path.join(str(store_dir), digest[:2])
    path = os.path.join(folder, digest + ".json")
    try:
        _owner_only_dirs(str(store_dir), folder)
        if not (os.path.isfile(path) and os.path.getsize(path) == len(raw)):
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        elif os.stat(path).st_mode & 0o077:
            os.chmod(path, FILE_MODE)  # stored by an older version: owner-only now
    except OSError as exc:
        raise ValidationError("cannot write the state file (%s)." % exc, where=path,
                              fix="make the store directory writable and check free disk space.")
    return {"path": os.path.abspath(path), "sha256": digest, "kind": kind, "bytes": len(raw), "summary": summarize(data, kind)}


def is_ref(value):
    """True when ``value`` looks like a statestore reference (a dict with path and sha256)."""
    return isinstance(value, dict) and "sha256" in value and "path" in value and "sections" not in value


def _check_ref(ref, where):
    if not is_ref(ref):
        raise ValidationError("is not a state reference (expected a dict with 'path' and 'sha256').", where=where,
                              fix="pass the reference returned by statestore.put (or a snapshot action's result).")
    sha = ref.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValidationError("sha256 %r is not a lowercase hex sha256 digest." % (sha,), where=where + ".sha256",
                              fix="pass the reference unchanged, as statestore.put returned it.")
    if not isinstance(ref.get("path"), str) or not ref["path"]:
        raise ValidationError("path is missing or not a string.", where=where + ".path",
                              fix="pass the reference unchanged, as statestore.put returned it.")


def read_bytes(ref, where="state reference"):
    """The stored bytes of a reference, verified against its sha256 (mismatch -> ValidationError)."""
    _check_ref(ref, where)
    path = ref["path"]
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ValidationError("the state file cannot be read (%s)." % exc, where=path,
                              fix="check that the store directory is still there (state files are kept per change).")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != ref["sha256"]:
        raise ValidationError("sha256 mismatch: the file has %s, the reference says %s; the state file was changed or "
                              "replaced after it was stored." % (actual, ref["sha256"]), where=path,
                              fix="do not edit stored state; take the snapshot again and use the new reference.")
    return raw


def get(ref):
    """Load the data behind a reference after verifying its sha256."""
    raw = read_bytes(ref)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError("the state file is not valid JSON (%s)." % exc, where=ref["path"],
                              fix="take the snapshot again; stored state is written only by statestore.put.")


def load(value):
    """A snapshot/list as it is, or the data behind a reference."""
    return get(value) if is_ref(value) else value
