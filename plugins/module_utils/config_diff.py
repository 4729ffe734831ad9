# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Line-oriented config diffs (FRR running-config, nftables): merge, unified diff, sections and prefixes touched."""

from __future__ import annotations

import difflib
import re

from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, ValidationError

try:
    import netaddr
except ImportError:  # pragma: no cover - guarded for ansible-test's import sanity test
    netaddr = None

# FRR `show running-config` decoration that is not configuration.
HEADER_RE = re.compile(r"^(Building configuration\.\.\.|Current configuration\s*:.*|end)\s*$")
# Lines that close a block; a change to one is attributed to the block it closes.
CLOSERS = frozenset(("exit", "exit-address-family", "exit-vrf", "exit-vni", "}", "end", "quit"))
NFT_FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
NFT_VERBS = ("add", "insert", "create", "delete", "destroy", "replace", "flush", "list", "reset")
NFT_OBJECTS = ("table", "chain", "rule", "set", "map", "element", "flowtable", "counter", "quota", "limit", "ct")
NFT_RULE_RE = re.compile(r"^(add|insert|create)\s+rule\s+(?:(%s)\s+)?(\S+)\s+(\S+)\s+(.+)$" % "|".join(NFT_FAMILIES))
# Multi-word section names, longest first; anything else is named by its first word.
SECTION_PREFIXES = (
    ("bgp", "as-path", "access-list"), ("bgp", "community-list"), ("bgp", "large-community-list"),
    ("bgp", "extcommunity-list"), ("ip", "prefix-list"), ("ipv6", "prefix-list"), ("ip", "access-list"),
    ("ipv6", "access-list"), ("ip", "route"), ("ipv6", "route"), ("ip", "community-list"), ("ip", "forwarding"),
    ("ipv6", "forwarding"), ("ip", "nht"), ("ipv6", "nht"), ("ip", "protocol"), ("ipv6", "protocol"),
    ("router", "bgp"), ("router", "ospf"), ("router", "ospf6"), ("router", "isis"), ("router", "rip"),
    ("router", "ripng"), ("router", "eigrp"), ("router", "babel"), ("router", "openfabric"), ("router", "pim"),
    ("key", "chain"), ("line", "vty"), ("frr", "version"), ("frr", "defaults"), ("mpls", "ldp"), ("mpls", "label"),
)
V4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
V6_RE = re.compile(r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/\d{1,3})?$")
TOKEN_SPLIT_RE = re.compile(r"[\s,;{}()\[\]\"']+")
# Size limit per device (docs/policy.md, "Limits"): far above a real device's configuration or change, low enough that
# an assessment stays within seconds (benchmarks/bench_assess_scale.py: 100,000 lines in about 3 s).
MAX_CONFIG_LINES = 500000


def _need_netaddr():
    if netaddr is None:
        raise MissingLibrary("netaddr", "to find the prefixes a change touches")


def indent_of(line):
    """Indentation width (tabs count as 8) of a config line."""
    expanded = line.expandtabs(8)
    return len(expanded) - len(expanded.lstrip())


def normalize_config(text):
    """Config text to a list of lines: headers, comments ('!', '#'), blank lines and trailing spaces removed."""
    if text is None:
        return []
    if not isinstance(text, str):
        raise ValidationError("the configuration must be text, got %s." % type(text).__name__,
                              fix="pass the running or candidate configuration as a string.")
    lines = []
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or stripped.startswith("#"):
            continue
        if line == stripped and HEADER_RE.match(stripped):
            continue
        lines.append(line)
    return lines


def _key(line):
    return " ".join(line.split())


class _Node:
    """One config line and its block.

    Lookups by key go through per-block indexes built on first use (exact key, and every leading run of words), so a
    merge costs one dict lookup per line instead of a scan of the block. Removed lines are only marked (``removed``)
    and skipped everywhere; that keeps ``no ...`` lines constant-time too.
    """

    __slots__ = ("text", "key", "children", "removed", "exact", "prefixed")

    def __init__(self, text):
        self.text = text
        self.key = _key(text)
        self.children = []
        self.removed = False
        self.exact = None  # key -> [child, ...] in block order, built by _exact_index()
        self.prefixed = None  # leading words -> [child, ...] whose key starts with them, built by _prefix_index()


def _word_prefixes(key):
    """'a b c' -> ['a', 'a b'] (the proper leading runs of words that ``no a`` / ``no a b`` remove)."""
    out, end = [], key.find(" ")
    while end != -1:
        out.append(key[:end])
        end = key.find(" ", end + 1)
    return out


def _exact_index(node):
    if node.exact is None:
        node.exact = {}
        for child in node.children:
            if not child.removed:
                node.exact.setdefault(child.key, []).append(child)
    return node.exact


def _prefix_index(node):
    if node.prefixed is None:
        node.prefixed = {}
        for child in node.children:
            if not child.removed:
                for prefix in _word_prefixes(child.key):
                    node.prefixed.setdefault(prefix, []).append(child)
    return node.prefixed


def _live(nodes):
    """Drop removed nodes from an index list in place (each is dropped once) and return it."""
    if any(node.removed for node in nodes):
        nodes[:] = [node for node in nodes if not node.removed]
    return nodes


def _index_added(parent, node):
    if parent.exact is not None:
        parent.exact.setdefault(node.key, []).append(node)
    if parent.prefixed is not None:
        for prefix in _word_prefixes(node.key):
            parent.prefixed.setdefault(prefix, []).append(node)


def _parse(lines):
    root = _Node("")
    stack = [(-1, root)]
    for line in lines:
        depth = indent_of(line)
        while stack[-1][0] >= depth:
            stack.pop()
        node = _Node(line)
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def _serialize(node, out):
    for child in node.children:
        if not child.removed:
            out.append(child.text)
            _serialize(child, out)
    return out


def _find(node, key):
    """The first (live) child whose key is ``key``, or None."""
    matches = _live(_exact_index(node).get(key) or [])
    return matches[0] if matches else None


def _append(parent, node, front=False):
    """Add a child before the block's closing lines (``exit``, ``}``), or after its header lines when ``front``.

    At the top level (empty parent text) a closer ends the previous block, so new blocks go after it.
    """
    children = parent.children
    position = len(children)
    while parent.text and position > 0 and (children[position - 1].removed or children[position - 1].key in CLOSERS):
        position -= 1
    if front:
        position = 0
        while position < len(children) and (children[position].removed or children[position].key.split(" ")[0] in ("type", "policy")):
            position += 1
    children.insert(position, node)
    _index_added(parent, node)


def render_candidate(running, lines, source="lines"):
    """Merge config ``lines`` into ``running`` (None = unknown) and report which lines are new.

    Indentation in ``lines`` gives the block structure, as in FRR's running-config. ``no X`` removes a matching
    line; nftables ``add|insert rule <family> <table> <chain> <rule>`` is placed in that chain when it exists.
    Returns {"candidate", "new_lines", "existing_lines", "removed_lines", "noop_lines"}.
    """
    root = _parse(normalize_config(running))
    result = {"new_lines": [], "existing_lines": [], "removed_lines": [], "noop_lines": []}
    stack = [(-1, root)]
    for index, line in enumerate(lines or []):
        where = "%s[%d]" % (source, index)
        if not isinstance(line, str):
            raise ValidationError("a configuration line must be a string, got %s." % type(line).__name__, where=where,
                                  fix="quote each configuration line.")
        line = line.rstrip()
        if not line.strip() or line.strip().startswith("!"):
            continue
        depth = indent_of(line)
        while stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1]
        if depth and parent is root:
            # Without its parent line the device would apply it in the wrong context (or reject it mid-change).
            raise ValidationError("'%s' is indented but no block line comes before it." % line.strip(), where=where,
                                  fix="start the block with its parent line (e.g. router bgp 65002), or remove the indentation.")
        key = _key(line)
        if key.startswith("no "):
            if _remove(parent, key[3:]):
                result["removed_lines"].append(line)
            else:
                result["noop_lines"].append(line)
            continue
        if parent is root and _merge_nft_rule(root, line, result):
            continue
        node = _find(parent, key)
        if node is not None:
            result["existing_lines"].append(line)
        else:
            node = _Node(line)
            _append(parent, node)
            result["new_lines"].append(line)
        stack.append((depth, node))
    candidate = _serialize(root, [])
    result["candidate"] = "\n".join(candidate) + ("\n" if candidate else "")
    return result


def _remove(parent, target):
    """Remove the exact line, else lines starting with it (``no neighbor X`` removes every ``neighbor X ...``)."""
    matches = _live(_exact_index(parent).pop(target, []))
    if not matches:
        matches = _live(_prefix_index(parent).pop(target, []))
    for child in matches:
        child.removed = True
    return bool(matches)


def _merge_nft_rule(root, line, result):
    match = NFT_RULE_RE.match(_key(line))
    if not match:
        return False
    verb, family, table, chain, rule = match.groups()
    table_node = _find_prefixed(root, "table %s %s" % (family or "ip", table))
    chain_node = _find_prefixed(table_node, "chain %s" % chain) if table_node else None
    if chain_node is None:
        return False
    if _find(chain_node, _key(rule)) is not None:
        result["existing_lines"].append(line)
        return True
    sibling = next((child for child in chain_node.children if not child.removed and child.key not in CLOSERS), None)
    prefix = (sibling.text[:len(sibling.text) - len(sibling.text.lstrip())] if sibling is not None
              else chain_node.text[:len(chain_node.text) - len(chain_node.text.lstrip())] + "\t")
    _append(chain_node, _Node(prefix + rule.strip()), front=(verb == "insert"))
    result["new_lines"].append(line)
    return True


def _find_prefixed(node, prefix):
    """The first live child whose key is ``prefix`` or starts with ``prefix`` and a space (exact match first)."""
    exact = _find(node, prefix)
    if exact is not None:
        return exact
    matches = _live(_prefix_index(node).get(prefix) or [])
    return matches[0] if matches else None


def _nft_verb_section(words):
    """The section of an nft command line (`add table inet filter`, `flush ruleset`, ...), or None for other lines."""
    if not (words[0] in NFT_VERBS and len(words) > 1 and words[1] in NFT_OBJECTS + ("ruleset",)):
        return None
    if words[1] == "ruleset":
        return "ruleset"
    rest = words[2:]
    family = rest[0] if rest and rest[0] in NFT_FAMILIES else "ip"
    if rest and rest[0] in NFT_FAMILIES:
        rest = rest[1:]
    return "table %s %s" % (family, rest[0]) if rest else "table %s" % family


def _nft_table_section(words):
    """The section of a `table [FAMILY] NAME` block line, or None for other lines."""
    if words[0] != "table":
        return None
    if len(words) >= 3 and words[1] in NFT_FAMILIES:
        return "table %s %s" % (words[1], words[2])
    if len(words) == 2:
        return "table ip %s" % words[1]
    return None


def _prefix_section(words):
    if words[0] == "flush" and words[1:2] == ["ruleset"]:
        return "ruleset"
    for prefix in SECTION_PREFIXES:
        if tuple(words[:len(prefix)]) == prefix:
            return " ".join(prefix)
    return words[0]


def section_name(line):
    """Normalised section of a top-level config line: 'router bgp', 'ip prefix-list', 'table inet filter', ..."""
    words = _key(line).rstrip("{").split()
    if words and words[0] == "no":
        words = words[1:]
    if not words:
        return ""
    for rule in (_nft_verb_section, _nft_table_section):
        name = rule(words)
        if name is not None:
            return name
    return _prefix_section(words)


def _contexts(lines):
    """For each line, the index of its top-level context line (closers belong to the block they close)."""
    out, current = [], None
    for index, line in enumerate(lines):
        if indent_of(line) == 0 and _key(line) not in CLOSERS:
            current = index
        out.append(index if current is None else current)
    return out


def prefixes_in_line(line):
    """IPv4/IPv6 prefixes and addresses (as /32 or /128) named in a config line, as netaddr IPNetworks (CIDR)."""
    _need_netaddr()
    found = []
    for token in TOKEN_SPLIT_RE.split(line):
        if not token:
            continue
        parts = token.split("-")
        if len(parts) == 2 and all(_is_address(part) for part in parts):
            try:
                found.extend(netaddr.IPRange(parts[0], parts[1]).cidrs())
            except (netaddr.AddrFormatError, ValueError, TypeError):
                pass
            continue
        network = _as_network(token)
        if network is not None:
            found.append(network)
    return found


def _is_address(token):
    return (V4_RE.match(token) or V6_RE.match(token)) and "/" not in token and _as_network(token) is not None


def _as_network(token):
    if not (V4_RE.match(token) or V6_RE.match(token)):
        return None
    try:
        network = netaddr.IPNetwork(token)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None  # e.g. 300.1.1.1 or a community such as 65001:100: not an address, not an error
    return network.cidr


def _opcodes(before, after):
    # autojunk off: FRR configs repeat lines such as ' exit-address-family', and junking them would misplace hunks.
    return difflib.SequenceMatcher(None, before, after, autojunk=False)


def unified_diff(before, after, fromfile="running", tofile="candidate", context=3, matcher=None):
    """Unified diff text of two line lists (same format as difflib.unified_diff), '' when equal."""
    matcher = matcher or _opcodes(before, after)
    out = []
    for group in matcher.get_grouped_opcodes(context):
        if not out:
            out.extend(["--- %s" % fromfile, "+++ %s" % tofile])
        first, last = group[0], group[-1]
        out.append("@@ -%s +%s @@" % (_range(first[1], last[2]), _range(first[3], last[4])))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in before[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend("-" + line for line in before[i1:i2])
            if tag in ("replace", "insert"):
                out.extend("+" + line for line in after[j1:j2])
    return "\n".join(out) + "\n" if out else ""


def _range(start, stop):
    length = stop - start
    beginning = start + 1
    if length == 1:
        return "%d" % beginning
    if not length:
        beginning -= 1
    return "%d,%d" % (beginning, length)


def diff_configs(running, candidate, host="device"):
    """Compare running and candidate config text: diff text, line stats, sections, contexts and prefixes touched."""
    before, after = normalize_config(running), normalize_config(candidate)
    matcher = _opcodes(before, after)
    ctx_before, ctx_after = _contexts(before), _contexts(after)
    added, removed, contexts = [], [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(before[i1:i2])
            contexts.extend(before[ctx_before[i]] for i in range(i1, i2))
        if tag in ("replace", "insert"):
            added.extend(after[j1:j2])
            contexts.extend(after[ctx_after[j]] for j in range(j1, j2))
    context_keys = sorted({_key(line) for line in contexts})
    prefixes = set()
    for line in added + removed:
        prefixes.update(str(network) for network in prefixes_in_line(line))
    return {
        "host": host,
        "diff": unified_diff(before, after, "%s/running" % host, "%s/candidate" % host, matcher=matcher),
        "lines_added": len(added),
        "lines_removed": len(removed),
        "lines_changed": len(added) + len(removed),
        "changed": bool(added or removed),
        "added": added,
        "removed": removed,
        "sections_touched": sorted({section_name(line) for line in contexts} - {""}),
        "contexts_touched": context_keys,
        "prefixes_touched": _sorted_prefixes(prefixes),
    }


def _sorted_prefixes(prefixes):
    _need_netaddr()
    # key=sort_key: the order IPNetwork's comparisons give, with one key per prefix instead of two per comparison.
    return [str(network) for network in sorted((netaddr.IPNetwork(prefix) for prefix in prefixes), key=netaddr.IPNetwork.sort_key)]


def check_config_size(host, running=None, candidate=None, lines=None):
    """Refuse a running config, candidate or change lines of more than MAX_CONFIG_LINES lines for one device."""
    for field, value in (("running", running), ("candidate", candidate), ("lines", lines)):
        if value is None:
            continue
        count = len(value) if isinstance(value, list) else value.count("\n") + 1 if isinstance(value, str) else 0
        if count <= MAX_CONFIG_LINES:
            continue
        if field == "lines":
            raise ValidationError("the change has %d configuration lines for %s, over the limit of %d lines per device."
                                  % (count, host, MAX_CONFIG_LINES), where="diffs.%s.lines" % host,
                                  fix="split the change into several change requests of at most %d lines per device."
                                  % MAX_CONFIG_LINES)
        what = "running configuration" if field == "running" else "candidate configuration"
        raise ValidationError("the %s of %s has %d lines, over the limit of %d lines per device." % (what, host, count, MAX_CONFIG_LINES),
                              where="diffs.%s.%s" % (host, field),
                              fix="reduce the configuration below the limit, or raise config_diff.MAX_CONFIG_LINES knowingly "
                                  "(assess time grows linearly, about 3 s per 100,000 lines; docs/policy.md, Limits).")


def device_diff(host, running=None, candidate=None, lines=None):
    """Per-device diff summary from running text (None = unknown) and either candidate text or lines to merge.

    With ``running`` None the device could not be read: every line counts as added and ``running_known`` is false.
    """
    if (candidate is None) == (lines is None):
        raise ValidationError("give exactly one of a candidate configuration or lines to merge.", where="diffs.%s" % host,
                              fix="pass candidate: <text> or lines: [...] for the device.")
    check_config_size(host, running=running, candidate=candidate, lines=lines)
    merged = None
    if lines is not None:
        merged = render_candidate(running, lines, source="diffs.%s.lines" % host)
        candidate = merged["candidate"]
    result = diff_configs(running or "", candidate, host=host)
    result["running_known"] = running is not None
    if merged is not None:
        for key in ("new_lines", "existing_lines", "removed_lines", "noop_lines"):
            result[key] = merged[key]
    return result
