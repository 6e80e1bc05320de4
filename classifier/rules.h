/*
 * rules: the public face of the rule language (docs/rules.md). A rules
 * folder is loaded into an immutable rule_set: every term of every theme
 * is compiled into one matcher, so classifying an article is one pass over
 * its normalised words followed by the evaluation of each theme on the
 * per-term match lists. Because a loaded rule_set never changes, any
 * number of threads may classify with it at once, and the classifier
 * daemon reloads by building a new set and swapping a pointer.
 *
 * Loading reports every error and warning of the folder at once, each as
 * a formatted multi-line string ("file:line:col: error: message", the
 * source line, a caret under the spot); a folder with any error is
 * refused whole.
 */
#ifndef RULES_H
#define RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_msg.h"

typedef struct rule_set rule_set;

/* One diagnostic: is_error false means a warning. text is the formatted
   message with its source line and caret, ending without a newline. */
typedef struct rule_diag {
    bool is_error;
    char *text;
} rule_diag;

typedef struct rule_diags {
    rule_diag *items;
    size_t n;
    size_t n_errors;
    size_t n_warnings;
} rule_diags;

void rule_diags_init(rule_diags *d);
void rule_diags_clear(rule_diags *d);

/* One rule file given in memory (for tests and tools): name is what
   diagnostics print, text need not be NUL-terminated. */
typedef struct rule_file {
    const char *name;
    const char *text;
    size_t len;
} rule_file;

/* Upper bound on one rule file, so a stray huge file is refused early. */
#define RULE_FILE_LIMIT (16u * 1024 * 1024)

/* Loads every "*.rules" file of dir (sorted by name; hidden files are
   skipped). Returns the compiled rule set, or NULL when the folder has
   any error. Diagnostics (errors and warnings, in file order) are added
   to diags when it is not NULL. */
rule_set *rule_set_load(const char *dir, rule_diags *diags);
/* Same, from files in memory (names are used as given). */
rule_set *rule_set_load_files(const rule_file *files, size_t n, rule_diags *diags);
void rule_set_destroy(rule_set **rs);

/* Returns the rule-set version: the SHA-256 (hex) of the files' names and
   contents in name order. Borrowed, valid while rs lives. */
const char *rule_set_version(const rule_set *rs);

typedef struct rule_set_stats {
    size_t themes;
    size_t defines;
    size_t terms;      /* distinct terms (words, prefixes, phrases) */
    size_t files;
} rule_set_stats;
void rule_set_get_stats(const rule_set *rs, rule_set_stats *st);

/* Classifies a: title, text (summary and page text, joined by a blank
   line: offsets in "text" matches count from the start of the summary),
   lang, and source (hosts of link and feed). Sets *hits to a new array of
   the themes that fired, in rule order, and *n_hits to its length (the
   array is NULL when none fired). Each hit's matches is a JSON array of
   {"term","field","offset","text"} with at most RULE_MAX_MATCHES items.
   Free with rule_hits_free. Returns 0 (classification cannot fail). */
#define RULE_MAX_MATCHES 64
int rule_set_classify(const rule_set *rs, const nm_article *a, nm_theme_hit **hits, size_t *n_hits);
void rule_hits_free(nm_theme_hit **hits, size_t n_hits);

/* The detailed evaluation of one theme, for `newsmonctl rules test`. */
typedef struct rule_score_eval {
    int64_t weight;
    bool held;
    char *expr;        /* the score line's expression as written */
    char *where;       /* "file:line" */
} rule_score_eval;

typedef struct rule_theme_eval {
    char *id;
    char *title;
    char *severity;
    char *where;           /* "file:line" of the theme line */
    bool fired;
    bool match_held;
    bool has_exclude;
    bool exclude_held;
    int64_t score;         /* sum of the weights of the score lines that held */
    int64_t threshold;
    rule_score_eval *scores;
    size_t n_scores;
    json_t *matches;          /* terms that held under match and score lines (same shape as hits) */
    json_t *exclude_matches;  /* terms that held under exclude */
} rule_theme_eval;

typedef struct rule_eval {
    rule_theme_eval *themes;   /* every theme, in rule order */
    size_t n_themes;
    char *title;               /* the texts the offsets refer to */
    char *text;
} rule_eval;

/* Returns the evaluation of every theme on a (never NULL); free with rule_eval_destroy. */
rule_eval *rule_set_evaluate(const rule_set *rs, const nm_article *a);
void rule_eval_destroy(rule_eval **ev);

#endif
