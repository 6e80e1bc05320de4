/*
 * store_story: MinHash signatures for story grouping.
 *
 * An article is reduced to the set of its 3-word shingles (consecutive
 * word triples of the folded title and text, at most the first
 * MAX_WORDS words). Two syndicated copies share nearly all shingles; a
 * lightly edited copy loses only the few shingles around each edit; two
 * different reports on one topic share names and phrases but rarely three
 * words in a row, so their Jaccard similarity stays near zero.
 *
 * The signature is a one-permutation MinHash (Li, Owen and Zhang 2012):
 * each shingle is hashed once to 64 bits; the high bits pick one of
 * STORE_MINHASH_K bins and the low 32 bits are the value, and each bin
 * keeps its minimum. Bins left empty (short texts) are filled by optimal
 * densification (Shrivastava 2017): an empty bin copies the bin that a
 * fixed probe sequence of its own reaches first, so two equal sets fill
 * alike. The fraction of equal bins estimates the Jaccard similarity like
 * K independent hash functions would (standard deviation under 0.065 at
 * K = 60), for one hash per shingle instead of K: this replaced 60
 * multiply-shift hashes per shingle, a quarter of the ingest time.
 *
 * LSH takes the first STORE_LSH_BANDS * STORE_LSH_ROWS bins as bands of
 * STORE_LSH_ROWS, and two articles become candidates when one band is
 * equal: with 10 bands of 2 that finds pairs at Jaccard 0.5 with
 * probability 0.94 and at 0.7 with 0.999, while pairs at 0.1 meet 10% of
 * the time. Candidates are then confirmed with all K bins
 * (STORE_STORY_SIMILARITY). The bands live in an in-memory index of the
 * story window (store_lsh.c).
 *
 * Words are split and folded in one pass over the text, with the same
 * result as store_fold followed by splitting at code points that are not
 * letters (Lu..Lo) or decimal digits (Nd): ASCII and two-byte characters
 * take a table, the rest utf8proc.
 */
#include "store/store_internal.h"

#include <stdatomic.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_WORDS 1000
#define SHINGLE 3
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

uint64_t store_mix64(uint64_t x)
{
    /* splitmix64's finaliser: a fast 64-bit permutation with good avalanche. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Per BMP code point: 0 not known yet, 1 not a word character, 2 a letter
   or decimal digit (utf8proc's category). Relaxed atomics: two threads
   computing one entry write the same value. */
static _Atomic unsigned char alnum_known[0x10000];

static int cp_is_alnum(utf8proc_int32_t cp)
{
    unsigned char k = cp < 0x10000 ? atomic_load_explicit(&alnum_known[cp], memory_order_relaxed) : 0;
    if (k)
        return k == 2;
    utf8proc_category_t cat = utf8proc_category(cp);
    int alnum = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || cat == UTF8PROC_CATEGORY_ND;
    if (cp < 0x10000)
        atomic_store_explicit(&alnum_known[cp], alnum ? 2 : 1, memory_order_relaxed);
    return alnum;
}

/* The word being built and the words found so far. */
struct words {
    uint64_t *hash;          /* FNV-1a of each word's folded bytes */
    size_t n, max;
    uint64_t cur;            /* hash of the word being read */
    int in_word;
};

static void word_end(struct words *w)
{
    if (w->in_word && w->n < w->max)
        w->hash[w->n++] = w->cur;
    w->in_word = 0;
}

/* Feeds the folded UTF-8 bytes of one code point (or one invalid byte:
   cp < 0) to the word splitter. */
static void feed(struct words *w, utf8proc_int32_t cp, const unsigned char *b, size_t n)
{
    if (cp < 0 || !cp_is_alnum(cp)) {
        word_end(w);
        return;
    }
    if (!w->in_word) {
        w->in_word = 1;
        w->cur = FNV_OFFSET;
    }
    for (size_t i = 0; i < n; i++) {
        w->cur ^= b[i];
        w->cur *= FNV_PRIME;
    }
}

/* Per BMP code point, what its folded form does to words, packed in 64
   bits: byte 0 one of the FOLD_ kinds (0: not known yet), byte 1 the
   folded length, bytes 2-7 the folded bytes (FOLD_WORD only). Relaxed
   atomics: two threads computing one entry write the same value. Saves
   a utf8proc decomposition per letter like ł or ų. */
enum { FOLD_SEP = 1, FOLD_WORD = 2, FOLD_SLOW = 3, FOLD_EMPTY = 4 };
static _Atomic uint64_t fold_known[0x10000];

/* Returns cp's entry (computing it with scratch). */
static uint64_t fold_entry(utf8proc_int32_t cp, const unsigned char *s, size_t n, nm_buf *scratch)
{
    uint64_t e = atomic_load_explicit(&fold_known[cp], memory_order_relaxed);
    if (e)
        return e;
    nm_buf_reset(scratch);
    if (store_cp_is_folded(cp))
        nm_buf_add(scratch, s, n);
    else
        store_fold_cp(cp, scratch);
    int words = 0, seps = 0;
    const unsigned char *f = (const unsigned char *)scratch->data;
    for (size_t i = 0; i < scratch->len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t step = utf8proc_iterate(f + i, (utf8proc_ssize_t)(scratch->len - i), &c);
        if (step <= 0)
            step = 1, c = -1;
        if (c >= 0 && cp_is_alnum(c))
            words++;
        else
            seps++;
        i += (size_t)step;
    }
    if (scratch->len == 0)
        e = FOLD_EMPTY;
    else if (words && !seps && scratch->len <= 6) {
        e = FOLD_WORD | (uint64_t)scratch->len << 8;
        for (size_t i = 0; i < scratch->len; i++)
            e |= (uint64_t)f[i] << (16 + 8 * i);
    } else
        e = seps && !words ? FOLD_SEP : FOLD_SLOW;
    atomic_store_explicit(&fold_known[cp], e, memory_order_relaxed);
    return e;
}

/* Feeds the folded form of cp, whose UTF-8 is s[0..n). */
static void feed_folded(struct words *w, utf8proc_int32_t cp, const unsigned char *s, size_t n,
                        nm_buf *scratch)
{
    if (cp < 0x10000) {
        uint64_t e = fold_entry(cp, s, n, scratch);
        switch (e & 0xFF) {
        case FOLD_EMPTY:
            return;
        case FOLD_SEP:
            word_end(w);
            return;
        case FOLD_WORD:
            if (!w->in_word) {
                w->in_word = 1;
                w->cur = FNV_OFFSET;
            }
            for (uint64_t k = 0, len = (e >> 8) & 0xFF, b = e >> 16; k < len; k++, b >>= 8)
                w->cur = (w->cur ^ (b & 0xFF)) * FNV_PRIME;
            return;
        default:
            break;
        }
    }
    if (store_cp_is_folded(cp)) {
        feed(w, cp, s, n);
        return;
    }
    nm_buf_reset(scratch);
    store_fold_cp(cp, scratch);
    const unsigned char *f = (const unsigned char *)scratch->data;
    size_t i = 0;
    while (i < scratch->len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t step = utf8proc_iterate(f + i, (utf8proc_ssize_t)(scratch->len - i), &c);
        if (step <= 0)
            step = 1, c = -1;
        feed(w, c, f + i, (size_t)step);
        i += (size_t)step;
    }
}

/* ASCII folded for words: letters to lower case, digits as they are,
   0 for everything else (a separator). */
static const unsigned char ascii_word[128] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
    ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
    ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
    ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
    ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
    ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
    ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
    ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
};

/* Reads the run of ASCII at s[*i..n) into w (the common case, in local
   variables: half the instructions of going through w). */
static void split_ascii(const unsigned char *s, size_t n, size_t *pi, struct words *w)
{
    size_t i = *pi, nw = w->n;
    uint64_t cur = w->cur;
    int in_word = w->in_word;
    for (; i < n && s[i] < 0x80 && nw < w->max; i++) {
        unsigned char lc = ascii_word[s[i]];
        if (lc) {
            if (!in_word) {
                in_word = 1;
                cur = FNV_OFFSET;
            }
            cur = (cur ^ lc) * FNV_PRIME;
        } else if (in_word) {
            w->hash[nw++] = cur;
            in_word = 0;
        }
    }
    w->n = nw;
    w->cur = cur;
    w->in_word = in_word;
    *pi = i;
}

/* Splits s[0..n) into folded words, appending their hashes to w. */
static void split_words(const char *text, size_t n, struct words *w, nm_buf *scratch)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n && w->n < w->max) {
        unsigned char c = s[i];
        if (c < 0x80) {
            split_ascii(s, n, &i, w);
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t step;
        if (c >= 0xC2 && c <= 0xDF && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            cp = ((utf8proc_int32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            step = 2;
        } else {
            step = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        }
        if (step <= 0) {   /* invalid UTF-8: store_fold keeps the byte, a non-letter */
            word_end(w);
            i++;
            continue;
        }
        feed_folded(w, cp, s + i, (size_t)step, scratch);
        i += (size_t)step;
    }
    word_end(w);
}

/* Fills the empty bins of sig (filled[k] == 0) by optimal densification. */
static void densify(struct store_sig *sig, const unsigned char *filled)
{
    for (int k = 0; k < STORE_MINHASH_K; k++) {
        if (filled[k])
            continue;
        uint64_t probe = store_mix64(0x5851f42d4c957f2dULL + (uint64_t)k);
        for (int attempt = 0;; attempt++) {
            int j = (int)(((probe >> 32) * STORE_MINHASH_K) >> 32);
            if (filled[j]) {
                sig->min[k] = sig->min[j];
                break;
            }
            if (attempt == 1000) {   /* never in practice; keeps the loop finite */
                for (j = 0; !filled[j]; j++)
                    ;
                sig->min[k] = sig->min[j];
                break;
            }
            probe = store_mix64(probe + 1);
        }
    }
}

void store_sig_compute(const char *title, const char *body, struct store_sig *sig)
{
    uint64_t hash[MAX_WORDS];
    struct words w = { hash, 0, MAX_WORDS, 0, 0 };
    nm_buf scratch;
    nm_buf_init(&scratch);
    if (title)
        split_words(title, strlen(title), &w, &scratch);
    if (body)
        split_words(body, strlen(body), &w, &scratch);
    nm_buf_free(&scratch);

    size_t n = w.n;
    unsigned char filled[STORE_MINHASH_K] = { 0 };
    for (int k = 0; k < STORE_MINHASH_K; k++)
        sig->min[k] = UINT32_MAX;
    sig->n_shingles = n >= SHINGLE ? n - SHINGLE + 1 : 0;
    for (size_t i = 0; i + SHINGLE <= n; i++) {
        uint64_t h = hash[i];
        for (int j = 1; j < SHINGLE; j++)
            h = store_mix64(h * 31 + hash[i + j]);
        int bin = (int)(((h >> 32) * STORE_MINHASH_K) >> 32);
        uint32_t v = (uint32_t)h;
        if (v < sig->min[bin] || !filled[bin])
            sig->min[bin] = v;
        filled[bin] = 1;
    }
    if (sig->n_shingles < STORE_STORY_MIN_SHINGLES) {
        sig->n_shingles = 0;
        return;
    }
    densify(sig, filled);
}

int64_t store_sig_band_key(const struct store_sig *sig, int b)
{
    uint64_t h = store_mix64((uint64_t)b + 1);
    for (int r = 0; r < STORE_LSH_ROWS; r++)
        h = store_mix64(h ^ sig->min[b * STORE_LSH_ROWS + r]);
    return (int64_t)(h >> 1);   /* keep it positive: a plain SQLite integer */
}

double store_sig_similarity(const struct store_sig *a, const uint32_t *b_min)
{
    int same = 0;
    for (int k = 0; k < STORE_MINHASH_K; k++)
        same += a->min[k] == b_min[k];
    return (double)same / STORE_MINHASH_K;
}

_Static_assert(STORE_LSH_BANDS * STORE_LSH_ROWS <= STORE_MINHASH_K, "bands x rows <= K");
