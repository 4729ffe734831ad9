# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline role keeps per-host work for per-host stages only (issue 16: every task a play runs on every host costs
a worker per host; at 30 routers about 1-3 s a task).

- A stage role the pipeline includes with ``rolespec_validate: false`` runs every task once (run_once): its first task
  checks the role's argument spec once (run_once, tagged always), so the arguments are still validated, and a refusal
  fails every host. Roles with per-host tasks (precheck, deploy, verify, rollback) keep Ansible's per-host validation.
- The include of itsm.yml / lifecycle_event.yml (a single run_once task each) is itself run_once.
"""

from __future__ import annotations

import glob
import os

import yaml

from repo_paths import ROOT

PIPELINE_TASKS = sorted(glob.glob(os.path.join(ROOT, "roles", "pipeline", "tasks", "*.yml")))
PER_HOST_STAGES = {"precheck", "deploy", "verify", "rollback"}


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or []


def walk(tasks):
    """Every task of a task list, blocks opened (the block entries themselves are not yielded)."""
    for task in tasks or []:
        if "block" in task:
            for part in ("block", "rescue", "always"):
                yield from walk(task.get(part))
        else:
            yield task


def pipeline_tasks():
    for path in PIPELINE_TASKS:
        yield from ((os.path.basename(path), task) for task in walk(load(path)))


def stage_includes():
    """(role short name, include_role args) of every stage role the pipeline includes."""
    for _name, task in pipeline_tasks():
        args = task.get("ansible.builtin.include_role")
        if args and str(args.get("name", "")).startswith("governed.change."):
            yield args["name"].split(".")[-1], args


def test_roles_included_without_per_host_validation_run_every_task_once_and_validate_first():
    unvalidated = {role: args for role, args in stage_includes() if args.get("rolespec_validate") is False}
    assert {"assess", "review", "window", "close", "escalate"} <= set(unvalidated)
    for role in unvalidated:
        tasks = load(os.path.join(ROOT, "roles", role, "tasks", "main.yml"))
        first = tasks[0]
        assert "ansible.builtin.validate_argument_spec" in first, role
        assert first.get("run_once") is True and "always" in first.get("tags", []), role
        assert "meta/argument_specs.yml" in first["ansible.builtin.validate_argument_spec"]["argument_spec"], role
        per_host = [t.get("name") for t in walk(tasks) if t.get("run_once") is not True]
        assert per_host == [], "%s: tasks that run per host cannot skip per-host validation: %s" % (role, per_host)


def test_roles_with_per_host_tasks_keep_per_host_validation():
    included = dict(stage_includes())
    assert PER_HOST_STAGES <= set(included)
    for role in PER_HOST_STAGES:
        assert included[role].get("rolespec_validate", True) is not False, role


def test_single_task_includes_run_once():
    includes = [(name, task) for name, task in pipeline_tasks()
                if task.get("ansible.builtin.include_tasks") in ("itsm.yml", "lifecycle_event.yml")]
    assert len(includes) >= 6
    for name, task in includes:
        assert task.get("run_once") is True, (name, task.get("name"))
        included = load(os.path.join(ROOT, "roles", "pipeline", "tasks", task["ansible.builtin.include_tasks"]))
        assert [t.get("run_once") for t in walk(included)] == [True], task["ansible.builtin.include_tasks"]
