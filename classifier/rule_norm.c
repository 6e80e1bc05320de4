/*
 * rule_norm: turns text into normalised words (see rule_norm.h for the
 * rules). Each code point is mapped once to a short string over three
 * alphabets: word bytes (the UTF-8 of its normalised letters and digits),
 * ' ' (a separator) and '\'' (an apostrophe); an empty string means the
 * code point vanishes (combining marks, default-ignorable characters), so
 * "Lu<soft hyphen>kashenko" stays one word. The map of the Basic
 * Multilingual Plane is computed once with utf8proc and kept in a table;
 * ASCII has its own one-byte table, which is the hot path for most text.
 *
 * Normalising code point by code point is the same as normalising the
 * whole string here: composition (the "C" of NFKC) would only recombine
 * marks that we remove anyway, so NFKD with marks stripped is what the
 * rule language compares.
 */
#include "classifier/rule_norm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/nm_util.h"

#define MAP_MAX 160   /* longest mapping of one code point (U+FDFA: 18 code points) */

typedef struct bmp_entry {
    uint32_t off;   /* into bmp_pool */
    uint8_t len;
    bool word;      /* the mapping is only word bytes (a letter or digit) */
} bmp_entry;

static bmp_entry *bmp;          /* 65536 entries */
static char *bmp_pool;
static char ascii_map[128];
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
    for (int c = 0; c < 128; c++) {
        if (c >= 'A' && c <= 'Z')
            ascii_map[c] = (char)(c + 32);
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            ascii_map[c] = (char)c;
        else if (c == '\'')
            ascii_map[c] = '\'';
        else
            ascii_map[c] = ' ';
    }
    bmp = nm_xcalloc(65536, sizeof *bmp);
    nm_buf pool;
    nm_buf_init(&pool);
    char out[MAP_MAX];
    for (int32_t cp = 0; cp < 65536; cp++) {
        size_t n = map_cp(cp, out);
        bmp[cp].off = (uint32_t)pool.len;
        bmp[cp].len = (uint8_t)n;
        bmp[cp].word = n > 0 && memchr(out, ' ', n) == NULL && memchr(out, '\'', n) == NULL;
        nm_buf_add(&pool, out, n);
    }
    bmp_pool = nm_buf_steal(&pool);
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

static void reserve_bytes(rule_tokens *t, size_t more)
{
    if (t->len + more <= t->bytes_cap)
        return;
    size_t cap = t->bytes_cap ? t->bytes_cap : 4096;
    while (cap < t->len + more)
        cap *= 2;
    t->bytes = nm_xrealloc(t->bytes, cap);
    t->bytes_cap = cap;
}

static void push_token(rule_tokens *t, size_t norm_start, size_t start, size_t end)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = nm_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    rule_token *k = &t->v[t->n++];
    k->norm_off = (uint32_t)norm_start;
    k->norm_len = (uint32_t)(t->len - norm_start);
    k->start = (uint32_t)start;
    k->end = (uint32_t)end;
}

/* The tokeniser's state between code points. */
typedef struct tok_state {
    bool in_word;
    bool apos;           /* an apostrophe is pending after the word so far */
    size_t norm_start;   /* where the current word starts in t->bytes */
    size_t start, end;   /* original byte range of the current word (with base) */
} tok_state;

/* Feeds the mapping m[0..n) of the code point at original range [s, e). */
static void feed(rule_tokens *t, tok_state *st, const char *m, size_t n, size_t s, size_t e)
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
                push_token(t, st->norm_start, st->start, st->end);
            st->in_word = st->apos = false;
        } else if (c == '\'') {
            if (!st->in_word)
                continue;
            if (st->apos) {
                push_token(t, st->norm_start, st->start, st->end);
                st->in_word = st->apos = false;
            } else {
                st->apos = true;
            }
        } else {
            if (!st->in_word) {
                st->in_word = true;
                st->norm_start = t->len;
                st->start = s;
            } else if (st->apos) {
                t->bytes[t->len++] = '\'';
                st->apos = false;
            }
            t->bytes[t->len++] = c;
            st->end = e;
        }
    }
}

void rule_tokenize(rule_tokens *t, const char *text, size_t len, size_t base)
{
    pthread_once(&tables_once, build_tables);
    if (base >= UINT32_MAX)
        return;
    if (len > UINT32_MAX - base)
        len = UINT32_MAX - base;
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    tok_state st = { false, false, 0, 0, 0 };
    /* ASCII never maps to more bytes than it takes (an apostrophe is
       written instead of the byte that held it), so this covers the rest
       of the text unless a wider code point reserves more below. */
    reserve_bytes(t, len + 1);
    char wide[MAP_MAX];
    while (p < end) {
        unsigned c = *p;
        size_t off = base + (size_t)(p - (const unsigned char *)text);
        if (c < 0x80) {
            char m = ascii_map[c];
            if (m != ' ' && m != '\'') {
                if (!st.in_word) {
                    st.in_word = true;
                    st.norm_start = t->len;
                    st.start = off;
                } else if (st.apos) {
                    t->bytes[t->len++] = '\'';
                    st.apos = false;
                }
                t->bytes[t->len++] = m;
                st.end = off + 1;
            } else {
                feed(t, &st, &m, 1, off, off + 1);
            }
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF && p + 1 < end && (p[1] & 0xC0) == 0x80) {
            /* two-byte letters (Cyrillic, most Latin with diacritics) that
               map to at most two bytes: inline, like ASCII */
            const bmp_entry *be = &bmp[((c & 0x1F) << 6) | (p[1] & 0x3F)];
            if (be->word && be->len <= 2) {
                if (!st.in_word) {
                    st.in_word = true;
                    st.norm_start = t->len;
                    st.start = off;
                } else if (st.apos) {
                    t->bytes[t->len++] = '\'';
                    st.apos = false;
                }
                memcpy(t->bytes + t->len, bmp_pool + be->off, be->len);
                t->len += be->len;
                st.end = off + 2;
                p += 2;
                continue;
            }
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t cl = utf8proc_iterate(p, end - p, &cp);
        const char *m;
        size_t n;
        if (cl <= 0) {
            cl = 1;
            m = " ";
            n = 1;
        } else if (cp < 65536) {
            m = bmp_pool + bmp[cp].off;
            n = bmp[cp].len;
        } else {
            n = map_cp(cp, wide);
            m = wide;
        }
        reserve_bytes(t, n + (size_t)(end - p) + 2);
        feed(t, &st, m, n, off, off + (size_t)cl);
        p += cl;
    }
    if (st.in_word)
        push_token(t, st.norm_start, st.start, st.end);
}
