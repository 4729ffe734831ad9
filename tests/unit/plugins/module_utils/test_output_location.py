# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a governed run writes (issue 14): $GOVERNED_CHANGE_OUTPUT_DIR, else ./out; never inside an installed collection."""

from __future__ import annotations

import os

import pytest

from ansible_collections.governed.change.plugins.module_utils import paths
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError


def test_default_is_out_in_the_working_directory_and_the_environment_wins(tmp_path):
    assert paths.default_output_dir(environ={}, cwd=str(tmp_path)) == os.path.join(str(tmp_path), "out")
    chosen = tmp_path / "state" / "governed"
    assert paths.default_output_dir(environ={"GOVERNED_CHANGE_OUTPUT_DIR": str(chosen)}, cwd="/") == str(chosen)
    # relative values are taken from the working directory of the process, made absolute
    assert os.path.isabs(paths.default_output_dir(environ={"GOVERNED_CHANGE_OUTPUT_DIR": "rel/out"}))


def _installed(tmp_path):
    root = tmp_path / "ansible_collections" / "governed" / "change"
    (root / "playbooks").mkdir(parents=True)
    (root / "MANIFEST.json").write_text("{}")
    return root


def test_a_path_inside_an_installed_collection_is_refused_with_the_setting_to_use(tmp_path):
    root = _installed(tmp_path)
    for inside in (root, root / "out", root / "playbooks" / ".." / "out" / "ledger.sqlite"):
        with pytest.raises(ValidationError) as caught:
            paths.check_outside_collection(str(inside), where="governed_output_dir", root=str(root))
        text = str(caught.value)
        assert text.startswith("governed_output_dir: ") and "inside the installed collection" in text
        assert "GOVERNED_CHANGE_OUTPUT_DIR" in text and "governed_output_dir" in caught.value.fix


def test_a_symlink_into_the_installed_collection_is_refused(tmp_path):
    root = _installed(tmp_path)
    link = tmp_path / "looks-outside"
    link.symlink_to(root)
    with pytest.raises(ValidationError):
        paths.check_outside_collection(str(link / "out"), root=str(root))


def test_outside_paths_and_a_source_checkout_are_accepted(tmp_path):
    root = _installed(tmp_path)
    outside = tmp_path / "work" / "out"
    assert paths.check_outside_collection(str(outside), root=str(root)) == str(outside)
    # a sibling whose name starts like the collection's folder is not inside it
    assert paths.check_outside_collection(str(root) + "-data", root=str(root)) == str(root) + "-data"
    checkout = tmp_path / "checkout"
    (checkout / "out").mkdir(parents=True)
    (checkout / "galaxy.yml").write_text("namespace: governed\n")
    assert paths.installed_collection_root(str(checkout)) is None
    assert paths.check_outside_collection(str(checkout / "out"), root=str(checkout)) == str(checkout / "out")
    assert paths.check_outside_collection("", root=str(root)) == ""
