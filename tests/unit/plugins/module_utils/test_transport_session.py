# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kept-open shell of the check polls (transport.ShellSession via SSHTransport.run_read): one session for many
reads, the same output and exit codes as separate runs, stdin kept away from the commands, and the usual way back
whenever the session breaks. A stand-in ``ssh`` runs the remote command with /bin/sh and logs every start."""

from __future__ import annotations

import os

import pytest

from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError
from ansible_collections.governed.change.plugins.module_utils.platforms.base import multi_command, split_multi
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport


@pytest.fixture(name="transport")
def _transport(tmp_path):
    log = tmp_path / "starts.log"
    fake = tmp_path / "ssh"
    fake.write_text("#!/bin/sh\necho start >> %s\nfor last; do :; done\nexec /bin/sh -c \"$last\"\n" % log)
    fake.chmod(0o755)
    transport = SSHTransport("127.0.0.1", device="r1", ssh_binary=str(fake), host_key_checking=False)
    yield transport, log
    transport.close_session()


def _starts(log):
    return len(log.read_text().splitlines()) if os.path.exists(log) else 0


def test_reads_share_one_session_and_give_what_separate_runs_give(transport):
    transport, log = transport
    command = multi_command(["echo one", "cat /nonexistent", "printf 'a b\\n'"])
    alone = split_multi(transport.run_read(command).stdout)
    assert _starts(log) == 1
    transport.open_session()
    shared = [split_multi(transport.run_read(command).stdout) for _attempt in range(5)]
    assert all(item == alone for item in shared) and alone["cat /nonexistent"][0] == 1
    assert _starts(log) == 2  # one more start for five reads
    assert transport.run_read("cat; echo done").stdout == "done\n"  # a command cannot eat the session's stdin
    transport.close_session()
    transport.run_read("true")
    assert _starts(log) == 3  # closed: back to one run per command


def test_a_broken_session_falls_back_to_the_usual_way(transport):
    transport, log = transport
    transport.open_session()
    assert transport.run_read("echo a").stdout == "a\n"
    # the session's shell dies under the command: the command is run again the usual way (a shell of its own)
    result = transport.run_read("kill -9 $$; echo never", check=False)
    assert result.rc != 0 and result.stdout == ""
    assert transport.session is None and not transport.session_wanted
    assert transport.run_read("echo b").stdout == "b\n" and _starts(log) == 3  # and so are the next reads


def test_a_failing_command_keeps_its_typed_error(transport):
    transport, _log = transport
    transport.open_session()
    with pytest.raises(DeviceError) as caught:
        transport.run_read("echo oops >&2; exit 3")
    assert "rc 3" in str(caught.value) and "oops" in str(caught.value)
    assert transport.run_read("exit 4", check=False).rc == 4


def test_no_answer_in_time_is_not_waited_for_twice(transport):
    transport, log = transport
    transport.open_session()
    with pytest.raises(DeviceError) as caught:
        transport.run_read("sleep 2; echo late", timeout=0.3)
    assert caught.value.transient and "no answer within" in str(caught.value)
    assert transport.session is None and _starts(log) == 1  # the session is closed, the command not run again
