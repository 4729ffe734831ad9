# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live values (nft counters, quota use, set expiry, dynamic set members) never reach the diff, the content hash or the
restore check; a real rule change still does. The fixtures are `nft list ruleset` output of nftables 1.0.6."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.governed.change.plugins.module_utils.assess import assess, prepare_diffs
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.live_values import strip_live_values, strip_nft_live_values
from ansible_collections.governed.change.plugins.module_utils.platforms.linux import normalize_ruleset
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

from assess_support import FRR_R2, INVENTORY, NOW, POLICY_FILE, example
from repo_paths import UNIT_FIXTURES

FIXTURES = os.path.join(UNIT_FIXTURES, "nft")
# fw1's ruleset as `nft list ruleset` prints it on the lab (lab/lab.py), after some traffic.
FW1_RUNNING = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tct state established,related counter packets 31 bytes 1839 accept comment "return traffic"
\t\ticmp type echo-request counter packets 0 bytes 0 accept comment "ping"
\t\tiifname "eth-srv1" counter packets 12 bytes 900 accept comment "server egress"
\t\tiifname "eth-r3" oifname "eth-srv1" ip daddr 10.0.45.10 tcp dport 8080 counter packets 5 bytes 300 accept comment "acl: web to srv1"
\t}
}
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def more_traffic(text):
    """The same ruleset a while later: every counter, quota use and expiry moved on."""
    text = re.sub(r"packets (\d+) bytes (\d+)", lambda m: "packets %d bytes %d" % (int(m.group(1)) + 7, int(m.group(2)) + 980), text)
    text = re.sub(r"used (\d+) bytes", lambda m: "used %d kbytes" % (int(m.group(1)) + 3), text)
    return re.sub(r"expires (\d+)m", lambda m: "expires %dm" % (int(m.group(1)) - 1), text)


@pytest.fixture(scope="module")
def lab_policy():
    return load_policy(POLICY_FILE)


def test_live_values_leave_a_real_ruleset():
    text = fixture("live_values.nft")
    assert "packets 4 bytes 336" in text and "used 672 bytes" in text and "127.0.0.1 expires 59m20s692ms" in text
    stripped = strip_nft_live_values(text)
    assert stripped == (
        "table inet t {\n\tcounter named_c {\n\t}\n\n\tquota named_q {\n\t\tover 100 mbytes\n\t}\n\n"
        "\tset s {\n\t\ttype ipv4_addr\n\t\ttimeout 1h\n\t\telements = { 10.9.9.9, 127.0.0.1 }\n\t}\n\n"
        "\tset d {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 10m\n\t}\n\n"
        "\tchain c {\n\t\ttype filter hook input priority filter; policy accept;\n"
        "\t\ttcp dport 22 counter quota over 1 mbytes accept\n\t\tip saddr @s counter name \"named_c\"\n"
        "\t\tupdate @d { ip saddr } counter\n\t\tquota name \"named_q\"\n\t}\n}\n")
    assert strip_nft_live_values(stripped) == stripped
    assert strip_nft_live_values(more_traffic(text)) == stripped


def test_dynamic_set_members_over_several_lines_are_dropped():
    text = fixture("dynamic_set.nft")
    assert text.count("10.1.1.") == 30 and "\t\t\t     10.1.1.3 expires" in text
    stripped = strip_nft_live_values(text)
    assert "10.1.1." not in stripped and "flags dynamic,timeout" in stripped
    assert "elements = { 10.9.9.9, 127.0.0.1 }" in stripped  # the static set keeps its members
    assert stripped.rstrip().endswith("\t\tquota name \"named_q\"\n\t}\n}")


def test_quoted_text_and_other_platforms_are_untouched():
    line = 'tcp dport 22 counter packets 3 bytes 180 accept comment "counter packets 1 bytes 2, expires 5m"\n'
    assert strip_nft_live_values(line) == 'tcp dport 22 counter accept comment "counter packets 1 bytes 2, expires 5m"\n'
    assert strip_live_values(FRR_R2, "frr") == FRR_R2
    assert strip_live_values(FRR_R2) == FRR_R2  # not a ruleset: no table line
    assert strip_live_values("table inet x {\n\tcounter packets 1 bytes 2\n}\n", "frr").count("packets 1") == 1
    assert strip_live_values(None, "linux") is None


def test_traffic_leaves_the_diff_and_content_hash_alone(lab_policy):
    def run(running, platform="linux"):
        return assess(example("changes/acl_update_fw1.yml"), lab_policy, INVENTORY,
                      {"fw1": {"running": running, "platform": platform}}, now=NOW)

    before, after = run(FW1_RUNNING), run(more_traffic(FW1_RUNNING))
    assert "packets" not in before["devices"]["fw1"]["diff"]
    assert before["devices"]["fw1"]["diff"] == after["devices"]["fw1"]["diff"]
    assert before["content_hash"] == after["content_hash"]
    assert run(more_traffic(FW1_RUNNING), platform=None)["content_hash"] == before["content_hash"]  # a running config file
    # a real change of a rule in the diff's context still changes it
    edited = run(FW1_RUNNING.replace("tcp dport 8080 counter", "tcp dport 8081 counter"))
    assert edited["content_hash"] != before["content_hash"]
    assert " \t\tiifname \"eth-r3\" oifname \"eth-srv1\" ip daddr 10.0.45.10 tcp dport 8081 counter accept" in edited["devices"]["fw1"]["diff"]


def test_restore_check_uses_the_same_normalization():
    assert normalize_ruleset(FW1_RUNNING) == normalize_ruleset(more_traffic(FW1_RUNNING))
    assert normalize_ruleset(fixture("live_values.nft")) == normalize_ruleset(more_traffic(fixture("live_values.nft")))
    assert normalize_ruleset(FW1_RUNNING) != normalize_ruleset(FW1_RUNNING.replace("dport 8080", "dport 8081"))
    assert normalize_ruleset(FW1_RUNNING) == strip_nft_live_values(FW1_RUNNING)


def test_platform_must_be_a_name():
    with pytest.raises(ValidationError) as err:
        prepare_diffs({}, ["fw1"], INVENTORY, {"fw1": {"running": FW1_RUNNING, "candidate": FW1_RUNNING, "platform": ["linux"]}})
    assert str(err.value) == ("diffs.fw1.platform: must be a platform name, got a list. Fix: pass the host's governed_platform "
                              "(frr or linux), or leave platform out.")
