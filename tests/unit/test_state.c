/*
 * test_state: the fetcher's state database: feed rows round-trip, the
 * item life cycle (new -> pending with its article -> confirmed, never
 * pending again), re-send selection, counts, retention, migrations and
 * read-only opening.
 */
#include "nm_check.h"

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "fetcher/state.h"

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/nm-state-%d.db", (int)getpid());
    unlink(path);
}

static void teardown(void)
{
    char p[80];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

START_TEST(feed_rows)
{
    nm_err err;
    state_db *db = state_open(path, false, &err);
    ck_assert_ptr_nonnull(db);
    struct state_feed f = { 0 };
    ck_assert_int_eq(state_feed_get(db, "https://a.example/rss", &f, &err), 0);
    f.url = nm_xstrdup("https://a.example/rss");
    f.current_url = nm_xstrdup("https://b.example/rss");
    f.title = nm_xstrdup("Title 'quoted'");
    f.etag = nm_xstrdup("\"abc\"");
    f.last_success = 1700000000;
    f.failures = 3;
    f.last_status = 503;
    f.last_error = nm_xstrdup("HTTP 503");
    f.next_poll_ms = 1700000000123LL;
    f.interval_ms = 900000;
    ck_assert_int_eq(state_feed_put(db, &f, &err), 0);
    struct state_feed g = { 0 };
    ck_assert_int_eq(state_feed_get(db, "https://a.example/rss", &g, &err), 1);
    ck_assert_str_eq(g.current_url, "https://b.example/rss");
    ck_assert_str_eq(g.title, "Title 'quoted'");
    ck_assert_str_eq(g.etag, "\"abc\"");
    ck_assert_ptr_null(g.last_modified);
    ck_assert_int_eq(g.failures, 3);
    ck_assert_int_eq(g.last_status, 503);
    ck_assert_int_eq(g.next_poll_ms, 1700000000123LL);
    /* Replace: a success clears the error. */
    g.failures = 0;
    nm_free(&g.last_error);
    ck_assert_int_eq(state_feed_put(db, &g, &err), 0);
    struct state_feed *all;
    size_t n;
    ck_assert_int_eq(state_feed_list(db, &all, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_null(all[0].last_error);
    ck_assert_int_eq(all[0].failures, 0);
    state_feed_clear(&all[0]);
    free(all);
    state_feed_clear(&f);
    state_feed_clear(&g);
    state_close(&db);
    ck_assert_ptr_null(db);
}
END_TEST

static int collect(void *arg, const char *id, const char *feed, const char *json)
{
    nm_buf *b = arg;
    nm_buf_addf(b, "%s|%s|%s;", id, feed, json ? json : "-");
    return 0;
}

START_TEST(item_life_cycle)
{
    nm_err err;
    state_db *db = state_open(path, false, &err);
    ck_assert_ptr_nonnull(db);
    char *json = NULL;
    ck_assert_int_eq(state_item_get(db, "id1", &json, &err), STATE_ITEM_NEW);
    ck_assert_int_eq(state_item_sent(db, "id1", "F", "{\"id\":\"id1\"}", true, 1000000, &err), 0);
    ck_assert_int_eq(state_item_sent(db, "id2", "F", "{\"id\":\"id2\"}", false, 2000000, &err), 0);
    ck_assert_int_eq(state_item_sent(db, "id3", "G", "{\"id\":\"id3\"}", true, 3000000, &err), 0);
    ck_assert_int_eq(state_item_get(db, "id1", &json, &err), STATE_ITEM_PENDING);
    ck_assert_str_eq(json, "{\"id\":\"id1\"}");
    free(json);
    ck_assert_int_eq(state_count_pending(db, "F", &err), 2);
    ck_assert_int_eq(state_count_pending(db, NULL, &err), 3);
    ck_assert_int_eq(state_count_pending_since(db, 2000000, &err), 2);

    nm_buf b;
    nm_buf_init(&b);
    ck_assert_int_eq(state_items_pending(db, "F", collect, &b, &err), 0);
    ck_assert_str_eq(nm_buf_cstr(&b), "id1|F|{\"id\":\"id1\"};id2|F|{\"id\":\"id2\"};");
    nm_buf_reset(&b);
    ck_assert_int_eq(state_items_retry(db, 0, collect, &b, &err), 0);
    ck_assert_str_eq(nm_buf_cstr(&b), "id2|F|{\"id\":\"id2\"};");   /* only the one not queued */
    nm_buf_reset(&b);
    ck_assert_int_eq(state_items_retry(db, 2500000, collect, &b, &err), 0);
    ck_assert_str_eq(nm_buf_cstr(&b), "id1|F|{\"id\":\"id1\"};id2|F|{\"id\":\"id2\"};");

    ck_assert_int_eq(state_item_confirm(db, "id1", 5000, &err), 1);
    ck_assert_int_eq(state_item_confirm(db, "id1", 5001, &err), 0);     /* twice: no-op */
    ck_assert_int_eq(state_item_confirm(db, "unknown", 5001, &err), 0);
    ck_assert_int_eq(state_item_get(db, "id1", &json, &err), STATE_ITEM_CONFIRMED);
    ck_assert_ptr_null(json);
    /* A confirmed item never becomes pending again. */
    ck_assert_int_eq(state_item_sent(db, "id1", "F", "{}", true, 9000000, &err), 0);
    ck_assert_int_eq(state_item_get(db, "id1", NULL, &err), STATE_ITEM_CONFIRMED);
    ck_assert_int_eq(state_count_pending(db, "F", &err), 1);

    /* Retention: a confirmed item still listed stays; one not seen since is purged. */
    ck_assert_int_eq(state_item_confirm(db, "id3", 5000, &err), 1);
    ck_assert_int_eq(state_item_seen(db, "id3", 100000, &err), 0);
    ck_assert_int_eq(state_purge(db, 50000, &err), 1);   /* id1 last seen at 1000 s */
    ck_assert_int_eq(state_item_get(db, "id1", NULL, &err), STATE_ITEM_NEW);
    ck_assert_int_eq(state_item_get(db, "id3", NULL, &err), STATE_ITEM_CONFIRMED);
    ck_assert_int_eq(state_item_get(db, "id2", NULL, &err), STATE_ITEM_PENDING);   /* pending is never purged */
    nm_buf_free(&b);
    state_close(&db);
}
END_TEST

START_TEST(reopen_and_readonly)
{
    nm_err err;
    ck_assert_ptr_null(state_open(path, true, &err));   /* absent: read-only does not create */
    state_db *db = state_open(path, false, &err);
    ck_assert_int_eq(state_begin(db, &err), 0);
    ck_assert_int_eq(state_item_sent(db, "x", "F", "{}", true, 1, &err), 0);
    ck_assert_int_eq(state_commit(db, &err), 0);
    state_close(&db);
    db = state_open(path, false, &err);   /* migrations are not run twice */
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(state_item_get(db, "x", NULL, &err), STATE_ITEM_PENDING);
    state_close(&db);
    db = state_open(path, true, &err);
    ck_assert_ptr_nonnull(db);
    struct state_feed *all;
    size_t n;
    ck_assert_int_eq(state_feed_list(db, &all, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    free(all);
    ck_assert_int_eq(state_item_sent(db, "y", "F", "{}", true, 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "state database"));
    state_close(&db);

    /* A schema newer than we know is refused, not damaged. */
    sqlite3 *raw;
    sqlite3_open(path, &raw);
    sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(raw);
    ck_assert_ptr_null(state_open(path, false, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
}
END_TEST

START_TEST(not_a_database)
{
    FILE *f = fopen(path, "w");
    fputs("this is not sqlite, just text long enough to be a header of something", f);
    fclose(f);
    nm_err err;
    ck_assert_ptr_null(state_open(path, false, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "state database"));
    ck_assert_ptr_null(state_open("/nonexistent/dir/state.db", false, &err));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, feed_rows);
    tcase_add_test(tc, item_life_cycle);
    tcase_add_test(tc, reopen_and_readonly);
    tcase_add_test(tc, not_a_database);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
