# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governed-change command: approve/deny a change, inspect and verify the ledger, validate and run AWX workflows,
recover a change whose run died."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import sys

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils import assessment_artifact
from ansible_collections.governed.change.plugins.module_utils import metrics as metrics_mod
from ansible_collections.governed.change.plugins.module_utils import cli_audit
from ansible_collections.governed.change.plugins.module_utils.change_request import shown
from ansible_collections.governed.change.plugins.module_utils.docfile import load_document, require_file
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import FINAL_STATES, LedgerTampered, is_database_url, open_ledger
from ansible_collections.governed.change.plugins.module_utils.paths import check_safe_id
from ansible_collections.governed.change.plugins.module_utils.redact import redact_text
from ansible_collections.governed.change.plugins.module_utils.review import change_id_of

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version(root=_COLLECTION_ROOT):
    """The collection's version: galaxy.yml (a checkout), MANIFEST.json (an installed collection), else the version of the
    installed governed-change package (the wheel, built from galaxy.yml)."""
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            found = re.search(r"^version:\s*['\"]?([^'\"\s]+)", handle.read(), re.MULTILINE)
        if found:
            return found.group(1)
    except OSError:
        pass
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return importlib.metadata.version("governed-change")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser():
    parser = argparse.ArgumentParser(prog="governed-change", description="Approve or deny governed network changes, "
                                     "inspect the change ledger, validate and locally run AWX workflow templates.")
    parser.add_argument("--version", action="version", version="governed-change %s" % collection_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for decision in ("approve", "deny"):
        cmd = sub.add_parser(decision, help="%s a change: shows what you sign, signs it with your SSH key, records it" % decision)
        cmd.add_argument("--ledger", default=os.environ.get("GOVERNED_CHANGE_LEDGER"), help="ledger SQLite file "
                         "(default $GOVERNED_CHANGE_LEDGER)")
        cmd.add_argument("--change", required=True, help="change id, e.g. CHG-1001")
        cmd.add_argument("--assessment", required=True, help="the assessment JSON produced by governed.change.assess")
        cmd.add_argument("--key", required=True, help="your SSH private key (or its .pub with ssh-agent)")
        cmd.add_argument("--identity", required=True, help="your identity name in the policy")
        cmd.add_argument("--principal", help="your signing principal (default: the identity's first principal with "
                         "--policy, else the identity)")
        cmd.add_argument("--policy", help="policy file: checks the identity and verifies the signature after signing")
        cmd.add_argument("--comment", default="", help="one-line comment, part of the signed statement")
        cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        cmd.set_defaults(decision=decision)
    ledger = sub.add_parser("ledger", help="inspect the ledger")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = lsub.add_parser("verify", help="verify the event hash chain (exit 1 on tampering)")
    show = lsub.add_parser("show", help="show a change: record, events, approvals, locks")
    show.add_argument("change")
    brk = lsub.add_parser("break-lock", help="break a device lease explicitly (recorded)")
    brk.add_argument("device")
    brk.add_argument("--reason", required=True)
    brk.add_argument("--actor", default=os.environ.get("USER") or "unknown")
    for cmd in (verify, show, brk):
        cmd.add_argument("--ledger", default=os.environ.get("GOVERNED_CHANGE_LEDGER"), help="ledger SQLite file, or a "
                         "postgresql://HOST[:PORT]/DB URL (credentials from PGUSER/PGPASSWORD/PGSERVICE, never in the URL)")
        cmd.add_argument("--json", action="store_true", help="print JSON")
    mig = lsub.add_parser("migrate", help="copy a ledger to another backend and prove both chains verify alike")
    mig.add_argument("--from", dest="source", required=True, help="the ledger to copy: sqlite:PATH (or a postgresql:// URL)")
    mig.add_argument("--to", dest="target", required=True, help="the empty (or prefix-identical) target: a postgresql:// URL "
                     "(or sqlite:PATH)")
    mig.add_argument("--json", action="store_true", help="print JSON")
    _workflow_parser(sub)
    _recover_parser(sub)
    metrics_mod.add_parser(sub)
    cli_audit.add_parsers(sub)  # review, audit, escalation
    return parser


def _recover_parser(sub):
    rec = sub.add_parser("recover", help="recover a change whose run died in implement: inspect its devices against the ledger, "
                         "restore or confirm their backups, verify the pre-change state, record, close and release the locks")
    rec.add_argument("change", help="change id, e.g. CHG-1001")
    rec.add_argument("--ledger", default=os.environ.get("GOVERNED_CHANGE_LEDGER"), help="ledger SQLite file "
                     "(default $GOVERNED_CHANGE_LEDGER)")
    rec.add_argument("--inventory", "-i", action="append", default=[], help="inventory holding the change's devices "
                     "(default: ansible.cfg's)")
    rec.add_argument("--extra-vars", "-e", action="append", default=[], help="more extra vars for playbooks/recover.yml "
                     "(@FILE or KEY=VALUE, repeatable), e.g. governed_store_dir=...")
    rec.add_argument("--force", action="store_true", help="recover even though the deploying run still looks alive")
    rec.add_argument("--plan", action="store_true", help="only show what recovering means (read-only)")
    rec.add_argument("--json", action="store_true", help="print JSON")


def cmd_recover(args, out, err):
    """recover CHANGE: the plan (read-only), then playbooks/recover.yml, then the result as the ledger records it."""
    from ansible_collections.governed.change.plugins.module_utils import recovery  # pylint: disable=import-outside-toplevel

    check_safe_id(args.change, where="change")
    _open_ledger(args.ledger, readonly=True).close()  # says what a wrong --ledger path is
    plan = recovery.plan(args.ledger, args.change, force=args.force)
    if not plan["recover"] or args.plan:
        if args.json:
            out.write(json.dumps(plan, indent=2, sort_keys=True) + "\n")
        else:
            out.write(plan["reason"] + "\n")
            for host in plan["hosts"]:
                out.write("  %s: %s\n" % (host, plan["missing"].get(host) or "backup and pre-change snapshot recorded"))
        return EXIT_OK
    proc = recovery.run_playbook(args.ledger, args.change, inventories=args.inventory, extra_vars=args.extra_vars, force=args.force)
    err.write(proc["output"])
    result = recovery.summary(args.ledger, args.change)
    if args.json:
        out.write(json.dumps(dict(result, rc=proc["rc"], seconds=proc["seconds"]), indent=2, sort_keys=True, default=str) + "\n")
    else:
        for line in recovery.summary_lines(result):
            out.write(line + "\n")
    return EXIT_OK if (result["result"] or {}).get("recovered") and proc["rc"] == 0 else EXIT_FAIL


def _workflow_parser(sub):
    workflow = sub.add_parser("workflow", help="validate AWX workflow templates offline, or run one locally with ansible-runner")
    wsub = workflow.add_subparsers(dest="workflow_command", required=True)
    check = wsub.add_parser("validate", help="check workflow templates against awx.awx's documented schema and the graph rules "
                            "(exit 1 when any problem is found)")
    check.add_argument("files", nargs="+", metavar="FILE")
    run = wsub.add_parser("run", help="run a workflow template locally with AWX's semantics (a test/CI tool, not a controller)")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--inventory", "-i", action="append", default=[], help="inventory file for every node, or NAME=PATH for the "
                     "job templates using controller inventory NAME (default: controller_inventory_sources' source_path)")
    run.add_argument("--extra-vars", "-e", action="append", default=[], help="launch-time extra vars: @FILE or KEY=VALUE (repeatable)")
    run.add_argument("--approve", action="append", default=[], metavar="NODE=ANSWER",
                     help="answer an approval node: approve, deny or timeout (NODE = identifier or approval name)")
    run.add_argument("--approvals-file", help="YAML/JSON mapping of NODE: approve|deny|timeout")
    run.add_argument("--run-dir", help="where the node private data dirs, run.json and summary.txt go "
                     "(default out/workflow-runs/<workflow>-<time>)")
    run.add_argument("--parallel", type=int, default=4, help="nodes run at the same time at most (default 4)")
    run.add_argument("--ledger", help="ledger for approval nodes (default: the governed_ledger variable)")
    run.add_argument("--policy", help="policy for approval nodes (default: the governed_policy variable)")
    run.add_argument("--launcher", help="who launches the run (awx_user_name; default $GOVERNED_LAUNCHER or the OS user)")
    run.add_argument("--poll-interval", type=float, default=2.0, help="seconds between ledger checks of a pending approval")
    for cmd in (check, run):
        cmd.add_argument("--controller-config", help="controller configuration file or directory (default: ../controller beside "
                         "the workflow_templates directory)")
        cmd.add_argument("--project-dir", help="project root the job templates' playbooks are relative to (default: the "
                         "directory holding the controller configuration directory)")
        for role in ("deploy", "verify", "rollback", "close"):
            cmd.add_argument("--%s-pattern" % role, action="append", help="job templates whose playbook file name contains "
                             "this are %s nodes (repeatable; default '%s')" % (role, role))
        cmd.add_argument("--json", action="store_true", help="print JSON")


def cmd_workflow(args, out, err):
    """workflow validate / run."""
    from ansible_collections.governed.change.plugins.module_utils.workflow import runner as wf_runner
    from ansible_collections.governed.change.plugins.module_utils.workflow import validate as wf_validate

    deploy = tuple(args.deploy_pattern or wf_validate.DEFAULT_DEPLOY_PATTERNS)
    rollback = tuple(args.rollback_pattern or wf_validate.DEFAULT_ROLLBACK_PATTERNS)
    roles = {"verify_patterns": tuple(args.verify_pattern or wf_validate.DEFAULT_VERIFY_PATTERNS),
             "close_patterns": tuple(args.close_pattern or wf_validate.DEFAULT_CLOSE_PATTERNS)}
    if args.workflow_command == "validate":
        report = wf_validate.validate_files(args.files, controller_config=args.controller_config, project_dir=args.project_dir,
                                            deploy_patterns=deploy, rollback_patterns=rollback, **roles)
        if args.json:
            out.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        else:
            for item in report["files"]:
                verdict = "ok" if not item["errors"] else "%d problem(s)" % len(item["errors"])
                out.write("%s: %s (%s, %d nodes)\n" % (item["path"], verdict, item["name"], item["nodes"]))
            for problem in report["errors"]:
                out.write("ERROR %s\n" % problem["message"])
            for problem in report["warnings"]:
                out.write("WARNING %s\n" % problem["message"])
            counts = (len(report["files"]), len(report["errors"]), len(report["warnings"]))
            out.write("%s: %d file(s), %d error(s), %d warning(s)\n" % (("OK" if report["ok"] else "INVALID",) + counts))
        return EXIT_OK if report["ok"] else EXIT_FAIL
    runner = wf_runner.WorkflowRunner(
        args.file, controller_config=args.controller_config, project_dir=args.project_dir, inventory=args.inventory,
        extra_vars=wf_runner.parse_extra_vars(args.extra_vars), answers=wf_runner.parse_answers(args.approve, args.approvals_file),
        run_dir=args.run_dir, parallel=args.parallel, ledger=args.ledger, policy=args.policy, launcher=args.launcher,
        poll_interval=args.poll_interval, prompt_out=err, deploy_patterns=deploy, rollback_patterns=rollback,
        on_node=_line_writer(err if args.json else out), **roles)
    record = runner.run()
    if args.json:
        out.write(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    else:
        for line in wf_runner.summary_lines(record):
            out.write(line + "\n")
    return EXIT_OK if record["status"] == "successful" else EXIT_FAIL


def _line_writer(stream):
    """A node progress line to the stream at once (workflow run streams its nodes; --json keeps stdout for the JSON)."""
    def write(line):
        stream.write(line + "\n")
        stream.flush()
    return write


def _open_ledger(path, must_exist=True, readonly=False):
    if not path:
        raise ValidationError("no ledger was given.", where="--ledger", fix="pass --ledger PATH or set GOVERNED_CHANGE_LEDGER.")
    if must_exist and not is_database_url(path):  # says what the path is instead (a directory, a FIFO: never opened)
        require_file(path, "ledger", fix="check --ledger (the SQLite file the assess stage recorded the change in).")
    return open_ledger(path, readonly=readonly)


def _load_assessment(path):
    """The assessment governed.change.assess wrote (assessment_artifact: version, keys and sha256 checked)."""
    return assessment_artifact.load(path)


def _rule_line(rule):
    """One fired rule: name, signed score and explanation (a rule given by name alone is shown as is)."""
    if isinstance(rule, dict):
        return "  - %s (%+d): %s" % (rule.get("name"), int(rule.get("score") or 0),
                                     rule.get("explanation") or rule.get("description") or "")
    return "  - %s" % rule


def _scalar_pairs(mapping):
    """The scalar entries of a mapping as 'key value', by key, comma-separated (nested values are left out)."""
    return ", ".join("%s %s" % (k, v) for k, v in sorted(mapping.items()) if not isinstance(v, (dict, list)))


def _diff_lines(assessment):
    """The diff summary line (the assessment's own diff, else its facts' diff); nothing when it is not a mapping."""
    diff = assessment.get("diff") or ((assessment.get("facts") or {}).get("diff")) or {}
    if not isinstance(diff, dict):
        return []
    return ["diff:          %s" % (_scalar_pairs(diff) or "(no summary)")]


def _blast_lines(assessment):
    """The blast radius line, only when the assessment has a non-empty blast radius mapping."""
    blast = assessment.get("blast_radius") or {}
    if not isinstance(blast, dict) or not blast:
        return []
    return ["blast radius:  %s" % _scalar_pairs(blast)]


def _assessed_devices(assessment):
    """The per-device diffs as {host: item} (a [{host, diff}] list is keyed by host); None when they are neither."""
    devices = assessment.get("devices") or assessment.get("diffs") or {}
    if isinstance(devices, list):  # [{host, diff}]
        devices = {item.get("host"): item for item in devices if isinstance(item, dict)}
    return devices if isinstance(devices, dict) else None


def _device_diff_lines(assessment):
    """Each device's config diff, by host, indented and cut at 200 lines (redacted: an old or hand-edited assessment too)."""
    devices = _assessed_devices(assessment)
    lines = []
    for host, item in sorted(devices.items()) if devices is not None else []:
        text = item.get("diff") if isinstance(item, dict) else item
        lines.append("--- %s" % host)
        # an assessment written before redaction existed (or edited by hand) must not show a secret either
        lines.extend("    " + line for line in redact_text(str(text or "(no change)"))[0].splitlines()[:200])
    return lines


def summary_lines(assessment):
    """What the approver sees before signing: tier, fired rules, diff summary, content hash."""
    lines = ["change:        %s  %s" % (change_id_of(assessment), assessment.get("title") or ""),
             "tier:          %s (score %s, class %s)" % (assessment.get("tier"), assessment.get("score"),
                                                         assessment.get("change_class")),
             "content hash:  %s" % assessment.get("content_hash")]
    rules = assessment.get("fired_rules") or assessment.get("rules_fired") or []
    lines.append("rules fired:   %d" % len(rules))
    lines.extend(_rule_line(rule) for rule in rules)
    lines += _diff_lines(assessment) + _blast_lines(assessment) + _device_diff_lines(assessment)
    return [redact_text(line)[0] for line in lines]


def cmd_decide(args, out, err, stdin):
    """approve / deny."""
    check_safe_id(args.change, where="--change")
    assessment = _load_assessment(args.assessment)
    if change_id_of(assessment) and change_id_of(assessment) != args.change:
        raise ValidationError("the assessment is for change %s, not %s." % (change_id_of(assessment), args.change),
                              where=args.assessment, fix="pass the assessment of the change you decide on.")
    principal, signers, policy = args.principal, None, None
    if args.policy:
        policy = load_document(args.policy, "policy")
        index = approvals_mod.identity_index(policy)
        if approvals_mod.resolve_identity(index, args.identity) != args.identity:
            raise ValidationError("identity %s is not in the policy's identities." % shown(args.identity), where=args.policy,
                                  fix="use your identity name as listed under identities.")
        principal = principal or ((index["identities"][args.identity] or {}).get("principals") or [args.identity])[0]
        signers = approvals_mod.allowed_signers_path(policy, policy_dir=os.path.dirname(os.path.abspath(args.policy)))
    ledger = _open_ledger(args.ledger)
    try:
        change = ledger.check_change(args.change)  # a tampered ledger is refused before anything is shown or signed
        if change is None:
            raise ValidationError("change %s is not in the ledger." % args.change, where=args.ledger,
                                  fix="assess the change first (it records the change in the ledger).")
        _refuse_decision(change, args, policy)
        if change.get("content_hash") and change["content_hash"] != assessment["content_hash"]:
            raise ValidationError("the assessment's content hash differs from the ledger's current one (%s)."
                                  % change["content_hash"], where=args.assessment,
                                  fix="fetch the latest assessment; the change content has changed.")
        for line in summary_lines(assessment):
            out.write(line + "\n")
        out.write("decision:      %s as %s (principal %s)\n" % (args.decision.upper(), args.identity, principal or args.identity))
        if not args.yes:
            out.write("Sign this %s? [y/N] " % args.decision)
            out.flush()
            answer = stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                err.write("governed-change: not signed.\n")
                return EXIT_FAIL
        approval = approvals_mod.sign_approval(args.change, assessment["content_hash"], args.decision, args.identity,
                                               args.key, principal=principal, comment=args.comment)
        if signers:
            ok, reason = approvals_mod.verify_statement(approvals_mod.approval_statement(approval), approval["signature"],
                                                        approval["principal"], signers)
            if not ok:
                raise ValidationError("your signature does not verify: %s" % reason, where=args.key,
                                      fix="ask for your public key to be listed in allowed_signers under your principal.")
            out.write("signature verified against %s\n" % signers)
        event = ledger.record_approval(approval, actor=args.identity)
        out.write("recorded %s of %s by %s as ledger event %d\n" % (args.decision, args.change, args.identity, event["seq"]))
        return EXIT_OK
    finally:
        ledger.close()


def _refuse_decision(change, args, policy):
    """Refuse at signing time what the review gate would never count: a decision on a closed or canceled change, and
    an approval by the change's own author (segregation of duties). Nothing is signed or recorded."""
    if change["state"] in FINAL_STATES:
        raise ValidationError("change %s is %s%s; a decision on a final change is not recorded." % (
            change["id"], change["state"], (" (%s)" % change["close_code"]) if change.get("close_code") else ""),
            where="--change", fix="approve the change that is open now; further work on a closed change needs a new change.")
    if args.decision != "approve":
        return
    author = change.get("author") or ""
    same = args.identity.casefold() == author.casefold()
    if policy is not None and not same:
        index = approvals_mod.identity_index(policy)
        same = (approvals_mod.resolve_identity(index, author) or author) == args.identity
    if same:
        raise ValidationError("%s is the author of change %s; segregation of duties forbids approving your own change."
                              % (args.identity, change["id"]), where="--identity",
                              fix="another person from the approving groups signs the approval.")


def _problem_place(problem):
    """Where a verify problem is: its seq, else the table it names, else the ledger as a whole."""
    if problem["seq"] is not None:
        return "seq %s" % problem["seq"]
    return problem.get("table") or "ledger"


def _ledger_verify(ledger, args, out):
    """ledger verify: the report as JSON or as text (OK/TAMPERED, then one line per problem); fails when tampered."""
    report = ledger.verify()
    if args.json:
        out.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        out.write("%s: %d events, head seq %d %s\n" % ("OK" if report["ok"] else "TAMPERED", report["events"],
                                                       report["head"]["seq"], report["head"]["hash"]))
        for problem in report["problems"]:
            out.write("  %s: %s\n" % (_problem_place(problem), problem["problem"]))
    return EXIT_OK if report["ok"] else EXIT_FAIL


def _show_doc(ledger, change_id, change):
    """What ledger show lists of a change: the record, its events, its approvals (signatures by size only), its leases."""
    return {"change": change, "events": ledger.events(change_id=change_id),
            "approvals": [dict(a, signature=("<%d bytes>" % len(a["signature"])) if a.get("signature") else None)
                          for a in ledger.approvals(change_id)],
            "locks": [lock for lock in ledger.locks() if lock["change_id"] == change_id]}


def _write_show_text(doc, out):
    """ledger show as text: the change record, then its approvals, leases and events, one line each."""
    change = doc["change"]
    out.write("%s  %s\n  state %s%s, tier %s, author %s\n  content hash %s\n" % (
        change["id"], change["title"], change["state"], (" (%s)" % change["close_code"]) if change["close_code"] else "",
        change["tier"], change["author"], change["content_hash"]))
    out.write("approvals:\n")
    for item in doc["approvals"]:
        out.write("  %s %s by %s (%s, principal %s) for %s: %s\n" % (item["ts"], item["decision"], item["approver"],
                                                                     item["source"], item["principal"],
                                                                     (item["content_hash"] or "")[:12], item["comment"] or ""))
    out.write("locks:\n")
    for lock in doc["locks"]:
        out.write("  %s owner %s until %s\n" % (lock["device"], lock["owner"], lock["expires"]))
    out.write("events:\n")
    for event in doc["events"]:
        out.write("  %6d %s %-18s %-12s %s\n" % (event["seq"], event["ts"], event["kind"], event["actor"] or "-",
                                                 json.dumps(event["data"], sort_keys=True)))


def _ledger_show(ledger, args, out):
    """ledger show: a change checked against the chain first (a tampered one is refused), as JSON or text."""
    change = ledger.check_change(args.change)
    if change is None:
        raise ValidationError("change %s is not in the ledger." % shown(args.change), where=args.ledger, fix="check the id.")
    doc = _show_doc(ledger, args.change, change)
    if args.json:
        out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        _write_show_text(doc, out)
    return EXIT_OK


def _ledger_break_lock(ledger, args, out):
    """ledger break-lock: break one device's lease (recorded with who and why) and say whose it was."""
    lock = ledger.break_lock(args.device, args.actor, args.reason)
    out.write("broke the lease of %s held by change %s (owner %s, expires %s)\n" % (
        lock["device"], lock["change_id"], lock["owner"], lock["expires"]))
    return EXIT_OK


# ledger subcommand -> its handler; any other subcommand is break-lock (the parser allows no more)
_LEDGER_COMMANDS = {"verify": _ledger_verify, "show": _ledger_show}


def _ledger_migrate(args, out):
    """ledger migrate: copy, verify both sides, print both heads and counts."""
    from ansible_collections.governed.change.plugins.module_utils import ledger_migrate  # pylint: disable=import-outside-toplevel
    if ledger_migrate.source_location(args.source) and not is_database_url(args.source):
        require_file(ledger_migrate.source_location(args.source), "ledger", where="--from", fix="pass --from sqlite:PATH of a ledger file.")
    result = ledger_migrate.migrate(args.source, args.target)
    if args.json:
        out.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    out.write("copied %d events\n" % result["copied"])
    for side in ("from", "to"):
        item = result[side]
        verdict = "OK" if item["ok"] else "TAMPERED"
        out.write("%-4s %-10s %s: %s, %d events, head seq %d %s\n" % (
            side, item["backend"], item["location"], verdict, item["events"], item["head"]["seq"], item["head"]["hash"]))
    out.write("both chains verify with the same head and count\n")
    return EXIT_OK


def cmd_ledger(args, out):
    """ledger verify / show / break-lock / migrate."""
    if args.ledger_command == "migrate":
        return _ledger_migrate(args, out)
    ledger = _open_ledger(args.ledger, readonly=args.ledger_command in ("verify", "show"))
    try:
        return _LEDGER_COMMANDS.get(args.ledger_command, _ledger_break_lock)(ledger, args, out)
    finally:
        ledger.close()


def main(argv=None, out=None, err=None, stdin=None):
    """Entry point; returns the exit code (0 ok, 1 refused/tampered, 2 error)."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code in (0, None) else EXIT_ERROR  # argparse exits 0 (--help) or 2 (usage error)
    try:
        if args.command in ("approve", "deny"):
            return cmd_decide(args, out, err, stdin)
        if args.command == "workflow":
            return cmd_workflow(args, out, err)
        if args.command == "recover":
            return cmd_recover(args, out, err)
        if args.command in cli_audit.COMMANDS:
            return cli_audit.run(args, out, err)
        if args.command == "metrics":
            return metrics_mod.cmd_metrics(args, out, err)
        return cmd_ledger(args, out)
    except LedgerTampered as exc:
        err.write("governed-change: refused: %s\n" % exc.render())
        return EXIT_FAIL
    except GovernedChangeError as exc:
        err.write("governed-change: error: %s\n" % exc.render())
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("governed-change: interrupted.\n")
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (`governed-change ledger show X | head`): stop quietly, like other Unix tools
        _silence_closed_stdout(out)
        return EXIT_FAIL


def _silence_closed_stdout(out):
    """Point stdout at /dev/null so the interpreter's final flush does not raise again at exit."""
    if out is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def run():
    """The governed-change console script (the wheel's entry point; ``python -m ...cli`` runs the same)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_closed_stdout(sys.stdout)
        code = EXIT_FAIL
    raise SystemExit(code)


if __name__ == "__main__":
    run()
