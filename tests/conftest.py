"""Make the collection importable as ansible_collections.governed.change for every test."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# Shared test helpers (repo_paths, assess_support, evidence_support, ...) are imported by bare name from any depth.
SUPPORT = os.path.join(ROOT, "tests", "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS)
