/*
 * rule_int: the rule language's internal structures, shared by the
 * parser (rule_parse.c), the loader and compiler (rule_load.c), the
 * matcher (rule_match.c) and the evaluator (rule_eval.c). Nothing here is
 * part of the public API (rules.h).
 *
 * A rule set holds the parsed files, the defines and themes as syntax
 * trees, and the compiled matcher: every distinct term (word, prefix or
 * phrase) has an id; every distinct word of a term is an "atom" (exact or
 * prefix) in one hash table keyed by normalised bytes.
 */
#ifndef RULE_INT_H
#define RULE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "classifier/rule_norm.h"
#include "classifier/rules.h"

enum { FIELD_TITLE = 1, FIELD_TEXT = 2, FIELD_ALL = 3 };

typedef enum rnode_kind {
    RN_TERM, RN_AND, RN_OR, RN_NOT, RN_NEAR, RN_ATLEAST, RN_SCOPE, RN_LANG, RN_SOURCE, RN_REF
} rnode_kind;

/* One word of a term, normalised. */
typedef struct rule_item {
    char *word;
    bool prefix;
} rule_item;

typedef struct rnode {
    rnode_kind kind;
    uint32_t file;          /* where it was written, for diagnostics */
    uint32_t off;           /* byte offset in that file */
    int mask;               /* RN_SCOPE: FIELD_* bits */
    int64_t n;              /* RN_NEAR: distance; RN_ATLEAST: how many */
    struct rnode **kids;    /* operands (RN_NEAR: exactly two) */
    size_t n_kids;
    char *text;             /* RN_TERM as written; RN_LANG/RN_SOURCE value; RN_REF name */
    rule_item *items;       /* RN_TERM: its words (none: it can never match) */
    size_t n_items;
    int32_t term;           /* RN_TERM after compiling: term id, -1 when it cannot match */
    int32_t def;            /* RN_REF after resolving: define index */
    int32_t *near_terms[2]; /* RN_NEAR after compiling: the term ids of each side */
    size_t n_near[2];
} rnode;

typedef struct rfile {
    char *name;
    char *text;             /* NUL-terminated copy */
    size_t len;
    size_t *lines;          /* byte offset of each line's start */
    size_t n_lines;
} rfile;

typedef struct rdefine {
    char *name;
    rnode *expr;
    uint32_t file, off;     /* of the name */
    bool used;
    int visit;              /* cycle check: 0 new, 1 on the path, 2 done */
} rdefine;

typedef struct rscore {
    int64_t weight;
    rnode *expr;
    char *src;              /* expression as written, whitespace collapsed */
    uint32_t file, off;
} rscore;

typedef struct rtheme {
    char *id;
    char *title;
    char *severity;
    uint32_t file, off;
    rnode *match;
    uint32_t match_off;     /* offsets of fields already seen, for duplicate errors */
    rnode *exclude;
    uint32_t exclude_off;
    uint32_t title_off, severity_off, threshold_off;
    bool has_title, has_severity, has_match, has_exclude, has_threshold;
    rscore *scores;
    size_t n_scores;
    int64_t threshold;
} rtheme;

typedef struct rterm {
    char *text;             /* the first spelling seen, for reports */
    int32_t *atoms;
    size_t n_atoms;
} rterm;

typedef struct ratom {
    char *key;              /* normalised word */
    size_t key_len;
    bool prefix;
    int32_t *starts;        /* terms whose first atom this is */
    size_t n_starts;
} ratom;

#define RULE_FILTER_BITS (1u << 20)
#define RULE_FILTER_MASK (RULE_FILTER_BITS - 1)
#define RULE_HEAD_SLOTS (1u << 14)

typedef struct rslot {      /* one hash table slot; key NULL when empty */
    uint64_t hash;
    const char *key;
    uint32_t key_len;
    int32_t exact;          /* atom matching this word exactly, or -1 */
    int32_t prefix;         /* atom matching words starting with this, or -1 */
} rslot;

struct rule_set {
    rfile *files;
    size_t n_files;
    rdefine *defines;
    size_t n_defines;
    rtheme *themes;
    size_t n_themes;
    rterm *terms;
    size_t n_terms;
    ratom *atoms;
    size_t n_atoms;
    rslot *slots;
    size_t n_slots;         /* a power of two */
    uint64_t *filter;       /* bit per ((hash >> 20) & RULE_FILTER_MASK) of every atom key: most words need no probe */
    size_t max_prefix;      /* longest prefix atom in bytes: longer leading parts are not looked up */
    size_t head_len;        /* bytes of a word's head: the shortest prefix atom's length, at most 8 */
    uint64_t *head_lens;    /* RULE_HEAD_SLOTS masks: bit L set when a prefix atom of L bytes (L < 64)
                               has a head hashing to the slot */
    bool long_prefix;       /* some prefix atom is 64 bytes or longer */
    /* Which themes a term can wake (rule_eval.c): a theme whose match
       cannot hold unless one of its match terms occurs is evaluated only
       when one did. Term t wakes trig_themes[trig_off[t] .. trig_off[t+1]). */
    uint32_t *trig_off;
    uint32_t *trig_themes;
    bool *theme_always;     /* per theme: evaluate it whatever occurred */
    char version[65];
};

/* Loading context: the set under construction and where diagnostics go. */
typedef struct rload {
    rule_set *rs;
    rule_diags *diags;
} rload;

/* rule_parse.c */
/* Reports a diagnostic at file/off. */
void rule_diag_at(rload *ld, bool is_error, uint32_t file, uint32_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Returns "file:line:col" of a place (caller frees). */
char *rule_where(const rule_set *rs, uint32_t file, uint32_t off, bool with_col);
/* Parses file index fi of ld->rs into defines and themes. */
void rule_parse_file(rload *ld, uint32_t fi);
void rule_node_free(rnode *n);

/* rule_match.c */
/* Builds the hash table from the atoms. */
void rule_matcher_build(rule_set *rs);
void rule_matcher_free(rule_set *rs);

/* One occurrence of a term: words [start, end) of a field, which are
   bytes [from, to) of the field's original text. */
typedef struct rocc {
    int32_t term;
    uint8_t field;          /* FIELD_TITLE or FIELD_TEXT */
    uint32_t start, end;
    uint32_t from, to;
} rocc;

/* A word of the text that matched at least one atom. */
typedef struct rhitword {
    uint32_t word;          /* its position in the field, in words */
    uint32_t from, to;      /* its bytes in the original text */
    uint32_t a_first, a_end;/* its atoms: rscan.atoms[a_first .. a_end) */
} rhitword;

/* Where a term's occurrences are in rscan.occ. */
typedef struct rtermocc {
    int32_t term;
    uint32_t first, count;
} rtermocc;

/* Per-call scratch of the scan: the words that matched an atom and the
   occurrences of terms. Words that match nothing leave no trace. */
typedef struct rscan {
    rule_wordbuf wb;
    rhitword *hw;
    size_t n_hw, cap_hw;
    int32_t *atoms;
    size_t n_atoms, cap_atoms;
    rocc *occ;
    size_t n_occ, cap_occ;
    rtermocc *tmap;         /* the terms that occurred: open addressing, term -1 when empty */
    size_t tmap_mask;       /* slots - 1 (a power of two minus one) */
} rscan;

/* Returns how many occurrences term has (they are sc->occ[*first ..]). */
static inline uint32_t rule_scan_find(const rscan *sc, int32_t term, uint32_t *first)
{
    for (size_t i = ((uint32_t)term * 0x9E3779B1u) & sc->tmap_mask;; i = (i + 1) & sc->tmap_mask) {
        if (sc->tmap[i].term == term) {
            *first = sc->tmap[i].first;
            return sc->tmap[i].count;
        }
        if (sc->tmap[i].term < 0) {
            *first = 0;
            return 0;
        }
    }
}

/* Scans title and text and fills sc's occurrences, sorted by term, field, start. */
void rule_scan(const rule_set *rs, rscan *sc, const char *title, size_t title_len,
               const char *text, size_t text_len);
void rule_scan_free(rscan *sc);

/* rule_eval.c */
/* Computes which themes each term can wake (trig_* above). */
void rule_triggers_build(rule_set *rs);
void rule_triggers_free(rule_set *rs);

#endif
