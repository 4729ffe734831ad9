# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""escalation.event_kind: the one rule both the escalate action and post_review.escalate_overdue record."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import escalation


@pytest.mark.parametrize("url, delivery, kind", [
    (None, {"sent": False}, "escalation.sent"),  # no webhook: the packet on disk is the hand-off
    ("https://hooks.example.net/x", {"sent": True}, "escalation.sent"),
    ("https://hooks.example.net/x", {"sent": False}, "escalation.failed_to_send"),
    ("https://hooks.example.net/x", {}, "escalation.failed_to_send"),  # no answer known: not accepted (fail closed)
    ("https://hooks.example.net/x", None, "escalation.failed_to_send"),
])
def test_event_kind(url, delivery, kind):
    assert escalation.event_kind(url, delivery) == kind


POLICY = {"requirements": {"high": {"escalation": {"target": "netops-oncall", "runbook": "rb.md"}}, "low": {}}}


@pytest.mark.parametrize("policy, tier, assessment, settings", [
    (POLICY, "high", None, {"target": "netops-oncall", "runbook": "rb.md"}),
    (POLICY, "low", None, {}),  # a tier without an escalation section
    (POLICY, "unknown", None, {}),
    (POLICY, None, {"requirements": {"escalation": {"target": "from-assessment"}}}, {}),  # the policy wins; no tier, no settings
    ({}, "high", None, {}),  # a policy without requirements
    (None, "high", {"requirements": {"escalation": {"target": "from-assessment"}}}, {"target": "from-assessment"}),
    (None, None, None, {}),
])
def test_tier_settings(policy, tier, assessment, settings):
    got = escalation.tier_settings(policy, tier, assessment)
    assert got == settings
    if policy and tier in policy.get("requirements", {}):
        got["target"] = "changed"  # a copy: the policy is not modified through it
        assert policy["requirements"][tier].get("escalation", {}).get("target") != "changed"
