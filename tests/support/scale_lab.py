# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One governed change across every router of a sized lab (`lab.py up --routers N`), through the real pipeline playbook:
assess (reads every router), a signed approval, then playbooks/governed_change.yml (locks, backups, snapshots, canary then
one batch, checks, verify, close). Used by tests/integration/test_scale_lab.py and benchmarks/bench_scale_routers.py
(no tests here).

The change: a service address 192.0.2.1/32 on every router's loopback (not announced in BGP: the lab's routing is
unchanged), checked on every router's post snapshot. Tier medium at every size (wide_fleet, multi_site; the policy copy
drops large_diff, which 30 routers would fire); the policy copy deploys the canary, then the other routers in batches
of ``batch_size`` (default: all of them in one batch).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time

import yaml

from repo_paths import ROOT
from signing_keys import make_signing_keys

from ansible_collections.governed.change.plugins.module_utils import cli

LAB = os.path.join(ROOT, "lab", "lab.py")
ASSESS = os.path.join(ROOT, "playbooks", "assess.yml")
PIPELINE = os.path.join(ROOT, "playbooks", "governed_change.yml")
EXAMPLE_POLICY = os.path.join(ROOT, "examples", "policy", "policy.yml")
CHANGE_ID = "CHG-SCALE-1"
SERVICE_LINE = " ip address 192.0.2.1/32"
LAUNCHER = "svc-ci"


def lab_env(prefix, port_base, run_dir):
    """The environment of one lab instance's runs: its GC_LAB_* settings, ansible.cfg, the venv first on PATH."""
    env = dict(os.environ, GC_LAB_PREFIX=prefix, GC_LAB_PORT_BASE=str(port_base), GC_LAB_RUN=run_dir)
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.pop("GOVERNED_CHANGE_LEDGER", None)
    return env


def lab(env, *args, timeout=300):
    """python3 lab/lab.py <args> in the instance's environment; raises with its output on failure."""
    proc = subprocess.run(["python3", LAB] + list(args), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError("lab %s failed: %s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc.stdout


def running_config(env, router):
    """A router's running config read straight from its vtysh socket (the test's own view, not the pipeline's)."""
    return subprocess.run(["vtysh", "--vty_socket", os.path.join(env["GC_LAB_RUN"], router), "-c", "show running-config"],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def routers_with_the_change(env, count):
    """The routers r1..r<count> whose running config holds the service address."""
    return [name for name in ("r%d" % i for i in range(1, count + 1)) if SERVICE_LINE in running_config(env, name)]


def workspace(base, batch_size=None):
    """base/policy.yml (the example policy without its freezes, trusting alice's real key; medium tier
    deploys canary 1 then batches of ``batch_size``, default 99: one batch) and base/change.yml; returns base."""
    make_signing_keys(base, {"alice": "alice@lab"})
    with open(EXAMPLE_POLICY, encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    policy["allowed_signers"] = str(base / "allowed_signers")
    policy["freezes"] = []  # the example's year-end freeze must not stop a benchmark run in late December
    policy["requirements"]["medium"]["batch_size"] = batch_size or 99
    # the same tier at every size: without this, 30 routers x 2 lines (large_diff, >= 50 lines) make the change high
    # (2 approvals from netops and cab, a window), so the sizes would not run the same pipeline
    policy["risk"]["rules"] = [rule for rule in policy["risk"]["rules"] if rule["name"] != "large_diff"]
    (base / "policy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    change = {"id": CHANGE_ID, "title": "Service address on every router's loopback",
              "description": "192.0.2.1/32 (TEST-NET-1, lab-internal) on every router's loopback; not announced in BGP.",
              "author": "carol", "type": "normal", "category": "other", "targets": ["routers"],
              "config": {"routers": {"lines": ["interface lo", SERVICE_LINE]}},
              "expected": [{"name": "service_address_up", "description": "the loopback carries 192.0.2.1/32",
                            "query": "contains(sections.interfaces.lo.addresses, '192.0.2.1/32')", "op": "equals",
                            "value": True, "snapshot": "post"}],
              "rollback": {"strategy": "backup"}}
    (base / "change.yml").write_text(yaml.safe_dump(change, sort_keys=False))
    return base


def _tree_rss_kb(root_pid):
    """Summed RSS (kB) of a process and all its descendants, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def playbook(env, path, variables, log, forks=None):
    """ansible-playbook ``path`` with the variables; returns (rc, seconds, peak summed RSS of its process tree in MB)."""
    vars_file = log + ".vars.json"
    with open(vars_file, "w", encoding="utf-8") as handle:
        json.dump(variables, handle)
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), path, "-e", "@%s" % vars_file]
    if forks:
        argv += ["--forks", str(forks)]
    peak = [0]
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        done = threading.Event()

        def sample():
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            proc.wait(timeout=1800)
        finally:
            done.set()
            sampler.join()
    return proc.returncode, time.monotonic() - started, peak[0] / 1024.0


def approve(base, out):
    """alice signs an approval of the current assessment (`governed-change approve`)."""
    buf, err = io.StringIO(), io.StringIO()
    rc = cli.main(["approve", "--ledger", str(out / "ledger.sqlite"), "--change", CHANGE_ID,
                   "--assessment", str(out / "assessments" / ("%s.assessment.json" % CHANGE_ID)),
                   "--key", str(base / "alice"), "--identity", "alice", "--policy", str(base / "policy.yml"), "--yes"],
                  out=buf, err=err, stdin=io.StringIO(""))
    if rc != 0:
        raise RuntimeError("approve failed: %s%s" % (buf.getvalue(), err.getvalue()))


def run_change(env, base, inventory, forks=None):
    """assess + approve + the pipeline on the sized lab's inventory; returns a dict of results (rc, seconds, peak MB,
    the log paths and the output folder)."""
    out = base / "out"
    env = dict(env, ANSIBLE_INVENTORY=inventory)
    variables = {"governed_change_request": str(base / "change.yml"), "governed_output_dir": str(out),
                 "governed_ledger": str(out / "ledger.sqlite"), "governed_policy": str(base / "policy.yml"),
                 "governed_launcher": LAUNCHER}
    result = {"out": out, "assess_log": str(base / "assess.log"), "pipeline_log": str(base / "pipeline.log")}
    result["assess_rc"], result["assess_s"], result["assess_mb"] = playbook(env, ASSESS, variables, result["assess_log"], forks)
    if result["assess_rc"] != 0:
        return result
    approve(base, out)
    result["rc"], result["seconds"], result["peak_mb"] = playbook(env, PIPELINE, variables, result["pipeline_log"], forks)
    return result


def tail(path, size=3000):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()[-size:]
