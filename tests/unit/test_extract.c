/*
 * Tests of the page extractor (fetcher/extract.c): the five sample
 * articles wrapped in site chrome (tests/data/extract/samples), Cyrillic
 * pages in koi8-r, windows-1251 and no declared charset
 * (tests/data/extract/charset), metadata, fallbacks, and hostile input.
 */
#include <stdlib.h>
#include <string.h>

#include "fetcher/extract.h"
#include "fetcher/site_rules.h"
#include "tests/unit/nm_check.h"

static char *slurp(const char *rel, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    nm_err err;
    ck_assert_msg(nm_read_file(nm_test_path(rel), 0, &data, &n, &err) == 0, "%s", err.msg);
    if (len)
        *len = n;
    return data;
}

static void extract_file(const char *rel, const char *url, const char *cs, const struct site_rules *rules,
                         struct extract_result *r)
{
    size_t len;
    char *html = slurp(rel, &len);
    nm_err err;
    ck_assert_int_eq(extract_page(html, len, url, cs, rules, r, &err), 0);
    ck_assert_ptr_nonnull(r->text);
    free(html);
}

/* Returns true when some line of text equals s. */
static bool has_line(const char *text, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, s, n) == 0 && (p[n] == '\n' || p[n] == 0))
            return true;
    }
    return false;
}

/* Checks that every line of the .article.txt is in the text and no line of the .boilerplate.txt is. */
static void check_article(const char *base, const struct extract_result *r)
{
    char path[256];
    snprintf(path, sizeof path, "%s.article.txt", base);
    char *paras = slurp(path, NULL);
    int n = 0;
    for (char *line = strtok(paras, "\n"); line; line = strtok(NULL, "\n"), n++)
        ck_assert_msg(strstr(r->text, line), "%s: paragraph missing: %.80s", base, line);
    ck_assert_int_gt(n, 3);
    free(paras);
    snprintf(path, sizeof path, "%s.boilerplate.txt", base);
    char *boiler = slurp(path, NULL);
    for (char *line = strtok(boiler, "\n"); line; line = strtok(NULL, "\n")) {
        ck_assert_msg(!has_line(r->text, line), "%s: boilerplate left: %s", base, line);
        if (strlen(line) > 30)
            ck_assert_msg(!strstr(r->text, line), "%s: boilerplate left: %s", base, line);
    }
    free(boiler);
}

/* Returns the value of "key": "..." in a small flat JSON file (malloc'd). */
static char *json_field(const char *rel, const char *key)
{
    char *s = slurp(rel, NULL);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    char *p = strstr(s, pat);
    ck_assert_msg(p, "%s: no %s", rel, key);
    p += strlen(pat);
    char *v = nm_xstrndup(p, strcspn(p, "\""));
    free(s);
    return v;
}

START_TEST(test_samples)
{
    static const char *const pages[] = { "000", "001", "002", "003", "004" };
    char base[128], path[160];
    snprintf(base, sizeof base, "tests/data/extract/samples/%s", pages[_i]);
    snprintf(path, sizeof path, "%s.html", base);
    struct extract_result r;
    extract_file(path, "https://news.example/a/1", NULL, NULL, &r);
    ck_assert_str_eq(r.method, "readability");
    check_article(base, &r);
    snprintf(path, sizeof path, "%s.meta.json", base);
    char *title = json_field(path, "title"), *site = json_field(path, "site_name"), *by = json_field(path, "byline");
    ck_assert_str_eq(r.title, title);
    ck_assert_str_eq(r.site_name, site);
    ck_assert_str_eq(r.byline, by);
    ck_assert_str_eq(r.lang, "en");
    ck_assert_ptr_nonnull(r.published);
    ck_assert_int_eq(r.published[strlen(r.published) - 1], 'Z');
    ck_assert_str_eq(r.charset, "UTF-8");
    free(title);
    free(site);
    free(by);
    extract_result_clear(&r);
}
END_TEST

START_TEST(test_sample_published_utc)
{
    struct extract_result r;
    extract_file("tests/data/extract/samples/004.html", NULL, NULL, NULL, &r);
    ck_assert_str_eq(r.published, "2022-10-14T20:45:00Z"); /* 16:45 at -04:00 */
    extract_result_clear(&r);
}
END_TEST

START_TEST(test_charsets)
{
    static const char *const pages[] = { "ru-koi8r", "be-cp1251", "ru-undeclared" };
    char base[128], path[160];
    snprintf(base, sizeof base, "tests/data/extract/charset/%s", pages[_i]);
    snprintf(path, sizeof path, "%s.html", base);
    struct extract_result r;
    extract_file(path, NULL, NULL, NULL, &r);
    check_article(base, &r);
    snprintf(path, sizeof path, "%s.meta.json", base);
    char *title = json_field(path, "title"), *lang = json_field(path, "lang"), *cs = json_field(path, "charset");
    ck_assert_str_eq(r.title, title);
    ck_assert_str_eq(r.lang, lang);
    ck_assert_str_eq(r.charset, cs);
    free(title);
    free(lang);
    free(cs);
    extract_result_clear(&r);
}
END_TEST

START_TEST(test_http_charset_wins)
{
    /* The undeclared windows-1251 page, with the charset given by HTTP. */
    struct extract_result r;
    extract_file("tests/data/extract/charset/ru-undeclared.html", NULL, "Windows-1251", NULL, &r);
    ck_assert_str_eq(r.charset, "WINDOWS-1251");
    ck_assert_ptr_nonnull(strstr(r.text, "Правозащитники сообщают"));
    extract_result_clear(&r);
    /* A wrong HTTP charset on a page whose bytes can only be UTF-8 loses. */
    extract_file("tests/data/extract/samples/000.html", NULL, "koi8-r", NULL, &r);
    ck_assert_str_eq(r.charset, "UTF-8");
    ck_assert_ptr_nonnull(strstr(r.text, "“Russia”"));
    extract_result_clear(&r);
}
END_TEST

static void extract_str(const char *html, const char *url, const struct site_rules *rules, struct extract_result *r)
{
    nm_err err;
    ck_assert_int_eq(extract_page(html, strlen(html), url, NULL, rules, r, &err), 0);
}

START_TEST(test_title_and_meta)
{
    struct extract_result r;
    extract_str("<html lang=\"ru-RU\"><head><title>Учения у границы начались в понедельник | Новости Бреста</title>"
                "</head><body><article><p>Текст.</p></article>"
                "<time datetime=\"2024-05-06T07:08:09+03:00\">6 мая</time></body></html>",
                NULL, NULL, &r);
    ck_assert_str_eq(r.title, "Учения у границы начались в понедельник");
    ck_assert_str_eq(r.lang, "ru-RU");
    ck_assert_str_eq(r.published, "2024-05-06T04:08:09Z");
    ck_assert_ptr_null(r.site_name);
    extract_result_clear(&r);

    extract_str("<html><head><title>Site - Short</title>"
                "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@type\":\"NewsArticle\","
                "\"headline\":\"Drones crossed the border again\",\"author\":[{\"name\":\"A. Writer\"},{\"name\":\"B. Writer\"}],"
                "\"datePublished\":\"2024-01-02\",\"inLanguage\":\"lt\",\"publisher\":{\"name\":\"LRT\"}}</script>"
                "</head><body><p>x</p></body></html>",
                NULL, NULL, &r);
    ck_assert_str_eq(r.title, "Drones crossed the border again");
    ck_assert_str_eq(r.byline, "A. Writer, B. Writer");
    ck_assert_str_eq(r.published, "2024-01-02T00:00:00Z");
    ck_assert_str_eq(r.lang, "lt");
    ck_assert_str_eq(r.site_name, "LRT");
    extract_result_clear(&r);
}
END_TEST

/* Found by fuzz_extract: an empty or blank <title> was read past its end. */
START_TEST(test_empty_title)
{
    static const char *const pages[] = {
        "<html><head><title></title></head><body><p>Hello</p></body></html>",
        "<html><head><title>   </title></head><body><p>Hello</p></body></html>",
        "<html><head><title> | </title></head><body><p>Hello</p></body></html>",
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        struct extract_result r;
        extract_str(pages[i], NULL, NULL, &r);
        ck_assert_ptr_nonnull(strstr(r.text, "Hello"));
        extract_result_clear(&r);
    }
}
END_TEST

START_TEST(test_json_ld_body_fallback)
{
    struct extract_result r;
    extract_str("<html><head><script type=\"application/ld+json\">{\"@context\":\"http://schema.org\","
                "\"@type\":\"Article\",\"name\":\"T\",\"articleBody\":\"The plant at Astravets was shut down "
                "on Thursday. Officials gave no reason for the shutdown, the second this year.\"}</script>"
                "</head><body><div id=\"app\">Loading</div></body></html>",
                NULL, NULL, &r);
    ck_assert_str_eq(r.method, "json-ld articleBody");
    ck_assert_ptr_nonnull(strstr(r.text, "Astravets was shut down"));
    extract_result_clear(&r);
}
END_TEST

START_TEST(test_fallback_and_empty)
{
    struct extract_result r;
    extract_str("<html><body>Only a line of text.</body></html>", NULL, NULL, &r);
    ck_assert_str_eq(r.text, "Only a line of text.");
    extract_result_clear(&r);
    extract_str("", NULL, NULL, &r);
    ck_assert_str_eq(r.text, "");
    ck_assert_str_eq(r.method, "none");
    extract_result_clear(&r);
    nm_err err;
    ck_assert_int_eq(extract_page(NULL, 0, NULL, NULL, NULL, &r, &err), -1);
}
END_TEST

START_TEST(test_text_serialisation)
{
    struct extract_result r;
    const char *page = "<html><body><div class=\"article-body\">"
                       "<p>First   paragraph, with <b>bold</b>text &amp; an entity &eacute;, and enough words to count "
                       "as a paragraph of an article body, which needs length.</p>"
                       "<p>ADVERTISEMENT</p>"
                       "<p>Second paragraph<br>with a line break, and more words so that it also scores as article "
                       "text in the heuristics, with commas, many, of them.</p>"
                       "<pre>  code   kept\n  as is</pre>"
                       "<p>Third paragraph, long enough to be content: the border guards reported forty attempts "
                       "to cross the border over the weekend, officials said.</p>"
                       "</div></body></html>";
    extract_str(page, NULL, NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.text, "First paragraph, with boldtext & an entity é,"));
    ck_assert_ptr_nonnull(strstr(r.text, "length.\n\nSecond paragraph\nwith a line break"));
    ck_assert_ptr_nonnull(strstr(r.text, "  code   kept\n  as is"));
    ck_assert_ptr_null(strstr(r.text, "ADVERTISEMENT"));
    extract_result_clear(&r);
}
END_TEST

START_TEST(test_site_rules_apply)
{
    const char *rules_text = "# test rules\n"
                             "example.com   div.story-text, #extra\n"
                             "example.com   remove  .inline-promo\n";
    nm_err err;
    struct site_rules *rules = site_rules_parse(rules_text, strlen(rules_text), "test.conf", &err);
    ck_assert_msg(rules != NULL, "%s", err.msg);
    ck_assert_uint_eq(site_rules_count(rules), 1);
    const char *page = "<html><body><div class=\"main\"><p>Navigation text that the heuristics might take, "
                       "long, long, long, long, long, long, long, long, long, long, long, long.</p></div>"
                       "<div class=\"x story-text\"><p>The real story.</p><p class=\"inline-promo\">Buy now</p></div>"
                       "<p id=\"extra\">A second part.</p></body></html>";
    struct extract_result r;
    extract_str(page, "https://www.example.com/news/1", rules, &r);
    ck_assert_str_eq(r.method, "site-rule");
    ck_assert_str_eq(r.text, "The real story.\n\nA second part.");
    extract_result_clear(&r);
    /* Another host: the heuristics. */
    extract_str(page, "https://example.org/news/1", rules, &r);
    ck_assert_str_ne(r.method, "site-rule");
    extract_result_clear(&r);
    site_rules_destroy(&rules);
    ck_assert_ptr_null(rules);
}
END_TEST

START_TEST(test_site_rules_find)
{
    const char *t = "example.com .a\nnews.example.com .b\nexample.org .c\n";
    nm_err err;
    struct site_rules *rules = site_rules_parse(t, strlen(t), "t", &err);
    ck_assert_ptr_nonnull(rules);
    ck_assert_str_eq(site_rules_find(rules, "https://www.example.com/x")->host, "example.com");
    ck_assert_str_eq(site_rules_find(rules, "http://user@News.Example.com:8080/x")->host, "news.example.com");
    ck_assert_str_eq(site_rules_find(rules, "example.org")->host, "example.org");
    ck_assert_ptr_null(site_rules_find(rules, "https://badexample.com/"));
    ck_assert_ptr_null(site_rules_find(rules, NULL));
    site_rules_destroy(&rules);
}
END_TEST

START_TEST(test_css_to_xpath)
{
    nm_err err;
    static const char *const cases[][2] = {
        { "div", "//div" },
        { "article .body", "//article//*[contains(concat(' ',normalize-space(@class),' '),concat(' ','body',' '))]" },
        { "#main > P", "//*[@id='main']/p" },
        { "a[href], [data-x=\"it's\"]", "//a[@href] | //*[@data-x=\"it's\"]" },
        { "[title^=ab]", "//*[starts-with(@title,'ab')]" },
        { "*", "//*" },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(cases); i++) {
        char *x = site_css_to_xpath(cases[i][0], &err);
        ck_assert_msg(x, "%s: %s", cases[i][0], err.msg);
        ck_assert_str_eq(x, cases[i][1]);
        free(x);
    }
    static const char *const bad[] = { "", "div,", ".", "a:hover", "a + b", "[x", "[x=]", "[x='a]", "div!" };
    for (size_t i = 0; i < NM_ARRAY_LEN(bad); i++) {
        char *x = site_css_to_xpath(bad[i], &err);
        ck_assert_msg(!x, "'%s' accepted as %s", bad[i], x);
        ck_assert_ptr_nonnull(strstr(err.msg, "column"));
    }
}
END_TEST

START_TEST(test_site_rules_errors)
{
    const char *t = "# rules\n"
                    "example.com\n"
                    "ex*ample.com .a\n"
                    "example.com remove\n"
                    "example.com div:first-child\n"
                    "good.example .fine\n";
    nm_err err;
    struct site_rules *rules = site_rules_parse(t, strlen(t), "rules.conf", &err);
    ck_assert_ptr_null(rules);
    ck_assert_ptr_nonnull(strstr(err.msg, "rules.conf:2: expected a host and a selector list"));
    ck_assert_ptr_nonnull(strstr(err.msg, "rules.conf:3: 'ex*ample.com' is not a host name"));
    ck_assert_ptr_nonnull(strstr(err.msg, "rules.conf:4: 'remove' needs a selector list"));
    ck_assert_ptr_nonnull(strstr(err.msg, "rules.conf:5: column 4: pseudo-classes"));
    ck_assert_ptr_null(strstr(err.msg, ":6:"));
    /* The shipped example file loads. */
    rules = site_rules_load(nm_test_path("config/site-rules.conf"), &err);
    ck_assert_msg(rules != NULL, "%s", err.msg);
    site_rules_destroy(&rules);
    ck_assert_ptr_null(site_rules_load("/nonexistent/rules.conf", &err));
}
END_TEST

/* Hostile pages: each must come back, bounded, without crashing. */
START_TEST(test_hostile)
{
    struct extract_result r;
    nm_err err;
    nm_buf b;
    nm_buf_init(&b);
    for (int i = 0; i < 100000; i++)
        nm_buf_adds(&b, "<div>");
    nm_buf_adds(&b, "deep text");
    ck_assert_int_eq(extract_page(b.data, b.len, NULL, NULL, NULL, &r, &err), 0);
    extract_result_clear(&r);

    nm_buf_reset(&b);
    for (int i = 0; i < 30000; i++)
        nm_buf_adds(&b, "<table><tr><td><p>cell, text, with, commas, a, b, c, d, e, f, g, h</p>");
    ck_assert_int_eq(extract_page(b.data, b.len, NULL, NULL, NULL, &r, &err), 0);
    extract_result_clear(&r);

    nm_buf_reset(&b);
    unsigned seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        nm_buf_addc(&b, (char)(seed >> 16));
    }
    ck_assert_int_eq(extract_page(b.data, b.len, NULL, NULL, NULL, &r, &err), 0);
    extract_result_clear(&r);

    static const char nul_page[] = "<html><body><p>a\0b</p><script type=\"application/ld+json\">{\"@context\":";
    ck_assert_int_eq(extract_page(nul_page, sizeof nul_page - 1, NULL, "no-such-charset", NULL, &r, &err), 0);
    extract_result_clear(&r);

    const char *ents = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><html><body><p>&e;</p></body></html>";
    ck_assert_int_eq(extract_page(ents, strlen(ents), NULL, NULL, NULL, &r, &err), 0);
    ck_assert_ptr_null(strstr(r.text, "root:"));
    extract_result_clear(&r);
    nm_buf_free(&b);
}
END_TEST

static Suite *extract_suite(void)
{
    Suite *s = suite_create("extract");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_samples, 0, 5);
    tcase_add_test(tc, test_sample_published_utc);
    tcase_add_loop_test(tc, test_charsets, 0, 3);
    tcase_add_test(tc, test_http_charset_wins);
    tcase_add_test(tc, test_title_and_meta);
    tcase_add_test(tc, test_empty_title);
    tcase_add_test(tc, test_json_ld_body_fallback);
    tcase_add_test(tc, test_fallback_and_empty);
    tcase_add_test(tc, test_text_serialisation);
    tcase_add_test(tc, test_site_rules_apply);
    tcase_add_test(tc, test_site_rules_find);
    tcase_add_test(tc, test_css_to_xpath);
    tcase_add_test(tc, test_site_rules_errors);
    tcase_add_test(tc, test_hostile);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(extract_suite)
