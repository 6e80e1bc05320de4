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

static int is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

size_t store_fold(const char *s, size_t n, nm_buf *out)
{
    nm_buf_reset(out);
    if (is_ascii(s, n)) {
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            nm_buf_addc(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
        }
        nm_buf_cstr(out);
        return out->len;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                        UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                            UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |
                                            UTF8PROC_IGNORE);
    if (len < 0) {
        nm_buf_add(out, s, n);
        nm_buf_cstr(out);
        return out->len;
    }
    utf8proc_ssize_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate(dst + i, len - i, &cp);
        if (step <= 0)
            break;
        const char *rep = NULL;
        for (size_t k = 0; k < NM_ARRAY_LEN(extra_fold) && cp >= 0x80; k++)
            if (extra_fold[k].from == cp)
                rep = extra_fold[k].to;
        if (rep)
            nm_buf_adds(out, rep);
        else
            nm_buf_add(out, dst + i, (size_t)step);
        i += step;
    }
    free(dst);
    nm_buf_cstr(out);
    return out->len;
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

static int fold_token(void *arg, int flags, const char *tok, int n, int start, int end)
{
    struct nmfold_ctx *c = arg;
    if (is_ascii(tok, (size_t)n))
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
