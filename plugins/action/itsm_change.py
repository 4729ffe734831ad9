# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.itsm_change: gathers the stage's facts, delegates to the ITSM core."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import evidence, itsm, itsm_servicenow
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Sync one change's ServiceNow change request with the ledger, once, on the controller."""

    MODULE_NAME = "itsm_change"

    def execute(self, args, task_vars, result):
        change_id = args["change_id"]
        check_safe_id(change_id, where="change_id")
        settings = itsm_servicenow.itsm_settings(load_policy(self._path(args["policy"], task_vars)))
        if settings is None:
            return {"changed": False, "skipped": True, "ok": True, "msg": "the policy keeps no ITSM record (no itsm section)."}
        request = {"description": args["description"], "note": args["note"], "outcome": self._outcome(args),
                   "reason": args["reason"] or (args["decision"] or {}).get("close_reason"),
                   "assessment": self._assessment(args, task_vars), "attachments": self._attachments(args, task_vars, settings)}
        done = itsm.record_stage(self._path(args["ledger"], task_vars), change_id, args["stage"], settings,
                                 lambda: itsm_servicenow.client_from(settings, args["servicenow"]), request,
                                 check_mode=self._task.check_mode)
        return shape(done)

    @staticmethod
    def _outcome(args):
        return args["outcome"] or (args["decision"] or {}).get("outcome")

    def _assessment(self, args, task_vars):
        if args["stage"] != "assess" and args["assessment"] is None and not args["assessment_file"]:
            return None  # only the creation needs it; a later stage reads the ledger
        fallback = task_vars.get("governed_assessment")
        return artifact.resolve(args["assessment"], args["assessment_file"],
                                None if fallback is None else self._templar.template(fallback),
                                lambda path: self._path(path, task_vars))[0]

    def _attachments(self, args, task_vars, settings):
        if args["attachments"]:
            return [self._path(path, task_vars) for path in args["attachments"]]
        if args["stage"] != "close" or not settings["attach_evidence"]:
            return []
        return [path for path in evidence.bundle_paths(self.output_dir(args, task_vars), args["change_id"]) if os.path.isfile(path)]


def shape(done):
    """The task result of itsm.record_stage's answer (never a credential: the client is not part of it)."""
    link, synced = done.get("link"), done.get("sync") or {}
    out = {"changed": done["changed"], "ok": done["ok"], "ledger_state": done.get("ledger_state")}
    if link:
        out["change_request"] = {key: link.get(key) for key in ("sys_id", "number", "instance")}
    if synced:
        out.update(state=synced["state"], steps=synced["steps"], attachments=synced["attachments"])
    if done.get("error"):
        out["error"] = done["error"]
        out["msg"] = "ServiceNow is not in step (recorded in the ledger; itsm.required is false): %s" % done["error"]["message"]
    return out
