#!/usr/bin/python3
"""
newsmon-fetcher --once against a local HTTP server and a fake store:
new items are sent once with their page text, confirmed items are never
re-sent, a second poll is a conditional GET answered 304, unconfirmed items
make --once fail naming their count and are re-sent (without validators)
on the next poll, a link to a loopback address is refused by the SSRF
guard, a feed with newsmon:fetchPage="no" sends page "off", and a page
longer than [fetcher] max_text is cut at a word.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, page, rss  # noqa: E402

srv = Server()
for i in range(3):
    srv.static("/a/%d.html" % i, page("Story A%d" % i, ["Paragraph one of story A%d about Minsk and the border. " % i * 4,
                                                       "Second paragraph with more words about drones. " * 4]))
srv.static("/feed-a.xml", rss("Feed A", [("a-%d" % i, "Title A%d" % i, srv.url("/a/%d.html" % i), "Summary A%d" % i)
                                         for i in range(3)]),
           ctype="application/rss+xml", etag='"v1"')
srv.static("/feed-b.xml", rss("Feed B", [("b-0", "Title B0", srv.url("/missing.html"), "Summary B0")]),
           ctype="application/rss+xml", last_modified="Mon, 01 Jan 2024 10:00:00 GMT")
srv.static("/feed-c.xml", rss("Feed C", [("c-0", "Title C0", srv.url("/a/0.html"), "Summary C0")]),
           ctype="application/rss+xml")

fx = Fetcher()
try:
    fx.opml("desk.opml", [srv.url("/feed-a.xml"), srv.url("/feed-b.xml"),
                          (srv.url("/feed-c.xml"), 'newsmon:fetchPage="no"')])

    # 1. First run: every item sent once and confirmed.
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once()
    store.close()
    check(rc == 0, "first --once run exits 0")
    check(not store.errors, "every message is a well-formed article message: %s" % store.errors)
    check(store.ids() == ["a-0", "a-1", "a-2", "b-0", "c-0"], "five new items sent once: %s" % store.ids())
    by_id = {a["id"]: a for a in store.articles}
    check(by_id["a-1"]["page"] == "ok" and "Paragraph one of story A1" in by_id["a-1"]["text"],
          "page fetched and extracted for a-1")
    check(by_id["a-1"]["feed"] == srv.url("/feed-a.xml") and by_id["a-1"]["title"] == "Title A1",
          "article carries its feed and title")
    check(by_id["b-0"]["page"].startswith("failed: HTTP 404") and by_id["b-0"]["summary"] == "Summary B0",
          "a missing page is sent with the feed's text and page 'failed: HTTP 404'")
    check(by_id["c-0"]["page"] == "off", "newsmon:fetchPage=no gives page 'off'")
    ua = srv.hits("/feed-a.xml")[0][1].get("User-Agent", "")
    check(ua.startswith("newsmon/"), "User-Agent names newsmon and its version: %s" % ua)
    row = fx.feed_row(srv.url("/feed-a.xml"))
    check(row["etag"] == '"v1"' and row["failures"] == 0 and row["last_success"] > 0, "feed health recorded")

    # 2. Second run: conditional GET, 304, nothing re-sent.
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once()
    store.close()
    check(rc == 0, "second --once run exits 0")
    check(store.ids() == [], "confirmed items are not re-sent: %s" % store.ids())
    last_a = srv.hits("/feed-a.xml")[-1][1]
    last_b = srv.hits("/feed-b.xml")[-1][1]
    check(last_a.get("If-None-Match") == '"v1"', "ETag sent back as If-None-Match")
    check(last_b.get("If-Modified-Since") == "Mon, 01 Jan 2024 10:00:00 GMT", "Last-Modified sent back")
    check("not modified" in fx.log, "304 logged")

    # 3. A new item, a store that does not confirm: exit 1 naming the count.
    srv.static("/feed-a.xml", rss("Feed A", [("a-%d" % i, "Title A%d" % i, srv.url("/a/%d.html" % (i % 3)), "S")
                                             for i in range(4)]),
               ctype="application/rss+xml", etag='"v2"')
    fx.set(once_timeout="3s")
    store = FakeStore(fx.fetch_out, fx.store_events, confirm=False)
    rc = fx.run_once()
    store.close()
    check(rc == 1, "--once exits 1 when the store does not confirm")
    check("1 item sent but not confirmed" in fx.log, "the timeout names the unconfirmed count")
    check(fx.elapsed < 15, "and gives up in bounded time (%.1fs)" % fx.elapsed)
    check("a-3" in store.ids(), "the new item was sent")

    # 4. Next run: the pending item is re-sent, and its feed is polled without validators.
    n_before = len(srv.hits("/feed-a.xml"))
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once()
    store.close()
    check(rc == 0, "the next run exits 0 once the store confirms")
    check(store.ids() == ["a-3"], "only the unconfirmed item is re-sent: %s" % store.ids())
    req = srv.hits("/feed-a.xml")[n_before][1]
    check("If-None-Match" not in req, "a feed with unconfirmed items is polled without validators")
    check(fx.pending() == 0, "nothing left pending")
    check(len(srv.hits("/a/3.html")) == 0 and sum(1 for r in srv.requests if r[0] == "/a/0.html") >= 1,
          "re-sending needs no new page fetch")

    # 5. SSRF guard: without allow_private, a loopback link is refused.
    fx2 = Fetcher(allow_private="")
    try:
        srv.static("/feed-d.xml", rss("Feed D", [("d-0", "Title D0", srv.url("/a/0.html"), "Summary D0")]),
                   ctype="application/rss+xml")
        fx2.opml("d.opml", [srv.url("/feed-d.xml")])
        store = FakeStore(fx2.fetch_out, fx2.store_events)
        rc = fx2.run_once()
        store.close()
        check(rc == 0, "the guarded run exits 0")
        a = store.articles[0] if store.articles else {}
        check(a.get("page", "").startswith("failed: refused to connect to 127.0.0.1 (loopback"),
              "the page fetch to 127.0.0.1 is refused: %s" % a.get("page"))
        check(a.get("summary") == "Summary D0", "and the item is still sent with its feed text")
    finally:
        fx2.close()

    # 6. A page longer than [fetcher] max_text is cut at a word, so the
    #    article always fits a message.
    fx3 = Fetcher(max_text="2k")
    try:
        srv.static("/long.html", page("A long story", ["Word%d about the border near Minsk. " % i * 20
                                                       for i in range(40)]))
        srv.static("/feed-e.xml", rss("Feed E", [("e-0", "Title E0", srv.url("/long.html"), "Summary E0")]),
                   ctype="application/rss+xml")
        fx3.opml("e.opml", [srv.url("/feed-e.xml")])
        store = FakeStore(fx3.fetch_out, fx3.store_events)
        rc = fx3.run_once()
        store.close()
        a = store.articles[0] if store.articles else {}
        text = a.get("text", "")
        check(rc == 0 and a.get("page") == "ok", "the long page is fetched")
        check(1024 < len(text.encode()) <= 2048 and not text.endswith((" ", "\n")) and text.split()[-1].startswith(("Word", "about", "the", "border", "near", "Minsk")),
              "its text is cut to max_text at a word (%d bytes)" % len(text.encode()))
    finally:
        fx3.close()
finally:
    fx.close()
    srv.close()
print("PASS")
