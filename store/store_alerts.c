/*
 * store_alerts: the alert queue.
 *
 *   pending --mark_sent--> sent --"ok" ack--> delivered
 *                           |  \--"failed" ack--> failed
 *                           \-- no ack within resend_after: due again
 *
 * An alert row is created by store_ingest in the article's transaction.
 * newsmon-store hands due alerts to the notifier (store_alerts_due, then
 * store_alert_mark_sent) and records the notifier's acknowledgements
 * (store_alert_delivered), one per channel, in alert_channels. The store
 * does not know which channels a route selects, so the first "ok" settles
 * the alert as delivered; "failed" (the notifier gave up on a channel)
 * marks it failed unless another channel delivered it. Re-sends are
 * harmless: the notifier remembers what it delivered.
 */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

struct due {
    int64_t id, story, followup, version_id;
};

/* Returns a malloc'd copy of column i, NULL when it is NULL. */
static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? nm_xstrdup((const char *)s) : NULL;
}

/* Fills the article part of out from a version. Returns 0 or -1. */
static int load_article(store_db *db, int64_t version_id, nm_classified *out, nm_err *err)
{
    static const char SQL[] =
        "SELECT ar.ext_id, ar.link, v.title, v.summary, v.text, ar.published, v.updated, v.author,"
        " v.categories, v.lang, f.url, f.title, v.page, v.ruleset"
        " FROM versions v JOIN articles ar ON ar.id = v.article_id"
        " LEFT JOIN feeds f ON f.id = ar.feed_id WHERE v.id = ?";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return nm_err_set(err, "%s: version %lld is missing", db->path, (long long)version_id);
        return store_sql_err(db, err, "loading an alert's article");
    }
    nm_article *a = &out->article;
    char **fields[] = { &a->id,        &a->link,    &a->title, &a->summary, &a->text,
                        &a->published, &a->updated, &a->author };
    for (int i = 0; i < (int)NM_ARRAY_LEN(fields); i++)
        *fields[i] = col_dup(st, i);
    const char *cats = (const char *)sqlite3_column_text(st, 8);
    json_t *arr = cats ? json_loads(cats, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v))
            nm_article_add_category(a, json_string_value(v));
    json_decref(arr);
    a->lang = col_dup(st, 9);
    a->feed = col_dup(st, 10);
    a->feed_title = col_dup(st, 11);
    a->page = col_dup(st, 12);
    out->ruleset = col_dup(st, 13);
    sqlite3_reset(st);
    return 0;
}

/* Fills out's themes from the version's matches. Returns 0 or -1. */
static int load_themes(store_db *db, int64_t version_id, nm_classified *out, nm_err *err)
{
    static const char SQL[] =
        "SELECT theme, severity, score, explanation FROM matches WHERE version_id = ? ORDER BY id";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version_id);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n_themes == cap) {
            cap = cap ? cap * 2 : 4;
            out->themes = nm_xrealloc(out->themes, cap * sizeof *out->themes);
        }
        nm_theme_hit *h = &out->themes[out->n_themes++];
        memset(h, 0, sizeof *h);
        h->id = col_dup(st, 0);
        h->severity = col_dup(st, 1);
        h->score = sqlite3_column_int64(st, 2);
        const char *ex = (const char *)sqlite3_column_text(st, 3);
        h->matches = ex ? json_loads(ex, 0, NULL) : NULL;
        if (!json_is_array(h->matches)) {
            json_decref(h->matches);
            h->matches = json_array();
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sql_err(db, err, "loading an alert's themes");
}

int store_alerts_due(store_db *db, int64_t now, int64_t resend_after_s, int limit,
                     store_alert_fn fn, void *arg, nm_err *err)
{
    static const char SQL[] =
        "SELECT id, story_id, followup, version_id FROM alerts"
        " WHERE state IN ('pending', 'sent')"
        " AND (state = 'pending' OR sent_at IS NULL OR sent_at <= ?1 - ?2)"
        " ORDER BY id LIMIT ?3";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, resend_after_s > 0 ? resend_after_s : 0);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    /* Collect first, so fn may write (mark_sent) without a scan open. */
    struct due *due = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            due = nm_xrealloc(due, cap * sizeof *due);
        }
        due[n++] = (struct due){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                 sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3) };
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(due);
        return store_sql_err(db, err, "listing due alerts");
    }
    int count = 0, ret = 0;
    for (size_t i = 0; i < n; i++) {
        nm_alert al;
        nm_alert_init(&al);
        al.alert_id = due[i].id;
        al.story = nm_xasprintf("%lld", (long long)due[i].story);
        al.followup = due[i].followup;
        if (load_article(db, due[i].version_id, &al.item, err) < 0 ||
            load_themes(db, due[i].version_id, &al.item, err) < 0) {
            nm_alert_clear(&al);
            ret = -1;
            break;
        }
        count++;
        int stop = fn(&al, arg);
        nm_alert_clear(&al);
        if (stop)
            break;
    }
    free(due);
    return ret < 0 ? -1 : count;
}

/* Returns the alert's state (malloc'd), NULL when there is no such alert
   (err filled), or on error. */
static char *alert_state(store_db *db, int64_t alert_id, nm_err *err)
{
    static const char SQL[] = "SELECT state FROM alerts WHERE id = ?";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, alert_id);
    char *state = NULL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        state = col_dup(st, 0);
    else if (rc == SQLITE_DONE)
        nm_err_set(err, "%s: no alert %lld", db->path, (long long)alert_id);
    else
        store_sql_err(db, err, "reading an alert");
    sqlite3_reset(st);
    return state;
}

int store_alert_set_sent(store_db *db, int64_t alert_id, int64_t now, nm_err *err)
{
    static const char SQL[] =
        "UPDATE alerts SET state = 'sent', sent_at = ?2, attempts = attempts + 1"
        " WHERE id = ?1 AND state IN ('pending', 'sent')";
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, alert_id);
    sqlite3_bind_int64(st, 2, now);
    return store_step_done(db, st, err, "marking an alert sent");
}

int store_alert_mark_sent(store_db *db, int64_t alert_id, int64_t now, nm_err *err)
{
    if (store_batch_check(db, err) < 0)
        return -1;
    char *state = alert_state(db, alert_id, err);
    if (!state)
        return -1;
    free(state);
    /* One statement: atomic by itself, a failure leaves nothing to undo. */
    if (store_alert_set_sent(db, alert_id, now, err) < 0)
        return -1;
    store_batch_log_mark_sent(db, alert_id, now);
    return 0;
}

int store_alert_record(store_db *db, const nm_delivered *d, int64_t now, nm_err *err)
{
    static const char SQL_CHANNEL[] =
        "INSERT INTO alert_channels(alert_id, channel, status, error, at) VALUES(?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(alert_id, channel) DO UPDATE SET"
        " status = CASE WHEN status = 'ok' THEN 'ok' ELSE excluded.status END,"
        " error = CASE WHEN status = 'ok' THEN error ELSE excluded.error END, at = excluded.at";
    static const char SQL_OK[] =
        "UPDATE alerts SET state = 'delivered', done_at = ?2, error = NULL WHERE id = ?1";
    static const char SQL_FAILED[] =
        "UPDATE alerts SET state = 'failed', done_at = ?2, error = ?3"
        " WHERE id = ?1 AND state <> 'delivered'";
    int ok = strcmp(d->status, "ok") == 0;
    sqlite3_stmt *st = store_prep(db, SQL_CHANNEL, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, d->alert_id);
    store_bind_text(st, 2, d->channel);
    store_bind_text(st, 3, d->status);
    store_bind_text(st, 4, ok ? NULL : (d->error ? d->error : "failed"));
    sqlite3_bind_int64(st, 5, now);
    if (store_step_done(db, st, err, "recording a delivery") < 0)
        return -1;
    if (!(st = store_prep(db, ok ? SQL_OK : SQL_FAILED, err)))
        return -1;
    sqlite3_bind_int64(st, 1, d->alert_id);
    sqlite3_bind_int64(st, 2, now);
    if (!ok) {
        char *e = nm_xasprintf("%s: %s", d->channel, d->error ? d->error : "failed");
        sqlite3_bind_text(st, 3, e, -1, free);
    }
    return store_step_done(db, st, err, "updating an alert");
}

int store_alert_delivered(store_db *db, const nm_delivered *d, nm_err *err)
{
    if (!d || d->alert_id <= 0)
        return nm_err_set(err, "delivered: bad alert_id");
    if (!d->channel || !*d->channel || strlen(d->channel) > 256)
        return nm_err_set(err, "delivered: alert %lld: bad channel", (long long)d->alert_id);
    if (!d->status || (strcmp(d->status, "ok") != 0 && strcmp(d->status, "failed") != 0))
        return nm_err_set(err, "delivered: alert %lld: status must be \"ok\" or \"failed\", not \"%s\"",
                          (long long)d->alert_id, d->status ? d->status : "(none)");
    if (d->error && strlen(d->error) > 4096)
        return nm_err_set(err, "delivered: alert %lld: error longer than 4096 bytes",
                          (long long)d->alert_id);
    char *state = alert_state(db, d->alert_id, err);
    if (!state)
        return -1;
    free(state);
    if (store_tx_begin(db, err) < 0)
        return -1;
    int64_t now = store_now(db);
    int ok = store_alert_record(db, d, now, err) == 0;
    if (store_tx_end(db, ok, err) < 0)
        return -1;
    store_batch_log_delivered(db, d, now);
    return 0;
}
