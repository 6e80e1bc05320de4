#!/usr/bin/python3
"""
A fetcher stopped while new items' pages are loading loses nothing, even
when the feed has an ETag: the feed's new validators are kept only once
every new item is recorded, so the next run reads the whole feed again
(a 200, not a 304 that would hide the items) and sends them with their
pages. Checked for SIGKILL and for SIGTERM, then that the validators are
kept once the pages are in (the polls after that are conditional GETs
answered 304).
"""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, wait_for, page, rss, close_all  # noqa: E402

srv = Server()
release = threading.Event()   # set: pages are served; clear: they hang


def article(h):
    if not release.is_set():
        release.wait(30)
        return   # the client is gone by now
    h.reply(200, page("Border report", ["Troops were seen near the border with Lithuania."] * 3).encode())


srv.route("/a1.html", article)
srv.route("/a2.html", article)
items = [("k-1", "K1", srv.url("/a1.html"), "S1")]


def serve_feed(etag):
    srv.static("/feed.xml", rss("Kill", list(reversed(items))), ctype="application/rss+xml", etag=etag)


def loaded(path, n):
    return lambda: len(srv.hits(path)) >= n


fx = Fetcher(fetch_pages="yes", min_interval="1s", max_per_host="8")
store = None
try:
    store = FakeStore(fx.fetch_out, fx.store_events)
    fx.opml("desk.opml", [(srv.url("/feed.xml"), 'newsmon:interval="1s"')])
    for sig, guid, path, etag in ((signal.SIGKILL, "k-1", "/a1.html", '"e1"'),
                                  (signal.SIGTERM, "k-2", "/a2.html", '"e2"')):
        name = signal.Signals(sig).name
        if guid != "k-1":
            items.append((guid, guid.upper(), srv.url(path), "S2"))
        serve_feed(etag)
        release.clear()
        fx.start()
        wait_for(loaded(path, 1), 15, "the page of %s to be requested" % guid)
        fx.stop(sig)
        check(guid not in store.ids(), "%s: %s was not sent while its page was loading" % (name, guid))
        polls = len(srv.hits("/feed.xml"))
        release.set()
        fx.start()
        wait_for(lambda: guid in store.ids(), 15, "%s after the restart that follows %s" % (guid, name))
        after = srv.hits("/feed.xml")[polls:]
        check(after and after[0][1].get("If-None-Match") != etag,
              "%s: the restarted fetcher did not offer the ETag it had received before the stop" % name)
        sent = [a for a in store.articles if a["id"] == guid]
        check(sent[-1].get("page") == "ok" and "Troops" in sent[-1].get("text", ""),
              "%s: %s is sent with its page's text after the restart" % (name, guid))
        n = len(srv.hits("/feed.xml"))
        wait_for(loaded("/feed.xml", n + 2), 10, "two more polls")
        check(srv.hits("/feed.xml")[-1][1].get("If-None-Match") == etag,
              "%s: once the page is in, the feed's ETag is kept and the next polls are conditional" % name)
        check(fx.stop(signal.SIGTERM) == 0, "%s: the restarted fetcher stops with exit 0" % name)
    check(set(store.ids()) == {"k-1", "k-2"}, "both items reached the store, and nothing else")
    check(not store.errors, "every message was well-formed")
finally:
    release.set()
    close_all(store, fx, srv)
print("PASS")
