/*
 * store_batch: transactions. One operation outside a batch is its own
 * transaction; store_begin .. store_commit groups many in one.
 *
 * Inside a batch a failed write must undo only its own operation's
 * writes (a bad article must not cost its batch-mates their commit). The
 * obvious tool, a savepoint per operation, was the largest single cost of
 * ingesting: SQLite copies every page a savepoint changes to a
 * sub-journal before changing it, some 15 pages (240 KB) per article, a
 * third of the instructions of an ingest. So operations in a batch take
 * no savepoint. Each one that succeeded is logged instead (a copy of its
 * input, the clock it ran with, and for an article what store_ingest
 * returned), and when one fails half-way the batch goes back to the
 * savepoint taken at store_begin and the log is done again, in order,
 * without the failed operation. Doing it again gives the same rows, ids
 * and results (the same inputs, clock and order on the same database, a
 * single writer holding the lock); that is checked, and if anything
 * differs or fails again the whole transaction is rolled back: the batch
 * is "broken", every later write in it fails and store_commit reports
 * that nothing was stored (the daemon then confirms nothing and the
 * fetchers send it all again). Failures after validation are rare
 * (a full disk, an I/O error), so the log costs a copy per operation and
 * is almost never read.
 *
 * The log is bounded (BATCH_LOG_MAX bytes of copied text): past it, the
 * rest of the batch falls back to a savepoint per operation, which needs
 * no log.
 */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of input copied into the log before the batch switches to a
   savepoint per operation. */
#define BATCH_LOG_MAX ((size_t)64 << 20)

size_t store_batch_log_max = BATCH_LOG_MAX;

enum batch_op_type { OP_INGEST, OP_DELIVERED, OP_MARK_SENT, OP_PRUNE };

/* One write of the current batch, to be done again by batch_redo. */
struct store_batch_op {
    enum batch_op_type type;
    int64_t now;                       /* the clock it ran with */
    nm_classified c;                   /* OP_INGEST: a copy of the article */
    struct store_ingest_result res;    /* OP_INGEST: what it returned */
    nm_delivered d;                    /* OP_DELIVERED: a copy of the acknowledgement */
    int64_t alert_id;                  /* OP_MARK_SENT */
    int text_days, matches_days;       /* OP_PRUNE */
};

/* Frees the log. */
static void log_clear(store_db *db)
{
    for (size_t i = 0; i < db->n_ops; i++) {
        nm_classified_clear(&db->ops[i].c);
        nm_delivered_clear(&db->ops[i].d);
    }
    free(db->ops);
    db->ops = NULL;
    db->n_ops = db->cap_ops = 0;
    db->ops_bytes = 0;
}

/* Returns a new, zeroed entry at the end of the log, or NULL when the
   batch does not log (or stops logging now: bytes would pass the bound). */
static struct store_batch_op *log_add(store_db *db, enum batch_op_type type, int64_t now, size_t bytes)
{
    if (!db->in_batch || !db->batch_logged)
        return NULL;
    if (db->ops_bytes + bytes > store_batch_log_max) {
        log_clear(db);
        db->batch_logged = 0;
        return NULL;
    }
    if (db->n_ops == db->cap_ops) {
        db->cap_ops = db->cap_ops ? db->cap_ops * 2 : 64;
        db->ops = nm_xrealloc(db->ops, db->cap_ops * sizeof *db->ops);
    }
    struct store_batch_op *op = &db->ops[db->n_ops++];
    memset(op, 0, sizeof *op);
    nm_classified_init(&op->c);
    op->type = type;
    op->now = now;
    db->ops_bytes += bytes + sizeof *op;
    return op;
}

static size_t len0(const char *s)
{
    return s ? strlen(s) : 0;
}

static char *dup0(const char *s)
{
    return s ? nm_xstrdup(s) : NULL;
}

void store_batch_log_ingest(store_db *db, const nm_classified *c, int64_t now,
                            const struct store_ingest_result *res)
{
    const nm_article *a = &c->article;
    size_t bytes = len0(a->title) + len0(a->summary) + len0(a->text) + len0(a->link) + 1024;
    struct store_batch_op *op = log_add(db, OP_INGEST, now, bytes);
    if (!op)
        return;
    store_ingest_copy(&op->c, c);
    op->res = *res;
}

void store_batch_log_delivered(store_db *db, const nm_delivered *d, int64_t now)
{
    struct store_batch_op *op = log_add(db, OP_DELIVERED, now, len0(d->channel) + len0(d->error) + 64);
    if (!op)
        return;
    op->d.alert_id = d->alert_id;
    op->d.channel = dup0(d->channel);
    op->d.status = dup0(d->status);
    op->d.error = dup0(d->error);
}

void store_batch_log_mark_sent(store_db *db, int64_t alert_id, int64_t now)
{
    struct store_batch_op *op = log_add(db, OP_MARK_SENT, now, 0);
    if (op)
        op->alert_id = alert_id;
}

void store_batch_log_prune(store_db *db, int text_days, int matches_days, int64_t now)
{
    struct store_batch_op *op = log_add(db, OP_PRUNE, now, 0);
    if (op) {
        op->text_days = text_days;
        op->matches_days = matches_days;
    }
}

static int same_result(const struct store_ingest_result *a, const struct store_ingest_result *b)
{
    return a->status == b->status && a->article_rowid == b->article_rowid && a->version == b->version &&
           a->version_id == b->version_id && a->story_id == b->story_id && a->alert_id == b->alert_id &&
           a->followup == b->followup;
}

/* Does one logged operation again. Returns 0 or -1 with err. */
static int redo_op(store_db *db, const struct store_batch_op *op, nm_err *err)
{
    struct store_ingest_result r;
    struct store_prune_result pr;
    switch (op->type) {
    case OP_INGEST:
        memset(&r, 0, sizeof r);
        if (store_ingest_run(db, &op->c, op->now, &r, err) < 0)
            return -1;
        if (!same_result(&r, &op->res))
            return nm_err_set(err, "%s: article %s stored differently the second time", db->path,
                              op->c.article.id);
        if (r.status != STORE_INGEST_UNCHANGED)
            store_fts_defer(db, r.version_id);
        return 0;
    case OP_DELIVERED:
        return store_alert_record(db, &op->d, op->now, err);
    case OP_MARK_SENT:
        return store_alert_set_sent(db, op->alert_id, op->now, err);
    case OP_PRUNE:
        memset(&pr, 0, sizeof pr);
        if (store_fts_flush(db, err) < 0)
            return -1;
        return store_prune_run(db, op->text_days, op->matches_days, op->now, &pr, err);
    }
    return nm_err_set(err, "%s: unknown operation in the batch log", db->path);
}

/* Takes the batch back to store_begin and does the log again. Returns 0
   or -1 with err. */
static int batch_redo(store_db *db, nm_err *err)
{
    static const char SQL_UNDO[] = "ROLLBACK TO batch";
    sqlite3_stmt *st = store_prep(db, SQL_UNDO, err);
    if (!st || store_step_done(db, st, err, "undoing the batch") < 0)
        return -1;
    store_lsh_undo(db, &db->lsh_batch);
    db->n_pending_fts = 0;
    store_terms_forget(db);
    for (size_t i = 0; i < db->n_ops; i++)
        if (redo_op(db, &db->ops[i], err) < 0)
            return -1;
    return 0;
}

/* Forgets what the rolled-back transaction had added in memory. */
static void forget_writes(store_db *db)
{
    db->n_pending_fts = 0;
    store_lsh_undo(db, &db->lsh_batch);
    store_terms_forget(db);
}

int store_batch_failed(store_db *db, nm_err *err)
{
    nm_err redo = { "" };
    if (batch_redo(db, &redo) == 0)
        return -1;
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    forget_writes(db);
    log_clear(db);
    db->batch_broken = 1;
    if (err) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, "; the batch could not be redone without it, "
                 "so none of it was stored (%s)", redo.msg);
    }
    return -1;
}

int store_batch_check(store_db *db, nm_err *err)
{
    if (db->in_batch && db->batch_broken)
        return nm_err_set(err, "%s: the batch was rolled back after a failed write; "
                          "store_rollback and begin again", db->path);
    return 0;
}

/* Ends the batch's bookkeeping (the transaction is already over). */
static void batch_end(store_db *db)
{
    log_clear(db);
    db->in_batch = 0;
    db->batch_logged = 0;
    db->batch_broken = 0;
    db->n_pending_fts = 0;
}

void store_batch_free(store_db *db)
{
    log_clear(db);
}

int store_begin(store_db *db, nm_err *err)
{
    if (db->in_batch)
        return nm_err_set(err, "%s: store_begin: a transaction is already open", db->path);
    store_lsh_compact(db, store_now(db));
    if (store_exec(db, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (store_exec(db, "SAVEPOINT batch", err) < 0) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    db->in_batch = 1;
    db->batch_logged = 1;
    db->batch_broken = 0;
    store_lsh_mark(db, &db->lsh_batch);
    return 0;
}

int store_commit(store_db *db, nm_err *err)
{
    if (!db->in_batch)
        return nm_err_set(err, "%s: store_commit without store_begin", db->path);
    if (db->batch_broken) {
        batch_end(db);
        return nm_err_set(err, "%s: the batch was rolled back after a failed write: nothing of it "
                          "was stored", db->path);
    }
    /* The savepoint goes first: the index rows written at commit need no
       undo copy (a failure here rolls everything back). */
    if (store_exec(db, "RELEASE batch", err) < 0 || store_fts_flush(db, err) < 0 ||
        store_exec(db, "COMMIT", err) < 0) {
        /* COMMIT can fail (disk full); then the transaction is rolled back
           so the caller can retry from its own queue. */
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        forget_writes(db);
        batch_end(db);
        return -1;
    }
    batch_end(db);
    return 0;
}

int store_rollback(store_db *db, nm_err *err)
{
    if (!db->in_batch)
        return nm_err_set(err, "%s: store_rollback without store_begin", db->path);
    int broken = db->batch_broken;
    forget_writes(db);
    batch_end(db);
    return broken ? 0 : store_exec(db, "ROLLBACK", err);
}

int store_in_transaction(store_db *db)
{
    return db->in_batch;
}

int store_batch_usable(store_db *db)
{
    return !(db->in_batch && db->batch_broken);
}

/* ---- one operation's transaction --------------------------------------------------- */

int store_tx_begin(store_db *db, nm_err *err)
{
    static const char SQL_SP[] = "SAVEPOINT op";
    static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
    if (store_batch_check(db, err) < 0)
        return -1;
    if (db->in_batch && db->batch_logged)
        return 0;   /* no savepoint: the log undoes (store_batch_failed) */
    if (!db->in_batch)
        store_lsh_compact(db, store_now(db));
    store_lsh_mark(db, &db->lsh_op);
    sqlite3_stmt *st = store_prep(db, db->in_batch ? SQL_SP : SQL_BEGIN, err);
    return st ? store_step_done(db, st, err, "starting a transaction") : -1;
}

int store_tx_end(store_db *db, int ok, nm_err *err)
{
    static const char SQL_RELEASE[] = "RELEASE op";
    static const char SQL_UNDO[] = "ROLLBACK TO op";
    static const char SQL_COMMIT[] = "COMMIT";
    static const char SQL_ROLLBACK[] = "ROLLBACK";
    nm_err ignored;
    sqlite3_stmt *st;
    if (db->in_batch && db->batch_logged)
        return ok ? 0 : store_batch_failed(db, err);
    if (!ok) {
        store_lsh_undo(db, &db->lsh_op);
        store_terms_forget(db);
        if (db->in_batch) {
            if ((st = store_prep(db, SQL_UNDO, &ignored)))
                store_step_done(db, st, &ignored, "undoing");
            if ((st = store_prep(db, SQL_RELEASE, &ignored)))
                store_step_done(db, st, &ignored, "undoing");
        } else if ((st = store_prep(db, SQL_ROLLBACK, &ignored))) {
            store_step_done(db, st, &ignored, "rolling back");
        }
        return -1;
    }
    st = store_prep(db, db->in_batch ? SQL_RELEASE : SQL_COMMIT, err);
    if (!st || store_step_done(db, st, err, "committing") < 0) {
        if (!db->in_batch)
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        store_lsh_undo(db, &db->lsh_op);
        store_terms_forget(db);
        return -1;
    }
    return 0;
}
