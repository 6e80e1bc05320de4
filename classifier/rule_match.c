/*
 * rule_match: the one matcher of a rule set, and the scan of an article.
 *
 * Design. The text is tokenised once into normalised words (rule_norm.c);
 * each word is then looked up in one open-addressing hash table that
 * holds every atom (a word of a term, exact or prefix) of every theme.
 * Prefix atoms are found by hashing the word's leading parts as the hash
 * of the whole word is computed (FNV is incremental); a 128 KiB bit filter
 * of all atom keys, which stays in cache, rules out almost every part and
 * most words without a probe of the table. A word therefore costs one
 * pass of hashing and, usually, no table access, whatever the number of
 * terms (measured: probing an "interior" key per leading character cost
 * three times as much, as the table does not fit in cache). Phrases are then checked from consecutive positions
 * on the per-word atom lists, and every occurrence is recorded once with
 * its word positions (for NEAR and for reports).
 *
 * Why not Hyperscan: the rule language is about words after Unicode
 * normalisation (case folding, marks stripped, soft hyphens dropped), so
 * the text must be normalised and cut into words anyway; once it is, a
 * hash lookup per word is cheaper than a second automaton pass over the
 * bytes plus the work of mapping byte hits back to word boundaries, and
 * it keeps the positions NEAR needs. bench/rules/ measures the result
 * against ripgrep on the same terms (docs/rules.md has the figures).
 */
#include "classifier/rule_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/nm_util.h"

#define FNV_OFF 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* FNV-1a's low bits mix poorly; the table and the filter index by low bits. */
static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

static rslot *slot_find(const rule_set *rs, uint64_t h, const char *key, size_t len)
{
    size_t mask = rs->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        rslot *s = &rs->slots[i];
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

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = FNV_OFF;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return mix(h);
}

static rslot *slot_put(rule_set *rs, const char *key, size_t len)
{
    uint64_t h = hash_bytes(key, len);
    rslot *s = slot_find(rs, h, key, len);
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

void rule_matcher_build(rule_set *rs)
{
    rs->n_slots = 16;
    while (rs->n_slots < rs->n_atoms * 2 + 2)
        rs->n_slots *= 2;
    rs->slots = nm_xcalloc(rs->n_slots, sizeof *rs->slots);
    rs->filter = nm_xcalloc(RULE_FILTER_BITS / 64, sizeof *rs->filter);
    for (size_t i = 0; i < rs->n_atoms; i++) {
        ratom *a = &rs->atoms[i];
        rslot *s = slot_put(rs, a->key, a->key_len);
        uint64_t bit = (s->hash >> 20) & RULE_FILTER_MASK;
        rs->filter[bit >> 6] |= 1ULL << (bit & 63);
        if (a->prefix) {
            s->prefix = (int32_t)i;
            if (a->key_len > rs->max_prefix)
                rs->max_prefix = a->key_len;
        } else {
            s->exact = (int32_t)i;
        }
    }
}

void rule_matcher_free(rule_set *rs)
{
    nm_free(&rs->slots);
    nm_free(&rs->filter);
    rs->n_slots = 0;
}

static void push_atom(rscan *sc, int32_t a)
{
    if (sc->n_atoms == sc->cap_atoms) {
        sc->cap_atoms = sc->cap_atoms ? sc->cap_atoms * 2 : 1024;
        sc->atoms = nm_xrealloc(sc->atoms, sc->cap_atoms * sizeof *sc->atoms);
    }
    sc->atoms[sc->n_atoms++] = a;
}

static void push_occ(rscan *sc, int32_t term, int field, uint32_t start, uint32_t end)
{
    if (sc->n_occ == sc->cap_occ) {
        sc->cap_occ = sc->cap_occ ? sc->cap_occ * 2 : 256;
        sc->occ = nm_xrealloc(sc->occ, sc->cap_occ * sizeof *sc->occ);
    }
    rocc *o = &sc->occ[sc->n_occ++];
    o->term = term;
    o->field = (uint8_t)field;
    o->start = start;
    o->end = end;
}

/* Appends the atoms word w[0..len) matches: a prefix atom for each
   leading part (at character boundaries, up to the longest prefix atom)
   that is one, then the exact atom of the whole word. The bit filter
   answers "no" for almost every part without touching the table. */
static void lookup_word(const rule_set *rs, rscan *sc, const unsigned char *w, size_t len)
{
    uint64_t h = FNV_OFF;
    size_t upto = len < rs->max_prefix ? len : rs->max_prefix;
    size_t j = 0;
    for (; j < upto; j++) {
        h = (h ^ w[j]) * FNV_PRIME;
        if (j + 1 < len && (w[j + 1] & 0xC0) == 0x80)
            continue;
        uint64_t m = mix(h);
        if (!filter_has(rs, m))
            continue;
        const rslot *s = slot_find(rs, m, (const char *)w, j + 1);
        if (s && s->prefix >= 0)
            push_atom(sc, s->prefix);
    }
    for (; j < len; j++)
        h = (h ^ w[j]) * FNV_PRIME;
    uint64_t m = mix(h);
    if (!filter_has(rs, m))
        return;
    const rslot *s = slot_find(rs, m, (const char *)w, len);
    if (s && s->exact >= 0)
        push_atom(sc, s->exact);
}

static bool token_has(const rscan *sc, int f, size_t i, int32_t atom)
{
    for (uint32_t k = sc->tok_aoff[f][i]; k < sc->tok_aoff[f][i + 1]; k++)
        if (sc->atoms[k] == atom)
            return true;
    return false;
}

static void scan_field(const rule_set *rs, rscan *sc, int f, const char *s, size_t len)
{
    rule_tokens *tk = &sc->tok[f];
    rule_tokens_reset(tk);
    rule_tokenize(tk, s, len, 0);
    size_t n = tk->n;
    sc->tok_aoff[f] = nm_xrealloc(sc->tok_aoff[f], (n + 1) * sizeof *sc->tok_aoff[f]);
    uint32_t *aoff = sc->tok_aoff[f];
    for (size_t i = 0; i < n; i++) {
        aoff[i] = (uint32_t)sc->n_atoms;
        lookup_word(rs, sc, (const unsigned char *)rule_token_word(tk, i), tk->v[i].norm_len);
    }
    aoff[n] = (uint32_t)sc->n_atoms;
    int field = f == 0 ? FIELD_TITLE : FIELD_TEXT;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = aoff[i]; k < aoff[i + 1]; k++) {
            const ratom *a = &rs->atoms[sc->atoms[k]];
            for (size_t t = 0; t < a->n_starts; t++) {
                const rterm *term = &rs->terms[a->starts[t]];
                size_t m = term->n_atoms;
                if (i + m > n)
                    continue;
                size_t q = 1;
                while (q < m && token_has(sc, f, i + q, term->atoms[q]))
                    q++;
                if (q == m)
                    push_occ(sc, a->starts[t], field, (uint32_t)i, (uint32_t)(i + m));
            }
        }
    }
}

void rule_scan(const rule_set *rs, rscan *sc, const char *title, size_t title_len,
               const char *text, size_t text_len)
{
    sc->n_atoms = 0;
    sc->n_occ = 0;
    scan_field(rs, sc, 0, title ? title : "", title ? title_len : 0);
    scan_field(rs, sc, 1, text ? text : "", text ? text_len : 0);
    /* Counting sort by term; within a term the scan order (title, then
       text, by position) is kept. */
    free(sc->first);
    free(sc->count);
    sc->count = nm_xcalloc(rs->n_terms ? rs->n_terms : 1, sizeof *sc->count);
    sc->first = nm_xmalloc((rs->n_terms ? rs->n_terms : 1) * sizeof *sc->first);
    for (size_t i = 0; i < sc->n_occ; i++)
        sc->count[sc->occ[i].term]++;
    uint32_t sum = 0;
    for (size_t t = 0; t < rs->n_terms; t++) {
        sc->first[t] = sum;
        sum += sc->count[t];
    }
    if (sc->n_occ == 0)
        return;
    rocc *sorted = nm_xmalloc(sc->n_occ * sizeof *sorted);
    uint32_t *fill = nm_xcalloc(rs->n_terms, sizeof *fill);
    for (size_t i = 0; i < sc->n_occ; i++) {
        int32_t t = sc->occ[i].term;
        sorted[sc->first[t] + fill[t]++] = sc->occ[i];
    }
    free(fill);
    free(sc->occ);
    sc->occ = sorted;
    sc->cap_occ = sc->n_occ;
}

void rule_scan_free(rscan *sc)
{
    rule_tokens_free(&sc->tok[0]);
    rule_tokens_free(&sc->tok[1]);
    free(sc->tok_aoff[0]);
    free(sc->tok_aoff[1]);
    free(sc->atoms);
    free(sc->occ);
    free(sc->first);
    free(sc->count);
    memset(sc, 0, sizeof *sc);
}
