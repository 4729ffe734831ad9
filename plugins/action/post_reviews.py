# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for governed.change.post_reviews: the post-hoc review obligations, and the overdue ones escalated once
each (the core of `governed-change review list` / `review escalate-overdue`: module_utils/post_review.py)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import escalation as esc
from ansible_collections.governed.change.plugins.module_utils import post_review
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.ledger import is_database_url, open_ledger
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.plugin_utils.action_base import GovernedActionBase

STATUSES = ("due", "done", "overdue")


class ActionModule(GovernedActionBase):
    """List, then escalate the overdue reviews not escalated yet (nothing written in check mode)."""

    MODULE_NAME = "post_reviews"

    def execute(self, args, task_vars, result):
        ledger_path = self._path(args["ledger"], task_vars)
        if not is_database_url(ledger_path):
            require_file(ledger_path, "ledger", where="ledger", fix="pass the ledger the stages record changes in (governed_ledger).")
        policy = load_policy(self._path(args["policy"], task_vars))
        webhook_url = args["webhook_url"] or None
        if webhook_url:
            esc.check_webhook_url(webhook_url)  # bad input fails before anything is written
        output_dir = self.output_dir(args, task_vars)
        escalated = []
        if args["escalate"] and not self._task.check_mode:
            with open_ledger(ledger_path) as ledger:
                escalated = post_review.escalate_overdue(ledger, output_dir, policy=policy, webhook_url=webhook_url,
                                                         webhook_format=args["webhook_format"])
        with open_ledger(ledger_path, readonly=True) as ledger:
            ledger.check_change()  # a tampered ledger is refused with the seq that broke
            reviews = post_review.list_reviews(ledger)
        if args["escalate"] and self._task.check_mode:
            escalated = [{"change_id": item["change_id"], "due_seq": item["due_seq"]} for item in post_review.pending_escalations(reviews)]
        counts = {status: sum(1 for item in reviews if item["status"] == status) for status in STATUSES}
        unsent = [item["change_id"] for item in escalated if item.get("kind") == "escalation.failed_to_send"]
        out = {"changed": bool(escalated), "reviews": reviews, "counts": counts, "escalated": escalated, "unsent": unsent,
               "ansible_stats": self.stats({"governed_post_reviews": counts})}
        if unsent:
            out["warnings"] = ["%s: the webhook %s did not accept the escalation of %s; the packets are under %s/escalations."
                               % (self._fqcn(), esc.display_url(webhook_url), ", ".join(unsent), output_dir)]
        return out
