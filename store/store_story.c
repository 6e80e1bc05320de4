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
 * MinHash estimates that similarity from STORE_MINHASH_K minimums of
 * independent hashes (h_k(x) = high half of a_k * x + b_k, multiply-shift
 * universal hashing over the shingle's 64-bit hash). LSH takes the first
 * STORE_LSH_BANDS * STORE_LSH_ROWS minimums as bands of STORE_LSH_ROWS,
 * and two articles become candidates when one band is equal: with 10
 * bands of 2 that finds pairs at Jaccard 0.5 with probability 0.94 and at
 * 0.7 with 0.999, while pairs at 0.1 meet 10% of the time. Candidates are
 * then confirmed with all 60 minimums (STORE_STORY_SIMILARITY), whose
 * estimate has a standard deviation under 0.065. 10 bands of 2 rather than
 * 20 of 3 halves the lsh rows written per article (ingest speed).
 * The bands are rows of the lsh table, looked up by key (store_ingest.c).
 */
#include "store/store_internal.h"

#include <string.h>
#include <utf8proc.h>

#define MAX_WORDS 1000
#define SHINGLE 3

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finaliser: a fast 64-bit permutation with good avalanche. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Splits folded UTF-8 text into words (runs of letters and digits) and
   appends each word's hash to words[] (at most max). Returns the count. */
static size_t word_hashes(const char *s, size_t n, uint64_t *words, size_t count, size_t max)
{
    size_t i = 0, start = 0;
    int in_word = 0;
    while (i <= n && count < max) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t step = 1;
        if (i < n) {
            step = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (step <= 0)
                step = 1, cp = -1;
        }
        int alnum = 0;
        if (cp >= 0) {
            utf8proc_category_t cat = utf8proc_category(cp);
            alnum = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                    cat == UTF8PROC_CATEGORY_ND;
        }
        if (alnum && !in_word) {
            in_word = 1;
            start = i;
        } else if (!alnum && in_word) {
            in_word = 0;
            words[count++] = fnv1a(s + start, i - start, 0xcbf29ce484222325ULL);
        }
        i += (size_t)step;
    }
    return count;
}

void store_sig_compute(const char *title, const char *body, struct store_sig *sig)
{
    nm_buf fold;
    nm_buf_init(&fold);
    uint64_t *words = nm_xmalloc(MAX_WORDS * sizeof *words);
    size_t n = 0;
    const char *parts[2] = { title, body };
    for (int p = 0; p < 2; p++) {
        if (!parts[p])
            continue;
        size_t len = store_fold(parts[p], strlen(parts[p]), &fold);
        n = word_hashes(nm_buf_cstr(&fold), len, words, n, MAX_WORDS);
    }
    nm_buf_free(&fold);

    for (int k = 0; k < STORE_MINHASH_K; k++)
        sig->min[k] = UINT32_MAX;
    sig->n_shingles = n >= SHINGLE ? n - SHINGLE + 1 : 0;
    static uint64_t a[STORE_MINHASH_K], b[STORE_MINHASH_K];
    if (a[0] == 0)   /* fixed constants: a signature must not change between runs */
        for (int k = 0; k < STORE_MINHASH_K; k++) {
            a[k] = mix64(0x9e3779b97f4a7c15ULL * (uint64_t)(2 * k + 1)) | 1;
            b[k] = mix64(0x9e3779b97f4a7c15ULL * (uint64_t)(2 * k + 2));
        }
    for (size_t i = 0; i + SHINGLE <= n; i++) {
        uint64_t h = words[i];
        for (int j = 1; j < SHINGLE; j++)
            h = mix64(h * 31 + words[i + j]);
        for (int k = 0; k < STORE_MINHASH_K; k++) {
            uint32_t v = (uint32_t)((a[k] * h + b[k]) >> 32);
            if (v < sig->min[k])
                sig->min[k] = v;
        }
    }
    free(words);
    if (sig->n_shingles < STORE_STORY_MIN_SHINGLES)
        sig->n_shingles = 0;
}

int64_t store_sig_band_key(const struct store_sig *sig, int b)
{
    uint64_t h = mix64((uint64_t)b + 1);
    for (int r = 0; r < STORE_LSH_ROWS; r++)
        h = mix64(h ^ sig->min[b * STORE_LSH_ROWS + r]);
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
