# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A device host's SSH settings, resolved exactly as Ansible's own ``ansible.builtin.ssh`` connection resolves them.

One place for the variables, environment and ansible.cfg keys (``host_key_checking``, ``ansible_ssh_common_args``,
``ansible_ssh_extra_args``, ``ansible_user``, ``ansible_ssh_private_key_file``, ...): Ansible's config manager with
the ssh plugin's own option definitions, so a setting that reaches Ansible's connection reaches the device stages.
"""

from __future__ import annotations

from ansible import constants as C
from ansible.plugins.loader import connection_loader

# The ssh connection's options the device stages use; host and port are the device stages' own (governed_host_port).
OPTIONS = ("host_key_checking", "remote_user", "private_key_file", "ssh_common_args", "ssh_extra_args", "ssh_executable",
           "timeout")


def _definitions():
    definitions = C.config.get_configuration_definitions("connection", "ssh")
    if not definitions:  # the ssh plugin has not been loaded in this process yet: loading it registers its options
        connection_loader.get("ssh", class_only=True)  # the short name: no collection loader needed
        definitions = C.config.get_configuration_definitions("connection", "ssh")
    return definitions


def variable_names():
    """The host variables that set OPTIONS (ansible_host_key_checking, ansible_ssh_common_args, ...), in Ansible's order."""
    definitions = _definitions()
    names = []
    for option in OPTIONS:
        for entry in definitions.get(option, {}).get("vars") or []:
            if entry.get("name") and entry["name"] not in names:
                names.append(entry["name"])
    return names


def resolve(variables):
    """{option: value} for a host's (templated) variables, with Ansible's precedence over env and ansible.cfg.

    ``timeout`` is reported only when a host variable sets it (ansible.cfg's timeout is for Ansible's own connection;
    a device stage keeps its short connect timeout unless the host asks for another).
    """
    definitions = _definitions()
    settings = {}
    for option in OPTIONS:
        settings[option] = C.config.get_config_value(option, plugin_type="connection", plugin_name="ssh", variables=variables)
    timeout_vars = [entry["name"] for entry in definitions.get("timeout", {}).get("vars") or []]
    if not any(variables.get(name) is not None for name in timeout_vars):
        settings["timeout"] = None
    return settings
