# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the collection's task-side plugins once in the controller process, before Ansible forks its workers.

Ansible runs every task of every host in a forked worker process, and a worker imports the action plugin it runs (and
the core modules that plugin uses) and parses its argument spec: 50-70 ms of CPU for one host's task here, paid again
by every host of every task (issue 16: about 240 device tasks at 30 routers). Imported and parsed once in the
controller (the evidence callback calls ``prewarm`` as the playbook starts), every fork inherits them.

Only imports and parses: a plugin that cannot be loaded here is left for its task, which reports the error as it
always has.
"""

from __future__ import annotations

import importlib
import os

PACKAGE = "ansible_collections.governed.change.plugins"
KINDS = ("action", "filter", "lookup", "test")


def _names(folder):
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    return [name[:-3] for name in entries if name.endswith(".py") and not name.startswith("_")]


def prewarm():
    """Import the collection's action, filter, lookup and test plugins and parse each action's argument spec.

    Returns the names loaded and the ones that could not be (left for their tasks to report)."""
    from ansible_collections.governed.change.plugins.plugin_utils.action_base import argument_spec_from_doc

    plugins_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    loaded, skipped = [], []
    for kind in KINDS:
        for name in _names(os.path.join(plugins_dir, kind)):
            try:
                importlib.import_module("%s.%s.%s" % (PACKAGE, kind, name))
                if kind == "action":
                    module = importlib.import_module("%s.modules.%s" % (PACKAGE, name))
                    argument_spec_from_doc(module.DOCUMENTATION)
                loaded.append("%s/%s" % (kind, name))
            except Exception:  # pylint: disable=broad-exception-caught  # the task reports it
                skipped.append("%s/%s" % (kind, name))
    return loaded, skipped
