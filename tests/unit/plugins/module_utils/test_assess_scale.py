# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The indexed config merge: same results as the block scan it replaced, a big config (timed by benchmarks/bench_assess_scale.py), the size limit."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import config_diff
from ansible_collections.governed.change.plugins.module_utils.blast_radius import cidrs, to_ipset
from ansible_collections.governed.change.plugins.module_utils.config_diff import device_diff, render_candidate
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

RUNNING = """router bgp 65002
 neighbor 10.0.12.1 remote-as 65001
 neighbor 10.0.12.1 timers 1 3
 neighbor 10.0.23.3 remote-as 65003
 address-family ipv4 unicast
  network 10.255.0.2/32
 exit-address-family
exit
ip prefix-list PL seq 5 permit 10.0.0.0/8
ip prefix-list PL seq 10 permit 10.1.0.0/16
"""


def test_no_line_after_lookups_removes_every_prefixed_line_and_later_lines_can_return():
    out = render_candidate(RUNNING, [
        "router bgp 65002",                          # found through the index
        " neighbor 10.0.12.1 timers 1 3",            # existing
        " no neighbor 10.0.12.1",                    # prefix removal of both 10.0.12.1 lines
        " neighbor 10.0.12.1 remote-as 65011",       # added again after the removal
        " no neighbor 10.0.12.1 remote-as 65011",    # exact removal of the line just added
        " neighbor 10.0.12.1 remote-as 65012",
        " no neighbor 10.9.9.9",                     # nothing to remove
    ])
    assert out["existing_lines"] == ["router bgp 65002", " neighbor 10.0.12.1 timers 1 3"]
    assert out["removed_lines"] == [" no neighbor 10.0.12.1", " no neighbor 10.0.12.1 remote-as 65011"]
    assert out["noop_lines"] == [" no neighbor 10.9.9.9"]
    assert out["new_lines"] == [" neighbor 10.0.12.1 remote-as 65011", " neighbor 10.0.12.1 remote-as 65012"]
    # New lines go before the block's closers; removed lines are gone from the candidate.
    assert out["candidate"].splitlines()[:6] == [
        "router bgp 65002", " neighbor 10.0.23.3 remote-as 65003", " address-family ipv4 unicast",
        "  network 10.255.0.2/32", " neighbor 10.0.12.1 remote-as 65012", " exit-address-family"]
    assert "10.0.12.1 timers" not in out["candidate"]


def test_removing_a_whole_block_and_re_adding_a_line_of_it():
    out = render_candidate(RUNNING, ["no ip prefix-list PL", "ip prefix-list PL seq 10 permit 10.1.0.0/16"])
    assert out["removed_lines"] == ["no ip prefix-list PL"]
    assert out["new_lines"] == ["ip prefix-list PL seq 10 permit 10.1.0.0/16"]
    assert out["candidate"].splitlines()[-1] == "ip prefix-list PL seq 10 permit 10.1.0.0/16"
    assert "seq 5" not in out["candidate"]


def test_nft_rules_after_a_removal_keep_the_chain_indentation():
    running = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n" \
              "\t\ttcp dport 22 accept\n\t}\n}\n"
    out = render_candidate(running, ["add rule inet filter input tcp dport 80 accept",
                                     "insert rule inet filter input tcp dport 443 accept",
                                     "add rule inet filter input tcp dport 22 accept"])
    assert out["existing_lines"] == ["add rule inet filter input tcp dport 22 accept"]
    assert out["candidate"].splitlines() == [
        "table inet filter {", "\tchain input {", "\t\ttype filter hook input priority filter; policy accept;",
        "\t\ttcp dport 443 accept", "\t\ttcp dport 22 accept", "\t\ttcp dport 80 accept", "\t}", "}"]


def test_duplicate_running_lines_match_the_first_and_are_all_removed():
    out = render_candidate("ip route 10.9.0.0/16 Null0\nip route 10.9.0.0/16 Null0\n",
                           ["ip route 10.9.0.0/16 Null0", "no ip route 10.9.0.0/16 Null0"])
    assert out["existing_lines"] == ["ip route 10.9.0.0/16 Null0"]
    assert out["candidate"] == ""


def _prefix_list(count, start=0):
    return ["ip prefix-list PL-BIG seq %d permit 10.%d.%d.0/24" % (5 + 5 * i, (i >> 8) & 255, i & 255)
            for i in range(start, start + count)]


def test_big_merge_of_60000_lines():
    # 60,000 top-level lines merged through the index. Its time (linear, where the former scan of the block per line
    # took about 50 s here) is measured by benchmarks/bench_assess_scale.py, not asserted in a unit test.
    running = "\n".join(_prefix_list(40000)) + "\n"
    out = render_candidate(running, _prefix_list(40000, start=20000) + ["no ip prefix-list PL-BIG seq 105 permit 10.0.20.0/24"])
    assert (len(out["existing_lines"]), len(out["new_lines"]), len(out["removed_lines"])) == (20000, 20000, 1)


def test_to_ipset_merges_the_whole_list_once_with_the_same_result():
    prefixes = ["10.0.%d.0/24" % i for i in range(256)] + ["10.1.0.0/16", "10.1.2.3", "fd00::/48", "fd00::1"]
    assert cidrs(to_ipset(prefixes)) == ["10.0.0.0/15", "fd00::/48"]
    with pytest.raises(ValidationError) as info:
        to_ipset(["10.0.0.0/24", "999.1.1.0/24"], where="prefixes_touched")
    assert info.value.where == "prefixes_touched[1]"


@pytest.mark.parametrize("field", ["running", "candidate", "lines"])
def test_more_lines_than_the_limit_are_refused_naming_the_field(monkeypatch, field):
    monkeypatch.setattr(config_diff, "MAX_CONFIG_LINES", 5)
    big = ["ip prefix-list PL seq %d permit 10.0.%d.0/24" % (i + 1, i) for i in range(6)]
    kwargs = {"running": "hostname r2\n"}
    if field == "running":
        kwargs.update(running="\n".join(big), lines=["hostname r2"])
    elif field == "candidate":
        kwargs["candidate"] = "\n".join(big)
    else:
        kwargs["lines"] = big
    with pytest.raises(ValidationError) as info:
        device_diff("r2", **kwargs)
    assert info.value.where == "diffs.r2.%s" % field
    assert "over the limit of 5 lines per device" in info.value.problem
    assert info.value.fix
    # At the limit it is accepted.
    monkeypatch.setattr(config_diff, "MAX_CONFIG_LINES", 6)
    assert device_diff("r2", **kwargs)["host"] == "r2"
