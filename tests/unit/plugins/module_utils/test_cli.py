# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed-change approve / deny / ledger verify / ledger show, end to end with real SSH keys."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from repo_paths import ROOT

from ansible_collections.governed.change.plugins.module_utils import clock
from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.ledger import APPEND_ONLY_TRIGGERS, SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen")

HASH = "d" * 64
POLICY_YAML = """\
policy_version: 1
name: lab-policy
identities:
  alice: {groups: [netops], principals: [alice@lab]}
  bob: {groups: [netops, cab], principals: [bob@lab]}
  carol: {groups: [cab], principals: [carol@lab]}
allowed_signers: allowed_signers
requirements:
  low: {approvals: {count: 0}}
  medium: {approvals: {count: 1}}
  high: {approvals: {count: 2, groups: [netops], segregation_of_duties: true, max_age_hours: 24}}
  critical: {approvals: {count: 3}}
"""


@pytest.fixture
def env(tmp_path):
    lines = []
    for name in ("alice", "bob", "carol"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)], check=True)
        lines.append('%s@lab namespaces="governed.change" %s' % (name, (tmp_path / (name + ".pub")).read_text().strip()))
    (tmp_path / "allowed_signers").write_text("\n".join(lines) + "\n")
    (tmp_path / "policy.yml").write_text(POLICY_YAML)
    assessment = {"change_id": "CHG-1001", "title": "Tighten BGP import policy on r2", "tier": "high", "score": 55,
                  "change_class": "normal", "content_hash": HASH,
                  # the shape governed.change.assess returns (fired_rules, facts.diff, devices)
                  "fired_rules": [{"name": "touches_bgp", "description": "Changes BGP configuration", "score": 30,
                                   "explanation": "Changes BGP configuration"},
                                  {"name": "core_device", "description": "Touches a core router", "score": 25,
                                   "explanation": "Touches a core router"}],
                  "facts": {"diff": {"lines_added": 3, "lines_removed": 1, "devices_changed": 1}},
                  "devices": {"r2": {"diff": "+ip prefix-list PL-IN seq 5 permit 10.0.0.0/8 le 24\n"
                                             "-ip prefix-list PL-IN seq 5 deny any"}}}
    (tmp_path / "assessment.json").write_text(json.dumps(assessment))
    ledger_path = str(tmp_path / "ledger.db")
    with SqliteLedger(ledger_path) as led:
        led.create_change("CHG-1001", assessment["title"], "dave")
        led.set_assessment("CHG-1001", "high", HASH, "assess")
    return tmp_path, ledger_path, assessment


def run(argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def decide(base, ledger, who, decision="approve", extra=()):
    return run([decision, "--ledger", ledger, "--change", "CHG-1001", "--assessment", str(base / "assessment.json"),
                "--key", str(base / who), "--identity", who, "--policy", str(base / "policy.yml"),
                "--comment", "%s by %s" % (decision, who), "--yes"] + list(extra))


def test_approve_end_to_end_then_review_passes(env):
    base, ledger, assessment = env
    code, out, err = decide(base, ledger, "alice")
    assert code == 0, err
    # the approver sees what they sign: tier, fired rules, diff summary, the diff itself, the content hash
    assert "tier:          high (score 55, class normal)" in out
    assert "  - touches_bgp (+30): Changes BGP configuration" in out
    assert "diff:          devices_changed 1, lines_added 3, lines_removed 1" in out
    assert "+ip prefix-list PL-IN seq 5 permit 10.0.0.0/8 le 24" in out and HASH in out
    assert "signature verified against" in out and "recorded approve of CHG-1001 by alice" in out
    assert decide(base, ledger, "bob")[0] == 0
    with SqliteLedger(ledger) as led:
        approvals = led.approvals("CHG-1001")
        assert [(a["approver"], a["principal"], a["decision"]) for a in approvals] == [
            ("alice", "alice@lab", "approve"), ("bob", "bob@lab", "approve")]
        policy = {"identities": {"alice": {"groups": ["netops"], "principals": ["alice@lab"]},
                                 "bob": {"groups": ["netops", "cab"], "principals": ["bob@lab"]}},
                  "allowed_signers": str(base / "allowed_signers"),
                  "requirements": {"high": {"approvals": {"count": 2, "groups": ["netops"], "max_age_hours": 24}}}}
        verdict = review_gate(policy, assessment, approvals, "dave", "svc", clock.utc_now())
        assert verdict["decision"] == "pass", verdict["reasons"]
    code, out, _err = run(["ledger", "verify", "--ledger", ledger])
    assert code == 0 and out.startswith("OK: 4 events")
    code, out, _err = run(["ledger", "show", "CHG-1001", "--ledger", ledger])
    assert code == 0 and "approve by alice (ssh, principal alice@lab)" in out and "approval.approve" in out
    code, out, _err = run(["ledger", "show", "CHG-1001", "--ledger", ledger, "--json"])
    assert json.loads(out)["change"]["content_hash"] == HASH


def test_deny_end_to_end_blocks_review(env):
    base, ledger, assessment = env
    assert decide(base, ledger, "alice")[0] == 0
    assert decide(base, ledger, "bob")[0] == 0
    code, out, err = decide(base, ledger, "carol", decision="deny")
    assert code == 0 and "recorded deny of CHG-1001 by carol" in out, err
    with SqliteLedger(ledger) as led:
        policy = {"identities": {"alice": {"groups": ["netops"], "principals": ["alice@lab"]},
                                 "bob": {"groups": ["netops"], "principals": ["bob@lab"]},
                                 "carol": {"groups": ["cab"], "principals": ["carol@lab"]}},
                  "allowed_signers": str(base / "allowed_signers"),
                  "requirements": {"high": {"approvals": {"count": 2, "max_age_hours": 24}}}}
        verdict = review_gate(policy, assessment, led.approvals("CHG-1001"), "dave", "svc",
                              clock.utc_now())
        assert verdict["decision"] == "fail" and verdict["denied_by"][0]["identity"] == "carol"


def test_confirmation_refused_signs_nothing(env):
    base, ledger, _assessment = env
    argv = ["approve", "--ledger", ledger, "--change", "CHG-1001", "--assessment", str(base / "assessment.json"),
            "--key", str(base / "alice"), "--identity", "alice", "--principal", "alice@lab"]
    code, out, err = run(argv, stdin="n\n")
    assert code == 1 and "Sign this approve? [y/N]" in out and "not signed" in err
    code, _out, _err = run(argv, stdin="")
    assert code == 1
    with SqliteLedger(ledger) as led:
        assert led.approvals("CHG-1001") == []
    code, out, _err = run(argv, stdin="y\n")
    assert code == 0 and "recorded approve" in out


def test_ledger_verify_detects_tampering(env):
    base, ledger, _assessment = env
    assert decide(base, ledger, "alice")[0] == 0
    tamper(ledger, "UPDATE events SET actor = 'bob' WHERE seq = 3")
    code, out, _err = run(["ledger", "verify", "--ledger", ledger])
    assert code == 1 and out.startswith("TAMPERED: 3 events")
    assert "  seq 3: content does not match its hash: the event was edited." in out
    code, out, _err = run(["ledger", "verify", "--ledger", ledger, "--json"])
    assert code == 1 and json.loads(out)["problems"][0]["seq"] == 3


def tamper(ledger, sql, args=(), keep_triggers_dropped=False):
    """Edit the file as someone with write access would: lift the append-only triggers, edit, put them back."""
    raw = sqlite3.connect(ledger, isolation_level=None)
    for name in APPEND_ONLY_TRIGGERS:
        raw.execute("DROP TRIGGER IF EXISTS %s" % name)
    raw.execute(sql, args)
    if not keep_triggers_dropped:
        for trigger in APPEND_ONLY_TRIGGERS.values():
            raw.execute(trigger)
    raw.close()


def _head(ledger):
    raw = sqlite3.connect(ledger)
    try:
        return raw.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    finally:
        raw.close()


@pytest.mark.parametrize("sql, seq, what", [
    ("UPDATE events SET actor = 'mallory' WHERE seq = 2", 2, "content does not match its hash"),
    ("UPDATE changes SET tier = 'low' WHERE id = 'CHG-1001'", 2, "tier is 'low' but its events"),
    ("UPDATE approvals SET approver = 'carol'", 3, "approver is 'carol', the event says 'alice'"),
])
def test_approve_refuses_a_tampered_ledger_with_the_seq_and_records_nothing(env, sql, seq, what):
    base, ledger, _assessment = env
    assert decide(base, ledger, "alice")[0] == 0
    tamper(ledger, sql)
    before = _head(ledger)
    code, out, err = decide(base, ledger, "bob")
    assert code == 1 and "Traceback" not in out + err
    assert err.startswith("governed-change: refused: ") and "does not verify at seq %d" % seq in err and what in err
    assert "nothing was recorded" in err and "governed-change ledger verify" in err
    assert "decision:" not in out  # nothing was shown for signing either
    assert _head(ledger) == before
    code, out, err = run(["ledger", "show", "CHG-1001", "--ledger", ledger])
    assert code == 1 and "does not verify at seq %d" % seq in err and out == ""


def test_approve_refuses_the_author_and_a_closed_change(env):
    base, ledger, _assessment = env
    with SqliteLedger(ledger) as led:  # the change of the fixture is authored by dave; make alice an author too
        led.create_change("CHG-1002", "alice's own change", "alice@lab")
        led.set_assessment("CHG-1002", "high", HASH, "assess")
        before = led.head()["seq"]
    code, out, err = run(["approve", "--ledger", ledger, "--change", "CHG-1002", "--assessment", str(base / "assessment.json"),
                          "--key", str(base / "alice"), "--identity", "alice", "--policy", str(base / "policy.yml"), "--yes"])
    # the assessment names CHG-1001: refused for that first; use a matching one
    assert code == 2
    other = json.loads((base / "assessment.json").read_text())
    other["change_id"] = "CHG-1002"
    (base / "a2.json").write_text(json.dumps(other))
    code, out, err = run(["approve", "--ledger", ledger, "--change", "CHG-1002", "--assessment", str(base / "a2.json"),
                          "--key", str(base / "alice"), "--identity", "alice", "--policy", str(base / "policy.yml"), "--yes"])
    assert code == 2 and "alice is the author of change CHG-1002" in err and "segregation of duties" in err
    assert "--identity" in err and "Fix: another person" in err and "recorded" not in out
    # without --policy the author's name is compared as written (case-insensitive)
    code, out, err = run(["approve", "--ledger", ledger, "--change", "CHG-1002", "--assessment", str(base / "a2.json"),
                          "--key", str(base / "alice"), "--identity", "ALICE@lab", "--yes"])
    assert code == 2 and "is the author of change CHG-1002" in err
    with SqliteLedger(ledger) as led:
        assert led.head()["seq"] == before and led.approvals("CHG-1002") == []
        for state in ("canceled",):
            led.transition("CHG-1001", state, "ops", reason="test")
        before = led.head()["seq"]
    for decision in ("approve", "deny"):
        code, out, err = decide(base, ledger, "bob", decision=decision)
        assert code == 2 and "change CHG-1001 is canceled; a decision on a final change is not recorded" in err, err
    with SqliteLedger(ledger) as led:
        assert led.head()["seq"] == before and led.approvals("CHG-1001") == []


def test_verify_and_show_open_read_only_and_refuse_a_non_ledger(env):
    base, _ledger, _assessment = env
    other = base / "other.db"
    raw = sqlite3.connect(str(other))
    raw.execute("CREATE TABLE stuff (x INTEGER)")
    raw.commit()
    raw.close()
    text = base / "notes.txt"
    text.write_text("just some text\n")
    empty = base / "empty.db"
    empty.write_bytes(b"")
    for path in (other, text, empty):
        before = path.read_bytes()
        for argv in (["ledger", "verify", "--ledger", str(path)], ["ledger", "show", "CHG-1", "--ledger", str(path)]):
            code, out, err = run(argv)
            assert code == 2 and "not a governed.change ledger" in err and "OK" not in out, (path, err)
            assert "Traceback" not in err
        assert path.read_bytes() == before
    assert sorted(p.name for p in base.iterdir() if p.name.startswith(("other", "empty", "notes"))) == \
        ["empty.db", "notes.txt", "other.db"]  # no -wal/-shm/-journal left beside them
    code, _out, err = run(["ledger", "verify", "--ledger", str(other)])
    assert "no events table" in err


def test_verify_is_read_only_on_a_real_ledger(env):
    _base, ledger, _assessment = env
    before = open(ledger, "rb").read()
    os.chmod(ledger, 0o444)
    try:
        code, out, _err = run(["ledger", "verify", "--ledger", ledger])
        assert code == 0 and out.startswith("OK: ")
    finally:
        os.chmod(ledger, 0o644)
    assert open(ledger, "rb").read() == before


def test_verify_reports_a_dropped_trigger_and_an_edit_behind_it(env):
    base, ledger, _assessment = env
    assert decide(base, ledger, "alice")[0] == 0
    tamper(ledger, "UPDATE approvals SET decision = 'approve', comment = 'fine' WHERE id = 1", keep_triggers_dropped=True)
    code, out, _err = run(["ledger", "verify", "--ledger", ledger])
    assert code == 1 and "schema: the append-only trigger approvals_append_only_update is missing" in out
    assert "seq 3: approvals row of CHG-1001 for the event at seq 3: comment is 'fine'" in out


def test_errors_print_message_and_exit_2(env):
    base, ledger, _assessment = env
    code, out, err = run(["approve", "--ledger", ledger, "--change", "CHG-1001", "--assessment", str(base / "nope.json"),
                          "--key", str(base / "alice"), "--identity", "alice", "--yes"])
    assert code == 2 and err.startswith("governed-change: error: ") and "Traceback" not in err + out
    code, _out, err = decide(base, ledger, "alice", extra=["--change", "CHG-9"])
    assert code == 2 and "the assessment is for change CHG-1001, not CHG-9" in err
    code, _out, err = run(["ledger", "show", "CHG-404", "--ledger", ledger])
    assert code == 2 and "not in the ledger" in err
    code, _out, err = run(["ledger", "verify", "--ledger", str(base / "missing.db")])
    assert code == 2 and "does not exist" in err
    code, _out, err = run(["frobnicate"])
    assert code == 2


def test_identity_not_in_policy_and_unlisted_key_refused(env):
    base, ledger, _assessment = env
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "mallory")], check=True)
    code, _out, err = decide(base, ledger, "mallory")
    assert code == 2 and "identity mallory is not in the policy's identities" in err
    # alice's identity, mallory's key: the signature is checked against allowed_signers before recording
    code, _out, err = run(["approve", "--ledger", ledger, "--change", "CHG-1001", "--assessment",
                           str(base / "assessment.json"), "--key", str(base / "mallory"), "--identity", "alice",
                           "--policy", str(base / "policy.yml"), "--yes"])
    assert code == 2 and "your signature does not verify" in err
    with SqliteLedger(ledger) as led:
        assert led.approvals("CHG-1001") == []


def test_stale_assessment_refused(env):
    base, ledger, _assessment = env
    with SqliteLedger(ledger) as led:
        led.set_assessment("CHG-1001", "high", "e" * 64, "assess")
    code, _out, err = decide(base, ledger, "alice")
    assert code == 2 and "content hash differs" in err


def test_break_lock_command(env):
    _base, ledger, _assessment = env
    with SqliteLedger(ledger) as led:
        led.acquire_locks("CHG-1001", ["r2"], "run-1", 60)
    code, out, _err = run(["ledger", "break-lock", "r2", "--reason", "run-1 crashed", "--actor", "alice", "--ledger", ledger])
    assert code == 0 and "broke the lease of r2 held by change CHG-1001" in out
    with SqliteLedger(ledger) as led:
        assert led.events()[-1]["kind"] == "lock.broken" and led.locks() == []


def test_runnable_as_module(env):
    _base, ledger, _assessment = env
    environ = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.governed.change.plugins.module_utils.cli", "ledger",
                           "verify", "--ledger", ledger], capture_output=True, text=True, env=environ, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("OK: 2 events"), proc.stderr
