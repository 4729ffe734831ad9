# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The window gate: maintenance windows (weekly, RRULE/EXDATE) per scope, freezes and emergency bypass."""

from __future__ import annotations

import calendar
import datetime
import re
import time

from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, PolicyError
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, parse_instant, utc_now as clock_now

try:
    from dateutil import rrule as dateutil_rrule
except ImportError:  # pragma: no cover - guarded so the module imports without python-dateutil
    dateutil_rrule = None

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None

UTC = datetime.timezone.utc
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
HORIZON = datetime.timedelta(days=366)
# Anchor of an RRULE without DTSTART (local midnight, a Monday): BYHOUR/BYMINUTE default to 0 and
# INTERVAL counts from here. Put a DTSTART line in the rule to anchor it elsewhere.
RRULE_ANCHOR = datetime.datetime(2024, 1, 1)
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_DTSTART = re.compile(r"^\s*DTSTART(?:;TZID=([^:]+))?:(\d{8}T\d{6})(Z?)\s*$", re.MULTILINE)


def _iso(moment):
    return iso_z(moment, precision="seconds")


def _zone(name, where):
    if zoneinfo is None:  # pragma: no cover
        raise MissingLibrary("zoneinfo", "to evaluate maintenance windows")
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise PolicyError("unknown timezone %r." % (name,), where=where,
                          fix="use an IANA zone name such as Europe/London or America/New_York (install tzdata if the "
                              "controller lacks the zone database).")


def _hhmm(text, where):
    match = _HHMM.match(str(text))
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise PolicyError("%r is not a time HH:MM." % (text,), where=where, fix="use 24-hour local time such as 01:00 or 24:00.")
    return int(match.group(1)), int(match.group(2))


def _aware(text, where, zone=None):
    """Parse ISO text; naive text is local to ``zone`` (or refused when there is none). clock.parse_instant."""
    return parse_instant(text, where=where, error=PolicyError, local_zone=zone)


def _scope(spec):
    spec = spec or {}
    return {"sites": set(spec.get("sites") or []), "groups": set(spec.get("groups") or []), "hosts": set(spec.get("hosts") or [])}


def _in_scope(scope, target):
    if not (scope["sites"] or scope["groups"] or scope["hosts"]):
        return True
    return target["host"] in scope["hosts"] or target.get("site") in scope["sites"] or bool(scope["groups"] & set(target.get("groups") or []))


def _weekly_entry(item, spot):
    """Rule: a weekly entry lists valid days and a start that differs from its end (end before start crosses midnight)."""
    days = []
    for day in item.get("days") or []:
        key = str(day).lower()[:3]
        if key not in DAYS:
            raise PolicyError("%r is not a day." % (day,), where=spot + ".days", fix="use mon, tue, wed, thu, fri, sat, sun.")
        days.append(DAYS[key])
    if not days:
        raise PolicyError("the weekly window lists no days.", where=spot + ".days", fix="list days such as [sat, sun].")
    start, end = _hhmm(item.get("start"), spot + ".start"), _hhmm(item.get("end"), spot + ".end")
    if start == end:
        raise PolicyError("start equals end.", where=spot, fix="give a window of non-zero length (end before start crosses midnight).")
    return set(days), start, end


class Window:
    """One compiled maintenance window: intervals in UTC, computed from local wall-clock rules."""

    def __init__(self, spec, position):
        self.name = spec.get("name") or "window-%d" % position
        where = "policy: windows.%s" % self.name
        self.scope = _scope(spec.get("scope"))
        self._span = None
        if not spec.get("timezone"):
            raise PolicyError("the window has no timezone.", where=where + ".timezone", fix="set an IANA zone such as Europe/London.")
        self.zone = _zone(spec.get("timezone"), where + ".timezone")
        self.weekly = [_weekly_entry(item, "%s.weekly[%d]" % (where, index)) for index, item in enumerate(spec.get("weekly") or [])]
        self.rrule = None
        if spec.get("rrule"):
            self.rrule = self._compile_rrule(spec, where)
        if not self.weekly and self.rrule is None:
            raise PolicyError("the window has neither weekly entries nor an rrule.", where=where,
                              fix="add weekly: [{days, start, end}] or rrule + duration_minutes.")

    def _compile_rrule(self, spec, where):
        if dateutil_rrule is None:
            raise MissingLibrary("python-dateutil", "to evaluate RRULE maintenance windows")
        minutes = spec.get("duration_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise PolicyError("an rrule window needs duration_minutes > 0 (got %r)." % (minutes,), where=where + ".duration_minutes",
                              fix="set the window length in minutes, e.g. 240.")
        text = str(spec["rrule"])
        dtstart = RRULE_ANCHOR.replace(tzinfo=self.zone)
        match = _DTSTART.search(text)
        if match:
            zone = _zone(match.group(1), where + ".rrule DTSTART TZID") if match.group(1) else self.zone
            local = datetime.datetime.strptime(match.group(2), "%Y%m%dT%H%M%S")
            dtstart = local.replace(tzinfo=UTC).astimezone(self.zone) if match.group(3) else local.replace(tzinfo=zone)
            text = _DTSTART.sub("", text).strip()
        if re.search(r"(^|\n)\s*(EXDATE|RDATE|EXRULE)", text):
            raise PolicyError("the rrule holds EXDATE/RDATE/EXRULE lines.", where=where + ".rrule",
                              fix="keep one RRULE in rrule and list exclusions under exdate.")
        try:
            rule = dateutil_rrule.rrulestr(text, dtstart=dtstart)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise PolicyError("the rrule %r cannot be parsed (%s)." % (spec["rrule"], exc), where=where + ".rrule",
                              fix="write an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=TU;BYHOUR=22;BYMINUTE=0.")
        self.duration = datetime.timedelta(minutes=minutes)
        self.exdates = {_aware(item, "%s.exdate[%d]" % (where, i), self.zone) for i, item in enumerate(spec.get("exdate") or [])}
        return rule

    def intervals(self, lo, hi):
        """Open intervals [start, end) in UTC that overlap [lo, hi], sorted by start."""
        out = self._weekly_intervals(lo, hi) if self.weekly else []
        if self.rrule is not None:
            out += self._rrule_intervals(lo, hi)
        out.sort()
        return out

    def _weekly_intervals(self, lo, hi):
        """The weekly entries' intervals overlapping [lo, hi] (local days, from two days before lo to the day after hi)."""
        out = []
        day = (lo.astimezone(self.zone) - datetime.timedelta(days=2)).date()
        last = (hi.astimezone(self.zone) + datetime.timedelta(days=1)).date()
        while day <= last:
            for days, start, end in self.weekly:
                if day.weekday() not in days:
                    continue
                begin = self._local(day, start)
                finish = self._local(day + datetime.timedelta(days=1) if end <= start else day, end)
                if finish > lo and begin <= hi:
                    out.append((begin, finish))
            day += datetime.timedelta(days=1)
        return out

    def _rrule_intervals(self, lo, hi):
        """The rrule's occurrences (less the exdates) whose interval overlaps [lo, hi]."""
        out = []
        for occurrence in self.rrule.between(lo - self.duration, hi, inc=True):
            begin = occurrence.astimezone(UTC)
            if begin in self.exdates:
                continue
            finish = begin + self.duration
            if finish > lo and begin <= hi:
                out.append((begin, finish))
        return out

    def _local(self, day, hhmm):
        hour, minute = hhmm
        if hour == 24:
            day, hour = day + datetime.timedelta(days=1), 0
        # Wall-clock time in the window's zone; a time inside a spring-forward gap maps to the instant the
        # clocks would have shown it (fold=0), i.e. the window starts when the clock jumps.
        return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone).astimezone(UTC)

    def prepare(self, lo, hi):
        """Precompute the intervals of [lo, hi] so that open_at() over that range is a lookup."""
        self._span = (lo, hi, self.intervals(lo, hi))
        return self._span[2]

    def open_at(self, moment):
        """The interval containing ``moment`` or None."""
        span = self._span
        if span is not None and span[0] <= moment <= span[1]:
            found = None
            for begin, finish in span[2]:
                if begin > moment:
                    break
                if moment < finish:
                    found = (begin, finish)
            return found
        for begin, finish in self.intervals(moment, moment):
            if begin <= moment < finish:
                return begin, finish
        return None


class Freeze:
    """A change freeze with a scope: one dated UTC range, or a yearly one (local month-day to month-day)."""

    def __init__(self, spec, position):
        self.name = spec.get("name") or "freeze-%d" % position
        where = "policy: freezes.%s" % self.name
        self.scope = _scope(spec.get("scope"))
        self.allow_emergency = spec.get("allow_emergency") is True
        self.yearly = None
        if spec.get("yearly"):
            self.zone = _zone(spec.get("timezone"), where + ".timezone")
            try:
                self.yearly = tuple(tuple(int(part) for part in str(spec["yearly"][key]).split("-")) for key in ("start", "end"))
            except (KeyError, TypeError, ValueError):
                raise PolicyError("a yearly freeze needs start and end as \"MM-DD\".", where=where + ".yearly",
                                  fix='write yearly: {start: "12-20", end: "01-04"}.')
            self.start = self.end = None
            return
        self.start = _aware(spec.get("start"), where + ".start")
        self.end = _aware(spec.get("end"), where + ".end")
        if self.end <= self.start:
            raise PolicyError("the freeze ends before it starts.", where=where, fix="make end later than start.")

    def _local(self, year, month_day):
        month, day = month_day
        if (month, day) == (2, 29) and not calendar.isleap(year):
            month, day = 3, 1
        return datetime.datetime(year, month, day, tzinfo=self.zone).astimezone(UTC)

    def occurrences(self, begin, finish):
        """The freeze's (start, end) ranges in UTC that overlap [begin, finish], in order."""
        if self.yearly is None:
            return [(self.start, self.end)] if self.start <= finish and begin < self.end else []
        out = []
        for year in range(begin.year - 1, finish.year + 1):
            start = self._local(year, self.yearly[0])
            end = self._local(year + (1 if self.yearly[1] <= self.yearly[0] else 0), self.yearly[1])
            if start <= finish and begin < end:
                out.append((start, end))
        return out

    def span_at(self, moment):
        """The (start, end) range covering ``moment``, or None."""
        for start, end in self.occurrences(moment, moment):
            if start <= moment < end:
                return start, end
        return None

    def active(self, moment):
        """True when ``moment`` is inside the freeze."""
        return self.span_at(moment) is not None


def compile_policy(policy):
    """Compile the policy's windows and freezes (PolicyError on a bad timezone, rrule or date)."""
    windows = [Window(spec or {}, i) for i, spec in enumerate((policy or {}).get("windows") or [])]
    freezes = [Freeze(spec or {}, i) for i, spec in enumerate((policy or {}).get("freezes") or [])]
    return windows, freezes


def normalize_targets(targets):
    """[{host, site, groups}] from a list of dicts or a {host: {site, groups}} mapping."""
    if isinstance(targets, dict):
        targets = [dict(value or {}, host=host) for host, value in targets.items()]
    out = []
    for item in targets or []:
        if isinstance(item, str):
            item = {"host": item}
        if not isinstance(item, dict) or not item.get("host"):
            raise PolicyError("a target lacks its host name.", where="window_gate.targets", fix="pass [{host, site, groups}].")
        out.append({"host": item["host"], "site": item.get("site"), "groups": list(item.get("groups") or [])})
    return out


class _Plan:
    """Targets grouped by the windows and freezes that apply to them (1,000 hosts -> a few classes)."""

    def __init__(self, policy, change, targets):
        self.windows, self.freezes = compile_policy(policy)
        self.targets = normalize_targets(targets)
        self.classes = {}
        for target in self.targets:
            key = (tuple(i for i, w in enumerate(self.windows) if _in_scope(w.scope, target)),
                   tuple(i for i, f in enumerate(self.freezes) if _in_scope(f.scope, target)))
            self.classes.setdefault(key, []).append(target["host"])
        requested = (change or {}).get("window") or None
        self.requested = None
        if requested:
            self.requested = (_aware(requested.get("start"), "change: window.start"), _aware(requested.get("end"), "change: window.end"))

    def state_at(self, moment, window_required):
        """{'freezes': {name: hosts}, 'outside': {host: reason}, 'open': set(window names), 'requested': bool}."""
        state = {"freezes": {}, "outside": {}, "open": set(), "no_window": [], "requested": True}
        for (w_idx, f_idx), hosts in self.classes.items():
            for i in f_idx:
                if self.freezes[i].active(moment):
                    state["freezes"].setdefault(self.freezes[i].name, []).extend(hosts)
            if not window_required:
                continue
            if not w_idx:
                state["no_window"].extend(hosts)
                continue
            opened = [self.windows[i].name for i in w_idx if self.windows[i].open_at(moment)]
            state["open"].update(opened)
            if not opened:
                for host in hosts:
                    state["outside"][host] = [self.windows[i].name for i in w_idx]
        if self.requested is not None:
            state["requested"] = self.requested[0] <= moment < self.requested[1]
        return state

    def candidates(self, now, window_required):
        """Instants after now at which the state may change to open."""
        horizon = now + HORIZON
        points = {now}
        if window_required:
            for window in self.windows:
                points.update(begin for begin, _end in window.prepare(now, horizon) if begin > now)
        for freeze in self.freezes:
            points.update(end for _start, end in freeze.occurrences(now, horizon) if now < end <= horizon)
        if self.requested is not None and self.requested[0] > now:
            points.add(self.requested[0])
        return sorted(points)


def _blocked(state):
    return bool(state["freezes"] or state["outside"] or state["no_window"] or not state["requested"])


def _window_required(policy, change):
    tier = (change or {}).get("tier")
    reqs = ((policy or {}).get("requirements") or {}).get(tier)
    if reqs is None:
        return True, ("the change's tier %r has no requirements in the policy; a window is required (fail closed); "
                      "fix: pass the assessed tier." % (tier,))
    return reqs.get("window_required", True) is not False, None


def next_open(policy, change, targets, now=None, horizon_days=366):
    """The earliest instant >= now at which every target is inside an open window of its scope and no freeze
    blocks (ignoring emergency bypass); None when there is none within the horizon."""
    now = (now or clock_now()).astimezone(UTC)
    plan = _Plan(policy, change, targets)
    required, _note = _window_required(policy, change)
    limit = now + datetime.timedelta(days=horizon_days)
    for moment in plan.candidates(now, required):
        if moment > limit:
            break
        if not _blocked(plan.state_at(moment, required)):
            return moment
    return None


def window_gate(policy, change, targets, now=None, wait_max_s=0):
    """Decide whether the change may run now on these targets.

    ``change``: {id or change_id, type (standard|normal|emergency), tier (the assessed tier), window (requested,
    optional)} -- the assessment itself fits.
    ``targets``: [{host, site, groups}] (the change facts' targets) or {host: {site, groups}}.
    Returns {decision: pass|fail, reasons, next_open, can_wait, wait_s, bypass?, ...}; the caller may sleep
    until next_open when can_wait (see wait_for_window).
    """
    now = (now or clock_now())
    if now.tzinfo is None:
        raise PolicyError("window_gate was given a naive 'now'.", where="window_gate.now", fix="pass an aware datetime.")
    now = now.astimezone(UTC)
    change = change or {}
    plan = _Plan(policy, change, targets)
    required, note = _window_required(policy, change)
    emergency = {"policy": (policy or {}).get("emergency") or {}, "is": "emergency" in (change.get("type"), change.get("change_class"))}
    verdict = _window_verdict(policy, change, plan, required, now, [note] if note else [])
    reasons = verdict["reasons"]
    if not plan.targets:
        reasons.append("no targets were given; fix: pass the change's targets with their site and groups.")
        return verdict
    state = plan.state_at(now, required)
    verdict["windows_open"] = sorted(state["open"])
    verdict["freezes_active"] = sorted(state["freezes"])
    verdict["hosts_outside"] = sorted(set(state["outside"]) | set(state["no_window"]))
    emergency["ok"] = emergency["is"] and emergency["policy"].get("allowed") is True
    bypassed = []
    blocking = _freeze_blocks(plan, state, now, emergency, bypassed, reasons)
    blocking += _window_blocks(_window_problems(plan, state), emergency, verdict, bypassed)
    if blocking:
        reasons.extend(blocking)
        _next_opening(plan, now, required, wait_max_s, verdict)
        return verdict
    verdict["decision"] = "pass"
    _pass_reason(verdict, bypassed, emergency["policy"], required, change, now)
    return verdict


def _window_verdict(policy, change, plan, required, now, reasons):
    """The failing verdict every window decision starts from (it passes only when nothing blocks)."""
    return {"gate": "window", "decision": "fail", "change_id": change.get("change_id") or change.get("id"), "tier": change.get("tier"),
            "type": change.get("type"), "window_required": required, "evaluated_at": _iso(now), "reasons": reasons,
            "targets": len(plan.targets), "windows_open": [], "freezes_active": [], "hosts_outside": [],
            "next_open": None, "wait_s": None, "can_wait": False,
            "inputs": {"policy_sha256": sha256_of({k: (policy or {}).get(k) for k in ("windows", "freezes", "emergency",
                                                                                      "requirements")}),
                       "change_sha256": sha256_of(change), "targets_sha256": sha256_of(plan.targets)}}


def _freeze_blocks(plan, state, now, emergency, bypassed, reasons):
    """Rule: an active freeze covering a target blocks, unless an allowed emergency change may bypass it (the freeze's
    allow_emergency or the policy's emergency.bypass_freeze); returns the blocking reasons."""
    blocking = []
    for freeze in plan.freezes:
        if freeze.name not in state["freezes"]:
            continue
        hosts = sorted(set(state["freezes"][freeze.name]))
        start, end = freeze.span_at(now)
        text = "freeze %s (%s to %s) covers %s" % (freeze.name, _iso(start), _iso(end), _hosts(hosts))
        if emergency["ok"] and (freeze.allow_emergency or emergency["policy"].get("bypass_freeze") is True):
            bypassed.append({"kind": "freeze", "name": freeze.name, "hosts": hosts})
            reasons.append(text + ": bypassed by the emergency change as the policy allows.")
        else:
            bypass = "; the policy does not let an emergency change bypass it" if emergency["is"] else ""
            blocking.append("%s%s; fix: wait until %s or narrow the targets." % (text, bypass, _iso(end)))
    return blocking


def _window_problems(plan, state):
    """Rule: every target has a window in its scope, open now, and now is inside the change's requested window."""
    problems = []
    if state["no_window"]:
        problems.append("no maintenance window covers %s; fix: add a window whose scope includes them."
                        % _hosts(sorted(state["no_window"])))
    if state["outside"]:
        names = sorted({name for names in state["outside"].values() for name in names})
        problems.append("%s outside their maintenance windows (%s); fix: run when the windows open (see next opening, "
                        "or wait for it) or reschedule the change" % (_hosts(sorted(state["outside"])), ", ".join(names)))
    if not state["requested"]:
        problems.append("now is outside the change's requested window %s to %s; fix: run inside it or request "
                        "another window" % (_iso(plan.requested[0]), _iso(plan.requested[1])))
    return problems


def _window_blocks(problems, emergency, verdict, bypassed):
    """Rule: window problems block, unless an allowed emergency change may bypass them (emergency.bypass_window);
    returns the blocking reasons (a refused emergency's note first)."""
    reasons = verdict["reasons"]
    if not problems:
        return []
    if emergency["ok"] and emergency["policy"].get("bypass_window") is True:
        bypassed.append({"kind": "window", "hosts": verdict["hosts_outside"]})
        reasons.extend(p + ": bypassed by the emergency change as the policy allows." for p in problems)
        return []
    if emergency["is"]:
        reasons.append("the policy does not let an emergency change bypass maintenance windows (emergency.allowed "
                       "and emergency.bypass_window).")
    return problems


def _next_opening(plan, now, required, wait_max_s, verdict):
    """The next instant after now at which nothing blocks every target (can_wait when it is within wait_max_s)."""
    opening = next((moment for moment in plan.candidates(now, required)
                    if moment > now and not _blocked(plan.state_at(moment, required))), None)
    if opening is None:
        verdict["reasons"].append("no opening for all targets within %d days; fix: review the windows and freezes." % HORIZON.days)
        return
    wait_s = (opening - now).total_seconds()
    verdict.update(next_open=_iso(opening), wait_s=wait_s, can_wait=0 < wait_s <= (wait_max_s or 0))
    verdict["reasons"].append("next opening for all targets: %s (in %s)." % (_iso(opening), _duration(wait_s)))


def _pass_reason(verdict, bypassed, emergency_policy, required, change, now):
    """Why the gate passed: an emergency bypass (with its post-hoc review due), no window required, or all open."""
    reasons = verdict["reasons"]
    if bypassed:
        hours = emergency_policy.get("post_review_hours", 48)
        due = now + datetime.timedelta(hours=hours if isinstance(hours, (int, float)) else 48)
        verdict["bypass"] = {"emergency": True, "bypassed": bypassed, "post_review_due": _iso(due),
                             "post_review_hours": hours,
                             "note": "a mandatory post-hoc review of this emergency change is due by %s." % _iso(due)}
        reasons.append("emergency bypass recorded; post-hoc review due by %s." % _iso(due))
    elif not required:
        reasons.append("tier %s requires no maintenance window and no freeze applies." % change.get("tier"))
    else:
        reasons.append("every target is inside an open window (%s) and no freeze applies." % ", ".join(verdict["windows_open"]))


def wait_for_window(policy, change, targets, wait_max_s, clock=None, sleep=time.sleep):
    """Evaluate window_gate, sleeping until the next opening while it lies within ``wait_max_s`` (bounded)."""
    clock = clock or clock_now
    started = clock()
    deadline = started + datetime.timedelta(seconds=max(0, wait_max_s or 0))
    while True:
        now = clock()
        remaining = (deadline - now).total_seconds()
        verdict = window_gate(policy, change, targets, now=now, wait_max_s=max(0, remaining))
        verdict["waited_s"] = (now - started).total_seconds()
        if verdict["decision"] == "pass" or not verdict["can_wait"]:
            return verdict
        sleep(max(0.0, min(verdict["wait_s"], remaining)) + 0.001)


def _hosts(hosts):
    if len(hosts) <= 10:
        return ", ".join(hosts)
    return "%s and %d more hosts" % (", ".join(hosts[:10]), len(hosts) - 10)


def _duration(seconds):
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return ("%dd " % days if days else "") + "%dh%02dm" % (hours, minutes)
