"""The receiving end of bench/e2e: one process holding a plain SMTP server
(aiosmtpd, Debian's python3-aiosmtpd; run with /usr/bin/python3) and a
webhook receiver (tests/data/notifier/httpsink.py, the notifier tests' own
sink), both on free loopback ports.

Every accepted mail and every webhook request is logged, the moment it
arrives, as one JSON line in LOG: {"t": unix time, "via": "smtp"|"http",
"to": recipients or path, "tokens": [...]}, where tokens are the
`nmbench-...` markers found in the mail's Subject or in the request body;
the benchmarks put one such marker in each item's title, so a line says
which item reached which receiver and when.

    sinks.py LOG READY      writes "SMTP_PORT HTTP_PORT" to READY once both
                            listen, then serves until SIGTERM or SIGINT
SMTP is plain (no STARTTLS, no AUTH) for both newsmon and rss2email: the
benchmarks time the tools, not TLS handshakes on loopback.
"""
import email
import email.policy
import json
import os
import re
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "data", "notifier"))

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("sinks: python3-aiosmtpd is not installed (run with /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)
import httpsink  # noqa: E402  (the notifier tests' webhook receiver)

TOKEN = re.compile(rb"nmbench-[0-9a-z]+-[0-9]+")


class Log:
    """Appends arrival lines to a file, one writer at a time."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, t, via, to, tokens):
        line = json.dumps({"t": t, "via": via, "to": to, "tokens": sorted(set(tokens))})
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class SmtpHandler:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        t = time.time()
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        subject = str(msg.get("subject", "")).encode("utf-8", "replace")
        self.log.write(t, "smtp", list(envelope.rcpt_tos), [m.decode() for m in TOKEN.findall(subject)])
        return "250 OK"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if len(sys.argv) != 3:
        print("usage: sinks.py LOG READY", file=sys.stderr)
        return 2
    log = Log(sys.argv[1])
    smtp = Controller(SmtpHandler(log), hostname="127.0.0.1", port=free_port())
    smtp.start()
    hook = httpsink.Sink()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (smtp.port, hook.port))
    os.rename(tmp, sys.argv[2])
    # httpsink records each request with its arrival time; move the new
    # ones into the log every few milliseconds (the time is the arrival's).
    while not stop.wait(0.005):
        with hook.lock:
            new = hook.requests[:]
            del hook.requests[:]
        for (t, _method, path, _headers, body) in new:
            log.write(t, "http", path, [m.decode() for m in TOKEN.findall(body)])
    hook.close()
    smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
