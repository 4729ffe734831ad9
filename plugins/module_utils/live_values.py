# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live values of a running config: what the device changes by itself while traffic flows, never configuration.

One normalization, shared by the assessment's diff (and so the content hash approvals are bound to), the deploy's
re-assessment and the restore check: a packet forwarded between assess and deploy must not void an approval.
nftables (`nft list ruleset`): counter values (inline and named counters), quota use, set element expiry, `last used`
times, and the members of dynamic sets (added by the packet path). FRR's running-config is configuration only
(uptimes and counters are in `show` commands), so nothing is taken out for frr. The normalized text is still a loadable
ruleset (checked with nft 1.0.6): counters and quotas start again from zero, dynamic sets refill.
"""

from __future__ import annotations

import re

# Each applies to the text outside double-quoted strings only: a comment that reads "expires 5m" is configuration.
_NFT_SUBSTITUTIONS = (
    (re.compile(r"\bcounter packets \d+ bytes \d+"), "counter"),
    # quota: "[over|until] 100 mbytes used 672 bytes" (inline and in a named quota's body)
    (re.compile(r"\b(\d+ [kmgt]?bytes) used \d+ [kmgt]?bytes\b"), r"\1"),
    (re.compile(r" expires [0-9dhms]+\b"), ""),
    (re.compile(r"\blast used (?:never|[0-9dhms]+)\b"), "last"),
)
# A named counter's body line: `packets 31 bytes 1839` (a named counter with an empty body loads at zero).
_NFT_COUNTER_BODY = re.compile(r"^\s*packets \d+ bytes \d+\s*$")
_NFT_SET_START = re.compile(r"^\s*(?:set|map) \S+ \{\s*$")
_NFT_DYNAMIC_FLAGS = re.compile(r"^\s*flags (?:\S+,)*dynamic(?:,\S+)*\s*$")
_NFT_ELEMENTS = re.compile(r"^\s*elements = \{")
_NFT_TABLE = re.compile(r"^(?:table\s|flush ruleset\b)")
_QUOTED = re.compile(r'("(?:[^"\\]|\\.)*")')


def _outside_quotes(line):
    parts = _QUOTED.split(line)
    for index in range(0, len(parts), 2):  # even parts are outside quotes
        for pattern, replacement in _NFT_SUBSTITUTIONS:
            parts[index] = pattern.sub(replacement, parts[index])
    return "".join(parts)


def _brace_balance(line):
    return sum(part.count("{") - part.count("}") for part in _QUOTED.split(line)[::2])


def strip_nft_live_values(text):
    """An `nft list ruleset` text without its live values (see the module docstring); line layout kept otherwise."""
    out, in_set, dynamic, skip_depth = [], False, False, 0
    for line in str(text or "").splitlines():
        if skip_depth > 0:  # inside a dynamic set's elements = { ... } spanning lines
            skip_depth += _brace_balance(line)
            continue
        if _NFT_COUNTER_BODY.match(line):
            continue
        if _NFT_SET_START.match(line):
            in_set, dynamic = True, False
        elif in_set and line.strip() == "}":
            in_set = False
        elif in_set and _NFT_DYNAMIC_FLAGS.match(line):
            dynamic = True
        elif in_set and dynamic and _NFT_ELEMENTS.match(line):
            skip_depth = _brace_balance(line)
            continue
        out.append(_outside_quotes(line))
    return "\n".join(out) + ("\n" if str(text or "").endswith("\n") else "")


def looks_like_ruleset(text):
    """True when ``text`` is an nftables ruleset (a line opening with `table ...` or `flush ruleset`)."""
    return any(_NFT_TABLE.match(line) for line in str(text or "").splitlines())


def strip_live_values(text, platform=None):
    """``text`` without live values, for ``platform`` (``linux``: nftables; ``frr``: nothing to strip).

    Without a known platform (a running config given as a file), an nftables ruleset is recognised by its `table` lines.
    None stays None (an unknown running config).
    """
    if text is None:
        return None
    if platform == "linux" or (platform != "frr" and looks_like_ruleset(text)):
        return strip_nft_live_values(text)
    return text
