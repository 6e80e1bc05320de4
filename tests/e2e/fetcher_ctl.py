#!/usr/bin/python3
"""
`newsmonctl feeds`: the health table from the fetcher's state database
(path from -c CONFIG or --state), `feeds import` (validation with
file:line errors, copy, --merge, duplicates refused) and `feeds export`
(OPML that reads back).
"""
import os
import subprocess
import sys
import xml.dom.minidom

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import BUILD, Fetcher, FakeStore, Server, check, rss  # noqa: E402

CTL = os.path.join(BUILD, "ctl", "newsmonctl")


def ctl(fx, *args):
    p = subprocess.run([CTL, "-c", fx.conf, "feeds"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    out, err = p.stdout.decode(), p.stderr.decode()
    print("$ newsmonctl feeds %s -> %d\n%s%s" % (" ".join(args), p.returncode, out, err))
    return p.returncode, out, err


srv = Server()
srv.static("/ok.xml", rss("Healthy Feed", [("h-0", "H0", "http://example.invalid/h", "S")]),
           ctype="application/rss+xml")
srv.route("/down.xml", lambda h: h.reply(503, b"down", "text/plain"))
fx = Fetcher(fetch_pages="no")
try:
    fx.opml("desk.opml", [srv.url("/ok.xml"), srv.url("/down.xml")])
    store = FakeStore(fx.fetch_out, fx.store_events)
    check(fx.run_once() == 0, "fetcher run")
    store.close()

    rc, out, _ = ctl(fx)
    lines = out.splitlines()
    check(rc == 0 and lines[0].startswith("URL") and "LAST ERROR" in lines[0], "feeds prints a table with a header")
    ok = [l for l in lines if srv.url("/ok.xml") in l][0]
    down = [l for l in lines if srv.url("/down.xml") in l][0]
    check("Healthy Feed" in ok and " 0 " in ok and ok.rstrip().endswith("-"), "healthy feed: title, 0 failures")
    check("HTTP 503" in down and "never" in down, "failing feed: its error, never succeeded")
    rc2, out2, _ = ctl(fx, "--state", fx.state, "list")
    check(rc2 == 0 and out2 == out, "--state PATH gives the same table")
    rc, _, err = ctl(fx, "--state", "/nonexistent/x.db")
    check(rc == 1 and "state database" in err, "a missing state database is a clear error")

    # import: a bad list is refused with file:line.
    bad = os.path.join(fx.dir, "bad.opml")
    with open(bad, "w") as f:
        f.write('<opml version="2.0"><body>\n<outline text="x" xmlUrl="notaurl"/>\n</body></opml>\n')
    rc, _, err = ctl(fx, "import", bad)
    check(rc == 1 and bad + ":2:" in err, "import refuses a bad list naming file:line")
    check(not os.path.exists(os.path.join(fx.feeds_dir, "bad.opml")), "and copies nothing")

    new = os.path.join(fx.dir, "extra.opml")
    with open(new, "w") as f:
        f.write('<opml version="2.0"><body>\n<outline text="New" xmlUrl="https://new.example/rss"/>\n'
                '<outline text="Dup" xmlUrl="%s"/>\n</body></opml>\n' % srv.url("/ok.xml"))
    rc, _, err = ctl(fx, "import", new)
    check(rc == 1 and "--merge" in err, "a list overlapping the folder needs --merge")
    rc, out, _ = ctl(fx, "import", "--merge", new)
    check(rc == 0 and "merged 1 new feed" in out and "1 already listed" in out, "--merge adds only the new feed")
    rc, out, _ = ctl(fx, "import", "--merge", new)
    check(rc == 0 and "merged 0 new feeds" in out, "merging again adds nothing")

    solo = os.path.join(fx.dir, "solo.opml")
    with open(solo, "w") as f:
        f.write('<opml version="2.0"><body><outline text="Solo" xmlUrl="https://solo.example/rss"/></body></opml>')
    rc, out, _ = ctl(fx, "import", solo)
    check(rc == 0 and os.path.exists(os.path.join(fx.feeds_dir, "solo.opml")), "import copies a new list")
    rc, _, err = ctl(fx, "import", solo)
    check(rc == 1, "importing the same list twice is refused")

    rc, out, _ = ctl(fx, "export")
    doc = xml.dom.minidom.parseString(out)
    urls = sorted(o.getAttribute("xmlUrl") for o in doc.getElementsByTagName("outline") if o.getAttribute("xmlUrl"))
    check(rc == 0 and urls == sorted([srv.url("/ok.xml"), srv.url("/down.xml"), "https://new.example/rss",
                                      "https://solo.example/rss"]), "export lists every feed of the folder")
    rc, out, _ = ctl(fx)
    check("https://solo.example/rss" in out and "not polled yet" in out, "configured feeds not yet polled are listed")
finally:
    fx.close()
    srv.close()
print("PASS")
