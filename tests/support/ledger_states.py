# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real SQLite ledger with changes walked through the first lifecycle states (no tests here)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

STATES = ("assess", "authorize", "scheduled")


def ledger_with_changes(path, changes=(("CHG-1", "carol", "scheduled"),), actor=None):
    """Create each (change_id, author, last state) of ``changes`` (title "t") in the ledger at ``path`` and transition it
    assess -> authorize -> scheduled, stopping at its last state (no transition when it is None); each transition's
    actor is ``actor`` or the author. Returns ``path``."""
    with SqliteLedger(path) as ledger:
        for change_id, author, final in changes:
            ledger.create_change(change_id, "t", author)
            for state in STATES if final else ():
                ledger.transition(change_id, state, actor or author)
                if state == final:
                    break
    return path
