#!/usr/bin/env python3
"""
Writes N RSS 2.0 feeds (feed-0000.xml ...) of 20 items each into a folder,
for bench/poll/run.sh. Round 1 writes them all; round 2 rewrites every
other feed with two new items (and a later mtime, so nginx's ETag and
Last-Modified change) and leaves the rest untouched (they answer 304).
"""
import os
import sys
import time

out, n, rnd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
words = ("Minsk border drones sanctions Vilnius Warsaw Kyiv exercise brigade customs transit "
         "report statement ministry officials said according sources").split()


def item(feed, k):
    text = " ".join(words[(feed + k + j) % len(words)] for j in range(60))
    return ("<item><title>Feed %d item %d</title><link>http://news.example/%d/%d</link>"
            "<guid isPermaLink=\"false\">f%d-i%d</guid><pubDate>%s</pubDate>"
            "<description>%s</description></item>"
            % (feed, k, feed, k, feed, k,
               time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1700000000 + k * 3600)), text))


for i in range(n):
    if rnd > 1 and i % 2 == 0:
        continue   # unchanged: 304
    first = 2 * (rnd - 1)
    items = "".join(item(i, k) for k in range(first + 19, first - 1, -1))
    path = os.path.join(out, "feed-%04d.xml" % i)
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                "<title>Bench feed %d</title><link>http://news.example/%d</link>"
                "<description>bench</description>%s</channel></rss>\n" % (i, i, items))
    t = time.time() + 60 * rnd
    os.utime(path, (t, t))
