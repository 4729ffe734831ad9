# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change metrics from the ledger (metrics.py, metrics_render.py, `governed-change metrics`), on constructed ledgers
whose answers are counted by hand: every timestamp is an offset from a fixed instant injected as the ledger's clock."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request

import pytest

from ansible_collections.governed.change.plugins.module_utils import cli, metrics, metrics_render
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, relative
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import LedgerTampered, SqliteLedger

UTC = datetime.timezone.utc
HASH = "ab" * 32
# Fixed instants (no calendar): a Monday 00:00 UTC, and the end of summer time in Berlin (01:00 UTC, 03:00 CEST -> 02:00 CET).
MONDAY = datetime.datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
BERLIN_SWITCH = datetime.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
AS_OF = relative(days=60, base=MONDAY)


class Clock:
    """The ledger's injected clock: tests move it before each step."""

    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment

    def at(self, moment):
        self.moment = moment
        return self


def spec(**overrides):
    """One change's story: who, what and how long each part took (seconds); outcome successful | rolled_back |
    unsuccessful | denied | canceled."""
    out = {"tier": "low", "klass": "normal", "category": "routing", "sites": ["fra"], "review_s": 1800, "window_s": 900,
           "run_s": 600, "outcome": "successful", "review_actor": "governed.change", "failed_after": 60, "restore_s": 120,
           "escalate": False, "resolve_after": None}
    out.update(overrides)
    return out


def _assess(ledger, clock, cid, story, start):
    clock.at(start)
    ledger.create_change(cid, "change %s" % cid, "carol", actor="governed.change.assess", tier=story["tier"], content_hash=HASH)
    ledger.transition(cid, "assess", "governed.change.assess", reason="assessment started")
    ledger.set_assessment(cid, story["tier"], HASH, "governed.change.assess")
    ledger.record_verdict(cid, "assess", {"decision": "assessed", "tier": story["tier"], "change_class": story["klass"],
                                          "category": story["category"], "sites": story["sites"], "content_hash": HASH},
                          actor="governed.change.assess")
    ledger.transition(cid, "authorize", "governed.change.assess", reason="assessed")


def _approval(cid, who, decision, moment):
    return {"change_id": cid, "approver": who, "decision": decision, "content_hash": HASH, "ts": iso_z(moment, precision="seconds"),
            "source": "ssh", "principal": "%s@lab" % who, "comment": ""}


def _review(ledger, clock, cid, story, moment):
    clock.at(moment)
    if story["outcome"] == "denied":
        ledger.record_approval(_approval(cid, "bob", "deny", moment), actor="bob")
        ledger.record_verdict(cid, "review", {"decision": "fail"}, actor=story["review_actor"])
        ledger.transition(cid, "canceled", "governed.change", reason="denied")
        return False
    if story["outcome"] == "canceled":
        ledger.transition(cid, "canceled", "carol", reason="withdrawn")
        return False
    ledger.record_approval(_approval(cid, "alice", "approve", moment), actor="alice")
    ledger.record_verdict(cid, "review", {"decision": "pass"}, actor=story["review_actor"])
    ledger.transition(cid, "scheduled", story["review_actor"], reason="review gate passed")
    return True


def _window(ledger, clock, cid, story, moment):
    clock.at(moment)
    verdict = {"decision": "pass", "bypass": None}
    if story["klass"] == "emergency":
        due = iso_z(relative(hours=24, base=moment), precision="seconds")
        verdict["bypass"] = {"bypassed": [{"kind": "freeze", "name": "year-end"}], "post_review_due": due, "post_review_hours": 24}
    ledger.record_verdict(cid, "window", verdict)
    if verdict["bypass"]:
        ledger.append_event(cid, "review.post_hoc_due", "governed.change",
                            {"reason": "emergency bypass of year-end", "post_review_due": verdict["bypass"]["post_review_due"]})


def _deploy(ledger, clock, cid, moment):
    clock.at(moment)
    ledger.acquire_locks(cid, ["r1"], "governed.change", 3600)
    ref = {"path": "store/x.json", "sha256": "cd" * 32, "kind": "backup"}
    ledger.append_events([(cid, "stage.refs", "governed.change.deploy", {"stage": "deploy", "refs": {"backups": {"r1": ref}}}),
                          (cid, "stage.started", "governed.change.deploy", {"stage": "deploy", "hosts": ["r1"], "candidates": {},
                                                                            "run": {}})])
    ledger.transition(cid, "implement", "governed.change", reason="devices locked; the deploy starts")


def _close(ledger, clock, cid, story, deployed_at, moment):
    clock.at(moment)
    rolled_back = story["outcome"] == "rolled_back"
    failed_at = relative(seconds=story["failed_after"], base=deployed_at)
    stages = {"deployed": ["r1"], "rolled_back": ["r1"] if rolled_back else [], "rollback_verified": True if rolled_back else None,
              "decision": {"outcome": "successful" if story["outcome"] == "successful" else "unsuccessful",
                           "rollback": {"performed": rolled_back, "verified": rolled_back}},
              "failed_at": iso_z(failed_at) if story["outcome"] != "successful" else "",
              "rollback_verified_at": iso_z(relative(seconds=story["restore_s"], base=failed_at)) if rolled_back else ""}
    code = "successful" if story["outcome"] == "successful" else "unsuccessful"
    ledger.append_event(cid, "stage.results", "governed.change", {"stages": stages})
    ledger.transition(cid, "review", "governed.change", reason="close: %s" % code)
    ledger.transition(cid, "closed", "governed.change", close_code=code, reason="close")
    ledger.append_event(cid, "change.outcome", "governed.change", {"outcome": code})
    ledger.release_locks(cid)


def write_change(ledger, clock, cid, start, story):
    """Record one change the way the stages do (assess, review gate, window gate, lock + deploy start, close, escalate)."""
    _assess(ledger, clock, cid, story, start)
    reviewed = relative(seconds=story["review_s"], base=start)
    if not _review(ledger, clock, cid, story, reviewed):
        return
    windowed = relative(seconds=story["window_s"], base=reviewed)
    _window(ledger, clock, cid, story, windowed)
    deployed = relative(seconds=1, base=windowed)
    _deploy(ledger, clock, cid, deployed)
    closed = relative(seconds=story["run_s"], base=windowed)
    _close(ledger, clock, cid, story, deployed, closed)
    if story["escalate"]:
        clock.at(relative(seconds=1, base=closed))
        ledger.append_event(cid, "escalation.sent", "governed.change", {"reason": "change_failed"})
        if story["resolve_after"] is not None:
            clock.at(relative(seconds=1 + story["resolve_after"], base=closed))
            ledger.append_event(cid, "escalation.resolved", "carol", {"cause": "prefix list typo"})


def build(path, stories):
    """A ledger holding ``stories`` ([(change_id, start, spec)]), written through SqliteLedger's API."""
    clock = Clock(stories[0][1])
    with SqliteLedger(path, clock=clock) as ledger:
        for cid, start, story in stories:
            write_change(ledger, clock, cid, start, story)
    return path


def report_of(path, **options):
    options.setdefault("as_of", AS_OF)
    return metrics.compute_ledger(path, **options)


def row(report, period="all", group="all"):
    return next(r for r in report["rows"] if r["period"] == period and r["group"] == group)


# ---------------------------------------------------------------------------------------------- ledger 1: ten changes
HOUR = 3600


def ten_changes():
    """Ten changes on one UTC day, 10 minutes apart. Lead time of change i: (i + 1) hours (review 30 min, window 15 min,
    the rest running). Changes 3 and 7 roll back (restored 120 s and 240 s after the failure; both escalate, 3's is
    resolved an hour later); change 9 is an emergency (a freeze bypass, a post-hoc review due in 24 h, never done);
    change 5's review gate was run by a person (alice)."""
    stories = []
    for i in range(10):
        story = spec(review_s=1800, window_s=900, run_s=(i + 1) * HOUR - 2700, tier=("low", "high")[i % 2],
                     category=("routing", "firewall")[i >= 5])
        if i in (3, 7):
            story.update(outcome="rolled_back", restore_s=120 if i == 3 else 240, escalate=True, resolve_after=HOUR if i == 3 else None)
        if i == 9:
            story.update(klass="emergency")
        if i == 5:
            story.update(review_actor="alice")
        stories.append(("CHG-%d" % i, relative(hours=6, minutes=10 * i, base=MONDAY), story))
    return stories


@pytest.fixture(scope="module")
def ten(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("ten") / "ledger.sqlite"), ten_changes())


def test_ten_changes_two_rolled_back_one_emergency_give_a_change_failure_rate_of_20_percent(ten):
    report = report_of(ten)
    total = row(report)
    assert report["changes"] == 10
    assert total["change_failure_rate"] == {"failed": 2, "deployed": 10, "rate": 0.2}
    counts = total["counts"]
    assert (counts["requested"], counts["approved"], counts["denied"], counts["canceled"]) == (10, 10, 0, 0)
    assert (counts["emergency"], counts["freeze_bypasses"], counts["deployed"], counts["closed"]) == (1, 1, 10, 10)
    assert (counts["closed_successful"], counts["failed"], counts["escalations"], counts["escalations_resolved"]) == (8, 2, 2, 1)
    assert (counts["post_hoc_due"], counts["post_hoc_done"], counts["post_hoc_overdue"]) == (1, 0, 1)
    # the same, counted in the one day they happened
    assert row(report, "2026-11-02") == dict(total, period="2026-11-02")
    assert [r["period"] for r in report["rows"]] == ["2026-11-02", "all"]


def test_lead_time_median_and_p90_by_nearest_rank_and_its_parts(ten):
    lead = row(report_of(ten))["lead_time_s"]
    # successful changes' lead times: 1, 2, 3, 5, 6, 7, 9, 10 hours -> p50 = 4th = 5 h, p90 = 8th = 10 h
    assert (lead["count"], lead["p50"], lead["p90"]) == (8, 5 * HOUR, 10 * HOUR)
    assert lead["mean"] == (1 + 2 + 3 + 5 + 6 + 7 + 9 + 10) * HOUR / 8
    assert lead["parts"]["review"] == {"count": 8, "mean": 1800, "p50": 1800, "p90": 1800}
    assert lead["parts"]["window"] == {"count": 8, "mean": 900, "p50": 900, "p90": 900}
    assert (lead["parts"]["running"]["p50"], lead["parts"]["running"]["p90"]) == (5 * HOUR - 2700, 10 * HOUR - 2700)


def test_mttr_from_the_failure_to_the_verified_restore_and_from_escalation_to_resolution(ten):
    mttr = row(report_of(ten))["mttr_s"]
    assert mttr["restore"] == {"count": 2, "mean": 180, "p50": 120, "p90": 240}
    assert mttr["escalation"] == {"count": 1, "mean": HOUR, "p50": HOUR, "p90": HOUR}


def test_automation_coverage_counts_stages_by_actor_and_changes_without_a_manual_step(ten):
    auto = row(report_of(ten))["automation"]
    # per change: assess, review, window, deploy start, close = 5 stages; two escalations; alice ran change 5's review gate
    assert auto == {"stages_automated": 51, "stages_manual": 1, "stage_ratio": round(51 / 52, 6), "end_to_end": 9, "closed": 10,
                    "end_to_end_ratio": 0.9}
    everyone = row(report_of(ten, automation_actors=("governed.change*", "alice")))["automation"]
    assert (everyone["stages_manual"], everyone["end_to_end"]) == (0, 10)


def test_grouped_by_tier_and_category(ten):
    by_tier = report_of(ten, by="tier")
    # odd changes are high: 1, 3, 5, 7, 9 -> both rollbacks are high
    assert row(by_tier, group="high")["change_failure_rate"] == {"failed": 2, "deployed": 5, "rate": 0.4}
    assert row(by_tier, group="low")["change_failure_rate"] == {"failed": 0, "deployed": 5, "rate": 0.0}
    assert {r["group"] for r in by_tier["rows"]} == {"high", "low"}
    assert by_tier["failure_by"]["category"] == [{"group": "firewall", "failed": 1, "deployed": 5, "rate": 0.2},
                                                 {"group": "routing", "failed": 1, "deployed": 5, "rate": 0.2}]
    by_class = report_of(ten, by="class")
    assert row(by_class, group="emergency")["counts"]["requested"] == 1
    assert row(by_class, group="normal")["counts"]["requested"] == 9
    assert row(report_of(ten, by="site"), group="fra")["counts"]["requested"] == 10


def test_since_and_until_select_each_observation_by_its_own_time(ten):
    # changes 0-5 are requested 06:00-06:50; the window 06:00-06:30 holds changes 0, 1, 2 (06:30 excluded)
    report = report_of(ten, since="2026-11-02T06:00:00Z", until="2026-11-02T06:30:00Z")
    counts = row(report)["counts"]
    assert (counts["requested"], counts["closed"], counts["deployed"]) == (3, 0, 0)
    with pytest.raises(ValidationError, match="not after"):
        report_of(ten, since="2026-11-03", until="2026-11-02")


# ---------------------------------------------------------------------------------------------- ledger 2: across a DST change
def dst_changes():
    """Around the end of summer time in Berlin (Sunday 2026-10-25, 01:00 UTC). Requested at (UTC -> Berlin):
    D 10-24 21:30 -> 10-24 23:30 CEST; A 10-24 22:30 -> 10-25 00:30 CEST; B 10-25 22:30 -> 10-25 23:30 CET;
    C 10-25 23:30 -> 10-26 00:30 CET. E is requested at 00:30 UTC (02:30 CEST) and closed at 01:30 UTC (02:30 CET):
    the wall clock shows no time passed, its lead time is one hour."""
    quick = {"review_s": 600, "window_s": 600, "run_s": 2400}
    return [("CHG-D", relative(hours=-3, minutes=-30, base=BERLIN_SWITCH), spec(**quick)),
            ("CHG-A", relative(hours=-2, minutes=-30, base=BERLIN_SWITCH), spec(**quick)),
            ("CHG-E", relative(minutes=-30, base=BERLIN_SWITCH), spec(**quick)),
            ("CHG-B", relative(hours=21, minutes=30, base=BERLIN_SWITCH), spec(**quick)),
            ("CHG-C", relative(hours=22, minutes=30, base=BERLIN_SWITCH), spec(**quick))]


@pytest.fixture(scope="module")
def dst(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("dst") / "ledger.sqlite"), dst_changes())


def requested_per_period(report):
    """{period: changes requested} of the periods that have any (a period may hold only other observations)."""
    return {r["period"]: r["counts"]["requested"] for r in report["rows"] if r["period"] != "all" and r["counts"]["requested"]}


def test_days_are_cut_at_local_midnight_across_the_dst_change(dst):
    assert requested_per_period(report_of(dst, timezone="Europe/Berlin")) == {"2026-10-24": 1, "2026-10-25": 3, "2026-10-26": 1}
    assert requested_per_period(report_of(dst)) == {"2026-10-24": 2, "2026-10-25": 3}
    # a fixed UTC+2 offset (summer time all year) would put B in 10-26: the zone's rules, not an offset, decide
    assert requested_per_period(report_of(dst, timezone="Etc/GMT-2")) == {"2026-10-24": 1, "2026-10-25": 2, "2026-10-26": 2}


def test_lead_time_across_the_switch_is_elapsed_time_not_wall_clock(dst):
    # every change takes one hour from request to close; E's wall clock in Berlin reads 02:30 at both ends
    lead = row(report_of(dst, timezone="Europe/Berlin"))["lead_time_s"]
    assert (lead["count"], lead["p50"], lead["p90"], lead["mean"]) == (5, HOUR, HOUR, HOUR)


def test_weeks_and_months_in_the_zone(dst):
    weeks = requested_per_period(report_of(dst, timezone="Europe/Berlin", period="week"))
    assert weeks == {"2026-W43": 4, "2026-W44": 1}  # Monday 10-26 starts ISO week 44 (C)
    assert requested_per_period(report_of(dst, timezone="Europe/Berlin", period="month")) == {"2026-10": 5}


def test_since_as_a_local_date_is_local_midnight(dst):
    # 2026-10-25 in Berlin starts at 10-24 22:00 UTC: A, E, B, C are counted, D (21:30 UTC) is not; in UTC A is not either
    assert row(report_of(dst, timezone="Europe/Berlin", since="2026-10-25"))["counts"]["requested"] == 4
    assert row(report_of(dst, since="2026-10-25"))["counts"]["requested"] == 3


# ---------------------------------------------------------------------------------------------- ledger 3: 10,000 changes
def bulk_events(i, start):
    """The events the stages write for change i, with their times: (seconds after start, kind, actor, data)."""
    cid, tier = "CHG-%05d" % i, ("low", "medium", "high", "critical")[i % 4]
    klass = "emergency" if i % 100 == 0 else "normal"
    events = [(0, "change.created", "governed.change.assess", {"title": cid, "author": "carol", "tier": tier, "content_hash": HASH}),
              (0, "change.state", "governed.change.assess", {"from": "new", "to": "assess", "close_code": None}),
              (0, "verdict.assess", "governed.change.assess", {"gate": "assess", "verdict": {
                  "tier": tier, "change_class": klass, "category": ("routing", "firewall", "interface")[i % 3], "sites": ["fra"]}}),
              (0, "change.state", "governed.change.assess", {"from": "assess", "to": "authorize", "close_code": None})]
    if i % 50 == 1:  # denied, then canceled
        return cid, events + [(600, "approval.deny", "bob", {"approver": "bob", "decision": "deny"}),
                              (600, "verdict.review", "governed.change", {"gate": "review", "verdict": {"decision": "fail"}}),
                              (660, "change.state", "governed.change", {"from": "authorize", "to": "canceled", "close_code": None})]
    if i % 50 == 2:  # withdrawn before review
        return cid, events + [(300, "change.state", "carol", {"from": "authorize", "to": "canceled", "close_code": None})]
    rolled_back, failed = i % 10 == 3, i % 10 in (3, 7)
    window = {"decision": "pass", "bypass": {"post_review_due": "2026-11-03T00:00:00Z"} if klass == "emergency" else None}
    code = "unsuccessful" if failed else "successful"
    events += [(600, "verdict.review", "governed.change", {"gate": "review", "verdict": {"decision": "pass"}}),
               (600, "change.state", "governed.change", {"from": "authorize", "to": "scheduled", "close_code": None}),
               (900, "verdict.window", "governed.change", {"gate": "window", "verdict": window}),
               (901, "stage.started", "governed.change.deploy", {"stage": "deploy", "hosts": ["r1"]}),
               (901, "change.state", "governed.change", {"from": "scheduled", "to": "implement", "close_code": None}),
               (1800, "stage.results", "governed.change", {"stages": {"decision": {"rollback": {"performed": rolled_back}},
                                                                      "failed_at": "", "rollback_verified_at": ""}}),
               (1800, "change.state", "governed.change", {"from": "implement", "to": "review", "close_code": None}),
               (1800, "change.state", "governed.change", {"from": "review", "to": "closed", "close_code": code}),
               (1800, "change.outcome", "governed.change", {"outcome": code})]
    return cid, events


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """10,000 changes a minute apart from Monday 00:00 UTC, appended with the ledger's bulk API (append_events: one
    transaction, the real hash chain and event shapes; the per-step API takes ~4 ms a write, 10 minutes here)."""
    path = str(tmp_path_factory.mktemp("big") / "ledger.sqlite")
    items, times = [], []
    for i in range(10000):
        start = relative(minutes=i, base=MONDAY)
        cid, events = bulk_events(i, start)
        for offset, kind, actor, data in events:
            items.append((cid, kind, actor, data))
            times.append(relative(seconds=offset, base=start))
    SqliteLedger(path, clock=lambda: MONDAY).close()  # the schema first: its migrations read the clock too
    moments = iter(times)
    with SqliteLedger(path, clock=lambda: next(moments)) as ledger:
        ledger.append_events(items)
    return path


def test_ten_thousand_changes_counts_and_rates_are_exact(big):
    report = report_of(big)
    total = row(report)
    counts = total["counts"]
    # 200 denied (i % 50 == 1) and 200 withdrawn (i % 50 == 2) never deploy; of the 9,600 deploys i % 10 == 3 roll back
    # (1,000) and i % 10 == 7 close unsuccessful (1,000); emergencies are i % 100 == 0 (100)
    assert report["changes"] == 10000
    assert (counts["requested"], counts["approved"], counts["denied"], counts["canceled"]) == (10000, 9600, 200, 400)
    assert (counts["emergency"], counts["freeze_bypasses"], counts["deployed"], counts["failed"]) == (100, 100, 9600, 2000)
    assert (counts["closed"], counts["closed_successful"]) == (9600, 7600)
    assert total["change_failure_rate"] == {"failed": 2000, "deployed": 9600, "rate": round(2000 / 9600, 6)}
    assert total["lead_time_s"]["count"] == 7600 and total["lead_time_s"]["p50"] == 1800 and total["lead_time_s"]["p90"] == 1800
    # a change a minute: 1,440 requested per UTC day, the seventh day holds the last 1,360
    per_day = requested_per_period(report)
    assert list(per_day.values()) == [1440] * 6 + [1360] and min(per_day) == "2026-11-02"
    # every stage is recorded by governed.change (the withdrawals by carol are not stages)
    assert total["automation"]["stages_manual"] == 0 and total["automation"]["stages_automated"] == 9600 * 5 + 200 * 2 + 200
    assert total["automation"]["end_to_end"] == 9600
    by_tier = report_of(big, by="tier")
    # tiers cycle with i % 4: every tier holds 2,500 changes; the failures (i % 10 in 3, 7: odd i) are medium or critical
    assert {r["group"]: r["counts"]["requested"] for r in by_tier["rows"] if r["period"] == "all"} == dict.fromkeys(
        ("low", "medium", "high", "critical"), 2500)
    assert row(by_tier, group="low")["change_failure_rate"]["failed"] == 0
    assert row(by_tier, group="medium")["change_failure_rate"]["failed"] + row(by_tier, group="critical")["change_failure_rate"]["failed"] == 2000


# ---------------------------------------------------------------------------------------------- renderers
PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_prometheus(text):
    """Parse the text exposition format line by line: {(name, frozenset(labels)): value}; HELP/TYPE once per family, first."""
    samples, typed, helped = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped, "two HELP lines for %s" % name
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _h, _t, name, kind = line.split()
            assert name not in typed and kind in ("gauge", "counter", "histogram", "summary", "untyped")
            typed[name] = kind
            continue
        match = PROM_LINE.match(line)
        assert match, "not a sample line: %r" % line
        name = match.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in typed else name
        assert family in typed and family in helped, "%s has no TYPE/HELP before its samples" % name
        assert family == name or typed[family] in ("histogram", "summary"), "%s: a suffix on a %s" % (name, typed[family])
        labels = frozenset((k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                           for k, v in LABEL.findall(match.group(3) or ""))
        samples[(name, labels)] = float(match.group(4))
    return samples


def test_prometheus_text_parses_back_to_the_report(ten):
    report = report_of(ten, by="tier")
    samples = parse_prometheus(metrics_render.render_prometheus(report))
    key = frozenset({("period", "all"), ("tier", "high")})
    assert samples[("governed_change_change_failure_ratio", key)] == 0.4
    assert samples[("governed_change_changes", key | {("event", "failed")})] == 2
    # low = the even changes, all successful: 1, 3, 5, 7, 9 hours -> p90 is the 5th
    assert samples[("governed_change_lead_time_seconds", frozenset({("period", "all"), ("tier", "low"), ("quantile", "0.9")}))] == 9 * HOUR
    assert samples[("governed_change_mttr_seconds", key | {("kind", "restore")})] == 180
    assert samples[("governed_change_ledger_changes", frozenset())] == 10
    assert samples[("governed_change_lead_time_distribution_seconds_bucket", frozenset({("le", "+Inf")}))] == 8
    assert samples[("governed_change_lead_time_distribution_seconds_bucket", frozenset({("le", "14400")}))] == 3  # 1, 2, 3 h
    assert samples[("governed_change_lead_time_distribution_seconds_count", frozenset())] == 8
    assert samples[("governed_change_lead_time_distribution_seconds_sum", frozenset())] == 43 * HOUR  # 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 hours


def test_prometheus_label_values_are_escaped():
    report = {"by": "category", "changes": 1, "lead_time_histogram": [], "lead_time_sum": 0, "rows": [dict(
        metrics.Bucket().row(), period="all", group='odd "quoted" \\ back\nslash')]}
    text = metrics_render.render_prometheus(report)
    assert 'category="odd \\"quoted\\" \\\\ back\\nslash"' in text
    samples = parse_prometheus(text)
    labels = frozenset({("period", "all"), ("category", 'odd "quoted" \\ back\nslash'), ("event", "requested")})
    assert ("governed_change_changes", labels) in samples


def test_table_and_json(ten):
    report = report_of(ten)
    table = metrics_render.render_table(report)
    lines = table.splitlines()
    assert lines[1].split()[:4] == ["period", "group", "req", "appr"]
    total = next(line for line in lines if line.startswith("all"))  # the last row; the escalation causes follow
    assert total.split()[:3] == ["all", "all", "10"] and "20.0%" in total and "5h00m" in total
    assert lines[lines.index(total) + 2].startswith("escalation causes") and "prefix list typo" in lines[-1]
    assert json.loads(metrics_render.render_json(report))["rows"][-1]["change_failure_rate"]["rate"] == 0.2


# ---------------------------------------------------------------------------------------------- the HTML page in Chromium
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (scripts/setup.sh installs it)")
def test_the_html_page_renders_its_plots_in_headless_chromium(ten, tmp_path):
    page = tmp_path / "metrics.html"
    page.write_text(metrics_render.render_html(report_of(ten, by="tier")), encoding="utf-8")
    assert "<script" not in page.read_text() and "http://" not in page.read_text().replace("http://www.w3.org/2000/svg", "")
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    svgs = re.findall(r'<svg id="([^"]+)" class="plot"', dom)
    assert svgs == ["trend", "lead-time-distribution", "failure-by-tier", "failure-by-category", "repeat-causes"]
    trend = re.findall(r'<rect class="bar deployed" data-period="([^"]+)" data-value="(\d+)"', dom)
    assert trend == [("2026-11-02", "10")]
    assert re.findall(r'<circle class="point failure-rate" data-period="2026-11-02" data-value="([0-9.]+)"', dom) == ["0.2000"]
    assert len(re.findall(r'<polyline class="trend failure-rate"', dom)) == 1
    bars = dict(re.findall(r'<rect class="bar lead-time" data-le="([^"]+)" data-value="(\d+)"', dom))
    # 1 h, 2 h, 3 h in (3600 .. 4 h]; 5, 6, 7, 9, 10 h in (4 h .. 12 h]; none at or under one hour... 1 h is <= 3600
    assert bars["3600"] == "1" and bars["14400"] == "2" and bars["43200"] == "5" and sum(int(v) for v in bars.values()) == 8
    tiers = dict(re.findall(r'<rect class="bar failure-rate" data-group="([^"]+)" data-value="([0-9.]+)"', dom))
    assert tiers == {"high": "0.4000", "low": "0.0000", "firewall": "0.2000", "routing": "0.2000"}


# ---------------------------------------------------------------------------------------------- the command
def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_writes_each_format(ten, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVERNED_CHANGE_NOW", iso_z(AS_OF))
    code, out, err = run_cli("metrics", "--ledger", ten, "--format", "json", "--by", "class")
    assert code == 0 and err == ""
    assert row(json.loads(out), group="emergency")["counts"]["post_hoc_overdue"] == 1
    target = tmp_path / "governed_change.prom"
    code, out, err = run_cli("metrics", "--ledger", ten, "--format", "prometheus", "--output", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert parse_prometheus(target.read_text())[("governed_change_change_failure_ratio", frozenset({("period", "all")}))] == 0.2
    assert [p.name for p in tmp_path.iterdir()] == ["governed_change.prom"]  # no temporary file left behind


def test_the_command_refuses_bad_input_with_the_field_and_the_fix(ten, tmp_path):
    code, _out, err = run_cli("metrics", "--ledger", str(tmp_path / "missing.sqlite"))
    assert code == 2 and "the ledger file does not exist" in err and "Fix:" in err
    code, _out, err = run_cli("metrics", "--ledger", ten, "--timezone", "Mars/Olympus")
    assert code == 2 and "--timezone" in err and "unknown time zone" in err
    for address in ("0.0.0.0:9327", "192.0.2.1:9327", "localhost:9327", "[::]:9327"):
        code, _out, err = run_cli("metrics", "--ledger", ten, "--serve", address)
        assert code == 2 and "127.0.0.1 only" in err, address
    code, _out, err = run_cli("metrics", "--ledger", ten, "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_a_tampered_ledger_is_refused(tmp_path):
    """The check before reading (SqliteLedger.check_change: triggers, chain head, the tail since the checkpoint)."""
    path = build(str(tmp_path / "ledger.sqlite"), ten_changes()[:2])
    with SqliteLedger(path) as ledger:
        ledger.conn.execute("DROP TRIGGER events_append_only_update")
        ledger.conn.execute("UPDATE events SET data = '{}' WHERE seq = (SELECT MAX(seq) FROM events)")
    with pytest.raises(LedgerTampered, match="events_append_only_update"):
        metrics.compute_ledger(path)
    code, _out, err = run_cli("metrics", "--ledger", path)
    assert code == 1 and "refused" in err


def test_serve_answers_on_the_loopback_address(ten):
    server = metrics_render.make_server("127.0.0.1:0", lambda fmt: metrics_render.render(report_of(ten), fmt))
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        host, port = server.server_address[:2]
        with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=10) as response:
            body = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    finally:
        thread.join(timeout=10)
        server.server_close()
    assert parse_prometheus(body)[("governed_change_change_failure_ratio", frozenset({("period", "all")}))] == 0.2
