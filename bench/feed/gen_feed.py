#!/usr/bin/python3
"""Writes a synthetic RSS 2.0 feed of N items (default 5000, about 12 MB)
to the path given: HTML-escaped descriptions with entities, Cyrillic and
Latin text, dc:creator, categories, RFC 822 dates. Deterministic."""
import random
import sys

N = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
rnd = random.Random(42)
WORDS = ("border military drones sanctions Minsk Vilnius Warsaw exercise troops nuclear plant Astravets "
         "граница войска учения беспилотник санкции Минск Лукашенко дипломатия миграция "
         "granica wojsko sankcje pasienis kariuomenė").split()


def words(n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            '<title>Bench feed</title><link>https://bench.example.org/</link>\n'
            '<description>Synthetic feed</description><language>ru</language>\n')
    for i in range(N):
        paras = "".join("&lt;p&gt;%s &lt;b&gt;%s&lt;/b&gt; &amp;amp; %s.&lt;/p&gt;" % (words(26), words(3), words(16))
                        for _ in range(4))
        f.write("<item>\n<title>%s &amp; %s #%d</title>\n"
                "<link>https://bench.example.org/news/%d?utm_source=rss</link>\n"
                "<guid isPermaLink=\"false\">bench-%d</guid>\n"
                "<description>%s</description>\n"
                "<pubDate>Mon, %02d May 2024 %02d:%02d:00 +0300</pubDate>\n"
                "<dc:creator>%s</dc:creator><category>%s</category>\n</item>\n"
                % (words(6), words(3), i, i, i, paras, 1 + i % 28, i % 24, i % 60, words(2), rnd.choice(WORDS)))
    f.write("</channel>\n</rss>\n")
