# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.metrics: change metrics from the ledger, returned and optionally written to files."""

from __future__ import annotations

import os

from ansible_collections.governed.change.plugins.module_utils import metrics, metrics_render
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.paths import is_database_url
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase

FILES = {"prometheus": "governed_change.prom", "json": "metrics.json", "html": "metrics.html", "table": "metrics.txt"}


class ActionModule(GovernedActionBase):
    """Compute once on the controller; write the chosen formats (not in check mode)."""

    MODULE_NAME = "metrics"

    def execute(self, args, task_vars, result):
        ledger = self._path(args["ledger"], task_vars)
        if not is_database_url(ledger):
            require_file(ledger, "ledger", where="ledger", fix="pass the ledger the stages record changes in (governed_ledger).")
        report = metrics.compute_ledger(ledger, period=args["period"], by=args["by"], timezone=args["timezone"],
                                        since=args["since"], until=args["before"], automation_actors=tuple(args["automation_actors"]))
        files, changed = {}, False
        if args["output_dir"]:
            folder = self._path(args["output_dir"], task_vars)
            if not os.path.isdir(folder):
                raise ValidationError("the folder does not exist.", where="output_dir: %s" % folder, fix="create it first.")
            for fmt in args["formats"]:  # every file says when it was computed: each run rewrites it
                path = files[fmt] = os.path.join(folder, FILES[fmt])
                changed = True
                if not self._task.check_mode:
                    metrics.write_atomically(path, metrics_render.render(report, fmt))
        totals = [row for row in report["rows"] if row["period"] == metrics.ALL]
        return {"changed": changed, "report": report, "totals": totals, "files": files,
                "ansible_stats": self.stats({"governed_metrics": totals})}
