"""Make the collection importable as ansible_collections.governed.change for every test."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# Shared test helpers (repo_paths, assess_support, evidence_support, ...) are imported by bare name from any depth.
SUPPORT = os.path.join(ROOT, "tests", "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS)


@pytest.fixture(scope="module", autouse=True)
def _drop_ansible_collection_finder():
    """A test module that initialises Ansible's plugin loader (init_plugin_loader) installs Ansible's collection finder in
    sys.meta_path for the rest of the process; a later module's first import of a collection module then fails with
    "collection metadata was not loaded". Remove the finder after each module, so every module starts as collection does."""
    yield
    # pylint: disable-next=import-outside-toplevel
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    if any(isinstance(finder, _AnsibleCollectionFinder) for finder in sys.meta_path):
        _AnsibleCollectionFinder._remove()  # pylint: disable=protected-access
