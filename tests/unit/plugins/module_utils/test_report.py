"""The evidence report: self-contained, every value escaped, the content a CAB reads."""

from __future__ import annotations

import html.parser
import re

import pytest

from evidence_support import CHANGE, SECRET, scheduled_change, stages

from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.ledger import SqliteLedger
from ansible_collections.governed.change.plugins.module_utils.report import esc, render_html


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _render(tmp_path, failed, outcome):
    ledger_path, out = scheduled_change(tmp_path, title='Route <script>alert("x")</script> & co')
    with SqliteLedger(ledger_path) as ledger:
        ledger.transition(CHANGE, "implement", "t")
        ledger.transition(CHANGE, "review", "t")
        ledger.transition(CHANGE, "closed", "t", close_code=outcome, reason="the reason")
        ledger.append_event(CHANGE, "change.outcome", "t", {"outcome": outcome, "reason": "the reason"})
        if failed:
            sent = {"reason": "change_failed", "sent": True, "escalation_target": "netops-oncall", "path": "/o/escalations/CHG-7001-1.json"}
            ledger.append_event(CHANGE, "escalation.sent", "t", sent)
        bundle = evidence.build_bundle(ledger, CHANGE, output_dir=out, stages=stages(tmp_path, failed=failed))
    page = render_html(bundle, {"evidence": "/o/bundle.json", "report": "/o/report.html"})
    parser = _Collect()
    parser.feed(page)
    return page, parser, bundle


def test_everything_is_escaped_and_nothing_is_external(tmp_path):
    page, parser, _bundle = _render(tmp_path, True, "unsuccessful")
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags and "iframe" not in parser.tags
    assert '<script>' not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "+&lt;script&gt;alert(1)&lt;/script&gt;" in page  # a diff line is shown, not executed
    assert not [v for k, v in parser.attrs if k in ("src", "href") and v]
    assert not re.search(r"url\(|@import|https?://", page.split("</style>", maxsplit=1)[0])
    assert SECRET not in page


def test_failed_change_page_shows_outcome_checks_rollback_escalation(tmp_path):
    page, parser, bundle = _render(tmp_path, True, "unsuccessful")
    text = " ".join(parser.text)
    assert 'class="banner bad"' in page and "CHG-7001: UNSUCCESSFUL" in text
    assert "tier low" in text and "static_routes" in text and "Adds or removes static routes (+10)" in text
    assert "alice" in text and "verified" in text
    assert "peers_established" in text and "Idle" in text and "FAIL" in text
    assert "Rolled back: r1" in text and "verified (config and state equal to the pre-change snapshot)" in text
    assert "/o/escalations/CHG-7001-1.json" in text and "netops-oncall" in text
    assert "192.0.2.0/24" in text and "Established" in text
    assert bundle["sha256"] in text and bundle["ledger"]["head"]["hash"] in text
    for anchor in ("outcome", "risk", "approvals", "diff", "state", "checks", "rollback", "escalation", "timeline", "hashes"):
        assert 'id="%s"' % anchor in page


def test_good_change_page_is_green_and_says_nothing_rolled_back(tmp_path):
    page, parser, _bundle = _render(tmp_path, False, "successful")
    text = " ".join(parser.text)
    assert 'class="banner ok"' in page and "CHG-7001: SUCCESSFUL" in text
    assert "No rollback was needed." in text and "Not escalated." in text


@pytest.mark.parametrize("value,expected", [(None, ""), ("<a>", "&lt;a&gt;"), ({"k": "<"}, "{&quot;k&quot;: &quot;&lt;&quot;}"),
                                            (3, "3")])
def test_esc(value, expected):
    assert esc(value) == expected
