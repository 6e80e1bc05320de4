#!/usr/bin/python3
"""
newsmon-fetcher as a daemon: a 429 with Retry-After is obeyed (the next
poll waits at least that long), a feed with newsmon:interval is polled
again on time with a conditional GET, SIGHUP reloads the feeds folder
(a new list is polled, a broken one is refused and the old list kept),
and SIGTERM stops it cleanly with exit 0.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, wait_for, rss, trickle, close_all  # noqa: E402

srv = Server()
busy_feed = rss("Busy", [("busy-0", "B0", "http://example.invalid/b", "S")]).encode()


def busy(h):
    if len(srv.hits("/busy.xml")) == 1:
        h.reply(429, b"slow down", "text/plain", {"Retry-After": "3"})
    else:
        h.reply(200, busy_feed, "application/rss+xml")


srv.route("/busy.xml", busy)
srv.static("/steady.xml", rss("Steady", [("s-0", "S0", "http://example.invalid/s", "S")]),
           ctype="application/rss+xml", etag='"s1"')


slow = trickle("text/html", 100000, 0.5)
srv.route("/slow.xml", slow)
srv.route("/slow.html", slow)
srv.static("/slowpage.xml", rss("Slow page", [("sp-0", "SP0", srv.url("/slow.html"), "S")]),
           ctype="application/rss+xml")
srv.static("/late.xml", rss("Late", [("late-0", "L0", "http://example.invalid/l", "S")]),
           ctype="application/rss+xml")


fx = Fetcher(fetch_pages="no", min_interval="1s", max_per_host="8")
store = None
try:
    fx.opml("desk.opml", [srv.url("/busy.xml"), (srv.url("/steady.xml"), 'newsmon:interval="1s"')])
    # Transfers still running at SIGTERM: a feed and a page that trickle.
    fx.opml("slow.opml", [srv.url("/slow.xml"), (srv.url("/slowpage.xml"), 'newsmon:fetchPage="yes"')])
    store = FakeStore(fx.fetch_out, fx.store_events)
    fx.start()
    wait_for(lambda: len(srv.hits("/busy.xml")) >= 2, 15, "the second poll of the 429 feed")
    t = [r[2] for r in srv.hits("/busy.xml")]
    check(t[1] - t[0] >= 2.9, "Retry-After: 3 is obeyed (%.1fs between polls)" % (t[1] - t[0]))
    wait_for(lambda: "busy-0" in store.ids(), 5, "the item of the recovered feed")
    check(True, "the recovered feed's item is delivered")

    wait_for(lambda: "s-0" in store.ids(), 10, "the steady feed's item")
    n = len(srv.hits("/steady.xml"))
    wait_for(lambda: len(srv.hits("/steady.xml")) >= n + 3, 10, "repeated polls of the 1s feed")
    steady = srv.hits("/steady.xml")
    check(steady[-1][1].get("If-None-Match") == '"s1"', "once its item is confirmed, the poll is a conditional GET")
    # Before its confirmation arrives an item may be sent again (a
    # confirmation published before the subscription joined is lost, and the
    # store is idempotent); once confirmed, it is never sent again.
    sent = store.ids().count("s-0")
    n = len(srv.hits("/steady.xml"))
    wait_for(lambda: len(srv.hits("/steady.xml")) >= n + 2, 10, "two more polls of the 1s feed")
    check(store.ids().count("s-0") == sent, "once confirmed, an item is not sent again although polled again")

    # SIGHUP: a broken list is refused and the old one kept ...
    with open(os.path.join(fx.feeds_dir, "broken.opml"), "w") as f:
        f.write("<opml><body><outline text='x' xmlUrl='nope'/></body></opml>")
    fx.proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    check(fx.proc.poll() is None, "a broken list does not stop the daemon")
    os.unlink(os.path.join(fx.feeds_dir, "broken.opml"))
    # ... and a good one is loaded.
    fx.opml("late.opml", [srv.url("/late.xml")])
    fx.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "late-0" in store.ids(), 10, "the item of the feed added by SIGHUP")
    check(True, "SIGHUP loads the new list and its feed is polled")

    import json
    import zmq
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, 5000)
    req.connect("ipc://%s/fetcher.ctl" % fx.dir)
    req.send(b"status")
    st = json.loads(req.recv())
    print("status: %s" % st)
    check(st.get("feeds") == 5 and st.get("transfers") == 2 and st.get("confirmed", 0) >= 3 and st.get("pending") == 0,
          "the control socket reports feeds, confirmed and pending items")
    req.close()
    ctx.term()

    t0 = time.time()
    rc = fx.stop(signal.SIGTERM)
    check(rc == 0 and time.time() - t0 < 5, "SIGTERM stops the daemon with exit 0, transfers in flight")
    check("reload refused" in fx.log and "broken.opml:1:" in fx.log, "the refused reload is logged with file:line")
    check("reloaded the feed lists: 5 feeds" in fx.log, "the good reload is logged")
    check("sp-0" not in store.ids() and fx.pending() == 0,
          "an item whose page was still loading at SIGTERM was not sent (it is new again next time)")
finally:
    close_all(store, fx, srv)
print("PASS")
