# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading YAML/JSON documents (change requests, policies, checks) with errors that name the file."""

from __future__ import annotations

import hashlib
import json
import os
import stat

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


# Limits of every document the project reads (change requests, policies, approvals, workflow templates). They are far
# above any real document and bound what a hostile one can cost: see docs/bad-input.md.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64

_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def path_kind(path):
    """What is at ``path``: 'a regular file', 'a directory', 'a named pipe (FIFO)', ..., or None when nothing is.

    Uses stat only, so a FIFO is never opened (opening one blocks until a writer comes).
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: an embedded NUL byte
        return None
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _FILE_KINDS:
        if test(mode):
            return name
    return "not a regular file"


def require_file(path, what, where=None, fix=None):
    """Refuse a path that is not a regular file, saying what it is (missing, a directory, a FIFO, ...)."""
    kind = path_kind(path)
    if kind == "a regular file":
        return path
    where = where or str(path)
    if kind is None:
        raise ValidationError("the %s file does not exist." % what, where=where,
                              fix=fix or "check the path (relative paths are resolved from the playbook directory).")
    raise ValidationError("the %s path is %s, not a regular file." % (what, kind), where=where,
                          fix=fix or "point it at the %s file itself." % what)


if yaml is not None:
    class StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """safe_load that refuses aliases (no alias bombs) and duplicate keys (the last one silently won)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise _Refused("uses the YAML alias *%s; aliases and anchors are not accepted (an alias can expand to "
                               "gigabytes when the content is hashed)." % event.anchor, event.start_mark,
                               "write the value out in full instead of referring to an anchor.")
            event = self.peek_event()
            if getattr(event, "anchor", None):
                raise _Refused("defines the YAML anchor &%s; anchors and aliases are not accepted." % event.anchor,
                               event.start_mark, "remove the anchor and write each value out in full.")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_DEPTH:
                    raise _Refused("is nested more than %d levels deep." % MAX_DEPTH, event.start_mark,
                                   "flatten the document; no governed.change document needs that depth.")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for key_node, _value in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # SafeConstructor refuses unhashable keys with its own message
                    if key in seen:
                        raise _Refused("the key '%s' appears twice in the same mapping (first on line %d); YAML would "
                                       "silently keep only the last value." % (key, seen[key] + 1), key_node.start_mark,
                                       "keep one '%s' entry and delete the other." % key)
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    class _Refused(yaml.YAMLError):
        def __init__(self, problem, mark, fix):
            super().__init__(problem)
            self.problem = problem
            self.problem_mark = mark
            self.fix = fix


def parse_yaml_text(text, source="<string>"):
    """Parse YAML text safely and strictly; every refusal names the source, line and column.

    Refused: aliases and anchors, duplicate keys, more than MAX_DEPTH levels, more than MAX_DOCUMENT_BYTES, characters
    YAML does not allow (control characters).
    """
    if yaml is None:
        raise MissingLibrary("PyYAML", "to read YAML documents")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ValidationError("is %d characters long, over the limit of %d (%d MiB)." % (len(text), MAX_DOCUMENT_BYTES,
                                                                                         MAX_DOCUMENT_BYTES // 1048576),
                              where=source, fix="split the change or trim the document below the limit.")
    loader = None
    try:
        loader = StrictLoader(text)  # the reader checks every character here
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ValidationError("contains the character %s, which YAML does not allow (control character)."
                              % _char_name(exc.character), where="%s:%d" % (source, line),
                              fix="remove the control character (write text as plain printable characters).")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = source if mark is None else "%s:%d:%d" % (source, mark.line + 1, mark.column + 1)
        problem = getattr(exc, "problem", None) or str(exc)
        fix = getattr(exc, "fix", None) or "correct the YAML syntax at that position."
        if isinstance(exc, _Refused):
            raise ValidationError(problem, where=where, fix=fix)
        raise ValidationError("is not valid YAML (%s)." % problem, where=where, fix=fix)
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops nesting long before Python's limit
        raise ValidationError("is nested too deeply.", where=source, fix="flatten the document.")
    finally:
        if loader is not None:
            loader.dispose()


def _char_name(character):
    if isinstance(character, int):
        return "U+%04X" % character
    return "U+%04X" % ord(character) if character else "?"


def load_document(path, what="document"):
    """Read a YAML or JSON file; a missing, unreadable, oversized or non-regular file is a ValidationError."""
    if not path:
        raise ValidationError("no %s path was given." % what, fix="pass the path to the %s file." % what)
    require_file(path, what)
    size = os.path.getsize(path)
    if size > MAX_DOCUMENT_BYTES:
        raise ValidationError("the %s file is %d bytes, over the limit of %d (%d MiB)." % (what, size, MAX_DOCUMENT_BYTES,
                                                                                           MAX_DOCUMENT_BYTES // 1048576),
                              where=str(path), fix="split the change or trim the document below the limit.")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("the %s file cannot be read (%s)." % (what, exc), where=str(path),
                              fix="make it a readable UTF-8 text file.")
    return parse_yaml_text(text, source=str(path))
