# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline validation of AWX workflow templates: awx.awx's documented schema, graph rules, controller configuration."""

from __future__ import annotations

import glob
import os

from ansible_collections.governed.change.plugins.module_utils.docfile import load_document, require_file
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.workflow import schema

EDGES = ("success_nodes", "failure_nodes", "always_nodes")
EDGE_LABELS = {"success_nodes": "success", "failure_nodes": "failure", "always_nodes": "always"}
# AWX's unified job template types (awx.awx workflow_job_template: unified_job_template.type).
UJT_TYPES = ("job_template", "workflow_job_template", "project", "inventory_source", "system_job_template", "workflow_approval")
# Stage roles of job template nodes, recognised by the file name of the template's playbook (a template's name is a label
# anyone can change; its playbook is what runs). A playbook matching several takes the first role in STAGE_ROLES.
DEFAULT_DEPLOY_PATTERNS = ("deploy",)
DEFAULT_ROLLBACK_PATTERNS = ("rollback",)
DEFAULT_VERIFY_PATTERNS = ("verify",)
DEFAULT_CLOSE_PATTERNS = ("close",)
STAGE_ROLES = ("rollback", "deploy", "verify", "close")
# Controller configuration as code: key -> awx.awx module whose options document an entry.
CONTROLLER_KINDS = {"controller_templates": "job_template", "controller_projects": "project",
                    "controller_inventories": "inventory", "controller_inventory_sources": "inventory_source",
                    "controller_credential_types": "credential_type", "controller_schedules": "schedule"}
# A node (or workflow) prompt reaches the job only when the job template asks for it (AWX _accept_or_ignore_job_kwargs).
NODE_PROMPTS = {"extra_data": "ask_variables_on_launch", "limit": "ask_limit_on_launch", "inventory": "ask_inventory_on_launch",
                "scm_branch": "ask_scm_branch_on_launch", "job_type": "ask_job_type_on_launch", "job_tags": "ask_tags_on_launch",
                "skip_tags": "ask_skip_tags_on_launch", "diff_mode": "ask_diff_mode_on_launch",
                "verbosity": "ask_verbosity_on_launch", "forks": "ask_forks_on_launch",
                "job_slice_count": "ask_job_slice_count_on_launch", "timeout": "ask_timeout_on_launch",
                "execution_environment": "ask_execution_environment_on_launch"}
RELATED_PROMPTS = {"credentials": "ask_credential_on_launch", "labels": "ask_labels_on_launch",
                   "instance_groups": "ask_instance_groups_on_launch"}
NODE_SOURCE = "awx.awx workflow_job_template (workflow_nodes)"
WORKFLOW_SOURCE = "awx.awx workflow_job_template"


def node_where(source, node, index):
    """Where-text of a node: its identifier, or its position when it has none."""
    ident = node.get("identifier") if isinstance(node, dict) else None
    if isinstance(ident, str) and ident:
        return "%s: node '%s'" % (source, ident)
    return "%s: workflow_nodes[%d]" % (source, index)


def template_type(node):
    """The unified job template type of a node (job_template when the node does not say)."""
    ujt = node.get("unified_job_template") if isinstance(node, dict) else None
    if not isinstance(ujt, dict):
        return None
    return ujt.get("type") or "job_template"


def template_name(node):
    ujt = node.get("unified_job_template") if isinstance(node, dict) else None
    return ujt.get("name") if isinstance(ujt, dict) else None


def edges_of(node):
    """[(edge kind, child identifier, position)] of a node's related success/failure/always lists."""
    related = node.get("related") if isinstance(node, dict) else None
    out = []
    if not isinstance(related, dict):
        return out
    for kind in EDGES:
        for position, item in enumerate(related.get(kind) or []):
            if isinstance(item, dict) and isinstance(item.get("identifier"), str):
                out.append((kind, item["identifier"], position))
    return out


def _matches(name, patterns):
    text = (name or "").casefold()
    return any(pattern.casefold() in text for pattern in patterns)


class ControllerConfig:
    """Controller configuration as code (controller_templates, controller_projects, ...) from a file or directory."""

    def __init__(self, path, project_dir=None):
        self.path = path
        self.files = []
        self.errors = []
        self.objects = {key: {} for key in CONTROLLER_KINDS}
        self.sources = {key: {} for key in CONTROLLER_KINDS}
        self.workflows = set()
        # every controller_* list's names with where each is defined: {key: {name: [where, ...]}} (any key, so objects
        # this validator has no schema for - credentials, notification templates, ... - are still checked for duplicates)
        self.names = {}
        self.workflow_files = {}  # controller_workflows: {name: (file, where)}
        if os.path.isdir(path):
            found = glob.glob(os.path.join(path, "**", "*.yml"), recursive=True)
            found.extend(glob.glob(os.path.join(path, "**", "*.yaml"), recursive=True))
            files = sorted(set(found))
            base = path
        elif os.path.isfile(path):
            files = [path]
            base = os.path.dirname(os.path.abspath(path))
        else:
            require_file(path, "controller configuration", fix="pass --controller-config with a YAML file or a directory of them.")
        self.project_dir = os.path.abspath(project_dir) if project_dir else os.path.dirname(os.path.abspath(base))
        for name in files:
            self._load(name)
        if not self.files:
            raise ValidationError("no file in the controller configuration defines controller_templates or other controller_* "
                                  "keys.", where=str(path), fix="see docs/workflows.md (controller configuration format).")

    def _load(self, name):
        try:
            doc = load_document(name, "controller configuration")
        except ValidationError as exc:
            self.errors.append(exc)
            return
        if not isinstance(doc, dict) or not any(str(key).startswith("controller_") for key in doc):
            return  # a playbook or an unrelated vars file beside the configuration
        self.files.append(name)
        self._record_names(name, doc)
        for name_key in (doc.get("controller_workflows") or []):
            if isinstance(name_key, dict) and name_key.get("name"):
                self.workflows.add(name_key["name"])
                if isinstance(name_key.get("file"), str):
                    self.workflow_files.setdefault(name_key["name"], (name_key["file"], "%s: controller_workflows '%s'" % (
                        name, name_key["name"])))
        for key, module in CONTROLLER_KINDS.items():
            entries = doc.get(key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                self.errors.append(ValidationError("%s must be a list of mappings." % key, where=name,
                                                   fix="write %s as a YAML list, one entry per object." % key))
                continue
            self._load_kind(name, key, module, entries)

    def _record_names(self, name, doc):
        """Where each name of every controller_* list of file ``name`` is defined (for the uniqueness rules)."""
        for key, entries in doc.items():
            if not str(key).startswith("controller_") or not isinstance(entries, list):
                continue
            for entry in entries:
                label = entry.get("name") if isinstance(entry, dict) else None
                if isinstance(label, str) and label:
                    self.names.setdefault(key, {}).setdefault(label, []).append("%s: %s '%s'" % (name, key, label))

    def _load_kind(self, name, key, module, entries):
        """The objects of one controller_* list of file ``name``, checked against the awx.awx module's options."""
        options = schema.module_options(module)
        aliases = {alias: opt for opt, spec in options.items() for alias in ((spec or {}).get("aliases") or [])}
        for position, entry in enumerate(entries):
            label = entry.get("name") if isinstance(entry, dict) else None
            where = "%s: %s '%s'" % (name, key, label) if label else "%s: %s[%d]" % (name, key, position)
            if not isinstance(entry, dict):
                self.errors.append(ValidationError("the entry is not a mapping.", where=where, fix="write name: ... and its fields."))
                continue
            schema.check_options(entry, options, "", where, "awx.awx %s" % module, self.errors)
            if label:
                self._add_object(name, key, label, {aliases.get(k, k): v for k, v in entry.items()}, where)

    def _add_object(self, name, key, label, entry, where):
        if label in self.objects[key]:
            self.errors.append(ValidationError("%s '%s' is defined twice (also in %s)." % (key, label, self.sources[key][label]),
                                               where=where, fix="define each object once."))
            return
        self.objects[key][label] = entry
        self.sources[key][label] = name

    @property
    def templates(self):
        return self.objects["controller_templates"]

    def template_where(self, name):
        return "%s: controller_templates '%s'" % (self.sources["controller_templates"].get(name, self.path), name)

    def inventory_path(self, inventory_name):
        """The project file an inventory is sourced from (controller_inventory_sources with source_path), or None."""
        for source in self.objects["controller_inventory_sources"].values():
            if source.get("inventory") == inventory_name and source.get("source_path"):
                return os.path.join(self.project_dir, source["source_path"])
        return None


def find_controller_config(workflow_path):
    """The default controller configuration of a workflow file: <dir of workflow_templates>/../controller."""
    candidate = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(workflow_path))), "controller")
    return candidate if os.path.isdir(candidate) else None


def load_workflow(path):
    """Read a workflow template file: one mapping of awx.awx workflow_job_template options."""
    doc = load_document(path, "workflow template")
    if not isinstance(doc, dict):
        raise ValidationError("a workflow template file must be one mapping of awx.awx workflow_job_template options.",
                              where=str(path), fix="write name:, organization:, workflow_nodes: ... at the top level.")
    return doc


def _node_options(node, options, where, errors):
    """The node to check against the documented options, or None when there is nothing more to check."""
    if not isinstance(node, dict):
        errors.append(ValidationError("the node is not a mapping.", where=where, fix="write identifier:, unified_job_template: ..."))
        return None
    if "approval_node" in node and "approval_node" not in options:
        # workflow_job_template_node's spelling; workflow_job_template's nodes would silently lose it
        errors.append(ValidationError("field 'approval_node' is not documented by %s (it is an option of the separate "
                                      "workflow_job_template_node module)." % NODE_SOURCE, where=where,
                                      fix="write the approval as unified_job_template: {type: workflow_approval, name: ..., "
                                          "description: ..., timeout: SECONDS}."))
        node = {key: value for key, value in node.items() if key != "approval_node"}
        if "unified_job_template" not in node:
            return None
    return node


def _duplicate_identifiers(positions, source):
    for ident, where_list in positions.items():
        if len(where_list) > 1:
            yield ValidationError("identifier '%s' is used by %d nodes (%s)." % (
                ident, len(where_list), " and ".join("workflow_nodes[%d]" % i for i in where_list)), where="%s: node '%s'" % (source, ident),
                fix="give every node a unique identifier; edges refer to nodes by identifier.")


def is_absent(node):
    """awx.awx deletes a node with state: absent: it is not part of the workflow."""
    return isinstance(node, dict) and node.get("state") == "absent"


def _dangling_edges(nodes, by_id, source):
    """Edges naming a node the workflow does not have (or one whose state is absent)."""
    absent = {node.get("identifier") for node in nodes if is_absent(node)}
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or is_absent(node):
            continue
        for kind, child, position in edges_of(node):
            if child not in by_id:
                yield ValidationError("related.%s[%d] names '%s', which is not a node of this workflow%s." % (
                    kind, position, child, " (its state is absent)" if child in absent else ""), where=node_where(source, node, index),
                    fix="add a node with identifier '%s' or correct the edge (nodes: %s)." % (child, ", ".join(sorted(by_id))))


def _double_edges(by_id, source):
    """Two edge kinds from one parent to one child: AWX refuses the second ("Relationship not allowed.")."""
    for ident, node in by_id.items():
        kinds = {}
        for kind, child, _position in edges_of(node):
            kinds.setdefault(child, [])
            if kind not in kinds[child]:
                kinds[child].append(kind)
        for child, found in kinds.items():
            if len(found) > 1:
                yield ValidationError("it links to '%s' by %s; AWX allows one relationship between two nodes (Relationship not "
                                      "allowed.)." % (child, " and ".join(found)), where="%s: node '%s'" % (source, ident),
                                      fix="keep one edge from '%s' to '%s' (always_nodes when it must run either way)." % (ident, child))


def _node_template(node, where, errors):
    """(type, name) of a node's unified_job_template, or None when it is missing or malformed (the problem appended)."""
    ujt = node.get("unified_job_template")
    if not isinstance(ujt, dict) or not ujt:
        if ujt is None:
            errors.append(ValidationError("the node has no unified_job_template.", where=where,
                                          fix="name the job template (unified_job_template: {name: ..., type: job_template}) "
                                              "or make it an approval (type: workflow_approval)."))
        return None
    kind = template_type(node)
    if kind not in UJT_TYPES:
        errors.append(ValidationError("unified_job_template.type is '%s', not an AWX unified job template type." % kind,
                                      where=where, fix="use one of: %s." % ", ".join(UJT_TYPES)))
        return None
    name = ujt.get("name")
    if not isinstance(name, str) or not name:
        errors.append(ValidationError("unified_job_template has no name.", where=where,
                                      fix="name the %s." % ("approval" if kind == "workflow_approval" else "template")))
        return None
    if not ujt.get("type"):
        errors.append(ValidationError("unified_job_template '%s' has no type: awx.awx fails on it (Could not find unified job "
                                      "template type)." % name, where=where,
                                      fix="add type: job_template (or the node's kind: %s)." % ", ".join(UJT_TYPES)))
        return None
    return kind, name


def _approval_prompts(node, name, where):
    """An approval takes no launch field (AWX UnifiedJobTemplate._accept_or_ignore_job_kwargs: not allowed on launch)."""
    for field in NODE_PROMPTS:
        if node.get(field) not in (None, "", {}):
            yield ValidationError("approval node '%s' sets %s: AWX never applies a launch field to an approval (Field is not "
                                  "allowed on launch)." % (name, field), where=where,
                                  fix="drop %s from the approval node; set the variables on the workflow or the job template "
                                      "nodes." % field)


def _survey_extra_data(node, template, name, where):
    """A template without ask_variables_on_launch accepts only its survey's variables (AWX _accept_or_ignore_variables)."""
    data = node.get("extra_data")
    if not isinstance(data, dict) or template.get("ask_variables_on_launch") is True or template.get("survey_enabled") is not True:
        return
    spec = template.get("survey_spec") if isinstance(template.get("survey_spec"), dict) else {}
    asked = sorted({item.get("variable") for item in spec.get("spec") or [] if isinstance(item, dict) and item.get("variable")})
    extra = sorted(str(key) for key in data if key not in asked)
    if extra:
        yield ValidationError("the node's extra_data sets %s, which job template '%s' does not ask for (its survey asks for %s; "
                              "ask_variables_on_launch is not true): AWX refuses to create the node (HTTP 400)." % (
                                  ", ".join(extra), name, ", ".join(asked) or "nothing"), where=where,
                              fix="drop them from extra_data, add them to the survey, or set ask_variables_on_launch: true on "
                                  "job template '%s'." % name)


def _approval_timeout(ujt, name, where):
    """An approval node without a positive timeout waits forever."""
    timeout = ujt.get("timeout")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        yield ValidationError("approval node '%s' has %s: it would wait for an approver forever." % (
            name, "no timeout" if timeout is None else "timeout %r" % (timeout,)), where=where,
            fix="set unified_job_template.timeout to the seconds approvers have (e.g. 86400), and route the "
                "timeout through failure_nodes.")


class Validator:
    """Checks workflow templates; every problem is collected (ValidationError with where and fix)."""

    def __init__(self, controller=None, deploy_patterns=DEFAULT_DEPLOY_PATTERNS, rollback_patterns=DEFAULT_ROLLBACK_PATTERNS,
                 known_workflows=(), verify_patterns=DEFAULT_VERIFY_PATTERNS, close_patterns=DEFAULT_CLOSE_PATTERNS):
        self.controller = controller
        self.patterns = {"deploy": tuple(deploy_patterns), "rollback": tuple(rollback_patterns),
                         "verify": tuple(verify_patterns), "close": tuple(close_patterns)}
        self.known_workflows = set(known_workflows)
        self._checked_templates = set()

    def validate(self, doc, source):
        """(errors, warnings) of one workflow template document."""
        errors, warnings = [], []
        top = {key: value for key, value in doc.items() if key not in ("workflow_nodes", "schema")}
        schema.check_options(top, schema.module_options("workflow_job_template"), "", source, WORKFLOW_SOURCE, errors)
        nodes = doc.get("workflow_nodes", doc.get("schema"))
        if not isinstance(nodes, list) or not nodes:
            errors.append(ValidationError("the workflow has no workflow_nodes.", where=source,
                                          fix="list the nodes under workflow_nodes (awx.awx workflow_job_template format)."))
            return errors, warnings
        by_id, positions = self._check_nodes(nodes, source, errors, warnings, doc)
        errors.extend(_duplicate_identifiers(positions, source))
        errors.extend(_dangling_edges(nodes, by_id, source))
        errors.extend(_double_edges(by_id, source))
        for cycle in find_cycles(by_id):
            errors.append(ValidationError("the workflow has a cycle: %s." % cycle, where=source,
                                          fix="remove one of these edges; AWX workflows must be acyclic."))
        graph = WorkflowGraph(by_id, source, self.stage_playbooks(by_id), self.patterns)
        for rule in SAFETY_RULES:
            errors.extend(rule(graph))
        return errors, warnings

    def _check_nodes(self, nodes, source, errors, warnings, doc):
        """Each node checked; returns ({identifier: first node}, {identifier: [positions]})."""
        options = schema.workflow_node_options()
        by_id, positions = {}, {}
        for index, node in enumerate(nodes):
            where = node_where(source, node, index)
            node = _node_options(node, options, where, errors)
            if node is None:
                continue
            schema.check_options(node, options, "", where, NODE_SOURCE, errors)
            if is_absent(node):
                continue
            ident = node.get("identifier")
            if isinstance(ident, str) and ident:
                positions.setdefault(ident, []).append(index)
                by_id.setdefault(ident, node)
            self._check_node(node, where, source, errors, warnings, doc)
        return by_id, positions

    def stage_playbooks(self, by_id):
        """{identifier: playbook} of the job template nodes whose template the controller configuration defines."""
        out = {}
        for ident, node in by_id.items():
            if template_type(node) != "job_template" or self.controller is None:
                continue
            template = self.controller.templates.get(template_name(node))
            playbook = template.get("playbook") if isinstance(template, dict) else None
            if isinstance(playbook, str) and playbook:
                out[ident] = playbook
        return out

    def _check_node(self, node, where, source, errors, warnings, doc):
        checked = _node_template(node, where, errors)
        if checked is None:
            return
        kind, name = checked
        if kind == "workflow_approval":
            errors.extend(_approval_timeout(node["unified_job_template"], name, where))
            errors.extend(_approval_prompts(node, name, where))
        elif kind == "workflow_job_template":
            warnings.extend(self._known_workflow(name, where))
        elif kind == "job_template":
            self._check_job_node(node, name, where, errors, warnings, doc)

    def _known_workflow(self, name, where):
        if name not in self.known_workflows and (self.controller is None or name not in self.controller.workflows):
            yield ValidationError("workflow job template '%s' is not among the validated workflows." % name,
                                  where=where, fix="validate it together with this one.")

    def _check_job_node(self, node, name, where, errors, warnings, doc):
        """A job template node: its template exists, grants the node's prompts, and is itself sound."""
        if self.controller is None:
            errors.append(ValidationError("job template '%s' cannot be checked: no controller configuration." % name, where=where,
                                          fix="pass --controller-config with the controller_templates of the project."))
            return
        template = self.controller.templates.get(name)
        if template is None:
            errors.append(ValidationError("job template '%s' is not in the controller configuration (%s)." % (name, self.controller.path),
                                          where=where, fix="add it to controller_templates or correct the name (known: %s)." % (
                                              ", ".join(sorted(self.controller.templates)) or "none")))
            return
        self._check_prompts(node, template, name, where, errors)
        errors.extend(_survey_extra_data(node, template, name, where))
        for field in ("limit", "inventory", "job_tags", "skip_tags", "scm_branch"):
            if doc.get(field) not in (None, "", {}) and not template.get(NODE_PROMPTS[field]):
                warnings.append(ValidationError("the workflow sets %s, but job template '%s' does not prompt for it (%s); AWX "
                                                "ignores it for this node." % (field, name, NODE_PROMPTS[field]), where=where,
                                                fix="set %s: true on the job template." % NODE_PROMPTS[field]))
        self._check_template(name, template, errors)

    def _check_prompts(self, node, template, name, where, errors):
        documented = schema.module_options("job_template")
        for field, ask in NODE_PROMPTS.items():
            if ask not in documented or node.get(field) in (None, "", {}):
                continue
            granted = template.get(ask) is True or (field == "extra_data" and template.get("survey_enabled") is True)
            if not granted:
                errors.append(ValidationError("the node sets %s, but job template '%s' does not prompt for it (%s is not true): "
                                              "AWX refuses to create the node (HTTP 400, Field is not configured to prompt on "
                                              "launch)." % (field, name, ask), where=where,
                                              fix="set %s: true on job template '%s' in the controller configuration, or drop %s "
                                                  "from the node." % (ask, name, field)))
        related = node.get("related") if isinstance(node.get("related"), dict) else {}
        for field, ask in RELATED_PROMPTS.items():
            if ask in documented and related.get(field) and template.get(ask) is not True:
                errors.append(ValidationError("the node sets related.%s, but job template '%s' does not prompt for it (%s is not "
                                              "true): AWX refuses to create the node (HTTP 400)." % (field, name, ask), where=where,
                                              fix="set %s: true on job template '%s', or drop related.%s." % (ask, name, field)))

    def _check_template(self, name, template, errors):
        if name in self._checked_templates:
            return
        self._checked_templates.add(name)
        where = self.controller.template_where(name)
        playbook = template.get("playbook")
        if not isinstance(playbook, str) or not playbook:
            errors.append(ValidationError("job template '%s' has no playbook." % name, where=where,
                                          fix="set playbook: to the project-relative path, e.g. playbooks/deploy.yml."))
        elif not os.path.isfile(os.path.join(self.controller.project_dir, playbook)):
            errors.append(ValidationError("playbook '%s' of job template '%s' does not exist in the project (%s)." % (
                playbook, name, self.controller.project_dir), where=where,
                fix="correct the playbook path (relative to the project root) or pass --project-dir."))
        for field, key in (("project", "controller_projects"), ("inventory", "controller_inventories")):
            value = template.get(field)
            known = self.controller.objects[key]
            if known and isinstance(value, str) and value not in known:
                errors.append(ValidationError("%s '%s' of job template '%s' is not in %s (known: %s)." % (
                    field, value, name, key, ", ".join(sorted(known))), where=where, fix="define it under %s or correct the name." % key))


class WorkflowGraph:
    """A workflow's nodes as a graph for the safety rules: edges both ways, and each job template node's stage role."""

    def __init__(self, by_id, source, playbooks, patterns):
        self.by_id = by_id
        self.source = source
        self.playbooks = playbooks
        self.patterns = patterns
        self.roles = {}
        for ident, playbook in playbooks.items():
            base = os.path.basename(playbook)
            role = next((role for role in STAGE_ROLES if _matches(base, patterns.get(role, ()))), None)
            if role:
                self.roles[ident] = role
        self.parents = {ident: [] for ident in by_id}
        for ident in by_id:
            for _kind, child in self.children(ident):
                self.parents[child].append(ident)

    def children(self, ident, kinds=EDGES):
        """[(edge kind, child)] of a node, for the edges that resolve."""
        return [(kind, child) for kind, child, _pos in edges_of(self.by_id[ident]) if kind in kinds and child in self.by_id]

    def of_role(self, role):
        return [ident for ident in self.by_id if self.roles.get(ident) == role]

    def where(self, ident):
        return "%s: node '%s'" % (self.source, ident)

    def label(self, ident):
        """The node for messages: deploy node 'x' (job template 'y', playbook z)."""
        return "%s node '%s' (job template '%s', playbook %s)" % (
            self.roles.get(ident, "the"), ident, template_name(self.by_id[ident]), self.playbooks.get(ident))

    def playbook_hint(self, role):
        return "a job template whose playbook file name contains %s" % " or ".join(repr(p) for p in self.patterns[role])

    def waits_for_all(self, ident):
        """True when the node waits for all of its several parents: AWX skips it when any other parent took another edge."""
        return self.by_id[ident].get("all_parents_must_converge") is True and len(set(self.parents[ident])) > 1

    def descendants(self, starts):
        seen, stack = set(), [child for ident in starts for _kind, child in self.children(ident)]
        while stack:
            ident = stack.pop()
            if ident not in seen:
                seen.add(ident)
                stack.extend(child for _kind, child in self.children(ident))
        return seen

    def walk(self, ident, kinds, visitor):
        """Breadth-first from a node's edges of ``kinds``, each node once: ``visitor(node, path text)`` returns the edge kinds
        to follow on from that node."""
        queue = [(child, "%s -[%s]-> %s" % (ident, EDGE_LABELS[kind], child)) for kind, child in self.children(ident, kinds)]
        seen = set()
        while queue:
            node, path = queue.pop(0)
            if node in seen:
                continue
            seen.add(node)
            queue.extend((child, "%s -[%s]-> %s" % (path, EDGE_LABELS[kind], child))
                         for kind, child in self.children(node, visitor(node, path)))


def rule_failure_reaches_rollback(graph):
    """Every path from the failure of a deploy node (and of a verify node after a deploy) reaches a rollback node.

    The nodes in between are joined by always edges only: a node whose own outcome picks the next step (e.g. deploy
    failure -> verify -> rollback) would carry a failed deploy on as a success whenever that node passes.
    """
    guarded = graph.of_role("deploy")
    after_deploy = graph.descendants(guarded)
    guarded += [ident for ident in graph.of_role("verify") if ident in after_deploy]
    errors = []
    for ident in guarded:
        fix = ("point related.failure_nodes of '%s' straight at a rollback node (%s), and join any node in between with "
               "always_nodes only." % (ident, graph.playbook_hint("rollback")))
        if not graph.children(ident, ("failure_nodes", "always_nodes")):
            errors.append(ValidationError("%s has no failure or always edge, so no path from its failure reaches a rollback node." % graph.label(ident),
                                          where=graph.where(ident), fix=fix))
            continue

        def visitor(node, path, ident=ident, fix=fix):
            problem = _failure_path_problem(graph, node, path, graph.roles[ident])
            if problem is None:
                return () if graph.roles.get(node) == "rollback" else ("always_nodes",)
            errors.append(ValidationError("%s: %s" % (graph.label(ident), problem), where=graph.where(ident), fix=fix))
            return ()

        graph.walk(ident, ("failure_nodes", "always_nodes"), visitor)
    return errors


def _failure_path_problem(graph, node, path, failed_role):
    """Why a failure path may not go on at ``node``; None when it reached a rollback node or goes on by always edges."""
    role = graph.roles.get(node)
    if graph.waits_for_all(node):
        return ("its failure path %s reaches '%s', which waits for all its parents (all_parents_must_converge: true), so AWX "
                "skips it when another parent took a different edge." % (path, node))
    if role == "rollback":
        return None
    if role == "verify":
        return ("its failure path %s reaches verify node '%s' before any rollback node: a passing verify would take the failed "
                "change on to close as successful." % (path, node))
    if role == "close":
        return ("its failure path %s reaches close node '%s' before any rollback node: the failed change would be closed "
                "without being rolled back." % (path, node))
    if graph.children(node, ("success_nodes", "failure_nodes")):
        return ("its failure path %s depends on the outcome of '%s' before any rollback node: a successful '%s' would carry "
                "the failed %s on as a success." % (path, node, node, failed_role))
    if not graph.children(node, ("always_nodes",)):
        return "its failure path %s ends at '%s' without reaching a rollback node." % (path, node)
    return None


def _closes_before_verify(graph, ident):
    """[(close node, path)] reachable from a deploy node's success without passing a verify (or rollback) node."""
    closes = []

    def visit(node, path):
        role = graph.roles.get(node)
        if role == "close":
            closes.append((node, path))
        return () if role in ("verify", "rollback", "close") else EDGES

    graph.walk(ident, ("success_nodes", "always_nodes"), visit)
    return closes


def _verify_is_sure(graph, ident):
    """True when a verify node runs whenever the deploy node succeeds (reached through always edges only)."""
    found = []

    def visit(node, _path):
        if graph.waits_for_all(node):
            return ()
        if graph.roles.get(node) == "verify":
            found.append(node)
            return ()
        return () if graph.children(node, ("success_nodes", "failure_nodes")) else ("always_nodes",)

    graph.walk(ident, ("success_nodes", "always_nodes"), visit)
    return bool(found)


def rule_verify_follows_deploy(graph):
    """A verify node runs whenever a deploy node succeeds, and no close node follows that success except after a verify."""
    errors = []
    for ident in graph.of_role("deploy"):
        fix = ("route related.success_nodes of '%s' to a verify node (%s) and close only after it." % (
            ident, graph.playbook_hint("verify")))
        closes = _closes_before_verify(graph, ident)
        for node, path in closes:
            errors.append(ValidationError("%s: its success path %s reaches close node '%s' without a verify node in between: a "
                                          "change nobody verified would be closed as successful." % (graph.label(ident), path, node),
                                          where=graph.where(ident), fix=fix))
        if not closes and not _verify_is_sure(graph, ident):
            errors.append(ValidationError("%s: no verify node is sure to run when it succeeds." % graph.label(ident),
                                          where=graph.where(ident), fix=fix))
    return errors


def rule_no_unexpected_roots(graph):
    """Only the entry node may lack a parent: AWX starts every root node at launch, whatever the rest of the graph says."""
    errors, entries = [], []
    for ident in graph.by_id:
        if graph.parents[ident]:
            continue
        if graph.roles.get(ident) in STAGE_ROLES:
            errors.append(ValidationError(
                "%s has no parent: AWX starts every node without a parent at launch, so this %s would run at once, before "
                "assess, the gates and the deploy." % (graph.label(ident), graph.roles[ident]), where=graph.where(ident),
                fix="make '%s' a child of the node it must follow (e.g. related.success_nodes of the deploy node for a verify), "
                    "or remove it." % ident))
        else:
            entries.append(ident)
    if graph.of_role("deploy"):
        for ident in entries[1:]:
            errors.append(ValidationError(
                "node '%s' has no parent: AWX starts every node without a parent at launch, so it would run at once beside "
                "the entry node '%s'; a governed change has one entry." % (ident, entries[0]), where=graph.where(ident),
                fix="make '%s' a child of the node it must follow, or remove it." % ident))
    return errors


# The graph rules that keep a failed or unverified change from closing as successful (docs/workflows.md).
SAFETY_RULES = (rule_failure_reaches_rollback, rule_verify_follows_deploy, rule_no_unexpected_roots)


def find_cycles(by_id):
    """Every distinct cycle as text 'a -[success]-> b -[failure]-> a' (iterative DFS over identifiers)."""
    state, found, seen_keys = {}, [], set()
    for root in by_id:
        if state.get(root):
            continue
        stack = [(root, iter(edges_of(by_id[root])))]
        path, labels = [root], []
        state[root] = 1
        while stack:
            ident, children = stack[-1]
            advanced = False
            for kind, child, _pos in children:
                if child not in by_id:
                    continue
                if state.get(child) == 1:
                    start = path.index(child)
                    members = path[start:]
                    key = frozenset(members)
                    if key not in seen_keys:
                        seen_keys.add(key)
                        cycle_labels = labels[start:] + [EDGE_LABELS[kind]]
                        text = members[0]
                        for member, label in zip(members[1:] + [child], cycle_labels):
                            text += " -[%s]-> %s" % (label, member)
                        found.append(text)
                    continue
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    labels.append(EDGE_LABELS[kind])
                    stack.append((child, iter(edges_of(by_id[child]))))
                    advanced = True
                    break
            if not advanced:
                state[ident] = 2
                stack.pop()
                path.pop()
                if labels:
                    labels.pop()
    return found


def _approval_templates(path, doc):
    """[(name, where)] of the approval templates a workflow document's nodes create."""
    nodes = doc.get("workflow_nodes", doc.get("schema"))
    out = []
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if template_type(node) == "workflow_approval" and not is_absent(node) and isinstance(template_name(node), str):
            out.append((template_name(node), node_where(path, node, index)))
    return out


def _config_workflows(controller, docs):
    """The given workflow documents and those of the controller_workflows files not among them: ([(path, doc)], errors).
    A given file stands for the controller_workflows entry of its name (a copy being edited elsewhere); an entry whose file
    is missing, or whose workflow has another name, is an error."""
    found = {os.path.abspath(str(path)): (str(path), doc) for path, doc in docs}
    given = {doc.get("name") for _path, doc in docs}
    errors = []
    for name, (rel, where) in sorted((controller.workflow_files if controller else {}).items()):
        path = os.path.abspath(os.path.join(controller.project_dir, rel))
        if name in given and path not in found:
            continue
        if path not in found:
            try:
                found[path] = (rel, load_workflow(path))
            except GovernedChangeError:
                errors.append(ValidationError("the file %s of workflow '%s' cannot be read as a workflow template (%s)." % (rel, name, path),
                                              where=where, fix="correct file: (a path relative to the project root, %s)." % controller.project_dir))
                continue
        if found[path][1].get("name") != name:
            errors.append(ValidationError("controller_workflows names '%s', but its file %s defines workflow '%s': the load creates "
                                          "the file's name." % (name, rel, found[path][1].get("name")), where=where,
                                          fix="use one name in both places."))
    return list(found.values()), errors


def name_clashes(controller, docs):
    """Names a controller must tell apart, each used once: the objects of every controller_* list within their list (a
    controller finds credentials, notification templates, ... by name), and job, workflow and approval templates together
    (a workflow node names its template by name; two approval nodes with one name share, and rewrite, one template)."""
    workflows, errors = _config_workflows(controller, docs)
    for key, names in sorted((controller.names if controller else {}).items()):
        for label, places in sorted(names.items()):
            if key not in CONTROLLER_KINDS and len(places) > 1:  # CONTROLLER_KINDS: reported when loaded
                errors.append(ValidationError("%s '%s' is defined %d times: %s." % (key, label, len(places), " and ".join(places)),
                                              where=places[-1], fix="give each object a name of its own; a controller finds "
                                                                    "it by name, so a second definition rewrites the first."))
    templates = {}
    for label, places in sorted((controller.names if controller else {}).get("controller_templates", {}).items()):
        templates.setdefault(label, []).append(("job template", places[0]))
    for path, doc in workflows:
        if isinstance(doc.get("name"), str):
            templates.setdefault(doc["name"], []).append(("workflow job template", path))
        for label, where in _approval_templates(path, doc):
            templates.setdefault(label, []).append(("approval template", where))
    for label, places in sorted(templates.items()):
        if len(places) > 1:
            errors.append(ValidationError(
                "template name '%s' is used %d times: %s. A controller finds job, workflow and approval templates by name, so "
                "one load binds or rewrites the other's template (an approval would show the other workflow's description)." % (
                    label, len(places), " and ".join("%s (%s)" % place for place in places)), where=places[-1][1],
                fix="give each template a name of its own (an approval node: '<workflow name> approval')."))
    return errors


def validate_files(paths, controller_config=None, project_dir=None, deploy_patterns=DEFAULT_DEPLOY_PATTERNS,
                   rollback_patterns=DEFAULT_ROLLBACK_PATTERNS, verify_patterns=DEFAULT_VERIFY_PATTERNS,
                   close_patterns=DEFAULT_CLOSE_PATTERNS):
    """Validate workflow template files; returns {ok, files: [{path, name, nodes, errors, warnings}], errors, warnings}.

    ``controller_config`` defaults to ``<parent of the first file's directory>/controller``; ``project_dir`` defaults to
    the directory holding the controller configuration directory (the project root).
    """
    report = {"ok": False, "files": [], "errors": [], "warnings": [], "controller_config": None, "project_dir": None}
    if not paths:
        report["errors"].append(ValidationError("no workflow template file was given.", where="validate",
                                                fix="pass one or more workflow_templates/*.yml files.").as_dict())
        return report
    controller = None
    config_path = controller_config or find_controller_config(paths[0])
    if config_path:
        try:
            controller = ControllerConfig(config_path, project_dir=project_dir)
        except GovernedChangeError as exc:
            report["errors"].append(exc.as_dict())
        else:
            report["controller_config"] = config_path
            report["project_dir"] = controller.project_dir
            report["errors"].extend(exc.as_dict() for exc in controller.errors)
    docs = []
    for path in paths:
        try:
            docs.append((path, load_workflow(path)))
        except GovernedChangeError as exc:
            report["files"].append({"path": path, "name": None, "nodes": 0, "errors": [exc.as_dict()], "warnings": []})
    validator = Validator(controller, deploy_patterns, rollback_patterns,
                          known_workflows=[doc.get("name") for _path, doc in docs if isinstance(doc.get("name"), str)],
                          verify_patterns=verify_patterns, close_patterns=close_patterns)
    for path, doc in docs:
        try:
            errors, warnings = validator.validate(doc, str(path))
        except GovernedChangeError as exc:  # awx.awx missing or its documentation unreadable
            errors, warnings = [exc], []
        nodes = doc.get("workflow_nodes")
        report["files"].append({"path": path, "name": doc.get("name"), "nodes": len(nodes) if isinstance(nodes, list) else 0,
                                "errors": [e.as_dict() for e in errors], "warnings": [w.as_dict() for w in warnings]})
    for item in report["files"]:
        report["errors"].extend(item["errors"])
        report["warnings"].extend(item["warnings"])
    report["errors"].extend(exc.as_dict() for exc in name_clashes(controller, docs))
    report["ok"] = not report["errors"]
    return report
