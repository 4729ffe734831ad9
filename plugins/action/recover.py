# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.recover: one device of a change whose run died - inspect it against the ledger, restore or confirm, verify."""

from __future__ import annotations

import time

from ansible_collections.governed.change.plugins.module_utils import recovery, statestore
from ansible_collections.governed.change.plugins.module_utils.device_records import load_backup
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "recover"

    def execute(self, args, task_vars, result):
        start = time.time()
        driver = self.driver(args, task_vars)
        backup = load_backup(args["backup"], driver.device)
        if self._task.check_mode:
            running = driver.read_config()
            equal = driver.normalize(running) == driver.normalize(backup["text"])
            return {"changed": not equal, "device": driver.device, "platform": driver.name, "running_equals_backup": equal,
                    "timer": driver.confirm_status(), "would": {"restore": not equal},
                    "change_on_device": recovery.change_presence(args["candidate"], running, backup["text"])}

        def snap():
            return self.take_snapshot(args, task_vars, driver, args.get("probes"))

        out = recovery.recover_device(driver, backup["text"], args["pre"], snap, candidate=args["candidate"],
                                      settle_timeout=args["settle_timeout"], settle_interval=args["settle_interval"])
        post = out.pop("post")
        if post is not None:
            out["post_ref"] = self.ref_out(statestore.put(self.store_dir(args, task_vars), post, "snapshot"))
        out["changed"] = out["action"] == "restored"
        out["elapsed_s"] = round(time.time() - start, 3)
        if out["verdict"] == recovery.RECOVERY_FAILED:
            out["failed"] = True
            problem = (out["error"] or {}).get("message") or "the state differs from the pre-change snapshot: %s" % ", ".join(
                (out["verify"] or {}).get("failed_checks") or ["(unknown)"])
            out["msg"] = "%s: %s: recovery failed - %s" % (self._fqcn(), driver.device, problem)
        else:
            out["msg"] = "%s: %s: %s" % (self._fqcn(), driver.device, out["verdict"])
        return out
