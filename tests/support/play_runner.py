# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook as a subprocess with the JSON callback, for the tests that run one play (no tests here)."""

from __future__ import annotations

import json
import os
import subprocess

from repo_paths import ROOT, VENV_BIN

# The demo inventory on local connections (four hosts, the lab's groups), for plays that run governance actions only.
LOCAL_INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: %s/python
  children:
    routers:
      hosts:
        r1: {site: lon, role: edge, criticality: medium}
        r2: {site: lon, role: core, criticality: high}
        r3: {site: ams, role: edge, criticality: medium}
    firewalls:
      hosts:
        fw1: {site: ams, role: firewall, criticality: high}
    core: {hosts: {r2: {}}}
    edge: {hosts: {r1: {}, r3: {}}}
    site_lon: {hosts: {r1: {}, r2: {}}}
    site_ams: {hosts: {r3: {}, fw1: {}}}
""" % VENV_BIN


def run(workdir, doc, *extra, env=None, check=True):
    """ansible-playbook with the JSON callback; returns (rc, the last task's result, the JSON document, all output).

    ``doc`` is the play as data (written as JSON) or as YAML text; ``env`` adds to the environment of the run."""
    with open(os.path.join(str(workdir), "play.yml"), "w", encoding="utf-8") as handle:
        handle.write(doc if isinstance(doc, str) else json.dumps(doc))
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   ANSIBLE_SHOW_CUSTOM_STATS="1", ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    environ.update(env or {})
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory.yml", "play.yml"] + list(extra),
                          cwd=str(workdir), env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300, check=False)
    if check and proc.returncode not in (0, 2):
        raise AssertionError("ansible-playbook failed (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    start = proc.stdout.find("{")
    result_doc = json.loads(proc.stdout[start:]) if start >= 0 else {}
    tasks = result_doc.get("plays", [{}])[-1].get("tasks", []) if result_doc else []
    result = next(iter(tasks[-1]["hosts"].values())) if tasks else None
    return proc.returncode, result, result_doc, proc.stdout + proc.stderr
