# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""post_review.pending_escalations: the one rule of which reviews escalate (escalate_overdue and the check-mode preview)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import post_review


def review(change_id, status, escalated_seq=None):
    return {"change_id": change_id, "status": status, "escalated_seq": escalated_seq, "due_seq": 1}


def test_only_overdue_reviews_not_escalated_yet_are_pending():
    reviews = [review("CHG-1", "overdue"), review("CHG-2", "overdue", escalated_seq=7), review("CHG-3", "due"),
               review("CHG-4", "done"), review("CHG-5", "overdue", escalated_seq=0)]
    assert [item["change_id"] for item in post_review.pending_escalations(reviews)] == ["CHG-1"]


def test_nothing_pending_when_nothing_is_overdue():
    assert post_review.pending_escalations([review("CHG-1", "due"), review("CHG-2", "done")]) == []
    assert post_review.pending_escalations([]) == []
