# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/controller_load.yml through ansible-playbook: syntax check, and check mode refuses to run without the
controller settings (functional tier)."""

from __future__ import annotations

import os
import subprocess

from repo_paths import ROOT

PLAYBOOK = os.path.join(ROOT, "playbooks", "controller_load.yml")


def _run(*argv, env=None):
    env = dict(os.environ if env is None else env, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    return subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), PLAYBOOK] + list(argv), cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_syntax_check():
    proc = _run("--syntax-check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_refuses_to_run_without_controller_settings():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CONTROLLER_", "TOWER_"))}
    proc = _run("--check", "-e", "governed_controller_allowed_signers=x", env=env)
    assert proc.returncode != 0
    assert "Set CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN" in proc.stdout
    assert "awx.awx" not in proc.stdout.split("Check that the controller connection is configured")[-1].split("PLAY RECAP")[0]
