"""Helpers for the notifier's end-to-end tests (tests/e2e/notifier_*,
webhook_*, smtp_*): a fake store speaking the real protocol over ZeroMQ,
alert builders, and running newsmon-notifier with a config in a temp dir.

The fake store binds a PUSH on the alerts endpoint and a PULL on store_in,
exactly as newsmon-store does, sends `alert` messages (two frames: type,
JSON) and collects the notifier's `delivered` acknowledgements.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:  # pragma: no cover
    print("skipped: python3-zmq is not installed (apt-get install python3-zmq)")
    sys.exit(77)

BUILD = os.environ.get("NM_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
SOURCE = os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
NOTIFIER = os.path.join(BUILD, "notifier", "newsmon-notifier")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def alert(alert_id, theme="espionage", severity="high", story=None, followup=0, title=None,
          link=None, lang="en", text=None, themes=None):
    """Returns an alert body as newsmon-store sends it (nm_alert_to_json)."""
    title = title or "Belarusian KGB recruits diaspora members in Vilnius %d" % alert_id
    text = text or ("Lithuanian counter-intelligence said the KGB tried to recruit relatives "
                    "of Belarusians living in Vilnius. Story %d." % alert_id)
    if themes is None:
        off = text.find("KGB")
        themes = [{"id": theme, "score": 3, "severity": severity,
                   "matches": [{"term": "KGB", "field": "text", "offset": off, "text": "KGB"},
                               {"term": "recruit*", "field": "text", "offset": text.find("recruit"),
                                "text": "recruit"}]}]
    return {
        "v": 1, "alert_id": alert_id, "story": story or ("story-%d" % alert_id), "followup": followup,
        "article": {"id": "urn:test:%d" % alert_id,
                    "link": link or ("https://www.lrt.lt/en/news/%d" % alert_id),
                    "title": title, "text": text, "published": "2024-05-01T10:00:00Z",
                    "lang": lang, "feed": "https://www.lrt.lt/rss"},
        "ruleset": "test", "themes": themes,
    }


class FakeStore:
    def __init__(self, tmp):
        self.ctx = zmq.Context()
        self.alerts_ep = "ipc://%s/alerts.sock" % tmp
        self.store_in_ep = "ipc://%s/store.sock" % tmp
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.bind(self.alerts_ep)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        self.pull.bind(self.store_in_ep)
        self.acks = []

    def send(self, body):
        self.push.send_multipart([b"alert", json.dumps(body).encode()])

    def send_raw(self, frames):
        self.push.send_multipart(frames)

    def collect(self, want, timeout=10.0):
        """Receives acks until `want(acks)` is true; returns all acks so far."""
        end = time.time() + timeout
        while not want(self.acks):
            left = end - time.time()
            if left <= 0:
                fail("timed out waiting for acks; have %s" % self.acks)
            if self.pull.poll(int(left * 1000)):
                frames = self.pull.recv_multipart()
                if len(frames) != 2 or frames[0] != b"delivered":
                    fail("unexpected message from the notifier: %r" % frames)
                d = json.loads(frames[1])
                if d.get("v") != 1 or set(d) - {"v", "alert_id", "channel", "status", "error"}:
                    fail("malformed delivered message: %r" % d)
                self.acks.append(d)
        return self.acks

    def wait_acks(self, n, timeout=10.0):
        return self.collect(lambda a: len(a) >= n, timeout)

    def quiet(self, seconds):
        """Asserts that no ack arrives for `seconds`."""
        if self.pull.poll(int(seconds * 1000)):
            fail("unexpected ack: %r" % self.pull.recv_multipart())

    def close(self):
        self.push.close()
        self.pull.close()
        self.ctx.term()


def acks_for(acks, alert_id, channel=None):
    return [a for a in acks if a["alert_id"] == alert_id and (channel is None or a["channel"] == channel)]


class Notifier:
    """Runs newsmon-notifier on a config written into tmp."""

    def __init__(self, tmp, store, body, extra=""):
        self.tmp = tmp
        self.conf = os.path.join(tmp, "newsmon.conf")
        with open(self.conf, "w") as f:
            f.write("[bus]\nalerts = %s\nstore_in = %s\ncontrol_dir = %s\n\n[log]\nlevel = debug\n\n"
                    "[notifier]\nstate = %s/notifier.db\n%s\n%s" %
                    (store.alerts_ep, store.store_in_ep, tmp, tmp, extra, body))
        self.proc = None
        self.log = os.path.join(tmp, "notifier.log")
        self.out = os.path.join(tmp, "notifier.out")

    def check(self):
        return subprocess.run([NOTIFIER, "-n", "-c", self.conf], capture_output=True, text=True)

    def start(self):
        if not os.path.exists(NOTIFIER):
            print("skipped: %s is not built" % NOTIFIER)
            sys.exit(77)
        self.proc = subprocess.Popen([NOTIFIER, "-f", "-c", self.conf],
                                     stdout=open(self.out, "a"), stderr=open(self.log, "a"))
        time.sleep(0.3)
        if self.proc.poll() is not None:
            fail("notifier exited at start:\n" + open(self.log).read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("notifier did not stop on signal %d" % sig)
            if sig == signal.SIGTERM and rc != 0:
                fail("notifier exited with %d:\n%s" % (rc, self.logtext()))
        self.proc = None

    def logtext(self):
        return open(self.log).read() if os.path.exists(self.log) else ""


def tmpdir():
    return tempfile.mkdtemp(prefix="nm-notifier-")
