# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH connection sharing of the device stages: one connection per device, ssh settings and Ansible run, in a folder
private to the user; off on request; the inventory's own Control* options win."""

from __future__ import annotations

import os

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport, ssh_option_values

KNOWN = "-o UserKnownHostsFile=/srv/lab/known_hosts"


def _control(tmp_path, **kw):
    out = {"dir": str(tmp_path / "cp"), "persist_s": 30, "scope": "ansible-run-1"}
    out.update(kw)
    return out


def test_off_by_default():
    argv = SSHTransport("127.0.0.1", device="r1", common_args=KNOWN).argv("show")
    assert not any(arg.startswith("Control") for arg in argv)


def test_on_shares_one_connection_with_a_private_socket_folder(tmp_path):
    transport = SSHTransport("127.0.0.1", port=2222, device="r1", common_args=KNOWN, control=_control(tmp_path))
    values = ssh_option_values(transport.argv("show"))
    assert values["controlmaster"] == "auto" and values["controlpersist"] == "30s"
    assert os.path.dirname(values["controlpath"]) == str(tmp_path / "cp")
    assert os.stat(tmp_path / "cp").st_mode & 0o777 == 0o700
    assert "%" not in values["controlpath"]  # no ssh token expansion: the name is the transport's own hash


def test_the_socket_differs_for_anything_that_decides_the_server_or_its_verification(tmp_path):
    def path(**kw):
        args = dict(host="127.0.0.1", port=2222, device="r1", common_args=KNOWN, control=_control(tmp_path))
        args.update(kw)
        return SSHTransport(**args).control_path()

    base = path()
    assert base == path()  # the same device and settings in the same run share
    others = [path(port=2223), path(host="127.0.0.2"), path(user="admin"), path(common_args="-o UserKnownHostsFile=/other"),
              path(common_args=KNOWN + " -o ProxyJump=bastion"), path(control=_control(tmp_path, scope="ansible-run-2")),
              path(host_key_checking=False, common_args="")]
    assert base not in others and len(set(others)) == len(others)


def test_the_inventorys_control_options_come_first_and_win(tmp_path):
    transport = SSHTransport("127.0.0.1", device="r1", common_args=KNOWN + " -o ControlMaster=no", control=_control(tmp_path))
    assert ssh_option_values(transport.argv("show"))["controlmaster"] == "no"


def test_zero_turns_sharing_off_and_bad_values_are_refused_with_the_field(tmp_path):
    assert SSHTransport("127.0.0.1", device="r1", control=_control(tmp_path, persist_s=0)).control is None
    for bad in (-1, "soon", 99999):
        with pytest.raises(ValidationError) as caught:
            SSHTransport("127.0.0.1", device="r1", control=_control(tmp_path, persist_s=bad))
        assert "governed_ssh_control_persist" in str(caught.value)


def test_a_socket_folder_others_can_enter_is_refused(tmp_path):
    folder = tmp_path / "cp"
    folder.mkdir()
    folder.chmod(0o755)
    with pytest.raises(ValidationError) as caught:
        SSHTransport("127.0.0.1", device="r1", control=_control(tmp_path))
    assert "not private" in str(caught.value) and "chmod 700" in str(caught.value)
