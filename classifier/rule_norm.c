/*
 * rule_norm: turns text into normalised words (see rule_norm.h for the
 * rules). Each code point is mapped to a short string over three
 * alphabets: word bytes (the UTF-8 of its normalised letters and digits),
 * ' ' (a separator) and '\'' (an apostrophe); an empty string means the
 * code point vanishes (combining marks, default-ignorable characters), so
 * "Lu<soft hyphen>kashenko" stays one word.
 *
 * Fast paths, because this is most of the classifier's time: ASCII goes
 * through a 256-entry byte table, and runs of ASCII letters and digits
 * eight bytes at a time (a carry-free range test on a 64-bit word); a
 * two-byte sequence (Cyrillic, Latin with diacritics) through a table
 * indexed by both bytes that holds the letter's normalised bytes or says
 * it separates words; separators of three bytes (dashes, quotes) through
 * the page tables without utf8proc's decoder. The general path maps any
 * other code point with utf8proc, through pages of 256 code points built
 * on first use (most texts touch a handful, and building the whole Basic
 * Multilingual Plane took longer than loading a rule folder).
 * rule_words_reference runs the same state machine with utf8proc for
 * every code point and no table, and tests/unit/test_rule_norm.c holds
 * the two to the same output.
 *
 * Normalising code point by code point is the same as normalising the
 * whole string here: composition (the "C" of NFKC) would only recombine
 * marks that we remove anyway, so NFKD with marks stripped is what the
 * rule language compares.
 */
#include "classifier/rule_norm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/nm_util.h"

#define MAP_MAX 160   /* longest mapping of one code point (U+FDFA: 18 code points) */

/* What the scan loop needs of a code point below U+0800 (two UTF-8
   bytes): its mapping when that is one or two word bytes (TWO_WORD),
   whether it separates words (TWO_SEP), else the general path decides. */
enum { TWO_OTHER, TWO_WORD, TWO_SEP };
typedef struct two_entry {
    uint8_t kind;
    uint8_t len;
    char b[2];
} two_entry;

/* The mapping of one code point of the Basic Multilingual Plane. */
typedef struct bmp_entry {
    uint16_t off;   /* into the page's pool */
    uint8_t len;
} bmp_entry;

/* 256 code points' mappings, built on first use: most texts touch a few
   pages (Latin, Cyrillic, punctuation), and building all 256 would cost
   more than loading a rule folder. */
typedef struct bmp_page {
    bmp_entry e[256];
    char pool[];
} bmp_page;

/* byte_map[c] for a byte c: for ASCII letters and digits the normalised
   byte (always above '\''), ' ' for a separator, '\'' for an
   apostrophe, LEAD2 for the lead byte of a two-byte sequence (C2..DF)
   and NOT_ASCII for the other bytes from 0x80 up. */
#define NOT_ASCII 1
#define LEAD2 2
static char byte_map[256];
static two_entry two_map[32 * 256];   /* by (lead & 0x1F) << 8 | next byte: invalid pairs are TWO_OTHER */
static _Atomic(bmp_page *) bmp_pages[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static bool is_word_cat(int cat)
{
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

static bool is_mark_cat(int cat)
{
    return cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
}

/* Letters with a stroke or without a dot are not decomposable, yet readers
   (and feeds typed on other keyboards) treat them as the plain letter. */
static const char *by_hand(int32_t cp)
{
    switch (cp) {
    case 0x0141: case 0x0142: return "l";   /* Ł ł (Polish) */
    case 0x013F: case 0x0140: return "l";   /* Ŀ ŀ */
    case 0x0110: case 0x0111: return "d";   /* Đ đ */
    case 0x00D8: case 0x00F8: return "o";   /* Ø ø */
    case 0x0126: case 0x0127: return "h";   /* Ħ ħ */
    case 0x0131: return "i";                /* ı */
    case 0x0027: case 0x2019: case 0x02BC: return "'";  /* apostrophes */
    default: return NULL;
    }
}

/* Writes the mapping of cp into out (MAP_MAX bytes) and returns its length. */
static size_t map_cp(int32_t cp, char *out)
{
    const char *hand = by_hand(cp);
    if (hand) {
        size_t n = strlen(hand);
        memcpy(out, hand, n);
        return n;
    }
    if (!utf8proc_codepoint_valid(cp))
        return out[0] = ' ', 1;
    const utf8proc_property_t *pr = utf8proc_get_property(cp);
    if (pr->ignorable || is_mark_cat(pr->category))
        return 0;
    if (!is_word_cat(pr->category))
        return out[0] = ' ', 1;
    utf8proc_int32_t d[32];
    int boundclass = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(cp, d, 32,
        UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE,
        &boundclass);
    if (nd < 0 || nd > 32) {
        d[0] = cp;
        nd = 1;
    }
    size_t n = 0;
    for (utf8proc_ssize_t k = 0; k < nd; k++) {
        const char *h = by_hand(d[k]);
        if (h) {
            size_t hl = strlen(h);
            memcpy(out + n, h, hl);
            n += hl;
            continue;
        }
        int cat = utf8proc_category(d[k]);
        if (is_mark_cat(cat))
            continue;
        if (is_word_cat(cat))
            n += (size_t)utf8proc_encode_char(d[k], (utf8proc_uint8_t *)out + n);
        else if (n == 0 || out[n - 1] != ' ')
            out[n++] = ' ';
    }
    return n;
}

static void build_tables(void)
{
    for (int c = 0; c < 256; c++) {
        if (c >= 0xC2 && c <= 0xDF)
            byte_map[c] = LEAD2;
        else if (c >= 0x80)
            byte_map[c] = NOT_ASCII;
        else if (c >= 'A' && c <= 'Z')
            byte_map[c] = (char)(c + 32);
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            byte_map[c] = (char)c;
        else if (c == '\'')
            byte_map[c] = '\'';
        else
            byte_map[c] = ' ';
    }
    char out[MAP_MAX];
    for (int32_t cp = 0x80; cp < 0x800; cp++) {
        two_entry *te = &two_map[(cp >> 6) << 8 | 0x80 | (cp & 0x3F)];
        size_t n = map_cp(cp, out);
        if (n == 1 && out[0] == ' ') {
            te->kind = TWO_SEP;
        } else if (n > 0 && n <= 2 && !memchr(out, ' ', n) && !memchr(out, '\'', n)) {
            te->kind = TWO_WORD;
            te->len = (uint8_t)n;
            memcpy(te->b, out, n);
        }
    }
}

/* Returns the page of code points hi*256 .. hi*256+255, building it on first use. */
static const bmp_page *bmp_page_get(unsigned hi)
{
    bmp_page *pg = atomic_load_explicit(&bmp_pages[hi], memory_order_acquire);
    if (pg)
        return pg;
    bmp_entry e[256];
    nm_buf pool;
    nm_buf_init(&pool);
    char out[MAP_MAX];
    for (unsigned lo = 0; lo < 256; lo++) {
        size_t n = map_cp((int32_t)(hi << 8 | lo), out);
        e[lo].off = (uint16_t)pool.len;
        e[lo].len = (uint8_t)n;
        nm_buf_add(&pool, out, n);
    }
    pg = nm_xmalloc(sizeof *pg + pool.len + 1);
    memcpy(pg->e, e, sizeof e);
    memcpy(pg->pool, pool.data ? pool.data : "", pool.len);
    nm_buf_free(&pool);
    bmp_page *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&bmp_pages[hi], &none, pg, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(pg);   /* another thread built it first */
        return none;
    }
    return pg;
}

void rule_wordbuf_free(rule_wordbuf *wb)
{
    nm_free(&wb->b);
    wb->cap = 0;
}

/* Makes room for n bytes (and the slack the callback may read past a word). */
static void wordbuf_reserve(rule_wordbuf *wb, size_t n)
{
    n += 16;
    if (n <= wb->cap)
        return;
    size_t cap = wb->cap * 2 > n ? wb->cap * 2 : n;
    wb->b = nm_xrealloc(wb->b, cap);
    wb->cap = cap;
}

/* Words are handed over in batches of this many: one call per batch,
   not per word. */
#define BATCH 256

/* The tokeniser's state between code points. */
typedef struct tok_state {
    bool in_word;
    bool apos;           /* an apostrophe is pending after the word so far */
    size_t pos;          /* where the next normalised byte goes in wb->b */
    size_t wstart;       /* where the current word starts in wb->b */
    size_t start, end;   /* original byte range of the current word (with base) */
    rule_wordbuf *wb;
    rule_words_fn fn;
    void *arg;
    size_t n;            /* words in batch */
    rule_word batch[BATCH];
} tok_state;

static void tok_init(tok_state *st, rule_wordbuf *wb, rule_words_fn fn, void *arg)
{
    st->in_word = st->apos = false;
    st->pos = st->wstart = st->start = st->end = 0;
    st->wb = wb;
    st->fn = fn;
    st->arg = arg;
    st->n = 0;
}

/* Hands the batch over; its words' bytes are then reused. */
static void flush(tok_state *st)
{
    if (st->n) {
        memset(st->wb->b + st->pos, 0, 8);   /* defined bytes for the callback's 8-byte reads */
        st->fn(st->arg, st->wb->b, st->batch, st->n);
    }
    st->n = 0;
    st->pos = 0;
}

static inline void emit(tok_state *st)
{
    rule_word *w = &st->batch[st->n++];
    w->off = (uint32_t)st->wstart;
    w->len = (uint32_t)(st->pos - st->wstart);
    w->start = (uint32_t)st->start;
    w->end = (uint32_t)st->end;
    st->in_word = st->apos = false;
    if (st->n == BATCH)
        flush(st);
}

/* Feeds the mapping m[0..n) of the code point at original range [s, e). */
static void feed(tok_state *st, const char *m, size_t n, size_t s, size_t e)
{
    if (n == 0) {
        if (st->in_word && !st->apos)
            st->end = e;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        if (c == ' ') {
            if (st->in_word)
                emit(st);
        } else if (c == '\'') {
            if (!st->in_word)
                continue;
            if (st->apos)
                emit(st);
            else
                st->apos = true;
        } else {
            if (!st->in_word) {
                st->in_word = true;
                st->wstart = st->pos;
                st->start = s;
            } else if (st->apos) {
                st->wb->b[st->pos++] = '\'';
                st->apos = false;
            }
            st->wb->b[st->pos++] = c;
            st->end = e;
        }
    }
}

/* Clamps len so that offsets fit in 32 bits; returns false when nothing fits. */
static bool clamp(size_t *len, size_t base)
{
    if (base >= UINT32_MAX)
        return false;
    if (*len > UINT32_MAX - base)
        *len = UINT32_MAX - base;
    return true;
}

#define REP(b) (0x0101010101010101ULL * (uint64_t)(b))

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void store8(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Returns how many of the 8 bytes of v, in memory order, are ASCII
   letters or digits before the first that is not. Bytes below 0x80 are
   tested for a range with the carry-free trick: x + (0x80 - lo) has its
   top bit set when x >= lo, x + (0x7F - hi) when x > hi. Letters are
   tested after setting bit 0x20, which lower-cases them and maps no
   other byte into a-z; the same OR lower-cases the result, and digits
   already have that bit. */
static inline size_t ascii_word_run(uint64_t v)
{
    uint64_t hi = v & REP(0x80);
    uint64_t x = v & REP(0x7F);
    uint64_t lw = x | REP(0x20);
    uint64_t letter = (lw + REP(0x80 - 'a')) & ~(lw + REP(0x7F - 'z'));
    uint64_t digit = (x + REP(0x80 - '0')) & ~(x + REP(0x7F - '9'));
    uint64_t word = (letter | digit) & REP(0x80) & ~hi;
    uint64_t stop = ~word & REP(0x80);
    if (!stop)
        return 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(stop) / 8;
#else
    return (size_t)__builtin_clzll(stop) / 8;
#endif
}

/* Returns the mapping of the code point of a 3-byte sequence at p (p[0]
   in E0..EF, two more bytes available), or NULL when it is not valid
   UTF-8 (overlong, a surrogate, a bad continuation byte). */
static inline const char *map3(const unsigned char *p, size_t *n)
{
    unsigned c1 = p[1], c2 = p[2];
    if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (p[0] == 0xE0 && c1 < 0xA0) || (p[0] == 0xED && c1 >= 0xA0))
        return NULL;
    unsigned cp = (p[0] & 0x0Fu) << 12 | (c1 & 0x3Fu) << 6 | (c2 & 0x3Fu);
    const bmp_page *pg = bmp_page_get(cp >> 8);
    *n = pg->e[cp & 0xFF].len;
    return pg->pool + pg->e[cp & 0xFF].off;
}

void rule_words(rule_wordbuf *wb, const char *text, size_t len, size_t base, rule_words_fn fn, void *arg)
{
    pthread_once(&tables_once, build_tables);
    if (!clamp(&len, base))
        return;
    const unsigned char *t0 = (const unsigned char *)text, *p = t0, *end = t0 + len;
    tok_state st;
    tok_init(&st, wb, fn, arg);
    /* ASCII and the two-byte fast path never write more bytes than they
       read (an apostrophe is written instead of the byte that held it),
       so this covers the rest of the text unless a wider code point
       reserves more below. */
    wordbuf_reserve(wb, len + 2);
    char wide[MAP_MAX];
    while (p < end) {
        unsigned c = *p;
        char m = byte_map[c];
        const two_entry *te = NULL;
        if (m == LEAD2 && p + 1 < end)
            te = &two_map[(c & 0x1F) << 8 | p[1]];
        if (m > '\'' || (te && te->kind == TWO_WORD)) {
            /* a letter or digit of the fast paths: start or continue the
               word, then take the whole run of such letters in one loop */
            if (!st.in_word) {
                st.in_word = true;
                st.wstart = st.pos;
                st.start = base + (size_t)(p - t0);
            } else if (st.apos) {
                wb->b[st.pos++] = '\'';
                st.apos = false;
            }
            char *w = wb->b;
            size_t wl = st.pos;
            while (p < end) {
                c = *p;
                m = byte_map[c];
                if (m > '\'') {
                    if (end - p >= 8) {
                        /* eight ASCII bytes at once: lower-cased as a
                           block, kept up to the first that is no letter
                           or digit (this one is, so at least one) */
                        uint64_t v = load8(p);
                        size_t k = ascii_word_run(v);
                        store8(w + wl, v | REP(0x20));
                        wl += k;
                        p += k;
                        continue;
                    }
                    w[wl++] = m;
                    p++;
                    continue;
                }
                if (m != LEAD2 || p + 1 >= end)
                    break;
                te = &two_map[(c & 0x1F) << 8 | p[1]];
                if (te->kind != TWO_WORD)
                    break;
                memcpy(w + wl, te->b, 2);
                wl += te->len;
                p += 2;
            }
            st.pos = wl;
            st.end = base + (size_t)(p - t0);
            continue;
        }
        if (m == ' ' || (te && te->kind == TWO_SEP)) {
            if (st.in_word)
                emit(&st);
            p += m == ' ' ? 1 : 2;
            continue;
        }
        size_t off = base + (size_t)(p - t0);
        if (m == '\'') {
            feed(&st, "'", 1, off, off + 1);
            p++;
            continue;
        }
        const char *mp = NULL;
        size_t n = 0, cl = 3;
        if (c >= 0xE0 && c <= 0xEF && p + 2 < end)
            mp = map3(p, &n);
        if (!mp) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t l = utf8proc_iterate(p, end - p, &cp);
            if (l <= 0) {
                cl = 1;
                mp = " ";
                n = 1;
            } else if (cp < 65536) {
                const bmp_page *pg = bmp_page_get((unsigned)cp >> 8);
                mp = pg->pool + pg->e[cp & 0xFF].off;
                n = pg->e[cp & 0xFF].len;
                cl = (size_t)l;
            } else {
                n = map_cp(cp, wide);
                mp = wide;
                cl = (size_t)l;
            }
        }
        if (n == 1 && mp[0] == ' ') {
            if (st.in_word)
                emit(&st);
            p += cl;
            continue;
        }
        wordbuf_reserve(wb, st.pos + n + (size_t)(end - p) + 2);
        feed(&st, mp, n, off, off + cl);
        p += cl;
    }
    if (st.in_word)
        emit(&st);
    flush(&st);
}

void rule_words_reference(rule_wordbuf *wb, const char *text, size_t len, size_t base, rule_words_fn fn,
                          void *arg)
{
    if (!clamp(&len, base))
        return;
    const unsigned char *t0 = (const unsigned char *)text, *p = t0, *end = t0 + len;
    tok_state st;
    tok_init(&st, wb, fn, arg);
    char out[MAP_MAX];
    while (p < end) {
        size_t off = base + (size_t)(p - t0);
        utf8proc_int32_t cp;
        utf8proc_ssize_t cl = utf8proc_iterate(p, end - p, &cp);
        size_t n;
        if (cl <= 0) {
            cl = 1;
            out[0] = ' ';
            n = 1;
        } else {
            n = map_cp(cp, out);
        }
        wordbuf_reserve(wb, st.pos + n + 2);
        feed(&st, out, n, off, off + (size_t)cl);
        p += cl;
    }
    if (st.in_word)
        emit(&st);
    flush(&st);
}

void rule_tokens_init(rule_tokens *t)
{
    memset(t, 0, sizeof *t);
}

void rule_tokens_free(rule_tokens *t)
{
    nm_free(&t->v);
    nm_free(&t->bytes);
    rule_tokens_init(t);
}

void rule_tokens_reset(rule_tokens *t)
{
    t->n = 0;
    t->len = 0;
}

/* Appends one word to a rule_tokens. */
static void add_token(rule_tokens *t, const char *w, size_t len, uint32_t start, uint32_t end)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = nm_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    if (t->len + len > t->bytes_cap) {
        size_t cap = t->bytes_cap ? t->bytes_cap : 4096;
        while (cap < t->len + len)
            cap *= 2;
        t->bytes = nm_xrealloc(t->bytes, cap);
        t->bytes_cap = cap;
    }
    memcpy(t->bytes + t->len, w, len);
    rule_token *k = &t->v[t->n++];
    k->norm_off = (uint32_t)t->len;
    k->norm_len = (uint32_t)len;
    k->start = start;
    k->end = end;
    t->len += len;
}

/* rule_words_fn that appends the batch to a rule_tokens. */
static void add_tokens(void *arg, const char *bytes, const rule_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_token(arg, bytes + w[i].off, w[i].len, w[i].start, w[i].end);
}

void rule_tokenize(rule_tokens *t, const char *text, size_t len, size_t base)
{
    rule_wordbuf wb = { NULL, 0 };
    rule_words(&wb, text, len, base, add_tokens, t);
    rule_wordbuf_free(&wb);
}
