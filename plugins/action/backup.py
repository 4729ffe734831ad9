# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.backup: the running configuration into the state store (read-only on the device)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.device_records import backup_summary, store_backup
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "backup"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        backup = driver.backup()
        ref = store_backup(self.store_dir(args, task_vars), driver, backup)
        return {"changed": False, "device": driver.device, "platform": driver.name, "backup": self.ref_out(ref),
                "summary": backup_summary(backup)}
