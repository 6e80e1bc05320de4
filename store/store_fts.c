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
#include <stdlib.h>
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

int store_cp_is_folded(int32_t cp)
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
void store_fold_cp(int32_t cp, nm_buf *out)
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
        if (store_cp_is_folded(cp))
            nm_buf_add(out, s + i, (size_t)step);
        else
            store_fold_cp(cp, out);
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
    return store_terms_flush(db, err);
}

/* ---- the tokenizer ----------------------------------------------------------- */

/* The term dictionary's collector (see store_terms_note). */
struct store_terms {
    int enabled;                 /* record the terms of documents (a writer's connection) */
    uint64_t *set;               /* hashes of the terms known to be in fts_terms; 0 = free */
    size_t n, cap;               /* cap: a power of two, or 0 */
    nm_buf pending;              /* terms to add to fts_terms, each NUL-terminated */
};

/* What the tokenizer is registered with, one per connection. */
struct nmfold_reg {
    fts5_api *api;
    struct store_terms terms;
};

struct nmfold {
    fts5_tokenizer parent;       /* unicode61's methods */
    Fts5Tokenizer *parent_tok;   /* unicode61's instance */
    int fast;                    /* created without arguments: the fast path applies */
    struct store_terms *terms;   /* the connection's collector */
};

/* ---- the term dictionary ----
   Without FTS5 prefix indexes (they tripled the indexing cost), a prefix
   query is answered by store_search_expand from fts_terms, every term
   ever indexed. The tokenizer notes the terms of each document; a set of
   hashes keeps the terms already written, so only new ones cost an
   INSERT (a few per batch once the vocabulary has been seen). The set is
   a cache: it is emptied when a transaction rolls back or when it grows
   past MAX_TERMS_CACHED. */
#define MAX_TERMS_CACHED (1u << 22)

static void terms_note(struct store_terms *t, const char *tok, int n)
{
    if (!t || !t->enabled || n <= 0)
        return;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)tok[i]) * 0x100000001b3ULL;
    h = store_mix64(h) | 1;
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1u << 14;
        if (t->n >= MAX_TERMS_CACHED)
            cap = t->cap, t->n = 0, memset(t->set, 0, cap * sizeof *t->set);
        uint64_t *set = nm_xcalloc(cap, sizeof *set);
        for (size_t i = 0; i < t->cap && t->n; i++) {
            if (!t->set[i])
                continue;
            size_t k = t->set[i] & (cap - 1);
            while (set[k])
                k = (k + 1) & (cap - 1);
            set[k] = t->set[i];
        }
        free(t->set);
        t->set = set;
        t->cap = cap;
    }
    size_t k = h & (t->cap - 1);
    while (t->set[k]) {
        if (t->set[k] == h)
            return;
        k = (k + 1) & (t->cap - 1);
    }
    t->set[k] = h;
    t->n++;
    nm_buf_add(&t->pending, tok, (size_t)n);
    nm_buf_addc(&t->pending, '\0');
}

int store_terms_flush(store_db *db, nm_err *err)
{
    static const char SQL[] = "INSERT OR IGNORE INTO fts_terms(term) VALUES(?)";
    struct store_terms *t = db->terms;
    if (!t || !t->pending.len)
        return 0;
    size_t at = 0;
    while (at < t->pending.len) {
        const char *term = t->pending.data + at;
        size_t n = strlen(term);
        sqlite3_stmt *st = store_prep(db, SQL, err);
        if (!st)
            return -1;
        sqlite3_bind_text(st, 1, term, (int)n, SQLITE_STATIC);
        if (store_step_done(db, st, err, "storing the term dictionary") < 0)
            return -1;
        at += n + 1;
    }
    nm_buf_reset(&t->pending);
    return 0;
}

void store_terms_forget(store_db *db)
{
    struct store_terms *t = db->terms;
    if (!t)
        return;
    if (t->set)
        memset(t->set, 0, t->cap * sizeof *t->set);
    t->n = 0;
    nm_buf_reset(&t->pending);
}

void store_terms_enable(store_db *db, int on)
{
    if (db->terms)
        db->terms->enabled = on;
}

/* ---- the definition: unicode61, then store_fold on each token ---- */

struct nmfold_ctx {
    struct store_terms *terms;   /* collector, or NULL when not indexing a document */
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
        if (step <= 0 || !store_cp_is_folded(cp))
            return 0;
        i += (size_t)step;
    }
    return 1;
}

static int fold_token(void *arg, int flags, const char *tok, int n, int start, int end)
{
    struct nmfold_ctx *c = arg;
    if (token_is_folded(tok, (size_t)n)) {
        terms_note(c->terms, tok, n);
        return c->token(c->ctx, flags, tok, n, start, end);
    }
    size_t len = store_fold(tok, (size_t)n, &c->buf);
    if (len == 0)
        return SQLITE_OK;
    terms_note(c->terms, c->buf.data, (int)len);
    return c->token(c->ctx, flags, c->buf.data, (int)len, start, end);
}

static int reference_tokenize(struct nmfold *t, void *ctx, int flags, const char *text, int n,
                              int (*token)(void *, int, const char *, int, int, int))
{
    struct nmfold_ctx c = { flags & FTS5_TOKENIZE_DOCUMENT ? t->terms : NULL, ctx, token, { 0 } };
    nm_buf_init(&c.buf);
    int rc = t->parent.xTokenize(t->parent_tok, &c, flags, text, n, fold_token);
    nm_buf_free(&c.buf);
    return rc;
}

/* ---- the fast path: one pass, a table per code point ----
   The definition above costs a binary search of Unicode categories, a
   diacritics table and a utf8proc decomposition per character, a third of
   the indexing time. Both steps act on one code point at a time (a token
   is a maximal run of them; unicode61 folds each alone and store_fold
   does not recompose), so how they treat a code point can be learnt once,
   by asking unicode61 itself: cp alone is a token (it starts tokens), or
   "a" cp "a" is one token (cp only continues one: a combining mark), or
   cp separates. The folded bytes are those of unicode61's token passed
   through store_fold. The table holds that for the BMP (filled as code
   points are met); other planes are asked each time. Text that is not
   valid UTF-8 takes the definition, whose lenient decoding the table
   does not model. tests/unit/test_store_story.c compares the two paths. */

#define TK_SEP 1u        /* separates tokens */
#define TK_START 2u      /* a token character */
#define TK_CONT 3u       /* continues a token, never starts one (combining marks) */
#define TK_CLASS 3u
#define TK_U61 0x40u     /* unicode61's folded form is not empty */
#define TK_LONG 0x80u    /* the folded form is longer than the 6 bytes an entry holds */

/* Per BMP code point: 0 not known yet, else byte 0 the TK_ flags, byte 1
   the folded length, bytes 2-7 the folded bytes. Relaxed atomics: two
   threads computing one entry write the same value. */
static _Atomic uint64_t tok_known[0x10000];

/* Collects what unicode61 makes of a probe. */
struct probe {
    int n;                       /* tokens */
    int start, end;              /* the first token's offsets */
    nm_buf out;                  /* the first token */
};

static int probe_token(void *arg, int flags, const char *tok, int n, int start, int end)
{
    struct probe *p = arg;
    (void)flags;
    if (p->n++ == 0) {
        nm_buf_reset(&p->out);
        nm_buf_add(&p->out, tok, (size_t)n);
        p->start = start;
        p->end = end;
    }
    return SQLITE_OK;
}

/* Writes cp as UTF-8 to out. Returns the byte count. */
static int put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Asks unicode61 and store_fold about cp (a valid scalar value). Returns
   its table entry; folded receives the folded bytes. */
static uint64_t probe_cp(struct nmfold *t, uint32_t cp, nm_buf *folded)
{
    char s[8];
    int n = 0;
    s[n++] = 'a';
    n += put_utf8(cp, s + n);
    s[n++] = 'a';
    struct probe p = { 0, 0, 0, { 0 } };
    nm_buf_init(&p.out);
    uint64_t cls = TK_SEP;
    t->parent.xTokenize(t->parent_tok, &p, 0, s + 1, n - 2, probe_token);
    if (p.n == 1) {
        cls = TK_START;
    } else {
        p.n = 0;
        t->parent.xTokenize(t->parent_tok, &p, 0, s, n, probe_token);
        if (p.n == 1 && p.start == 0 && p.end == n && p.out.len >= 2) {
            cls = TK_CONT;
            memmove(p.out.data, p.out.data + 1, p.out.len - 2);
            p.out.len -= 2;
        } else {
            p.out.len = 0;
        }
    }
    uint64_t e = cls;
    if (p.out.len)
        e |= TK_U61;
    store_fold(p.out.data ? p.out.data : "", p.out.len, folded);
    nm_buf_free(&p.out);
    if (folded->len > 6)
        return e | TK_LONG;
    e |= (uint64_t)folded->len << 8;
    for (size_t i = 0; i < folded->len; i++)
        e |= (uint64_t)(unsigned char)folded->data[i] << (16 + 8 * i);
    return e;
}

/* Returns the table entry of cp, computing it when new. */
static uint64_t cp_entry(struct nmfold *t, uint32_t cp, nm_buf *scratch)
{
    if (cp >= 0x10000)
        return probe_cp(t, cp, scratch);
    uint64_t e = atomic_load_explicit(&tok_known[cp], memory_order_relaxed);
    if (!e) {
        e = probe_cp(t, cp, scratch);
        atomic_store_explicit(&tok_known[cp], e, memory_order_relaxed);
    }
    return e;
}

/* Returns 1 when s[0..n) is valid UTF-8 (no overlong forms, surrogates or
   values above U+10FFFF), else 0. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (n - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* ASCII's entries, when every ASCII character either separates or is a
   token character folding to one byte (else all zero and the general
   path runs): 0 separates, else the folded byte. Filled once by
   ascii_table_init. */
static unsigned char ascii_fold[128];
static _Atomic int ascii_ready;   /* 0 not yet, 1 usable, 2 not usable */

/* Returns 1 when ascii_fold holds ASCII's entries, else 0 (the fast path
   is then off). */
static int ascii_table_init(struct nmfold *t)
{
    if (atomic_load(&ascii_ready))
        return atomic_load(&ascii_ready) == 1;
    unsigned char table[128];
    nm_buf scratch;
    nm_buf_init(&scratch);
    int ok = 1;
    for (uint32_t c = 0; c < 128; c++) {
        uint64_t e = cp_entry(t, c, &scratch);
        table[c] = 0;
        if ((e & TK_CLASS) == TK_START && (e & TK_U61) && !(e & TK_LONG) && ((e >> 8) & 0xFF) == 1)
            table[c] = (unsigned char)(e >> 16);
        else if ((e & TK_CLASS) != TK_SEP)
            ok = 0;
    }
    nm_buf_free(&scratch);
    if (ok)
        memcpy(ascii_fold, table, sizeof table);   /* same bytes whichever thread writes */
    atomic_store(&ascii_ready, ok ? 1 : 2);
    return ok;
}

/* The token being built. */
struct tokbuf {
    char *data;
    size_t len, cap;
};

static void tok_room(struct tokbuf *b, size_t more)
{
    if (b->len + more > b->cap) {
        b->cap = (b->len + more) * 2;
        b->data = nm_xrealloc(b->data, b->cap);
    }
}

/* Appends cp's folded bytes (entry e). */
static void tok_append(struct nmfold *t, struct tokbuf *b, uint32_t cp, uint64_t e, nm_buf *scratch)
{
    if (e & TK_LONG) {
        probe_cp(t, cp, scratch);
        tok_room(b, scratch->len);
        memcpy(b->data + b->len, scratch->data, scratch->len);
        b->len += scratch->len;
        return;
    }
    size_t n = (size_t)(e >> 8) & 0xFF;
    tok_room(b, 8);
    uint64_t bytes = e >> 16;
    for (size_t i = 0; i < n; i++, bytes >>= 8)
        b->data[b->len + i] = (char)(bytes & 0xFF);
    b->len += n;
}

/* Decodes the valid UTF-8 character at s (n bytes left). Returns its length. */
static size_t next_cp(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

static int fast_tokenize(struct nmfold *t, void *ctx, int flags, const char *text, int n,
                         int (*token)(void *, int, const char *, int, int, int))
{
    struct store_terms *terms = flags & FTS5_TOKENIZE_DOCUMENT ? t->terms : NULL;
    const unsigned char *s = (const unsigned char *)text;
    struct tokbuf b = { NULL, 0, 0 };
    nm_buf scratch;
    nm_buf_init(&scratch);
    int rc = SQLITE_OK;
    size_t i = 0, len = (size_t)n;
    while (rc == SQLITE_OK && i < len) {
        if (s[i] < 0x80 && !ascii_fold[s[i]]) {   /* the common separator: a space */
            i++;
            continue;
        }
        size_t start = i;
        int u61 = 0;
        b.len = 0;
        uint32_t cp = 0;
        size_t step = 0;
        uint64_t e = 0;
        if (s[i] >= 0x80) {
            step = next_cp(s + i, &cp);
            e = cp_entry(t, cp, &scratch);
            if ((e & TK_CLASS) != TK_START) {
                i += step;
                continue;
            }
        }
        for (;;) {
            if (step) {
                u61 |= (e & TK_U61) != 0;
                tok_append(t, &b, cp, e, &scratch);
                i += step;
            }
            /* A run of ASCII token characters, one byte each. */
            size_t run = i;
            while (run < len && s[run] < 0x80 && ascii_fold[s[run]])
                run++;
            if (run > i) {
                tok_room(&b, run - i);
                for (; i < run; i++)
                    b.data[b.len++] = (char)ascii_fold[s[i]];
                u61 = 1;
            }
            if (i >= len || (s[i] < 0x80 && !ascii_fold[s[i]]))
                break;   /* the end, or an ASCII separator */
            step = next_cp(s + i, &cp);
            e = cp_entry(t, cp, &scratch);
            if ((e & TK_CLASS) == TK_SEP)
                break;
        }
        /* As the definition: unicode61's empty token passes, a token that
           only store_fold emptied does not. */
        if (!u61 || b.len) {
            terms_note(terms, b.data, (int)b.len);
            rc = token(ctx, 0, b.data ? b.data : "", (int)b.len, (int)start, (int)i);
        }
    }
    free(b.data);
    nm_buf_free(&scratch);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- the FTS5 methods ---- */

static int nmfold_create(void *user, const char **argv, int argc, Fts5Tokenizer **out)
{
    struct nmfold_reg *reg = user;
    fts5_api *api = reg->api;
    void *pctx = NULL;
    struct nmfold *t = nm_xcalloc(1, sizeof *t);
    t->terms = &reg->terms;
    int rc = api->xFindTokenizer(api, "unicode61", &pctx, &t->parent);
    if (rc == SQLITE_OK) {
        /* remove_diacritics 2 first, so unicode61 also keeps words with
           combining marks whole; extra arguments pass through (and turn
           the fast path off: its table knows the plain set-up only). */
        const char **args = nm_xcalloc((size_t)argc + 2, sizeof *args);
        args[0] = "remove_diacritics";
        args[1] = "2";
        for (int i = 0; i < argc; i++)
            args[i + 2] = argv[i];
        rc = t->parent.xCreate(pctx, args, argc + 2, &t->parent_tok);
        free(args);
        t->fast = argc == 0;
    }
    if (rc != SQLITE_OK) {
        free(t);
        return rc;
    }
    if (t->fast)
        t->fast = ascii_table_init(t);
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
    if (t->fast && n >= 0 && utf8_valid((const unsigned char *)text, (size_t)n))
        return fast_tokenize(t, ctx, flags, text, n, token);
    return reference_tokenize(t, ctx, flags, text, n, token);
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

static void reg_destroy(void *p)
{
    struct nmfold_reg *r = p;
    free(r->terms.set);
    nm_buf_free(&r->terms.pending);
    free(r);
}

int store_fts_register(sqlite3 *h, struct store_terms **terms, nm_err *err)
{
    fts5_api *api = fts5_api_of(h);
    if (!api)
        return nm_err_set(err, "this SQLite has no FTS5 (SQLite %s)", sqlite3_libversion());
    static fts5_tokenizer methods = { nmfold_create, nmfold_delete, nmfold_tokenize };
    struct nmfold_reg *reg = nm_xcalloc(1, sizeof *reg);
    reg->api = api;
    nm_buf_init(&reg->terms.pending);
    /* FTS5 calls reg_destroy when the connection closes (not on failure). */
    if (api->xCreateTokenizer(api, "nmfold", reg, &methods, reg_destroy) != SQLITE_OK) {
        reg_destroy(reg);
        return nm_err_set(err, "cannot register the nmfold tokenizer: %s", sqlite3_errmsg(h));
    }
    if (terms)
        *terms = &reg->terms;
    return 0;
}

/* ---- test hook ---- */

static int list_token(void *arg, int flags, const char *tok, int n, int start, int end)
{
    (void)flags;
    nm_buf_addf(arg, "%d %d ", start, end);
    nm_buf_add(arg, tok, (size_t)n);
    nm_buf_addc(arg, '\n');
    return SQLITE_OK;
}

/* Runs the connection's nmfold tokenizer over text: the fast path, or the
   definition when reference. Returns an SQLite code. */
static int run_nmfold(sqlite3 *h, int reference, int flags, const char *text, int n, void *arg,
                      int (*cb)(void *, int, const char *, int, int, int))
{
    fts5_api *api = fts5_api_of(h);
    void *user = NULL;
    fts5_tokenizer m;
    Fts5Tokenizer *tok = NULL;
    if (!api || api->xFindTokenizer(api, "nmfold", &user, &m) != SQLITE_OK ||
        m.xCreate(user, NULL, 0, &tok) != SQLITE_OK)
        return SQLITE_ERROR;
    struct nmfold *t = (struct nmfold *)tok;
    int rc = reference ? reference_tokenize(t, arg, flags, text, n, cb)
                       : nmfold_tokenize(tok, arg, flags, text, n, cb);
    m.xDelete(tok);
    return rc;
}

int store_fts_tokens(sqlite3 *h, int reference, const char *text, int n, nm_buf *out, nm_err *err)
{
    nm_buf_reset(out);
    int rc = run_nmfold(h, reference, 0, text, n, out, list_token);
    return rc == SQLITE_OK ? 0 : nm_err_set(err, "tokenizing failed (%d)", rc);
}

/* ---- prefix queries through the term dictionary ---- */

struct one_token {
    int n;                       /* tokens seen */
    nm_buf tok;                  /* the first */
};

static int keep_first(void *arg, int flags, const char *tok, int n, int start, int end)
{
    struct one_token *o = arg;
    (void)flags, (void)start, (void)end;
    if (o->n++ == 0)
        nm_buf_add(&o->tok, tok, (size_t)n);
    return SQLITE_OK;
}

/* Appends s as an FTS5 string ("" for a quote). */
static void add_fts_string(nm_buf *out, const char *s, size_t n)
{
    nm_buf_addc(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            nm_buf_addc(out, '"');
        nm_buf_addc(out, s[i]);
    }
    nm_buf_addc(out, '"');
}

/* Appends the expansion of the prefix word w[0..n) (unquoted) to out:
   ("t1" OR "t2" ...), or nothing when it must stay a prefix query.
   Returns 1 when it appended, 0 when not, -1 on error. */
static int expand_prefix(store_db *db, const char *w, size_t n, nm_buf *out, nm_err *err)
{
    static const char SQL[] =
        "SELECT term FROM fts_terms WHERE term >= ?1 AND term < ?2 ORDER BY term LIMIT ?3";
    struct one_token o = { 0, { 0 } };
    nm_buf_init(&o.tok);
    int rc = run_nmfold(db->h, 0, FTS5_TOKENIZE_QUERY | FTS5_TOKENIZE_PREFIX, w, (int)n, &o, keep_first);
    if (rc != SQLITE_OK || o.n != 1 || o.tok.len == 0) {   /* a phrase, or nothing: FTS5's own way */
        nm_buf_free(&o.tok);
        return 0;
    }
    size_t plen = o.tok.len;
    nm_buf_addc(&o.tok, '\xff');   /* above every UTF-8 continuation: the end of the range */
    sqlite3_stmt *st = store_prep(db, SQL, err);
    if (!st) {
        nm_buf_free(&o.tok);
        return -1;
    }
    sqlite3_bind_text(st, 1, o.tok.data, (int)plen, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o.tok.data, (int)plen + 1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, STORE_PREFIX_TERMS_MAX + 1);
    size_t mark = out->len;
    int count = 0;
    nm_buf_addc(out, '(');
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count++)
            nm_buf_adds(out, " OR ");
        add_fts_string(out, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    }
    sqlite3_reset(st);
    nm_buf_free(&o.tok);
    if (rc != SQLITE_DONE)
        return store_sql_err(db, err, "expanding a prefix");
    if (count == 0 || count > STORE_PREFIX_TERMS_MAX) {
        out->len = mark;
        nm_buf_cstr(out);
        return 0;
    }
    nm_buf_addc(out, ')');
    return 1;
}

char *store_search_expand(store_db *db, const char *query, nm_err *err)
{
    nm_buf out;
    nm_buf_init(&out);
    const char *p = query;
    while (*p) {
        if (*p != '"') {
            nm_buf_addc(&out, *p++);
            continue;
        }
        /* An FTS5 string: up to the next lone quote ("" is a quote). */
        const char *start = p++;
        nm_buf word;
        nm_buf_init(&word);
        while (*p && !(p[0] == '"' && p[1] != '"')) {
            if (p[0] == '"')
                p++;
            nm_buf_addc(&word, *p++);
        }
        if (*p)
            p++;
        int done = 0;
        if (*p == '*') {
            /* FTS5 takes no implicit AND next to a parenthesised group:
               write it out where the query had a term before or after. */
            size_t mark = out.len, back = out.len;
            while (back && out.data[back - 1] == ' ')
                back--;
            if (back && strchr("\"*)", out.data[back - 1]))
                nm_buf_adds(&out, "AND ");
            done = expand_prefix(db, word.data ? word.data : "", word.len, &out, err);
            if (done == 0) {
                out.len = mark;
                nm_buf_cstr(&out);
            } else if (done > 0) {
                const char *next = p + 1;
                while (*next == ' ')
                    next++;
                if (*next == '"' || *next == '(')
                    nm_buf_adds(&out, " AND");
            }
            if (done < 0) {
                nm_buf_free(&word);
                nm_buf_free(&out);
                return NULL;
            }
            p += done;   /* the * is part of what was expanded */
        }
        if (!done)
            nm_buf_add(&out, start, (size_t)(p - start));
        nm_buf_free(&word);
    }
    nm_buf_cstr(&out);
    return nm_buf_steal(&out);
}
