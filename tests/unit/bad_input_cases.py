# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input suite as data: one row per hostile or malformed input and the refusal it must get.

Pure data (no imports of the collection): tests/unit/test_bad_input.py runs every row, and
scripts/bad_input_table.py renders docs/bad-input.md from it. Columns:

* ``id`` — stable case id; ``kind`` — which input (see KINDS); ``input`` — what is wrong, for the docs table;
* ``data`` — what the runner feeds in (per kind, see test_bad_input.py);
* ``expect`` — a fragment of the refusal message; ``field`` — a fragment naming the field (or file:line) refused.
"""

from __future__ import annotations

KINDS = ("change request", "policy", "approval", "inventory", "workflow template", "CLI")
BIG_FILE_BYTES = 16 * 1024 * 1024 + 1  # one byte over docfile.MAX_DOCUMENT_BYTES

# A template change whose vars hold the bomb: nine levels of nine aliases (9**9 strings when expanded).
ALIAS_BOMB = "\n".join(
    ["id: CHG-2001", "title: bomb", "description: d", "author: carol", "type: normal", "category: other",
     "targets: [r2]", "config:", "  r2:", "    template: t.j2", "    vars:", '      a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + ["      a%d: &a%d [%s]" % (level, level, ",".join(["*a%d" % (level - 1)] * 9)) for level in range(1, 9)]
    + ["      a9: [%s]" % ",".join(["*a8"] * 9), ""])
CR_HEAD = "id: CHG-2001\ntitle: t\ndescription: d\ntype: normal\ncategory: other\ntargets: [r2]\n"
NESTED = "v0:\n" + "".join("%s v%d:\n" % (" " * level, level + 1) for level in range(80)) + " " * 81 + "x: 1\n"
POLICY_ALIAS = "policy_version: 1\nname: &n lab\ndescription: *n\n"
WF_HEAD = "name: bad\norganization: Default\n"


def _cr(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "change request", "input": summary, "data": data, "expect": expect, "field": field}


def _pol(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "policy", "input": summary, "data": data, "expect": expect, "field": field}


def _appr(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "approval", "input": summary, "data": data, "expect": expect, "field": field}


def _inv(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "inventory", "input": summary, "data": data, "expect": expect, "field": field}


def _wf(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "workflow template", "input": summary, "data": data, "expect": expect, "field": field}


def _cli(case_id, summary, data, expect, field):
    return {"id": case_id, "kind": "CLI", "input": summary, "data": data, "expect": expect, "field": field}


CASES = [
    # ---------------------------------------------------------------- change requests (in-process assess + record)
    _cr("cr-alias-bomb", "billion-laughs alias bomb nested under config.r2.vars", {"yaml": ALIAS_BOMB},
        "anchors and aliases are not accepted", "change.yml:12"),
    _cr("cr-alias-reuse", "an anchor on targets reused by an alias", {"yaml": CR_HEAD.replace("targets: [r2]", "targets: &t [r2]")
                                                                       + "author: carol\nlinks: {ticket: *t}\n"},
        "anchors and aliases are not accepted", "change.yml:6"),
    _cr("cr-merge-key", "a YAML merge key (<<: *base)", {"yaml": "base: &b {author: carol}\n<<: *b\n" + CR_HEAD},
        "anchors and aliases are not accepted", "change.yml:1"),
    _cr("cr-duplicate-author", "author: alice then author: carol", {"yaml": CR_HEAD + "author: alice\nauthor: carol\n"},
        "'author' appears twice", "change.yml:8"),
    _cr("cr-duplicate-nested", "config.r2.lines given twice", {"yaml": CR_HEAD + "author: carol\nconfig:\n  r2:\n"
                                                                  "    lines: ['ip route 10.9.0.0/16 blackhole']\n"
                                                                  "    lines: ['ip route 10.8.0.0/16 blackhole']\n"},
        "'lines' appears twice", "change.yml:11"),
    _cr("cr-duplicate-quoted", "the same key once plain and once quoted", {"yaml": CR_HEAD + "author: carol\n\"author\": dave\n"},
        "'author' appears twice", "change.yml:8"),
    _cr("cr-deep-nesting", "template vars nested 80 levels deep",
        {"yaml": CR_HEAD + "author: carol\nconfig:\n  r2:\n    template: t.j2\n    vars:\n"
         + "".join("      " + line + "\n" for line in NESTED.splitlines())}, "nested more than 64 levels", "change.yml:"),
    _cr("cr-huge-file", "a 16 MiB + 1 byte change request", {"big_file": True}, "over the limit", "change.yml"),
    _cr("cr-raw-bell", "a raw BEL (U+0007) control character in the title", {"yaml": CR_HEAD.replace("title: t", "title: a\x07b")
                                                                             + "author: carol\n"},
        "U+0007", "change.yml:2"),
    _cr("cr-raw-nul", "a raw NUL byte in the description", {"yaml": CR_HEAD.replace("description: d", "description: \x00")
                                                           + "author: carol\n"}, "U+0000", "change.yml:3"),
    _cr("cr-not-utf8", "bytes that are not UTF-8 (Latin-1 title)", {"bytes": b"id: CHG-2001\ntitle: caf\xe9\n"},
        "cannot be read", "change.yml"),
    _cr("cr-invalid-yaml", "unclosed flow sequence", {"yaml": "id: CHG-2001\ntargets: [r2\n"}, "is not valid YAML", "change.yml:3"),
    _cr("cr-empty", "an empty file", {"yaml": ""}, "is empty", "change.yml"),
    _cr("cr-not-mapping", "a list instead of a mapping", {"yaml": "- id: CHG-2001\n"}, "must be a mapping", "change.yml"),
    _cr("cr-id-dotdot", "id: '..' (close would write outside evidence/)", {"set": {"id": ".."}}, "has invalid characters", "id"),
    _cr("cr-id-traversal", "id: ../../etc/cron.d/x", {"set": {"id": "../../etc/cron.d/x"}}, "has invalid characters", "id"),
    _cr("cr-id-absolute", "id: /etc/passwd", {"set": {"id": "/etc/passwd"}}, "has invalid characters", "id"),
    _cr("cr-id-hidden", "id: .profile (hidden file)", {"set": {"id": ".profile"}}, "has invalid characters", "id"),
    _cr("cr-id-option", "id: -rf (read as an option)", {"set": {"id": "-rf"}}, "has invalid characters", "id"),
    _cr("cr-id-shell", "id: CHG-1;rm -rf / (shell metacharacters)", {"set": {"id": "CHG-1;rm -rf /"}}, "has invalid characters", "id"),
    _cr("cr-id-subst", "id: $(reboot) (command substitution)", {"set": {"id": "$(reboot)"}}, "has invalid characters", "id"),
    _cr("cr-id-unicode", "id with a Cyrillic letter (ЧГ-1001)", {"set": {"id": "\u0427\u0413-1001"}}, "has invalid characters", "id"),
    _cr("cr-id-too-long", "id of 65 characters", {"set": {"id": "C" * 65}}, "has invalid characters", "id"),
    _cr("cr-id-integer", "id: 1001 (a number)", {"set": {"id": 1001}}, "must be a string", "id"),
    _cr("cr-title-huge", "a 1,000,000-character title", {"set": {"title": "x" * 1000000}}, "the limit is 200", "title"),
    _cr("cr-title-newline", "a line break in the title", {"set": {"title": "one\ntwo"}}, "U+000A", "title"),
    _cr("cr-title-ansi", "a terminal escape sequence in the title", {"set": {"title": "ok\x1b[2J"}}, "U+001B", "title"),
    _cr("cr-title-bidi", "a right-to-left override in the title (Trojan Source)", {"set": {"title": "fix \u202eelif"}},
        "U+202E", "title"),
    _cr("cr-title-zero-width", "a zero-width space in the title", {"set": {"title": "r\u200b2"}}, "U+200B", "title"),
    _cr("cr-title-empty", "an empty title", {"set": {"title": "  "}}, "must not be empty", "title"),
    _cr("cr-title-list", "title given as a list", {"set": {"title": ["a", "b"]}}, "must be a string", "title"),
    _cr("cr-description-huge", "a 20,001-character description", {"set": {"description": "d" * 20001}},
        "the limit is 20000", "description"),
    _cr("cr-description-nul", "an escaped NUL in the description", {"set": {"description": "a\x00b"}}, "U+0000", "description"),
    _cr("cr-author-shell", "author: carol; id", {"set": {"author": "carol; id"}}, "has invalid characters", "author"),
    _cr("cr-author-unknown", "author not in the policy's identities", {"set": {"author": "mallory"}},
        "not an identity of the policy", "author"),
    _cr("cr-type-unknown", "type: urgent", {"set": {"type": "urgent"}}, "'urgent' is not allowed", "type"),
    _cr("cr-type-bool", "type: yes (a YAML boolean)", {"set": {"type": True}}, "must be a string", "type"),
    _cr("cr-category-unknown", "category: everything", {"set": {"category": "everything"}}, "is not allowed", "category"),
    _cr("cr-targets-string", "targets: r2 (a string, not a list)", {"set": {"targets": "r2"}}, "must be a list", "targets"),
    _cr("cr-targets-empty", "targets: []", {"set": {"targets": []}}, "must not be an empty list", "targets"),
    _cr("cr-targets-shell", "a target with shell metacharacters (r2;reboot)", {"set": {"targets": ["r2;reboot"]}},
        "has invalid characters", "targets[0]"),
    _cr("cr-targets-traversal", "a target ../r2", {"set": {"targets": ["../r2"]}}, "has invalid characters", "targets[0]"),
    _cr("cr-targets-unknown", "a target that is not in the inventory", {"set": {"targets": ["r9"]}},
        "matches no host or group", "targets[0]"),
    _cr("cr-targets-duplicate", "the same target twice", {"set": {"targets": ["r2", "r2"]}}, "is listed twice", "targets[1]"),
    _cr("cr-line-ipv4-octet", "ip route 999.1.1.0/24 (octet > 255)", {"set": {"config.r2.lines.0": "ip route 999.1.1.0/24 blackhole"}},
        "'999.1.1.0/24' is not a valid IPv4 prefix", "config.r2.lines[0]"),
    _cr("cr-line-ipv4-length", "prefix length /33", {"set": {"config.r2.lines.0": "ip route 10.9.0.0/33 blackhole"}},
        "not a valid IPv4 prefix", "config.r2.lines[0]"),
    _cr("cr-line-nexthop", "next hop 10.0.0.256", {"set": {"config.r2.lines.0": "ip route 10.9.0.0/16 10.0.0.256"}},
        "'10.0.0.256' is not a valid IPv4 address", "config.r2.lines[0]"),
    _cr("cr-line-ipv6-length", "ipv6 route fd00::/129", {"set": {"config.r2.lines.0": "ipv6 route fd00::/129 blackhole"}},
        "not a valid IPv6 prefix", "config.r2.lines[0]"),
    _cr("cr-line-ipv6-garbage", "ipv6 prefix fd00::zz::/64", {"set": {"config.r2.lines.0": "ipv6 route fd00::1::2/64 blackhole"}},
        "not a valid IPv6 prefix", "config.r2.lines[0]"),
    _cr("cr-line-newline", "a line break inside one config line", {"set": {"config.r2.lines.0": "ip route 10.9.0.0/16 blackhole\nreload"}},
        "contains a line break", "config.r2.lines[0]"),
    _cr("cr-line-escape", "a terminal escape in a config line", {"set": {"config.r2.lines.0": "hostname r2\x1b]0;owned\x07"}},
        "U+001B", "config.r2.lines[0]"),
    _cr("cr-line-huge", "a 5,000-character config line", {"set": {"config.r2.lines.0": "description " + "x" * 5000}},
        "at most 4096", "config.r2.lines[0]"),
    _cr("cr-line-integer", "a config line that is a number", {"set": {"config.r2.lines.0": 42}}, "must be a string", "config.r2.lines[0]"),
    _cr("cr-line-orphan", "an indented line without its block", {"set": {"config.r2.lines": [" neighbor 10.0.0.1 remote-as 1"]}},
        "no block line comes before it", "diffs.r2.lines[0]"),
    _cr("cr-config-unknown-host", "config for a host that is not targeted", {"set": {"config.r9": {"lines": ["hostname r9"]}}},
        "is not a host or group of the inventory", "config.r9"),
    _cr("cr-config-both", "config with both lines and template", {"set": {"config.r2.template": "t.j2"}},
        "exactly one of 'lines' or 'template'", "config.r2"),
    _cr("cr-config-vars-list", "template vars given as a list", {"set": {"config.r2": {"template": "t.j2", "vars": [1, 2]}}},
        "must be a mapping", "config.r2.vars"),
    _cr("cr-config-not-mapping", "config given as a list", {"set": {"config": ["ip route 10.0.0.0/8 blackhole"]}},
        "must be a mapping of host or group name", "config"),
    _cr("cr-unknown-key", "an unknown top-level key (approvers)", {"set": {"approvers": ["carol"]}}, "is not a known key", "approvers"),
    _cr("cr-missing-id", "no id", {"delete": ["id"]}, "is required but missing", "id"),
    _cr("cr-window-naive", "a window without a UTC offset", {"set": {"window": {"start": "2026-11-02T01:00:00", "end": "2026-11-02T03:00:00"}}},
        "has no UTC offset", "window.start"),
    _cr("cr-window-reversed", "a window that ends before it starts",
        {"set": {"window": {"start": "2026-11-02T03:00:00+00:00", "end": "2026-11-02T01:00:00+00:00"}}},
        "is not after window.start", "window.end"),
    _cr("cr-window-ended", "a window that ended before the assessment",
        {"set": {"window": {"start": "2026-10-01T01:00:00+00:00", "end": "2026-10-01T03:00:00+00:00"}}},
        "ended before the assessment", "window.end"),
    _cr("cr-window-garbage", "window.start: tomorrow", {"set": {"window": {"start": "tomorrow", "end": "2026-11-02T03:00:00+00:00"}}},
        "is not an ISO 8601 date-time", "window.start"),
    _cr("cr-rollback-custom-empty", "custom rollback without steps", {"set": {"rollback": {"strategy": "custom"}}},
        "is required when strategy is custom", "rollback.steps"),
    _cr("cr-rollback-bad-ip", "a rollback step with 300.0.0.1", {"set": {"rollback": {"strategy": "custom", "steps": ["no ip route 300.0.0.1/32 blackhole"]}}},
        "not a valid IPv4 prefix", "rollback.steps[0]"),
    _cr("cr-expected-op", "an expected check with op: roughly", {"set": {"expected": [{"name": "x", "query": "a", "op": "roughly"}]}},
        "'roughly' is not allowed", "expected[0].op"),
    _cr("cr-expected-dup", "two expected checks with the same name",
        {"set": {"expected": [{"name": "x", "query": "a", "op": "not_empty"}, {"name": "x", "query": "b", "op": "not_empty"}]}},
        "is used by another expected check", "expected[1].name"),
    _cr("cr-link-huge", "a 3,000-character link", {"set": {"links": {"ticket": "https://t.example/" + "a" * 3000}}},
        "the limit is 2048", "links.ticket"),
    _cr("cr-link-newline", "a link with a line break (header injection)", {"set": {"links": {"ticket": "T-1\r\nX-Evil: 1"}}},
        "U+000D", "links.ticket"),
    _cr("cr-path-directory", "the change request path is a directory", {"path": "directory"}, "is a directory, not a regular file",
        "change.yml"),
    _cr("cr-path-fifo", "the change request path is a FIFO (must not block)", {"path": "fifo"}, "is a named pipe (FIFO)", "change.yml"),
    _cr("cr-path-missing", "the change request path does not exist", {"path": "missing"}, "does not exist", "change.yml"),
    # ---------------------------------------------------------------- policies (load_policy, then assess)
    _pol("pol-alias", "an anchor and an alias in the policy", {"yaml": POLICY_ALIAS}, "anchors and aliases are not accepted", "policy.yml:2"),
    _pol("pol-alias-bomb", "alias bomb in the policy description",
         {"yaml": "policy_version: 1\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"},
         "anchors and aliases are not accepted", "policy.yml:2"),
    _pol("pol-duplicate-top", "risk defined twice", {"append": "risk: {rules: [], tiers: {low: 0, medium: 1, high: 2, critical: 3}}\n"},
         "'risk' appears twice", "policy.yml:"),
    _pol("pol-duplicate-identity", "identities.alice defined twice",
         {"replace": ["identities:\n", "identities:\n  alice: {groups: [cab], principals: [mallory@lab]}\n"]},
         "'alice' appears twice", "policy.yml:"),
    _pol("pol-person-chain", "identities.x.person names an identity that is another person",
         {"set": {"identities.alice-admin": {"principals": ["aa@lab"], "person": "bob"}, "identities.bob.person": "carol"}},
         "which is itself person 'carol'", "identities.alice-admin.person"),
    _pol("pol-person-shell", "identities.alice.person with shell metacharacters", {"set": {"identities.alice.person": "alice;id"}},
         "has invalid characters", "identities.alice.person"),
    _pol("pol-person-int", "identities.alice.person given as a number", {"set": {"identities.alice.person": 7}},
         "must be a string", "identities.alice.person"),
    _pol("pol-identity-shell", "an identity named $(id)", {"set": {"identities.$(id)": {"principals": ["x@lab"]}}},
         "has invalid characters", "identities.$(id)"),
    _pol("pol-principals-empty", "an identity without principals", {"set": {"identities.alice.principals": []}},
         "must not be an empty list", "identities.alice.principals"),
    _pol("pol-version", "policy_version: 2", {"set": {"policy_version": 2}}, "version 2 is not supported", "policy_version"),
    _pol("pol-tiers-order", "tier thresholds not increasing", {"set": {"risk.tiers.high": 10}}, "must be greater than", "risk.tiers.high"),
    _pol("pol-rule-jmespath", "a rule with invalid JMESPath", {"set": {"risk.rules.0.when": "contains(("}},
         "is not a valid JMESPath expression", "risk.rules[0].when"),
    _pol("pol-rule-unknown-fact", "a rule naming a field that is not a change fact", {"set": {"risk.rules.0.when": "sections_touchd"}},
         "not a change fact", "risk.rules[0].when"),
    _pol("pol-prefix-invalid", "protected prefix 999.0.0.0/8", {"set": {"protected_prefixes.0": "999.0.0.0/8"}},
         "is not an IPv4 or IPv6 prefix", "protected_prefixes[0]"),
    _pol("pol-prefix-hostbits", "protected prefix 10.0.45.1/24 (host bits)", {"set": {"protected_prefixes.0": "10.0.45.1/24"}},
         "has host bits set", "protected_prefixes[0]"),
    _pol("pol-time-unquoted", "window start 22:00 unquoted (base-60 number)", {"set": {"windows.0.weekly.0.start": 1320}},
         "unquoted HH:MM", "windows[0].weekly[0].start"),
    _pol("pol-timezone-traversal", "timezone ../../../etc/passwd", {"set": {"windows.0.timezone": "../../../etc/passwd"}},
         "is not a known time zone", "windows[0].timezone"),
    _pol("pol-count-too-high", "approvals.count above the number of identities", {"set": {"requirements.high.approvals.count": 50}},
         "needs 50 approver(s)", "requirements.high.approvals.count"),
    _pol("pol-group-unknown", "approvals.groups naming a group nobody is in", {"set": {"requirements.high.approvals.groups": ["ghosts"]}},
         "no identity is in group 'ghosts'", "requirements.high.approvals.groups[0]"),
    _pol("pol-freeze-naive", "a freeze without a UTC offset", {"set": {"freezes": [{"name": "naive", "start": "2026-12-20T00:00:00",
                                                                        "end": "2026-12-21T00:00:00+00:00"}]}},
         "has no UTC offset", "freezes[0].start"),
    _pol("pol-bool-string", "segregation_of_duties: \"no\" (a string)", {"set": {"requirements.high.approvals.segregation_of_duties": "no"}},
         "must be true or false", "requirements.high.approvals.segregation_of_duties"),
    _pol("pol-not-mapping", "a policy that is a list", {"yaml": "- policy_version: 1\n"}, "must be a mapping of policy sections", "policy.yml"),
    _pol("pol-directory-split", "a policy directory defining risk in two files", {"split": True}, "is also defined in", "risk"),
    _pol("pol-path-fifo", "the policy path is a FIFO", {"path": "fifo"}, "is a named pipe (FIFO)", "policy.yml"),
    # ---------------------------------------------------------------- approvals (review gate; its verdict is the one event)
    _appr("appr-not-record", "an approval that is a string", {"records": ["approve please"]}, "not an approval record", "approval"),
    _appr("appr-no-hash", "an approval without content_hash", {"drop": "content_hash"}, "lacks content_hash", "content_hash"),
    _appr("appr-other-change", "an approval of another change", {"set": {"change_id": "CHG-9999"}}, "is for change CHG-9999", "approval is for change"),
    _appr("appr-decision", "decision: maybe", {"set": {"decision": "maybe"}}, "neither approve nor deny", "decision"),
    _appr("appr-source", "source: email", {"set": {"source": "email"}}, "unknown approval source", "source"),
    _appr("appr-awx-unverified", "an AWX approval the controller did not confirm", {"set": {"verified": False}},
          "not confirmed by the controller API", "AWX approval"),
    _appr("appr-awx-unknown", "an AWX approval by a user who is no identity", {"set": {"approver": "mallory"}},
          "is not an identity of the policy", "AWX user mallory"),
    _appr("appr-ssh-forged", "an ssh approval claiming verified: true without a signature",
          {"set": {"source": "ssh", "principal": "bob@lab", "verified": True}}, "carries no SSH signature", "signature"),
    _appr("appr-ssh-principal", "bob's approval signed with dave's principal", {"set": {"source": "ssh", "principal": "dave@lab"}},
          "is not one of identity bob's principals", "principal"),
    _appr("appr-ssh-comment", "a comment with a line break forging a field",
          {"set": {"source": "ssh", "principal": "bob@lab", "comment": "ok\napprover: dave"}}, "contains a line break", "comment"),
    _appr("appr-stale", "an approval of older content", {"set": {"content_hash": "e" * 64}}, "the content changed", "approval is for content"),
    _appr("appr-future", "an approval time in the future", {"set": {"ts": "2026-11-01T06:00:00Z"}}, "is in the future", "approval time"),
    _appr("appr-ts-garbage", "ts: yesterday", {"set": {"ts": "yesterday"}}, "is not an ISO 8601 UTC time", "approval time"),
    _appr("appr-expired", "an approval older than max_age_hours", {"set": {"ts": "2026-10-29T00:00:00Z"}}, "(expired)", "older than 24 hours"),
    _appr("appr-author", "the author approves their own change", {"set": {"approver": "carol"}}, "is the change's author", "author"),
    _appr("appr-same-person", "the author's second identity (person: carol) approves", {"set": {"approver": "carol-admin"}},
          "the same person as the change's author carol", "person"),
    _appr("appr-launcher", "the launcher approves the change", {"set": {"approver": "dave"}, "launcher": "dave"},
          "is the change's launcher", "launcher"),
    _appr("appr-twice-same-person", "one person approves under two identities (bob, bob-admin)",
          {"records": [{}, {"approver": "bob-admin"}]}, "the same person per the policy's identities.<name>.person", "person"),
    _appr("appr-escape-approver", "an approver name with a terminal escape", {"set": {"approver": "bob\x1b[2J"}},
          "is not an identity of the policy", "AWX user bob\\u001b"),
    _appr("appr-deny", "a deny for the current content", {"set": {"decision": "deny"}}, "denied by bob", "denied"),
    # ---------------------------------------------------------------- inventories (the assess inventory view)
    _inv("inv-criticality", "criticality: extreme", {"hostvar": [["r2", "criticality", "extreme"]]}, "not a criticality level", "r2"),
    _inv("inv-criticality-int", "criticality: 5", {"hostvar": [["r2", "criticality", 5]]}, "not a criticality level", "r2"),
    _inv("inv-tags-mapping", "tags given as a mapping", {"hostvar": [["r2", "criticality", None], ["r2", "tags", {"pci": True}]]}, "must be a list of tags", "r2"),
    _inv("inv-host-shell", "a host named r2;reboot", {"rename": ["r2", "r2;reboot"]}, "is not a DNS name or IP address", "inventory.hosts"),
    _inv("inv-host-subst", "a host named $(id)", {"rename": ["r3", "$(id)"]}, "is not a DNS name or IP address", "inventory.hosts"),
    _inv("inv-host-traversal", "a host named ../../r2", {"rename": ["r3", "../../r2"]}, "is not a DNS name or IP address", "inventory.hosts"),
    _inv("inv-host-unicode", "a host name with a full-width digit (r\uff12)", {"rename": ["r3", "r\uff12"]},
         "is not a DNS name or IP address", "inventory.hosts"),
    _inv("inv-group-ghost", "a group listing a host that does not exist", {"group": ["core", ["r2", "r9"]]},
         "lists host 'r9'", "inventory.groups.core"),
    _inv("inv-group-string", "a group whose members are a string", {"group": ["core", "r2"]}, "must be a list of host names",
         "inventory.groups.core"),
    _inv("inv-vars-list", "host vars given as a list", {"hostentry": ["r2", {"vars": ["site", "lon"], "groups": []}]},
         "must be a mapping", "inventory.hosts.r2.vars"),
    _inv("inv-hosts-list", "hosts given as a list", {"whole": {"hosts": ["r1", "r2"]}}, "must be a mapping with a 'hosts' mapping",
         "inventory"),
    _inv("inv-empty", "an inventory without hosts", {"whole": {"hosts": {}}}, "has no hosts", "inventory.hosts"),
    # ---------------------------------------------------------------- workflow templates (governed-change workflow validate)
    _wf("wf-alias", "an anchor reused for a second node", {"yaml": WF_HEAD + "workflow_nodes:\n  - &n {identifier: a}\n  - *n\n"},
        "anchors and aliases are not accepted", "wf.yml:4"),
    _wf("wf-duplicate-key", "a node with identifier given twice",
        {"yaml": WF_HEAD + "workflow_nodes:\n  - identifier: a\n    identifier: b\n"}, "'identifier' appears twice", "wf.yml:5"),
    _wf("wf-control", "a raw escape character in the description", {"yaml": WF_HEAD + "description: \"a\x1b\"\n"}, "U+001B", "wf.yml:3"),
    _wf("wf-invalid-yaml", "an unclosed mapping", {"yaml": WF_HEAD + "workflow_nodes: [{identifier: a\n"}, "is not valid YAML", "wf.yml:"),
    _wf("wf-huge", "a 16 MiB + 1 byte workflow template", {"big_file": True}, "over the limit", "wf.yml"),
    _wf("wf-fifo", "the workflow template path is a FIFO", {"path": "fifo"}, "is a named pipe (FIFO)", "wf.yml"),
    _wf("wf-directory", "the workflow template path is a directory", {"path": "directory"}, "is a directory", "wf.yml"),
    _wf("wf-not-mapping", "a workflow template that is a list", {"yaml": "- name: x\n"}, "must be one mapping of awx.awx", "wf.yml"),
    _wf("wf-unknown-node", "an edge to a node that does not exist", {"edge_to": "ghost"}, "ghost", "wf.yml"),
    _wf("wf-unknown-template", "a node running a job template the controller does not define", {"template_name": "rm -rf /"},
        "rm -rf /", "wf.yml"),
    # ---------------------------------------------------------------- CLI arguments (governed-change main(argv))
    _cli("cli-change-traversal", "approve --change ../../etc/passwd", {"approve": {"--change": "../../etc/passwd"}}, "is not path-safe", "--change"),
    _cli("cli-change-shell", "approve --change 'CHG-1;rm -rf ~'", {"approve": {"--change": "CHG-1;rm -rf ~"}}, "is not path-safe", "--change"),
    _cli("cli-change-subst", "approve --change '$(reboot)'", {"approve": {"--change": "$(reboot)"}}, "is not path-safe", "--change"),
    _cli("cli-change-newline", "approve --change with a line break", {"approve": {"--change": "CHG-1001\nCHG-1002"}}, "is not path-safe",
         "--change"),
    _cli("cli-assessment-dir", "approve --assessment DIRECTORY", {"approve": {"--assessment": "@dir"}}, "is a directory", "assessment"),
    _cli("cli-assessment-fifo", "approve --assessment FIFO (must not block)", {"approve": {"--assessment": "@fifo"}}, "named pipe (FIFO)",
         "assessment"),
    _cli("cli-assessment-missing", "approve --assessment that does not exist", {"approve": {"--assessment": "@missing"}}, "does not exist",
         "assessment"),
    _cli("cli-assessment-not-json", "approve --assessment holding YAML", {"approve": {"--assessment": "@text:a: b\n"}}, "is not JSON",
         "assessment"),
    _cli("cli-assessment-other", "approve --assessment of another change", {"approve": {"--assessment": "@json:other"}},
         "is for change CHG-9999", "assessment"),
    _cli("cli-assessment-no-hash", "approve --assessment without content_hash", {"approve": {"--assessment": "@json:nohash"}},
         "has no content_hash", "assessment"),
    _cli("cli-ledger-dir", "approve --ledger DIRECTORY", {"approve": {"--ledger": "@dir"}}, "is a directory", "ledger"),
    _cli("cli-ledger-fifo", "ledger verify --ledger FIFO (must not block)", {"argv": ["ledger", "verify", "--ledger", "@fifo"]},
         "named pipe (FIFO)", "fifo"),
    _cli("cli-ledger-missing", "ledger show --ledger that does not exist", {"argv": ["ledger", "show", "CHG-1001", "--ledger", "@missing"]},
         "does not exist", "missing"),
    _cli("cli-ledger-none", "approve without --ledger or GOVERNED_CHANGE_LEDGER", {"approve": {"--ledger": None}}, "no ledger was given",
         "--ledger"),
    _cli("cli-policy-alias", "approve --policy with an alias bomb", {"approve": {"--policy": "@text:" + POLICY_ALIAS}},
         "anchors and aliases are not accepted", ":2"),
    _cli("cli-policy-duplicate", "approve --policy with identities.bob twice",
         {"approve": {"--policy": "@text:identities:\n  bob: {principals: [bob@lab]}\n  bob: {principals: [mallory@lab]}\n"}},
         "'bob' appears twice", ":3"),
    _cli("cli-policy-fifo", "approve --policy FIFO", {"approve": {"--policy": "@fifo"}}, "named pipe (FIFO)", "fifo"),
    _cli("cli-identity-unknown", "approve --identity mallory", {"approve": {"--identity": "mallory"}}, "is not in the policy's identities",
         "policy"),
    _cli("cli-comment-newline", "approve --comment with a line break", {"approve": {"--comment": "ok\ndecision: deny"}},
         "contains a line break", "approval.comment"),
    _cli("cli-key-dir", "approve --key DIRECTORY", {"approve": {"--key": "@dir"}}, "signing key path is a directory", "dir"),
    _cli("cli-key-missing", "approve --key that does not exist", {"approve": {"--key": "@missing"}}, "signing key file does not exist",
         "missing"),
    _cli("cli-show-traversal", "ledger show ../../etc/passwd", {"argv": ["ledger", "show", "../../etc/passwd", "--ledger", "@ledger"]},
         "is not in the ledger", "ledger"),
    _cli("cli-answers-fifo", "workflow run --approvals-file FIFO", {"argv": ["workflow", "run", "@wf", "--approvals-file", "@fifo"]},
         "named pipe (FIFO)", "fifo"),
    _cli("cli-extra-vars-alias", "workflow run -e @file with an alias", {"argv": ["workflow", "run", "@wf", "-e", "@@text:a: &a 1\nb: *a\n"]},
         "anchors and aliases are not accepted", ":1"),
    _cli("cli-approve-answer", "workflow run --approve node=maybe", {"argv": ["workflow", "run", "@wf", "--approve", "approval=maybe"]},
         "not approve, deny or timeout", "--approve"),
    _cli("cli-unknown-command", "governed-change frobnicate", {"argv": ["frobnicate"]}, "invalid choice", "command"),
    _cli("cli-parallel-type", "workflow run --parallel many", {"argv": ["workflow", "run", "@wf", "--parallel", "many"]},
         "invalid int value", "--parallel"),
    _cli("cli-break-lock-reason", "ledger break-lock without --reason", {"argv": ["ledger", "break-lock", "r2", "--ledger", "@ledger"]},
         "--reason", "required"),
]

CASES += [
    _cli("cli-comment-escape", "approve --comment with a terminal escape", {"approve": {"--comment": "ok\x1b[2J"}},
         "contains a control or invisible character", "approval.comment"),
    _cli("cli-comment-huge", "approve --comment of 100,000 characters", {"approve": {"--comment": "c" * 100000}},
         "the limit is 1000", "approval.comment"),
    _cli("cli-identity-escape", "approve --identity with a terminal escape", {"approve": {"--identity": "alice\x1b[2J"}},
         "is not in the policy's identities", "policy"),
]
