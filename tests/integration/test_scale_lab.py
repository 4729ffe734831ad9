# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sized lab (issue 16): `lab.py up --routers 10` (a chain of 10 FRR routers, own instance s1-, ports 301xx/302xx)
and one governed change across all of them through the real playbooks (assess reads every router, a signed approval,
playbooks/governed_change.yml: canary then one batch, backups, snapshots, checks, verify, close). Every router gets the
change and the ledger records all of them. Timed at 3, 10 and 30 routers by benchmarks/bench_scale_routers.py."""

from __future__ import annotations

import json
import os
import signal

import pytest

from labfixture import lab_cmd
from scale_lab import CHANGE_ID, SERVICE_LINE, lab_env, routers_with_the_change, run_change, tail, workspace

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

ROUTERS = 10
ENV = lab_env("s1-", 30000, "/tmp/gc-s1")
NAMES = ["r%d" % i for i in range(1, ROUTERS + 1)]


def _terminate_as_interrupt(signum, frame):  # pylint: disable=unused-argument
    raise KeyboardInterrupt("SIGTERM")


@pytest.fixture(scope="module")
def sized_lab():
    """This module's own sized lab, torn down on every exit path; yields its status."""
    if os.geteuid() != 0:
        raise RuntimeError("the lab tests need root (network namespaces): run `make test` as root")
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        lab_cmd("up", "--routers", str(ROUTERS), env=ENV)
        lab_cmd("wait", "--timeout", "90", env=ENV)
        yield json.loads(lab_cmd("status", "--json", env=ENV).stdout)
    finally:
        lab_cmd("down", env=ENV, check=False)
        signal.signal(signal.SIGTERM, previous)


def test_the_sized_lab_is_a_converged_chain_with_its_own_inventory(sized_lab):
    assert sized_lab["converged"] and sized_lab["sized"]["routers"] == ROUTERS and not sized_lab["sized"]["ring"]
    assert sorted(sized_lab["routers"], key=lambda n: int(n[1:])) == NAMES
    # a chain: the ends have one BGP neighbour, every other router two
    assert [len(sized_lab["routers"][n]) for n in NAMES] == [1] + [2] * (ROUTERS - 2) + [1]
    assert sized_lab["ports"]["r1"] == 30101 and sized_lab["ports"]["r10-host"] == 30210
    with open(sized_lab["sized"]["inventory"], encoding="utf-8") as handle:
        inventory = handle.read()
    assert all("        %s:\n" % name in inventory for name in NAMES) and "ansible_port: 30110" in inventory


def test_one_governed_change_reaches_every_router_and_the_ledger_records_all(sized_lab, tmp_path):  # pylint: disable=unused-argument
    assert routers_with_the_change(ENV, ROUTERS) == []
    base = workspace(tmp_path)
    result = run_change(ENV, base, sized_lab["sized"]["inventory"])
    assert result["assess_rc"] == 0, tail(result["assess_log"])
    assert result["rc"] == 0, tail(result["pipeline_log"])
    assert routers_with_the_change(ENV, ROUTERS) == NAMES
    with SqliteLedger(str(result["out"] / "ledger.sqlite"), readonly=True) as ledger:
        record = ledger.get_change(CHANGE_ID)
        events = ledger.events(change_id=CHANGE_ID)
        verified = ledger.verify()
        locks = ledger.locks()
    assert (record["state"], record["close_code"]) == ("closed", "successful")
    assert verified["ok"], verified["problems"]
    acquired = [e for e in events if e["kind"] == "lock.acquired"]
    # every router leased (the run records two acquisitions of the same leases, same owner) and every lease released
    assert sorted({d for e in acquired for d in e["data"]["devices"]}) == sorted(NAMES) and locks == []
    assessed = [e for e in events if e["kind"] == "change.assessed"]
    assert assessed and assessed[-1]["data"]["tier"] == "medium"
    with open(str(result["out"] / "assessments" / ("%s.assessment.json" % CHANGE_ID)), encoding="utf-8") as handle:
        assessment = json.load(handle)
    assert assessment["hosts"] == sorted(NAMES) and all(
        SERVICE_LINE in assessment["devices"][n]["new_lines"] for n in NAMES)
    print("\nscale lab: %d routers, assess %.1f s, pipeline %.1f s, peak controller tree %.0f MB" % (
        ROUTERS, result["assess_s"], result["seconds"], result["peak_mb"]))
