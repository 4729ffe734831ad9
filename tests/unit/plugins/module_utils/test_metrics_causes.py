# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The learning loop on the metrics outputs (issue 17, part 4): the causes of resolved escalations, counted by
learning.repeat_causes, appear in the JSON report, under the terminal table, as Prometheus gauges and on the HTML page
(checked in headless Chromium). The ledger is written through SqliteLedger and learning.resolve with an injected clock."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.governed.change.plugins.module_utils import cli, learning, metrics, metrics_render
from ansible_collections.governed.change.plugins.module_utils.clock import relative
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a fixed Monday morning; every event is an offset from it
AS_OF = relative(days=30, base=START)
DAY = 86400
TYPO = "Route-map typo not caught"
BFD = 'BFD timer "too short" for the \\ link'  # a quote and a backslash: Prometheus label escaping


class Clock:
    """The ledger's injected clock."""

    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment


def escalate(ledger, clock, cid, seconds):
    clock.moment = relative(seconds=seconds, base=START)
    return ledger.append_event(cid, "escalation.sent", "governed.change", {"reason": "change_failed"})


def resolve(ledger, clock, cid, seconds, cause, follow_up):
    clock.moment = relative(seconds=seconds, base=START)
    return learning.resolve(ledger, cid, cause, follow_up, "alice")


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory):
    """Three changes. CHG-A escalated on day 0 and again on day 3, CHG-B on day 1: all three resolved with the typo cause
    (worded three ways); CHG-C escalated on day 2 and resolved with the BFD cause; CHG-D escalated, never resolved."""
    path = str(tmp_path_factory.mktemp("causes") / "ledger.sqlite")
    clock = Clock(START)
    with SqliteLedger(path, clock=clock) as ledger:
        for cid in ("CHG-A", "CHG-B", "CHG-C", "CHG-D"):
            ledger.create_change(cid, "change %s" % cid, "carol", actor="governed.change.assess", tier="low", content_hash="ab" * 32)
        escalate(ledger, clock, "CHG-A", 60)
        resolve(ledger, clock, "CHG-A", 3600, TYPO, "lint route-maps in precheck")
        escalate(ledger, clock, "CHG-B", DAY)
        resolve(ledger, clock, "CHG-B", DAY + 3600, "route-map   TYPO not caught", "lint route-maps in precheck")
        escalate(ledger, clock, "CHG-C", 2 * DAY)
        resolve(ledger, clock, "CHG-C", 2 * DAY + 3600, BFD, "check BFD timers against the link type")
        escalate(ledger, clock, "CHG-A", 3 * DAY)
        resolve(ledger, clock, "CHG-A", 3 * DAY + 3600, "route-map typo not caught ", "a route-map unit test")
        escalate(ledger, clock, "CHG-D", 4 * DAY)
    return path


def report_of(path, **options):
    return metrics.compute_ledger(path, as_of=AS_OF, **options)


def test_the_report_carries_the_repeat_causes_most_frequent_first(ledger_path):
    causes = report_of(ledger_path)["repeat_causes"]
    assert [(c["cause"], c["count"], c["changes"], c["repeated"]) for c in causes] == [
        (TYPO, 3, ["CHG-A", "CHG-B"], True), (BFD, 1, ["CHG-C"], False)]
    assert causes[0]["follow_ups"] == ["lint route-maps in precheck", "a route-map unit test"]
    with SqliteLedger(ledger_path, readonly=True) as ledger:
        resolved = [e["seq"] for e in ledger.events() if e["kind"] == "escalation.resolved"]
        assert causes == learning.repeat_causes(ledger.events())  # the same core as `governed-change escalation causes`
    assert sorted(causes[0]["seqs"] + causes[1]["seqs"]) == resolved
    total = next(r for r in report_of(ledger_path)["rows"] if r["period"] == "all" and r["group"] == "all")
    assert total["counts"]["escalations"] == 5 and total["counts"]["escalations_resolved"] == 4


def test_the_range_selects_resolutions_by_their_own_time(ledger_path):
    # from day 1: CHG-B's and CHG-A's second typo resolutions, CHG-C's BFD one
    causes = report_of(ledger_path, since="2026-11-03")["repeat_causes"]
    assert [(c["cause"], c["count"], c["changes"]) for c in causes] == [("route-map   TYPO not caught", 2, ["CHG-B", "CHG-A"]),
                                                                        (BFD, 1, ["CHG-C"])]
    causes = report_of(ledger_path, since="2026-11-03", until="2026-11-05")["repeat_causes"]  # days 1 and 2
    assert [(c["count"], c["repeated"]) for c in causes] == [(1, False), (1, False)]
    assert report_of(ledger_path, since="2026-11-10")["repeat_causes"] == []


def test_the_terminal_table_lists_the_causes_under_the_rows(ledger_path):
    lines = metrics_render.render_table(report_of(ledger_path)).splitlines()
    start = lines.index("escalation causes (resolved escalations, most frequent first; 1 repeated):")
    assert lines[start + 1].split()[0] == "3" and TYPO + "  [repeated]; changes CHG-A, CHG-B" in lines[start + 1]
    assert "follow-up: lint route-maps in precheck | a route-map unit test" in lines[start + 1]
    assert lines[start + 2].split()[0] == "1" and "[repeated]" not in lines[start + 2] and BFD in lines[start + 2]
    assert len(lines) == start + 3


def test_prometheus_gauges_per_normalized_cause_with_escaped_labels(ledger_path):
    text = metrics_render.render_prometheus(report_of(ledger_path))
    lines = text.splitlines()
    for family in ("governed_change_escalation_cause_resolutions", "governed_change_escalation_cause_changes"):
        first = next(i for i, line in enumerate(lines) if line.startswith(family + "{"))
        assert lines[first - 2] == "# HELP %s %s" % (family, lines[first - 2].split(" ", 3)[3])
        assert lines[first - 1] == "# TYPE %s gauge" % family
    assert 'governed_change_escalation_cause_resolutions{cause="route-map typo not caught"} 3' in lines
    assert 'governed_change_escalation_cause_changes{cause="route-map typo not caught"} 2' in lines
    escaped = learning.cause_key(BFD).replace("\\", "\\\\").replace('"', '\\"')
    assert 'governed_change_escalation_cause_resolutions{cause="%s"} 1' % escaped in lines
    assert escaped == 'bfd timer \\"too short\\" for the \\\\ link'


def test_json_output_of_the_command_equals_escalation_causes(ledger_path, monkeypatch):
    monkeypatch.setenv("GOVERNED_CHANGE_NOW", "2026-12-02T08:00:00Z")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["metrics", "--ledger", ledger_path, "--format", "json"], out=out, err=err) == 0, err.getvalue()
    from_metrics = json.loads(out.getvalue())["repeat_causes"]
    out = io.StringIO()
    assert cli.main(["escalation", "causes", "--ledger", ledger_path, "--json"], out=out, err=err) == 0, err.getvalue()
    assert from_metrics == json.loads(out.getvalue()) and from_metrics[0]["count"] == 3


def test_a_ledger_without_resolutions_says_so(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    with SqliteLedger(path, clock=Clock(START)) as ledger:
        ledger.create_change("CHG-X", "x", "carol", actor="governed.change.assess", tier="low", content_hash="ab" * 32)
    report = report_of(path)
    assert report["repeat_causes"] == []
    assert metrics_render.render_table(report).splitlines()[-1].startswith("escalation causes: none recorded in the range")
    assert "escalation_cause" not in metrics_render.render_prometheus(report)
    assert "no escalation resolved in the range" in metrics_render.render_html(report)


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (scripts/setup.sh installs it)")
def test_the_html_page_shows_the_repeat_causes_in_headless_chromium(ledger_path, tmp_path):
    page = tmp_path / "metrics.html"
    page.write_text(metrics_render.render_html(report_of(ledger_path)), encoding="utf-8")
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert re.search(r'<section id="causes"><h2>Escalation causes</h2><svg id="repeat-causes" class="plot"', dom)
    bars = re.findall(r'<rect class="bar cause( repeated)?" data-cause="([^"]+)" data-value="(\d+)"[^>]* width="([0-9.]+)"', dom)
    assert bars == [(" repeated", "route-map typo not caught", "3", "400.0"),
                    ("", "bfd timer &quot;too short&quot; for the \\ link", "1", "133.3")]
    cells = re.findall(r'<tr class="cause( repeated)?"><td>([^<]*)</td><td>(\d+)</td><td>(yes|no)</td><td>([^<]*)</td>', dom)
    assert cells == [(" repeated", TYPO, "3", "yes", "CHG-A, CHG-B"),
                     ("", "BFD timer \"too short\" for the \\ link", "1", "no", "CHG-C")]
