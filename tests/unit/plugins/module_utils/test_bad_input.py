# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input suite: every row of bad_input_cases.CASES is refused clearly, cheaply and without a trace.

Each case asserts: the refusal names the field (or file:line) and the fix, no traceback, a bounded message, a quick
answer, nothing written to the output directory, and nothing recorded in a real SQLite ledger except the review
gate's refusal verdict where one belongs. No case reaches a device stage; tests/integration/test_bad_input_lab.py
runs a handful through ansible-playbook against the lab and checks the devices' configs are unchanged.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import os
import sqlite3
import sys
import time

import pytest
import yaml

from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.change_request import load_change_request
from ansible_collections.governed.change.plugins.module_utils.cli import main
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.paths import safe_join
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.records import record_assessment
from ansible_collections.governed.change.plugins.module_utils.review import review_gate

from bad_input_cases import BIG_FILE_BYTES, CASES, KINDS
from assess_support import FRR_R2, INVENTORY, NOW, POLICY_FILE, ROOT

HASH = "d" * 64
MAX_SECONDS = 5.0        # a refusal is cheap: the unfixed alias bomb took 50 s
MAX_MESSAGE = 2000       # and short: a 1,000,000-character title is never echoed back
BASE_CR = {
    "id": "CHG-2001", "title": "Blackhole 10.9.0.0/16 on r2", "description": "Drop traffic to a retired range.",
    "author": "carol", "type": "normal", "category": "other", "targets": ["r2"],
    "config": {"r2": {"lines": ["ip route 10.9.0.0/16 blackhole"]}},
}
EXTRA_IDENTITIES = {"carol-admin": {"groups": ["netops", "cab"], "principals": ["carol-admin@lab"], "person": "carol"},
                    "bob-admin": {"groups": ["cab"], "principals": ["bob-admin@lab"], "person": "bob"}}
BASE_APPROVAL = {"change_id": "CHG-2001", "approver": "bob", "decision": "approve", "content_hash": HASH,
                 "ts": "2026-10-31T23:00:00Z", "source": "awx", "verified": True, "comment": "", "principal": None}
GATE_NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
CLI_POLICY = """\
policy_version: 1
name: lab-policy
identities:
  alice: {groups: [netops], principals: [alice@lab]}
  bob: {groups: [netops, cab], principals: [bob@lab]}
allowed_signers: allowed_signers
requirements: {low: {}, medium: {}, high: {}, critical: {}}
"""


def _set(doc, dotted, value):
    """Set doc[a][b][0]... from 'a.b.0' (creating mappings on the way)."""
    keys = dotted.split(".")
    node = doc
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _mutated(base, data):
    doc = copy.deepcopy(base)
    for dotted, value in (data.get("set") or {}).items():
        _set(doc, dotted, value)
    for key in data.get("delete") or ():
        doc.pop(key)
    return doc


def _special_path(tmp_path, kind, name):
    """A path that is a directory, a FIFO or nothing, for the cases about the file itself."""
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(str(path))
    return str(path)


def _write_input(tmp_path, data, base, name):
    """The input file of a document case: raw YAML/bytes, a mutated base, an oversized file or a special path."""
    if "path" in data:
        return _special_path(tmp_path, data["path"], name)
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    path = folder / name
    if "yaml" in data:
        path.write_text(data["yaml"], encoding="utf-8")
    elif "bytes" in data:
        path.write_bytes(data["bytes"])
    elif data.get("big_file"):
        with open(str(path), "wb") as handle:
            handle.write(b"# padding\n" * (BIG_FILE_BYTES // 10 + 1))
    else:
        path.write_text(yaml.safe_dump(_mutated(base, data), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def ledger_path(tmp_path):
    """A real SQLite ledger holding CHG-2001 (assessed, author carol) and CHG-1001 (assessed, author dave)."""
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path) as led:
        for change_id, author in (("CHG-2001", "carol"), ("CHG-1001", "dave")):
            led.create_change(change_id, "a change", author)
            led.set_assessment(change_id, "high", HASH, "assess")
    return path


def _events(path):
    with sqlite3.connect(path) as db:
        return [(row[0], row[1]) for row in db.execute("SELECT seq, kind FROM events ORDER BY seq")]


def _example_policy():
    with open(POLICY_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _assess_and_record(cr_path, policy_path, inventory, ledger, out_dir):
    """What the assess stage does, in-process: load, validate, assess, write the assessment, record the change."""
    request = load_change_request(cr_path)
    policy = load_policy(policy_path)
    diffs = {"r2": {"running": FRR_R2}} if "r2" in request["targets"] else {}
    assessment = assess(request, policy, inventory, diffs=diffs, now=NOW, source=cr_path)
    path = safe_join(out_dir, "%s.assessment.json" % assessment["change_id"])
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(assessment, handle)
    record_assessment(ledger, assessment)
    return assessment


def _refusal(func):
    started = time.monotonic()
    with pytest.raises(GovernedChangeError) as info:
        func()
    return info.value.render(), time.monotonic() - started


def run_change_request(case, tmp_path, ledger, out_dir):
    path = _write_input(tmp_path, case["data"], BASE_CR, "change.yml")
    return _refusal(lambda: _assess_and_record(path, POLICY_FILE, INVENTORY, ledger, out_dir))


def run_policy(case, tmp_path, ledger, out_dir):
    data = case["data"]
    if data.get("split"):
        folder = tmp_path / "in" / "policy.d"
        folder.mkdir(parents=True)
        policy = _example_policy()
        (folder / "10-main.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
        (folder / "20-risk.yml").write_text(yaml.safe_dump({"risk": policy["risk"]}, sort_keys=False))
        path = str(folder)
    elif "append" in data or "replace" in data:
        with open(POLICY_FILE, encoding="utf-8") as handle:
            text = handle.read()
        if "replace" in data:
            old, new = data["replace"]
            assert text.count(old) == 1
            text = text.replace(old, new)
        path = _write_input(tmp_path, {"yaml": text + data.get("append", "")}, None, "policy.yml")
    else:
        path = _write_input(tmp_path, data, _example_policy(), "policy.yml")
    cr_path = _write_input(tmp_path, {}, BASE_CR, "change.yml")
    return _refusal(lambda: _assess_and_record(cr_path, path, INVENTORY, ledger, out_dir))


def run_inventory(case, tmp_path, ledger, out_dir):
    data = case["data"]
    inventory = copy.deepcopy(INVENTORY)
    for host, key, value in data.get("hostvar") or ():
        if value is None:
            inventory["hosts"][host]["vars"].pop(key)
        else:
            inventory["hosts"][host]["vars"][key] = value
    if "rename" in data:
        old, new = data["rename"]
        inventory["hosts"][new] = inventory["hosts"].pop(old)
        inventory["groups"] = {group: [new if member == old else member for member in members]
                               for group, members in inventory["groups"].items()}
    if "group" in data:
        inventory["groups"][data["group"][0]] = data["group"][1]
    if "hostentry" in data:
        inventory["hosts"][data["hostentry"][0]] = data["hostentry"][1]
    if "whole" in data:
        inventory = data["whole"]
    cr_path = _write_input(tmp_path, {}, BASE_CR, "change.yml")
    return _refusal(lambda: _assess_and_record(cr_path, POLICY_FILE, inventory, ledger, out_dir))


def run_approval(case, tmp_path, ledger, out_dir):  # pylint: disable=unused-argument
    """The review gate over the approvals; its failed verdict is recorded (the one event that belongs)."""
    data = case["data"]
    policy_doc = _example_policy()
    policy_doc["identities"].update(copy.deepcopy(EXTRA_IDENTITIES))
    (tmp_path / "policy.yml").write_text(yaml.safe_dump(policy_doc, sort_keys=False))
    (tmp_path / "allowed_signers").write_text('bob@lab namespaces="governed.change" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n')
    policy = load_policy(str(tmp_path / "policy.yml"))
    if "records" in data:
        records = [item if not isinstance(item, dict) else dict(BASE_APPROVAL, **item) for item in data["records"]]
    else:
        record = _mutated(BASE_APPROVAL, data)
        record.pop(data.get("drop"), None)
        records = [record]
    assessment = {"change_id": "CHG-2001", "content_hash": HASH, "tier": "high", "change_class": "normal"}
    started = time.monotonic()
    verdict = review_gate(policy, assessment, records, author="carol", launcher=data.get("launcher", "svc-ci"), now=GATE_NOW)
    elapsed = time.monotonic() - started
    assert verdict["decision"] == "fail"
    with SqliteLedger(ledger) as led:
        led.record_verdict("CHG-2001", "review", verdict)
    text = " ".join(verdict["reasons"] + [item["reason"] for item in verdict["rejected"]])
    return text, elapsed


def _cli_value(token, tmp_path, counter):
    """Placeholders in CLI case argv: @dir, @fifo, @missing, @ledger, @wf, @text:<content>, @json:<variant>."""
    if not isinstance(token, str) or not token.startswith("@"):
        return token
    if token.startswith("@@"):
        return "@" + _cli_value(token[1:], tmp_path, counter)
    name = token[1:]
    if name in ("dir", "fifo"):
        return _special_path(tmp_path, "directory" if name == "dir" else "fifo", name)
    if name == "missing":
        return str(tmp_path / "in" / "missing")
    if name == "ledger":
        return str(tmp_path / "ledger.sqlite")
    if name == "wf":
        return os.path.join(ROOT, "workflow_templates", "normal_change.yml")
    counter.append(1)
    path = tmp_path / "in" / ("arg%d" % len(counter))
    path.parent.mkdir(exist_ok=True)
    if name.startswith("text:"):
        path.write_text(name[len("text:"):], encoding="utf-8")
    elif name.startswith("json:"):
        doc = {"change_id": "CHG-9999" if name.endswith("other") else "CHG-1001", "tier": "high"}
        if not name.endswith("nohash"):
            doc["content_hash"] = HASH
        path.write_text(json.dumps(doc))
    return str(path)


def _approve_argv(tmp_path, options, counter):
    (tmp_path / "cli").mkdir(exist_ok=True)
    (tmp_path / "cli" / "policy.yml").write_text(CLI_POLICY)
    (tmp_path / "cli" / "assessment.json").write_text(json.dumps({"change_id": "CHG-1001", "tier": "high", "content_hash": HASH}))
    defaults = {"--ledger": str(tmp_path / "ledger.sqlite"), "--change": "CHG-1001",
                "--assessment": str(tmp_path / "cli" / "assessment.json"), "--key": str(tmp_path / "cli" / "alice"),
                "--identity": "alice", "--policy": str(tmp_path / "cli" / "policy.yml"), "--comment": "ok"}
    defaults.update(options)
    argv = ["approve"]
    for option, value in defaults.items():
        if value is not None:
            argv += [option, _cli_value(value, tmp_path, counter)]
    return argv + ["--yes"]


def run_cli(case, tmp_path, ledger, out_dir, capsys, monkeypatch):  # pylint: disable=unused-argument,too-many-arguments
    monkeypatch.delenv("GOVERNED_CHANGE_LEDGER", raising=False)
    counter = []
    data = case["data"]
    if "approve" in data:
        argv = _approve_argv(tmp_path, data["approve"], counter)
    else:
        argv = [_cli_value(token, tmp_path, counter) for token in data["argv"]]
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(argv, out=out, err=err, stdin=io.StringIO(""))
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()  # argparse writes its usage errors to sys.stderr
    text = out.getvalue() + err.getvalue() + captured.out + captured.err
    assert code != 0, text
    return text, elapsed


def run_workflow(case, tmp_path, ledger, out_dir, capsys, monkeypatch):  # pylint: disable=unused-argument,too-many-arguments
    data = case["data"]
    if "edge_to" in data or "template_name" in data:
        with open(os.path.join(ROOT, "workflow_templates", "normal_change.yml"), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        if "edge_to" in data:
            doc["workflow_nodes"][0]["related"]["success_nodes"] = [{"identifier": data["edge_to"]}]
        else:
            doc["workflow_nodes"][0]["unified_job_template"]["name"] = data["template_name"]
        data = {"yaml": yaml.safe_dump(doc, sort_keys=False)}
    path = _write_input(tmp_path, data, None, "wf.yml")
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(["workflow", "validate", path, "--controller-config", os.path.join(ROOT, "controller"), "--project-dir", ROOT],
                out=out, err=err)
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    text = out.getvalue() + err.getvalue() + captured.out + captured.err
    assert code != 0, text
    return text, elapsed


def test_the_suite_covers_every_kind_with_at_least_100_cases():
    assert len(CASES) >= 100
    assert len({case["id"] for case in CASES}) == len(CASES), "case ids must be unique"
    assert {case["kind"] for case in CASES} == set(KINDS)
    assert all(case["expect"] and case["field"] and case["input"] for case in CASES)


def test_the_base_inputs_are_accepted(tmp_path, ledger_path):
    """The control: the unmutated change request, policy and inventory assess and record (so a refusal is the input's)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cr_path = _write_input(tmp_path, {}, BASE_CR, "change.yml")
    policy_path = _write_input(tmp_path, {}, _example_policy(), "policy.yml")
    before = len(_events(ledger_path))
    assessment = _assess_and_record(cr_path, policy_path, INVENTORY, ledger_path, str(out_dir))
    assert assessment["devices"]["r2"]["new_lines"] == ["ip route 10.9.0.0/16 blackhole"]
    assert len(_events(ledger_path)) > before and os.listdir(str(out_dir)) == ["CHG-2001.assessment.json"]


RUNNERS = {"change request": run_change_request, "policy": run_policy, "inventory": run_inventory, "approval": run_approval}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_refused(case, tmp_path, ledger_path, capsys, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = _events(ledger_path)
    if case["kind"] == "CLI":
        text, elapsed = run_cli(case, tmp_path, ledger_path, str(out_dir), capsys, monkeypatch)
    elif case["kind"] == "workflow template":
        text, elapsed = run_workflow(case, tmp_path, ledger_path, str(out_dir), capsys, monkeypatch)
    else:
        text, elapsed = RUNNERS[case["kind"]](case, tmp_path, ledger_path, str(out_dir))
    assert case["expect"] in text, text[:MAX_MESSAGE]
    assert case["field"] in text, text[:MAX_MESSAGE]
    assert "fix:" in text.lower() or "usage:" in text, "the refusal must say how to fix it: %s" % text[:MAX_MESSAGE]
    assert "Traceback" not in text
    assert len(text) < MAX_MESSAGE * (4 if case["kind"] == "workflow template" else 1), "the refusal echoes too much"
    assert "\x1b" not in text, "a terminal escape from the input reached the message"
    assert elapsed < MAX_SECONDS, "%.1f s to refuse" % elapsed
    assert os.listdir(str(out_dir)) == [], "a refused input wrote output"
    after = _events(ledger_path)
    if case["kind"] == "approval":
        assert after[:len(before)] == before and [kind for _seq, kind in after[len(before):]] == ["verdict.review"]
    else:
        assert after == before, "a refused input was recorded in the ledger"
    with SqliteLedger(ledger_path) as led:
        assert led.verify()["ok"]


def test_docs_table_is_up_to_date():
    """docs/bad-input.md is generated from CASES by scripts/bad_input_table.py; regenerate it when a case changes."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import bad_input_table  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "docs", "bad-input.md"), encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == bad_input_table.render(CASES, KINDS), "run: python3 scripts/bad_input_table.py"
