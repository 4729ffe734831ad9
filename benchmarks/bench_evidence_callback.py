# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: overhead of the evidence callback (governed.change.evidence) on a governed playbook (target <= 5%).

Run from the repository root: .venv/bin/python benchmarks/bench_evidence_callback.py [--tasks 100] [--hosts 4] [--repeat 7]

All in the same run, through real ansible-playbook with the project's ansible.cfg: a governed localhost-style playbook
(--hosts local hosts, connection local, gather_facts off) of --tasks tasks per host (debug, set_fact, command, assert,
a skipped task and an ignored failure in turn: every status the callback records), for a change that is scheduled in a
fresh ledger (governed_change_id and governed_ledger as extra vars). Runs alternate:
  (off) the callback not loaded (a copy of ansible.cfg without callbacks_enabled);
  (on)  the callback enabled, recording every task result into the ledger in batches.
Median wall time of --repeat runs each; the ratio on/off is the overhead. On a shared, loaded machine the wall times
vary by more than the overhead, so the callback's own time (its timing_file option: seconds spent in its hooks,
ledger writes included) is printed too, as a share of the "off" median: the noise-robust estimate. The ledger is
checked after the runs: every task of every "on" run recorded, the hash chain verifies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
sys.path.insert(0, os.path.join(ROOT, ".collections"))
TARGET = 1.05
CHANGE = "CHG-BENCH-1"

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment  # noqa: E402 pylint: disable=wrong-import-position


def tasks(count):
    kinds = [
        {"ansible.builtin.debug": {"msg": "step {{ item_no }} on {{ inventory_hostname }}"}},
        {"ansible.builtin.set_fact": {"bench_value": "{{ item_no | int * 2 }}"}},
        {"ansible.builtin.command": "echo step", "changed_when": False},
        {"ansible.builtin.assert": {"that": ["1 == 1"], "quiet": True}},
        {"ansible.builtin.debug": {"msg": "skipped"}, "when": False},
        {"ansible.builtin.fail": {"msg": "an expected failure"}, "ignore_errors": True},
    ]
    out = []
    for number in range(count):
        task = dict(kinds[number % len(kinds)])
        task["name"] = "Step %03d" % number
        task["vars"] = {"item_no": number}
        out.append(task)
    return out


def prepare(folder, task_count, hosts):
    ledger = os.path.join(folder, "ledger.sqlite")
    record_assessment(ledger, {"change_id": CHANGE, "title": "benchmark", "author": "carol", "tier": "low", "score": 0,
                               "change_class": "normal", "fired_rules": [], "required_gates": [], "content_hash": "b" * 64,
                               "policy_sha256": "p" * 64, "change_request_sha256": "r" * 64})
    with SqliteLedger(ledger) as led:
        led.transition(CHANGE, "scheduled", "bench")
    inventory = os.path.join(folder, "inventory.json")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump({"all": {"hosts": dict(("h%02d" % i, {"ansible_connection": "local", "ansible_python_interpreter": sys.executable})
                                         for i in range(hosts))}}, handle)
    playbook = os.path.join(folder, "play.json")
    with open(playbook, "w", encoding="utf-8") as handle:
        json.dump([{"name": "Governed benchmark play", "hosts": "all", "gather_facts": False, "tasks": tasks(task_count)}], handle)
    return ledger, inventory, playbook


def config_without_callback(folder):
    """ansible.cfg without the callbacks_enabled line (relative paths made absolute)."""
    path = os.path.join(folder, "ansible-off.cfg")
    with open(os.path.join(ROOT, "ansible.cfg"), encoding="utf-8") as source, open(path, "w", encoding="utf-8") as handle:
        for line in source:
            if line.split("=")[0].strip() == "callbacks_enabled":
                continue
            handle.write(line.replace("= ./", "= %s/" % ROOT))
    return path


def run(playbook, inventory, ledger, config, timing=None):
    env = dict(os.environ, ANSIBLE_CONFIG=config, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    if timing:
        env["GOVERNED_EVIDENCE_TIMING_FILE"] = timing
    started = time.perf_counter()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, playbook, "-e", "governed_change_id=%s" % CHANGE,
                           "-e", "governed_ledger=%s" % ledger], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("ansible-playbook failed (rc %d):\n%s" % (proc.returncode, proc.stdout[-3000:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as folder:
        ledger, inventory, playbook = prepare(folder, args.tasks, args.hosts)
        configs = {"off": config_without_callback(folder), "on": os.path.join(ROOT, "ansible.cfg")}
        run(playbook, inventory, ledger, configs["off"])  # warm the caches (bytecode, collection loader)
        with SqliteLedger(ledger) as led:
            before = len([e for e in led.events(change_id=CHANGE) if e["kind"] == "task"])
        times = {"off": [], "on": []}
        own = []
        timing = os.path.join(folder, "timing.json")
        for index in range(args.repeat):
            order = ("off", "on") if index % 2 == 0 else ("on", "off")
            for mode in order:
                times[mode].append(run(playbook, inventory, ledger, configs[mode], timing if mode == "on" else None))
                if mode == "on":
                    with open(timing, encoding="utf-8") as handle:
                        own.append(json.load(handle))
        with SqliteLedger(ledger) as led:
            recorded = len([e for e in led.events(change_id=CHANGE) if e["kind"] == "task"]) - before
            verified = led.verify()
    expected = args.repeat * args.tasks * args.hosts
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    ratio = on / off
    print("governed playbook: %d tasks x %d hosts = %d task results per run, %d runs each (interleaved)" % (
        args.tasks, args.hosts, args.tasks * args.hosts, args.repeat))
    print("callback off: median %.3f s  (runs: %s)" % (off, ", ".join("%.2f" % t for t in times["off"])))
    print("callback on : median %.3f s  (runs: %s)" % (on, ", ".join("%.2f" % t for t in times["on"])))
    own_s = statistics.median(item["total_s"] for item in own)
    print("callback's own time per run: median %.3f s (%d results, %d ledger batches) = %.2f%% of the off median" % (
        own_s, own[0]["results"], own[0]["flushes"], own_s / off * 100))
    print("recorded task events: %d of %d expected; ledger verify ok: %s (%d events)" % (recorded, expected, verified["ok"], verified["events"]))
    print("ratio on/off: %.3f  (overhead %+.1f%%, target <= %.0f%%)  %s" % (ratio, (ratio - 1) * 100, (TARGET - 1) * 100,
                                                                            "OK" if ratio <= TARGET else "OVER TARGET"))
    if recorded != expected or not verified["ok"]:
        raise SystemExit("the callback did not record every task, or the ledger does not verify")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
