# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the governed.change.evidence callback recording this Ansible run? (read from the run's configuration)"""

from __future__ import annotations

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.loader import callback_loader
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

CALLBACK = "governed.change.evidence"
CONFIG_LINE = "callbacks_enabled = %s" % CALLBACK


def recorder_problem():
    """None when the evidence callback is enabled in this run's configuration, else why not (one sentence)."""
    enabled = [str(name).strip() for name in (C.config.get_config_value("CALLBACKS_ENABLED") or [])]
    if CALLBACK not in enabled:
        return ("the callback %s is not enabled in this run (callbacks_enabled: %s), so no task would reach the ledger and "
                "the evidence would have no task timeline" % (CALLBACK, ", ".join(enabled) or "none"))
    callback = callback_loader.get(CALLBACK)  # the callback's own reading of its options (env, ini, default)
    if callback is None:
        return "the callback %s cannot be loaded from the collections path" % CALLBACK
    callback.set_options()
    if not boolean(callback.get_option("enabled"), strict=False):
        return "the callback %s is switched off (its option enabled / GOVERNED_EVIDENCE_ENABLED is false)" % CALLBACK
    return None


def require_recorder():
    """The callback's name when it records this run; else a ValidationError with the one line of configuration to add."""
    problem = recorder_problem()
    if problem:
        raise ValidationError("refusing to start a governed change: %s." % problem, where="ansible configuration",
                              fix="add the line `%s` to the [defaults] section of the ansible.cfg you run with (or export "
                                  "ANSIBLE_CALLBACKS_ENABLED=%s), and leave GOVERNED_EVIDENCE_ENABLED unset."
                                  % (CONFIG_LINE, CALLBACK))
    return CALLBACK
