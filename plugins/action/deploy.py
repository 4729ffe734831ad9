# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.deploy: back up, arm the commit-confirmed timer on the device, merge the change lines."""

from __future__ import annotations

import time

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.device_records import backup_summary, load_backup, store_backup
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError
from ansible_collections.governed.change.plugins.module_utils.platforms.base import lines_text
from ansible_collections.governed.change.plugins.module_utils.redact import evidence_form, redact_text
from ansible_collections.governed.change.plugins.module_utils.snapshot import now_iso
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "deploy"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        out = {"device": driver.device, "platform": driver.name}
        try:
            return self._deploy(args, task_vars, driver, out)
        except DeviceError as exc:
            # unreachable before anything was written (backup/arm): nothing changed on the device
            out.update(failed=True, changed=False, msg="%s: %s" % (self._fqcn(), exc), error=exc.as_dict(),
                       unreachable_device=exc.transient)
            return out

    def _deploy(self, args, task_vars, driver, out):
        start = time.time()
        text = lines_text(args["lines"])
        store = self.store_dir(args, task_vars)
        if args.get("backup"):
            data = load_backup(args["backup"], driver.device)
            before, ref = data["text"], args["backup"]
            out["summary"] = {"backup_taken": False}
        else:
            backup = driver.backup()
            before, ref = backup["text"], store_backup(store, driver, backup)
            out["summary"] = {"backup_taken": True, "backup": backup_summary(backup)}
        out["backup"] = self.ref_out(ref)
        out["summary"]["lines"] = text.count("\n")
        if self._task.check_mode:
            validation = driver.validate_change(text)
            out.update(changed=True, would={"merge_lines": redact_text(text)[0].splitlines(), "confirm_timeout": args["confirm_timeout"]})
            if validation is not None:
                out["would"]["validation"] = validation
                if not validation["valid"]:
                    out.update(failed=True, msg="%s: %s: the device refuses the change: %s" % (self._fqcn(), driver.device, validation["message"]))
            if self._task.diff:
                out["diff"] = self.config_diff(before, before + text, "running (%s)" % driver.device, "running + merged lines (check mode)")
            return out
        try:
            # one round trip: arm the timer, merge the lines, read the running config back
            applied = driver.deploy_confirmed(text, args["confirm_timeout"] or None, before)
            out["confirm"] = applied["confirm"]
        except DeviceError as exc:
            # the result keeps the backup reference so a rescue can restore; an armed timer reverts by itself. A session
            # that broke after it began (not a failed connect) may have armed the timer and merged the lines: changed.
            confirm = getattr(exc, "confirm", None)
            if confirm is None:
                connect_failed = bool(getattr(driver.transport, "exhausted", False)) or not exc.transient
                confirm = {"armed": False} if connect_failed else {"armed": None, "state": "unknown"}
            out.update(failed=True, changed=confirm.get("armed") is not False, confirm=confirm, msg="%s: %s" % (self._fqcn(), exc),
                       error=exc.as_dict(), unreachable_device=exc.transient)
            return out
        after = applied["after"] if applied["after"] is not None else driver.read_config()
        # the post-deploy config is evidence, not a restore source: stored redacted, with the real text's sha256
        form = evidence_form(after)
        after_ref = statestore.put(store, {"device": driver.device, "platform": driver.name, "taken_at": now_iso(),
                                           "text": form["text"], "sha256": form["sha256"], "redactions": form["redaction_count"]},
                                   "config")
        # compared and shown without live values (counters moved by traffic during the deploy are not changes)
        normal_before, normal_after = driver.normalize(before), driver.normalize(after)
        changed = normal_after != normal_before
        out.update(changed=changed, after=self.ref_out(after_ref), changes=self.unified(normal_before, normal_after))
        out["summary"].update(applied=applied["applied"], config_changed=changed, deploy_s=applied["elapsed"],
                              elapsed_s=round(time.time() - start, 3))
        if self._task.diff:
            out["diff"] = self.config_diff(normal_before, normal_after, "running before (%s)" % driver.device,
                                           "running after (%s)" % driver.device)
        return out
