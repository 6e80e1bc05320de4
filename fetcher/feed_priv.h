/*
 * feed_priv: what the parts of the feed parser share and nothing else
 * includes: the charset stage (feed_charset.c), the XML formats
 * (feed_xml.c), JSON Feed (feed_jsonfeed.c), and the bookkeeping in
 * feed_parse.c that finishes entries and records errors.
 */
#ifndef FEED_PRIV_H
#define FEED_PRIV_H

#include "fetcher/feed_parse.h"

/* Records a recoverable problem in f (kept up to lim->max_errors). */
void feed_add_error(struct feed *f, const struct feed_limits *lim, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a new, initialised entry to f and returns it, or NULL when
   lim->max_entries is reached (an error is recorded once). */
nm_article *feed_new_entry(struct feed *f, const struct feed_limits *lim);

/* Completes an entry once all its fields are read: id fallbacks, "feed",
   "updated" defaulting to "published", the feed's language. */
void feed_finish_entry(struct feed *f, nm_article *a);

/* An entry's summary left in the document (struct feed's
   defer_summaries): src, len bytes of an element's content as written,
   read by feed_xml_text as the XML readers read that element's text
   (HTML when html, else plain text), cut to max bytes. It is known not
   to read empty. src NULL: none. */
struct feed_text {
    const char *src;
    size_t len;
    size_t max;
    bool html;
};

/* Returns t's text as a new string. */
char *feed_xml_text(const struct feed_text *t);

/* Cuts s (owned) to at most max bytes at a UTF-8 character boundary. */
void feed_cut(char *s, size_t max);

/* Returns true when p (n bytes) is valid UTF-8 throughout (feed_utf8.cc). */
bool feed_utf8_valid(const char *p, size_t n);

/* Converts data to clean UTF-8 (valid, no characters XML forbids) and sets
   f->charset. Returns the clean text, *out_len bytes: data itself (past any
   byte-order mark, not NUL-terminated) when it is clean UTF-8 already, else
   a new NUL-terminated buffer that is also stored in *owned for the caller
   to free (*owned is NULL otherwise). Returns NULL with err when nothing is
   left to read. */
const char *feed_to_utf8(const char *data, size_t len, const char *http_charset, const struct feed_limits *lim,
                         struct feed *f, size_t *out_len, char **owned, nm_err *err);

/* Whether feed_xml_parse tries feed_xmlfast before libxml2's parser
   (true; the tests that compare the two set it false). */
extern bool feed_xml_fast;

/* Parses clean UTF-8 XML (len bytes, need not be NUL-terminated). Returns 0, or -1 with err when it is not a feed. */
int feed_xml_parse(const char *utf8, size_t len, const char *base, const struct feed_limits *lim,
                   struct feed *f, nm_err *err);

/* Parses clean UTF-8 JSON Feed (len bytes, need not be NUL-terminated). Returns 0, or -1 with err. */
int feed_jsonfeed_parse(const char *utf8, size_t len, const char *base, const struct feed_limits *lim,
                        struct feed *f, nm_err *err);

#endif
