# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where things are, for every test: the repository root and the unit tests' fixture files (no tests here).

tests/conftest.py puts tests/support on sys.path, so a test imports this as ``from repo_paths import ROOT``
wherever it lives in the tree."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")
UNIT_FIXTURES = os.path.join(TESTS, "unit", "fixtures")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
