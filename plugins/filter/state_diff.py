# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed.change.state_diff filter: a thin wrapper over module_utils/state_diff.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: state_diff
author: governed.change contributors
version_added: "0.1.0"
short_description: Structured diff of two state snapshots (or two lists) keyed by identity
description:
  - Compares two normalized snapshots (or two lists of records) record by record, keyed by identity
    (a route by prefix, a BGP peer by address, an interface by name), not as text lines.
  - >-
    Prefers two statestore references (C({path, sha256, ...}) as returned by the snapshot action) over the
    snapshots themselves; big state should travel by reference, never through Ansible variables.
    The files are verified against their sha256 before they are read.
  - >-
    Prefixes are normalized (C(2001:DB8::/32) equals C(2001:db8::/32); C(10.0.0.1) is C(10.0.0.1/32)).
  - Sections that change on every read (C(counters)) are left out unless O(ignore_sections) says otherwise.
options:
  _input:
    description: The pre state, a snapshot, a list of records, or a statestore reference to one of them.
    type: raw
    required: true
  post:
    description: The post state, of the same kind as the input.
    type: raw
    required: true
  keys:
    description:
      - >-
        Identity field per section, for example C({routes: prefix, peers: address}); the defaults cover the
        project's snapshot sections.
      - For two lists, the name of the identity field (default C(prefix)).
    type: raw
  ignore_sections:
    description: Sections to leave out. Default C([counters]).
    type: list
    elements: str
  limit:
    description: At most this many entries in each of C(added), C(removed), C(changed); the counts in C(summary) stay exact.
    type: int
"""

EXAMPLES = r"""
- name: Diff the pre and post snapshots of a router by reference
  ansible.builtin.set_fact:
    state_changes: "{{ pre_snapshot_ref | governed.change.state_diff(post_snapshot_ref, limit=200) }}"

- name: Fail when a BGP peer disappeared
  ansible.builtin.assert:
    that: state_changes.summary.sections.peers.removed | default(0) == 0

- name: Diff two route lists keyed by prefix
  ansible.builtin.debug:
    msg: "{{ routes_before | governed.change.state_diff(routes_after, keys='prefix') }}"
"""

RETURN = r"""
_value:
  description:
    - >-
      C(added) and C(removed) list C({section, key, value}); C(changed) lists C({section, key, field, before, after}).
    - >-
      C(unchanged_count) counts identical records; C(summary) holds the counts per section, C(identical) and C(truncated).
    - >-
      C(pre) and C(post) name the device, time and sha256 of each side.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.state_diff import diff_states


def _plain(value):
    """Strip Ansible's tagged/lazy containers down to plain dicts and lists."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def state_diff(pre, post, keys=None, ignore_sections=None, limit=None):
    """Diff two states keyed by identity (see DOCUMENTATION)."""
    try:
        return diff_states(_plain(pre), _plain(post), keys=_plain(keys), ignore_sections=_plain(ignore_sections), limit=limit)
    except GovernedChangeError as exc:
        raise AnsibleFilterError("governed.change.state_diff: %s" % exc)


class FilterModule(object):
    """governed.change state filters."""

    def filters(self):
        return {"state_diff": state_diff}
