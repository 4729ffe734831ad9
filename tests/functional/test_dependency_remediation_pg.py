"""The wait-for ledger source and the EDA decision history read a PostgreSQL ledger as they read a SQLite one
(ledger.open_ledger), on a real throwaway PostgreSQL server."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import dependency as dep
from ansible_collections.governed.change.plugins.module_utils import remediation
from ansible_collections.governed.change.plugins.module_utils.ledger import open_ledger


def test_the_ledger_source_waits_on_a_postgresql_ledger(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as ledger:
        ledger.create_change("CHG-FW", "Open tcp 8443 on fw1", "dave", actor="dave")
        for state in ("assess", "authorize", "scheduled"):
            ledger.transition("CHG-FW", state, "dave")
    poller = dep.LedgerPoller(dep.normalize_condition("ledger", {"change_id": "CHG-FW", "ledger": url}))
    try:
        first = poller()
        assert first["state"] == "not_met" and first["detail"] == "change CHG-FW is scheduled", first
        with open_ledger(url) as ledger:
            for state in ("implement", "review"):
                ledger.transition("CHG-FW", state, "dave")
            ledger.transition("CHG-FW", "closed", "dave", close_code="successful")
        assert poller()["state"] == "met"
    finally:
        poller.close()


def test_the_remediation_history_reads_a_postgresql_ledger(pg_server):
    url = pg_server.fresh_url()
    with open_ledger(url) as ledger:
        ledger.create_change("RMD-r1", "Event prefix_lost on r1", "eda", actor="eda")
        ledger.append_event("RMD-r1", remediation.DECIDED_EVENT, "eda", {"decision": "remediate", "device": "r1"})
        ledger.append_event("RMD-r1", "stage.started", "eda", {"stage": "assess"})
    history = remediation.decision_history(url)
    assert [(item["kind"], item["data"]["device"]) for item in history] == [(remediation.DECIDED_EVENT, "r1")]
