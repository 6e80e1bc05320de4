/*
 * hs_compare: would Hyperscan find the terms faster than the rule
 * engine's own lookup? bench/rules/hs_compare.sh builds this against a
 * build tree and runs it on bench/rules/gen.py's input.
 *
 * Hyperscan cannot take the rule language's terms as they are: terms are
 * compared after Unicode normalisation (case folding, marks stripped,
 * ignorable characters dropped) and on word boundaries, which Hyperscan
 * offers only for ASCII, or for UTF-8 with HS_FLAG_UCP, whose Unicode \b
 * and caseless classes make large databases and slow scans. So the fair
 * question is about the step after normalisation: the text is cut into
 * normalised words either way (rule_words), then either each word is
 * looked up (the engine) or the normalised words, joined by spaces, are
 * scanned by Hyperscan for " word ", " prefix" and " phrase words "
 * literals. This program times, per pass over all files:
 *
 *   norm      rule_words alone, writing the normalised text
 *   hs        hs_scan of that text (literal database of every term)
 *   classify  rule_set_classify: normalise, look up, match phrases,
 *             evaluate every theme, build the JSON of the hits
 *
 * and prints hs against classify - norm (what the engine spends after
 * normalising, evaluation included, so the comparison favours Hyperscan).
 *
 * usage: hs_compare RULES_DIR TERMS_FILE ARTICLE...
 */
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier/rule_norm.h"
#include "classifier/rules.h"
#include "common/nm_util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rule_words_fn: appends " word" for each word to an nm_buf. */
static void join_words(void *arg, const char *bytes, const rule_word *w, size_t n)
{
    nm_buf *b = arg;
    for (size_t i = 0; i < n; i++) {
        nm_buf_add(b, " ", 1);
        nm_buf_add(b, bytes + w[i].off, w[i].len);
    }
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
                    void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(size_t *)ctx;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hs_compare RULES_DIR TERMS_FILE ARTICLE...\n");
        return 2;
    }
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(argv[1], &d);
    rule_diags_clear(&d);
    if (!rs) {
        fprintf(stderr, "%s: rules refused\n", argv[1]);
        return 1;
    }
    /* Terms as ripgrep gets them (gen.py: a word, a prefix's stem, or two
       words), normalised like text; a stem is a prefix term. */
    char *terms_text;
    size_t terms_len;
    nm_err err;
    if (nm_read_file(argv[2], 0, &terms_text, &terms_len, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char **pats = NULL;
    size_t *lens = NULL;
    unsigned *ids = NULL, *flags = NULL;
    size_t n_pats = 0;
    rule_tokens tk;
    rule_tokens_init(&tk);
    for (char *line = strtok(terms_text, "\n"); line; line = strtok(NULL, "\n")) {
        rule_tokens_reset(&tk);
        rule_tokenize(&tk, line, strlen(line), 0);
        nm_buf b;
        nm_buf_init(&b);
        for (size_t i = 0; i < tk.n; i++) {
            nm_buf_add(&b, " ", 1);
            nm_buf_add(&b, rule_token_word(&tk, i), tk.v[i].norm_len);
        }
        nm_buf_add(&b, " ", 1);   /* whole words; a prefix term drops this below */
        pats = nm_xrealloc(pats, (n_pats + 2) * sizeof *pats);
        lens = nm_xrealloc(lens, (n_pats + 2) * sizeof *lens);
        ids = nm_xrealloc(ids, (n_pats + 2) * sizeof *ids);
        flags = nm_xrealloc(flags, (n_pats + 2) * sizeof *flags);
        lens[n_pats] = b.len;
        ids[n_pats] = (unsigned)n_pats;
        flags[n_pats] = 0;
        pats[n_pats++] = nm_buf_steal(&b);
        /* gen.py writes a prefix term's stem; as we cannot tell it from a
           word here, also look for the stem as a prefix: Hyperscan does
           more work, never less, than the real terms would need */
        if (tk.n == 1) {
            pats[n_pats] = nm_xstrndup(pats[n_pats - 1], lens[n_pats - 1] - 1);
            lens[n_pats] = lens[n_pats - 1] - 1;
            ids[n_pats] = (unsigned)n_pats;
            flags[n_pats] = 0;
            n_pats++;
        }
    }
    rule_tokens_free(&tk);
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    double t0 = now();
    if (hs_compile_lit_multi((const char *const *)pats, flags, ids, lens, (unsigned)n_pats, HS_MODE_BLOCK, NULL, &db,
                             &cerr) != HS_SUCCESS) {
        fprintf(stderr, "hs_compile_lit_multi: %s\n", cerr ? cerr->message : "?");
        return 1;
    }
    double t_compile = now() - t0;
    hs_scratch_t *scratch = NULL;
    hs_alloc_scratch(db, &scratch);

    size_t n_files = (size_t)argc - 3, total = 0;
    char **texts = nm_xcalloc(n_files, sizeof *texts);
    size_t *tlens = nm_xcalloc(n_files, sizeof *tlens);
    for (size_t i = 0; i < n_files; i++) {
        if (nm_read_file(argv[3 + i], 0, &texts[i], &tlens[i], &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        total += tlens[i];
    }
    double best_norm = 1e9, best_hs = 1e9, best_cls = 1e9;
    size_t hs_matches = 0, hits = 0;
    for (int round = 0; round < 5; round++) {
        rule_wordbuf wb = { NULL, 0 };
        nm_buf joined;
        nm_buf_init(&joined);
        double norm = 0, hs = 0;
        hs_matches = 0;
        for (size_t i = 0; i < n_files; i++) {
            joined.len = 0;
            t0 = now();
            rule_words(&wb, texts[i], tlens[i], 0, join_words, &joined);
            nm_buf_add(&joined, " ", 1);
            double t1 = now();
            hs_scan(db, joined.data, (unsigned)joined.len, 0, scratch, on_match, &hs_matches);
            double t2 = now();
            norm += t1 - t0;
            hs += t2 - t1;
        }
        rule_wordbuf_free(&wb);
        nm_buf_free(&joined);
        t0 = now();
        hits = 0;
        for (size_t i = 0; i < n_files; i++) {
            nm_article a;
            nm_article_init(&a);
            a.text = texts[i];
            nm_theme_hit *h;
            size_t nh;
            rule_set_classify(rs, &a, &h, &nh);
            hits += nh;
            rule_hits_free(&h, nh);
        }
        double cls = now() - t0;
        best_norm = norm < best_norm ? norm : best_norm;
        best_hs = hs < best_hs ? hs : best_hs;
        best_cls = cls < best_cls ? cls : best_cls;
    }
    double mb = (double)total / 1e6;
    printf("input: %.1f MB in %zu files; %zu Hyperscan literals (compiled in %.3f s); best of 5, CPU time\n", mb,
           n_files, n_pats, t_compile);
    printf("normalise (rule_words)          %7.3f s  %7.1f MB/s\n", best_norm, mb / best_norm);
    printf("hs_scan of the normalised text  %7.3f s  %7.1f MB/s  (%zu literal matches)\n", best_hs, mb / best_hs,
           hs_matches);
    printf("rule_set_classify (everything)  %7.3f s  %7.1f MB/s  (%zu theme hits)\n", best_cls, mb / best_cls, hits);
    printf("engine after normalising        %7.3f s  vs hs_scan %.3f s: Hyperscan is %.2fx %s\n", best_cls - best_norm,
           best_hs, best_hs > best_cls - best_norm ? best_hs / (best_cls - best_norm) : (best_cls - best_norm) / best_hs,
           best_hs > best_cls - best_norm ? "slower" : "faster");
    hs_free_scratch(scratch);
    hs_free_database(db);
    for (size_t i = 0; i < n_pats; i++)
        free(pats[i]);
    free(pats);
    free(lens);
    free(ids);
    free(flags);
    for (size_t i = 0; i < n_files; i++)
        free(texts[i]);
    free(texts);
    free(tlens);
    free(terms_text);
    rule_set_destroy(&rs);
    return 0;
}
