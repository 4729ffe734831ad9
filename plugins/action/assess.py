# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.assess: gathers inputs from Ansible, delegates to the assess core."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.governed.change.plugins.module_utils import assess as core
from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils.change_request import load_change_request
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.facts import normalize_inventory, resolve_targets
from ansible_collections.governed.change.plugins.module_utils.paths import check_outside_collection
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.records import check_assessable, record_assessment
from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase
from ansible_collections.governed.change.plugins.plugin_utils.render import render_config_lines

# Host variables a policy may use; only the targets' are read (reading all hostvars of a big inventory is slow).
HOST_VARS = ("site", "role", "criticality", "tags", "governed_platform")


class ActionModule(DeviceActionBase):
    """Assess a change request once for the whole change."""
    FLEET = False  # reads many devices itself; no hosts/by_host options

    MODULE_NAME = "assess"

    def execute(self, args, task_vars, result):
        cr_path = self._path(args["change_request"], task_vars)
        request = load_change_request(cr_path)
        if args["ledger"] and not self._task.check_mode:
            # a change being implemented (or final) is refused before any device is read or anything is written
            check_assessable(self._path(args["ledger"], task_vars), request["id"])
        policy = load_policy(self._path(args["policy"], task_vars))
        # Normalised once for the whole change (per target it made assess quadratic in the inventory size: issue 16).
        inventory = normalize_inventory(self._inventory_view(request, policy, task_vars))
        hosts = resolve_targets(request["targets"], inventory, source=cr_path)
        # Rendered before any device is read: a refused template costs no SSH session.
        templates_dir = self._path(args["templates_dir"], task_vars)
        rendered = {host: self._render_lines(request, host, inventory, cr_path, task_vars, templates_dir=templates_dir)
                    for host in hosts}

        running, unreachable = {}, {}
        for host, path in (args["running_configs"] or {}).items():
            require_file(self._path(path, task_vars), "running config", where="running_configs.%s" % host,
                         fix="point it at a readable file or drop it to read the device.")
            try:
                with open(self._path(path, task_vars), encoding="utf-8") as handle:
                    running[host] = handle.read()
            except OSError as exc:
                raise ValidationError("cannot read the running config of %s (%s)." % (host, exc), where="running_configs.%s" % host,
                                      fix="point it at a readable file or drop it to read the device.")
        if args["fetch_running"]:
            wanted = [h for h in hosts if h not in running]
            got, unreachable = self._read_running(wanted, task_vars)
            running.update(got)

        diffs = {}
        for host in hosts:
            # the platform says which live values (counters...) the core takes out of the running config before the diff
            # the inventory view holds the targets' governed_platform, templated (one hostvars read per host, not two)
            entry = {"running": running.get(host), "platform": inventory["hosts"][host]["vars"].get("governed_platform")}
            if rendered[host] is not None:
                entry["lines"] = rendered[host]
            diffs[host] = entry

        assessment = core.assess(request, policy, inventory, diffs=diffs, now=args["now"], source=cr_path)
        for host, reason in unreachable.items():
            assessment["devices"][host]["unreachable"] = reason

        summary = summarize(assessment)
        out = {"changed": False, "assessment": assessment, "summary": summary, "unreachable_devices": unreachable,
               "ansible_stats": self.stats({"governed_assessment": summary})}
        if args["publish_fact"]:
            out["ansible_facts"] = {"governed_assessment": assessment}
        if self._task.diff:
            out["diff"] = [{"before_header": "%s (running)" % h, "after_header": "%s (candidate)" % h,
                            "prepared": d.get("diff", "")} for h, d in sorted(assessment["devices"].items())]
        if not self._task.check_mode:
            if args["output_dir"]:
                out["assessment_file"] = self._write(assessment, args["output_dir"], task_vars)
                summary["assessment_file"] = out["assessment_file"]
            if args["ledger"]:
                self._record(assessment, check_outside_collection(self._path(args["ledger"], task_vars), where="ledger"))
                out["changed"] = True
        return out

    # ----------------------------------------------------------------------------------------------------------
    def _inventory_view(self, request, policy, task_vars):
        groups = {g: list(members) for g, members in task_vars.get("groups", {}).items() if g not in ("all", "ungrouped")}
        names = list(task_vars.get("groups", {}).get("all", []))
        skeleton = normalize_inventory({"hosts": {n: {} for n in names}, "groups": groups})
        targets = set(resolve_targets(request["targets"], skeleton))  # a set: `name in targets` per host (a list was quadratic)
        wanted = set(HOST_VARS)
        if policy["criticality"].get("hostvar"):
            wanted.add(policy["criticality"]["hostvar"])
        hostvars = task_vars["hostvars"]
        hosts = {}
        for name in names:
            variables = {}
            if name in targets:
                host_vars = hostvars[name]
                for key in wanted:
                    if key in host_vars:
                        variables[key] = self._templar.template(host_vars[key])
            hosts[name] = {"vars": variables, "groups": skeleton["hosts"][name]["groups"]}
        return {"hosts": hosts, "groups": groups}

    def _read_running(self, hosts, task_vars):
        """Read the targets' running configs over their management SSH, in parallel and read-only.

        Returns ({host: text}, {host: reason}): an unreachable device is reported, never guessed.
        """
        drivers, failed = {}, {}
        for host in hosts:
            try:
                platform = self._var(task_vars, "governed_platform", host)
                if not platform:
                    raise ValidationError("no governed_platform host variable.", where="inventory: %s" % host,
                                          fix="set governed_platform (frr or linux) for the host or its group.")
                drivers[host] = get_platform(platform)(self.transport_for({}, task_vars, host), host)
            except GovernedChangeError as exc:
                failed[host] = str(exc)

        def read(host):
            try:
                return host, drivers[host].read_config(), None
            except GovernedChangeError as exc:
                return host, None, str(exc)

        got = {}
        if drivers:
            with ThreadPoolExecutor(max_workers=min(8, len(drivers))) as pool:
                for host, text, reason in pool.map(read, sorted(drivers)):
                    if reason is None:
                        got[host] = text
                    else:
                        failed[host] = reason
        return got, failed

    def _render_lines(self, request, host, inventory, cr_path, task_vars, templates_dir=None):
        # The same rendering as governed.change.config_lines at deploy time (plugin_utils/render.py): same lines, same hash.
        # ``inventory`` is the view normalised once by execute(), never re-normalised per host.
        # A host's variables cost Ansible a full variable merge: read them only when a template entry can use them.
        templated = any("template" in entry for entry in request["config"].values())
        return render_config_lines(self._templar, request, host, inventory, cr_path,
                                   task_vars["hostvars"][host] if templated else {}, templates_dir=templates_dir)

    def _write(self, assessment, output_dir, task_vars):
        return artifact.write(check_outside_collection(self._path(output_dir, task_vars), where="output_dir"), assessment)

    @staticmethod
    def _record(assessment, ledger_path):
        record_assessment(ledger_path, assessment)


def summarize(assessment):
    """The small summary passed between workflow nodes (big state stays in files)."""
    return {
        "change_id": assessment["change_id"],
        "tier": assessment["tier"],
        "score": assessment["score"],
        "change_class": assessment["change_class"],
        "required_gates": assessment["required_gates"],
        "content_hash": assessment["content_hash"],
        "fired_rules": [rule["name"] for rule in assessment["fired_rules"]],
        "hosts": assessment["hosts"],
        "requirements": assessment["requirements"],
    }
