/* The feed parser on the fixtures in tests/data/feeds (each format, each
   charset, relative links and xml:base, ids) and on hostile input
   generated here (deep nesting, invalid UTF-8, huge entity expansion):
   each gives a clear result in bounded time. */
#include <string.h>

#include "fetcher/feed_parse.h"
#include "fetcher/html_text.h"
#include "tests/unit/nm_check.h"

/* Parses the fixture name into f; returns feed_parse's result. */
static int parse_fixture(const char *name, const char *url, const char *charset, struct feed *f, nm_err *err)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/feeds/%s", name);
    char *data;
    size_t len;
    nm_err rerr;
    ck_assert_msg(nm_read_file(nm_test_path(rel), 0, &data, &len, &rerr) == 0, "%s", rerr.msg);
    feed_init(f);
    int rc = feed_parse(data, len, url, charset, NULL, f, err);
    free(data);
    return rc;
}

static bool has_error(const struct feed *f, const char *needle)
{
    for (size_t i = 0; i < f->n_errors; i++)
        if (strstr(f->errors[i], needle))
            return true;
    return false;
}

START_TEST(test_rss20)
{
    struct feed f;
    nm_err err;
    ck_assert_int_eq(parse_fixture("rss20.xml", "https://news.example.org/feed/rss.xml", NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "rss20");
    ck_assert_str_eq(f.title, "Example & News");
    ck_assert_str_eq(f.subtitle, "All the news");
    ck_assert_int_eq(f.ttl_minutes, 30);
    ck_assert_int_eq(f.update_minutes, 30);
    ck_assert_uint_eq(f.n_entries, 3);
    nm_article *a = &f.entries[0];
    ck_assert_str_eq(a->id, "urn:example:item-1");
    ck_assert_str_eq(a->link, "https://news.example.org/2024/05/drones?utm_source=rss&id=7");
    ck_assert_str_eq(a->title, "Drones & balloons cross the border");
    ck_assert_str_eq(a->summary, "First paragraph. Second one & more.");
    ck_assert_str_eq(a->published, "2024-05-06T11:30:00Z");
    ck_assert_str_eq(a->updated, "2024-05-06T11:30:00Z");
    ck_assert_str_eq(a->author, "Jane Doe");
    ck_assert_uint_eq(a->n_categories, 2);
    ck_assert_str_eq(a->categories[1], "Border");
    ck_assert_str_eq(a->lang, "en");
    ck_assert_str_eq(a->feed, "https://news.example.org/feed/rss.xml");
    /* no GUID: the id is the canonical link */
    ck_assert_str_eq(f.entries[1].id, "https://news.example.org/b/second.html?x=1");
    ck_assert_str_eq(f.entries[1].summary, "Only content: encoded");
    ck_assert_str_eq(f.entries[1].updated, "2024-05-07T08:00:00Z");
    ck_assert_ptr_null(f.entries[1].published);
    /* a permalink GUID is also the link; undeclared HTML entities are read */
    ck_assert_str_eq(f.entries[2].link, "https://news.example.org/third");
    ck_assert_str_eq(f.entries[2].summary, "Plain \xc3\xa9t\xc3\xa9 text");
    ck_assert_str_eq(f.entries[2].published, "2024-05-07T15:00:00Z");
    ck_assert_uint_eq(f.n_errors, 0);
    json_t *j = feed_to_json(&f);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "entries")), 3);
    ck_assert(json_is_false(json_object_get(json_object_get(j, "feed"), "bozo")));
    json_decref(j);
    feed_clear(&f);
}
END_TEST

START_TEST(test_other_formats)
{
    struct feed f;
    nm_err err;
    ck_assert_int_eq(parse_fixture("rss10.xml", NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "rss10");
    ck_assert_str_eq(f.entries[0].id, "http://rdf.example.com/item/1");
    ck_assert_str_eq(f.entries[0].updated, "2004-01-05T10:30:00Z");
    ck_assert_str_eq(f.entries[0].lang, "ru");
    ck_assert_str_eq(f.entries[0].categories[0], "Politics");
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("rss091.xml", NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "rss091");
    ck_assert_str_eq(f.entries[0].title, "Caf\xc3\xa9 opens");
    ck_assert_str_eq(f.entries[0].summary, "Na\xc3\xafve \xc2\xa9 1999");
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("atom10.xml", "https://ignored.example/", NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "atom10");
    ck_assert_str_eq(f.title, "Atom feed");
    ck_assert_str_eq(f.link, "https://atom.example.lt/blog/");           /* xml:base on the feed */
    ck_assert_str_eq(f.entries[0].link, "https://atom.example.lt/blog/posts/one.html"); /* nested xml:base */
    ck_assert_str_eq(f.entries[0].title, "Post <one>");                  /* type=text stays literal */
    ck_assert_str_eq(f.entries[0].summary, "Hello world again");         /* xhtml, block elements spaced */
    ck_assert_str_eq(f.entries[0].published, "2024-05-08T06:00:00Z");
    ck_assert_str_eq(f.entries[0].author, "Jonas");
    ck_assert_str_eq(f.entries[0].lang, "lt");
    ck_assert_str_eq(f.entries[1].link, "https://atom.example.lt/absolute/second"); /* not the enclosure */
    ck_assert_str_eq(f.entries[1].summary, "Body & soul");
    ck_assert_str_eq(f.entries[1].lang, "en");
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("atom03.xml", NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "atom03");
    ck_assert_str_eq(f.entries[0].summary, "Decoded base64");
    ck_assert_str_eq(f.entries[0].published, "2003-12-13T12:29:29Z");
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("jsonfeed.json", "https://json.example.pl/feed.json", NULL, &f, &err), 0);
    ck_assert_str_eq(f.format, "json11");
    ck_assert_uint_eq(f.n_entries, 2);
    ck_assert_str_eq(f.entries[0].link, "https://json.example.pl/posts/1");
    ck_assert_str_eq(f.entries[0].summary, "Tre\xc5\x9b\xc4\x87 HTML");
    ck_assert_str_eq(f.entries[0].author, "Anna");
    ck_assert_str_eq(f.entries[1].id, "2");
    ck_assert(has_error(&f, "items[2] is not an object"));
    feed_clear(&f);
}
END_TEST

START_TEST(test_charsets)
{
    static const char *const files[] = { "cp1251.xml", "koi8r.xml", "mislabelled-cp1251.xml" };
    struct feed f;
    nm_err err;
    for (size_t i = 0; i < NM_ARRAY_LEN(files); i++) {
        ck_assert_int_eq(parse_fixture(files[i], NULL, NULL, &f, &err), 0);
        ck_assert_msg(strncmp(f.entries[0].title, "Лукашенко и граница", strlen("Лукашенко и граница")) == 0,
                      "%s: %s", files[i], f.entries[0].title);
        ck_assert_msg(strncmp(f.title, "Новости Беларуси", strlen("Новости Беларуси")) == 0, "%s", files[i]);
        feed_clear(&f);
    }
    ck_assert_int_eq(parse_fixture("mislabelled-cp1251.xml", NULL, NULL, &f, &err), 0);
    ck_assert(has_error(&f, "not valid UTF-8"));
    feed_clear(&f);
    /* the HTTP charset overrides the declaration (RFC 3023) */
    ck_assert_int_eq(parse_fixture("koi8r.xml", NULL, "windows-1251", &f, &err), 0);
    ck_assert_str_ne(f.entries[0].title, "Лукашенко и граница");
    feed_clear(&f);
    ck_assert_int_eq(parse_fixture("utf16le-bom.xml", NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.title, "UTF-16 канал");
    ck_assert_str_eq(f.entries[0].title, "\xc5\xaanikodas");
    feed_clear(&f);
}
END_TEST

START_TEST(test_hostile_fixtures)
{
    struct feed f;
    nm_err err;
    int64_t t0 = nm_now_ms();
    ck_assert_int_eq(parse_fixture("billion-laughs.xml", NULL, NULL, &f, &err), 0);
    ck_assert(nm_now_ms() - t0 < 5000);
    ck_assert(f.n_errors > 0);
    ck_assert_str_eq(f.entries[0].title, "Before the bomb");
    for (size_t i = 0; i < f.n_entries; i++)
        ck_assert(!f.entries[i].title || strlen(f.entries[i].title) < 100000);
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("xxe.xml", NULL, NULL, &f, &err), 0);
    ck_assert(has_error(&f, "external entity"));
    json_t *j = feed_to_json(&f);
    char *s = json_dumps(j, 0);
    ck_assert_ptr_null(strstr(s, "root:"));   /* nothing of /etc/passwd */
    free(s);
    json_decref(j);
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("truncated.xml", NULL, NULL, &f, &err), 0);
    ck_assert_uint_ge(f.n_entries, 2);
    ck_assert_str_eq(f.entries[1].title, "Whole two");
    ck_assert(has_error(&f, "line"));
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("nul-bytes.xml", NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.entries[0].title, "ab");
    ck_assert(has_error(&f, "NUL"));
    feed_clear(&f);

    ck_assert_int_eq(parse_fixture("html-page.html", NULL, NULL, &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "HTML page"));
    feed_clear(&f);
}
END_TEST

START_TEST(test_generated_hostile)
{
    struct feed f;
    nm_err err;
    nm_buf b;
    /* 200,000-deep nesting inside an item */
    nm_buf_init(&b);
    nm_buf_adds(&b, "<rss><channel><title>Deep</title><item><title>ok</title><link>http://d.example/1</link></item><item>");
    for (int i = 0; i < 200000; i++)
        nm_buf_adds(&b, "<x>");
    int64_t t0 = nm_now_ms();
    feed_init(&f);
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, NULL, &f, &err), 0);
    ck_assert(nm_now_ms() - t0 < 5000);
    ck_assert_str_eq(f.entries[0].title, "ok");
    ck_assert(has_error(&f, "depth") || f.n_errors > 0);
    feed_clear(&f);
    nm_buf_free(&b);

    /* invalid UTF-8 in a document declaring UTF-8, mostly ASCII */
    const char bad[] = "<?xml version='1.0' encoding='utf-8'?><rss><channel><title>caf\xe9 \xff\xfe</title></channel></rss>";
    feed_init(&f);
    ck_assert_int_eq(feed_parse(bad, sizeof bad - 1, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_ptr_nonnull(f.title);
    ck_assert(f.n_errors > 0);
    feed_clear(&f);

    /* limits: entries and size */
    struct feed_limits lim;
    feed_limits_default(&lim);
    lim.max_entries = 3;
    nm_buf_init(&b);
    nm_buf_adds(&b, "<rss><channel>");
    for (int i = 0; i < 10; i++)
        nm_buf_addf(&b, "<item><link>http://l.example/%d</link></item>", i);
    nm_buf_adds(&b, "</channel></rss>");
    feed_init(&f);
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, &lim, &f, &err), 0);
    ck_assert_uint_eq(f.n_entries, 3);
    ck_assert_uint_eq(f.n_entries_dropped, 7);
    ck_assert(has_error(&f, "more than 3 entries"));
    feed_clear(&f);
    lim.max_bytes = 10;
    feed_init(&f);
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, &lim, &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "limit"));
    feed_clear(&f);
    nm_buf_free(&b);

    /* not a feed at all */
    feed_init(&f);
    ck_assert_int_eq(feed_parse("", 0, NULL, NULL, NULL, &f, &err), -1);
    ck_assert_int_eq(feed_parse("hello", 5, NULL, NULL, NULL, &f, &err), -1);
    ck_assert_int_eq(feed_parse("<a><b/></a>", 11, NULL, NULL, NULL, &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "root element <a>"));
    ck_assert_int_eq(feed_parse("{\"x\":1}", 7, NULL, NULL, NULL, &f, &err), -1);
    feed_clear(&f);
}
END_TEST

START_TEST(test_bare_ampersand)
{
    const char doc[] = "<rss><channel><item><link>http://e.example/?a=1&b=2&c</link>"
                       "<title><![CDATA[A&B]]> &amp; C</title></item></channel></rss>";
    struct feed f;
    nm_err err;
    feed_init(&f);
    ck_assert_int_eq(feed_parse(doc, sizeof doc - 1, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_str_eq(f.entries[0].link, "http://e.example/?a=1&b=2&c");
    ck_assert_str_eq(f.entries[0].title, "A&B & C");
    feed_clear(&f);
}
END_TEST

START_TEST(test_html_text)
{
    static const struct { const char *in, *out; } cases[] = {
        { "<p>Hello <b>world</b></p><p>again</p>", "Hello world again" },
        { "a<br/>b", "a b" },
        { "x<script>var a = '<p>no</p>';</script>y", "xy" },
        { "<style>p{}</style>Text", "Text" },
        { "  lots \n\t of   space  ", "lots of space" },
        { "&amp;&lt;&gt;&quot;&#39;&#x41;&#66;&eacute;&nbsp;&hellip;&apos;", "&<>\"'AB\xc3\xa9 \xe2\x80\xa6'" },
        { "&#146;&#0;&#xD800;", "\xe2\x80\x99\xef\xbf\xbd\xef\xbf\xbd" },
        { "AT&T &unknown; a < b", "AT&T &unknown; a < b" },
        { "<!-- hidden -->shown<![CDATA[ cdata ]]>", "shown cdata" },
        { "<a href=\"x>y\" title='>'>link</a>", "link" },
        { "unclosed <b", "unclosed <b" },
        { "", "" },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(cases); i++) {
        char *t = html_to_text(cases[i].in, strlen(cases[i].in));
        ck_assert_msg(strcmp(t, cases[i].out) == 0, "\"%s\": want \"%s\", got \"%s\"", cases[i].in, cases[i].out, t);
        free(t);
    }
    char *t = text_collapse(" <b>x</b>\n y ", 13);
    ck_assert_str_eq(t, "<b>x</b> y");
    free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("feed_parse");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rss20);
    tcase_add_test(tc, test_other_formats);
    tcase_add_test(tc, test_charsets);
    tcase_add_test(tc, test_hostile_fixtures);
    tcase_add_test(tc, test_generated_hostile);
    tcase_add_test(tc, test_bare_ampersand);
    tcase_add_test(tc, test_html_text);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
