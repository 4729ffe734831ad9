# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.confirm: disarm the device's commit-confirmed revert timer, or read its state."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "confirm"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        out = {"device": driver.device, "platform": driver.name, "changed": False}
        if args["state"] == "status" or self._task.check_mode:
            status = driver.confirm_status()
            out["confirm"] = status
            if args["state"] == "confirmed":
                out["changed"] = status["state"] == "armed"
                out["would"] = {"confirm": status["state"] == "armed"}
            return out
        out["confirm"] = driver.confirm()
        out["changed"] = not out["confirm"].get("already", False)
        return out
