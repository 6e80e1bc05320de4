/*
 * Tests of the rule language's operators and of classification
 * (classifier/rules.h): words, prefixes, phrases, AND/OR/NOT and their
 * precedence, NEAR, ATLEAST, scopes, lang:, source:, defines across
 * files, exclude, scores and thresholds, and the reported matches, on
 * English, Russian, Belarusian, Ukrainian, Lithuanian and Polish text.
 */
#include <string.h>

#include "classifier/rules.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

/* Loads one rule file from text; fails the test on any error. */
static rule_set *load(const char *text)
{
    rule_diags d;
    rule_diags_init(&d);
    rule_file f = { "t.rules", text, strlen(text) };
    rule_set *rs = rule_set_load_files(&f, 1, &d);
    ck_assert_msg(rs != NULL, "rules refused: %s", d.n ? d.items[0].text : "?");
    rule_diags_clear(&d);
    return rs;
}

/* Returns the number of themes that fire on a. */
static size_t fired(const rule_set *rs, const nm_article *a, nm_theme_hit **out_hits)
{
    nm_theme_hit *hits;
    size_t n;
    ck_assert_int_eq(rule_set_classify(rs, a, &hits, &n), 0);
    if (out_hits)
        *out_hits = hits;
    else
        rule_hits_free(&hits, n);
    return n;
}

/* Returns whether "match EXPR" fires on the article (title, text, lang, link). */
static bool fires_on(const char *expr, const char *title, const char *text, const char *lang, const char *link)
{
    char *rules = nm_xasprintf("theme t\n  severity low\n  match %s\n", expr);
    rule_set *rs = load(rules);
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("x");
    a.title = nm_xstrdup(title);
    a.text = nm_xstrdup(text);
    a.lang = nm_xstrdup(lang);
    a.link = nm_xstrdup(link);
    bool yes = fired(rs, &a, NULL) == 1;
    nm_article_clear(&a);
    rule_set_destroy(&rs);
    free(rules);
    return yes;
}

static bool fires(const char *expr, const char *text)
{
    return fires_on(expr, "", text, NULL, NULL);
}

START_TEST(words_and_prefixes)
{
    ck_assert(fires("kgb", "The KGB said"));
    ck_assert(!fires("kgb", "The KGBs said"));
    ck_assert(fires("lukashenk*", "Lukashenko's men"));
    ck_assert(fires("лукашенк*", "Лукашенко заявил"));
    ck_assert(fires("лукашэнк*", "Лукашэнка сказаў"));          /* Belarusian */
    ck_assert(fires("білорус*", "Білоруські військові"));        /* Ukrainian */
    ck_assert(fires("baltarus*", "Baltarusijos pasieniečiai"));  /* Lithuanian */
    ck_assert(fires("białoru*", "Białoruś grozi"));              /* Polish */
    ck_assert(fires("bialoru*", "BIAŁORUŚ grozi"));              /* ł = l either way */
    ck_assert(fires("recruit*", "recruit"));                     /* the prefix itself is a word */
    ck_assert(!fires("recruit*", "a recruter"));
    ck_assert(fires("ёлка", "ЕЛКА"));
    ck_assert(fires("žvalgyba", "Zvalgyba"));
    ck_assert(fires("Mińsk", "MINSK"));
    ck_assert(fires("lukashenko", "Lu\xc2\xadkashenko"));        /* soft hyphen */
    ck_assert(fires("lukashenko's", "Lukashenko’s"));            /* ’ = ' */
    ck_assert(!fires("lukashenko", "Lukashenko’s"));             /* the apostrophe stays in the word */
}
END_TEST

START_TEST(phrases)
{
    ck_assert(fires("\"state security department\"", "the State  Security\nDepartment said"));
    ck_assert(!fires("\"state security department\"", "state department of security"));
    ck_assert(fires("\"intelligence service*\"", "Belarusian intelligence services"));
    ck_assert(fires("\"органы госбезопасност*\"", "органы госбезопасности"));
    ck_assert(fires("\"e-mail\"", "send an e mail"));              /* a term of two words */
    ck_assert(!fires("\"spy film\"", "spy a film"));
    ck_assert(fires("\"spy film\"", "spy, film"));                 /* punctuation is not a word */
}
END_TEST

START_TEST(boolean_precedence)
{
    ck_assert(fires("a AND b", "b x a"));
    ck_assert(!fires("a AND b", "a"));
    ck_assert(fires("a OR b", "b"));
    ck_assert(fires("NOT a", "b"));
    ck_assert(!fires("NOT a", "a"));
    /* NOT binds tighter than AND, AND tighter than OR */
    ck_assert(fires("a AND NOT b OR c", "c b"));        /* (a AND (NOT b)) OR c */
    ck_assert(!fires("a AND NOT b OR c", "a b"));
    ck_assert(fires("a OR b AND c", "a"));              /* a OR (b AND c) */
    ck_assert(!fires("(a OR b) AND c", "a"));
    ck_assert(fires("NOT (a OR b) OR c", "c a"));
    ck_assert(fires("NOT NOT a", "a"));
}
END_TEST

START_TEST(near)
{
    ck_assert(fires("recruit* NEAR/2 (relative* OR family)", "recruited the family"));
    ck_assert(fires("recruit* NEAR/2 (relative* OR family)", "family members were recruited"));  /* either order */
    ck_assert(!fires("recruit* NEAR/1 family", "recruited the whole family"));
    ck_assert(fires("recruit* NEAR/2 family", "recruited the whole family"));
    ck_assert(fires("a NEAR/0 b", "a b"));
    ck_assert(!fires("a NEAR/0 b", "a x b"));
    ck_assert(fires("\"state security\" NEAR/1 kgb", "KGB and state security"));
    ck_assert(!fires("kgb NEAR/5 minsk", "KGB"));
    ck_assert(!fires("kgb NEAR/5 kgb", "KGB"));                    /* one word is not two occurrences */
    ck_assert(fires("kgb NEAR/5 kgb", "KGB and KGB"));
    ck_assert(fires("вербов* NEAR/3 (родственник* OR семь*)", "вербовали родственников"));
    ck_assert(!fires_on("a NEAR/3 b", "a", "b", NULL, NULL));     /* fields are not neighbours */
    ck_assert(fires("define_me NEAR/1 x OR y", "y"));              /* NEAR binds tighter than OR */
}
END_TEST

START_TEST(atleast)
{
    ck_assert(fires("ATLEAST 2 OF (drone*, balloon*, airspace)", "drones entered the airspace"));
    ck_assert(!fires("ATLEAST 2 OF (drone*, balloon*, airspace)", "drones and more drones"));
    ck_assert(fires("ATLEAST 1 OF (a AND b, c)", "c"));
    ck_assert(fires("ATLEAST 3 OF (a, \"b c\", d OR e)", "a b c e"));
}
END_TEST

START_TEST(scopes)
{
    ck_assert(fires_on("title:(kgb)", "KGB", "nothing", NULL, NULL));
    ck_assert(!fires_on("title:(kgb)", "nothing", "KGB", NULL, NULL));
    ck_assert(fires_on("text:(kgb)", "x", "KGB", NULL, NULL));
    ck_assert(!fires_on("text:(kgb)", "KGB", "x", NULL, NULL));
    ck_assert(fires_on("title:kgb AND text:\"state security\"", "KGB", "state security", NULL, NULL));
    ck_assert(fires_on("kgb", "KGB", "", NULL, NULL));   /* no scope: both */
    ck_assert(fires_on("lang:ru AND x", "x", "", "ru", NULL));
    ck_assert(fires_on("lang:ru", "", "", "ru-RU", NULL));
    ck_assert(fires_on("lang:ru", "", "", "RU_ru", NULL));
    ck_assert(!fires_on("lang:ru", "", "", "rue", NULL));
    ck_assert(!fires_on("lang:ru", "", "", NULL, NULL));
    ck_assert(fires_on("lang:pt-BR", "", "", "pt-br", NULL));
    ck_assert(fires_on("source:lrt.lt", "", "", NULL, "https://www.lrt.lt/naujienos/1"));
    ck_assert(fires_on("source:lrt.lt", "", "", NULL, "http://LRT.LT:8080/x"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "https://notlrt.lt/x"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "https://example.com/lrt.lt"));
    /* the host as common/nm_url.c reads it: user info, port, a final dot,
       case; subdomains match, look-alikes and hosts in the query do not */
    ck_assert(fires_on("source:lrt.lt", "", "", NULL, "https://user:pw@news.LRT.lt.:443/x?y#z"));
    ck_assert(fires_on("source:lrt.lt", "", "", NULL, "https://lrt.lt#top"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "https://lrt.lt.example.com/"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "https://example.com/?u=https://lrt.lt/"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "https://example.com@/lrt.lt"));
    ck_assert(!fires_on("source:lrt.lt", "", "", NULL, "not a url"));
}
END_TEST

/* The scan skips themes none of whose match terms occurred; themes that
   can hold without any term must still be evaluated. */
START_TEST(themes_that_need_no_term)
{
    ck_assert(fires("NOT spy", "nothing here"));
    ck_assert(!fires("NOT spy", "a spy"));
    ck_assert(fires("ATLEAST 1 OF (spy, NOT film)", "nothing"));
    ck_assert(!fires("ATLEAST 2 OF (spy, NOT film)", "nothing"));
    ck_assert(fires("title:(NOT spy) AND text:(NOT film)", ""));
    ck_assert(fires_on("source:lrt.lt OR spy", "", "", NULL, "https://www.lrt.lt/"));
    ck_assert(fires_on("lang:be AND NOT (spy NEAR/2 film)", "", "", "be", NULL));
    ck_assert(fires("\"spy film\" OR NOT kgb", "film"));
}
END_TEST

static size_t classify_text(const rule_set *rs, const char *title, const char *summary, const char *text,
                            nm_theme_hit **hits);

START_TEST(themes_woken_by_their_own_terms)
{
    rule_set *rs = load("define SPY = spy*\n"
                        "theme a\n  severity low\n  match $SPY\n"
                        "theme b\n  severity low\n  match film AND NOT $SPY\n"
                        "theme c\n  severity low\n  match \"state security\" NEAR/3 film\n"
                        "theme d\n  severity low\n  match kgb\n  score 1 film\n  threshold 1\n");
    nm_theme_hit *hits;
    ck_assert_uint_eq(classify_text(rs, "", "", "a film", &hits), 1);
    ck_assert_str_eq(hits[0].id, "b");
    rule_hits_free(&hits, 1);
    ck_assert_uint_eq(classify_text(rs, "Spying", "", "a film about state security", &hits), 2);
    ck_assert_str_eq(hits[0].id, "a");
    ck_assert_str_eq(hits[1].id, "c");
    rule_hits_free(&hits, 2);
    ck_assert_uint_eq(classify_text(rs, "film", "", "KGB", &hits), 2);
    ck_assert_str_eq(hits[0].id, "b");
    ck_assert_str_eq(hits[1].id, "d");
    rule_hits_free(&hits, 2);
    ck_assert_uint_eq(classify_text(rs, "", "", "kgb", NULL), 0);
    rule_set_destroy(&rs);
}
END_TEST

START_TEST(source_from_feed)
{
    rule_set *rs = load("theme t\n  severity low\n  match source:belsat.eu AND NOT lang:en\n");
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("x");
    a.feed = nm_xstrdup("https://naviny.belsat.eu/feed/");
    a.lang = nm_xstrdup("be");
    ck_assert_uint_eq(fired(rs, &a, NULL), 1);
    nm_article_clear(&a);
    rule_set_destroy(&rs);
}
END_TEST

static const char *desk =
    "# the example of DESIGN.md\n"
    "define BELARUS = belarus* OR minsk OR lukashenk* OR беларус* OR белорус*\n"
    "                 OR минск* OR лукашенк* OR лукашэнк* OR baltarus* OR białoru* OR білорус*\n"
    "\n"
    "theme espionage\n"
    "  title     Espionage and recruitment\n"
    "  severity  high\n"
    "  match     $BELARUS AND (recruit* OR spy OR spies OR \"intelligence service*\" OR KGB OR FSB OR GRU)\n"
    "  exclude   \"spy thriller\" OR \"spy film\"\n"
    "  score 3   \"state security department\" OR VSD\n"
    "  score 2   recruit* NEAR/5 (relative* OR family OR diaspora)\n"
    "  threshold 3\n";

static size_t classify_text(const rule_set *rs, const char *title, const char *summary, const char *text,
                            nm_theme_hit **hits)
{
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("x");
    a.title = nm_xstrdup(title);
    a.summary = nm_xstrdup(summary);
    a.text = nm_xstrdup(text);
    size_t n = fired(rs, &a, hits);
    nm_article_clear(&a);
    return n;
}

START_TEST(theme_scores_and_exclude)
{
    rule_set *rs = load(desk);
    nm_theme_hit *hits;
    /* match alone: score 0 < 3 */
    ck_assert_uint_eq(classify_text(rs, "Belarus KGB", NULL, "The KGB of Belarus is active.", NULL), 0);
    /* score 2 only */
    ck_assert_uint_eq(classify_text(rs, "Belarus", NULL, "KGB tried to recruit family members.", NULL), 0);
    /* 3 + 2 */
    size_t n = classify_text(rs, "Baltarusijos KGB", "VSD warns.",
                             "The KGB tried to recruit family members of the diaspora.", &hits);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(hits[0].id, "espionage");
    ck_assert_str_eq(hits[0].severity, "high");
    ck_assert_int_eq(hits[0].score, 5);
    rule_hits_free(&hits, n);
    /* exclude wins */
    ck_assert_uint_eq(classify_text(rs, "Belarus spy film", "VSD", "a spy film about the KGB", NULL), 0);
    rule_set_destroy(&rs);
}
END_TEST

START_TEST(matches_report_original_text)
{
    rule_set *rs = load(desk);
    nm_theme_hit *hits;
    const char *summary = "Служба VSD:";
    size_t n = classify_text(rs, "Лукашэнка і «KGB»", summary, "Белорусский КГБ… вербовал семьи; the KGB recruited", &hits);
    ck_assert_uint_eq(n, 1);
    json_t *m = hits[0].matches;
    ck_assert(json_array_size(m) >= 4);
    json_t *first = json_array_get(m, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "term")), "лукашэнк*");
    ck_assert_str_eq(json_string_value(json_object_get(first, "field")), "title");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "offset")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "text")), "Лукашэнка");
    json_t *second = json_array_get(m, 1);
    ck_assert_str_eq(json_string_value(json_object_get(second, "text")), "KGB");
    ck_assert_int_eq(json_integer_value(json_object_get(second, "offset")), (json_int_t)strlen("Лукашэнка і «"));
    /* the text field is the summary, a blank line, then the page text */
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(m, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "text")), "Белорусский") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(x, "field")), "text");
            ck_assert_int_eq(json_integer_value(json_object_get(x, "offset")), (json_int_t)strlen(summary) + 2);
            found = true;
        }
    }
    ck_assert(found);
    rule_hits_free(&hits, n);
    rule_set_destroy(&rs);
}
END_TEST

START_TEST(defines_across_files_and_version)
{
    const char *a = "define BY = belarus* OR беларус*\n";
    const char *b = "theme t\n  severity info\n  match $BY AND $X\n";
    const char *c = "define X = sanction*\n  OR санкц*\n";
    rule_file files[] = { { "b.rules", b, strlen(b) }, { "a.rules", a, strlen(a) }, { "c.rules", c, strlen(c) } };
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load_files(files, 3, &d);
    ck_assert_ptr_nonnull(rs);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(strlen(rule_set_version(rs)), 64);
    ck_assert_uint_eq(classify_text(rs, "Новые санкции против Беларуси", NULL, NULL, NULL), 1);
    /* the version depends on content, not on the order given */
    rule_file rev[] = { files[2], files[1], files[0] };
    rule_set *rs2 = rule_set_load_files(rev, 3, NULL);
    ck_assert_str_eq(rule_set_version(rs), rule_set_version(rs2));
    rule_set_destroy(&rs2);
    const char *c2 = "define X = sanction*\n  OR санкц* OR embargo\n";
    files[2].text = c2;
    files[2].len = strlen(c2);
    rs2 = rule_set_load_files(files, 3, NULL);
    ck_assert_str_ne(rule_set_version(rs), rule_set_version(rs2));
    rule_set_destroy(&rs2);
    rule_set_destroy(&rs);
    rule_diags_clear(&d);
}
END_TEST

START_TEST(evaluate_explains)
{
    rule_set *rs = load(desk);
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("x");
    a.title = nm_xstrdup("Belarus KGB spy film");
    a.text = nm_xstrdup("VSD");
    rule_eval *ev = rule_set_evaluate(rs, &a);
    ck_assert_uint_eq(ev->n_themes, 1);
    rule_theme_eval *t = &ev->themes[0];
    ck_assert(!t->fired);
    ck_assert(t->match_held);
    ck_assert(t->exclude_held);
    ck_assert_int_eq(t->score, 3);
    ck_assert_uint_eq(t->n_scores, 2);
    ck_assert(t->scores[0].held);
    ck_assert(!t->scores[1].held);
    ck_assert_str_eq(t->scores[1].expr, "recruit* NEAR/5 (relative* OR family OR diaspora)");
    ck_assert_uint_eq(json_array_size(t->exclude_matches), 1);
    rule_eval_destroy(&ev);
    ck_assert_ptr_null(ev);
    nm_article_clear(&a);
    rule_set_destroy(&rs);
}
END_TEST

START_TEST(no_threshold_and_continuations)
{
    rule_set *rs = load("theme a\n  title Border\n    incidents\n  severity medium\n  match border\n"
                        "    OR граница # a comment\n    OR granic*\n\ntheme b\n  severity low\n  match x\n");
    ck_assert_uint_eq(classify_text(rs, "", NULL, "На границе", NULL), 0);   /* граница ≠ границе */
    ck_assert_uint_eq(classify_text(rs, "", NULL, "Na granicy", NULL), 1);
    ck_assert_uint_eq(classify_text(rs, "", NULL, "граница", NULL), 1);
    rule_eval *ev = rule_set_evaluate(rs, &(nm_article){ .id = "x" });
    ck_assert_str_eq(ev->themes[0].title, "Border incidents");
    ck_assert_str_eq(ev->themes[1].title, "b");
    rule_eval_destroy(&ev);
    rule_set_destroy(&rs);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rule_eval");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, words_and_prefixes);
    tcase_add_test(tc, phrases);
    tcase_add_test(tc, boolean_precedence);
    tcase_add_test(tc, near);
    tcase_add_test(tc, atleast);
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, source_from_feed);
    tcase_add_test(tc, themes_that_need_no_term);
    tcase_add_test(tc, themes_woken_by_their_own_terms);
    tcase_add_test(tc, theme_scores_and_exclude);
    tcase_add_test(tc, matches_report_original_text);
    tcase_add_test(tc, defines_across_files_and_version);
    tcase_add_test(tc, evaluate_explains);
    tcase_add_test(tc, no_threshold_and_continuations);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
