/*
 * notif_db: the notifier's memory of what it delivered.
 *
 * One table, (alert_id, channel) -> status, error, time. An outcome is
 * committed (synchronous=FULL: it survives a power cut) before the
 * acknowledgement leaves, so when the store re-sends an alert whose ack
 * was lost, or the notifier restarts, a channel that already has the
 * alert is acknowledged again instead of being sent to twice. Schema
 * changes go through numbered migrations on PRAGMA user_version.
 */
#include "notifier/notif.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct notif_db {
    sqlite3 *db;
    sqlite3_stmt *lookup;   /* SELECT status, error for (alert_id, channel) */
    sqlite3_stmt *record;   /* INSERT OR REPLACE one outcome */
    sqlite3_stmt *prune;    /* DELETE older than ? */
    sqlite3_stmt *begin, *commit, *rollback;
};

static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE delivered ("
    "  alert_id INTEGER NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),"
    "  error TEXT,"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY (alert_id, channel)) WITHOUT ROWID;"
    "CREATE INDEX delivered_at ON delivered(at);",
};

static int fail(notif_db *d, nm_err *err, const char *what)
{
    return nm_err_set(err, "state database: %s: %s", what, sqlite3_errmsg(d->db));
}

static int migrate(notif_db *d, nm_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return fail(d, err, "user_version");
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    int target = (int)NM_ARRAY_LEN(migrations);
    if (version > target)
        return nm_err_set(err, "state database: schema version %d is newer than this program's (%d)", version,
                          target);
    for (int v = version; v < target; v++) {
        char *msg = NULL;
        char *sql = nm_xasprintf("BEGIN; %s PRAGMA user_version = %d; COMMIT;", migrations[v], v + 1);
        int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
        free(sql);
        if (rc != SQLITE_OK) {
            nm_err_set(err, "state database: migration %d: %s", v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

notif_db *notif_db_open(const char *path, nm_err *err)
{
    notif_db *d = nm_xcalloc(1, sizeof *d);
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        nm_err_set(err, "state database %s: %s", path, d->db ? sqlite3_errmsg(d->db) : "out of memory");
        notif_db_close(&d);
        return NULL;
    }
    sqlite3_busy_timeout(d->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(d->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) != SQLITE_OK) {
        nm_err_set(err, "state database %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        notif_db_close(&d);
        return NULL;
    }
    if (migrate(d, err) < 0 ||
        sqlite3_prepare_v2(d->db, "SELECT status, error FROM delivered WHERE alert_id = ? AND channel = ?", -1,
                           &d->lookup, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db,
                           "INSERT OR REPLACE INTO delivered (alert_id, channel, status, error, at) "
                           "VALUES (?, ?, ?, ?, ?)", -1, &d->record, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db, "DELETE FROM delivered WHERE at < ?", -1, &d->prune, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db, "BEGIN IMMEDIATE", -1, &d->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db, "COMMIT", -1, &d->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db, "ROLLBACK", -1, &d->rollback, NULL) != SQLITE_OK) {
        if (!err || !err->msg[0] || strncmp(err->msg, "state database", 14))
            fail(d, err, path);
        notif_db_close(&d);
        return NULL;
    }
    return d;
}

void notif_db_close(notif_db **dp)
{
    notif_db *d = *dp;
    if (!d)
        return;
    sqlite3_finalize(d->lookup);
    sqlite3_finalize(d->record);
    sqlite3_finalize(d->prune);
    sqlite3_finalize(d->begin);
    sqlite3_finalize(d->commit);
    sqlite3_finalize(d->rollback);
    sqlite3_close(d->db);
    free(d);
    *dp = NULL;
}

int notif_db_lookup(notif_db *d, int64_t alert_id, const char *channel, char **status, char **error, nm_err *err)
{
    sqlite3_stmt *st = d->lookup;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, alert_id);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        *status = nm_xstrdup((const char *)sqlite3_column_text(st, 0));
        *error = nm_xstrdup((const char *)sqlite3_column_text(st, 1));
    } else if (rc != SQLITE_DONE) {
        found = fail(d, err, "lookup");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int notif_db_record(notif_db *d, int64_t alert_id, const char *channel, const char *status, const char *error,
                    nm_err *err)
{
    sqlite3_stmt *st = d->record;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, alert_id);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    if (error)
        sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail(d, err, "record");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Runs one of the transaction statements. Returns 0, or -1 with err. */
static int run(notif_db *d, sqlite3_stmt *st, const char *what, nm_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail(d, err, what);
    sqlite3_reset(st);
    return rc;
}

int notif_db_begin(notif_db *d, nm_err *err)
{
    return run(d, d->begin, "begin", err);
}

int notif_db_commit(notif_db *d, nm_err *err)
{
    if (run(d, d->commit, "commit", err) == 0)
        return 0;
    if (!sqlite3_get_autocommit(d->db))
        run(d, d->rollback, "rollback", NULL);
    return -1;
}

int64_t notif_db_prune(notif_db *d, int64_t before, nm_err *err)
{
    sqlite3_stmt *st = d->prune;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, before);
    int64_t n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(d->db) : fail(d, err, "prune");
    sqlite3_reset(st);
    return n;
}
