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
