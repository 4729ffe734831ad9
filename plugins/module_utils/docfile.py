# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading YAML/JSON documents (change requests, policies, checks) with errors that name the file."""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, ValidationError

try:
    import yaml
except ImportError:  # pragma: no cover - guarded so the module imports without PyYAML
    yaml = None


def canonical_json(data):
    """The one canonical serialisation used for every hash in the project."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_of(data):
    """sha256 hex digest of bytes, str, or any JSON-able value (canonical form)."""
    if isinstance(data, bytes):
        raw = data
    elif isinstance(data, str):
        raw = data.encode("utf-8")
    else:
        raw = canonical_json(data).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def parse_yaml_text(text, source="<string>"):
    """Parse YAML text with safe_load; a syntax error names the source, line and column."""
    if yaml is None:
        raise MissingLibrary("PyYAML", "to read YAML documents")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = source if mark is None else "%s:%d:%d" % (source, mark.line + 1, mark.column + 1)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError("is not valid YAML (%s)." % problem, where=where,
                              fix="correct the YAML syntax at that position.")


def load_document(path, what="document"):
    """Read a YAML or JSON file; a missing or unreadable file is a ValidationError."""
    if not path:
        raise ValidationError("no %s path was given." % what, fix="pass the path to the %s file." % what)
    if not os.path.isfile(path):
        raise ValidationError("the %s file does not exist." % what, where=str(path),
                              fix="check the path (relative paths are resolved from the playbook directory).")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("the %s file cannot be read (%s)." % (what, exc), where=str(path),
                              fix="make it a readable UTF-8 text file.")
    return parse_yaml_text(text, source=str(path))
