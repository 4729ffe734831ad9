# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Path-safe identifiers and the one join that keeps every written file inside its output directory."""

from __future__ import annotations

import os
import re

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

# A change id names files (evidence/<id>/, runbooks/<id>.md, escalations/<id>-<n>.json): one path component that is
# not '.' or '..', has no separator, does not start with '.' (hidden) or '-' (read as an option by commands).
SAFE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SAFE_ID_HINT = "use 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit (e.g. CHG-1001)"
# A ledger location with one of these prefixes names a PostgreSQL database (ledger_pg), not a file.
DATABASE_URL_PREFIXES = ("postgresql:", "postgres:")


def is_database_url(location):
    """Whether a ledger location (governed_ledger, --ledger) names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(DATABASE_URL_PREFIXES)


def check_safe_id(value, where="change_id", what="change id"):
    """Return ``value`` when it is a path-safe id; else a ValidationError naming ``where``."""
    if not isinstance(value, str):
        raise ValidationError("the %s must be a string, got %s." % (what, type(value).__name__), where=where,
                              fix="%s, quoted." % SAFE_ID_HINT)
    if not SAFE_ID_RE.match(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValidationError("the %s %r is not path-safe (it names files under the output directory)." % (what, shown),
                              where=where, fix="%s." % SAFE_ID_HINT)
    return value


def safe_join(base, *parts, where="output_dir"):
    """``base/part/...`` as an absolute path, refused unless it resolves (symlinks followed) inside ``base``."""
    if not base:
        raise ValidationError("no output directory was given.", where=where, fix="pass the output directory.")
    root = os.path.realpath(str(base))
    for part in parts:
        part = str(part)
        if not part or "\x00" in part or os.path.isabs(part):
            raise ValidationError("the path component %r is empty, absolute or holds a NUL byte." % part, where=where,
                                  fix="name files relative to the output directory.")
    path = os.path.join(os.path.abspath(str(base)), *[str(part) for part in parts])
    resolved = os.path.realpath(path)
    if resolved != root and not resolved.startswith(root.rstrip(os.sep) + os.sep):
        raise ValidationError("%s resolves to %s, outside the output directory %s." % (os.path.join(*[str(p) for p in parts]),
                                                                                       resolved, root),
                              where=where, fix="use a path-safe change id (%s) and no symlinks leaving the output "
                                               "directory." % SAFE_ID_HINT)
    return path


# Where a governed run writes (ledger, assessments, runbooks, store, evidence) unless told otherwise: the environment
# variable, else out/ in the working directory - never a folder derived from playbook_dir (inside an installed collection).
OUTPUT_DIR_ENV = "GOVERNED_CHANGE_OUTPUT_DIR"
DEFAULT_OUTPUT_NAME = "out"
_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_output_dir(environ=None, cwd=None):
    """The output folder of a run that names none: $GOVERNED_CHANGE_OUTPUT_DIR, else <working directory>/out (absolute)."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(OUTPUT_DIR_ENV)
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    return os.path.join(os.path.abspath(cwd or os.getcwd()), DEFAULT_OUTPUT_NAME)


def installed_collection_root(root=None):
    """This collection's folder when it is an installed (built) collection - one holding MANIFEST.json - else None.

    A source checkout (galaxy.yml, no MANIFEST.json) is a working tree: its out/ is ignored by git and by the build."""
    root = root or _COLLECTION_ROOT
    return os.path.realpath(root) if os.path.isfile(os.path.join(root, "MANIFEST.json")) else None


def check_outside_collection(path, where="governed_output_dir", root=None):
    """Return ``path`` (absolute) unless it resolves inside the installed collection; refused with the setting to use."""
    if not path or is_database_url(path):  # a database is not inside anything
        return path
    absolute = os.path.abspath(os.path.expanduser(str(path)))
    installed = installed_collection_root(root)
    if installed is None:
        return absolute
    resolved = os.path.realpath(absolute)
    if resolved == installed or resolved.startswith(installed.rstrip(os.sep) + os.sep):
        raise ValidationError("%s resolves inside the installed collection (%s): an upgrade or reinstall would delete the "
                              "ledger and the evidence written there." % (absolute, installed), where=where,
                              fix="write outside the collection: set the extra var governed_output_dir or the environment "
                                  "variable %s to a folder of yours, or run from a working directory outside the collection "
                                  "(default: ./%s)." % (OUTPUT_DIR_ENV, DEFAULT_OUTPUT_NAME))
    return absolute
