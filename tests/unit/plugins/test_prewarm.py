# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils/prewarm.py loads every task-side plugin of the collection in the controller process (issue 16: a forked
worker then finds them imported and each action's argument spec parsed), and the parsed specs are shared safely."""

from __future__ import annotations

import os
import sys

from ansible_collections.governed.change.plugins.plugin_utils import action_base
from ansible_collections.governed.change.plugins.plugin_utils.prewarm import PACKAGE, prewarm
from repo_paths import ROOT


def test_every_action_filter_lookup_and_test_plugin_is_loaded():
    loaded, skipped = prewarm()
    assert skipped == []
    for kind in ("action", "filter", "lookup", "test"):
        names = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "plugins", kind)) if n.endswith(".py") and not n.startswith("_"))
        assert names and all("%s/%s" % (kind, n) in loaded for n in names), kind
        assert all("%s.%s.%s" % (PACKAGE, kind, n) in sys.modules for n in names), kind


def test_each_action_spec_is_parsed_once_and_every_caller_gets_its_own_copy():
    prewarm()
    from ansible_collections.governed.change.plugins.modules import check
    assert check.DOCUMENTATION in action_base._SPEC_CACHE  # pylint: disable=protected-access
    first, _doc = action_base.argument_spec_from_doc(check.DOCUMENTATION)
    first["pre"]["type"] = "str"
    first.pop("post")
    second, _doc = action_base.argument_spec_from_doc(check.DOCUMENTATION)
    assert second["pre"]["type"] != "str" and "post" in second
