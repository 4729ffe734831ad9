# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.backup: the running configuration into the state store (read-only on the device)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.snapshot import now_iso
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


def store_backup(store_dir, driver, backup):
    """Store a backup (real text: the exact restore needs it); the reference carries no secret."""
    data = {"device": driver.device, "platform": driver.name, "taken_at": now_iso(), "text": backup["text"],
            "sha256": backup["sha256"], "redacted_sha256": backup["redacted_sha256"], "redactions": backup["redactions"]}
    return statestore.put(store_dir, data, "backup")


def backup_summary(backup):
    return dict((k, backup[k]) for k in ("sha256", "redacted_sha256", "lines", "redactions"))


class ActionModule(DeviceActionBase):
    MODULE_NAME = "backup"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        backup = driver.backup()
        ref = store_backup(self.store_dir(args, task_vars), driver, backup)
        return {"changed": False, "device": driver.device, "platform": driver.name, "backup": self.ref_out(ref),
                "summary": backup_summary(backup)}
