/* The feed parser on the fixtures in tests/data/feeds (each format, each
   charset, relative links and xml:base, ids) and on hostile input
   generated here (deep nesting, invalid UTF-8, huge entity expansion):
   each gives a clear result in bounded time. The fast paths are held to
   the slow ones: feed_write_json's JSON to jansson's, byte for byte, and
   the block scanners in html_text and the charset cleaner to inputs long
   enough, and varied enough, to reach both. */
#include <dirent.h>
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

/* Checks that feed_json_string gives exactly what jansson dumps from
   feed_to_json (with fatal appended as `parse-feed` does). */
static void assert_json_same(const struct feed *f, const char *fatal, const char *what)
{
    json_t *j = feed_to_json(f);
    if (fatal) {
        json_t *jf = json_object_get(j, "feed");
        json_array_append_new(json_object_get(jf, "errors"), json_string(fatal));
        json_object_set_new(jf, "bozo", json_true());
    }
    char *want = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t len;
    char *got = feed_json_string(f, fatal, &len);
    ck_assert_uint_eq(len, strlen(got));
    ck_assert_msg(strcmp(want, got) == 0, "%s:\n jansson %s\n ours    %s", what, want, got);
    free(want);
    free(got);
}

START_TEST(test_json_writer_fixtures)
{
    DIR *d = opendir(nm_test_path("tests/data/feeds"));
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        struct feed f;
        nm_err err;
        int rc = parse_fixture(e->d_name, "https://example.org/feed", NULL, &f, &err);
        assert_json_same(&f, rc < 0 ? err.msg : NULL, e->d_name);
        feed_clear(&f);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 10);
}
END_TEST

START_TEST(test_json_writer_strings)
{
    /* Every escape, raw UTF-8 (2, 3 and 4 bytes, U+2028, U+FFFE), and
       invalid UTF-8, which jansson refuses: the member or element is left
       out. Long strings reach the 16-byte block path, invalid bytes sit at
       each offset of a block. */
    static const char *const strs[] = {
        "plain", "", "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end", "\xd0\x9c\xd0\xb8\xd0\xbd\xd1\x81\xd0\xba",
        "\xe2\x80\xa8 \xef\xbf\xbe \xf0\x9f\x98\x80 \xc2\xab\xd0\xb0\xc2\xbb",
        "bad \xff byte", "\xc0\xaf overlong", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big", "cut \xe2\x82",
        "0123456789abcdef0123456789abcdef\"0123456789abcdef\\",
        "\xd0\xbc\xd0\xb8\xd0\xbd\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9 \xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd0\xbf\xd0\xb5\xd0\xba\xd1\x82",
    };
    char longbad[64];
    struct feed f;
    feed_init(&f);
    f.title = strdup("t\"itle\n");
    f.link = strdup("bad \xfe link");
    f.ttl_minutes = 30;
    f.update_minutes = 60;
    f.n_errors_dropped = 3;
    f.errors = nm_xcalloc(2, sizeof *f.errors);
    f.errors[f.n_errors++] = strdup("an error \x01");
    f.errors[f.n_errors++] = strdup("invalid \xff error");
    struct feed_limits lim;
    feed_limits_default(&lim);
    for (size_t i = 0; i < NM_ARRAY_LEN(strs) + 48; i++) {
        const char *s = strs[i % NM_ARRAY_LEN(strs)];
        if (i >= NM_ARRAY_LEN(strs)) {
            /* 47 bytes of Cyrillic and ASCII with one bad byte or escape at offset k */
            size_t k = i - NM_ARRAY_LEN(strs);
            for (size_t c = 0; c < sizeof longbad - 1; c += 2)
                memcpy(longbad + c, c % 6 ? "\xd0\xb0" : "ab", 2);
            longbad[sizeof longbad - 1] = '\0';
            longbad[k] = k % 3 == 0 ? '\xff' : k % 3 == 1 ? '"' : '\x02';
            s = longbad;
        }
        nm_article *a = &f.entries[0];
        if (f.n_entries == 0 || i % 2 == 0) {
            f.entries = nm_xrealloc(f.entries, (f.n_entries + 1) * sizeof *f.entries);
            a = &f.entries[f.n_entries++];
            nm_article_init(a);
            a->id = strdup(s);
            a->title = strdup(s);
            a->summary = i % 3 ? strdup(s) : NULL;
            a->lang = strdup("ru");
        } else {
            a = &f.entries[f.n_entries - 1];
            a->link = strdup(s);
            a->text = strdup(s);
            a->page = strdup(s);
        }
        nm_article_add_category(a, s);
        nm_article_add_category(a, "second");
    }
    assert_json_same(&f, NULL, "strings");
    assert_json_same(&f, "fatal \"error\"", "strings with fatal");
    assert_json_same(&f, "fatal \xff invalid", "strings with invalid fatal");
    /* And through a stream. */
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    ck_assert_int_eq(feed_write_json(&f, NULL, out), 0);
    fclose(out);
    char *want = feed_json_string(&f, NULL, NULL);
    ck_assert_uint_eq(memlen, strlen(want) + 1);
    ck_assert(memcmp(mem, want, strlen(want)) == 0 && mem[memlen - 1] == '\n');
    free(want);
    free(mem);
    feed_clear(&f);
}
END_TEST

START_TEST(test_html_text_blocks)
{
    /* Long runs, so the 16-byte blocks and the byte loop share the work:
       the same text at every alignment gives the same words. */
    const char *piece = "<p>Minsk \xd0\x9c\xd0\xb8\xd0\xbd\xd1\x81\xd0\xba  \xc2\xab\xd0\xb0\xc2\xbb &amp; "
                        "\xe2\x80\x94 x\xc2\xa0y\n\tz</p><script>no text</script>AT&T &#146;ok&#x2019;\xc2\x92";
    const char *want = "Minsk \xd0\x9c\xd0\xb8\xd0\xbd\xd1\x81\xd0\xba \xc2\xab\xd0\xb0\xc2\xbb & \xe2\x80\x94 x y z "
                       "AT&T \xe2\x80\x99ok\xe2\x80\x99\xe2\x80\x99";
    for (size_t pad = 0; pad < 20; pad++) {
        nm_buf in, exp;
        nm_buf_init(&in);
        nm_buf_init(&exp);
        for (size_t i = 0; i < pad; i++)
            nm_buf_addc(&in, 'a' + (char)i);
        nm_buf_adds(&exp, in.data ? in.data : "");
        for (int rep = 0; rep < 3; rep++) {
            nm_buf_adds(&in, " ");
            nm_buf_adds(&in, piece);
            if (exp.len)
                nm_buf_addc(&exp, ' ');
            nm_buf_adds(&exp, want);
        }
        char *t = html_to_text(in.data, in.len);
        ck_assert_msg(strcmp(t, exp.data) == 0, "pad %zu:\n want [%s]\n got  [%s]", pad, exp.data, t);
        free(t);
        /* Without markup processing, tags and references stay; only white space collapses. */
        t = text_collapse(in.data, in.len);
        ck_assert_ptr_null(strstr(t, "  "));
        ck_assert_ptr_nonnull(strstr(t, "<script>no text</script>AT&T &#146;ok"));
        free(t);
        nm_buf_free(&in);
        nm_buf_free(&exp);
    }
    /* Every block element, in any case, separates the words on either side;
       an inline one does not. */
    static const char *const block_names[] = {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "details", "dialog",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "img", "li", "main", "nav", "ol", "option", "p", "pre", "section",
        "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "DIV", "Table", "BR",
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(block_names); i++) {
        char *in = nm_xasprintf("a<%s>b</%s>c", block_names[i], block_names[i]);
        char *t = html_to_text(in, strlen(in));
        ck_assert_msg(strcmp(t, "a b c") == 0, "<%s>: got [%s]", block_names[i], t);
        free(t);
        free(in);
    }
    const char *inline_tags = "a<b>b</b>c<span>d</span><blockquotex>e";
    char *inl = html_to_text(inline_tags, strlen(inline_tags));
    ck_assert_str_eq(inl, "abcde");
    free(inl);
    /* Appending collapses with what the buffer already ends with. */
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_adds(&b, "end ");
    html_text_append(&b, "   sixteen bytes of text here ", 30);
    ck_assert_str_eq(nm_buf_cstr(&b), "end sixteen bytes of text here ");
    nm_buf_free(&b);
}
END_TEST

START_TEST(test_charset_clean_offsets)
{
    /* A forbidden control, an invalid byte, U+FFFE, U+FFFF or another
       character led by the byte EF at each offset of a long UTF-8 title:
       removed, replaced or kept as the rules say,
       wherever it falls in a 16-byte block. */
    static const struct { const char *bad, *out, *error; } kinds[] = {
        { "\x01", "", "not allowed in XML" },
        { "\x1f", "", "not allowed in XML" },
        { "\xef\xbf\xbf", "\xef\xbf\xbd", NULL },
        { "\xef\xbf\xbe", "\xef\xbf\xbd", NULL },
        /* Other characters led by EF, the byte that leads U+FFFE and U+FFFF, are kept. */
        { "\xef\xbf\xbd", "\xef\xbf\xbd", NULL },
        { "\xef\xbc\x81", "\xef\xbc\x81", NULL },
        { "\xef\xbe\xbf", "\xef\xbe\xbf", NULL },
        /* One bad byte in "UTF-8": the whole is read as a guessed charset. */
        { "\xd0", NULL, "not valid UTF-8 (first bad byte at offset" },
    };
    for (size_t k = 0; k < NM_ARRAY_LEN(kinds); k++) {
        for (size_t off = 0; off < 34; off++) {
            nm_buf title, want, doc;
            nm_buf_init(&title);
            nm_buf_init(&want);
            nm_buf_init(&doc);
            for (size_t i = 0; i < 40; i++) {
                if (i == off) {
                    nm_buf_adds(&title, kinds[k].bad);
                    nm_buf_adds(&want, kinds[k].out ? kinds[k].out : "");
                }
                const char *c = i % 3 ? "\xd0\xb6" : "w";
                nm_buf_adds(&title, c);
                nm_buf_adds(&want, c);
            }
            nm_buf_addf(&doc, "<rss><channel><title>%s</title></channel></rss>", title.data);
            struct feed f;
            nm_err err;
            feed_init(&f);
            ck_assert_int_eq(feed_parse(doc.data, doc.len, NULL, NULL, NULL, &f, &err), 0);
            if (kinds[k].out)
                ck_assert_msg(f.title && strcmp(f.title, want.data) == 0, "kind %zu offset %zu: got [%s]", k, off,
                              f.title ? f.title : "(null)");
            else
                ck_assert_msg(f.title && strcmp(f.charset, "UTF-8") != 0, "kind %zu offset %zu: read as %s", k, off,
                              f.charset);
            if (kinds[k].error)
                ck_assert_msg(has_error(&f, kinds[k].error), "kind %zu offset %zu: no error", k, off);
            if (kinds[k].out && !strcmp(kinds[k].out, kinds[k].bad))
                ck_assert_msg(f.n_errors == 0, "kind %zu offset %zu: error %s", k, off, f.errors[0]);
            feed_clear(&f);
            nm_buf_free(&title);
            nm_buf_free(&want);
            nm_buf_free(&doc);
        }
    }
}
END_TEST

START_TEST(test_entries_read_early)
{
    /* Entries are read as they close and their errors replayed where the
       walk meets them: errors keep document order around a channel-level
       error between items, and the max_errors cut falls in the same place. */
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_adds(&b, "<rss><channel><title>T</title>\n");
    for (int i = 0; i < 30; i++) {
        if (i == 5)
            nm_buf_adds(&b, "<lastBuildDate>not a date</lastBuildDate>\n");
        nm_buf_addf(&b, "<item><title>t%d</title><link>http://e.example/%d</link><pubDate>bad%d</pubDate></item>\n",
                    i, i, i);
    }
    nm_buf_adds(&b, "</channel></rss>\n");
    struct feed f;
    nm_err err;
    feed_init(&f);
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_uint_eq(f.n_entries, 30);
    ck_assert_str_eq(f.entries[29].title, "t29");
    ck_assert_uint_eq(f.n_errors, 20);
    ck_assert_uint_eq(f.n_errors_dropped, 11);
    ck_assert_ptr_nonnull(strstr(f.errors[4], "\"bad4\""));
    ck_assert_ptr_nonnull(strstr(f.errors[5], "lastBuildDate \"not a date\""));
    ck_assert_ptr_nonnull(strstr(f.errors[6], "\"bad5\""));
    ck_assert_ptr_nonnull(strstr(f.errors[19], "\"bad18\""));
    feed_clear(&f);

    /* The entry limit's error sits where the first dropped entry was. */
    struct feed_limits lim;
    feed_limits_default(&lim);
    lim.max_entries = 3;
    feed_init(&f);
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, &lim, &f, &err), 0);
    ck_assert_uint_eq(f.n_entries, 3);
    ck_assert_ptr_nonnull(strstr(f.errors[3], "more than 3 entries"));
    ck_assert_ptr_nonnull(strstr(f.errors[4], "lastBuildDate"));
    feed_clear(&f);
    nm_buf_free(&b);

    /* RSS 1.0 items beside the channel, Atom entries with xml:base and
       xml:lang from their ancestors, and an entry cut off by the end of a
       truncated document (never closed: read by the walk). */
    const char rdf[] = "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'>"
                       "<channel><title>R</title></channel><item><title>one</title><link>http://r.example/1</link></item>"
                       "<item><title>two</title><link>http://r.example/2</link></item></rdf:RDF>";
    feed_init(&f);
    ck_assert_int_eq(feed_parse(rdf, sizeof rdf - 1, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_uint_eq(f.n_entries, 2);
    ck_assert_str_eq(f.entries[1].title, "two");
    ck_assert_str_eq(f.format, "rss10");
    feed_clear(&f);
    const char atom[] = "<feed xmlns='http://www.w3.org/2005/Atom' xml:base='http://a.example/dir/' xml:lang='be'>"
                        "<title>A</title><entry><id>e1</id><title>first</title><link href='p1'/></entry>"
                        "<entry xml:lang='lt'><id>e2</id><title>second</title><link href='p2'/>"
                        "<updated>never</updated></entry><entry><id>e3</id><title>cut";
    feed_init(&f);
    ck_assert_int_eq(feed_parse(atom, sizeof atom - 1, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_uint_eq(f.n_entries, 3);
    ck_assert_str_eq(f.entries[0].link, "http://a.example/dir/p1");
    ck_assert_str_eq(f.entries[0].lang, "be");
    ck_assert_str_eq(f.entries[1].lang, "lt");
    ck_assert_str_eq(f.entries[2].id, "e3");
    ck_assert_str_eq(f.entries[2].title, "cut");
    ck_assert(has_error(&f, "cannot read updated \"never\""));
    feed_clear(&f);
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
    tcase_add_test(tc, test_json_writer_fixtures);
    tcase_add_test(tc, test_json_writer_strings);
    tcase_add_test(tc, test_html_text_blocks);
    tcase_add_test(tc, test_charset_clean_offsets);
    tcase_add_test(tc, test_entries_read_early);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
