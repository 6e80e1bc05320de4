/*
 * store_db: newsmon's database layer (SQLite), used by newsmon-store (the
 * single writer) and by newsmonctl (read-only queries, backup).
 *
 * What it keeps: feeds, articles and their versions, the themes that fired
 * on each version (with the rule-set version and the classifier's
 * explanation), stories (near-duplicate groups), a full-text index, and the
 * alert queue with per-channel delivery outcomes. Everything an article
 * brings in -- its row, its version, its matches, its alert -- is written
 * in one transaction, so a crash never leaves an article without its alert.
 *
 * Every function returns 0 on success (or a documented count) and -1 with
 * err filled on failure; nothing here logs.
 * docs/store.md explains the schema, the story grouping and the choices.
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stdint.h>

#include "common/nm_msg.h"
#include "common/nm_util.h"

/* The schema version this code writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 2

/* Default database of a system installation. */
#define STORE_DEFAULT_PATH "/var/lib/newsmon/newsmon.db"

typedef struct store_db store_db;

enum store_sync {
    /* synchronous=NORMAL under WAL: a commit survives a crash of the
       process, but the last commits may be lost if the machine loses power.
       Fast (no fsync per commit). The database is never corrupted either way. */
    STORE_SYNC_NORMAL = 0,
    /* synchronous=FULL: every commit is fsync'd before store_commit
       returns, so a confirmed article survives a power cut. */
    STORE_SYNC_FULL = 1,
    /* synchronous=OFF: for benchmarks and tests only. */
    STORE_SYNC_OFF = 2,
};

struct store_options {
    enum store_sync sync;       /* see above; default NORMAL */
    int busy_timeout_ms;        /* wait this long for a lock (default 5000 when 0) */
    int read_only;              /* newsmonctl queries: no migrations, no writes */
    int skip_check;             /* skip PRAGMA quick_check at open (large databases, tests) */
    int64_t story_window_s;     /* near-duplicates link to stories seen this recently (default 7 days) */
};

/* Fills o with the defaults. */
void store_options_default(struct store_options *o);

/* Opens (creating if needed, unless read-only) the database at path: WAL,
   foreign keys, busy timeout, synchronous as opt says (NULL = defaults),
   runs the migrations up to STORE_SCHEMA_VERSION, then PRAGMA quick_check.
   A damaged database, or one written by a newer newsmon, is refused with a
   message saying what to do. Returns the handle, or NULL with err. */
store_db *store_db_open(const char *path, const struct store_options *opt, nm_err *err);
/* Closes *db (finalising its statements) and sets it to NULL. */
void store_db_close(store_db **db);
/* Returns the schema version of the open database. */
int store_db_schema_version(store_db *db);
/* Returns the path the database was opened with (borrowed). */
const char *store_db_path(store_db *db);

/* Overrides the clock (seconds since the epoch) used for stored_at,
   first/last seen and the story window; 0 goes back to the real clock.
   For tests and replays. */
void store_set_clock(store_db *db, int64_t now);
/* Returns the store's idea of now (the override, or time(NULL)). */
int64_t store_now(store_db *db);

/* Groups many ingests into one transaction. store_begin when one is open
   already is an error. Without store_begin, each store_ingest is its own
   transaction. Confirm articles only after store_commit returned 0.
   store_rollback discards everything since store_begin. Each returns 0 or -1.
   A write that fails inside a batch undoes only its own changes; if that
   is impossible (the rest of the batch fails again: a full disk), the
   whole batch is rolled back, later writes in it fail and store_commit
   returns -1 (docs/store.md, "Batches"). */
int store_begin(store_db *db, nm_err *err);
int store_commit(store_db *db, nm_err *err);
int store_rollback(store_db *db, nm_err *err);
/* Returns 1 when a store_begin transaction is open, else 0. */
int store_in_transaction(store_db *db);
/* Returns 0 when the open batch was rolled back after a failed write (add
   nothing more to it: store_commit will fail), else 1. */
int store_batch_usable(store_db *db);

/* ---- ingestion ----------------------------------------------------------- */

enum store_ingest_status {
    STORE_INGEST_NEW = 0,        /* first time this article id is seen: version 1 */
    STORE_INGEST_UNCHANGED = 1,  /* same id, same title/summary/text: nothing written */
    STORE_INGEST_UPDATED = 2,    /* same id, changed content: a new version */
};

struct store_ingest_result {
    enum store_ingest_status status;
    int64_t article_rowid;  /* the article's row */
    int64_t version;        /* version number now current (1 = first) */
    int64_t version_id;     /* its row in versions */
    int64_t story_id;       /* the story the article belongs to */
    int64_t alert_id;       /* the alert created, or 0 when none */
    int64_t followup;       /* when alert_id: alerts of the story that came before */
};

/* Stores a classified article. Idempotent by article id (see the enum).
   A new article, or a new version, with at least one theme gets an alert
   in the same transaction -- for a new version only when a theme fired
   that no earlier version of that article fired. Returns 0 with res
   filled, or -1 with err (malformed input names the field; nothing is
   written then, even inside store_begin: the failed article's changes
   are undone through a savepoint). */
int store_ingest(store_db *db, const nm_classified *c, struct store_ingest_result *res, nm_err *err);

/* ---- alert queue --------------------------------------------------------- */

/* Called once per due alert; the alert is borrowed for the call. Return 0
   to go on, non-zero to stop. */
typedef int (*store_alert_fn)(const nm_alert *alert, void *arg);

/* Calls fn for alerts to send now: pending ones, and sent ones not
   acknowledged within resend_after_s seconds of sent_at, oldest first, at
   most limit (<= 0: no limit). Returns the number of alerts passed to fn,
   or -1 with err. */
int store_alerts_due(store_db *db, int64_t now, int64_t resend_after_s, int limit,
                     store_alert_fn fn, void *arg, nm_err *err);
/* Records that an alert was handed to the notifier at now (state sent,
   attempts + 1). Only pending or sent alerts move. Returns 0, or -1 with
   err when the alert does not exist. */
int store_alert_mark_sent(store_db *db, int64_t alert_id, int64_t now, nm_err *err);
/* Records a notifier acknowledgement: the channel's outcome, and the
   alert's state: "ok" makes it delivered (whatever came before); "failed"
   makes it failed with d->error unless a channel already delivered it.
   Returns 0, or -1 with err (unknown alert, bad status). */
int store_alert_delivered(store_db *db, const nm_delivered *d, nm_err *err);

struct store_counts {
    int64_t articles, versions, stories, feeds;
    int64_t alerts_pending, alerts_sent, alerts_delivered, alerts_failed;
};
/* Fills out. Returns 0 or -1 with err. */
int store_counts(store_db *db, struct store_counts *out, nm_err *err);

/* ---- maintenance --------------------------------------------------------- */

struct store_prune_result {
    int64_t texts_dropped;     /* versions whose summary/text (and index entry) went */
    int64_t matches_dropped;   /* theme-match rows deleted */
    int64_t alerts_dropped;    /* finished (delivered/failed) alerts deleted */
};
/* Drops summary and text (and full-text entries) of versions stored more
   than text_days ago, and theme matches and finished alerts of versions
   stored more than matches_days ago (<= 0 keeps them). Article rows,
   titles, links and story links stay, so old items are still recognised as
   seen. res may be NULL. Returns 0 or -1 with err. */
int store_prune(store_db *db, int text_days, int matches_days, int64_t now,
                struct store_prune_result *res, nm_err *err);

/* Copies the database at db_path to dest_path with SQLite's online backup
   API (safe while newsmon-store writes), then checks the copy. dest_path
   must not exist. Returns 0 or -1 with err. */
int store_backup(const char *db_path, const char *dest_path, nm_err *err);

/* The full-text search newsmonctl runs (and bench/store measures).
   Parameters: ?1 FTS5 query, ?2 earliest article time (epoch s), ?3 theme
   id or NULL, ?4 limit, ?5 and ?6 the highlight markers, ?7 the window:
   rank only the ?7 most recent matching articles (STORE_SEARCH_WINDOW;
   a huge value ranks all), ?8 NULL or a looser query used only to find
   the window (phrases split into their words: checking phrase positions
   over every row that holds common words is what makes a rare phrase
   slow; the window only needs a lower bound). Columns: 0 id, 1 title, 2 link, 3 published,
   4 feed URL, 5 theme ids (JSON array), 6 highlighted title, 7 snippet of
   the text, 8 rank (bm25, title hits count 4x; lower is better),
   9 article time, 10 story id. Pass ?1 and ?8 through store_search_expand.
   Why a window: bm25 reads every matching row's positions, so a common
   word over a year of news costs seconds; walking the doclist newest
   first to find the window's lower bound reads no positions. The inner
   query (top, materialised once) ranks; highlight and snippet, which
   read the text, run only for the rows shown. The outer query walks the
   match set once, from the oldest row shown upwards (at most the window),
   rather than opening one FTS5 cursor per row shown: each cursor seeks
   every term of the query, which made OR-expanded prefixes slow. */
#define STORE_SEARCH_WINDOW 2000
#define STORE_SEARCH_SQL                                                                     \
    "WITH bound AS (SELECT coalesce((SELECT rowid FROM fts WHERE fts MATCH coalesce(?8, ?1)" \
    " ORDER BY rowid DESC LIMIT 1 OFFSET ?7 - 1), 0) AS lo),"                                \
    " top AS (SELECT fts.rowid AS vid, fts.rank AS r FROM fts"                               \
    " JOIN articles a ON a.current_version_id = fts.rowid"                                   \
    " WHERE fts MATCH ?1 AND fts.rowid >= (SELECT lo FROM bound) AND a.ts >= ?2"             \
    " AND (?3 IS NULL OR EXISTS (SELECT 1 FROM matches m"                                    \
    " WHERE m.version_id = fts.rowid AND m.theme = ?3)) ORDER BY fts.rank LIMIT ?4)"          \
    " SELECT a.ext_id, v.title, a.link, a.published, f.url,"                                 \
    " (SELECT json_group_array(theme) FROM (SELECT theme FROM matches WHERE version_id = v.id" \
    " ORDER BY theme)), highlight(fts, 0, ?5, ?6), snippet(fts, 1, ?5, ?6, '…', 16), top.r,"  \
    " a.ts, a.story_id FROM fts CROSS JOIN top ON top.vid = fts.rowid JOIN versions v ON v.id = top.vid" \
    " JOIN articles a ON a.current_version_id = v.id LEFT JOIN feeds f ON f.id = a.feed_id"   \
    " WHERE fts MATCH ?1 AND fts.rowid >= (SELECT min(vid) FROM top) ORDER BY top.r"

/* Prefix queries: the index has no FTS5 prefix indexes (they tripled the
   cost of indexing). store_search_expand rewrites each prefix term of an
   FTS5 query ("word"*) as the OR of the indexed terms that start with it
   (table fts_terms), when there are at most STORE_PREFIX_TERMS_MAX;
   otherwise, and for phrases ending in a prefix, FTS5's own prefix
   search runs (same rows, slower). Bind its result as ?1 and ?8 of
   STORE_SEARCH_SQL. Returns the query (malloc'd), or NULL with err. */
#define STORE_PREFIX_TERMS_MAX 256
char *store_search_expand(store_db *db, const char *query, nm_err *err);

/* Returns the underlying connection for read-only queries (newsmonctl,
   tests); the handle stays owned by db. */
struct sqlite3 *store_db_handle(store_db *db);

#endif
