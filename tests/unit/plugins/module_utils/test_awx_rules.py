# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX approval reader's named rules: job id, launcher, approval nodes, the bucket of a node and its binding."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import awx
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused


def test_the_job_id_must_be_a_number():
    assert awx._job_id("42") == 42
    with pytest.raises(GateRefused) as caught:
        awx._job_id("latest")
    assert "workflow job id 'latest' is not a number" in str(caught.value)


def test_only_a_user_is_a_launcher():
    assert awx._launcher_of({"launched_by": {"type": "user", "username": "bob"}}) == "bob"
    assert awx._launcher_of({"launched_by": {"name": "carol"}}) == "carol"  # no type: a user
    assert awx._launcher_of({"launched_by": {"type": "schedule", "name": "nightly"}}) is None
    assert awx._launcher_of({}) is None


def test_an_approval_node_is_known_by_its_job_or_its_template():
    assert awx._is_approval_node({"summary_fields": {"job": {"type": "workflow_approval"}}})
    assert awx._is_approval_node({"summary_fields": {"unified_job_template": {"unified_job_type": "workflow_approval"}}})
    assert not awx._is_approval_node({"summary_fields": {"job": {"type": "job"}}})
    assert not awx._is_approval_node({})


@pytest.mark.parametrize("status, detail, actor, bucket", [
    ("pending", {}, "bob", "pending"), ("running", {}, None, "pending"),
    ("successful", {}, "bob", "approvals"), ("failed", {}, "bob", "approvals"),
    ("successful", {"timed_out": True}, "bob", "ignored"), ("canceled", {}, "bob", "ignored"), ("successful", {}, None, "ignored"),
])
def test_the_bucket_of_an_approval_node(status, detail, actor, bucket):
    assert awx._approval_bucket(detail, status, actor) == bucket


def test_a_hash_in_the_node_text_binds_the_approval_else_the_workflow_jobs_hash():
    info = {"node": 1}
    bound = awx._approval_of({"description": "content_hash: %s" % ("ab" * 32), "finished": "2026-11-27T12:00:00+00:00"}, info,
                             "failed", "bob", "CHG-1", "c" * 64, 7)
    assert (bound["decision"], bound["content_hash"], bound["ts"], bound["awx"]["binding"]) == (
        "deny", "ab" * 32, "2026-11-27T12:00:00Z", "statement")
    plain = awx._approval_of({"name": "Approve"}, info, "successful", "bob", "CHG-1", "c" * 64, 7)
    assert (plain["decision"], plain["content_hash"], plain["awx"]) == ("approve", "c" * 64,
                                                                        {"node": 1, "workflow_job": 7, "binding": "workflow_job"})
