# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence report: one self-contained HTML page per change (inline CSS, no scripts, no external assets), every value escaped."""

from __future__ import annotations

import html
import json

from ansible_collections.governed.change.plugins.module_utils.evidence import SECTIONS, summary
from ansible_collections.governed.change.plugins.module_utils.redact import redact_data

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1b1f23;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.banner{padding:14px 18px;border-radius:6px;color:#fff;font-size:18px;font-weight:600}
.ok{background:#1a7f37}.issues{background:#9a6700}.bad{background:#cf222e}.neutral{background:#57606a}
.kv{display:grid;grid-template-columns:200px 1fr;gap:2px 12px}.kv div:nth-child(odd){color:#57606a}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#eaeef2}td.pass{color:#1a7f37;font-weight:600}td.fail{color:#cf222e;font-weight:600}td.undecidable{color:#9a6700;font-weight:600}
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
                    ("Required gates", ", ".join(a.get("required_gates") or [])), ("Content hash", a.get("content_hash")),
                    ("Blast radius", _short(a.get("blast_radius")))]))
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


def _signature_cell(verified):
    """An approval's signature cell: verified (pass), not verified (fail), or not evaluated (undecidable)."""
    if verified:
        return ("verified", "pass")
    if verified is False:
        return ("not verified", "fail")
    return ("not evaluated", "undecidable")


def _approval_row(item):
    """One row of the approvals table: who, as whom, what, from where, when, the signature, and whether it counted."""
    return [item.get("approver"), item.get("identity") or "", item.get("decision"), item.get("source"), item.get("ts"),
            _signature_cell(item.get("verified")),
            "yes" if item.get("counted") else "no", "yes" if item.get("matches_current_content") else "no",
            item.get("reason") or item.get("comment") or ""]


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
    out = ['<h2 id="approvals">Who approved what</h2>']
    rows = [_approval_row(item) for item in ap.get("items") or []]
    if rows:
        out.append(_table(["Approver", "Identity", "Decision", "Source", "Signed at", "Signature", "Counted", "Current content",
                           "Note"], rows))
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
    return ["<h4>%s: applied</h4>" % esc(host),
            _diff_pre("\n".join(str(c) for c in changes) if isinstance(changes, list) else str(changes))]


def _deploy_parts(devices):
    """The deploy table (result, message, confirmation and backup of each device) and what each deploy applied."""
    rows, applied = [], []
    for host, dev in devices.items():
        dep = dev.get("deploy") or {}
        backup = dev.get("backup") or {}
        rows.append([host, _deploy_cell(dep), dep.get("msg") or "", dev.get("confirmed"), backup.get("sha256"),
                     backup.get("integrity")])
        applied.extend(_applied_parts(host, dep))
    if not rows:
        return []
    return ['<h3 id="deploy">Deploy</h3>',
            _table(["Device", "Deploy", "Message", "Confirmed", "Backup sha256", "Backup integrity"], rows)] + applied


def _state(sec):
    devices = sec.get("devices") or {}
    out = ['<h2 id="state">What changed in the network</h2>']
    any_diff = False
    for host, dev in devices.items():
        diff = dev.get("state_diff")
        if diff:
            any_diff = True
            out.extend(_state_diff_parts(host, diff))
    if not any_diff:
        out.append('<p class="muted">No pre/post snapshots recorded.</p>')
    out.extend(_deploy_parts(devices))
    return "".join(out)


def _checks(sec):
    checks = sec.get("checks") or {}
    out = ['<h2 id="checks">Checks <span class="muted">%s passed, %s failed, %s undecidable</span></h2>' % (
        esc(checks.get("passed")), esc(checks.get("failed")), esc(checks.get("undecidable")))]
    rows = []
    for c in checks.get("items") or []:
        result = ("undecidable", "undecidable") if c.get("undecidable") else ("pass", "pass") if c.get("passed") else ("FAIL", "fail")
        rows.append([c.get("host"), c.get("phase"), c.get("name"), c.get("op"), _short(c.get("expected")), _short(c.get("actual")),
                     result, c.get("reason")])
    out.append(_table(["Device", "Phase", "Check", "Op", "Expected", "Actual", "Result", "Reason"], rows) if rows
               else '<p class="muted">No check results recorded.</p>')
    return "".join(out)


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
        out.append(_table(["Device", "Restored", "Config equals backup", "State equals pre", "Message"],
                          [[h, d.get("restored"), d.get("config_equal"), d.get("state_equal"), d.get("error") or d.get("msg")]
                           for h, d in (rb.get("detail") or {}).items()]))
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
    tl = sec.get("timeline") or {}
    out = ['<h2 id="timeline">Timeline <span class="muted">%s ledger events%s</span></h2>' % (
        esc(tl.get("events")), esc(", %s omitted in the middle" % tl["omitted"]) if tl.get("omitted") else "")]
    out.append(_table(["Seq", "Time (UTC)", "Kind", "Actor", "What"],
                      [[e.get("seq"), e.get("ts"), e.get("kind"), e.get("actor"), e.get("text")] for e in tl.get("entries") or []]))
    return "".join(out)


def _hashes(bundle, paths):
    led = bundle.get("ledger") or {}
    head = led.get("head") or {}
    ver = led.get("verify") or {}
    out = ['<h2 id="hashes">Integrity</h2>']
    out.append(_kv([("Bundle sha256", bundle.get("sha256")), ("Bundle file", (paths or {}).get("evidence")),
                    ("Ledger", led.get("path")), ("Ledger head at bundle time", "seq %s, %s" % (head.get("seq"), head.get("hash"))),
                    ("Ledger verify", "ok (%s events)" % ver.get("events") if ver.get("ok") else "FAILED: %s" % _short(ver.get("problems"))),
                    ("Change events", "%s (seq %s to %s)" % (led.get("change_events"), led.get("first_seq"), led.get("last_seq"))),
                    ("Generated", bundle.get("generated_at"))]))
    out.append(_table(["Section", "sha256"], [[name, (bundle.get("hashes") or {}).get(name)] for name in SECTIONS]))
    for problem in bundle.get("problems") or []:
        out.append('<p class="problem">%s</p>' % esc(problem))
    return "".join(out)


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
            _kv([("Author", change.get("author")), ("Outcome reason", outcome.get("reason")),
                 ("Devices ok", ", ".join(outcome.get("ok_hosts") or []) or "none"),
                 ("Devices failed", ", ".join(outcome.get("failed_hosts") or []) or "none"),
                 ("Rolled back", ", ".join(outcome.get("rolled_back") or []) or "none"),
                 ("Untouched", ", ".join(outcome.get("untouched_hosts") or []) or "none"),
                 ("Stage failed", outcome.get("stage_failed") or "none"),
                 ("Verdict", outcome.get("verdict") or "not recorded"),
                 ("Escalation reason", outcome.get("escalation_reason") or "none"),
                 ("Duration", "%s s" % outcome["duration_s"] if outcome.get("duration_s") is not None else "unknown"),
                 ("Closed at", outcome.get("closed_at")), ("Tasks recorded", (sec.get("tasks") or {}).get("count"))]),
            _risk(sec), _approvals(sec), _diffs(sec), _state(sec), _checks(sec), _rollback(sec), _timeline(sec), _hashes(bundle, paths)]
    return "".join(head + body) + "</main></body></html>\n"
