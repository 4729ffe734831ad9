# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.runbook: the six-element runbook of a change, as Markdown and JSON."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact
from ansible_collections.governed.change.plugins.module_utils import lifecycle
from ansible_collections.governed.change.plugins.module_utils.change_request import load_change_request
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.runbook import build_runbook, preview_ref, write_runbook
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase


class ActionModule(GovernedActionBase):
    """Generate and write the runbook once for the whole change."""

    MODULE_NAME = "runbook"

    def execute(self, args, task_vars, result):
        def resolve(path):
            return self._path(path, task_vars)

        output_dir = self.output_dir(args, task_vars)
        request_path = args["change_request"] or task_vars.get("governed_change_request")
        change_request = load_change_request(resolve(str(self._templar.template(request_path)))) if request_path else None
        given, file_path = args["assessment"], args["assessment_file"]
        if given is None and not file_path:
            fallback = task_vars.get("governed_assessment")
            if fallback is not None:
                given = self._templar.template(fallback)
            else:
                file_path = artifact.find(output_dir, (change_request or {}).get("id"))
        if given is None and not file_path:
            raise ValidationError("no assessment of the change was given or found%s." % (
                " under %s/assessments" % output_dir if change_request else ""), where="assessment",
                fix="run governed.change.assess first and pass assessment_file (or assessment).")
        assessment, _source = artifact.resolve(given, file_path, None, resolve)
        policy = load_policy(resolve(args["policy"]))
        doc = build_runbook(change_request, assessment, policy, confirm_timeout=args["confirm_timeout"], base_url=args["base_url"])
        change_id = check_safe_id(doc["change"]["change_id"], where="change_id")  # it names runbooks/<id>.md
        ledger = None
        if args["ledger"]:
            ledger, _record = lifecycle.open_change(resolve(args["ledger"]), change_id)
        try:
            if self._task.check_mode:
                ref, changed, recorded = preview_ref(output_dir, doc, args["base_url"]), False, False
            else:
                before = _read(os.path.join(output_dir, "runbooks", "%s.md" % change_id))
                ref = write_runbook(output_dir, doc, args["base_url"])
                changed = before != _read(ref["path"])
                recorded = False
                if ledger is not None:
                    ledger.append_event(change_id, "runbook.generated", "governed.change", dict(ref, tier=doc["change"]["tier"]))
                    recorded = True
        finally:
            if ledger is not None:
                ledger.close()
        elements = {"trigger": 1, "prerequisites": len(doc["prerequisites"]), "steps": len(doc["steps"]),
                    "verification": len(doc["verification"]["expected_checks"]) + len(doc["verification"]["policy_checks"]),
                    "rollback": len(doc["rollback"]["steps"]), "escalation": 1 if doc["escalation"].get("target") else 0}
        return {"changed": changed, "runbook": ref, "change_id": change_id, "elements": elements, "recorded": recorded,
                "ansible_stats": self.stats({"governed_runbook": ref["path"]})}


def _read(path):
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:
        return None
