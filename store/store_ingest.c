/*
 * store_ingest: storing one classified article -- feed, article, version,
 * full-text entry, story, theme matches and alert -- in one transaction.
 *
 * Idempotence is by the article's own id (articles.ext_id). The current
 * version's content hash (BLAKE2b over title, summary and text) decides
 * between "unchanged" (nothing is written, not even last_seen: a re-sent
 * item must cost nothing) and "updated" (a new version row). Only the
 * current version of an article is in the full-text index, so a search
 * finds each article once.
 *
 * Alerts: a new article with at least one theme gets one alert. A new
 * version gets one only when a theme fired that no earlier version of the
 * article fired: a corrected typo must not page the desk twice, a report
 * that grew a new angle (say, drones added to a border story) should.
 * A new version keeps its article's story.
 *
 * Inside store_begin's batch a failed article undoes only its own writes
 * (through the batch's log, store_batch.c). The full-text rows of a batch
 * are written at store_commit (store_fts_defer / store_fts_flush), in one
 * go: FTS5 writes a new index segment at every savepoint and at every
 * statement that takes one, which made batches twenty times slower.
 */
#include "store/store_internal.h"

#include "common/nm_time.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Limits on what one message may carry; longer input is refused, not cut. */
#define MAX_ID_LEN 4096
#define MAX_FIELD_LEN 4096            /* link, title, author, ... */
#define MAX_TEXT_LEN (16 * 1024 * 1024) /* summary, text */
#define MAX_THEMES 256

static const char *const severities[] = { "info", "low", "medium", "high", "critical" };

/* Checks a field's length. Returns 0 or -1 with err naming it. */
static int check_len(const char *s, size_t max, const char *name, nm_err *err)
{
    if (s && strlen(s) > max)
        return nm_err_set(err, "classified: field \"%s\" is longer than %zu bytes", name, max);
    return 0;
}

/* Checks everything store_ingest relies on. Returns 0 or -1 with err. */
static int validate(const nm_classified *c, nm_err *err)
{
    const nm_article *a = &c->article;
    if (!a->id || !*a->id)
        return nm_err_set(err, "classified: article has no \"id\"");
    const struct { const char *v; size_t max; const char *name; } fields[] = {
        { a->id, MAX_ID_LEN, "id" },          { a->link, MAX_FIELD_LEN, "link" },
        { a->title, MAX_FIELD_LEN, "title" }, { a->summary, MAX_TEXT_LEN, "summary" },
        { a->text, MAX_TEXT_LEN, "text" },    { a->published, 64, "published" },
        { a->updated, 64, "updated" },        { a->author, MAX_FIELD_LEN, "author" },
        { a->lang, 64, "lang" },              { a->feed, MAX_FIELD_LEN, "feed" },
        { a->feed_title, MAX_FIELD_LEN, "feed_title" }, { a->page, MAX_FIELD_LEN, "page" },
        { c->ruleset, 256, "ruleset" },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(fields); i++)
        if (check_len(fields[i].v, fields[i].max, fields[i].name, err) < 0)
            return -1;
    if (c->n_themes > MAX_THEMES)
        return nm_err_set(err, "classified: %zu themes (at most %d)", c->n_themes, MAX_THEMES);
    if (c->n_themes && !c->themes)
        return nm_err_set(err, "classified: themes missing");
    for (size_t i = 0; i < c->n_themes; i++) {
        const nm_theme_hit *h = &c->themes[i];
        if (!h->id || !*h->id || strlen(h->id) > 128)
            return nm_err_set(err, "classified: theme %zu has no valid \"id\"", i);
        int sev_ok = 0;
        for (size_t k = 0; k < NM_ARRAY_LEN(severities) && h->severity; k++)
            sev_ok |= strcmp(h->severity, severities[k]) == 0;
        if (!sev_ok)
            return nm_err_set(err, "classified: theme \"%s\": bad severity \"%s\"", h->id,
                              h->severity ? h->severity : "(none)");
        if (h->matches && !json_is_array(h->matches))
            return nm_err_set(err, "classified: theme \"%s\": \"matches\" is not an array", h->id);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->themes[k].id, h->id) == 0)
                return nm_err_set(err, "classified: theme \"%s\" listed twice", h->id);
    }
    return 0;
}

/* Returns seconds since the epoch of a feed date, or -1 when absent or unreadable. */
static int64_t parse_time(const char *s)
{
    int64_t t;
    return s && nm_time_parse(s, &t) == 0 ? t : -1;
}

static void hash_field(crypto_generichash_state *st, const char *s)
{
    unsigned char tag = s ? 1 : 0;
    uint64_t len = s ? strlen(s) : 0;
    crypto_generichash_update(st, &tag, 1);
    crypto_generichash_update(st, (const unsigned char *)&len, sizeof len);
    if (s)
        crypto_generichash_update(st, (const unsigned char *)s, len);
}

static void content_hash(const nm_article *a, unsigned char out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    hash_field(&st, a->title);
    hash_field(&st, a->summary);
    hash_field(&st, a->text);
    crypto_generichash_final(&st, out, 16);
}

/* The state of an article already in the store. */
struct existing {
    int64_t rowid, version, version_id, story_id;
    int same;   /* content hash equal */
};

/* Looks the article up. Returns 1 found, 0 not, -1 error. */
static int find_article(store_db *db, const char *ext_id, const unsigned char hash[16],
                        struct existing *ex, nm_err *err)
{
    static const char SQL[] =
        "SELECT a.id, a.version, a.current_version_id, a.story_id, v.content_hash"
        " FROM articles a LEFT JOIN versions v ON v.id = a.current_version_id WHERE a.ext_id = ?";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    store_bind_text(st, 1, ext_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        store_sql_err(db, err, "looking up an article");
        sqlite3_reset(st);
        return -1;
    }
    ex->rowid = sqlite3_column_int64(st, 0);
    ex->version = sqlite3_column_int64(st, 1);
    ex->version_id = sqlite3_column_int64(st, 2);
    ex->story_id = sqlite3_column_int64(st, 3);
    const void *h = sqlite3_column_blob(st, 4);
    ex->same = h && sqlite3_column_bytes(st, 4) == 16 && memcmp(h, hash, 16) == 0;
    sqlite3_reset(st);
    return 1;
}

/* Runs an INSERT. Returns the new row's id, or -1. (Not RETURNING: it
   buffers its rows in an ephemeral table, a B-tree opened and closed per
   statement, which cost an eighth of the ingest's instructions.) */
static int64_t insert_id(store_db *db, sqlite3_stmt *st, nm_err *err, const char *doing)
{
    return store_step_done(db, st, err, doing) < 0 ? -1 : sqlite3_last_insert_rowid(db->h);
}

/* Returns the integer in the first column of st's single row (0 when
   there is no row), or -1. */
static int64_t step_int(store_db *db, sqlite3_stmt *st, nm_err *err, const char *doing)
{
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        v = store_sql_err(db, err, doing);
    sqlite3_reset(st);
    return v;
}

/* Inserts or refreshes the feed. Returns its id, 0 when the article names
   no feed, or -1. */
static int64_t upsert_feed(store_db *db, const nm_article *a, int is_new, int64_t now, nm_err *err)
{
    static const char SQL_FIND[] = "SELECT id FROM feeds WHERE url = ?";
    static const char SQL_NEW[] =
        "INSERT INTO feeds(url, title, first_seen, last_seen, n_articles) VALUES(?1, ?2, ?3, ?3, ?4)";
    static const char SQL_SEEN[] =
        "UPDATE feeds SET last_seen = ?3, title = coalesce(?2, title), n_articles = n_articles + ?4"
        " WHERE id = ?1";
    if (!a->feed || !*a->feed)
        return 0;
    sqlite3_stmt *st = store_prep(db, SQL_FIND, err);
    if (!st)
        return -1;
    store_bind_text(st, 1, a->feed);
    int64_t id = step_int(db, st, err, "looking up the feed");
    if (id < 0 || !(st = store_prep(db, id ? SQL_SEEN : SQL_NEW, err)))
        return -1;
    if (id)
        sqlite3_bind_int64(st, 1, id);
    else
        store_bind_text(st, 1, a->feed);
    store_bind_text(st, 2, a->feed_title && *a->feed_title ? a->feed_title : NULL);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, is_new ? 1 : 0);
    if (id)
        return store_step_done(db, st, err, "storing the feed") < 0 ? -1 : id;
    return insert_id(db, st, err, "storing the feed");
}

/* Joins story_id, or starts a new story when it is 0. Returns the story id or -1. */
static int64_t join_story(store_db *db, int64_t story_id, const char *title, int64_t now, nm_err *err)
{
    static const char SQL_NEW[] =
        "INSERT INTO stories(title, first_seen, last_seen, n_articles) VALUES(?, ?, ?, 1)";
    static const char SQL_JOIN[] =
        "UPDATE stories SET last_seen = max(last_seen, ?2), n_articles = n_articles + 1 WHERE id = ?1";
    sqlite3_stmt *st = store_prep(db, story_id ? SQL_JOIN : SQL_NEW, err);
    if (!st)
        return -1;
    if (story_id) {
        sqlite3_bind_int64(st, 1, story_id);
        sqlite3_bind_int64(st, 2, now);
        return store_step_done(db, st, err, "joining a story") < 0 ? -1 : story_id;
    }
    store_bind_text(st, 1, title);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now);
    return insert_id(db, st, err, "starting a story");
}

static int64_t insert_article(store_db *db, const nm_classified *c, int64_t feed_id,
                              int64_t story_id, int64_t now, nm_err *err)
{
    static const char SQL[] =
        "INSERT INTO articles(ext_id, feed_id, link, published, ts, first_seen, last_seen, version,"
        " story_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7)";
    const nm_article *a = &c->article;
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    int64_t ts = parse_time(a->published);
    store_bind_text(st, 1, a->id);
    if (feed_id)
        sqlite3_bind_int64(st, 2, feed_id);
    store_bind_text(st, 3, a->link);
    store_bind_text(st, 4, a->published);
    sqlite3_bind_int64(st, 5, ts >= 0 ? ts : now);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, story_id);
    return insert_id(db, st, err, "storing the article");
}

/* Returns a JSON array of the categories (malloc'd), or NULL when none. */
static char *categories_json(const nm_article *a)
{
    if (!a->n_categories)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_categories; i++)
        if (a->categories[i])
            json_array_append_new(arr, json_string(a->categories[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static int64_t insert_version(store_db *db, const nm_classified *c, int64_t article, int64_t version,
                              const unsigned char hash[16], const struct store_sig *sig,
                              int64_t now, nm_err *err)
{
    static const char SQL[] =
        "INSERT INTO versions(article_id, version, stored_at, content_hash, title, summary, text,"
        " updated, author, lang, categories, page, ruleset, minhash)"
        " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const nm_article *a = &c->article;
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    char *cats = categories_json(a);
    sqlite3_bind_int64(st, 1, article);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_blob(st, 4, hash, 16, SQLITE_STATIC);
    store_bind_text(st, 5, a->title);
    store_bind_text(st, 6, a->summary);
    store_bind_text(st, 7, a->text);
    store_bind_text(st, 8, a->updated);
    store_bind_text(st, 9, a->author);
    store_bind_text(st, 10, a->lang);
    store_bind_text(st, 11, cats);
    store_bind_text(st, 12, a->page);
    store_bind_text(st, 13, c->ruleset);
    if (sig->n_shingles)
        sqlite3_bind_blob(st, 14, sig->min, sizeof sig->min, SQLITE_STATIC);
    int64_t id = insert_id(db, st, err, "storing the article version");
    free(cats);
    return id;
}

/* Points the article at its new current version. */
static int set_current(store_db *db, const nm_article *a, int64_t article, int64_t version,
                       int64_t version_id, int64_t now, nm_err *err)
{
    static const char SQL[] =
        "UPDATE articles SET version = ?2, current_version_id = ?3, last_seen = ?4,"
        " link = coalesce(?5, link), published = coalesce(?6, published) WHERE id = ?1";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, article);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int64(st, 3, version_id);
    sqlite3_bind_int64(st, 4, now);
    store_bind_text(st, 5, a->link);
    store_bind_text(st, 6, a->published);
    return store_step_done(db, st, err, "updating the article");
}

/* Removes a version's full-text entry (external content: FTS5 needs the
   values that were indexed, which are still in the versions row). */
static int fts_remove(store_db *db, int64_t version_id, nm_err *err)
{
    for (size_t i = 0; i < db->n_pending_fts; i++)
        if (db->pending_fts[i] == version_id)
            return 0;   /* not indexed yet (store_commit would have), nothing to delete */
    static const char SQL[] =
        "INSERT INTO fts(fts, rowid, title, body)"
        " SELECT 'delete', id, title, body FROM fts_src WHERE id = ?1";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version_id);
    return store_step_done(db, st, err, "updating the full-text index");
}

static int fts_add(store_db *db, const nm_article *a, int64_t version_id, nm_err *err)
{
    static const char SQL[] = "INSERT INTO fts(rowid, title, body) VALUES(?, ?, ?)";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version_id);
    store_bind_text(st, 2, a->title);
    store_bind_text(st, 3, a->text ? a->text : a->summary);
    if (store_step_done(db, st, err, "indexing the article") < 0)
        return -1;
    return store_terms_flush(db, err);
}

static int insert_matches(store_db *db, const nm_classified *c, int64_t version_id, nm_err *err)
{
    static const char SQL[] =
        "INSERT INTO matches(version_id, theme, severity, score, ruleset, explanation)"
        " VALUES(?, ?, ?, ?, ?, ?)";
    for (size_t i = 0; i < c->n_themes; i++) {
        const nm_theme_hit *h = &c->themes[i];
        sqlite3_stmt *st = store_prep(db, SQL, err);
        if (!st)
            return -1;
        char *expl = h->matches ? json_dumps(h->matches, JSON_COMPACT) : NULL;
        sqlite3_bind_int64(st, 1, version_id);
        store_bind_text(st, 2, h->id);
        store_bind_text(st, 3, h->severity);
        sqlite3_bind_int64(st, 4, h->score);
        store_bind_text(st, 5, c->ruleset);
        store_bind_text(st, 6, expl ? expl : "[]");
        int rc = store_step_done(db, st, err, "storing a theme match");
        free(expl);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Returns 1 when some theme of c fired on no earlier version of the
   article, 0 when all did, -1 on error. */
static int has_new_theme(store_db *db, const nm_classified *c, int64_t article, int64_t version_id,
                         nm_err *err)
{
    static const char SQL[] =
        "SELECT 1 FROM matches m JOIN versions v ON v.id = m.version_id"
        " WHERE v.article_id = ? AND v.id <> ? AND m.theme = ? LIMIT 1";
    for (size_t i = 0; i < c->n_themes; i++) {
        sqlite3_stmt *st = store_prep(db, SQL, err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, article);
        sqlite3_bind_int64(st, 2, version_id);
        store_bind_text(st, 3, c->themes[i].id);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return 1;
        if (rc != SQLITE_ROW)
            return store_sql_err(db, err, "comparing themes");
    }
    return 0;
}

/* Queues an alert for the version, counting the story's earlier alerts. */
static int queue_alert(store_db *db, int64_t version_id, int64_t story_id, int64_t now,
                       struct store_ingest_result *res, nm_err *err)
{
    static const char SQL_COUNT[] = "SELECT n_alerts FROM stories WHERE id = ?";
    static const char SQL_BUMP[] = "UPDATE stories SET n_alerts = n_alerts + 1 WHERE id = ?";
    static const char SQL_ALERT[] =
        "INSERT INTO alerts(version_id, story_id, followup, created_at) VALUES(?, ?, ?, ?)";
    sqlite3_stmt *st = store_prep(db, SQL_COUNT, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, story_id);
    int64_t followup = step_int(db, st, err, "counting the story's alerts");
    if (followup < 0 || !(st = store_prep(db, SQL_BUMP, err)))
        return -1;
    sqlite3_bind_int64(st, 1, story_id);
    if (store_step_done(db, st, err, "counting the story's alerts") < 0 ||
        !(st = store_prep(db, SQL_ALERT, err)))
        return -1;
    sqlite3_bind_int64(st, 1, version_id);
    sqlite3_bind_int64(st, 2, story_id);
    sqlite3_bind_int64(st, 3, followup);
    sqlite3_bind_int64(st, 4, now);
    int64_t id = insert_id(db, st, err, "queueing the alert");
    if (id < 0)
        return -1;
    res->alert_id = id;
    res->followup = followup;
    return 0;
}

static char *dup0(const char *s)
{
    return s ? nm_xstrdup(s) : NULL;
}

/* Every field store_ingest_run reads must be copied here: the batch log
   (store_batch.c) redoes articles from these copies. */
void store_ingest_copy(nm_classified *dst, const nm_classified *src)
{
    const nm_article *a = &src->article;
    nm_article *b = &dst->article;
    b->id = dup0(a->id);
    b->link = dup0(a->link);
    b->title = dup0(a->title);
    b->summary = dup0(a->summary);
    b->text = dup0(a->text);
    b->published = dup0(a->published);
    b->updated = dup0(a->updated);
    b->author = dup0(a->author);
    for (size_t i = 0; i < a->n_categories; i++)
        if (a->categories[i])
            nm_article_add_category(b, a->categories[i]);
    b->lang = dup0(a->lang);
    b->feed = dup0(a->feed);
    b->feed_title = dup0(a->feed_title);
    b->page = dup0(a->page);
    dst->ruleset = dup0(src->ruleset);
    if (src->n_themes) {
        dst->themes = nm_xcalloc(src->n_themes, sizeof *dst->themes);
        for (size_t i = 0; i < src->n_themes; i++) {
            const nm_theme_hit *h = &src->themes[i];
            nm_theme_hit *k = &dst->themes[i];
            k->id = dup0(h->id);
            k->severity = dup0(h->severity);
            k->score = h->score;
            k->matches = h->matches ? json_deep_copy(h->matches) : NULL;
        }
        dst->n_themes = src->n_themes;
    }
}

/* The body of store_ingest, inside its transaction (or batch), with the
   clock at now. */
int store_ingest_run(store_db *db, const nm_classified *c, int64_t now, struct store_ingest_result *res,
                     nm_err *err)
{
    const nm_article *a = &c->article;
    unsigned char hash[16];
    content_hash(a, hash);
    struct existing ex = { 0 };
    int found = find_article(db, a->id, hash, &ex, err);
    if (found < 0)
        return -1;
    if (found && ex.same) {
        res->status = STORE_INGEST_UNCHANGED;
        res->article_rowid = ex.rowid;
        res->version = ex.version;
        res->story_id = ex.story_id;
        return 0;
    }
    struct store_sig sig;
    store_sig_compute(a->title, a->text ? a->text : a->summary, &sig);
    int64_t feed_id = upsert_feed(db, a, !found, now, err);
    if (feed_id < 0)
        return -1;
    if (!found) {
        int64_t story = store_lsh_find(db, &sig, now, err);
        if (story < 0 || (story = join_story(db, story, a->title, now, err)) < 0)
            return -1;
        ex.story_id = story;
        if ((ex.rowid = insert_article(db, c, feed_id, story, now, err)) < 0)
            return -1;
    } else if (fts_remove(db, ex.version_id, err) < 0) {
        return -1;
    }
    int64_t version = found ? ex.version + 1 : 1;
    int64_t vid = insert_version(db, c, ex.rowid, version, hash, &sig, now, err);
    if (vid < 0 || set_current(db, a, ex.rowid, version, vid, now, err) < 0 ||
        (!db->in_batch && fts_add(db, a, vid, err) < 0) || insert_matches(db, c, vid, err) < 0)
        return -1;
    store_lsh_add(db, &sig, vid, ex.story_id, now);
    res->status = found ? STORE_INGEST_UPDATED : STORE_INGEST_NEW;
    res->article_rowid = ex.rowid;
    res->version = version;
    res->version_id = vid;
    res->story_id = ex.story_id;
    if (c->n_themes == 0)
        return 0;
    int fresh = found ? has_new_theme(db, c, ex.rowid, vid, err) : 1;
    if (fresh < 0)
        return -1;
    return fresh ? queue_alert(db, vid, ex.story_id, now, res, err) : 0;
}

int store_ingest(store_db *db, const nm_classified *c, struct store_ingest_result *res, nm_err *err)
{
    struct store_ingest_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (!c)
        return nm_err_set(err, "classified: no message");
    if (db->opt.read_only)
        return nm_err_set(err, "%s: opened read-only", db->path);
    if (validate(c, err) < 0 || store_tx_begin(db, err) < 0)
        return -1;
    int64_t now = store_now(db);
    int ok = store_ingest_run(db, c, now, res, err) == 0;
    if (store_tx_end(db, ok, err) < 0) {
        memset(res, 0, sizeof *res);
        return -1;
    }
    /* An unchanged article wrote nothing: nothing to index or redo. */
    if (db->in_batch && res->status != STORE_INGEST_UNCHANGED) {
        store_fts_defer(db, res->version_id);
        store_batch_log_ingest(db, c, now, res);
    }
    return 0;
}
