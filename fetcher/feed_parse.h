/*
 * feed_parse: bytes of a feed in, a struct feed with nm_article entries
 * out. Reads RSS 0.9x, 1.0 (RDF) and 2.0, Atom 0.3 and 1.0, and JSON Feed
 * 1.0/1.1, in any charset libxml2's iconv knows, and recovers what it can
 * from ill-formed documents: entries read before a fault are kept and the
 * faults are listed in feed->errors.
 *
 * Hostile input is expected: no external entity or DTD is ever loaded, no
 * network is touched, entity expansion, nesting depth, input size and the
 * number of entries are bounded by struct feed_limits.
 *
 * Used by newsmon-fetcher (one call per fetched body) and by
 * `newsmonctl parse-feed`, whose JSON feed_to_json produces.
 */
#ifndef FEED_PARSE_H
#define FEED_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/nm_msg.h"
#include "common/nm_util.h"

/* Bounds on what one feed may cost; filled from the fetcher's config. */
struct feed_limits {
    size_t max_bytes;        /* largest body accepted (default 32 MiB) */
    size_t max_entries;      /* entries kept, the rest dropped with an error (default 10000) */
    int max_depth;           /* element nesting (default 256, also libxml2's own bound) */
    size_t max_field_bytes;  /* longest title/summary kept, cut at a character boundary (default 1 MiB) */
    size_t max_errors;       /* error messages kept in feed->errors (default 20) */
};

/* Fills lim with the defaults above. */
void feed_limits_default(struct feed_limits *lim);

/* A parsed feed. Strings are owned; NULL means absent. */
struct feed {
    char *title;             /* plain text */
    char *link;              /* the site's address (absolute when resolvable) */
    char *subtitle;          /* plain text */
    char *lang;
    char *updated;           /* RFC 3339 UTC */
    char *format;            /* "rss090", "rss091", "rss092", "rss20", "rss10", "atom03", "atom10", "json10", "json11" */
    char *url;               /* the address the feed was read from, as given */
    char *charset;           /* the charset the bytes were read as */
    nm_article *entries;
    size_t n_entries;
    size_t n_entries_dropped; /* beyond max_entries */
    char **errors;           /* recoverable problems, in order found */
    size_t n_errors;
    size_t n_errors_dropped; /* beyond max_errors */
    int ttl_minutes;         /* RSS <ttl>, 0 when absent: a hint for the scheduler */
    int update_minutes;      /* sy:updatePeriod / sy:updateFrequency as minutes, 0 when absent */
    /* Set by a caller that only writes the feed out (`parse-feed`), after
       feed_init and before feed_parse: an entry's summary may then be left
       where it is in the document, its entries[i].summary NULL, and be read
       only as feed_write_json, feed_json_string or feed_to_json write it
       (feed_summary gives it). The bytes given to feed_parse must then
       stay as they are until feed_clear, and f is parsed into once (a
       second feed_parse fails). It saves holding every summary at
       once: most of a large feed's memory (docs/fetcher.md). */
    bool defer_summaries;
    struct feed_text *lazy;  /* per entry when defer_summaries (feed_priv.h) */
    char *keep;              /* the converted document lazy points into, when not the caller's */
};

void feed_init(struct feed *f);
/* Frees everything f owns and leaves it as feed_init does. */
void feed_clear(struct feed *f);

/* Parses len bytes of data. feed_url (may be NULL) is the base for
   relative links and goes into each article's "feed"; http_charset (may be
   NULL) is the charset parameter of the HTTP Content-Type; lim NULL means
   the defaults. out must be initialised; it is filled even on failure
   (with the errors found). Returns 0 when the document was read as a feed
   (possibly with recoverable errors in out->errors), or -1 with err when
   nothing could be read (empty, too large, not a feed, not XML or JSON). */
int feed_parse(const char *data, size_t len, const char *feed_url, const char *http_charset,
               const struct feed_limits *lim, struct feed *out, nm_err *err);

/* Returns entry i's summary as a new string (NULL when it has none): its
   summary member, or, when it was deferred (defer_summaries), read now. */
char *feed_summary(const struct feed *f, size_t i);

/* Returns the `parse-feed` JSON of f: {"feed": {...}, "entries": [...]}.
   The caller owns the reference. */
json_t *feed_to_json(const struct feed *f);

/* Writes the same JSON as json_dumpf(feed_to_json(f), out, JSON_COMPACT),
   byte for byte, and a newline, straight from f (no jansson tree: the fast
   path `parse-feed` uses). fatal (may be NULL), the message of a failed
   parse, is appended to feed.errors and makes bozo true. Returns 0, or -1
   when writing to out fails. */
int feed_write_json(const struct feed *f, const char *fatal, FILE *out);

/* Returns what feed_write_json writes, without the newline, as a new
   string of *len bytes (len may be NULL). */
char *feed_json_string(const struct feed *f, const char *fatal, size_t *len);

#endif
