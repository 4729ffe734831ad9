# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stakeholder notifications: the policy's ``notifications:`` section, who hears of which lifecycle event, the message
(built once from the change's record, redacted), its JSON / Slack / Teams / email forms, and delivery with bounded retry.

Secrets (webhook URLs, bearer tokens, SMTP passwords) never sit in the policy: it names the variable that holds each
one (``url_var``, ``token_var``, ``password_var``), and the caller resolves it from Ansible variables or the
environment. Delivery never raises for a delivery problem: every attempt is recorded and the caller carries on.
"""

from __future__ import annotations

import email.message
import email.utils
import functools
import json
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse

from ansible_collections.governed.change.plugins.module_utils.change_request import NAME_RE, join_path
from ansible_collections.governed.change.plugins.module_utils.clock import parse_instant
from ansible_collections.governed.change.plugins.module_utils.errors import MissingLibrary, ValidationError
from ansible_collections.governed.change.plugins.module_utils.escalation import RETRY_HTTP, backoff_delays, display_url
from ansible_collections.governed.change.plugins.module_utils.redact import REDACTED, redact_value

try:
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url
except ImportError:  # pragma: no cover
    open_url = None
    UrlsConnectionError = OSError

SCHEMA = "governed.change/notification/1"
EVENTS = ("scheduled", "approval_needed", "started", "succeeded", "failed", "rolled_back", "escalated")
CHANNEL_TYPES = ("webhook", "slack", "teams", "email")
TIERS = ("low", "medium", "high", "critical")
SECTION_KEYS = ("channels", "routes", "retries", "retry_delay", "timeout", "evidence_base_url")
CHANNEL_KEYS = {
    "webhook": ("name", "type", "url_var", "token_var", "validate_certs"),
    "slack": ("name", "type", "url_var", "validate_certs"),
    "teams": ("name", "type", "url_var", "validate_certs"),
    "email": ("name", "type", "to", "from", "smtp_host", "smtp_port", "starttls", "username", "password_var", "validate_certs"),
}
ROUTE_KEYS = ("name", "events", "sites", "tiers", "categories", "channels")
SECRET_KEYS = ("url", "token", "password", "webhook_url", "smtp_password")
VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
ADDRESS_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
MAX_RETRIES = 10
DEFAULTS = {"retries": 3, "retry_delay": 1.0, "timeout": 10.0, "evidence_base_url": None}
# event -> (title prefix, colour for the cards, one-line meaning)
EVENT_TEXT = {
    "scheduled": ("Change scheduled", "#439FE0", "is scheduled for its maintenance window"),
    "approval_needed": ("Approval needed", "#E0A800", "waits for approval before it can run"),
    "started": ("Change started", "#439FE0", "is being deployed now"),
    "succeeded": ("Change succeeded", "#2EB67D", "is in place and verified"),
    "failed": ("Change failed", "#E01E5A", "did not stay in place"),
    "rolled_back": ("Change rolled back", "#E01E5A", "failed and was rolled back"),
    "escalated": ("Change escalated", "#B00020", "needs a person: automation reached the edge of its authority"),
}


# ---------------------------------------------------------------------------------------------- the policy section
def validate_notifications(check, section, path="notifications"):
    """The policy's ``notifications:`` section, validated with the policy's ``check`` (a change_request.Checker) and
    normalized; every route's channels must be defined and no secret may be written in clear."""
    check.mapping(section, path, SECTION_KEYS, ("channels", "routes"))
    out = dict(DEFAULTS)
    out["retries"] = check.integer(section.get("retries", DEFAULTS["retries"]), join_path(path, "retries"), minimum=0, maximum=MAX_RETRIES)
    out["retry_delay"] = _seconds(check, section.get("retry_delay", DEFAULTS["retry_delay"]), join_path(path, "retry_delay"), 0)
    out["timeout"] = _seconds(check, section.get("timeout", DEFAULTS["timeout"]), join_path(path, "timeout"), 0.1)
    if section.get("evidence_base_url") is not None:
        out["evidence_base_url"] = _http_url(check, section["evidence_base_url"], join_path(path, "evidence_base_url"))
    channels = check.list_of(section["channels"], join_path(path, "channels"), nonempty=True,
                             hint="list the channels: - {name: netops-slack, type: slack, url_var: NETOPS_SLACK_WEBHOOK}.")
    out["channels"] = []
    for index, entry in enumerate(channels):
        out["channels"].append(_channel(check, entry, join_path(join_path(path, "channels"), index), out["channels"]))
    names = [channel["name"] for channel in out["channels"]]
    routes = check.list_of(section["routes"], join_path(path, "routes"), nonempty=True,
                           hint="list the routes: - {name: core, tiers: [high, critical], channels: [netops-slack]}.")
    out["routes"] = [_route(check, entry, join_path(join_path(path, "routes"), index), names) for index, entry in enumerate(routes)]
    return out


def _seconds(check, value, path, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum or value > 3600:
        check.fail(path, "must be a number of seconds from %s to 3600, got %r." % (minimum, value), "write e.g. 1 or 2.5.")
    return float(value)


def _http_url(check, value, path):
    check.string(value, path)
    if urllib.parse.urlsplit(value).scheme not in ("http", "https"):
        check.fail(path, "is not an http(s) URL.", "write e.g. https://evidence.example.com/governed-change/.")
    return value


def _refuse_clear_secrets(check, entry, path):
    for key in SECRET_KEYS:
        if key in entry:
            check.fail(join_path(path, key), "would keep a secret in the policy file in clear.",
                       "remove it and name the variable that holds it instead (url_var / token_var / password_var), set "
                       "in the environment or as an Ansible variable (vault).")


def _channel(check, entry, path, seen):
    if not isinstance(entry, dict):
        check.fail(path, "must be a mapping.", "write {name, type, ...}.")
    _refuse_clear_secrets(check, entry, path)
    kind = check.string(entry.get("type"), join_path(path, "type"), choices=CHANNEL_TYPES)
    check.mapping(entry, path, CHANNEL_KEYS[kind], ("name", "type", "to", "from", "smtp_host") if kind == "email" else ("name", "type", "url_var"))
    name = check.string(entry["name"], join_path(path, "name"), pattern=NAME_RE)
    if name in [channel["name"] for channel in seen]:
        check.fail(join_path(path, "name"), "'%s' names two channels." % name, "give every channel its own name.")
    out = {"name": name, "type": kind, "validate_certs": check.boolean(entry.get("validate_certs", True), join_path(path, "validate_certs"))}
    for key in ("url_var", "token_var", "password_var"):
        if key in entry:
            out[key] = check.string(entry[key], join_path(path, key), pattern=VAR_RE,
                                    hint="name an environment or Ansible variable, e.g. NETOPS_SLACK_WEBHOOK.")
    if kind == "email":
        out.update(_email_settings(check, entry, path))
    return out


def _email_settings(check, entry, path):
    to = check.string_list(entry["to"], join_path(path, "to"), nonempty=True, hint="list addresses such as netops@example.com.")
    for index, address in enumerate(to):
        check.string(address, join_path(join_path(path, "to"), index), pattern=ADDRESS_RE, hint="write an address such as netops@example.com.")
    sender = check.string(entry["from"], join_path(path, "from"), pattern=ADDRESS_RE, hint="write an address such as governed-change@example.com.")
    out = {"to": to, "from": sender,
           "smtp_host": check.string(entry["smtp_host"], join_path(path, "smtp_host")),
           "smtp_port": check.integer(entry.get("smtp_port", 25), join_path(path, "smtp_port"), minimum=1, maximum=65535),
           "starttls": check.boolean(entry.get("starttls", False), join_path(path, "starttls"))}
    if "username" in entry:
        out["username"] = check.string(entry["username"], join_path(path, "username"))
        if "password_var" not in entry:
            check.fail(join_path(path, "password_var"), "is required when username is set.", "name the variable holding the SMTP password.")
    return out


def _route(check, entry, path, channel_names):
    check.mapping(entry, path, ROUTE_KEYS, ("channels",))
    out = {"name": check.string(entry.get("name", path), join_path(path, "name")),
           "events": check.string_list(entry.get("events", list(EVENTS)), join_path(path, "events"), nonempty=True, choices=EVENTS),
           "sites": check.string_list(entry.get("sites", []), join_path(path, "sites")),
           "tiers": check.string_list(entry.get("tiers", []), join_path(path, "tiers"), choices=TIERS),
           "categories": check.string_list(entry.get("categories", []), join_path(path, "categories")),
           "channels": check.string_list(entry["channels"], join_path(path, "channels"), nonempty=True)}
    for index, name in enumerate(out["channels"]):
        if name not in channel_names:
            check.fail(join_path(join_path(path, "channels"), index), "'%s' is not a channel of notifications.channels." % name,
                       "define it under notifications.channels or use one of: %s." % ", ".join(channel_names))
    return out


# ---------------------------------------------------------------------------------------------- who hears of what
def change_scope(assessment):
    """{tier, category, sites} of a change, from its assessment (what the routes match on)."""
    assessment = assessment or {}
    facts = assessment.get("facts") or {}
    sites = facts.get("sites") or sorted({t.get("site") for t in facts.get("targets") or [] if isinstance(t, dict) and t.get("site")})
    return {"tier": assessment.get("tier"), "category": assessment.get("category"), "sites": list(sites or [])}


def route_matches(route, event, scope):
    """A route matches when it lists the event and each of its filters (sites: any overlap; tiers; categories) holds;
    an empty filter matches everything."""
    if event not in route["events"]:
        return False
    if route["sites"] and not set(route["sites"]) & set(scope.get("sites") or []):
        return False
    if route["tiers"] and scope.get("tier") not in route["tiers"]:
        return False
    return not route["categories"] or scope.get("category") in route["categories"]


def recipients(notifications, event, scope):
    """The channels that hear of ``event`` for a change of ``scope``: every matching route's channels, each once, in the
    order notifications.channels lists them; [] when the policy has no notifications section."""
    if not notifications:
        return []
    if event not in EVENTS:
        raise ValidationError("%r is not a notification event." % (event,), where="event", fix="use one of %s." % ", ".join(EVENTS))
    wanted = {name for route in notifications["routes"] if route_matches(route, event, scope) for name in route["channels"]}
    return [channel for channel in notifications["channels"] if channel["name"] in wanted]


def scheduled_due(assessment, now):
    """A 'scheduled' notice is sent ahead of the requested window only: (due, why not)."""
    window = (assessment or {}).get("window") or {}
    if not window.get("start"):
        return False, "the change requests no window"
    if parse_instant(window["start"], where="window.start") <= now:
        return False, "the requested window has already started"
    return True, ""


# ---------------------------------------------------------------------------------------------- the message
RECORD_KEYS = ("change_id", "title", "tier", "change_class", "category", "author", "hosts", "facts", "window")


def evidence_link(path, output_dir, base_url):
    """A file under output_dir as a link: base_url + its relative path when a base URL is set, else the path."""
    if not path:
        return None
    if base_url and output_dir:
        relative = os.path.relpath(path, output_dir)
        if not relative.startswith(".."):
            return base_url.rstrip("/") + "/" + urllib.parse.quote(relative.replace(os.sep, "/"))
    return path


def _links(run, output_dir, base_url):
    out = []
    for label, key in (("Report", "report"), ("Evidence bundle", "bundle"), ("Escalation packet", "escalation"), ("Runbook", "runbook")):
        link = evidence_link(run.get(key), output_dir, base_url)
        if link:
            out.append({"label": label, "url": link})
    for label, url in sorted((run.get("links") or {}).items()):
        if isinstance(url, str) and url:
            out.append({"label": str(label), "url": url})
    return out


def build_message(event, assessment, run=None, output_dir=None, base_url=None, secrets=()):
    """The one message of a notification, from the change's record: id, title, targets, tier, window, outcome,
    escalation reason and links to its evidence; redacted (secret-looking text, secret keys, and every resolved
    secret value in ``secrets``)."""
    if event not in EVENT_TEXT:
        raise ValidationError("%r is not a notification event." % (event,), where="event", fix="use one of %s." % ", ".join(EVENTS))
    # redact the parts before they are composed: the config-line rules match a secret at the start of a line
    assessment = scrub(redact_value({key: (assessment or {}).get(key) for key in RECORD_KEYS}), secrets)
    run = scrub(redact_value(run or {}), secrets)
    title, color, meaning = EVENT_TEXT[event]
    change_id = run.get("change_id") or assessment.get("change_id") or "(unknown change)"
    scope = change_scope(assessment)
    window = assessment.get("window") or {}
    message = {
        "schema": SCHEMA, "event": event, "change_id": change_id, "color": color,
        "title": "%s: %s %s" % (title, change_id, assessment.get("title") or ""),
        "text": "%s (%s) %s." % (change_id, assessment.get("title") or "untitled", meaning),
        "tier": assessment.get("tier"), "change_class": assessment.get("change_class"), "category": assessment.get("category"),
        "author": assessment.get("author"), "targets": sorted(assessment.get("hosts") or []), "sites": scope["sites"],
        "window": {"start": window.get("start"), "end": window.get("end")} if window else None,
        "outcome": run.get("outcome") or None, "reason": run.get("reason") or None, "stage_failed": run.get("stage_failed") or None,
        "summary": run.get("summary") or None, "links": _links(run, output_dir, base_url),
    }
    message["title"] = message["title"].strip()
    return scrub(message, secrets)


def facts_of(message):
    """(label, value) pairs shown by every format, in one order; empty ones left out."""
    window = message.get("window") or {}
    pairs = [("Change", message["change_id"]), ("Tier", message.get("tier")), ("Class", message.get("change_class")),
             ("Category", message.get("category")), ("Targets", ", ".join(message.get("targets") or [])),
             ("Sites", ", ".join(message.get("sites") or [])),
             ("Window", "%s - %s" % (window["start"], window["end"]) if window.get("start") else None),
             ("Outcome", message.get("outcome")), ("Failed stage", message.get("stage_failed")),
             ("Escalation reason", message.get("reason")), ("Summary", message.get("summary"))]
    return [(label, str(value)) for label, value in pairs if value]


def plain_text(message):
    lines = [message["title"], "", message["text"], ""]
    lines.extend("%s: %s" % pair for pair in facts_of(message))
    if message["links"]:
        lines.append("")
        lines.extend("%s: %s" % (link["label"], link["url"]) for link in message["links"])
    return "\n".join(lines) + "\n"


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def json_payload(message):
    """The generic webhook body: the message itself plus a plain-text rendering."""
    return dict(message, text_plain=plain_text(message))


def slack_payload(message):
    """A Slack incoming-webhook body: ``text`` (fallback and notification text) and Block Kit ``blocks``."""
    fields = [{"type": "mrkdwn", "text": _clip("*%s*\n%s" % pair, 2000)} for pair in facts_of(message)[:10]]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": _clip(message["title"], 150)}},
              {"type": "section", "text": {"type": "mrkdwn", "text": _clip(message["text"], 3000)}}]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if message["links"]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            "\n".join("<%s|%s>" % (link["url"], link["label"]) if "://" in link["url"] else "%s: `%s`" % (link["label"], link["url"])
                      for link in message["links"]), 3000)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "governed.change %s" % message["event"]}]})
    return {"text": _clip(message["title"], 3000), "blocks": blocks}


def teams_payload(message):
    """A Microsoft Teams body: an Adaptive Card (1.4) in a message attachment, the form Teams' Workflows webhooks
    ("post to a channel when a webhook request is received") accept."""
    body = [{"type": "TextBlock", "size": "Large", "weight": "Bolder", "text": message["title"], "wrap": True},
            {"type": "TextBlock", "text": message["text"], "wrap": True},
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in facts_of(message)]}]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}
    actions = [{"type": "Action.OpenUrl", "title": link["label"], "url": link["url"]} for link in message["links"] if "://" in link["url"]]
    local = [link for link in message["links"] if "://" not in link["url"]]
    if local:
        body.append({"type": "FactSet", "facts": [{"title": link["label"], "value": link["url"]} for link in local]})
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def email_message(message, channel):
    """A text/plain email (RFC 5322) to the channel's addresses."""
    mail = email.message.EmailMessage()
    mail["Subject"] = _clip(message["title"], 200)
    mail["From"] = channel["from"]
    mail["To"] = ", ".join(channel["to"])
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["X-Governed-Change"] = "%s %s" % (message["change_id"], message["event"])
    mail.set_content(plain_text(message))
    return mail


PAYLOADS = {"webhook": json_payload, "slack": slack_payload, "teams": teams_payload}


# ---------------------------------------------------------------------------------------------- secrets
def resolve_secrets(channel, lookup):
    """{url, token, password} of a channel from the variables the policy names; ``lookup(name)`` returns the value or
    None. Returns (secrets, problem): a problem names the missing variable, never a value."""
    secrets = {}
    for key, field in (("url", "url_var"), ("token", "token_var"), ("password", "password_var")):
        name = channel.get(field)
        if not name:
            continue
        value = lookup(name)
        if value in (None, ""):
            return secrets, "the variable %s (%s of channel %s) is not set" % (name, field, channel["name"])
        secrets[key] = str(value)
    if channel["type"] != "email":
        parts = urllib.parse.urlsplit(secrets.get("url", ""))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return secrets, "the variable %s of channel %s does not hold an http(s) URL" % (channel.get("url_var"), channel["name"])
    return secrets, None


def scrub(value, secrets):
    """``value`` with every occurrence of each secret value replaced (error texts of HTTP/SMTP libraries may quote a
    URL or a credential)."""
    secrets = [s for s in secrets or () if isinstance(s, str) and len(s) >= 4]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return dict((key, scrub(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    return value


def target_of(channel, secrets):
    """Where a notification went, fit for logs and the ledger: scheme and host of a webhook (its path is its secret),
    the SMTP server and addresses of an email."""
    if channel["type"] == "email":
        return "smtp://%s:%d -> %s" % (channel["smtp_host"], channel["smtp_port"], ", ".join(channel["to"]))
    return display_url(secrets.get("url")) if secrets.get("url") else None


# ---------------------------------------------------------------------------------------------- delivery
def deliver(attempt, retries=3, retry_delay=1.0, sleep=time.sleep):
    """Call ``attempt()`` until it succeeds, fails for good, or ``retries`` retries are spent (exponential backoff).

    ``attempt`` returns {ok, status, error, retryable}. Returns {delivered, attempts, status, error, log, elapsed_s};
    never raises for a delivery problem (an attempt that raises counts as a failed, non-retryable attempt)."""
    delays = backoff_delays(retries, retry_delay)
    log = []
    start = time.monotonic()
    while True:
        try:
            result = attempt()
        except Exception as exc:  # pylint: disable=broad-except  # a notification must never stop the run
            result = {"ok": False, "status": None, "error": "%s: %s" % (type(exc).__name__, exc), "retryable": False}
        log.append({"attempt": len(log) + 1, "ok": bool(result["ok"]), "status": result.get("status"), "error": result.get("error")})
        if result["ok"] or not result.get("retryable") or len(log) > len(delays):
            break
        sleep(delays[len(log) - 1])
    last = log[-1]
    return {"delivered": last["ok"], "attempts": len(log), "status": last["status"], "error": last["error"], "log": log,
            "elapsed_s": round(time.monotonic() - start, 3)}


def http_attempt(url, payload, token=None, timeout=10.0, validate_certs=True):
    """One POST of ``payload`` as JSON; retryable: connection errors, timeouts, 408/425/429 and 5xx."""
    if open_url is None:  # pragma: no cover
        raise MissingLibrary("ansible-core (ansible.module_utils.urls)", "to send a notification webhook")
    headers = {"Content-Type": "application/json", "User-Agent": "governed.change-notify"}
    if token:
        headers["Authorization"] = "Bearer %s" % token
    body = json.dumps(payload, sort_keys=True).encode("utf-8")
    try:
        response = open_url(url, data=body, method="POST", timeout=timeout, validate_certs=validate_certs, headers=headers,
                            follow_redirects="none", use_proxy=True, use_netrc=False)
        try:
            status = response.getcode()
            response.read()
        finally:
            response.close()
    except urllib.error.HTTPError as exc:
        return {"ok": False, "status": exc.code, "error": "HTTP %d" % exc.code, "retryable": exc.code in RETRY_HTTP}
    except (urllib.error.URLError, UrlsConnectionError, OSError) as exc:
        return {"ok": False, "status": None, "error": str(getattr(exc, "reason", exc)), "retryable": True}
    ok = 200 <= status < 300
    return {"ok": ok, "status": status, "error": None if ok else "HTTP %d" % status, "retryable": False}


def smtp_attempt(channel, mail, password=None, timeout=10.0):
    """One SMTP delivery (STARTTLS when the channel says so, login when it names a user); retryable: connection
    problems and 4xx replies. Refused recipients, failed logins and an extension the server does not offer are final."""
    try:
        with smtplib.SMTP(channel["smtp_host"], channel["smtp_port"], timeout=timeout) as server:
            if channel.get("starttls"):
                context = ssl.create_default_context()
                if not channel.get("validate_certs", True):
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                server.starttls(context=context)
            if channel.get("username"):
                server.login(channel["username"], password or "")
            refused = server.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        return {"ok": False, "status": None, "error": "recipients refused: %s" % ", ".join(sorted(exc.recipients)), "retryable": False}
    except smtplib.SMTPAuthenticationError as exc:
        return {"ok": False, "status": exc.smtp_code, "error": "SMTP login refused (%d)" % exc.smtp_code, "retryable": False}
    except smtplib.SMTPResponseException as exc:
        return {"ok": False, "status": exc.smtp_code, "error": "SMTP %d %s" % (exc.smtp_code, _text(exc.smtp_error)),
                "retryable": 400 <= exc.smtp_code < 500}
    except smtplib.SMTPNotSupportedError as exc:  # e.g. AUTH offered only after STARTTLS: a setting to fix, not a blip
        return {"ok": False, "status": None, "error": "SMTP: %s" % exc, "retryable": False}
    except (smtplib.SMTPException, OSError) as exc:
        return {"ok": False, "status": None, "error": "%s: %s" % (type(exc).__name__, exc), "retryable": True}
    if refused:
        return {"ok": False, "status": None, "error": "recipients refused: %s" % ", ".join(sorted(refused)), "retryable": False}
    return {"ok": True, "status": 250, "error": None, "retryable": False}


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def send(channel, message, secrets, settings, sleep=time.sleep):
    """Deliver one message on one channel with the section's retry settings; the result is scrubbed of secrets."""
    timeout, validate = settings["timeout"], channel.get("validate_certs", True)
    if channel["type"] == "email":
        attempt = functools.partial(smtp_attempt, channel, email_message(message, channel), secrets.get("password"), timeout)
    else:
        attempt = functools.partial(http_attempt, secrets["url"], PAYLOADS[channel["type"]](message), secrets.get("token"), timeout, validate)
    result = deliver(attempt, settings["retries"], settings["retry_delay"], sleep=sleep)
    return scrub(result, secrets.values())


def not_sent(problem):
    """The delivery record of a notification that could not be attempted (a secret variable missing)."""
    return {"delivered": False, "attempts": 0, "status": None, "error": problem, "log": [], "elapsed_s": 0.0}


def ledger_event(event, channel, target, delivery):
    """(kind, data) of the ledger event of one notification: recipient ids and results, never a secret."""
    kind = "notification.delivered" if delivery["delivered"] else "notification.failed"
    return kind, {"event": event, "channel": channel["name"], "type": channel["type"], "recipient": target,
                  "delivered": delivery["delivered"], "attempts": delivery["attempts"], "status": delivery["status"],
                  "error": delivery["error"], "log": delivery["log"]}


def notify_all(notifications, event, message, channels, lookup, sleep=time.sleep):
    """Send ``message`` on each of ``channels`` (see recipients) with the section's retry settings; one result per
    channel: {event, channel, type, recipient, delivered, attempts, status, error, log, elapsed_s}. Never raises for
    a delivery problem; a channel whose secret variable is unset is recorded as not sent (0 attempts)."""
    results = []
    for channel in channels:
        secrets, problem = resolve_secrets(channel, lookup)
        target = target_of(channel, secrets) if not problem else (target_of(channel, {}) if channel["type"] == "email" else None)
        delivery = not_sent(problem) if problem else send(channel, scrub(message, secrets.values()), secrets, notifications, sleep=sleep)
        results.append(dict(delivery, channel=channel["name"], type=channel["type"], recipient=target, event=event))
    return results
