/*
 * fuzz_rules: the rule language's loader (classifier/rules.h) on arbitrary
 * bytes: lexer, parser, define resolution, compiler and, for every input
 * that loads, the matcher built from it.
 *
 * The input is one rules file ("fuzz.rules"). A rule set that loads is
 * queried (stats, version) and run on a fixed article in six languages,
 * through both rule_set_classify and rule_set_evaluate, so a fuzzed rule
 * set also exercises the matcher and the theme evaluation it compiles to.
 * Loading must be all or nothing: a NULL set with no error diagnostic, or
 * a set despite an error, aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/rules.h"

static nm_article article;

static void free_article(void)
{
    nm_article_clear(&article);
}

/* Called once by libFuzzer before the first input. Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nm_article_init(&article);
    article.id = nm_xstrdup("urn:fuzz:1");
    article.link = nm_xstrdup("https://www.lrt.lt/en/news-in-english/19/1");
    article.feed = nm_xstrdup("https://www.lrt.lt/rss");
    article.lang = nm_xstrdup("en");
    article.title = nm_xstrdup("Lithuania's VSD: Belarusian KGB recruits relatives of the diaspora");
    article.summary = nm_xstrdup("Минск и Лукашенко: ёлка, спецслужбы; Białoruś — szpieg; Baltarusijos žvalgyba.");
    article.text = nm_xstrdup("The State Security Department said the KGB of Belarus tried to recruit\n"
                              "family members of Belarusians living in Vilnius. Drones and balloons\n"
                              "crossed the border near Astravets; sanctions, smuggling, N\xc2\xad" "ATO, "
                              "don\xe2\x80\x99t, 2024-05-01, Ghostwriter DDoS.");
    atexit(free_article);
    return 0;
}

/* Runs the loaded set on the fixed article and frees what it returns. */
static void use_set(const rule_set *rs)
{
    rule_set_stats st;
    rule_set_get_stats(rs, &st);
    if (strlen(rule_set_version(rs)) != 64) {
        fprintf(stderr, "fuzz_rules: rule-set version is not a SHA-256 in hex\n");
        abort();
    }
    nm_theme_hit *hits = NULL;
    size_t n = 0;
    rule_set_classify(rs, &article, &hits, &n);
    rule_hits_free(&hits, n);
    rule_eval *ev = rule_set_evaluate(rs, &article);
    rule_eval_destroy(&ev);
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rule_file f = { "fuzz.rules", (const char *)data, size };
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load_files(&f, 1, &d);
    if ((rs != NULL) != (d.n_errors == 0)) {
        fprintf(stderr, "fuzz_rules: load returned %s with %zu errors\n", rs ? "a set" : "NULL", d.n_errors);
        abort();
    }
    for (size_t i = 0; i < d.n; i++)
        if (!d.items[i].text || strlen(d.items[i].text) == 0)
            abort();
    if (rs)
        use_set(rs);
    rule_set_destroy(&rs);
    rule_diags_clear(&d);
    return 0;
}
