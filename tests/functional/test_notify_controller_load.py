# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX notification templates of controller/notification_templates.yml: playbooks/controller_load.yml with the real
awx.awx modules against the local AWX v2 API stand-in (tests/support/awx_api.py) and the job-notification webhook URL
set - the template is created once and attached to every job template for start, success and failure, and the URL (a
secret) is not in the play's output. Without the URL nothing is created (tests/functional/test_controller_load_awx_api.py
loads the same configuration without it)."""

from __future__ import annotations

import os
import subprocess

import yaml

from awx_api import FakeAwx
from repo_paths import ROOT, VENV_BIN

TOKEN = "test-token-7a2d"
SIGNERS = 'alice@lab namespaces="governed.change" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOjQ'
URL = "https://hooks.example.invalid/awx/jobNotifySecretPath42"


def test_job_notification_template_is_created_and_attached_to_every_job_template():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "TOWER_", "AWX_"))}
    with FakeAwx(TOKEN) as fake:
        env.update(CONTROLLER_HOST=fake.url, CONTROLLER_OAUTH_TOKEN=TOKEN, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "playbooks/controller_load.yml",
                               "-e", "governed_controller_allowed_signers='%s'" % SIGNERS, "-e", "governed_controller_job_webhook_url=%s" % URL],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        (template,) = fake.of("notification_templates", name="governed-change jobs")
        job_templates = list(fake.objects["job_templates"].values())
    assert template["notification_type"] == "webhook" and template["notification_configuration"]["url"] == URL
    with open(os.path.join(ROOT, "controller", "job_templates.yml"), encoding="utf-8") as handle:
        names = {entry["name"] for entry in yaml.safe_load(handle)["controller_templates"]}
    assert {jt["name"] for jt in job_templates} == names
    for job_template in job_templates:
        for kind in ("notification_templates_started", "notification_templates_success", "notification_templates_error"):
            assert job_template["_associations"].get(kind) == [template["id"]], (job_template["name"], kind)
    assert "jobNotifySecretPath42" not in proc.stdout + proc.stderr
