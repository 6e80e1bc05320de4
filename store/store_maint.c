/*
 * store_maint: retention and backup.
 *
 * Retention keeps the database bounded without forgetting what was seen:
 * page text is the bulk and goes first (store_prune's text_days), theme
 * matches and finished alerts later (matches_days); the article rows (id,
 * link, title, story) stay, so an old item re-sent by a feed is recognised
 * and never alerts again. (Story bands are in memory, store_lsh.c, and
 * forget what leaves the story window by themselves.)
 *
 * Backup uses SQLite's online backup API: a consistent copy while
 * newsmon-store keeps writing (the copy restarts when the source changes
 * under it, which the backup API handles). The copy is switched out of
 * WAL mode, so it is a single self-contained file, and checked.
 */
#include "store/store_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs a prepared write with one integer parameter. Returns rows changed or -1. */
static int64_t run_cutoff(store_db *db, const char *sql, int64_t cutoff, nm_err *err,
                          const char *doing)
{
    sqlite3_stmt *st = store_prep(db, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, cutoff);
    if (store_step_done(db, st, err, doing) < 0)
        return -1;
    return sqlite3_changes64(db->h);
}

int store_prune_run(store_db *db, int text_days, int matches_days, int64_t now,
                    struct store_prune_result *res, nm_err *err)
{
    /* Only current, unpruned versions (the fts_src view) are in the index:
       deleting any other row from an external-content FTS5 table would
       corrupt it. */
    static const char SQL_FTS[] =
        "INSERT INTO fts(fts, rowid, title, body)"
        " SELECT 'delete', s.id, s.title, s.body FROM fts_src s JOIN versions v ON v.id = s.id"
        " WHERE v.stored_at < ?1";
    static const char SQL_TEXT[] =
        "UPDATE versions SET summary = NULL, text = NULL, pruned = 1"
        " WHERE stored_at < ?1 AND pruned = 0";
    static const char SQL_MATCHES[] =
        "DELETE FROM matches WHERE version_id IN (SELECT id FROM versions WHERE stored_at < ?1)";
    static const char SQL_ALERTS[] =
        "DELETE FROM alerts WHERE state IN ('delivered', 'failed') AND created_at < ?1";
    int64_t n;
    if (text_days > 0) {
        int64_t cut = now - (int64_t)text_days * 86400;
        if (run_cutoff(db, SQL_FTS, cut, err, "pruning the index") < 0 ||
            (n = run_cutoff(db, SQL_TEXT, cut, err, "pruning texts")) < 0)
            return -1;
        res->texts_dropped = n;
    }
    if (matches_days > 0) {
        int64_t cut = now - (int64_t)matches_days * 86400;
        if ((n = run_cutoff(db, SQL_MATCHES, cut, err, "pruning matches")) < 0)
            return -1;
        res->matches_dropped = n;
        if ((n = run_cutoff(db, SQL_ALERTS, cut, err, "pruning alerts")) < 0)
            return -1;
        res->alerts_dropped = n;
    }
    return 0;
}

int store_prune(store_db *db, int text_days, int matches_days, int64_t now,
                struct store_prune_result *res, nm_err *err)
{
    struct store_prune_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (db->opt.read_only)
        return nm_err_set(err, "%s: opened read-only", db->path);
    if (store_batch_check(db, err) < 0)
        return -1;
    /* Deferred index rows first, so the prune sees (and removes) them. */
    if (db->in_batch && store_fts_flush(db, err) < 0) {
        if (db->batch_logged)
            store_batch_failed(db, err);
        return -1;
    }
    if (store_tx_begin(db, err) < 0)
        return -1;
    int ok = store_prune_run(db, text_days, matches_days, now, res, err) == 0;
    if (store_tx_end(db, ok, err) < 0)
        return -1;
    store_batch_log_prune(db, text_days, matches_days, now);
    return 0;
}

/* Copies src into dst page by page, waiting while the source is locked. */
static int copy_pages(sqlite3 *src, sqlite3 *dst, nm_err *err, const char *dest_path)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return nm_err_set(err, "backup to %s: %s", dest_path, sqlite3_errmsg(dst));
    int rc;
    do {
        rc = sqlite3_backup_step(b, 1024);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return nm_err_set(err, "backup to %s: %s", dest_path, sqlite3_errstr(rc));
    return 0;
}

/* Makes the copy a single file and checks it. */
static int finish_copy(sqlite3 *dst, nm_err *err, const char *dest_path)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        ok = r && strcmp(r, "ok") == 0;
    }
    sqlite3_finalize(st);
    if (!ok)
        return nm_err_set(err, "backup %s failed its check: %s", dest_path, sqlite3_errmsg(dst));
    return 0;
}

int store_backup(const char *db_path, const char *dest_path, nm_err *err)
{
    struct stat sb;
    if (!db_path || !dest_path)
        return nm_err_set(err, "backup: missing path");
    if (stat(db_path, &sb) < 0)
        return nm_err_set(err, "backup: database %s: %s", db_path, strerror(errno));
    if (stat(dest_path, &sb) == 0)
        return nm_err_set(err, "backup: %s exists already; choose a new name", dest_path);
    sqlite3 *src = NULL, *dst = NULL;
    int ret = -1;
    if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        nm_err_set(err, "backup: cannot open %s: %s", db_path, src ? sqlite3_errmsg(src) : "no memory");
    } else if (sqlite3_open_v2(dest_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
               SQLITE_OK) {
        nm_err_set(err, "backup: cannot create %s: %s", dest_path,
                   dst ? sqlite3_errmsg(dst) : "no memory");
    } else {
        sqlite3_busy_timeout(src, 5000);
        ret = copy_pages(src, dst, err, dest_path);
        if (ret == 0)
            ret = finish_copy(dst, err, dest_path);
    }
    sqlite3_close_v2(src);
    int created = dst != NULL;
    sqlite3_close_v2(dst);
    if (ret < 0 && created)
        unlink(dest_path);
    return ret;
}
