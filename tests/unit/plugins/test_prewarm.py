# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils/prewarm.py loads every task-side plugin of the collection in the controller process (issue 16: a forked
worker then finds them imported and each action's argument spec parsed), and the parsed specs are shared safely."""

from __future__ import annotations

import json
import os
import subprocess
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


# run in its own process, set up as ansible-playbook sets itself up (the plugin loader and the collection finder)
_PREWARM_SCRIPT = """
import json, sys
from ansible import constants as C
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[2]])
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible_collections.governed.change.plugins.plugin_utils.prewarm import prewarm_connections
NAME = "ansible_collections.ansible.netcommon.plugins.connection.network_cli"  # the key Ansible keeps the settings under
before = C.config.has_configuration_definition("connection", NAME)
loaded, skipped = prewarm_connections(InventoryManager(loader=DataLoader(), sources=[sys.argv[1]]))
print(json.dumps({"before": before, "loaded": loaded, "skipped": skipped,
                  "after": C.config.has_configuration_definition("connection", NAME)}))
"""


def test_the_inventorys_connection_terminal_and_cliconf_plugins_are_loaded_with_their_settings(tmp_path):
    """prewarm_connections loads what a worker would build for every task of these hosts (network_cli, its SSH library's
    plugin, the FRR terminal and cliconf), so their configuration definitions are parsed before the fork; a templated
    value and a plugin that does not exist are left for their tasks (no error here)."""
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    routers:\n      vars:\n        ansible_connection: ansible.netcommon.network_cli\n"
        "        ansible_network_os: frr.frr.frr\n      hosts:\n        r1: {}\n        r2: {ansible_connection: '{{ conn }}'}\n"
        "    odd:\n      hosts:\n        x1: {ansible_connection: no.such.connection}\n")
    proc = subprocess.run([sys.executable, "-c", _PREWARM_SCRIPT, str(tmp_path / "hosts.yml"), os.path.join(ROOT, ".collections")],
                          capture_output=True, text=True, timeout=120, check=True, cwd=str(tmp_path),
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("connection_plugins/ansible.netcommon.network_cli", "connection_plugins/local", "connection_plugins/ssh",
                 "terminal_plugins/frr.frr.frr", "cliconf_plugins/frr.frr.frr"):
        assert name in result["loaded"], (name, result)
    assert "connection_plugins/no.such.connection" in result["skipped"]
    assert not any("{{" in name for name in result["loaded"] + result["skipped"])
    assert result["before"] is False and result["after"] is True


class _Play:  # the two things cache_vars_files reads of a play
    def __init__(self, folder, vars_files):
        self.folder, self.vars_files = folder, vars_files

    def get_search_path(self):
        return [self.folder]


def test_a_plays_vars_files_are_parsed_once_and_every_later_read_finds_them(tmp_path):
    """Ansible re-reads a play's vars_files for every host of every task (only vaulted ones are cached); cache_vars_files
    parses them once through the loader's cache, so the read Ansible's get_vars makes returns the parsed data."""
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible_collections.governed.change.plugins.plugin_utils.prewarm import cache_vars_files  # pylint: disable=import-outside-toplevel

    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "governed.yml").write_text("governed_now: ''\ngoverned_ledger: \"{{ governed_output_dir }}/ledger.sqlite\"\n")
    loader = DataLoader()
    play = _Play(str(tmp_path), ["vars/governed.yml", "{{ templated }}.yml", ["vars/missing.yml", "vars/governed.yml"]])
    cached = cache_vars_files(play, loader)
    path = str(tmp_path / "vars" / "governed.yml")
    assert cached == [path, path]  # the templated name is left to Ansible; a list entry caches the first file found
    (tmp_path / "vars" / "governed.yml").write_text("governed_now: changed\n")  # a later read is served from the cache
    data = loader.load_from_file(path, cache="vaulted", unsafe=True, trusted_as_template=True)  # get_vars' own call
    assert data["governed_now"] == "" and "governed_ledger" in data
