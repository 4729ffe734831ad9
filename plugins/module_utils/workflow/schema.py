# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option schemas read from the installed awx.awx modules' DOCUMENTATION (never retyped), and a checker for them."""

from __future__ import annotations

import ast
import os
import sys
import threading

from ansible_collections.governed.change.plugins.module_utils.docfile import parse_yaml_text
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

AWX_MODULES_DIR = os.path.join("ansible_collections", "awx", "awx", "plugins", "modules")
_CACHE = {}
_CACHE_LOCK = threading.Lock()
_TYPE_NAMES = {"str": "a string", "int": "an integer", "bool": "a boolean", "dict": "a mapping",
               "list": "a list", "float": "a number", "path": "a path string", "raw": "any value", "jsonarg": "JSON"}


def _search_roots():
    """Collection roots to look in: ANSIBLE_COLLECTIONS_PATH(S), sys.path, this checkout's .collections, the defaults."""
    roots = []
    for var in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        roots.extend(part for part in os.environ.get(var, "").split(os.pathsep) if part)
    roots.extend(entry for entry in sys.path if entry)
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", "..", ".."))
    roots.append(os.path.join(repo, ".collections"))
    roots.extend([os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"])
    return roots


def module_path(module, roots=None):
    """The file of awx.awx's module ``module`` in the first collection root that has it, or None."""
    for root in roots if roots is not None else _search_roots():
        candidate = os.path.join(root, AWX_MODULES_DIR, module + ".py")
        if os.path.isfile(candidate):
            return candidate
    return None


def module_documentation(module, roots=None):
    """The parsed DOCUMENTATION of awx.awx's ``module`` (the file is parsed with ast, never executed)."""
    path = module_path(module, roots)
    if path is None:
        raise ValidationError("the awx.awx collection (module %s) is not installed, so the node schema cannot be read." % module,
                              where="awx.awx", fix="install it: ansible-galaxy collection install awx.awx (make setup does).")
    with _CACHE_LOCK:
        stamp = os.stat(path).st_mtime_ns
        cached = _CACHE.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        with open(path, "r", encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
        text = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets):
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    text = node.value.value
        if text is None:
            raise ValidationError("%s has no DOCUMENTATION string." % path, where="awx.awx",
                                  fix="reinstall awx.awx; the node schema is read from its documentation.")
        doc = parse_yaml_text(text, source="%s DOCUMENTATION" % path)
        if not isinstance(doc, dict) or not isinstance(doc.get("options"), dict):
            raise ValidationError("the DOCUMENTATION of %s has no options." % path, where="awx.awx", fix="reinstall awx.awx.")
        doc["_path"] = path
        _CACHE[path] = (stamp, doc)
        return doc


def module_options(module, roots=None):
    """The top-level options of an awx.awx module."""
    return module_documentation(module, roots)["options"]


def workflow_node_options(roots=None):
    """The documented suboptions of workflow_job_template's ``workflow_nodes``."""
    options = module_options("workflow_job_template", roots)
    nodes = options.get("workflow_nodes") or {}
    if not isinstance(nodes.get("suboptions"), dict):
        raise ValidationError("awx.awx workflow_job_template documents no workflow_nodes suboptions.", where="awx.awx",
                              fix="install an awx.awx that documents workflow_nodes (19.0 or later).")
    return nodes["suboptions"]


def _is_type(value, kind):
    if kind in ("str", "path"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    return True  # raw, jsonarg and anything newer: not checked


def _aliases(options):
    return {alias: name for name, spec in options.items() for alias in ((spec or {}).get("aliases") or [])}


def check_options(value, options, path, where, source, errors):
    """Check a mapping against documented options; append ValidationErrors (``path`` is the dotted field prefix).

    ``source`` names what documents the options (e.g. "awx.awx workflow_job_template workflow_nodes").
    """
    aliases = _aliases(options)
    seen = set()
    for key in value:
        name = aliases.get(key, key)
        field = "%s%s" % (path, key)
        spec = options.get(name)
        if spec is None:
            errors.append(ValidationError("field '%s' is not documented by %s." % (field, source), where=where,
                                          fix="remove it or use a documented field: %s." % ", ".join(sorted(options))))
            continue
        if name in seen:
            errors.append(ValidationError("field '%s' is given twice (as itself and as an alias)." % field, where=where,
                                          fix="keep one spelling."))
        seen.add(name)
        check_value(value[key], spec or {}, field, where, source, errors)
    for name, spec in sorted(options.items()):
        if (spec or {}).get("required") and name not in seen:
            errors.append(ValidationError("required field '%s%s' is missing." % (path, name), where=where,
                                          fix="add it (%s documents it as required)." % source))


def _integer_choice(value, spec):
    """An integer given for a str option whose choices are all integers written as text (verbosity: AWX's API choices are
    integers and awx.awx converts an integer to its str option)."""
    choices = spec.get("choices") or []
    if not isinstance(value, int) or isinstance(value, bool) or (spec.get("type") or "str") != "str" or not choices:
        return False
    return all(str(choice).isdigit() for choice in choices)


def check_value(value, spec, field, where, source, errors):
    """Check one value against its documented spec (type, choices, elements, suboptions)."""
    if value is None:
        return  # Ansible treats null as "not given"
    if _integer_choice(value, spec):
        if str(value) not in [str(choice) for choice in spec["choices"]]:
            errors.append(ValidationError("field '%s' is %r, not one of %s." % (field, value, ", ".join(repr(c) for c in spec["choices"])),
                                          where=where, fix="use one of the documented choices."))
        return
    kind = spec.get("type") or "str"
    if not _is_type(value, kind):
        expected = _TYPE_NAMES.get(kind, kind)
        errors.append(ValidationError("field '%s' must be %s (got %s %r)." % (field, expected, type(value).__name__, value), where=where,
                                      fix="write it as %s, as %s documents it." % (expected, source)))
        return
    choices = spec.get("choices")
    if choices and kind != "list" and value not in choices:
        errors.append(ValidationError("field '%s' is %r, not one of %s." % (field, value, ", ".join(repr(c) for c in choices)),
                                      where=where, fix="use one of the documented choices."))
    subs = spec.get("suboptions")
    if kind == "dict" and isinstance(subs, dict):
        check_options(value, subs, field + ".", where, source, errors)
    if kind == "list":
        _check_elements(value, spec, field, where, source, errors)


def _check_elements(value, spec, field, where, source, errors):
    """Each element of a list option: its type, its choices, its suboptions."""
    elements, choices, subs = spec.get("elements"), spec.get("choices"), spec.get("suboptions")
    for position, item in enumerate(value):
        item_field = "%s[%d]" % (field, position)
        if elements and not _is_type(item, elements):
            errors.append(ValidationError("field '%s' must be %s (got %s %r)." % (
                item_field, _TYPE_NAMES.get(elements, elements), type(item).__name__, item), where=where,
                fix="write each element as %s." % _TYPE_NAMES.get(elements, elements)))
            continue
        if choices and item not in choices:
            errors.append(ValidationError("field '%s' is %r, not one of %s." % (item_field, item, ", ".join(repr(c) for c in choices)),
                                          where=where, fix="use one of the documented choices."))
        if elements == "dict" and isinstance(subs, dict):
            check_options(item, subs, item_field + ".", where, source, errors)
