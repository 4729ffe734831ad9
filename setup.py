# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed-change wheel's version is the collection's: the ``version:`` of galaxy.yml (everything else: pyproject.toml)."""

from __future__ import annotations

import os
import re

from setuptools import setup


def galaxy_version():
    """The top-level ``version:`` of galaxy.yml (read as text: the isolated build has no YAML parser)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "galaxy.yml"), encoding="utf-8") as handle:
        found = re.search(r"^version:\s*['\"]?([0-9][0-9A-Za-z.+-]*)['\"]?\s*$", handle.read(), re.MULTILINE)
    if not found:
        raise SystemExit("galaxy.yml has no version: line; fix: set version: X.Y.Z in galaxy.yml.")
    return found.group(1)


setup(version=galaxy_version())
