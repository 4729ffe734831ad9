"""governed.change.close through real ansible-playbook runs: lifecycle, outcome, evidence, idempotence, check mode, refusals."""

from __future__ import annotations

import json
import os

from evidence_support import CHANGE, SECRET, playbook, scheduled_change, stages

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger


def close_task(ledger, out, outcome, stages_file=None, **extra):
    args = {"ledger": ledger, "change_id": CHANGE, "outcome": outcome, "output_dir": out, "reason": "because"}
    if stages_file:
        args["stages"] = "{{ lookup('file', '%s') | from_json }}" % stages_file
    args.update(extra)
    return [{"name": "Close the change", "governed.change.close": args, "register": "closed"},
            {"name": "Dump", "ansible.builtin.copy": {"content": "{{ closed | to_json }}", "dest": out + "/closed.json", "mode": "0600"}}]


def _close(tmp_path, ledger, out, outcome, data=None, extra=(), check=True, **args):
    stages_file = None
    if data is not None:
        stages_file = str(tmp_path / "stages.json")
        with open(stages_file, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
    proc = playbook(tmp_path, close_task(ledger, out, outcome, stages_file, **args), extra=extra, check=check,
                    env={"GOVERNED_EVIDENCE_ENABLED": "0"})
    path = os.path.join(out, "closed.json")
    result = json.load(open(path, encoding="utf-8")) if os.path.isfile(path) else None
    if result is not None:
        os.unlink(path)
    return proc, result


def _events(ledger):
    with SqliteLedger(ledger) as led:
        return led.get_change(CHANGE), [e["kind"] for e in led.events(change_id=CHANGE)], led


def test_good_change_moves_to_closed_successful_and_writes_evidence(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    proc, result = _close(tmp_path, ledger, out, "successful", stages(tmp_path), started="2026-11-22T13:00:00Z")
    assert proc.returncode == 0 and result["changed"] is True and result["rebuilt"] is False
    change, kinds, _led = _events(ledger)
    assert change["state"] == "closed" and change["close_code"] == "successful"
    assert kinds[-6:] == ["stage.results", "change.state", "change.state", "change.state", "change.outcome", "evidence.built"]
    assert result["evidence"] == os.path.join(out, "evidence", CHANGE, "bundle.json") and os.path.isfile(result["report"])
    bundle = evidence.load_bundle(result["evidence"])
    with SqliteLedger(ledger) as led:
        assert evidence.verify_bundle(bundle, led)["ok"] is True
        built = [e for e in led.events(change_id=CHANGE) if e["kind"] == "evidence.built"][-1]
        assert built["data"]["bundle_sha256"] == result["bundle_sha256"] == bundle["sha256"]
        recorded = [e for e in led.events(change_id=CHANGE) if e["kind"] == "stage.results"][-1]["data"]["stages"]
    assert set(recorded["hosts"]["r1"]["pre"]) == {"path", "sha256", "kind", "bytes", "summary"}
    assert SECRET not in json.dumps(recorded) and SECRET not in open(result["evidence"], encoding="utf-8").read()
    assert result["summary_lines"][0].endswith(": closed/successful (because)")
    assert "  Devices: 1 ok (r1), 0 failed, 0 rolled back" in result["summary_lines"]
    assert result["summary"]["outcome"] == "successful" and result["ledger"]["verify_ok"] is True


def test_closing_again_with_the_same_outcome_only_rebuilds(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    _close(tmp_path, ledger, out, "unsuccessful", stages(tmp_path, failed=True))
    _c, before, _l = _events(ledger)
    proc, result = _close(tmp_path, ledger, out, "unsuccessful")
    assert proc.returncode == 0 and result["changed"] is False and result["rebuilt"] is True
    _c, after, _l = _events(ledger)
    assert after == before + ["evidence.built"]
    assert evidence.load_bundle(result["evidence"])["sections"]["rollback"]["hosts"] == ["r1"]  # stages kept from the ledger


def test_a_different_outcome_is_refused(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    _close(tmp_path, ledger, out, "successful", stages(tmp_path))
    proc, _result = _close(tmp_path, ledger, out, "unsuccessful", check=False)
    assert proc.returncode != 0
    assert "governed.change.close: close.outcome: change CHG-7001 is already successful; it cannot be closed again as unsuccessful." \
        in " ".join(proc.stdout.split())
    assert _events(ledger)[0]["close_code"] == "successful"


def test_check_mode_writes_nothing(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    _c, before, _l = _events(ledger)
    proc = playbook(tmp_path, close_task(ledger, out, "successful")[:1] + [
        {"name": "Show", "ansible.builtin.debug": {"var": "closed.summary_lines"}}], extra=["--check"])
    change, after, _l = _events(ledger)
    assert after == before and change["state"] == "scheduled"
    assert not os.path.exists(os.path.join(out, "evidence"))
    assert "(check mode) would move scheduled -> implement -> review -> closed and record outcome successful" in " ".join(proc.stdout.split())


def test_refused_before_deploy_is_canceled(tmp_path):
    ledger, out = scheduled_change(tmp_path, state="authorize")
    proc, result = _close(tmp_path, ledger, out, "canceled", reason="approval denied")
    assert proc.returncode == 0 and result["state"] == "canceled"
    change, kinds, _l = _events(ledger)
    assert change["state"] == "canceled" and kinds[-3:] == ["change.state", "change.outcome", "evidence.built"]
    assert "  Devices: 0 ok, 0 failed, 0 rolled back" in result["summary_lines"]


def test_unauthorized_change_cannot_be_closed_as_done(tmp_path):
    ledger, out = scheduled_change(tmp_path, state="authorize")
    proc, _result = _close(tmp_path, ledger, out, "successful", check=False)
    assert proc.returncode != 0 and "never passed the review gate" in proc.stdout
    assert _events(ledger)[0]["state"] == "authorize"


def test_missing_ledger_and_bad_outcome_are_refused(tmp_path):
    ledger, out = scheduled_change(tmp_path)
    proc, _r = _close(tmp_path, str(tmp_path / "nope.sqlite"), out, "successful", check=False)
    assert proc.returncode != 0 and "the ledger file does not exist" in proc.stdout
    proc, _r = _close(tmp_path, ledger, out, "done", check=False)
    assert proc.returncode != 0 and "value of outcome must be one of" in proc.stdout
