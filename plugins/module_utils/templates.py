# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change request templates: where one may live, reading it safely, and its rendered text as configuration lines.

A ``template:`` path is confined to the change request's folder, or to a declared templates directory (the
``templates_dir`` option of governed.change.assess and governed.change.config_lines). Symlinks and ``..`` are resolved
before the check, so neither leads outside. Rendering is Ansible's templating (plugins/plugin_utils/render.py).
"""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils.docfile import path_kind
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

# Limits (docs/user-guide.md, "Templates"): a template is a page of Jinja, its output one device's change.
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_RENDERED_CHARS = 32 * 1024 * 1024


def template_roots(change_request_path, templates_dir=None):
    """The folders templates may come from (symlinks resolved): the change request's, then ``templates_dir``."""
    roots = [os.path.realpath(os.path.dirname(os.path.abspath(str(change_request_path))))]
    if templates_dir:
        root = os.path.realpath(os.path.abspath(str(templates_dir)))
        if path_kind(root) != "a directory":
            raise ValidationError("the templates directory %s is %s." % (templates_dir, path_kind(root) or "missing"),
                                  where="templates_dir", fix="point templates_dir at an existing folder of templates, or drop it.")
        if root not in roots:
            roots.append(root)
    return roots


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_template(template, change_request_path, templates_dir=None, where="config.template"):
    """The real path of a ``template:`` entry, refused unless it resolves inside one of template_roots().

    A relative path is looked up in the change request's folder, then in ``templates_dir``; an absolute one must
    already lie inside one of them.
    """
    if not isinstance(template, str) or not template.strip() or "\x00" in template:
        raise ValidationError("the template path must be a non-empty string without NUL bytes.", where=where,
                              fix="give the template's path relative to the change request, e.g. templates/prefix_list.j2.")
    roots = template_roots(change_request_path, templates_dir)
    if os.path.isabs(template):
        candidates = [template]
    else:
        candidates = [os.path.join(root, template) for root in roots]
    allowed = " or ".join(roots)
    for candidate in candidates:
        resolved = os.path.realpath(candidate)
        if not any(_inside(resolved, root) for root in roots):
            raise ValidationError("'%s' resolves to %s, outside the folders templates may come from (%s)."
                                  % (template, resolved, allowed), where=where,
                                  fix="put the template in the change request's folder%s and give its path relative to it "
                                      "(no '..' or symlinks leading out)." % (" or in templates_dir" if templates_dir else ""))
        kind = path_kind(resolved)
        if kind == "a regular file":
            return resolved
        if kind is not None:
            raise ValidationError("'%s' is %s, not a template file." % (template, kind), where=where,
                                  fix="point template at the template file itself.")
    raise ValidationError("the template '%s' does not exist in %s." % (template, allowed), where=where,
                          fix="give the template's path relative to the change request's folder%s."
                              % (" or to templates_dir" if templates_dir else ""))


def read_template(path, where="config.template"):
    """The text of a resolved template file, at most MAX_TEMPLATE_BYTES, UTF-8."""
    size = os.path.getsize(path)
    if size > MAX_TEMPLATE_BYTES:
        raise ValidationError("the template is %d bytes, over the limit of %d (%d KiB)."
                              % (size, MAX_TEMPLATE_BYTES, MAX_TEMPLATE_BYTES // 1024),
                              where=where, fix="split the template (or the change) into smaller ones.")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_TEMPLATE_BYTES + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("the template is not UTF-8 text (%s)." % exc.reason, where=where,
                              fix="save the template as UTF-8 text.")
    except OSError as exc:
        raise ValidationError("the template cannot be read (%s)." % exc.strerror, where=where,
                              fix="make the template file readable by the user running Ansible.")


def rendered_lines(text, where="config.template"):
    """Rendered template text as configuration lines: trailing spaces dropped, blank lines skipped."""
    if text is None:
        return []
    text = str(text)
    if len(text) > MAX_RENDERED_CHARS:
        raise ValidationError("the rendered template is %d characters, over the limit of %d." % (len(text), MAX_RENDERED_CHARS),
                              where=where, fix="render less per change (split the change), or check the template's loops.")
    return [line.rstrip() for line in text.splitlines() if line.strip()]
