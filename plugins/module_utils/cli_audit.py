# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""governed-change review / audit / escalation: post-hoc review obligations, the authorization audit, and resolving an
escalation with its cause (the learning loop). cli.py registers these parsers and hands the parsed arguments here."""

from __future__ import annotations

import json
import os

from ansible_collections.governed.change.plugins.module_utils import audit as audit_mod
from ansible_collections.governed.change.plugins.module_utils import learning, post_review
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, utc_now
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import LedgerTampered, is_database_url, open_ledger
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy

EXIT_OK, EXIT_FAIL, EXIT_ERROR, EXIT_TAMPERED = 0, 1, 2, 3
COMMANDS = ("review", "audit", "escalation")


def _common(cmd, policy=True):
    cmd.add_argument("--ledger", default=os.environ.get("GOVERNED_CHANGE_LEDGER"), help="ledger SQLite file "
                     "(default $GOVERNED_CHANGE_LEDGER)")
    if policy:
        cmd.add_argument("--policy", default=os.environ.get("GOVERNED_CHANGE_POLICY"), help="policy file or directory "
                         "(default $GOVERNED_CHANGE_POLICY)")


def add_parsers(sub):
    """Register review, audit and escalation under the governed-change subcommands."""
    review = sub.add_parser("review", help="post-hoc reviews of emergency changes: list them, complete one (signed), escalate "
                            "the overdue ones")
    rsub = review.add_subparsers(dest="review_command", required=True)
    listing = rsub.add_parser("list", help="every post-hoc review owed: due, done or overdue, with its due date")
    listing.add_argument("--overdue", action="store_true", help="only the overdue ones (exit 1 when there is any)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _common(listing, policy=False)
    done = rsub.add_parser("complete", help="sign and record the post-hoc review of a change")
    done.add_argument("change", help="change id, e.g. CHG-1001")
    done.add_argument("--identity", required=True, help="your identity name in the policy")
    done.add_argument("--key", required=True, help="your SSH private key (or its .pub with ssh-agent)")
    done.add_argument("--principal", help="your signing principal (default: the identity's first principal)")
    done.add_argument("--verdict", choices=post_review.VERDICTS, default="accepted", help="the review's verdict")
    done.add_argument("--notes", required=True, help="one line: what the review found (part of the signed statement)")
    _common(done)
    late = rsub.add_parser("escalate-overdue", help="escalate every overdue review once (packet, optional webhook, ledger event)")
    late.add_argument("--output-dir", default=".", help="where escalations/<change>-<n>.json and .md go (default .)")
    late.add_argument("--webhook-url", default=os.environ.get("GOVERNED_CHANGE_WEBHOOK_URL"), help="receiver of the packets "
                      "(default $GOVERNED_CHANGE_WEBHOOK_URL; none: packets are only written)")
    late.add_argument("--webhook-format", default="json", help="json or slack")
    late.add_argument("--json", action="store_true", help="print JSON")
    _common(late)
    aud = sub.add_parser("audit", help="the authorization audit: what automation did against what the policy allowed "
                         "(exit 0 clean, 1 deviations, 2 bad input, 3 ledger does not verify)")
    aud.add_argument("--since", help="start of the period, ISO 8601 with offset (e.g. 2026-11-01T00:00:00Z)")
    aud.add_argument("--until", help="end of the period (exclusive)")
    aud.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    _common(aud)
    escal = sub.add_parser("escalation", help="the learning loop: resolve an escalated change with its cause and follow-up")
    esub = escal.add_subparsers(dest="escalation_command", required=True)
    res = esub.add_parser("resolve", help="record the cause and the follow-up of an escalated change")
    res.add_argument("change", help="change id, e.g. CHG-1001")
    res.add_argument("--cause", required=True, help="one line: why it happened")
    res.add_argument("--follow-up", required=True, help="one line: what will catch it earlier next time")
    res.add_argument("--identity", required=True, help="who resolves it (an identity of the policy when --policy is given)")
    _common(res)
    causes = esub.add_parser("causes", help="the recorded causes, most frequent first")
    causes.add_argument("--json", action="store_true", help="print JSON")
    _common(causes, policy=False)


def _ledger(path, readonly=False):
    if not path:
        raise ValidationError("no ledger was given.", where="--ledger", fix="pass --ledger PATH or set GOVERNED_CHANGE_LEDGER.")
    if not is_database_url(path):
        require_file(path, "ledger", fix="check --ledger (the SQLite file the stages record changes in).")
    return open_ledger(path, readonly=readonly)


def _policy(path):
    if not path:
        raise ValidationError("no policy was given.", where="--policy", fix="pass --policy PATH or set GOVERNED_CHANGE_POLICY.")
    return load_policy(path)


def _review_list(args, out):
    with _ledger(args.ledger, readonly=True) as ledger:
        ledger.check_change()
        rows = post_review.list_reviews(ledger, overdue_only=args.overdue)
    if args.json:
        out.write(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    else:
        out.write("%-14s %-9s %-21s %s\n" % ("CHANGE", "STATUS", "DUE", "DETAIL"))
        for row in rows:
            detail = ("reviewed by %s (%s, seq %d)" % (row["reviewer"], row["verdict"], row["done_seq"]) if row["status"] == "done"
                      else "escalated (seq %d)" % row["escalated_seq"] if row["escalated_seq"] else "due since seq %s" % row["due_seq"])
            out.write("%-14s %-9s %-21s %s\n" % (row["change_id"], row["status"], row["due"], detail))
        counts = {status: sum(1 for r in rows if r["status"] == status) for status in ("due", "done", "overdue")}
        out.write("%d review(s): %d due, %d done, %d overdue\n" % (len(rows), counts["due"], counts["done"], counts["overdue"]))
    return EXIT_FAIL if args.overdue and rows else EXIT_OK


def _review_complete(args, out):
    check_safe_id(args.change, where="change")
    policy = _policy(args.policy)
    policy_dir = os.path.dirname(os.path.abspath(args.policy))
    with _ledger(args.ledger) as ledger:
        event = post_review.complete(ledger, args.change, args.identity, args.key, policy, policy_dir, args.verdict, args.notes,
                                     principal=args.principal)
    data = event["data"]
    out.write("recorded the post-hoc review of %s by %s (%s%s) as ledger event %d; signature verified\n" % (
        args.change, args.identity, data["verdict"], ", late" if data.get("late") else "", event["seq"]))
    return EXIT_OK


def _review_escalate(args, out):
    policy = _policy(args.policy)
    with _ledger(args.ledger) as ledger:
        done = post_review.escalate_overdue(ledger, args.output_dir, policy=policy, webhook_url=args.webhook_url,
                                            webhook_format=args.webhook_format)
    if args.json:
        out.write(json.dumps(done, indent=2, sort_keys=True) + "\n")
    else:
        for item in done:
            out.write("escalated %s: %s (ledger seq %d, %s)\n" % (item["change_id"], item["path"], item["seq"], item["kind"]))
        out.write("%d overdue review(s) escalated\n" % len(done))
    return EXIT_FAIL if any(item["kind"] == "escalation.failed_to_send" for item in done) else EXIT_OK


def _audit(args, out):
    since = audit_mod.parse_bound(args.since, "--since")
    until = audit_mod.parse_bound(args.until, "--until")
    report = audit_mod.run_audit(args.ledger, args.policy, since=since, until=until)
    if args.format == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        for line in audit_mod.table_lines(report):
            out.write(line + "\n")
    return EXIT_OK if report["ok"] else EXIT_FAIL


def _resolve(args, out):
    check_safe_id(args.change, where="change")
    identities = None
    if args.policy:
        identities = set((_policy(args.policy).get("identities") or {}))
    with _ledger(args.ledger) as ledger:
        event = learning.resolve(ledger, args.change, args.cause, args.follow_up, args.identity, identities=identities)
    out.write("recorded the resolution of %s (escalation(s) at seq %s) as ledger event %d\n" % (
        args.change, ", ".join(str(s) for s in event["data"]["escalations"]), event["seq"]))
    return EXIT_OK


def _causes(args, out):
    with _ledger(args.ledger, readonly=True) as ledger:
        ledger.check_change()
        rows = learning.repeat_causes(ledger.events())
    if args.json:
        out.write(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    else:
        for row in rows:
            out.write("%3d  %s%s (changes %s)\n" % (row["count"], row["cause"], "  [repeated]" if row["repeated"] else "",
                                                    ", ".join(row["changes"])))
        repeated = sum(1 for r in rows if r["repeated"])
        out.write("%d cause(s), %d repeated, as of %s\n" % (len(rows), repeated, iso_z(utc_now(), precision="seconds")))
    return EXIT_OK


def run(args, out, err):
    """Run review / audit / escalation; a ledger that does not verify is refused with exit 3 (audit) or 1."""
    handler = {"list": _review_list, "complete": _review_complete, "escalate-overdue": _review_escalate,
               "resolve": _resolve, "causes": _causes}
    try:
        if args.command == "audit":
            return _audit(args, out)
        return handler[getattr(args, "review_command", None) or args.escalation_command](args, out)
    except LedgerTampered as exc:
        err.write("governed-change: refused: %s\n" % exc.render())
        return EXIT_TAMPERED if args.command == "audit" else EXIT_FAIL
