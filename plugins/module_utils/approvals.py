# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signed approval statements: canonical text, ssh-keygen -Y sign/verify, identity mapping."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.governed.change.plugins.module_utils.change_request import shown
from ansible_collections.governed.change.plugins.module_utils.docfile import require_file
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, utc_now as clock_now

NAMESPACE = "governed.change"
HEADER = "governed.change approval v1"
DECISIONS = ("approve", "deny")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
SSH_TIMEOUT_S = 120  # signing may wait for a passphrase typed at the terminal


def now_z(moment=None):
    """ISO 8601 UTC, seconds precision, trailing Z (the statement's time format)."""
    moment = moment or clock_now()
    if moment.tzinfo is None:
        raise ValidationError("a naive datetime was given for an approval time.", where="approval.ts",
                              fix="pass a timezone-aware datetime.")
    return iso_z(moment, precision="seconds")


def statement_text(change_id, content_hash, decision, approver, ts, comment=""):
    """The canonical text that is signed. Fields are single-line; anything else is refused."""
    fields = {"change": change_id, "content_hash": content_hash, "decision": decision, "approver": approver,
              "time": ts, "comment": comment if comment is not None else ""}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ValidationError("%s must be a string (got %r)." % (name, value), where="approval.%s" % name,
                                  fix="pass text.")
        if "\n" in value or "\r" in value:
            raise ValidationError("%s contains a line break." % name, where="approval.%s" % name,
                                  fix="write it on a single line (a line break could forge another field).")
        if any(not char.isprintable() for char in value):
            raise ValidationError("%s contains a control or invisible character (%s)." % (name, shown(value)),
                                  where="approval.%s" % name, fix="write plain printable text.")
        if len(value) > 1000:
            raise ValidationError("%s is %d characters long; the limit is 1000." % (name, len(value)), where="approval.%s" % name,
                                  fix="keep the %s short (details belong in the change request or its ticket)." % name)
        if name != "comment" and not value.strip():
            raise ValidationError("%s is empty." % name, where="approval.%s" % name, fix="give a value.")
    if decision not in DECISIONS:
        raise ValidationError("decision must be approve or deny (got %r)." % decision, where="approval.decision",
                              fix="use approve or deny.")
    if not _HASH.match(content_hash):
        raise ValidationError("content_hash is not a sha256 hex digest.", where="approval.content_hash",
                              fix="take content_hash from the assessment.")
    if not _TS.match(ts):
        raise ValidationError("time %r is not ISO 8601 UTC with Z." % ts, where="approval.ts",
                              fix="use the form 2026-11-28T01:00:00Z.")
    return ("%s\nchange: %s\ncontent_hash: %s\ndecision: %s\napprover: %s\ntime: %s\ncomment: %s\n"
            % (HEADER, change_id, content_hash, decision, approver, ts, fields["comment"]))


def approval_statement(approval):
    """The statement text of an approval record."""
    return statement_text(approval.get("change_id"), approval.get("content_hash"), approval.get("decision"),
                          approval.get("approver"), approval.get("ts"), approval.get("comment") or "")


def _ssh_keygen():
    path = shutil.which("ssh-keygen")
    if not path:
        raise ValidationError("ssh-keygen is not installed.", where="approvals",
                              fix="install OpenSSH (8.2 or later) on the controller.")
    return path


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return "no output"


def sign_statement(text, key_path, timeout=SSH_TIMEOUT_S):
    """Sign the statement with ``ssh-keygen -Y sign``; returns the armored signature text.

    The private key never enters this process: ssh-keygen reads it (or asks the agent when key_path is a
    public key) and the message goes through stdin.
    """
    if not key_path:
        raise ValidationError("no signing key was given.", where="--key",
                              fix="pass --key with the path of your SSH private key (or its .pub with ssh-agent).")
    require_file(key_path, "signing key", where=str(key_path),
                 fix="pass --key with the path of your SSH private key (or its .pub with ssh-agent).")
    try:
        proc = subprocess.run([_ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", key_path], input=text.encode("utf-8"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ValidationError("ssh-keygen -Y sign did not finish in %ds." % timeout, where=str(key_path),
                              fix="load the key into ssh-agent or use a key without an interactive prompt.")
    signature = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 or "BEGIN SSH SIGNATURE" not in signature:
        raise ValidationError("ssh-keygen -Y sign failed: %s" % _first_line(proc.stderr.decode("utf-8", "replace")),
                              where=str(key_path), fix="check that the key is an SSH private key you can unlock.")
    return signature


def verify_statement(text, signature, principal, allowed_signers, timeout=SSH_TIMEOUT_S):
    """Verify with ``ssh-keygen -Y verify``; returns (ok, reason). Never raises for a bad signature."""
    if not allowed_signers or not os.path.isfile(allowed_signers):
        return False, ("the allowed_signers file %s does not exist; fix: create it with one line per approver "
                       "('<principal> namespaces=\"%s\" <public key>') beside the policy." % (allowed_signers, NAMESPACE))
    if not principal:
        return False, "the approval names no principal; fix: sign it again naming your principal."
    if not signature or "BEGIN SSH SIGNATURE" not in signature:
        return False, "the approval carries no SSH signature; fix: sign it with `governed-change approve`."
    try:
        keygen = _ssh_keygen()
    except ValidationError as exc:
        return False, exc.render()
    handle, sig_path = tempfile.mkstemp(prefix="governed-change-", suffix=".sig")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(signature)
        proc = subprocess.run([keygen, "-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", NAMESPACE,
                               "-s", sig_path], input=text.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False, "ssh-keygen -Y verify did not finish in %ds; fix: retry." % timeout
    finally:
        os.unlink(sig_path)
    if proc.returncode == 0 and b"Good" in proc.stdout:
        return True, "good signature by principal %s" % principal
    detail = _first_line(proc.stderr.decode("utf-8", "replace") or proc.stdout.decode("utf-8", "replace"))
    return False, ("the signature does not verify for principal %s against %s (%s); fix: the approver signs again with "
                   "the key listed for that principal." % (principal, allowed_signers, detail))


def identity_index(policy):
    """{'identities', 'principals': {principal: name}, 'folded': {casefold: name}, 'persons': {name: person key}}.

    A principal claimed by two identities, or two names equal but for case, is a PolicyError. Identities with the same
    ``person`` (default: the identity's own name; compared ignoring case) are one person.
    """
    identities = (policy or {}).get("identities") or {}
    if not isinstance(identities, dict):
        raise PolicyError("identities must be a mapping of name -> {groups, principals}.", where="policy: identities",
                          fix="see docs/policy.md.")
    principals, folded, persons = {}, {}, {}
    for name, spec in identities.items():
        spec = spec or {}
        key = str(name).casefold()
        persons[name] = str(spec.get("person") or name).casefold()
        if key in folded and folded[key] != name:
            raise PolicyError("identities %s and %s differ only by case." % (folded[key], name), where="policy: identities",
                              fix="keep one name per person.")
        folded[key] = name
        for principal in spec.get("principals") or []:
            owner = principals.get(principal)
            if owner is not None and owner != name:
                raise PolicyError("principal %s is claimed by identities %s and %s." % (principal, owner, name),
                                  where="policy: identities.%s.principals" % name,
                                  fix="a signing principal belongs to exactly one person; remove it from one identity.")
            principals[principal] = name
    for principal, owner in principals.items():
        other = folded.get(principal.casefold())
        if other is not None and other != owner:
            raise PolicyError("principal %s of identity %s is also the name of identity %s." % (principal, owner, other),
                              where="policy: identities.%s.principals" % owner, fix="rename the principal or the identity.")
    return {"identities": identities, "principals": principals, "folded": folded, "persons": persons}


def person_of(index, identity):
    """The person behind a policy identity (identities sharing ``person`` are one); an unknown name is its own person."""
    if identity in index.get("persons", {}):
        return index["persons"][identity]
    return str(identity).casefold() if identity else None


def resolve_identity(index, name):
    """The policy identity behind a name (identity name, any case, or one of its principals); None if unknown."""
    if not name or not isinstance(name, str):
        return None
    if name in index["identities"]:
        return name
    if name in index["principals"]:
        return index["principals"][name]
    return index["folded"].get(name.casefold())


def identity_groups(index, identity):
    """The groups of an identity (empty for unknown)."""
    return list((index["identities"].get(identity) or {}).get("groups") or [])


def allowed_signers_path(policy, override=None, policy_dir=None):
    """Where the allowed_signers file is: override, else the policy's (relative to the policy file).

    policy.py's normalized policy carries ``allowed_signers_path`` (already resolved); it wins over
    ``allowed_signers`` unless a policy_dir is given.
    """
    if not override and not policy_dir and (policy or {}).get("allowed_signers_path"):
        return str(policy["allowed_signers_path"])
    path = override or (policy or {}).get("allowed_signers")
    if not path:
        return None
    path = str(path)
    if os.path.isabs(path):
        return path
    base = policy_dir
    return os.path.join(base, path) if base else os.path.abspath(path)


def sign_approval(change_id, content_hash, decision, approver, key_path, principal=None, comment="", ts=None):
    """Build and sign an approval record in the shape the ledger stores and review_gate consumes."""
    ts = ts or now_z()
    text = statement_text(change_id, content_hash, decision, approver, ts, comment or "")
    signature = sign_statement(text, key_path)
    return {"change_id": change_id, "approver": approver, "decision": decision, "content_hash": content_hash, "ts": ts,
            "comment": comment or "", "signature": signature, "principal": principal or approver, "source": "ssh",
            "verified": False}


def verify_approval(approval, index, allowed_signers):
    """Check an ssh approval: known identity, principal of that identity, good signature.

    Returns (identity or None, reason or None); a reason means refused.
    """
    approver = approval.get("approver")
    identity = resolve_identity(index, approver)
    if identity is None:
        return None, "approver %s is not an identity of the policy; fix: add them under identities." % shown(approver)
    principal = approval.get("principal")
    owner = resolve_identity(index, principal) if principal in index["principals"] else None
    if owner != identity:
        return identity, ("principal %s is not one of identity %s's principals; fix: sign with your own key and principal, or "
                          "list the principal under identities.%s.principals." % (shown(principal), identity, identity))
    try:
        text = approval_statement(approval)
    except ValidationError as exc:
        return identity, "the approval statement is malformed (%s)" % exc.render()
    ok, reason = verify_statement(text, approval.get("signature"), principal, allowed_signers)
    return identity, (None if ok else reason)
