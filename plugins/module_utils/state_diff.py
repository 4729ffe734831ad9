# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast structured diff of two snapshots (or two lists) keyed by identity: a peer by address, a route by prefix.

Two ways in, one result:

* in-memory values (two snapshots, two lists, two dicts keyed by identity) are diffed record by record;
* two statestore references are diffed line by line first: stored state has one canonical record per
  line, so identical lines are identical records and only the few lines that differ are parsed. That is
  what keeps 1.2M routes under 2 s and 1 GB (json.load of both files alone costs more; BENCHMARKS.md).

Prefixes are normalized cheaply (a string test); only a string that is not already canonical is parsed
(netaddr, or the standard library when netaddr is missing), so "2001:DB8::/32" and "2001:db8::/32" are
the same route and "10.0.0.1" is the host route "10.0.0.1/32".
"""

from __future__ import annotations

import ipaddress
import json
import re
from itertools import compress, count
from operator import ne

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

try:
    import netaddr
except ImportError:  # pragma: no cover - the standard library parses when netaddr is missing
    netaddr = None

# Identity field per section of the project's snapshots; also the identity field of list items.
DEFAULT_KEYS = {
    "routes": "prefix",
    "peers": "address",
    "interfaces": "name",
    "rules": "id",
    "chains": "id",
    "sets": "id",
    "counters": "id",
    "probes": "target",
    "config": "name",
}
# Sections whose values change on every read (packet counters): left out of snapshot diffs unless asked for.
VOLATILE_SECTIONS = ("counters",)
PREFIX_FIELDS = ("prefix", "network", "route", "destination", "dst")
ADDRESS_FIELDS = ("address", "peer", "neighbor", "ip", "nexthop", "next_hop")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_PREFIX = re.compile(r"%s\.%s\.%s\.%s/(?:3[0-2]|[12]?[0-9])\Z" % ((_OCTET,) * 4))
_V4_ADDR = re.compile(r"%s\.%s\.%s\.%s\Z" % ((_OCTET,) * 4))
_V6_GROUP = re.compile(r"[1-9a-f][0-9a-f]{0,3}\Z")
_PLEN = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")


def _v6_is_canonical(addr):
    """Conservative RFC 5952 test: True only when the text is certainly canonical (else it gets parsed)."""
    if addr.count("::") > 1 or "." in addr or addr != addr.lower():
        return False
    if "::" in addr:
        head, tail = addr.split("::")
        groups = (head.split(":") if head else []) + (tail.split(":") if tail else [])
        if len(groups) > 6:
            return False
    else:
        groups = addr.split(":")
        if len(groups) != 8:
            return False
    # every explicit group non-zero and without leading zeros: the only zero run is the '::' one
    for group in groups:
        if not _V6_GROUP.match(group):
            return False
    return True


def _parse(text, with_len):
    """Parse an address or prefix; the canonical text, or None when it is not an IP at all."""
    if netaddr is not None:
        try:
            if with_len:
                net = netaddr.IPNetwork(text)
                return "%s/%d" % (net.ip, net.prefixlen)
            return str(netaddr.IPAddress(text))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            return None
    try:  # pragma: no cover - standard-library fallback
        if with_len:
            iface = ipaddress.ip_interface(text)
            return "%s/%d" % (iface.ip, iface.network.prefixlen)
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def canonical_prefix(value):
    """The canonical text of a prefix ("10.0.0.0/24", "2001:db8::/32"); a bare address is a host route.

    Anything that is not an IP prefix is returned unchanged (so it still works as an identity).
    """
    if not isinstance(value, str):
        return value
    if _V4_PREFIX.match(value):
        return value
    text = value.strip()
    addr, sep, plen = text.partition("/")
    if ":" in addr:
        if _v6_is_canonical(addr) and (not sep or (_PLEN.match(plen) and int(plen) <= 128)):
            return text if sep else text + "/128"
    elif not sep and _V4_ADDR.match(addr):
        return text + "/32"
    if not sep:
        parsed = _parse(text, False)
        if parsed is None:
            return value
        return parsed + ("/128" if ":" in parsed else "/32")
    parsed = _parse(text, True)
    return value if parsed is None else parsed


def canonical_address(value):
    """The canonical text of an IP address ("2001:db8::1"); anything else is returned unchanged."""
    if not isinstance(value, str):
        return value
    if _V4_ADDR.match(value):
        return value
    text = value.strip()
    if ":" in text and "/" not in text and "%" not in text and _v6_is_canonical(text):
        return text
    if "/" in text or "%" in text:
        return value
    parsed = _parse(text, False)
    return value if parsed is None else parsed


def canonicalizer_for(field):
    """The key normalizer for an identity field name (prefix-like, address-like, or none)."""
    if field in PREFIX_FIELDS:
        return canonical_prefix
    if field in ADDRESS_FIELDS:
        return canonical_address
    return None


# --------------------------------------------------------------------------------------------------
# result building


def _entry_order(entry):
    """Sort key of added/removed entries: section, then key."""
    return (str(entry["section"]), str(entry["key"]))


class _Result(object):
    def __init__(self, limit):
        self.limit = limit
        self.added = []
        self.removed = []
        self.changed = []
        self.sections = {}
        self.truncated = False

    def section(self, name):
        if name not in self.sections:
            self.sections[name] = {"added": 0, "removed": 0, "changed": 0, "changed_fields": 0, "unchanged": 0, "pre": 0, "post": 0}
        return self.sections[name]

    def _room(self, bucket):
        if self.limit is not None and len(bucket) >= self.limit:
            self.truncated = True
            return False
        return True

    def add(self, section, key, value):
        self.section(section)["added"] += 1
        if self._room(self.added):
            self.added.append({"section": section, "key": key, "value": value})

    def remove(self, section, key, value):
        self.section(section)["removed"] += 1
        if self._room(self.removed):
            self.removed.append({"section": section, "key": key, "value": value})

    def compare(self, section, key, before, after, ident):
        """Record the field-level changes of one record; True when it changed."""
        counts = self.section(section)
        if before == after:
            counts["unchanged"] += 1
            return False
        entries = []
        if isinstance(before, dict) and isinstance(after, dict):
            for field in sorted(set(before) | set(after), key=str):
                if field == ident:
                    continue
                old, new = before.get(field), after.get(field)
                if old != new or (field in before) != (field in after):
                    entries.append({"section": section, "key": key, "field": field, "before": old, "after": new})
        else:
            entries.append({"section": section, "key": key, "field": "value", "before": before, "after": after})
        if not entries:  # differs only in how its identity was spelled
            counts["unchanged"] += 1
            return False
        counts["changed"] += 1
        counts["changed_fields"] += len(entries)
        for entry in entries:
            if not self._room(self.changed):
                break
            self.changed.append(entry)
        return True

    def finish(self, pre_meta, post_meta, method):
        total = {"added": 0, "removed": 0, "changed": 0, "changed_fields": 0, "unchanged": 0, "pre": 0, "post": 0}
        for counts in self.sections.values():
            for name in total:
                total[name] += counts[name]
        self.added.sort(key=_entry_order)
        self.removed.sort(key=_entry_order)
        self.changed.sort(key=lambda e: (str(e["section"]), str(e["key"]), str(e["field"])))
        summary = dict(total)
        summary["identical"] = not (total["added"] or total["removed"] or total["changed"])
        summary["truncated"] = self.truncated
        summary["sections"] = dict((str(k), v) for k, v in self.sections.items())
        summary["method"] = method
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "unchanged_count": total["unchanged"], "summary": summary, "pre": pre_meta, "post": post_meta}


# --------------------------------------------------------------------------------------------------
# in-memory diff


def _index(records, ident, section, side):
    """Map canonical identity -> record, for a dict keyed by identity or a list of dicts."""
    canon = canonicalizer_for(ident)
    index = {}
    if isinstance(records, dict):
        items = records.items()
    elif isinstance(records, list):
        items = []
        for pos, item in enumerate(records):
            if not isinstance(item, dict) or ident not in item:
                raise ValidationError("item %d has no identity field '%s'." % (pos, ident),
                                      where="%s %s" % (side, section or "list"),
                                      fix="key the list by a field every item has (keys={'%s': '<field>'})." % (section or "items"))
            items.append((item[ident], item))
    else:
        raise ValidationError("is a %s, not a dict or list of records." % type(records).__name__,
                              where="%s %s" % (side, section or "value"), fix="pass snapshots, lists of dicts or dicts keyed by identity.")
    for key, record in items:
        ckey = canon(key) if canon else key
        if ckey in index:
            raise ValidationError("identity %r appears twice (after normalization)." % (key,), where="%s %s" % (side, section or "list"),
                                  fix="make the identity field unique, or key the section by another field.")
        index[ckey] = record
    return index


def _diff_records(result, section, pre, post, ident):
    pre_index = _index(pre, ident, section, "pre")
    post_index = _index(post, ident, section, "post")
    counts = result.section(section)
    counts["pre"] += len(pre_index)
    counts["post"] += len(post_index)
    for key, record in pre_index.items():
        if key not in post_index:
            result.remove(section, key, record)
        else:
            result.compare(section, key, record, post_index[key], ident)
    for key, record in post_index.items():
        if key not in pre_index:
            result.add(section, key, record)


def _meta(value, ref=None):
    meta = {}
    if isinstance(value, dict):
        for key in ("device", "platform", "taken_at"):
            if key in value:
                meta[key] = value[key]
    if ref is not None:
        meta["sha256"] = ref.get("sha256")
        meta["path"] = ref.get("path")
    return meta


def _check_same_device(pre, post):
    if isinstance(pre, dict) and isinstance(post, dict):
        a, b = pre.get("device"), post.get("device")
        if a is not None and b is not None and a != b:
            raise ValidationError("pre is a snapshot of %r but post is a snapshot of %r." % (a, b), where="state_diff",
                                  fix="diff the pre and post snapshots of the same device.")


def _section_key(keys, name):
    if isinstance(keys, dict) and name in keys:
        return keys[name]
    return DEFAULT_KEYS.get(name, "id")


def _list_key(keys):
    if keys is None:
        return "prefix"
    if isinstance(keys, str):
        return keys
    if isinstance(keys, dict) and len(keys) == 1:
        return list(keys.values())[0]
    raise ValidationError("cannot tell the identity field of the list items from keys=%r." % (keys,), where="state_diff(keys)",
                          fix="pass keys as the field name, e.g. keys='prefix'.")


def _check_keys(keys):
    if keys is None or isinstance(keys, str):
        return
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ValidationError("keys must map section names to identity field names, e.g. {'routes': 'prefix'}.",
                              where="state_diff(keys)", fix="pass a dict of strings, or one field name for two lists.")


def _sections_to_diff(pre, post, ignore_sections):
    names = set(pre["sections"]) | set(post["sections"])
    ignored = VOLATILE_SECTIONS if ignore_sections is None else tuple(ignore_sections)
    return sorted((n for n in names if n not in ignored), key=str)


def _diff_values(pre, post, keys, ignore_sections, result):
    if statestore.is_snapshot(pre) and statestore.is_snapshot(post):
        _check_same_device(pre, post)
        names = _sections_to_diff(pre, post, ignore_sections)
        for name in names:
            a = pre["sections"].get(name, {})
            b = post["sections"].get(name, {})
            if not isinstance(a, (dict, list)) or not isinstance(b, (dict, list)):
                result.section(name)
                result.compare(name, name, a, b, None)
                continue
            _diff_records(result, name, a, b, _section_key(keys, name))
    elif isinstance(pre, list) and isinstance(post, list):
        _diff_records(result, None, pre, post, _list_key(keys))
    elif isinstance(pre, dict) and isinstance(post, dict) and not statestore.is_snapshot(pre) and not statestore.is_snapshot(post):
        _diff_records(result, None, pre, post, _list_key(keys))
    else:
        raise ValidationError("pre and post are not the same kind of state (%s vs %s)." % (_kind(pre), _kind(post)),
                              where="state_diff", fix="diff two snapshots, two lists of records, or two references to them.")


def _kind(value):
    if statestore.is_snapshot(value):
        return "snapshot"
    return type(value).__name__


# --------------------------------------------------------------------------------------------------
# line diff of two stored states


class _NotLineLayout(Exception):
    """The stored bytes do not have the line layout: fall back to parsing everything."""


def _split_lines(raw):
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise _NotLineLayout()
    return lines


def _block_end(lines, pos, end, closers):
    """The index of the first closer line of the block opened at ``pos`` (_NotLineLayout when there is none)."""
    stop = None
    for closer in closers:
        try:
            found = lines.index(closer, pos + 1, end)
        except ValueError:
            continue
        stop = found if stop is None else min(stop, found)
    if stop is None:
        raise _NotLineLayout()
    return stop


def _section_blocks(lines):
    """The sections of a snapshot's line layout: {name: (dict|list, record lines)} or {name: ("value", value)}."""
    blocks = {}
    pos, end = 1, len(lines) - 1
    while pos < end:
        line = lines[pos]
        if line.endswith(b":{") or line.endswith(b":["):
            closers = (b"}", b"},") if line.endswith(b"{") else (b"]", b"],")
            stop = _block_end(lines, pos, end, closers)
            blocks[json.loads(line[:-2])] = ("dict" if closers[0] == b"}" else "list", lines[pos + 1:stop])
            pos = stop + 1
            continue
        blocks.update((name, ("value", value)) for name, value in json.loads(b"{" + line.rstrip(b",") + b"}").items())
        pos += 1
    return blocks


def _layout_blocks(raw):
    """Split stored bytes into (layout, meta, {section: (kind, lines)}) without parsing the records."""
    lines = _split_lines(raw)
    first = lines[0]
    if first == b"[" and lines[-1] == b"]":
        return statestore.LAYOUT_LIST, {}, {None: ("list", lines[1:-1])}
    if first == b"{" and lines[-1] == b"}":
        return statestore.LAYOUT_DICT, {}, {None: ("dict", lines[1:-1])}
    if not (first.startswith(b"{") and first.endswith(b'"sections":{') and lines[-1] == b"}}"):
        raise _NotLineLayout()
    head = first[:-len(b'"sections":{')].rstrip(b",")
    meta = json.loads(head + b"}") if head != b"{" else {}
    return statestore.LAYOUT_SNAPSHOT, meta, _section_blocks(lines)


def _parse_lines(lines, kind, ident, section, side):
    """Parse only the given record lines into {canonical identity: record}."""
    canon = canonicalizer_for(ident)
    index = {}
    for line in lines:
        text = line[:-1] if line.endswith(b",") else line
        if kind == "dict":
            entry = json.loads(b"{" + text + b"}")
            (key, record), = entry.items()
        else:
            record = json.loads(text)
            if not isinstance(record, dict) or ident not in record:
                raise ValidationError("a record has no identity field '%s'." % ident, where="%s %s" % (side, section or "list"),
                                      fix="key the list by a field every item has.")
            key = record[ident]
        ckey = canon(key) if canon else key
        if ckey in index:
            raise ValidationError("identity %r appears twice (after normalization)." % (key,), where="%s %s" % (side, section or "list"),
                                  fix="make the identity field unique, or key the section by another field.")
        index[ckey] = (key, record)
    return index


_WINDOW = 256      # lines compared at once (one C-level list comparison)
_LOOKAHEAD = 32    # how far to look for the next common line after a mismatch
_MAX_PENDING = 0.05  # above this share of unmatched lines the order differs: use sets instead


def _align(a, b):
    """Walk two line lists in order; return (lines only in a, lines only in b, matched count).

    Equal lines at aligned positions are equal records. At a mismatch, a short look-ahead finds where the
    lists meet again (a record removed or added); otherwise both lines are set aside as a changed pair.
    Lines set aside are parsed and matched by identity later, so the result is exact whatever the alignment.
    """
    i = j = matched = 0
    na, nb = len(a), len(b)
    pend_a, pend_b = [], []
    limit = max(1000, int(_MAX_PENDING * (na + nb)))
    while i < na and j < nb:
        width = min(_WINDOW, na - i, nb - j)
        wa, wb = a[i:i + width], b[j:j + width]
        if wa == wb:
            i += width
            j += width
            matched += width
            continue
        k = next(compress(count(), map(ne, wa, wb)))
        i += k
        j += k
        matched += k
        x, y = a[i], b[j]
        for d in range(1, _LOOKAHEAD + 1):
            if i + d < na and a[i + d] == y:
                pend_a.extend(a[i:i + d])
                i += d
                break
            if j + d < nb and b[j + d] == x:
                pend_b.extend(b[j:j + d])
                j += d
                break
        else:
            pend_a.append(x)
            pend_b.append(y)
            i += 1
            j += 1
        if len(pend_a) + len(pend_b) > limit:
            return None
    pend_a.extend(a[i:])
    pend_b.extend(b[j:])
    return pend_a, pend_b, matched


def _set_difference(a, b):
    a_set, b_set = set(a), set(b)
    if len(a_set) != len(a) or len(b_set) != len(b):
        raise _NotLineLayout()  # duplicate records in a list: the full parse reports them
    only_a = [line for line in a if line not in b_set]
    only_b = [line for line in b if line not in a_set]
    return only_a, only_b, len(a) - len(only_a)


def _diff_line_block(result, section, kind, pre_lines, post_lines, ident):
    counts = result.section(section)
    counts["pre"] += len(pre_lines)
    counts["post"] += len(post_lines)
    aligned = _align(pre_lines, post_lines)
    only_pre, only_post, same = aligned if aligned is not None else _set_difference(pre_lines, post_lines)
    counts["unchanged"] += same
    pre_index = _parse_lines(only_pre, kind, ident, section, "pre")
    post_index = _parse_lines(only_post, kind, ident, section, "post")
    renamed = [k for k, (orig, _r) in list(pre_index.items()) + list(post_index.items()) if k != orig]
    if renamed:
        # a spelling that is not canonical may collide with an identical (unparsed) line: be exact instead
        raise _NotLineLayout()
    for key, (_orig, record) in pre_index.items():
        if key in post_index:
            result.compare(section, key, record, post_index[key][1], ident)
        else:
            result.remove(section, key, record)
    for key, (_orig, record) in post_index.items():
        if key not in pre_index:
            result.add(section, key, record)


def _load_blocks(ref, where):
    """Read, verify and split one stored state; the raw bytes are dropped before the next file is read."""
    return _layout_blocks(statestore.read_bytes(ref, where=where))


def _diff_refs(pre_ref, post_ref, keys, ignore_sections, limit):
    pre_meta, post_meta = _meta(None, pre_ref), _meta(None, post_ref)
    try:
        pre_layout, pre_head, pre_blocks = _load_blocks(pre_ref, "pre")
        post_layout, post_head, post_blocks = _load_blocks(post_ref, "post")
        if pre_layout != post_layout:
            raise _NotLineLayout()
        _check_same_device(pre_head, post_head)
        pre_meta.update(_meta(pre_head))
        post_meta.update(_meta(post_head))
        result = _Result(limit)
        if pre_layout == statestore.LAYOUT_SNAPSHOT:
            ignored = VOLATILE_SECTIONS if ignore_sections is None else tuple(ignore_sections)
            names = sorted((n for n in set(pre_blocks) | set(post_blocks) if n not in ignored), key=str)
            for name in names:
                a_kind, a = pre_blocks.get(name, (None, []))
                b_kind, b = post_blocks.get(name, (None, []))
                ident = _section_key(keys, name)
                if a_kind == "value" or b_kind == "value" or (a_kind and b_kind and a_kind != b_kind):
                    # small or unusual sections: parse them and diff in memory
                    a_val = a if a_kind == "value" else _block_value(a_kind, a)
                    b_val = b if b_kind == "value" else _block_value(b_kind, b)
                    if isinstance(a_val, (dict, list)) and isinstance(b_val, (dict, list)) and type(a_val) is type(b_val):
                        _diff_records(result, name, a_val, b_val, ident)
                    else:
                        result.compare(name, name, a_val, b_val, None)
                    continue
                _diff_line_block(result, name, a_kind or b_kind, a, b, ident)
        else:
            kind, a = pre_blocks[None]
            _kind2, b = post_blocks[None]
            _diff_line_block(result, None, kind, a, b, _list_key(keys))
        return result.finish(pre_meta, post_meta, "lines")
    except _NotLineLayout:
        pass
    pre = json.loads(statestore.read_bytes(pre_ref, where="pre"))
    post = json.loads(statestore.read_bytes(post_ref, where="post"))
    result = _Result(limit)
    _diff_values(pre, post, keys, ignore_sections, result)
    pre_meta.update(_meta(pre))
    post_meta.update(_meta(post))
    return result.finish(pre_meta, post_meta, "parsed")


def _block_value(kind, lines):
    if kind is None:
        return {}
    if kind == "dict":
        return json.loads(b"{" + b"\n".join(lines) + b"}")
    return json.loads(b"[" + b"\n".join(lines) + b"]")


# --------------------------------------------------------------------------------------------------
# public entry point


def diff_states(pre, post, keys=None, ignore_sections=None, limit=None):
    """Diff two states keyed by identity.

    ``pre``/``post``: two snapshots, two lists of dicts, two dicts keyed by identity, or two statestore
    references to any of those. ``keys``: {section: identity field} for snapshots (defaults in
    DEFAULT_KEYS), or one field name for two lists (default "prefix"). ``ignore_sections``: sections left
    out (default: VOLATILE_SECTIONS). ``limit``: at most this many entries per list (counts stay exact).

    Returns ``{added, removed, changed: [{section, key, field, before, after}], unchanged_count, summary, pre, post}``.
    """
    _check_keys(keys)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError("limit must be a non-negative integer or None.", where="state_diff(limit)",
                              fix="pass e.g. limit=1000 to cap the listed entries (counts stay exact).")
    if ignore_sections is not None and (isinstance(ignore_sections, str) or not all(isinstance(n, str) for n in ignore_sections)):
        raise ValidationError("ignore_sections must be a list of section names.", where="state_diff(ignore_sections)",
                              fix="pass e.g. ['counters'].")
    pre_is_ref, post_is_ref = statestore.is_ref(pre), statestore.is_ref(post)
    if pre_is_ref and post_is_ref:
        return _diff_refs(pre, post, keys, ignore_sections, limit)
    pre_meta = _meta(None, pre) if pre_is_ref else {}
    post_meta = _meta(None, post) if post_is_ref else {}
    pre_val = statestore.get(pre) if pre_is_ref else pre
    post_val = statestore.get(post) if post_is_ref else post
    result = _Result(limit)
    _diff_values(pre_val, post_val, keys, ignore_sections, result)
    pre_meta.update(_meta(pre_val))
    post_meta.update(_meta(post_val))
    return result.finish(pre_meta, post_meta, "memory")
