# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: governed.change state_diff (through statestore references) vs ansible.utils.fact_diff, same data, same run.

Generates N IPv4 + N/5 IPv6 synthetic routes (prefix, nexthop, metric, as_path, origin) with ~0.5% of
them changed (modified, removed, added), stores pre and post as JSON files through statestore.put, then
measures, each in a fresh subprocess (wall time and peak RSS):

  (a) ours:       state_diff.diff_states(pre_ref, post_ref), including reading and verifying both files;
  (b) fact_diff:  json.load of both files + ansible.utils' fact_diff filter code path called from Python
                  (argument validation from its DOCUMENTATION, then the difflib text diff);
  (c) optional:   fact_diff as an ansible-playbook task at --playbook-size routes (at 1M it does not finish),
                  next to our filter in a playbook fed with the two references.

Usage: .venv/bin/python benchmarks/bench_state_diff.py [--size 1000000] [--playbook-size 10000] [--skip-fact-diff]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
sys.path.insert(0, COLLECTIONS)

TARGET_RATIO = 20.0
TARGET_WALL_S = 2.0
TARGET_RSS_MB = 1024.0


def _v4(i):
    return "%d.%d.%d.0/24" % (1 + (i >> 16) % 223, (i >> 8) & 255, i & 255)


def _v6(i):
    return "2001:db8:%x:%x::/64" % (1 + (i >> 16), (i & 0xFFFF) or 0x10000)


def _route(rng, prefix, v6):
    hop = "2001:db8:ffff::%x" % rng.randint(1, 4000) if v6 else "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
    return {"prefix": prefix, "nexthop": hop, "metric": rng.randint(0, 1000),
            "as_path": " ".join(str(rng.randint(64512, 65534)) for _hop in range(rng.randint(1, 4))),
            "origin": rng.choice(("IGP", "EGP", "incomplete"))}


def generate(n_v4, seed=7, change_pct=0.5):
    """pre and post route lists; ~change_pct % of routes differ (60% modified, 20% removed, 20% added)."""
    rng = random.Random(seed)
    n_v6 = n_v4 // 5
    pre = [_route(rng, _v4(i), False) for i in range(n_v4)] + [_route(rng, _v6(i), True) for i in range(n_v6)]
    total = len(pre)
    n_changes = max(3, int(total * change_pct / 100.0))
    picks = rng.sample(range(total), n_changes)
    modify, remove = picks[: n_changes * 3 // 5], set(picks[n_changes * 3 // 5: n_changes * 4 // 5])
    post = [dict(r) for r in pre]
    for idx in modify:
        field = rng.choice(("nexthop", "metric", "as_path"))
        route = post[idx]
        if field == "metric":
            route["metric"] += 1
        elif field == "as_path":
            route["as_path"] += " 65535"
        else:
            route["nexthop"] = "2001:db8:ffff::ffff" if ":" in route["prefix"] else "192.0.2.1"
    post = [r for i, r in enumerate(post) if i not in remove]
    n_add = n_changes - len(modify) - len(remove)
    for j in range(n_add):
        post.append(_route(rng, _v4(n_v4 + j) if j % 5 else _v6(n_v6 + j), bool(j % 5 == 0)))
    expected = {"changed": len(modify), "removed": len(remove), "added": n_add}
    return pre, post, expected


# ------------------------------------------------------------------------------------------ workers


def _rss_mb():
    """Peak RSS of this process (VmHWM). ru_maxrss is not used: after fork+exec Linux reports the parent's peak."""
    try:
        with open("/proc/self/status", "r", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_ours(pre_ref, post_ref):
    from ansible_collections.governed.change.plugins.module_utils.state_diff import diff_states

    start_rss = _rss_mb()
    t0 = time.perf_counter()
    result = diff_states(pre_ref, post_ref, keys="prefix", limit=None)
    wall = time.perf_counter() - t0
    s = result["summary"]
    return {"wall_s": wall, "peak_rss_mb": _rss_mb(), "rss_at_start_mb": start_rss, "method": s["method"],
            "added": s["added"], "removed": s["removed"], "changed": s["changed"], "unchanged": s["unchanged"]}


def worker_fact_diff(pre_path, post_path):
    from ansible_collections.ansible.utils.plugins.filter.fact_diff import _fact_diff

    start_rss = _rss_mb()
    t0 = time.perf_counter()
    with open(pre_path, "r", encoding="utf-8") as handle:
        before = json.load(handle)
    with open(post_path, "r", encoding="utf-8") as handle:
        after = json.load(handle)
    t_load = time.perf_counter() - t0
    # the filter's own entry point: argspec validation against its DOCUMENTATION, then fact_diff()
    text = _fact_diff(None, before, after)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "load_s": t_load, "peak_rss_mb": _rss_mb(), "rss_at_start_mb": start_rss,
            "output_chars": len(text)}


def run_worker(kind, *args, timeout=1800):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind] + list(args)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["rc %d" % proc.returncode]}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["process_wall_s"] = total
    return data


# ------------------------------------------------------------------------------------------ playbook (c)

PLAY_FACT_DIFF = """- hosts: localhost
  gather_facts: false
  connection: local
  vars_files: [pre_vars.json, post_vars.json]
  tasks:
    - name: fact_diff of the two route tables
      ansible.utils.fact_diff:
        before: "{{ pre_routes }}"
        after: "{{ post_routes }}"
      register: fd
    - ansible.builtin.debug:
        msg: "{{ fd.diff_lines | length }}"
"""

PLAY_OURS = """- hosts: localhost
  gather_facts: false
  connection: local
  vars_files: [refs.json]
  tasks:
    - name: state_diff of the two references
      ansible.builtin.set_fact:
        d: "{{ pre_ref | governed.change.state_diff(post_ref) }}"
    - ansible.builtin.debug:
        msg: "{{ d.summary.changed }} changed"
"""


def run_playbook(workdir, play, timeout):
    path = os.path.join(workdir, "play-%d.yml" % len(os.listdir(workdir)))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(play)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    # a fresh launcher reports the largest RSS of any process of the run (ansible-playbook and its forks)
    launcher = ("import resource, subprocess, sys\n"
                "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                "sys.stderr.write(p.stdout + p.stderr)\n"
                "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    t0 = time.perf_counter()
    rss = None
    try:
        proc = subprocess.run([sys.executable, "-c", launcher, playbook, "-i", "localhost,", path], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        rc, maxrss = proc.stdout.split()
        ok = rc == "0"
        rss = int(maxrss) / 1024.0
        err = None if ok else proc.stderr.strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        ok, err = False, ["timed out after %d s" % timeout]
    wall = time.perf_counter() - t0
    return {"ok": ok, "wall_s": wall, "peak_rss_mb": rss, "error": err}


# ------------------------------------------------------------------------------------------ main


def _fmt(value, unit):
    return "n/a" if value is None else ("%.2f %s" % (value, unit))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000000, help="IPv4 routes (IPv6 = size/5); default 1,000,000")
    parser.add_argument("--playbook-size", type=int, default=0, help="also run fact_diff and our filter as playbook tasks at this size")
    parser.add_argument("--playbook-timeout", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (the median is reported); default 3")
    parser.add_argument("--skip-fact-diff", action="store_true", help="skip the direct fact_diff baseline (b)")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.worker == "ours":
        print(json.dumps(worker_ours(json.loads(opts.args[0]), json.loads(opts.args[1]))))
        return 0
    if opts.worker == "fact_diff":
        print(json.dumps(worker_fact_diff(opts.args[0], opts.args[1])))
        return 0

    from ansible_collections.governed.change.plugins.module_utils import statestore

    workdir = tempfile.mkdtemp(prefix="bench-state-diff-")
    try:
        t0 = time.perf_counter()
        pre, post, expected = generate(opts.size)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        store = os.path.join(workdir, "store")
        pre_ref = statestore.put(store, pre, "routes")
        post_ref = statestore.put(store, post, "routes")
        t_put = time.perf_counter() - t0
        n_routes = len(pre)
        del pre, post
        print("routes: %d pre (%d IPv4 + %d IPv6), expected diff: %s" % (n_routes, opts.size, opts.size // 5, expected))
        print("generated in %.1f s; stored in %.1f s (%.0f MB + %.0f MB of JSON)" % (
            t_gen, t_put, pre_ref["bytes"] / 1e6, post_ref["bytes"] / 1e6))

        runs = [run_worker("ours", json.dumps(pre_ref), json.dumps(post_ref)) for _run in range(max(1, opts.repeat))]
        ours = next((r for r in runs if "error" in r), None) or sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        if len(runs) > 1 and "error" not in ours:
            ours["all_wall_s"] = [round(r["wall_s"], 3) for r in runs]
        print("(a) ours, diff_states(pre_ref, post_ref), median of %d: %s" % (len(runs), json.dumps(ours, sort_keys=True)))
        if "error" not in ours:
            got = dict((k, ours[k]) for k in ("added", "removed", "changed"))
            print("    correct: %s (expected %s, got %s)" % (got == expected, expected, got))

        base = None
        if not opts.skip_fact_diff:
            base = run_worker("fact_diff", pre_ref["path"], post_ref["path"], timeout=3600)
            print("(b) ansible.utils fact_diff code path, direct: %s" % json.dumps(base, sort_keys=True))

        print("")
        print("| what | wall | peak RSS |")
        print("| --- | --- | --- |")
        if "error" not in ours:
            print("| ours: state_diff via statestore refs (read+verify+diff) | %s | %s |" % (_fmt(ours["wall_s"], "s"), _fmt(ours["peak_rss_mb"], "MB")))
        if base and "error" not in base:
            print("| ansible.utils.fact_diff code path (json.load + filter) | %s | %s |" % (_fmt(base["wall_s"], "s"), _fmt(base["peak_rss_mb"], "MB")))
        if "error" not in ours:
            print("")
            print("target wall < %.1f s: %s" % (TARGET_WALL_S, "PASS" if ours["wall_s"] < TARGET_WALL_S else "FAIL"))
            print("target peak RSS < %.0f MB: %s" % (TARGET_RSS_MB, "PASS" if ours["peak_rss_mb"] < TARGET_RSS_MB else "FAIL"))
            if base and "error" not in base:
                ratio = base["wall_s"] / ours["wall_s"]
                print("speed-up vs fact_diff: %.1fx (target >= %.0fx): %s" % (ratio, TARGET_RATIO, "PASS" if ratio >= TARGET_RATIO else "FAIL"))
                print("memory ratio (fact_diff / ours): %.1fx" % (base["peak_rss_mb"] / ours["peak_rss_mb"]))

        if opts.playbook_size:
            small_pre, small_post, small_expected = generate(opts.playbook_size, seed=11)
            pdir = os.path.join(workdir, "play")
            os.makedirs(pdir)
            with open(os.path.join(pdir, "pre_vars.json"), "w", encoding="utf-8") as handle:
                json.dump({"pre_routes": small_pre}, handle)
            with open(os.path.join(pdir, "post_vars.json"), "w", encoding="utf-8") as handle:
                json.dump({"post_routes": small_post}, handle)
            refs = {"pre_ref": statestore.put(store, small_pre, "routes"), "post_ref": statestore.put(store, small_post, "routes")}
            with open(os.path.join(pdir, "refs.json"), "w", encoding="utf-8") as handle:
                json.dump(refs, handle)
            print("")
            print("(c) as playbook tasks, %d IPv4 + %d IPv6 routes (expected %s):" % (opts.playbook_size, opts.playbook_size // 5, small_expected))
            pb_ours = run_playbook(pdir, PLAY_OURS, opts.playbook_timeout)
            print("    ours, filter over references: %s" % json.dumps(pb_ours, sort_keys=True))
            pb_fd = run_playbook(pdir, PLAY_FACT_DIFF, opts.playbook_timeout)
            print("    ansible.utils.fact_diff task:  %s" % json.dumps(pb_fd, sort_keys=True))
            if pb_ours["ok"] and pb_fd["ok"]:
                print("    playbook ratio (fact_diff / ours): %.1fx wall" % (pb_fd["wall_s"] / pb_ours["wall_s"]))
        return 0
    finally:
        if opts.keep:
            print("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
