# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redact secrets in device configs and state, so they never reach snapshots, diffs, results or evidence.

A secret is replaced by ``<redacted:XXXXXXXX>`` where XXXXXXXX is the first 8 hex digits of the sha256
of the secret (optionally keyed with a salt): stable, so a changed secret still shows as a change in a
diff, without revealing it. The backup used for a restore keeps the real text; only its evidence form
(``evidence_form``) is redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PLACEHOLDER_RE = re.compile(r"<redacted:[0-9a-f]{8}>")

# (kind, pattern); group "secret" is what gets replaced. Patterns are tried on every line, in order,
# and all of them apply (a line can hold more than one secret). Whitespace-separated tokens only:
# device configs do not quote secrets.
_TYPE = r"(?:[0-9]\s+)?"  # an optional encryption-type digit (0, 5, 7, 8, 9) before the secret
RULES = [
    ("bgp_neighbor_password", re.compile(r"^\s*(?:no\s+)?neighbor\s+\S+\s+password\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("enable_password", re.compile(r"^\s*enable\s+(?:password|secret)\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("user_password", re.compile(r"^\s*username\s+\S+\s+(?:.*\s)?(?:password|secret)\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("password", re.compile(r"^\s*(?:ip\s+ospf\s+)?(?:password|area-password|domain-password|isis\s+password)\s+"
                            r"(?:(?:clear|md5|hmac-md5)\s+)?" + _TYPE + r"(?P<secret>\S+)")),
    ("ospf_key", re.compile(r"^\s*(?:ip\s+|ipv6\s+)?ospf6?\s+(?:authentication-key|message-digest-key\s+\d+\s+md5)\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("key_string", re.compile(r"^\s*key-string\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("server_key", re.compile(r"^\s*(?:tacacs-server|radius-server|tacacs|radius)\b.*?\bkey\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("snmp_community", re.compile(r"^\s*snmp-server\s+community\s+(?P<secret>\S+)")),
    ("agentx_community", re.compile(r"^\s*(?:rocommunity|rwcommunity)6?\s+(?P<secret>\S+)")),
    ("bfd_key", re.compile(r"^\s*(?:authentication\s+)?(?:simple|md5|sha1)\s+key\s+(?P<secret>\S+)")),
    ("generic_secret", re.compile(r"^\s*(?:.*\s)?(?:secret|pre-shared-key|psk)\s+" + _TYPE + r"(?P<secret>\S+)")),
]


def placeholder(secret, salt=None):
    """The stable placeholder of one secret: ``<redacted:`` + 8 hex digits of its (salted) sha256 + ``>``."""
    raw = secret.encode("utf-8")
    if salt:
        digest = hmac.new(salt.encode("utf-8") if isinstance(salt, str) else salt, raw, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(raw).hexdigest()
    return "<redacted:%s>" % digest[:8]


def _redact_line(line, salt):
    kinds = []
    for kind, pattern in RULES:
        match = pattern.search(line)
        if not match:
            continue
        secret = match.group("secret")
        if PLACEHOLDER_RE.fullmatch(secret):
            continue  # already redacted
        start, end = match.span("secret")
        line = line[:start] + placeholder(secret, salt) + line[end:]
        kinds.append(kind)
        break  # one secret per line is what these configs hold; the first rule that fits wins
    return line, kinds


def redact_text(text, salt=None):
    """Redact a config text; returns (redacted_text, [{line_no, kind}]) with 1-based line numbers.

    Line endings are kept as they were, so an unredacted config round-trips byte for byte.
    """
    if text is None:
        return None, []
    if not isinstance(text, str):
        text = str(text)
    findings = []
    out = []
    for line_no, line in enumerate(text.splitlines(True), start=1):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        new_body, kinds = _redact_line(body, salt)
        for kind in kinds:
            findings.append({"line_no": line_no, "kind": kind})
        out.append(new_body + ending)
    return "".join(out), findings


def redact_data(value, salt=None, path="$"):
    """Redact every string inside a JSON-able value (snapshots, results); returns (value, [{path, line_no, kind}])."""
    findings = []

    def walk(node, where):
        if isinstance(node, str):
            if not _may_hold_secret(node):
                return node
            text, found = redact_text(node, salt)
            for item in found:
                findings.append({"path": where, "line_no": item["line_no"], "kind": item["kind"]})
            return text
        if isinstance(node, dict):
            return dict((k, walk(v, "%s.%s" % (where, k))) for k, v in node.items())
        if isinstance(node, list):
            return [walk(v, "%s[%d]" % (where, i)) for i, v in enumerate(node)]
        return node

    return walk(value, path), findings


_HINTS = ("password", "secret", "key", "community", "psk")


def _may_hold_secret(text):
    lowered = text.lower()
    return any(hint in lowered for hint in _HINTS)


def contains_secret(text):
    """True when a text still holds something a rule would redact (a guard for evidence writers)."""
    return bool(redact_text(text)[1]) if isinstance(text, str) else False


def evidence_form(config_text, salt=None):
    """The evidence form of a backup: redacted text, findings, and the sha256 of the real and redacted texts.

    The real text stays in the backup file (the restore needs it); the evidence keeps only this.
    """
    redacted, findings = redact_text(config_text, salt)
    real = (config_text or "").encode("utf-8")
    return {"text": redacted, "redactions": findings, "redaction_count": len(findings),
            "sha256": hashlib.sha256(real).hexdigest(), "redacted_sha256": hashlib.sha256((redacted or "").encode("utf-8")).hexdigest()}
