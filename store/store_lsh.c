/*
 * store_lsh: the in-memory LSH index of the story window.
 *
 * Story grouping looks up, for every new article, the recent versions
 * that share one of its STORE_LSH_BANDS band keys (store_story.c). That
 * used to be a table with one row per (band, version): ten random B-tree
 * inserts and one ten-key lookup per article, about a sixth of the ingest
 * time. The index now lives in memory, built on the first ingest from the
 * versions of the story window (their signatures are in versions.minhash,
 * the band keys are computed again) and kept up to date by each ingest.
 *
 * - Items (one per version) and links (one per band of each item) are
 *   appended in version order; a hash table of band keys heads a chain of
 *   links, newest first. Undoing the newest items (a rolled-back article
 *   or batch: store_lsh_mark / store_lsh_undo) pops them off the chains.
 * - Before each lookup, versions written by another connection (id above
 *   the highest one known) are read in: one indexed query, empty as a
 *   rule, so a second writer on the same file is never missed.
 * - Items older than the window are skipped at lookup and dropped when
 *   they are half of the index (store_lsh_compact, between transactions).
 * Memory: about 430 bytes per version in the window.
 */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

struct lsh_item {
    int64_t version_id, story_id;
    int64_t seen;                       /* when the version was stored */
    uint32_t min[STORE_MINHASH_K];      /* its signature */
};

struct lsh_link {
    int64_t key;                        /* band key */
    uint32_t item;                      /* index in items */
    uint32_t next;                      /* older link of the same slot + 1, 0: none */
};

struct store_lsh {
    struct lsh_item *items;             /* in version order */
    size_t n_items, cap_items;
    struct lsh_link *links;             /* STORE_LSH_BANDS per item, in item order */
    size_t cap_links;
    uint32_t *heads;                    /* per slot: newest link + 1, 0: empty */
    size_t n_heads;                     /* a power of two, at least twice the links */
    int loaded;                         /* the window was read from the database */
    uint64_t generation;                /* bumped when emptied: marks of before are void */
    int64_t loaded_from;                /* the oldest stored_at it read */
    int64_t synced_id;                  /* highest version id read or added */
};

struct store_lsh *store_lsh_new(void)
{
    return nm_xcalloc(1, sizeof(struct store_lsh));
}

void store_lsh_destroy(struct store_lsh **pl)
{
    struct store_lsh *l = *pl;
    if (!l)
        return;
    free(l->items);
    free(l->links);
    free(l->heads);
    free(l);
    *pl = NULL;
}

static size_t slot_of(const struct store_lsh *l, int64_t key)
{
    return (size_t)((uint64_t)key * 0x9e3779b97f4a7c15ULL >> 32) & (l->n_heads - 1);
}

/* Rebuilds the heads for n_heads slots from the links, oldest first. */
static void rehash(struct store_lsh *l, size_t n_heads)
{
    free(l->heads);
    l->n_heads = n_heads;
    l->heads = nm_xcalloc(n_heads, sizeof *l->heads);
    size_t n_links = l->n_items * STORE_LSH_BANDS;
    for (size_t i = 0; i < n_links; i++) {
        size_t s = slot_of(l, l->links[i].key);
        l->links[i].next = l->heads[s];
        l->heads[s] = (uint32_t)(i + 1);
    }
}

/* Appends one version's item and band links. */
static void add_item(struct store_lsh *l, const uint32_t *min, int64_t version_id, int64_t story_id,
                     int64_t seen)
{
    if (l->n_items == l->cap_items) {
        l->cap_items = l->cap_items ? l->cap_items * 2 : 1024;
        l->items = nm_xrealloc(l->items, l->cap_items * sizeof *l->items);
        l->cap_links = l->cap_items * STORE_LSH_BANDS;
        l->links = nm_xrealloc(l->links, l->cap_links * sizeof *l->links);
    }
    if ((l->n_items + 1) * STORE_LSH_BANDS * 2 > l->n_heads)
        rehash(l, l->n_heads ? l->n_heads * 2 : 4096);
    struct lsh_item *it = &l->items[l->n_items];
    it->version_id = version_id;
    it->story_id = story_id;
    it->seen = seen;
    memcpy(it->min, min, sizeof it->min);
    struct store_sig sig;
    memcpy(sig.min, min, sizeof sig.min);
    for (int b = 0; b < STORE_LSH_BANDS; b++) {
        size_t li = l->n_items * STORE_LSH_BANDS + (size_t)b;
        struct lsh_link *k = &l->links[li];
        k->key = store_sig_band_key(&sig, b);
        k->item = (uint32_t)l->n_items;
        size_t s = slot_of(l, k->key);
        k->next = l->heads[s];
        l->heads[s] = (uint32_t)(li + 1);
    }
    l->n_items++;
    if (version_id > l->synced_id)
        l->synced_id = version_id;
}

/* Reads the versions a query selects (?1 its parameter) into the index. */
static int read_versions(store_db *db, const char *sql, int64_t param, nm_err *err)
{
    sqlite3_stmt *st = store_prep(db, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, param);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != (int)(STORE_MINHASH_K * sizeof(uint32_t)))
            continue;   /* not a signature of this format */
        uint32_t min[STORE_MINHASH_K];
        memcpy(min, sqlite3_column_blob(st, 1), sizeof min);
        add_item(db->lsh, min, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2),
                 sqlite3_column_int64(st, 3));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sql_err(db, err, "reading the story window");
}

/* Empties the index. */
static void clear(struct store_lsh *l)
{
    l->n_items = 0;
    l->synced_id = 0;
    l->loaded = 0;
    l->generation++;
    if (l->heads)
        memset(l->heads, 0, l->n_heads * sizeof *l->heads);
}

/* Makes the index hold every version of the window ending at now. */
static int sync_index(store_db *db, int64_t now, nm_err *err)
{
    static const char SQL_WINDOW[] =
        "SELECT v.id, v.minhash, a.story_id, v.stored_at FROM versions v"
        " JOIN articles a ON a.id = v.article_id WHERE v.stored_at >= ?1 AND v.minhash IS NOT NULL"
        " ORDER BY v.id";
    static const char SQL_NEWER[] =
        "SELECT v.id, v.minhash, a.story_id, v.stored_at FROM versions v"
        " JOIN articles a ON a.id = v.article_id WHERE v.id > ?1 AND v.minhash IS NOT NULL"
        " ORDER BY v.id";
    static const char SQL_MAX[] = "SELECT coalesce(max(id), 0) FROM versions";
    struct store_lsh *l = db->lsh;
    int64_t from = now - db->opt.story_window_s;
    if (!l->loaded || from < l->loaded_from) {
        clear(l);
        sqlite3_stmt *st = store_prep(db, SQL_MAX, err);
        if (!st)
            return -1;
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            return store_sql_err(db, err, "reading the story window");
        }
        int64_t max_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (read_versions(db, SQL_WINDOW, from, err) < 0) {
            clear(l);
            return -1;
        }
        l->synced_id = max_id;
        l->loaded = 1;
        l->loaded_from = from;
        return 0;
    }
    return read_versions(db, SQL_NEWER, l->synced_id, err);
}

int64_t store_lsh_find(store_db *db, const struct store_sig *sig, int64_t now, nm_err *err)
{
    if (sync_index(db, now, err) < 0)
        return -1;
    struct store_lsh *l = db->lsh;
    if (sig->n_shingles == 0 || l->n_items == 0)
        return 0;
    int64_t from = now - db->opt.story_window_s;
    double best = 0;
    int64_t best_story = 0, best_version = 0;
    for (int b = 0; b < STORE_LSH_BANDS; b++) {
        int64_t key = store_sig_band_key(sig, b);
        for (uint32_t li = l->heads[slot_of(l, key)]; li; li = l->links[li - 1].next) {
            const struct lsh_link *k = &l->links[li - 1];
            const struct lsh_item *it = &l->items[k->item];
            if (k->key != key || it->seen < from || it->version_id == best_version)
                continue;
            double sim = store_sig_similarity(sig, it->min);
            if (sim > best) {
                best = sim;
                best_story = it->story_id;
                best_version = it->version_id;
            }
        }
    }
    return best >= STORE_STORY_SIMILARITY ? best_story : 0;
}

void store_lsh_add(store_db *db, const struct store_sig *sig, int64_t version_id, int64_t story_id,
                   int64_t now)
{
    struct store_lsh *l = db->lsh;
    if (!l->loaded)
        return;   /* the first lookup reads it from the database */
    if (sig->n_shingles)
        add_item(l, sig->min, version_id, story_id, now);
    else if (version_id > l->synced_id)
        l->synced_id = version_id;
}

void store_lsh_mark(store_db *db, struct store_lsh_mark *m)
{
    m->n_items = db->lsh->n_items;
    m->synced_id = db->lsh->synced_id;
    m->generation = db->lsh->generation;
}

void store_lsh_undo(store_db *db, const struct store_lsh_mark *m)
{
    struct store_lsh *l = db->lsh;
    if (m->generation != l->generation) {   /* emptied since the mark: read again when needed */
        clear(l);
        return;
    }
    while (l->n_items > m->n_items) {
        l->n_items--;
        for (int b = STORE_LSH_BANDS - 1; b >= 0; b--) {
            const struct lsh_link *k = &l->links[l->n_items * STORE_LSH_BANDS + (size_t)b];
            l->heads[slot_of(l, k->key)] = k->next;
        }
    }
    l->synced_id = m->synced_id;
}

void store_lsh_compact(store_db *db, int64_t now)
{
    struct store_lsh *l = db->lsh;
    int64_t from = now - db->opt.story_window_s;
    /* Items come in time order (as a rule): when the middle one is out of
       the window, at least half are. */
    if (!l->loaded || l->n_items < 4096 || l->items[l->n_items / 2].seen >= from)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < l->n_items; i++) {
        if (l->items[i].seen < from)
            continue;
        if (kept != i) {
            l->items[kept] = l->items[i];
            memcpy(&l->links[kept * STORE_LSH_BANDS], &l->links[i * STORE_LSH_BANDS],
                   STORE_LSH_BANDS * sizeof *l->links);
        }
        for (int b = 0; b < STORE_LSH_BANDS; b++)
            l->links[kept * STORE_LSH_BANDS + (size_t)b].item = (uint32_t)kept;
        kept++;
    }
    l->n_items = kept;
    rehash(l, l->n_heads);
}
