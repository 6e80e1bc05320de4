"""The whole pipeline's CPU time and peak memory over "a 1,000-feed hour
compressed into a short run", against newsboat and rss2email doing the
same fetching (docs/benchmarks.md explains the compression).

The site: N feeds (default 1,000) on a local nginx, each starting with 2
quiet items (no theme fires). In the measured window every feed gets U new
items (default 3), at moments drawn once from a seeded generator and
replayed identically for each tool; each new item is a Belarus security
story the desk's rules alert on, with its own page. Every tool polls every
feed C times (default 4) in the window, every I seconds (default 15).

- newsmon: the four daemons (as scripts/run-demo starts them) with
  min_interval = default_interval = max_interval = I, 16 transfers at once
  (max_per_host 16), pages fetched and extracted, every alert mailed
  (SMTP) and posted (webhook). Warm-up: `newsmon-fetcher --once` with the
  pipeline running takes in the quiet items; then the daemons are
  restarted and the window starts with the new fetcher. The window ends
  once C x N feed requests were served and every alert reached both
  receivers; CPU (utime + stime from /proc/PID/stat) and peak memory
  (VmHWM from /proc/PID/status) of the four are read then, and summed.
- newsboat: `newsboat -x reload` (reload-threads 16) at window times
  I, 2I, ... (or right after the previous one when it runs longer). Warm-up:
  one reload before the window. CPU summed over the C runs, peak = the
  largest run's max RSS (/usr/bin/time).
- rss2email: `r2e run` on the same schedule, mailing every new item to the
  same SMTP server. Warm-up: `r2e run --no-send`. Same accounting.

Prints a table, then
    BENCH hour-cpu newsmon=S peer=S unit=s peer_name=newsboat fetcher=S classifier=S ...
    BENCH hour-cpu-r2e newsmon=S peer=S unit=s peer_name=rss2email
    BENCH hour-mem newsmon=KB peer=KB unit=kB peer_name=newsboat fetcher=KB ...
    BENCH hour-mem-r2e newsmon=KB peer=KB unit=kB peer_name=rss2email

usage: hour.py BUILD_DIR   (env N, U, C, I; run with /usr/bin/python3)
"""
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402

N = int(os.environ.get("N", 1000))
U = int(os.environ.get("U", 3))
C = int(os.environ.get("C", 4))
I = float(os.environ.get("I", 15))
PAR = 16
INIT = 2
DRAIN = 180.0     # after the last cycle, the pipeline must drain within this


def feed_name(i):
    return "feed-%04d" % i


def schedule():
    """Returns [(offset s, feed index, k)]: U updates per feed, all before the
    last cycle starts (so every tool's last poll sees every update)."""
    rng = common.seeded(2024)
    span = (C - 1) * I - 5
    out = [(rng.random() * span, f, k) for f in range(N) for k in range(U)]
    return sorted(out)


def reset_site(b, base):
    """Writes the site as it is before the window: INIT quiet items a feed."""
    www = b.path("www")
    shutil.rmtree(os.path.join(www, "f"), ignore_errors=True)
    shutil.rmtree(os.path.join(www, "p"), ignore_errors=True)
    site = common.Site(www, base)
    now = time.time()
    for f in range(N):
        for k in range(INIT):
            title, text = common.item_text("quiet", f * INIT + k)
            site.add_item(feed_name(f), "nmbench-q%d-%d" % (f, k), title, text, now - 3600 * (INIT - k), write=False)
        site.write_feed(feed_name(f))
    return site


class Updater(threading.Thread):
    """Replays the schedule from the window's start."""

    def __init__(self, site, sched, start):
        super().__init__(daemon=True)
        self.site, self.sched, self.start_t = site, sched, start
        self.stop = threading.Event()
        self.done = 0

    def run(self):
        for off, f, k in self.sched:
            if self.stop.wait(max(0.0, self.start_t + off - time.time())):
                return
            token = "nmbench-h%d-%d" % (f, k)
            title, text = common.item_text("alert", f * U + k)
            self.site.add_item(feed_name(f), token, "%s %s" % (title, token), text, time.time())
            self.done += 1


def wait_updates(up):
    up.join()
    if up.done != len(up.sched):
        common.die("the updater stopped early")


def run_newsmon(b, base, sched, urls):
    site = reset_site(b, base)
    d = b.write_conf("newsmon", {"min_interval": "%ds" % I, "default_interval": "%ds" % I,
                                 "max_interval": "%ds" % I, "max_transfers": PAR, "max_per_host": PAR,
                                 "once_timeout": "10m"}, urls)
    ps = b.start_pipeline(d, with_fetcher=False)
    t0 = time.time()
    warm = b.start_daemon(d, "fetcher", ["--once", "-o", "fetcher.fetch_pages=no"])  # quiet items: no pages
    if warm.wait() != 0:
        common.die("newsmon warm-up (fetcher --once) failed: see %s/fetcher.log" % d)
    log("newsmon: warm-up (%d feeds, %d items) took %.1fs" % (N, N * INIT, time.time() - t0))
    for p in ps.values():
        b.stop(p)
    b.arrivals()
    b.reset_access_log()
    ps = b.start_pipeline(d)
    start = time.time()
    up = Updater(site, sched, start)
    up.start()
    want = N * U
    mail, hook = set(), set()
    deadline = start + C * I + DRAIN
    feeds = 0
    while time.time() < deadline:
        for a in b.arrivals():
            (hook if a["via"] == "http" else mail).update(a["tokens"])
        feeds, pages, bad = b.feed_requests()
        if feeds >= C * N and len(mail) >= want and len(hook) >= want:
            break
        for n, p in ps.items():
            if p.poll() is not None:
                common.die("newsmon-%s exited during the window: see %s/%s.log" % (n, d, n))
        time.sleep(0.2)
    else:
        common.die("newsmon: after %.0fs: %d feed requests (want %d), %d mails and %d webhooks (want %d); "
                   "KEEP=1 keeps %s" % (time.time() - start, feeds, C * N, len(mail), len(hook), want, b.work))
    wall = time.time() - start
    usage = {n: common.proc_usage(p.pid) for n, p in ps.items()}
    feeds, pages, bad = b.feed_requests()
    wait_updates(up)
    for p in ps.values():
        b.stop(p)
    return {"wall": wall, "cpu": sum(u[0] for u in usage.values()), "mem": sum(u[1] for u in usage.values()),
            "feeds": feeds, "pages": pages, "bad": bad, "delivered": "%d mails, %d webhooks" % (len(mail), len(hook)),
            "detail": ", ".join("%s %.2fs %d kB" % (n, u[0], u[1]) for n, u in usage.items()),
            "cpu_each": " ".join("%s=%.2f" % (n, u[0]) for n, u in usage.items()),
            "mem_each": " ".join("%s=%d" % (n, u[1]) for n, u in usage.items())}


def run_cycles(b, base, sched, name, warm, cycle, check=None):
    """Warm-up, then C cycles of `cycle()` (each returning timed()'s tuple)
    at window times I, 2I, ...; returns the accounting."""
    site = reset_site(b, base)
    t0 = time.time()
    rc, *_ = warm()
    if rc != 0:
        common.die("%s warm-up failed (exit %d)" % (name, rc))
    log("%s: warm-up took %.1fs" % (name, time.time() - t0))
    b.arrivals()
    b.reset_access_log()
    start = time.time()
    up = Updater(site, sched, start)
    up.start()
    cpu, mem, walls = 0.0, 0, []
    for k in range(1, C + 1):
        time.sleep(max(0.0, start + k * I - time.time()))
        rc, wall, c, m = cycle()
        if rc != 0:
            common.die("%s cycle %d failed (exit %d)" % (name, k, rc))
        cpu += c
        mem = max(mem, m)
        walls.append(wall)
    wait_updates(up)
    delivered = ""
    if check:
        delivered = check()
    feeds, pages, bad = b.feed_requests()
    return {"wall": time.time() - start, "cpu": cpu, "mem": mem, "feeds": feeds, "pages": pages, "bad": bad,
            "delivered": delivered, "detail": "cycles " + ", ".join("%.1fs" % w for w in walls)}


def main():
    if len(sys.argv) != 2:
        print("usage: hour.py BUILD_DIR", file=sys.stderr)
        return 2
    common.ensure_rss2email()
    common.ensure_newsboat()
    b = common.Bench(sys.argv[1], keep=bool(os.environ.get("KEEP")))
    try:
        b.start_sinks()
        base = b.start_nginx(b.path("www"))
        urls = [common.Site(b.path("www"), base).feed_url(feed_name(f)) for f in range(N)]
        sched = schedule()
        log("%d feeds, %d new items each over %.0fs, %d polls of every feed, every %.0fs" % (N, U, C * I, C, I))
        res = {"newsmon": run_newsmon(b, base, sched, urls)}

        nbdir = b.path("newsboat")
        os.makedirs(nbdir, exist_ok=True)
        with open(os.path.join(nbdir, "urls"), "w") as f:
            f.write("".join(u + "\n" for u in urls))
        with open(os.path.join(nbdir, "config"), "w") as f:
            f.write("reload-threads %d\nshow-read-feeds yes\n" % PAR)
        nbenv = dict(os.environ, HOME=nbdir)

        def newsboat():
            return common.timed(["newsboat", "-x", "reload", "-u", os.path.join(nbdir, "urls"), "-c",
                                 os.path.join(nbdir, "cache.db"), "-C", os.path.join(nbdir, "config")],
                                os.path.join(nbdir, "log"), env=nbenv, timeout=300)
        res["newsboat"] = run_cycles(b, base, sched, "newsboat", newsboat, newsboat)

        r2e = common.R2e(b, "r2e-hour", urls)
        want = N * U

        def r2e_check():
            got = set()
            for _ in range(100):
                for a in b.arrivals():
                    if a["via"] == "smtp" and "r2e@bench.invalid" in a["to"]:
                        got.update(a["tokens"])
                if len(got) >= want:
                    break
                time.sleep(0.1)
            if len(got) < want:
                common.die("rss2email mailed %d of the %d new items" % (len(got), want))
            return "%d mails" % len(got)
        res["rss2email"] = run_cycles(b, base, sched, "rss2email", lambda: r2e.run("--no-send", timeout=300),
                                      lambda: r2e.run(timeout=300), r2e_check)

        print("compressed hour: %d feeds, %d polls each every %.0fs, %d new items (%d a feed)"
              % (N, C, I, N * U, U))
        print("%-10s %8s %9s %11s %8s %8s %s" % ("tool", "wall_s", "cpu_s", "peak_kB", "feeds", "pages", "delivered"))
        for name, r in res.items():
            print("%-10s %8.1f %9.2f %11d %8d %8d %s" % (name, r["wall"], r["cpu"], r["mem"], r["feeds"],
                                                          r["pages"], r["delivered"]))
            print("           (%s)" % r["detail"])
            if r["bad"]:
                common.die("%s: %d answers from nginx were neither 200 nor 304" % (name, r["bad"]))
        nm = res["newsmon"]
        print("BENCH hour-cpu newsmon=%.2f peer=%.2f unit=s peer_name=newsboat %s"
              % (nm["cpu"], res["newsboat"]["cpu"], nm["cpu_each"]))
        print("BENCH hour-cpu-r2e newsmon=%.2f peer=%.2f unit=s peer_name=rss2email"
              % (nm["cpu"], res["rss2email"]["cpu"]))
        print("BENCH hour-mem newsmon=%d peer=%d unit=kB peer_name=newsboat %s"
              % (nm["mem"], res["newsboat"]["mem"], nm["mem_each"]))
        print("BENCH hour-mem-r2e newsmon=%d peer=%d unit=kB peer_name=rss2email"
              % (nm["mem"], res["rss2email"]["mem"]))
        return 0
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
