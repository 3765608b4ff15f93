"""A webhook receiver for the tests: verifies every delivery with the
reference `standardwebhooks` library, against each secret listed (one per
line) in SECRETS_FILE, read anew for every request.

Usage: receiver.py SECRETS_FILE LOG_FILE FAIL_FIRST
Prints the port it listens on (127.0.0.1), then serves until killed. Each
request appends one JSON line to LOG_FILE: its webhook-id, type, which
secrets verified it (indexes into SECRETS_FILE) and the status answered.
The first FAIL_FIRST requests are answered 500 (still verified and logged);
after that, 204 when some secret verified the delivery, 401 otherwise.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

secrets_file, log_file, fail_first = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with open(secrets_file) as f:
            secrets = [line.strip() for line in f if line.strip()]
        verified = []
        for index, secret in enumerate(secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(index)
            except Exception:
                pass
        with lock:
            seen += 1
            failing = seen <= fail_first
        status = 500 if failing else (204 if verified else 401)
        try:
            event_type = json.loads(body).get("type")
        except ValueError:
            event_type = None
        entry = {
            "id": headers.get("webhook-id"),
            "type": event_type,
            "verified_by": verified,
            "signatures": len(headers.get("webhook-signature", "").split()),
            "status": status,
            "body": body.decode("utf-8", "replace"),
        }
        with lock, open(log_file, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
