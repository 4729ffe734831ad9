# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.close: the transitions a close walks from each lifecycle state, and the refusals (in-process)."""

from __future__ import annotations

import pytest

from evidence_support import CHANGE

from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.lifecycle import plan_transitions


@pytest.mark.parametrize("state,outcome,steps", [
    ("scheduled", "successful", ("implement", "review", "closed")), ("implement", "unsuccessful", ("review", "closed")),
    ("review", "successful_issues", ("closed",)), ("authorize", "canceled", ("canceled",)), ("new", "canceled", ("canceled",))])
def test_plan_transitions(state, outcome, steps):
    assert plan_transitions(state, outcome, CHANGE) == steps


@pytest.mark.parametrize("state,outcome,message", [
    ("implement", "canceled", "its devices were touched"), ("review", "canceled", "its devices were touched"),
    ("authorize", "unsuccessful", "never passed the review gate"), ("assess", "successful", "never passed the review gate")])
def test_plan_transitions_refusals(state, outcome, message):
    with pytest.raises(LedgerError, match=message):
        plan_transitions(state, outcome, CHANGE)
