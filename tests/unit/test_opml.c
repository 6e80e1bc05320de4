/*
 * test_opml: reading feed lists (folders become categories, our own
 * newsmon: attributes, declared or not), every problem reported as
 * file:line, duplicates across a folder, and writing a list back.
 */
#include "nm_check.h"

#include <string.h>
#include <unistd.h>

#include "fetcher/opml.h"

/* Returns the path of an OPML fixture (valid until the next call). */
static const char *fixture(const char *name)
{
    static char *path;
    free(path);
    path = nm_xasprintf("%s/%s", nm_test_path("tests/data/fetcher/opml"), name);
    return path;
}

/* Returns whether some error contains every one of the needles. */
static int has_error(const nm_conf_errors *e, const char *a, const char *b)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msg[i], a) && (!b || strstr(e->msg[i], b)))
            return 1;
    return 0;
}

START_TEST(good_list)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    ck_assert_uint_eq(opml_load_file(fixture("good.opml"), false, &l, &e), 0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[0].url, "https://top.example/feed");
    ck_assert_str_eq(l.v[0].title, "Top level");
    ck_assert_ptr_null(l.v[0].category);
    ck_assert_int_eq(l.v[0].fetch_page, -1);
    ck_assert_str_eq(l.v[1].url, "https://news.zerkalo.example/rss");
    ck_assert_str_eq(l.v[1].title, "Зеркало");
    ck_assert_str_eq(l.v[1].category, "Belarus/Russian");
    ck_assert_str_eq(l.v[1].html_url, "https://zerkalo.example/");
    ck_assert_int_eq(l.v[1].interval_ms, 15 * 60000);
    ck_assert_int_eq(l.v[1].line, 8);
    ck_assert_str_eq(l.v[2].category, "Belarus");
    ck_assert_int_eq(l.v[2].fetch_page, 0);
    opml_list_clear(&l);
    nm_conf_errors_clear(&e);
}
END_TEST

START_TEST(undeclared_prefix)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    ck_assert_uint_eq(opml_load_file(fixture("undeclared.opml"), false, &l, &e), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_int_eq(l.v[0].interval_ms, 90000);
    ck_assert_int_eq(l.v[0].fetch_page, 1);
    opml_list_clear(&l);
}
END_TEST

START_TEST(every_problem_with_its_line)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    size_t n = opml_load_file(fixture("bad.opml"), false, &l, &e);
    for (size_t i = 0; i < e.n; i++)
        fprintf(stderr, "%s\n", e.msg[i]);
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(e.n, 7);
    ck_assert(has_error(&e, "bad.opml:5:", "/feed.xml"));
    ck_assert(has_error(&e, "bad.opml:6:", "ftp://"));
    ck_assert(has_error(&e, "bad.opml:7:", "allow_file_urls"));
    ck_assert(has_error(&e, "bad.opml:8:", "newsmon:interval 'often'"));
    ck_assert(has_error(&e, "bad.opml:9:", "newsmon:fetchPage 'maybe'"));
    ck_assert(has_error(&e, "bad.opml:10:", "'empty leaf' has no xmlUrl"));
    ck_assert(has_error(&e, "bad.opml:11:", "<link>"));
    ck_assert_uint_eq(l.n, 1);   /* the good outline is still read; the caller refuses the whole list */
    opml_list_clear(&l);
    nm_conf_errors_clear(&e);

    /* file: URLs are fine when allowed. */
    n = opml_load_file(fixture("bad.opml"), true, &l, &e);
    ck_assert_uint_eq(n, 6);
    ck_assert(!has_error(&e, "bad.opml:7:", NULL));
    opml_list_clear(&l);
    nm_conf_errors_clear(&e);
}
END_TEST

START_TEST(malformed_xml)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    ck_assert_uint_gt(opml_load_file(fixture("malformed.opml"), false, &l, &e), 0);
    ck_assert(has_error(&e, "malformed.opml:5:", NULL));
    opml_list_clear(&l);
    nm_conf_errors_clear(&e);

    ck_assert_uint_eq(opml_load_file(fixture("notopml.opml"), false, &l, &e), 1);
    ck_assert(has_error(&e, "notopml.opml:2:", "<rss>, not <opml>"));
    nm_conf_errors_clear(&e);

    ck_assert_uint_eq(opml_load_file(fixture("absent.opml"), false, &l, &e), 1);
    ck_assert(has_error(&e, "absent.opml", NULL));
    nm_conf_errors_clear(&e);

    ck_assert_uint_gt(opml_parse("mem", "", 0, false, &l, &e), 0);
    ck_assert_uint_gt(opml_parse("mem", "\0\1\2", 3, false, &l, &e), 0);
    ck_assert_uint_eq(l.n, 0);
    nm_conf_errors_clear(&e);
}
END_TEST

START_TEST(folder_and_duplicates)
{
    char dir[] = "/tmp/nm-opml-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *a = nm_xasprintf("%s/a.opml", dir), *b = nm_xasprintf("%s/b.opml", dir), *c = nm_xasprintf("%s/c.txt", dir);
    const char *doc = "<opml version=\"2.0\"><body>\n<outline text=\"x\" xmlUrl=\"https://x.example/rss\"/>\n</body></opml>";
    FILE *f = fopen(a, "w");
    fputs(doc, f);
    fclose(f);
    f = fopen(b, "w");
    fputs(doc, f);
    fclose(f);
    f = fopen(c, "w");
    fputs("not opml", f);
    fclose(f);
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    ck_assert_uint_eq(opml_load_dir(dir, false, &l, &e), 1);
    ck_assert(has_error(&e, "b.opml:2:", "already listed at"));
    ck_assert(has_error(&e, "a.opml:2", NULL));
    opml_list_clear(&l);
    nm_conf_errors_clear(&e);
    ck_assert_uint_eq(opml_load_dir("/nonexistent/feeds.d", false, &l, &e), 1);
    nm_conf_errors_clear(&e);
    unlink(a);
    unlink(b);
    unlink(c);
    rmdir(dir);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(write_and_read_back)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    ck_assert_uint_eq(opml_load_file(fixture("good.opml"), false, &l, &e), 0);
    free(l.v[0].title);
    l.v[0].title = nm_xstrdup("A & B <\"quoted\">");
    nm_buf out;
    nm_buf_init(&out);
    opml_write(&out, &l, "Export & test");
    struct opml_list back = { 0 };
    ck_assert_uint_eq(opml_parse("export", out.data, out.len, false, &back, &e), 0);
    ck_assert_uint_eq(back.n, l.n);
    for (size_t i = 0; i < l.n; i++) {
        long k = opml_find(&back, l.v[i].url);
        ck_assert_int_ge(k, 0);
        ck_assert_str_eq(back.v[k].title, l.v[i].title);
        ck_assert_int_eq(back.v[k].interval_ms, l.v[i].interval_ms);
        ck_assert_int_eq(back.v[k].fetch_page, l.v[i].fetch_page);
        ck_assert(!l.v[i].category == !back.v[k].category);
        if (l.v[i].category)
            ck_assert_str_eq(back.v[k].category, l.v[i].category);
    }
    nm_buf_free(&out);
    opml_list_clear(&l);
    opml_list_clear(&back);
}
END_TEST

/* The desk's default list ships valid (its addresses still need checking online). */
START_TEST(shipped_list)
{
    struct opml_list l = { 0 };
    nm_conf_errors e = { 0 };
    size_t n = opml_load_dir(nm_test_path("config/feeds.d"), false, &l, &e);
    for (size_t i = 0; i < e.n; i++)
        fprintf(stderr, "%s\n", e.msg[i]);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_ge(l.n, 20);
    for (size_t i = 0; i < l.n; i++) {
        ck_assert_msg(!strncmp(l.v[i].url, "https://", 8), "%s is not https", l.v[i].url);
        ck_assert_ptr_nonnull(l.v[i].title);
        ck_assert_ptr_nonnull(l.v[i].category);
    }
    opml_list_clear(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("opml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, good_list);
    tcase_add_test(tc, undeclared_prefix);
    tcase_add_test(tc, every_problem_with_its_line);
    tcase_add_test(tc, malformed_xml);
    tcase_add_test(tc, folder_and_duplicates);
    tcase_add_test(tc, write_and_read_back);
    tcase_add_test(tc, shipped_list);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
