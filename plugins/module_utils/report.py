# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence report: one self-contained HTML page per change (inline CSS, no scripts, no external assets), every value escaped."""

from __future__ import annotations

import html
import json
from datetime import timedelta

from ansible_collections.governed.change.plugins.module_utils.clock import iso_z
from ansible_collections.governed.change.plugins.module_utils.errors import LedgerError
from ansible_collections.governed.change.plugins.module_utils.evidence import SECTIONS, stage_spans, summary
from ansible_collections.governed.change.plugins.module_utils.ledger import parse_iso
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1b1f23;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.banner{padding:14px 18px;border-radius:6px;color:#fff;font-size:18px;font-weight:600}
.ok{background:#1a7f37}.issues{background:#9a6700}.bad{background:#cf222e}.neutral{background:#57606a}
.kv{display:grid;grid-template-columns:200px 1fr;gap:2px 12px}.kv div:nth-child(odd){color:#57606a}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word;word-break:normal;hyphens:none}
th{background:#eaeef2;white-space:nowrap}td.pass{color:#1a7f37;font-weight:600}td.fail{color:#cf222e;font-weight:600}td.undecidable{color:#9a6700;font-weight:600}
td.pass,td.fail,td.undecidable,td.num,.nowrap{white-space:nowrap}td.num{text-align:right}
td.hash{word-break:break-all;font:12px SFMono-Regular,Consolas,monospace}
.kv4{display:grid;grid-template-columns:150px 1fr 150px 1fr;gap:2px 12px}.kv4 div:nth-child(odd){color:#57606a}
dl.fields{display:grid;grid-template-columns:170px 1fr;gap:2px 12px;margin:6px 0}dl.fields dt{color:#57606a}dl.fields dd{margin:0}
details{margin:6px 0}summary{cursor:pointer;color:#0969da}svg.stages{background:#fff;border:1px solid #d0d7de;display:block}
svg.stages text{font:12px -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#1b1f23}svg.stages .axis{stroke:#d0d7de}
rect.stage{fill:#2da44e}rect.stage.failed{fill:#cf222e}rect.stage.recovery{fill:#bf8700}.delta{color:#cf222e;font-weight:600}
pre{background:#fff;border:1px solid #d0d7de;padding:8px;overflow-x:auto;font:12px/1.4 SFMono-Regular,Consolas,monospace;margin:4px 0}
.add{color:#116329;background:#dafbe1;display:block}.del{color:#82071e;background:#ffebe9;display:block}.hunk{color:#8250df;display:block}
code{font:12px SFMono-Regular,Consolas,monospace;word-break:break-all}.muted{color:#57606a}.tag{display:inline-block;padding:0 6px;border-radius:10px;
background:#eaeef2;margin-right:4px}.tier-low{background:#dafbe1}.tier-medium{background:#fff8c5}.tier-high{background:#ffebe9}
.tier-critical{background:#cf222e;color:#fff}.problem{color:#cf222e}
"""


def esc(value):
    """HTML-escaped, redacted text of any value (None as an empty string, containers as compact JSON).

    The bundle is redacted already; redacting here too keeps a secret out of a report rendered from an older bundle.
    """
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, sort_keys=True, default=str)
    return html.escape(redact_data(str(value))[0], quote=True)


def _short(value, limit=200):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _table(headers, rows, cls=None):
    out = ["<table%s><thead><tr>" % (' class="%s"' % cls if cls else "")]
    out.extend("<th>%s</th>" % esc(h) for h in headers)
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for cell in row:
            if isinstance(cell, tuple):  # (text, css class)
                out.append('<td class="%s">%s</td>' % (esc(cell[1]), esc(cell[0])))
            else:
                out.append("<td>%s</td>" % esc(cell))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _kv(pairs):
    return '<div class="kv">%s</div>' % "".join("<div>%s</div><div>%s</div>" % (esc(k), esc(v)) for k, v in pairs)


def _diff_pre(text):
    lines = []
    for line in (text or "").splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "hunk" if line.startswith("@@") else None
        lines.append('<span class="%s">%s</span>' % (cls, esc(line)) if cls else esc(line) + "\n")
    return "<pre>%s</pre>" % "".join(lines)


def _banner(info):
    outcome, state = info.get("outcome"), info.get("state")
    cls = {"successful": "ok", "successful_issues": "issues", "unsuccessful": "bad", "canceled": "neutral"}.get(outcome, "neutral")
    final = "%s/%s" % (state, info["close_code"]) if info.get("close_code") else state
    text = "%s: %s" % (info.get("change_id"), (outcome or "no outcome recorded").upper().replace("_", " "))
    return '<div class="banner %s" id="outcome">%s <span style="font-weight:400">(ledger state %s)</span></div>' % (cls, esc(text), esc(final))


def _risk(sec):
    a = sec.get("assessment") or {}
    tier = (sec.get("change") or {}).get("tier") or a.get("tier")
    out = ['<h2 id="risk">Risk and why</h2>']
    out.append(_kv([("Tier", tier), ("Score", a.get("score")), ("Change class", "%s %s" % (a.get("change_class") or "",
                    "(%s)" % a["change_class_reason"] if a.get("change_class_reason") else "")),
                    ("Required gates", ", ".join(a.get("required_gates") or [])), ("Content hash", a.get("content_hash"))]))
    out.append(_blast(a.get("blast_radius")))
    rules = a.get("fired_rules") or []
    if rules:
        out.append(_table(["Fired rule", "Score", "Forces tier", "Why"],
                          [[r.get("name"), r.get("score"), r.get("force_tier") or "", r.get("explanation")] for r in rules]))
    else:
        out.append('<p class="muted">No risk rule fired.</p>')
    explanation = a.get("explanation")
    if isinstance(explanation, list):
        explanation = "; ".join(str(item) for item in explanation)
    if explanation:
        out.append("<p>%s</p>" % esc(explanation))
    return "".join(out)


def _names(values):
    """A list as "a, b", an empty one as "none"."""
    return ", ".join(str(v) for v in values) if values else "none"


def _counted(count, names):
    """ "2: r1, r2" (a count and its names), or the names alone when no count is recorded."""
    return _names(names) if count is None else "%s: %s" % (count, _names(names))


def _blast_fields(blast):
    """The blast radius as (label, text) pairs, in the order a reviewer asks about them."""
    share = blast.get("fleet_share")
    protected = blast.get("protected_overlap") or []
    return [("Devices", _counted(blast.get("device_count"), blast.get("devices") or [])),
            ("Sites", _counted(blast.get("site_count"), blast.get("sites") or [])),
            ("Critical devices", _names(blast.get("critical_devices") or [])),
            ("Share of the fleet", "%.0f%%" % (share * 100) if isinstance(share, (int, float)) else "not recorded"),
            ("Prefixes touched", _names(blast.get("prefixes_touched") or [])),
            ("Protected prefixes", "touched: %s" % _names(protected) if blast.get("touches_protected") or protected else "none touched")]


def _blast(blast):
    """The blast radius as a definition list (one field a line, never raw JSON)."""
    if not isinstance(blast, dict) or not blast:
        return '<h3 id="blast-radius">Blast radius</h3><p class="muted">No blast radius recorded.</p>'
    rows = "".join("<dt>%s</dt><dd>%s</dd>" % (esc(k), esc(v)) for k, v in _blast_fields(blast))
    return '<h3 id="blast-radius">Blast radius</h3><dl class="fields">%s</dl>' % rows


def _signature_cell(verified):
    """An approval's signature cell: verified (pass), not verified (fail), or not evaluated (undecidable)."""
    if verified:
        return ("verified", "pass")
    if verified is False:
        return ("not verified", "fail")
    return ("not evaluated", "undecidable")


def _approval_row(item):
    """One row of the approvals table: who, as whom, what, from where, when, the signature, and whether it counted."""
    return [item.get("approver"), item.get("identity") or "", ", ".join(item.get("groups") or []), item.get("decision"),
            item.get("source"), (item.get("ts"), "nowrap"),
            _signature_cell(item.get("verified")),
            "yes" if item.get("counted") else "no", "yes" if item.get("matches_current_content") else "no",
            item.get("reason") or item.get("comment") or ""]


def _required(required):
    """What the review gate required: how many approvals, from which groups, with segregation of duties."""
    if not isinstance(required, dict) or not required:
        return ""
    groups = required.get("groups") or []
    text = "Required: %s approval(s)%s%s" % (required.get("count"), " from %s" % ", ".join(groups) if groups else "",
                                             ", segregation of duties" if required.get("segregation_of_duties") else "")
    return '<p id="required">%s</p>' % esc(text)


def _gate_row(name, gate):
    """One row of the gates table: a gate that did not run is undecidable, pass/assessed pass, any other decision fails."""
    gate = gate or {}
    dec = gate.get("decision")
    if dec in ("pass", "assessed"):
        css = "pass"
    else:
        css = "fail" if dec else "undecidable"
    return [name, (dec or "not run", css), gate.get("runs"), gate.get("ts"), " ".join(gate.get("reasons") or [])]


def _approvals(sec):
    ap = sec.get("approvals") or {}
    gates = sec.get("gates") or {}
    out = ['<h2 id="approvals">Who approved what</h2>', _required(ap.get("required"))]
    rows = [_approval_row(item) for item in ap.get("items") or []]
    if rows:
        out.append(_table(["Approver", "Identity", "Groups", "Decision", "Source", "Signed at", "Signature", "Counted",
                           "Current content", "Note"], rows))
    else:
        out.append('<p class="muted">No approval recorded.</p>')
    grows = [_gate_row(name, gate) for name, gate in gates.items()]
    out.append(_table(["Gate", "Decision", "Runs", "At", "Reasons"], grows))
    return "".join(out)


def _diffs(sec):
    devices = (sec.get("assessment") or {}).get("devices") or {}
    out = ['<h2 id="diff">Configuration diff</h2>']
    if not devices:
        out.append('<p class="muted">No configuration diff recorded.</p>')
    for host, dev in devices.items():
        out.append("<h3>%s <span class=\"muted\">+%s / -%s lines</span></h3>" % (esc(host), esc(dev.get("lines_added")),
                                                                                 esc(dev.get("lines_removed"))))
        out.append(_diff_pre(dev.get("diff")))
    return "".join(out)


def _state_diff_note(diff):
    """The heading note of a device's state diff: identical, or the added/removed/changed counts."""
    if diff.get("identical"):
        return "no change between pre and post"
    counts = diff.get("counts") or {}
    truncated = " (listing truncated)" if diff.get("truncated") else ""
    return "+%s added, -%s removed, ~%s changed%s" % (counts.get("added"), counts.get("removed"), counts.get("changed"), truncated)


def _state_diff_rows(diff):
    """The table rows of a device's state diff: added, then removed, then changed records."""
    rows = [["added", e.get("section"), e.get("id"), "", "", _short(e.get("value"))] for e in diff.get("added") or []]
    rows += [["removed", e.get("section"), e.get("id"), "", _short(e.get("value")), ""] for e in diff.get("removed") or []]
    rows += [["changed", e.get("section"), e.get("id"), e.get("field"), _short(e.get("before")), _short(e.get("after"))]
             for e in diff.get("changed") or []]
    return rows


def _state_diff_parts(host, diff):
    """The HTML of one device's state diff: heading with its note, the table when it lists records, the error if any."""
    out = ["<h3>%s <span class=\"muted\">%s</span></h3>" % (esc(host), esc(_state_diff_note(diff)))]
    rows = _state_diff_rows(diff)
    if rows:
        out.append(_table(["Change", "Section", "Record", "Field", "Before", "After"], rows))
    if diff.get("error"):
        out.append('<p class="problem">%s</p>' % esc(diff["error"]))
    return out


def _deploy_cell(dep):
    """A device's deploy cell: failed (fail), changed, unchanged, or empty when the deploy did not run."""
    if dep.get("failed"):
        return ("failed", "fail")
    if dep.get("changed"):
        return "changed"
    return "unchanged" if dep else ""


def _applied_parts(host, dep):
    """The lines a device's deploy applied, as a heading and a block (nothing when none are recorded)."""
    changes = dep.get("changes")
    if not changes:
        return []
    text = "\n".join(str(c) for c in changes) if isinstance(changes, list) else str(changes)
    return ["<details><summary>%s</summary>%s</details>" % (esc("%s: lines applied" % host), _diff_pre(text))]


def _deploy_parts(devices):
    """The deploy table (result, message, confirmation and backup of each device) and what each deploy applied."""
    rows, applied = [], []
    for host, dev in devices.items():
        dep = dev.get("deploy") or {}
        backup = dev.get("backup") or {}
        rows.append([host, _deploy_cell(dep), dep.get("msg") or "", dev.get("confirmed"), (backup.get("sha256"), "hash"),
                     backup.get("integrity")])
        applied.extend(_applied_parts(host, dep))
    if not rows:
        return []
    return ['<h3 id="deploy">Deploy</h3>',
            _table(["Device", "Deploy", "Message", "Confirmed", "Backup sha256", "Backup integrity"], rows)] + applied


def _state(sec):
    devices = sec.get("devices") or {}
    out = ['<h2 id="state">What changed in the network</h2>']
    diffs = [(host, dev["state_diff"]) for host, dev in devices.items() if dev.get("state_diff")]
    same = [host for host, diff in diffs if diff.get("identical") and not diff.get("error")]
    if same:  # one line for every device whose state did not change
        out.append('<p id="state-same">%s</p>' % esc("%s: no change between pre and post" % ", ".join(same)))
    for host, diff in diffs:
        if host not in same:
            out.extend(_state_diff_parts(host, diff))
    if not diffs:
        out.append('<p class="muted">No pre/post snapshots recorded.</p>')
    out.extend(_deploy_parts(devices))
    return "".join(out)


def _checks(sec):
    checks = sec.get("checks") or {}
    out = ['<h2 id="checks">Checks <span class="muted">%s passed, %s failed, %s undecidable</span></h2>' % (
        esc(checks.get("passed")), esc(checks.get("failed")), esc(checks.get("undecidable")))]
    items = checks.get("items") or []
    if not items:
        out.append('<p class="muted">No check results recorded.</p>')
        return "".join(out)
    headers = ["Device", "Phase", "Check", "Op", "Expected", "Actual", "Result", "Reason"]
    bad = [_check_row(c) for c in items if c.get("undecidable") or not c.get("passed")]
    good = [_check_row(c) for c in items if c.get("passed") and not c.get("undecidable")]
    if bad:
        out.append(_table(headers, bad))
    if good:
        out.append("<details><summary>%s</summary>%s</details>" % (esc("%d passing check(s)" % len(good)), _table(headers, good)))
    return "".join(out)


def _check_row(c):
    """One check: device, phase, name, operator, expected, actual, result, reason."""
    result = ("undecidable", "undecidable") if c.get("undecidable") else ("pass", "pass") if c.get("passed") else ("FAIL", "fail")
    return [c.get("host"), c.get("phase"), c.get("name"), c.get("op"), _short(c.get("expected")), _short(c.get("actual")),
            result, c.get("reason")]


def _equal_cell(value, yes="equal", no="differs"):
    """A rollback comparison: equal (pass), differs (fail), or not checked (undecidable)."""
    if value is True:
        return (yes, "pass")
    if value is False:
        return (no, "fail")
    return ("not checked", "undecidable")


def _rollback_row(host, detail, device):
    """One rolled-back device: restored, config equal to the backup, state equal to pre (the rollback's verification, also
    read from the device for bundles built before the rollback section carried it), the message."""
    state_equal = detail.get("state_equal")
    if state_equal is None:
        state_equal = ((device or {}).get("rollback_verify") or {}).get("passed")
    return [host, _equal_cell(detail.get("restored"), "restored", "failed"), _equal_cell(detail.get("config_equal")),
            _equal_cell(state_equal), detail.get("error") or detail.get("msg") or ""]


def _rollback(sec):
    rb = sec.get("rollback") or {}
    esc_sec = sec.get("escalation") or {}
    out = ['<h2 id="rollback">Rollback</h2>']
    if not rb.get("performed"):
        out.append('<p class="muted">No rollback was needed.</p>')
    else:
        out.append("<p>Rolled back: %s &mdash; %s</p>" % (esc(", ".join(rb.get("hosts") or [])),
                                                          "verified (config and state equal to the pre-change snapshot)"
                                                          if rb.get("verified") else "<strong class=\"problem\">NOT verified</strong>"))
        devices = sec.get("devices") or {}
        out.append(_table(["Device", "Restored", "Config equals backup", "State equals pre", "Message"],
                          [_rollback_row(h, d, devices.get(h)) for h, d in (rb.get("detail") or {}).items()], "rollback"))
    out.append('<h2 id="escalation">Escalation</h2>')
    if not esc_sec.get("escalated"):
        out.append('<p class="muted">Not escalated.</p>')
    else:
        rows = [[e.get("ts"), e.get("reason"), e.get("escalation_target") or e.get("target"), e.get("sent"), e.get("path") or e.get("packet")]
                for e in esc_sec.get("events") or []]
        out.append("<p>Hand-off packet: <code>%s</code></p>" % esc(esc_sec.get("packet")))
        if rows:
            out.append(_table(["At", "Reason", "Target", "Sent", "Packet"], rows))
    return "".join(out)


def _timeline(sec):
    """The ledger's events of the change (tasks are listed under Tasks, at their real times), collapsed."""
    tl = sec.get("timeline") or {}
    rows = [[e.get("seq"), (e.get("ts"), "nowrap"), e.get("kind"), e.get("actor"), e.get("text")]
            for e in tl.get("entries") or [] if e.get("kind") != "task"]
    out = ['<h2 id="timeline">Ledger events <span class="muted">%s events%s</span></h2>' % (
        esc(tl.get("events")), esc(", %s omitted in the middle" % tl["omitted"]) if tl.get("omitted") else "")]
    out.append("<details><summary>%s</summary>%s</details>" % (
        esc("%d events other than task records (times as the ledger recorded them)" % len(rows)),
        _table(["Seq", "Time (UTC)", "Kind", "Actor", "What"], rows)))
    return "".join(out)


def _task_row(task):
    """One recorded task at its real start: start, seconds, stage, status, host, task name, action."""
    status = task.get("status")
    css = "fail" if status in ("failed", "unreachable") else "nowrap"
    duration = task.get("duration_s")
    return [(task.get("started") or task.get("ts"), "nowrap"), ("%.2f" % duration if isinstance(duration, (int, float)) else "", "num"),
            task.get("stage") or "", (status, css), task.get("host"), task.get("task"), task.get("action")]


def _tasks(sec):
    """Every recorded task of the run, collapsed: a reader opens it when the stages above are not enough."""
    tasks = sec.get("tasks") or {}
    items = tasks.get("items") or []
    counts = ", ".join("%s %s" % (n, k) for k, n in sorted((tasks.get("by_status") or {}).items()))
    omitted = ", %s omitted in the middle" % tasks["omitted"] if tasks.get("omitted") else ""
    out = ['<h2 id="tasks">Tasks <span class="muted">%s</span></h2>' % esc("%s recorded%s" % (tasks.get("count") or 0, omitted))]
    if not items:
        out.append('<p class="muted">No task was recorded (the governed.change.evidence callback records them).</p>')
        return "".join(out)
    out.append("<details><summary>%s</summary>%s</details>" % (
        esc("Show the %d tasks (%s)" % (len(items), counts)),
        _table(["Started (UTC)", "Seconds", "Stage", "Status", "Device", "Task", "Action"], [_task_row(t) for t in items], "tasks")))
    return "".join(out)


# -- the stage timeline picture -----------------------------------------------------------------------------------
SVG_WIDTH = 1040
SVG_LABEL = 90       # left column: stage names
SVG_BARS = 800       # the bars' width for the whole run
SVG_ROW = 24


def _span_times(span):
    """(start, end) datetimes of a stage span, or None when they do not parse."""
    try:
        return parse_iso(span.get("start"), where="stage.start"), parse_iso(span.get("end"), where="stage.end")
    except (LedgerError, AttributeError):
        return None


def _stage_spans(sec):
    """The stage spans of the bundle (tasks.stages), computed from the kept tasks for a bundle built before it had them."""
    tasks = sec.get("tasks") or {}
    spans = tasks.get("stages")
    if not isinstance(spans, list):
        spans = stage_spans(tasks.get("items") or [])
    return [(span, times) for span, times in ((s, _span_times(s)) for s in spans if isinstance(s, dict)) if times]


def _stage_class(name, failed_stage):
    """The bar's colour: the stage that failed red, rollback and escalation amber, every other stage green."""
    if name == failed_stage:
        return "stage failed"
    return "stage recovery" if name in ("rollback", "escalate") else "stage"


def _hms(moment):
    """HH:MM:SS (UTC) of an instant, cut from clock.iso_z."""
    return iso_z(moment, "seconds")[11:19]


def _stage_bar(row, span, times, origin, scale, failed_stage):
    """One stage's row: its name, its bar from first task start to last task end, its duration."""
    start, end = times
    x = SVG_LABEL + (start - origin).total_seconds() * scale
    width = max(2.0, (end - start).total_seconds() * scale)
    y = 6 + row * SVG_ROW
    seconds = (end - start).total_seconds()
    title = "%s: %s to %s UTC, %.1f s, %s task(s), %s failed" % (
        span.get("stage"), _hms(start), _hms(end), seconds, span.get("tasks"), span.get("failed") or 0)
    label = '<text x="4" y="%d">%s</text>' % (y + 13, esc(span.get("stage")))
    rect = ('<rect class="%s" data-stage="%s" data-start="%s" data-end="%s" x="%.1f" y="%d" width="%.1f" height="16" rx="2">'
            '<title>%s</title></rect>' % (esc(_stage_class(span.get("stage"), failed_stage)), esc(span.get("stage")), esc(span.get("start")),
                                          esc(span.get("end")), x, y, width, esc(title)))
    duration = '<text x="%.1f" y="%d">%s</text>' % (x + width + 6, y + 13, esc("%.1f s" % seconds))
    return "".join((label, rect, duration))


def _stage_axis(origin, total, scale, top):
    """The time axis under the bars: five ticks with their UTC time."""
    out = ['<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (SVG_LABEL, top, SVG_LABEL + SVG_BARS, top)]
    for step in range(5):
        offset = total * step / 4.0
        x = SVG_LABEL + offset * scale
        out.append('<line class="axis" x1="%.1f" y1="4" x2="%.1f" y2="%d"/>' % (x, x, top + 4))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, top + 18, esc(_hms(origin + timedelta(seconds=offset)))))
    return "".join(out)


def _stage_timeline(sec):
    """The picture of the run: one bar per stage at its real start and end (the tasks' times, not the ledger's)."""
    spans = _stage_spans(sec)
    out = ['<h2 id="stages">Stages</h2>']
    if not spans:
        out.append('<p class="muted">No stage ran with recorded task times (the governed.change.evidence callback records them).</p>')
        return "".join(out)
    origin = min(times[0] for _span, times in spans)
    total = max(1.0, (max(times[1] for _span, times in spans) - origin).total_seconds())
    scale = SVG_BARS / total
    failed_stage = (sec.get("outcome") or {}).get("stage_failed")
    top = 6 + len(spans) * SVG_ROW + 2
    bars = "".join(_stage_bar(row, span, times, origin, scale, failed_stage) for row, (span, times) in enumerate(spans))
    out.append('<svg xmlns="http://www.w3.org/2000/svg" class="stages" id="stage-timeline" role="img" width="%d" height="%d" '
               'viewBox="0 0 %d %d"><title>%s</title>%s%s</svg>' % (
                   SVG_WIDTH, top + 26, SVG_WIDTH, top + 26, esc("Stages of the run, %.0f s from %s UTC" % (total, _hms(origin))),
                   _stage_axis(origin, total, scale, top), bars))
    return "".join(out)


# -- pre/post state at a glance -----------------------------------------------------------------------------------
def _glance_counts(ref):
    """Peers, peers established and routes of a snapshot: the bundle's glance, else the counts of its summary."""
    ref = ref or {}
    if isinstance(ref.get("glance"), dict):
        return ref["glance"]
    sections = (ref.get("summary") or {}).get("sections") or {}
    if not sections:
        return None
    return {"peers": sections.get("peers"), "peers_established": None, "routes": sections.get("routes")}


def _peers_text(counts):
    if counts is None:
        return "?"
    if counts.get("peers_established") is None:
        return str(counts.get("peers"))
    return "%s/%s up" % (counts.get("peers_established"), counts.get("peers"))


def _before_after(before, after):
    """ "before → after" as a cell, marked when they differ."""
    text = "%s \u2192 %s" % (before, after)
    return (text, "fail" if before != after else "nowrap")


def _glance_row(host, dev):
    """One device: its decided state, peers and routes before and after, the state diff in numbers, the deploy."""
    pre, post = _glance_counts(dev.get("pre")), _glance_counts(dev.get("post"))
    diff = dev.get("state_diff")
    routes = [str((c or {}).get("routes", "?")) if c else "?" for c in (pre, post)]
    state = (dev.get("state") or {}).get("state") or ""
    return [host, (state.replace("_", " "), "nowrap"), _before_after(_peers_text(pre), _peers_text(post)), _before_after(*routes),
            _state_diff_note(diff) if diff else "no snapshots", _deploy_cell(dev.get("deploy") or {}) or "not deployed"]


def _glance(sec):
    """Pre/post state of every device in one table a reader scans in seconds."""
    devices = sec.get("devices") or {}
    out = ['<h2 id="glance">Devices at a glance <span class="muted">pre-change snapshot \u2192 post snapshot</span></h2>']
    if not devices:
        out.append('<p class="muted">No device was reached.</p>')
        return "".join(out)
    out.append(_table(["Device", "Result", "BGP peers", "Routes", "State diff", "Deploy"],
                      [_glance_row(host, dev) for host, dev in devices.items()], "glance"))
    return "".join(out)


def _ledger_check_text(ver):
    """The bundle's ledger check in words: a change-scoped check (bundles from issue 16 on) or a whole-chain verify."""
    if not ver.get("ok"):
        return "FAILED: %s" % _short(ver.get("problems"))
    if ver.get("scope") == "change":
        return "ok (the change's %s events, their links and the chain since the last verified checkpoint; "\
               "governed-change ledger verify walks every event)" % ver.get("events")
    return "ok (%s events)" % ver.get("events")


def _hashes(bundle, paths):
    led = bundle.get("ledger") or {}
    head = led.get("head") or {}
    ver = led.get("verify") or {}
    out = ['<h2 id="hashes">Integrity</h2>']
    out.append(_kv([("Bundle sha256", bundle.get("sha256")), ("Bundle file", (paths or {}).get("evidence")),
                    ("Ledger", led.get("path")), ("Ledger head at bundle time", "seq %s, %s" % (head.get("seq"), head.get("hash"))),
                    ("Ledger check", _ledger_check_text(ver)),
                    ("Change events", "%s (seq %s to %s)" % (led.get("change_events"), led.get("first_seq"), led.get("last_seq"))),
                    ("Generated", bundle.get("generated_at"))]))
    out.append("<details><summary>sha256 of each section</summary>%s</details>" % _table(
        ["Section", "sha256"], [[name, ((bundle.get("hashes") or {}).get(name), "hash")] for name in SECTIONS]))
    for problem in bundle.get("problems") or []:
        out.append('<p class="problem">%s</p>' % esc(problem))
    return "".join(out)


def _overview(sec):
    """The short facts, two pairs a line: author, duration, devices by result, the failed stage, escalation, close."""
    outcome = sec.get("outcome") or {}
    pairs = [("Author", (sec.get("change") or {}).get("author")),
             ("Duration", "%s s" % outcome["duration_s"] if outcome.get("duration_s") is not None else "unknown"),
             ("Devices ok", _names(outcome.get("ok_hosts") or [])), ("Devices failed", _names(outcome.get("failed_hosts") or [])),
             ("Rolled back", _names(outcome.get("rolled_back") or [])), ("Untouched", _names(outcome.get("untouched_hosts") or [])),
             ("Stage failed", outcome.get("stage_failed") or "none"), ("Escalation reason", outcome.get("escalation_reason") or "none"),
             ("Closed at", outcome.get("closed_at")), ("Tasks recorded", (sec.get("tasks") or {}).get("count"))]
    return '<div class="kv4">%s</div>' % "".join("<div>%s</div><div>%s</div>" % (esc(k), esc(v)) for k, v in pairs)


def render_html(bundle, paths=None):
    """The report page of a bundle (str)."""
    sec = bundle.get("sections") or {}
    info = summary(bundle, paths)
    change = sec.get("change") or {}
    outcome = sec.get("outcome") or {}
    tier = info.get("tier") or "unknown"
    head = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>%s</title>" % esc("Change %s evidence" % info.get("change_id")),
            "<style>%s</style></head><body><main>" % CSS]
    body = [_banner(info),
            '<h1 id="title">%s <span class="tag tier-%s" id="tier">tier %s</span></h1>' % (
                esc("%s: %s" % (info.get("change_id"), change.get("title") or "")), esc(tier), esc(tier)),
            _kv([("Outcome reason", outcome.get("reason")), ("Verdict", outcome.get("verdict") or "not recorded")]),
            _overview(sec), _stage_timeline(sec), _glance(sec), _risk(sec), _approvals(sec), _rollback(sec), _checks(sec), _diffs(sec),
            _state(sec), _tasks(sec), _timeline(sec), _hashes(bundle, paths)]
    return "".join(head + body) + "</main></body></html>\n"
