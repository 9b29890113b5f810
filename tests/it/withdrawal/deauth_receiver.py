"""A webhook receiver that checks deliveries the way django-open-humans 0.2.0 does
(views.py deauth and receivers.py), using only the standard library.

Usage: deauth_receiver.py PORT SECRET. Each accepted delivery is printed as one JSON
line: {"project_member_id": ..., "erasure_requested": ...}.
"""

import hmac
import json
import sys
from hashlib import sha1
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1])
SECRET = sys.argv[2]


class Deauth(BaseHTTPRequestHandler):
    def do_POST(self):
        raw_body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if SECRET:
            signature = self.headers.get("X-OpenHumans-Webhooks-Signature")
            if signature is None:
                return self.reply(403, b"missing signature")
            expected = "sha1=" + hmac.new(SECRET.encode("utf-8"), raw_body, sha1).hexdigest()
            if signature != expected:
                return self.reply(403, b"bad signature")
        data = json.loads(raw_body)
        member_id = data["project_member_id"]
        erasure = data["erasure_requested"]
        if not isinstance(member_id, str) or not isinstance(erasure, bool):
            return self.reply(500, b"wrong types")
        print(json.dumps({"project_member_id": member_id, "erasure_requested": erasure}), flush=True)
        self.reply(200, b"Received")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Deauth).serve_forever()
