# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in a change: the assessment and the approval prompt never show them, and a changed secret voids an approval."""

from __future__ import annotations

import datetime
import io
import json
import shutil
import subprocess

import pytest

from ansible_collections.governed.change.plugins.module_utils import approvals as ap
from ansible_collections.governed.change.plugins.module_utils.assess import assess, content_hash
from ansible_collections.governed.change.plugins.module_utils.change_request import validate_change_request
from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.config_diff import device_diff
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.redact import placeholder
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

from assess_support import FRR_R2, INVENTORY, NFT_FW1, NOW, POLICY_FILE, change

SECRET = "S3cr3tPassw0rd"
OTHER = "An0therPassw0rd"
OLD = "0ldPeerPw"  # already on the device, inside the diff's context
RUNNING = FRR_R2.replace(" neighbor 10.0.12.1 remote-as 65001\n",
                         " neighbor 10.0.12.1 remote-as 65001\n neighbor 10.0.12.1 password %s\n" % OLD)
NOW_DT = datetime.datetime.fromisoformat(NOW)


def bgp_change(secret):
    return change(category="bgp_policy", config={"r2": {"lines": [
        "router bgp 65002", " neighbor 10.0.23.3 remote-as 65003", " neighbor 10.0.23.3 password %s" % secret,
        "enable password %s-enable" % secret, "snmp-server community %s-ro RO" % secret]}})


@pytest.fixture(scope="module")
def lab_policy():
    return load_policy(POLICY_FILE)


def assessed(lab_policy, secret):
    return assess(bgp_change(secret), lab_policy, INVENTORY, {"r2": {"running": RUNNING}}, now=NOW)


def test_the_assessment_holds_no_secret_and_the_hash_covers_the_real_text(lab_policy):
    out = assessed(lab_policy, SECRET)
    text = json.dumps(out)
    assert SECRET not in text and OLD not in text
    dev = out["devices"]["r2"]
    assert "+ neighbor 10.0.23.3 password %s" % placeholder(SECRET) in dev["diff"]
    assert " neighbor 10.0.12.1 password %s" % placeholder(OLD) in dev["diff"]  # context lines too
    assert " neighbor 10.0.23.3 password %s" % placeholder(SECRET) in dev["new_lines"]
    assert "enable password %s" % placeholder(SECRET + "-enable") in dev["added"]
    assert "snmp-server community %s RO" % placeholder(SECRET + "-ro") in dev["new_lines"]
    # the content hash is the documented one: over the real change request and the real diff
    request = validate_change_request(bgp_change(SECRET))
    lines = request["config"]["r2"]["lines"]
    assert out["content_hash"] == content_hash(request, {"r2": device_diff("r2", running=RUNNING, lines=lines)})


def test_only_the_secret_changes_the_hash_and_voids_the_approval(lab_policy, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH ssh-keygen")
    first, second = assessed(lab_policy, SECRET), assessed(lab_policy, OTHER)
    assert first["content_hash"] != second["content_hash"]
    assert first["change_request_sha256"] != second["change_request_sha256"]
    # everything a reader sees is the same but the placeholders: the secret is the only difference
    shown = json.dumps(first).replace(placeholder(SECRET), "<S>").replace(placeholder(SECRET + "-enable"), "<E>")
    shown = shown.replace(placeholder(SECRET + "-ro"), "<C>")
    other = json.dumps(second).replace(placeholder(OTHER), "<S>").replace(placeholder(OTHER + "-enable"), "<E>")
    other = other.replace(placeholder(OTHER + "-ro"), "<C>")
    for key in ("content_hash", "change_request_sha256"):
        shown, other = shown.replace(first[key], "<H>"), other.replace(second[key], "<H>")
    assert shown == other
    for name in ("alice", "bob"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text("".join('%s@lab namespaces="governed.change" %s\n' % (n, (tmp_path / (n + ".pub")).read_text().strip())
                               for n in ("alice", "bob")))
    policy = {"identities": {"alice": {"groups": ["netops"], "principals": ["alice@lab"]},
                             "bob": {"groups": ["netops", "cab"], "principals": ["bob@lab"]}},
              "allowed_signers": str(signers),
              "requirements": {first["tier"]: {"approvals": {"count": 2, "groups": [], "segregation_of_duties": True,
                                                             "max_age_hours": 24}}}}
    ts = ap.now_z(NOW_DT - datetime.timedelta(hours=1))
    approvals = [ap.sign_approval("CHG-1", first["content_hash"], "approve", name, str(tmp_path / name), principal="%s@lab" % name,
                                  ts=ts) for name in ("alice", "bob")]
    assert review_gate(policy, first, approvals, "carol", "svc", NOW_DT)["decision"] == "pass"
    verdict = review_gate(policy, second, approvals, "carol", "svc", NOW_DT)
    assert verdict["decision"] == "fail" and verdict["counted"] == []
    assert all("void" in item["reason"] for item in verdict["rejected"]), verdict["rejected"]
    assert SECRET not in json.dumps(verdict) and OTHER not in json.dumps(verdict)


def test_the_approval_prompt_shows_no_secret(lab_policy, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH ssh-keygen")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(tmp_path / "alice")], check=True)
    out = assessed(lab_policy, SECRET)
    # an assessment file from before redaction (or edited by hand) holds the real lines: the prompt still hides them
    raw = dict(out, devices={"r2": device_diff("r2", running=RUNNING, lines=bgp_change(SECRET)["config"]["r2"]["lines"])})
    assert SECRET in json.dumps(raw)
    ledger = str(tmp_path / "ledger.db")
    with SqliteLedger(ledger) as led:
        led.create_change("CHG-1", out["title"], "carol")
        led.set_assessment("CHG-1", out["tier"], out["content_hash"], "assess")
    for doc in (out, raw):
        path = tmp_path / "assessment.json"
        path.write_text(json.dumps(doc))
        buf, err = io.StringIO(), io.StringIO()
        code = main(["approve", "--ledger", ledger, "--change", "CHG-1", "--assessment", str(path), "--key", str(tmp_path / "alice"),
                     "--identity", "alice", "--principal", "alice@lab", "--yes"], out=buf, err=err, stdin=io.StringIO(""))
        shown = buf.getvalue() + err.getvalue()
        assert code == 0, shown
        assert SECRET not in shown and OLD not in shown
        assert "+ neighbor 10.0.23.3 password %s" % placeholder(SECRET) in shown and out["content_hash"] in shown
    with SqliteLedger(ledger) as led:
        assert SECRET not in json.dumps(led.events("CHG-1"))


def test_a_firewall_rule_secret_stays_out_of_the_traffic_plan(lab_policy):
    """The traffic plan (verification.traffic) lists the change's rules that match a catalogue service: redacted too."""
    token = "RuleTok3n7"
    request = change(category="acl_update", targets=["fw1"], config={"fw1": {"lines": [
        'add rule inet filter forward ip daddr 10.0.45.10 tcp dport 8080 drop comment "token=%s"' % token]}})
    out = assess(request, lab_policy, INVENTORY, {"fw1": {"running": NFT_FW1, "platform": "linux"}}, now=NOW)
    assert out["verification"]["traffic"], "the rule names srv1's web service: the plan lists it"
    assert token not in json.dumps(out)
