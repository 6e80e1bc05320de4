#!/usr/bin/env python3
"""Builds the extraction test pages NNN.html from the five sample articles
in ../shared/samples (run once; the pages are committed):

    tests/data/extract/samples/make_pages.py /work/shared/samples

Each page wraps its article in what real news sites put around one: site
navigation with a language switcher, a cookie banner, share buttons,
"ADVERTISEMENT" slots between paragraphs, related links, a newsletter box
and a footer. The five pages use five different layouts (an <article>, div
soup with one <div> per paragraph, <main> with subheadings and a figure, a
table layout, a page whose ads are bare paragraphs) so that the test covers
more than one shape. Next to each page, NNN.article.txt holds the article's
paragraphs (one a line: all must come out of the extractor) and
NNN.boilerplate.txt the texts around it (none may come out).
"""
import html
import json
import os
import re
import sys
import zlib

SITE = {
    "000": ("Belarus Daily", "https://belarus-daily.example/", "2023-03-17T09:30:00+03:00", "Denis Dziuba"),
    "001": ("Baltic Monitor", "https://balticmonitor.example/", "2023-03-10T14:05:00+02:00", "Baltic Monitor staff"),
    "002": ("RBC-Ukraine", "https://newsukraine.example/", "2023-03-09T11:20:00+02:00", "Daria Shekina"),
    "003": ("Polish Institute Bulletin", "https://pism.example/", "2020-11-02T08:00:00+01:00", "Kinga Raś"),
    "004": ("The Daily Beacon", "https://dailybeacon.example/", "2022-10-14T16:45:00-04:00", "Daily Beacon staff"),
}

NAV = ["Home", "Politics", "World", "Economy", "Security", "Opinion", "Video", "Podcasts", "Contacts"]
RELATED = [
    "Poland extends border fence along Belarus frontier",
    "Minsk announces new round of military drills",
    "EU ministers agree on fresh sanctions package",
    "Vilnius summons Belarusian charge d'affaires",
]
COOKIE = "We use cookies to improve your experience and to show you personalised ads. By continuing to browse this site you agree to our use of cookies."
NEWSLETTER = "Sign up for our morning briefing: the day's most important stories in your inbox."
FOOTER = "© 2023 All rights reserved. Reproduction of materials is allowed only with a hyperlink to the source."
SHARE = ["Share on Facebook", "Share on X", "Share on Telegram", "Copy link"]


def esc(s):
    return html.escape(s, quote=True)


def inline(s):
    """Escapes a paragraph, turning the sample's [text](#) links into anchors."""
    out, pos = [], 0
    for m in re.finditer(r"\[([^\]]+)\]\(([^)]*)\)", s):
        out.append(esc(s[pos:m.start()]))
        out.append('<a href="%s">%s</a>' % (esc(m.group(2)), esc(m.group(1))))
        pos = m.end()
    out.append(esc(s[pos:]))
    return "".join(out)


def plain(s):
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", s)


def head(title, site, url, published, author, lang="en", jsonld=False):
    ld = ""
    if jsonld:
        ld = '<script type="application/ld+json">%s</script>\n' % json.dumps({
            "@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
            "datePublished": published, "author": {"@type": "Person", "name": author},
            "publisher": {"@type": "Organization", "name": site}, "inLanguage": lang})
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} | {esc(site)}</title>
<meta property="og:title" content="{esc(title)}">
<meta property="og:site_name" content="{esc(site)}">
<meta property="og:type" content="article">
<meta property="og:url" content="{url}news/{zlib.crc32(title.encode()) % 100000}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{esc(author)}">
<link rel="stylesheet" href="/static/site.css">
{ld}<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
<style>.cookie-banner{{position:fixed;bottom:0}} .visually-hidden{{display:none}}</style>
</head>
"""


def header(site):
    nav = "\n".join(f'      <li><a href="/{n.lower()}/">{n}</a></li>' for n in NAV)
    return f"""<body>
<div class="cookie-banner" id="cookie-consent">
  <p>{COOKIE}</p>
  <button type="button">Accept all</button> <button type="button">Settings</button>
</div>
<header class="site-header">
  <a class="logo" href="/">{esc(site)}</a>
  <nav class="main-menu">
    <ul>
{nav}
    </ul>
  </nav>
  <ul class="lang-switcher"><li><a href="/ua/">ua</a></li><li><a href="/en/">en</a></li><li><a href="/ru/">ru</a></li></ul>
  <form class="search" action="/search"><input type="text" name="q" placeholder="Search"><button>Search</button></form>
</header>
"""


def share():
    links = " ".join(f'<a href="#" class="share-{i}">{s}</a>' for i, s in enumerate(SHARE))
    return f'<div class="share-buttons">{links}</div>\n'


def related():
    items = "\n".join(f'    <li><a href="/news/{i}">{esc(t)}</a></li>' for i, t in enumerate(RELATED))
    return f"""<aside class="related-news">
  <h3>Related articles</h3>
  <ul>
{items}
  </ul>
</aside>
"""


def footer(site):
    return f"""<div class="newsletter-box"><p>{NEWSLETTER}</p><form><input type="email"><button>Subscribe</button></form></div>
<footer class="site-footer">
  <ul><li><a href="/about">About us</a></li><li><a href="/privacy">Privacy policy</a></li><li><a href="/ads">Advertising</a></li></ul>
  <p>{FOOTER}</p>
</footer>
<div hidden><p>Hidden tracking notice that no reader sees.</p></div>
<script>document.querySelectorAll('.share-buttons a').forEach(function(a){{a.onclick=function(){{return false;}};}});</script>
</body>
</html>
"""


AD = '<div class="ad-slot"><span class="ad-label">ADVERTISEMENT</span><div id="div-gpt-ad-1"></div></div>\n'


def page_000(lines, meta):
    title, paras = lines[0], lines[1:]
    body = []
    for i, p in enumerate(paras):
        body.append(f"      <p>{inline(p)}</p>\n")
        if i in (2, 6):
            body.append("      " + AD)
    return title, paras, f"""<main>
  <article class="post">
    <h1 class="post-title">{esc(title)}</h1>
    <div class="post-meta"><time datetime="{meta[2]}">17 March 2023</time></div>
    {share()}    <div class="post-body">
{"".join(body)}    </div>
    {share()}  </article>
  {related()}</main>
"""


def page_001(lines, meta):
    title = "Lithuanian intelligence: Belarus recruits diaspora to spy for Minsk"
    paras = lines
    body = []
    for i, p in enumerate(paras):
        body.append(f'<div class="story-paragraph">{inline(p)}</div>\n')
        if i % 7 == 4:
            body.append(AD)
    return title, paras, f"""<div id="wrapper">
<div id="content" class="clearfix">
<div class="story">
<h1>{esc(title)}</h1>
<div class="byline">By {esc(meta[3])}</div>
{share()}{"".join(body)}</div>
<div class="sidebar">
<h3>Most read</h3>
<ul><li><a href="/a">Belarusian opposition leader speaks in Brussels</a></li><li><a href="/b">Border queues grow at Medininkai</a></li></ul>
</div>
{related()}</div>
</div>
"""


def page_002(lines, meta):
    # The sample keeps its site's language switcher ("ua en ru"), the photo
    # caption and the author line: they go where the site had them.
    title = lines[1]
    caption = lines[2].replace(title + " ", "", 1)
    paras = lines[4:]
    subheads = {"Belarus may be recruiting agents", "How many Belarusians pose a threat to Lithuania",
                "Lithuania's stance on sanctions against Belarus"}
    body = []
    for i, p in enumerate(paras):
        tag = "h2" if p in subheads else "p"
        body.append(f"<{tag}>{inline(p)}</{tag}>\n")
        if i == 5:
            body.append(AD)
    return title, paras, f"""<main class="main-content">
<div class="article">
<h1>{esc(title)}</h1>
<figure><img src="/img/photo.jpg" alt=""><figcaption>{esc(caption)}</figcaption></figure>
<div class="author">Author: <a rel="author" href="/authors/shekina">{esc(meta[3])}</a></div>
<div class="article-text">
{"".join(body)}</div>
<div class="tags"><a href="/tag/lithuania">Lithuania</a> <a href="/tag/belarus">Belarus</a></div>
{share()}</div>
{related()}</main>
"""


def page_003(lines, meta):
    title, author = lines[0], lines[1]
    paras = lines[2:]
    body = "".join(f"<p>{inline(p)}</p>\n" for p in paras)
    return title, [plain(p) for p in paras], f"""<table class="layout" width="100%"><tr>
<td class="left-column" width="20%">
<ul class="menu"><li><a href="/publications">Publications</a></li><li><a href="/events">Events</a></li><li><a href="/experts">Experts</a></li></ul>
</td>
<td class="main-column">
<h1>{esc(title)}</h1>
<p class="author">{esc(author)}</p>
{body}{share()}</td>
<td class="right-column" width="20%">{related()}</td>
</tr></table>
"""


def page_004(lines, meta):
    kicker, title, tag, dek = lines[0], lines[1], lines[2], lines[3]
    img_id, credit = lines[4], lines[5]
    rest = lines[6:]
    paras, body = [dek], [f'<p class="dek">{inline(dek)}</p>\n',
                          f'<figure><img src="/img/{img_id}.jpg" alt="{esc(img_id)}"><figcaption>{esc(credit)}</figcaption></figure>\n']
    for p in rest:
        if p == "ADVERTISEMENT":
            body.append("<p>ADVERTISEMENT</p>\n")
        elif p.startswith("Got a tip?"):
            body.append(f'<div class="tip-box"><p>{inline(p)}</p></div>\n')
        else:
            paras.append(p)
            body.append(f"<p>{inline(p)}</p>\n")
    return title, paras, f"""<div class="page">
<div class="section-label"><a href="/russia">{esc(kicker)}</a></div>
<div class="story-header"><span class="kicker">{esc(tag)}</span><h1>{esc(title)}</h1></div>
{share()}<section class="article-body">
{"".join(body)}</section>
{related()}</div>
"""


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/samples"
    here = os.path.dirname(os.path.abspath(__file__))
    builders = {"000": page_000, "001": page_001, "002": page_002, "003": page_003, "004": page_004}
    for name in sorted(os.listdir(src)):
        num = name[:3]
        if num not in builders or not name.endswith(".txt"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            lines = [l.strip() for l in f.read().split("\n") if l.strip()]
        meta = SITE[num]
        title, paras, main_html = builders[num](lines, meta)
        page = head(title, meta[0], meta[1], meta[2], meta[3], jsonld=num in ("002", "004"))
        page += header(meta[0]) + main_html + footer(meta[0])
        with open(os.path.join(here, num + ".html"), "w", encoding="utf-8") as f:
            f.write(page)
        with open(os.path.join(here, num + ".article.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(paras) + "\n")
        boiler = NAV + RELATED + SHARE + [COOKIE, NEWSLETTER, FOOTER, "ADVERTISEMENT", "Accept all",
                                          "Most read", "Hidden tracking notice", "Subscribe", "Privacy policy"]
        with open(os.path.join(here, num + ".boilerplate.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(boiler) + "\n")
        with open(os.path.join(here, num + ".meta.json"), "w", encoding="utf-8") as f:
            json.dump({"title": title, "site_name": meta[0], "byline": meta[3], "lang": "en"}, f,
                      ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
