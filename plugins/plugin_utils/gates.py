# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller glue shared by the review and window gate actions: the time and the targets.

The assessment is read by module_utils/assessment_artifact, the ledger opened by module_utils/lifecycle.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError


def parse_now(text):
    """An aware UTC datetime from the ``now`` option (ISO 8601 with an offset or Z), or None for the current time."""
    if text is None or text == "":
        return None
    return parse_instant(text, where="now", error=ValidationError)


def _groups_of(hosts, groups):
    """{host: [the groups it is in]} of ``hosts`` (all and ungrouped left out)."""
    found = {host: [] for host in hosts}
    for group, members in groups.items():
        if group in ("all", "ungrouped"):
            continue
        for member in members:
            if member in found:
                found[member].append(group)
    return found


def _site_of(host, hostvars, templar):
    site = hostvars[host].get("site") if host in hostvars else None
    return templar.template(site) if site is not None else None


def inventory_targets(hosts, task_vars, templar):
    """[{host, site, groups}] of the assessment's hosts from the play's inventory (only these hosts' vars are read)."""
    hostvars = task_vars.get("hostvars") or {}
    inventory_groups = task_vars.get("groups") or {}
    groups = _groups_of(hosts, inventory_groups)
    known = set(inventory_groups.get("all") or [])
    unknown = [host for host in hosts if host not in known]
    if unknown:
        raise ValidationError("host %s of the assessment is not in the inventory." % unknown[0], where="assessment.hosts",
                              fix="run the gate with the inventory the change was assessed against.")
    return [{"host": host, "site": _site_of(host, hostvars, templar), "groups": sorted(groups[host])} for host in hosts]


def join_reasons(reasons):
    """The verdict's reasons as one message, each ending with a full stop."""
    return " ".join(text if text.rstrip().endswith((".", "!", "?")) else text.rstrip() + "." for text in reasons)
