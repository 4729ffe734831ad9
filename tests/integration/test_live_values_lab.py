# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic through fw1 between the approval and the deploy leaves the approval valid (issue 12, finding 4).

Own lab instance (k6-, ports 266xx, lab/run-k6). The fw1 ACL change (examples/changes/acl_update_fw1.yml, as a normal
change so it needs a signed approval) is assessed and approved; then HTTP requests from r3 to srv1:8080 move fw1's
forward-chain counters, before and during the whole pipeline run. The pipeline re-assesses, the review gate checks the
approval against that assessment, the deploy re-assesses once more and compares content hashes: all hold.
"""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
import yaml

from conftest_pipeline import PIPELINE, ASSESS, approve, extra_vars, run_playbook
from labfixture import ROOT, lab_session, nft_ruleset, run_env, signing_keys, srv1_answers_from

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.live_values import strip_live_values

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LAB_ENV = {"GC_LAB_PREFIX": "k6-", "GC_LAB_PORT_BASE": "26600", "GC_LAB_RUN": os.path.join(ROOT, "lab", "run-k6")}
CHANGE = os.path.join(ROOT, "examples", "changes", "acl_update_fw1.yml")
WEB_RULE = re.compile(r'tcp dport 8080 counter packets (\d+) bytes \d+ accept comment "acl: web to srv1"')


@pytest.fixture(scope="module")
def k6_env():
    env = run_env(LAB_ENV)
    for _status in lab_session(env=env):
        yield env


def fw1_ruleset():
    return nft_ruleset("k6-fw1")


def web_packets(ruleset):
    match = WEB_RULE.search(ruleset)
    assert match, ruleset
    return int(match.group(1))


def http_get_from_r3():
    return srv1_answers_from("k6-r3")


def test_traffic_between_assess_and_deploy_leaves_the_approval_valid(k6_env, tmp_path):  # pylint: disable=redefined-outer-name
    with open(CHANGE, encoding="utf-8") as handle:
        request = yaml.safe_load(handle)
    request["type"] = "normal"  # not the pre-approved standard change: the low tier then needs one signed approval
    change = tmp_path / "acl_update_fw1.yml"
    change.write_text(yaml.safe_dump(request, sort_keys=False))
    signing = tmp_path
    signing_keys(tmp_path)  # alice's key, allowed_signers and the lab policy beside the change
    out = tmp_path / "out"
    variables = extra_vars(str(change), out, signing)

    rc, assessed, output, _seconds = run_playbook(k6_env, ASSESS, variables, tmp_path, "assess")
    assert rc == 0, output[-3000:]
    approved_hash = assessed["governed_content_hash"]
    approve(out, "CHG-1001", signing)
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        assert [a["content_hash"] for a in ledger.approvals("CHG-1001")] == [approved_hash]

    # Traffic after the approval: the counters move, the content does not.
    before = fw1_ruleset()
    assert sum(http_get_from_r3() for _request in range(20)) == 20
    after = fw1_ruleset()
    assert web_packets(after) > web_packets(before) and after != before
    assert strip_live_values(after, "linux") == strip_live_values(before, "linux")

    # ... and it keeps flowing through the whole pipeline run (its assess, review gate and the deploy's re-assessment).
    stop, sent = threading.Event(), []

    def keep_sending():
        while not stop.is_set():
            sent.append(http_get_from_r3())
            time.sleep(0.2)

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        rc, art, output, seconds = run_playbook(k6_env, PIPELINE, variables, tmp_path, "pipeline")
    finally:
        stop.set()
        sender.join(timeout=15)
    final = fw1_ruleset()
    assert len(sent) >= 5 and all(sent), sent
    assert web_packets(final) > web_packets(after)
    assert rc == 0, output[-4000:]
    assert art["governed_content_hash"] == approved_hash, output[-4000:]
    assert (art["governed_review"], art["governed_outcome"], art["governed_deployed"]) == ("pass", "successful", ["fw1"])
    assert "content hash is now" not in output
    assert 'tcp dport 8443 counter packets' in final and 'comment "acl: https to srv1"' in final
    with SqliteLedger(str(out / "ledger.sqlite")) as ledger:
        record = ledger.get_change("CHG-1001")
        assert (record["state"], record["close_code"], record["content_hash"]) == ("closed", "successful", approved_hash)
        assert ledger.verify()["ok"]
    print("fw1 web rule packets: %d at approval, %d before the pipeline, %d after; %d requests during the %.1f s run"
          % (web_packets(before), web_packets(after), web_packets(final), len(sent), seconds))
