"""End-to-end latency: the time from a feed changing on a local web server
(nginx) to the alert reaching a local SMTP server and a local webhook, for
newsmon's whole pipeline at its shortest poll interval, against rss2email
watching the same feed and mailing the same SMTP server.

newsmon: the four daemons as scripts/run-demo starts them (-c CONF, -o for
every path); the fetcher's min_interval, default_interval and max_interval
all at 1s (the smallest min_interval allowed), so the feed is polled every
second; the item's page is fetched and extracted, classified with the
desk's rules (config/rules.d), stored, and the notifier's email channel
(SMTP, no TLS) and webhook channel deliver the alert.
rss2email: `r2e run` started at every whole second (when the previous run
has finished; a run that overlaps a tick waits for the next one), the
same "poll every second" schedule; it mails every new item.

Each trial adds one item to the feed at a random moment (so the poll
phase is random for both), waits for all three arrivals and records the
delays. Prints the median and the range of TRIALS trials, then
    BENCH e2e-mail newsmon=S peer=S unit=s peer_name=rss2email peer_run=S
    BENCH e2e-webhook newsmon=S peer=- unit=s

usage: latency.py BUILD_DIR [TRIALS]        (run with /usr/bin/python3)
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log, median  # noqa: E402

TIMEOUT = 30.0   # one trial's arrivals, at most


def r2e_loop(r2e, stop, stats):
    """Starts `r2e run` at each whole second until stop is set."""
    while not stop.is_set():
        rc, wall, _cpu, _peak = r2e.run(timeout=60)
        stats.append((rc, wall))
        now = time.time()
        stop.wait(1.0 - (now % 1.0))


def main():
    if len(sys.argv) < 2:
        print("usage: latency.py BUILD_DIR [TRIALS]", file=sys.stderr)
        return 2
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    common.ensure_rss2email()
    b = common.Bench(sys.argv[1], keep=bool(os.environ.get("KEEP")))
    stop = threading.Event()
    try:
        b.start_sinks()
        www = b.path("www")
        base = b.start_nginx(www)
        site = common.Site(www, base)
        for k in range(5):
            title, text = common.item_text("quiet", k)
            site.add_item("desk", "nmbench-seed-%d" % k, title, text, time.time() - 3600 * (k + 1), write=False)
        site.write_feed("desk")
        d = b.write_conf("newsmon", {"min_interval": "1s", "default_interval": "1s", "max_interval": "1s"},
                         [site.feed_url("desk")])
        r2e = common.R2e(b, "r2e", [site.feed_url("desk")])
        rc, *_ = r2e.run("--no-send")   # rss2email's first run: remember the items already there
        if rc != 0:
            common.die("r2e run --no-send failed: %s" % open(os.path.join(r2e.dir, "r2e.log")).read()[-2000:])
        ps = b.start_pipeline(d)
        time.sleep(3)                   # the first polls: the seed items are stored, none alerts
        for n, p in ps.items():
            if p.poll() is not None:
                common.die("newsmon-%s exited: see %s/%s.log" % (n, d, n))
        b.arrivals()
        r2e_stats = []
        loop = threading.Thread(target=r2e_loop, args=(r2e, stop, r2e_stats), daemon=True)
        loop.start()
        rng = common.seeded(11)
        got = {"mail": [], "hook": [], "r2e": []}
        for t in range(trials):
            time.sleep(1.5 + rng.random() * 1.5)
            token = "nmbench-lat-%d" % t
            title, text = common.item_text("alert", t)
            # the page first, then the feed: the change is the feed's rename
            site.add_item("desk", token, "%s %s" % (title, token), text, time.time())
            t0 = time.time()
            seen = {}
            while len(seen) < 3 and time.time() - t0 < TIMEOUT:
                for a in b.arrivals():
                    if token not in a["tokens"]:
                        continue
                    if a["via"] == "http":
                        key = "hook"
                    elif "desk@bench.invalid" in a["to"]:
                        key = "mail"
                    else:
                        key = "r2e"
                    seen.setdefault(key, a["t"] - t0)
                time.sleep(0.01)
            if len(seen) < 3:
                common.die("trial %d: after %.0fs only %s arrived (logs in %s; KEEP=1 keeps them)"
                           % (t, TIMEOUT, sorted(seen), b.work))
            for k, v in seen.items():
                got[k].append(v)
            log("trial %d: newsmon mail %.3fs, webhook %.3fs; rss2email mail %.3fs"
                % (t, seen["mail"], seen["hook"], seen["r2e"]))
        stop.set()
        loop.join(70)
        runs = [w for rc, w in r2e_stats if rc == 0]
        failed = sum(1 for rc, _ in r2e_stats if rc != 0)
        if failed:
            common.die("%d r2e runs failed: see %s/r2e.log" % (failed, r2e.dir))
        print("end-to-end latency, feed change -> alert received, %d trials (median, min-max):" % trials)
        for k, name in (("mail", "newsmon -> SMTP"), ("hook", "newsmon -> webhook"), ("r2e", "rss2email -> SMTP")):
            print("  %-20s %6.3f s  (%.3f-%.3f)" % (name, median(got[k]), min(got[k]), max(got[k])))
        print("  rss2email: %d runs, median run %.3f s (poll every 1 s: a run starts at each whole second)"
              % (len(runs), median(runs)))
        print("BENCH e2e-mail newsmon=%.3f peer=%.3f unit=s peer_name=rss2email peer_run=%.3f"
              % (median(got["mail"]), median(got["r2e"]), median(runs)))
        print("BENCH e2e-webhook newsmon=%.3f peer=- unit=s" % median(got["hook"]))
        return 0
    finally:
        stop.set()
        b.close()


if __name__ == "__main__":
    sys.exit(main())
