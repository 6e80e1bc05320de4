#!/usr/bin/python3
"""
Chaos run: proves that kill -9 of any daemon at any moment loses nothing
and duplicates nothing (docs/protocol.md, "Guarantees"; docs/reliability.md).

    chaos.py [--feeds 200] [--items 50] [--duration 180] [--kill-min 2] [--kill-max 5]
             [--seed N] [--build DIR] [--keep]

1. gen_fixtures.py writes FEEDS feeds of ITEMS items (unique GUIDs, a page
   per item) and computes with newsmonctl which items must alert.
2. nginx serves them on a free loopback port; the four daemons run on one
   config in a temporary folder: fetcher polling every 1-3 s with page
   fetching ON, store resend_after 5 s, notifier delivering to a jsonl
   channel.
3. The feeds start with one item each and gain the others gradually over
   the first 60% of the kill phase, so the kills fall on work in progress.
   For DURATION seconds, every KILL_MIN..KILL_MAX seconds a random daemon
   is sent SIGKILL and started again with the same arguments. A daemon
   that exits by itself is a crash: noted, restarted, and the run fails.
4. The kills stop; the pipeline drains (every item stored, the alert queue
   empty, nothing pending in the fetcher); every daemon must then stop
   with status 0 on SIGTERM.
5. Checks: the store's export holds every generated id exactly once and
   nothing else; the jsonl channel has, for every article that must alert,
   exactly one line (per alert id and per article id), with the themes
   classify computed; no other line.

Last line: `chaos: N items, K kills, L lost, D duplicated`; exit status 1
when L or D > 0 or anything else failed (crash, unclean stop, wrong
themes, drain timeout), 77 when nginx or the binaries are missing.
"""
import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures  # noqa: E402
import nmpipe  # noqa: E402
from nmpipe import log  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description="newsmon chaos run (kill -9 under load)")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--duration", type=float, default=180, help="seconds of kills")
    ap.add_argument("--kill-min", type=float, default=2.0)
    ap.add_argument("--kill-max", type=float, default=5.0)
    ap.add_argument("--restart-delay", type=float, default=0.1, help="seconds between a kill and the restart")
    ap.add_argument("--publish-share", type=float, default=0.6,
                    help="the items are listed gradually over this share of the kill phase")
    ap.add_argument("--drain-timeout", type=float, default=300)
    ap.add_argument("--pages", choices=("yes", "no"), default="yes", help="fetch item pages")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--build", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the state folder")
    return ap.parse_args()


def drained(pipe, n_items):
    """Returns (done, description): every item stored, alert queue empty, fetcher has nothing pending."""
    c = pipe.counts()
    if not c:
        return False, "store not readable"
    st = pipe.status()
    pending = None
    for name, d in st.items() if isinstance(st, dict) else []:
        if name.startswith("fetcher") and isinstance(d, dict) and d.get("up"):
            pending = d.get("pending", (d.get("status") or {}).get("pending"))
    desc = "articles %d/%d, alerts pending %d sent-unacked %d, fetcher pending %s" % (
        c["articles"], n_items, c["alerts_pending"], c["alerts_sent"], pending)
    return (c["articles"] >= n_items and c["alerts_pending"] == 0 and c["alerts_sent"] == 0
            and pending == 0), desc


def check(pipe, exp, problems):
    """Compares store and channel with the expectation; returns (lost, duplicated)."""
    lost = dup = 0
    out = pipe.ctl("export", "--format", "jsonl")
    if out is None:
        problems.append("newsmonctl export failed")
        return len(exp["items"]), 0
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    stored = collections.Counter(r["id"] for r in rows)
    want = set(exp["items"])
    missing = want - set(stored)
    doubled = {i: n for i, n in stored.items() if n > 1}
    foreign = set(stored) - want
    lost += len(missing)
    dup += sum(n - 1 for n in doubled.values())
    log("store: %d rows, %d distinct ids, %d missing, %d stored more than once, %d unknown"
        % (len(rows), len(stored), len(missing), len(doubled), len(foreign)))
    for i in sorted(missing)[:10]:
        log("  LOST (store): %s" % i)
    for i in sorted(doubled)[:10]:
        log("  DUPLICATED (store): %s x%d" % (i, doubled[i]))
    if foreign:
        problems.append("%d unknown ids in the store, e.g. %s" % (len(foreign), sorted(foreign)[:3]))

    lines = []
    if os.path.exists(pipe.alerts):
        with open(pipe.alerts) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        lines.append(json.loads(line))
                    except ValueError:
                        problems.append("alerts.jsonl:%d: not JSON: %r" % (n, line[:80]))
    by_alert = collections.Counter(a["alert_id"] for a in lines)
    by_article = collections.Counter(a["article"]["id"] for a in lines)
    want_alerts = exp["alerts"]
    a_missing = set(want_alerts) - set(by_article)
    a_dup_article = {i: n for i, n in by_article.items() if n > 1}
    a_dup_alert = {i: n for i, n in by_alert.items() if n > 1}
    a_foreign = set(by_article) - set(want_alerts)
    lost += len(a_missing)
    dup += max(sum(n - 1 for n in a_dup_article.values()), sum(n - 1 for n in a_dup_alert.values()))
    log("alerts: %d lines, %d expected articles, %d missing, %d articles alerted more than once, "
        "%d alert ids delivered more than once, %d unexpected"
        % (len(lines), len(want_alerts), len(a_missing), len(a_dup_article), len(a_dup_alert), len(a_foreign)))
    for i in sorted(a_missing)[:10]:
        log("  LOST (alert): %s (themes %s)" % (i, want_alerts[i]))
    for i in sorted(a_dup_article)[:10]:
        ids = sorted({a["alert_id"] for a in lines if a["article"]["id"] == i})
        log("  DUPLICATED (alert): article %s x%d, alert ids %s" % (i, a_dup_article[i], ids))
    for i in sorted(a_dup_alert)[:10]:
        log("  DUPLICATED (alert): alert id %s x%d" % (i, a_dup_alert[i]))
    if a_foreign:
        problems.append("%d articles alerted that should not have been, e.g. %s" % (len(a_foreign), sorted(a_foreign)[:3]))
    wrong = 0
    for a in lines:
        themes = sorted(t["id"] for t in a.get("themes", []))
        if a["article"]["id"] in want_alerts and themes != want_alerts[a["article"]["id"]]:
            wrong += 1
            if wrong <= 5:
                log("  WRONG THEMES: %s: delivered %s, classify says %s"
                    % (a["article"]["id"], themes, want_alerts[a["article"]["id"]]))
    if wrong:
        problems.append("%d alerts carry other themes than newsmonctl classify computed" % wrong)
    return lost, dup


def main():
    a = parse_args()
    build = a.build or nmpipe.find_build()
    if not build:
        print("SKIP: newsmon is not built (set NM_BUILD_DIR)")
        return 77
    for n in nmpipe.DAEMONS + ("ctl",):
        if not os.access(nmpipe.binary(build, n), os.X_OK):
            print("SKIP: %s is not built" % nmpipe.binary(build, n))
            return 77
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="nm-chaos-")
    ngx = nmpipe.Nginx(tmp, os.path.join(tmp, "fixtures", "site"))
    if not ngx.available():
        print("SKIP: nginx is not installed (apt-get install nginx-light)")
        return 77
    log("chaos: seed %d, build %s, state %s, pages %s" % (seed, build, tmp, a.pages))
    t0 = time.time()
    r = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_fixtures.py"),
                        "--out", os.path.join(tmp, "fixtures"), "--base", ngx.base(), "--feeds", str(a.feeds),
                        "--items", str(a.items), "--ctl", nmpipe.binary(build, "ctl"), "--seed", str(seed)])
    if r.returncode != 0:
        log("chaos: generating the fixtures failed")
        return 1
    with open(os.path.join(tmp, "fixtures", "expected.json")) as f:
        exp = json.load(f)
    n_items = len(exp["items"])
    log("chaos: fixtures in %.1fs" % (time.time() - t0))
    fixtures = os.path.join(tmp, "fixtures")
    with open(os.path.join(fixtures, "feeds.json")) as f:
        parts = json.load(f)
    listed = 1
    gen_fixtures.publish(fixtures, parts, listed)

    pipe = nmpipe.Pipeline(build, os.path.join(tmp, "state"), fetcher={"fetch_pages": a.pages})
    nmpipe.write_opml(os.path.join(pipe.feeds, "chaos.opml"),
                      ["%s/feeds/f%03d.xml" % (ngx.base(), f) for f in range(a.feeds)])
    problems = []
    kills = collections.Counter()
    ok = False
    try:
        ngx.start()
        pipe.start_all()
        log("chaos: pipeline up; killing a random daemon every %.1f-%.1f s for %.0f s"
            % (a.kill_min, a.kill_max, a.duration))
        start = time.time()
        end = start + a.duration
        publish_over = a.duration * a.publish_share
        next_report = time.time() + 15
        while time.time() < end:
            nap = min(rng.uniform(a.kill_min, a.kill_max), max(0.0, end - time.time()))
            stop_at = time.time() + nap
            while time.time() < stop_at:
                pipe.check_alive()
                due = min(a.items, 1 + int(a.items * (time.time() - start) / publish_over))
                if due > listed:
                    listed = due
                    gen_fixtures.publish(fixtures, parts, listed)
                time.sleep(0.05)
            if time.time() >= end:
                break
            victim = rng.choice(nmpipe.DAEMONS)
            pipe.kill(victim, a.restart_delay)
            kills[victim] += 1
            if time.time() >= next_report:
                c = pipe.counts() or {}
                log("chaos: %.0fs: %d kills (%s); %s articles stored" % (
                    a.duration - (end - time.time()), sum(kills.values()),
                    ", ".join("%s %d" % kv for kv in sorted(kills.items())), c.get("articles", "?")))
                next_report = time.time() + 15
        if listed < a.items:
            gen_fixtures.publish(fixtures, parts, a.items)
        log("chaos: kills over (%d); draining" % sum(kills.values()))
        drain_end = time.time() + a.drain_timeout
        desc = ""
        while True:
            pipe.check_alive()
            done, desc = drained(pipe, n_items)
            if done:
                break
            if time.time() > drain_end:
                problems.append("not drained after %.0fs: %s" % (a.drain_timeout, desc))
                break
            time.sleep(1)
        # The notifier may be writing the last acknowledged line; let it settle.
        time.sleep(1)
        log("chaos: drained: %s" % desc)
        status = pipe.stop_all()
        for n, s in status.items():
            if s != 0:
                problems.append("newsmon-%s did not stop cleanly on SIGTERM: %s" % (n, s))
        for n, s in pipe.crashes:
            problems.append("newsmon-%s exited by itself with status %s (a crash)" % (n, s))
        ok = True
    except RuntimeError as e:
        problems.append(str(e))
    finally:
        if not ok:
            pipe.stop_all()
        ngx.stop()
    lost, dup = check(pipe, exp, problems)
    for n in nmpipe.DAEMONS:
        with open(pipe.log(n)) as f:
            text = f.read()
        for bad in ("AddressSanitizer", "runtime error:", "Segmentation", "Assertion", "fatal:"):
            if bad in text:
                problems.append("newsmon-%s's log mentions '%s' (%s)" % (n, bad, pipe.log(n)))
    for p in problems:
        log("chaos: PROBLEM: " + p)
    failed = lost or dup or problems
    if failed or a.keep:
        log("chaos: state kept in %s (logs: %s/state/*.log)" % (tmp, tmp))
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    log("chaos: %.0fs in all; kills per daemon: %s" % (time.time() - t0, dict(sorted(kills.items()))))
    log("chaos: %d items, %d kills, %d lost, %d duplicated" % (n_items, sum(kills.values()), lost, dup))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
