# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evidence that cannot silently vanish (issue 14): a stage playbook refuses to start while the evidence callback is off,
naming the line of configuration that fixes it; a change closed without it says so in the bundle's problems."""

from __future__ import annotations

import glob
import json
import os
import subprocess

from evidence_support import CHANGE, playbook, scheduled_change, stages
from repo_paths import ROOT, VENV_BIN

FIX_LINE = "callbacks_enabled = governed.change.evidence"


def _config_without_callback(tmp_path):
    """The project's ansible.cfg without its callbacks_enabled line (the state of a fresh Galaxy install)."""
    lines = []
    with open(os.path.join(ROOT, "ansible.cfg"), encoding="utf-8") as handle:
        for line in handle:
            if line.split("=")[0].strip() == "callbacks_enabled":
                continue
            if line.split("=")[0].strip() in ("collections_path", "inventory"):
                key, value = line.split("=", 1)
                line = "%s= %s\n" % (key, os.path.normpath(os.path.join(ROOT, value.strip())))
            lines.append(line)
    path = tmp_path / "ansible.cfg"
    path.write_text("".join(lines))
    return str(path)


def _stage(tmp_path, config, env=None):
    out = tmp_path / "out"
    environ = dict(os.environ, ANSIBLE_CONFIG=config, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    environ.pop("GOVERNED_EVIDENCE_ENABLED", None)
    environ.update(env or {})
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "review.yml"),
                           "-e", "governed_output_dir=%s" % out, "-e", "governed_assessment_file=%s" % (tmp_path / "none.json")],
                          cwd=str(tmp_path), env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    return proc, out


def test_a_stage_refuses_to_start_without_the_evidence_callback(tmp_path):
    proc, out = _stage(tmp_path, _config_without_callback(tmp_path))
    assert proc.returncode != 0
    assert "refusing to start a governed change: the callback governed.change.evidence is not enabled" in proc.stdout, proc.stdout[-3000:]
    assert FIX_LINE in proc.stdout
    assert "Run the review role" not in proc.stdout  # nothing after the guard ran
    assert not out.exists()


def test_a_stage_refuses_when_the_callback_is_switched_off(tmp_path):
    proc, out = _stage(tmp_path, os.path.join(ROOT, "ansible.cfg"), env={"GOVERNED_EVIDENCE_ENABLED": "false"})
    assert proc.returncode != 0 and "the callback governed.change.evidence is switched off" in proc.stdout, proc.stdout[-3000:]
    assert not out.exists()


def test_the_guard_passes_with_the_callback_enabled_by_environment(tmp_path):
    config = _config_without_callback(tmp_path)
    proc, _out = _stage(tmp_path, config, env={"ANSIBLE_CALLBACKS_ENABLED": "governed.change.evidence"})
    assert "refusing to start a governed change" not in proc.stdout
    assert "Run the review role" in proc.stdout, proc.stdout[-3000:]  # the stage itself ran (and refused the missing file)


def test_a_close_without_the_callback_says_so_in_the_bundle(tmp_path):
    ledger, out = scheduled_change(tmp_path, state="review")
    (tmp_path / "stages.json").write_text(json.dumps(stages(tmp_path)))
    task = {"name": "Close", "governed.change.close": {
        "ledger": ledger, "change_id": CHANGE, "outcome": "successful", "output_dir": out,
        "stages": "{{ lookup('file', '%s') | from_json }}" % (tmp_path / "stages.json")}}
    playbook(tmp_path, [task], env={"GOVERNED_EVIDENCE_ENABLED": "false"})
    found = glob.glob(os.path.join(out, "evidence", "**", "bundle.json"), recursive=True)
    assert len(found) == 1, found
    with open(found[0], encoding="utf-8") as handle:
        problems = json.load(handle)["problems"]
    assert any("did not record its tasks" in p and FIX_LINE in p for p in problems), problems
