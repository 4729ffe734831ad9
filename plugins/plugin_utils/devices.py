# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller glue between Ansible's host variables and the core's platform drivers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, ValidationError


def connection_info(host, hostvars, templar):
    """Management SSH details of one inventory host, templated (ports and key paths may be expressions)."""
    hv = hostvars[host]

    def get(key, default=None):
        if key not in hv:
            return default
        return templar.template(hv[key])

    platform = get("governed_platform")
    if not platform:
        raise ValidationError("host %s has no governed_platform host variable." % host, where="inventory: %s" % host,
                              fix="set governed_platform (frr or linux) for the host or its group.")
    port = get("governed_host_port") if platform == "frr" else get("ansible_port", 22)
    return {
        "host": host,
        "platform": platform,
        "address": get("ansible_host", host),
        "port": int(port or 22),
        "user": get("ansible_user", "root"),
        "key_file": get("ansible_ssh_private_key_file"),
    }


def driver_for(info):
    """The platform driver of a host, on an SSH transport to its management address."""
    # Imported here so the assess action still loads (and can run on given configs) without the device layer.
    from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.module_utils.transport import SshTransport  # pylint: disable=import-outside-toplevel

    transport = SshTransport(info["address"], port=info["port"], user=info["user"], key_file=info["key_file"])
    return get_platform(info["platform"])(info["host"], transport)


def read_running_configs(hosts, hostvars, templar, workers=8):
    """Read the running configuration of many hosts in parallel (read-only).

    Returns ({host: text}, {host: reason}) — an unreachable device is reported, never guessed.
    """
    infos = {host: connection_info(host, hostvars, templar) for host in hosts}

    def read(host):
        try:
            return host, driver_for(infos[host]).read_running(), None
        except GovernedChangeError as exc:
            return host, None, str(exc)

    got, failed = {}, {}
    if not hosts:
        return got, failed
    with ThreadPoolExecutor(max_workers=min(workers, len(hosts))) as pool:
        for host, text, reason in pool.map(read, hosts):
            if reason is None:
                got[host] = text
            else:
                failed[host] = reason
    return got, failed
