# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode of the controller load (playbooks/controller_load.yml): which entries of the controller configuration refer
to objects the controller does not have yet.

An awx.awx module looks every object an entry refers to up by name before it compares or creates anything, and fails
when the object is missing. In check mode nothing is created, so an entry that refers to an object the same load
creates (a project naming the new execution environment, a credential of the new credential type) cannot be compared:
it is left out of the module calls and reported as pending instead. A reference to an object that is neither on the
controller nor created by the load is an error, as it would be in the real load.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

# awx.awx module option naming another controller object -> the API list endpoint the module looks it up in.
REFERENCE_FIELDS = {
    "organization": "organizations",
    "default_environment": "execution_environments",
    "execution_environment": "execution_environments",
    "project": "projects",
    "source_project": "projects",
    "inventory": "inventories",
    "credential": "credentials",
    "credentials": "credentials",
    "webhook_credential": "credentials",
    "signature_validation_credential": "credentials",
    "credential_type": "credential_types",
    "unified_job_template": "unified_job_templates",
    "notification_templates_started": "notification_templates",
    "notification_templates_success": "notification_templates",
    "notification_templates_error": "notification_templates",
    "notification_templates_approvals": "notification_templates",
}
# The endpoints check mode asks the controller for (every REFERENCE_FIELDS target).
LOOKUP_ENDPOINTS = tuple(sorted(set(REFERENCE_FIELDS.values())))
# controller_* list -> the endpoints its objects appear in once loaded (infra.controller_configuration's variable names).
CREATED_IN = {
    "controller_organizations": ("organizations",),
    "controller_execution_environments": ("execution_environments",),
    "controller_projects": ("projects", "unified_job_templates"),
    "controller_credential_types": ("credential_types",),
    "controller_credentials": ("credentials",),
    "controller_inventories": ("inventories",),
    "controller_inventory_sources": ("unified_job_templates",),
    "controller_templates": ("unified_job_templates",),
    "controller_workflows": ("unified_job_templates",),
    "controller_notifications": ("notification_templates",),
    "controller_notification_templates": ("notification_templates",),
}


def _names(value):
    """The object names an option holds: a name, a list of names, or {name: ...} mappings (the export format)."""
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name and "{{" not in name:
            out.append(name)
    return out


def references(entry):
    """[(field, endpoint, name)] of the objects an entry (awx.awx module options) refers to by name. A workflow job
    template's nodes refer to their job templates (approval nodes create theirs, so they refer to nothing)."""
    out = []
    if not isinstance(entry, dict):
        return out
    for field, endpoint in REFERENCE_FIELDS.items():
        if field == "unified_job_template" and isinstance(entry.get(field), dict):
            continue  # a node's template: below, with its type
        out.extend((field, endpoint, name) for name in _names(entry.get(field)))
    for index, node in enumerate(entry.get("workflow_nodes") or []):
        ujt = node.get("unified_job_template") if isinstance(node, dict) else None
        if isinstance(ujt, dict) and ujt.get("type") != "workflow_approval":
            out.extend(("workflow_nodes[%d].unified_job_template" % index, "unified_job_templates", name) for name in _names(ujt))
    return out


def _missing(entry, existing):
    """The references of an entry to objects the controller does not have ({endpoint: [names]} from check mode)."""
    out = []
    for field, endpoint, name in references(entry):
        if endpoint not in existing:
            raise ValidationError("the controller's %s were not looked up." % endpoint, where="controller load check mode",
                                  fix="look up every endpoint of controller_refs.LOOKUP_ENDPOINTS (%s)." % ", ".join(LOOKUP_ENDPOINTS))
        if name not in (existing.get(endpoint) or ()):
            out.append((field, endpoint, name))
    return out


def resolvable(entries, existing=None):
    """The entries an awx.awx module can be called with: all of them outside check mode (``existing`` None), in check mode
    those whose references the controller already has."""
    if existing is None:
        return list(entries or [])
    return [entry for entry in entries or [] if not _missing(entry, existing)]


def check_plan(config, existing):
    """{pending: [text], unknown: [text]} of a controller configuration ({controller_* key: entries}) in check mode.

    pending: entries left out of the module calls because they refer to objects this load creates (a real load creates or
    updates them after those); unknown: references to objects neither on the controller nor in the configuration."""
    lists = {key: [e for e in entries if isinstance(e, dict)] for key, entries in (config or {}).items() if isinstance(entries, list)}
    created = {}
    for key, entries in lists.items():
        for endpoint in CREATED_IN.get(key, ()):
            created.setdefault(endpoint, set()).update(e.get("name") for e in entries)
    plan = {"pending": [], "unknown": []}
    for key, entries in sorted(lists.items()):
        for entry in entries:
            missing = _missing(entry, existing)
            label = "%s '%s'" % (key, entry.get("name") if isinstance(entry, dict) else entry)
            known = _grouped((endpoint, name) for _field, endpoint, name in missing if name in created.get(endpoint, ()))
            unknown = _grouped((endpoint, name) for _field, endpoint, name in missing if name not in created.get(endpoint, ()))
            if known:
                plan["pending"].append("%s: would be created or updated after %s (not on the controller yet)" % (label, known))
            if unknown:
                plan["unknown"].append("%s refers to %s: neither on the controller nor in the configuration" % (label, unknown))
    return plan


def _grouped(pairs):
    """'endpoint 'a', 'b'; endpoint2 'c'' - each name once, in order."""
    groups = {}
    for endpoint, name in pairs:
        if name not in groups.setdefault(endpoint, []):
            groups[endpoint].append(name)
    return "; ".join("%s %s" % (endpoint, ", ".join("'%s'" % n for n in names)) for endpoint, names in groups.items())
