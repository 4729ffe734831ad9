# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.snapshot: a normalized state snapshot into the state store (read-only on the device)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.snapshot import probes_taken
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase


def snapshot_summary(snap):
    """Small counts of a snapshot, safe in a task result."""
    sections = snap.get("sections", {})
    out = {}
    if "peers" in sections:
        peers = sections["peers"]
        out["peers"] = len(peers)
        out["established"] = sum(1 for p in peers.values() if p.get("established"))
    for name in ("routes", "interfaces", "rules"):
        if name in sections:
            out[name] = len(sections[name])
    if "interfaces" in sections:
        out["interfaces_up"] = sum(1 for i in sections["interfaces"].values() if i.get("state") == "up")
    if "probes" in sections:
        out["probes"] = len(sections["probes"])
        out["probes_ok"] = sum(1 for p in sections["probes"].values() if p.get("result") == "ok")
    if "config" in sections:
        out["config_sha256"] = sections["config"].get("running", {}).get("sha256")
    return out


def take(action, args, task_vars, driver, probes):
    """A snapshot with the given probes; without any, the probes the pre-change snapshot (``pre``) ran, so pre and post
    are compared like for like (a stage that was not given the probes still takes them)."""
    if not probes and args.get("pre") is not None and driver.name == "linux":
        probes = probes_taken(args["pre"]) or None
    snap = driver.snapshot(probes=action.probe_results(args, task_vars, probes))
    return snap


class ActionModule(DeviceActionBase):
    MODULE_NAME = "snapshot"

    def execute(self, args, task_vars, result):
        driver = self.driver(args, task_vars)
        snap = take(self, args, task_vars, driver, args.get("probes"))
        ref = statestore.put(self.store_dir(args, task_vars), snap, "snapshot")
        return {"changed": False, "device": driver.device, "platform": driver.name, "snapshot": self.ref_out(ref),
                "summary": snapshot_summary(snap)}
