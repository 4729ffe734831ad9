# -*- coding: utf-8 -*-
"""No action plugin imports another action plugin: shared pieces live in plugin_utils (device work) or module_utils (logic)."""

from __future__ import annotations

import ast
import os

import pytest

from ansible_collections.governed.change.plugins import action as action_package

ACTION_DIR = os.path.abspath(list(action_package.__path__)[0])  # a namespace package: no __file__
FORBIDDEN = ("ansible_collections.governed.change.plugins.action", "plugins.action")


def _action_files():
    return sorted(name for name in os.listdir(ACTION_DIR) if name.endswith(".py") and name != "__init__.py")


def imported_modules(source):
    """Every module an import statement of ``source`` names (``from X import y`` gives X and X.y)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            names.extend("%s.%s" % (base, alias.name) for alias in node.names)
    return names


def action_imports(source):
    """The imports of ``source`` that reach into plugins/action (absolute, or relative from inside it)."""
    return [name for name in imported_modules(source)
            if name.startswith(FORBIDDEN) or ".plugins.action." in name or name.startswith(".")]


def test_the_action_folder_is_found():
    assert len(_action_files()) >= 15


@pytest.mark.parametrize("name", _action_files())
def test_no_action_imports_another_action(name):
    with open(os.path.join(ACTION_DIR, name), "r", encoding="utf-8") as handle:
        found = action_imports(handle.read())
    assert found == [], "plugins/action/%s imports %s: move the shared piece to plugin_utils or module_utils" % (name, found)


@pytest.mark.parametrize("source", [
    "from ansible_collections.governed.change.plugins.action.deploy import load_backup\n",
    "import ansible_collections.governed.change.plugins.action.snapshot\n",
    "from ansible_collections.governed.change.plugins.action import runbook\n",
    "from .snapshot import take\n",
])
def test_the_rule_catches_an_action_import(source):
    assert action_imports(source)


def test_the_rule_lets_core_imports_through():
    assert action_imports("from ansible_collections.governed.change.plugins.module_utils import statestore\n"
                          "from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase\n") == []
