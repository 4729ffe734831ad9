# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml: `ansible-builder create` produces the build context offline, and the EE's pins match the repo's.

No container engine runs here, so the image itself is not built; what is checked is everything ansible-builder does
before the engine: schema validation, the Containerfile, and the context files (requirements, bindep, the collection).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import pytest
import yaml

from repo_paths import ROOT, VENV_BIN

BUILDER = os.path.join(VENV_BIN, "ansible-builder")
EE_FILES = ("execution-environment.yml", "requirements.txt", "requirements.yml", "bindep.txt")

pytestmark = pytest.mark.skipif(not os.path.exists(BUILDER), reason="ansible-builder is not installed (requirements-test.txt)")


def _load(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _source_tree(dest):
    """The repository's files as a release has them (tracked + new, not git-ignored): no lab run dirs, no out/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(str(dest), rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(str(dest), rel))
    return dest


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """Build the collection tarball and run `ansible-builder create` in a scratch copy of the EE definition."""
    work = tmp_path_factory.mktemp("ee")
    for name in EE_FILES:
        shutil.copy(os.path.join(ROOT, name), work / name)
    build = work / ".build" / "ee"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    source = _source_tree(work / "src")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(build), str(source)],
                          cwd=str(source), env=env, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the governed-change command's wheel (pyproject.toml; setuptools from the configured index)
    proc = subprocess.run([os.path.join(VENV_BIN, "python"), "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(build), str(source)], cwd=str(source), env=env, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([BUILDER, "create", "-f", str(work / "execution-environment.yml"), "--context", str(work / "context"),
                           "--output-filename", "Containerfile"],
                          cwd=str(work), env=env, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Complete! The build context can be found at" in proc.stdout
    return work / "context", proc


def test_builder_create_writes_the_containerfile(context):
    ctx, _proc = context
    text = (ctx / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % _load("execution-environment.yml")["images"]["base_image"]["name"] in text
    assert 'ARG PYCMD="/usr/bin/python3.11"' in text
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"' in text
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in text
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in text
    # governed.change itself is installed from the tarball copied into the context, offline, after the galaxy stage
    assert "COPY _build/governed/ /tmp/governed/" in text
    assert "ansible-galaxy collection install --offline --no-deps -p /usr/share/ansible/collections" in text
    assert text.index("FROM base AS final") < text.index("COPY _build/governed/")
    # and the governed-change command from its wheel, without pulling other versions of the EE's pinned packages
    assert "pip install --no-cache-dir --no-deps /tmp/governed/governed_change-*.whl" in text
    assert text.index("COPY _build/governed/") < text.index("RUN governed-change --version")


def test_builder_context_holds_requirements_bindep_and_the_collection(context):
    ctx, _proc = context
    build = ctx / "_build"
    for name in ("requirements.txt", "requirements.yml", "bindep.txt"):
        assert (build / name).read_text() == open(os.path.join(ROOT, name), encoding="utf-8").read(), name
    for script in ("assemble", "introspect.py", "install-from-bindep", "entrypoint", "check_galaxy", "check_ansible"):
        assert (build / "scripts" / script).is_file(), script
    tarballs = sorted(os.listdir(build / "governed"))
    version = _load("galaxy.yml")["version"]
    assert tarballs == ["governed-change-%s.tar.gz" % version, "governed_change-%s-py3-none-any.whl" % version]
    with tarfile.open(build / "governed" / tarballs[0]) as tar:
        names = set(tar.getnames())
    assert {"MANIFEST.json", "playbooks/assess.yml", "plugins/module_utils/ledger.py", "bindep.txt", "requirements.txt"} <= names


def test_introspection_merges_the_collection_requirements(context, tmp_path):
    """The builder's own introspect step (what runs inside the image build) over the pinned collections, run here."""
    ctx, _proc = context
    pip_out, bindep_out = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    subprocess.run([os.path.join(VENV_BIN, "python"), str(ctx / "_build" / "scripts" / "introspect.py"), "introspect",
                    os.path.join(ROOT, ".collections"), "--user-pip", str(ctx / "_build" / "requirements.txt"),
                    "--user-bindep", str(ctx / "_build" / "bindep.txt"), "--write-pip", str(pip_out),
                    "--write-bindep", str(bindep_out)], check=True, capture_output=True, text=True)
    pip_lines = pip_out.read_text().splitlines()
    assert "jmespath==1.1.0  # from collection user" in pip_lines
    assert "netaddr==1.3.0  # from collection user" in pip_lines
    assert "psycopg[binary]==3.3.6  # from collection user" in pip_lines  # the PostgreSQL ledger backend
    assert any(line.startswith("awxkit  # from collection awx.awx") for line in pip_lines)
    bindep_lines = bindep_out.read_text().splitlines()
    assert "openssh-clients [platform:rpm]  # from collection user" in bindep_lines
    assert any(line.startswith("libssh-devel [compile platform:rpm]") for line in bindep_lines)


def test_missing_collection_tarball_is_reported(tmp_path):
    """Without the collection built first, ansible-builder warns; the docs' build order matters."""
    for name in EE_FILES:
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    proc = subprocess.run([BUILDER, "create", "-f", str(tmp_path / "execution-environment.yml"), "--context", str(tmp_path / "ctx"),
                           "--output-filename", "Containerfile"], cwd=str(tmp_path), capture_output=True, text=True, check=False)
    assert "No matches for '.build/ee/governed-change-*.tar.gz' in additional_build_files" in proc.stdout + proc.stderr
    assert not (tmp_path / "ctx" / "_build" / "governed").exists()
