# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed-change command as a Python package (issue 14): `pip install .` in a clean venv gives a working
governed-change with the version of galaxy.yml, built from the collection's own plugins/module_utils (no copy)."""

from __future__ import annotations

import filecmp
import glob
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

pytestmark = pytest.mark.slow  # a venv and a pip install from the configured index: ~20-40 s

PACKAGE_FILES = ("pyproject.toml", "setup.py", "galaxy.yml", "README.md")
MODULE_UTILS = os.path.join("plugins", "module_utils")


def _source(dest):
    """What `pip install .` reads from a checkout (copied, so the shared tree gets no build/ or egg-info)."""
    dest.mkdir()
    for name in PACKAGE_FILES:
        shutil.copy(os.path.join(ROOT, name), dest / name)
    shutil.copytree(os.path.join(ROOT, MODULE_UTILS), dest / MODULE_UTILS,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    work = tmp_path_factory.mktemp("clipkg")
    source = _source(work / "src")
    env_dir = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, capture_output=True, timeout=120)
    proc = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "."], cwd=str(source),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return env_dir


def _run(venv_dir, *args, cwd):
    environ = dict(os.environ, PATH=str(venv_dir / "bin") + os.pathsep + os.environ.get("PATH", ""))
    for name in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG", "GOVERNED_CHANGE_LEDGER"):
        environ.pop(name, None)
    return subprocess.run([str(venv_dir / "bin" / "governed-change")] + list(args), cwd=str(cwd), env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


def test_version_is_the_collections(venv, tmp_path):
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    proc = _run(venv, "--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "governed-change %s" % version


def test_the_installed_command_is_the_collections_code_and_works_outside_the_repo(venv, tmp_path):
    installed = glob.glob(str(venv / "lib" / "python*" / "site-packages" / "ansible_collections" / "governed" / "change" /
                              "plugins" / "module_utils"))
    assert len(installed) == 1, installed
    for name in ("cli.py", "ledger.py", os.path.join("workflow", "runner.py")):
        assert filecmp.cmp(os.path.join(ROOT, MODULE_UTILS, name), os.path.join(installed[0], name), shallow=False), name
    ledger = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(ledger) as led:
        led.create_change("CHG-2001", "Add a static route on r1", "dave")
    proc = _run(venv, "ledger", "verify", "--ledger", ledger, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run(venv, "ledger", "show", "CHG-2001", "--ledger", ledger, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("CHG-2001"), proc.stdout + proc.stderr
    # a wrong path is an error message, not a traceback
    proc = _run(venv, "ledger", "verify", "--ledger", str(tmp_path / "absent.sqlite"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "does not exist" in proc.stderr
