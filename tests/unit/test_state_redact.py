# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets in configs, snapshots and evidence."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.governed.change.plugins.module_utils.redact import (
    contains_secret, evidence_form, placeholder, redact_data, redact_text)

from test_state_fixtures import RUNNING_CONFIG


@pytest.mark.parametrize("line, kind, secret", [
    (" neighbor 10.0.12.1 password TopSecret1", "bgp_neighbor_password", "TopSecret1"),
    (" neighbor PEERS password 7 0822455D0A16", "bgp_neighbor_password", "0822455D0A16"),
    ("password zebra", "password", "zebra"),
    ("enable password s3cr3t", "enable_password", "s3cr3t"),
    ("enable secret 5 $1$abc$xyz", "enable_password", "$1$abc$xyz"),
    ("  key-string K3yStr1ng", "key_string", "K3yStr1ng"),
    ("snmp-server community public-c0mm RO", "snmp_community", "public-c0mm"),
    (" ip ospf authentication-key ospfkey", "ospf_key", "ospfkey"),
    (" ip ospf message-digest-key 1 md5 md5key", "ospf_key", "md5key"),
    ("tacacs-server host 10.0.0.9 key tackey", "server_key", "tackey"),
    ("username admin privilege 15 secret 9 $9$hash", "user_password", "$9$hash"),
])
def test_redacts_secret_lines(line, kind, secret):
    text, findings = redact_text(line + "\n")
    assert findings == [{"line_no": 1, "kind": kind}]
    assert secret not in text and placeholder(secret) in text and text.endswith("\n")


@pytest.mark.parametrize("line", [" neighbor 10.0.12.1 remote-as 65001", "key chain ospf", " key 1", "hostname r1",
                                  "router bgp 65001", "ip prefix-list PL seq 5 permit 10.0.0.0/8"])
def test_leaves_other_lines(line):
    assert redact_text(line) == (line, [])


def test_full_config_line_numbers_and_roundtrip():
    text, findings = redact_text(RUNNING_CONFIG)
    assert findings == [{"line_no": 8, "kind": "password"}, {"line_no": 9, "kind": "enable_password"},
                        {"line_no": 13, "kind": "bgp_neighbor_password"}, {"line_no": 18, "kind": "key_string"},
                        {"line_no": 20, "kind": "snmp_community"}]
    assert len(text.splitlines()) == len(RUNNING_CONFIG.splitlines())
    assert redact_text(text) == (text, [])  # idempotent: placeholders are not redacted again
    crlf = "hostname r1\r\npassword x\r\n"
    assert redact_text(crlf)[0] == "hostname r1\r\npassword %s\r\n" % placeholder("x")


def test_placeholder_stable_and_salted():
    assert placeholder("a") == placeholder("a") == "<redacted:%s>" % hashlib.sha256(b"a").hexdigest()[:8]
    assert placeholder("a") != placeholder("b")
    assert placeholder("a", salt="s") != placeholder("a") and placeholder("a", salt="s") == placeholder("a", salt="s")


def test_redact_data_walks_structures():
    data = {"config": {"text": "router bgp 1\n neighbor 1.1.1.1 password pw1\n"}, "list": ["password pw2", 3], "n": None}
    out, findings = redact_data(data)
    assert "pw1" not in str(out) and "pw2" not in str(out) and out["list"][1] == 3
    assert findings == [{"path": "$.config.text", "line_no": 2, "kind": "bgp_neighbor_password"},
                        {"path": "$.list[0]", "line_no": 1, "kind": "password"}]


def test_evidence_form_keeps_real_hash_only():
    ev = evidence_form(RUNNING_CONFIG)
    assert "TopSecret1" not in ev["text"] and ev["redaction_count"] == 5
    assert ev["sha256"] == hashlib.sha256(RUNNING_CONFIG.encode()).hexdigest()
    assert not contains_secret(ev["text"]) and contains_secret(RUNNING_CONFIG)
