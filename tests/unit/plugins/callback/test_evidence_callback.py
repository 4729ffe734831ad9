# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence callback's result trimming (in-process; its real ansible-playbook runs are in
tests/functional/test_evidence_callback_playbook.py)."""

from __future__ import annotations

import json

from ansible_collections.governed.change.plugins.callback.evidence import trim_result


def test_trim_result_drops_internals_and_payloads():
    small = trim_result({"changed": True, "msg": "ok", "invocation": {"module_args": {"password": "x"}}, "_ansible_no_log": False,
                         "ansible_facts": {"a": 1}, "token": "abc"}, 4096)
    assert small == {"changed": True, "msg": "ok", "token": "********"}
    loop = trim_result({"results": [{"item": "a", "changed": True, "stdout": "x" * 100}], "changed": True}, 4096)
    assert loop["results"] == [{"item": "a", "changed": True, "failed": None, "skipped": None}]
    big = trim_result({"msg": "m", "stdout": "y" * 5000}, 4096)
    assert big["truncated"] is True and big["keys"] == ["msg", "stdout"] and "yyyy" not in json.dumps(big)


def test_a_device_changing_result_goes_to_the_ledger_at_once_and_a_skipped_one_waits_for_the_batch():
    """Issue 16: the deploy/confirm results of hosts outside a batch are skips; they changed nothing, so they wait for the
    batch instead of a ledger write each (a result that ran is written as soon as it is known)."""
    from ansible_collections.governed.change.plugins.callback.evidence import CallbackModule  # pylint: disable=import-outside-toplevel

    callback = CallbackModule()
    callback.change_id = "CHG-1"
    flushed = []

    def flush():
        flushed.append([item["status"] for _cid, item in callback.buffer])
        callback.buffer = []
    callback._flush = flush  # pylint: disable=protected-access
    for status in ("skipped", "skipped"):
        callback._buffer_item({"action": "governed.change.confirm", "status": status})  # pylint: disable=protected-access
    callback._buffer_item({"action": "governed.change.snapshot", "status": "ok"})  # pylint: disable=protected-access
    assert flushed == []
    callback._buffer_item({"action": "governed.change.deploy", "status": "changed"})  # pylint: disable=protected-access
    assert flushed == [["skipped", "skipped", "ok", "changed"]]
    callback._buffer_item({"action": "governed.change.confirm", "status": "failed"})  # pylint: disable=protected-access
    assert flushed[-1] == ["failed"]
