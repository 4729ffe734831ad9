# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redact secrets in device configs and state, so they never reach snapshots, diffs, results or evidence.

This is the one redaction of the project: every config, diff, result, ledger event and evidence file that leaves
the device path goes through ``redact_text`` (one text), ``redact_data`` (strings inside a structure) or
``redact_value`` (that plus secret-looking keys such as ``password:`` or ``token:``).

A secret is replaced by ``<redacted:XXXXXXXX>`` where XXXXXXXX is the first 8 hex digits of the HMAC-SHA256 of the
secret under the installation's redaction key (``redaction_key``): stable, so a changed secret still shows as a
change in a diff and voids an approval, yet a guessable secret (``public``, ``zebra``) cannot be looked up from its
placeholder without the key. The content hash approvals sign is computed over the real text before redaction.
The backup used for a restore keeps the real text (stored owner-only); only its evidence form (``evidence_form``)
is redacted. Diff lines (a leading ``+``/``-``) and private key blocks spanning lines are redacted too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile

PLACEHOLDER_RE = re.compile(r"<redacted:[0-9a-f]{8}>")
REDACTED = "********"  # the value of a secret-looking key (password: ..., token: ...) in structured data

# The key placeholders are keyed with: GOVERNED_CHANGE_REDACTION_KEY (the key itself, e.g. from an AWX credential, so
# every execution node shows the same placeholders), else the file GOVERNED_CHANGE_REDACTION_KEY_FILE, else
# $XDG_CONFIG_HOME/governed-change/redaction.key (created once, 0600, 32 random bytes).
KEY_ENV = "GOVERNED_CHANGE_REDACTION_KEY"
KEY_FILE_ENV = "GOVERNED_CHANGE_REDACTION_KEY_FILE"
_KEYS = {}

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
    ("snmp_user", re.compile(r"^\s*snmp-server\s+user\s+.*?\bauth\s+\S+\s+(?P<secret>\S+)(?:.*?\bpriv\s+(?:(?:3?des|aes(?:\s+\d+)?)\s+)?(?P<secret2>\S+))?")),
    ("ntp_key", re.compile(r"^\s*ntp\s+authentication-key\s+\d+\s+\S+\s+" + _TYPE + r"(?P<secret>\S+)")),
    ("isakmp_key", re.compile(r"^\s*crypto\s+isakmp\s+key\s+" + _TYPE + r"(?P<secret>\S+)")),
    # "secret" only first on a line or first in a quoted comment: in prose ("a secret step") the next word is no secret
    ("generic_secret", re.compile(r"^\s*(?:(?:.*\s)?(?:pre-shared-key|wpa-psk|psk)|(?:.*[\"'])?secret)\s+(?:(?:ascii|hex)\s+)?%s"
                                  r"(?P<secret>[^\s\"']+)" % _TYPE)),
    # free text and nftables comments: "token=...", "api_key: ...", "password=...", "token ...", "Bearer ..."
    ("token", re.compile(r"(?i)(?:^|[\s\"'{(,;])(?:(?:auth[-_]?token|access[-_]?token|api[-_]?key|access[-_]?key|token|secret"
                         r"|passw(?:or)?d|passphrase)\s*[:=]\s*|bearer\s+|(?<=[\"'])(?:auth[-_]?token|api[-_]?key|token)\s+)"
                         r"[\"']?(?P<secret>[^\s\"',;]+)")),
]
# Multi-line private keys (ssh, TLS, PGP): every line between BEGIN and END is a secret.
KEY_BEGIN_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
KEY_END_RE = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# A unified diff line: its +/-/space marker is kept and the rules see the config line behind it.
_DIFF_MARK_RE = re.compile(r"^[+\-](?![+\-]{2} )")


def _key_files():
    """[(path, strict)] to try in order: the operator's file, else the config home, then the temp folder."""
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        return [(path, False)]
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    # an unwritable home (a locked-down execution environment): a key in the temp folder, still one per machine
    spare = os.path.join(tempfile.gettempdir(), "governed-change-%s" % _uid(), "redaction.key")
    return [(os.path.join(base, "governed-change", "redaction.key"), True), (spare, True)]


def _check_owner(path):
    """A key (or its folder) that someone else owns or may write is not ours to trust."""
    info = os.stat(path)
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        raise OSError("%s is not owned and writable by this user only" % path)


def _load_or_create_key(path, strict=True):
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if strict:  # a default location; a file named by GOVERNED_CHANGE_REDACTION_KEY_FILE is the operator's choice
        _check_owner(folder)
    try:
        if strict:
            _check_owner(path)
        with open(path, "rb") as handle:
            key = handle.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        with open(path, "rb") as handle:
            return handle.read().strip() or key
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def redaction_key():
    """The key placeholders are HMACs with (see KEY_ENV); per process, a key that cannot be stored is random."""
    value = os.environ.get(KEY_ENV)
    if value:
        return value.encode("utf-8")
    candidates = _key_files()
    cache = candidates[0][0]
    if cache not in _KEYS:
        for path, strict in candidates:
            try:
                _KEYS[cache] = _load_or_create_key(path, strict)
                break
            except OSError:
                continue
        else:  # a key per process: placeholders keyed but not stable; set GOVERNED_CHANGE_REDACTION_KEY there
            _KEYS[cache] = secrets.token_hex(32).encode("ascii")
    return _KEYS[cache]


def _uid():
    return os.getuid() if hasattr(os, "getuid") else "user"


def placeholder(secret, salt=None):
    """The stable placeholder of one secret: ``<redacted:`` + 8 hex digits of its HMAC-SHA256 + ``>``.

    The key is ``salt`` when given, else the installation's ``redaction_key()``; the secret itself never shows.
    """
    key = salt if salt else redaction_key()
    digest = hmac.new(key.encode("utf-8") if isinstance(key, str) else key, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return "<redacted:%s>" % digest[:8]


def _redact_line(line, salt):
    mark = _DIFF_MARK_RE.match(line)
    prefix, body = (line[:1], line[1:]) if mark else ("", line)
    kinds = []
    for kind, pattern in RULES:
        match = pattern.search(body)
        if not match:
            continue
        spans = [(name, match.span(name)) for name in ("secret", "secret2")
                 if name in pattern.groupindex and match.group(name) is not None]
        if PLACEHOLDER_RE.fullmatch(match.group("secret")):
            continue  # already redacted
        for _name, (start, end) in sorted(spans, key=lambda item: item[1][0], reverse=True):
            value = body[start:end]
            if not PLACEHOLDER_RE.fullmatch(value):
                body = body[:start] + placeholder(value, salt) + body[end:]
        kinds.append(kind)
        break  # one rule per line: a later, looser rule would take an encryption-type digit for the secret
    return prefix + body, kinds


def _redact_key_line(line, salt):
    """A line inside a private key block: its text (after indentation and a diff marker) becomes one placeholder."""
    mark = _DIFF_MARK_RE.match(line)
    prefix, body = (line[:1], line[1:]) if mark else ("", line)
    stripped = body.strip()
    if not stripped or PLACEHOLDER_RE.fullmatch(stripped):
        return line
    indent = body[:len(body) - len(body.lstrip())]
    return prefix + indent + placeholder(stripped, salt)


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
    in_key = False
    for line_no, line in enumerate(text.splitlines(True), start=1):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        begin = KEY_BEGIN_RE.search(body)
        if begin and KEY_END_RE.search(body, begin.end()):  # a whole key on one line (JSON-escaped, pasted)
            end = KEY_END_RE.search(body, begin.end())
            inner = body[begin.end():end.start()]
            if inner.strip() and not PLACEHOLDER_RE.fullmatch(inner.strip()):
                body = body[:begin.end()] + placeholder(inner.strip(), salt) + body[end.start():]
                findings.append({"line_no": line_no, "kind": "private_key"})
            out.append(body + ending)
            continue
        if begin:
            in_key = True
            findings.append({"line_no": line_no, "kind": "private_key"})
            out.append(body + ending)
            continue
        if in_key:
            if KEY_END_RE.search(body):
                in_key = False
                out.append(body + ending)
            else:
                out.append(_redact_key_line(body, salt) + ending)
            continue
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


_HINTS = ("password", "passwd", "passphrase", "secret", "key", "community", "psk", "token")


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


# Keys whose value is a secret whatever it looks like (structured data: task args, extra vars, event data).
SECRET_KEY_RE = re.compile(
    r"(password|passwd|passphrase|secret|token|credential|authorization|cookie|private|api_?key|key_?material"
    r"|^key$|_key$|^ssh_?key|keyfile|key_file|snmp_?community)",
    re.IGNORECASE,
)
# Values that are a secret on their own (a pasted private key, an HTTP credential).
SECRET_VALUE_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|^(Bearer|Basic) \S+", re.IGNORECASE)


def redact_keys(data):
    """Copy of ``data`` with the values of secret-looking keys (password, secret, token, key material...) replaced."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if isinstance(key, str) and SECRET_KEY_RE.search(key) and value not in (None, "", [], {}):
                out[key] = REDACTED
            else:
                out[key] = redact_keys(value)
        return out
    if isinstance(data, (list, tuple)):
        return [redact_keys(item) for item in data]
    if isinstance(data, str) and SECRET_VALUE_RE.search(data):
        return REDACTED
    return data


def redact_value(data, salt=None):
    """The one redaction of anything that leaves the device path: secret-looking keys, then secrets in every text."""
    return redact_data(redact_keys(data), salt)[0]


# The parts of an assessment that carry device config (diffs, lines, candidate text, touched contexts).
ASSESSMENT_CONFIG_KEYS = ("devices", "facts", "blast_radius", "verification")  # verification.traffic quotes rule lines


def redact_assessment(assessment, salt=None):
    """An assessment fit to leave the controller: every config text, diff and line list redacted.

    Call it after the content hash was computed over the real text, so a changed secret still changes the hash.
    """
    out = dict(assessment)
    for key in ASSESSMENT_CONFIG_KEYS:
        if key in out:
            out[key] = redact_data(out[key], salt, path="$.%s" % key)[0]
    return out
