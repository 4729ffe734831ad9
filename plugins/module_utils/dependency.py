# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a dependency: poll an external condition until it holds, bounded by a timeout, with backoff.

Sources (``SOURCES``): an HTTP API (a JMESPath query on the JSON it answers, compared with an expected value), the
ledger (another change closed with an accepted close code), a device (a route present, a BGP session established, read
from a snapshot taken by the platform driver), a webhook received on 127.0.0.1 (a POST carrying a shared secret in a
header). Each poll gives one of ``met``, ``not_met``, ``undecidable`` (bad JSON, unreachable URL, a query error, a
ledger that does not verify, a device that does not answer) or ``never`` (the condition can no longer hold: the
dependency closed unsuccessful). The wait ends at once on ``met`` (passed), ``undecidable`` or ``never`` (failed
closed), else at the timeout (failed closed). Check mode polls once and does not wait.

The clock and the sleeper are injected (``wait_for``), so the rules are tested with plain data and no real waiting.
The webhook's secret and the HTTP headers' values never enter a verdict, a poll summary or the ledger.
"""

from __future__ import annotations

import hmac
import http.server
import json
import os
import threading
import time
import urllib.error
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils import clock, lifecycle
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError, MissingLibrary, ValidationError
from ansible_collections.governed.change.plugins.module_utils.ledger import CLOSE_CODES, FINAL_STATES, open_ledger
from ansible_collections.governed.change.plugins.module_utils.state_diff import canonical_address, canonical_prefix

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions
except ImportError:  # pragma: no cover - guarded: the core imports without jmespath
    jmespath = None
    jmespath_exceptions = None

try:
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url
except ImportError:  # pragma: no cover - the core imports without ansible-core (the CLI's wheel)
    UrlsConnectionError = OSError
    open_url = None

SOURCES = ("http", "ledger", "device", "webhook")
MET, NOT_MET, UNDECIDABLE, NEVER = "met", "not_met", "undecidable", "never"
STAGE = "wait_for_dependency"
EVENT_KIND = "wait.dependency"
ACTOR = "governed.change"
SECRET_ENV = "GOVERNED_WAIT_SECRET"
SECRET_HEADER = "X-Governed-Secret"
LISTEN_HOST = "127.0.0.1"  # the webhook listener is bound to loopback only, never configurable
MAX_BODY = 65536
MAX_TIMEOUT_S = 86400
POLLS_KEPT = 20  # a long wait keeps its first and last polls (POLLS_HEAD + the rest from the end)
POLLS_HEAD = 5
DETAIL_LIMIT = 300
# the keys each source's condition takes ((required), (optional)); anything else is refused
CONDITION_KEYS = {
    "http": (("url", "query"), ("expected", "headers", "validate_certs", "request_timeout")),
    "ledger": (("change_id",), ("close_codes", "ledger")),
    "device": (("host",), ("route", "bgp_peer")),
    "webhook": (("port",), ("path", "header", "query", "expected")),
}
# the key that names what to wait for: a condition without it declares no dependency (see ``declared``)
NAMING_KEY = {"http": "url", "ledger": "change_id", "device": "host", "webhook": "port"}
HTTP_NOT_READY = (429, 500, 502, 503, 504)  # the API answers but is not ready: keep waiting


def poll_result(state, detail, observed=None):
    """One poll's outcome: {state, detail, observed?} (``detail`` is one short sentence, ``observed`` a small value)."""
    out = {"state": state, "detail": _clip(detail)}
    if observed is not None:
        out["observed"] = _small(observed)
    return out


def _clip(text, limit=DETAIL_LIMIT):
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _small(value):
    """A value short enough to record: itself, or its JSON text clipped."""
    text = json.dumps(value, sort_keys=True, default=str)
    return value if len(text) <= 200 else _clip(text, 200)


def _require_jmespath():
    if jmespath is None:
        raise MissingLibrary("jmespath", "to evaluate a wait_for_dependency query")


# ------------------------------------------------------------------------------------------------ the wait's spec
def _number(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValidationError("%s must be a number from %s to %s (got %r)." % (name, low, high, value), where=name,
                              fix="pass %s between %s and %s." % (name, low, high))
    return value


def schedule(timeout_s, interval_s=2.0, max_interval_s=30.0, backoff=2.0):
    """The wait's bounds: the timeout, the first poll interval, its cap and the factor it grows by after each poll."""
    timeout_s = _number(timeout_s, "timeout", 0, MAX_TIMEOUT_S)
    interval_s = _number(interval_s, "interval", 0.01, MAX_TIMEOUT_S)
    max_interval_s = _number(max_interval_s, "max_interval", interval_s, MAX_TIMEOUT_S)
    backoff = _number(backoff, "backoff", 1.0, 10.0)
    return {"timeout_s": timeout_s, "interval_s": interval_s, "max_interval_s": max_interval_s, "backoff": backoff}


def intervals(spec, count):
    """The first ``count`` poll intervals of a schedule (for documentation and tests): interval * backoff^n, capped."""
    out, current = [], spec["interval_s"]
    for _step in range(count):
        out.append(round(current, 3))
        current = min(current * spec["backoff"], spec["max_interval_s"])
    return out


def _known_keys(source, condition):
    required, optional = CONDITION_KEYS[source]
    unknown = sorted(set(condition) - set(required) - set(optional))
    if unknown:
        raise ValidationError("unknown key(s) %s for the %s source." % (", ".join(unknown), source), where="condition",
                              fix="use only %s." % ", ".join(required + optional))
    missing = [key for key in required if condition.get(key) in (None, "")]
    if missing:
        raise ValidationError("the %s source needs %s." % (source, " and ".join(missing)), where="condition.%s" % missing[0],
                              fix="set condition.%s (see ansible-doc governed.change.wait_for_dependency)." % missing[0])


def _compile(query, where):
    _require_jmespath()
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the query must be a JMESPath expression.", where=where, fix="e.g. query: \"status == 'ready'\".")
    try:
        return jmespath.compile(query)
    except jmespath_exceptions.JMESPathError as exc:
        raise ValidationError("the query %r is not valid JMESPath (%s)." % (query, _clip(exc, 120)), where=where,
                              fix="correct the expression (https://jmespath.org/specification.html).")


def shown_url(url):
    """The URL as recorded: scheme, host, port and path; no user info, query or fragment (they may hold a token)."""
    parts = urllib.parse.urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _http_condition(condition):
    url = str(condition["url"])
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
        raise ValidationError("the url %r is not an http(s) URL." % shown_url(url), where="condition.url", fix="pass http://HOST/PATH or https://...")
    headers = condition.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValidationError("headers must map header names to strings.", where="condition.headers", fix="e.g. headers: {Accept: application/json}.")
    timeout = _number(condition.get("request_timeout", 10), "condition.request_timeout", 0.1, 300)
    return {"url": url, "query": condition["query"], "compiled": _compile(condition["query"], "condition.query"),
            "expected": condition.get("expected", True), "headers": dict(headers),
            "validate_certs": condition.get("validate_certs", True) is not False, "request_timeout": timeout}


def _ledger_condition(condition):
    codes = condition.get("close_codes") or ["successful"]
    codes = [codes] if isinstance(codes, str) else list(codes)
    wrong = [code for code in codes if code not in CLOSE_CODES]
    if wrong:
        raise ValidationError("unknown close code(s) %s." % ", ".join(map(str, wrong)), where="condition.close_codes",
                              fix="use close codes from %s." % ", ".join(CLOSE_CODES))
    if not condition.get("ledger"):
        raise ValidationError("no ledger to read the dependency from.", where="condition.ledger",
                              fix="pass ledger (the waiting change's ledger is used by default) or condition.ledger.")
    return {"change_id": str(condition["change_id"]), "close_codes": codes, "ledger": str(condition["ledger"])}


def _device_condition(condition):
    if not condition.get("route") and not condition.get("bgp_peer"):
        raise ValidationError("the device source needs a route or a bgp_peer to wait for.", where="condition",
                              fix="set condition.route (a prefix) and/or condition.bgp_peer (a neighbor address).")
    out = {"host": str(condition["host"])}
    if condition.get("route"):
        out["route"] = canonical_prefix(str(condition["route"]))
    if condition.get("bgp_peer"):
        out["bgp_peer"] = canonical_address(str(condition["bgp_peer"]))
    return out


def _webhook_condition(condition):
    port = condition["port"]
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    port = _number(port, "condition.port", 1024, 65535)
    path = str(condition.get("path") or "/")
    out = {"port": int(port), "path": path if path.startswith("/") else "/" + path,
           "header": str(condition.get("header") or SECRET_HEADER), "query": condition.get("query"),
           "expected": condition.get("expected", True)}
    out["compiled"] = _compile(out["query"], "condition.query") if out["query"] is not None else None
    return out


NORMALIZERS = {"http": _http_condition, "ledger": _ledger_condition, "device": _device_condition, "webhook": _webhook_condition}


def declared(source, condition):
    """Whether the condition names something to wait for (its naming key: url, change_id, host or port)."""
    return isinstance(condition, dict) and condition.get(NAMING_KEY.get(source, "")) not in (None, "")


def normalize_condition(source, condition):
    """The validated condition of a source (defaults filled, the query compiled); ValidationError naming the field."""
    if source not in SOURCES:
        raise ValidationError("unknown source %r." % (source,), where="source", fix="use one of %s." % ", ".join(SOURCES))
    if not isinstance(condition, dict):
        raise ValidationError("the condition must be a mapping, got %s." % type(condition).__name__, where="condition",
                              fix="pass the %s source's keys: %s." % (source, ", ".join(sum(CONDITION_KEYS[source], ()))))
    _known_keys(source, condition)
    return NORMALIZERS[source](condition)


def describe(source, condition):
    """The condition as recorded and shown: what is waited for, never a secret or a header value."""
    if source == "http":
        return {"url": shown_url(condition["url"]), "query": condition["query"], "expected": condition["expected"],
                "headers": sorted(condition["headers"])}
    if source == "ledger":
        return {"change_id": condition["change_id"], "close_codes": condition["close_codes"]}
    if source == "device":
        return dict((key, condition[key]) for key in ("host", "route", "bgp_peer") if key in condition)
    return {"listen": "%s:%d" % (LISTEN_HOST, condition["port"]), "path": condition["path"], "header": condition["header"],
            "query": condition["query"], "expected": condition["expected"]}


def sentence(source, condition):
    """One line naming the condition (for messages)."""
    shown = describe(source, condition)
    if source == "http":
        return "GET %s until %s == %s" % (shown["url"], shown["query"], json.dumps(shown["expected"]))
    if source == "ledger":
        return "change %s closed %s" % (shown["change_id"], " or ".join(shown["close_codes"]))
    if source == "device":
        wanted = (["route %s present" % shown["route"]] if "route" in shown else []) + (
            ["BGP session to %s established" % shown["bgp_peer"]] if "bgp_peer" in shown else [])
        return "%s: %s" % (shown["host"], " and ".join(wanted))
    what = "" if shown["query"] is None else " whose body gives %s == %s" % (shown["query"], json.dumps(shown["expected"]))
    return "a webhook POST to %s%s with the shared secret%s" % (shown["listen"], shown["path"], what)


# ------------------------------------------------------------------------------------------------ evaluating a document
def evaluate_query(compiled, document, expected, label):
    """met when the query's result equals ``expected``; not_met otherwise (null: not there yet); undecidable on an error."""
    try:
        found = compiled.search(document)
    except jmespath_exceptions.JMESPathError as exc:
        return poll_result(UNDECIDABLE, "the query %s failed on %s: %s" % (compiled.expression, label, exc))
    if found == expected:
        return poll_result(MET, "%s gives %s" % (compiled.expression, json.dumps(found, default=str)), found)
    return poll_result(NOT_MET, "%s gives %s, not %s" % (compiled.expression, _clip(json.dumps(found, default=str), 120),
                                                         json.dumps(expected)), found)


def _json_body(raw, label):
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, poll_result(UNDECIDABLE, "%s is not JSON (%s)" % (label, _clip(exc, 80)))


# ------------------------------------------------------------------------------------------------ HTTP source
def http_get(url, headers, timeout, validate_certs):
    """(status, body bytes) of a GET; an HTTP error status is returned, a connection failure raises OSError."""
    if open_url is None:  # pragma: no cover - ansible-core is always there in a run
        raise OSError("ansible.module_utils.urls is not importable")
    try:
        with open_url(url, headers=dict(headers, Accept="application/json"), method="GET", timeout=timeout,
                      validate_certs=bool(validate_certs)) as answer:
            return answer.status, answer.read(MAX_BODY * 16)
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except UrlsConnectionError as exc:
        raise OSError(str(exc)) from exc


def http_poller(condition, fetch=http_get):
    """A poll function for the HTTP source; ``fetch(url, headers, timeout, validate_certs) -> (status, body)``."""
    label = "GET %s" % shown_url(condition["url"])

    def poll():
        try:
            status, body = fetch(condition["url"], condition["headers"], condition["request_timeout"], condition["validate_certs"])
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            return poll_result(UNDECIDABLE, "%s failed: the URL is unreachable (%s)" % (label, _clip(reason, 120)))
        if status in HTTP_NOT_READY:
            return poll_result(NOT_MET, "%s answered HTTP %d (not ready)" % (label, status))
        if not 200 <= status < 300:
            return poll_result(UNDECIDABLE, "%s answered HTTP %d" % (label, status))
        document, problem = _json_body(body, "the answer of %s" % label)
        if problem:
            return problem
        return evaluate_query(condition["compiled"], document, condition["expected"], "the answer of %s" % label)
    return poll


# ------------------------------------------------------------------------------------------------ ledger source
def ledger_state(record, condition):
    """The poll outcome for the dependency's ledger record (None: not recorded yet)."""
    change_id = condition["change_id"]
    if record is None:
        return poll_result(NOT_MET, "change %s is not in the ledger yet" % change_id)
    state, code = record.get("state"), record.get("close_code")
    if state == "closed" and code in condition["close_codes"]:
        return poll_result(MET, "change %s is closed %s" % (change_id, code), {"state": state, "close_code": code})
    if state in FINAL_STATES:
        return poll_result(NEVER, "change %s is %s%s, so it can never close %s" % (
            change_id, state, " (%s)" % code if code else "", " or ".join(condition["close_codes"])), {"state": state, "close_code": code})
    return poll_result(NOT_MET, "change %s is %s" % (change_id, state), {"state": state})


class LedgerPoller:
    """Polls the dependency's record through the ledger's own verified read (check_change), read-only; close() when done."""

    def __init__(self, condition):
        self.condition = condition
        self.ledger = None

    def __call__(self):
        try:
            if self.ledger is None:
                self.ledger = open_ledger(self.condition["ledger"], readonly=True)
            record = self.ledger.check_change(self.condition["change_id"])
        except GovernedChangeError as exc:
            return poll_result(UNDECIDABLE, "the ledger cannot be read: %s" % exc.problem)
        return ledger_state(record, self.condition)

    def close(self):
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None


# ------------------------------------------------------------------------------------------------ device source
def device_state(snapshot, condition):
    """The poll outcome for a device snapshot: every route named present and every BGP session named established."""
    sections = (snapshot or {}).get("sections") or {}
    host = condition["host"]
    missing, seen = [], {}
    for key, section in (("route", "routes"), ("bgp_peer", "peers")):
        if key not in condition:
            continue
        if not isinstance(sections.get(section), dict):
            return poll_result(UNDECIDABLE, "%s's snapshot has no %s section" % (host, section))
        entry = sections[section].get(condition[key])
        if key == "route":
            seen["route"] = entry is not None
            if entry is None:
                missing.append("route %s absent" % condition[key])
        else:
            seen["bgp_state"] = (entry or {}).get("state") or "no such neighbor"
            if not (entry or {}).get("established"):
                missing.append("BGP session to %s %s" % (condition[key], seen["bgp_state"]))
    if missing:
        return poll_result(NOT_MET, "%s: %s" % (host, "; ".join(missing)), seen)
    return poll_result(MET, "%s: %s" % (host, sentence("device", condition).split(": ", 1)[1]), seen)


def device_poller(condition, take_snapshot):
    """A poll function for the device source; ``take_snapshot()`` returns the device's snapshot (the platform driver's)."""

    def poll():
        try:
            snapshot = take_snapshot()
        except GovernedChangeError as exc:
            return poll_result(UNDECIDABLE, "%s: no snapshot (%s)" % (condition["host"], exc.problem))
        return device_state(snapshot, condition)
    return poll


# ------------------------------------------------------------------------------------------------ webhook source
class _WebhookHandler(http.server.BaseHTTPRequestHandler):
    server_version = "governed-change-wait"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # no request line or header is ever logged
        return

    def _answer(self, status, text):
        body = json.dumps({"status": text}).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # pylint: disable=invalid-name  # http.server's handler name
        listener = self.server.listener
        verdict, status, text, document = listener.judge(self.path, self.headers, self._body())
        listener.note(verdict, document)
        self._answer(status, text)

    def _body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def do_GET(self):  # pylint: disable=invalid-name  # http.server's handler name
        self._answer(405, "POST only")

    do_PUT = do_DELETE = do_GET


class WebhookListener:
    """A small HTTP listener on 127.0.0.1:port that accepts POSTs to ``path`` carrying the shared secret in ``header``.

    Accepted bodies (JSON, or empty) are kept for the poll; a wrong or missing secret is answered 403 and counted,
    never logged. start() / close(); use as a context manager.
    """

    def __init__(self, condition, secret):
        if not secret:
            raise ValidationError("the webhook source needs a shared secret.", where="secret",
                                  fix="pass secret (no_log) or set the environment variable %s." % SECRET_ENV)
        self.condition = condition
        self._secret = secret.encode("utf-8")
        self.accepted, self.rejected = [], {}
        self._lock = threading.Lock()
        self.server = None
        self.thread = None

    def judge(self, path, headers, body):
        """(verdict, HTTP status, answer, document) of one request; the verdict is accepted or the rejection's cause."""
        if urllib.parse.urlsplit(path).path != self.condition["path"]:
            return "wrong path", 404, "not found", None
        given = (headers.get(self.condition["header"]) or "").encode("utf-8")
        if not hmac.compare_digest(given, self._secret):
            return "wrong or missing secret", 403, "forbidden", None
        if body is None:
            return "body too large", 413, "too large", None
        if not body.strip():
            return "accepted", 202, "accepted", {}
        try:
            return "accepted", 202, "accepted", json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "body not JSON", 400, "the body is not JSON", None

    def note(self, verdict, document):
        with self._lock:
            if verdict == "accepted":
                self.accepted.append(document)
            else:
                self.rejected[verdict] = self.rejected.get(verdict, 0) + 1

    def start(self):
        try:
            self.server = http.server.ThreadingHTTPServer((LISTEN_HOST, self.condition["port"]), _WebhookHandler)
        except OSError as exc:
            raise ValidationError("cannot listen on %s:%d (%s)." % (LISTEN_HOST, self.condition["port"], exc.strerror or exc),
                                  where="condition.port", fix="choose a free port for the webhook listener.")
        self.server.listener = self
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        return self

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def __call__(self):
        """One poll: met when an accepted POST satisfies the condition (any accepted POST without a query)."""
        with self._lock:
            accepted, rejected = list(self.accepted), dict(self.rejected)
        refused = "; refused: %s" % ", ".join("%s x%d" % item for item in sorted(rejected.items())) if rejected else ""
        if not accepted:
            return poll_result(NOT_MET, "no webhook with the shared secret received yet%s" % refused)
        if self.condition["compiled"] is None:
            return poll_result(MET, "a webhook with the shared secret was received (%d accepted)%s" % (len(accepted), refused))
        last = None
        for document in accepted:
            last = evaluate_query(self.condition["compiled"], document, self.condition["expected"], "the webhook body")
            if last["state"] != NOT_MET:
                return last
        return poll_result(NOT_MET, "%d webhook(s) received, none satisfies the condition: %s%s" % (len(accepted), last["detail"], refused))


# ------------------------------------------------------------------------------------------------ the wait
def summarize_polls(polls):
    """The polls as recorded: all of them up to POLLS_KEPT, else the first POLLS_HEAD and the last ones."""
    if len(polls) <= POLLS_KEPT:
        return list(polls), 0
    tail = POLLS_KEPT - POLLS_HEAD
    return polls[:POLLS_HEAD] + polls[-tail:], len(polls) - POLLS_KEPT


def _safe_poll(poll):
    try:
        return poll()
    except GovernedChangeError as exc:
        return poll_result(UNDECIDABLE, exc.problem)


def _ends(outcome, check_mode):
    """The decision a poll ends the wait with (None: keep waiting)."""
    state = outcome["state"]
    if state in (MET, UNDECIDABLE, NEVER):
        return state
    return NOT_MET if check_mode else None


def _loop(poll, spec, check_mode, monotonic, sleep):
    """Poll until a decision or the timeout; (decision, polls, elapsed)."""
    started, interval, polls = monotonic(), spec["interval_s"], []
    while True:
        outcome = _safe_poll(poll)
        elapsed = monotonic() - started
        polls.append(dict(outcome, attempt=len(polls) + 1, at_s=round(elapsed, 3)))
        decision = _ends(outcome, check_mode)
        if decision:
            return decision, polls, elapsed
        remaining = spec["timeout_s"] - elapsed
        if remaining <= 0:
            return "timeout", polls, elapsed
        sleep(min(interval, remaining))
        interval = min(interval * spec["backoff"], spec["max_interval_s"])


FIXES = {
    "timeout": "check why the dependency is not ready (see the last poll), then run the change again; raise timeout if it "
               "needs longer.",
    UNDECIDABLE: "fix what made the condition undecidable (see the last poll: the URL, the answer's JSON, the query, the "
                 "ledger or the device), then run the change again.",
    NEVER: "the dependency can no longer be met as asked: re-plan the change with its owner, then run it again.",
}


def _reason(decision, source, condition, polls, spec):
    what = sentence(source, condition)
    last = polls[-1]["detail"] if polls else "no poll"
    if decision == MET:
        return "the dependency is ready (%s) after %d poll(s): %s" % (what, len(polls), last)
    if decision == NOT_MET:
        return "check mode: the dependency is not ready yet (%s): %s; a real run waits up to %s s" % (what, last, spec["timeout_s"])
    if decision == "timeout":
        return "the dependency was not ready within %s s (%s); last poll: %s" % (spec["timeout_s"], what, last)
    if decision == NEVER:
        return "the dependency can never be ready (%s): %s" % (what, last)
    return "the dependency's condition could not be decided (%s): %s" % (what, last)


def wait_for(source, condition, spec, poll, check_mode=False, monotonic=time.monotonic, sleep=time.sleep, now=clock.utc_now):
    """Poll ``poll()`` under ``spec`` (see ``schedule``) and return the verdict.

    Verdict: {stage, source, condition (as recorded), decision (met, not_met in check mode, timeout, undecidable, never),
    passed, attempts, elapsed_s, timeout_s, schedule, started_at, ended_at, polls (summarized), polls_omitted, reason,
    fix (when failed)}. ``passed`` is true for met, and for not_met in check mode (nothing waited, nothing refused).
    """
    started_at = clock.iso_z(now(), precision="seconds")
    decision, polls, elapsed = _loop(poll, spec, check_mode, monotonic, sleep)
    kept, omitted = summarize_polls(polls)
    verdict = {"stage": STAGE, "source": source, "condition": describe(source, condition), "decision": decision,
               "passed": decision in (MET, NOT_MET), "attempts": len(polls), "elapsed_s": round(elapsed, 3),
               "timeout_s": spec["timeout_s"], "schedule": dict(spec), "started_at": started_at,
               "ended_at": clock.iso_z(now(), precision="seconds"), "polls": kept, "polls_omitted": omitted,
               "check_mode": bool(check_mode), "reason": _reason(decision, source, condition, polls, spec)}
    if not verdict["passed"]:
        verdict["fix"] = FIXES.get(decision, FIXES[UNDECIDABLE])
    return verdict


def not_required(source):
    """The verdict of a wait whose condition declares no dependency (allowed only with required: false)."""
    stamp = clock.iso_z(precision="seconds")
    return {"stage": STAGE, "source": source, "condition": {}, "decision": "not_required", "passed": True, "attempts": 0,
            "elapsed_s": 0.0, "timeout_s": 0, "schedule": {}, "started_at": stamp, "ended_at": stamp, "polls": [],
            "polls_omitted": 0, "check_mode": False,
            "reason": "no dependency declared for the %s source (%s not set): nothing to wait for" % (source, NAMING_KEY.get(source))}


def event_data(verdict):
    """What the ledger's wait.dependency event records: source, condition, attempts, elapsed, verdict and the polls."""
    keys = ("source", "condition", "decision", "passed", "attempts", "elapsed_s", "timeout_s", "started_at", "ended_at",
            "reason", "polls", "polls_omitted")
    return dict((key, verdict[key]) for key in keys if key in verdict)


def failure_message(verdict):
    """The stage's message when the wait failed closed."""
    return "%s. Fix: %s" % (verdict["reason"], verdict.get("fix") or FIXES[UNDECIDABLE])


def secret_from(option):
    """The webhook's shared secret: the option, else the environment variable GOVERNED_WAIT_SECRET ('' when neither)."""
    return option or os.environ.get(SECRET_ENV, "")


def run_wait(source, condition, spec, check_mode=False, required=True, take_snapshot=None, secret=None, fetch=http_get,
             monotonic=time.monotonic, sleep=time.sleep):
    """Validate the condition, open the source (the webhook listener, the ledger) and wait; the verdict (see wait_for)."""
    if not declared(source, condition) and not required:
        return not_required(source)
    condition = normalize_condition(source, condition)
    if source == "http":
        return wait_for(source, condition, spec, http_poller(condition, fetch), check_mode, monotonic, sleep)
    if source == "device":
        if take_snapshot is None:
            raise ValidationError("the device source needs a snapshot function.", where="device", fix="call it through the action.")
        return wait_for(source, condition, spec, device_poller(condition, take_snapshot), check_mode, monotonic, sleep)
    closer = LedgerPoller(condition) if source == "ledger" else WebhookListener(condition, secret_from(secret)).start()
    try:
        return wait_for(source, condition, spec, closer, check_mode, monotonic, sleep)
    finally:
        closer.close()


def record_wait(ledger_path, change_id, verdict, actor=ACTOR):
    """Append the wait's event (wait.dependency) to the waiting change's verified record; returns the event's seq."""
    ledger, _record = lifecycle.open_change(ledger_path, change_id)
    try:
        return ledger.append_event(change_id, EVENT_KIND, actor, event_data(verdict))["seq"]
    finally:
        ledger.close()
