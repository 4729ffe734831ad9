# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines a person follows while a governed run goes: one line per stage (and device) with a counter and the
stage's elapsed time, failures as a sentence, a one-line recap.

    [1/9] assess: CHG-2001 tier low (score 5), 1 target(s) (1.2 s)
    [5/9] deploy r1: pushed 1 line(s), timer armed 60 s, 8 checks passed, confirmed (6.3 s)
    [6/9] verify r2: FAILED - 1 of 8 checks failed: bgp_peer_up expected 'Established', got 'Active' (2.1 s)

Plain data in, text out: the stage order, what each governed action's result says in a few words and how a stage's lines
are put together live here; the stdout callback governed.change.progress only feeds task starts and results in and prints
the lines it gets back (and the workflow runner's node lines are made here too).
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.evidence import STAGES

OWN_PREFIX = "governed.change."
MAX_TEXT = 400
# Actions whose result speaks for the whole change (run_once): their words go on the stage's own line, not a device's.
CHANGE_LEVEL = ("assess", "review_gate", "window_gate", "lock", "runbook", "close", "escalate", "recovery_plan", "post_reviews")


def position(stage):
    """(n, total) of a stage in the pipeline (1-based); (None, total) for a name that is not a stage."""
    return (STAGES.index(stage) + 1 if stage in STAGES else None), len(STAGES)


def elapsed_text(seconds):
    """1.234 -> '1.2 s'; 75 -> '1 min 15 s'."""
    seconds = max(0.0, float(seconds or 0.0))
    if seconds < 60:
        return "%.1f s" % seconds
    minutes, rest = divmod(int(round(seconds)), 60)
    return "%d min %02d s" % (minutes, rest)


def shorten(text, limit=MAX_TEXT):
    """One line, whitespace collapsed, cut at ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 3].rstrip() + "..."


def stage_line(stage, host, text, seconds=None):
    """'[5/9] deploy r1: pushed, timer armed 60 s (2.1 s)'; host None for the stage's own line."""
    index, total = position(stage)
    counter = "[%s/%d]" % (index if index is not None else "-", total)
    who = "%s %s" % (stage, host) if host else str(stage)
    tail = "" if seconds is None else " (%s)" % elapsed_text(seconds)
    return "%s %s: %s%s" % (counter, who, text, tail)


def stage_of_role(role_name):
    """The stage a task runs in from its role's name ('governed.change.deploy' -> 'deploy'); None outside a stage role."""
    name = str(role_name or "").rsplit(".", 1)[-1]
    return name if name in STAGES else None


def own_action(action):
    """'governed.change.deploy' -> 'deploy'; anything else -> ''."""
    action = str(action or "")
    return action[len(OWN_PREFIX):] if action.startswith(OWN_PREFIX) else ""


# -- what one governed action's result says -----------------------------------------------------------------------------
def _dict(value):
    return value if isinstance(value, dict) else {}


def _assess(result):
    doc = _dict(result.get("assessment")) or _dict(result.get("summary"))
    targets = doc.get("targets")
    count = ", %d target(s)" % len(targets) if isinstance(targets, list) else ""
    score = " (score %s)" % doc["score"] if doc.get("score") is not None else ""
    return "%s tier %s%s%s" % (doc.get("change_id") or "change", doc.get("tier") or "?", score, count)


def _gate(result):
    verdict = _dict(result.get("verdict"))
    decision = result.get("decision") or verdict.get("decision") or "?"
    approvers = _dict(result.get("summary")).get("approvers")
    if decision == "pass":
        return "passed" + (" (approved by %s)" % ", ".join(str(a) for a in approvers) if approvers else "")
    reasons = verdict.get("reasons") or []
    return "did not pass" + (": %s" % shorten("; ".join(str(r) for r in reasons), 160) if reasons else "")


def _lock(result):
    if isinstance(result.get("released"), list):
        return "released %d lock(s)" % len(result["released"])
    locks = result.get("locks")
    return "%d device lock(s) held" % len(locks) if isinstance(locks, list) else "locks checked"


def _backup(result):
    lines = _dict(result.get("summary")).get("lines")
    return "backup taken" + (" (%s lines)" % lines if lines is not None else "")


def _snapshot(result):
    counts = _dict(result.get("summary"))
    parts = []
    if counts.get("peers") is not None:
        parts.append("%s/%s peers up" % (counts.get("established", "?"), counts["peers"]))
    if counts.get("routes") is not None:
        parts.append("%s routes" % counts["routes"])
    if counts.get("rules") is not None:
        parts.append("%s rules" % counts["rules"])
    return "snapshot" + (" (%s)" % ", ".join(parts) if parts else "")


def _deploy(result):
    summary, timer = _dict(result.get("summary")), _dict(result.get("confirm"))
    if summary.get("config_changed") is False:
        text = "nothing to push (already in place)"
    else:
        applied = summary.get("applied")
        count = len(applied) if isinstance(applied, list) else applied
        text = "pushed %d line(s)" % count if isinstance(count, int) and not isinstance(count, bool) else "pushed"
    if timer.get("armed"):
        text += ", timer armed %s s" % timer.get("seconds", "?")
    return text


def _failed_checks(rows):
    return [row for row in rows if isinstance(row, dict) and not row.get("passed")]


def check_text(result):
    """'8 checks passed' / '1 of 8 checks failed: name expected X, got Y' / '... undecidable: reason'."""
    rows = [row for row in result.get("results") or [] if isinstance(row, dict)]
    failed = _failed_checks(rows)
    if not failed and not result.get("undecidable"):
        return "%d check(s) passed" % len(rows)
    first = failed[0] if failed else {}
    word = "undecidable" if result.get("undecidable") else "failed"
    detail = "%s expected %r, got %r" % (first.get("name"), first.get("expected"), first.get("actual"))
    if first.get("reason"):
        detail = "%s: %s" % (first.get("name"), first.get("reason"))
    return "%d of %d check(s) %s: %s" % (len(failed), len(rows), word, shorten(detail, 160))


def _confirm(result):
    state = _dict(result.get("confirm")).get("state")
    return "confirmed" if state in (None, "confirmed") else "timer %s" % state


def _restore(result):
    if result.get("verified") is True:
        return "restored (running config equals the backup)"
    return "restored, NOT equal to the backup" if result.get("verified") is False else "restored"


def _close(result):
    return "closed %s%s" % (result.get("outcome") or "", " (%s)" % result["report"] if result.get("report") else "")


def _escalate(result):
    return "escalation sent" if result.get("event") == "escalation.sent" else "escalation NOT delivered (%s)" % (
        result.get("event") or "not sent")


SUMMARIES = {"assess": _assess, "review_gate": _gate, "window_gate": _gate, "lock": _lock, "backup": _backup, "snapshot": _snapshot,
             "deploy": _deploy, "check": check_text, "confirm": _confirm, "restore": _restore, "close": _close, "escalate": _escalate}


def summarize(action, result):
    """A few words for one governed action's successful result, or None (not one of ours / nothing worth a line)."""
    words = SUMMARIES.get(own_action(action))
    if words is None or not isinstance(result, dict):
        return None
    try:
        return words(result)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None  # an unexpected result shape never breaks the progress output


def _failed_item(result):
    """A loop's first failed item ("All items completed" says nothing), else the result itself."""
    items = [item for item in result.get("results") or [] if isinstance(item, dict) and (item.get("failed") or item.get("unreachable"))]
    return items[0] if items else result


def _message(result, status):
    """The result's message; for a failed command, its rc and the last line it printed."""
    msg = result.get("msg") or result.get("stderr") or result.get("reason") or status
    output = result.get("stderr") or result.get("stdout")
    if result.get("rc") and output:
        tail = [line for line in str(output).splitlines() if line.strip()]
        msg = "rc %s: %s" % (result["rc"], tail[-1] if tail else msg)
    return msg


def failure_text(task_name, result, status="failed"):
    """What failed, in one sentence: the check verdict for a failed check, else the task and its message."""
    result = result if isinstance(result, dict) else {}
    if isinstance(result.get("results"), list) and result.get("passed") is False:
        return check_text(result)
    lead = "unreachable" if status == "unreachable" else "'%s'" % shorten(task_name, 80)
    return "%s: %s" % (lead, shorten(_message(_failed_item(result), status)))


class StageProgress:
    """Folds task starts and results into stage lines. Feed it ``task(stage, now)`` when a task starts and
    ``result(...)`` for each result; it returns the lines to print (a stage's lines when the next stage starts or
    ``finish`` is called, a failure outside any stage at once)."""

    def __init__(self):
        self.stage = None
        self.started = None
        self.hosts = {}       # host -> {action: words}  (insertion order)
        self.change = {}      # action -> words (change-level)
        self.failed = {}      # host -> failure sentence
        self.ran = False      # a task of the stage ran (not only skipped)
        self.failures = 0
        self.messages = {}    # failure message -> the stage it failed in

    def task(self, stage, now):
        """A task starts; ``stage`` is the stage role running it (None outside a stage role: the open stage has ended)."""
        if stage == self.stage:
            return []
        lines = self._flush(now)
        self.stage, self.started = stage, now
        return lines

    def result(self, stage, host, action, status, result, task_name, ignored=False):
        """A task result (status ok/changed/failed/skipped/unreachable); returns lines to print at once."""
        if status in ("failed", "unreachable") and not ignored:
            return self._failure(stage, host, action, status, result, task_name)
        if stage is None or stage != self.stage or status == "skipped":
            return []
        self.ran = True
        words = summarize(action, result)
        if words:
            bucket = self.change if own_action(action) in CHANGE_LEVEL else self.hosts.setdefault(host, {})
            bucket[own_action(action)] = words
        return []

    def _failure(self, stage, host, action, status, result, task_name):
        """A stage's failure waits for the stage line; one outside a stage is printed at once (once per message: the
        playbook's rescue re-raising a stage's error points back to it)."""
        self.failures += 1
        msg = shorten(_dict(result).get("msg"))
        if stage is None or stage != self.stage:
            where = "" if not host else "on %s " % host
            if msg and msg in self.messages:
                return ["FAILED %s'%s': the %s failure above" % (where, shorten(task_name, 80), self.messages[msg])]
            return ["FAILED %s%s" % (where, failure_text(task_name, result, status))]
        if msg:
            self.messages.setdefault(msg, stage)
        self.failed.setdefault(None if own_action(action) in CHANGE_LEVEL else host, failure_text(task_name, result, status))
        return []

    def finish(self, now):
        """The lines of the stage still open."""
        lines = self._flush(now)
        self.stage = None
        return lines

    def _flush(self, now):
        if self.stage is None:
            return []
        seconds = now - self.started if self.started is not None else None
        lines = []
        if None in self.failed:
            lines.append(stage_line(self.stage, None, "FAILED - " + self.failed.pop(None), seconds))
        elif self.change:
            lines.append(stage_line(self.stage, None, ", ".join(self.change.values()), seconds))
        for host in list(self.hosts) + [h for h in self.failed if h not in self.hosts]:
            if host in self.failed:
                lines.append(stage_line(self.stage, host, "FAILED - " + self.failed[host], seconds))
            elif self.hosts[host]:
                lines.append(stage_line(self.stage, host, ", ".join(self.hosts[host].values()), seconds))
        if not lines:
            lines.append(stage_line(self.stage, None, "done" if self.ran else "skipped", seconds))
        self.hosts, self.change, self.failed, self.ran, self.started = {}, {}, {}, False, None
        return lines


def recap_line(hosts, seconds):
    """'run finished in 41.2 s: 4 host(s) ok' / '... failed on r1, r2' from {host: {'failures': n, 'unreachable': n}}."""
    bad = sorted(h for h, counts in hosts.items() if counts.get("failures") or counts.get("unreachable"))
    verdict = "failed on %s" % ", ".join(bad) if bad else "%d host(s) ok" % len(hosts)
    return "run finished in %s: %s" % (elapsed_text(seconds), verdict)


# -- workflow nodes (governed-change workflow run) ------------------------------------------------------------------------
def node_line(event, node, done=0, total=None):
    """'[3/7] started  deploy (governed-change deploy)' / '[3/7] finished deploy (governed-change deploy): successful in 12.3 s'."""
    counter = "[%d/%s]" % (done, total if total is not None else "?")
    name = "%s (%s)" % (node.get("identifier"), node.get("job_template") or node.get("type") or "node")
    if event == "start":
        return "%s started  %s" % (counter, name)
    status = node.get("status") or "?"
    text = "%s finished %s: %s" % (counter, name, status)
    if node.get("elapsed") is not None:
        text += " in %s" % elapsed_text(node["elapsed"])
    if status == "do_not_run":
        return "%s will not run %s: %s" % (counter, name, shorten(node.get("explanation") or "no edge fired", 200))
    if node.get("explanation") and status != "successful":
        text += " - %s" % shorten(node["explanation"], 200)
    return text
