#!/usr/bin/python3
"""
A hostile page so big that its article is over [bus] max_message (here
1 MiB; 16 MiB by default, reachable with a gzip'd text page under the
fetcher's max_decompressed of 32 MiB). ZeroMQ makes the receiver drop the
connection of a peer that sends an oversized message, and a connecting
receiver (the classifier, which connects to the fetcher) does not
reconnect after that protocol error: before nm_bus_send refused such
messages, the classifier never heard from the fetcher again, silently,
and the fetcher's re-send after a classifier restart cut it again.
Now: the real fetcher and classifier, a fake store; the feed lists the
big page's item first, then a normal one. The normal item must come out
of the classifier, the big one must be refused by the fetcher with a
clear line naming it and the limit, and both daemons must stay up.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")),
                                "tests/data/fetcher"))
from harness import Server, check, fail, page, rss  # noqa: E402
import zmq  # noqa: E402  (the harness skips without it)

SRC = os.environ.get("NM_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("NM_BUILD_DIR") or os.path.join(SRC, "build")
for exe in ("fetcher/newsmon-fetcher", "classifier/newsmon-classifier"):
    if not os.access(os.path.join(BUILD, exe), os.X_OK):
        print("SKIP: %s is not built" % exe)
        sys.exit(77)

srv = Server()
big = page("Big", ["Belarus paragraph number %d, with enough words to count as text." % i for i in range(40000)])
srv.static("/big.html", big)
srv.static("/small.html", page("Small", ["Belarus: a small page with several words in it for the extractor."] * 5))
srv.static("/feed.xml", rss("F", [("a-big", "Big", srv.url("/big.html"), "S"),
                                  ("b-small", "Small", srv.url("/small.html"), "S")]), ctype="application/rss+xml")
t = tempfile.mkdtemp(prefix="nm-hostile-oversize-")
os.makedirs(t + "/feeds.d")
with open(t + "/feeds.d/f.opml", "w") as f:
    f.write('<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
            '<outline type="rss" text="f" xmlUrl="%s"/></body></opml>' % srv.url("/feed.xml"))
with open(t + "/newsmon.conf", "w") as f:
    f.write("[bus]\nfetch_out = ipc://%(t)s/fetch.sock\nstore_in = ipc://%(t)s/store.sock\n"
            "store_events = ipc://%(t)s/events.sock\nalerts = ipc://%(t)s/alerts.sock\ncontrol_dir = %(t)s\n"
            "max_message = 1M\nlinger = 0\n\n[log]\ntarget = stderr\n\n[fetcher]\nstate = %(t)s/f.db\n"
            "feeds = %(t)s/feeds.d\nallow_private = 127.0.0.0/8\nmin_interval = 1s\ndefault_interval = 2s\n"
            "max_interval = 2s\n\n[classifier]\nrules = %(src)s/config/rules.d\n" % {"t": t, "src": SRC})
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.bind("ipc://%s/store.sock" % t)
procs = {}
for name in ("classifier", "fetcher"):
    procs[name] = subprocess.Popen([os.path.join(BUILD, name, "newsmon-" + name), "-f", "-c", t + "/newsmon.conf"],
                                   stderr=open("%s/%s.log" % (t, name), "w"))
    time.sleep(0.5)
got = []
end = time.time() + 20
while time.time() < end and "b-small" not in got:
    if pull.poll(500):
        m = pull.recv_multipart()
        got.append(json.loads(m[1])["article"]["id"])
time.sleep(2.5)   # one more poll: the big item is refused again, nothing else happens
for name, p in procs.items():
    check(p.poll() is None, "newsmon-%s is still up" % name)
    p.terminate()
    if p.wait(10) != 0:
        fail("newsmon-%s did not stop cleanly" % name)
log = open(t + "/fetcher.log").read()
print(log[-1500:])
check("b-small" in got, "the normal item after the oversized one is classified: %s" % got)
check("a-big" not in got, "the oversized article is not sent")
check(any("a-big" in line and "larger than [bus] max_message" in line for line in log.splitlines()),
      "the fetcher says which item is too big and the limit")
subprocess.run(["rm", "-rf", t])
srv.close()
print("PASS")
