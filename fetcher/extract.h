/*
 * extract: the main text and metadata of an article page. The fetcher
 * calls extract_page on each page it downloads; `newsmonctl extract` runs
 * the same code on a file or URL.
 *
 * The page is decoded to UTF-8 (HTTP charset, <meta>, or a uchardet
 * guess), parsed with libxml2's HTML parser (recovering, no network, no
 * entities from outside), and searched for the article: a per-site rule
 * when one matches the URL's host, else a port of Mozilla Readability's
 * algorithm, else JSON-LD's articleBody, else the whole body's text.
 * Metadata comes from JSON-LD, OpenGraph and other <meta> tags, <time>,
 * <html lang> and the <title>. See docs/extraction.md.
 *
 * Safe on hostile input: the page is cut at EXTRACT_MAX_INPUT bytes,
 * libxml2 keeps its default nesting limit, documents with more than
 * EXTRACT_MAX_ELEMENTS elements get only the body-text fallback (the
 * heuristics cost time per element and depth), and nothing is fetched.
 * Thread-safe: no global state but regexes compiled once.
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stddef.h>

#include "common/nm_util.h"

struct site_rules;

/* A page is cut at this size before parsing. */
#define EXTRACT_MAX_INPUT (8u << 20)
/* Above this many elements the heuristics are skipped. */
#define EXTRACT_MAX_ELEMENTS 200000
/* Elements nested deeper than this are dropped before the heuristics run. */
#define EXTRACT_MAX_DEPTH 256

/* What was found in a page. Every string is UTF-8, owned by the result, NULL when not found. */
struct extract_result {
    char *title;        /* plain text: JSON-LD, og:title ..., else <title> cleaned of the site name */
    char *byline;       /* author(s) */
    char *published;    /* RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ" */
    char *lang;         /* as the page declares it, e.g. "ru", "en-GB" */
    char *site_name;
    char *text;         /* the article: paragraphs separated by blank lines; never NULL on success */
    const char *method; /* static: "site-rule", "readability", "json-ld articleBody", "fallback body", "none" */
    const char *charset;/* static: the charset the page was decoded from, e.g. "WINDOWS-1251" */
};

/* Extracts the article of the page html (len bytes, any charset) fetched
   from url (may be NULL; used for site rules and as base URL), whose HTTP
   Content-Type named http_charset (may be NULL), with optional site rules.
   Returns 0 and fills *out (clear it with extract_result_clear), or -1 with
   err when html is NULL. An empty or textless page is not an error: its
   text is "" and method "none". */
int extract_page(const char *html, size_t len, const char *url, const char *http_charset,
                 const struct site_rules *rules, struct extract_result *out, nm_err *err);

/* Frees the strings of r and zeroes it. */
void extract_result_clear(struct extract_result *r);

#endif
