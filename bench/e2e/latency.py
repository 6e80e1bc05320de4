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

Each trial adds one item to the feed, waits for all three arrivals and
records the delays. Both tools poll once a second, so a delay is mostly
the wait for the next poll, set by the moment of the change within the
second: trial i of N changes the feed at fraction (i + 1/2)/N of a second
(in a seeded random order), so the N trials cover the second evenly for
both tools' polling rhythms, and the median is not a draw of N random
phases (which moved it by +-0.15 s from run to run).

Prints the median and the range of TRIALS trials; newsmon's delay split
into its stages (nginx's log of the fetcher's requests and the daemons'
debug log lines: waiting for the next poll, feed and page fetched,
extracted and classified, stored, handed to the notifier, delivered); how
often each tool actually fetched the feed, and the mean wait that
rhythm gives a change; then
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


STAGES = (("poll", "waiting for the next poll (change -> feed fetched)"),
          ("page", "feed parsed, item's page fetched"),
          ("classify", "page extracted, article classified"),
          ("store", "article and alert written by the store"),
          ("handoff", "committed, alert sent, notifier has it"),
          ("mail", "notifier -> mail accepted by SMTP"),
          ("hook", "notifier -> webhook received"))


def stages(b, d, marks):
    """Returns {stage: [seconds per trial]} for newsmon from nginx's log and
    the daemons' logs; marks are (token, t0, {"mail": t, "hook": t})."""
    hits = [e for e in b.access_entries() if e["agent"].startswith("newsmon/")]
    feeds = [e["t"] for e in hits if e["uri"] == "/f/desk.xml"]
    near = marks[0][1]
    rx = r"(nmbench-lat-\d+)"
    logs = {"classify": common.log_times(os.path.join(d, "classifier.log"), "classified " + rx, near),
            "store": common.log_times(os.path.join(d, "store.log"), "stored " + rx, near),
            "handoff": common.log_times(os.path.join(d, "notifier.log"), r"alert \d+ received: article " + rx, near)}
    out = {k: [] for k, _ in STAGES}
    for token, t0, seen in marks:
        page = next((e["t"] for e in hits if e["uri"] == "/p/%s.html" % token), None)
        feed = max((t for t in feeds if page is not None and t <= page), default=None)
        times = [t0, feed, page, logs["classify"].get(token), logs["store"].get(token), logs["handoff"].get(token)]
        if None in times:
            continue
        for (k, _), a, z in zip(STAGES, times, times[1:]):
            out[k].append(z - a)
        out["mail"].append(seen["mail"] - times[-1])
        out["hook"].append(seen["hook"] - times[-1])
    return out


def intervals(times):
    ts = sorted(times)
    return [z - a for a, z in zip(ts, ts[1:])]


def mean_wait(iv):
    """Returns the mean wait until the next poll of a change at a random
    moment, for polls at these intervals: sum(d^2) / (2 sum(d))."""
    return sum(d * d for d in iv) / (2 * sum(iv))


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
                         [site.feed_url("desk")], log_level="debug")   # debug: the stages' log lines
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
        phases = [(i + 0.5) / trials for i in range(trials)]
        rng.shuffle(phases)
        got = {"mail": [], "hook": [], "r2e": []}
        marks = []
        window = time.time()
        for t in range(trials):
            earliest = time.time() + 1.5   # both tools idle again
            at = int(earliest) + phases[t]
            time.sleep((at if at >= earliest else at + 1) - time.time())
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
            marks.append((token, t0, {k: t0 + v for k, v in seen.items()}))
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
        st = stages(b, d, marks)
        if st["poll"]:
            print("newsmon's delay by stage, median of %d trials (min-max):" % len(st["poll"]))
            for k, name in STAGES:
                print("  %-52s %6.3f s  (%.3f-%.3f)" % (name, median(st[k]), min(st[k]), max(st[k])))
        else:
            print("newsmon's delay by stage: no trial has every stage's log line (a newsmon without them?)")
        for who, pick in (("newsmon", lambda e: e["agent"].startswith("newsmon/")),
                          ("rss2email", lambda e: not e["agent"].startswith("newsmon/"))):
            iv = intervals(e["t"] for e in b.access_entries() if e["uri"] == "/f/desk.xml" and pick(e)
                           and e["t"] >= window)
            if iv:
                print("  %-10s fetched the feed every %.3f s (median; mean %.3f, max %.3f, %d%% over 1.5 s):"
                      " a change waits %.3f s on average" % (who, median(iv), sum(iv) / len(iv), max(iv),
                                                          round(100 * sum(1 for x in iv if x > 1.5) / len(iv)),
                                                          mean_wait(iv)))
        print("BENCH e2e-mail newsmon=%.3f peer=%.3f unit=s peer_name=rss2email peer_run=%.3f"
              % (median(got["mail"]), median(got["r2e"]), median(runs)))
        print("BENCH e2e-webhook newsmon=%.3f peer=- unit=s" % median(got["hook"]))
        return 0
    finally:
        stop.set()
        b.close()


if __name__ == "__main__":
    sys.exit(main())
