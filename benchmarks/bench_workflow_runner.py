# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the local workflow runner's own overhead per node (issue 15).

A workflow of N no-op job template nodes in one chain (each node's success edge to the next; --parallel 1, so no two
jobs overlap) runs through WorkflowRunner with real ansible-runner jobs (a playbook with no tasks, on localhost).
Measured:

  wall          run() from start to the run record written
  jobs          the sum of the nodes' own times (each node's elapsed in the run record: from its launch being
                prepared to ansible-runner returning)
  overhead      (wall - jobs) / N: scheduling, do-not-run marking, starting a thread, collecting, the run record
  playbook      the sum of the ansible-playbook runs as ansible-runner's events time them (first event to the
                playbook_on_stats event); (jobs - playbook) / N is what ansible-runner and the process start add
  validate      the constructor (load, awx.awx schema, graph rules, job plans), reported apart

Usage: .venv/bin/python benchmarks/bench_workflow_runner.py [--sizes 10 100] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.governed.change.plugins.module_utils.workflow.runner import WorkflowRunner  # noqa: E402

PLAYBOOK = "---\n- name: No-op\n  hosts: all\n  gather_facts: false\n  tasks: []\n"
CONTROLLER = """---
controller_projects:
  - {name: bench, organization: Default, scm_type: git, scm_url: https://example.invalid/bench.git}
controller_inventories:
  - {name: bench, organization: Default}
controller_inventory_sources:
  - {name: bench file, inventory: bench, source: scm, source_project: bench, source_path: inventory.ini}
controller_templates:
  - {name: noop, project: bench, inventory: bench, playbook: noop.yml}
"""


def workflow(size):
    nodes = []
    for index in range(size):
        node = {"identifier": "n%03d" % index, "unified_job_template": {"name": "noop", "type": "job_template"}}
        if index + 1 < size:
            node["related"] = {"success_nodes": [{"identifier": "n%03d" % (index + 1)}]}
        nodes.append(node)
    return {"name": "bench chain %d" % size, "workflow_nodes": nodes}


def _stamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def playbook_seconds(private_data_dir):
    """ansible-playbook's own run as its events time it: the first event's created to playbook_on_stats'."""
    stamps, stats = [], None
    for path in glob.glob(os.path.join(private_data_dir, "artifacts", "job", "job_events", "*.json")):
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
        if event.get("created"):
            stamps.append(_stamp(event["created"]))
            if event.get("event") == "playbook_on_stats":
                stats = stamps[-1]
    return (stats or max(stamps)) - min(stamps) if stamps else 0.0


def measure(size, base):
    project = os.path.join(base, "project-%d" % size)
    os.makedirs(os.path.join(project, "controller"))
    with open(os.path.join(project, "noop.yml"), "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK)
    with open(os.path.join(project, "inventory.ini"), "w", encoding="utf-8") as handle:
        handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    with open(os.path.join(project, "controller", "controller.yml"), "w", encoding="utf-8") as handle:
        handle.write(CONTROLLER)
    path = os.path.join(project, "chain.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(workflow(size), handle)
    started = time.perf_counter()
    runner = WorkflowRunner(path, controller_config=os.path.join(project, "controller"), project_dir=project,
                            run_dir=os.path.join(base, "run-%d" % size), parallel=1, interactive=False, launcher="bench")
    validate = time.perf_counter() - started
    started = time.perf_counter()
    record = runner.run()
    wall = time.perf_counter() - started
    if record["status"] != "successful" or any(node["status"] != "successful" for node in record["nodes"]):
        raise SystemExit("the chain of %d did not succeed: %s" % (size, record.get("explanation") or record["run_dir"]))
    jobs = sum(node["elapsed"] for node in record["nodes"])
    playbook = sum(playbook_seconds(node["private_data_dir"]) for node in record["nodes"])
    return {"n": size, "validate_s": round(validate, 3), "wall_s": round(wall, 3), "jobs_s": round(jobs, 3),
            "overhead_per_node_ms": round(1000 * (wall - jobs) / size, 1), "playbook_s": round(playbook, 3),
            "runner_and_process_per_node_ms": round(1000 * (jobs - playbook) / size, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--keep", action="store_true", help="keep the run directories (printed)")
    args = parser.parse_args(argv)
    base = tempfile.mkdtemp(prefix="bench-workflow-runner-")
    try:
        header = ("N", "validate", "wall", "jobs", "overhead/node", "playbook", "ansible-runner+proc/node")
        print("%5s %10s %9s %9s %19s %12s %26s" % header)
        for size in args.sizes:
            row = measure(size, base)
            print("%5d %9.2fs %8.2fs %8.2fs %16.1f ms %11.2fs %23.1f ms" % (
                row["n"], row["validate_s"], row["wall_s"], row["jobs_s"], row["overhead_per_node_ms"], row["playbook_s"],
                row["runner_and_process_per_node_ms"]))
            print(json.dumps(row, sort_keys=True))
    finally:
        if args.keep:
            print("run directories: %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
