# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the pipeline lab tests: an own lab instance (h3-, ports 233xx), signing keys, a webhook receiver, runs."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
import time

import pytest
import yaml

from labfixture import ROOT, lab_session, lab_ssh_argv, run_env, signing_keys

from ansible_collections.governed.change.plugins.module_utils import cli

LAB_ENV = {"GC_LAB_PREFIX": "h3-", "GC_LAB_PORT_BASE": "23300", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-h3")}
PORT_BASE = int(LAB_ENV["GC_LAB_PORT_BASE"])
HOST_PORTS = {"r1": PORT_BASE + 11, "r2": PORT_BASE + 12, "r3": PORT_BASE + 13, "fw1": PORT_BASE + 4}
CHANGES = os.path.join(ROOT, "examples", "changes")
PIPELINE = os.path.join(ROOT, "playbooks", "governed_change.yml")
ASSESS = os.path.join(ROOT, "playbooks", "assess.yml")
INVENTORY = os.path.join(ROOT, "lab", "inventory", "hosts.yml")
LAUNCHER = "svc-ci"


def sqlite_ledger(out):
    """The default ledger of a run: a SQLite file in its output directory."""
    return str(out / "ledger.sqlite")


# The instance the helpers below talk to: its lab settings, device ports, ledger per output directory (a path or a
# postgresql:// URL), the environment its runs add (PG* for a PostgreSQL ledger) and its timings file. A module with
# its own instance sets it for its lifetime through instance_session(); modules never interleave within one process.
ACTIVE = {"lab": LAB_ENV, "ports": HOST_PORTS, "ledger": sqlite_ledger, "env": {}, "timings": "pipeline_timings.json"}


def instance_session(lab_env, ledger=sqlite_ledger, env=None, timings="pipeline_timings.json"):
    """Generator fixture body: make (lab_env, ledger, env) the active instance, bring its lab up, yield its status; the
    previous instance and os.environ are restored and the lab torn down on every exit path. ``env`` (libpq PG* settings)
    also goes into os.environ: the tests' own ledger reads and `governed-change approve` run in this process."""
    base = int(lab_env["GC_LAB_PORT_BASE"])
    previous, saved = dict(ACTIVE), {key: os.environ.get(key) for key in (env or {})}
    ACTIVE.update(lab=lab_env, ledger=ledger, env=dict(env or {}), timings=timings,
                  ports={"r1": base + 11, "r2": base + 12, "r3": base + 13, "fw1": base + 4})
    os.environ.update(env or {})
    try:
        yield from lab_session(env=dict(os.environ, **lab_env))
    finally:
        ACTIVE.clear()
        ACTIVE.update(previous)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ledger_at(out):
    """The ledger location of the run writing to ``out`` on the active instance."""
    return ACTIVE["ledger"](out)


@pytest.fixture(scope="module")
def pipeline_lab():
    """This module's own lab instance (never the session `lab`), torn down on every exit path."""
    yield from instance_session(LAB_ENV)


@pytest.fixture(scope="module")
def pipeline_env(pipeline_lab):  # pylint: disable=unused-argument,redefined-outer-name
    env = run_env(ACTIVE["lab"])
    env.update(ACTIVE["env"])
    return env


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    """A copy of the lab policy trusting alice's real ed25519 key (netops), and the key."""
    return signing_keys(tmp_path_factory.mktemp("signing"))


class Receiver(http.server.BaseHTTPRequestHandler):
    """Collects every JSON POST (the escalation webhook) into the server's ``received`` list."""

    def do_POST(self):  # noqa: N802 - the http.server API names it so
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"path": self.path, "body": json.loads(body.decode("utf-8"))})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return


@pytest.fixture(scope="module")
def webhook():
    """A local escalation receiver on 127.0.0.1 (a thread); yields the server (``url``, ``received``)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []
    server.url = "http://127.0.0.1:%d/escalations" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def host_shell(device, command):
    """One command in a device's host shell (routers: inside the router's namespaces, FRR_VTY_DIR set)."""
    proc = subprocess.run(lab_ssh_argv(ACTIVE["lab"]["GC_LAB_RUN"], ACTIVE["ports"][device]) + [command],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def running_config(device):
    if device == "fw1":
        return host_shell(device, "nft list ruleset")
    return host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "show running-config"')


def config_sha(device):
    """sha256 of the running config without FRR's volatile header lines."""
    lines = [line for line in running_config(device).splitlines() if not line.startswith(("Building configuration", "Current configuration"))]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def vtysh_config(device, *lines):
    """Configure a router directly (test set-up and clean-up only)."""
    args = " ".join("-c %s" % json.dumps(line) for line in lines)
    host_shell(device, 'vtysh --vty_socket "$FRR_VTY_DIR" -c "configure terminal" %s' % args)


GOOD_CHANGE = os.path.join(CHANGES, "good_r1_static.yml")
GOOD_LINE = "ip address 192.0.2.1/32"


def good_change(tmp_path):
    """The low-risk good change (a service address on r1's loopback), copied so each run reads its own file."""
    path = tmp_path / "good_r1_static.yml"
    shutil.copy(GOOD_CHANGE, path)
    with open(path, encoding="utf-8") as handle:
        assert GOOD_LINE in yaml.safe_load(handle)["config"]["r1"]["lines"][1]
    return str(path)


def undo_good_change():
    vtysh_config("r1", "interface lo", "no " + GOOD_LINE)


def extra_vars(change, out, signing_dir, **more):
    data = {"governed_change_request": str(change), "governed_output_dir": str(out), "governed_ledger": ledger_at(out),
            "governed_policy": str(signing_dir / "policy.yml"), "governed_launcher": LAUNCHER}
    data.update(more)
    return data


def _json_doc(text):
    """The JSON callback's document (other callbacks may print after it)."""
    start = text.find("{")
    if start < 0:
        return {}
    doc, _end = json.JSONDecoder().raw_decode(text[start:])
    return doc


def run_playbook(env, playbook, variables, tmp_path, name):
    """ansible-playbook with the JSON callback; returns (rc, custom stats, output text, seconds)."""
    vars_file = tmp_path / ("%s.vars.json" % name)
    vars_file.write_text(json.dumps(variables))
    environ = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_SHOW_CUSTOM_STATS="1", ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), playbook, "-e", "@%s" % vars_file],
                          cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    (tmp_path / ("%s.log" % name)).write_text(proc.stdout)
    try:
        stats = _json_doc(proc.stdout).get("global_custom_stats") or {}
    except ValueError:
        stats = {}
    return proc.returncode, stats, proc.stdout, seconds


def run_runner(env, playbook, variables, tmp_path, name):
    """ansible_runner.run of a playbook (as AWX runs a job template); returns (rc, status, artifacts, output, seconds)."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    private = tmp_path / ("runner-%s" % name)
    private.mkdir()
    envvars = {key: env[key] for key in ("ANSIBLE_CONFIG", "PATH", "GC_LAB_PREFIX", "GC_LAB_PORT_BASE", "GC_LAB_RUN")}
    envvars.update((key, value) for key, value in env.items() if key.startswith("PG"))  # libpq settings, as AWX injects them
    started = time.monotonic()
    result = ansible_runner.run(private_data_dir=str(private), project_dir=ROOT, playbook=playbook, inventory=INVENTORY,
                                extravars=variables, envvars=envvars, quiet=True)
    seconds = time.monotonic() - started
    artifacts = {}
    for event in result.events:
        if event.get("event") == "playbook_on_stats":
            artifacts = (event.get("event_data") or {}).get("artifact_data") or {}
    output = result.stdout.read() if result.stdout else ""
    (tmp_path / ("%s.log" % name)).write_text(output)
    return result.rc, result.status, artifacts, output, seconds


def approve(out, change_id, signing_dir, identity="alice"):
    """Sign an approval for the change's current assessment with the identity's SSH key (`governed-change approve`)."""
    buf, err = io.StringIO(), io.StringIO()
    rc = cli.main(["approve", "--ledger", ledger_at(out), "--change", change_id,
                   "--assessment", str(out / "assessments" / ("%s.assessment.json" % change_id)),
                   "--key", str(signing_dir / identity), "--identity", identity, "--policy", str(signing_dir / "policy.yml"), "--yes"],
                  out=buf, err=err, stdin=io.StringIO(""))
    assert rc == 0, buf.getvalue() + err.getvalue()
