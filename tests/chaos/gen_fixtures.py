#!/usr/bin/python3
"""
Generates the chaos run's feed site and what the pipeline must make of it.

    gen_fixtures.py --out DIR --base http://127.0.0.1:PORT --feeds 200 --items 50 \
                    --ctl build/ctl/newsmonctl [--rules config/rules.d] [--seed 1]

Writes DIR/site/feeds/fNNN.xml (RSS 2.0, unique GUIDs
`urn:newsmon-chaos:fNNN:iMMM`), DIR/site/pages/fNNN/iMMM.html (a small
article page per item), DIR/feeds.json (each feed's items as XML pieces,
for publish(): the chaos driver lists them a few at a time) and
DIR/expected.json: `{"items": [id...], "alerts": {id: [theme...]}}`.

Every item is about Belarus; item k (counted over all feeds) also says that
"the KGB recruited agents" when k % 3 == 0, mentions troops and exercises
near the border when k % 5 == 0, drones over Lithuania when k % 7 == 0;
the rest is neutral filler drawn at random (seeded) so that items are not
near-duplicates of each other. Which themes fire is NOT assumed from that
plan: the feeds are read back with `newsmonctl parse-feed`, the pages with
`newsmonctl extract`, and the articles so built (title, summary, page
text: what the fetcher sends) are classified with `newsmonctl classify
--rules config/rules.d`. An article with at least one theme must be
alerted once.
"""
import argparse
import json
import os
import random
import subprocess
import sys
from email.utils import formatdate
from xml.sax.saxutils import escape

SOURCE = os.environ.get("NM_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))

FILLER = ("the weather in the capital stayed mild", "markets were calm on Tuesday",
          "a new bakery opened near the railway station", "the football club won its home match",
          "students returned to the university after the holidays", "a jazz festival drew large crowds",
          "the city council discussed tram timetables", "farmers expect a good potato harvest",
          "a museum reopened its renovated hall of icons", "local libraries extended opening hours",
          "a chess tournament ended in a draw", "rain is expected over the weekend",
          "the theatre announced its winter season", "a new cycling path links two districts",
          "bus fares stay unchanged this year", "the zoo welcomed two lynx cubs")
PLACES = ("Minsk", "Hrodna", "Brest", "Vitebsk", "Homel", "Mahiliou", "Pinsk", "Lida", "Baranavichy", "Barysau")


def item_text(k, rng):
    """Returns (title, summary, page paragraphs) of global item number k."""
    place = PLACES[k % len(PLACES)]
    title = "Belarus: report %d from %s" % (k, place)
    parts = ["Reporters in %s, Belarus, filed report number %d." % (place, k)]
    if k % 3 == 0:
        parts.append("Officials said the KGB recruited agents among students and workers.")
    if k % 5 == 0:
        parts.append("Belarusian troops held military exercises near the border with Poland.")
    if k % 7 == 0:
        parts.append("Drones from Belarus crossed into Lithuanian airspace overnight.")
    filler = rng.sample(FILLER, 4)
    summary = " ".join(parts + [filler[0].capitalize() + "."])
    paragraphs = [" ".join(parts), "%s, and %s." % (filler[1].capitalize(), filler[2]),
                  "Residents of %s said %s (item %d)." % (place, filler[3], k)]
    return title, summary, paragraphs


def page_html(title, paragraphs):
    body = "".join("<p>%s</p>" % escape(p) for p in paragraphs)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title></head><body>'
            '<header><nav><a href="/">Home</a> | <a href="/about">About</a></nav></header><main><article>'
            '<h1>%s</h1>%s</article></main><footer>Chaos test site. All rights reserved.</footer></body></html>'
            % (escape(title), escape(title), body))


def generate(out, base, n_feeds, n_items, seed):
    """Writes the site; returns [(feed file, feed url, [(id, page file, page url)])]."""
    rng = random.Random(seed)
    feeds = []
    parts = []
    t0 = 1700000000
    for f in range(n_feeds):
        fname = "f%03d" % f
        os.makedirs(os.path.join(out, "site", "pages", fname), exist_ok=True)
        feed_url = "%s/feeds/%s.xml" % (base, fname)
        xml = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
               "<title>Chaos feed %d</title><link>%s/</link><language>en</language>" % (f, base)]
        items = []
        for i in range(n_items):
            k = f * n_items + i
            title, summary, paragraphs = item_text(k, rng)
            guid = "urn:newsmon-chaos:%s:i%03d" % (fname, i)
            page_rel = "pages/%s/i%03d.html" % (fname, i)
            page_file = os.path.join(out, "site", page_rel)
            with open(page_file, "w") as fh:
                fh.write(page_html(title, paragraphs))
            link = "%s/%s" % (base, page_rel)
            xml.append('<item><guid isPermaLink="false">%s</guid><title>%s</title><link>%s</link>'
                       "<description>%s</description><pubDate>%s</pubDate></item>"
                       % (guid, escape(title), link, escape(summary), formatdate(t0 + k * 60, usegmt=True)))
            items.append((guid, page_file, link))
        xml.append("</channel></rss>\n")
        feed_file = os.path.join(out, "site", "feeds", fname + ".xml")
        os.makedirs(os.path.dirname(feed_file), exist_ok=True)
        with open(feed_file, "w") as fh:
            fh.write("".join(xml))
        feeds.append((feed_file, feed_url, items))
        parts.append({"file": "feeds/%s.xml" % fname, "head": xml[0], "items": xml[1:-1], "tail": xml[-1]})
    # The driver publishes the items a few at a time (publish()), so that
    # the kills fall on work in progress.
    with open(os.path.join(out, "feeds.json"), "w") as fh:
        json.dump(parts, fh)
    return feeds


def publish(out, parts, count):
    """Rewrites every feed of feeds.json with its first `count` items (newest
    first), atomically (write, then rename). Returns the items now listed."""
    total = 0
    for p in parts:
        items = p["items"][:count]
        total += len(items)
        path = os.path.join(out, "site", p["file"])
        with open(path + ".tmp", "w") as fh:
            fh.write(p["head"] + "".join(reversed(items)) + p["tail"])
        os.rename(path + ".tmp", path)
    return total


def run_json_lines(argv):
    # newsmonctl is only a tool here; in an ASan build its leak report at
    # exit (e.g. `extract` with several files, see docs/reliability.md)
    # must not stop the fixtures. The daemons under test keep leak checking.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("gen_fixtures: %s failed (%d): %s" % (" ".join(argv[:3]), r.returncode, r.stderr[-2000:]))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def expected(out, ctl, rules, feeds, chunk=500):
    """Builds each article as the fetcher would and classifies it; returns the expectation."""
    arts_dir = os.path.join(out, "articles")
    os.makedirs(arts_dir, exist_ok=True)
    ids, files = [], []
    for feed_file, feed_url, items in feeds:
        parsed = run_json_lines([ctl, "parse-feed", feed_file, "--url", feed_url])
        entries = {e["id"]: e for e in parsed[0]["entries"]}
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            extracted = run_json_lines([ctl, "extract"] + [p for _, p, _ in part])
            for (guid, page_file, link), ex in zip(part, extracted):
                if guid not in entries:
                    sys.exit("gen_fixtures: parse-feed lost %s of %s" % (guid, feed_file))
                e = entries[guid]
                art = {"id": guid, "title": e.get("title", ""), "summary": e.get("summary", ""),
                       "text": ex.get("text") or "", "link": link, "lang": e.get("lang") or ex.get("lang") or "en"}
                path = os.path.join(arts_dir, "%d.json" % len(files))
                with open(path, "w") as fh:
                    json.dump(art, fh)
                ids.append(guid)
                files.append(path)
    alerts = {}
    for start in range(0, len(files), chunk):
        for guid, res in zip(ids[start:start + chunk],
                             run_json_lines([ctl, "classify", "--rules", rules] + files[start:start + chunk])):
            themes = sorted(t["id"] for t in res["themes"])
            if themes:
                alerts[guid] = themes
    return {"items": ids, "alerts": alerts}


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT the site will be served at")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--ctl", required=True, help="the newsmonctl binary")
    ap.add_argument("--rules", default=os.path.join(SOURCE, "config", "rules.d"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    feeds = generate(a.out, a.base.rstrip("/"), a.feeds, a.items, a.seed)
    exp = expected(a.out, a.ctl, a.rules, feeds)
    if len(set(exp["items"])) != a.feeds * a.items:
        sys.exit("gen_fixtures: %d distinct ids, expected %d" % (len(set(exp["items"])), a.feeds * a.items))
    with open(os.path.join(a.out, "expected.json"), "w") as fh:
        json.dump(exp, fh)
    print("gen_fixtures: %d items in %d feeds, %d should alert" % (len(exp["items"]), a.feeds, len(exp["alerts"])))


if __name__ == "__main__":
    main()
