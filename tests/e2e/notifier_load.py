#!/usr/bin/python3
"""newsmon-notifier under a burst (the bug: a poll cycle's thousand alerts
became thousands of simultaneous SMTP sessions and HTTP requests, 140 MB
and more). A fake store sends 300 alerts at once to a slow webhook and an
SMTP server: at most `parallel` requests are under way on each channel,
every alert arrives exactly once on each and is acknowledged ok once;
mails share SMTP sessions, a session the server closed while idle is
replaced without a failed attempt, and a retry opens a new session; a
restart then a re-send of everything delivers nothing twice; `parallel`
out of range is a configuration error with its line."""
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, tmpdir  # noqa: E402
from smtpsink import free_port  # noqa: E402

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("skipped: python3-aiosmtpd is not installed")
    sys.exit(77)

N = 300


class SlowHook:
    """A webhook that takes 20 ms a request and counts requests under way."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.ids = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                with hook.lock:
                    hook.now += 1
                    hook.most = max(hook.most, hook.now)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(0.02)
                with hook.lock:
                    hook.now -= 1
                    hook.ids.append(json.loads(body)["alert_id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Mail:
    """aiosmtpd handler: counts sessions (EHLO) and keeps accepted mails' alert ids."""

    def __init__(self):
        self.sessions = 0
        self.ids = []
        self.refuse = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 Try again later"
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.startswith("X-Newsmon-Alert: "):
                self.ids.append(int(line.split(": ", 1)[1]))
        return "250 OK"


tmp = tmpdir()
store = FakeStore(tmp)
hook = SlowHook()
mail = Mail()
smtp = Controller(mail, hostname="127.0.0.1", port=free_port(), timeout=1.5)   # closes sessions idle 1.5 s
smtp.start()
conf = """
[channel hook]
type = webhook
url = %s
parallel = 3

[channel mail]
type = email
smtp_url = smtp://127.0.0.1:%d
tls = none
from = newsmon@desk.example.org
to = duty@desk.example.org
parallel = 2
retry_base = 200ms

[route all]
themes = *
channels = hook, mail
""" % (hook.url, smtp.port)

bad = Notifier(tmp, store, conf.replace("parallel = 3", "parallel = 0"))
r = bad.check()
check(r.returncode != 0 and re.search(r"newsmon\.conf:\d+: \[channel hook\] parallel: '0' is not a whole number", r.stderr),
      "parallel = 0 refused with its line: " + r.stderr.strip())

n = Notifier(tmp, store, conf)
n.start()
t0 = time.time()
for i in range(1, N + 1):
    store.send(alert(i))
acks = store.collect(lambda a: len(a) >= 2 * N, timeout=120)
check(sorted(hook.ids) == list(range(1, N + 1)), "every alert posted once (%d requests)" % len(hook.ids))
check(sorted(mail.ids) == list(range(1, N + 1)), "every alert mailed once (%d mails)" % len(mail.ids))
check(all(len(acks_for(acks, i, c)) == 1 and acks_for(acks, i, c)[0]["status"] == "ok"
          for i in range(1, N + 1) for c in ("hook", "mail")), "each (alert, channel) acknowledged ok once")
check(hook.most <= 3, "at most parallel = 3 requests at once on the webhook (%d)" % hook.most)
check(hook.most >= 2, "the webhook's slots are used (%d at once)" % hook.most)
check(mail.sessions <= 4, "%d mails over %d SMTP sessions (parallel = 2)" % (N, mail.sessions))
check(time.time() - t0 < 60, "the burst is delivered in %.1fs" % (time.time() - t0))

# idle sessions closed by the server (timeout 1.5 s): the next mail takes a new one
time.sleep(2.5)
before = mail.sessions
store.send(alert(N + 1))
store.collect(lambda a: acks_for(a, N + 1, "mail") and acks_for(a, N + 1, "hook"), timeout=20)
check(mail.ids.count(N + 1) == 1 and mail.sessions == before + 1, "after the server closed idle sessions: a new one")
check("attempt 1 failed" not in n.logtext(), "no failed attempt on a session the server had closed")

# a refused mail is retried on a new session
mail.refuse = 1
before = mail.sessions
store.send(alert(N + 2))
acks = store.collect(lambda a: acks_for(a, N + 2, "mail"), timeout=20)
check(acks_for(acks, N + 2, "mail")[0]["status"] == "ok" and mail.ids.count(N + 2) == 1,
      "451 retried, mailed once")
check(mail.sessions >= before + 1, "the retry opened a new session")

# restart, then the store re-sends everything: acknowledged from the state database, nothing sent twice
n.stop()
n.start()
count = len(store.acks)
for i in range(1, N + 3):
    store.send(alert(i))
store.collect(lambda a: len(a) >= count + 2 * (N + 2), timeout=60)
time.sleep(0.3)
check(len(hook.ids) == N + 2 and len(mail.ids) == N + 2, "re-sent burst after a restart: nothing delivered twice")
again = store.acks[count:]
check(all(a["status"] == "ok" for a in again), "and every pair acknowledged ok again")

n.stop()
smtp.stop()
store.close()
print("PASS")
