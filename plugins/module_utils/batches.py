# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy in batches: a canary batch first, then the rest; halt past the failure threshold; rollback scope."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

ROLLBACK_SCOPES = ("all", "failed")
# The policy's defaults (docs/policy.md, requirements.<tier>): canary 1, batch_size 1, max_failures 0, rollback_scope all.
POLICY_DEFAULTS = {"canary": 1, "batch_size": 1, "max_failures": 0, "rollback_scope": "all"}
SETTINGS = tuple(POLICY_DEFAULTS)


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


def batch_decision(deployed, failed, max_failures=0, failed_elsewhere=()):
    """After a batch: {halt, failures, reason}. ``failed`` counts across all batches so far; halt when > max_failures.

    ``failed_elsewhere``: devices the change did not touch whose checks failed; they count as failures (fail closed:
    the change broke something beyond its targets).
    """
    _positive_int(max_failures, "policy.deploy.max_failures", allow_zero=True)
    failures = sorted(set(failed))
    unknown = sorted(set(failures) - set(deployed))
    if unknown:
        raise ValidationError("failed devices %s were not deployed." % ", ".join(unknown), where="batches(failed)",
                              fix="pass the devices whose deploy or post checks failed, among the deployed ones.")
    failures = sorted(set(failures) | (set(failed_elsewhere) - set(deployed)))
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


def batch_settings(requirements=None, overrides=None, defaults=None):
    """The batching settings: ``overrides`` (e.g. extra vars) > the tier's ``requirements`` > ``defaults`` > POLICY_DEFAULTS.

    None values are ignored at every level; ``batch_size`` None (only from ``defaults``) means the rest in one batch.
    """
    settings = dict(POLICY_DEFAULTS)
    for level, where in ((defaults, "defaults"), (requirements, "requirements"), (overrides, "overrides")):
        if level is None:
            continue
        if not isinstance(level, dict):
            raise ValidationError("must be a mapping, got %r." % (level,), where="batches(%s)" % where,
                                  fix="pass the policy tier's requirements (a mapping) or leave it out.")
        settings.update((k, v) for k, v in level.items() if k in SETTINGS and v is not None)
        if level is defaults and "batch_size" in level and level["batch_size"] is None:
            settings["batch_size"] = None
    _positive_int(settings["canary"], "policy.deploy.canary", allow_zero=True)
    if settings["batch_size"] is not None:
        _positive_int(settings["batch_size"], "policy.deploy.batch_size")
    _positive_int(settings["max_failures"], "policy.deploy.max_failures", allow_zero=True)
    if settings["rollback_scope"] not in ROLLBACK_SCOPES:
        raise ValidationError("rollback scope %r is not one of %s." % (settings["rollback_scope"], ", ".join(ROLLBACK_SCOPES)),
                              where="policy.deploy.rollback_scope", fix="use all or failed.")
    return settings


def batch_plan(devices, requirements=None, overrides=None, defaults=None):
    """The deploy plan of a change: the settings plus the batches ({canary, batch_size, max_failures, rollback_scope, batches})."""
    settings = batch_settings(requirements, overrides, defaults)
    plan = dict(settings)
    plan["batches"] = plan_batches(devices, canary=settings["canary"], batch_size=settings["batch_size"])
    return plan
