"""
Test harness for newsmon-fetcher's end-to-end tests (tests/e2e/fetcher_*.py).

- Server: a local HTTP server (threads) whose routes are Python functions,
  so a test can answer 304, 429 with Retry-After, redirect, trickle a byte
  a second, send a gzip bomb or an endless body, and see every request.
- FakeStore: stands in for the classifier and the store on the bus: PULLs
  the fetcher's `article` messages from [bus] fetch_out and PUBlishes a
  `stored` confirmation for each on [bus] store_events (or not, to test
  re-sending).
- Fetcher: writes a config and feeds folder in a temporary directory and
  runs the real newsmon-fetcher binary.
"""
import gzip
import http.server
import json
import os
import signal
import socketserver
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

try:
    import zmq
except ImportError:  # pragma: no cover
    print("SKIP: python3-zmq is not installed (apt-get install python3-zmq)")
    sys.exit(77)

BUILD = os.environ.get("NM_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
FETCHER = os.path.join(BUILD, "fetcher", "newsmon-fetcher")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def wait_for(cond, timeout, what):
    """Returns once cond() is true; fails the test after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    fail("timed out waiting for " + what)


# ---- HTTP ------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server.owner
        path = self.path.split("?")[0]
        with srv.lock:
            srv.requests.append((path, dict(self.headers), time.time()))
        route = srv.routes.get(path)
        if route is None:
            self.reply(404, b"not found", "text/plain")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, status, body=b"", ctype="text/html; charset=utf-8", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass   # clients that hang up on purpose (size limits, timeouts) are expected


class Server:
    def __init__(self):
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        self.httpd = _ThreadingServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return self.base + path

    def route(self, path, fn):
        self.routes[path] = fn

    def static(self, path, body, ctype="text/html; charset=utf-8", etag=None, last_modified=None):
        """Serves body with validators; answers 304 to a matching conditional GET."""
        if isinstance(body, str):
            body = body.encode()

        def fn(h):
            hdrs = {}
            if etag:
                hdrs["ETag"] = etag
            if last_modified:
                hdrs["Last-Modified"] = last_modified
            if (etag and h.headers.get("If-None-Match") == etag) or \
               (last_modified and not etag and h.headers.get("If-Modified-Since") == last_modified):
                h.send_response(304)
                for k, v in hdrs.items():
                    h.send_header(k, v)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.reply(200, body, ctype, hdrs)
        self.routes[path] = fn

    def hits(self, path):
        with self.lock:
            return [r for r in self.requests if r[0] == path]

    def close(self):
        self.httpd.shutdown()


def rss(title, items, ttl=None):
    """items: list of (guid, title, link, description)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
           "<title>%s</title><link>http://example.invalid/</link>" % title]
    if ttl:
        out.append("<ttl>%d</ttl>" % ttl)
    for i, (guid, t, link, desc) in enumerate(items):
        out.append("<item><guid>%s</guid><title>%s</title><link>%s</link><description>%s</description>"
                   "<pubDate>Mon, 0%d Jan 2024 10:00:00 GMT</pubDate></item>" % (guid, t, link, desc, 1 + i % 9))
    out.append("</channel></rss>")
    return "".join(out)


def page(title, paragraphs):
    body = "".join("<p>%s</p>" % p for p in paragraphs)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title></head>"
            "<body><header><nav><a href=\"/\">Home</a></nav></header><main><article><h1>%s</h1>%s</article>"
            "</main><footer>Footer text</footer></body></html>" % (title, title, body))


# ---- bus -------------------------------------------------------------------

class FakeStore:
    def __init__(self, fetch_out, store_events, confirm=True):
        self.confirm = confirm
        self.articles = []
        self.errors = []
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.connect(fetch_out)
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.bind(store_events)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.pull, zmq.POLLIN)
        while not self.stop:
            if not poller.poll(100):
                continue
            frames = self.pull.recv_multipart()
            if len(frames) != 2 or frames[0] != b"article":
                self.errors.append("bad message %r" % frames[:1])
                continue
            body = json.loads(frames[1])
            if body.get("v") != 1 or "article" not in body or set(body) != {"v", "article"}:
                self.errors.append("bad body %r" % body)
                continue
            a = body["article"]
            self.articles.append(a)
            if self.confirm:
                msg = {"v": 1, "id": a["id"], "feed": a.get("feed"), "version": 1}
                self.pub.send_multipart([b"stored", json.dumps(msg).encode()])

    def ids(self):
        return sorted(a["id"] for a in self.articles)

    def close(self):
        self.stop = True
        self.thread.join()
        self.pull.close(0)
        self.pub.close(0)
        self.ctx.term()


# ---- the fetcher -----------------------------------------------------------

class Fetcher:
    def __init__(self, **fetcher_keys):
        if not os.access(FETCHER, os.X_OK):
            print("SKIP: %s is not built" % FETCHER)
            sys.exit(77)
        self.tmp = tempfile.TemporaryDirectory(prefix="nm-fetcher-")
        self.dir = self.tmp.name
        self.feeds_dir = os.path.join(self.dir, "feeds.d")
        os.mkdir(self.feeds_dir)
        self.state = os.path.join(self.dir, "state.db")
        self.fetch_out = "ipc://%s/fetch.sock" % self.dir
        self.store_events = "ipc://%s/events.sock" % self.dir
        keys = {
            "state": self.state, "feeds": self.feeds_dir, "allow_private": "127.0.0.0/8",
            "min_interval": "1s", "default_interval": "1h", "once_timeout": "20s",
            "connect_timeout": "3s", "timeout": "20s",
        }
        keys.update(fetcher_keys)
        self.keys = keys
        self.conf = os.path.join(self.dir, "newsmon.conf")
        self.write_conf()
        self.proc = None
        self.log = ""

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("[bus]\nfetch_out = %s\nstore_events = %s\ncontrol_dir = %s\nlinger = 0\n\n"
                    "[log]\nlevel = debug\n\n[fetcher]\n" % (self.fetch_out, self.store_events, self.dir))
            for k, v in self.keys.items():
                f.write("%s = %s\n" % (k, v))

    def set(self, **keys):
        self.keys.update(keys)
        self.write_conf()

    def opml(self, name, feeds):
        """feeds: list of url or (url, extra-attributes) pairs."""
        lines = ['<?xml version="1.0"?>', '<opml version="2.0" xmlns:newsmon="https://newsmon.invalid/opml">',
                 "<head><title>t</title></head><body>"]
        for f in feeds:
            url, extra = (f, "") if isinstance(f, str) else f
            lines.append('<outline type="rss" text="%s" xmlUrl="%s" %s/>' % (url, url.replace("&", "&amp;"), extra))
        lines.append("</body></opml>")
        with open(os.path.join(self.feeds_dir, name), "w") as fh:
            fh.write("\n".join(lines))

    def run_once(self, timeout=60, extra=()):
        t0 = time.time()
        p = subprocess.run([FETCHER, "-f", "-c", self.conf, "--once"] + list(extra),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        self.log = p.stdout.decode(errors="replace")
        self.elapsed = time.time() - t0
        sys.stdout.write("---- fetcher log (%.1fs, exit %d) ----\n%s----\n" % (self.elapsed, p.returncode, self.log))
        return p.returncode

    def start(self):
        self.logfile = open(os.path.join(self.dir, "fetcher.log"), "w+")
        self.proc = subprocess.Popen([FETCHER, "-f", "-c", self.conf], stdout=self.logfile, stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.logfile.seek(0)
        self.log = self.logfile.read()
        sys.stdout.write("---- fetcher log (exit %d) ----\n%s----\n" % (rc, self.log))
        return rc

    def feed_row(self, url):
        db = sqlite3.connect(self.state)
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        db.close()
        return dict(row) if row else None

    def pending(self):
        db = sqlite3.connect(self.state)
        n = db.execute("SELECT count(*) FROM items WHERE confirmed IS NULL").fetchone()[0]
        db.close()
        return n

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def close_all(*things):
    """Closes each of things that exists (a test's finally: store, fetcher, server)."""
    for t in things:
        if t:
            t.close()


def gzip_bomb(mbytes):
    return gzip.compress(b"\0" * (mbytes << 20), 9)


def trickle(ctype, length, interval):
    """A route that announces length bytes of ctype and sends one space
    every interval seconds (a server stuck, or hostile, mid-body)."""
    def fn(h):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        try:
            for _ in range(length):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(interval)
        except (BrokenPipeError, ConnectionResetError):
            pass
    return fn
