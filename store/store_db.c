/*
 * store_db: opening the database, the schema and its migrations and the
 * prepared-statement cache (transactions are in store_batch.c).
 *
 * The schema grows only through the numbered migrations below: migration
 * N brings a database from user_version N-1 to N, inside one transaction
 * with the user_version update, so a crash leaves either the old schema or
 * the new one. A database newer than this code is refused (an old binary
 * must not write a schema it does not know).
 *
 * At open, PRAGMA quick_check runs over the whole file (O(size), about a
 * second per GB): refusing a damaged database at start is better than
 * finding out in the middle of a night's alerts. A file that is not a
 * database at all fails even earlier, on the first read.
 */
#include "store/store_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- schema ---------------------------------------------------------------- */

static const char MIGRATION_1[] =
    "CREATE TABLE feeds("
    "  id INTEGER PRIMARY KEY,"
    "  url TEXT NOT NULL UNIQUE,"
    "  title TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  n_articles INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE stories("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  n_articles INTEGER NOT NULL DEFAULT 0,"
    "  n_alerts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE articles("
    "  id INTEGER PRIMARY KEY,"
    "  ext_id TEXT NOT NULL UNIQUE,"            /* the article's own id (GUID or link) */
    "  feed_id INTEGER REFERENCES feeds(id),"
    "  link TEXT,"
    "  published TEXT,"
    "  ts INTEGER NOT NULL,"                    /* published (epoch s) when given, else first_seen */
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  version INTEGER NOT NULL,"               /* current version number */
    "  current_version_id INTEGER,"
    "  story_id INTEGER NOT NULL REFERENCES stories(id));"
    "CREATE INDEX articles_ts ON articles(ts);"
    "CREATE INDEX articles_story ON articles(story_id);"
    "CREATE INDEX articles_feed ON articles(feed_id);"
    "CREATE INDEX articles_current ON articles(current_version_id);"
    "CREATE TABLE versions("
    "  id INTEGER PRIMARY KEY,"
    "  article_id INTEGER NOT NULL REFERENCES articles(id),"
    "  version INTEGER NOT NULL,"
    "  stored_at INTEGER NOT NULL,"
    "  content_hash BLOB NOT NULL,"             /* BLAKE2b of title, summary, text */
    "  title TEXT, summary TEXT, text TEXT,"
    "  updated TEXT, author TEXT, lang TEXT, categories TEXT, page TEXT,"
    "  ruleset TEXT,"
    "  minhash BLOB,"                           /* story signature, NULL when too short */
    "  pruned INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE(article_id, version));"
    "CREATE INDEX versions_stored ON versions(stored_at);"
    "CREATE TABLE matches("
    "  id INTEGER PRIMARY KEY,"
    "  version_id INTEGER NOT NULL REFERENCES versions(id),"
    "  theme TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  score INTEGER NOT NULL,"
    "  ruleset TEXT,"
    "  explanation TEXT NOT NULL);"             /* the classifier's matches array, JSON */
    "CREATE INDEX matches_version ON matches(version_id);"
    "CREATE INDEX matches_theme ON matches(theme, version_id);"
    "CREATE TABLE alerts("
    "  id INTEGER PRIMARY KEY,"
    "  version_id INTEGER NOT NULL REFERENCES versions(id),"
    "  story_id INTEGER NOT NULL REFERENCES stories(id),"
    "  followup INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending','sent','delivered','failed')),"
    "  created_at INTEGER NOT NULL,"
    "  sent_at INTEGER,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  done_at INTEGER,"
    "  error TEXT);"
    "CREATE INDEX alerts_open ON alerts(state, id) WHERE state IN ('pending','sent');"
    "CREATE INDEX alerts_version ON alerts(version_id);"
    "CREATE TABLE alert_channels("
    "  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,"
    "  channel TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('ok','failed')),"
    "  error TEXT,"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY(alert_id, channel)) WITHOUT ROWID;"
    "CREATE TABLE lsh("                         /* MinHash LSH buckets of recent versions */
    "  key INTEGER NOT NULL,"
    "  version_id INTEGER NOT NULL,"
    "  seen INTEGER NOT NULL,"
    "  PRIMARY KEY(key, version_id)) WITHOUT ROWID;"
    /* The index's content: exactly the current, unpruned version of each
       article, so FTS5's integrity-check can compare the two. */
    "CREATE VIEW fts_src AS SELECT v.id AS id, v.title AS title,"
    "  coalesce(v.text, v.summary) AS body FROM versions v"
    "  JOIN articles a ON a.current_version_id = v.id WHERE v.pruned = 0;"
    "CREATE VIRTUAL TABLE fts USING fts5(title, body, content='fts_src', content_rowid='id',"
    "  tokenize='nmfold', prefix='3 4');"
    /* rank = bm25 with a title hit worth four body hits. */
    "INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(4.0, 1.0)');";

/* Version 2 (ingest speed, docs/store.md "Performance"): story bands in
   memory instead of the lsh table; signatures in the one-permutation
   format (recomputed for the story window by resign_window, below);
   the full-text index rebuilt with the options of FTS_CREATE (no prefix
   indexes: prefix queries expand through the new fts_terms, filled from
   the rebuild's terms). */
#define FTS_CREATE                                                                                \
    "CREATE VIRTUAL TABLE fts USING fts5(title, body, content='fts_src', content_rowid='id',"    \
    "  tokenize='nmfold');"                                                                       \
    "INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(4.0, 1.0)');"                               \
    "INSERT INTO fts(fts, rank) VALUES('automerge', 16);"                                        \
    "INSERT INTO fts(fts, rank) VALUES('crisismerge', 32);"
static const char MIGRATION_2[] =
    "DROP TABLE lsh;"
    "DROP TABLE fts;"
    "CREATE TABLE fts_terms(term TEXT PRIMARY KEY) WITHOUT ROWID;"   /* every indexed term */
    FTS_CREATE
    "INSERT INTO fts(fts) VALUES('rebuild');";

static int resign_window(store_db *db, nm_err *err);

static const struct {
    const char *sql;
    int (*after)(store_db *db, nm_err *err);   /* C work in the same transaction, or NULL */
} migrations[] = {
    { MIGRATION_1, NULL },
    { MIGRATION_2, resign_window },
};

_Static_assert(NM_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* Migration 2: recomputes the signatures of the story window's versions
   in the current format (older ones are never compared again: NULL). */
static int resign_window(store_db *db, nm_err *err)
{
    static const char SQL_OLD[] =
        "UPDATE versions SET minhash = NULL WHERE stored_at < ?1 AND minhash IS NOT NULL";
    static const char SQL_GET[] =
        "SELECT id, title, coalesce(text, summary) FROM versions"
        " WHERE stored_at >= ?1 AND minhash IS NOT NULL";
    static const char SQL_SET[] = "UPDATE versions SET minhash = ?2 WHERE id = ?1";
    int64_t from = store_now(db) - db->opt.story_window_s;
    sqlite3_stmt *st = store_prep(db, SQL_OLD, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, from);
    if (store_step_done(db, st, err, "migrating story signatures") < 0)
        return -1;
    sqlite3_stmt *get = store_prep(db, SQL_GET, err);
    if (!get)
        return -1;
    sqlite3_bind_int64(get, 1, from);
    int rc;
    while ((rc = sqlite3_step(get)) == SQLITE_ROW) {
        struct store_sig sig;
        store_sig_compute((const char *)sqlite3_column_text(get, 1),
                          (const char *)sqlite3_column_text(get, 2), &sig);
        sqlite3_stmt *set = store_prep(db, SQL_SET, err);
        if (!set)
            break;
        sqlite3_bind_int64(set, 1, sqlite3_column_int64(get, 0));
        if (sig.n_shingles)
            sqlite3_bind_blob(set, 2, sig.min, sizeof sig.min, SQLITE_STATIC);
        if (store_step_done(db, set, err, "migrating story signatures") < 0)
            break;
    }
    sqlite3_reset(get);
    if (rc == SQLITE_ROW)
        return -1;
    if (rc != SQLITE_DONE)
        return store_sql_err(db, err, "migrating story signatures");
    return store_terms_flush(db, err);   /* the terms the rebuild noted */
}

/* ---- helpers ------------------------------------------------------------------ */

int store_sql_err(store_db *db, nm_err *err, const char *doing)
{
    return nm_err_set(err, "%s: %s: %s", db->path, doing, sqlite3_errmsg(db->h));
}

int store_exec(store_db *db, const char *sql, nm_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        nm_err_set(err, "%s: %s", db->path, msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3_stmt *store_prep(store_db *db, const char *sql, nm_err *err)
{
    for (size_t i = 0; i < db->n_stmts; i++) {
        if (db->stmts[i].sql == sql) {
            sqlite3_stmt *st = db->stmts[i].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        store_sql_err(db, err, "preparing a statement");
        return NULL;
    }
    if (db->n_stmts == db->cap_stmts) {
        db->cap_stmts = db->cap_stmts ? db->cap_stmts * 2 : 32;
        db->stmts = nm_xrealloc(db->stmts, db->cap_stmts * sizeof *db->stmts);
    }
    db->stmts[db->n_stmts++] = (struct stmt_slot){ sql, st };
    return st;
}

int store_step_done(store_db *db, sqlite3_stmt *stmt, nm_err *err, const char *doing)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_sql_err(db, err, doing);
        sqlite3_reset(stmt);
        return -1;
    }
    sqlite3_reset(stmt);
    return 0;
}

int store_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Returns the single integer a pragma/query yields, or -1 with err. */
static int64_t query_int(store_db *db, const char *sql, nm_err *err)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        store_sql_err(db, err, sql);
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        store_sql_err(db, err, sql);
    sqlite3_finalize(st);
    return v;
}

void store_options_default(struct store_options *o)
{
    memset(o, 0, sizeof *o);
    o->sync = STORE_SYNC_FULL;
    o->busy_timeout_ms = 5000;
    o->story_window_s = 7 * 86400;
}

/* The advice printed with every refusal of a damaged database. */
static int refuse_damaged(store_db *db, nm_err *err, const char *what)
{
    return nm_err_set(err,
                      "database %s is damaged (%s); newsmon will not write to it. Restore the "
                      "last good copy made with 'newsmonctl backup' (stop newsmon-store, copy the "
                      "backup over %s, remove %s-wal and %s-shm), or move the file aside (mv %s "
                      "%s.damaged) to start with an empty database; 'sqlite3 %s .recover' may "
                      "salvage rows from the damaged copy",
                      db->path, what, db->path, db->path, db->path, db->path, db->path, db->path);
}

/* After a failure: when SQLite found the file damaged (a broken schema
   page fails the first statement that reads it, before quick_check),
   replaces err with the refusal and its advice. */
static void refuse_if_corrupt(store_db *db, nm_err *err)
{
    int code = sqlite3_errcode(db->h);
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
        char *m = nm_xstrdup(sqlite3_errmsg(db->h));
        refuse_damaged(db, err, m);
        free(m);
    }
}

/* Runs PRAGMA quick_check and refuses a database that fails it. */
static int check_integrity(store_db *db, nm_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, "PRAGMA quick_check(5)", -1, &st, NULL) != SQLITE_OK)
        return refuse_damaged(db, err, sqlite3_errmsg(db->h));
    nm_buf problems;
    nm_buf_init(&problems);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") != 0)
            nm_buf_addf(&problems, "%s%s", problems.len ? "; " : "", line);
    }
    if (rc != SQLITE_DONE && problems.len == 0)
        nm_buf_adds(&problems, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    int ret = 0;
    if (problems.len)
        ret = refuse_damaged(db, err, nm_buf_cstr(&problems));
    nm_buf_free(&problems);
    return ret;
}

int store_migrate_limit;

/* Brings the schema up to STORE_SCHEMA_VERSION, one transaction per step. */
static int migrate(store_db *db, int from, nm_err *err)
{
    int to = store_migrate_limit > 0 ? store_migrate_limit : STORE_SCHEMA_VERSION;
    for (int v = from + 1; v <= to; v++) {
        if (store_exec(db, "BEGIN IMMEDIATE", err) < 0)
            return -1;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
        if (store_exec(db, migrations[v - 1].sql, err) < 0 ||
            (migrations[v - 1].after && migrations[v - 1].after(db, err) < 0) ||
            store_exec(db, pragma, err) < 0) {
            nm_err ignored;
            store_exec(db, "ROLLBACK", &ignored);
            store_terms_forget(db);
            char *m = nm_xstrdup(err ? err->msg : "");
            nm_err_set(err, "migration %d failed: %s", v, m);
            free(m);
            return -1;
        }
        if (store_exec(db, "COMMIT", err) < 0)
            return -1;
    }
    return 0;
}

static int apply_pragmas(store_db *db, nm_err *err)
{
    static const char *const sync_names[] = { "NORMAL", "FULL", "OFF" };
    sqlite3_busy_timeout(db->h, db->opt.busy_timeout_ms > 0 ? db->opt.busy_timeout_ms : 5000);
    /* The first read of the file: a file that is not a database fails here. */
    int64_t uv = query_int(db, "PRAGMA user_version", err);
    if (uv < 0)
        return refuse_damaged(db, err, sqlite3_errmsg(db->h));
    /* 64 MiB of page cache: FTS5 segment merges re-read recent pages. */
    if (store_exec(db, "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536", err) < 0)
        return -1;
    if (db->opt.read_only)
        return 0;
    /* 16 KiB pages for a new file (an existing one keeps its size): FTS5
       segments and texts of a few KB take fewer pages, B-tree steps and
       WAL frames (ingest about 10% faster than with 4 KiB). Must precede
       the switch to WAL. */
    if (uv == 0 && store_exec(db, "PRAGMA page_size = 16384", err) < 0)
        return -1;
    char sql[128];
    unsigned s = (unsigned)db->opt.sync < NM_ARRAY_LEN(sync_names) ? (unsigned)db->opt.sync : 0;
    /* Checkpoint every ~40 MB of WAL rather than every 4 MB: a batch
       rewrites the same FTS and index pages, copied back once instead of
       after every batch. Sub-journals in memory (temp_store): the
       savepoint of each article in a batch copies every page it changes
       there first, some 15 pages; in a temporary file that was 29 write
       calls and 240 KB per article, a third of the ingest time spent in
       the kernel. */
    int64_t page = query_int(db, "PRAGMA page_size", err);
    if (page <= 0)
        return -1;
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s; PRAGMA wal_autocheckpoint = %lld;"
             " PRAGMA temp_store = MEMORY", sync_names[s], (long long)((40 << 20) / page));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return refuse_damaged(db, err, sqlite3_errmsg(db->h));
    }
    sqlite3_finalize(st);
    return store_exec(db, sql, err);
}

store_db *store_db_open(const char *path, const struct store_options *opt, nm_err *err)
{
    if (!path || !*path) {
        nm_err_set(err, "no database path given");
        return NULL;
    }
    if (sodium_init() < 0) {
        nm_err_set(err, "libsodium failed to initialise");
        return NULL;
    }
    store_db *db = nm_xcalloc(1, sizeof *db);
    db->path = nm_xstrdup(path);
    if (opt)
        db->opt = *opt;
    else
        store_options_default(&db->opt);
    if (db->opt.story_window_s <= 0)
        db->opt.story_window_s = 7 * 86400;
    nm_buf_init(&db->fold);
    db->lsh = store_lsh_new();

    int flags = db->opt.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (db->opt.read_only) {
        struct stat sb;
        if (stat(path, &sb) < 0) {
            nm_err_set(err, "database %s: %s", path, strerror(errno));
            store_db_close(&db);
            return NULL;
        }
    }
    if (sqlite3_open_v2(path, &db->h, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        nm_err_set(err, "cannot open database %s: %s", path,
                   db->h ? sqlite3_errmsg(db->h) : "out of memory");
        store_db_close(&db);
        return NULL;
    }
    sqlite3_extended_result_codes(db->h, 1);
    if (apply_pragmas(db, err) < 0 || store_fts_register(db->h, &db->terms, err) < 0) {
        refuse_if_corrupt(db, err);
        store_db_close(&db);
        return NULL;
    }
    store_terms_enable(db, !db->opt.read_only);
    if (!db->opt.skip_check && check_integrity(db, err) < 0) {
        store_db_close(&db);
        return NULL;
    }
    int64_t uv = query_int(db, "PRAGMA user_version", err);
    if (uv > STORE_SCHEMA_VERSION) {
        nm_err_set(err, "database %s has schema version %lld, newer than this newsmon knows (%d): "
                   "use the newsmon that wrote it", path, (long long)uv, STORE_SCHEMA_VERSION);
        store_db_close(&db);
        return NULL;
    }
    if (uv < STORE_SCHEMA_VERSION && (store_migrate_limit <= 0 || uv < store_migrate_limit)) {
        int bad = 0;
        if (db->opt.read_only) {
            nm_err_set(err, "database %s has schema version %lld, this newsmon needs %d: start "
                       "newsmon-store once to upgrade it", path, (long long)uv, STORE_SCHEMA_VERSION);
            bad = 1;
        } else if (migrate(db, (int)uv, err) < 0) {
            refuse_if_corrupt(db, err);
            bad = 1;
        }
        if (bad) {
            store_db_close(&db);
            return NULL;
        }
    }
    return db;
}

void store_db_close(store_db **pdb)
{
    store_db *db = *pdb;
    if (!db)
        return;
    for (size_t i = 0; i < db->n_stmts; i++)
        sqlite3_finalize(db->stmts[i].stmt);
    free(db->stmts);
    if (db->h) {
        if (db->in_batch)
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(db->h);
    }
    nm_buf_free(&db->fold);
    store_batch_free(db);
    store_lsh_destroy(&db->lsh);
    free(db->pending_fts);
    free(db->path);
    free(db);
    *pdb = NULL;
}

int store_db_schema_version(store_db *db)
{
    nm_err e;
    return (int)query_int(db, "PRAGMA user_version", &e);
}

const char *store_db_path(store_db *db)
{
    return db->path;
}

struct sqlite3 *store_db_handle(store_db *db)
{
    return db->h;
}

void store_set_clock(store_db *db, int64_t now)
{
    db->clock = now;
}

int64_t store_now(store_db *db)
{
    return db->clock ? db->clock : (int64_t)time(NULL);
}

/* ---- counts ------------------------------------------------------------------------ */

int store_counts(store_db *db, struct store_counts *out, nm_err *err)
{
    static const char SQL_COUNTS[] =
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM versions),"
        " (SELECT count(*) FROM stories), (SELECT count(*) FROM feeds),"
        " (SELECT count(*) FROM alerts WHERE state = 'pending'),"
        " (SELECT count(*) FROM alerts WHERE state = 'sent'),"
        " (SELECT count(*) FROM alerts WHERE state = 'delivered'),"
        " (SELECT count(*) FROM alerts WHERE state = 'failed')";
    sqlite3_stmt *st = store_prep(db, SQL_COUNTS, err);
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        store_sql_err(db, err, "counting");
        sqlite3_reset(st);
        return -1;
    }
    int64_t *f[] = { &out->articles, &out->versions, &out->stories, &out->feeds,
                     &out->alerts_pending, &out->alerts_sent, &out->alerts_delivered,
                     &out->alerts_failed };
    for (int i = 0; i < (int)NM_ARRAY_LEN(f); i++)
        *f[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    return 0;
}
