# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed.change.metrics in-process: ActionModule.run() with a real Task computes the metrics of a real ledger, writes
the chosen files (none in check mode) and refuses bad arguments naming them."""

from __future__ import annotations

import datetime

import pytest

from action_harness import assessed_workspace, run_action

from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

MONDAY = datetime.datetime(2026, 11, 2, tzinfo=datetime.timezone.utc)


@pytest.fixture
def ledger(tmp_path):
    """Two changes: CHG-1 closed successful, CHG-2 closed unsuccessful (both reached implement)."""
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path, clock=lambda: MONDAY) as led:
        for cid, code in (("CHG-1", "successful"), ("CHG-2", "unsuccessful")):
            led.create_change(cid, "t", "carol", actor="governed.change.assess", tier="high")
            for state in ("assess", "authorize", "scheduled", "implement", "review"):
                led.transition(cid, state, "governed.change")
            led.transition(cid, "closed", "governed.change", close_code=code)
    return path


def test_returns_the_totals_and_writes_the_formats(ledger, tmp_path):
    out = tmp_path / "metrics"
    out.mkdir()
    result = run_action("metrics", {"ledger": ledger, "output_dir": str(out), "by": "tier"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["totals"][0]["group"] == "high"
    assert result["totals"][0]["change_failure_rate"] == {"failed": 1, "deployed": 2, "rate": 0.5}
    assert sorted(p.name for p in out.iterdir()) == ["governed_change.prom", "metrics.html", "metrics.json"]
    assert 'governed_change_change_failure_ratio{period="all",tier="high"} 0.5' in (out / "governed_change.prom").read_text()
    only_data = run_action("metrics", {"ledger": ledger})
    assert only_data["changed"] is False and only_data["files"] == {} and only_data["totals"][0]["counts"]["requested"] == 2


def test_check_mode_writes_nothing(ledger, tmp_path):
    result = run_action("metrics", {"ledger": ledger, "output_dir": str(tmp_path), "formats": ["table"]}, check_mode=True)
    assert result["changed"] is True and result["files"] == {"table": str(tmp_path / "metrics.txt")}
    assert not (tmp_path / "metrics.txt").exists()


def test_bad_arguments_fail_naming_the_field(ledger, tmp_path):
    result = run_action("metrics", {"ledger": ledger, "period": "year"})
    assert result["failed"] and "period" in result["msg"] and "governed.change.metrics" in result["msg"]
    result = run_action("metrics", {"ledger": str(tmp_path / "none.sqlite")})
    assert result["failed"] and "ledger" in result["msg"] and "does not exist" in result["msg"]
    result = run_action("metrics", {"ledger": ledger, "timezone": "Nowhere/Else"})
    assert result["failed"] and "unknown time zone" in result["msg"]
    result = run_action("metrics", {"ledger": ledger, "output_dir": str(tmp_path / "missing")})
    assert result["failed"] and "output_dir" in result["msg"]


def test_a_real_assessment_records_the_category_and_sites_the_metrics_group_by(tmp_path):
    """governed.change.assess in-process (the example change request, the lab inventory) writes verdict.assess with the
    request's category and the sites it touches; the metrics read them back."""
    assessed = assessed_workspace(tmp_path)
    change = assessed["assessment"]
    by_category = run_action("metrics", {"ledger": str(tmp_path / "ledger.sqlite"), "by": "category"})
    by_site = run_action("metrics", {"ledger": str(tmp_path / "ledger.sqlite"), "by": "site"})
    assert [row["group"] for row in by_category["totals"]] == [change["category"]]
    assert [row["group"] for row in by_site["totals"]] == change["blast_radius"]["sites"] and change["blast_radius"]["sites"]
    assert by_category["totals"][0]["counts"]["requested"] == 1


def test_since_and_before_bound_the_range(ledger):
    # both changes were requested, deployed and closed at Monday 00:00 UTC
    assert run_action("metrics", {"ledger": ledger, "before": "2026-11-02"})["totals"] == []
    inside = run_action("metrics", {"ledger": ledger, "since": "2026-11-02", "before": "2026-11-02T00:00:01Z"})
    assert inside["totals"][0]["counts"]["requested"] == 2
