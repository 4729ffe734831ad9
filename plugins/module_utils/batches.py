# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy in batches: a canary batch first, then the rest; halt past the failure threshold; rollback scope."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

ROLLBACK_SCOPES = ("all", "failed")


def _positive_int(value, where, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise ValidationError("must be an integer >= %d, got %r." % (0 if allow_zero else 1, value), where=where,
                              fix="set it in the policy's deploy section.")
    return value


def plan_batches(devices, canary=1, batch_size=None):
    """[[canary...], [batch 2...], ...]: the canary batch first, the rest in batches of ``batch_size`` (default: all at once).

    Order is kept (the change request's order: put the least critical device first to make it the canary);
    duplicates are an error.
    """
    if not isinstance(devices, (list, tuple)) or not all(isinstance(d, str) and d for d in devices):
        raise ValidationError("devices must be a list of inventory host names.", where="batches(devices)",
                              fix="pass the change's target hosts.")
    if len(set(devices)) != len(devices):
        dup = sorted(set(d for d in devices if list(devices).count(d) > 1))
        raise ValidationError("devices are listed twice: %s." % ", ".join(dup), where="batches(devices)", fix="list each device once.")
    _positive_int(canary, "policy.deploy.canary", allow_zero=True)
    if batch_size is not None:
        _positive_int(batch_size, "policy.deploy.batch_size")
    devices = list(devices)
    if not devices:
        return []
    batches = []
    if canary:
        batches.append(devices[:canary])
        devices = devices[canary:]
    size = batch_size or len(devices) or 1
    for start in range(0, len(devices), size):
        batches.append(devices[start:start + size])
    return batches


def batch_decision(deployed, failed, max_failures=0):
    """After a batch: {halt, failures, reason}. ``failed`` counts across all batches so far; halt when > max_failures."""
    _positive_int(max_failures, "policy.deploy.max_failures", allow_zero=True)
    failures = sorted(set(failed))
    unknown = sorted(set(failures) - set(deployed))
    if unknown:
        raise ValidationError("failed devices %s were not deployed." % ", ".join(unknown), where="batches(failed)",
                              fix="pass the devices whose deploy or post checks failed, among the deployed ones.")
    halt = len(failures) > max_failures
    reason = ("%d failure(s) > max_failures %d: halt, no further batch" % (len(failures), max_failures)) if halt else \
        "%d failure(s) <= max_failures %d: continue" % (len(failures), max_failures)
    return {"halt": halt, "failures": failures, "reason": reason}


def rollback_targets(scope, deployed, failed, failed_elsewhere=()):
    """The devices to restore.

    ``all``: every deployed device once anything failed. ``failed``: only the failed deployed devices -
    unless a check failed on a device the change did not touch (``failed_elsewhere``): the culprit cannot
    be told apart, so every deployed device rolls back (fail closed).
    """
    if scope not in ROLLBACK_SCOPES:
        raise ValidationError("rollback scope %r is not one of %s." % (scope, ", ".join(ROLLBACK_SCOPES)),
                              where="policy.deploy.rollback_scope", fix="use all or failed.")
    failed = set(failed)
    if not failed and not failed_elsewhere:
        return []
    if scope == "all" or failed_elsewhere:
        return list(deployed)
    return [d for d in deployed if d in failed]
