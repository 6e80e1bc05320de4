/*
 * store_fts: the "nmfold" FTS5 tokenizer and the text folding it shares
 * with story grouping.
 *
 * SQLite's unicode61 tokenizer with remove_diacritics 2 folds case in every
 * script and strips the diacritics of Latin letters (ą ę ė į ų ū č š ž ś ź
 * ż ń ó), but it leaves Cyrillic letters with marks alone (ё, й, ў, ї) and
 * cannot fold letters that Unicode does not decompose (Polish ł). The rule
 * language folds all of those, so a search would miss what a rule matched.
 * nmfold therefore runs unicode61 to find the words (its word boundaries
 * and offsets, so snippets and highlights still point into the original
 * text) and folds each token again with utf8proc: NFKC, case fold, marks
 * stripped, and a short table of letters without decomposition.
 * The same folding applies to the query, so "ёлка", "елка" and "ЕЛКА" all
 * find one another. Registered on every connection store_db_open makes;
 * the sqlite3 shell cannot query the fts table without it.
 */
#include "store/store_internal.h"

#include <stdatomic.h>
#include <string.h>
#include <utf8proc.h>

/* Letters that are not "letter + combining mark" in Unicode, folded by hand
   (lower case only: case folding runs first). */
static const struct { utf8proc_int32_t from; const char *to; } extra_fold[] = {
    { 0x0142, "l" },  /* ł */
    { 0x0111, "d" },  /* đ */
    { 0x00F8, "o" },  /* ø */
    { 0x0131, "i" },  /* ı dotless i */
    { 0x0127, "h" },  /* ħ */
    { 0x0180, "b" },  /* ƀ */
    { 0x01B6, "z" },  /* ƶ */
};

/* Per BMP code point: 0 not known yet, 1 folding leaves it alone, 2 it
   changes. Most tokens (unicode61 has already lowered them) need no
   folding, and this table lets them through without a copy. Relaxed
   atomics: two threads computing one entry write the same value. */
static _Atomic unsigned char fold_known[0x10000];

static int cp_is_folded(utf8proc_int32_t cp)
{
    if (cp >= 0x10000)
        return 0;
    unsigned char k = atomic_load_explicit(&fold_known[cp], memory_order_relaxed);
    if (k == 0) {
        utf8proc_int32_t dec[8];
        int boundclass = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, dec, 8,
                                                     UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                                         UTF8PROC_STRIPMARK | UTF8PROC_IGNORE,
                                                     &boundclass);
        k = n == 1 && dec[0] == cp ? 1 : 2;
        for (size_t i = 0; i < NM_ARRAY_LEN(extra_fold); i++)
            if (extra_fold[i].from == cp)
                k = 2;
        atomic_store_explicit(&fold_known[cp], k, memory_order_relaxed);
    }
    return k == 1;
}

/* Appends the folded form of one code point (no allocation: this runs
   for every non-ASCII token indexed). */
static void fold_cp(utf8proc_int32_t cp, nm_buf *out)
{
    utf8proc_int32_t dec[32];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, dec, (utf8proc_ssize_t)NM_ARRAY_LEN(dec),
                                                 UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                                     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE,
                                                 &boundclass);
    if (n < 0 || n > (utf8proc_ssize_t)NM_ARRAY_LEN(dec)) {
        dec[0] = cp;
        n = 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        const char *rep = NULL;
        for (size_t k = 0; k < NM_ARRAY_LEN(extra_fold) && dec[i] >= 0x80; k++)
            if (extra_fold[k].from == dec[i])
                rep = extra_fold[k].to;
        if (rep) {
            nm_buf_adds(out, rep);
        } else {
            utf8proc_uint8_t enc[4];
            nm_buf_add(out, enc, (size_t)utf8proc_encode_char(dec[i], enc));
        }
    }
}

size_t store_fold(const char *s, size_t n, nm_buf *out)
{
    nm_buf_reset(out);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            nm_buf_addc(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c);
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                                 (utf8proc_ssize_t)(n - i), &cp);
        if (step <= 0) {   /* invalid UTF-8: keep the byte */
            nm_buf_addc(out, (char)c);
            i++;
            continue;
        }
        if (cp_is_folded(cp))
            nm_buf_add(out, s + i, (size_t)step);
        else
            fold_cp(cp, out);
        i += (size_t)step;
    }
    nm_buf_cstr(out);
    return out->len;
}

/* ---- deferred indexing (batches) ---------------------------------------------------- */

void store_fts_defer(store_db *db, int64_t version_id)
{
    if (db->n_pending_fts == db->cap_pending_fts) {
        db->cap_pending_fts = db->cap_pending_fts ? db->cap_pending_fts * 2 : 256;
        db->pending_fts = nm_xrealloc(db->pending_fts, db->cap_pending_fts * sizeof *db->pending_fts);
    }
    db->pending_fts[db->n_pending_fts++] = version_id;
}

int store_fts_flush(store_db *db, nm_err *err)
{
    /* fts_src holds only current, unpruned versions: a version replaced
       later in the same batch is skipped. Read, then INSERT ... VALUES:
       an INSERT ... SELECT into FTS5 takes a statement savepoint, and
       FTS5 writes a new index segment at every savepoint (2.5x slower). */
    static const char SQL_GET[] = "SELECT title, body FROM fts_src WHERE id = ?";
    static const char SQL_ADD[] = "INSERT INTO fts(rowid, title, body) VALUES(?, ?, ?)";
    for (size_t i = 0; i < db->n_pending_fts; i++) {
        sqlite3_stmt *get = store_prep(db, SQL_GET, err);
        if (!get)
            return -1;
        sqlite3_bind_int64(get, 1, db->pending_fts[i]);
        int rc = sqlite3_step(get);
        if (rc == SQLITE_DONE)
            continue;
        if (rc != SQLITE_ROW) {
            sqlite3_reset(get);
            return store_sql_err(db, err, "reading the batch to index");
        }
        sqlite3_stmt *add = store_prep(db, SQL_ADD, err);
        if (!add) {
            sqlite3_reset(get);
            return -1;
        }
        sqlite3_bind_int64(add, 1, db->pending_fts[i]);
        sqlite3_bind_value(add, 2, sqlite3_column_value(get, 0));
        sqlite3_bind_value(add, 3, sqlite3_column_value(get, 1));
        rc = store_step_done(db, add, err, "indexing the batch");
        sqlite3_reset(get);
        if (rc < 0)
            return -1;
    }
    db->n_pending_fts = 0;
    return 0;
}

/* ---- the tokenizer ----------------------------------------------------------- */

struct nmfold {
    fts5_tokenizer parent;       /* unicode61's methods */
    Fts5Tokenizer *parent_tok;   /* unicode61's instance */
};

struct nmfold_ctx {
    void *ctx;                   /* FTS5's callback context */
    int (*token)(void *, int, const char *, int, int, int);
    nm_buf buf;                  /* the folded token */
};

/* Returns 1 when folding would leave the token as it is. */
static int token_is_folded(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z')
                return 0;
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                                 (utf8proc_ssize_t)(n - i), &cp);
        if (step <= 0 || !cp_is_folded(cp))
            return 0;
        i += (size_t)step;
    }
    return 1;
}

static int fold_token(void *arg, int flags, const char *tok, int n, int start, int end)
{
    struct nmfold_ctx *c = arg;
    if (token_is_folded(tok, (size_t)n))
        return c->token(c->ctx, flags, tok, n, start, end);
    size_t len = store_fold(tok, (size_t)n, &c->buf);
    if (len == 0)
        return SQLITE_OK;
    return c->token(c->ctx, flags, c->buf.data, (int)len, start, end);
}

static int nmfold_create(void *user, const char **argv, int argc, Fts5Tokenizer **out)
{
    fts5_api *api = user;
    void *pctx = NULL;
    struct nmfold *t = nm_xcalloc(1, sizeof *t);
    int rc = api->xFindTokenizer(api, "unicode61", &pctx, &t->parent);
    if (rc == SQLITE_OK) {
        /* remove_diacritics 2 first, so unicode61 also keeps words with
           combining marks whole; extra arguments pass through. */
        const char **args = nm_xcalloc((size_t)argc + 2, sizeof *args);
        args[0] = "remove_diacritics";
        args[1] = "2";
        for (int i = 0; i < argc; i++)
            args[i + 2] = argv[i];
        rc = t->parent.xCreate(pctx, args, argc + 2, &t->parent_tok);
        free(args);
    }
    if (rc != SQLITE_OK) {
        free(t);
        return rc;
    }
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void nmfold_delete(Fts5Tokenizer *tok)
{
    struct nmfold *t = (struct nmfold *)tok;
    t->parent.xDelete(t->parent_tok);
    free(t);
}

static int nmfold_tokenize(Fts5Tokenizer *tok, void *ctx, int flags, const char *text, int n,
                           int (*token)(void *, int, const char *, int, int, int))
{
    struct nmfold *t = (struct nmfold *)tok;
    struct nmfold_ctx c = { ctx, token, { 0 } };
    nm_buf_init(&c.buf);
    int rc = t->parent.xTokenize(t->parent_tok, &c, flags, text, n, fold_token);
    nm_buf_free(&c.buf);
    return rc;
}

/* Returns the connection's FTS5 API, or NULL when FTS5 is not compiled in. */
static fts5_api *fts5_api_of(sqlite3 *h)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return api;
}

int store_fts_register(sqlite3 *h, nm_err *err)
{
    fts5_api *api = fts5_api_of(h);
    if (!api)
        return nm_err_set(err, "this SQLite has no FTS5 (SQLite %s)", sqlite3_libversion());
    static fts5_tokenizer methods = { nmfold_create, nmfold_delete, nmfold_tokenize };
    if (api->xCreateTokenizer(api, "nmfold", api, &methods, NULL) != SQLITE_OK)
        return nm_err_set(err, "cannot register the nmfold tokenizer: %s", sqlite3_errmsg(h));
    return 0;
}
