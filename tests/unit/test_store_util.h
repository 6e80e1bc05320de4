/*
 * Helpers shared by the store's unit tests: building classified messages,
 * ingesting them, and asking the full-text index.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <check.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/nm_msg.h"
#include "store/store_db.h"

#define T0 1767225600           /* 2026-01-01T00:00:00Z */
#define TEST_FEED "https://news.example/feed.xml"

/* Fills c with an article and the themes of a comma-separated list (NULL:
   none); each theme is "high", score 3, one match explaining it. */
static inline void make_classified(nm_classified *c, const char *id, const char *title,
                                   const char *text, const char *themes)
{
    nm_classified_init(c);
    nm_article *a = &c->article;
    a->id = id ? strdup(id) : NULL;
    a->link = id ? nm_xasprintf("https://news.example/%s", id) : NULL;
    a->title = title ? strdup(title) : NULL;
    a->text = text ? strdup(text) : NULL;
    a->summary = strdup("A summary.");
    a->published = strdup("2026-01-01T08:30:00Z");
    a->feed = strdup(TEST_FEED);
    a->feed_title = strdup("Test feed");
    a->lang = strdup("en");
    nm_article_add_category(a, "World");
    nm_article_add_category(a, "Europe");
    c->ruleset = strdup("rules-v1");
    if (!themes)
        return;
    char *list = strdup(themes);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        c->themes = realloc(c->themes, (c->n_themes + 1) * sizeof *c->themes);
        nm_theme_hit *h = &c->themes[c->n_themes++];
        memset(h, 0, sizeof *h);
        h->id = strdup(t);
        h->severity = strdup("high");
        h->score = 3;
        char term[64];
        snprintf(term, sizeof term, "%s-term", t);
        h->matches = json_pack("[{s:s, s:s, s:i, s:s}]", "term", term, "field", "title",
                               "offset", 0, "text", "matched words");
    }
    free(list);
}

/* Ingests one article (must succeed). Returns the alert id or 0. */
static inline int64_t ingest_simple(store_db *db, const char *id, const char *title,
                                    const char *text, const char *themes)
{
    nm_classified c;
    nm_err err = { "" };
    struct store_ingest_result r;
    make_classified(&c, id, title, text, themes);
    int rc = store_ingest(db, &c, &r, &err);
    nm_classified_clear(&c);
    ck_assert_msg(rc == 0, "ingest %s: %s", id, err.msg);
    return r.alert_id;
}

/* Returns how many rows of the full-text index match q. */
static inline int fts_count(store_db *db, const char *q)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db),
                                        "SELECT count(*) FROM fts WHERE fts MATCH ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Returns 0 when FTS5's integrity check (index against its content) passes. */
static inline int fts_integrity(store_db *db)
{
    return sqlite3_exec(store_db_handle(db),
                        "INSERT INTO fts(fts, rank) VALUES('integrity-check', 1)", NULL, NULL,
                        NULL) == SQLITE_OK ? 0 : -1;
}

#endif
