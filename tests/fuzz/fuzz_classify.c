/*
 * fuzz_classify: classification (classifier/rules.h) of a fuzzed article
 * with a fixed small rule set that uses every construct of the language:
 * words, prefixes, phrases with prefixes, AND/OR/NOT, NEAR/n, ATLEAST,
 * title:/text: scopes, lang: and source:, defines, exclude, score lines
 * and thresholds.
 *
 * Input layout, so that tests/data/themes/articles/ are seeds as they are:
 * the first line is the title, the rest up to the first NUL byte the page
 * text; after that, NUL-separated, the summary, the lang tag and the link.
 * Every input is both classified and evaluated, and every match reported
 * must point inside the field it names.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/rules.h"

static rule_set *rules;

static const char rules_text[] =
    "define BY = belarus* OR minsk OR lukashenk* OR беларус* OR белорус* OR минск*\n"
    "          OR baltarus* OR białoru* OR білорус*\n"
    "define SPY = spy OR spies OR kgb OR \"intelligence service*\" OR шпион* OR šnip*\n"
    "theme espionage\n"
    "  title     Espionage\n"
    "  severity  high\n"
    "  match     $BY AND ($SPY OR recruit*)\n"
    "  exclude   \"spy thriller\" OR \"spy film\"\n"
    "  score 3   \"state security department\" OR vsd\n"
    "  score 2   recruit* NEAR/5 (relative* OR family OR diaspora)\n"
    "  score 1   title:($SPY)\n"
    "  threshold 3\n"
    "theme airspace\n"
    "  title     Airspace\n"
    "  severity  medium\n"
    "  match     $BY AND ATLEAST 2 OF (drone*, balloon*, airspace, \"air space\", дрон*)\n"
    "theme local\n"
    "  title     Local sources\n"
    "  severity  info\n"
    "  match     (lang:ru OR lang:be OR source:lrt.lt) AND text:($BY NEAR/0 border*)\n"
    "            AND NOT title:(football OR hockey)\n";

static void free_rules(void)
{
    rule_set_destroy(&rules);
}

/* Called once by libFuzzer before the first input. Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rule_file f = { "fuzz.rules", rules_text, sizeof rules_text - 1 };
    rule_diags d;
    rule_diags_init(&d);
    rules = rule_set_load_files(&f, 1, &d);
    if (!rules || d.n_warnings) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.items[i].text);
        fprintf(stderr, "fuzz_classify: the built-in rule set does not load cleanly\n");
        abort();
    }
    rule_diags_clear(&d);
    atexit(free_rules);
    return 0;
}

/* Returns a copy of [p, end) up to the next NUL (or NULL when p is past
   end) and moves *pp past that NUL. */
static char *next_part(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p > end)
        return NULL;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    const char *stop = nul ? nul : end;
    *pp = stop + 1;
    return nm_xstrndup(p, (size_t)(stop - p));
}

/* Aborts when a match of hit h does not lie inside the field it names. */
static void check_matches(const json_t *matches, const nm_article *a, size_t text_len)
{
    size_t i;
    const json_t *m;
    json_array_foreach(matches, i, m) {
        const char *field = json_string_value(json_object_get(m, "field"));
        const json_t *off = json_object_get(m, "offset");
        if (!field || !json_is_integer(off) || !json_is_string(json_object_get(m, "term"))) {
            fprintf(stderr, "fuzz_classify: malformed match object\n");
            abort();
        }
        json_int_t o = json_integer_value(off);
        size_t limit = !strcmp(field, "title") ? strlen(a->title) : text_len;
        if (o < 0 || (size_t)o > limit) {
            fprintf(stderr, "fuzz_classify: match offset %lld outside field %s (%zu bytes)\n",
                    (long long)o, field, limit);
            abort();
        }
    }
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("urn:fuzz:article");
    const char *nl = memchr(p, '\n', size);
    const char *nul = memchr(p, '\0', size);
    const char *title_end = nl && (!nul || nl < nul) ? nl : nul ? nul : end;
    a.title = nm_xstrndup(p, (size_t)(title_end - p));
    p = title_end < end && *title_end == '\n' ? title_end + 1 : title_end;
    a.text = next_part(&p, end);
    a.summary = next_part(&p, end);
    a.lang = next_part(&p, end);
    a.link = next_part(&p, end);
    a.feed = nm_xstrdup("https://www.lrt.lt/rss");

    /* Offsets in "text" count from the start of the summary (rules.h). */
    size_t text_len = (a.summary ? strlen(a.summary) + 2 : 0) + (a.text ? strlen(a.text) : 0);

    nm_theme_hit *hits = NULL;
    size_t n = 0;
    rule_set_classify(rules, &a, &hits, &n);
    for (size_t i = 0; i < n; i++) {
        if (!json_is_array(hits[i].matches) || json_array_size(hits[i].matches) > RULE_MAX_MATCHES)
            abort();
        check_matches(hits[i].matches, &a, text_len);
    }
    rule_hits_free(&hits, n);

    rule_eval *ev = rule_set_evaluate(rules, &a);
    size_t fired = 0;
    for (size_t i = 0; i < ev->n_themes; i++)
        fired += ev->themes[i].fired;
    if (fired != n) {
        fprintf(stderr, "fuzz_classify: classify fired %zu themes, evaluate %zu\n", n, fired);
        abort();
    }
    rule_eval_destroy(&ev);
    nm_article_clear(&a);
    return 0;
}
