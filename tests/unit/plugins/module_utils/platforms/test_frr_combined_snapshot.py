# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An FRR snapshot reads its five answers through one vtysh (issue 16: a vtysh per command costs the router's host about
25 ms of CPU, five per snapshot, polled by every check); any doubt about the combined answer and it reads the commands one
by one, as before. Run for real with /bin/sh and a stand-in vtysh on PATH that answers from files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError
from ansible_collections.governed.change.plugins.module_utils.platforms import base, frr

ANSWERS = {
    "show bgp ipv4 unicast summary json": {"routerId": "10.255.0.1", "as": 65001, "peers": {
        "10.0.12.2": {"remoteAs": 65002, "state": "Established", "pfxRcd": 2, "peerUptimeMsec": 5000}}},
    "show bgp ipv4 unicast json": {"routerId": "10.255.0.1", "routes": {"10.1.1.0/24": [{"valid": True, "bestpath": True}]}},
    "show interface json": {"lo": {"operationalStatus": "up", "ipAddresses": [{"address": "10.255.0.1/32"}]}},
    "show bgp ipv4 unicast summary failed json": {"peers": {}},
}
CONFIG = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nhostname r1\n!\nend\n"

# prints the answer of each -c in turn (like vtysh); a command listed in $FAKE_VTYSH_UNKNOWN prints an error and stops
FAKE_VTYSH = r"""#!/bin/sh
echo "$*" >> "$FAKE_VTYSH_DIR/calls"
while [ $# -gt 0 ]; do
  case "$1" in
    --vty_socket) shift 2 ;;
    -c) if [ -n "$FAKE_VTYSH_UNKNOWN" ] && [ "$2" = "$FAKE_VTYSH_UNKNOWN" ]; then echo "% Unknown command: $2"; exit 1; fi
        cat "$FAKE_VTYSH_DIR/$(echo "$2" | tr ' ' '_')"; shift 2 ;;
    *) shift ;;
  esac
done
"""


class LocalShell(base.Transport):
    """The router's host shell, run locally with /bin/sh (the stand-in vtysh first on PATH)."""

    device = "r1"

    def __init__(self, env):
        self.env = env

    def run(self, command, stdin=None, timeout=None, check=True):
        start = time.time()
        proc = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=timeout or 30,
                              check=False, env=self.env)
        if check and proc.returncode != 0:
            raise DeviceError("rc %d: %s" % (proc.returncode, proc.stderr), where=self.device)
        return base.CommandResult(command, proc.returncode, proc.stdout, proc.stderr, time.time() - start)


@pytest.fixture(name="shell")
def _shell(tmp_path):
    (tmp_path / "bin").mkdir()
    vtysh = tmp_path / "bin" / "vtysh"
    vtysh.write_text(FAKE_VTYSH)
    vtysh.chmod(vtysh.stat().st_mode | stat.S_IEXEC)
    for command, answer in ANSWERS.items():
        (tmp_path / command.replace(" ", "_")).write_text(json.dumps(answer, indent=2) + "\n")
    (tmp_path / "show_running-config").write_text(CONFIG)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path / "bin", os.environ.get("PATH", "")), FAKE_VTYSH_DIR=str(tmp_path))
    return tmp_path, env


def _calls(folder):
    return (folder / "calls").read_text().splitlines() if (folder / "calls").exists() else []


def _without_time(snap):
    return {key: value for key, value in snap.items() if key != "taken_at"}


def test_one_vtysh_gives_the_snapshot_the_commands_one_by_one_give(shell):
    folder, env = shell
    combined = frr.FrrPlatform(LocalShell(env), "r1", vty_dir=str(folder)).snapshot()
    assert len(_calls(folder)) == 1 and _calls(folder)[0].count("-c ") == 5
    single = frr.FrrPlatform(LocalShell(env), "r1", vty_dir=str(folder))
    single.combined = False
    alone = single.snapshot()
    assert len(_calls(folder)) == 1 + 5
    assert _without_time(combined) == _without_time(alone)
    assert combined["sections"]["interfaces"]["lo"]["addresses"] == ["10.255.0.1/32"]
    assert combined["sections"]["config"]["running"]["lines"] == 5  # the config after its header


def test_a_command_this_frr_lacks_falls_back_to_one_vtysh_per_command_for_good(shell):
    folder, env = shell
    env = dict(env, FAKE_VTYSH_UNKNOWN=frr.FAILED_COMMAND)
    platform = frr.FrrPlatform(LocalShell(env), "r1", vty_dir=str(folder))
    first = platform.snapshot()
    assert platform.combined is False and len(_calls(folder)) == 1 + 5  # the combined try, then one by one
    platform.snapshot()
    assert len(_calls(folder)) == 1 + 5 + 5  # no second try on this device
    assert first["sections"]["interfaces"]["lo"]["addresses"] == ["10.255.0.1/32"]


def test_an_error_answer_keeps_its_own_message_through_the_fallback(shell):
    folder, env = shell
    (folder / "show_interface_json").write_text("% zebra is not running\n")
    with pytest.raises(DeviceError) as caught:
        frr.FrrPlatform(LocalShell(env), "r1", vty_dir=str(folder)).snapshot()
    assert "zebra" in str(caught.value) or "show interface json" in str(caught.value)


@pytest.mark.parametrize("text", [
    "",  # nothing
    '{"a": 1}\n{"b": 2}\n{"c": 3}\n' + CONFIG,  # one answer short
    '{"a": 1}\n% No BGP process is configured\n{"c": 3}\n{"d": 4}\n' + CONFIG,  # an error text in between
    '{"a": 1}\n{"b": 2}\n{"c": 3}\n{"d": 4}\n% Unknown command\n',  # no running config after the answers
    '{"a": 1}\n[]\n{"c": 3}\n{"d": 4}\n' + CONFIG,  # an answer that is not an object
])
def test_a_combined_answer_in_doubt_is_not_split(text):
    assert frr.split_combined(text) is None


def test_a_combined_answer_splits_into_each_json_text_and_the_config():
    answers, config = frr.split_combined('{"a": 1}\n{"b": {"c": [1, 2]}}\n  {"d": "x}"}\n{}\n' + CONFIG)
    assert [json.loads(a) for a in answers] == [{"a": 1}, {"b": {"c": [1, 2]}}, {"d": "x}"}, {}]
    assert config == CONFIG
