# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local workflow runner refuses a workflow that does not validate before anything runs (in-process; the runs through
ansible-runner are in tests/functional/test_workflow_runner.py)."""

from __future__ import annotations

import io
import os
import shutil

from repo_paths import UNIT_FIXTURES

from ansible_collections.governed.change.plugins.module_utils.cli import main

FIXTURES = UNIT_FIXTURES
CONTROLLER = os.path.join(FIXTURES, "workflows", "controller.yml")


def test_invalid_workflow_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "bad.yml"
    shutil.copy(os.path.join(FIXTURES, "workflows", "broken_cycle.yml"), path)
    err = io.StringIO()
    code = main(["workflow", "run", str(path), "--controller-config", CONTROLLER, "--project-dir", FIXTURES,
                 "--run-dir", str(tmp_path / "run")], out=io.StringIO(), err=err)
    assert code == 2 and "the workflow does not validate (1 problem(s)); first:" in err.getvalue()
    assert not os.path.exists(tmp_path / "run")
