# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.restore: the exact restore of a backup, verified by reading the running config back."""

from __future__ import annotations

import time

from ansible_collections.governed.change.plugins.module_utils.device_records import load_backup
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "restore"

    def execute(self, args, task_vars, result):
        start = time.time()
        driver = self.driver(args, task_vars)
        data = load_backup(args["backup"], driver.device)
        out = {"device": driver.device, "platform": driver.name}
        if self._task.check_mode:
            running = driver.read_config()
            self._describe(out, driver, running, data)
            out["verified"] = not out["changed"]
            out["would"] = {"restore": out["changed"]}
            return out
        # restore even when equal: it also disarms a pending commit-confirmed timer; one round trip reads the running
        # config as it was (for the diff), restores and reads it back
        res = driver.restore(data["text"])
        running = res.get("before")
        self._describe(out, driver, running if running is not None else data["text"], data)
        if running is None:
            out.update(changed=True)  # the running config before the restore could not be read: assume it differed
            out["summary"]["differed"] = None
        out["verified"] = res["verified"]
        out["summary"].update(attempts=res["attempts"], restore_s=res["elapsed"], running_sha256=res["sha256"],
                              elapsed_s=round(time.time() - start, 3))
        return out

    def _describe(self, out, driver, running, data):
        differs = driver.normalize(running) != driver.normalize(data["text"])
        out.update(changed=differs, summary={"differed": differs, "backup_sha256": data.get("sha256")})
        if self._task.diff:
            out["diff"] = self.config_diff(running, data["text"], "running (%s)" % driver.device, "backup")
        if differs:
            out["changes"] = self.unified(running, data["text"])
