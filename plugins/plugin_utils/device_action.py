# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared glue of the device-stage actions: a driver and its SSH transport built from the host's variables."""

from __future__ import annotations

import concurrent.futures
import contextvars
import difflib
import os

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform
from ansible_collections.governed.change.plugins.module_utils.paths import check_outside_collection, default_output_dir
from ansible_collections.governed.change.plugins.module_utils.platforms.base import probe_key, run_probes
from ansible_collections.governed.change.plugins.module_utils.redact import redact_text
from ansible_collections.governed.change.plugins.module_utils.snapshot import probes_taken
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport
from ansible_collections.governed.change.plugins.plugin_utils import ssh_settings
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase

_MISSING = object()
# A fleet task (option ``hosts``) works on this many devices at once: the device work is SSH round trips and waits, and
# a thread costs little beside the fork and the variable preparation Ansible spends on every host of a per-host task.
FLEET_WORKERS = 32
# The host variables a device action reads (besides the SSH settings): resolved for every device of a fleet task in
# the task's own thread before the devices are worked on in threads.
FLEET_VARIABLES = ("ansible_host", "ansible_port", "governed_host_port", "governed_platform", "governed_state_dir",
                   "governed_store_dir", "governed_ssh_control_persist", "governed_output_dir", "ansible_become",
                   "ansible_become_method", "ansible_become_user", "ansible_become_password", "ansible_become_pass")
FLEET_OPTIONS = ("hosts", "by_host")
# SSH connection sharing of the device stages (transport.control_settings): Ansible's own ControlPath folder.
CONTROL_DIR = "~/.ansible/cp/governed"
CONTROL_PERSIST_S = 30


def note_unverified(result, transports):
    """Record in a task result that host key checking was off for some devices (the evidence keeps the result)."""
    unchecked = sorted(set(transport.device for transport in transports if not transport.host_key_checking))
    if unchecked:
        result["host_key_checking"] = False
        result.setdefault("warnings", []).append(
            "host key checking is off for %s (ansible_host_key_checking / host_key_checking): the device's identity "
            "was not verified." % ", ".join(unchecked))
    return result


def resolve_become(become, method, user, password, where):
    """The user a device host's commands run as through sudo (None: no become). ``enable`` is a network CLI's own
    privilege level (network_cli), not the host shell's: it is left to that connection."""
    if not boolean(become or False, strict=False):
        return None
    method = (method or "sudo").split(".")[-1]
    if method == "enable":
        return None
    if method != "sudo":
        raise ValidationError("become method %r is not supported on the device host (only sudo)." % method, where="%s: ansible_become_method" % where,
                              fix="use become_method: sudo (passwordless for the device user), or log in as the user that runs the device's commands.")
    if password:
        raise ValidationError("a become password is set, but the device stages run non-interactively and never send one.",
                              where="%s: ansible_become_password" % where,
                              fix="allow the device user passwordless sudo (NOPASSWD) for the device's commands and drop the password, "
                                  "or log in as the user that runs them (ansible_user).")
    return user or "root"


def _fleet_variable_names():
    return tuple(ssh_settings.variable_names()) + FLEET_VARIABLES


def play_level_vars(task_vars, template):
    """{name: value} of the variables a fleet task has from the play or a role (``task_vars``, the task host's, where
    they differ from the task host's ``hostvars``): the same for every host, and over the inventory's, as Ansible's
    precedence has it. ``hostvars`` holds a host's inventory variables, facts and extra vars only."""
    mine = (task_vars.get("hostvars") or {}).get(task_vars.get("inventory_hostname")) or {}
    found = {}
    for name in _fleet_variable_names():
        if name in task_vars:
            value = template(task_vars[name])
            if name not in mine or mine[name] != value:
                found[name] = value
    return found


def device_vars(task_vars, host, play_level):
    """One device's variables in a fleet task, as a task on its host would see them: the play-level ones, else its own
    from ``hostvars``; with ``inventory_hostname`` and the play's ``hostvars`` (a probe's vantage point is another host)."""
    hostvars = task_vars.get("hostvars") or {}
    if host not in hostvars:
        raise ValidationError("host %r of the task's hosts is not in the inventory." % host, where="hosts",
                              fix="list inventory hosts in hosts (the devices to work on).")
    own = hostvars[host]
    values = {"inventory_hostname": host, "hostvars": hostvars}
    for name in _fleet_variable_names():
        if name in play_level:
            values[name] = play_level[name]
        elif name in own:
            values[name] = own[name]
    return values


class DeviceActionBase(GovernedActionBase):
    """A GovernedActionBase that talks to the task's device through its host shell.

    Connection failures (ssh rc 255, nothing run) are retried with bounded exponential backoff (options ``retries``,
    ``retry_delay``); every result carries ``attempts`` (the most attempts one command needed) and a failure after
    the retries were used up carries ``transient: true`` so a role can escalate with reason retries_exhausted.
    Host key checking turned off for a device is recorded: ``host_key_checking: false`` and a warning naming it.
    """

    _fleet_args = None  # a fleet task's device: its own arguments (the task's, with its by_host entry)
    FLEET = True  # the action takes hosts/by_host (the device_connection doc fragment); False for assess and the like

    def run(self, tmp=None, task_vars=None):
        if self.FLEET and self._fleet_args is None and self._task.args.get("hosts") is not None:
            return self._run_fleet(tmp, task_vars or {})
        self._transports = []
        result = super().run(tmp, task_vars)
        if self._transports:
            result["attempts"] = max(transport.max_attempts for transport in self._transports) or 1
            retried = [item for transport in self._transports for item in transport.retried]
            if retried:
                result["retried"] = retried[:20]
            if result.get("failed") and any(transport.exhausted for transport in self._transports):
                result["transient"] = True
            note_unverified(result, self._transports)
        return result

    def _validated_args(self, args=None):
        # a fleet task's device: its own arguments (the task object is shared by the devices' threads: never changed)
        return super()._validated_args(self._fleet_args if args is None and self._fleet_args is not None else args)

    def _run_fleet(self, tmp, task_vars):
        """The task's work on every device of ``hosts`` at once (threads), each device with its own variables and its
        ``by_host`` arguments, as if the task had run on that host: ``hosts`` holds each device's result, ``failed``
        says one failed (``failed_hosts``). Run with run_once; the evidence callback records each device's result as
        that host's."""
        result = {"changed": False, "hosts": {}, "fleet": True}
        shared = dict((k, v) for k, v in self._task.args.items() if k not in FLEET_OPTIONS)
        try:
            hosts, by_host = self._fleet_hosts(self._task.args.get("hosts"), self._task.args.get("by_host"))
            play_level = play_level_vars(task_vars, self._templar.template)
            jobs = [(host, device_vars(task_vars, host, play_level), dict(shared, **by_host.get(host, {}))) for host in hosts]
        except GovernedChangeError as exc:
            result.update(failed=True, msg="%s: %s" % (self._fqcn(), exc), error=exc.as_dict())
            return result
        if not jobs:
            result["msg"] = "no devices to work on"
            return result
        context = contextvars.copy_context()

        def one(job):
            host, variables, args = job
            action = type(self)(self._task, self._connection, self._play_context, self._loader, self._templar,
                                self._shared_loader_obj)
            action._fleet_args = args  # pylint: disable=protected-access
            try:
                return context.copy().run(action.run, tmp, variables)
            except Exception as exc:  # pylint: disable=broad-except
                # one device's unexpected error is that device's failure, never the other devices' lost results
                return {"failed": True, "msg": "%s: %s: %s: %s" % (self._fqcn(), host, type(exc).__name__, exc)}

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(FLEET_WORKERS, len(jobs))) as pool:
            outcomes = list(pool.map(one, jobs))
        for (host, _vars, _args), outcome in zip(jobs, outcomes):
            result["hosts"][host] = outcome
        failed = [host for host, outcome in result["hosts"].items() if outcome.get("failed")]
        result["changed"] = any(outcome.get("changed") for outcome in result["hosts"].values())
        result["failed_hosts"] = failed
        if failed:
            result["failed"] = True
            result["msg"] = "%s failed on %d of %d device(s): %s" % (self._fqcn(), len(failed), len(jobs), " | ".join(
                "%s: %s" % (host, result["hosts"][host].get("msg", "failed")) for host in failed))
        return result

    @staticmethod
    def _fleet_hosts(hosts, by_host):
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) and host for host in hosts):
            raise ValidationError("hosts must be a list of inventory host names, not %r." % (hosts,), where="hosts",
                                  fix="pass the devices to work on as a list of inventory hosts.")
        by_host = by_host or {}
        if not isinstance(by_host, dict) or not all(isinstance(v, dict) for v in by_host.values()):
            raise ValidationError("by_host must map a host to its own arguments.", where="by_host",
                                  fix="pass by_host as {host: {option: value}}.")
        bad = sorted(set(key for args in by_host.values() for key in args if key in FLEET_OPTIONS))
        if bad:
            raise ValidationError("by_host cannot set %s." % ", ".join(bad), where="by_host", fix="set hosts once, for the task.")
        stray = sorted(set(by_host) - set(hosts))
        if stray:  # a device's own arguments for a device the task does not work on: a mistake, never ignored
            raise ValidationError("by_host names %s, not in hosts." % ", ".join(stray), where="by_host",
                                  fix="give by_host entries only for the hosts the task works on (or add them to hosts).")
        return list(dict.fromkeys(hosts)), by_host

    def _var(self, task_vars, name, host=None, default=None):
        if self._fleet_args is not None and name not in _fleet_variable_names():
            # a fleet device's variables hold only the listed names: reading another would silently give the default
            raise ValueError("%s reads host variable %r, which a fleet task does not pass to its devices: add it to "
                             "FLEET_VARIABLES in plugin_utils/device_action.py." % (type(self).__module__, name))
        if host is None or host == task_vars.get("inventory_hostname"):
            value = task_vars.get(name, _MISSING)
        else:
            hostvars = task_vars.get("hostvars") or {}
            if host not in hostvars:
                raise ValidationError("host %r is not in the inventory." % host, where="probes.from",
                                      fix="name an inventory host as the probe's vantage point.")
            value = hostvars[host].get(name, _MISSING)
        if value is _MISSING or value is None:
            return default
        if self._fleet_args is not None and (host is None or host == task_vars.get("inventory_hostname")):
            return value  # a fleet device's variables were templated as they were read (hostvars)
        return self._templar.template(value)

    def ssh_settings(self, task_vars, host=None):
        """The host's SSH settings as Ansible's ssh connection resolves them (variables, environment, ansible.cfg)."""
        variables = {}
        for name in ssh_settings.variable_names():
            value = self._var(task_vars, name, host)
            if value is not None:
                variables[name] = value
        return ssh_settings.resolve(variables)

    def become_user(self, task_vars, host=None):
        """The user to become on the device host (sudo), None without become; the play's become for the task's own host,
        the ``ansible_become*`` variables for another host (a probe's vantage point)."""
        own = host is None or host == task_vars.get("inventory_hostname")
        if own and self._fleet_args is None:
            context = self._play_context
            become, method, user, password = context.become, context.become_method, context.become_user, context.become_pass
        else:
            # another host (a probe's vantage point): its ansible_become* variables; a fleet task's device: the same, else
            # the task's keywords (the play context is the task host's)
            task = self._task if own else None
            become = self._var(task_vars, "ansible_become", host, task.become if task else False)
            method = self._var(task_vars, "ansible_become_method", host, task.become_method if task else "sudo")
            user = self._var(task_vars, "ansible_become_user", host, task.become_user if task else None)
            password = self._var(task_vars, "ansible_become_password", host) or self._var(task_vars, "ansible_become_pass", host)
            password = password or (self._play_context.become_pass if own else None)
        where = host or task_vars.get("inventory_hostname")
        return resolve_become(become, method, user, password, where)

    def transport_for(self, args, task_vars, host=None):
        """An SSHTransport to a host's shell: governed_host_port (routers) or ansible_port (Linux hosts), with the
        inventory's SSH settings (user, key, ssh arguments such as a known_hosts file or a bastion, host key checking)."""
        device = host or task_vars.get("inventory_hostname")
        port = args.get("port") if host is None and args.get("port") else None
        if port is None:
            port = self._var(task_vars, "governed_host_port", host) or self._var(task_vars, "ansible_port", host, 22)
        settings = self.ssh_settings(task_vars, host)
        retries = args.get("retries")
        retry_delay = args.get("retry_delay")
        transport = SSHTransport(host=self._var(task_vars, "ansible_host", host, device), port=port,
                                 user=settings["remote_user"] or "root", key_file=settings["private_key_file"],
                                 connect_timeout=args.get("connect_timeout") or settings["timeout"] or 5,
                                 command_timeout=args.get("command_timeout") or 60,
                                 device=device, retries=2 if retries is None else retries, retry_delay=1.0 if retry_delay is None else retry_delay,
                                 ssh_binary=settings["ssh_executable"], host_key_checking=settings["host_key_checking"],
                                 common_args=settings["ssh_common_args"], extra_args=settings["ssh_extra_args"],
                                 become_user=self.become_user(task_vars, host), control=self.control_settings(task_vars, host))
        if getattr(self, "_transports", None) is not None:
            self._transports.append(transport)
        return transport

    def control_settings(self, task_vars, host=None):
        """SSH connection sharing for this Ansible run (transport.control_settings): the run's commands to a device share
        one connection (scope: the ansible-playbook process; a later run never rides on this run's connections);
        ``governed_ssh_control_persist`` (seconds, default 30, 0: one connection per command)."""
        persist = self._var(task_vars, "governed_ssh_control_persist", host, CONTROL_PERSIST_S)
        return {"dir": os.path.expanduser(CONTROL_DIR), "persist_s": persist, "scope": "ansible-run-%d" % os.getppid()}

    def driver(self, args, task_vars):
        platform = args.get("platform") or self._var(task_vars, "governed_platform")
        if not platform:
            raise ValidationError("the device's platform is not known.", where="%s: governed_platform" % task_vars.get("inventory_hostname"),
                                  fix="set governed_platform (frr or linux) for the host, or pass platform.")
        cls = get_platform(platform)
        state_dir = args.get("state_dir") or self._var(task_vars, "governed_state_dir")
        device = task_vars.get("inventory_hostname")
        return cls(self.transport_for(args, task_vars), device, state_dir=state_dir)

    def store_dir(self, args, task_vars):
        path = args.get("store_dir") or self._var(task_vars, "governed_store_dir")
        if not path:
            path = os.path.join(default_output_dir(), "store")
        return check_outside_collection(os.path.abspath(self._path(path, task_vars)), where="store_dir")

    def probe_results(self, args, task_vars, probes):
        """Run the probes, grouped by vantage point (``from``: an inventory host; default the device itself)."""
        if not probes:
            return None
        results = {}
        groups = {}
        for probe in probes:
            groups.setdefault(probe.get("from") or None, []).append(probe)
        for host, items in groups.items():
            found = run_probes(self.transport_for(args, task_vars, host), items)
            # each result keeps its probe's definition: a later snapshot of the device can run the same probes
            results.update((probe_key(probe), {"result": found.get(probe_key(probe), "fail"), "probe": probe}) for probe in items)
        return results

    def take_snapshot(self, args, task_vars, driver, probes):
        """A snapshot with the given probes; without any, the probes the pre-change snapshot (``pre``) ran, so pre and post
        are compared like for like (a stage that was not given the probes still takes them)."""
        if not probes and args.get("pre") is not None and driver.name == "linux":
            probes = probes_taken(args["pre"]) or None
        return driver.snapshot(probes=self.probe_results(args, task_vars, probes))

    @staticmethod
    def ref_out(ref):
        """The reference as returned in results (path, sha256, kind, bytes, summary)."""
        return dict((k, ref[k]) for k in statestore.REF_KEYS if k in ref)

    @staticmethod
    def config_diff(before, after, before_header="before", after_header="after"):
        """An Ansible diff of two configs, secrets redacted."""
        return {"before": redact_text(before or "")[0], "after": redact_text(after or "")[0],
                "before_header": before_header, "after_header": after_header}

    @staticmethod
    def unified(before, after, limit=200):
        """A short unified diff (redacted) for results."""
        lines = list(difflib.unified_diff(redact_text(before or "")[0].splitlines(), redact_text(after or "")[0].splitlines(),
                                          "before", "after", lineterm="", n=1))
        return lines[:limit]
