#!/usr/bin/python3
"""
Hostile HTTP peers for newsmon-fetcher that tests/e2e/fetcher_http.py
does not already cover (that one has the endless body, the gzip bomb, the
trickle, the redirect loop, 429 and 500): in one --once run beside a
healthy feed,
- a server that accepts the connection and never answers,
- a Content-Length shorter than the body (keep-alive: the surplus is left
  on the connection; the body is read up to the cut, which drops the cut
  entry),
- a Content-Length longer than the body, then the connection closed,
- an https:// feed whose port speaks plain garbage instead of TLS,
- an https:// feed with a self-signed certificate (refused: not trusted),
- and the same lies from an item's page: the article still goes out, its
  page marked failed, so nothing is lost.
Each failing feed gets one clear log line and its reason in the state
database; the run ends in bounded time; the healthy items are delivered.
"""
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Fetcher, FakeStore, Server, check, page, rss  # noqa: E402

stop = threading.Event()


def raw_server(handle):
    """Starts a TCP server on a free loopback port; handle(conn) per connection. Returns the port."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(0.2)

    def loop():
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            threading.Thread(target=handle, args=(c,), daemon=True).start()
        ls.close()
    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def garbage_tls(c):
    """Answers a TLS ClientHello with plain bytes."""
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + os.urandom(512))
        time.sleep(0.5)
    except OSError:
        pass
    c.close()


srv = Server()
good = rss("Good", [("g-%d" % i, "Good %d" % i, "http://example.invalid/%d" % i, "S%d" % i) for i in range(2)])
srv.static("/good.xml", good, ctype="application/rss+xml")
body = rss("Lying", [("lie-0", "Lie 0", "http://example.invalid/lie", "S")]).encode()


def silent(h):
    stop.wait(60)   # accepted, read the request, never answers


def short_cl(h, data=body, ctype="application/rss+xml"):
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data) // 3))
    h.end_headers()
    h.wfile.write(data)   # twice as much as announced follows on the kept-alive connection


def long_cl(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(len(body) * 10))
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(body)
    h.wfile.flush()
    h.close_connection = True


def page_long_cl(h):
    p = page("Long", ["Belarus text that will never be complete."]).encode()
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Content-Length", str(len(p) + 5000))
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(p)
    h.close_connection = True


# The short Content-Length leaves its surplus on a kept-alive connection;
# libcurl reuses that connection for the next request to the same server,
# which then reads the surplus as its status line ("Received HTTP/0.9").
# The lie can only hurt its own server's other requests, so each lying
# Content-Length gets a server of its own here (the feed's and the
# page's too: which of the two is fetched first is up to the schedule),
# and the other cases are judged on their own.
liar = Server()
page_liar = Server()
srv.route("/silent.xml", silent)
liar.route("/short-cl.xml", short_cl)
srv.route("/long-cl.xml", long_cl)
srv.route("/page-silent.html", silent)
srv.route("/page-long-cl.html", page_long_cl)
page_liar.route("/page-short-cl.html",
           lambda h: short_cl(h, page("Short", ["Belarus: a page cut short by its Content-Length, "
                                                "with a long paragraph " * 5]).encode(), "text/html"))
srv.static("/pages.xml", rss("Pages", [("p-silent", "P silent", srv.url("/page-silent.html"), "S1"),
                                        ("p-long", "P long", srv.url("/page-long-cl.html"), "S2"),
                                        ("p-short", "P short", page_liar.url("/page-short-cl.html"), "S3")]),
           ctype="application/rss+xml")

tls_garbage_port = raw_server(garbage_tls)

# A real TLS server with a self-signed certificate.
fx = Fetcher(timeout="3s", connect_timeout="2s", low_speed_time="2s", fetch_pages="yes", once_timeout="30s")
cert, key = os.path.join(fx.dir, "cert.pem"), os.path.join(fx.dir, "key.pem")
r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   capture_output=True)
self_signed_port = None
if r.returncode == 0:
    tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ctx.load_cert_chain(cert, key)

    def self_signed(c):
        try:
            s = tls_ctx.wrap_socket(c, server_side=True)
            s.recv(4096)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
            s.close()
        except (OSError, ssl.SSLError):
            c.close()
    self_signed_port = raw_server(self_signed)
else:
    print("note: openssl cannot make a certificate; the self-signed case is left out: %s" % r.stderr.decode())

feeds = {srv.url("/good.xml"): None, srv.url("/pages.xml"): None,
         srv.url("/silent.xml"): "timed out",
         liar.url("/short-cl.xml"): None,   # parsed as far as it goes: see below
         srv.url("/long-cl.xml"): "closed",
         "https://127.0.0.1:%d/feed.xml" % tls_garbage_port: "SSL"}
if self_signed_port:
    feeds["https://127.0.0.1:%d/feed.xml" % self_signed_port] = "certificate"
try:
    fx.opml("desk.opml", list(feeds))
    store = FakeStore(fx.fetch_out, fx.store_events)
    rc = fx.run_once(timeout=60)
    store.close()
    check(rc == 0, "the run ends with exit 0: the hostile feeds do not hold it up")
    check(fx.elapsed < 25, "in bounded time (%.1fs)" % fx.elapsed)
    ids = store.ids()
    check(ids == ["g-0", "g-1", "p-long", "p-short", "p-silent"],
          "the healthy feed's items and every item with a hostile page are delivered: %s" % ids)
    check("lie-0" not in ids, "nothing from a truncated, over-long or untrusted feed body is taken as an item")
    pages = {a["id"]: a.get("page", "") for a in store.articles}
    for pid in ("p-silent", "p-long"):
        check(pages[pid].startswith("failed: "), "%s: sent with page '%s'" % (pid, pages[pid]))
    check("timed out" in pages["p-silent"], "the silent page: timed out")
    # A page cut short by its Content-Length is an ordinary (short) page.
    check(pages["p-short"] == "ok", "p-short: sent with page '%s'" % pages["p-short"])
    check(any(liar.url("/short-cl.xml") in line and "Premature end" in line for line in fx.log.splitlines()),
          "a feed cut short by its Content-Length: logged as read with a problem (premature end)")
    check(fx.feed_row(liar.url("/short-cl.xml"))["failures"] == 0,
          "and not counted as a failure: the entries before the cut are used, the cut one is not")
    for url, text in feeds.items():
        if text is None:
            continue
        row = fx.feed_row(url)
        err = (row or {}).get("last_error") or ""
        check(row is not None and row["failures"] == 1 and text.lower() in err.lower(),
              "%s: last_error mentions '%s' (%s)" % (url, text, err))
        check(any(url in line and "warning" in line for line in fx.log.splitlines()), "%s: one clear log line" % url)
finally:
    stop.set()
    fx.close()
    srv.close()
    liar.close()
    page_liar.close()
print("PASS")
