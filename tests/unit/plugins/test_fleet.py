# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet tasks (issue 16): a device action run once over its ``hosts`` works on every device as if the task had run on
that device's host (its own variables and arguments, in threads), the decisions read each device's result as a
per-host task's, and the evidence callback records each device's result as its host's. The lab runs them for real
(tests/integration: every pipeline test)."""

from __future__ import annotations

import ast
import pathlib
import threading
import types

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.governed.change.plugins.callback.evidence import CallbackModule
from ansible_collections.governed.change.plugins.module_utils import run_decisions
from ansible_collections.governed.change.plugins.plugin_utils import device_action
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class _StandIn(DeviceActionBase):
    """A device action without a device: says what it saw (its host, variables, arguments, become). Every device
    waits at ``barrier`` until all of them are inside at once: worked on one after the other, they would break it."""
    MODULE_NAME = "backup"  # the connection options only
    barrier = None

    def execute(self, args, task_vars, result):
        if self.barrier is not None:
            self.barrier.wait()  # threading.BrokenBarrierError after its timeout: that device fails
        host = task_vars["inventory_hostname"]
        if host == "r2":
            return {"failed": True, "msg": "r2: the device did not answer"}
        if host == "r4":
            raise RuntimeError("a bug in one device's work")
        return {"device": host, "platform": self._var(task_vars, "governed_platform"), "port": args.get("port"),
                "retries": args.get("retries"), "become": self.become_user(task_vars),
                "store": self._var(task_vars, "governed_store_dir"), "state": self._var(task_vars, "governed_state_dir")}


def _run(args, hostvars, task_host="r1"):
    task = Task()
    task.args = args
    loader = DataLoader()
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp"))
    action = _StandIn(task, connection, PlayContext(), loader, Templar(loader=loader), None)
    # the task host's own variables: its host variables, and a play variable (governed_store_dir) no hostvars holds
    task_vars = dict(hostvars[task_host], inventory_hostname=task_host, hostvars=hostvars, governed_store_dir="/play/store")
    return action.run(task_vars=task_vars)


HOSTVARS = {"r1": {"governed_platform": "frr", "governed_state_dir": "/r1/state"}, "r2": {"governed_platform": "frr"},
            "fw1": {"governed_platform": "linux", "ansible_become": True, "ansible_become_user": "netops"},
            "r4": {"governed_platform": "frr"}}


def test_every_device_is_worked_on_as_its_own_host_side_by_side_and_one_failure_stays_that_devices():
    _StandIn.barrier = threading.Barrier(4, timeout=10)  # all four devices side by side, or every one fails
    try:
        out = _run({"hosts": ["r1", "r2", "fw1", "r4"], "by_host": {"fw1": {"port": 2203}}, "retries": 0}, HOSTVARS)
    finally:
        _StandIn.barrier = None
    assert out["fleet"] is True and list(out["hosts"]) == ["r1", "r2", "fw1", "r4"]
    assert out["hosts"]["r1"] == {"device": "r1", "platform": "frr", "port": None, "retries": 0, "become": None,
                                  "store": "/play/store", "state": "/r1/state"}
    # fw1: its own platform, become and state dir (none: not the task host's), its own port from by_host, the shared
    # retries, the play's store dir
    assert out["hosts"]["fw1"] == {"device": "fw1", "platform": "linux", "port": 2203, "retries": 0, "become": "netops",
                                   "store": "/play/store", "state": None}
    assert out["hosts"]["r2"]["failed"] and "did not answer" in out["hosts"]["r2"]["msg"]
    assert out["hosts"]["r4"]["failed"] and "RuntimeError: a bug in one device's work" in out["hosts"]["r4"]["msg"]
    assert out["failed"] is True and out["failed_hosts"] == ["r2", "r4"] and "2 of 4 device(s)" in out["msg"]
    assert not any("BrokenBarrierError" in str(result.get("msg")) for result in out["hosts"].values())  # side by side


def test_a_bad_fleet_refuses_before_any_device_is_touched():
    bad_host = _run({"hosts": ["r1", "nope"]}, HOSTVARS)
    assert bad_host["failed"] and "'nope'" in bad_host["msg"] and bad_host["hosts"] == {}
    nested = _run({"hosts": ["r1"], "by_host": {"r1": {"hosts": ["r2"]}}}, HOSTVARS)
    assert nested["failed"] and "by_host cannot set hosts" in nested["msg"]
    stray = _run({"hosts": ["r1"], "by_host": {"r2": {"port": 1}}}, HOSTVARS)
    assert stray["failed"] and "by_host names r2, not in hosts" in stray["msg"] and "Fix:" in stray["msg"]
    wrong = _run({"hosts": ["r1"], "by_host": {"r1": {"no_such_option": 1}}}, HOSTVARS)
    assert wrong["failed_hosts"] == ["r1"] and "invalid arguments" in wrong["hosts"]["r1"]["msg"]
    assert _run({"hosts": []}, HOSTVARS) == {"changed": False, "hosts": {}, "fleet": True, "msg": "no devices to work on"}


class _ReadsUnlisted(_StandIn):
    def execute(self, args, task_vars, result):
        return {"value": self._var(task_vars, "governed_not_a_fleet_variable", default="fallback")}


def test_a_device_reading_a_host_variable_the_fleet_does_not_pass_fails_instead_of_taking_the_default():
    loader = DataLoader()
    task = Task()
    task.args = {"hosts": ["r1", "fw1"]}
    action = _ReadsUnlisted(task, types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp")), PlayContext(), loader,
                            Templar(loader=loader), None)
    hostvars = {host: dict(values, governed_not_a_fleet_variable="set") for host, values in HOSTVARS.items()}
    out = action.run(task_vars=dict(hostvars["r1"], inventory_hostname="r1", hostvars=hostvars))
    assert out["failed_hosts"] == ["r1", "fw1"], out
    assert all("add it to FLEET_VARIABLES" in out["hosts"][host]["msg"] for host in ("r1", "fw1")), out
    # the same action as a plain per-host task reads it
    task.args = {}
    plain = _ReadsUnlisted(task, types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp")), PlayContext(), loader,
                           Templar(loader=loader), None)
    assert plain.run(task_vars=dict(hostvars["r1"], inventory_hostname="r1", hostvars=hostvars))["value"] == "set"


def _literal_var_names(path):
    """The host variable names a module reads through ``self._var(task_vars, "name", ...)``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_var"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            found.add(node.args[1].value)
    return found


def test_every_host_variable_a_fleet_capable_device_action_reads_is_passed_to_its_devices():
    root = pathlib.Path(device_action.__file__).resolve().parents[1]
    sources = [root / "plugin_utils" / "device_action.py"]
    for path in sorted((root / "action").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "DeviceActionBase)" in text and "FLEET = False" not in text:
            sources.append(path)
    assert len(sources) >= 8, sources  # device_action plus backup, snapshot, check, deploy, confirm, restore, recover
    names = {str(path.name): _literal_var_names(path) for path in sources}
    assert names["device_action.py"] >= {"ansible_host", "governed_platform", "ansible_become"}, names
    passed = set(device_action._fleet_variable_names())  # pylint: disable=protected-access
    missing = {name: sorted(found - passed) for name, found in names.items() if found - passed}
    assert not missing, missing


def test_each_devices_result_reads_as_a_per_host_tasks():
    registered = {"fleet": True, "failed": True, "hosts": {"r1": {"snapshot": {"path": "a"}}, "r2": {"failed": True, "msg": "x"}}}
    results = run_decisions.fleet_results(registered, ["r1", "r2", "r3"])
    assert results["r1"] == {"snapshot": {"path": "a"}} and results["r2"]["failed"] and results["r3"]["skipped"] is True
    assert run_decisions.fleet_results(registered, ["r1", "r2", "r3"], key="snapshot") == {"r1": {"path": "a"}}
    skipped = run_decisions.fleet_results({"skipped": True, "changed": False}, ["r1"])
    assert skipped["r1"]["skipped"] is True
    # a batch's failed devices: the failed one, and the ones with no verdict (never counted as passed)
    assert run_decisions.fleet_failed(registered, ["r1", "r2", "r3"]) == ["r2", "r3"]
    assert run_decisions.fleet_failed({"skipped": True}, ["r1"]) == ["r1"]
    assert run_decisions.fleet_failed({"fleet": True, "hosts": {"r1": {"passed": True}}}, ["r1"]) == []
    # the task failed before any device (its arguments): every device failed, never a skip, and no snapshot is taken as good
    early = {"failed": True, "msg": "governed.change.check: hosts must be a list", "hosts": {}}
    assert run_decisions.fleet_results(early, ["r1", "r2"])["r2"] == {"failed": True, "changed": False,
                                                                      "msg": "governed.change.check: hosts must be a list"}
    assert run_decisions.fleet_results(early, ["r1"], key="snapshot") == {}
    statuses = run_decisions.precheck_statuses(dict((h, (r, r, {"skipped": True})) for h, r in
                                                    run_decisions.fleet_results(early, ["r1"]).items()))
    assert statuses["r1"]["failed"] is True


def test_each_device_gets_its_own_pre_snapshot_expected_checks_and_probes():
    probes = [{"name": "web", "kind": "tcp", "target": "10.0.0.1", "port": 80}]
    args = run_decisions.device_arguments(
        ["r1", "r2", "r3", "fw1"], platforms={"r1": "frr", "r2": "frr", "r3": "frr", "fw1": "linux"},
        pre={"r1": {"path": "p1"}, "r2": {"path": "p2"}, "r3": {"path": "p3"}, "fw1": {"path": "pf"}},
        expected={"r1": ["e1"], "r2": ["e2"], "r3": ["e3"]}, expected_only=["r1"], targets=["r1", "r2"],
        probes=probes)
    assert args["r1"] == {"pre": {"path": "p1"}, "expected": ["e1"]}  # a deployed target: its checks
    assert args["r2"] == {"pre": {"path": "p2"}, "expected": []}  # a target not deployed yet: none
    assert args["r3"] == {"pre": {"path": "p3"}, "expected": ["e3"]}  # not a target (a neighbour): its own
    assert args["fw1"] == {"pre": {"path": "pf"}, "expected": [], "probes": probes}  # probes on the firewall only
    every = run_decisions.device_arguments(["r2"], expected={"r2": ["e2"]}, targets=["r2"])
    assert every["r2"] == {"expected": ["e2"]}  # no expected_only: every device's own
    planned = run_decisions.device_arguments(["fw1"], platforms={"fw1": "linux"}, post={"fw1": {"path": "s"}},
                                             assessment={"verification": {"traffic": {"probes_by_host": {"fw1": probes}}}})
    assert planned["fw1"] == {"post": {"path": "s"}, "probes": probes}


def _result(data, action="governed.change.check", host="r1"):
    task = types.SimpleNamespace(_uuid="u1", no_log=False, action=action, _role=None, name="Check every device")
    return types.SimpleNamespace(task=task, result=data, task_name="Check every device",
                                 host=types.SimpleNamespace(get_name=lambda: host), task_fields={"action": action})


def test_the_evidence_records_each_devices_result_as_its_hosts():
    callback = CallbackModule()
    callback.change_id = None
    data = {"fleet": True, "failed": True, "changed": False, "failed_hosts": ["r3"], "hosts": {
        "r2": {"passed": True, "results": [{"name": "bgp", "passed": True}], "changed": False},
        "r3": {"failed": True, "passed": False, "msg": "r3: 1 check(s) failed", "results": [{"name": "bgp", "passed": False}]}}}
    callback._record(_result(data), "failed")  # pylint: disable=protected-access
    items = [item for _cid, item in callback.buffer]
    assert [(item["host"], item["status"]) for item in items] == [("r2", "ok"), ("r3", "failed")]  # not r1, the task's host
    assert items[1]["result"]["msg"] == "r3: 1 check(s) failed" and "hosts" not in items[1]["result"]
    assert [row["host"] for item in items for row in item.get("checks", [])] == ["r2", "r3"]
    # a per-host result, or another collection's result that happens to hold `hosts`, is recorded as it is
    callback.buffer = []
    callback._record(_result({"changed": False, "hosts": {"a": {}}, "fleet": True}, action="ansible.builtin.debug"), "ok")  # pylint: disable=protected-access
    assert [item["host"] for _cid, item in callback.buffer] == ["r1"]
