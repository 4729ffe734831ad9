# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.notify: pick the policy's channels for a lifecycle event, send, record; never fail."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.module_utils import notify
from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant, utc_now
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Notify once for the whole change."""

    MODULE_NAME = "notify"

    def execute(self, args, task_vars, result):
        out = {"changed": False, "failed": False, "event": args["event"], "skip_reason": "", "notifications": [], "delivered": 0,
               "undelivered": 0, "recorded": False}
        try:
            plan = self._plan(args, task_vars)
        except GovernedChangeError as exc:  # a notification never fails the run: say why nothing was sent
            return dict(out, skip_reason="not sent: %s" % exc, warnings=["%s: %s" % (self._fqcn(), exc)])
        if plan["skip_reason"]:
            return dict(out, skip_reason=plan["skip_reason"])
        out["message"] = plan["message"]
        if self._task.check_mode:
            out["notifications"] = [{"channel": c["name"], "type": c["type"], "delivered": False, "attempts": 0} for c in plan["channels"]]
            return dict(out, skip_reason="check mode: nothing sent")
        lookup = self._lookup(args, task_vars)
        results = notify.notify_all(plan["notifications"], args["event"], plan["message"], plan["channels"], lookup)
        out.update(changed=True, notifications=results, delivered=sum(1 for r in results if r["delivered"]),
                   undelivered=sum(1 for r in results if not r["delivered"]))
        warnings = ["%s: %s was not delivered on %s after %d attempt(s): %s" % (self._fqcn(), args["event"], r["channel"], r["attempts"], r["error"])
                    for r in results if not r["delivered"]]
        out["recorded"] = self._record(args, task_vars, plan, results, warnings)
        if warnings:
            out["warnings"] = warnings
        return out

    def _plan(self, args, task_vars):
        """{notifications, channels, message, change_id, skip_reason}: what would be sent, or why nothing is."""
        policy = load_policy(self._path(args["policy"], task_vars))
        section = policy.get("notifications")
        output_dir = self.output_dir(args, task_vars)
        assessment = self._assessment(args, task_vars, output_dir)
        change_id = args["change_id"] or (assessment or {}).get("change_id")
        plan = {"notifications": section, "channels": [], "message": None, "change_id": change_id, "skip_reason": "", "output_dir": output_dir}
        if not section:
            return dict(plan, skip_reason="the policy has no notifications section")
        if args["event"] == "scheduled":
            now = parse_instant(args["now"]) if args["now"] else utc_now()
            due, why = notify.scheduled_due(assessment, now)
            if not due:
                return dict(plan, skip_reason=why)
        channels = notify.recipients(section, args["event"], notify.change_scope(assessment))
        if args["channels"] is not None:
            channels = [c for c in channels if c["name"] in args["channels"]]
        if not channels:
            return dict(plan, skip_reason="no route of the policy's notifications names this event for this change")
        run = dict(args["run"], change_id=change_id)
        plan.update(channels=channels, message=notify.build_message(args["event"], assessment, run, output_dir=output_dir,
                                                                    base_url=section.get("evidence_base_url")))
        return plan

    def _assessment(self, args, task_vars, output_dir):
        given, file_path = args["assessment"], args["assessment_file"]
        if given is None and not file_path and task_vars.get("governed_assessment") is not None:
            given = self._templar.template(task_vars["governed_assessment"])
        if given is not None or file_path:
            return artifact.resolve(given, file_path, None, lambda path: self._path(path, task_vars))[0]
        path = artifact.find(output_dir, args["change_id"]) if args["change_id"] else None
        return artifact.load(path) if path else {"change_id": args["change_id"]}

    def _lookup(self, args, task_vars):
        """name -> value: the secrets argument, then the play's variables (templated), then the environment."""
        def lookup(name):
            if args["secrets"].get(name) not in (None, ""):
                return args["secrets"][name]
            if task_vars.get(name) not in (None, ""):
                return self._templar.template(task_vars[name])
            return os.environ.get(name)
        return lookup

    def _record(self, args, task_vars, plan, results, warnings):
        """One ledger event per channel; a ledger that cannot be written is a warning, never a failure."""
        if not args["ledger"] or not plan["change_id"]:
            return False
        channels = dict((c["name"], c) for c in plan["channels"])
        try:
            ledger, _record = lifecycle.open_change(self._path(args["ledger"], task_vars), plan["change_id"])
            try:
                for result in results:
                    kind, data = notify.ledger_event(args["event"], channels[result["channel"]], result["recipient"], result)
                    ledger.append_event(plan["change_id"], kind, "governed.change", data)
            finally:
                ledger.close()
        except GovernedChangeError as exc:
            warnings.append("%s: the notifications of %s were sent but not recorded: %s" % (self._fqcn(), plan["change_id"], exc))
            return False
        return True
