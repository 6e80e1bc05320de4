/*
 * nm_msg: strict JSON encoding and decoding of the message catalogue.
 *
 * Each struct is described once by a table of its fields (name, kind,
 * required, offset); one decoder walks the table, so every message is held
 * to the same rules: known version, every required field present, every
 * field of the right type, no unknown fields.
 */
#include "common/nm_msg.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[NM_MSG__COUNT] = {
    [NM_MSG_ARTICLE] = "article",
    [NM_MSG_CLASSIFIED] = "classified",
    [NM_MSG_DELIVERED] = "delivered",
    [NM_MSG_STORED] = "stored",
    [NM_MSG_ALERT] = "alert",
};

const char *nm_msg_type_name(nm_msg_type t)
{
    return (unsigned)t < NM_MSG__COUNT ? type_names[t] : "?";
}

int nm_msg_type_from_name(const char *name, size_t n)
{
    for (int t = 0; t < NM_MSG__COUNT; t++)
        if (strlen(type_names[t]) == n && memcmp(type_names[t], name, n) == 0)
            return t;
    return -1;
}

/* ---- field tables -------------------------------------------------------- */

enum kind { K_STR, K_INT, K_STRLIST };

struct field {
    const char *name;
    enum kind kind;
    int required;
    size_t offset;      /* of the char *, int64_t or char ** */
    size_t count_off;   /* K_STRLIST: offset of the size_t count */
};

#define STR(s, f, req) { #f, K_STR, req, offsetof(s, f), 0 }
#define INT(s, f, req) { #f, K_INT, req, offsetof(s, f), 0 }

static const struct field article_fields[] = {
    STR(nm_article, id, 1),
    STR(nm_article, link, 0),
    STR(nm_article, title, 0),
    STR(nm_article, summary, 0),
    STR(nm_article, text, 0),
    STR(nm_article, published, 0),
    STR(nm_article, updated, 0),
    STR(nm_article, author, 0),
    { "categories", K_STRLIST, 0, offsetof(nm_article, categories), offsetof(nm_article, n_categories) },
    STR(nm_article, lang, 0),
    STR(nm_article, feed, 0),
    STR(nm_article, feed_title, 0),
    STR(nm_article, page, 0),
};

static const struct field stored_fields[] = {
    STR(nm_stored, id, 1),
    STR(nm_stored, feed, 0),
    INT(nm_stored, version, 1),
};

static const struct field delivered_fields[] = {
    INT(nm_delivered, alert_id, 1),
    STR(nm_delivered, channel, 1),
    STR(nm_delivered, status, 1),
    STR(nm_delivered, error, 0),
};

#define FIELDS(t) t, NM_ARRAY_LEN(t)

static const struct field *find_field(const struct field *fs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fs[i].name, name) == 0)
            return &fs[i];
    return NULL;
}

static int decode_field(const struct field *f, const json_t *v, void *obj, const char *where, nm_err *err)
{
    char *base = obj;
    if (json_is_null(v)) {
        if (f->required)
            return nm_err_set(err, "%s: field \"%s\" is null", where, f->name);
        return 0;
    }
    switch (f->kind) {
    case K_STR:
        if (!json_is_string(v))
            return nm_err_set(err, "%s: field \"%s\" must be a string", where, f->name);
        *(char **)(base + f->offset) = nm_xstrndup(json_string_value(v), json_string_length(v));
        return 0;
    case K_INT:
        if (!json_is_integer(v))
            return nm_err_set(err, "%s: field \"%s\" must be an integer", where, f->name);
        *(int64_t *)(base + f->offset) = json_integer_value(v);
        return 0;
    case K_STRLIST: {
        if (!json_is_array(v))
            return nm_err_set(err, "%s: field \"%s\" must be an array of strings", where, f->name);
        size_t n = json_array_size(v);
        char **list = nm_xcalloc(n, sizeof *list);
        for (size_t i = 0; i < n; i++) {
            const json_t *s = json_array_get(v, i);
            if (!json_is_string(s)) {
                for (size_t k = 0; k < i; k++)
                    free(list[k]);
                free(list);
                return nm_err_set(err, "%s: field \"%s\"[%zu] must be a string", where, f->name, i);
            }
            list[i] = nm_xstrndup(json_string_value(s), json_string_length(s));
        }
        *(char ***)(base + f->offset) = list;
        *(size_t *)(base + f->count_off) = n;
        return 0;
    }
    }
    return nm_err_set(err, "%s: field \"%s\" has an unknown kind", where, f->name);
}

/* Decodes the members of j into obj. extra lists member names handled by the caller. */
static int decode_fields(const json_t *j, const struct field *fs, size_t n, void *obj,
                         const char *where, const char *const *extra, nm_err *err)
{
    if (!json_is_object(j))
        return nm_err_set(err, "%s: must be a JSON object", where);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        const struct field *f = find_field(fs, n, key);
        if (f) {
            if (decode_field(f, v, obj, where, err) < 0)
                return -1;
            continue;
        }
        int known = 0;
        for (size_t i = 0; extra && extra[i]; i++)
            known |= strcmp(extra[i], key) == 0;
        if (!known)
            return nm_err_set(err, "%s: unknown field \"%s\"", where, key);
    }
    for (size_t i = 0; i < n; i++)
        if (fs[i].required && !json_object_get(j, fs[i].name))
            return nm_err_set(err, "%s: missing field \"%s\"", where, fs[i].name);
    return 0;
}

static void encode_fields(json_t *j, const struct field *fs, size_t n, const void *obj)
{
    const char *base = obj;
    for (size_t i = 0; i < n; i++) {
        const struct field *f = &fs[i];
        switch (f->kind) {
        case K_STR: {
            const char *s = *(char *const *)(base + f->offset);
            if (s)
                json_object_set_new(j, f->name, json_string(s));
            break;
        }
        case K_INT:
            json_object_set_new(j, f->name, json_integer(*(const int64_t *)(base + f->offset)));
            break;
        case K_STRLIST: {
            char *const *list = *(char **const *)(base + f->offset);
            size_t cnt = *(const size_t *)(base + f->count_off);
            json_t *a = json_array();
            for (size_t k = 0; k < cnt; k++)
                json_array_append_new(a, json_string(list[k]));
            json_object_set_new(j, f->name, a);
            break;
        }
        }
    }
}

static void clear_fields(const struct field *fs, size_t n, void *obj)
{
    char *base = obj;
    for (size_t i = 0; i < n; i++) {
        const struct field *f = &fs[i];
        if (f->kind == K_STR) {
            nm_free((char **)(base + f->offset));
        } else if (f->kind == K_STRLIST) {
            char ***list = (char ***)(base + f->offset);
            size_t *cnt = (size_t *)(base + f->count_off);
            for (size_t k = 0; k < *cnt; k++)
                free((*list)[k]);
            nm_free(list);
            *cnt = 0;
        }
    }
}

int nm_msg_check_version(const json_t *j, nm_err *err)
{
    if (!json_is_object(j))
        return nm_err_set(err, "message body must be a JSON object");
    const json_t *v = json_object_get(j, "v");
    if (!v)
        return nm_err_set(err, "missing field \"v\" (schema version)");
    if (!json_is_integer(v))
        return nm_err_set(err, "field \"v\" must be an integer");
    if (json_integer_value(v) != NM_MSG_VERSION)
        return nm_err_set(err, "unsupported schema version %lld (this build speaks %d)",
                          (long long)json_integer_value(v), NM_MSG_VERSION);
    return 0;
}

static json_t *versioned(void)
{
    json_t *j = json_object();
    json_object_set_new(j, "v", json_integer(NM_MSG_VERSION));
    return j;
}

/* ---- article ------------------------------------------------------------- */

void nm_article_init(nm_article *a)
{
    memset(a, 0, sizeof *a);
}

void nm_article_clear(nm_article *a)
{
    clear_fields(FIELDS(article_fields), a);
}

void nm_article_add_category(nm_article *a, const char *cat)
{
    a->categories = nm_xrealloc(a->categories, (a->n_categories + 1) * sizeof *a->categories);
    a->categories[a->n_categories++] = nm_xstrdup(cat);
}

json_t *nm_article_to_json(const nm_article *a)
{
    json_t *j = json_object();
    encode_fields(j, FIELDS(article_fields), a);
    return j;
}

int nm_article_from_json(const json_t *j, nm_article *a, nm_err *err)
{
    if (decode_fields(j, FIELDS(article_fields), a, "article", NULL, err) < 0) {
        nm_article_clear(a);
        return -1;
    }
    if (!*a->id) {
        nm_article_clear(a);
        return nm_err_set(err, "article: field \"id\" is empty");
    }
    return 0;
}

json_t *nm_article_msg_to_json(const nm_article *a)
{
    json_t *j = versioned();
    json_object_set_new(j, "article", nm_article_to_json(a));
    return j;
}

int nm_article_msg_from_json(const json_t *j, nm_article *a, nm_err *err)
{
    nm_article_init(a);
    if (nm_msg_check_version(j, err) < 0)
        return -1;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        if (strcmp(key, "v") && strcmp(key, "article"))
            return nm_err_set(err, "article message: unknown field \"%s\"", key);
    }
    const json_t *art = json_object_get(j, "article");
    if (!art)
        return nm_err_set(err, "article message: missing field \"article\"");
    return nm_article_from_json(art, a, err);
}

/* ---- theme hits and classified ------------------------------------------- */

static const char *const severities[] = { "info", "low", "medium", "high", "critical" };

void nm_theme_hit_clear(nm_theme_hit *h)
{
    nm_free(&h->id);
    nm_free(&h->severity);
    if (h->matches)
        json_decref(h->matches);
    h->matches = NULL;
}

int nm_theme_hit_from_json(const json_t *j, nm_theme_hit *h, nm_err *err)
{
    memset(h, 0, sizeof *h);
    const json_t *id = json_object_get(j, "id"), *sev = json_object_get(j, "severity");
    const json_t *score = json_object_get(j, "score"), *m = json_object_get(j, "matches");
    if (!json_is_object(j))
        return nm_err_set(err, "theme: must be a JSON object");
    if (!json_is_string(id) || !json_string_length(id))
        return nm_err_set(err, "theme: field \"id\" must be a non-empty string");
    if (!json_is_string(sev))
        return nm_err_set(err, "theme %s: field \"severity\" must be a string", json_string_value(id));
    int known = 0;
    for (size_t i = 0; i < NM_ARRAY_LEN(severities); i++)
        known |= strcmp(severities[i], json_string_value(sev)) == 0;
    if (!known)
        return nm_err_set(err, "theme %s: unknown severity \"%s\"", json_string_value(id),
                          json_string_value(sev));
    if (!json_is_integer(score))
        return nm_err_set(err, "theme %s: field \"score\" must be an integer", json_string_value(id));
    if (m && !json_is_array(m))
        return nm_err_set(err, "theme %s: field \"matches\" must be an array", json_string_value(id));
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        if (strcmp(key, "id") && strcmp(key, "severity") && strcmp(key, "score") && strcmp(key, "matches"))
            return nm_err_set(err, "theme %s: unknown field \"%s\"", json_string_value(id), key);
    }
    h->id = nm_xstrdup(json_string_value(id));
    h->severity = nm_xstrdup(json_string_value(sev));
    h->score = json_integer_value(score);
    /* Shared, not copied (as nm_theme_hit_to_json shares it): nothing
       modifies a decoded match list, and the lists are most of an alert. */
    h->matches = m ? json_incref((json_t *)m) : json_array();
    return 0;
}

json_t *nm_theme_hit_to_json(const nm_theme_hit *h)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(h->id));
    json_object_set_new(j, "score", json_integer(h->score));
    json_object_set_new(j, "severity", json_string(h->severity));
    json_object_set_new(j, "matches", h->matches ? json_incref(h->matches) : json_array());
    return j;
}

void nm_classified_init(nm_classified *c)
{
    memset(c, 0, sizeof *c);
}

void nm_classified_clear(nm_classified *c)
{
    nm_article_clear(&c->article);
    nm_free(&c->ruleset);
    for (size_t i = 0; i < c->n_themes; i++)
        nm_theme_hit_clear(&c->themes[i]);
    nm_free(&c->themes);
    c->n_themes = 0;
}

static void classified_fill_json(json_t *j, const nm_classified *c)
{
    json_object_set_new(j, "article", nm_article_to_json(&c->article));
    json_object_set_new(j, "ruleset", json_string(c->ruleset ? c->ruleset : ""));
    json_t *themes = json_array();
    for (size_t i = 0; i < c->n_themes; i++)
        json_array_append_new(themes, nm_theme_hit_to_json(&c->themes[i]));
    json_object_set_new(j, "themes", themes);
}

json_t *nm_classified_to_json(const nm_classified *c)
{
    json_t *j = versioned();
    classified_fill_json(j, c);
    return j;
}

/* Decodes "article", "ruleset" and "themes" of j into c. */
static int classified_parts_from_json(const json_t *j, nm_classified *c, const char *where, nm_err *err)
{
    const json_t *art = json_object_get(j, "article");
    const json_t *rs = json_object_get(j, "ruleset");
    const json_t *themes = json_object_get(j, "themes");
    if (!art)
        return nm_err_set(err, "%s: missing field \"article\"", where);
    if (!json_is_string(rs))
        return nm_err_set(err, "%s: field \"ruleset\" must be a string", where);
    if (!json_is_array(themes))
        return nm_err_set(err, "%s: field \"themes\" must be an array", where);
    if (nm_article_from_json(art, &c->article, err) < 0)
        return -1;
    c->ruleset = nm_xstrdup(json_string_value(rs));
    c->n_themes = json_array_size(themes);
    c->themes = nm_xcalloc(c->n_themes, sizeof *c->themes);
    for (size_t i = 0; i < c->n_themes; i++) {
        if (nm_theme_hit_from_json(json_array_get(themes, i), &c->themes[i], err) < 0) {
            c->n_themes = i;
            return -1;
        }
    }
    return 0;
}

static int only_keys(const json_t *j, const char *const *keys, const char *where, nm_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        int known = 0;
        for (size_t i = 0; keys[i]; i++)
            known |= strcmp(keys[i], key) == 0;
        if (!known)
            return nm_err_set(err, "%s: unknown field \"%s\"", where, key);
    }
    return 0;
}

int nm_classified_from_json(const json_t *j, nm_classified *c, nm_err *err)
{
    static const char *const keys[] = { "v", "article", "ruleset", "themes", NULL };
    nm_classified_init(c);
    if (nm_msg_check_version(j, err) < 0 || only_keys(j, keys, "classified", err) < 0 ||
        classified_parts_from_json(j, c, "classified", err) < 0) {
        nm_classified_clear(c);
        return -1;
    }
    return 0;
}

/* ---- stored -------------------------------------------------------------- */

void nm_stored_clear(nm_stored *s)
{
    clear_fields(FIELDS(stored_fields), s);
}

json_t *nm_stored_to_json(const nm_stored *s)
{
    json_t *j = versioned();
    encode_fields(j, FIELDS(stored_fields), s);
    return j;
}

int nm_stored_from_json(const json_t *j, nm_stored *s, nm_err *err)
{
    static const char *const extra[] = { "v", NULL };
    memset(s, 0, sizeof *s);
    if (nm_msg_check_version(j, err) < 0 ||
        decode_fields(j, FIELDS(stored_fields), s, "stored", extra, err) < 0) {
        nm_stored_clear(s);
        return -1;
    }
    return 0;
}

/* ---- alert --------------------------------------------------------------- */

void nm_alert_init(nm_alert *a)
{
    memset(a, 0, sizeof *a);
}

void nm_alert_clear(nm_alert *a)
{
    nm_free(&a->story);
    nm_classified_clear(&a->item);
}

json_t *nm_alert_to_json(const nm_alert *a)
{
    json_t *j = versioned();
    json_object_set_new(j, "alert_id", json_integer(a->alert_id));
    json_object_set_new(j, "story", json_string(a->story ? a->story : ""));
    json_object_set_new(j, "followup", json_integer(a->followup));
    classified_fill_json(j, &a->item);
    return j;
}

int nm_alert_from_json(const json_t *j, nm_alert *a, nm_err *err)
{
    static const char *const keys[] = { "v", "alert_id", "story", "followup", "article", "ruleset", "themes", NULL };
    nm_alert_init(a);
    const json_t *id = json_object_get(j, "alert_id");
    const json_t *story = json_object_get(j, "story");
    const json_t *fu = json_object_get(j, "followup");
    if (nm_msg_check_version(j, err) < 0 || only_keys(j, keys, "alert", err) < 0)
        return -1;
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return nm_err_set(err, "alert: field \"alert_id\" must be a positive integer");
    if (!json_is_string(story))
        return nm_err_set(err, "alert: field \"story\" must be a string");
    if (!json_is_integer(fu) || json_integer_value(fu) < 0)
        return nm_err_set(err, "alert: field \"followup\" must be a non-negative integer");
    a->alert_id = json_integer_value(id);
    a->story = nm_xstrdup(json_string_value(story));
    a->followup = json_integer_value(fu);
    if (classified_parts_from_json(j, &a->item, "alert", err) < 0) {
        nm_alert_clear(a);
        return -1;
    }
    return 0;
}

/* ---- delivered ----------------------------------------------------------- */

void nm_delivered_clear(nm_delivered *d)
{
    clear_fields(FIELDS(delivered_fields), d);
}

json_t *nm_delivered_to_json(const nm_delivered *d)
{
    json_t *j = versioned();
    encode_fields(j, FIELDS(delivered_fields), d);
    return j;
}

int nm_delivered_from_json(const json_t *j, nm_delivered *d, nm_err *err)
{
    static const char *const extra[] = { "v", NULL };
    memset(d, 0, sizeof *d);
    if (nm_msg_check_version(j, err) < 0 ||
        decode_fields(j, FIELDS(delivered_fields), d, "delivered", extra, err) < 0)
        goto fail;
    if (strcmp(d->status, "ok") && strcmp(d->status, "failed")) {
        nm_err_set(err, "delivered: field \"status\" must be \"ok\" or \"failed\"");
        goto fail;
    }
    return 0;
fail:
    nm_delivered_clear(d);
    return -1;
}
