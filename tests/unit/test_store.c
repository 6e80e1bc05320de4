/*
 * Tests of the store's database layer: migrations, idempotent ingest and
 * versions, batches, the alert queue and acknowledgements, retention,
 * backup, refusal of damaged databases and of malformed input.
 * Story grouping and full-text search are in test_store_story.c.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/nm_msg.h"
#include "store/store_db.h"
#include "store/store_internal.h"
#include "tests/unit/nm_check.h"
#include "tests/unit/test_store_util.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/nmstore-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/newsmon.db", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static store_db *open_db(void)
{
    nm_err err = { "" };
    store_db *db = store_db_open(path, NULL, &err);
    ck_assert_msg(db != NULL, "open: %s", err.msg);
    store_set_clock(db, T0);
    return db;
}

static struct store_counts counts(store_db *db)
{
    struct store_counts c;
    nm_err err;
    ck_assert_int_eq(store_counts(db, &c, &err), 0);
    return c;
}

START_TEST(test_migrations)
{
    store_db *db = open_db();
    ck_assert_int_eq(store_db_schema_version(db), STORE_SCHEMA_VERSION);
    store_db_close(&db);
    ck_assert_ptr_null(db);
    db = open_db();   /* second open: no migration runs again */
    ck_assert_int_eq(store_db_schema_version(db), STORE_SCHEMA_VERSION);
    ingest_simple(db, "a1", "Title", "some text here", "espionage");
    store_db_close(&db);

    struct store_options o;
    store_options_default(&o);
    o.read_only = 1;
    nm_err err;
    db = store_db_open(path, &o, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(counts(db).articles, 1);
    nm_classified c;
    make_classified(&c, "a2", "x", "y", NULL);
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    nm_classified_clear(&c);
    store_db_close(&db);

    /* A database from a newer newsmon is refused. */
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    db = store_db_open(path, NULL, &err);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msg, "newer") != NULL, "%s", err.msg);

    /* Read-only open of a missing file fails clearly. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.db", dir);
    ck_assert_ptr_null(store_db_open(missing, &o, &err));
    ck_assert_msg(strstr(err.msg, "none.db") != NULL, "%s", err.msg);
}
END_TEST


/* Reads a story fixture: *title and *text point into the returned buffer. */
static char *read_story(const char *name, char **title, char **text)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/store/stories/%s.txt", name);
    char *data = NULL;
    size_t len;
    nm_err err;
    ck_assert_msg(nm_read_file(nm_test_path(rel), 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    char *nl = strchr(data, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = 0;
    *title = data;
    *text = nl + 1;
    return data;
}

START_TEST(test_migration_from_1)
{
    /* A database of schema 1 (lsh table, old signatures, prefix indexes)
       with an article in the story window and one long before it. */
    nm_err err;
    store_migrate_limit = 1;
    store_db *db = store_db_open(path, NULL, &err);
    store_migrate_limit = 0;
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(store_db_schema_version(db), 1);
    char *title, *text;
    char *data = read_story("balloons_original", &title, &text);
    int64_t now = (int64_t)time(NULL);
    sqlite3 *h = store_db_handle(db);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h,
        "INSERT INTO stories(id, title, first_seen, last_seen, n_articles) VALUES(1, ?1, ?2, ?2, 1), "
        " (2, 'x', ?3, ?3, 1);"
        , -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now - 3600);
    sqlite3_bind_int64(st, 3, now - 30 * 86400);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(h,
        "INSERT INTO articles(id, ext_id, ts, first_seen, last_seen, version, current_version_id,"
        " story_id) VALUES(1, 'recent', ?1, ?1, ?1, 1, 1, 1), (2, 'ancient', ?2, ?2, ?2, 1, 2, 2)",
        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, now - 3600);
    sqlite3_bind_int64(st, 2, now - 30 * 86400);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(h,
        "INSERT INTO versions(id, article_id, version, stored_at, content_hash, title, text, minhash)"
        " VALUES(1, 1, 1, ?1, x'00', ?3, ?4, zeroblob(240)), (2, 2, 1, ?2, x'00', 'Old', 'old words"
        " of an old story told long ago', zeroblob(240))", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, now - 3600);
    sqlite3_bind_int64(st, 2, now - 30 * 86400);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_exec(h, "INSERT INTO fts(fts) VALUES('rebuild');"
                                     "INSERT INTO lsh(key, version_id, seen) VALUES(5, 1, 0)",
                                  NULL, NULL, NULL), SQLITE_OK);
    store_db_close(&db);

    db = store_db_open(path, NULL, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(store_db_schema_version(db), STORE_SCHEMA_VERSION);
    h = store_db_handle(db);
    ck_assert_int_eq(sqlite3_prepare_v2(h,
        "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'lsh'),"
        " (SELECT count(*) FROM fts_terms WHERE term IN ('balloons', 'old')),"
        " (SELECT length(minhash) = 240 AND minhash <> zeroblob(240) FROM versions WHERE id = 1),"
        " (SELECT minhash IS NULL FROM versions WHERE id = 2),"
        " (SELECT count(*) FROM fts WHERE fts MATCH 'balloons')", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);   /* lsh gone */
    ck_assert_int_eq(sqlite3_column_int(st, 1), 2);   /* the rebuild's terms are in the dictionary */
    ck_assert_int_eq(sqlite3_column_int(st, 2), 1);   /* recomputed in the new format */
    ck_assert_int_eq(sqlite3_column_int(st, 3), 1);   /* outside the window: dropped */
    ck_assert_int_eq(sqlite3_column_int(st, 4), 1);
    sqlite3_finalize(st);
    ck_assert_int_eq(fts_integrity(db), 0);
    free(data);
    /* The recomputed signature groups a syndicated copy with it. */
    data = read_story("balloons_syndicated", &title, &text);
    store_set_clock(db, now);
    nm_classified c;
    make_classified(&c, "syndicated", title, text, "border");
    struct store_ingest_result r;
    ck_assert_msg(store_ingest(db, &c, &r, &err) == 0, "%s", err.msg);
    nm_classified_clear(&c);
    free(data);
    ck_assert_int_eq(r.story_id, 1);
    store_db_close(&db);
}
END_TEST

START_TEST(test_ingest_idempotent)
{
    store_db *db = open_db();
    nm_err err;
    struct store_ingest_result r;
    nm_classified c;
    make_classified(&c, "https://ex.org/1", "Spies in Minsk", "Original text.", "espionage");
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_NEW);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_gt(r.alert_id, 0);
    ck_assert_int_eq(r.followup, 0);
    int64_t story = r.story_id;

    /* The same message again: nothing is written. */
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_UNCHANGED);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(r.alert_id, 0);
    ck_assert_int_eq(r.story_id, story);
    struct store_counts k = counts(db);
    ck_assert_int_eq(k.articles, 1);
    ck_assert_int_eq(k.versions, 1);
    ck_assert_int_eq(k.alerts_pending, 1);

    /* A different rule set with the same content is still unchanged. */
    free(c.ruleset);
    c.ruleset = strdup("rules-v2");
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_UNCHANGED);

    /* Changed text: version 2, same themes: no new alert. */
    free(c.article.text);
    c.article.text = strdup("Original text, corrected.");
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_UPDATED);
    ck_assert_int_eq(r.version, 2);
    ck_assert_int_eq(r.alert_id, 0);
    ck_assert_int_eq(r.story_id, story);
    k = counts(db);
    ck_assert_int_eq(k.articles, 1);
    ck_assert_int_eq(k.versions, 2);
    ck_assert_int_eq(k.alerts_pending, 1);
    nm_classified_clear(&c);

    /* Version 3 fires a theme no earlier version fired: a follow-up alert. */
    make_classified(&c, "https://ex.org/1", "Spies in Minsk", "Now with drones.", "espionage,airspace");
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_UPDATED);
    ck_assert_int_eq(r.version, 3);
    ck_assert_int_gt(r.alert_id, 0);
    ck_assert_int_eq(r.followup, 1);
    nm_classified_clear(&c);

    /* A summary-only change is a change too; a title change as well. */
    make_classified(&c, "https://ex.org/1", "Spies in Minsk (updated)", "Now with drones.",
                    "espionage,airspace");
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.version, 4);
    nm_classified_clear(&c);

    /* An article without themes is stored, without an alert. */
    make_classified(&c, "quiet", "Weather", "Sunny.", NULL);
    ck_assert_int_eq(store_ingest(db, &c, &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_NEW);
    ck_assert_int_eq(r.alert_id, 0);
    nm_classified_clear(&c);
    store_db_close(&db);
}
END_TEST

START_TEST(test_feeds)
{
    store_db *db = open_db();
    ingest_simple(db, "f1", "One", "first text", NULL);
    store_set_clock(db, T0 + 100);
    ingest_simple(db, "f2", "Two", "second text", NULL);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db),
                                        "SELECT url, title, first_seen, last_seen, n_articles FROM feeds",
                                        -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), TEST_FEED);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "Test feed");
    ck_assert_int_eq(sqlite3_column_int64(st, 2), T0);
    ck_assert_int_eq(sqlite3_column_int64(st, 3), T0 + 100);
    ck_assert_int_eq(sqlite3_column_int64(st, 4), 2);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    store_db_close(&db);
}
END_TEST

START_TEST(test_batches)
{
    store_db *db = open_db();
    nm_err err;
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(store_begin(db, &err), -1);
    ingest_simple(db, "b1", "One", "text one", "military");
    ingest_simple(db, "b2", "Two", "text two", "military");
    ck_assert_int_eq(store_rollback(db, &err), 0);
    ck_assert_int_eq(counts(db).articles, 0);
    ck_assert_int_eq(counts(db).alerts_pending, 0);

    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_simple(db, "b1", "One", "text one", "military");
    nm_classified bad;
    make_classified(&bad, "b2", "Two", "text two", "military");
    free(bad.themes[0].severity);
    bad.themes[0].severity = strdup("apocalyptic");
    ck_assert_int_eq(store_ingest(db, &bad, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "severity") != NULL, "%s", err.msg);
    nm_classified_clear(&bad);
    ingest_simple(db, "b3", "Three", "text three", "military");
    ck_assert_int_eq(store_in_transaction(db), 1);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(store_commit(db, &err), -1);
    struct store_counts k = counts(db);
    ck_assert_int_eq(k.articles, 2);
    ck_assert_int_eq(k.alerts_pending, 2);
    store_db_close(&db);

    /* What was committed is there after reopening. */
    db = open_db();
    ck_assert_int_eq(counts(db).articles, 2);
    store_db_close(&db);
}
END_TEST

/* The titles whose alert fails to insert (a write that fails after
   validation, at the end of an article): those starting with
   fail_prefix. */
static char fail_prefix[32];

static void fail_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    sqlite3_result_int(ctx, fail_prefix[0] && t && strncmp(t, fail_prefix, strlen(fail_prefix)) == 0);
}

static void inject_failures(store_db *db)
{
    sqlite3 *h = store_db_handle(db);
    fail_prefix[0] = '\0';
    ck_assert_int_eq(sqlite3_create_function(h, "test_fail", 1, SQLITE_UTF8, NULL, fail_fn, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TEMP TRIGGER fail_alert BEFORE INSERT ON main.alerts"
                                     " WHEN test_fail((SELECT title FROM versions WHERE id = NEW.version_id))"
                                     " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                                  NULL, NULL, NULL), SQLITE_OK);
}

static int64_t ingest_r(store_db *db, const char *id, const char *title, const char *text,
                        const char *themes, struct store_ingest_result *r, nm_err *err)
{
    nm_classified c;
    make_classified(&c, id, title, text, themes);
    int rc = store_ingest(db, &c, r, err);
    nm_classified_clear(&c);
    return rc;
}

#define LONG_TEXT(w) "the " w " report on the border crossing said that troops moved north at night"
#define OTHER_TEXT "heavy rain flooded the valley and the river bvword rose over its banks by morning"

/* An article that fails after some of its rows were written, in a batch
   with other writes: only its own writes go (log_max 0: the batch's
   log redoes the others; 1: each write has its savepoint). */
static void check_failed_write_in_batch(size_t log_max)
{
    store_batch_log_max = log_max ? log_max : (size_t)64 << 20;
    store_db *db = open_db();
    inject_failures(db);
    nm_err err = { "" };
    struct store_ingest_result ra, rb, rc, rold;
    ck_assert_int_eq(ingest_r(db, "old", "Old news", LONG_TEXT("first"), "military", &rold, &err), 0);
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(ingest_r(db, "a", "Alpha", LONG_TEXT("alphaword"), "military", &ra, &err), 0);
    nm_delivered d = { rold.alert_id, (char *)"log", (char *)"ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &d, &err), 0);
    ck_assert_int_eq(store_alert_mark_sent(db, ra.alert_id, T0 + 5, &err), 0);
    strcpy(fail_prefix, "Bravo");
    ck_assert_int_eq(ingest_r(db, "b", "Bravo", OTHER_TEXT, "military,border", &rb, &err), -1);
    ck_assert_msg(strstr(err.msg, "injected failure") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "none of it") == NULL, "%s", err.msg);
    fail_prefix[0] = '\0';
    ck_assert_int_eq(ingest_r(db, "c", "Charlie", LONG_TEXT("charlieword"), "military", &rc, &err), 0);
    /* Nothing of b's is left: c takes the ids b had. */
    ck_assert_int_eq(rc.version_id, ra.version_id + 1);
    ck_assert_int_eq(rc.alert_id, ra.alert_id + 1);
    ck_assert_int_eq(store_commit(db, &err), 0);

    struct store_counts k = counts(db);
    ck_assert_int_eq(k.articles, 3);
    ck_assert_int_eq(k.versions, 3);
    ck_assert_int_eq(k.alerts_delivered, 1);
    ck_assert_int_eq(k.alerts_sent, 1);
    ck_assert_int_eq(k.alerts_pending, 1);
    ck_assert_int_eq(fts_count(db, "alphaword"), 1);
    ck_assert_int_eq(fts_count(db, "bvword"), 0);
    ck_assert_int_eq(fts_count(db, "charlieword"), 1);
    ck_assert_int_eq(fts_integrity(db), 0);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db), "SELECT n_articles FROM feeds", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    /* b left nothing in the story index either: its first version, the
       most similar, would lead to a story that is gone (the foreign key
       would refuse the article). */
    ck_assert_int_eq(ingest_r(db, "b", "Bravo", OTHER_TEXT, "military", &rb, &err), 0);
    ck_assert_int_eq(rb.status, STORE_INGEST_NEW);
    ck_assert_int_eq(rb.followup, 0);
    store_db_close(&db);
    store_batch_log_max = (size_t)64 << 20;
}

START_TEST(test_batch_failed_write)
{
    check_failed_write_in_batch(0);
}
END_TEST

START_TEST(test_batch_failed_write_savepoints)
{
    check_failed_write_in_batch(1);
}
END_TEST

START_TEST(test_batch_broken)
{
    /* The redo fails too: the whole batch is rolled back and says so. */
    store_db *db = open_db();
    inject_failures(db);
    nm_err err = { "" };
    struct store_ingest_result r;
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(ingest_r(db, "d1", "Delta one", LONG_TEXT("deltaword"), "military", &r, &err), 0);
    strcpy(fail_prefix, "Delta");
    ck_assert_int_eq(ingest_r(db, "d2", "Delta two", LONG_TEXT("other"), "military", &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "none of it was stored") != NULL, "%s", err.msg);
    fail_prefix[0] = '\0';
    ck_assert_int_eq(store_in_transaction(db), 1);
    ck_assert_int_eq(ingest_r(db, "e", "Echo", LONG_TEXT("echoword"), NULL, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "rolled back") != NULL, "%s", err.msg);
    ck_assert_int_eq(store_alert_mark_sent(db, 1, T0, &err), -1);
    ck_assert_int_eq(store_prune(db, 1, 1, T0, NULL, &err), -1);
    ck_assert_int_eq(store_commit(db, &err), -1);
    ck_assert_msg(strstr(err.msg, "nothing of it was stored") != NULL, "%s", err.msg);
    ck_assert_int_eq(store_in_transaction(db), 0);
    ck_assert_int_eq(counts(db).articles, 0);
    ck_assert_int_eq(counts(db).stories, 0);

    /* The next batch starts clean. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(ingest_r(db, "d1", "Delta one", LONG_TEXT("deltaword"), "military", &r, &err), 0);
    ck_assert_int_eq(store_rollback(db, &err), 0);
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(ingest_r(db, "d1", "Delta one", LONG_TEXT("deltaword"), "military", &r, &err), 0);
    ck_assert_int_eq(r.status, STORE_INGEST_NEW);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(counts(db).articles, 1);
    ck_assert_int_eq(fts_count(db, "deltaword"), 1);
    ck_assert_int_eq(fts_integrity(db), 0);
    store_db_close(&db);
}
END_TEST

struct collected {
    int n;
    int64_t ids[16];
    int stop_after;
    json_t *first;   /* the first alert as JSON */
};

static int collect(const nm_alert *a, void *arg)
{
    struct collected *c = arg;
    c->ids[c->n++] = a->alert_id;
    if (!c->first)
        c->first = nm_alert_to_json(a);
    return c->stop_after && c->n >= c->stop_after;
}

static int due(store_db *db, int64_t now, int64_t resend, int limit, struct collected *c)
{
    nm_err err;
    json_decref(c->first);
    memset(c, 0, sizeof *c);
    int n = store_alerts_due(db, now, resend, limit, collect, c, &err);
    ck_assert_msg(n >= 0, "%s", err.msg);
    ck_assert_int_eq(n, c->n);
    return n;
}

START_TEST(test_alert_queue)
{
    store_db *db = open_db();
    nm_err err;
    int64_t a1 = ingest_simple(db, "q1", "Recruiters of the KGB", "Text about recruitment.", "espionage");
    int64_t a2 = ingest_simple(db, "q2", "Troops at the border", "Text about troops.", "military,border");
    struct collected c = { 0 };
    ck_assert_int_eq(due(db, T0, 300, 0, &c), 2);
    ck_assert_int_eq(c.ids[0], a1);
    ck_assert_int_eq(c.ids[1], a2);

    /* The alert carries the article and the explanation, and survives the
       strict decoder the notifier uses. */
    nm_alert back;
    ck_assert_msg(nm_alert_from_json(c.first, &back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back.item.article.id, "q1");
    ck_assert_str_eq(back.item.article.title, "Recruiters of the KGB");
    ck_assert_str_eq(back.item.article.feed, TEST_FEED);
    ck_assert_str_eq(back.item.ruleset, "rules-v1");
    ck_assert_int_eq(back.item.n_themes, 1);
    ck_assert_str_eq(back.item.themes[0].id, "espionage");
    ck_assert_str_eq(back.item.themes[0].severity, "high");
    ck_assert_int_eq(back.item.themes[0].score, 3);
    json_t *m = json_array_get(back.item.themes[0].matches, 0);
    ck_assert_str_eq(json_string_value(json_object_get(m, "term")), "espionage-term");
    ck_assert_int_eq(back.followup, 0);
    ck_assert_int_eq(back.item.article.n_categories, 2);
    nm_alert_clear(&back);

    /* limit and stopping early */
    ck_assert_int_eq(due(db, T0, 300, 1, &c), 1);
    json_decref(c.first);
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    ck_assert_int_eq(store_alerts_due(db, T0, 300, 0, collect, &c, &err), 1);
    json_decref(c.first);
    memset(&c, 0, sizeof c);

    /* Sent: not due until resend_after has passed without an ack. */
    ck_assert_int_eq(store_alert_mark_sent(db, a1, T0, &err), 0);
    ck_assert_int_eq(due(db, T0 + 10, 300, 0, &c), 1);
    ck_assert_int_eq(c.ids[0], a2);
    ck_assert_int_eq(due(db, T0 + 299, 300, 0, &c), 1);
    ck_assert_int_eq(due(db, T0 + 300, 300, 0, &c), 2);
    ck_assert_int_eq(store_alert_mark_sent(db, a1, T0 + 300, &err), 0);   /* resent */
    ck_assert_int_eq(due(db, T0 + 400, 300, 0, &c), 1);
    ck_assert_int_eq(counts(db).alerts_sent, 1);
    ck_assert_int_eq(counts(db).alerts_pending, 1);

    /* Acknowledged: delivered, never due again. */
    nm_delivered d = { a1, "mail", "ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &d, &err), 0);
    ck_assert_int_eq(due(db, T0 + 10000, 300, 0, &c), 1);
    ck_assert_int_eq(c.ids[0], a2);
    /* A late failure from another channel does not undo the delivery. */
    nm_delivered f = { a1, "webhook", "failed", "HTTP 500" };
    ck_assert_int_eq(store_alert_delivered(db, &f, &err), 0);
    struct store_counts k = counts(db);
    ck_assert_int_eq(k.alerts_delivered, 1);
    ck_assert_int_eq(k.alerts_failed, 0);
    /* Marking a delivered alert sent changes nothing. */
    ck_assert_int_eq(store_alert_mark_sent(db, a1, T0 + 20000, &err), 0);
    ck_assert_int_eq(counts(db).alerts_delivered, 1);

    /* Failed for good: failed with the error, not due. */
    ck_assert_int_eq(store_alert_mark_sent(db, a2, T0 + 500, &err), 0);
    nm_delivered f2 = { a2, "mail", "failed", "550 mailbox unavailable" };
    ck_assert_int_eq(store_alert_delivered(db, &f2, &err), 0);
    ck_assert_int_eq(due(db, T0 + 100000, 300, 0, &c), 0);
    k = counts(db);
    ck_assert_int_eq(k.alerts_failed, 1);
    ck_assert_int_eq(k.alerts_sent, 0);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db), "SELECT error FROM alerts WHERE id = ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, a2);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "mail: 550 mailbox unavailable");
    sqlite3_finalize(st);
    /* ...and a later success on another channel makes it delivered. */
    nm_delivered ok2 = { a2, "webhook", "ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &ok2, &err), 0);
    ck_assert_int_eq(counts(db).alerts_delivered, 2);

    /* Unknown alerts and malformed acks are errors, not crashes. */
    nm_delivered bad = { 9999, "mail", "ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &bad, &err), -1);
    ck_assert_msg(strstr(err.msg, "9999") != NULL, "%s", err.msg);
    nm_delivered bad2 = { a1, "mail", "maybe", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &bad2, &err), -1);
    nm_delivered bad3 = { a1, NULL, "ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &bad3, &err), -1);
    ck_assert_int_eq(store_alert_delivered(db, NULL, &err), -1);
    ck_assert_int_eq(store_alert_mark_sent(db, 4242, T0, &err), -1);
    json_decref(c.first);
    store_db_close(&db);
}
END_TEST

START_TEST(test_prune)
{
    store_db *db = open_db();
    nm_err err;
    int64_t old = ingest_simple(db, "old", "Old title", "ancientword in the text", "espionage");
    nm_delivered d = { old, "mail", "ok", NULL };
    ck_assert_int_eq(store_alert_delivered(db, &d, &err), 0);
    store_set_clock(db, T0 + 40 * 86400);
    ingest_simple(db, "new", "New title", "recentword in the text", "espionage");
    ck_assert_int_eq(fts_count(db, "ancientword"), 1);

    struct store_prune_result r;
    ck_assert_int_eq(store_prune(db, 30, 90, T0 + 40 * 86400, &r, &err), 0);
    ck_assert_int_eq(r.texts_dropped, 1);
    ck_assert_int_eq(r.matches_dropped, 0);
    ck_assert_int_eq(fts_count(db, "ancientword"), 0);
    ck_assert_int_eq(fts_count(db, "recentword"), 1);
    ck_assert_int_eq(fts_integrity(db), 0);
    /* The article itself is still known: a re-send is unchanged, no alert. */
    struct store_ingest_result ir;
    nm_classified c;
    make_classified(&c, "old", "Old title", "ancientword in the text", "espionage");
    ck_assert_int_eq(store_ingest(db, &c, &ir, &err), 0);
    ck_assert_int_eq(ir.status, STORE_INGEST_UNCHANGED);
    nm_classified_clear(&c);
    /* A changed re-send after pruning makes a new version and indexes it. */
    make_classified(&c, "old", "Old title", "ancientword revised", "espionage");
    ck_assert_int_eq(store_ingest(db, &c, &ir, &err), 0);
    ck_assert_int_eq(ir.status, STORE_INGEST_UPDATED);
    ck_assert_int_eq(ir.alert_id, 0);
    nm_classified_clear(&c);
    ck_assert_int_eq(fts_count(db, "revised"), 1);
    ck_assert_int_eq(fts_integrity(db), 0);

    /* Matches and finished alerts go later; pending alerts stay. */
    ck_assert_int_eq(store_prune(db, 30, 10, T0 + 40 * 86400, &r, &err), 0);
    ck_assert_int_eq(r.matches_dropped, 1);
    ck_assert_int_eq(r.alerts_dropped, 1);
    struct store_counts k = counts(db);
    ck_assert_int_eq(k.alerts_delivered, 0);
    ck_assert_int_eq(k.alerts_pending, 1);
    ck_assert_int_eq(k.articles, 2);
    ck_assert_int_eq(fts_integrity(db), 0);
    store_db_close(&db);
}
END_TEST

START_TEST(test_backup)
{
    store_db *db = open_db();
    nm_err err;
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "bk%d", i);
        ingest_simple(db, id, "Backup title", "backupword text", i % 2 ? "espionage" : NULL);
    }
    char dest[160];
    snprintf(dest, sizeof dest, "%s/copy.db", dir);
    /* While the store is open (and its WAL not checkpointed). */
    ck_assert_msg(store_backup(path, dest, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(store_backup(path, dest, &err), -1);
    ck_assert_msg(strstr(err.msg, "exists") != NULL, "%s", err.msg);
    store_db_close(&db);

    struct store_options o;
    store_options_default(&o);
    o.read_only = 1;
    store_db *copy = store_db_open(dest, &o, &err);
    ck_assert_msg(copy != NULL, "%s", err.msg);
    struct store_counts k = counts(copy);
    ck_assert_int_eq(k.articles, 50);
    ck_assert_int_eq(k.alerts_pending, 25);
    ck_assert_int_eq(fts_count(copy, "backupword"), 50);
    store_db_close(&copy);
    char wal[200];
    snprintf(wal, sizeof wal, "%s-wal", dest);
    ck_assert_int_ne(access(wal, F_OK), 0);   /* a single self-contained file */

    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.db", dir);
    snprintf(dest, sizeof dest, "%s/copy2.db", dir);
    ck_assert_int_eq(store_backup(missing, dest, &err), -1);
    ck_assert_int_ne(access(dest, F_OK), 0);
}
END_TEST

static void write_file(const char *p, const void *data, size_t n, off_t at, int trunc)
{
    int fd = open(p, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, data, n, at), (ssize_t)n);
    close(fd);
}

START_TEST(test_damaged)
{
    nm_err err;
    /* Not a database at all. */
    char garbage[8192];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 131 + 7);
    write_file(path, garbage, sizeof garbage, 0, 1);
    ck_assert_ptr_null(store_db_open(path, NULL, &err));
    ck_assert_msg(strstr(err.msg, "damaged") && strstr(err.msg, "newsmonctl backup") &&
                  strstr(err.msg, "move"), "%s", err.msg);
    /* The file was not touched. */
    char back[8192];
    int fd = open(path, O_RDONLY);
    ck_assert_int_eq(read(fd, back, sizeof back), (ssize_t)sizeof back);
    close(fd);
    ck_assert_int_eq(memcmp(back, garbage, sizeof back), 0);

    /* A real database with garbage over its inner pages. */
    unlink(path);
    store_db *db = open_db();
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "dm%d", i);
        ingest_simple(db, id, "Damage title", "some words to fill pages with content", "espionage");
    }
    store_db_close(&db);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    write_file(path, garbage, sizeof garbage, 4096 * 3, 0);
    db = store_db_open(path, NULL, &err);
    ck_assert_msg(db == NULL, "a damaged database was accepted");
    ck_assert_msg(strstr(err.msg, "damaged") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_malformed)
{
    store_db *db = open_db();
    nm_err err;
    nm_classified c;

    ck_assert_int_eq(store_ingest(db, NULL, NULL, &err), -1);
    make_classified(&c, "m", "t", "x", NULL);
    free(c.article.id);
    c.article.id = NULL;
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "id") != NULL, "%s", err.msg);
    c.article.id = strdup("");
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    nm_classified_clear(&c);

    make_classified(&c, "m", "t", "x", NULL);
    free(c.article.title);
    c.article.title = malloc(10000);
    memset(c.article.title, 'a', 9999);
    c.article.title[9999] = 0;
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "title") != NULL, "%s", err.msg);
    nm_classified_clear(&c);

    make_classified(&c, "m", "t", "x", "espionage,espionage");
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "twice") != NULL, "%s", err.msg);
    nm_classified_clear(&c);

    make_classified(&c, "m", "t", "x", "espionage");
    json_decref(c.themes[0].matches);
    c.themes[0].matches = json_string("not an array");
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "matches") != NULL, "%s", err.msg);
    nm_classified_clear(&c);

    make_classified(&c, "m", "t", "x", "espionage");
    free(c.themes[0].id);
    c.themes[0].id = NULL;
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), -1);
    nm_classified_clear(&c);

    /* Odd but valid input is stored: no title, no text, no feed,
       an unreadable date, NUL-free binary-looking text. */
    make_classified(&c, "odd", NULL, NULL, "espionage");
    free(c.article.feed);
    c.article.feed = NULL;
    free(c.article.published);
    c.article.published = strdup("the day after tomorrow");
    struct store_ingest_result r;
    ck_assert_msg(store_ingest(db, &c, &r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.status, STORE_INGEST_NEW);
    nm_classified_clear(&c);

    struct store_counts k = counts(db);
    ck_assert_int_eq(k.articles, 1);
    ck_assert_int_eq(k.alerts_pending, 1);
    store_db_close(&db);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("db");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_migrations);
    tcase_add_test(tc, test_migration_from_1);
    tcase_add_test(tc, test_ingest_idempotent);
    tcase_add_test(tc, test_feeds);
    tcase_add_test(tc, test_batches);
    tcase_add_test(tc, test_batch_failed_write);
    tcase_add_test(tc, test_batch_failed_write_savepoints);
    tcase_add_test(tc, test_batch_broken);
    tcase_add_test(tc, test_alert_queue);
    tcase_add_test(tc, test_prune);
    tcase_add_test(tc, test_backup);
    tcase_add_test(tc, test_damaged);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(store_suite)
