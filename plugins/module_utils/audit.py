# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The authorization audit: what automation did, from the ledger, against what the policy allowed it to do.

For every change in a period: the lines each deploy applied against the approved assessment's lines and content hash;
the devices it touched against the approved targets; the approvals against who the policy allowed for the tier and
its groups (the review gate's own rules, signatures verified again); the gates recorded against the gates the tier
required; the deploy time against the maintenance window the window gate found open (unless an emergency bypass was
recorded); and every person named in an event against the policy's identities. Each deviation names the ledger seq
that proves it. The ledger is verified first: a ledger that does not verify is refused with the seq that broke.
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import post_review
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, parse_instant, utc_now
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import LedgerTampered, is_database_url, open_ledger
from ansible_collections.governed.change.plugins.module_utils.lifecycle import merge_verdicts
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy
from ansible_collections.governed.change.plugins.module_utils.review import review_gate
from ansible_collections.governed.change.plugins.module_utils.windows import compile_policy

# Every kind of deviation, in the order they are listed for a change.
KINDS = ("device_not_approved", "lines_not_approved", "content_not_approved", "approver_not_allowed",
         "approval_quorum_not_met", "gate_missing", "deploy_outside_window", "unknown_identity")
# The gates a deploy needs a passing record of, and the event kind that records each one.
PRE_DEPLOY_GATES = {"review": "verdict.review", "freeze": "verdict.window", "window": "verdict.window"}
# Actors that are the automation itself, not a person (the action plugins, AWX copies of approvals: their approver is
# checked by name).
AUTOMATION_PREFIXES = ("governed.change", "awx:")
MAX_LINES_SHOWN = 10


def parse_bound(text, where):
    """An aware datetime from --since/--until text (None stays None); bad text is refused naming the option."""
    if text is None:
        return None
    return parse_instant(text, where=where, error=ValidationError)


def _ts(event):
    return parse_instant(event["ts"], where="ledger seq %d ts" % event["seq"], error=ValidationError)


def _verdict(event):
    return ((event or {}).get("data") or {}).get("verdict") or {}


def _passed(event):
    return _verdict(event).get("decision") == "pass"


def _last(events, before, kinds, where=None):
    """The last event of ``kinds`` before seq ``before`` (matching ``where`` when given), or None."""
    found = None
    for event in events:
        if event["seq"] >= before:
            break
        if event["kind"] in kinds and (where is None or where(event)):
            found = event
    return found


class ChangeAudit:
    """The deviations of one change: each deploy (event stage.started of stage deploy) against its authorization."""

    def __init__(self, ctx, change, events, approvals):
        self.ctx, self.change, self.events = ctx, change, events
        self.out = []
        approval_events = [event for event in events if event["kind"] in ("approval.approve", "approval.deny")]
        # approvals rows and their events are recorded together, in the same order
        self.approvals = [dict(row, seq=event["seq"]) for row, event in zip(approvals, approval_events)]

    def deviation(self, kind, seq, detail, **extra):
        self.out.append(dict(extra, kind=kind, change_id=self.change["id"], seq=seq, detail=detail))

    def run(self):
        for deploy in [e for e in self.events if e["kind"] == "stage.started" and (e["data"] or {}).get("stage") == "deploy"]:
            self.deploy(deploy)
        self.post_review()
        self.identities()
        return self.out

    # -- one deploy ------------------------------------------------------------------------------------------------
    def deploy(self, deploy):
        seq = deploy["seq"]
        content = ((_last(self.events, seq, ("change.created", "change.assessed")) or {}).get("data") or {}).get("content_hash")
        assess = _last(self.events, seq, ("verdict.assess",), lambda e: _verdict(e).get("content_hash") == content)
        assess = assess or _last(self.events, seq, ("verdict.assess",))
        approved = _verdict(assess)
        required = approved.get("required_gates") or []
        self.targets(deploy, approved)
        self.lines(deploy, approved)
        self.gates(deploy, required)
        review = _last(self.events, seq, ("verdict.review",), _passed)
        stale = review is not None and ("review" in required or "approval" in required) and _verdict(review).get("content_hash") != content
        if stale:
            self.deviation("content_not_approved", seq, "deployed content %s... but the review gate passed content %s... "
                           "(ledger seq %d): the change was re-assessed after its approval." % (
                               str(content)[:12], str(_verdict(review).get("content_hash"))[:12], review["seq"]),
                           content_hash=content, approved_content_hash=_verdict(review).get("content_hash"))
        if "approval" in required and not stale:  # approvals of the other content: content_not_approved says it once
            self.quorum(deploy, approved, content, review)
        if "window" in required:
            self.window(deploy)

    def targets(self, deploy, approved):
        hosts = list((deploy["data"] or {}).get("hosts") or [])
        allowed = approved.get("hosts")
        if allowed is None:
            self.deviation("device_not_approved", deploy["seq"], "the assessment record names no approved targets (recorded "
                           "before the audit inputs existed), so the devices %s cannot be proven approved." % ", ".join(hosts),
                           hosts=hosts)
            return
        extra = [host for host in hosts if host not in allowed]
        if extra:
            self.deviation("device_not_approved", deploy["seq"], "deployed to %s, not among the approved targets [%s]."
                           % (", ".join(extra), ", ".join(allowed)), hosts=extra)

    def lines(self, deploy, approved):
        candidates = (deploy["data"] or {}).get("candidates") or {}
        allowed = approved.get("approved_lines")
        for host in sorted(candidates):
            if host not in (approved.get("hosts") or []):
                continue  # a device outside the targets is already a deviation of its own
            applied = {line.rstrip() for line in (candidates[host] or {}).get("lines") or []
                       if line.strip() and not line.strip().startswith("!")}
            if allowed is None:
                self.deviation("lines_not_approved", deploy["seq"], "the assessment record holds no approved lines (recorded "
                               "before the audit inputs existed), so the %d line(s) applied to %s cannot be proven approved."
                               % (len(applied), host), host=host)
                continue
            if host not in allowed:
                continue  # assessed from a whole candidate configuration: its content hash was checked by the deploy
            extra = sorted(applied - set(allowed[host]))
            if extra:
                self.deviation("lines_not_approved", deploy["seq"], "%d line(s) applied to %s are not in the approved change: %s"
                               % (len(extra), host, "; ".join(extra[:MAX_LINES_SHOWN]) + (" ..." if len(extra) > MAX_LINES_SHOWN else "")),
                               host=host, lines=extra)

    def gates(self, deploy, required):
        seq = deploy["seq"]
        for gate in required:
            if gate in PRE_DEPLOY_GATES and _last(self.events, seq, (PRE_DEPLOY_GATES[gate],), _passed) is None:
                self.deviation("gate_missing", seq, "the tier requires the %s gate but no passing %s is recorded before the "
                               "deploy." % (gate, PRE_DEPLOY_GATES[gate]), gate=gate)
        if "approval" in required and _last(self.events, seq, ("approval.approve",)) is None:
            self.deviation("gate_missing", seq, "the tier requires approvals but none is recorded before the deploy.", gate="approval")
        if "precheck" in required:
            self.precheck(deploy)
        if "verify" in required:
            self.verify(deploy)

    def precheck(self, deploy):
        refs = ((_last(self.events, deploy["seq"], ("stage.refs",)) or {}).get("data") or {}).get("refs") or {}
        hosts = (deploy["data"] or {}).get("hosts") or []
        missing = [h for h in hosts if h not in (refs.get("backups") or {}) or h not in (refs.get("pre_snapshots") or {})]
        if missing:
            self.deviation("gate_missing", deploy["seq"], "the tier requires the precheck but %s had no backup and pre-change "
                           "snapshot recorded before the deploy." % ", ".join(missing), gate="precheck", hosts=missing)

    def verify(self, deploy):
        after = [e for e in self.events if e["seq"] > deploy["seq"]]
        outcome = next((e for e in after if e["kind"] == "change.outcome"), None)
        if outcome is None:
            return  # the change is not closed yet: its verify may still run
        results = _last(after, outcome["seq"] + 1, ("stage.results",))
        devices = ((((results or {}).get("data") or {}).get("stages")) or {}).get("hosts") or {}
        hosts = (deploy["data"] or {}).get("hosts") or []
        missing = [h for h in hosts if not any(key in (devices.get(h) or {}) for key in ("check", "post", "verify"))]
        if missing:
            self.deviation("gate_missing", outcome["seq"], "the tier requires the verify stage but the change closed without a "
                           "check or post-change snapshot of %s." % ", ".join(missing), gate="verify", hosts=missing)

    def quorum(self, deploy, approved, content, review):
        """The review gate's rules again, on the approvals recorded before the deploy, when the gate passed."""
        if not any(item["seq"] < deploy["seq"] and item["decision"] == "approve" for item in self.approvals):
            return  # no approval at all: gate_missing already says so
        rows = [item for item in self.approvals if item["seq"] < deploy["seq"]]
        moment = _ts(review) if review is not None else _ts(deploy)
        launchers = [name for name in (_verdict(review).get("launchers") or [_verdict(review).get("launcher")]) if name] or [None]
        assessment = {"change_id": self.change["id"], "tier": approved.get("tier"), "content_hash": content,
                      "change_class": approved.get("change_class")}
        verdict = merge_verdicts([review_gate(self.ctx["policy"], assessment, rows, self.change.get("author"), launcher,
                                              now=moment, allowed_signers=self.ctx["signers"]) for launcher in launchers])
        for rejected in verdict["rejected"]:
            row = rows[rejected["index"]] if isinstance(rejected.get("index"), int) else None
            if row is None or row["decision"] != "approve" or row["content_hash"] != content:
                continue  # a deny, or an approval of earlier content: history, not a deviation
            self.deviation("approver_not_allowed", row["seq"], "the approval by %s does not count under the policy: %s"
                           % (row["approver"], rejected["reason"]), approver=row["approver"])
        if verdict["decision"] != "pass":
            self.deviation("approval_quorum_not_met", deploy["seq"], "deployed without the approvals tier %s requires: %s"
                           % (approved.get("tier"), " ".join(verdict["reasons"])))

    def window(self, deploy):
        gate = _last(self.events, deploy["seq"], ("verdict.window",), _passed)
        if gate is None or _verdict(gate).get("bypass"):
            return  # no window verdict: gate_missing says so; a recorded emergency bypass is allowed
        verdict, moment = _verdict(gate), _ts(deploy)
        names = verdict.get("windows_open") or []
        if not names and verdict.get("window_required") is False:
            return
        windows = [w for w in self.ctx["windows"] if w.name in names]
        closed = [w.name for w in windows if w.open_at(moment) is None] + [n for n in names if n not in {w.name for w in windows}]
        if not names or closed:
            where = ", ".join(closed) or "any open window"
            self.deviation("deploy_outside_window", deploy["seq"], "deployed at %s outside %s (the window gate passed at ledger "
                           "seq %d) and no emergency bypass is recorded." % (deploy["ts"], where, gate["seq"]),
                           windows=closed or names)

    # -- the change as a whole -------------------------------------------------------------------------------------
    def post_review(self):
        owed = post_review.obligations(self.events, {self.change["id"]: self.change}, now=self.ctx["as_of"]).get(self.change["id"])
        if owed is not None and owed["status"] == "overdue":
            self.deviation("gate_missing", owed["due_seq"], "the post-hoc review of this emergency change was due at %s and is "
                           "not recorded." % owed["due"], gate="post_review")

    def identities(self):
        seen = set()
        for event in self.events:
            data = event["data"] or {}
            for name in (event["actor"], data.get("author") if event["kind"] == "change.created" else None,
                         data.get("approver") if event["kind"].startswith("approval.") else None,
                         data.get("reviewer") if event["kind"] == post_review.DONE_EVENT else None):
                if not name or str(name).startswith(AUTOMATION_PREFIXES) or (name, event["seq"]) in seen:
                    continue
                seen.add((name, event["seq"]))
                if approvals_mod.resolve_identity(self.ctx["index"], name) is None:
                    self.deviation("unknown_identity", event["seq"], "%s (%s) is not an identity of the policy." % (
                        name, event["kind"]), identity=name)


def _in_period(events, since, until):
    return any((since is None or _ts(e) >= since) and (until is None or _ts(e) < until) for e in events)


def audit_ledger(ledger, policy, since=None, until=None, now=None):
    """The audit report of an open ledger against a loaded policy: {ok, changes, deviations, by_kind, period, head}.

    Raises LedgerTampered (with the first broken seq) when the ledger does not verify."""
    report = ledger.verify()
    if not report["ok"]:
        raise LedgerTampered(report["problems"], ledger.path)
    now = now or utc_now()
    ctx = {"policy": policy, "index": approvals_mod.identity_index(policy), "signers": approvals_mod.allowed_signers_path(policy),
           "windows": compile_policy(policy)[0], "as_of": min(until, now) if until is not None else now}
    by_change = {}
    for event in ledger.events():
        by_change.setdefault(event["change_id"], []).append(event)
    deviations, audited = [], []
    for change in ledger.changes():
        events = by_change.get(change["id"]) or []
        if not _in_period(events, since, until):
            continue
        audited.append(change["id"])
        deviations += ChangeAudit(ctx, change, events, ledger.approvals(change["id"])).run()
    unique = list({(d["kind"], d["seq"], d["detail"]): d for d in deviations}.values())
    unique.sort(key=lambda d: (d["seq"] if isinstance(d["seq"], int) else 0, KINDS.index(d["kind"])))
    by_kind = {kind: sum(1 for d in unique if d["kind"] == kind) for kind in KINDS}
    return {"ok": not unique, "changes": len(audited), "changes_audited": audited, "deviations": unique, "by_kind": by_kind,
            "period": {"since": iso_z(since, "seconds") if since else None, "until": iso_z(until, "seconds") if until else None},
            "head": report["head"], "events": report["events"]}


def run_audit(ledger_path, policy_path, since=None, until=None, now=None):
    """Load the policy, open the ledger read-only and audit it (see audit_ledger). Bad input raises ValidationError."""
    if not ledger_path:
        raise ValidationError("no ledger was given.", where="--ledger", fix="pass --ledger PATH or set GOVERNED_CHANGE_LEDGER.")
    if not policy_path:
        raise ValidationError("no policy was given.", where="--policy", fix="pass --policy PATH or set GOVERNED_CHANGE_POLICY.")
    if since is not None and until is not None and until <= since:
        raise ValidationError("--until (%s) is not after --since (%s)." % (iso_z(until, "seconds"), iso_z(since, "seconds")), where="--until",
                              fix="give a period whose end is after its start.")
    if not is_database_url(ledger_path):
        require_file(ledger_path, "ledger", fix="check --ledger (the SQLite file the stages record changes in).")
    policy = load_policy(policy_path)
    with open_ledger(ledger_path, readonly=True) as ledger:
        return audit_ledger(ledger, policy, since=since, until=until, now=now)


def table_lines(report):
    """The report as text: one line per deviation (seq, change, kind, detail), then the totals."""
    lines = []
    if report["deviations"]:
        lines.append("%6s  %-14s %-24s %s" % ("SEQ", "CHANGE", "KIND", "DETAIL"))
        for item in report["deviations"]:
            lines.append("%6s  %-14s %-24s %s" % (item["seq"] if item["seq"] is not None else "-", item["change_id"], item["kind"],
                                                  item["detail"]))
    counts = ", ".join("%s %d" % (kind, count) for kind, count in report["by_kind"].items() if count)
    lines.append("%s: %d change(s) audited, %d deviation(s)%s; ledger verified (%d events, head seq %d)" % (
        "CLEAN" if report["ok"] else "DEVIATIONS", report["changes"], len(report["deviations"]),
        (" (%s)" % counts) if counts else "", report["events"], report["head"]["seq"]))
    return lines
