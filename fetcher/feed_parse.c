/*
 * feed_parse: the parser's front door and bookkeeping. feed_parse checks
 * the size, has feed_charset make the bytes clean UTF-8, hands them to the
 * XML or JSON Feed reader, then completes what only the whole feed knows
 * (each entry's language and feed title). Errors found on the way are
 * collected here, bounded, so a broken feed cannot fill memory with them.
 */
#include "fetcher/feed_priv.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/nm_url.h"

void feed_limits_default(struct feed_limits *lim)
{
    lim->max_bytes = 32u << 20;
    lim->max_entries = 10000;
    lim->max_depth = 256;
    lim->max_field_bytes = 1u << 20;
    lim->max_errors = 20;
}

void feed_init(struct feed *f)
{
    memset(f, 0, sizeof *f);
}

void feed_clear(struct feed *f)
{
    free(f->title);
    free(f->link);
    free(f->subtitle);
    free(f->lang);
    free(f->updated);
    free(f->format);
    free(f->url);
    free(f->charset);
    for (size_t i = 0; i < f->n_entries; i++)
        nm_article_clear(&f->entries[i]);
    free(f->entries);
    free(f->lazy);
    free(f->keep);
    for (size_t i = 0; i < f->n_errors; i++)
        free(f->errors[i]);
    free(f->errors);
    feed_init(f);
}

char *feed_summary(const struct feed *f, size_t i)
{
    if (f->entries[i].summary)
        return nm_xstrdup(f->entries[i].summary);
    if (f->lazy && f->lazy[i].src)
        return feed_xml_text(&f->lazy[i]);
    return NULL;
}

void feed_add_error(struct feed *f, const struct feed_limits *lim, const char *fmt, ...)
{
    if (f->n_errors >= lim->max_errors) {
        f->n_errors_dropped++;
        return;
    }
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    f->errors = nm_xrealloc(f->errors, (f->n_errors + 1) * sizeof *f->errors);
    f->errors[f->n_errors++] = msg;
}

nm_article *feed_new_entry(struct feed *f, const struct feed_limits *lim)
{
    if (f->n_entries >= lim->max_entries) {
        if (f->n_entries_dropped++ == 0)
            feed_add_error(f, lim, "limit: more than %zu entries; the rest are dropped", lim->max_entries);
        return NULL;
    }
    if ((f->n_entries & (f->n_entries - 1)) == 0) {
        size_t cap = f->n_entries ? f->n_entries * 2 : 1;
        f->entries = nm_xrealloc(f->entries, cap * sizeof *f->entries);
        if (f->defer_summaries)
            f->lazy = nm_xrealloc(f->lazy, cap * sizeof *f->lazy);
    }
    if (f->lazy)
        memset(&f->lazy[f->n_entries], 0, sizeof *f->lazy);
    nm_article *a = &f->entries[f->n_entries++];
    nm_article_init(a);
    return a;
}

void feed_cut(char *s, size_t max)
{
    if (!s || strlen(s) <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

/* Returns a stable id for an entry with neither GUID nor link: a hash of
   what identifies it to a reader. */
static char *content_id(const nm_article *a)
{
    crypto_generichash_state st;
    unsigned char h[16];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    const char *parts[] = { a->title, a->published, a->summary };
    for (size_t i = 0; i < NM_ARRAY_LEN(parts); i++) {
        const char *p = parts[i] ? parts[i] : "";
        crypto_generichash_update(&st, (const unsigned char *)p, strlen(p) + 1);
    }
    crypto_generichash_final(&st, h, sizeof h);
    char hex[2 * sizeof h + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return nm_xasprintf("urn:newsmon:%s", hex);
}

void feed_finish_entry(struct feed *f, nm_article *a)
{
    if (!a->id && a->link)
        a->id = nm_url_canonical(a->link);
    if (!a->id && a->link)
        a->id = nm_xstrdup(a->link);
    if (!a->id)
        a->id = content_id(a);
    if (!a->updated && a->published)
        a->updated = nm_xstrdup(a->published);
    if (f->url)
        a->feed = nm_xstrdup(f->url);
}

/* Fills in what each entry inherits from the feed. */
static void finalize(struct feed *f)
{
    for (size_t i = 0; i < f->n_entries; i++) {
        nm_article *a = &f->entries[i];
        if (!a->lang && f->lang)
            a->lang = nm_xstrdup(f->lang);
        if (!a->feed_title && f->title)
            a->feed_title = nm_xstrdup(f->title);
    }
}

/* Returns true when the document is evidently an HTML page. */
static bool looks_like_html(const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p))
        p++, n--;
    return (n >= 14 && strncasecmp(p, "<!doctype html", 14) == 0) || (n >= 5 && strncasecmp(p, "<html", 5) == 0);
}

int feed_parse(const char *data, size_t len, const char *feed_url, const char *http_charset,
               const struct feed_limits *lim, struct feed *out, nm_err *err)
{
    struct feed_limits dflt;
    if (!lim) {
        feed_limits_default(&dflt);
        lim = &dflt;
    }
    /* Deferred summaries may point into this parse's converted document,
       of which a feed keeps one (f->keep). */
    if (out->defer_summaries && (out->lazy || out->keep))
        return nm_err_set(err, "a feed with deferred summaries is parsed into only once");
    free(out->url);
    out->url = feed_url && *feed_url ? nm_xstrdup(feed_url) : NULL;
    if (!data || len == 0)
        return nm_err_set(err, "empty document");
    if (len > lim->max_bytes)
        return nm_err_set(err, "document of %zu bytes is over the limit of %zu bytes", len, lim->max_bytes);
    size_t n;
    char *owned;
    const char *u = feed_to_utf8(data, len, http_charset, lim, out, &n, &owned, err);
    if (!u)
        return -1;
    /* u need not be NUL-terminated: every look below is bounded by n. */
    const char *p = u, *end = u + n;
    while (p < end && isspace((unsigned char)*p))
        p++;
    int rc;
    if (p < end && *p == '{') {
        rc = feed_jsonfeed_parse(u, n, out->url, lim, out, err);
    } else if (looks_like_html(p, (size_t)(end - p))) {
        rc = nm_err_set(err, "not a feed: an HTML page");
    } else if (p == end || *p != '<') {
        size_t shown = 0;
        while (shown < 20 && p + shown < end && p[shown])
            shown++;
        rc = nm_err_set(err, "not a feed: neither XML nor JSON (starts with \"%.*s\")", (int)shown, p);
    } else {
        rc = feed_xml_parse(u, n, out->url, lim, out, err);
    }
    if (out->lazy && owned)
        out->keep = owned;  /* deferred summaries point into it */
    else
        free(owned);
    if (rc == 0)
        finalize(out);
    return rc;
}

json_t *feed_to_json(const struct feed *f)
{
    json_t *feed = json_object();
    const struct { const char *key, *value; } strs[] = {
        { "title", f->title }, { "link", f->link }, { "subtitle", f->subtitle }, { "lang", f->lang },
        { "updated", f->updated }, { "format", f->format }, { "url", f->url }, { "charset", f->charset },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(strs); i++)
        if (strs[i].value)
            json_object_set_new(feed, strs[i].key, json_string(strs[i].value));
    if (f->ttl_minutes)
        json_object_set_new(feed, "ttl", json_integer(f->ttl_minutes));
    if (f->update_minutes)
        json_object_set_new(feed, "update_minutes", json_integer(f->update_minutes));
    json_t *errors = json_array();
    for (size_t i = 0; i < f->n_errors; i++)
        json_array_append_new(errors, json_string(f->errors[i]));
    if (f->n_errors_dropped) {
        char *m = nm_xasprintf("... and %zu more errors", f->n_errors_dropped);
        json_array_append_new(errors, json_string(m));
        free(m);
    }
    json_object_set_new(feed, "errors", errors);
    json_object_set_new(feed, "bozo", json_boolean(f->n_errors > 0));
    json_t *entries = json_array();
    for (size_t i = 0; i < f->n_entries; i++) {
        nm_article a = f->entries[i];
        char *summary = a.summary ? NULL : feed_summary(f, i);
        if (summary)
            a.summary = summary;
        json_array_append_new(entries, nm_article_to_json(&a));
        free(summary);
    }
    json_t *root = json_object();
    json_object_set_new(root, "feed", feed);
    json_object_set_new(root, "entries", entries);
    return root;
}
