/*
 * feed_json: the `parse-feed` JSON written straight from a struct feed,
 * without building a jansson tree first. For a 12 MB feed, building the
 * tree (one json_string per field, each validating and copying its text)
 * and dumping it (jansson's dump decodes every character) cost more than
 * libxml2's whole parse. This writer checks each string's UTF-8 whole
 * with simdjson's validator (feed_utf8.cc) and copies it in one pass that
 * only looks for the bytes JSON escapes.
 *
 * The output is byte for byte what json_dumps(feed_to_json(f), JSON_COMPACT)
 * gives (tests/unit/test_feed_parse.c checks it on every fixture): members
 * in the same order, the same escapes (\" \\ \b \f \n \r \t, other controls
 * as \u00XX, everything else raw UTF-8), and, as json_string refuses
 * invalid UTF-8, a string that is not valid UTF-8 is left out (the member
 * or array element disappears) rather than written broken.
 */
#include "fetcher/feed_priv.h"
#include "fetcher/text_block.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_AT (256u << 10)   /* bytes gathered before a write to the stream */

/* Where the JSON goes: gathered in b, written to out (when set) in large pieces. */
struct jw {
    nm_buf b;        /* pending output */
    FILE *out;       /* NULL: keep everything in b */
    bool failed;     /* a write to out failed */
};

/* Makes room for n more bytes in w->b. */
static inline void reserve(struct jw *w, size_t n)
{
    if (w->b.len + n + 1 > w->b.cap) {
        size_t cap = w->b.cap ? w->b.cap : 4096;
        while (cap < w->b.len + n + 1)
            cap *= 2;
        w->b.data = nm_xrealloc(w->b.data, cap);
        w->b.cap = cap;
    }
}

static inline void raw(struct jw *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->b.data + w->b.len, s, n);
    w->b.len += n;
}

/* Writes what is pending to the stream once there is enough of it. */
static void maybe_flush(struct jw *w, bool force)
{
    if (!w->out || (!force && w->b.len < FLUSH_AT) || w->b.len == 0)
        return;
    if (fwrite(w->b.data, 1, w->b.len, w->out) != w->b.len)
        w->failed = true;
    w->b.len = 0;
}

/* Returns the first byte in [p, end) that JSON escapes (", \\ and the
   controls below 0x20), or end; the bytes before it are copied to *o,
   which is advanced past them. Sixteen bytes are looked at and stored at
   a time: *o must have room for 16 bytes more than it receives. */
static inline const unsigned char *copy_plain(const unsigned char *p, const unsigned char *end, char **o)
{
    char *out = *o;
#if TEXT_BLOCK
    const __m128i c1f = _mm_set1_epi8(0x1F), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i esc = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        unsigned m = (unsigned)_mm_movemask_epi8(esc);
        _mm_storeu_si128((__m128i *)(void *)out, x);
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            *o = out + k;
            return p + k;
        }
        out += 16;
        p += 16;
    }
#endif
    while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
        *out++ = (char)*p++;
    *o = out;
    return p;
}

/* Writes s as a JSON string. Returns false, having written nothing, when
   s is not valid UTF-8: it is checked whole first (feed_utf8_valid, at
   vector speed), so the copy only looks for the bytes to escape. */
static bool string(struct jw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    if (!feed_utf8_valid(s, n))
        return false;
    /* The longest escape, \u00XX, is 6 bytes for 1; 16 more for copy_plain. */
    reserve(w, 6 * n + 2 + 16);
    char *o = w->b.data + w->b.len;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    *o++ = '"';
    while ((p = copy_plain(p, end, &o)) < end) {
        *o++ = '\\';
        switch (*p) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[*p >> 4];
            o[4] = hex[*p & 15];
            o += 5;
        }
        p++;
    }
    *o++ = '"';
    w->b.len = (size_t)(o - w->b.data);
    return true;
}

/* Writes the member "key": s of an object unless s is NULL or invalid;
   *first tracks whether a comma is due. */
static void member(struct jw *w, bool *first, const char *key, const char *s)
{
    if (!s)
        return;
    size_t start = w->b.len;
    if (!*first)
        raw(w, ",", 1);
    raw(w, "\"", 1);
    raw(w, key, strlen(key));
    raw(w, "\":", 2);
    if (string(w, s))
        *first = false;
    else
        w->b.len = start;
}

/* Opens the member "key" (whose value the caller writes). */
static void key(struct jw *w, bool *first, const char *k)
{
    if (!*first)
        raw(w, ",", 1);
    *first = false;
    raw(w, "\"", 1);
    raw(w, k, strlen(k));
    raw(w, "\":", 2);
}

/* Writes an array element s unless it is invalid; *first as for member. */
static void element(struct jw *w, bool *first, const char *s)
{
    size_t start = w->b.len;
    if (!*first)
        raw(w, ",", 1);
    if (string(w, s))
        *first = false;
    else
        w->b.len = start;
}

/* Entry i's object, in nm_article_to_json's member order; a deferred
   summary (defer_summaries) is read here, just before it is written. */
static void article(struct jw *w, const struct feed *f, size_t i)
{
    const nm_article *a = &f->entries[i];
    bool first = true;
    raw(w, "{", 1);
    member(w, &first, "id", a->id);
    member(w, &first, "link", a->link);
    member(w, &first, "title", a->title);
    char *deferred = a->summary ? NULL : feed_summary(f, i);
    member(w, &first, "summary", a->summary ? a->summary : deferred);
    free(deferred);
    member(w, &first, "text", a->text);
    member(w, &first, "published", a->published);
    member(w, &first, "updated", a->updated);
    member(w, &first, "author", a->author);
    key(w, &first, "categories");
    raw(w, "[", 1);
    bool efirst = true;
    for (size_t k = 0; k < a->n_categories; k++)
        element(w, &efirst, a->categories[k]);
    raw(w, "]", 1);
    member(w, &first, "lang", a->lang);
    member(w, &first, "feed", a->feed);
    member(w, &first, "feed_title", a->feed_title);
    member(w, &first, "page", a->page);
    raw(w, "}", 1);
}

static void integer(struct jw *w, bool *first, const char *k, int v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%d", v);
    key(w, first, k);
    raw(w, num, (size_t)n);
}

/* The "feed" object, in feed_to_json's member order. */
static void feed_object(struct jw *w, const struct feed *f, const char *fatal)
{
    bool first = true;
    raw(w, "{", 1);
    member(w, &first, "title", f->title);
    member(w, &first, "link", f->link);
    member(w, &first, "subtitle", f->subtitle);
    member(w, &first, "lang", f->lang);
    member(w, &first, "updated", f->updated);
    member(w, &first, "format", f->format);
    member(w, &first, "url", f->url);
    member(w, &first, "charset", f->charset);
    if (f->ttl_minutes)
        integer(w, &first, "ttl", f->ttl_minutes);
    if (f->update_minutes)
        integer(w, &first, "update_minutes", f->update_minutes);
    key(w, &first, "errors");
    raw(w, "[", 1);
    bool efirst = true;
    for (size_t i = 0; i < f->n_errors; i++)
        element(w, &efirst, f->errors[i]);
    if (f->n_errors_dropped) {
        char *m = nm_xasprintf("... and %zu more errors", f->n_errors_dropped);
        element(w, &efirst, m);
        free(m);
    }
    if (fatal)
        element(w, &efirst, fatal);
    raw(w, "]", 1);
    key(w, &first, "bozo");
    if (f->n_errors > 0 || fatal)
        raw(w, "true", 4);
    else
        raw(w, "false", 5);
    raw(w, "}", 1);
}

/* Writes the whole document into w, flushing as it goes. */
static void document(struct jw *w, const struct feed *f, const char *fatal)
{
    raw(w, "{\"feed\":", 8);
    feed_object(w, f, fatal);
    raw(w, ",\"entries\":[", 12);
    for (size_t i = 0; i < f->n_entries; i++) {
        if (i)
            raw(w, ",", 1);
        article(w, f, i);
        maybe_flush(w, false);
    }
    raw(w, "]}", 2);
}

char *feed_json_string(const struct feed *f, const char *fatal, size_t *len)
{
    struct jw w = { .out = NULL };
    nm_buf_init(&w.b);
    document(&w, f, fatal);
    if (len)
        *len = w.b.len;
    return nm_buf_steal(&w.b);
}

int feed_write_json(const struct feed *f, const char *fatal, FILE *out)
{
    struct jw w = { .out = out };
    nm_buf_init(&w.b);
    document(&w, f, fatal);
    raw(&w, "\n", 1);
    maybe_flush(&w, true);
    nm_buf_free(&w.b);
    return w.failed || fflush(out) != 0 ? -1 : 0;
}
