# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a governed.change action plugin in-process, as Ansible's executor would (no tests here).

A real ``Task`` (action name, arguments, check mode), a real ``PlayContext``, ``DataLoader`` (its base directory plays
the playbook directory, so relative paths resolve as in a play) and ``Templar``, and a connection stand-in that fails
the test if the action touches it: the governance actions run on the controller and must never reach a device.
"""

from __future__ import annotations

import importlib
import shutil

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from assess_support import INVENTORY
from repo_paths import ROOT


class _Shell:
    tmpdir = None


class NoDeviceConnection:
    """The connection ActionBase receives: the executor reads ``_shell.tmpdir``; any other use fails the test."""

    def __init__(self):
        self._shell = _Shell()

    def __getattr__(self, name):
        raise AssertionError("a governance action used its connection (%s); it must run on the controller only" % name)


def make_action(name, args, task_vars=None, check_mode=False, basedir=None):
    """The ActionModule of governed.change.<name>, bound to a Task carrying ``args`` and ``check_mode``."""
    module = importlib.import_module("ansible_collections.governed.change.plugins.action.%s" % name)
    task = Task()
    task.action = "governed.change.%s" % name
    task.args = dict(args)
    task.check_mode = check_mode
    loader = DataLoader()
    if basedir is not None:
        loader.set_basedir(str(basedir))
    play_context = PlayContext()
    play_context.check_mode = check_mode
    templar = Templar(loader=loader, variables=dict(task_vars or {}))
    return module.ActionModule(task=task, connection=NoDeviceConnection(), play_context=play_context, loader=loader,
                               templar=templar, shared_loader_obj=None)


def run_action(name, args, task_vars=None, check_mode=False, basedir=None):
    """ActionModule.run(task_vars=...) of governed.change.<name>: the result dict Ansible would register."""
    task_vars = dict(task_vars or {})
    if basedir is not None:
        task_vars.setdefault("playbook_dir", str(basedir))
    return make_action(name, args, task_vars, check_mode, basedir).run(task_vars=task_vars)


# -- the lab as the governance actions see it ------------------------------------------------------------------------
R1_RUNNING = """frr version 8.4
hostname r1
router bgp 65001
 neighbor 10.0.12.2 remote-as 65002
 address-family ipv4 unicast
  network 10.255.0.1/32
 exit-address-family
exit
"""


def lab_task_vars():
    """The lab inventory as Ansible hands it to an action: ``groups`` (with ``all``) and ``hostvars``."""
    return {"groups": dict(INVENTORY["groups"], all=sorted(INVENTORY["hosts"])),
            "hostvars": {name: dict(host["vars"]) for name, host in INVENTORY["hosts"].items()}}


def assessed_workspace(base, change="bad_r1_bgp.yml"):
    """A play directory with the example policy, an example change request (as change.yml) and r1's running config,
    assessed in-process by governed.change.assess into out/assessments and ledger.sqlite; returns the assess result."""
    (base / "policy").mkdir(exist_ok=True)
    shutil.copy("%s/examples/policy/policy.yml" % ROOT, str(base / "policy" / "policy.yml"))
    shutil.copy("%s/examples/changes/%s" % (ROOT, change), str(base / "change.yml"))
    (base / "r1.cfg").write_text(R1_RUNNING)
    result = run_action("assess", {"change_request": "change.yml", "policy": "policy/policy.yml", "fetch_running": False,
                                   "running_configs": {"r1": "r1.cfg"}, "output_dir": "out/assessments", "ledger": "ledger.sqlite"},
                        task_vars=lab_task_vars(), basedir=base)
    if result.get("failed"):
        raise AssertionError("the in-process assess failed: %s" % result.get("msg"))
    return result
