# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structured state diff: in memory and through statestore references (line path)."""

from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.state_diff import canonical_address, canonical_prefix, diff_states

PRE = {"device": "r1", "platform": "frr", "taken_at": "t1", "sections": {
    "routes": {"10.0.0.0/24": {"nexthop": "10.0.12.2", "metric": 0, "as_path": "65002", "origin": "IGP"},
               "10.0.1.0/24": {"nexthop": "10.0.12.2", "metric": 0, "as_path": "65002", "origin": "IGP"},
               "2001:db8::/32": {"nexthop": "2001:db8:12::2", "metric": 0, "as_path": "65002", "origin": "IGP"}},
    "peers": {"10.0.12.2": {"address": "10.0.12.2", "state": "Established", "pfxRcd": 3}},
    "counters": {"x": {"id": "x", "packets": 1}}}}


def _post():
    post = copy.deepcopy(PRE)
    post["taken_at"] = "t2"
    routes = post["sections"]["routes"]
    routes["10.0.0.0/24"]["metric"] = 50
    del routes["10.0.1.0/24"]
    routes["10.0.2.0/24"] = {"nexthop": "10.0.12.2", "metric": 0, "as_path": "65002", "origin": "IGP"}
    post["sections"]["peers"]["10.0.12.2"]["state"] = "Active"
    post["sections"]["counters"]["x"]["packets"] = 99
    return post


def _check(result):
    assert result["added"] == [{"section": "routes", "key": "10.0.2.0/24", "value": {"nexthop": "10.0.12.2", "metric": 0, "as_path": "65002", "origin": "IGP"}}]
    assert [r["key"] for r in result["removed"]] == ["10.0.1.0/24"]
    assert [(c["section"], c["key"], c["field"], c["before"], c["after"]) for c in result["changed"]] == [
        ("peers", "10.0.12.2", "state", "Established", "Active"), ("routes", "10.0.0.0/24", "metric", 0, 50)]
    assert result["unchanged_count"] == 1
    s = result["summary"]
    assert (s["added"], s["removed"], s["changed"], s["unchanged"], s["identical"]) == (1, 1, 2, 1, False)
    assert "counters" not in s["sections"]  # volatile: left out by default
    assert result["pre"]["device"] == "r1" and result["post"]["taken_at"] == "t2"


def test_diff_in_memory():
    _check(diff_states(PRE, _post()))


def test_diff_through_refs_line_path(tmp_path):
    result = diff_states(statestore.put(str(tmp_path), PRE, "snapshot"), statestore.put(str(tmp_path), _post(), "snapshot"))
    assert result["summary"]["method"] == "lines"
    _check(result)
    assert len(result["pre"]["sha256"]) == 64


def test_counters_when_asked():
    result = diff_states(PRE, _post(), ignore_sections=[])
    assert ("counters", "x", "packets", 1, 99) in [(c["section"], c["key"], c["field"], c["before"], c["after"]) for c in result["changed"]]


def test_identical():
    result = diff_states(PRE, copy.deepcopy(PRE))
    assert result["summary"]["identical"] and result["unchanged_count"] == 4


@pytest.mark.parametrize("raw, canon", [
    ("2001:DB8::/32", "2001:db8::/32"), ("2001:db8:0:0:1:0:0:0/80", "2001:db8:0:0:1::/80"),
    ("2001:db8:0:0:0:0:0:1", "2001:db8::1/128"), ("10.0.0.1", "10.0.0.1/32"), ("10.0.0.1/24", "10.0.0.1/24"),
    ("2001:db8::1", "2001:db8::1/128"), ("10.1.2.0/24", "10.1.2.0/24"), ("::/0", "::/0"), (" 10.0.0.0/8", "10.0.0.0/8"),
    ("2001:0db8::/32", "2001:db8::/32"), ("not-a-prefix", "not-a-prefix"), (5, 5),
])
def test_canonical_prefix(raw, canon):
    assert canonical_prefix(raw) == canon


def test_canonical_address():
    assert canonical_address("2001:DB8::0001") == "2001:db8::1"
    assert canonical_address("10.0.0.1") == "10.0.0.1"
    assert canonical_address("r1") == "r1"


def test_v6_and_host_route_canonicalization_lists(tmp_path):
    pre = [{"prefix": "2001:DB8::/32", "nexthop": "a"}, {"prefix": "10.0.0.1", "nexthop": "b"}, {"prefix": "10.9.0.0/16", "nexthop": "c"}]
    post = [{"prefix": "2001:db8::/32", "nexthop": "a"}, {"prefix": "10.0.0.1/32", "nexthop": "B"}, {"prefix": "10.9.0.0/16", "nexthop": "c"}]
    for result in (diff_states(pre, post, keys="prefix"),
                   diff_states(statestore.put(str(tmp_path), pre, "routes"), statestore.put(str(tmp_path), post, "routes"), keys="prefix")):
        assert result["added"] == [] and result["removed"] == []
        assert [(c["key"], c["field"], c["before"], c["after"]) for c in result["changed"]] == [("10.0.0.1/32", "nexthop", "b", "B")]
        assert result["unchanged_count"] == 2


def test_line_path_matches_memory_on_random_lists(tmp_path):
    rng = random.Random(3)
    pre = [{"prefix": "10.%d.%d.0/24" % (i // 256, i % 256), "metric": rng.randint(0, 5)} for i in range(3000)]
    post = [dict(r) for r in pre]
    for i in rng.sample(range(3000), 40):
        post[i]["metric"] += 1
    post = [r for i, r in enumerate(post) if i % 97] + [{"prefix": "192.0.2.%d/32" % i, "metric": 1} for i in range(7)]
    rng.shuffle(post[:50])  # some reordering too
    memory = diff_states(pre, post)
    lines = diff_states(statestore.put(str(tmp_path), pre, "routes"), statestore.put(str(tmp_path), post, "routes"))
    for key in ("added", "removed", "changed", "unchanged_count"):
        assert memory[key] == lines[key]
    fully_shuffled = list(post)
    rng.shuffle(fully_shuffled)
    shuffled = diff_states(statestore.put(str(tmp_path), pre, "routes"), statestore.put(str(tmp_path), fully_shuffled, "routes"))
    assert shuffled["changed"] == memory["changed"] and shuffled["unchanged_count"] == memory["unchanged_count"]


def test_limit_truncates_lists_but_not_counts():
    pre = [{"prefix": "10.0.%d.0/24" % i} for i in range(10)]
    result = diff_states(pre, [], limit=3)
    assert len(result["removed"]) == 3 and result["summary"]["removed"] == 10 and result["summary"]["truncated"]


def test_errors():
    with pytest.raises(ValidationError, match="appears twice"):
        diff_states([{"prefix": "10.0.0.1"}, {"prefix": "10.0.0.1/32"}], [])
    with pytest.raises(ValidationError, match="no identity field"):
        diff_states([{"name": "x"}], [], keys="prefix")
    with pytest.raises(ValidationError, match="same device"):
        diff_states(PRE, dict(PRE, device="r2"))
    with pytest.raises(ValidationError, match="not the same kind"):
        diff_states(PRE, [])
    with pytest.raises(ValidationError, match="limit"):
        diff_states([], [], limit=-1)


def test_tampered_ref_refused(tmp_path):
    ref = statestore.put(str(tmp_path), PRE, "snapshot")
    with open(ref["path"], "ab") as handle:
        handle.write(b" ")
    with pytest.raises(ValidationError, match="sha256 mismatch"):
        diff_states(ref, statestore.put(str(tmp_path), _post(), "snapshot"))
