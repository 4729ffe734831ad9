# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_decisions.verify_results fails closed: a device of the scope whose record decides nothing is not a pass."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import run_decisions


@pytest.mark.parametrize("record", [None, {}, "", {"post": "p2"}])
def test_a_device_without_a_verdict_fails_the_verification_as_undecidable(record):
    got = run_decisions.verify_results({"r1": {"passed": True, "failed": False}, "r2": record}, now="2026-11-30T10:00:00Z")
    assert got["failed_hosts"] == ["r2"] and got["passed"] is False and got["undecidable"] is True
    assert got["failed_at"] == "2026-11-30T10:00:00Z"


def test_devices_with_a_verdict_decide_as_before():
    got = run_decisions.verify_results({"r1": {"passed": True}, "r2": {"failed": False}}, now="x")
    assert got["failed_hosts"] == [] and got["passed"] is True and got["undecidable"] is False and got["failed_at"] == ""


@pytest.mark.parametrize("verify", [None, {}, {"skipped": True, "changed": False}, {"post": "p1"}])
def test_a_restored_device_whose_state_check_gave_no_verdict_is_not_verified(verify):
    records = {"r1": {"restore": {"verified": True}, "verify": verify}}
    got = run_decisions.rollback_results(records, ["r1"])
    assert got["verified"] is False and got["rolled_back"] == ["r1"] and got["restore_failed"] == [] and got["state_differs"] == []
    assert got["message"].endswith("NOT verified (restore failed on none; state differs on none; state not checked on r1)")


def test_a_restored_device_whose_state_check_passed_is_verified():
    got = run_decisions.rollback_results({"r1": {"restore": {"verified": True}, "verify": {"passed": True}}}, ["r1"])
    assert got["verified"] is True
