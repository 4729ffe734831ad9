# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.device_state - an Event-Driven Ansible event source polling device state through the collection's
snapshot code; what counts as an event is decided in plugins/module_utils/remediation.py."""

from __future__ import annotations

import asyncio
import logging

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform
from ansible_collections.governed.change.plugins.module_utils.remediation import detect
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport

DOCUMENTATION = r"""
---
short_description: Poll routers' BGP peers and routes and emit peer_down and prefix_lost events
description:
  - Takes a baseline snapshot of each device at start (the collection's normalized snapshot - BGP peers, BGP table,
    interfaces - over SSH, the same driver the pipeline's precheck and verify use), then polls every O(interval) seconds.
  - Emits C(peer_down) for a peer established in the baseline and down now (C(cause) C(admin_shutdown) when this device
    shut it, else C(session)), and C(prefix_lost) for a prefix the device itself originated in the baseline that has left
    its BGP table. A fault is emitted once while it lasts, and again when it comes back after clearing.
  - Each event is C({governed_event - {schema, id, kind, device, peer|prefix, local_as, remote_as, cause, detected_at}}).
  - A device that cannot be read is logged and retried at the next poll (never an event).
  - The collection must be importable (C(ansible_collections.governed.change) on C(PYTHONPATH) or installed in the
    Python environment ansible-rulebook runs in).
options:
  devices:
    description:
      - The devices to watch - a list of C({name, port, host (default 127.0.0.1), user (default root), key_file,
        known_hosts, vty_dir (default $FRR_VTY_DIR)}); C(port) is the device host's SSH port
        (the inventory's C(governed_host_port)).
    type: list
    elements: dict
    required: true
  interval:
    description: Seconds between polls.
    type: float
    default: 3
  connect_timeout:
    description: SSH connect timeout in seconds.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Governed remediation
  hosts: all
  sources:
    - governed.change.device_state:
        interval: 3
        devices:
          - {name: r1, port: 22211, key_file: lab/run/id_ed25519, known_hosts: lab/run/known_hosts}
          - {name: r2, port: 22212, key_file: lab/run/id_ed25519, known_hosts: lab/run/known_hosts}
  rules:
    - name: Remediate or escalate through the governed pipeline
      condition: event.governed_event.kind is defined
      action:
        run_playbook:
          name: governed.change.remediate
"""

LOGGER = logging.getLogger("governed.change.device_state")


def _driver(spec, connect_timeout):
    """The platform driver of one device spec (validated by the transport: address, port, key file)."""
    common = ["-o", "UserKnownHostsFile=%s" % spec["known_hosts"]] if spec.get("known_hosts") else []
    transport = SSHTransport(host=spec.get("host", "127.0.0.1"), port=spec.get("port", 22), user=spec.get("user", "root"),
                             key_file=spec.get("key_file"), connect_timeout=connect_timeout, command_timeout=30,
                             device=spec["name"], common_args=common)
    return get_platform("frr")(transport, spec["name"], vty_dir=spec.get("vty_dir", "$FRR_VTY_DIR"))


async def _snapshot(driver):
    try:
        return await asyncio.to_thread(driver.snapshot)
    except GovernedChangeError as exc:
        LOGGER.warning("governed.change.device_state: %s", exc)
        return None


async def main(queue, args):
    """Baseline each device, then poll and put each new fault's event on the queue."""
    interval = float(args.get("interval", 3))
    drivers = [_driver(spec, int(args.get("connect_timeout", 5))) for spec in args["devices"]]
    baselines, active = {}, {}
    while True:
        for driver in drivers:
            snap = await _snapshot(driver)
            if snap is None:
                continue
            if driver.device not in baselines:
                baselines[driver.device] = snap
                LOGGER.info("governed.change.device_state: baseline of %s taken", driver.device)
                continue
            events, active[driver.device] = detect(baselines[driver.device], snap, active.get(driver.device, set()))
            for event in events:
                await queue.put(event)
        await asyncio.sleep(interval)


if __name__ == "__main__":
    # Run the source by hand: python device_state.py r1:22211:KEY:KNOWN_HOSTS ... (prints the events).
    import sys

    class _Print:
        @staticmethod
        async def put(event):
            print(event, flush=True)

    specs = [dict(zip(("name", "port", "key_file", "known_hosts"), item.split(":"))) for item in sys.argv[1:]]
    asyncio.run(main(_Print(), {"devices": specs}))
