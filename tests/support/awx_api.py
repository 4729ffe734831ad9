# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local HTTP server answering as the AWX v2 API does for the calls awx.awx's modules and its controller_api lookup
make, keeping the objects it is sent and recording every request (no tests here).

What it answers (the shapes of AWX 24, awx/api): lists ``GET /api/v2/<endpoint>/?name=...`` as {count, next, previous,
results}, with AWX's filters: a field equals a value, ``or__id``/``or__name``, and ``type`` matched against each object's
type (as AWX's TypeFilterBackend does: ``unified_job_templates?type=workflow_approval`` matches no template, an approval
template's type being ``workflow_approval_template``); ``POST`` creates (201, the object with id, url, type, related);
``GET``/``PATCH``/``DELETE`` on ``<endpoint>/<id>/``; association sub-lists (``<object>/<id>/success_nodes/`` ...: GET the
list, POST {id} or {id, disassociate}: 204); ``workflow_job_template_nodes/<id>/create_approval_template/`` creates the
node's approval template (or a second POST there updates it) and links it as the node's unified_job_template;
``unified_job_templates`` lists job, workflow, approval templates, projects and inventory sources together (one id space,
as in AWX); ``ping``, ``config`` and ``me``. A fresh server holds organization Default and the managed credential type
Machine, as a fresh AWX does. Every request needs ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import http.server
import json
import threading
from urllib.parse import parse_qsl, urlsplit

from receivers import JsonHandler

UJT_ENDPOINTS = ("job_templates", "workflow_job_templates", "workflow_approval_templates", "projects", "inventory_sources")
TYPES = {"inventories": "inventory", "workflow_approval_templates": "workflow_approval_template"}
NOT_FILTERS = ("page", "page_size", "order_by")


def _type(endpoint):
    return TYPES.get(endpoint, endpoint[:-1] if endpoint.endswith("s") else endpoint)


class FakeAwx:
    """The server's state: objects per endpoint ({endpoint: {id: object}}), one id space, and the requests it was sent."""

    def __init__(self, token):
        self.token = token
        self.objects = {}
        self.requests = []
        self.lock = threading.Lock()
        self.next_id = 1
        self.create("organizations", {"name": "Default", "description": ""})
        self.create("credential_types", {"name": "Machine", "kind": "ssh", "managed": True, "inputs": {}, "injectors": {}})
        self.requests.clear()
        self.httpd = None

    # -- state ----------------------------------------------------------------------------------------------------
    def create(self, endpoint, body):
        obj = dict(body)
        obj_id = self.next_id
        self.next_id += 1
        url = "/api/v2/%s/%d/" % (endpoint, obj_id)
        obj.update(id=obj_id, type=_type(endpoint), url=url, related={}, summary_fields={})
        if endpoint == "projects":
            obj.setdefault("scm_revision", "")
        if endpoint == "workflow_job_template_nodes":
            obj["related"] = {kind: url + kind + "/" for kind in ("success_nodes", "failure_nodes", "always_nodes", "credentials")}
        obj["_associations"] = {}
        self.objects.setdefault(endpoint, {})[obj_id] = obj
        return obj

    def find(self, obj_id):
        for endpoint, objects in self.objects.items():
            if obj_id in objects:
                return endpoint, objects[obj_id]
        return None, None

    def listing(self, endpoint):
        if endpoint == "unified_job_templates":
            return [obj for ep in UJT_ENDPOINTS for obj in self.objects.get(ep, {}).values()]
        return list(self.objects.get(endpoint, {}).values())

    def of(self, endpoint, **fields):
        """The objects of an endpoint whose fields equal ``fields`` (for the tests' assertions)."""
        return [public(obj) for obj in self.objects.get(endpoint, {}).values() if all(obj.get(k) == v for k, v in fields.items())]

    def writes(self):
        return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    # -- the server ----------------------------------------------------------------------------------------------
    def __enter__(self):
        outer = self

        class Handler(AwxApiHandler):
            fake = outer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _matches(obj, query):
    alternatives = [(k[4:], v) for k, v in query if k.startswith("or__")]
    if alternatives and not any(str(obj.get(k)) == v for k, v in alternatives):
        return False
    for key, value in query:
        if key.startswith("or__") or key in NOT_FILTERS:
            continue
        if key == "type":
            if obj.get("type") not in value.split(","):
                return False
        elif str(obj.get(key)) != value:
            return False
    return True


class AwxApiHandler(JsonHandler):
    """The routes of the AWX v2 API that awx.awx calls (see the module docstring)."""

    fake = None

    def _send(self, code, doc):
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", "24.6.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method):
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length).decode() or "{}") if length else {}
        query = parse_qsl(split.query, keep_blank_values=True)
        with self.fake.lock:
            self.fake.requests.append({"method": method, "path": split.path, "query": dict(query), "body": body})
            if self.headers.get("Authorization") != "Bearer " + self.fake.token:
                return self._send(401, {"detail": "Authentication credentials were not provided."})
            parts = [p for p in split.path.split("/") if p]
            if parts[:2] != ["api", "v2"]:
                return self._send(404, {"detail": "Not found."})
            code, doc = self._route(method, parts[2:], query, body)
        return self._send(code, doc)

    def _route(self, method, parts, query, body):
        fake = self.fake
        if not parts:
            return 200, {"ping": "/api/v2/ping/", "config": "/api/v2/config/", "me": "/api/v2/me/"}
        if parts == ["ping"]:
            return 200, {"ha": False, "version": "24.6.1", "active_node": "awx", "install_uuid": "00000000"}
        if parts == ["config"]:
            return 200, {"version": "24.6.1", "license_info": {}, "analytics_status": "off"}
        if parts == ["me"]:
            return 200, {"count": 1, "next": None, "previous": None, "results": [{"id": 1, "username": "admin", "is_superuser": True}]}
        endpoint = parts[0]
        if len(parts) == 1:
            if method == "GET":
                results = [public(o) for o in fake.listing(endpoint) if _matches(o, query)]
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                return 201, public(fake.create(endpoint, body))
            return 405, {"detail": 'Method "%s" not allowed.' % method}
        obj = fake.objects.get(endpoint, {}).get(int(parts[1])) if parts[1].isdigit() else None
        if obj is None:
            return 404, {"detail": "Not found."}
        if len(parts) == 2:
            return self._detail(method, endpoint, obj, body)
        return self._sublist(method, obj, parts[2], body)

    def _detail(self, method, endpoint, obj, body):
        if method == "GET":
            return 200, public(obj)
        if method == "PATCH":
            obj.update(body)
            return 200, public(obj)
        if method == "DELETE":
            del self.fake.objects[endpoint][obj["id"]]
            for other in (o for objects in self.fake.objects.values() for o in objects.values()):
                for ids in other["_associations"].values():
                    if obj["id"] in ids:
                        ids.remove(obj["id"])
            return 204, None
        return 405, {"detail": 'Method "%s" not allowed.' % method}

    def _sublist(self, method, obj, sub, body):
        fake = self.fake
        if sub == "create_approval_template" and method == "POST":
            fields = {k: body[k] for k in ("name", "description", "timeout") if k in body}
            _ep, template = fake.find(obj.get("unified_job_template"))
            if template is None:
                template = fake.create("workflow_approval_templates", fields)
                obj["unified_job_template"] = template["id"]
                obj["related"]["unified_job_template"] = template["url"]
                return 201, public(template)
            template.update(fields)
            return 200, public(template)
        ids = obj["_associations"].setdefault(sub, [])
        if method == "GET":
            results = [public(fake.find(i)[1]) for i in ids if fake.find(i)[1] is not None]
            return 200, {"count": len(results), "next": None, "previous": None, "results": results}
        if method == "POST" and isinstance(body.get("id"), int):
            if body.get("disassociate"):
                if body["id"] in ids:
                    ids.remove(body["id"])
            elif body["id"] not in ids:
                ids.append(body["id"])
            return 204, None
        return 400, {"detail": "unsupported request to %s" % sub}

    def do_GET(self):  # noqa: N802 - http.server's name
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")
