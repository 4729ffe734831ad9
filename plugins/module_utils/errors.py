# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the governance core.

Every error says what was wrong (``where`` and ``problem``) and how to fix it (``fix``), so a gate
that refuses tells the operator the next step. Plugins turn these into failed task results.
"""

from __future__ import annotations


class GovernedChangeError(Exception):
    """Base class: a refusal with a location, a problem and a fix."""

    kind = "error"

    def __init__(self, problem, where=None, fix=None):
        self.problem = problem
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self):
        text = self.problem
        if self.where:
            text = "%s: %s" % (self.where, text)
        if self.fix:
            text = "%s Fix: %s" % (text.rstrip(), self.fix)
        return text

    def as_dict(self):
        return {"kind": self.kind, "where": self.where, "problem": self.problem, "fix": self.fix,
                "message": self.render()}


class ValidationError(GovernedChangeError):
    """A malformed input document: change request, policy, approval, inventory, check."""

    kind = "validation"


class PolicyError(ValidationError):
    """The policy itself is malformed or a rule cannot be evaluated."""

    kind = "policy"


class GateRefused(GovernedChangeError):
    """A gate could not decide or decided no; carries the verdict when there is one."""

    kind = "gate"

    def __init__(self, problem, where=None, fix=None, verdict=None):
        self.verdict = verdict
        super().__init__(problem, where=where, fix=fix)


class LedgerError(GovernedChangeError):
    """The ledger is unreachable, corrupt, or refused a write (lock held, bad transition)."""

    kind = "ledger"


class DeviceError(GovernedChangeError):
    """A device operation failed (unreachable, command error, restore mismatch)."""

    kind = "device"

    def __init__(self, problem, where=None, fix=None, transient=False):
        self.transient = transient
        super().__init__(problem, where=where, fix=fix)


class MissingLibrary(GovernedChangeError):
    """A Python library the core needs is not installed on the controller."""

    kind = "dependency"

    def __init__(self, library, purpose):
        super().__init__(
            "the Python library '%s' is required %s but is not installed on the controller." % (library, purpose),
            fix="install it into the controller's Python (make setup installs the pinned toolchain).",
        )
