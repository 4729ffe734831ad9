# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FRR routers, driven through the router's host shell: vtysh for reads and merges, frr-reload.py for exact restores."""

from __future__ import annotations

import json

from ansible_collections.governed.change.plugins.module_utils import snapshot as snapshot_core
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError
from ansible_collections.governed.change.plugins.module_utils.platforms.base import Platform, multi_command, q, redacted, split_multi
from ansible_collections.governed.change.plugins.module_utils.state_diff import canonical_address

HEADER_LINES = ("Building configuration...", "Current configuration:")
SNAPSHOT_COMMANDS = ("show bgp ipv4 unicast summary json", "show bgp ipv4 unicast json", "show interface json", "show running-config")
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
# Why each session that is not up went down (FRR's failed-peer summary: small, only the failed sessions); fail fast
# reads the last NOTIFICATION from it (impact.decisive_failure). Optional: an FRR without it only loses that evidence.
FAILED_COMMAND = "show bgp ipv4 unicast summary failed json"
# A snapshot's reads in one vtysh: the JSON answers in this order, then the running config. A vtysh per command costs
# about 25 ms of CPU on the router's host (it connects to every daemon): five per snapshot, and a check polls snapshots
# (issue 16: about 120 snapshots a change at 30 routers). Any doubt about the combined answer (an error text, a command
# this FRR lacks) and the snapshot reads the commands one by one, as before, with their own errors.
COMBINED_JSON = SNAPSHOT_COMMANDS[:3] + (FAILED_COMMAND,)
RUNNING_CONFIG = SNAPSHOT_COMMANDS[3]


def split_combined(text, count=len(COMBINED_JSON)):
    """The answers of one vtysh running COMBINED_JSON then ``show running-config``: ([json text of each], config text),
    or None when the output is not exactly ``count`` JSON objects followed by a running config."""
    decoder, position, answers = json.JSONDecoder(), 0, []
    text = str(text or "")
    for _answer in range(count):
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        answers.append(text[position:end] + "\n")
        position = end
    config = text[position:].lstrip("\r\n")
    if not config.startswith(HEADER_LINES[0]):
        return None
    return answers, config


def peer_faults(text):
    """{address: {lastNotification, lastResetDueTo}} from ``show bgp ... summary failed json`` ({} when unreadable)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    peers = data.get("peers") if isinstance(data, dict) else None
    out = {}
    for address, info in (peers or {}).items():
        if isinstance(info, dict) and (info.get("lastNotificationReason") or info.get("lastResetDueTo")):
            out[canonical_address(address)] = {"lastNotification": info.get("lastNotificationReason"),
                                               "lastResetDueTo": info.get("lastResetDueTo")}
    return out


def strip_header(text):
    """`show running-config` without its header ("Building configuration...", blank, "Current configuration:")."""
    lines = str(text or "").splitlines(True)
    out = []
    in_header = True
    for line in lines:
        body = line.strip()
        if in_header and (body in HEADER_LINES or not body):
            continue
        in_header = False
        out.append(line)
    text = "".join(out)
    if text and not text.endswith("\n"):
        text += "\n"
    return text


class FrrPlatform(Platform):
    """FRR (vtysh + frr-reload.py) on a Linux host; ``vty_dir`` is the folder of the router's vty sockets."""

    name = "frr"

    def __init__(self, transport, device, state_dir=None, vty_dir="$FRR_VTY_DIR", frr_reload=FRR_RELOAD):
        super().__init__(transport, device, state_dir or "%s/governed" % vty_dir)
        self.vty_dir = vty_dir
        self.frr_reload = frr_reload
        self.combined = True  # snapshots read through one vtysh until an answer makes that doubtful

    def vtysh(self, *commands):
        return "vtysh --vty_socket \"%s\" %s" % (self.vty_dir, " ".join("-c %s" % q(c) for c in commands))

    def read_config_command(self):
        return self.vtysh("show running-config")

    def parse_config(self, stdout):
        text = strip_header(stdout)
        if "\nend" not in "\n" + text and not text.rstrip().endswith("end"):
            raise DeviceError("the running config looks cut off (no final 'end'): %s" % redacted(text[-200:]),
                              where="%s: show running-config" % self.device, fix="check that the router's daemons answer vtysh.")
        return text

    def normalize(self, text):
        return snapshot_core.normalize_config(text)

    def deploy_command(self, change_path):
        return "vtysh --vty_socket \"%s\" -f \"%s\"" % (self.vty_dir, change_path)

    def restore_command(self, backup_path):
        return "%s --reload --stdout --vty_socket \"%s\" --confdir \"%s\" --rundir \"%s\" \"%s\"" % (
            self.frr_reload, self.vty_dir, self.vty_dir, self.state_dir, backup_path)

    def snapshot_command(self):
        return multi_command([self.vtysh(c) for c in SNAPSHOT_COMMANDS + (FAILED_COMMAND,)])

    def _combined_outputs(self):
        """The snapshot's outputs in snapshot_command's form ({vtysh command: (rc, output)}) from one vtysh, or None
        (then this platform object reads the commands one by one from now on)."""
        command = self.vtysh(*(COMBINED_JSON + (RUNNING_CONFIG,)))
        rc, out = split_multi(self._read(multi_command([command]), timeout=60).stdout, self.device).get(command, (None, None))
        parts = split_combined(out) if rc == 0 else None
        if parts is None:
            self.combined = False
            return None
        answers, config = parts
        outputs = {self.vtysh(name): (0, answer) for name, answer in zip(COMBINED_JSON, answers)}
        outputs[self.vtysh(RUNNING_CONFIG)] = (0, config)
        return outputs

    def snapshot(self, probes=None, salt=None):
        outputs = self._combined_outputs() if self.combined else None
        if outputs is None:
            outputs = split_multi(self._read(self.snapshot_command(), timeout=60).stdout, self.device)
        raw = {}
        for command, vtysh_cmd in zip(SNAPSHOT_COMMANDS, [self.vtysh(c) for c in SNAPSHOT_COMMANDS]):
            rc, out = outputs.get(vtysh_cmd, (None, None))
            if rc is None:
                continue
            if rc != 0:
                raise DeviceError("`%s` failed (rc %d): %s" % (command, rc, redacted(out, 300)), where="%s: snapshot" % self.device,
                                  fix="check that zebra and bgpd are running on the router.", transient=True)
            raw[command] = strip_header(out) if command == "show running-config" else out
        snap = snapshot_core.take_snapshot("frr", self.device, raw, salt=salt)
        rc, out = outputs.get(self.vtysh(FAILED_COMMAND), (None, None))
        if rc == 0:
            for address, fault in peer_faults(out).items():
                peer = ((snap.get("sections") or {}).get("peers") or {}).get(address)
                if peer is not None and not peer.get("established"):
                    peer.update(fault)
        return snap
