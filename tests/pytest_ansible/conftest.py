# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests that call the collection's modules through pytest-ansible's fixtures (localhost, ansible_module, ansible_adhoc).

pytest.ini disables pytest-ansible for the rest of the suite (-p no:pytest-ansible). These tests run in their own
invocation (scripts/test.sh), which enables it in inject-only mode so it never writes a collections/ tree into the
repository (ANSIBLE_COLLECTIONS_PATH points at .collections):

    ANSIBLE_COLLECTIONS_PATH=$PWD/.collections .venv/bin/pytest -p pytest-ansible --ansible-unit-inject-only tests/pytest_ansible

Collected in any other invocation, this directory is skipped (its fixtures would not exist)."""

from __future__ import annotations


def pytest_ignore_collect(collection_path, config):  # pylint: disable=unused-argument
    """Leave these tests out unless pytest-ansible is active in this run."""
    return not config.pluginmanager.has_plugin("ansible")
