"""Every check's result reaches the ledger through a real ansible-playbook run (the evidence callback), and the AWX stage
playbooks escalate and close by the same rules as the pipeline (functional tier: ansible-playbook subprocesses)."""

from __future__ import annotations

import json

from evidence_support import CHANGE, playbook, scheduled_change, snapshot

from ansible_collections.governed.change.plugins.module_utils import evidence, statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


def test_a_check_task_records_every_check_in_the_ledger(tmp_path):
    ledger, _out = scheduled_change(tmp_path)
    store = str(tmp_path / "store")  # references, as the stages pass them
    pre = statestore.put(store, snapshot({"10.255.0.2/32": "10.0.12.2", "10.255.0.3/32": "10.0.12.2"}), "snapshot")
    post = statestore.put(store, snapshot({"10.255.0.2/32": "10.0.12.2"}, "Idle"), "snapshot")
    task = {"name": "Check r1", "governed.change.check": {
        "pre": pre, "post": post, "platform": "frr", "store_dir": store,
        "checks": [{"name": "discard_route", "query": "sections.routes.\"192.0.2.0/24\"", "op": "not_empty", "snapshot": "post",
                    "skip_if_absent": True}]}, "ignore_errors": True}
    playbook(tmp_path, [task], extra=["-e", "governed_change_id=%s" % CHANGE, "-e", "governed_ledger=%s" % ledger])
    with SqliteLedger(ledger) as led:
        events = [e for e in led.events(change_id=CHANGE) if e["kind"] == "task" and e["data"]["task"] == "Check r1"]
    assert len(events) == 1 and events[0]["data"]["status"] == "failed"
    rows = dict((r["name"], r) for r in events[0]["data"]["checks"])
    assert rows["no_bgp_session_lost"]["verdict"] == "failed" and rows["no_bgp_session_lost"]["expected"] == ["10.0.12.2"]
    assert rows["no_bgp_session_lost"]["actual"] == [] and rows["no_bgp_session_lost"]["host"] == "r1"
    assert rows["no_route_lost"]["verdict"] == "failed", rows["no_route_lost"]["reason"]
    assert "10.255.0.3/32" in rows["no_route_lost"]["expected"]
    assert rows["discard_route"]["verdict"] == "skipped"
    assert all(r["phase"] == "Check r1" for r in rows.values())  # outside a stage role: the task's name
    assert "item" not in json.dumps(events[0]["data"]["result"])


# ---------------------------------------------------------------------------------------------- the AWX path agrees
def _stage(tmp_path, name, extra):
    import os
    import subprocess
    from evidence_support import ROOT, VENV_BIN
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", os.path.join(ROOT, "playbooks", name),
            "-e", json.dumps(extra)]
    proc = subprocess.run(args, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_awx_stage_playbooks_escalate_and_close_by_the_same_rules(tmp_path):
    ledger_path, out = scheduled_change(tmp_path, state="implement")
    with SqliteLedger(ledger_path) as ledger:
        ledger.acquire_locks(CHANGE, ["r1"], "bob", 3600)
    extra = {"governed_change_id": CHANGE, "governed_ledger": ledger_path, "governed_output_dir": out,
             "governed_assessment_file": "%s/assessments/%s.json" % (out, CHANGE), "governed_stage_failed": "deploy",
             "governed_deployed": ["r1"], "governed_failed_hosts": ["r1"], "governed_rolled_back": ["r1"],
             "governed_rollback_verified": False, "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    _stage(tmp_path, "escalate.yml", extra)
    packet = json.loads(open("%s/escalations/%s-1.json" % (out, CHANGE), encoding="utf-8").read())
    assert packet["reason"] == "rollback_failed" and packet["devices"]["r1"]["state"] == "not_verified"
    assert any("locks are held" in item for item in packet["actions_taken"])
    _stage(tmp_path, "close.yml", extra)
    with SqliteLedger(ledger_path) as ledger:
        assert [lock["device"] for lock in ledger.locks() if lock["change_id"] == CHANGE] == ["r1"]  # held, as the packet says
        assert ledger.get_change(CHANGE)["close_code"] == "unsuccessful"
    bundle = evidence.load_bundle(evidence.bundle_paths(out, CHANGE)[0])
    assert bundle["sections"]["rollback"]["verified"] is False and bundle["sections"]["outcome"]["escalation_reason"] == "rollback_failed"
