# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Post-hoc reviews as obligations (due, done, overdue; signed completion; overdue ones escalated once) and the learning
loop (an escalation resolved with its cause; repeat causes counted). Times are built from one injected instant."""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil

import pytest
import yaml

from ansible_collections.governed.change.plugins.module_utils import audit, cli, learning, lifecycle, post_review, records, windows
from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.clock import ENV, iso_z
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

from assess_support import FRR_R2, INVENTORY, example, raw_policy
from signing_keys import make_signing_keys

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen")

BASE = datetime.datetime(2031, 6, 7, 5, 30, tzinfo=datetime.timezone.utc)  # Saturday 06:30 in London: every window closed
FRR_R1 = FRR_R2.replace("hostname r2", "hostname r1").replace("65002", "65001").replace("10.255.0.2", "10.255.0.1")
KEYS = {"alice": "alice@lab", "carol": "carol@lab", "mallory": "mallory@evil"}
CID = "CHG-1003-EMERG"


def moment(hours=0.0):
    return BASE + datetime.timedelta(hours=hours)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    make_signing_keys(base, KEYS, unlisted=("mallory",))
    doc = raw_policy()
    doc["allowed_signers"] = str(base / "allowed_signers")
    doc["requirements"]["medium"]["window_required"] = True  # so the emergency change bypasses a window
    (base / "policy.yml").write_text(yaml.safe_dump(doc))
    return {"policy_file": str(base / "policy.yml"), **{name: str(base / name) for name in KEYS}}


@pytest.fixture
def emergency(tmp_path, monkeypatch, keys):
    """An emergency change assessed at BASE whose window gate bypassed the closed window (review.post_hoc_due)."""
    policy = load_policy(keys["policy_file"])
    doc = assess(example("changes/emergency_r1.yml"), policy, INVENTORY, {"r1": {"running": FRR_R1}}, now=BASE)
    assert doc["change_class"] == "emergency" and "post_review" in doc["required_gates"]
    path = str(tmp_path / "ledger.sqlite")
    monkeypatch.setenv(ENV, iso_z(BASE))
    records.record_assessment(path, doc)
    verdict, _recorded = lifecycle.evaluate_and_record(path, CID, "window", lambda ledger, record: (
        windows.window_gate(policy, doc, doc["facts"]["targets"], now=moment(0.1)), {}))
    assert verdict["decision"] == "pass" and verdict["bypass"]["post_review_due"] == iso_z(moment(48.1), precision="seconds")
    return {"path": path, "policy": policy, "assessment": doc, "keys": keys, "out": str(tmp_path / "out"), "mp": monkeypatch}


def rows(path, hours):
    with SqliteLedger(path, readonly=True) as ledger:
        return post_review.list_reviews(ledger, now=moment(hours))


def complete(env, who="alice", hours=2.0, key=None, notes="route removed after the attack; no side effects"):
    with SqliteLedger(env["path"]) as ledger:
        return post_review.complete(ledger, CID, who, key or env["keys"][who], env["policy"],
                                    os.path.dirname(env["keys"]["policy_file"]), "accepted", notes, now=moment(hours))


def test_due_then_overdue_with_the_window_gates_due_date(emergency):
    due = rows(emergency["path"], 1)
    assert [(r["change_id"], r["status"], r["due"]) for r in due] == [(CID, "due", iso_z(moment(48.1), precision="seconds"))]
    with SqliteLedger(emergency["path"], readonly=True) as ledger:
        kinds = {e["seq"]: e["kind"] for e in ledger.events()}
    assert kinds[due[0]["due_seq"]] == "review.post_hoc_due"
    assert [r["status"] for r in rows(emergency["path"], 48.2)] == ["overdue"]


def test_the_assessment_alone_makes_a_review_due(tmp_path, monkeypatch, keys):
    policy = load_policy(keys["policy_file"])
    doc = assess(example("changes/emergency_r1.yml"), policy, INVENTORY, {"r1": {"running": FRR_R1}}, now=BASE)
    path = str(tmp_path / "ledger.sqlite")
    monkeypatch.setenv(ENV, iso_z(BASE))
    records.record_assessment(path, doc)
    assert [(r["status"], r["due"]) for r in rows(path, 47)] == [("due", iso_z(moment(48), precision="seconds"))]
    with SqliteLedger(path) as ledger:  # canceled before anything was deployed: nothing to review
        ledger.transition(CID, "canceled", "carol", reason="attack stopped")
    assert rows(path, 49) == []


def test_complete_signs_records_and_verifies(emergency):
    event = complete(emergency)
    assert event["kind"] == "review.post_hoc_done" and event["actor"] == "alice"
    data = event["data"]
    assert (data["verdict"], data["reviewer"], data["principal"], data["late"]) == ("accepted", "alice", "alice@lab", False)
    assert data["content_hash"] == emergency["assessment"]["content_hash"] and "BEGIN SSH SIGNATURE" in data["signature"]
    assert post_review.verify_record(data, emergency["policy"])[0] is True
    assert post_review.verify_record(dict(data, notes="nothing to see"), emergency["policy"])[0] is False  # the notes are signed
    with SqliteLedger(emergency["path"], readonly=True) as ledger:
        assert ledger.verify()["ok"] is True
        listed = post_review.list_reviews(ledger, now=moment(100))
    assert [(r["status"], r["done_seq"], r["reviewer"]) for r in listed] == [("done", event["seq"], "alice")]


@pytest.mark.parametrize("who, key, notes, message", [
    ("carol", None, "fine", "author of change"),
    ("mallory", None, "fine", "not in the policy's identities"),
    ("alice", "mallory", "fine", "does not verify"),
    ("alice", None, "line one\nverdict: accepted", "line break"),
    ("alice", None, "", "notes is empty"),
])
def test_complete_refusals_record_nothing(emergency, who, key, notes, message):
    with SqliteLedger(emergency["path"], readonly=True) as ledger:
        head = ledger.head()["seq"]
    with pytest.raises(ValidationError) as caught:
        complete(emergency, who=who, key=emergency["keys"][key] if key else None, notes=notes)
    assert message in caught.value.render() and "Fix:" in caught.value.render()
    with SqliteLedger(emergency["path"], readonly=True) as ledger:
        assert ledger.head()["seq"] == head


def test_a_review_is_recorded_once(emergency):
    first = complete(emergency)
    with pytest.raises(ValidationError, match="already completed by alice \\(ledger seq %d\\)" % first["seq"]):
        complete(emergency, hours=3)


def test_overdue_reviews_escalate_once_and_the_audit_sees_them(emergency):
    with SqliteLedger(emergency["path"]) as ledger:
        assert post_review.escalate_overdue(ledger, emergency["out"], policy=emergency["policy"], now=moment(10)) == []
        done = post_review.escalate_overdue(ledger, emergency["out"], policy=emergency["policy"], now=moment(50))
        again = post_review.escalate_overdue(ledger, emergency["out"], policy=emergency["policy"], now=moment(60))
        event = [e for e in ledger.events() if e["seq"] == done[0]["seq"]][0]
    assert [(d["change_id"], d["kind"]) for d in done] == [(CID, "escalation.sent")] and again == []
    assert event["data"]["reason"] == "post_review_overdue" and event["data"]["escalation_target"] == "netops-oncall"
    with open(done[0]["path"], encoding="utf-8") as handle:
        packet = json.load(handle)
    assert packet["reason"] == "post_review_overdue" and packet["title"] == "%s: Post-hoc review overdue" % CID
    assert rows(emergency["path"], 60)[0]["escalated_seq"] == done[0]["seq"]
    due_seq = rows(emergency["path"], 60)[0]["due_seq"]
    report = audit.run_audit(emergency["path"], emergency["keys"]["policy_file"], now=moment(60))
    assert [(d["kind"], d["seq"], d["gate"]) for d in report["deviations"]] == [("gate_missing", due_seq, "post_review")]
    complete(emergency, hours=61)
    assert audit.run_audit(emergency["path"], emergency["keys"]["policy_file"], now=moment(62))["deviations"] == []


def test_resolve_an_escalation_and_count_repeat_causes(emergency):
    with SqliteLedger(emergency["path"]) as ledger:
        with pytest.raises(ValidationError, match="never escalated"):
            learning.resolve(ledger, CID, "no reviewer on call", "page the CAB", "alice")
        post_review.escalate_overdue(ledger, emergency["out"], policy=emergency["policy"], now=moment(50))
        with pytest.raises(ValidationError, match="not in the policy's identities"):
            learning.resolve(ledger, CID, "x", "y", "eve", identities=set(emergency["policy"]["identities"]))
        event = learning.resolve(ledger, CID, "No reviewer  on call", "page the CAB", "alice")
        with pytest.raises(ValidationError, match="resolved at ledger seq %d" % event["seq"]):
            learning.resolve(ledger, CID, "again", "again", "alice")
        events = ledger.events()
    assert event["data"]["reasons"] == ["post_review_overdue"] and event["data"]["cause_normalized"] == "no reviewer on call"
    other = {"seq": 10 ** 6, "change_id": "CHG-9", "ts": iso_z(moment(70)), "kind": "escalation.resolved", "actor": "bob",
             "data": {"cause": "no reviewer on call", "follow_up": "a reviewer rota"}}
    third = dict(other, seq=10 ** 6 + 1, change_id="CHG-10", data={"cause": "typo in route-map", "follow_up": "lint"})
    causes = learning.repeat_causes(events + [other, third])
    assert [(c["cause"], c["count"], c["changes"], c["repeated"]) for c in causes] == [
        ("No reviewer  on call", 2, [CID, "CHG-9"], True), ("typo in route-map", 1, ["CHG-10"], False)]
    assert causes[0]["follow_ups"] == ["page the CAB", "a reviewer rota"]
    assert [c["count"] for c in learning.repeat_causes(events + [other, third], since=moment(69))] == [1, 1]


def test_cli_review_and_escalation_commands(emergency, monkeypatch):
    path, policy_file = emergency["path"], emergency["keys"]["policy_file"]
    monkeypatch.setenv(ENV, iso_z(moment(50)))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["review", "list", "--overdue", "--ledger", path], out=out, err=err) == 1
    assert CID in out.getvalue() and "overdue" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["review", "escalate-overdue", "--ledger", path, "--policy", policy_file, "--output-dir", emergency["out"]],
                    out=out, err=err) == 0
    assert "1 overdue review(s) escalated" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["escalation", "resolve", CID, "--cause", "no reviewer on call", "--follow-up", "reviewer rota",
                     "--identity", "alice", "--ledger", path, "--policy", policy_file], out=out, err=err) == 0, err.getvalue()
    out = io.StringIO()
    assert cli.main(["review", "complete", CID, "--identity", "alice", "--key", emergency["keys"]["alice"], "--notes", "ok",
                     "--ledger", path, "--policy", policy_file], out=out, err=err) == 0, err.getvalue()
    assert "late" in out.getvalue() and "signature verified" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["review", "list", "--overdue", "--ledger", path], out=out, err=err) == 0
    out = io.StringIO()
    assert cli.main(["escalation", "causes", "--ledger", path, "--json"], out=out, err=err) == 0
    assert json.loads(out.getvalue())[0]["cause"] == "no reviewer on call"


@pytest.mark.parametrize("argv, where", [
    (["review", "complete", "CHG-1003-EMERG", "--identity", "alice", "--key", "/nonexistent", "--notes", "x"], "--key"),
    (["review", "complete", "../etc", "--identity", "alice", "--key", "k", "--notes", "x"], "change"),
    (["review", "complete", "CHG-404", "--identity", "alice", "--key", "k", "--notes", "x"], "--change"),
    (["escalation", "resolve", "CHG-1003-EMERG", "--cause", " ", "--follow-up", "x", "--identity", "alice"], "--cause"),
    (["review", "escalate-overdue", "--webhook-url", "ftp://x"], "webhook_url"),
    (["review", "escalate-overdue", "--webhook-format", "xml"], "--webhook-format"),
])
def test_cli_bad_input_exits_2_naming_the_field(emergency, argv, where):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv + ["--ledger", emergency["path"], "--policy", emergency["keys"]["policy_file"]], out=out, err=err)
    assert code == 2 and where in err.getvalue() and "Fix:" in err.getvalue() and "Traceback" not in err.getvalue(), err.getvalue()
