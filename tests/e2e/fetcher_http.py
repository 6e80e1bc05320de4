#!/usr/bin/python3
"""
newsmon-fetcher's HTTP limits against a misbehaving local server, all in
one --once run beside a healthy feed: a 301 updates the stored address, an
endless body and a gzip bomb stop at the size limits, a server that
trickles a byte a second hits the low-speed timeout, a redirect loop stops
at max_redirects, a 429 with Retry-After and a 500 are recorded. Each
gives a clear log line, the run ends in bounded time, and the healthy
feed's items are delivered all the same.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, gzip_bomb, rss, trickle  # noqa: E402

srv = Server()
good = rss("Good", [("g-%d" % i, "Good %d" % i, "http://example.invalid/%d" % i, "S%d" % i) for i in range(2)])
srv.static("/good.xml", good, ctype="application/rss+xml")
srv.static("/new-home.xml", rss("Moved", [("m-0", "Moved 0", "http://example.invalid/m", "S")]),
           ctype="application/rss+xml")
srv.route("/old-home.xml", lambda h: h.reply(301, b"", headers={"Location": srv.url("/new-home.xml")}))


def endless(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.end_headers()
    chunk = b"<!-- " + b"x" * 65536 + b" -->"
    try:
        for _ in range(10000):
            h.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass


bomb = gzip_bomb(64)
srv.route("/endless.xml", endless)
srv.route("/trickle.xml", trickle("application/rss+xml", 1000, 1))
srv.route("/bomb.xml", lambda h: h.reply(200, bomb, "application/rss+xml", {"Content-Encoding": "gzip"}))
srv.route("/loop-a", lambda h: h.reply(302, b"", headers={"Location": "/loop-b"}))
srv.route("/loop-b", lambda h: h.reply(302, b"", headers={"Location": "/loop-a"}))
srv.route("/busy.xml", lambda h: h.reply(429, b"slow down", "text/plain", {"Retry-After": "3600"}))
srv.route("/broken.xml", lambda h: h.reply(500, b"oops", "text/plain"))
srv.route("/notfeed.xml", lambda h: h.reply(200, b"<html><body>hello</body></html>", "text/html"))

fx = Fetcher(max_size="1M", max_decompressed="2M", low_speed_time="2s", low_speed_limit="100",
             max_redirects="4", timeout="30s", fetch_pages="no", once_timeout="45s")
names = ["good.xml", "old-home.xml", "endless.xml", "trickle.xml", "bomb.xml", "loop-a", "busy.xml",
         "broken.xml", "notfeed.xml"]
try:
    fx.opml("desk.opml", [srv.url("/" + n) for n in names])
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once(timeout=60)
    store.close()
    check(rc == 0, "the run ends with exit 0: bad feeds do not hold it up")
    check(fx.elapsed < 20, "in bounded time (%.1fs)" % fx.elapsed)
    check(store.ids() == ["g-0", "g-1", "m-0"], "the healthy feeds' items are delivered: %s" % store.ids())

    row = fx.feed_row(srv.url("/old-home.xml"))
    check(row["current_url"] == srv.url("/new-home.xml"), "a 301 updates the stored address")
    check("moved permanently to " + srv.url("/new-home.xml") in fx.log, "and says so in the log")

    expect = {
        "endless.xml": "response larger than max_size",
        "bomb.xml": "decoded response larger than max_decompressed",
        "trickle.xml": "timed out",
        "loop-a": "too many redirects",
        "busy.xml": "HTTP 429, Retry-After 3600",
        "broken.xml": "HTTP 500",
        "notfeed.xml": "unreadable feed",
    }
    for name, text in expect.items():
        url = srv.url("/" + name)
        row = fx.feed_row(url)
        check(row is not None and row["failures"] == 1 and text in (row["last_error"] or ""),
              "%s: last_error says '%s' (%s)" % (name, text, row and row["last_error"]))
        check(any(url in line and text in line for line in fx.log.splitlines()), "%s: one clear log line" % name)
    busy = fx.feed_row(srv.url("/busy.xml"))
    check(busy["next_poll_ms"] >= busy["last_attempt"] * 1000 + 3600 * 1000 - 5000,
          "Retry-After 3600 puts the next poll an hour away")
    check(len(srv.hits("/loop-a")) <= 3 and len(srv.hits("/loop-b")) <= 3, "the redirect loop was cut short")

    # The moved feed is polled at its new address from now on.
    n_old = len(srv.hits("/old-home.xml"))
    fx.opml("desk.opml", [srv.url("/old-home.xml")])
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once(timeout=60)
    store.close()
    check(rc == 0 and len(srv.hits("/old-home.xml")) == n_old, "the old address is not asked again")
finally:
    fx.close()
    srv.close()
print("PASS")
