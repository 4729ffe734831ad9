# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a user gets it: built with `ansible-galaxy collection build`, installed offline into a clean
collections path beside its dependencies (copied from .collections - Galaxy is unreachable) (no tests here)."""

from __future__ import annotations

import os
import shutil
import subprocess

from repo_paths import ROOT, VENV_BIN


def clean_env(**more):
    """os.environ without any ANSIBLE_* setting of the checkout (its ansible.cfg, its collections path), plus ``more``."""
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith("ANSIBLE_"))
    env.update(more)
    return env


def build_and_install(base):
    """Build the collection from the checkout and install it into ``base``/collections; returns the installed root."""
    dist, collections = base / "dist", base / "collections"
    galaxy = os.path.join(VENV_BIN, "ansible-galaxy")
    proc = subprocess.run([galaxy, "collection", "build", "--output-path", str(dist), ROOT], capture_output=True, text=True,
                          timeout=300, check=False, env=clean_env(), cwd=str(base))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = [name for name in os.listdir(dist) if name.endswith(".tar.gz")]
    assert len(tarball) == 1, tarball
    # the dependencies (ansible.netcommon -> ansible.utils, frr.frr, awx.awx), from the offline set make setup unpacked
    (collections / "ansible_collections").mkdir(parents=True)
    for namespace in ("ansible", "awx", "frr"):
        shutil.copytree(os.path.join(ROOT, ".collections", "ansible_collections", namespace),
                        collections / "ansible_collections" / namespace, symlinks=True)
    proc = subprocess.run([galaxy, "collection", "install", "--offline", "-p", str(collections), str(dist / tarball[0])],
                          capture_output=True, text=True, timeout=300, check=False, cwd=str(base), env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = collections / "ansible_collections" / "governed" / "change"
    assert (root / "MANIFEST.json").is_file() and (root / "playbooks" / "governed_change.yml").is_file()
    return root


def tree(root):
    """Every file of the installed collection with its size and mtime (Python's own __pycache__ left out)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return found
