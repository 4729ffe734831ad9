"""The evidence callback in real ansible-playbook runs: governed runs recorded, other runs untouched, the close in the run
rebuilds the evidence (functional tier)."""

from __future__ import annotations

import json
import os

from evidence_support import CHANGE, playbook, scheduled_change, stages

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


TASKS = [
    {"name": "A plain step", "ansible.builtin.debug": {"msg": "hello"}},
    {"name": "A changed step", "ansible.builtin.command": "true", "changed_when": True},
    {"name": "A skipped step", "ansible.builtin.debug": {"msg": "no"}, "when": False},
    {"name": "A failing step", "ansible.builtin.fail": {"msg": "boom"}, "ignore_errors": True},
    {"name": "A secret step", "ansible.builtin.debug": {"msg": "neighbor 10.0.12.2 password Zz-hidden-1"}},
    {"name": "A no_log step", "ansible.builtin.debug": {"msg": "Zz-hidden-2"}, "no_log": True},
    {"name": "A huge result", "ansible.builtin.shell": "head -c 100000 /dev/zero | tr '\\0' x", "changed_when": False},
]


def _tasks(ledger_path):
    with SqliteLedger(ledger_path) as ledger:
        return [e for e in ledger.events(change_id=CHANGE) if e["kind"] == "task"], ledger.verify()


def test_governed_run_records_every_task(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    playbook(tmp_path, TASKS, extra=["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger])
    events, verified = _tasks(ledger)
    assert verified["ok"] is True
    got = [(e["data"]["task"], e["data"]["status"]) for e in events]
    assert got == [("A plain step", "ok"), ("A changed step", "changed"), ("A skipped step", "skipped"), ("A failing step", "failed"),
                   ("A secret step", "ok"), ("A no_log step", "ok"), ("A huge result", "ok")]
    by_name = dict((e["data"]["task"], e["data"]) for e in events)
    assert by_name["A failing step"]["result"]["msg"] == "boom" and by_name["A failing step"]["action"] == "ansible.builtin.fail"
    assert by_name["A plain step"]["host"] == "localhost" and isinstance(by_name["A plain step"]["duration_s"], float)
    assert "Zz-hidden-1" not in json.dumps(by_name["A secret step"]) and "<redacted:" in by_name["A secret step"]["result"]["msg"]
    assert "Zz-hidden-2" not in json.dumps(by_name["A no_log step"])
    huge = by_name["A huge result"]["result"]
    assert huge["truncated"] is True and huge["bytes"] > 100000 and len(json.dumps(huge)) < 1000
    assert all(e["actor"] == "governed.change.evidence" for e in events)


def test_ungoverned_run_is_inert(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    with SqliteLedger(ledger) as led:
        before = led.head()
    proc = playbook(tmp_path, TASKS, extra=["-e", "governed_ledger=%s" % ledger])  # no change id: not a governed run
    with SqliteLedger(ledger) as led:
        assert led.head() == before
    proc = playbook(tmp_path, TASKS, extra=["-e", "governed_change_id=CHG-UNKNOWN", "-e", "governed_ledger=%s" % ledger])
    with SqliteLedger(ledger) as led:
        assert led.head() == before
    missing = tmp_path / "absent" / "ledger.sqlite"
    proc = playbook(tmp_path, TASKS, extra=["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % missing])
    assert not missing.parent.exists()
    assert "governed.change.evidence" not in proc.stdout and "GOVERNED CHANGE SUMMARY" not in proc.stdout


def test_disabled_and_check_mode_record_nothing(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    extra = ["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger]
    playbook(tmp_path, TASKS[:2], extra=extra, env={"GOVERNED_EVIDENCE_ENABLED": "false"})
    playbook(tmp_path, TASKS[:1], extra=extra + ["--check"])
    assert _tasks(ledger)[0] == []


def test_close_in_the_run_rebuilds_the_evidence_with_the_timeline(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    (tmp_path / "stages.json").write_text(json.dumps(stages(tmp_path)))
    tasks = [{"name": "Before the change id is known", "ansible.builtin.debug": {"msg": "early"}},
             {"name": "Close the change", "governed.change.close": {
                 "ledger": ledger, "change_id": CHANGE, "outcome": "successful", "output_dir": out,
                 "stages": "{{ lookup('file', 'stages.json') | from_json }}"}},
             {"name": "After the close", "ansible.builtin.debug": {"msg": "late"}}]
    proc = playbook(tmp_path, tasks)
    events, verified = _tasks(ledger)
    assert verified["ok"] and [e["data"]["task"] for e in events] == ["Before the change id is known", "Close the change", "After the close"]
    assert "GOVERNED CHANGE SUMMARY" in proc.stdout and "Change CHG-7001" in proc.stdout
    assert "Report: %s" % os.path.join(out, "evidence", CHANGE, "report.html") in proc.stdout
    bundle = evidence.load_bundle(os.path.join(out, "evidence", CHANGE, "bundle.json"))
    assert bundle["sections"]["tasks"]["count"] == 3
    with SqliteLedger(ledger) as led:
        assert evidence.verify_bundle(bundle, led)["ok"] is True
        built = [e for e in led.events(change_id=CHANGE) if e["kind"] == "evidence.built"]
    assert len(built) == 2 and built[-1]["actor"] == "governed.change.evidence" and built[-1]["data"]["bundle_sha256"] == bundle["sha256"]
    html = open(os.path.join(out, "evidence", CHANGE, "report.html"), encoding="utf-8").read()
    assert "After the close" in html
