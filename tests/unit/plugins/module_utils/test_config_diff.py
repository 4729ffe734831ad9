# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config diffs: FRR and nftables normalisation, merge of lines, unified diff, sections and prefixes touched."""

from __future__ import annotations

import difflib

import pytest

from ansible_collections.governed.change.plugins.module_utils.config_diff import (
    device_diff, diff_configs, normalize_config, prefixes_in_line, render_candidate, section_name, unified_diff,
)
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

from assess_support import FRR_R2, NFT_FW1


def test_normalize_strips_frr_headers_comments_and_blank_lines():
    lines = normalize_config(FRR_R2)
    assert lines[0] == "frr version 8.4.4"
    assert "Building configuration..." not in lines and "Current configuration:" not in lines
    assert "end" not in lines and "!" not in lines and " !" not in lines and "" not in lines
    assert normalize_config("Current configuration : 1234 bytes\nhostname r1  \n# comment\n") == ["hostname r1"]
    assert normalize_config(None) == []


@pytest.mark.parametrize("line,section", [
    ("router bgp 65002", "router bgp"),
    ("router bgp 65002 vrf blue", "router bgp"),
    ("router ospf", "router ospf"),
    ("ip prefix-list PL seq 5 permit 10.0.0.0/8", "ip prefix-list"),
    ("ipv6 prefix-list PL6 seq 5 permit fd00::/8", "ipv6 prefix-list"),
    ("route-map RM-OUT permit 10", "route-map"),
    ("access-list ACL1 seq 5 permit 10.0.0.0/8", "access-list"),
    ("ip access-list ACL1", "ip access-list"),
    ("interface eth0", "interface"),
    ("ip route 203.0.113.66/32 blackhole", "ip route"),
    ("no ip route 203.0.113.66/32 blackhole", "ip route"),
    ("bgp community-list standard C permit 65001:100", "bgp community-list"),
    ("bgp as-path access-list AS1 permit ^65001_", "bgp as-path access-list"),
    ("hostname r2", "hostname"),
    ("table inet filter {", "table inet filter"),
    ("table filter {", "table ip filter"),
    ("add rule inet filter forward ip daddr 10.0.45.2 tcp dport 443 accept", "table inet filter"),
    ("insert rule filter input tcp dport 22 accept", "table ip filter"),
    ("add element inet filter allowed { 10.0.45.3 }", "table inet filter"),
    ("flush ruleset", "ruleset"),
])
def test_section_names(line, section):
    assert section_name(line) == section


@pytest.mark.parametrize("line,prefixes", [
    ("ip prefix-list PL seq 5 permit 10.20.0.0/16 le 24", ["10.20.0.0/16"]),
    (" neighbor 10.0.12.1 remote-as 65001", ["10.0.12.1/32"]),
    (" ip address 10.0.12.1/30", ["10.0.12.0/30"]),
    ("ip daddr 10.0.45.2 tcp dport 443 accept", ["10.0.45.2/32"]),
    ("ip saddr { 10.0.34.1, 10.0.34.2 } accept", ["10.0.34.1/32", "10.0.34.2/32"]),
    ("ip daddr 10.0.45.8-10.0.45.11 accept", ["10.0.45.8/30"]),
    ("ipv6 prefix-list P6 seq 5 permit fd00:255::/48 le 64", ["fd00:255::/48"]),
    ("ip6 daddr fd00:255::2 accept", ["fd00:255::2/128"]),
    ("bgp community-list standard C permit 65001:100", []),
    ("frr version 8.4.4", []),
    ("ip route 300.1.1.1/32 blackhole", []),
    (" mac aa:bb:cc:dd:ee:ff", []),
    ("router bgp 65002", []),
])
def test_prefixes_in_line(line, prefixes):
    assert [str(network) for network in prefixes_in_line(line)] == prefixes


def test_render_candidate_merges_into_frr_blocks():
    merged = render_candidate(FRR_R2, [
        "router bgp 65002",
        " neighbor 10.0.12.1 remote-as 65001",
        " address-family ipv4 unicast",
        "  network 10.20.0.0/16",
        "ip prefix-list PL seq 5 permit 10.20.0.0/16",
    ])
    assert merged["new_lines"] == ["  network 10.20.0.0/16", "ip prefix-list PL seq 5 permit 10.20.0.0/16"]
    assert merged["existing_lines"] == ["router bgp 65002", " neighbor 10.0.12.1 remote-as 65001", " address-family ipv4 unicast"]
    candidate = normalize_config(merged["candidate"])
    assert candidate.index("  network 10.20.0.0/16") == candidate.index(" exit-address-family") - 1  # inside the address family
    assert candidate[-1] == "ip prefix-list PL seq 5 permit 10.20.0.0/16"  # a new block goes after the last 'exit'


def test_render_candidate_no_lines_remove():
    merged = render_candidate(FRR_R2, ["router bgp 65002", " no neighbor 10.0.12.1", "no ip route 1.2.3.4/32 null0"])
    assert merged["removed_lines"] == [" no neighbor 10.0.12.1"] and merged["noop_lines"] == ["no ip route 1.2.3.4/32 null0"]
    assert " neighbor 10.0.12.1 remote-as 65001" not in normalize_config(merged["candidate"])


def test_render_candidate_places_nft_rules_in_their_chain():
    merged = render_candidate(NFT_FW1, ["add rule inet filter forward ip daddr 10.0.45.2 tcp dport 443 accept",
                                        "add rule inet filter forward ct state established,related accept",
                                        "insert rule inet filter forward ip saddr 192.0.2.1 drop"])
    assert merged["existing_lines"] == ["add rule inet filter forward ct state established,related accept"]
    lines = normalize_config(merged["candidate"])
    assert "\t\tip daddr 10.0.45.2 tcp dport 443 accept" in lines
    forward = lines.index("\tchain forward {")
    assert lines[forward + 2] == "\t\tip saddr 192.0.2.1 drop"  # insert goes first, after the type/policy line
    assert lines[-1] == "}" and lines[-2] == "\t}"


def test_render_candidate_unknown_running_makes_every_line_new():
    merged = render_candidate(None, ["router bgp 65002", " neighbor 10.0.12.1 remote-as 65001"])
    assert merged["new_lines"] == ["router bgp 65002", " neighbor 10.0.12.1 remote-as 65001"]
    assert merged["candidate"] == "router bgp 65002\n neighbor 10.0.12.1 remote-as 65001\n"


def test_diff_stats_sections_and_prefixes():
    candidate = FRR_R2.replace("  network 10.255.0.2/32\n", "  network 10.255.0.2/32\n  network 10.30.0.0/16\n").replace(
        " neighbor 10.0.12.1 remote-as 65001\n", " neighbor 10.0.12.1 remote-as 65011\n") + "ip prefix-list PL seq 5 permit 10.30.0.0/16\n"
    out = diff_configs(FRR_R2, candidate, host="r2")
    assert (out["lines_added"], out["lines_removed"], out["lines_changed"], out["changed"]) == (3, 1, 4, True)
    assert out["sections_touched"] == ["ip prefix-list", "router bgp"]
    assert out["contexts_touched"] == ["ip prefix-list PL seq 5 permit 10.30.0.0/16", "router bgp 65002"]
    assert out["prefixes_touched"] == ["10.0.12.1/32", "10.30.0.0/16"]
    assert out["removed"] == [" neighbor 10.0.12.1 remote-as 65001"]
    assert out["diff"].startswith("--- r2/running\n+++ r2/candidate\n@@ ")


def test_unified_diff_matches_difflib():
    before = normalize_config(FRR_R2)
    after = before[:3] + ["hostname r2-new"] + before[4:] + ["ip route 0.0.0.0/0 10.0.12.1"]
    ours = unified_diff(before, after, "a", "b")
    theirs = "\n".join(difflib.unified_diff(before, after, "a", "b", lineterm="")) + "\n"
    assert ours == theirs
    assert unified_diff(before, before) == ""


def test_change_to_closing_line_is_attributed_to_its_block():
    running = "router bgp 65002\n neighbor 10.0.12.1 remote-as 65001\nexit\n"
    out = diff_configs(running, running.replace("exit\n", ""))
    assert out["sections_touched"] == ["router bgp"]


def test_identical_configs_have_empty_diff():
    out = diff_configs(FRR_R2, FRR_R2.replace("!\n", "! comment\n"))
    assert out["diff"] == "" and out["changed"] is False and out["sections_touched"] == [] and out["prefixes_touched"] == []


def test_device_diff_running_unknown_and_argument_errors():
    out = device_diff("r1", running=None, lines=["ip route 203.0.113.66/32 blackhole"])
    assert out["running_known"] is False and out["lines_added"] == 1 and out["new_lines"] == ["ip route 203.0.113.66/32 blackhole"]
    with pytest.raises(ValidationError) as info:
        device_diff("r1", running="", candidate="x", lines=["y"])
    assert str(info.value) == ("diffs.r1: give exactly one of a candidate configuration or lines to merge. "
                               "Fix: pass candidate: <text> or lines: [...] for the device.")
    with pytest.raises(ValidationError) as info:
        normalize_config(["not", "text"])
    assert str(info.value) == "the configuration must be text, got list. Fix: pass the running or candidate configuration as a string."


def test_indented_line_without_parent_is_refused():
    with pytest.raises(ValidationError) as info:
        device_diff("r2", running=FRR_R2, lines=[" neighbor 10.0.12.9 remote-as 65009", "ip route 192.0.2.0/24 blackhole"])
    assert str(info.value) == ("diffs.r2.lines[0]: 'neighbor 10.0.12.9 remote-as 65009' is indented but no block line comes before it. "
                               "Fix: start the block with its parent line (e.g. router bgp 65002), or remove the indentation.")
    with pytest.raises(ValidationError) as info:
        render_candidate("", ["a", 5])
    assert str(info.value) == "lines[1]: a configuration line must be a string, got int. Fix: quote each configuration line."
