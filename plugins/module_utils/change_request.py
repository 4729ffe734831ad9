# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change request documents: strict validation, normalisation and the canonical form used for hashing."""

from __future__ import annotations

import copy
import datetime
import re
import unicodedata

from ansible_collections.governed.change.plugins.module_utils.blast_radius import to_ipset
from ansible_collections.governed.change.plugins.module_utils.checks import OPERATORS as CHECK_OPERATORS, validate_check
from ansible_collections.governed.change.plugins.module_utils.config_diff import TOKEN_SPLIT_RE, V4_RE, V6_RE
from ansible_collections.governed.change.plugins.module_utils.docfile import load_document, sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.impact import normalize_intended
from ansible_collections.governed.change.plugins.module_utils.paths import SAFE_ID_HINT, SAFE_ID_RE

CHANGE_TYPES = ("standard", "normal", "emergency")
CATEGORIES = ("acl_update", "vlan_add", "bgp_policy", "routing_core", "firmware", "interface", "remediation", "other")
ROLLBACK_STRATEGIES = ("backup", "custom")
# Operators of `expected` checks; the checks engine evaluates them, this module only refuses unknown ones.
EXPECTED_OPS = tuple(sorted(CHECK_OPERATORS))  # one operator list for the project: checks.py's

ID_RE = SAFE_ID_RE  # the id names evidence, runbook and escalation files: one path-safe component
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CHECK_NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
# Inventory host or group names, or fnmatch patterns over host names (what facts.resolve_targets understands).
TARGET_RE = re.compile(r"^[A-Za-z0-9._*?!\[\]-]{1,64}$")

TOP_KEYS = ("id", "title", "description", "author", "type", "category", "targets", "config", "expected", "rollback",
            "window", "links", "intended")
TOP_REQUIRED = ("id", "title", "description", "author", "type", "category", "targets")
CONFIG_KEYS = ("lines", "template", "vars")
EXPECTED_KEYS = ("name", "description", "query", "op", "value", "snapshot", "tolerance_pct", "where", "hosts")
LINK_KEYS = ("ticket", "merge_request", "documentation")

# What a reader and the platforms can take (docs/bad-input.md). A title is one line of a report or a ticket; a config
# line must fit FRR's and nft's command buffers.
TITLE_MAX = 200
DESCRIPTION_MAX = 20000
CONFIG_LINE_MAX = 4096
LINK_MAX = 2048
# Invisible characters that make text read differently from what is stored (bidirectional overrides, zero-width).
INVISIBLE = frozenset(chr(code) for code in [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF])

try:
    import netaddr
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    netaddr = None


def describe(value):
    """Human name of a YAML value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (%s)" % ("true" if value else "false")
    if isinstance(value, int):
        return "an integer (%d)" % value
    if isinstance(value, float):
        return "a number (%s)" % value
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (datetime.datetime, datetime.date)):
        return "a date"
    return "a %s" % type(value).__name__


def shown(value, limit=80):
    """A value as it may appear in a message: control and invisible characters escaped, long values shortened."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return "".join(char if char.isprintable() and char not in INVISIBLE else "\\u%04x" % ord(char) for char in text)


def join_path(parent, key):
    """Dotted path of a child: ``a.b`` for keys, ``a[2]`` for list indexes."""
    if isinstance(key, int):
        return "%s[%d]" % (parent, key)
    return "%s.%s" % (parent, key) if parent else str(key)


class Checker:
    """Structural checks that raise ``error_cls`` with ``where = "<source>: <dotted.path>"``."""

    def __init__(self, source, error_cls=ValidationError):
        self.source = source
        self.error_cls = error_cls

    def fail(self, path, problem, fix):
        where = "%s: %s" % (self.source, path) if path else self.source
        raise self.error_cls(problem, where=where, fix=fix)

    def mapping(self, value, path, allowed, required=(), what="mapping"):
        """A mapping with string keys, no unknown keys and all required keys present."""
        if not isinstance(value, dict):
            self.fail(path, "must be a %s, got %s." % (what, describe(value)),
                      "write it as a mapping with the keys: %s." % ", ".join(allowed))
        for key in value:
            if not isinstance(key, str):
                self.fail(path, "has a non-string key %s." % shown(key), "quote the key or use one of: %s." % ", ".join(allowed))
            if key not in allowed:
                self.fail(join_path(path, shown(key)), "is not a known key.",
                          "remove it or use one of the allowed keys: %s." % ", ".join(allowed))
        for key in required:
            if key not in value:
                self.fail(join_path(path, key), "is required but missing.", "add the '%s' key." % key)
        return value

    def string(self, value, path, pattern=None, choices=None, allow_empty=False, hint=None):
        """A (by default non-empty) string, optionally matching a pattern or one of ``choices``."""
        if not isinstance(value, str):
            fix = hint or ("use one of: %s." % ", ".join(choices) if choices else "write it as a quoted string.")
            self.fail(path, "must be a string, got %s." % describe(value), fix)
        if not allow_empty and not value.strip():
            self.fail(path, "must not be empty.", hint or "give it a value.")
        if choices is not None and value not in choices:
            self.fail(path, "'%s' is not allowed." % shown(value), "use one of: %s." % ", ".join(choices))
        if pattern is not None and not pattern.match(value):
            self.fail(path, "'%s' has invalid characters or length." % shown(value),
                      hint or "use 1-64 characters from %s." % _pattern_chars(pattern))
        return value

    def integer(self, value, path, minimum=None, maximum=None):
        """An integer (booleans refused: YAML ``yes`` is not a number)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be an integer, got %s." % describe(value), "write a whole number without quotes.")
        if minimum is not None and value < minimum:
            self.fail(path, "must be >= %d, got %d." % (minimum, value), "use a value of at least %d." % minimum)
        if maximum is not None and value > maximum:
            self.fail(path, "must be <= %d, got %d." % (maximum, value), "use a value of at most %d." % maximum)
        return value

    def boolean(self, value, path):
        if not isinstance(value, bool):
            self.fail(path, "must be true or false, got %s." % describe(value), "write true or false without quotes.")
        return value

    def list_of(self, value, path, nonempty=False, hint=None):
        if not isinstance(value, list):
            self.fail(path, "must be a list, got %s." % describe(value), hint or "write it as a YAML list: [a, b].")
        if nonempty and not value:
            self.fail(path, "must not be an empty list.", hint or "list at least one item.")
        return value

    def string_list(self, value, path, nonempty=False, unique=True, pattern=None, choices=None, hint=None):
        """A list of non-empty strings; duplicates refused because they usually hide a typo."""
        self.list_of(value, path, nonempty=nonempty, hint=hint)
        seen = set()
        for index, item in enumerate(value):
            self.string(item, join_path(path, index), pattern=pattern, choices=choices)
            if unique and item in seen:
                self.fail(join_path(path, index), "'%s' is listed twice." % shown(item), "remove the duplicate.")
            seen.add(item)
        return list(value)

    def timestamp(self, value, path):
        """An ISO 8601 date-time with a UTC offset; returns an aware datetime."""
        if isinstance(value, datetime.datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.datetime.fromisoformat(value.strip())
            except ValueError:
                self.fail(path, "'%s' is not an ISO 8601 date-time." % shown(value),
                          'write it like "2026-11-28T01:00:00+00:00".')
        else:
            self.fail(path, "must be an ISO 8601 date-time string, got %s." % describe(value),
                      'write it like "2026-11-28T01:00:00+00:00".')
        if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
            self.fail(path, "has no UTC offset, so the instant is ambiguous.",
                      'add the offset, e.g. "2026-11-28T01:00:00+00:00".')
        return parsed


def _pattern_chars(pattern):
    if pattern is CHECK_NAME_RE:
        return "a-z 0-9 _"
    if pattern is TARGET_RE:
        return "A-Z a-z 0-9 . _ - and the patterns * ? [ ] ! (an inventory host, group or pattern)"
    return "A-Z a-z 0-9 . _ -"


def load_change_request(path):
    """Read and validate a change request file; returns the normalised dict."""
    return validate_change_request(load_document(path, what="change request"), source=str(path))


def validate_change_request(doc, source="change request"):
    """Validate a change request document (raw or already normalised) and return a normalised copy."""
    check = Checker(source)
    if doc is None:
        check.fail("", "is empty.", "write the change request as a YAML mapping (id, title, description, ...).")
    check.mapping(doc, "", TOP_KEYS, TOP_REQUIRED, what="mapping (the change request)")
    out = {
        "id": check.string(doc["id"], "id", pattern=ID_RE,
                           hint="%s, quoted if numeric." % SAFE_ID_HINT),
        "title": check_text(check, doc["title"], "title", TITLE_MAX, multiline=False).strip(),
        "description": check_text(check, doc["description"], "description", DESCRIPTION_MAX, multiline=True).strip(),
        "author": check.string(doc["author"], "author", pattern=NAME_RE,
                               hint="use the author's identity name from the policy (e.g. carol)."),
        "type": check.string(doc["type"], "type", choices=CHANGE_TYPES),
        "category": check.string(doc["category"], "category", choices=CATEGORIES),
        "targets": check.string_list(doc["targets"], "targets", nonempty=True, pattern=TARGET_RE,
                                     hint="list inventory hosts, groups or patterns, e.g. targets: [fw1]."),
        "config": _config(check, doc.get("config", {})),
        "expected": _expected(check, doc.get("expected", [])),
        "rollback": _rollback(check, doc.get("rollback", {"strategy": "backup"})),
        "window": _window(check, doc.get("window")),
        "links": _links(check, doc.get("links", {})),
    }
    if doc.get("intended") is not None:  # only when written: the content hash of a change without it stays as it was
        out["intended"] = _intended(check, doc["intended"])
    return out


def _intended(check, intended):
    """Losses the change means to cause (the verification invariant does not count them): prefixes and BGP sessions."""
    check.mapping(intended, "intended", ("prefixes_lost", "sessions_down", "services_blocked"))
    # services_blocked: names of the policy's service catalogue (checked against it at assess: traffic.traffic_plan)
    check.string_list(intended.get("services_blocked", []), join_path("intended", "services_blocked"), pattern=NAME_RE,
                      hint="name the policy's services the change means to block, e.g. services_blocked: [srv1_web]")
    for key, hint in (("prefixes_lost", 'write prefixes in CIDR form, e.g. prefixes_lost: ["10.255.0.1/32"]'),
                      ("sessions_down", 'write the peer addresses, e.g. sessions_down: ["10.0.12.2"]')):
        values = check.list_of(intended.get(key, []), join_path("intended", key), hint=hint)
        for index, value in enumerate(values):
            path = join_path(join_path("intended", key), index)
            check.string(value, path, hint=hint)
            try:
                to_ipset([value], path)
            except ValidationError:
                check.fail(path, "'%s' is not an IP %s." % (value, "prefix" if key == "prefixes_lost" else "address"), hint + ".")
            if key == "sessions_down" and "/" in value:
                check.fail(path, "'%s' is a prefix, not a peer address." % value, hint + ".")
    return normalize_intended(intended)


def canonical_change_request(doc, source="change request"):
    """The normalised change request used for hashing (key order is irrelevant: hash with canonical_json)."""
    return validate_change_request(copy.deepcopy(doc), source=source)


def change_request_sha256(doc, source="change request"):
    """sha256 of the canonical JSON of the normalised change request."""
    return sha256_of(canonical_change_request(doc, source=source))


def _config(check, config):
    if config is None:
        config = {}
    if not isinstance(config, dict):
        check.fail("config", "must be a mapping of host or group name to {lines|template}, got %s." % describe(config),
                   "write it like config: {fw1: {lines: [...]}}.")
    out = {}
    for key, entry in config.items():
        path = join_path("config", key)
        check.string(key, path, pattern=NAME_RE, hint="use an inventory host or group name as the key.")
        check.mapping(entry, path, CONFIG_KEYS)
        if ("lines" in entry) == ("template" in entry):
            check.fail(path, "must have exactly one of 'lines' or 'template'.",
                       "give either lines: [...] or template: path/to/file.j2.")
        if "lines" in entry:
            if "vars" in entry:
                check.fail(join_path(path, "vars"), "only applies to a template.", "remove vars or use template.")
            lines = check.list_of(entry["lines"], join_path(path, "lines"), nonempty=True,
                                  hint="list the configuration lines, e.g. lines: [\"ip prefix-list PL seq 5 permit 10.0.0.0/8\"].")
            clean = []
            for index, line in enumerate(lines):
                line_path = join_path(join_path(path, "lines"), index)
                check.string(line, line_path, hint="quote the configuration line as a string.")
                if "\n" in line or "\r" in line:
                    check.fail(line_path, "contains a line break.", "put each configuration line in its own list item.")
                check_config_line(line, line_path, check)
                clean.append(line.rstrip())
            out[key] = {"lines": clean}
        else:
            template = check.string(entry["template"], join_path(path, "template"),
                                    hint="give the template path, e.g. templates/prefix_list.j2.")
            variables = entry.get("vars", {})
            if variables is None:
                variables = {}
            if not isinstance(variables, dict):
                check.fail(join_path(path, "vars"), "must be a mapping, got %s." % describe(variables),
                           "write template variables as a mapping.")
            out[key] = {"template": template, "vars": copy.deepcopy(variables)}
    return out


def _expected(check, expected):
    """Expected checks are check documents (checks.py validates them: one operator list for the project)."""
    if expected is None:
        expected = []
    check.list_of(expected, "expected", hint="list the checks, e.g. - {name: x, query: ..., op: equals, value: true}.")
    out, names = [], set()
    for index, item in enumerate(expected):
        path = join_path("expected", index)
        check.mapping(item, path, EXPECTED_KEYS, ("name", "query", "op"))
        name = check.string(item["name"], join_path(path, "name"), pattern=CHECK_NAME_RE,
                            hint="use 1-64 characters from a-z 0-9 _.")
        if name in names:
            check.fail(join_path(path, "name"), "'%s' is used by another expected check." % name, "give each check a unique name.")
        names.add(name)
        check.string(item["query"], join_path(path, "query"), hint="give the query as a string.")
        check.string(item["op"], join_path(path, "op"), choices=EXPECTED_OPS)
        hosts = check.string_list(item.get("hosts", []), join_path(path, "hosts"), pattern=NAME_RE)
        document = {key: copy.deepcopy(value) for key, value in item.items() if key != "hosts"}
        try:
            entry = validate_check(document, where=path)
        except ValidationError as exc:
            check.fail(exc.where or path, exc.problem, exc.fix)
        # Keep only the document: compiled queries (private "_" keys) must not reach the content hash.
        entry = {key: value for key, value in entry.items() if not key.startswith("_")}
        entry["hosts"] = hosts
        out.append(entry)
    return out


def _rollback(check, rollback):
    if rollback is None:
        rollback = {"strategy": "backup"}
    check.mapping(rollback, "rollback", ("strategy", "steps"), ("strategy",))
    strategy = check.string(rollback["strategy"], "rollback.strategy", choices=ROLLBACK_STRATEGIES)
    if strategy == "custom":
        if "steps" not in rollback:
            check.fail("rollback.steps", "is required when strategy is custom.", "list the rollback configuration lines in steps.")
        steps = check.string_list(rollback["steps"], "rollback.steps", nonempty=True, unique=False,
                                  hint="list the rollback configuration lines.")
        for index, step in enumerate(steps):
            check_config_line(step, join_path("rollback.steps", index), check)
        return {"strategy": strategy, "steps": [step.rstrip() for step in steps]}
    if rollback.get("steps"):
        check.fail("rollback.steps", "only applies to strategy custom.", "remove steps, or set strategy: custom.")
    return {"strategy": strategy, "steps": []}


def _window(check, window):
    if window is None:
        return None
    check.mapping(window, "window", ("start", "end"), ("start", "end"))
    start = check.timestamp(window["start"], "window.start")
    end = check.timestamp(window["end"], "window.end")
    if end <= start:
        check.fail("window.end", "is not after window.start.", "make the requested window end after it starts.")
    return {"start": start.isoformat(), "end": end.isoformat()}


def _links(check, links):
    if links is None:
        return {}
    check.mapping(links, "links", LINK_KEYS)
    return {key: check_text(check, value, join_path("links", key), LINK_MAX, multiline=False)
            for key, value in links.items()}


# Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) and the INVISIBLE ones, as one class:
# a compiled search is one C loop per line instead of a Python loop per character (100k config lines).
_SUSPECT_RE = re.compile("[\x00-\x1f\x7f-\x9f%s]" % "".join(sorted(INVISIBLE)))


def _bad_character(text, allowed):
    """The first control or invisible character of ``text`` not in ``allowed``, or None."""
    for match in _SUSPECT_RE.finditer(text):
        char = match.group(0)
        if char not in allowed and (char in INVISIBLE or unicodedata.category(char) == "Cc"):
            return char
    return None


def _char_label(char):
    return "U+%04X (%s)" % (ord(char), unicodedata.name(char, "control character"))


def check_text(check, value, path, maximum, multiline=False):
    """Free text a person reads: a non-empty string, at most ``maximum`` characters, no control or invisible characters."""
    check.string(value, path)
    if len(value) > maximum:
        where_else = "" if multiline else " (put details in the description or a link)"
        check.fail(path, "is %d characters long; the limit is %d." % (len(value), maximum),
                   "shorten it to %d characters or fewer%s." % (maximum, where_else))
    bad = _bad_character(value, "\n\t" if multiline else "")
    if bad is not None:
        check.fail(path, "contains the character %s at position %d." % (_char_label(bad), value.index(bad) + 1),
                   "remove it; %s" % ("write plain text (line breaks and tabs are allowed)." if multiline
                                      else "write it on one line of plain text."))
    return value


def check_config_line(line, path, check=None):
    """A config line the platforms can take: bounded length, no control/invisible characters, valid addresses.

    Tokens shaped like IPv4 addresses (a.b.c.d[/n]) or IPv6 prefixes must be valid: ``ip route 999.1.1.0/24`` is
    refused here instead of by the device halfway through a deploy.
    """
    check = check or Checker("config")
    if len(line) > CONFIG_LINE_MAX:
        check.fail(path, "is %d characters long; a configuration line may have at most %d." % (len(line), CONFIG_LINE_MAX),
                   "split it into several configuration lines.")
    bad = _bad_character(line, "\t")
    if bad is not None:
        check.fail(path, "contains the character %s at position %d." % (_char_label(bad), line.index(bad) + 1),
                   "remove it; configuration lines are plain text (tabs allowed for indentation).")
    if netaddr is None:
        return line
    for token in TOKEN_SPLIT_RE.split(line):
        for part in (token.split("-") if token.count("-") == 1 else (token,)):
            if not part:
                continue
            v6 = ("/" in part or "::" in part) and V6_RE.match(part)
            if not (V4_RE.match(part) or v6):
                continue
            try:
                netaddr.IPNetwork(part)
            except (netaddr.AddrFormatError, ValueError, TypeError):
                check.fail(path, "'%s' is not a valid IPv%d %s." % (shown(part), 6 if v6 else 4, "prefix" if "/" in part else "address"),
                           "use a real address: IPv4 octets 0-255 and prefix length 0-32, IPv6 prefix length 0-128.")
    return line
