/*
 * state: the fetcher's SQLite database. Every statement is prepared once
 * (lazily) and kept for the life of the handle; the schema is created and
 * upgraded by numbered migrations keyed on PRAGMA user_version. The daemon
 * is the only writer; newsmonctl opens it read-only.
 */
#include "fetcher/state.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum stmt {
    S_FEED_GET, S_FEED_PUT, S_FEED_LIST,
    S_ITEM_GET, S_ITEM_SENT, S_ITEM_SEEN, S_ITEM_CONFIRM,
    S_PENDING_FEED, S_PENDING_UNQUEUED, S_COUNT_FEED, S_COUNT_ALL, S_COUNT_SINCE, S_PURGE,
    S_BEGIN, S_COMMIT,
    S__COUNT
};

#define FEED_COLS "url, current_url, title, etag, last_modified, last_attempt, last_success, " \
                  "last_new_item, failures, last_status, last_error, next_poll_ms, interval_ms"

static const char *const sql[S__COUNT] = {
    [S_FEED_GET] = ("SELECT " FEED_COLS " FROM feeds WHERE url = ?1"),
    [S_FEED_PUT] = ("INSERT OR REPLACE INTO feeds (" FEED_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"),
    [S_FEED_LIST] = ("SELECT " FEED_COLS " FROM feeds ORDER BY url"),
    [S_ITEM_GET] = "SELECT confirmed, article FROM items WHERE id = ?1",
    [S_ITEM_SENT] = ("INSERT INTO items (id, feed, article, queued, attempt, last_seen) VALUES (?1,?2,?3,?4,?5,?5/1000) "
                     "ON CONFLICT(id) DO UPDATE SET article = ?3, queued = ?4, attempt = ?5, last_seen = ?5/1000 "
                     "WHERE confirmed IS NULL"),
    [S_ITEM_SEEN] = "UPDATE items SET last_seen = ?2 WHERE id = ?1",
    [S_ITEM_CONFIRM] = "UPDATE items SET confirmed = ?2, article = NULL, queued = 1 WHERE id = ?1 AND confirmed IS NULL",
    [S_PENDING_FEED] = "SELECT id, feed, article FROM items WHERE feed = ?1 AND confirmed IS NULL ORDER BY attempt",
    [S_PENDING_UNQUEUED] = ("SELECT id, feed, article FROM items WHERE confirmed IS NULL AND (queued = 0 OR attempt < ?1) "
                           "ORDER BY attempt"),
    [S_COUNT_FEED] = "SELECT count(*) FROM items WHERE feed = ?1 AND confirmed IS NULL",
    [S_COUNT_ALL] = "SELECT count(*) FROM items WHERE confirmed IS NULL",
    [S_COUNT_SINCE] = "SELECT count(*) FROM items WHERE confirmed IS NULL AND attempt >= ?1",
    [S_PURGE] = "DELETE FROM items WHERE confirmed IS NOT NULL AND last_seen < ?1",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
};

/* Numbered migrations: migrations[i] brings user_version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE feeds ("
    "  url TEXT PRIMARY KEY,"
    "  current_url TEXT,"
    "  title TEXT,"
    "  etag TEXT,"
    "  last_modified TEXT,"
    "  last_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_success INTEGER NOT NULL DEFAULT 0,"
    "  last_new_item INTEGER NOT NULL DEFAULT 0,"
    "  failures INTEGER NOT NULL DEFAULT 0,"
    "  last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  next_poll_ms INTEGER NOT NULL DEFAULT 0,"
    "  interval_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE items ("
    "  id TEXT PRIMARY KEY,"
    "  feed TEXT NOT NULL,"
    "  article TEXT,"               /* JSON while pending */
    "  queued INTEGER NOT NULL DEFAULT 0,"
    "  attempt INTEGER NOT NULL,"   /* epoch ms of the last send attempt */
    "  confirmed INTEGER,"          /* epoch s, NULL while pending */
    "  last_seen INTEGER NOT NULL);"
    "CREATE INDEX items_pending ON items(feed) WHERE confirmed IS NULL;"
    "CREATE INDEX items_seen ON items(last_seen) WHERE confirmed IS NOT NULL;",
};

struct state_db {
    sqlite3 *db;
    sqlite3_stmt *st[S__COUNT];   /* prepared on first use */
};

void state_feed_clear(struct state_feed *f)
{
    free(f->url);
    free(f->current_url);
    free(f->title);
    free(f->etag);
    free(f->last_modified);
    free(f->last_error);
    memset(f, 0, sizeof *f);
}

static int db_error(state_db *s, nm_err *err, const char *what)
{
    return nm_err_set(err, "state database: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Returns the prepared, reset statement i, or NULL with err. */
static sqlite3_stmt *stmt(state_db *s, enum stmt i, nm_err *err)
{
    if (!s->st[i] && sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
        db_error(s, err, "prepare");
        return NULL;
    }
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? nm_xstrdup((const char *)t) : NULL;
}

/* Runs a statement that returns no rows. Returns 0 or -1. */
static int run(state_db *s, sqlite3_stmt *st, nm_err *err, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, what);
    return 0;
}

static int migrate(state_db *s, nm_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "user_version");
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    int n = (int)NM_ARRAY_LEN(migrations);
    if (version > n)
        return nm_err_set(err, "state database: schema version %d is newer than this fetcher knows (%d)", version, n);
    for (int v = version; v < n; v++) {
        char *msg = NULL;
        char *pragma = nm_xasprintf("PRAGMA user_version = %d", v + 1);
        int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, pragma, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg);
        free(pragma);
        if (rc != SQLITE_OK) {
            nm_err_set(err, "state database: migration %d: %s", v + 1, msg ? msg : sqlite3_errmsg(s->db));
            sqlite3_free(msg);
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

state_db *state_open(const char *path, bool readonly, nm_err *err)
{
    state_db *s = nm_xcalloc(1, sizeof *s);
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        nm_err_set(err, "state database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        state_close(&s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (!readonly) {
        /* A small page cache: the fetcher's working set is one feed's items
           at a time, and a page missed is read from the OS's cache (256 KB
           instead of 512: 0.25 MB less at the peak of the poll bench). */
        sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-256", NULL,
                     NULL, NULL);
        if (migrate(s, err) < 0) {
            state_close(&s);
            return NULL;
        }
    } else {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM feeds LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
            nm_err_set(err, "state database %s: %s (not a fetcher state database?)", path, sqlite3_errmsg(s->db));
            state_close(&s);
            return NULL;
        }
        sqlite3_finalize(st);
    }
    return s;
}

void state_close(state_db **sp)
{
    state_db *s = *sp;
    if (!s)
        return;
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    nm_free(sp);
}

int state_begin(state_db *s, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_BEGIN, err);
    return st ? run(s, st, err, "begin") : -1;
}

int state_commit(state_db *s, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_COMMIT, err);
    if (st && run(s, st, err, "commit") == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);   /* never leave a transaction open */
    return -1;
}

static void read_feed(sqlite3_stmt *st, struct state_feed *f)
{
    f->url = col_text(st, 0);
    f->current_url = col_text(st, 1);
    f->title = col_text(st, 2);
    f->etag = col_text(st, 3);
    f->last_modified = col_text(st, 4);
    f->last_attempt = sqlite3_column_int64(st, 5);
    f->last_success = sqlite3_column_int64(st, 6);
    f->last_new_item = sqlite3_column_int64(st, 7);
    f->failures = sqlite3_column_int64(st, 8);
    f->last_status = sqlite3_column_int64(st, 9);
    f->last_error = col_text(st, 10);
    f->next_poll_ms = sqlite3_column_int64(st, 11);
    f->interval_ms = sqlite3_column_int64(st, 12);
}

int state_feed_get(state_db *s, const char *url, struct state_feed *f, nm_err *err)
{
    state_feed_clear(f);
    sqlite3_stmt *st = stmt(s, S_FEED_GET, err);
    if (!st)
        return -1;
    bind_text(st, 1, url);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_feed(st, f);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "read feed");
}

int state_feed_put(state_db *s, const struct state_feed *f, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_FEED_PUT, err);
    if (!st)
        return -1;
    bind_text(st, 1, f->url);
    bind_text(st, 2, f->current_url);
    bind_text(st, 3, f->title);
    bind_text(st, 4, f->etag);
    bind_text(st, 5, f->last_modified);
    sqlite3_bind_int64(st, 6, f->last_attempt);
    sqlite3_bind_int64(st, 7, f->last_success);
    sqlite3_bind_int64(st, 8, f->last_new_item);
    sqlite3_bind_int64(st, 9, f->failures);
    sqlite3_bind_int64(st, 10, f->last_status);
    bind_text(st, 11, f->last_error);
    sqlite3_bind_int64(st, 12, f->next_poll_ms);
    sqlite3_bind_int64(st, 13, f->interval_ms);
    return run(s, st, err, "write feed");
}

int state_feed_list(state_db *s, struct state_feed **out, size_t *n, nm_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, S_FEED_LIST, err);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = nm_xrealloc(*out, (*n + 1) * sizeof **out);
        memset(&(*out)[*n], 0, sizeof **out);
        read_feed(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "list feeds");
}

int state_item_get(state_db *s, const char *id, char **json, nm_err *err)
{
    if (json)
        *json = NULL;
    sqlite3_stmt *st = stmt(s, S_ITEM_GET, err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    int rc = sqlite3_step(st), status = STATE_ITEM_NEW;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            status = STATE_ITEM_CONFIRMED;
        } else {
            status = STATE_ITEM_PENDING;
            if (json)
                *json = col_text(st, 1);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "read item");
    return status;
}

int state_item_sent(state_db *s, const char *id, const char *feed, const char *json, bool queued,
                    int64_t now_ms, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_ITEM_SENT, err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    bind_text(st, 2, feed);
    bind_text(st, 3, json);
    sqlite3_bind_int(st, 4, queued ? 1 : 0);
    sqlite3_bind_int64(st, 5, now_ms);
    return run(s, st, err, "record item");
}

int state_item_seen(state_db *s, const char *id, int64_t now, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_ITEM_SEEN, err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return run(s, st, err, "update item");
}

int state_item_confirm(state_db *s, const char *id, int64_t now, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_ITEM_CONFIRM, err);
    if (!st)
        return -1;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if (run(s, st, err, "confirm item") < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

/* Calls fn for each row of st (bound). */
static int each_pending(state_db *s, sqlite3_stmt *st, state_item_fn fn, void *arg, nm_err *err)
{
    /* Copy the rows first: the callback may write to the same table. */
    struct row { char *id, *feed, *json; } *rows = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows = nm_xrealloc(rows, (n + 1) * sizeof *rows);
        rows[n++] = (struct row){ col_text(st, 0), col_text(st, 1), col_text(st, 2) };
    }
    sqlite3_reset(st);
    int result = rc == SQLITE_DONE ? 0 : db_error(s, err, "list pending items");
    for (size_t i = 0; i < n && result == 0; i++)
        if (fn(arg, rows[i].id, rows[i].feed, rows[i].json))
            break;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].feed);
        free(rows[i].json);
    }
    free(rows);
    return result;
}

int state_items_pending(state_db *s, const char *feed, state_item_fn fn, void *arg, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_PENDING_FEED, err);
    if (!st)
        return -1;
    bind_text(st, 1, feed);
    return each_pending(s, st, fn, arg, err);
}

int state_items_retry(state_db *s, int64_t stale_before_ms, state_item_fn fn, void *arg, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_PENDING_UNQUEUED, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, stale_before_ms);
    return each_pending(s, st, fn, arg, err);
}

static int64_t count(state_db *s, sqlite3_stmt *st, nm_err *err)
{
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        db_error(s, err, "count items");
    sqlite3_reset(st);
    return v;
}

int64_t state_count_pending(state_db *s, const char *feed, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, feed ? S_COUNT_FEED : S_COUNT_ALL, err);
    if (!st)
        return -1;
    if (feed)
        bind_text(st, 1, feed);
    return count(s, st, err);
}

int64_t state_count_pending_since(state_db *s, int64_t since_ms, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_COUNT_SINCE, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, since_ms);
    return count(s, st, err);
}

int64_t state_purge(state_db *s, int64_t before, nm_err *err)
{
    sqlite3_stmt *st = stmt(s, S_PURGE, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    if (run(s, st, err, "purge items") < 0)
        return -1;
    return sqlite3_changes(s->db);
}
