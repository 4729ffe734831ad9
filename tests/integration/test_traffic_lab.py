# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A firewall change that blocks a service is caught by the traffic checks (issue 12, finding 3).

Own lab instance (k10-, ports 270xx, lab/run-k10). The example policy's catalogue lists srv1_web (10.0.45.10:8080
from r3 through fw1). A standard ACL change on fw1 dropping tcp 8000-8100 to 10.0.45.0/24 is probed from r3's namespace
before the deploy (reachable) and after it (blocked): the deploy fails on fw1/probes_still_pass, fw1 is restored and
srv1:8080 answers a real connection from r3 again. The shipped good change (examples/changes/acl_update_fw1.yml) still
closes successful with the same probes. The probe cost over SSH is measured and printed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time

import pytest
import yaml

from conftest_pipeline import ASSESS, PIPELINE, approve, extra_vars, run_playbook
from labfixture import ROOT, lab_session, lab_ssh_argv, nft_ruleset, run_env, signing_keys, srv1_answers_from

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.platforms.base import parse_probe_output, probe_command

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "k10-", "GC_LAB_PORT_BASE": "27000", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k10")}
R3_HOST_PORT = int(LAB_ENV["GC_LAB_PORT_BASE"]) + 13
GOOD = os.path.join(ROOT, "examples", "changes", "acl_update_fw1.yml")
BLOCK = 'insert rule inet filter forward ip daddr 10.0.45.0/24 tcp dport 8000-8100 counter drop comment "k10: block web"'


@pytest.fixture(scope="module")
def k10_env():
    env = run_env(LAB_ENV)
    for _status in lab_session(env=env):
        yield env


def fw1_ruleset():
    return nft_ruleset("k10-fw1")


def http_get_from_r3():
    return srv1_answers_from("k10-r3")


def probe_from_r3(probes):
    """The pipeline's probe script, run over SSH in r3's host shell as the stages run it; (results, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(lab_ssh_argv(LAB_ENV["GC_LAB_RUN"], R3_HOST_PORT) + [probe_command(probes)], capture_output=True,
                          text=True, timeout=60, check=True)
    return parse_probe_output(probes, proc.stdout), time.monotonic() - started


def setup_run(tmp_path, request):
    """The change file, the lab policy trusting alice's fresh ed25519 key, the output folder and the extra vars."""
    change = tmp_path / "change.yml"
    change.write_text(yaml.safe_dump(request, sort_keys=False))
    signing_keys(tmp_path)  # alice's key, allowed_signers and the lab policy beside the change
    out = tmp_path / "out"
    return out, extra_vars(str(change), out, tmp_path)


def probes_of(ref):
    return statestore.load(ref)["sections"]["probes"]


def test_blocking_change_is_caught_rolled_back_and_srv1_reachable_again(k10_env, tmp_path):  # pylint: disable=redefined-outer-name
    with open(GOOD, encoding="utf-8") as handle:
        request = yaml.safe_load(handle)
    request.update(id="CHG-1010", title="Tidy the web ports to srv1", expected=[],
                   description="Drop tcp 8000-8100 to the srv1 segment (a mistake: srv1 serves on 8080).")
    request["config"] = {"fw1": {"lines": [BLOCK]}}
    out, variables = setup_run(tmp_path, request)
    before = fw1_ruleset()
    assert http_get_from_r3()

    rc, assessed, output, _seconds = run_playbook(k10_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    with open(assessed["governed_assessment_file"], encoding="utf-8") as handle:
        assessment = json.load(handle)
    traffic = assessment["verification"]["traffic"]
    assert [p["name"] for p in traffic["probes_by_host"]["fw1"]] == ["srv1_web"] and traffic["services"][0]["touched_by"] == [BLOCK]
    # medium tier (no expected checks): one signed approval over the assessed content hash
    approve(out, "CHG-1010", tmp_path)

    rc, art, output, seconds = run_playbook(k10_env, PIPELINE, variables, tmp_path, "pipeline")
    assert rc != 0, output[-4000:]
    assert (art["governed_outcome"], art["governed_stage_failed"], art["governed_deployed"]) == ("unsuccessful", "deploy", ["fw1"]), \
        output[-4000:]
    assert "fw1" in art["governed_failed_hosts"] and art["governed_rolled_back"] == ["fw1"], output[-4000:]
    assert art["governed_rollback_verified"] is True, output[-4000:]
    assert "probes_still_pass" in output
    # the traffic check saw it: reachable before the deploy, blocked after it, reachable after the rollback
    assert probes_of(art["governed_pre_snapshots"]["fw1"])["srv1_web"]["result"] == "ok"
    assert probes_of(art["governed_post_snapshots"]["fw1"])["srv1_web"]["result"] == "ok"
    # fw1 is back to its pre-change rules and srv1:8080 answers a real connection from r3's namespace
    after = fw1_ruleset()
    assert "k10: block web" not in after
    assert http_get_from_r3()
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        record = ledger.get_change("CHG-1010")
        assert (record["state"], record["close_code"]) == ("closed", "unsuccessful")
        assert ledger.verify()["ok"]
    assert before.count("accept") == after.count("accept")
    print("blocking change: pipeline %.1f s, caught and rolled back" % seconds)


def test_shipped_good_firewall_change_still_closes_successful(k10_env, tmp_path):  # pylint: disable=redefined-outer-name
    with open(GOOD, encoding="utf-8") as handle:
        request = yaml.safe_load(handle)
    out, variables = setup_run(tmp_path, request)
    rc, art, output, seconds = run_playbook(k10_env, PIPELINE, variables, tmp_path, "pipeline")
    assert rc == 0, output[-4000:]
    assert (art["governed_outcome"], art["governed_deployed"]) == ("successful", ["fw1"]), output[-4000:]
    pre = probes_of(art["governed_pre_snapshots"]["fw1"])
    assert pre["srv1_web"]["result"] == "ok" and "rule tcp 10.0.45.10:8443 from r3" in pre
    assert pre["srv1_web"]["probe"] == {"name": "srv1_web", "type": "tcp", "host": "10.0.45.10", "port": 8080, "from": "r3",
                                        "timeout": 2}
    assert 'comment "acl: https to srv1"' in fw1_ruleset() and http_get_from_r3()
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        assert ledger.get_change("CHG-1001")["close_code"] == "successful"
    print("good firewall change: pipeline %.1f s" % seconds)

    # A stage given no probes and no assessment (a rollback or recover run by hand) runs the pre snapshot's probes.
    playbook = tmp_path / "check_without_probes.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Check fw1 against its pre-change snapshot, no probes given", "hosts": "fw1", "gather_facts": False,
        "tasks": [{"name": "Check", "governed.change.check": {"pre": art["governed_pre_snapshots"]["fw1"], "no_regression": True,
                                                              "settle_timeout": 10, "store_dir": str(tmp_path / "store")},
                   "register": "k10_check"},
                  {"name": "Publish", "ansible.builtin.set_stats": {"data": {"k10_check": "{{ k10_check }}"}}}]}], sort_keys=False))
    rc, stats, output, _seconds = run_playbook(k10_env, str(playbook), {}, tmp_path, "check")
    assert rc == 0, output[-3000:]
    taken = probes_of(stats["k10_check"]["post"])
    assert sorted(taken) == ["rule tcp 10.0.45.10:8443 from r3", "srv1_web"] and taken["srv1_web"]["result"] == "ok"
    assert stats["k10_check"]["passed"] is True


def test_probe_cost(k10_env):  # pylint: disable=redefined-outer-name,unused-argument
    """Seconds per probe run as the stages run them: one SSH session to the vantage point, probes in parallel."""
    web = {"name": "srv1_web", "type": "tcp", "host": "10.0.45.10", "port": 8080, "from": "r3", "timeout": 2}
    closed = {"name": "closed", "type": "tcp", "host": "10.0.45.10", "port": 8099, "from": "r3", "timeout": 2}
    reachable, blocked, both = [], [], []
    for _round in range(5):
        result, seconds = probe_from_r3([web])
        assert result == {"srv1_web": "ok"}
        reachable.append(seconds)
        result, seconds = probe_from_r3([closed])
        assert result == {"closed": "fail"}  # fw1's forward policy drops it: the probe waits for its timeout
        blocked.append(seconds)
        result, seconds = probe_from_r3([web, closed])
        assert result == {"srv1_web": "ok", "closed": "fail"}
        both.append(seconds)
    print("probe cost (median of 5, SSH included): reachable %.3f s, blocked %.3f s (timeout 2 s), both in one session %.3f s"
          % (statistics.median(reachable), statistics.median(blocked), statistics.median(both)))
    assert statistics.median(reachable) < 2.0 and statistics.median(blocked) >= 2.0
