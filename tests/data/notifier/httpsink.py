"""A webhook receiver for the notifier's tests: python http.server on a free
loopback port, in a thread. Each path has a script of behaviours, one per
request ("ok", "500", "403", "429", "hang", "drop"; a status may carry a
wait the server asks for: "429+ra2" sends Retry-After: 2, "503+date3" a
Retry-After date 3 s ahead, "429+tg2" Telegram's {"parameters":
{"retry_after": 2}}); when the script runs out the path answers "ok".
Every request is recorded with its time."""
import json
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink:
    def __init__(self):
        self.plans = {}
        self.requests = []   # (time, method, path, headers, body)
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with sink.lock:
                    sink.requests.append((time.time(), self.command, self.path, dict(self.headers), body))
                    key = next((p for p in sink.plans if self.path.startswith(p)), None)
                    plan = sink.plans.get(key, [])
                    what = plan.pop(0) if plan else "ok"
                if what == "hang":
                    time.sleep(3)
                    return
                if what == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                status, _, ask = what.partition("+")
                code = 200 if status == "ok" else int(status)
                out = b'{"ok": true, "event_id": "$x"}'
                if ask.startswith("tg"):
                    out = json.dumps({"ok": False, "error_code": code, "description": "Too Many Requests",
                                      "parameters": {"retry_after": int(ask[2:])}}).encode()
                self.send_response(code)
                if ask.startswith("ra"):
                    self.send_header("Retry-After", ask[2:])
                elif ask.startswith("date"):
                    self.send_header("Retry-After", formatdate(time.time() + int(ask[4:]), usegmt=True))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = handle_one
            do_PUT = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def plan(self, path, behaviours):
        with self.lock:
            self.plans[path] = list(behaviours)

    def on(self, prefix):
        with self.lock:
            return [r for r in self.requests if r[2].startswith(prefix)]

    def bodies(self, prefix):
        return [json.loads(r[4]) for r in self.on(prefix)]

    def close(self):
        self.server.shutdown()
