# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics report (metrics.compute) as a terminal table, JSON, the Prometheus text exposition format and a
self-contained HTML page (inline SVG, no script, no external resource); and a loopback-only HTTP endpoint for them."""

from __future__ import annotations

import html
import json

from ansible_collections.governed.change.plugins.module_utils import learning
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

FORMATS = ("table", "json", "prometheus", "html")
PREFIX = "governed_change_"
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------- table
def duration(seconds):
    """A duration for people: 45s, 12m30s, 3h05m, 2d04h ('-' for none)."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    if seconds < 86400:
        return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
    return "%dd%02dh" % (seconds // 86400, seconds % 86400 // 3600)


def percent(value):
    return "-" if value is None else "%.1f%%" % (100.0 * value)


TABLE_COLUMNS = (
    ("period", lambda r: r["period"]),
    ("group", lambda r: r["group"]),
    ("req", lambda r: r["counts"]["requested"]),
    ("appr", lambda r: r["counts"]["approved"]),
    ("deny", lambda r: r["counts"]["denied"]),
    ("canc", lambda r: r["counts"]["canceled"]),
    ("emerg", lambda r: r["counts"]["emergency"]),
    ("bypass", lambda r: r["counts"]["freeze_bypasses"]),
    ("deployed", lambda r: r["counts"]["deployed"]),
    ("failed", lambda r: r["counts"]["failed"]),
    ("CFR", lambda r: percent(r["change_failure_rate"]["rate"])),
    ("lead p50", lambda r: duration(r["lead_time_s"]["p50"])),
    ("lead p90", lambda r: duration(r["lead_time_s"]["p90"])),
    ("MTTR", lambda r: duration(r["mttr_s"]["restore"]["mean"])),
    ("auto", lambda r: percent(r["automation"]["stage_ratio"])),
    ("e2e", lambda r: percent(r["automation"]["end_to_end_ratio"])),
    ("post-hoc due/done/over", lambda r: "%d/%d/%d" % (r["counts"]["post_hoc_due"], r["counts"]["post_hoc_done"],
                                                       r["counts"]["post_hoc_overdue"])),
)


def render_table(report):
    """The rows as aligned text columns, the whole range (period "all") last; a header line says what was measured."""
    cells = [[name for name, _get in TABLE_COLUMNS]]
    cells += [[str(get(row)) for _name, get in TABLE_COLUMNS] for row in report["rows"]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    head = "change metrics: %d change(s), per %s (%s)%s%s; CFR = change failure rate, MTTR = mean time to restore" % (
        report["changes"], report["period"], report["timezone"], ", by %s" % report["by"] if report["by"] else "",
        "".join(", %s %s" % (k, report[k]) for k in ("since", "until") if report.get(k)))
    lines = [head] + ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
                      for line in cells]
    if not report["rows"]:
        lines.append("(no change in the ledger matches)")
    return "\n".join(lines + cause_lines(report.get("repeat_causes"))) + "\n"


def cause_lines(causes):
    """The learning loop's causes under the table: count, cause, [repeated], the changes and the follow-ups."""
    if causes is None:
        return []
    if not causes:
        return ["", "escalation causes: none recorded in the range (`governed-change escalation resolve` records them)"]
    lines = ["", "escalation causes (resolved escalations, most frequent first; %d repeated):"
             % sum(1 for item in causes if item["repeated"])]
    for item in causes:
        lines.append("%5d  %s%s; changes %s; follow-up: %s" % (
            item["count"], item["cause"], "  [repeated]" if item["repeated"] else "", ", ".join(item["changes"]),
            " | ".join(item["follow_ups"]) or "-"))
    return lines


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------------------- Prometheus
def escape_label(value):
    """A label value in the text exposition format: backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Exposition:
    """Metric families in order: each one's HELP and TYPE once, then its samples."""

    def __init__(self):
        self.families = {}

    def add(self, name, kind, help_text, labels, value, suffix=""):
        """One sample of family ``name`` (``suffix``: a histogram's _bucket, _sum or _count); None values are left out."""
        if value is None:
            return
        family = self.families.setdefault(PREFIX + name, {"type": kind, "help": help_text, "samples": []})
        family["samples"].append((suffix, labels, value))

    def text(self):
        lines = []
        for name, family in self.families.items():
            lines.append("# HELP %s %s" % (name, family["help"].replace("\\", "\\\\").replace("\n", "\\n")))
            lines.append("# TYPE %s %s" % (name, family["type"]))
            for suffix, labels, value in family["samples"]:
                pairs = ",".join('%s="%s"' % (key, escape_label(val)) for key, val in labels)
                sample = name + suffix
                lines.append("%s{%s} %s" % (sample, pairs, _number(value)) if pairs else "%s %s" % (sample, _number(value)))
        return "\n".join(lines) + "\n"


def _row_samples(out, row, base):
    for key, value in sorted(row["counts"].items()):
        out.add("changes", "gauge", "Changes per period and group by what happened (requested, approved, denied, canceled, "
                "emergency, freeze_bypasses, deployed, failed, closed, post_hoc_due/done/overdue, escalations...).",
                base + [("event", key)], value)
    lead = row["lead_time_s"]
    for quantile in ("p50", "p90"):
        q = "0.5" if quantile == "p50" else "0.9"
        out.add("lead_time_seconds", "gauge", "Lead time for changes: requested to closed successful (nearest-rank quantile).",
                base + [("quantile", q)], lead[quantile])
        for part, values in sorted(lead["parts"].items()):
            out.add("lead_time_part_seconds", "gauge", "Lead time parts: waiting for review, waiting for a window, running.",
                    base + [("part", part), ("quantile", q)], values[quantile])
    for kind, values in sorted(row["mttr_s"].items()):
        out.add("mttr_seconds", "gauge", "Time to restore service: mean seconds from failure detected to verified restored "
                "(restore) and from escalation opened to resolved (escalation).", base + [("kind", kind)], values["mean"])
    cfr = row["change_failure_rate"]
    out.add("change_failure_ratio", "gauge", "Change failure rate: deploys rolled back or closed unsuccessful over deploys "
            "that ended.", base, cfr["rate"])
    auto = row["automation"]
    out.add("automation_stage_ratio", "gauge", "Stages run by automation over all stages run (approvals excluded).", base,
            auto["stage_ratio"])
    out.add("end_to_end_ratio", "gauge", "Closed changes that went end to end without a manual step over closed changes.",
            base, auto["end_to_end_ratio"])


def render_prometheus(report):
    """The report in the Prometheus text exposition format (version 0.0.4), e.g. for node_exporter's textfile collector.

    Labels: period (a day, week or month label, or "all" for the whole range), the --by dimension when given, and the
    sample's own (event, quantile, part, kind)."""
    out = _Exposition()
    dimension = report["by"]
    for row in report["rows"]:
        base = [("period", row["period"])] + ([(dimension, row["group"])] if dimension else [])
        _row_samples(out, row, base)
    histogram_help = "Lead times (requested to closed successful) of the whole range, as a histogram."
    for item in report["lead_time_histogram"]:
        out.add("lead_time_distribution_seconds", "histogram", histogram_help, [("le", item["le"])], item["count"], "_bucket")
    if report["lead_time_histogram"]:
        out.add("lead_time_distribution_seconds", "histogram", histogram_help, [], report.get("lead_time_sum", 0.0), "_sum")
        out.add("lead_time_distribution_seconds", "histogram", histogram_help, [], report["lead_time_histogram"][-1]["count"], "_count")
    for item in report.get("repeat_causes") or ():
        label = [("cause", learning.cause_key(item["cause"]))]
        out.add("escalation_cause_resolutions", "gauge", "Escalations resolved with this cause in the range (the learning "
                "loop; the cause normalized: lower case, single spaces).", label, item["count"])
        out.add("escalation_cause_changes", "gauge", "Changes whose escalation was resolved with this cause in the range.",
                label, len(item["changes"]))
    out.add("ledger_changes", "gauge", "Change records the metrics were computed from.", [], report["changes"])
    return out.text()


# ---------------------------------------------------------------------------------------------- HTML
def _esc(value):
    return html.escape(str(value), quote=True)


def _svg_open(ident, title, width, height):
    return ['<svg id="%s" class="plot" role="img" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
            % (_esc(ident), width, height, width, height), "<title>%s</title>" % _esc(title)]


def trend_svg(rows):
    """Per period (whole range of groups): deployed changes as bars and the change failure rate as a line."""
    periods = sorted({row["period"] for row in rows if row["period"] != "all"})
    deployed = {p: 0 for p in periods}
    failed = dict(deployed)
    for row in rows:
        if row["period"] in deployed:
            deployed[row["period"]] += row["counts"]["deployed"]
            failed[row["period"]] += row["counts"]["failed"]
    width, height, left, bottom = 720, 260, 40, 40
    plot_w, plot_h = width - left - 20, height - bottom - 20
    top = max(deployed.values() or [0]) or 1
    step = plot_w / max(len(periods), 1)
    parts = _svg_open("trend", "Deployed changes (bars) and change failure rate (line) per period", width, height)
    parts.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (left, 20 + plot_h, left + plot_w, 20 + plot_h))
    parts.append('<text class="legend" x="%d" y="12" font-size="11"><tspan fill="#3b6ea5">bars: deploys per %s (top = %d)</tspan>'
                 '<tspan fill="#c0392b" dx="16">line: change failure rate (top = 100%%)</tspan></text>'
                 % (left, "period", top))
    points = []
    for index, period in enumerate(periods):
        x = left + index * step
        h = plot_h * deployed[period] / top
        parts.append('<rect class="bar deployed" data-period="%s" data-value="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                     'fill="#7aa6d6"><title>%s: %d deployed, %d failed</title></rect>'
                     % (_esc(period), deployed[period], x + step * 0.1, 20 + plot_h - h, step * 0.8, h, _esc(period),
                        deployed[period], failed[period]))
        if deployed[period]:
            rate = failed[period] / deployed[period]
            points.append((x + step / 2, 20 + plot_h - plot_h * rate, period, rate))
        if index % max(1, -(-len(periods) // 9)) == 0:  # at most 9 labels: each about 70 px wide
            parts.append('<text class="tick" x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>'
                         % (x + step / 2, height - bottom + 16, _esc(period)))
    if points:
        parts.append('<polyline class="trend failure-rate" fill="none" stroke="#c0392b" stroke-width="2" points="%s"/>'
                     % " ".join("%.1f,%.1f" % (x, y) for x, y, _p, _r in points))
        parts += ['<circle class="point failure-rate" data-period="%s" data-value="%.4f" cx="%.1f" cy="%.1f" r="3" fill="#c0392b"/>'
                  % (_esc(p), r, x, y) for x, y, p, r in points]
    parts.append("</svg>")
    return "\n".join(parts)


def distribution_svg(buckets):
    """The lead times of the whole range as a histogram (count per bound, not cumulative)."""
    width, height, left, bottom = 720, 240, 40, 40
    plot_w, plot_h = width - left - 20, height - bottom - 20
    counts, previous = [], 0
    for item in buckets:
        counts.append((item["le"], item["count"] - previous))
        previous = item["count"]
    top = max([c for _le, c in counts] or [0]) or 1
    step = plot_w / len(counts)
    parts = _svg_open("lead-time-distribution", "Distribution of lead time (requested to closed successful)", width, height)
    for index, (edge, count) in enumerate(counts):
        h = plot_h * count / top
        label = "> %s" % _bound_label(buckets[-2]["le"]) if edge == "+Inf" else "<= %s" % _bound_label(edge)
        parts.append('<rect class="bar lead-time" data-le="%s" data-value="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                     'fill="#5b8c5a"><title>%s: %d</title></rect>'
                     % (_esc(edge), count, left + index * step + step * 0.1, 20 + plot_h - h, step * 0.8, h, _esc(label), count))
        parts.append('<text class="tick" x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>'
                     % (left + index * step + step / 2, height - bottom + 16, _esc(label)))
    parts.append("</svg>")
    return "\n".join(parts)


def _bound_label(edge):
    return duration(edge)


def failure_svg(ident, title, items):
    """Change failure rate per group as horizontal bars (the rate as text beside each)."""
    items = [item for item in items if item["deployed"]]
    width, row_h = 720, 24
    height = 20 + row_h * max(len(items), 1)
    parts = _svg_open(ident, title, width, height)
    for index, item in enumerate(items):
        y = 10 + index * row_h
        rate = item["rate"] or 0.0
        parts.append('<text x="4" y="%d" font-size="12">%s</text>' % (y + 15, _esc(item["group"])))
        parts.append('<rect class="bar failure-rate" data-group="%s" data-value="%.4f" x="160" y="%d" width="%.1f" height="%d" '
                     'fill="#c0392b"><title>%s: %d of %d deploys failed</title></rect>'
                     % (_esc(item["group"]), rate, y + 3, 450 * rate, row_h - 6, _esc(item["group"]), item["failed"], item["deployed"]))
        parts.append('<text x="%.1f" y="%d" font-size="12">%s (%d/%d)</text>'
                     % (166 + 450 * rate, y + 15, percent(item["rate"]), item["failed"], item["deployed"]))
    if not items:
        parts.append('<text x="4" y="24" font-size="12">no deploy in the range</text>')
    parts.append("</svg>")
    return "\n".join(parts)


_STYLE = ("body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,td:nth-child(2){text-align:left}"
          "section{margin-bottom:2em}.kpi{display:inline-block;margin-right:2em}.kpi b{font-size:1.6em;display:block}")


def render_html(report):
    """One self-contained page: the headline figures, the trend, the lead-time distribution, the failure rate by tier
    and by category, and the table of rows."""
    total = next((row for row in report["rows"] if row["period"] == "all" and row["group"] == "all"), None)
    kpis = []
    if total is not None:
        kpis = [("lead time p50", duration(total["lead_time_s"]["p50"])), ("lead time p90", duration(total["lead_time_s"]["p90"])),
                ("change failure rate", percent(total["change_failure_rate"]["rate"])),
                ("MTTR (restore)", duration(total["mttr_s"]["restore"]["mean"])),
                ("automation (stages)", percent(total["automation"]["stage_ratio"])),
                ("end to end", percent(total["automation"]["end_to_end_ratio"]))]
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>governed.change metrics</title>',
            "<style>%s</style></head><body>" % _STYLE, "<h1>Change metrics</h1>",
            "<p>%d change(s); per %s in %s%s; computed %s from %s.</p>" % (
                report["changes"], _esc(report["period"]), _esc(report["timezone"]),
                "".join(", %s %s" % (k, _esc(report[k])) for k in ("since", "until") if report.get(k)),
                _esc(report["as_of"]), _esc(report.get("ledger", "the ledger")))]
    head.append('<section id="kpis">%s</section>' % "".join('<div class="kpi"><b>%s</b>%s</div>' % (_esc(v), _esc(k)) for k, v in kpis))
    body = ['<section><h2>Trend</h2>%s</section>' % trend_svg(report["rows"]),
            '<section><h2>Lead time distribution</h2>%s</section>' % distribution_svg(report["lead_time_histogram"]),
            '<section><h2>Change failure rate by tier</h2>%s</section>' % failure_svg(
                "failure-by-tier", "Change failure rate by risk tier", report["failure_by"]["tier"]),
            '<section><h2>Change failure rate by category</h2>%s</section>' % failure_svg(
                "failure-by-category", "Change failure rate by category", report["failure_by"]["category"]),
            '<section id="causes"><h2>Escalation causes</h2>%s</section>' % causes_html(report.get("repeat_causes") or []),
            '<section><h2>Rows</h2>%s</section>' % _html_table(report), "</body></html>"]
    return "\n".join(head + body) + "\n"


def causes_svg(causes):
    """The causes of resolved escalations as horizontal bars (count per cause; a repeated cause in red)."""
    width, row_h = 720, 24
    top = max([item["count"] for item in causes] or [0]) or 1
    parts = _svg_open("repeat-causes", "Causes of resolved escalations, most frequent first", width, 20 + row_h * max(len(causes), 1))
    for index, item in enumerate(causes):
        y = 10 + index * row_h
        text = item["cause"] if len(item["cause"]) <= 40 else item["cause"][:39] + "\u2026"
        parts.append('<text x="4" y="%d" font-size="12">%s</text>' % (y + 15, _esc(text)))
        parts.append('<rect class="bar cause%s" data-cause="%s" data-value="%d" x="260" y="%d" width="%.1f" height="%d" '
                     'fill="%s"><title>%s: %d resolution(s), changes %s</title></rect>'
                     % (" repeated" if item["repeated"] else "", _esc(learning.cause_key(item["cause"])), item["count"], y + 3,
                        400.0 * item["count"] / top, row_h - 6, "#c0392b" if item["repeated"] else "#7aa6d6",
                        _esc(item["cause"]), item["count"], _esc(", ".join(item["changes"]))))
        parts.append('<text x="%.1f" y="%d" font-size="12">%d</text>' % (266 + 400.0 * item["count"] / top, y + 15, item["count"]))
    if not causes:
        parts.append('<text x="4" y="24" font-size="12">no escalation resolved in the range</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def causes_html(causes):
    """The bar chart, then a table: cause, count, repeated, changes, follow-ups, ledger seqs."""
    head = "".join("<th>%s</th>" % name for name in ("cause", "count", "repeated", "changes", "follow-ups", "ledger seq"))
    rows = ['<tr class="cause%s"><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        " repeated" if item["repeated"] else "", _esc(item["cause"]), item["count"], "yes" if item["repeated"] else "no",
        _esc(", ".join(item["changes"])), _esc(" | ".join(item["follow_ups"])), _esc(", ".join(str(seq) for seq in item["seqs"])))
        for item in causes]
    return '%s<table id="causes-table"><tr>%s</tr>%s</table>' % (causes_svg(causes), head, "".join(rows))


def _html_table(report):
    rows = ["<tr>%s</tr>" % "".join("<th>%s</th>" % _esc(name) for name, _get in TABLE_COLUMNS)]
    rows += ["<tr>%s</tr>" % "".join("<td>%s</td>" % _esc(get(row)) for _name, get in TABLE_COLUMNS) for row in report["rows"]]
    return '<table id="rows">%s</table>' % "".join(rows)


RENDERERS = {"table": render_table, "json": render_json, "prometheus": render_prometheus, "html": render_html}


def render(report, fmt):
    if fmt not in RENDERERS:
        raise ValidationError("unknown format %r." % (fmt,), where="--format", fix="use one of: %s." % ", ".join(FORMATS))
    return RENDERERS[fmt](report)


# ---------------------------------------------------------------------------------------------- --serve
def parse_address(text):
    """(host, port) of --serve HOST:PORT; only 127.0.0.1 is accepted (the metrics name changes, tiers and sites)."""
    host, _sep, port = (text or "").rpartition(":")
    if host != LOOPBACK:
        raise ValidationError("--serve listens on %s only, not %r." % (LOOPBACK, host or text), where="--serve",
                              fix="pass 127.0.0.1:PORT and put a reverse proxy (with authentication) in front for remote scrapers.")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValidationError("the port %r is not a number from 0 to 65535." % port, where="--serve", fix="pass 127.0.0.1:PORT, e.g. 127.0.0.1:9327.")
    return host, int(port)


def make_server(address, produce):
    """An HTTP server on the loopback address: GET /metrics (Prometheus text), / (HTML), /metrics.json; ``produce(fmt)``
    computes the report afresh for each request. The caller runs serve_forever() (or handle_request())."""
    import http.server  # pylint: disable=import-outside-toplevel
    host, port = parse_address(address)
    routes = {"/metrics": ("prometheus", "text/plain; version=0.0.4; charset=utf-8"), "/": ("html", "text/html; charset=utf-8"),
              "/metrics.json": ("json", "application/json")}

    class Handler(http.server.BaseHTTPRequestHandler):
        """GET only; anything else is 404/405."""

        def do_GET(self):  # noqa: N802 - the http.server name
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404, "try /metrics, /metrics.json or /")
                return
            try:
                body = produce(route[0]).encode("utf-8")
                status, kind = 200, route[1]
            except Exception as exc:  # pylint: disable=broad-except  # one failed scrape must not end the server
                body, status, kind = ("governed-change metrics: %s\n" % exc).encode("utf-8"), 500, "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet: a scraper every 15 s would fill the terminal
            return

    try:
        return http.server.HTTPServer((host, port), Handler)
    except OSError as exc:
        raise ValidationError("cannot listen on %s:%d (%s)." % (host, port, exc.strerror or exc), where="--serve",
                              fix="choose a free port.")
