#!/usr/bin/python3
"""
The fetcher keeps at most twice [fetcher] max_transfers feed polls under
way (the rest wait in its schedule, not as queued transfers: memory
follows the transfers at once, not the number of feeds due), and starts
the next due feed as soon as a poll ends, not at its next one-second tick.

40 feeds, each answered after 0.1 s, max_transfers = 2: the daemon's
status never shows more than 4 polls running; every feed is polled and
its item sent; no gap between two requests reaches 0.5 s (waiting for the
tick would leave gaps of about 0.9 s).
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, rss, close_all  # noqa: E402

try:
    import zmq
except ImportError:
    print("SKIP: python3-zmq is not installed")
    sys.exit(77)

N = 40
starts = []
lock = threading.Lock()


def slow_feed(i):
    body = rss("Feed %d" % i, [("b-%d" % i, "Item %d" % i, "http://example.invalid/%d" % i, "S")]).encode()

    def fn(h):
        with lock:
            starts.append(time.time())
        time.sleep(0.1)
        h.reply(200, body, "application/rss+xml")
    return fn


srv = Server()
for i in range(N):
    srv.route("/f%d.xml" % i, slow_feed(i))
fx = Fetcher(fetch_pages="no", max_transfers="2", max_per_host="2")
store = None
try:
    fx.opml("many.opml", [srv.url("/f%d.xml" % i) for i in range(N)])
    store = FakeStore(fx.fetch_out, fx.store_events)
    fx.start()
    ctx = zmq.Context()
    most = 0
    seen = 0
    end = time.time() + 60
    while time.time() < end and len(store.ids()) < N:
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.setsockopt(zmq.RCVTIMEO, 2000)
        req.connect("ipc://%s/fetcher.ctl" % fx.dir)
        try:
            req.send(b"status")
            st = json.loads(req.recv())
            most = max(most, st.get("polls_running", 0))
            seen += 1
        except zmq.Again:
            pass
        req.close()
        time.sleep(0.03)
    ctx.term()
    if len(store.ids()) < N:
        fx.stop()
    check(len(store.ids()) == N, "all %d feeds polled and their items sent (%d)" % (N, len(store.ids())))
    check(seen >= 10, "status read %d times while polling" % seen)
    check(0 < most <= 4, "at most 2 x max_transfers polls under way at once (saw %d)" % most)
    with lock:
        s = sorted(starts)
    gaps = [b - a for a, b in zip(s, s[1:])]
    print("requests: %d over %.2fs, largest gap %.2fs" % (len(s), s[-1] - s[0], max(gaps)))
    check(max(gaps) < 0.5, "the next due feed starts when a poll ends, not at the next tick (largest gap %.2fs)"
          % max(gaps))
    check(fx.stop() == 0, "SIGTERM stops the daemon")
finally:
    close_all(store, fx, srv)
print("PASS")
