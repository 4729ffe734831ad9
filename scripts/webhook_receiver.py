#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local escalation receiver for the demo: accepts JSON POSTs on 127.0.0.1 and saves each one to a file.

Stands in for the on-call chat/pager webhook so the demo can show what an escalation delivers. It listens
on loopback only and never forwards anything.

    python scripts/webhook_receiver.py --port 28080 --out out/demo/webhook
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys


def make_handler(out_dir):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API names it so
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                payload = json.loads(body.decode("utf-8"))
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            count = len(os.listdir(out_dir)) + 1
            path = os.path.join(out_dir, "%03d.json" % count)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"path": self.path, "payload": payload}, handle, indent=2, sort_keys=True)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    server = http.server.HTTPServer(("127.0.0.1", args.port), make_handler(args.out))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
