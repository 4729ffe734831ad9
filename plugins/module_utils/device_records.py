# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup and snapshot records the device stages keep in the state store, and their small summaries.

Shared by the backup, deploy, restore, recover, snapshot and check actions (no action imports another).
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.snapshot import now_iso

BACKUP_SUMMARY_KEYS = ("sha256", "redacted_sha256", "lines", "redactions")
SNAPSHOT_COUNTS = ("routes", "interfaces", "rules")


def store_backup(store_dir, driver, backup):
    """Store a backup (real text: the exact restore needs it); the reference carries no secret."""
    data = {"device": driver.device, "platform": driver.name, "taken_at": now_iso(), "text": backup["text"],
            "sha256": backup["sha256"], "redacted_sha256": backup["redacted_sha256"], "redactions": backup["redactions"]}
    return statestore.put(store_dir, data, "backup")


def backup_summary(backup):
    """The hashes and counts of a backup, safe in a task result (no config text)."""
    return dict((k, backup[k]) for k in BACKUP_SUMMARY_KEYS)


def load_backup(ref, device):
    """The stored backup ``ref`` points at, refused unless it is a backup of ``device``."""
    data = statestore.get(ref)
    if not isinstance(data, dict) or "text" not in data:
        raise ValidationError("the reference is not a backup.", where="%s: backup" % device,
                              fix="pass the 'backup' reference returned by governed.change.backup or deploy.")
    if data.get("device") not in (None, device):
        raise ValidationError("the backup is of %s, not of this device." % data.get("device"), where="%s: backup" % device,
                              fix="pass this device's own backup (hostvars[inventory_hostname]).")
    return data


def _count(items, key, value):
    return sum(1 for item in items.values() if item.get(key) == value)


def _peer_counts(sections):
    peers = sections["peers"]
    return {"peers": len(peers), "established": sum(1 for p in peers.values() if p.get("established"))}


def snapshot_summary(snap):
    """Small counts of a snapshot, safe in a task result."""
    sections = snap.get("sections", {})
    out = _peer_counts(sections) if "peers" in sections else {}
    out.update((name, len(sections[name])) for name in SNAPSHOT_COUNTS if name in sections)
    if "interfaces" in sections:
        out["interfaces_up"] = _count(sections["interfaces"], "state", "up")
    if "probes" in sections:
        out["probes"] = len(sections["probes"])
        out["probes_ok"] = _count(sections["probes"], "result", "ok")
    if "config" in sections:
        out["config_sha256"] = sections["config"].get("running", {}).get("sha256")
    return out
