#!/usr/bin/python3
"""
A feed's interval runs from the start of one poll to the start of the
next, and the daemon wakes when a feed falls due, not at a fixed tick:
a feed on a 1 s interval (min = default = max = 1s), answered after
0.05 s, is fetched about once a second, never sooner than the interval
(politeness), and never with a gap near 2 s (which a fixed one-second
tick gives whenever the next poll falls due just after a tick).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, rss, close_all  # noqa: E402

body = rss("Rhythm", [("r-0", "R0", "http://example.invalid/r", "S")]).encode()


def slow(h):
    time.sleep(0.05)
    h.reply(200, body, "application/rss+xml")


srv = Server()
srv.route("/r.xml", slow)
fx = Fetcher(fetch_pages="no", min_interval="1s", default_interval="1s", max_interval="1s")
store = None
try:
    fx.opml("r.opml", [srv.url("/r.xml")])
    store = FakeStore(fx.fetch_out, fx.store_events)
    fx.start()
    time.sleep(8.5)
    check(fx.stop() == 0, "SIGTERM stops the daemon")
    t = [r[2] for r in srv.hits("/r.xml")]
    gaps = [b - a for a, b in zip(t, t[1:])]
    print("polls: %d, gaps: %s" % (len(t), " ".join("%.3f" % g for g in gaps)))
    check(len(t) >= 7, "about one poll a second over 8.5 s (%d)" % len(t))
    # Times are taken where the requests arrive. The first request also
    # opens the connection (the others reuse it), so it can arrive late by
    # the time that takes, which shortens the first gap without any poll
    # starting early: seen once under ASan on a loaded machine (0.897 s).
    # The check of politeness therefore starts from the second gap.
    check(min(gaps[1:]) >= 0.95, "never sooner than the 1 s interval (smallest gap after the first %.3f s)"
          % min(gaps[1:]))
    check(max(gaps) < 1.5, "never a second late (largest gap %.3f s)" % max(gaps))
    check(statistics.median(gaps) < 1.1, "median gap %.3f s" % statistics.median(gaps))
finally:
    close_all(store, fx, srv)
print("PASS")
