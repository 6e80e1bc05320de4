/*
 * feed_jsonfeed: JSON Feed 1.0 and 1.1 (https://jsonfeed.org) with
 * jansson. Wrong types are reported per field and the field skipped, so
 * one odd item does not lose the rest; nesting depth is bounded by
 * jansson's own limit (2048) and the input size by feed_limits.
 */
#include "fetcher/feed_priv.h"

#include <stdio.h>
#include <string.h>

#include "common/nm_time.h"
#include "common/nm_url.h"
#include "fetcher/html_text.h"

/* Returns the string member key of o, or NULL (recording an error when it
   is present with another type). */
static const char *str(const json_t *o, const char *key, const char *where, const struct feed_limits *lim,
                       struct feed *f)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        feed_add_error(f, lim, "json: %s: \"%s\" is not a string", where, key);
        return NULL;
    }
    return json_string_value(v);
}

static char *plain(const char *s, const struct feed_limits *lim)
{
    if (!s)
        return NULL;
    char *t = text_collapse(s, strlen(s));
    feed_cut(t, lim->max_field_bytes);
    if (!*t)
        nm_free(&t);
    return t;
}

static char *html(const char *s, const struct feed_limits *lim)
{
    if (!s)
        return NULL;
    char *t = html_to_text(s, strlen(s));
    feed_cut(t, lim->max_field_bytes);
    if (!*t)
        nm_free(&t);
    return t;
}

static char *date(const char *s, const char *where, const struct feed_limits *lim, struct feed *f)
{
    if (!s)
        return NULL;
    char *d = nm_time_normalize(s);
    if (!d)
        feed_add_error(f, lim, "date: %s: cannot read \"%.80s\"", where, s);
    return d;
}

/* Returns the first author's name from "authors" (1.1) or "author" (1.0). */
static char *author(const json_t *o, const char *where, const struct feed_limits *lim, struct feed *f)
{
    const json_t *au = json_object_get(o, "authors");
    if (json_is_array(au) && json_array_size(au) > 0)
        au = json_array_get(au, 0);
    else
        au = json_object_get(o, "author");
    if (!json_is_object(au))
        return NULL;
    return plain(str(au, "name", where, lim, f), lim);
}

static void item(const json_t *it, size_t idx, const char *base, const struct feed_limits *lim, struct feed *f)
{
    char where[48];
    snprintf(where, sizeof where, "items[%zu]", idx);
    if (!json_is_object(it)) {
        feed_add_error(f, lim, "json: %s is not an object", where);
        return;
    }
    nm_article *a = feed_new_entry(f, lim);
    if (!a)
        return;
    const json_t *id = json_object_get(it, "id");
    if (json_is_string(id) && json_string_length(id))
        a->id = nm_xstrdup(json_string_value(id));
    else if (json_is_integer(id)) /* 1.0 feeds in the wild use numbers */
        a->id = nm_xasprintf("%lld", (long long)json_integer_value(id));
    const char *url = str(it, "url", where, lim, f);
    if (!url)
        url = str(it, "external_url", where, lim, f);
    if (url && *url)
        a->link = nm_url_resolve(base, url);
    a->title = plain(str(it, "title", where, lim, f), lim);
    a->summary = plain(str(it, "summary", where, lim, f), lim);
    if (!a->summary)
        a->summary = html(str(it, "content_html", where, lim, f), lim);
    if (!a->summary)
        a->summary = plain(str(it, "content_text", where, lim, f), lim);
    a->published = date(str(it, "date_published", where, lim, f), where, lim, f);
    a->updated = date(str(it, "date_modified", where, lim, f), where, lim, f);
    a->author = author(it, where, lim, f);
    const char *lang = str(it, "language", where, lim, f);
    if (lang && *lang)
        a->lang = nm_xstrdup(lang);
    const json_t *tags = json_object_get(it, "tags");
    for (size_t i = 0; json_is_array(tags) && i < json_array_size(tags); i++) {
        const json_t *t = json_array_get(tags, i);
        if (json_is_string(t) && json_string_length(t))
            nm_article_add_category(a, json_string_value(t));
    }
    feed_finish_entry(f, a);
}

int feed_jsonfeed_parse(const char *utf8, size_t len, const char *base, const struct feed_limits *lim,
                        struct feed *f, nm_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(utf8, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return nm_err_set(err, "not a feed: invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    int rc = 0;
    const char *version = json_is_object(root) ? str(root, "version", "feed", lim, f) : NULL;
    if (!version || strncmp(version, "https://jsonfeed.org/version/", 29) != 0) {
        rc = nm_err_set(err, "not a feed: JSON without a JSON Feed \"version\"");
        goto done;
    }
    f->format = nm_xstrdup(strcmp(version + 29, "1") == 0 ? "json10" : "json11");
    f->title = plain(str(root, "title", "feed", lim, f), lim);
    const char *home = str(root, "home_page_url", "feed", lim, f);
    if (home && *home)
        f->link = nm_url_resolve(base, home);
    f->subtitle = plain(str(root, "description", "feed", lim, f), lim);
    const char *lang = str(root, "language", "feed", lim, f);
    if (lang && *lang)
        f->lang = nm_xstrdup(lang);
    const json_t *items = json_object_get(root, "items");
    if (!json_is_array(items)) {
        feed_add_error(f, lim, "json: \"items\" is missing or not an array");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(items); i++)
        item(json_array_get(items, i), i, base, lim, f);
done:
    json_decref(root);
    return rc;
}
