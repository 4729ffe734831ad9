# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux hosts used as firewalls: the nftables ruleset, restored exactly by an atomic `flush ruleset` + ruleset load."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import snapshot as snapshot_core
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError
from ansible_collections.governed.change.plugins.module_utils.live_values import strip_nft_live_values
from ansible_collections.governed.change.plugins.module_utils.platforms.base import Platform, multi_command, redacted, split_multi

SNAPSHOT_COMMANDS = ("nft -j list ruleset", "ip -j addr")


def normalize_ruleset(text):
    """A ruleset as compared: live values dropped (live_values: counters, quota use, expiry; the same normalization as the
    assessment's diff), trailing blanks stripped."""
    lines = [line.rstrip() for line in strip_nft_live_values(text).splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines) + "\n" if lines else ""


class LinuxPlatform(Platform):
    """A Linux host whose managed config is its nftables ruleset."""

    name = "linux"

    def __init__(self, transport, device, state_dir=None, nft="nft"):
        super().__init__(transport, device, state_dir or "/var/lib/governed-change")
        self.nft = nft

    def read_config_command(self):
        return "%s list ruleset" % self.nft

    def normalize(self, text):
        return normalize_ruleset(text)

    def deploy_command(self, change_path):
        return "%s -f \"%s\"" % (self.nft, change_path)

    def restore_file_text(self, backup_text):
        # one nft transaction: the flush and the whole backup apply together or not at all
        return "flush ruleset\n" + backup_text

    def restore_command(self, backup_path):
        return "%s -f \"%s\"" % (self.nft, backup_path)

    def validate_change(self, text):
        """`nft -c -f -`: the kernel checks the change without applying it (read-only)."""
        res = self._run("%s -c -f -" % self.nft, stdin=text, check=False)
        return {"valid": res.rc == 0, "message": redacted(res.stderr or res.stdout, 400)}

    def snapshot(self, probes=None, salt=None):
        outputs = split_multi(self._read(multi_command(SNAPSHOT_COMMANDS), timeout=60).stdout, self.device)
        raw = {}
        for command in SNAPSHOT_COMMANDS:
            rc, out = outputs.get(command, (None, None))
            if rc is None:
                continue
            if rc != 0:
                raise DeviceError("`%s` failed (rc %d): %s" % (command, rc, redacted(out, 300)), where="%s: snapshot" % self.device,
                                  fix="check that nftables and iproute2 are installed on the host.", transient=True)
            raw[command] = out
        return snapshot_core.take_snapshot("linux", self.device, raw, probes=probes)
