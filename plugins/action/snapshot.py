# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.snapshot: a normalized state snapshot into the state store (read-only on the device)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.device_records import snapshot_summary
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "snapshot"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        snap = self.take_snapshot(args, task_vars, driver, args.get("probes"))
        ref = statestore.put(self.store_dir(args, task_vars), snap, "snapshot")
        return {"changed": False, "device": driver.device, "platform": driver.name, "snapshot": self.ref_out(ref),
                "summary": snapshot_summary(snap)}
