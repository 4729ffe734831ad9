# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the collection's task-side plugins once in the controller process, before Ansible forks its workers.

Ansible runs every task of every host in a forked worker process, and a worker imports the action plugin it runs (and
the core modules that plugin uses) and parses its argument spec: 50-70 ms of CPU for one host's task here, paid again
by every host of every task (issue 16: about 240 device tasks at 30 routers). Imported and parsed once in the
controller (the evidence callback calls ``prewarm`` as the playbook starts), every fork inherits them.

Only imports and parses: a plugin that cannot be loaded here is left for its task, which reports the error as it
always has.
"""

from __future__ import annotations

import importlib
import os

PACKAGE = "ansible_collections.governed.change.plugins"
KINDS = ("action", "filter", "lookup", "test")


def _names(folder):
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    return [name[:-3] for name in entries if name.endswith(".py") and not name.startswith("_")]


def prewarm():
    """Import the collection's action, filter, lookup and test plugins and parse each action's argument spec.

    Returns the names loaded and the ones that could not be (left for their tasks to report)."""
    from ansible_collections.governed.change.plugins.plugin_utils.action_base import argument_spec_from_doc

    plugins_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    loaded, skipped = [], []
    for kind in KINDS:
        for name in _names(os.path.join(plugins_dir, kind)):
            try:
                importlib.import_module("%s.%s.%s" % (PACKAGE, kind, name))
                if kind == "action":
                    module = importlib.import_module("%s.modules.%s" % (PACKAGE, name))
                    argument_spec_from_doc(module.DOCUMENTATION)
                loaded.append("%s/%s" % (kind, name))
            except Exception:  # pylint: disable=broad-exception-caught  # the task reports it
                skipped.append("%s/%s" % (kind, name))
    return loaded, skipped


# network_cli opens its SSH through one of these (its ssh_type option); both are loaded when it is named
_NETWORK_CLI_SSH = ("ansible.netcommon.libssh", "paramiko")


def _plain(value):
    """A variable's value when it is a plain name (a templated one is left for its task)."""
    return value if isinstance(value, str) and value and "{{" not in value and "{%" not in value else None


def _inventory_names(inventory, variable):
    """The distinct plain values the inventory's groups and hosts give ``variable``."""
    names = set()
    sources = [getattr(group, "vars", None) or {} for group in inventory.groups.values()]
    sources += [getattr(host, "vars", None) or {} for host in inventory.get_hosts(ignore_restrictions=True)]
    for source in sources:
        value = _plain(source.get(variable))
        if value is not None:
            names.add(value)
    return names


def prewarm_connections(inventory, default_connection="ssh"):
    """Load, once here, the connection plugins the inventory's hosts use and the terminal and cliconf plugins of their
    network OS, before Ansible forks its workers.

    A worker builds the host's connection for every task it runs, even for an action that never uses it (all of this
    collection's actions: they reach the devices through their own transport): it imports the plugin and parses its
    DOCUMENTATION into the configuration definitions, and network_cli loads the OS's terminal and cliconf plugins and its
    SSH library's plugin the same way. Measured at 30 routers (issue 16): about 30% of the controller's CPU during a
    pipeline run, paid again by every host of every task. Loaded here, every fork inherits the loaded modules and the
    parsed definitions. Only loads (class_only: nothing is connected); a plugin that cannot be loaded is left for its
    task, which reports the error as it always has. Returns the names loaded and the ones that could not be."""
    from ansible.plugins.loader import cliconf_loader, connection_loader, terminal_loader

    connections = _inventory_names(inventory, "ansible_connection") | {default_connection, "local"}
    if any(name.rsplit(".", 1)[-1] == "network_cli" for name in connections):
        connections |= set(_NETWORK_CLI_SSH)
    wanted = [(connection_loader, name) for name in sorted(connections)]
    for network_os in sorted(_inventory_names(inventory, "ansible_network_os")):
        wanted += [(terminal_loader, network_os), (cliconf_loader, network_os)]
    loaded, skipped = [], []
    for loader, name in wanted:
        try:
            found = loader.get(name, class_only=True)
        except Exception:  # pylint: disable=broad-exception-caught  # the task reports it
            found = None
        (loaded if found is not None else skipped).append("%s/%s" % (loader.subdir, name))
    return loaded, skipped


def cache_vars_files(play, loader):
    """Parse the play's plain vars_files once into the loader's file cache, before Ansible forks its workers.

    Ansible reads and parses a play's vars_files again for every host of every task (and for every host a ``hostvars``
    lookup reaches), keeping only vaulted files in its cache; the stage playbooks' vars/governed.yml was about 10% of
    the controller process's CPU at 30 routers (issue 16). Parsed here the way Ansible parses them (trusted as
    templates), through the loader's own cache, every later read of the file finds it. A templated or missing name is
    left to Ansible. Returns the paths cached."""
    cached = []
    try:
        search = play.get_search_path()
        names = play.vars_files or []
    except AttributeError:
        return cached
    for entry in names if isinstance(names, list) else [names]:
        for name in entry if isinstance(entry, list) else [entry]:  # a list entry: the first file found wins
            if _plain(name) is None:
                break
            try:
                found = loader.path_dwim_relative_stack(search, "vars", name)
            except Exception:  # pylint: disable=broad-exception-caught  # not found: the next name of the entry
                continue
            if not os.path.isfile(found):
                continue
            try:
                loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
            except Exception:  # pylint: disable=broad-exception-caught  # Ansible reads it and reports it as always
                break
            cached.append(found)
            break
    return cached
