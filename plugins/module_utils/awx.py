# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a workflow job's approval nodes from an AWX/AAP controller API (second approval source)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url
from ansible_collections.governed.change.plugins.module_utils.errors import GateRefused

_HASH_IN_TEXT = re.compile(r"content_hash\s*[:=]\s*([0-9a-f]{64})")
MAX_PAGES = 50


class AwxClient:
    """A minimal read-only client of the controller's /api/v2/ (token auth, JSON, pagination).

    The token is only ever put in the Authorization header (as an unredirected header, so a redirect to
    another host does not carry it); it is never logged nor put in an error.
    """

    def __init__(self, base_url, token, timeout=10.0, validate_certs=True, ca_path=None):
        if not base_url or urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise GateRefused("the controller URL %r is not an http(s) URL." % (base_url,), where="awx.controller_host",
                              fix="pass the controller's base URL, e.g. https://aap.example.com.")
        if not token:
            raise GateRefused("no controller token was given.", where="awx.token",
                              fix="attach a credential that provides an OAuth2/personal access token.")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.validate_certs = validate_certs is not False
        self.ca_path = ca_path

    def __repr__(self):
        return "AwxClient(%r, token=<hidden>)" % self.base_url

    def get(self, path):
        """GET a path (or absolute URL on the same controller) and return the JSON document."""
        url = path if path.startswith("http") else self.base_url + path
        if urllib.parse.urlsplit(url).netloc != urllib.parse.urlsplit(self.base_url).netloc:
            raise GateRefused("the controller pointed to another host (%s)." % urllib.parse.urlsplit(url).netloc,
                              where=self.base_url, fix="check the controller URL; the token is only sent to it.")
        headers = {"Accept": "application/json", "Authorization": "Bearer " + self._token}
        try:
            # netrc off: it would replace the bearer header with another credential.
            response = open_url(url, headers=headers, method="GET", timeout=self.timeout, validate_certs=self.validate_certs,
                                ca_path=self.ca_path, unredirected_headers=["Authorization"], use_netrc=False)
            try:
                body = response.read()
            finally:
                response.close()
        except urllib.error.HTTPError as exc:
            fix = {401: "the token is invalid or expired; refresh the credential.",
                   403: "the token's user may not read this workflow job; grant read access.",
                   404: "check the workflow job id (the job may have been deleted)."}.get(exc.code, "check the controller.")
            raise GateRefused("the controller answered HTTP %d for %s." % (exc.code, _strip_query(url)),
                              where="awx", fix=fix)
        except (urllib.error.URLError, UrlsConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GateRefused("the controller is unreachable (%s)." % (reason,), where=_strip_query(url),
                              fix="check controller_host, TLS settings and the network.")
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GateRefused("the controller did not answer JSON for %s." % _strip_query(url), where="awx",
                              fix="check that the URL is the controller's API root.")

    def get_all(self, path):
        """Every result of a paginated list endpoint ({count, next, results})."""
        results, url = [], path
        for _page in range(MAX_PAGES):
            doc = self.get(url)
            if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
                raise GateRefused("the controller's list at %s has no results." % _strip_query(url), where="awx",
                                  fix="check the controller version (API v2 is required).")
            results.extend(doc["results"])
            url = doc.get("next")
            if not url:
                return results
        raise GateRefused("more than %d pages at %s." % (MAX_PAGES, path), where="awx", fix="reduce the workflow size.")


def _strip_query(url):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _user_name(ref):
    """Username from a launched_by / summary_fields user reference."""
    if not isinstance(ref, dict):
        return None
    return ref.get("username") or ref.get("name")


def _iso_z(text):
    if not isinstance(text, str) or not text:
        return None
    return text.replace("+00:00", "Z")


def _job_id(workflow_job_id):
    """The workflow job id as a number; anything else is refused (the gate cannot read approvals without it)."""
    try:
        return int(workflow_job_id)
    except (TypeError, ValueError):
        raise GateRefused("workflow job id %r is not a number." % (workflow_job_id,), where="awx.workflow_job_id",
                          fix="pass awx_workflow_job_id (tower_workflow_job_id) from the job's extra vars.")


def _launcher_of(job):
    """Who launched the job: a user's name, or None when a schedule, workflow or other non-user launched it."""
    launched_by = job.get("launched_by")
    if (launched_by or {}).get("type", "user") != "user":
        return None
    return _user_name(launched_by)


def _is_approval_node(node):
    """Whether a workflow node is an approval node (by its job or its unified job template)."""
    node_summary = node.get("summary_fields") or {}
    job_ref = node_summary.get("job") or {}
    ujt = node_summary.get("unified_job_template") or {}
    return job_ref.get("type") == "workflow_approval" or ujt.get("unified_job_type") == "workflow_approval"


def _approval_of(detail, info, status, actor, change_id, content_hash, job_id):
    """A decided approval node as an approval: approved is approve, denied is deny; a hash in its text binds it."""
    text = " ".join(str(detail.get(key) or "") for key in ("name", "description", "context_message"))
    match = _HASH_IN_TEXT.search(text)
    return {
        "change_id": change_id, "approver": actor, "decision": "approve" if status == "successful" else "deny",
        "content_hash": match.group(1) if match else content_hash,
        "ts": _iso_z(detail.get("finished") or detail.get("modified")), "comment": detail.get("name") or "",
        "signature": None, "principal": None, "source": "awx", "verified": True,
        "awx": dict(info, workflow_job=job_id, binding="statement" if match else "workflow_job")}


def _approval_bucket(detail, status, actor):
    """pending while AWX still waits; ignored when timed out, canceled or without an approver; else a decision (approvals)."""
    if status in ("pending", "new", "waiting", "running"):
        return "pending"
    if detail.get("timed_out") or status not in ("successful", "failed") or not actor:
        return "ignored"
    return "approvals"


def _approval_node_entry(client, node, change_id, content_hash, job_id):
    """Where an approval node goes and what is listed: ("pending", ...), ("ignored", ...) or ("approvals", approval)."""
    node_summary = node.get("summary_fields") or {}
    job_ref = node_summary.get("job") or {}
    approval_id = job_ref.get("id") or node.get("job")
    if not approval_id:
        ujt = node_summary.get("unified_job_template") or {}
        return "pending", {"node": node.get("id"), "name": ujt.get("name"), "status": "not started"}
    detail = client.get("/api/v2/workflow_approvals/%d/" % int(approval_id))
    status = detail.get("status")
    actor = _user_name((detail.get("summary_fields") or {}).get("approved_or_denied_by"))
    info = {"node": node.get("id"), "approval_id": detail.get("id"), "name": detail.get("name"), "status": status,
            "timed_out": bool(detail.get("timed_out"))}
    bucket = _approval_bucket(detail, status, actor)
    if bucket == "pending":
        return bucket, info
    if bucket == "ignored":
        return bucket, dict(info, reason="timed out, canceled or no approver recorded")
    return bucket, _approval_of(detail, info, status, actor, change_id, content_hash, job_id)


def read_workflow_approvals(client, workflow_job_id, change_id, content_hash=None):
    """Approvals of one workflow job, in the shape review_gate consumes.

    Returns {workflow_job, launcher, created_by, approvals, pending, ignored}. An approval node approved in
    AWX becomes decision approve, a denied one decision deny; pending, canceled or timed-out nodes are not
    decisions of a person and are listed in pending / ignored. Binding: when the approval node's name,
    description or context message carries ``content_hash: <hex>``, that is the hash approved; otherwise the
    approval is bound to ``content_hash``, the hash this workflow job assessed before the approval node.
    """
    job_id = _job_id(workflow_job_id)
    job = client.get("/api/v2/workflow_jobs/%d/" % job_id)
    summary = job.get("summary_fields") or {}
    launcher = _launcher_of(job)
    created_by = _user_name(summary.get("created_by"))
    out = {"workflow_job": job_id, "launcher": launcher or created_by, "launched_by": job.get("launched_by"),
           "created_by": created_by, "approvals": [], "pending": [], "ignored": []}
    nodes = client.get_all("/api/v2/workflow_jobs/%d/workflow_nodes/" % job_id)
    for node in nodes:
        if _is_approval_node(node):
            bucket, entry = _approval_node_entry(client, node, change_id, content_hash, job_id)
            out[bucket].append(entry)
    return out
