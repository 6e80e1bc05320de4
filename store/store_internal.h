/*
 * store_internal: what the store_*.c files share and nobody else sees: the
 * handle's fields, the prepared-statement cache, the text folding used by
 * the full-text tokenizer and the story shingles, and the MinHash
 * signatures of story grouping (store_story.c).
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_util.h"
#include "store/store_db.h"

/* A point to undo the in-memory LSH index to (store_lsh.c). */
struct store_lsh_mark {
    size_t n_items;
    int64_t synced_id;
    uint64_t generation;
};

struct stmt_slot {
    const char *sql;         /* the key: the address of a static SQL string */
    sqlite3_stmt *stmt;
};

struct store_batch_op;

struct store_db {
    sqlite3 *h;
    char *path;
    struct store_options opt;
    int64_t clock;            /* store_set_clock override; 0 = time(NULL) */
    int in_batch;             /* store_begin is open */
    int batch_logged;         /* in_batch: writes take no savepoint, they are logged (store_batch.c) */
    int batch_broken;         /* in_batch: a redo failed and the transaction was rolled back */
    struct store_batch_op *ops; /* the batch's log */
    size_t n_ops, cap_ops;
    size_t ops_bytes;         /* input bytes copied into the log */
    struct stmt_slot *stmts;  /* prepared once, reused (reset before use) */
    size_t n_stmts, cap_stmts;
    nm_buf fold;              /* scratch for store_fold */
    int64_t *pending_fts;     /* versions to index at store_commit (see store_ingest.c) */
    size_t n_pending_fts, cap_pending_fts;
    struct store_lsh *lsh;    /* story window's band index (store_lsh.c) */
    struct store_terms *terms; /* the term dictionary's collector (store_fts.c; owned by the connection) */
    struct store_lsh_mark lsh_batch;  /* its state at store_begin */
    struct store_lsh_mark lsh_op;     /* its state at store_tx_begin */
};

/* Tests only: when > 0, store_db_open migrates no further than this
   schema version (to build a database of an older schema). */
extern int store_migrate_limit;
/* Bytes of input a batch's log may copy before the rest of the batch
   takes a savepoint per operation instead (store_batch.c; tests lower it). */
extern size_t store_batch_log_max;

/* Returns the cached statement for sql (a static string: its address is
   the key), reset and unbound, or NULL with err. */
sqlite3_stmt *store_prep(store_db *db, const char *sql, nm_err *err);
/* Fills err with what SQLite says about the last error, prefixed by what
   was being done. Returns -1. */
int store_sql_err(store_db *db, nm_err *err, const char *doing);
/* Runs one or more statements without results (schema, pragmas). Returns 0 or -1. */
int store_exec(store_db *db, const char *sql, nm_err *err);
/* Steps stmt expecting SQLITE_DONE. Returns 0 or -1 with err. */
int store_step_done(store_db *db, sqlite3_stmt *stmt, nm_err *err, const char *doing);
/* Binds text, or NULL when s is NULL. Returns the sqlite3_bind_* result. */
int store_bind_text(sqlite3_stmt *st, int i, const char *s);

/* ---- transactions (store_batch.c) ---- */

/* Starts one operation's writes: its own transaction, or inside
   store_begin's nothing (the batch's log undoes) or a savepoint (once the
   log is full). Returns 0, or -1 with err (also when the batch is broken). */
int store_tx_begin(store_db *db, nm_err *err);
/* Ends what store_tx_begin started: commits (releases) when ok, else
   undoes only this operation's writes. Returns 0, or -1 when !ok or the
   commit failed. */
int store_tx_end(store_db *db, int ok, nm_err *err);
/* After an operation failed in a logging batch: takes the batch back to
   store_begin and does its log again; when that fails, rolls the whole
   transaction back and marks the batch broken (err says so). Returns -1. */
int store_batch_failed(store_db *db, nm_err *err);
/* Returns 0, or -1 with err when the open batch is broken. */
int store_batch_check(store_db *db, nm_err *err);
/* Log a write that succeeded in a batch (copies what they need; nothing
   happens outside a batch or once it stopped logging). */
void store_batch_log_ingest(store_db *db, const nm_classified *c, int64_t now,
                            const struct store_ingest_result *res);
void store_batch_log_delivered(store_db *db, const nm_delivered *d, int64_t now);
void store_batch_log_mark_sent(store_db *db, int64_t alert_id, int64_t now);
void store_batch_log_prune(store_db *db, int text_days, int matches_days, int64_t now);
/* Frees the log (store_db_close). */
void store_batch_free(store_db *db);

/* The writes of each operation without their transaction, for the redo.
   Each returns 0 or -1 with err. */
int store_ingest_run(store_db *db, const nm_classified *c, int64_t now,
                     struct store_ingest_result *res, nm_err *err);
int store_alert_record(store_db *db, const nm_delivered *d, int64_t now, nm_err *err);
int store_alert_set_sent(store_db *db, int64_t alert_id, int64_t now, nm_err *err);
/* (The caller flushes the deferred index rows first.) */
int store_prune_run(store_db *db, int text_days, int matches_days, int64_t now,
                    struct store_prune_result *res, nm_err *err);
/* Copies into dst (initialised) every field of src that store_ingest_run reads. */
void store_ingest_copy(nm_classified *dst, const nm_classified *src);

/* Remembers a version to index at store_commit. */
void store_fts_defer(store_db *db, int64_t version_id);
/* Indexes the deferred versions that are still current and unpruned.
   Returns 0 or -1 with err. */
int store_fts_flush(store_db *db, nm_err *err);

/* Registers the "nmfold" FTS5 tokenizer on a connection and, when terms
   is not NULL, points it at the connection's term collector (freed with
   the connection). Returns 0 or -1. */
int store_fts_register(sqlite3 *h, struct store_terms **terms, nm_err *err);
/* Writes the terms noted since the last call to fts_terms. Returns 0 or -1. */
int store_terms_flush(store_db *db, nm_err *err);
/* Forgets which terms are known (after a rollback) and drops the pending ones. */
void store_terms_forget(store_db *db);
/* Turns the noting of document terms on (a writer) or off. */
void store_terms_enable(store_db *db, int on);

/* Folds one UTF-8 string of n bytes for comparison: compatibility
   decomposition (NFKD), case folding, combining marks removed (ё->е,
   ą->a), default-ignorable characters dropped, and the letters Unicode
   does not decompose mapped by hand (ł->l, đ->d, ø->o, ı->i, ħ->h).
   The result stays decomposed (no recomposition: with the marks gone
   only Hangul would recompose, and both sides of a comparison are folded
   alike). Returns the folded text's length (in out, reset first);
   invalid UTF-8 bytes are kept as they are. */
size_t store_fold(const char *s, size_t n, nm_buf *out);
/* Returns 1 when store_fold leaves code point cp as it is. */
int store_cp_is_folded(int32_t cp);
/* Appends the folded form of code point cp to out (what store_fold does
   to one code point). */
void store_fold_cp(int32_t cp, nm_buf *out);

/* Test hook: tokenizes text[0..n) with the nmfold tokenizer of connection
   h, by its fast path (reference 0) or by unicode61 followed by
   store_fold (reference 1, the definition), and writes one line per
   token to out: "start end folded-token". Returns 0 or -1 with err. */
int store_fts_tokens(sqlite3 *h, int reference, const char *text, int n, nm_buf *out, nm_err *err);

/* ---- story grouping (store_story.c) ---- */

#define STORE_MINHASH_K 60        /* hash functions per signature (for the estimate) */
#define STORE_LSH_BANDS 10        /* LSH bands of ... */
#define STORE_LSH_ROWS 2          /* ... rows each, over the first BANDS * ROWS minimums */
#define STORE_STORY_MIN_SHINGLES 4 /* shorter texts do not join stories */
#define STORE_STORY_SIMILARITY 0.45 /* estimated Jaccard to count as the same story */

struct store_sig {
    uint32_t min[STORE_MINHASH_K];
    size_t n_shingles;           /* 0: text too short to compare */
};

/* splitmix64's finaliser: a 64-bit permutation. Returns the mixed x. */
uint64_t store_mix64(uint64_t x);
/* Computes the MinHash signature of title + body over 3-word shingles of
   folded words. */
void store_sig_compute(const char *title, const char *body, struct store_sig *sig);
/* Returns the LSH key of band b (0..STORE_LSH_BANDS-1) of sig. */
int64_t store_sig_band_key(const struct store_sig *sig, int b);
/* Returns the fraction of equal slots: an estimate of the Jaccard similarity. */
double store_sig_similarity(const struct store_sig *a, const uint32_t *b_min);

/* ---- the in-memory LSH index of the story window (store_lsh.c) ---- */

struct store_lsh;
/* Returns an empty index; the first store_lsh_find reads the window. */
struct store_lsh *store_lsh_new(void);
/* Frees *l and sets it to NULL. */
void store_lsh_destroy(struct store_lsh **l);
/* Returns the story of the most similar version stored since
   now - story_window_s that shares a band with sig and is similar enough,
   0 when none is, or -1 with err. Reads the versions it does not know yet. */
int64_t store_lsh_find(store_db *db, const struct store_sig *sig, int64_t now, nm_err *err);
/* Adds a version just written (with its story) to the index. */
void store_lsh_add(store_db *db, const struct store_sig *sig, int64_t version_id, int64_t story_id,
                   int64_t now);
/* Records the index's state in m, to undo to with store_lsh_undo when
   the writes since are rolled back. */
void store_lsh_mark(store_db *db, struct store_lsh_mark *m);
void store_lsh_undo(store_db *db, const struct store_lsh_mark *m);
/* Drops the versions older than the window when they are half of the
   index. Only between transactions (it voids the marks). */
void store_lsh_compact(store_db *db, int64_t now);

#endif
