# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml and its requirements: ansible-builder v3 with the repo's files, galaxy requirements pinned
like the offline collections (in-process; ansible-builder itself runs in tests/functional/test_execution_environment.py)."""

from __future__ import annotations

import os

import yaml

from repo_paths import ROOT


def _pins(path):
    pins = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[name.strip().lower()] = version.strip()
    return pins


def _collection_pins():
    rows = {}
    with open(os.path.join(ROOT, "requirements-collections.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                _wheel, fqcn, version = line.split()
                rows[fqcn] = version
    return rows


def _load(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_definition_is_ansible_builder_v3_with_the_repo_files():
    ee = _load("execution-environment.yml")
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    deps = ee["dependencies"]
    assert (deps["python"], deps["galaxy"], deps["system"]) == ("requirements.txt", "requirements.yml", "bindep.txt")
    pins = _pins(os.path.join(ROOT, "requirements.txt"))
    # the EE's ansible-core and ansible-runner are the ones the repo is tested with
    assert deps["ansible_core"]["package_pip"] == "ansible-core==%s" % pins["ansible-core"]
    assert deps["ansible_runner"]["package_pip"] == "ansible-runner==%s" % pins["ansible-runner"]


def test_galaxy_requirements_match_the_offline_collection_pins():
    wanted = _collection_pins()
    listed = {item["name"]: item["version"] for item in _load("requirements.yml")["collections"]}
    assert listed == wanted
    # and every collection galaxy.yml depends on is in the EE
    assert set(_load("galaxy.yml")["dependencies"]) <= set(listed)
