# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed governed-change command validates every shipped workflow template (functional tier)."""

from __future__ import annotations

import glob
import os
import subprocess

from repo_paths import ROOT

WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflow_templates", "*.yml")))


def test_cli_validates_all_shipped_templates():
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "governed-change"), "workflow", "validate"] + WORKFLOWS,
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
