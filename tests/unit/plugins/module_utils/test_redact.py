# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets in configs, snapshots and evidence."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.governed.change.plugins.module_utils.redact import (
    REDACTED, contains_secret, evidence_form, placeholder, redact_assessment, redact_data, redact_text, redact_value, redaction_key)

from repo_paths import ROOT
from state_fixtures import RUNNING_CONFIG


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
    # keyed (HMAC with the installation's redaction key): a guessable secret cannot be looked up from its placeholder
    key = redaction_key()
    assert placeholder("a") == placeholder("a") == "<redacted:%s>" % hmac.new(key, b"a", hashlib.sha256).hexdigest()[:8]
    assert placeholder("a") != "<redacted:%s>" % hashlib.sha256(b"a").hexdigest()[:8]
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


@pytest.mark.parametrize("line, kind, secrets", [
    ("snmp-server user mon grp v3 auth sha AuthPw1 priv aes 128 PrivPw2", "snmp_user", ["AuthPw1", "PrivPw2"]),
    ("ntp authentication-key 1 md5 NtpK3y", "ntp_key", ["NtpK3y"]),
    ("crypto isakmp key IsaK3y address 10.0.0.1", "isakmp_key", ["IsaK3y"]),
    ("\t\tip saddr 10.9.9.9 accept comment \"token=T0kenXyz\"", "token", ["T0kenXyz"]),
    ("\t\telements = { 10.9.9.9 comment \"secret S3tElem\" }", "generic_secret", ["S3tElem"]),
    ("api_key: AK-12345", "token", ["AK-12345"]),
    ("Authorization: Bearer eyJhbGciOi", "token", ["eyJhbGciOi"]),
    ("password=hunter2", "token", ["hunter2"]),
    ("rocommunity c0mmRO default", "agentx_community", ["c0mmRO"]),
    ("crypto isakmp profile p pre-shared-key 0 Ik3Psk", "generic_secret", ["Ik3Psk"]),
    (" wpa-psk ascii 0 Wp4Psk", "generic_secret", ["Wp4Psk"]),
    ("\t\tip saddr 10.9.9.7 accept comment \"token T0kSpace\"", "token", ["T0kSpace"]),
])
def test_redacts_more_kinds(line, kind, secrets):
    text, findings = redact_text(line)
    assert findings == [{"line_no": 1, "kind": kind}], text
    for secret in secrets:
        assert secret not in text and placeholder(secret) in text


@pytest.mark.parametrize("line", ["no service password-encryption", "title: password rotation", "A secret step",
                                  "rotate the secret of r1", "the token expired", "bgp community-list standard C permit 65001:100",
                                  "--- r1/running", "+++ r1/candidate", "\t\ttcp dport 22 accept comment \"ssh\""])
def test_leaves_prose_and_headers(line):
    assert redact_text(line) == (line, [])


def test_diff_lines_keep_their_marker():
    diff = ("--- r1/running\n+++ r1/candidate\n@@ -1,2 +1,2 @@\n router bgp 65001\n"
            "- neighbor 10.0.12.2 password OldS3cret\n+ neighbor 10.0.12.2 password S3cr3tPassw0rd\n")
    text, findings = redact_text(diff)
    assert "OldS3cret" not in text and "S3cr3tPassw0rd" not in text
    assert "- neighbor 10.0.12.2 password %s\n" % placeholder("OldS3cret") in text
    assert "+ neighbor 10.0.12.2 password %s\n" % placeholder("S3cr3tPassw0rd") in text
    assert [f["kind"] for f in findings] == ["bgp_neighbor_password"] * 2 and text.startswith("--- r1/running\n+++ r1/candidate\n")


def test_private_key_blocks():
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n+QyNTUxOQAAACBa0fkP\n-----END OPENSSH PRIVATE KEY-----\n"
    text, findings = redact_text("hostname fw1\n" + block + "hostname x\n")
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in text and "QyNTUxOQAAACBa0fkP" not in text
    assert findings == [{"line_no": 2, "kind": "private_key"}] and len(text.splitlines()) == 6
    assert text.splitlines()[2] == placeholder("b3BlbnNzaC1rZXktdjEAAAAA") and text.splitlines()[5] == "hostname x"
    # a diff of a key block keeps its markers; a key on one line (pasted, JSON-escaped) is redacted too
    diff = redact_text("+-----BEGIN RSA PRIVATE KEY-----\n+MIIEpAIBAAKCAQEA\n+-----END RSA PRIVATE KEY-----\n")[0]
    assert "MIIEpAIBAAKCAQEA" not in diff and diff.splitlines()[1] == "+" + placeholder("MIIEpAIBAAKCAQEA")
    one, found = redact_text("key: -----BEGIN EC PRIVATE KEY-----MHcCAQEEI-----END EC PRIVATE KEY-----")
    assert "MHcCAQEEI" not in one and found == [{"line_no": 1, "kind": "private_key"}]
    assert redact_text(text) == (text, [{"line_no": 2, "kind": "private_key"}])  # idempotent


def test_redaction_key_from_env_file_and_created_owner_only(tmp_path):
    code = ("import json,os,sys; sys.path.insert(0, %r)\n"
            "from ansible_collections.governed.change.plugins.module_utils import redact\n"
            "print(json.dumps([redact.placeholder('zebra'), redact.redact_text('password zebra')[0]]))") % os.path.join(ROOT, ".collections")
    base = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    base.pop("GOVERNED_CHANGE_REDACTION_KEY", None)
    base.pop("GOVERNED_CHANGE_REDACTION_KEY_FILE", None)

    def run(**env):
        proc = subprocess.run([sys.executable, "-c", code], env=dict(base, **env), capture_output=True, text=True, check=True)
        return json.loads(proc.stdout)

    first, again = run(), run()
    key_file = tmp_path / "cfg" / "governed-change" / "redaction.key"
    assert first == again and first[1] == "password " + first[0]  # stable across processes: one key file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_bytes().strip()
    assert first[0] == "<redacted:%s>" % hmac.new(key, b"zebra", hashlib.sha256).hexdigest()[:8]
    assert first[0] != "<redacted:%s>" % hashlib.sha256(b"zebra").hexdigest()[:8]  # not a dictionary lookup away
    assert run(GOVERNED_CHANGE_REDACTION_KEY="awx-credential")[0] == \
        "<redacted:%s>" % hmac.new(b"awx-credential", b"zebra", hashlib.sha256).hexdigest()[:8]
    (tmp_path / "other.key").write_text("k2\n")
    assert run(GOVERNED_CHANGE_REDACTION_KEY_FILE=str(tmp_path / "other.key"))[0] == \
        "<redacted:%s>" % hmac.new(b"k2", b"zebra", hashlib.sha256).hexdigest()[:8]
    # an unwritable config home: one key in the temp folder (still stable); a temp folder others may write: not trusted
    (tmp_path / "home-is-a-file").write_text("")
    spare = tmp_path / "tmp" / ("governed-change-%d" % os.getuid())
    (tmp_path / "tmp").mkdir()
    locked = dict(XDG_CONFIG_HOME=str(tmp_path / "home-is-a-file"), TMPDIR=str(tmp_path / "tmp"))
    assert run(**locked) == run(**locked) != first
    assert stat.S_IMODE((spare / "redaction.key").stat().st_mode) == 0o600
    spare.chmod(0o777)
    assert run(**locked)[0] != run(**locked)[0]  # a key per process rather than one someone else could have planted


def test_redact_value_keys_and_text():
    data = {"password": "x1", "snmp_community": "c1", "community": "65001:100", "text": " neighbor 1.1.1.1 password p1",
            "items": [{"token": "t1"}, "enable secret 5 e1"], "n": 3}
    out = redact_value(data)
    assert out["password"] == out["snmp_community"] == out["items"][0]["token"] == REDACTED
    assert out["community"] == "65001:100" and out["n"] == 3  # a BGP community is data, not a secret
    assert "p1" not in out["text"] and "e1" not in out["items"][1]


def test_redact_assessment_keeps_hashes():
    assessment = {"change_id": "CHG-1", "content_hash": "a" * 64, "title": "t",
                  "devices": {"r1": {"diff": "+password zebra\n", "new_lines": ["password zebra"], "added": ["password zebra"],
                                     "existing_lines": [" neighbor 10.0.12.2 password Old1"], "candidate": "password zebra\n"}},
                  "facts": {"contexts_touched": ["password zebra"]}}
    out = redact_assessment(assessment)
    assert "zebra" not in json.dumps(out) and "Old1" not in json.dumps(out)
    assert out["content_hash"] == "a" * 64 and out["devices"]["r1"]["new_lines"] == ["password %s" % placeholder("zebra")]
    assert "zebra" in json.dumps(assessment)  # the input is not changed
