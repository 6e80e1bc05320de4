/*
 * state: the fetcher's own SQLite database (not the store's): one row per
 * feed with its health and HTTP validators, and one row per item the
 * fetcher has sent, so an item is sent until the store confirms it and
 * never again afterwards.
 *
 * An item is "pending" from the moment it is first sent until its `stored`
 * confirmation arrives; its article JSON is kept meanwhile so a re-send
 * needs no second page fetch. A feed with pending items is polled without
 * conditional-GET validators (a 304 must not hide them). Confirmed items
 * keep only their id and the last time the feed still listed them; rows
 * not seen for the retention window are purged.
 *
 * Times: epoch seconds, except next_poll_ms and items' attempt (epoch ms).
 * Schema changes are numbered migrations (PRAGMA user_version).
 */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/nm_util.h"

#define STATE_DEFAULT_PATH "/var/lib/newsmon/fetcher.db"

typedef struct state_db state_db;

/* One feed's row. Strings are owned; NULL when unknown. */
struct state_feed {
    char *url;               /* as configured (the key) */
    char *current_url;       /* after permanent redirects; NULL = url */
    char *title;
    char *etag;
    char *last_modified;
    int64_t last_attempt;    /* epoch s, 0 = never */
    int64_t last_success;
    int64_t last_new_item;
    int64_t failures;        /* consecutive */
    int64_t last_status;     /* HTTP status of the last response, 0 = none */
    char *last_error;        /* NULL after a success */
    int64_t next_poll_ms;    /* epoch ms, 0 = as soon as possible */
    int64_t interval_ms;     /* the interval last chosen */
};

void state_feed_clear(struct state_feed *f);

/* Opens (creating and migrating unless readonly) the database at path.
   Returns the handle, or NULL with err. */
state_db *state_open(const char *path, bool readonly, nm_err *err);
void state_close(state_db **db);

/* Start and end a transaction. Return 0 or -1; a failed commit rolls back. */
int state_begin(state_db *db, nm_err *err);
int state_commit(state_db *db, nm_err *err);

/* Reads the row of url into f (cleared first). Returns 1 found, 0 absent, -1 error. */
int state_feed_get(state_db *db, const char *url, struct state_feed *f, nm_err *err);
/* Inserts or replaces the row of f->url. Returns 0 or -1. */
int state_feed_put(state_db *db, const struct state_feed *f, nm_err *err);
/* Returns every feed row (ordered by url) in *out (caller frees each with
   state_feed_clear, then the array). Returns 0 or -1. */
int state_feed_list(state_db *db, struct state_feed **out, size_t *n, nm_err *err);

enum state_item_status { STATE_ITEM_NEW = 0, STATE_ITEM_PENDING = 1, STATE_ITEM_CONFIRMED = 2 };

/* Returns the item's status (or -1 on error); for a pending item, *json
   (when json is not NULL) gets its stored article (caller frees; may be NULL). */
int state_item_get(state_db *db, const char *id, char **json, nm_err *err);
/* Records an attempt to send item id of feed: pending with its article
   JSON, queued says whether it reached the send queue. Returns 0 or -1. */
int state_item_sent(state_db *db, const char *id, const char *feed, const char *json, bool queued,
                    int64_t now_ms, nm_err *err);
/* Notes that the feed still lists item id (retention). Returns 0 or -1. */
int state_item_seen(state_db *db, const char *id, int64_t now, nm_err *err);
/* Marks item id confirmed. Returns 1 when it was pending, 0 when unknown or
   already confirmed, -1 on error. */
int state_item_confirm(state_db *db, const char *id, int64_t now, nm_err *err);

/* Called per pending item; return 0 to go on. */
typedef int (*state_item_fn)(void *arg, const char *id, const char *feed, const char *json);
/* Calls fn for each pending item of feed, oldest attempt first. Returns 0 or -1. */
int state_items_pending(state_db *db, const char *feed, state_item_fn fn, void *arg, nm_err *err);
/* Calls fn for each pending item whose last attempt did not reach the send
   queue or was made before stale_before_ms (epoch ms; 0 = only the former).
   Returns 0 or -1. */
int state_items_retry(state_db *db, int64_t stale_before_ms, state_item_fn fn, void *arg, nm_err *err);
/* Returns the number of pending items of feed (NULL = all), or -1. */
int64_t state_count_pending(state_db *db, const char *feed, nm_err *err);
/* Returns the number of pending items attempted at or after since_ms, or -1. */
int64_t state_count_pending_since(state_db *db, int64_t since_ms, nm_err *err);
/* Deletes confirmed items not listed by their feed since before `before`
   (epoch s). Returns the number deleted, or -1. */
int64_t state_purge(state_db *db, int64_t before, nm_err *err);

#endif
