#!/usr/bin/python3
"""
A hostile SMTP server for newsmon-notifier's email channel (plain SMTP,
tls = none, so the raw session can be scripted): the first session drops
the connection in the middle of the message (after DATA, having read part
of it), the second accepts the connection and never says a word, the
third is an honest server. The notifier must log each failure clearly,
retry, deliver the alert exactly once (one complete message), acknowledge
it "ok", and keep running. tests/e2e/smtp_mail.py covers STARTTLS, AUTH
and 4xx/5xx answers.
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, tmpdir  # noqa: E402


class Server:
    """Scripted SMTP: plan is a list of 'drop', 'silent', 'ok', one per session."""

    def __init__(self, plan):
        self.plan = list(plan)
        self.sessions = []      # what each session did
        self.messages = []      # complete messages accepted
        self.stop = threading.Event()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            mode = self.plan.pop(0) if self.plan else "ok"
            threading.Thread(target=self.session, args=(c, mode), daemon=True).start()

    def session(self, c, mode):
        c.settimeout(10)
        f = c.makefile("rb")
        try:
            if mode == "silent":
                self.sessions.append("silent")
                self.stop.wait(30)
                return
            c.sendall(b"220 hostile.test ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    c.sendall(b"250-hostile.test\r\n250 8BITMIME\r\n")
                elif cmd.startswith(b"HELO") or cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT") \
                        or cmd.startswith(b"RSET") or cmd.startswith(b"NOOP"):
                    c.sendall(b"250 OK\r\n")
                elif cmd == b"DATA":
                    c.sendall(b"354 go ahead\r\n")
                    if mode == "drop":
                        f.read(200)    # part of the message, then hang up
                        self.sessions.append("dropped mid-message")
                        c.shutdown(socket.SHUT_RDWR)
                        return
                    data = []
                    while True:
                        dl = f.readline()
                        if not dl or dl == b".\r\n":
                            break
                        data.append(dl)
                    self.messages.append(b"".join(data))
                    self.sessions.append("accepted")
                    c.sendall(b"250 queued\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"502 not implemented\r\n")
        except OSError:
            pass
        finally:
            f.close()
            c.close()

    def close(self):
        self.stop.set()
        self.ls.close()


tmp = tmpdir()
srv = Server(["drop", "silent", "ok"])
store = FakeStore(tmp)
conf = """
[channel mail]
type = email
smtp_url = smtp://127.0.0.1:%d
tls = none
from = newsmon@example.org
to = desk@example.org
retries = 3
retry_base = 200ms
retry_max = 1s
timeout = 2s

[route everything]
themes = *
channels = mail
""" % srv.port
n = Notifier(tmp, store, conf)
r = n.check()
check(r.returncode == 0, "the config is accepted: " + r.stdout + r.stderr)
n.start()
t0 = time.time()
store.send(alert(1))
acks = store.collect(lambda a: len(acks_for(a, 1, "mail")) >= 1, timeout=30)
ack = acks_for(acks, 1, "mail")[0]
check(ack["status"] == "ok", "the alert is delivered and acknowledged ok after two broken sessions: %s" % ack)
check(srv.sessions[:3] == ["dropped mid-message", "silent", "accepted"],
      "the sessions went: %s" % srv.sessions)
check(len(srv.messages) == 1 and b"Subject:" in srv.messages[0] and b"Message-ID:" in srv.messages[0],
      "exactly one complete message was accepted")
check(time.time() - t0 < 15, "within the timeouts and back-off (%.1fs)" % (time.time() - t0))
log = n.logtext()
fails = [line for line in log.splitlines() if "mail" in line and ("retry" in line or "fail" in line or "warn" in line)]
for line in fails:
    print("   log: " + line[:200])
check(len(fails) >= 2, "each broken session gave a log line (%d)" % len(fails))
# And the notifier goes on: the next alert takes one honest session.
store.send(alert(2))
acks = store.collect(lambda a: len(acks_for(a, 2, "mail")) >= 1, timeout=15)
check(acks_for(acks, 2, "mail")[0]["status"] == "ok" and len(srv.messages) == 2, "the next alert goes through")
n.stop()
store.close()
srv.close()
print("PASS")
