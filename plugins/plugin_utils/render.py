# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rendering of a change request's configuration lines for a host, used by assess and by deploy.

``lines`` entries are taken as written; ``template`` entries are rendered with ansible-core's templating, under its
trust model (2.19 data tagging): the template file, confined to the change request's folder or the declared templates
directory, is the only text trusted as a template. Its variables are the entry's ``vars`` (plain data, never
templated) over the host's variables (``hostvars[host]``, templated by Ansible as in any task). Lookups are refused in
templates: a change request must not read files or run commands on the controller. Assess and deploy call the same
function with the same variables, so the lines deployed are the lines whose diff was approved (content hash).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.template import trust_as_template
from ansible.utils.display import Display

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.facts import config_entries
from ansible_collections.governed.change.plugins.module_utils.templates import read_template, rendered_lines, resolve_template

try:
    import jinja2
    import jinja2.meta
except ImportError:  # pragma: no cover - jinja2 comes with ansible-core
    jinja2 = None

display = Display()

LOOKUP_NAMES = ("lookup", "query", "q")
NOT_GROUPS = ("all", "ungrouped")


class LookupRefused(AnsibleError):
    """Raised inside the template engine when a change request template calls a lookup."""


def _refuse_lookup(*args, **kwargs):  # pylint: disable=unused-argument
    raise LookupRefused("lookups (lookup, query, q) are not available in change request templates")


def host_groups(task_vars, host):
    """The host's groups as the assess action's inventory view has them (without 'all' and 'ungrouped')."""
    return sorted(group for group, members in (task_vars.get("groups") or {}).items()
                  if group not in NOT_GROUPS and host in members)


def referenced_names(source, where):
    """The variable names a template reads (Jinja's undeclared variables); a syntax error is refused with its line."""
    try:
        return sorted(jinja2.meta.find_undeclared_variables(jinja2.Environment(autoescape=False).parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise ValidationError("is not a valid Jinja2 template: %s (template line %s)." % (exc.message, exc.lineno), where=where,
                              fix="correct the template syntax at that line.")


def template_variables(names, host_vars, entry_vars, host, where):
    """Only the variables the template reads: the entry's ``vars`` first, then the host's (templated by Ansible)."""
    variables = {}
    for name in names:
        if name in LOOKUP_NAMES:
            continue
        if name in entry_vars:
            variables[name] = entry_vars[name]
        elif name in host_vars:
            try:
                variables[name] = host_vars[name]
            except AnsibleError as exc:
                raise ValidationError("the host variable '%s' of %s cannot be templated (%s)." % (name, host, exc.message),
                                      where=where, fix="correct that variable in the inventory (or give it under vars).")
    for name in LOOKUP_NAMES:
        variables[name] = _refuse_lookup
    return variables


def render_template(templar, path, host, host_vars, entry_vars, where):
    """Render one confined template file for ``host``; returns its configuration lines."""
    source = read_template(path, where)
    names = referenced_names(source, where)
    variables = template_variables(names, host_vars, entry_vars or {}, host, where)
    engine = templar.copy_with_new_env(searchpath=[os.path.dirname(path)], available_variables=variables)
    try:
        text = engine.template(trust_as_template(source), escape_backslashes=False)
    except AnsibleUndefinedVariable as exc:
        raise ValidationError("cannot be rendered for %s: %s." % (host, exc.message), where=where,
                              fix="define the variable for %s (host or group variable), or give it under the entry's vars." % host)
    except AnsibleError as exc:
        if isinstance(exc, LookupRefused) or isinstance(getattr(exc, "__cause__", None), LookupRefused) \
                or "are not available in change request templates" in str(exc):
            raise ValidationError("calls a lookup; lookups (lookup, query, q) are not available in change request templates.",
                                  where=where, fix="pass the value as a host variable or under the entry's vars instead.")
        raise ValidationError("cannot be rendered for %s: %s." % (host, exc.message), where=where,
                              fix="correct the template (or the variables it uses).")
    return rendered_lines(text, where)


def render_config_lines(templar, request, host, inventory, change_request_path, host_vars, templates_dir=None):
    """The configuration lines of ``host`` (None when the change request has no config for it).

    ``inventory``: the inventory view of module_utils.facts; ``host_vars``: ``task_vars['hostvars'][host]``.
    """
    entries = config_entries(request, host, inventory)
    if not entries:
        return None
    lines = []
    for key, entry in entries:
        if "lines" in entry:
            lines.extend(entry["lines"])
            continue
        where = "%s: config.%s.template" % (change_request_path, key)
        path = resolve_template(entry["template"], change_request_path, templates_dir, where)
        lines.extend(render_template(templar, path, host, host_vars, entry.get("vars"), where))
    return lines
