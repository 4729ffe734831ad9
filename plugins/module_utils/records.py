# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change-record steps the stages share: opening and (re-)assessing a change in the ledger."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

# A change whose content was re-assessed goes back to "assess" and waits for authorization again.
REASSESSABLE = ("new", "assess", "authorize", "scheduled")


def record_assessment(ledger_path, assessment, actor="governed.change.assess"):
    """Open the change record (or re-assess it) and leave it in "authorize": assessed, awaiting the gates.

    Returns the change row. A closed or canceled change is refused by the ledger (open a new change id).
    """
    change_id = assessment["change_id"]
    with SqliteLedger(ledger_path) as ledger:
        change = ledger.get_change(change_id)
        if change is None:
            change = ledger.create_change(change_id, assessment["title"], assessment["author"], actor=actor,
                                          tier=assessment["tier"], content_hash=assessment["content_hash"])
        if change["state"] in REASSESSABLE and change["state"] != "assess":
            ledger.transition(change_id, "assess", actor, reason="assessment started")
        ledger.set_assessment(change_id, assessment["tier"], assessment["content_hash"], actor)
        ledger.record_verdict(change_id, "assess", {
            "decision": "assessed",
            "tier": assessment["tier"],
            "score": assessment["score"],
            "change_class": assessment["change_class"],
            "fired_rules": [{"name": r["name"], "explanation": r.get("explanation")} for r in assessment["fired_rules"]],
            "required_gates": assessment["required_gates"],
            "content_hash": assessment["content_hash"],
            "policy_sha256": assessment["policy_sha256"],
            "change_request_sha256": assessment["change_request_sha256"],
        }, actor=actor)
        return ledger.transition(change_id, "authorize", actor, reason="assessed: tier %s" % assessment["tier"])
