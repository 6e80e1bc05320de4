/*
 * rule_match: the one matcher of a rule set, and the scan of an article.
 *
 * Design. rule_norm.c cuts the text into normalised words and hands them
 * over in batches; each word is looked up here in one open-addressing
 * table that holds every atom (a word of a term, exact or prefix) of
 * every theme, whatever the number of terms:
 *
 * - Words are hashed eight bytes at a time (an unaligned load, masked for
 *   the last chunk), so a 15-byte Cyrillic word costs two steps, not
 *   fifteen multiplications in a chain as byte-wise FNV did.
 * - A 128 KiB bit filter of all atom keys, which stays in cache, answers
 *   "no" for almost every word before the table, which does not fit in
 *   cache, is touched.
 * - Prefix atoms: a word may start with any of them, so its leading parts
 *   must be looked up too. The word's first head_len bytes (the shortest
 *   prefix atom's length, at most 8) index a table of 64-bit masks: bit L
 *   is set when a prefix atom of L bytes starts with such a head. Only
 *   those lengths are hashed (from the running hash of the full 8-byte
 *   chunks before them) and looked up, at character boundaries; for most
 *   words the mask is empty. Trying every character boundary up to the
 *   longest prefix atom had cost more than the rest of the lookup.
 *
 * Nothing is kept of a word that matches no atom: the scan records only
 * matched words (position, bytes, atoms). Phrases are then checked on
 * those (the next words of a phrase must be the next matched words, at
 * the next positions, with the right atoms), every occurrence of a term
 * is recorded once with its word positions (for NEAR) and bytes (for
 * reports), sorted by term and indexed by a small per-article hash table
 * (no array as long as the number of terms is cleared per article).
 *
 * Why not Hyperscan: the rule language is about words after Unicode
 * normalisation (case folding, marks stripped, soft hyphens dropped), so
 * the text must be normalised and cut into words anyway; Hyperscan's
 * caseless and \b matching is ASCII-only without HS_FLAG_UCP. Measured
 * (bench/rules/hs_compare.sh): scanning the normalised text for the
 * benchmark's 10,000 terms as literals took 2.6 to 3.5 times the CPU time
 * of everything this engine does after normalising, and would still need
 * its byte hits mapped back to word positions. docs/rules.md has the
 * figures, and bench/rules/run.sh the comparison with ripgrep.
 */
#include "classifier/rule_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/nm_util.h"

#define HASH_SEED 0x243F6A8885A308D3ULL
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL

/* ---------- hashing: eight bytes at a time ---------- */

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Returns the first r (1..8) bytes of an 8-byte load, the rest zeroed. */
static inline uint64_t keep(uint64_t v, size_t r)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return v & (~0ULL >> (64 - 8 * r));
#else
    return v & (~0ULL << (64 - 8 * r));
#endif
}

static inline uint64_t step(uint64_t h, uint64_t chunk)
{
    h = (h ^ chunk) * K1;
    return h ^ (h >> 29);
}

/* The hash of n bytes: state h after the full chunks before the last
   one, and the last chunk (1..8 bytes) masked. */
static inline uint64_t fin(uint64_t h, uint64_t last, size_t n)
{
    h = (h ^ last) * K1;
    h ^= h >> 32;
    h = (h + n) * K2;
    return h ^ (h >> 29);
}

/* Returns the hash of p[0..n), n >= 1, which must be followed by 8 readable bytes. */
static uint64_t hash_padded(const unsigned char *p, size_t n)
{
    uint64_t h = HASH_SEED;
    size_t q = (n - 1) >> 3;
    for (size_t k = 0; k < q; k++)
        h = step(h, load8(p + 8 * k));
    return fin(h, keep(load8(p + 8 * q), n - 8 * q), n);
}

/* Returns the hash of key[0..n) (any n, no padding needed). */
static uint64_t hash_key(const char *key, size_t n)
{
    if (n == 0)
        return fin(HASH_SEED, 0, 0);
    unsigned char *b = nm_xcalloc(n + 8, 1);
    memcpy(b, key, n);
    uint64_t h = hash_padded(b, n);
    free(b);
    return h;
}

/* ---------- the table ---------- */

static const rslot *slot_find(const rule_set *rs, uint64_t h, const char *key, size_t len)
{
    size_t mask = rs->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const rslot *s = &rs->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

static inline bool filter_has(const rule_set *rs, uint64_t h)
{
    uint64_t bit = (h >> 20) & RULE_FILTER_MASK;
    return (rs->filter[bit >> 6] >> (bit & 63)) & 1;
}

static rslot *slot_put(rule_set *rs, const char *key, size_t len)
{
    uint64_t h = hash_key(key, len);
    rslot *s = (rslot *)slot_find(rs, h, key, len);
    if (s)
        return s;
    size_t mask = rs->n_slots - 1;
    size_t i = h & mask;
    while (rs->slots[i].key)
        i = (i + 1) & mask;
    s = &rs->slots[i];
    s->hash = h;
    s->key = key;
    s->key_len = (uint32_t)len;
    s->exact = s->prefix = -1;
    return s;
}

/* Returns the head slot of the first rs->head_len bytes of an 8-byte load. */
static inline size_t head_slot(const rule_set *rs, uint64_t first8)
{
    return (size_t)((keep(first8, rs->head_len) * K2) >> 50) & (RULE_HEAD_SLOTS - 1);
}

void rule_matcher_build(rule_set *rs)
{
    rs->n_slots = 16;
    while (rs->n_slots < rs->n_atoms * 2 + 2)
        rs->n_slots *= 2;
    rs->slots = nm_xcalloc(rs->n_slots, sizeof *rs->slots);
    rs->filter = nm_xcalloc(RULE_FILTER_BITS / 64, sizeof *rs->filter);
    rs->head_lens = nm_xcalloc(RULE_HEAD_SLOTS, sizeof *rs->head_lens);
    rs->head_len = 8;
    for (size_t i = 0; i < rs->n_atoms; i++)
        if (rs->atoms[i].prefix && rs->atoms[i].key_len < rs->head_len)
            rs->head_len = rs->atoms[i].key_len;
    for (size_t i = 0; i < rs->n_atoms; i++) {
        ratom *a = &rs->atoms[i];
        rslot *s = slot_put(rs, a->key, a->key_len);
        uint64_t bit = (s->hash >> 20) & RULE_FILTER_MASK;
        rs->filter[bit >> 6] |= 1ULL << (bit & 63);
        if (a->prefix) {
            s->prefix = (int32_t)i;
            if (a->key_len > rs->max_prefix)
                rs->max_prefix = a->key_len;
            if (a->key_len < 64) {
                unsigned char first8[8] = { 0 };
                memcpy(first8, a->key, a->key_len < 8 ? a->key_len : 8);
                rs->head_lens[head_slot(rs, load8(first8))] |= 1ULL << a->key_len;
            } else {
                rs->long_prefix = true;
            }
        } else {
            s->exact = (int32_t)i;
        }
    }
}

void rule_matcher_free(rule_set *rs)
{
    nm_free(&rs->slots);
    nm_free(&rs->filter);
    nm_free(&rs->head_lens);
    rs->n_slots = 0;
}

/* ---------- the scan ---------- */

static void push_atom(rscan *sc, int32_t a)
{
    if (sc->n_atoms == sc->cap_atoms) {
        sc->cap_atoms = sc->cap_atoms ? sc->cap_atoms * 2 : 256;
        sc->atoms = nm_xrealloc(sc->atoms, sc->cap_atoms * sizeof *sc->atoms);
    }
    sc->atoms[sc->n_atoms++] = a;
}

/* Looks up the leading part w[0..len) as a prefix atom. */
static inline void try_prefix(const rule_set *rs, rscan *sc, uint64_t h, const unsigned char *w, size_t len)
{
    if (!filter_has(rs, h))
        return;
    const rslot *s = slot_find(rs, h, (const char *)w, len);
    if (s && s->prefix >= 0)
        push_atom(sc, s->prefix);
}

/* Prefix atoms of 64 bytes and more: every character boundary from 64
   bytes on, hashed from the start. Rare enough not to need speed. */
static void long_prefixes(const rule_set *rs, rscan *sc, const unsigned char *w, size_t n)
{
    size_t upto = n < rs->max_prefix ? n : rs->max_prefix;
    for (size_t l = 64; l <= upto; l++)
        if (l == n || (w[l] & 0xC0) != 0x80)
            try_prefix(rs, sc, hash_padded(w, l), w, l);
}

/* Appends the atoms that word w[0..n) (n >= 1, 8 readable bytes after
   it) matches: a prefix atom for each leading part that is one, then the
   exact atom of the whole word. The word's head (its first head_len
   bytes) selects the lengths of the prefix atoms that may start like it,
   usually none; only those are tried, at character boundaries, each from
   the hash state of the 8-byte chunks before it; the bit filter answers
   "no" for almost every one without touching the table. */
static inline void lookup_word(const rule_set *rs, rscan *sc, const unsigned char *w, size_t n)
{
    uint64_t h = HASH_SEED;
    size_t q = (n - 1) >> 3;
    uint64_t lens = 0;
    if (n >= rs->head_len)
        lens = rs->head_lens[head_slot(rs, load8(w))] & (n >= 63 ? ~0ULL : (2ULL << n) - 1);
    for (size_t k = 0;; k++) {
        uint64_t chunk = load8(w + 8 * k);
        uint64_t bits = 8 * k + 1 < 64 ? (lens >> (8 * k + 1)) & 0xFF : 0;
        while (bits) {
            size_t l = 8 * k + 1 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (l < n && (w[l] & 0xC0) == 0x80)
                continue;   /* inside a character */
            try_prefix(rs, sc, fin(h, keep(chunk, l - 8 * k), l), w, l);
        }
        if (k == q) {
            if (rs->long_prefix && n >= 64)
                long_prefixes(rs, sc, w, n);
            uint64_t m = fin(h, keep(chunk, n - 8 * k), n);
            if (!filter_has(rs, m))
                return;
            const rslot *s = slot_find(rs, m, (const char *)w, n);
            if (s && s->exact >= 0)
                push_atom(sc, s->exact);
            return;
        }
        h = step(h, chunk);
    }
}

static void push_occ(rscan *sc, int32_t term, int field, const rhitword *a, const rhitword *b)
{
    if (sc->n_occ == sc->cap_occ) {
        sc->cap_occ = sc->cap_occ ? sc->cap_occ * 2 : 256;
        sc->occ = nm_xrealloc(sc->occ, sc->cap_occ * sizeof *sc->occ);
    }
    rocc *o = &sc->occ[sc->n_occ++];
    o->term = term;
    o->field = (uint8_t)field;
    o->start = a->word;
    o->end = b->word + 1;
    o->from = a->from;
    o->to = b->to;
}

/* What the word callback needs. */
typedef struct scan_arg {
    const rule_set *rs;
    rscan *sc;
    uint32_t words;         /* words seen so far in the field */
} scan_arg;

static void on_words(void *arg, const char *bytes, const rule_word *w, size_t n)
{
    scan_arg *sa = arg;
    rscan *sc = sa->sc;
    for (size_t i = 0; i < n; i++) {
        size_t a0 = sc->n_atoms;
        lookup_word(sa->rs, sc, (const unsigned char *)bytes + w[i].off, w[i].len);
        uint32_t pos = sa->words++;
        if (sc->n_atoms == a0)
            continue;
        if (sc->n_hw == sc->cap_hw) {
            sc->cap_hw = sc->cap_hw ? sc->cap_hw * 2 : 256;
            sc->hw = nm_xrealloc(sc->hw, sc->cap_hw * sizeof *sc->hw);
        }
        rhitword *hw = &sc->hw[sc->n_hw++];
        hw->word = pos;
        hw->from = w[i].start;
        hw->to = w[i].end;
        hw->a_first = (uint32_t)a0;
        hw->a_end = (uint32_t)sc->n_atoms;
    }
}

static bool word_has(const rscan *sc, const rhitword *hw, int32_t atom)
{
    for (uint32_t k = hw->a_first; k < hw->a_end; k++)
        if (sc->atoms[k] == atom)
            return true;
    return false;
}

/* Records the terms that start at each matched word of the field: one
   word, or a phrase whose next words are the next matched words (at
   consecutive positions) with the right atoms. */
static void find_terms(const rule_set *rs, rscan *sc, int field)
{
    const rhitword *hw = sc->hw;
    size_t n = sc->n_hw;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = hw[i].a_first; k < hw[i].a_end; k++) {
            const ratom *a = &rs->atoms[sc->atoms[k]];
            for (size_t t = 0; t < a->n_starts; t++) {
                const rterm *term = &rs->terms[a->starts[t]];
                size_t m = term->n_atoms, q = 1;
                if (i + m > n)
                    continue;
                while (q < m && hw[i + q].word == hw[i].word + q && word_has(sc, &hw[i + q], term->atoms[q]))
                    q++;
                if (q == m)
                    push_occ(sc, a->starts[t], field, &hw[i], &hw[i + m - 1]);
            }
        }
    }
}

static void scan_field(const rule_set *rs, rscan *sc, int field, const char *s, size_t len)
{
    sc->n_hw = 0;
    sc->n_atoms = 0;
    scan_arg sa = { rs, sc, 0 };
    rule_words(&sc->wb, s, len, 0, on_words, &sa);
    find_terms(rs, sc, field);
}

static int by_term(const void *a, const void *b)
{
    const rocc *x = a, *y = b;
    if (x->term != y->term)
        return x->term < y->term ? -1 : 1;
    if (x->field != y->field)
        return x->field < y->field ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

void rule_scan(const rule_set *rs, rscan *sc, const char *title, size_t title_len,
               const char *text, size_t text_len)
{
    sc->n_occ = 0;
    scan_field(rs, sc, FIELD_TITLE, title ? title : "", title ? title_len : 0);
    scan_field(rs, sc, FIELD_TEXT, text ? text : "", text ? text_len : 0);
    /* A term occurs at most once per position, so (term, field, start) is
       a total order: the same as the scan order within each term. */
    if (sc->n_occ > 1)
        qsort(sc->occ, sc->n_occ, sizeof *sc->occ, by_term);
    size_t distinct = 0;
    for (size_t i = 0; i < sc->n_occ; i++)
        distinct += i == 0 || sc->occ[i].term != sc->occ[i - 1].term;
    size_t slots = 8;
    while (slots < distinct * 2 + 1)
        slots *= 2;
    free(sc->tmap);
    sc->tmap = nm_xmalloc(slots * sizeof *sc->tmap);
    memset(sc->tmap, 0xFF, slots * sizeof *sc->tmap);   /* term -1: empty */
    sc->tmap_mask = slots - 1;
    for (size_t i = 0; i < sc->n_occ;) {
        int32_t t = sc->occ[i].term;
        size_t j = i + 1;
        while (j < sc->n_occ && sc->occ[j].term == t)
            j++;
        size_t k = ((uint32_t)t * 0x9E3779B1u) & sc->tmap_mask;
        while (sc->tmap[k].term >= 0)
            k = (k + 1) & sc->tmap_mask;
        sc->tmap[k] = (rtermocc){ t, (uint32_t)i, (uint32_t)(j - i) };
        i = j;
    }
}

void rule_scan_free(rscan *sc)
{
    rule_wordbuf_free(&sc->wb);
    free(sc->hw);
    free(sc->atoms);
    free(sc->occ);
    free(sc->tmap);
    memset(sc, 0, sizeof *sc);
}
