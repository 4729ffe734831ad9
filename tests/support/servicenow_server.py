# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local stand-in for a ServiceNow instance's REST Table and Attachment APIs (no tests here).

Implements what governed.change's adapter and servicenow.itsm's change_request / attachment modules call, in
ServiceNow's documented request and response shapes: ``{"result": ...}`` bodies, ``{"error": {"message", "detail"},
"status": "failure"}`` errors, reference fields as ``{"link", "value"}`` (bare with ``sysparm_exclude_reference_link``),
dot-walked ``sysparm_fields`` (``approver.user_name``), name-value pair filters, ``sysparm_limit``/``sysparm_offset``
with ``X-Total-Count``, DELETE, ``sysparm_query`` with ``^`` (AND), ``^OR``, ``!=``, ``LIKE`` and ``ORDERBY``/``ORDERBYDESC``,
journal fields (``work_notes``, ``comments``) written to ``sys_journal_field`` and read back empty, and the
change_request state model (one step at a time; closing needs close_code and close_notes) as a data policy would
refuse it. It is a stand-in, not ServiceNow: the tests say so (docs/itsm.md).

Times come from a ticking clock (one second per write, from clock.utc_now()), so the order of writes is the order of
their ``sys_created_on``/``sys_updated_on`` even within one real second.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import threading
import urllib.parse
import uuid

from ansible_collections.governed.change.plugins.module_utils.clock import iso_z, utc_now

# reference field -> table it points to (for {"link", "value"} and dot-walking)
REFERENCES = {"approver": "sys_user", "sysapproval": "change_request", "document_id": "change_request", "user": "sys_user",
              "group": "sys_user_group", "cmdb_ci": "cmdb_ci", "task": "change_request", "ci_item": "cmdb_ci",
              "assignment_group": "sys_user_group", "assigned_to": "sys_user", "requested_by": "sys_user"}
JOURNAL = ("work_notes", "comments")
# the change state models per type (state values), as ServiceNow's Change Management - State Model plugin defines them
CHANGE_PATHS = {"normal": ("-5", "-4", "-3", "-2", "-1", "0", "3"), "standard": ("-5", "-2", "-1", "0", "3"),
                "emergency": ("-5", "-3", "-2", "-1", "0", "3")}
CANCELED = "4"


def _error(message, detail=""):
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


class ServiceNowStandIn:
    """The instance: tables of records, attachments, a request log; run it with ``with ServiceNowStandIn(...) as sn``."""

    def __init__(self, users=None, token=None):
        self.users = dict(users or {"admin": "admin-secret"})  # basic auth user -> password
        self.token = token  # an accepted OAuth bearer token, when set
        self.tables = {}
        self.files = {}  # attachment sys_id -> bytes
        self.requests = []  # (method, path, query, user) of every authenticated call
        self.state_changes = []  # (change sys_id, old state, new state, time) in order
        self.refused = []  # (method, path, status, message)
        self.lock = threading.Lock()
        self._now = utc_now().replace(microsecond=0)
        self._numbers = {"change_request": 30000}
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- data ---------------------------------------------------------------------------------------------------
    def tick(self):
        """The next write's time, as ServiceNow's UTC glide_date_time text."""
        self._now += datetime.timedelta(seconds=1)
        return iso_z(self._now, precision="seconds").replace("T", " ").rstrip("Z")

    def insert(self, table, fields, user="admin"):
        """Insert a record as the instance would (sys_id, number, audit fields); journal fields go to the journal."""
        with self.lock:
            now = self.tick()
            record = {"sys_id": uuid.uuid4().hex, "sys_created_on": now, "sys_updated_on": now, "sys_created_by": user,
                      "sys_updated_by": user}
            if table in self._numbers:
                self._numbers[table] += 1
                record["number"] = "CHG%07d" % self._numbers[table]
            notes = {key: fields.pop(key) for key in JOURNAL if key in fields}
            record.update({key: "" if value is None else str(value) if not isinstance(value, str) else value
                           for key, value in fields.items()})
            record.setdefault("state", "-5" if table == "change_request" else "")
            for key in JOURNAL:
                record[key] = ""
            self.tables.setdefault(table, {})[record["sys_id"]] = record
            self._journal(table, record["sys_id"], notes, user)
            return record

    def _journal(self, table, sys_id, notes, user):
        for element, value in notes.items():
            if value:
                entry = {"sys_id": uuid.uuid4().hex, "element": element, "element_id": sys_id, "name": table, "value": value,
                         "sys_created_on": self.tick(), "sys_created_by": user}
                self.tables.setdefault("sys_journal_field", {})[entry["sys_id"]] = entry

    def update(self, table, sys_id, fields, user="admin"):
        """Update a record; returns (status, record or error document). The change state model is enforced."""
        with self.lock:
            record = self.tables.get(table, {}).get(sys_id)
            if record is None:
                return 404, _error("No Record found", "Record doesn't exist or ACL restricts the record retrieval")
            fields = dict(fields)
            notes = {key: fields.pop(key) for key in JOURNAL if key in fields}
            if table == "change_request" and "state" in fields:
                problem = self._state_problem(record, fields)
                if problem:
                    return 403, _error("Operation Failed", problem)
                if str(fields["state"]) != record["state"]:
                    self.state_changes.append((sys_id, record["state"], str(fields["state"]), self._now))
            record.update({key: "" if value is None else str(value) for key, value in fields.items()})
            record["sys_updated_on"], record["sys_updated_by"] = self.tick(), user
            self._journal(table, sys_id, notes, user)
            return 200, record

    @staticmethod
    def _state_problem(record, fields):
        old, new = record["state"], str(fields["state"])
        if new == old:
            return None
        if old in ("3", CANCELED):
            return "the change request is closed or canceled"
        path = CHANGE_PATHS.get(record.get("type") or "normal", CHANGE_PATHS["normal"])
        if new == CANCELED or (new in ("-4", "-5") and new in path and old in ("-3", "-2")):
            return None  # cancel; back to Assess or New (a re-assessment)
        if new not in path or old not in path or path.index(new) != path.index(old) + 1:
            return "state %s cannot follow state %s (the %s state model moves one step at a time)" % (
                new, old, record.get("type") or "normal")
        if new == "3" and not ((fields.get("close_code") or record.get("close_code")) and
                               (fields.get("close_notes") or record.get("close_notes"))):
            return "Data Policy Exception: Close code, Close notes are mandatory to close the change"
        return None

    def records(self, table):
        return list(self.tables.get(table, {}).values())

    def journal(self, sys_id, element="work_notes"):
        """The journal entries of a record, oldest first."""
        rows = [row for row in self.records("sys_journal_field") if row["element_id"] == sys_id and row["element"] == element]
        return sorted(rows, key=lambda row: row["sys_created_on"])

    def attach(self, table, sys_id, file_name, content_type, payload, user="admin"):
        with self.lock:
            attachment = {"sys_id": uuid.uuid4().hex, "file_name": file_name, "table_name": table, "table_sys_id": sys_id,
                          "content_type": content_type, "size_bytes": str(len(payload)),
                          "hash": hashlib.sha256(payload).hexdigest(), "sys_created_on": self.tick(), "sys_created_by": user,
                          "download_link": "%s/api/now/attachment/PLACEHOLDER/file" % self.url}
            attachment["download_link"] = attachment["download_link"].replace("PLACEHOLDER", attachment["sys_id"])
            self.tables.setdefault("sys_attachment", {})[attachment["sys_id"]] = attachment
            self.files[attachment["sys_id"]] = payload
            return attachment

    # -- reading ------------------------------------------------------------------------------------------------
    def shown(self, table, record, fields, links=True):
        """A record as the Table API returns it: references as {link, value} (a bare sys_id with
        sysparm_exclude_reference_link=true), dot-walked fields resolved."""
        names = fields or list(record)
        out = {}
        for name in names:
            value = self._value(table, record, name)
            out[name] = value["value"] if isinstance(value, dict) and not links else value
        return out

    def _value(self, table, record, name):
        head, _dot, rest = name.partition(".")
        value = record.get(head, "")
        target = REFERENCES.get(head)
        if rest:
            referenced = self.tables.get(target, {}).get(value) if target else None
            return self._value(target, referenced, rest) if referenced else ""
        if target and value:
            return {"link": "%s/api/now/table/%s/%s" % (self.url, target, value), "value": value}
        return value

    def listed(self, table, query):
        """(one page of records, total count) of a list call: the encoded query (sysparm_query) and the name-value pair
        filters (field=value parameters), then sysparm_offset and sysparm_limit, as the Table and Attachment APIs page."""
        filters = "^".join("%s=%s" % (key, value) for key, value in sorted(query.items()) if not key.startswith("sysparm_"))
        rows = self.select(table, "^".join(part for part in (query.get("sysparm_query"), filters) if part))
        offset, limit = int(query.get("sysparm_offset") or 0), int(query.get("sysparm_limit") or 10000)
        return rows[offset:offset + limit], len(rows)

    def select(self, table, query):
        """The records matching an encoded query, ordered as it asks."""
        rows = self.records(table)
        order = []
        terms = []
        for term in (query or "").split("^"):
            if term.startswith("ORDERBYDESC"):
                order.append((term[len("ORDERBYDESC"):], True))
            elif term.startswith("ORDERBY"):
                order.append((term[len("ORDERBY"):], False))
            elif term.startswith("OR") and terms:
                terms[-1].append(term[2:])
            elif term:
                terms.append([term])
        rows = [row for row in rows if all(any(self._matches(table, row, alt) for alt in group) for group in terms)]
        for field, desc in reversed(order):
            rows.sort(key=lambda row, f=field: str(self._plain(table, row, f)), reverse=desc)
        return rows

    def _plain(self, table, row, field):
        value = self._value(table, row, field)
        return value["value"] if isinstance(value, dict) else value

    def _matches(self, table, row, term):
        for op in ("!=", "LIKE", "="):
            if op in term:
                field, value = term.split(op, 1)
                actual = str(self._plain(table, row, field))
                if op == "!=":
                    return actual != value
                if op == "LIKE":
                    return value in actual
                return actual == value
        return False

    # -- HTTP -----------------------------------------------------------------------------------------------------
    def _user(self, header):
        if not header:
            return None
        scheme, _space, credential = header.partition(" ")
        if scheme == "Bearer" and self.token and credential == self.token:
            return "oauth"
        if scheme == "Basic":
            try:
                user, _colon, password = base64.b64decode(credential).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if self.users.get(user) == password:
                return user
        return None

    def _handler(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, code, doc=None, raw=None, content_type="application/json", total=None):
                body = raw if raw is not None else b"" if doc is None else json.dumps(doc).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if total is not None:
                    self.send_header("X-Total-Count", str(total))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                user = outer._user(self.headers.get("Authorization"))
                if user is None:
                    outer.refused.append((method, parts.path, 401, "User Not Authenticated"))
                    return self._send(401, _error("User Not Authenticated", "Required to provide Auth information"))
                outer.requests.append((method, parts.path, query, user))
                code, doc, raw, kind = outer.dispatch(method, parts.path, query, body, self.headers.get("Content-Type"), user)
                if code >= 400:
                    outer.refused.append((method, parts.path, code, (doc or {}).get("error", {}).get("detail")))
                total = doc.pop("total", None) if isinstance(doc, dict) else None
                return self._send(code, doc, raw, kind or "application/json", total)

            def do_GET(self):  # noqa: N802 - http.server's name
                self._route("GET")

            def do_POST(self):  # noqa: N802
                self._route("POST")

            def do_PATCH(self):  # noqa: N802
                self._route("PATCH")

            def do_PUT(self):  # noqa: N802
                self._route("PATCH")

            def do_DELETE(self):  # noqa: N802
                self._route("DELETE")

            def log_message(self, *args):  # quiet
                pass

        return Handler

    def dispatch(self, method, path, query, body, content_type, user):
        """(status, JSON document, raw bytes, content type) of one API call."""
        segments = [part for part in path.split("/") if part]
        if segments[:3] == ["api", "now", "table"] and len(segments) in (4, 5):
            return self._table(method, segments[3], segments[4] if len(segments) == 5 else None, query, body, user)
        if segments[:3] == ["api", "now", "attachment"]:
            return self._attachment(method, segments[3:], query, body, content_type, user)
        return 400, _error("Invalid URL", path), None, None

    def _table(self, method, table, sys_id, query, body, user):
        fields = [name for name in query.get("sysparm_fields", "").split(",") if name]
        links = query.get("sysparm_exclude_reference_link") != "true"
        if method == "GET" and sys_id is None:
            rows, total = self.listed(table, query)
            return 200, {"result": [self.shown(table, row, fields, links) for row in rows], "total": total}, None, None
        record = self.tables.get(table, {}).get(sys_id) if sys_id else None
        if sys_id and record is None:
            return 404, _error("No Record found", "Record doesn't exist or ACL restricts the record retrieval"), None, None
        if method == "GET":
            return 200, {"result": self.shown(table, record, fields, links)}, None, None
        if method == "DELETE":
            with self.lock:
                del self.tables[table][sys_id]
            return 204, None, None, None
        try:
            doc = json.loads(body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return 400, _error("Exception while reading request", "The payload is not valid JSON."), None, None
        if method == "POST" and sys_id is None:
            return 201, {"result": self.shown(table, self.insert(table, doc, user), fields)}, None, None
        if method == "PATCH" and sys_id:
            code, record = self.update(table, sys_id, doc, user)
            return code, ({"result": self.shown(table, record, fields, links)} if code == 200 else record), None, None
        return 405, _error("Method not Supported", method), None, None

    def _attachment(self, method, rest, query, body, content_type, user):
        if method == "POST" and rest == ["file"]:
            missing = [key for key in ("table_name", "table_sys_id", "file_name") if not query.get(key)]
            if missing:
                return 400, _error("Invalid request", "missing %s" % ", ".join(missing)), None, None
            if query["table_sys_id"] not in self.tables.get(query["table_name"], {}):
                return 404, _error("No Record found", "the record to attach to does not exist"), None, None
            shown = self.attach(query["table_name"], query["table_sys_id"], query["file_name"], content_type, body, user)
            return 201, {"result": shown}, None, None
        if method == "GET" and not rest:
            rows, total = self.listed("sys_attachment", query)
            return 200, {"result": rows, "total": total}, None, None
        if method == "DELETE" and len(rest) == 1 and rest[0] in self.files:
            with self.lock:
                del self.files[rest[0]]
                del self.tables["sys_attachment"][rest[0]]
            return 204, None, None, None
        if method == "GET" and len(rest) == 2 and rest[1] == "file" and rest[0] in self.files:
            return 200, None, self.files[rest[0]], self.tables["sys_attachment"][rest[0]]["content_type"]
        return 404, _error("No Record found", "/".join(rest)), None, None
