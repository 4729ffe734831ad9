# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ServiceNow change record kept in step with the ledger (plain Python over the Table and Attachment APIs).

Plain data first (the field mapping, the state machine, the close code, the policy's ``itsm:`` section), then a small
client (:class:`ServiceNowClient`: basic auth or an OAuth bearer token, timeouts, retries, fail-closed errors that never
carry a secret), then the operations a stage asks for (:func:`sync_change`, :func:`read_cab_approvals`). The field
names and values are ServiceNow's own (``change_request``: type, risk, impact, state, start_date, end_date, cmdb_ci,
close_code, close_notes, work_notes, correlation_id), the ones servicenow.itsm's ``change_request`` module writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils import approvals as approvals_mod
from ansible_collections.governed.change.plugins.module_utils.clock import instant_or_none, iso_z, parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError

try:
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url
except ImportError:  # pragma: no cover - the core imports without ansible-core (the CLI's wheel)
    UrlsConnectionError = OSError
    open_url = None

# ServiceNow's change_request.state values (the "Change Management - State Model" plugin's choice list).
SN_STATES = {"new": -5, "assess": -4, "authorize": -3, "scheduled": -2, "implement": -1, "review": 0, "closed": 3,
             "canceled": 4}
SN_STATE_NAMES = {str(value): name for name, value in SN_STATES.items()}
# The forward path the ledger walks (ledger.TRANSITIONS); ServiceNow moves one step at a time along the same path.
LIFECYCLE = ("new", "assess", "authorize", "scheduled", "implement", "review", "closed")
# ServiceNow's state model per change type (Change Management - State Model): standard changes are pre-approved (no
# Assess, no Authorize), emergency changes are authorized without an assessment step.
MODELS = {"normal": LIFECYCLE, "standard": ("new", "scheduled", "implement", "review", "closed"),
          "emergency": ("new", "authorize", "scheduled", "implement", "review", "closed")}
# Our risk tier as ServiceNow's risk (1 Very High .. 4 Low) and impact (1 High .. 3 Low).
RISK = {"critical": 1, "high": 2, "medium": 3, "low": 4}
IMPACT = {"critical": 1, "high": 1, "medium": 2, "low": 3}
CLOSE_CODES = {"successful": "successful", "successful_issues": "successful_issues", "unsuccessful": "unsuccessful"}
CHANGE_TYPES = ("standard", "normal", "emergency")
SHORT_DESCRIPTION_LIMIT = 160
HASH_NOTE = re.compile(r"governed\.change content_hash:\s*([0-9a-f]{64})")
APPROVAL_DECISIONS = {"approved": "approve", "rejected": "deny"}
APPROVAL_PENDING = ("requested", "not requested", "not_requested")

TABLE = "/api/now/table/"
ATTACHMENT = "/api/now/attachment"
ENV_HOST, ENV_USER, ENV_PASSWORD, ENV_TOKEN = "SN_HOST", "SN_USERNAME", "SN_PASSWORD", "SN_ACCESS_TOKEN"

ITSM_KEYS = ("enabled", "required", "instance", "timeout_s", "retries", "assignment_group", "approval_source",
             "group_map", "missing_ci", "attach_evidence", "validate_certs")
ITSM_DEFAULTS = {"enabled": True, "required": False, "instance": None, "timeout_s": 10, "retries": 2,
                 "assignment_group": None, "approval_source": False, "group_map": {}, "missing_ci": "warn",
                 "attach_evidence": True, "validate_certs": True}


class ItsmError(GovernedChangeError):
    """ServiceNow refused or could not be reached; ``transient`` when a retry could succeed."""

    kind = "itsm"

    def __init__(self, problem, where=None, fix=None, transient=False):
        self.transient = transient
        super().__init__(problem, where=where, fix=fix)


# ---------------------------------------------------------------------------------------------- policy: itsm
def validate_itsm(section, where="itsm", fail=None):
    """The policy's ``itsm:`` section, validated and with defaults filled. ``fail(path, problem, fix)`` raises the
    caller's error (the policy's, naming the policy file)."""
    fail = fail or _fail
    if not isinstance(section, dict):
        fail(where, "must be a mapping, got %s." % type(section).__name__, "write e.g. itsm: {required: true}.")
    unknown = sorted(set(section) - set(ITSM_KEYS))
    if unknown:
        fail("%s.%s" % (where, unknown[0]), "is not an itsm setting.", "use only %s." % ", ".join(ITSM_KEYS))
    out = dict(ITSM_DEFAULTS, group_map={})
    for key in ("enabled", "required", "approval_source", "attach_evidence", "validate_certs"):
        if key in section:
            out[key] = _boolean(section[key], "%s.%s" % (where, key), fail)
    for key, low in (("timeout_s", 1), ("retries", 0)):
        if key in section:
            out[key] = _integer(section[key], "%s.%s" % (where, key), low, fail)
    for key in ("instance", "assignment_group"):
        if section.get(key) is not None:
            out[key] = _text(section[key], "%s.%s" % (where, key), fail)
    if out["instance"] is not None and urllib.parse.urlsplit(out["instance"]).scheme not in ("http", "https"):
        fail("%s.instance" % where, "%r is not an http(s) URL." % out["instance"], "write e.g. https://example.service-now.com.")
    if section.get("missing_ci") is not None:
        if section["missing_ci"] not in ("warn", "fail"):
            fail("%s.missing_ci" % where, "%r is neither warn nor fail." % (section["missing_ci"],), "set warn or fail.")
        out["missing_ci"] = section["missing_ci"]
    out["group_map"] = _group_map(section.get("group_map"), "%s.group_map" % where, fail)
    return out


def _fail(path, problem, fix):
    raise GovernedChangeError(problem, where=path, fix=fix)


def _boolean(value, path, fail):
    if not isinstance(value, bool):
        fail(path, "must be true or false, got %r." % (value,), "write true or false.")
    return value


def _integer(value, path, low, fail):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        fail(path, "must be an integer >= %d, got %r." % (low, value), "write a whole number such as %d." % max(low, 2))
    return value


def _text(value, path, fail):
    if not isinstance(value, str) or not value.strip():
        fail(path, "must be a non-empty string, got %r." % (value,), "write the name or URL as text.")
    return value.strip()


def _group_map(value, path, fail):
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(path, "must map a policy group to a ServiceNow group name, got %s." % type(value).__name__,
             "write e.g. group_map: {cab: Change Advisory Board}.")
    for group, sn_group in value.items():
        _text(sn_group, "%s.%s" % (path, group), fail)
    return {str(group): sn_group.strip() for group, sn_group in value.items()}


def itsm_settings(policy):
    """The policy's itsm settings, or None when the policy has no (or a disabled) itsm section."""
    section = (policy or {}).get("itsm")
    if not section or not section.get("enabled", True):
        return None
    return section


# ---------------------------------------------------------------------------------------------- field mapping
def sn_time(text, where):
    """An ISO 8601 instant as ServiceNow's UTC glide_date_time text (YYYY-MM-DD HH:MM:SS)."""
    return iso_z(parse_instant(text, where=where, error=ItsmError), precision="seconds").replace("T", " ").rstrip("Z")


def from_sn_time(text):
    """ServiceNow's UTC glide_date_time text as an ISO 8601 instant with Z, or None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    moment = instant_or_none(text.strip().replace(" ", "T") + "Z", where="ServiceNow time")
    return None if moment is None else iso_z(moment, precision="seconds")


def change_fields(assessment, description=None, settings=None):
    """The change_request fields of an assessment (no CIs: they are looked up by name, see :func:`ci_names`)."""
    change_class, tier = assessment.get("change_class"), assessment.get("tier")
    if change_class not in CHANGE_TYPES:
        raise ItsmError("the assessment's change class %r is not standard, normal or emergency." % (change_class,),
                        where="assessment.change_class", fix="pass the assessment returned by governed.change.assess.")
    if tier not in RISK:
        raise ItsmError("the assessment's tier %r is unknown." % (tier,), where="assessment.tier",
                        fix="pass the assessment returned by governed.change.assess.")
    change_id = assessment["change_id"]
    title = "[%s] %s" % (change_id, assessment.get("title") or "")
    # chg_model as servicenow.itsm sets it (the change model named after the type; standard changes need one)
    fields = {"type": change_class, "chg_model": change_class, "risk": str(RISK[tier]), "impact": str(IMPACT[tier]),
              "short_description": title[:SHORT_DESCRIPTION_LIMIT], "description": describe_change(assessment, description),
              "correlation_id": change_id, "correlation_display": "governed.change"}
    window = assessment.get("window") or {}
    if window.get("start") and window.get("end"):
        fields["start_date"] = sn_time(window["start"], "assessment.window.start")
        fields["end_date"] = sn_time(window["end"], "assessment.window.end")
    if (settings or {}).get("assignment_group"):
        fields["assignment_group"] = settings["assignment_group"]
    return fields


def describe_change(assessment, description=None):
    """The change_request description: the request's own text, then what governs it (the content hash approvals bind)."""
    lines = [description.strip()] if isinstance(description, str) and description.strip() else []
    lines += ["", "governed.change change_id: %s" % assessment["change_id"],
              "governed.change content_hash: %s" % assessment.get("content_hash"),
              "tier: %s (score %s); class: %s; author: %s" % (
                  assessment.get("tier"), assessment.get("score"), assessment.get("change_class"), assessment.get("author")),
              "targets: %s" % ", ".join(ci_names(assessment))]
    lines += ["rule: %s" % line for line in assessment.get("explanation") or []]
    return "\n".join(lines).strip()


def ci_names(assessment):
    """The configuration items of a change: its target devices, by name (cmdb_ci.name)."""
    return [str(host) for host in assessment.get("hosts") or []]


# ---------------------------------------------------------------------------------------------- state machine
def sn_state_name(value):
    """The lifecycle name of a change_request.state value (a number or its text), or None when unknown."""
    return SN_STATE_NAMES.get(str(value).strip()) if value is not None else None


def sn_target(ledger_state, change_type="normal"):
    """The state on the change type's model that a ledger state maps to (a standard change has no Assess nor Authorize,
    an emergency change no Assess: the ledger's earlier states stay at the last state the model has)."""
    if ledger_state == "canceled":
        return "canceled"
    rank = LIFECYCLE.index(ledger_state)
    return [state for state in MODELS[change_type] if LIFECYCLE.index(state) <= rank][-1]


def _check_states(current, target, change_type):
    for name, value in (("current", current), ("target", target)):
        if value not in SN_STATES:
            raise ItsmError("%s state %r is not a ServiceNow change state." % (name, value), where="itsm.state",
                            fix="use one of %s." % ", ".join(SN_STATES))
    if change_type not in MODELS:
        raise ItsmError("change type %r has no state model." % (change_type,), where="itsm.type",
                        fix="use one of %s." % ", ".join(MODELS))
    if current in ("closed", "canceled") and current != target:
        raise ItsmError("the change request is %s in ServiceNow, so it cannot move to %s." % (current, target),
                        where="itsm.state", fix="open a new change; a closed or canceled change request stays final.")
    if current not in MODELS[change_type] and current != "canceled":
        raise ItsmError("the change request is %s, a state the %s change model does not have." % (current, change_type),
                        where="itsm.state", fix="move it back to New in ServiceNow, or check its type.")


def state_steps(current, target, change_type="normal"):
    """The states to set, in order, to move a change request from ``current`` to the ledger's ``target`` state.

    ServiceNow's state models move one step at a time, so each step is set, along the type's model (:data:`MODELS`).
    A re-assessment (the ledger back at assess or authorize while ServiceNow is at Authorize or Scheduled) restarts at
    Assess (normal) or New (standard, emergency), then steps forward; a cancel is one step; anything else backwards, or
    out of a final state, is refused."""
    _check_states(current, target, change_type)
    model, wanted = MODELS[change_type], sn_target(target, change_type)
    if current == wanted:
        return []
    if wanted == "canceled":
        return ["canceled"]
    here, there = model.index(current), model.index(wanted)
    if there >= here:
        return list(model[here + 1:there + 1])
    if target in ("assess", "authorize") and current in ("authorize", "scheduled"):
        restart = "assess" if "assess" in model else "new"
        return [restart] + list(model[model.index(restart) + 1:there + 1])
    raise ItsmError("the change request is %s in ServiceNow, past the ledger's %s." % (current, target),
                    where="itsm.state", fix="check who moved the change request by hand; the ledger is the authority.")


def close_fields(outcome, reason):
    """The fields of the closing step: close_code and close_notes from the run's decision (run_decisions.run_decision)."""
    if outcome == "canceled":
        return {"close_notes": (reason or "canceled")[:4000]}
    if outcome not in CLOSE_CODES:
        raise ItsmError("outcome %r has no ServiceNow close code." % (outcome,), where="outcome",
                        fix="pass successful, successful_issues, unsuccessful or canceled.")
    return {"close_code": CLOSE_CODES[outcome], "close_notes": (reason or "closed %s" % outcome)[:4000]}


def work_note(stage, ledger_state, content_hash, note=None):
    """The work note of one stage; it carries the content hash, which binds the CAB approvals given after it."""
    text = "governed.change stage %s: ledger state %s.\ngoverned.change content_hash: %s" % (stage, ledger_state, content_hash)
    return text + ("\n" + note.strip() if isinstance(note, str) and note.strip() else "")


# ---------------------------------------------------------------------------------------------- the client
def _host_of(url):
    return urllib.parse.urlsplit(url).netloc


class ServiceNowClient:
    """A small Table/Attachment API client. The password and token are only ever put in the Authorization header; they
    never appear in an error, a repr or a result."""

    def __init__(self, instance, username=None, password=None, token=None, timeout=10, retries=2, validate_certs=True,
                 sleep=time.sleep):
        if not instance or urllib.parse.urlsplit(instance).scheme not in ("http", "https"):
            raise ItsmError("the ServiceNow instance %r is not an http(s) URL." % (instance,), where="itsm.instance",
                            fix="set itsm.instance in the policy, the task's instance.host or SN_HOST.")
        if not token and not (username and password):
            raise ItsmError("no ServiceNow credentials were given.", where="itsm.credentials",
                            fix="set SN_USERNAME and SN_PASSWORD (basic auth) or SN_ACCESS_TOKEN (OAuth bearer), or the "
                                "task's instance.username/password/access_token.")
        self.instance = instance.rstrip("/")
        if token:
            self._auth = "Bearer " + token
        else:
            self._auth = "Basic " + base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")
        self.timeout, self.retries, self._sleep = timeout, retries, sleep
        self.validate_certs = validate_certs

    def __repr__(self):
        return "ServiceNowClient(%r, credentials=<hidden>)" % self.instance

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """One API call with retries on transient failures (connection, 429, 5xx); the decoded JSON ``result``."""
        url = self.instance + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode("utf-8")
        attempt = 0
        while True:
            try:
                return self._once(method, url, data, content_type)
            except ItsmError as exc:
                if not exc.transient or attempt >= self.retries:
                    raise
                attempt += 1
                self._sleep(min(0.2 * 2 ** attempt, 5.0))

    def _once(self, method, url, data, content_type):
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        headers["Authorization"] = self._auth
        shown = "%s %s" % (method, urllib.parse.urlsplit(url).path)
        if open_url is None:  # pragma: no cover - ansible-core is always there in a run
            raise ItsmError("ansible.module_utils.urls is not importable.", where=shown, fix="install ansible-core.")
        try:
            # unredirected: a redirect to another host does not carry the credentials
            with open_url(url, data=data, headers=headers, method=method, timeout=self.timeout,
                          validate_certs=self.validate_certs, unredirected_headers=["Authorization"]) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, shown)
        except (urllib.error.URLError, OSError, UrlsConnectionError) as exc:
            raise ItsmError("ServiceNow is unreachable (%s) at %s." % (getattr(exc, "reason", exc), shown),
                            where=_host_of(self.instance), transient=True,
                            fix="check itsm.instance (or SN_HOST), the network and the instance's status.")
        return _result_of(raw, shown)

    # Table API
    def query(self, table, query, fields=None, limit=100):
        params = {"sysparm_query": query, "sysparm_limit": str(limit)}
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        result = self.request("GET", TABLE + table, params)
        return result if isinstance(result, list) else []

    def get(self, table, sys_id, fields=None):
        params = {"sysparm_fields": ",".join(fields)} if fields else None
        return self.request("GET", TABLE + table + "/" + urllib.parse.quote(sys_id), params)

    def create(self, table, fields):
        return self.request("POST", TABLE + table, body=fields)

    def update(self, table, sys_id, fields):
        return self.request("PATCH", TABLE + table + "/" + urllib.parse.quote(sys_id), body=fields)

    # Attachment API
    def attach(self, table, sys_id, file_name, payload, content_type):
        query = {"table_name": table, "table_sys_id": sys_id, "file_name": file_name}
        return self.request("POST", ATTACHMENT + "/file", query, body=payload, content_type=content_type)

    def attachments(self, table, sys_id):
        result = self.request("GET", ATTACHMENT, {"sysparm_query": "table_name=%s^table_sys_id=%s" % (table, sys_id)})
        return result if isinstance(result, list) else []


def _http_error(exc, shown):
    code = exc.code
    try:
        detail = json.loads(exc.read().decode("utf-8")).get("error", {}).get("message") or ""
    except (ValueError, AttributeError, OSError, UnicodeDecodeError):
        detail = ""
    fix = {401: "the credentials were refused; check SN_USERNAME/SN_PASSWORD or refresh SN_ACCESS_TOKEN.",
           403: "the ServiceNow user lacks a role for this table (itil for change_request, the attachment ACLs).",
           404: "the record or table does not exist on this instance; check the instance and the change's sys_id."
           }.get(code, "check the instance's status and the request.")
    transient = code == 429 or code >= 500
    return ItsmError("ServiceNow answered HTTP %d to %s%s." % (code, shown, (" (%s)" % detail[:200]) if detail else ""),
                     where="itsm", fix=fix, transient=transient)


def _result_of(raw, shown):
    if not raw:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ItsmError("ServiceNow did not answer JSON to %s." % shown, where="itsm",
                        fix="check that itsm.instance is the instance's base URL (https://<name>.service-now.com).")
    if not isinstance(doc, dict) or "result" not in doc:
        raise ItsmError("ServiceNow's answer to %s has no result." % shown, where="itsm", fix="check the instance's API.")
    return doc["result"]


def client_from(settings, given=None, env=None):
    """A client from the task's ``instance`` options, else the environment (SN_*), else the policy's itsm.instance."""
    given, env, settings = given or {}, os.environ if env is None else env, settings or {}
    return ServiceNowClient(given.get("host") or env.get(ENV_HOST) or settings.get("instance"),
                            username=given.get("username") or env.get(ENV_USER),
                            password=given.get("password") or env.get(ENV_PASSWORD),
                            token=given.get("access_token") or env.get(ENV_TOKEN),
                            timeout=given.get("timeout") or settings.get("timeout_s") or 10,
                            retries=settings.get("retries", 2), validate_certs=settings.get("validate_certs", True))


# ---------------------------------------------------------------------------------------------- operations
def query_value(value):
    """A value for an encoded query; one holding the query's operators (^, =, newline) is refused, not escaped."""
    text = str(value)
    if any(mark in text for mark in ("^", "=", "\n", "\r")):
        raise ItsmError("%r cannot be looked up in ServiceNow (it holds ^, = or a line break)." % (text,), where="itsm.query",
                        fix="use change ids and device names without ^ or =.")
    return text


def find_change(client, change_id):
    """The change_request carrying our change id as correlation_id, or None (so a retried create finds its record)."""
    found = client.query("change_request", "correlation_id=%s" % query_value(change_id), ["sys_id", "number", "state"], limit=2)
    if len(found) > 1:
        raise ItsmError("ServiceNow holds %d change requests with correlation_id %s." % (len(found), change_id),
                        where="itsm", fix="cancel the duplicate change request in ServiceNow.")
    return found[0] if found else None


def lookup_cis(client, names):
    """({name: sys_id}, [missing names]) for the targets, looked up in cmdb_ci by name."""
    found, missing = {}, []
    for name in names:
        rows = client.query("cmdb_ci", "name=%s" % query_value(name), ["sys_id", "name"], limit=1)
        if rows:
            found[name] = rows[0]["sys_id"]
        else:
            missing.append(name)
    return found, missing


def lookup_group(client, name):
    """The sys_id of the sys_user_group named ``name`` (the policy's itsm.assignment_group); refused when there is none."""
    rows = client.query("sys_user_group", "name=%s" % query_value(name), ["sys_id", "name"], limit=1)
    if not rows:
        raise ItsmError("no group named %s in sys_user_group." % name, where="itsm.assignment_group",
                        fix="name an existing ServiceNow group in the policy's itsm.assignment_group.")
    return rows[0]["sys_id"]


def create_change(client, assessment, description=None, settings=None):
    """Create (or find) the change request of an assessment; link its CIs. Returns the link record for the ledger."""
    settings = settings or ITSM_DEFAULTS
    existing = find_change(client, assessment["change_id"])
    fields = change_fields(assessment, description, settings)
    cis, missing = lookup_cis(client, ci_names(assessment))
    if missing and settings.get("missing_ci") == "fail":
        raise ItsmError("no configuration item named %s in cmdb_ci." % ", ".join(missing), where="itsm.cmdb_ci",
                        fix="add the devices to the CMDB, or set itsm.missing_ci: warn in the policy.")
    if fields.get("assignment_group"):
        fields["assignment_group"] = lookup_group(client, fields["assignment_group"])
    if cis:
        fields["cmdb_ci"] = cis[ci_names(assessment)[0]] if ci_names(assessment)[0] in cis else next(iter(cis.values()))
    if existing is None:
        record = client.create("change_request", dict(fields, state=str(SN_STATES["new"])))
        created = True
    else:
        record = client.update("change_request", existing["sys_id"], fields)
        created = False
    for sys_id in cis.values():
        if not client.query("task_ci", "task=%s^ci_item=%s" % (record["sys_id"], sys_id), ["sys_id"], limit=1):
            client.create("task_ci", {"task": record["sys_id"], "ci_item": sys_id})
    return {"sys_id": record["sys_id"], "number": record.get("number"), "created": created, "cis": cis, "missing_cis": missing,
            "state": sn_state_name(record.get("state")) or "new", "instance": _host_of(client.instance)}


def move_state(client, sys_id, current, target, final_fields=None, change_type="normal"):
    """Set each state from ``current`` to ``target`` in order (the last step carries ``final_fields``); the states set."""
    steps = state_steps(current, target, change_type)
    for position, step in enumerate(steps):
        fields = {"state": str(SN_STATES[step])}
        if position == len(steps) - 1 and final_fields:
            fields.update(final_fields)
        client.update("change_request", sys_id, fields)
    return steps


def attach_files(client, sys_id, paths):
    """Upload files to the change request; each with its sha256 and ServiceNow's answer (the attachment sys_id)."""
    out = []
    for path in paths:
        with open(path, "rb") as handle:
            payload = handle.read()
        name = os.path.basename(path)
        kind = "text/html" if name.endswith(".html") else "application/json" if name.endswith(".json") else "application/octet-stream"
        answer = client.attach("change_request", sys_id, name, payload, kind) or {}
        out.append({"file_name": name, "sha256": hashlib.sha256(payload).hexdigest(), "size_bytes": len(payload),
                    "sys_id": answer.get("sys_id"), "hash_reported": answer.get("hash")})
    return out


def sync_change(client, link, ledger_state, stage, content_hash, note=None, outcome=None, reason=None, attachments=()):
    """Move the linked change request to the ledger's state, add the stage's work note, attach files.

    Returns {steps, state, work_note, attachments}. Nothing here touches the ledger: the caller records the result."""
    record = client.get("change_request", link["sys_id"], ["sys_id", "number", "state", "type"])
    current = sn_state_name((record or {}).get("state"))
    if current is None:
        raise ItsmError("change request %s has state %r, not one of the lifecycle's." % (link.get("number"), (record or {}).get("state")),
                        where="itsm.state", fix="enable ServiceNow's change state model (New .. Closed) on the instance.")
    final = close_fields(outcome, reason) if ledger_state in ("closed", "canceled") else None
    files = attach_files(client, link["sys_id"], attachments) if attachments else []
    change_type = (record or {}).get("type") or "normal"
    steps = move_state(client, link["sys_id"], current, ledger_state, final, change_type)
    text = work_note(stage, ledger_state, content_hash, note)
    client.update("change_request", link["sys_id"], {"work_notes": text})
    return {"steps": steps, "state": sn_target(ledger_state, change_type) if change_type in MODELS else ledger_state,
            "work_note": text, "attachments": files}


# ---------------------------------------------------------------------------------------------- CAB approvals
def hash_history(client, sys_id):
    """[(time, content hash)] from the change request's work notes, oldest first (the hash each note put in force)."""
    rows = client.query("sys_journal_field", "element_id=%s^element=work_notes^ORDERBYsys_created_on" % sys_id,
                        ["value", "sys_created_on"], limit=1000)
    out = []
    for row in rows:
        match = HASH_NOTE.search(str(row.get("value") or ""))
        moment = from_sn_time(row.get("sys_created_on"))
        if match and moment:
            out.append((moment, match.group(1)))
    return sorted(out)


def hash_at(history, moment):
    """The content hash in force strictly before ``moment`` (a note in the same second does not count: fail closed)."""
    current = None
    for noted, value in history:
        if noted < moment:
            current = value
    return current


def _user_groups(client, user_sys_id):
    rows = client.query("sys_user_grmember", "user=%s" % user_sys_id, ["group.name"], limit=200)
    return sorted({row.get("group.name") for row in rows if row.get("group.name")})


def read_cab_approvals(client, link, change_id, index=None, group_map=None):
    """The change request's approvals (sysapproval_approver) in the shape review.review_gate weighs (source servicenow).

    Each decided approval is bound to the content hash the change request's work notes had put in force before the
    approver decided (so an approval given before a re-assessment is for the old hash and the gate refuses it as stale).
    With ``group_map`` ({policy group: ServiceNow group}), an approver counts for a policy group only while ServiceNow
    confirms the membership. Returns {approvals, pending, ignored, sys_id, number}."""
    rows = client.query("sysapproval_approver", "sysapproval=%s" % link["sys_id"],
                        ["sys_id", "state", "approver", "approver.user_name", "sys_updated_on", "comments"], limit=200)
    history = hash_history(client, link["sys_id"])
    out = {"sys_id": link["sys_id"], "number": link.get("number"), "approvals": [], "pending": [], "ignored": []}
    for row in rows:
        bucket, entry = _approval_entry(client, row, change_id, history, index, group_map or {})
        out[bucket].append(entry)
    return out


def _approval_entry(client, row, change_id, history, index, group_map):
    name, state = row.get("approver.user_name"), str(row.get("state") or "")
    info = {"approval_sys_id": row.get("sys_id"), "approver": name, "state": state}
    if state in APPROVAL_PENDING:
        return "pending", info
    moment = from_sn_time(row.get("sys_updated_on"))
    if state not in APPROVAL_DECISIONS or not name or moment is None:
        return "ignored", dict(info, reason="no decision by a named user (state %s)" % (state or "empty"))
    bound = hash_at(history, moment)
    if bound is None:
        return "ignored", dict(info, reason="decided at %s, before the change request carried a content hash" % moment)
    user_ref = row.get("approver")
    user_id = user_ref.get("value") if isinstance(user_ref, dict) else user_ref
    groups = _user_groups(client, user_id) if user_id else []
    approval = {"change_id": change_id, "approver": name, "decision": APPROVAL_DECISIONS[state], "content_hash": bound,
                "ts": moment, "comment": str(row.get("comments") or "")[:500], "signature": None, "principal": None,
                "source": "servicenow", "verified": True, "servicenow": dict(info, groups=groups)}
    problem = group_problem(index, name, groups, group_map)
    if problem:
        approval.update(verified=False, refusal=problem)
    return "approvals", approval


def group_problem(index, name, sn_groups, group_map):
    """Why an approver's policy groups are not confirmed by their ServiceNow groups (group_map), or None."""
    if not group_map or index is None:
        return None
    identity = approvals_mod.resolve_identity(index, name)
    if identity is None:
        return None  # the review gate refuses an unknown identity itself
    unconfirmed = [group for group in approvals_mod.identity_groups(index, identity)
                   if group in group_map and group_map[group] not in sn_groups]
    if not unconfirmed:
        return None
    return ("ServiceNow does not list %s in %s (policy group %s); fix: add the user to that ServiceNow group or correct "
            "the policy's identities." % (name, ", ".join(group_map[g] for g in unconfirmed), ", ".join(unconfirmed)))
