# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device stages' ssh command line: host keys verified by default, the inventory's Ansible SSH settings honoured
(known_hosts file, ProxyJump/ProxyCommand bastions, user, key, timeout), and an opt-out that is recorded."""

from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport, ssh_option_values
from ansible_collections.governed.change.plugins.plugin_utils import ssh_settings
from ansible_collections.governed.change.plugins.plugin_utils.device_action import DeviceActionBase, note_unverified, resolve_become

KNOWN = "-o UserKnownHostsFile=/srv/lab/known_hosts"


def option_index(argv, option):
    return argv.index(option) - 1 if option in argv else -1


# argv -----------------------------------------------------------------------------------------------------

def test_default_verifies_the_host_key_before_any_inventory_argument():
    argv = SSHTransport("127.0.0.1", port=2222, device="r1", common_args=KNOWN + " -o ConnectTimeout=9").argv("show")
    assert argv[:3] == ["ssh", "-p", "2222"] and argv[-2:] == ["root@127.0.0.1", "show"]
    assert "StrictHostKeyChecking=yes" in argv and "StrictHostKeyChecking=no" not in argv
    assert "UserKnownHostsFile=/dev/null" not in argv
    # ssh keeps an option's first value: BatchMode and the host key policy first, the inventory's arguments next,
    # the transport's own defaults last (the inventory's ConnectTimeout=9 wins over the default).
    assert option_index(argv, "BatchMode=yes") < option_index(argv, "StrictHostKeyChecking=yes") < option_index(
        argv, "UserKnownHostsFile=/srv/lab/known_hosts") < option_index(argv, "ConnectTimeout=9") < option_index(argv, "ConnectTimeout=5")


def test_opt_out_is_explicit_and_visible_on_the_transport():
    transport = SSHTransport("127.0.0.1", device="r1", host_key_checking=False, common_args="-o StrictHostKeyChecking=no")
    argv = transport.argv("true")
    assert argv[argv.index("StrictHostKeyChecking=no") + 2] == "UserKnownHostsFile=/dev/null"
    assert transport.host_key_checking is False


@pytest.mark.parametrize("args", [
    "-o StrictHostKeyChecking=no",
    "-oStrictHostKeyChecking=no",
    "-o 'StrictHostKeyChecking no'",
    "-o StrictHostKeyChecking=accept-new",
    "-o stricthostkeychecking=OFF",
    ["-o", "StrictHostKeyChecking=false"],
])
def test_arguments_that_undo_checking_are_refused_while_it_is_on(args):
    with pytest.raises(ValidationError) as info:
        SSHTransport("127.0.0.1", device="r1", common_args=args)
    assert info.value.where == "r1: ansible_ssh_common_args / ansible_ssh_extra_args"
    assert "turn host key checking off" in info.value.problem and "ansible_host_key_checking: false" in info.value.fix


def test_known_hosts_dev_null_is_refused_in_extra_args_too():
    with pytest.raises(ValidationError) as info:
        SSHTransport("127.0.0.1", device="fw1", extra_args="-o UserKnownHostsFile=/dev/null")
    assert "UserKnownHostsFile=/dev/null" in info.value.problem and "fw1" in info.value.where


def test_strict_yes_and_a_real_known_hosts_file_are_accepted():
    transport = SSHTransport("127.0.0.1", device="r1", common_args="-o StrictHostKeyChecking=yes -o 'UserKnownHostsFile=/a /dev/null'")
    assert transport.host_key_checking is True


def test_proxy_jump_and_proxy_command_pass_through_unsplit():
    command = "ssh -i /k -o UserKnownHostsFile=/kh -W %h:%p -p 26520 root@127.0.0.1"
    transport = SSHTransport("127.0.0.1", device="r1", common_args='%s -o ProxyCommand="%s"' % (KNOWN, command))
    argv = transport.argv("true")
    assert "ProxyCommand=%s" % command in argv and transport.jump() == "ProxyCommand"
    jumped = SSHTransport("127.0.0.1", device="r1", common_args="-F /srv/lab/ssh_config -o ProxyJump=k5-bastion " + KNOWN)
    assert jumped.jump() == "k5-bastion" and jumped.argv("true")[jumped.argv("true").index("-F") + 1] == "/srv/lab/ssh_config"
    assert SSHTransport("127.0.0.1", device="r1", extra_args="-J admin@jump:2200").jump() == "admin@jump:2200"
    assert SSHTransport("127.0.0.1", device="r1", common_args="-o ProxyJump=none").jump() is None


def test_first_value_wins_as_in_ssh():
    assert ssh_option_values(["-o", "ProxyJump=a", "-J", "b", "-oUser=x"]) == {"proxyjump": "a", "user": "x"}


def test_unbalanced_quotes_are_refused_with_the_field():
    with pytest.raises(ValidationError) as info:
        SSHTransport("127.0.0.1", device="r1", common_args='-o ProxyCommand="ssh -W %h:%p')
    assert "cannot be split" in info.value.problem and "ansible_ssh_common_args" in info.value.where


# Ansible's own resolution of the settings -----------------------------------------------------------------

def test_settings_resolve_like_ansibles_ssh_connection(monkeypatch):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    monkeypatch.delenv("ANSIBLE_SSH_HOST_KEY_CHECKING", raising=False)
    assert {"ansible_host_key_checking", "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_user",
            "ansible_ssh_private_key_file", "ansible_ssh_timeout"} <= set(ssh_settings.variable_names())
    assert ssh_settings.resolve({})["host_key_checking"] is True
    assert ssh_settings.resolve({})["timeout"] is None  # ansible.cfg's timeout is Ansible's, not the device stages'
    got = ssh_settings.resolve({"ansible_host_key_checking": False, "ansible_ssh_common_args": KNOWN, "ansible_user": "ops",
                                "ansible_ssh_timeout": 12, "ansible_ssh_extra_args": "-J jump"})
    assert got["host_key_checking"] is False and got["ssh_common_args"] == KNOWN and got["remote_user"] == "ops"
    assert got["timeout"] == 12 and got["ssh_extra_args"] == "-J jump"


def test_environment_opt_out_and_a_host_variable_over_it(monkeypatch):
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    assert ssh_settings.resolve({})["host_key_checking"] is False
    assert ssh_settings.resolve({"ansible_ssh_host_key_checking": True})["host_key_checking"] is True


class FakeDeviceAction(DeviceActionBase):  # pylint: disable=abstract-method
    """The real transport_for and its variable templating, without a task around it."""

    def __init__(self):  # pylint: disable=super-init-not-called
        self._templar = Templar(loader=DataLoader(), variables={})
        self._play_context = PlayContext()
        self._transports = []


def test_transport_for_builds_from_the_inventory(tmp_path, monkeypatch):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    key = tmp_path / "id"
    key.write_text("k")
    task_vars = {"inventory_hostname": "r1", "ansible_host": "127.0.0.1", "ansible_port": 26501, "governed_host_port": 26511,
                 "ansible_user": "root", "ansible_ssh_private_key_file": str(key),
                 "ansible_ssh_common_args": "-F /srv/lab/ssh_config -o ProxyJump=k5-bastion " + KNOWN,
                 "hostvars": {"fw1": {"ansible_host": "127.0.0.1", "ansible_port": 26504, "ansible_host_key_checking": False}}}
    action = FakeDeviceAction()
    transport = action.transport_for({}, task_vars)
    argv = transport.argv("true")
    assert transport.port == 26511 and transport.key_file == str(key) and transport.jump() == "k5-bastion"
    assert "StrictHostKeyChecking=yes" in argv and "UserKnownHostsFile=/srv/lab/known_hosts" in argv
    assert note_unverified({}, action._transports) == {}  # pylint: disable=protected-access
    other = action.transport_for({}, task_vars, host="fw1")
    assert other.port == 26504 and other.host_key_checking is False and other.user == "root"
    result = note_unverified({}, action._transports)  # pylint: disable=protected-access
    assert result["host_key_checking"] is False and "host key checking is off for fw1" in result["warnings"][0]


def test_transport_for_refuses_inventory_args_that_undo_checking():
    task_vars = {"inventory_hostname": "r2", "ansible_host": "127.0.0.1", "ansible_port": 22,
                 "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}
    with pytest.raises(ValidationError) as info:
        FakeDeviceAction().transport_for({}, task_vars)
    assert "r2: ansible_ssh_common_args" in info.value.where


# become: sudo on the device host, never a password ----------------------------------------------------------

def test_become_wraps_every_command_in_non_interactive_sudo():
    transport = SSHTransport("127.0.0.1", user="ops", device="fw1", become_user="root")
    assert transport.argv("nft -f - && echo 'ok'")[-1] == "sudo -n -H -u root -- /bin/sh -c 'nft -f - && echo '\"'\"'ok'\"'\"''"
    assert SSHTransport("127.0.0.1", user="root", device="fw1", become_user="root").argv("true")[-1] == "true"  # sudo to oneself


@pytest.mark.parametrize("become,method,user,password,expected", [
    (False, "sudo", "root", None, None),
    ("yes", "sudo", None, None, "root"),
    (True, "ansible.builtin.sudo", "netops", None, "netops"),
    (True, "enable", None, None, None),  # a network CLI privilege level: network_cli's business
])
def test_become_settings(become, method, user, password, expected):
    assert resolve_become(become, method, user, password, "fw1") == expected


@pytest.mark.parametrize("method,password,field", [("su", None, "ansible_become_method"), ("sudo", "secret", "ansible_become_password")])
def test_become_that_would_need_a_prompt_is_refused(method, password, field):
    with pytest.raises(ValidationError) as info:
        resolve_become(True, method, "root", password, "fw1")
    assert info.value.where == "fw1: %s" % field and "secret" not in str(info.value)


def test_transport_for_takes_become_from_the_play_and_the_other_hosts_variables():
    action = FakeDeviceAction()
    action._play_context.become = True  # pylint: disable=protected-access
    action._play_context.become_user = "root"  # pylint: disable=protected-access
    task_vars = {"inventory_hostname": "fw1", "ansible_host": "127.0.0.1", "ansible_user": "ops", "ansible_ssh_common_args": KNOWN,
                 "hostvars": {"r3": {"ansible_host": "127.0.0.1", "ansible_user": "ops", "ansible_become": True,
                                     "ansible_become_user": "frr", "ansible_ssh_common_args": KNOWN}}}
    assert action.transport_for({}, task_vars).become_user == "root"
    assert action.transport_for({}, task_vars, host="r3").become_user == "frr"
