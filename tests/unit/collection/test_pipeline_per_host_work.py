# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline role keeps per-host work for device work only (issue 16: every task a play runs on every host costs a
worker per host; at 30 routers about 1-3 s a task).

- Every stage role the pipeline includes (and the pipeline role itself, from playbooks/governed_change.yml) is included
  with ``rolespec_validate: false``: its first task checks the role's argument spec once (run_once, tagged always), so
  the arguments are still validated and a refusal fails every host. That holds because the arguments the pipeline
  passes are the same on every host: none of them reads a per-host variable.
- The device stages keep no per-host copy of a result: every set_fact of precheck, deploy and verify runs once (the
  decisions read the registered results of every host through hostvars); the configuration lines and expected checks
  are rendered once for all the devices (deploy's expected.yml, included once).
- A stage role whose every task runs once (assess, review, window, wait_for_dependency, close, escalate) is included
  once (run_once on the include_role), not once per host.
- The include of itsm.yml / lifecycle_event.yml (a single run_once task each) is itself run_once.
"""

from __future__ import annotations

import glob
import os

import yaml

from repo_paths import ROOT

PIPELINE_TASKS = sorted(glob.glob(os.path.join(ROOT, "roles", "pipeline", "tasks", "*.yml")))
STAGES = {"assess", "review", "window", "wait_for_dependency", "precheck", "deploy", "verify", "rollback", "close", "escalate"}
DEVICE_STAGES = ("precheck", "deploy", "verify")
PER_HOST_NAMES = ("inventory_hostname", "hostvars", "ansible_host", "group_names")


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


def validates_first(role):
    first = load(os.path.join(ROOT, "roles", role, "tasks", "main.yml"))[0]
    assert "ansible.builtin.validate_argument_spec" in first, role
    assert first.get("run_once") is True and "always" in first.get("tags", []), role
    assert "meta/argument_specs.yml" in first["ansible.builtin.validate_argument_spec"]["argument_spec"], role


def test_every_stage_is_included_without_per_host_validation_and_validates_once_first():
    included = dict(stage_includes())
    assert STAGES <= set(included)
    for role, args in included.items():
        assert args.get("rolespec_validate") is False, role
        validates_first(role)
    playbook = load(os.path.join(ROOT, "playbooks", "governed_change.yml"))
    pipeline = [t["ansible.builtin.include_role"] for t in walk(playbook[0]["tasks"]) if "ansible.builtin.include_role" in t]
    assert pipeline[0]["name"] == "governed.change.pipeline" and pipeline[0].get("rolespec_validate") is False
    validates_first("pipeline")


def test_stages_whose_every_task_runs_once_are_included_once():
    once = {}
    for _name, task in pipeline_tasks():
        args = task.get("ansible.builtin.include_role")
        if args and str(args.get("name", "")).startswith("governed.change."):
            once[args["name"].split(".")[-1]] = task.get("run_once") is True
    for role in ("assess", "review", "window", "wait_for_dependency", "close", "escalate", "rollback") + DEVICE_STAGES:
        for path in glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml")):
            tasks = list(walk(load(path)))
            assert [t.get("name") for t in tasks if t.get("run_once") is not True] == [], path
        assert once[role], "%s: every task runs once, so the role is included once" % role
    finish = [task for _name, task in pipeline_tasks() if task.get("ansible.builtin.include_tasks") == "finish.yml"]
    assert len(finish) == 1 and finish[0].get("run_once") is True
    assert [t.get("name") for t in walk(load(os.path.join(ROOT, "roles", "pipeline", "tasks", "finish.yml")))
            if t.get("run_once") is not True and "block" not in t] == []


DEVICE_ACTIONS = ("governed.change.backup", "governed.change.snapshot", "governed.change.check", "governed.change.deploy",
                  "governed.change.confirm", "governed.change.restore")


def test_the_device_stages_work_on_their_devices_from_one_task_each():
    """Issue 16: precheck, deploy, verify and rollback reach their devices through fleet tasks (the action's `hosts`, run
    once, the devices in threads), never a task per host; the decisions read each device's result with fleet_results."""
    found = []
    for role in DEVICE_STAGES + ("rollback",):
        for path in glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml")):
            for task in walk(load(path)):
                action = next((a for a in DEVICE_ACTIONS if a in task), None)
                if action:
                    found.append(action)
                    assert "hosts" in (task[action] or {}) and task.get("run_once") is True, (path, task.get("name"))
                    assert "inventory_hostname" not in str(task), (path, task.get("name"))
            assert "map('extract', hostvars, '__" not in open(path, encoding="utf-8").read(), path
    assert sorted(set(found)) == sorted(DEVICE_ACTIONS)


def test_the_arguments_the_pipeline_passes_a_stage_are_the_same_on_every_host():
    """Checking them once, on the first host, checks every host's only while no argument reads a per-host variable."""
    for _name, task in pipeline_tasks():
        args = task.get("ansible.builtin.include_role")
        if not args or not str(args.get("name", "")).startswith("governed.change."):
            continue
        for var, value in (task.get("vars") or {}).items():
            assert not any(word in str(value) for word in PER_HOST_NAMES), (task.get("name"), var, value)


def test_device_stages_keep_no_per_host_copy_of_a_result():
    for role in DEVICE_STAGES:
        for path in glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml")):
            for task in walk(load(path)):
                if "ansible.builtin.set_fact" in task:
                    assert task.get("run_once") is True, (path, task.get("name"))


def test_lines_and_expected_checks_are_rendered_once_for_all_devices():
    expected = load(os.path.join(ROOT, "roles", "deploy", "tasks", "expected.yml"))
    assert [t.get("run_once") for t in walk(expected)] == [True, True]
    assert "hosts" in expected[0]["governed.change.config_lines"]
    deploy = [t for t in walk(load(os.path.join(ROOT, "roles", "deploy", "tasks", "main.yml")))
              if t.get("ansible.builtin.include_tasks") == "expected.yml"]
    verify = [t for t in walk(load(os.path.join(ROOT, "roles", "verify", "tasks", "main.yml")))
              if (t.get("ansible.builtin.include_role") or {}).get("tasks_from") == "expected.yml"]
    assert len(deploy) == 1 and len(verify) == 1
    assert deploy[0].get("run_once") is True and verify[0].get("run_once") is True


def test_single_task_includes_run_once():
    includes = [(name, task) for name, task in pipeline_tasks()
                if task.get("ansible.builtin.include_tasks") in ("itsm.yml", "lifecycle_event.yml")]
    assert len(includes) >= 6
    for name, task in includes:
        assert task.get("run_once") is True, (name, task.get("name"))
        included = load(os.path.join(ROOT, "roles", "pipeline", "tasks", task["ansible.builtin.include_tasks"]))
        assert [t.get("run_once") for t in walk(included)] == [True], task["ansible.builtin.include_tasks"]
