#!/usr/bin/python3
"""
Soak: the four daemons under steady load for a long time, watching their
resident memory and open file descriptors (docs/reliability.md, "Soak").

    soak.py [--minutes 10] [--feeds 40] [--every 4] [--sample 10]
            [--max-rss-mb 64] [--max-rss-store-mb 96] [--max-fd-growth 8] [--build DIR] [--keep]

A feed server (Python, threads) serves FEEDS RSS feeds; each gains a new
item every EVERY seconds (staggered), lists its latest 50, answers
conditional GETs (ETag) with 304, and serves each item's page. About half
of the items fire a theme (the text plan of tests/chaos/gen_fixtures.py),
so the notifier (jsonl channel) works too. Every SAMPLE seconds each
daemon's VmRSS (/proc/PID/status) and open descriptors (/proc/PID/fd)
are sampled.

Fails when a daemon's RSS passes MAX_RSS_MB (the store: MAX_RSS_STORE_MB,
since its SQLite page cache is allowed 64 MiB and fills as the database
grows), when a daemon's descriptor
count in the last third of the run exceeds its highest in the first third
by more than MAX_FD_GROWTH (a leak grows without bound; a pool of
connections does not), when a daemon crashed, when the pipeline fell
behind (after the load stops and it drains, every published item must be
stored once, every alert line must be unique), or when a daemon does not
stop cleanly. Prints the samples as a table and a summary per daemon.
"""
import argparse
import collections
import hashlib
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
import gen_fixtures  # noqa: E402
import nmpipe  # noqa: E402
from nmpipe import log  # noqa: E402


class Feeds:
    """The growing feeds: feed f has items 0..count(f, now)-1."""

    def __init__(self, n_feeds, every):
        self.n = n_feeds
        self.every = every
        self.t0 = time.time()
        self.frozen = None   # when set, no item appears after this time

    def count(self, f):
        now = self.frozen or time.time()
        return 1 + int((now - self.t0 + f * self.every / self.n) / self.every)

    def total(self):
        return sum(self.count(f) for f in range(self.n))

    def item(self, f, i):
        k = f * 1000003 + i
        title, summary, paragraphs = gen_fixtures.item_text(k, __import__("random").Random(k))
        return title, summary, paragraphs


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        feeds = self.server.feeds
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        parts = self.path.strip("/").split("/")
        try:
            if len(parts) == 2 and parts[0] == "feed":
                f = int(parts[1].split(".")[0])
                n = feeds.count(f)
                etag = '"%d-%d"' % (f, n)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                       "<title>Soak %d</title><link>%s/</link><language>en</language>" % (f, base)]
                for i in range(n - 1, max(-1, n - 51), -1):
                    title, summary, _ = feeds.item(f, i)
                    pub = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                        time.gmtime(feeds.t0 + i * feeds.every + f * feeds.every / feeds.n))
                    out.append('<item><guid isPermaLink="false">urn:newsmon-soak:%d:%d</guid><title>%s</title>'
                               "<link>%s/page/%d/%d.html</link><description>%s</description><pubDate>%s</pubDate>"
                               "</item>" % (f, i, gen_fixtures.escape(title), base, f, i,
                                            gen_fixtures.escape(summary), pub))
                out.append("</channel></rss>\n")
                self.send(200, "".join(out).encode(), "application/rss+xml", [("ETag", etag)])
            elif len(parts) == 3 and parts[0] == "page":
                f, i = int(parts[1]), int(parts[2].split(".")[0])
                title, _, paragraphs = feeds.item(f, i)
                self.send(200, gen_fixtures.page_html(title, paragraphs).encode(), "text/html; charset=utf-8")
            else:
                self.send(404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass


def sample(pid):
    """Returns (VmRSS in kB, open descriptors) of pid, or (None, None)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, StopIteration):
        return None, None


def main():
    ap = argparse.ArgumentParser(description="newsmon soak: steady load, memory and descriptors")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--every", type=float, default=4.0, help="seconds between two items of one feed")
    ap.add_argument("--sample", type=float, default=10.0)
    ap.add_argument("--max-rss-mb", type=float, default=64, help="bound for the fetcher, classifier, notifier")
    ap.add_argument("--max-rss-store-mb", type=float, default=96,
                    help="bound for the store: its SQLite page cache alone may take 64 MiB (cache_size = -65536)")
    ap.add_argument("--max-fd-growth", type=int, default=8)
    ap.add_argument("--build", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    build = a.build or nmpipe.find_build()
    if not build:
        print("SKIP: newsmon is not built (set NM_BUILD_DIR)")
        return 77
    tmp = tempfile.mkdtemp(prefix="nm-soak-")
    feeds = Feeds(a.feeds, a.every)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.feeds = feeds
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % httpd.server_address[1]
    pipe = nmpipe.Pipeline(build, os.path.join(tmp, "state"), store={"resend_after": "10s"})
    nmpipe.write_opml(os.path.join(pipe.feeds, "soak.opml"), ["%s/feed/%d.xml" % (base, f) for f in range(a.feeds)])
    log("soak: %s, %d feeds, one item per feed every %.0f s (%.1f items/s), %.0f minutes, state %s"
        % (build, a.feeds, a.every, a.feeds / a.every, a.minutes, tmp))
    samples = []     # (seconds, {daemon: (rss kB, fds)}, articles)
    db_sizes = []    # kB of the store's database and WAL at each sample
    problems = []
    ok = False
    try:
        pipe.start_all()
        t0 = time.time()
        end = t0 + a.minutes * 60
        next_sample = t0 + a.sample
        while time.time() < end:
            for n in pipe.check_alive():
                problems.append("newsmon-%s exited by itself (status %s)" % (n, pipe.crashes[-1][1]))
            if time.time() >= next_sample:
                row = {n: sample(pid) for n, pid in pipe.pids().items()}
                c = pipe.counts() or {}
                samples.append((time.time() - t0, row, c.get("articles", 0)))
                db_kb = sum(os.path.getsize(p) for p in (pipe.db, pipe.db + "-wal") if os.path.exists(p)) // 1024
                db_sizes.append(db_kb)
                log("%5.0fs  %s  articles %d/%d  database %d kB" % (time.time() - t0, "  ".join(
                    "%s %s kB %s fds" % (n[:5], row[n][0], row[n][1]) for n in nmpipe.DAEMONS if n in row),
                    c.get("articles", 0), feeds.total(), db_kb))
                next_sample += a.sample
            time.sleep(0.2)
        feeds.frozen = time.time()
        published = feeds.total()
        log("soak: load stopped with %d items published; draining" % published)
        drain_end = time.time() + 120
        while True:
            c = pipe.counts() or {}
            if c.get("articles", 0) >= published and c.get("alerts_pending") == 0 and c.get("alerts_sent") == 0:
                break
            if time.time() > drain_end:
                problems.append("the pipeline fell behind: %s of %d items stored 120 s after the load stopped (%s)"
                                % (c.get("articles"), published, c))
                break
            time.sleep(1)
        time.sleep(1)
        for n, s in pipe.stop_all(timeout=30).items():
            if s != 0:
                problems.append("newsmon-%s did not stop cleanly: %s" % (n, s))
        ok = True
    finally:
        if not ok:
            pipe.stop_all()
        httpd.shutdown()

    out = pipe.ctl("export", "--format", "jsonl") or ""
    ids = collections.Counter(json.loads(line)["id"] for line in out.splitlines() if line.strip())
    if len(ids) != published or any(v > 1 for v in ids.values()):
        problems.append("store holds %d distinct ids (%d rows) for %d items published"
                        % (len(ids), sum(ids.values()), published))
    lines = open(pipe.alerts).read().splitlines() if os.path.exists(pipe.alerts) else []
    alert_ids = collections.Counter(json.loads(line)["alert_id"] for line in lines if line.strip())
    if any(v > 1 for v in alert_ids.values()):
        problems.append("alerts delivered twice: %s" % [k for k, v in alert_ids.items() if v > 1][:5])

    # The table and the bounds.
    print("\n| daemon | RSS first (MB) | RSS max (MB) | RSS last (MB) | fds first | fds max | fds last |")
    print("|---|---|---|---|---|---|---|")
    third = max(1, len(samples) // 3)
    for n in nmpipe.DAEMONS:
        rss = [s[1][n][0] for s in samples if n in s[1] and s[1][n][0] is not None]
        fds = [s[1][n][1] for s in samples if n in s[1] and s[1][n][1] is not None]
        if not rss:
            problems.append("no samples of newsmon-%s" % n)
            continue
        print("| %s | %.1f | %.1f | %.1f | %d | %d | %d |" % (n, rss[0] / 1024, max(rss) / 1024, rss[-1] / 1024,
                                                          fds[0], max(fds), fds[-1]))
        bound = a.max_rss_store_mb if n == "store" else a.max_rss_mb
        if max(rss) / 1024 > bound:
            problems.append("newsmon-%s: RSS reached %.1f MB (bound %.0f MB)" % (n, max(rss) / 1024, bound))
        early, late = fds[:third], fds[-third:]
        if len(fds) >= 3 and max(late) > max(early) + a.max_fd_growth:
            problems.append("newsmon-%s: open descriptors grew from at most %d (first third) to %d (last third)"
                            % (n, max(early), max(late)))
    print("\nsoak: %.0f minutes, %d items published, %d stored, %d alerts delivered, %d samples per daemon; "
          "the store's database grew from %.1f to %.1f MB (its RSS follows it, up to its 64 MiB page cache)"
          % (a.minutes, published, len(ids), len(alert_ids), len(samples),
             (db_sizes or [0])[0] / 1024, (db_sizes or [0])[-1] / 1024))
    for p in problems:
        print("soak: PROBLEM: " + p)
    if problems or a.keep:
        print("soak: state kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("soak: %s (bounds: RSS < %.0f MB per daemon, store < %.0f MB, fds growth <= %d)"
          % ("FAILED" if problems else "OK", a.max_rss_mb, a.max_rss_store_mb, a.max_fd_growth))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
