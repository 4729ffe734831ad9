# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The devices of one deploy batch stop waiting together once one of them has failed decisively.

Each device's checks run in their own Ansible worker; the batch's verdict is known as soon as one device fails for
good (impact.decisive_failure), so that device leaves a marker in the store folder and the others, at their next
failing poll, stop with the failure they see (``settle.halted``) instead of waiting for the convergence bound.
A marker is one small JSON file named by the group (change, run and batch), written atomically, owner-only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

FOLDER = "halt"


class HaltGroup:
    """The halt marker of one group of devices checked together (``group``: e.g. change id, run start, batch)."""

    def __init__(self, store_dir, group):
        if not store_dir or not isinstance(group, str) or not group.strip():
            raise ValidationError("a halt group needs a store folder and a non-empty name, got %r." % (group,), where="check(halt_group)",
                                  fix="pass halt_group as the change id, the run's start and the batch index (the deploy role does).")
        self.folder = os.path.join(str(store_dir), FOLDER)
        self.path = os.path.join(self.folder, hashlib.sha256(group.encode("utf-8")).hexdigest()[:32] + ".json")

    def read(self):
        """{device, reason} of the device that halted the group, None while none did (or the marker is unreadable)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("device") else None

    def halt(self, device, reason):
        """Leave the marker (the first device to fail decisively keeps it)."""
        if self.read() is not None:
            return
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"device": device, "reason": reason}, handle)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ValidationError("cannot write the batch's halt marker (%s)." % exc, where=self.path,
                                  fix="make the store folder writable (governed_store_dir).")

    def halted_by_other(self, device):
        """A callable for checks.wait_until_settled: the reason to stop when another device halted the group, else None."""

        def halted():
            data = self.read()
            if data is None or data.get("device") == device:
                return None
            return "stopped: %s failed decisively (%s); this device's checks were still failing" % (data["device"], data.get("reason"))

        return halted
