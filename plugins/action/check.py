# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.check: declarative checks over pre/post snapshots (built-in no-regression + expected)."""

from __future__ import annotations

import time

from ansible_collections.governed.change.plugins.module_utils import batch_halt
from ansible_collections.governed.change.plugins.module_utils import checks as checks_core
from ansible_collections.governed.change.plugins.module_utils import impact
from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.device_records import snapshot_summary
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


class ActionModule(DeviceActionBase):
    MODULE_NAME = "check"

    def execute(self, args, task_vars, result):
        start = time.time()
        driver = self.driver(args, task_vars)
        store = self.store_dir(args, task_vars)
        checks = list(args.get("checks") or []) + list(args.get("expected") or [])
        if args["same_as_pre"]:
            checks = checks_core.same_as_pre_checks(driver.name) + checks
        if args["no_regression"]:
            checks = checks_core.no_regression_checks(driver.name, args["tolerance_pct"], args.get("intended")) + checks
        # run_checks applies `platform`/`devices` only to network-wide mappings: filter here for one device
        checks = [c for c in checks if isinstance(c, dict) and c.get("platform") in (None, driver.name) and (
            c.get("devices") is None or driver.device in c["devices"])]
        out = {"device": driver.device, "platform": driver.name, "changed": False}
        pre = args.get("pre")
        if args.get("post"):
            run = checks_core.run_checks(checks, pre=pre, post=args["post"])
        else:
            run = self._settle(args, task_vars, driver, checks, store, out)
        if run is None:
            out.update(failed=True, passed=False, undecidable=True, results=[],
                       msg="%s: %s: no post snapshot could be taken, so no check could be decided. Fix: see settle.last_error; "
                           "check that the device is reachable." % (self._fqcn(), driver.device))
            return out
        results, _findings = redact_data(run["results"])
        out.update(passed=run["passed"], undecidable=run["undecidable"], results=results, summary=run["summary"])
        out["elapsed_s"] = round(time.time() - start, 3)
        if not run["passed"]:
            out["failed"] = True
            out["msg"] = "%s: %s: %s check(s) failed%s: %s" % (
                self._fqcn(), driver.device, run["summary"]["failed"], " (some undecidable)" if run["undecidable"] else "",
                ", ".join(run["summary"]["failed_checks"]))
        return out

    def _settle(self, args, task_vars, driver, checks, store, out):
        """Poll the device until the checks settle (checks.wait_until_settled); the last run, ``out`` gets settle/post."""
        pre = args.get("pre")

        def snap():
            return self.take_snapshot(args, task_vars, driver, args.get("probes"))

        converge_s = impact.convergence_bound_s(pre) if pre else None
        # sessions the change's own lines make impossible on this device (a peer AS the peer does not present)
        refusals = impact.config_refusals(driver.device, pre, args.get("change_lines"), args.get("deployed_hosts") or (),
                                          args.get("intended")) if pre and args["fail_fast_polls"] else {}
        group = batch_halt.HaltGroup(store, args["halt_group"]) if args.get("halt_group") else None
        session = getattr(driver.transport, "open_session", None)
        if session:
            session()  # the polls read through one kept-open shell (transport.ShellSession)
        try:
            settle = checks_core.wait_until_settled(snap, checks, args["settle_timeout"], args["settle_interval"], pre=pre,
                                                    fail_fast_polls=args["fail_fast_polls"], converge_s=converge_s,
                                                    halted=group.halted_by_other(driver.device) if group else None,
                                                    refusals=refusals, pass_hold_s=args["pass_hold"])
        finally:
            if session:
                driver.transport.close_session()
        if group and settle.get("decisive"):
            group.halt(driver.device, settle["decisive"])
        if settle["settled"] and args["hold"]:
            time.sleep(args["hold"])
            settle = checks_core.wait_until_settled(snap, checks, args["settle_interval"], args["settle_interval"], pre=pre)
        out["settle"] = {"settled": settle["settled"], "attempts": settle["attempts"], "elapsed_s": settle["elapsed_s"],
                         "reason": settle.get("reason"), "fail_fast": bool(settle.get("fail_fast")), "converge_s": converge_s,
                         "decisive": settle.get("decisive"), "halted": bool(settle.get("halted")),
                         "config_refusals": refusals}
        if settle.get("last_error"):
            out["settle"]["last_error"] = settle["last_error"]
        if settle["post"] is not None:
            ref = statestore.put(store, settle["post"], "snapshot")
            out["post"] = self.ref_out(ref)
            out["post_summary"] = snapshot_summary(settle["post"])
        return settle["result"]
