"""Pure parts of the device stages: command plans, header stripping, output framing, batch planning."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import batches
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms import get_platform
from ansible_collections.governed.change.plugins.module_utils.platforms import base
from ansible_collections.governed.change.plugins.module_utils.platforms.frr import FrrPlatform, strip_header
from ansible_collections.governed.change.plugins.module_utils.platforms.linux import LinuxPlatform, normalize_ruleset
from ansible_collections.governed.change.plugins.module_utils.transport import SSHTransport

RUNNING = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nhostname r1\n!\nend\n"


class FakeTransport(base.Transport):
    """Records commands; answers from a list of (predicate, stdout)."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or []

    def run(self, command, stdin=None, timeout=None, check=True):
        self.calls.append((command, stdin))
        for pred, out in self.answers:
            if pred(command):
                return base.CommandResult(command, 0, out, "", 0.0)
        return base.CommandResult(command, 0, "", "", 0.0)


def test_strip_header_keeps_config_only():
    assert strip_header(RUNNING) == "!\nfrr version 8.4.4\nhostname r1\n!\nend\n"
    assert strip_header("hostname r1\nend") == "hostname r1\nend\n"


def test_registry():
    assert get_platform("frr") is FrrPlatform and get_platform("linux") is LinuxPlatform
    with pytest.raises(ValidationError):
        get_platform("junos")


def test_frr_command_plans_use_the_vty_socket_and_frr_reload():
    drv = FrrPlatform(FakeTransport(), "r1", state_dir="/s/r1")
    assert drv.deploy_command("/s/r1/c.cfg") == 'vtysh --vty_socket "$FRR_VTY_DIR" -f "/s/r1/c.cfg"'
    cmd = drv.restore_command("/s/r1/backup.cfg")
    assert cmd.startswith("/usr/lib/frr/frr-reload.py --reload ")
    assert '--vty_socket "$FRR_VTY_DIR"' in cmd and '--confdir "$FRR_VTY_DIR"' in cmd and '--rundir "/s/r1"' in cmd
    assert FrrPlatform(FakeTransport(), "r1").state_dir == "$FRR_VTY_DIR/governed"


def test_linux_restore_is_one_atomic_flush_and_load():
    drv = LinuxPlatform(FakeTransport(), "fw1", state_dir="/s/fw1")
    assert drv.restore_file_text("table inet filter {\n}\n").startswith("flush ruleset\ntable inet filter")
    assert drv.restore_command("/s/fw1/backup.cfg") == 'nft -f "/s/fw1/backup.cfg"'
    assert normalize_ruleset("\tcounter packets 12 bytes 900 accept\n\n") == "\tcounter accept\n"


def test_backup_reads_and_strips_and_secrets_stay_off_command_lines():
    fake = FakeTransport([(lambda c: "show running-config" in c, RUNNING.replace("hostname r1", "hostname r1\n neighbor 1.1.1.1 password SeCrEt")),
                          (lambda c: "setsid" in c, "armed 42\n")])
    drv = FrrPlatform(fake, "r1", state_dir="/s/r1")
    backup = drv.backup()
    assert backup["text"].startswith("!\nfrr version") and backup["redactions"] == 1
    assert backup["sha256"] != backup["redacted_sha256"]
    drv.arm_confirm(30, backup["text"])
    assert all("SeCrEt" not in cmd for cmd, _stdin in fake.calls)
    assert any(stdin and "SeCrEt" in stdin for _cmd, stdin in fake.calls)  # the backup travels on stdin


def test_arm_command_is_detached_and_claims_the_marker_atomically():
    drv = FrrPlatform(FakeTransport(), "r1", state_dir="/s/r1")
    cmd = drv.arm_command(30)
    assert "setsid sh -c" in cmd and "sleep 30" in cmd and "</dev/null >/dev/null 2>&1 &" in cmd
    assert 'mv "/s/r1/confirm.armed" "/s/r1/confirm.firing"' in cmd  # the timer only restores if it wins the rename
    with pytest.raises(ValidationError):
        drv.arm_confirm(2, "x")


def test_confirm_states():
    for answer, expect in (("claimed", None), ("reverted 0 1700000000", DeviceError), ("none", DeviceError)):
        drv = FrrPlatform(FakeTransport([(lambda c: "mv " in c, answer)]), "r1", state_dir="/s/r1")
        if expect:
            with pytest.raises(expect):
                drv.confirm()
        else:
            assert drv.confirm()["confirmed"]
    assert base.parse_confirm_status("armed 123 1000 990") == {"state": "armed", "pid": 123, "deadline": 1000, "remaining": 10}
    assert base.parse_confirm_status("reverted 0 55") == {"state": "reverted", "revert_rc": 0, "reverted_at": 55}


def test_multi_command_framing_round_trip():
    out = "%s show a\n{}\n%s 0\n%s show b\nx\ny\n%s 2\n" % (base.BEGIN, base.END, base.BEGIN, base.END)
    assert base.split_multi(out) == {"show a": (0, "{}\n"), "show b": (2, "x\ny\n")}
    with pytest.raises(DeviceError):
        base.split_multi("%s show a\n{}\n" % base.BEGIN)
    assert "echo \"%s $?\"" % base.END in base.multi_command(["show a"])


def test_probes_plan_and_parse_fail_closed():
    probes = [{"type": "tcp", "host": "10.0.45.10", "port": 8080, "from": "r3"}, {"type": "ping", "host": "10.255.0.1"}]
    cmd = base.probe_command(probes)
    assert "/dev/tcp/10.0.45.10/8080" in cmd and "ping -c 1" in cmd and cmd.endswith("wait")
    res = base.parse_probe_output(probes, "%s 0 ok\n" % base.PROBE_MARK)
    assert res == {"tcp 10.0.45.10:8080 from r3": "ok", "ping 10.255.0.1": "fail"}
    with pytest.raises(ValidationError):
        base.probe_command([{"type": "tcp", "host": "x; rm -rf /", "port": 1}])


def test_deploy_refusal_is_a_device_error_with_redacted_output():
    class Refusing(FakeTransport):
        def run(self, command, stdin=None, timeout=None, check=True):
            self.calls.append((command, stdin))
            if "-f" in command and "vtysh" in command:
                return base.CommandResult(command, 2, "line 2: % Unknown command: neighbor x password TopSecret", "", 0)
            return base.CommandResult(command, 0, "", "", 0)
    with pytest.raises(DeviceError) as exc:
        FrrPlatform(Refusing(), "r1", state_dir="/s").deploy(["router bgp 1", " bogus"])
    assert "TopSecret" not in str(exc.value) and "<redacted:" in str(exc.value)


def test_ssh_transport_argv_and_unreachable(tmp_path):
    t = SSHTransport("127.0.0.1", port=1, user="root", device="r9", connect_timeout=2)
    argv = t.argv("true")
    assert argv[:3] == ["ssh", "-p", "1"] and "BatchMode=yes" in argv and argv[-2:] == ["root@127.0.0.1", "true"]
    with pytest.raises(DeviceError) as exc:
        t.run("true")
    assert exc.value.transient and "unreachable" in str(exc.value) and exc.value.fix
    with pytest.raises(ValidationError):
        SSHTransport("127.0.0.1", port=22, key_file=str(tmp_path / "missing"))


def test_plan_batches_canary_first():
    assert batches.plan_batches(["r1", "r2", "r3", "fw1"], canary=1, batch_size=2) == [["r1"], ["r2", "r3"], ["fw1"]]
    assert batches.plan_batches(["r1", "r2", "r3"]) == [["r1"], ["r2", "r3"]]
    assert batches.plan_batches(["r1", "r2"], canary=0) == [["r1", "r2"]]
    assert batches.plan_batches([]) == []
    with pytest.raises(ValidationError):
        batches.plan_batches(["r1", "r1"])
    with pytest.raises(ValidationError):
        batches.plan_batches(["r1"], batch_size=0)


def test_batch_decision_and_rollback_scope():
    assert batches.batch_decision(["r1"], [], 0)["halt"] is False
    assert batches.batch_decision(["r1", "r2"], ["r2"], 0)["halt"] is True
    assert batches.batch_decision(["r1", "r2"], ["r2"], 1)["halt"] is False
    with pytest.raises(ValidationError):
        batches.batch_decision(["r1"], ["r9"], 0)
    assert batches.rollback_targets("all", ["r1", "r3"], ["r3"]) == ["r1", "r3"]
    assert batches.rollback_targets("failed", ["r1", "r3"], ["r3"]) == ["r3"]
    assert batches.rollback_targets("failed", ["r2"], [], failed_elsewhere=["r1"]) == ["r2"]
    assert batches.rollback_targets("failed", ["r1"], []) == []
    with pytest.raises(ValidationError):
        batches.rollback_targets("some", ["r1"], [])
