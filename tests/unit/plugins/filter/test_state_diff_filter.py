# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.state_diff filter: thin over the core, errors as AnsibleFilterError."""

from __future__ import annotations

import pytest

pytest.importorskip("ansible")

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.governed.change.plugins.filter.state_diff import DOCUMENTATION, FilterModule  # noqa: E402
from ansible_collections.governed.change.plugins.module_utils import statestore  # noqa: E402

PRE = {"device": "r1", "sections": {"routes": {"10.0.0.0/24": {"metric": 0}}}}
POST = {"device": "r1", "sections": {"routes": {"10.0.0.0/24": {"metric": 5}}}}


def test_filter_on_snapshots_and_refs(tmp_path):
    state_diff = FilterModule().filters()["state_diff"]
    for pre, post in ((PRE, POST), (statestore.put(str(tmp_path), PRE, "snapshot"), statestore.put(str(tmp_path), POST, "snapshot"))):
        out = state_diff(pre, post)
        assert out["changed"] == [{"section": "routes", "key": "10.0.0.0/24", "field": "metric", "before": 0, "after": 5}]


def test_filter_errors_carry_the_core_message(tmp_path):
    state_diff = FilterModule().filters()["state_diff"]
    with pytest.raises(AnsibleFilterError) as err:
        state_diff(PRE, dict(POST, device="r9"))
    assert str(err.value).startswith("governed.change.state_diff:") and "same device" in str(err.value)
    with pytest.raises(AnsibleFilterError, match="sha256 mismatch"):
        ref = statestore.put(str(tmp_path), PRE, "snapshot")
        open(ref["path"], "a").write(" ")
        state_diff(ref, ref)


def test_documentation_parses():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(DOCUMENTATION)
    assert doc["name"] == "state_diff" and set(doc["options"]) == {"_input", "post", "keys", "ignore_sections", "limit"}
