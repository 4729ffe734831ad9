# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: how fast the pipeline detects the demo's bad change and restores a verified state, next to BGP convergence.

Runs the whole pipeline (playbooks/governed_change.yml, signed approval) with examples/changes/bad_r1_bgp.yml on an own
lab instance, RUNS times, and prints per run and as medians:

  deploy start -> detection        the deploy task's start on r1 -> the end of the deploy stage's check task (the
                                   failure is known to the pipeline);
  deploy start -> verified restore -> the end of the rollback's verification task (every device of the scope equal
                                   to its pre-change snapshot);
  BGP convergence                  deploy start -> the last change of the routing state (sessions Established, BGP
                                   prefixes and next hops of r1, r2, r3) before the restore starts, read every ~0.1 s
                                   by a poller beside the run (vtysh on the routers' sockets, not through the pipeline);
  detection after convergence      the difference (goal <= 2 s), and each device's settle (attempts, seconds, why).

With --baseline the same runs are made with fail fast off (deploy_fail_fast_polls=0: the wait runs to the settle
timeout, the behaviour before) for comparison in the same session.

Needs root (the lab). Lab instance from GC_LAB_PREFIX / GC_LAB_PORT_BASE / GC_LAB_RUN (default k8-, 26800, lab/run-k8);
run it under the team lock: flock /tmp/gc-lab.lock .venv/bin/python benchmarks/bench_detection.py [--runs 3] [--baseline]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("GC_LAB_PREFIX", "k8-")
os.environ.setdefault("GC_LAB_PORT_BASE", "26800")
os.environ.setdefault("GC_LAB_RUN", os.path.join(ROOT, "lab", "run-k8"))

from conftest_pipeline import PIPELINE, ASSESS, approve, extra_vars, run_playbook  # noqa: E402 pylint: disable=wrong-import-position
from labfixture import lab_cmd, lab_policy  # noqa: E402 pylint: disable=wrong-import-position

CHANGE = os.path.join(ROOT, "examples", "changes", "bad_r1_bgp.yml")
ROUTERS = ("r1", "r2", "r3")
GOAL_DETECTION_AFTER_CONVERGENCE_S = 2.0
GOAL_RESTORE_S = 10.0


def _stamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def routing_state(router):
    """(established peers, {prefix: nexthop}) of one router, read on its vtysh socket (None when it does not answer)."""
    sock = os.path.join(os.environ["GC_LAB_RUN"], router)
    proc = subprocess.run(["vtysh", "--vty_socket", sock, "-c", "show bgp ipv4 unicast summary json", "-c", "show bgp ipv4 unicast json"],
                          capture_output=True, text=True, check=False, timeout=10)
    if proc.returncode != 0:
        return None
    decoder, text = json.JSONDecoder(), proc.stdout.strip()
    try:
        summary, end = decoder.raw_decode(text)
        routes, _end = decoder.raw_decode(text[end:].strip())
    except ValueError:
        return None
    peers = tuple(sorted(a for a, p in (summary.get("peers") or {}).items() if p.get("state") == "Established"))
    table = {}
    for prefix, paths in (routes.get("routes") or {}).items():
        best = next((p for p in paths if p.get("bestpath")), paths[0] if paths else {})
        hops = best.get("nexthops") or [{}]
        table[prefix] = hops[0].get("ip")
    return peers, tuple(sorted(table.items()))


class Poller(threading.Thread):
    """Reads the three routers' routing state every ~0.1 s and keeps (time, router) of each change."""

    def __init__(self):
        super().__init__(daemon=True)
        self.changes, self.stop, self.last = [], threading.Event(), {}

    def run(self):
        while not self.stop.is_set():
            for router in ROUTERS:
                state = routing_state(router)
                if state is not None and state != self.last.get(router):
                    if router in self.last:
                        self.changes.append((time.time(), router))
                    self.last[router] = state
            self.stop.wait(0.1)


def task_times(output):
    """{task name: (start, end, {host: result})} from the ansible.posix.json callback's document."""
    start = output.find("{")
    doc, _end = json.JSONDecoder().raw_decode(output[start:])
    out = {}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            name = task["task"]["name"]
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end") and task.get("hosts"):
                out.setdefault(name, (_stamp(duration["start"]), _stamp(duration["end"]), task["hosts"]))
    return out


def find(times, words):
    for name, value in times.items():
        if words in name:
            return value
    raise KeyError("no task named like %r in the run" % words)


def one_run(env, signing, base, index, fail_fast):
    out = os.path.join(base, "run-%d-%s" % (index, "ff" if fail_fast else "base"))
    os.makedirs(out)
    variables = extra_vars(CHANGE, _Path(out), _Path(signing))  # the pipeline's own commit-confirmed timeout (120 s)
    if not fail_fast:
        variables["deploy_fail_fast_polls"] = 0
    rc, _art, output, _seconds = run_playbook(env, ASSESS, variables, _Path(out), "assess")
    if rc != 0:
        raise RuntimeError("assess failed:\n" + output[-3000:])
    approve(_Path(out), "CHG-2002", _Path(signing))
    poller = Poller()
    poller.start()
    rc, art, output, _seconds = run_playbook(env, PIPELINE, variables, _Path(out), "pipeline")
    poller.stop.set()
    poller.join()
    if art.get("governed_outcome") != "unsuccessful" or art.get("governed_rollback_verified") is not True:
        raise RuntimeError("the bad change was not caught and restored (outcome %r):\n%s" % (art.get("governed_outcome"), output[-3000:]))
    times = task_times(output)
    deploy_start = find(times, "Deploy the change with a commit-confirmed timer")[0]
    check = find(times, "Check every device of the scope (network-wide)")
    restore_start = find(times, "Restore the backup exactly")[0]
    verified = find(times, "Verify the post-rollback state")[1]
    during = [t for t, _router in poller.changes if deploy_start <= t < restore_start]
    convergence = (max(during) - deploy_start) if during else None
    settles = {host: result.get("settle") for host, result in check[2].items() if result.get("settle")}
    return {"detection_s": round(check[1] - deploy_start, 2), "restore_s": round(verified - deploy_start, 2),
            "convergence_s": round(convergence, 2) if convergence is not None else None,
            "detection_after_convergence_s": round(check[1] - deploy_start - convergence, 2) if convergence is not None else None,
            "deploy_task_s": round(find(times, "Deploy the change with a commit-confirmed timer")[1] - deploy_start, 2),
            "settle": {host: {k: s.get(k) for k in ("attempts", "elapsed_s", "fail_fast", "converge_s", "reason")}
                       for host, s in sorted(settles.items())}}


class _Path(str):
    """A str path with the ``/`` operator and ``write_text`` the pipeline test helpers use."""

    def __truediv__(self, other):
        return _Path(os.path.join(self, other))

    def write_text(self, text):
        with open(self, "w", encoding="utf-8") as handle:
            handle.write(text)

    def mkdir(self):
        os.makedirs(self)


def summarize(label, runs):
    print("\n%s (%d runs)" % (label, len(runs)))
    for index, run in enumerate(runs, start=1):
        print("  run %d: detection %.2f s, verified restore %.2f s, BGP convergence %s s, detection after convergence %s s "
              "(deploy task %.2f s)" % (index, run["detection_s"], run["restore_s"], run["convergence_s"],
                                        run["detection_after_convergence_s"], run["deploy_task_s"]))
        for host, settle in run["settle"].items():
            print("    %s: %s attempts, %s s, fail_fast %s - %s" % (
                host, settle["attempts"], settle["elapsed_s"], settle["fail_fast"], settle["reason"]))
    med = {key: statistics.median(r[key] for r in runs if r[key] is not None)
           for key in ("detection_s", "restore_s", "convergence_s", "detection_after_convergence_s")}
    print("  median: deploy start -> detection %.2f s; -> verified restore %.2f s; BGP convergence %.2f s; "
          "detection after convergence %.2f s" % (med["detection_s"], med["restore_s"], med["convergence_s"],
                                                  med["detection_after_convergence_s"]))
    return med


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also run with fail fast off (the settle timeout)")
    args = parser.parse_args(argv)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.pop("GOVERNED_CHANGE_LEDGER", None)
    base = tempfile.mkdtemp(prefix="bench-detection-")
    signing = os.path.join(base, "signing")
    os.makedirs(signing)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", os.path.join(signing, "alice")], check=True)
    with open(os.path.join(signing, "alice.pub"), encoding="utf-8") as handle:
        pub = handle.read().split()
    with open(os.path.join(signing, "allowed_signers"), "w", encoding="utf-8") as handle:
        handle.write('alice@lab namespaces="governed.change" %s %s\n' % (pub[0], pub[1]))
    lab_policy(os.path.join(signing, "policy.yml"))
    lab_cmd("up", env=env)
    try:
        lab_cmd("wait", env=env, check=False)
        fast = [one_run(env, signing, base, index, True) for index in range(args.runs)]
        slow = [one_run(env, signing, base, index, False) for index in range(args.runs)] if args.baseline else []
    finally:
        lab_cmd("down", env=env, check=False)
    med = summarize("fail fast (default)", fast)
    if slow:
        summarize("baseline: fail fast off (deploy_fail_fast_polls=0)", slow)
    print("\ngoals: detection <= %.1f s after convergence: %s; verified restore <= %.1f s after deploy start: %s" % (
        GOAL_DETECTION_AFTER_CONVERGENCE_S, "met" if med["detection_after_convergence_s"] <= GOAL_DETECTION_AFTER_CONVERGENCE_S else "NOT met",
        GOAL_RESTORE_S, "met" if med["restore_s"] <= GOAL_RESTORE_S else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
