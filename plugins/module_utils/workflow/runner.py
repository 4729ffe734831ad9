# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local runner for AWX workflow templates: ansible-runner per node, AWX's DAG semantics (a test/CI tool, not a controller)."""

from __future__ import annotations

import concurrent.futures
import getpass
import json
import os
import re
import select
import shutil
import signal
import sys
import threading
import time

from ansible_collections.governed.change.plugins.module_utils.docfile import load_document, parse_yaml_text
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, MissingLibrary, ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import safe_join
from ansible_collections.governed.change.plugins.module_utils.ledger import redact
from ansible_collections.governed.change.plugins.module_utils.workflow import validate as wfv
from ansible_collections.governed.change.plugins.module_utils import progress
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, utc_now as clock_now

try:
    import ansible_runner
except ImportError:  # pragma: no cover - guarded so the module imports without ansible-runner
    ansible_runner = None

FINISHED = ("successful", "failed", "canceled")
FAILED = ("failed", "canceled")  # AWX: error and canceled count as failure
ANSWERS = ("approve", "deny", "timeout")
RUNNER_STATUS = {"successful": "successful", "failed": "failed", "timeout": "failed", "canceled": "canceled", "error": "failed"}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def node_processes(private_data_dir):
    """PIDs of the processes started for one node: their command line names the node's private data dir."""
    marker = os.path.join(private_data_dir, "")
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # not Linux: nothing to look at
        return pids
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(os.path.join("/proc", entry, "cmdline"), "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry))
    return pids


def reap(private_data_dir):
    """Kill what a timed-out or canceled node left behind.

    ansible-runner kills the job's process group, but ansible's workers start their own sessions (setsid), so a worker
    blocked in a task (a pause, a hung connection) outlives it, reparented to init. Only processes whose command line
    names this node's private data dir are touched.
    """
    killed = []
    for pid in node_processes(private_data_dir):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            continue
    return killed


def _iso(moment):
    """A node's or the run's start/end (epoch seconds) in the one timestamp format (clock.iso_z)."""
    return iso_z(moment)


def _fires(status, kind):
    """Does an edge of ``kind`` fire from a parent that ended with ``status``?"""
    if status == "successful":
        return kind in ("success_nodes", "always_nodes")
    if status in FAILED:
        return kind in ("failure_nodes", "always_nodes")
    return False


def parse_answers(items, answers_file=None):
    """{node identifier or approval name: approve|deny|timeout} from NODE=ANSWER items and an optional YAML/JSON file."""
    answers = {}
    if answers_file:
        doc = load_document(answers_file, "approval answers")
        if not isinstance(doc, dict):
            raise ValidationError("the answers file must map node identifiers to approve, deny or timeout.", where=answers_file,
                                  fix="write e.g. approve_change: approve")
        answers.update({str(key): value for key, value in doc.items()})
    for item in items or []:
        node, sep, answer = str(item).partition("=")
        if not sep or not node.strip():
            raise ValidationError("'%s' is not NODE=ANSWER." % item, where="--approve", fix="write e.g. --approve approve_change=approve")
        answers[node.strip()] = answer.strip()
    for node, answer in answers.items():
        if answer not in ANSWERS:
            raise ValidationError("the answer for %s is %r, not approve, deny or timeout." % (node, answer), where="--approve",
                                  fix="answer approve, deny or timeout.")
    return answers


def parse_extra_vars(items):
    """Launch-time extra vars from ``@file`` (YAML/JSON mapping) and ``key=value`` items (later ones win)."""
    out = {}
    for item in items or []:
        if isinstance(item, dict):
            out.update(item)
            continue
        text = str(item)
        if text.startswith("@"):
            doc = load_document(text[1:], "extra vars")
            if not isinstance(doc, dict):
                raise ValidationError("the extra vars file is not a mapping.", where=text[1:], fix="write key: value lines.")
            out.update(doc)
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValidationError("'%s' is neither @FILE nor KEY=VALUE." % text, where="--extra-vars", fix="write e.g. -e color=blue")
        out[key.strip()] = value
    return out


# The job fields a node may prompt for that the local runner applies (AWX RunJob.build_args turns them into
# ansible-playbook options); each reaches the job only when the job template asks for it (validate.NODE_PROMPTS).
JOB_PROMPTS = ("job_type", "job_tags", "skip_tags", "diff_mode", "verbosity", "forks", "timeout", "scm_branch", "limit", "inventory")
# Prompts a workflow job template carries itself; they beat the node's (AWX WorkflowJobNode.get_job_kwargs).
WORKFLOW_PROMPTS = ("limit", "inventory", "scm_branch", "job_tags", "skip_tags")
_INTEGER_FIELDS = ("verbosity", "forks", "timeout")
# ansible_runner.run keyword of each launch field that is an option of its own
_RUNNER_OPTIONS = (("limit", "limit"), ("job_tags", "tags"), ("skip_tags", "skip_tags"), ("verbosity", "verbosity"),
                   ("forks", "forks"), ("timeout", "timeout"))


def _prompt_value(field, node, workflow):
    """The prompted value of ``field``: the workflow's when it sets one, else the node's (an inventory by its name)."""
    value = workflow.get(field) if field in WORKFLOW_PROMPTS else None
    if value in (None, "", {}):
        value = node.get(field)
    if isinstance(value, dict):
        value = value.get("name")
    return None if value in (None, "", False, 0) else value  # awx.awx sends a node field only when it is set (truthy)


def _launch_value(field, value):
    if value in (None, ""):
        return None
    if field in _INTEGER_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError("%s is %r, not an integer." % (field, value), where=field, fix="write %s as a whole number." % field) from None
    return bool(value) if field == "diff_mode" else value


def launch_fields(node, workflow, template):
    """The job's launch fields: the template's own, replaced by a prompt (workflow over node) the template asks for."""
    out = {}
    for field in JOB_PROMPTS:
        value = _prompt_value(field, node, workflow)
        if value is None or template.get(wfv.NODE_PROMPTS[field]) is not True:
            value = template.get(field)
        out[field] = _launch_value(field, value)
    return out


def runner_options(launch):
    """ansible_runner.run keyword arguments for a job's launch fields (AWX RunJob.build_args: --check, --diff, -l, -t, ...)."""
    options = {key: launch[field] for field, key in _RUNNER_OPTIONS if launch.get(field)}
    flags = (["--check"] if launch.get("job_type") == "check" else []) + (["--diff"] if launch.get("diff_mode") else [])
    if flags:
        options["cmdline"] = " ".join(flags)
    return options


def vars_mapping(value, what):
    """extra_vars given as a mapping or as YAML/JSON text; {} when unset."""
    if isinstance(value, str):
        value = parse_yaml_text(value, what)
    return dict(value or {})


def _survey_elements(holder):
    spec = holder.get("survey_spec") if holder.get("survey_enabled") is True else None
    elements = spec.get("spec") if isinstance(spec, dict) else None
    return [element for element in elements or [] if isinstance(element, dict) and element.get("variable")]


def survey_defaults(holder):
    """{variable: default} of a template's enabled survey (AWX _update_unified_job_kwargs puts them above extra_vars)."""
    return {element["variable"]: element["default"] for element in _survey_elements(holder) if element.get("default") is not None}


def survey_variables(holder):
    """The variables an enabled survey asks for."""
    return {element["variable"] for element in _survey_elements(holder)}


def accepted_extra_data(node, template):
    """The node's extra_data the template accepts: all with ask_variables_on_launch, else only its survey's variables (AWX
    _accept_or_ignore_variables)."""
    data = node.get("extra_data") if isinstance(node.get("extra_data"), dict) else {}
    if template.get("ask_variables_on_launch") is True:
        return dict(data)
    allowed = survey_variables(template)
    return {key: value for key, value in data.items() if key in allowed}


class WorkflowRunner:
    """Runs one workflow template; ``run()`` returns the run record (and writes run.json + summary.txt in the run dir)."""

    def __init__(self, workflow_path, controller_config=None, project_dir=None, inventory=None, extra_vars=None, answers=None,
                 run_dir=None, parallel=4, ledger=None, policy=None, launcher=None, poll_interval=2.0, interactive=None,
                 prompt_in=None, prompt_out=None, validate=True, deploy_patterns=wfv.DEFAULT_DEPLOY_PATTERNS,
                 rollback_patterns=wfv.DEFAULT_ROLLBACK_PATTERNS, ansible_playbook=None, verify_patterns=wfv.DEFAULT_VERIFY_PATTERNS,
                 close_patterns=wfv.DEFAULT_CLOSE_PATTERNS, on_node=None):
        self.workflow_path = str(workflow_path)
        # on_node(line): called with a progress line (module_utils/progress.node_line) as each node starts and ends
        self.on_node = on_node
        self.node_lock = threading.Lock()
        self.nodes_done = 0
        self.doc = wfv.load_workflow(self.workflow_path)
        config_path = controller_config or wfv.find_controller_config(self.workflow_path)
        if not config_path:
            raise ValidationError("no controller configuration was found for the workflow.", where=self.workflow_path,
                                  fix="pass --controller-config (the controller_templates that map job templates to playbooks).")
        self.controller = wfv.ControllerConfig(config_path, project_dir=project_dir)
        if validate:
            report = wfv.validate_files([self.workflow_path], controller_config=config_path, project_dir=self.controller.project_dir,
                                        deploy_patterns=deploy_patterns, rollback_patterns=rollback_patterns,
                                        verify_patterns=verify_patterns, close_patterns=close_patterns)
            if not report["ok"]:
                first = report["errors"][0]
                raise ValidationError("the workflow does not validate (%d problem(s)); first: %s" % (len(report["errors"]), first["message"]),
                                      where=self.workflow_path, fix="run `governed-change workflow validate` and fix every problem.")
        self.inventory = self._parse_inventory(inventory)
        self.launch_vars = dict(extra_vars or {})
        self.answers = dict(answers or {})
        self.parallel = max(1, int(parallel or 1))
        self.ledger, self.policy = ledger, policy
        self.launcher = launcher or os.environ.get("GOVERNED_LAUNCHER") or getpass.getuser()
        self.poll_interval = float(poll_interval)
        self.interactive = sys.stdin.isatty() if interactive is None else bool(interactive)
        self.prompt_in, self.prompt_out = prompt_in or sys.stdin, prompt_out or sys.stderr
        self.prompt_lock = threading.Lock()
        self.cancel = threading.Event()
        self.ansible_playbook = ansible_playbook or self._find_ansible_playbook()
        stamp = clock_now().strftime("%Y%m%dT%H%M%S%fZ")
        self.run_id = "%s-%s" % (_SAFE.sub("-", str(self.doc.get("name") or "workflow")).strip("-") or "workflow", stamp)
        self.run_dir = os.path.abspath(run_dir or os.path.join("out", "workflow-runs", self.run_id))
        self._build_graph()

    # -- set-up ---------------------------------------------------------------------------------------
    @staticmethod
    def _parse_inventory(items):
        """--inventory PATH (every node) and NAME=PATH (nodes whose job template uses inventory NAME)."""
        out = {"*": None, "by_name": {}}
        for item in items or []:
            name, sep, path = str(item).rpartition("=")
            if sep and name:
                out["by_name"][name] = os.path.abspath(path)
            else:
                out["*"] = os.path.abspath(str(item))
        return out

    @staticmethod
    def _find_ansible_playbook():
        """ansible-playbook beside this Python (the venv's), else the first on PATH."""
        beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        return beside if os.path.isfile(beside) else (shutil.which("ansible-playbook") or beside)

    def _build_graph(self):
        # awx.awx deletes a node with state: absent instead of creating it: it is not part of the workflow
        nodes = [node for node in self.doc.get("workflow_nodes") or self.doc.get("schema") or [] if node.get("state") != "absent"]
        self.order = [node["identifier"] for node in nodes]
        self.nodes = {node["identifier"]: node for node in nodes}
        self.parents = {ident: [] for ident in self.order}
        self.children = {ident: [] for ident in self.order}
        for ident in self.order:
            for kind, child, _pos in wfv.edges_of(self.nodes[ident]):
                if child in self.nodes:
                    self.parents[child].append((ident, kind))
                    self.children[ident].append((kind, child))
        self.state = {}
        for ident in self.order:
            node = self.nodes[ident]
            self.state[ident] = {"identifier": ident, "type": wfv.template_type(node), "job_template": wfv.template_name(node),
                                 "status": None, "timed_out": False, "start": None, "end": None, "elapsed": None, "rc": None,
                                 "artifacts": {}, "ancestor_artifacts": {}, "private_data_dir": None, "extra_vars": None,
                                 "limit": None, "launch": None, "explanation": None, "approval": None,
                                 "all_parents_must_converge": node.get("all_parents_must_converge") is True}
        unsupported = sorted({s["type"] for s in self.state.values() if s["type"] not in ("job_template", "workflow_approval")})
        if unsupported:
            raise ValidationError("the local runner runs job_template and workflow_approval nodes only (found %s)." % ", ".join(unsupported),
                                  where=self.workflow_path, fix="run this workflow on a controller.")
        for ident in self.order:
            if self.state[ident]["type"] == "job_template":
                self._job_plan(ident)  # fail before anything runs when a playbook or inventory cannot be resolved

    def _job_plan(self, ident):
        node = self.nodes[ident]
        name = wfv.template_name(node)
        template = self.controller.templates.get(name)
        if template is None:
            raise ValidationError("job template '%s' is not in the controller configuration." % name, where="node '%s'" % ident,
                                  fix="add it to controller_templates.")
        playbook = os.path.join(self.controller.project_dir, template.get("playbook") or "")
        if not template.get("playbook") or not os.path.isfile(playbook):
            raise ValidationError("the playbook of job template '%s' does not exist (%s)." % (name, playbook), where="node '%s'" % ident,
                                  fix="correct playbook: in the controller configuration or pass --project-dir.")
        launch = launch_fields(node, self.doc, template)
        inventory_name = launch["inventory"]
        inventory = self.inventory["by_name"].get(inventory_name) or self.inventory["*"] or self.controller.inventory_path(inventory_name)
        if not inventory:
            raise ValidationError("no inventory file for job template '%s' (inventory %r)." % (name, inventory_name), where="node '%s'" % ident,
                                  fix="pass --inventory PATH (or NAME=PATH), or add a controller_inventory_sources entry with "
                                      "inventory: %s and source_path: <file in the project>." % inventory_name)
        if not os.path.exists(inventory):
            raise ValidationError("the inventory %s of job template '%s' does not exist." % (inventory, name), where="node '%s'" % ident,
                                  fix="check --inventory or the inventory source's source_path.")
        return {"template": template, "playbook": playbook, "inventory": inventory, "inventory_name": inventory_name, "launch": launch}

    # -- AWX semantics --------------------------------------------------------------------------------
    def _is_root(self, ident):
        return not self.parents[ident]

    def _relevant_parents_finished(self, ident):
        """AWX _are_relevant_parents_finished: every parent not marked do-not-run has finished."""
        return all(self.state[p]["status"] == "do_not_run" or self.state[p]["status"] in FINISHED for p, _kind in self.parents[ident])

    def _all_parents_met_criteria(self, ident):
        """AWX _all_parents_met_convergence_criteria: each finished parent reaches this node by a matching or always edge."""
        for parent, _kind in self.parents[ident]:
            status = self.state[parent]["status"]
            if status in FINISHED:
                kinds = {k for p, k in self.parents[ident] if p == parent}
                if not any(_fires(status, kind) for kind in kinds):
                    return False
        return True

    def _should_mark_dnr_any(self, ident):
        """AWX _are_all_nodes_dnr_decided + _should_mark_node_dnr for an ANY-convergence node."""
        for parent, _kind in self.parents[ident]:
            status = self.state[parent]["status"]
            if status is None:
                return False  # undecided parent
        for parent, kind in self.parents[ident]:
            status = self.state[parent]["status"]
            if status == "do_not_run":
                continue
            if status not in FINISHED:
                return False  # running: its edge may still fire
            if _fires(status, kind):
                return False
        return True

    def _mark_dnr(self):
        """AWX mark_dnr_nodes: one pass in topological order, so do-not-run propagates down a chain."""
        for ident in self._topological():
            state = self.state[ident]
            if state["status"] is not None or self._is_root(ident):
                continue
            if state["all_parents_must_converge"]:
                if any(self.state[p]["status"] == "do_not_run" for p, _k in self.parents[ident]) or not self._all_parents_met_criteria(ident):
                    self._set_dnr(ident)
            elif self._should_mark_dnr_any(ident):
                self._set_dnr(ident)

    def _set_dnr(self, ident):
        self.state[ident]["status"] = "do_not_run"
        self.state[ident]["explanation"] = "no edge from a parent fired" if not self.state[ident]["all_parents_must_converge"] else \
            "all_parents_must_converge: not every parent reached this node by a matching edge"
        self._announce("end", ident)

    def _runnable(self, ident):
        """AWX bfs_nodes_to_run: roots; ANY nodes reached by a fired edge once relevant parents finished; ALL nodes when all met."""
        if self.state[ident]["status"] is not None:
            return False
        if self._is_root(ident):
            return True
        if not self._relevant_parents_finished(ident):
            return False
        if self.state[ident]["all_parents_must_converge"]:
            return self._all_parents_met_criteria(ident)
        return any(_fires(self.state[p]["status"], kind) for p, kind in self.parents[ident])

    def _topological(self):
        indegree = {ident: len({p for p, _k in self.parents[ident]}) for ident in self.order}
        ready = [ident for ident in self.order if indegree[ident] == 0]
        out = []
        while ready:
            ident = ready.pop(0)
            out.append(ident)
            for child in dict.fromkeys(c for _k, c in self.children[ident]):
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        return out

    def _ancestor_artifacts(self, ident):
        """AWX get_job_kwargs: parents in order, each parent's ancestor artifacts then its own (closer wins)."""
        merged = {}
        for parent in dict.fromkeys(p for p, _k in self.parents[ident]):
            merged.update(self.state[parent]["ancestor_artifacts"])
            merged.update(self.state[parent]["artifacts"])
        merged.pop("_ansible_no_log", None)
        return merged

    def _extra_vars(self, ident, template=None, launch=None):
        """AWX precedence, lowest first: job template extra_vars < its survey defaults < node extra_data (what the template
        accepts) < ancestor artifacts < the workflow's variables < AWX's meta variables."""
        out = {}
        if template is not None:
            out.update(vars_mapping(template.get("extra_vars"), "job template %s extra_vars" % template.get("name")))
            out.update(survey_defaults(template))
            out.update(accepted_extra_data(self.nodes[ident], template))
        artifacts = self._ancestor_artifacts(ident)
        self.state[ident]["ancestor_artifacts"] = artifacts
        out.update(artifacts)
        out.update(self._workflow_vars())
        out.update(self._meta_vars(template, launch))
        return out

    def _workflow_vars(self):
        """The workflow job's extra vars: the workflow's extra_vars < its survey defaults < launch vars."""
        out = vars_mapping(self.doc.get("extra_vars"), "workflow %s extra_vars" % self.doc.get("name"))
        out.update(survey_defaults(self.doc))
        out.update(self.launch_vars)
        return out

    def _meta_vars(self, template, launch):
        """AWX's awx_*/tower_* variables (Job.awx_meta_vars); they override every other extra var, so no variable can pose
        as the launcher."""
        meta = {"user_name": self.launcher, "workflow_job_name": self.doc.get("name")}
        if template is not None:
            meta["job_template_name"] = template.get("name")
        if launch and launch.get("scm_branch"):
            meta["job_scm_branch"] = launch["scm_branch"]
        out = {"%s_%s" % (prefix, key): value for prefix in ("awx", "tower") for key, value in meta.items()}
        out["governed_workflow_run"] = self.run_id
        return out

    # -- execution ------------------------------------------------------------------------------------
    def run(self):
        """Run the workflow to the end; returns the run record."""
        if ansible_runner is None:
            raise MissingLibrary("ansible-runner", "to run workflow nodes locally")
        os.makedirs(self.run_dir, exist_ok=True)
        started = time.time()
        status = "successful"
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="wf-node") as pool:
            futures = {}
            try:
                self._run_nodes(pool, futures)
            except KeyboardInterrupt:
                self.cancel.set()
                status = "canceled"
                self._drain_canceled(futures)
        self._mark_never_ran()
        unhandled = self._unhandled_failures()
        if status != "canceled" and unhandled:
            status = "failed"
        record = self._run_record(status, started, time.time(), unhandled)
        self._write_run_record(record)
        return record

    def _run_nodes(self, pool, futures):
        """Start every runnable node (at most ``parallel`` at once) and collect them until none is left to run."""
        while True:
            self._mark_dnr()
            if not self.cancel.is_set():
                self._start_runnable(pool, futures)
            if not futures:
                return
            done, _pending = concurrent.futures.wait(list(futures), return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                self._collect(futures.pop(future), future, "failed", "the runner failed to run the node: %s")

    def _start_runnable(self, pool, futures):
        for ident in self.order:
            if len(futures) >= self.parallel:
                return  # bounded parallelism: the rest start when a slot frees (start times stay true)
            if self._runnable(ident):
                futures[pool.submit(self._execute, ident, self._prepare(ident))] = ident

    def _collect(self, ident, future, status, explanation):
        """A finished node's future: a node that raised ends with ``status``."""
        try:
            future.result()
        except Exception as exc:  # pylint: disable=broad-except  # a node that raised is a failed node
            self._finish(ident, status, explanation=explanation % exc)

    def _drain_canceled(self, futures):
        for future in list(futures):
            self._collect(futures.pop(future), future, "canceled", "canceled: %s")

    def _mark_never_ran(self):
        for ident in self.order:
            if self.state[ident]["status"] is None:
                self._set_dnr(ident)
                if self.cancel.is_set():
                    self.state[ident]["explanation"] = "the workflow was canceled before this node ran"

    def _unhandled_failures(self):
        """The failed nodes without a failure or always path: they fail the workflow."""
        handled = {ident for ident in self.order
                   if any(kind in ("failure_nodes", "always_nodes") for kind, _c in self.children[ident])}
        return [ident for ident in self.order if self.state[ident]["status"] in FAILED if ident not in handled]

    def _run_record(self, status, started, ended, unhandled):
        return {"workflow": self.doc.get("name"), "file": os.path.abspath(self.workflow_path), "run_id": self.run_id,
                "run_dir": self.run_dir, "status": status, "start": _iso(started), "end": _iso(ended),
                "elapsed": round(ended - started, 3), "launcher": self.launcher, "parallel": self.parallel,
                "controller_config": self.controller.path, "project_dir": self.controller.project_dir,
                "failed_without_handler": unhandled,
                "explanation": ("no failure or always path for failed node(s): %s" % ", ".join(
                    "%s (%s)" % (ident, self.state[ident]["status"]) for ident in unhandled)) if unhandled else None,
                "nodes": [self._public(ident) for ident in self.order]}

    def _write_run_record(self, record):
        """run.json and summary.txt into the run directory; their paths into the record."""
        with open(os.path.join(self.run_dir, "run.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
        text = "\n".join(summary_lines(record)) + "\n"
        with open(os.path.join(self.run_dir, "summary.txt"), "w", encoding="utf-8") as handle:
            handle.write(text)
        record["summary_path"] = os.path.join(self.run_dir, "summary.txt")
        record["record_path"] = os.path.join(self.run_dir, "run.json")

    def _public(self, ident):
        state = dict(self.state[ident])
        state["extra_vars"] = redact(state["extra_vars"]) if state["extra_vars"] is not None else None
        return state

    def _prepare(self, ident):
        """Mark the node running and compute its launch (in the scheduler thread, parents are final)."""
        state = self.state[ident]
        state["status"] = "running"
        state["start_ts"] = time.time()
        state["start"] = _iso(state["start_ts"])
        self._announce("start", ident)
        if state["type"] == "workflow_approval":
            state["extra_vars"] = self._extra_vars(ident)  # what the approval is resolved with (launcher: awx_user_name)
            return {"extra_vars": state["extra_vars"]}
        plan = self._job_plan(ident)
        plan["extra_vars"] = self._extra_vars(ident, plan["template"], plan["launch"])
        plan["limit"], plan["timeout"] = plan["launch"]["limit"], plan["launch"]["timeout"] or 0
        state["extra_vars"], state["limit"], state["launch"] = plan["extra_vars"], plan["limit"], plan["launch"]
        return plan

    def _finish(self, ident, status, explanation=None, **extra):
        state = self.state[ident]
        state.update(extra)
        state["status"] = status
        if explanation and not state.get("explanation"):
            state["explanation"] = explanation
        end = time.time()
        state["end"] = _iso(end)
        state["elapsed"] = round(end - state.pop("start_ts", end), 3)
        self._announce("end", ident)

    def _announce(self, event, ident):
        """Hand a node's start/end line to on_node (from the scheduler and the node threads: one line at a time)."""
        if self.on_node is None:
            return
        with self.node_lock:
            if event == "end":
                self.nodes_done += 1
            self.on_node(progress.node_line(event, self.state[ident], self.nodes_done, len(self.order)))

    def _execute(self, ident, plan):
        if self.state[ident]["type"] == "workflow_approval":
            return self._approve(ident, plan)
        return self._job(ident, plan)

    def _job(self, ident, plan):
        # an identifier such as '..' must not put a node's files beside (or above) the other nodes'
        private = safe_join(self.run_dir, "nodes", _SAFE.sub("_", ident).lstrip(".") or "_", where="workflow node %s" % ident)
        os.makedirs(private, exist_ok=True)
        self.state[ident]["private_data_dir"] = private
        captured = {"artifacts": {}, "failures": []}

        def on_event(event):
            data = event.get("event_data") or {}
            if event.get("event") == "playbook_on_stats":
                captured["artifacts"] = data.get("artifact_data") or {}
            elif event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
                res = data.get("res") or {}
                captured["failures"].append("%s: %s" % (data.get("task") or "task", res.get("msg") or "failed"))
            elif event.get("event") == "runner_on_unreachable":
                captured["failures"].append("%s unreachable" % data.get("host"))
            return True

        kwargs = {"private_data_dir": private, "project_dir": self.controller.project_dir, "playbook": plan["playbook"],
                  "inventory": plan["inventory"], "extravars": plan["extra_vars"], "quiet": True, "ident": "job",
                  "envvars": {"PATH": os.pathsep.join([os.path.dirname(self.ansible_playbook), os.environ.get("PATH", "")])},
                  "event_handler": on_event, "cancel_callback": self.cancel.is_set,
                  "settings": {"suppress_ansible_output": True}}
        kwargs.update(runner_options(plan["launch"]))
        result = ansible_runner.run(**kwargs)
        if result.status in ("timeout", "canceled"):
            reap(private)
        status = RUNNER_STATUS.get(result.status, "failed")
        explanation = None
        if result.status == "timeout":
            explanation = "the job ran longer than its timeout (%ss)" % plan["timeout"]
        elif result.status == "error":
            explanation = "ansible-runner could not run the playbook (see %s)" % os.path.join(private, "artifacts", "job", "stdout")
        elif captured["failures"]:
            explanation = "; ".join(captured["failures"][:3])
        self._finish(ident, status, explanation=explanation, rc=result.rc, artifacts=captured["artifacts"],
                     stdout=os.path.join(private, "artifacts", "job", "stdout"))

    # -- approvals ------------------------------------------------------------------------------------
    def _approve(self, ident, plan):
        node = self.nodes[ident]
        ujt = node.get("unified_job_template") or {}
        timeout = ujt.get("timeout") or 0
        deadline = time.time() + timeout if timeout else None
        answer = self.answers.get(ident, self.answers.get(ujt.get("name")))
        context = self._ledger_context(plan["extra_vars"])
        approval = {"name": ujt.get("name"), "timeout": timeout, "decision": None, "source": None, "detail": None}
        self.state[ident]["approval"] = approval
        if answer is not None:
            approval.update(source="answer", decision=answer, detail="pre-supplied answer")
        elif context is not None:
            approval["source"] = "ledger"
            approval.update(self._poll_ledger(context, deadline))
        elif self.interactive:
            approval["source"] = "prompt"
            approval.update(self._prompt(ident, ujt, deadline))
        else:
            approval.update(decision="unresolved", detail="no --approve answer, no ledger context (governed_ledger, governed_change_id and "
                                                          "governed_policy in the workflow variables or --ledger/--policy) and stdin "
                                                          "is not a terminal")
        decision = approval["decision"]
        if decision == "approve":
            self._finish(ident, "successful", explanation="approved (%s)" % approval["source"])
        elif decision == "deny":
            self._finish(ident, "failed", explanation="denied (%s)" % approval["source"])
        elif decision == "timeout":
            self._finish(ident, "failed", explanation="the approval timed out after %ss" % timeout, timed_out=True)
        elif decision == "canceled":
            self._finish(ident, "canceled", explanation="the workflow was canceled while waiting for approval")
        else:
            self._finish(ident, "failed", explanation="the approval could not be resolved: %s" % approval["detail"])

    def _ledger_context(self, extra_vars):
        ledger = self.ledger or extra_vars.get("governed_ledger")
        policy = self.policy or extra_vars.get("governed_policy")
        change_id = extra_vars.get("governed_change_id")
        if not (ledger and policy and change_id):
            return None
        return {"ledger": ledger, "policy": policy, "change_id": change_id,
                "assessment_file": extra_vars.get("governed_assessment_file"),
                # the run's launcher, as the meta variable awx_user_name: no extra var, artifact or launch var poses as it
                "launcher": self.launcher}

    def _poll_ledger(self, context, deadline):
        while True:
            try:
                decision, detail = ledger_decision(context)
            except GovernedChangeError as exc:
                return {"decision": "unresolved", "detail": exc.render()}
            if decision is not None:
                return {"decision": decision, "detail": detail}
            if self.cancel.is_set():
                return {"decision": "canceled", "detail": detail}
            if deadline is not None and time.time() >= deadline:
                return {"decision": "timeout", "detail": "still pending at the timeout: %s" % detail}
            wait = self.poll_interval if deadline is None else max(0.0, min(self.poll_interval, deadline - time.time()))
            self.cancel.wait(wait)

    def _prompt(self, ident, ujt, deadline):
        with self.prompt_lock:
            out = self.prompt_out
            out.write("\nApproval node '%s': %s\n%s\n" % (ident, ujt.get("name"), ujt.get("description") or ""))
            while True:
                remaining = None if deadline is None else deadline - time.time()
                if remaining is not None and remaining <= 0:
                    out.write("\n(timed out)\n")
                    return {"decision": "timeout", "detail": "no answer at the terminal before the timeout"}
                out.write("approve or deny%s? " % ("" if remaining is None else " (%ds left)" % remaining))
                out.flush()
                try:
                    ready, _w, _x = select.select([self.prompt_in], [], [], remaining)
                except (OSError, ValueError, TypeError):
                    ready = [self.prompt_in]  # not selectable (tests): read directly
                if not ready:
                    continue
                line = self.prompt_in.readline()
                if not line:
                    return {"decision": "unresolved", "detail": "stdin closed before an answer"}
                text = line.strip().lower()
                if text in ("approve", "a", "y", "yes"):
                    return {"decision": "approve", "detail": "answered at the terminal"}
                if text in ("deny", "d", "n", "no"):
                    return {"decision": "deny", "detail": "answered at the terminal"}


def ledger_decision(context):
    """(approve|deny|None, detail) from the ledger's signed approvals and the policy's review requirements."""
    # imported here: the review/ledger cores are only needed when an approval is resolved from the ledger
    from ansible_collections.governed.change.plugins.module_utils.assessment_artifact import load as load_assessment
    from ansible_collections.governed.change.plugins.module_utils.ledger import ledger_exists, open_ledger
    from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
    from ansible_collections.governed.change.plugins.module_utils.review import review_gate

    if not ledger_exists(context["ledger"]):
        return None, "the ledger %s does not exist yet" % context["ledger"]
    policy = load_policy(context["policy"])
    ledger = open_ledger(context["ledger"])
    try:
        change = ledger.check_change(context["change_id"])  # a tampered ledger is refused with the seq, not read
        if change is None:
            return None, "change %s is not in the ledger yet" % context["change_id"]
        approvals = [a for a in ledger.approvals(context["change_id"]) if a.get("source") == "ssh"]
    finally:
        ledger.close()
    assessment = None
    if context.get("assessment_file") and os.path.isfile(context["assessment_file"]):
        assessment = load_assessment(context["assessment_file"])  # validated: version, keys, artifact sha256
    if not isinstance(assessment, dict):
        assessment = {"change_id": change["id"], "tier": change.get("tier"), "content_hash": change.get("content_hash")}
    author = assessment.get("author") or change.get("author")
    verdict = review_gate(policy, assessment, approvals, author, context["launcher"])
    reasons = "; ".join(verdict["reasons"])
    if verdict["denied_by"]:
        return "deny", reasons
    if verdict["decision"] == "pass":
        return "approve", reasons
    return None, reasons


def summary_lines(record):
    """A readable summary of a run record."""
    lines = ["workflow %s: %s in %.1f s (run %s)" % (record["workflow"], record["status"].upper(), record["elapsed"], record["run_id"])]
    width = max([len(n["identifier"]) for n in record["nodes"]] + [4])
    lines.append("  %-*s  %-11s %-9s %-13s %-13s %s" % (width, "node", "status", "elapsed", "start", "end", "template / detail"))
    for node in record["nodes"]:
        status = node["status"] + (" (timed out)" if node.get("timed_out") else "")
        start = (node["start"] or "")[11:23]
        end = (node["end"] or "")[11:23]
        elapsed = "" if node["elapsed"] is None else "%.2fs" % node["elapsed"]
        detail = node["job_template"] or ""
        if node.get("explanation"):
            detail += " - " + node["explanation"]
        lines.append("  %-*s  %-11s %-9s %-13s %-13s %s" % (width, node["identifier"], status, elapsed, start, end, detail))
    if record.get("explanation"):
        lines.append("failed: %s" % record["explanation"])
    lines.append("record: %s" % os.path.join(record["run_dir"], "run.json"))
    return lines


def run_workflow(workflow_path, **kwargs):
    """Convenience: build a WorkflowRunner and run it."""
    return WorkflowRunner(workflow_path, **kwargs).run()


__all__ = ["WorkflowRunner", "run_workflow", "parse_answers", "parse_extra_vars", "ledger_decision", "summary_lines"]
