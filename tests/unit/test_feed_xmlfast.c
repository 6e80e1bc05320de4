/* feed_xmlfast is held to libxml2: every document is parsed twice, once
   as the fetcher does (the fast reader first) and once with libxml2's
   parser alone, and the `parse-feed` JSON (entries, feed fields, errors
   with their line numbers) must be the same byte for byte. The documents:
   cases written here for each construct the reader covers or declines,
   the fixtures in tests/data/feeds, thousands of mutations of them, and,
   where ../shared is present, feedparser's whole test suite. The reader
   must also accept what feeds are made of (else it is never used, and
   the benchmark of docs/fetcher.md silently loses its speed) and decline
   what only libxml2 may judge. Every document is also read a third way,
   as `parse-feed` reads it (fast reader, summaries deferred until written:
   struct feed's defer_summaries), through both writers (feed_json_string
   and feed_to_json), and must again give the same JSON. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fetcher/feed_priv.h"
#include "fetcher/feed_xmlfast.h"
#include "tests/unit/nm_check.h"

/* How a document is read. */
enum way { FAST, SLOW, DEFERRED };

/* Returns parse-feed's JSON for data read one way; *jansson (may be NULL)
   gets feed_to_json's, compact (the error of a failed parse left out). */
static char *parse_json(const char *data, size_t len, enum way way, char **jansson)
{
    feed_xml_fast = way != SLOW;
    struct feed f;
    feed_init(&f);
    f.defer_summaries = way == DEFERRED;
    nm_err err = { "" };
    /* A copy that dies with the parse: a deferred summary must not be
       read from the document after feed_clear, nor from anything else. */
    char *copy = nm_xmalloc(len + 1);
    memcpy(copy, data, len);
    int rc = feed_parse(copy, len, "https://example.org/feed/", NULL, NULL, &f, &err);
    char *json = feed_json_string(&f, rc < 0 ? err.msg : NULL, NULL);
    if (jansson) {
        json_t *j = feed_to_json(&f);
        *jansson = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    feed_clear(&f);
    free(copy);
    feed_xml_fast = true;
    return json;
}

/* Asserts all readings agree; returns whether the fast reader took it. */
static bool assert_same(const char *data, size_t len, const char *what)
{
    char *fast_j, *deferred_j;
    char *fast = parse_json(data, len, FAST, &fast_j), *slow = parse_json(data, len, SLOW, NULL);
    char *deferred = parse_json(data, len, DEFERRED, &deferred_j);
    ck_assert_msg(strcmp(fast, slow) == 0, "%s:\n fast    %s\n libxml2 %s", what, fast, slow);
    ck_assert_msg(strcmp(fast, deferred) == 0, "%s:\n fast     %s\n deferred %s", what, fast, deferred);
    ck_assert_msg(strcmp(fast_j, deferred_j) == 0, "%s (feed_to_json):\n fast     %s\n deferred %s", what,
                  fast_j, deferred_j);
    free(fast);
    free(slow);
    free(deferred);
    free(fast_j);
    free(deferred_j);
    xmlDocPtr doc = xmlfast_read(data, len, NULL, NULL, NULL);
    xmlFreeDoc(doc);
    return doc != NULL;
}

static bool accepted(const char *doc, const char **why)
{
    *why = NULL;
    xmlDocPtr d = xmlfast_read(doc, strlen(doc), NULL, NULL, why);
    xmlFreeDoc(d);
    return d != NULL;
}

#define RSS(items) "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>T</title>" items "</channel></rss>\n"

/* Documents the reader reads itself. */
static const char *const covered[] = {
    RSS("<item><title>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</title><link>https://x.org/1</link></item>"),
    RSS("<item><title>&#233;t&#xE9; &#x1F600; &nbsp;&eacute;&hellip;</title><guid>g1</guid></item>"),
    RSS("<item>\r\n<title>crlf\r\nand\rcr</title>\r\n<description><![CDATA[<p>x &amp; y</p>\r\n]]> and more"
        "</description><guid>g2</guid></item>"),
    RSS("<item><title>text <!-- a comment --> around <?pi data?> it</title><guid>g3</guid></item>"),
    RSS("<item\n  xml:lang='pl'\n><title a=\"1\"\tb='2'\n>t</title><pubDate>not a date</pubDate><guid>g4</guid></item>"),
    RSS("<item><title>x</title><link>rel/a?b=1&amp;c=2</link><category domain=\"a&#10;b\tc\r\nd\">c</category>"
        "<guid isPermaLink=\"false\">g5</guid></item>"),
    RSS("<item><title/><description>]] ] ]></description><guid>g6</guid></item>"),
    RSS("<item>\r<title>old Mac line ends</title>\r\r<pubDate>not a date</pubDate>\r\n<guid>g7</guid></item>"),
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<?xml-stylesheet href=\"s.xsl\"?>\n<!-- c -->\n"
    "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"https://a.org/b/\" xml:lang=\"en\">"
    "<title type=\"html\">&lt;b&gt;bold&lt;/b&gt;</title><link href=\"/home\"/>"
    "<entry xml:base=\"c/\"><id>e1</id><title>E</title><link rel=\"alternate\" href=\"d\"/>"
    "<updated>2024-05-01T10:00:00+03:00</updated><published>bad</published>"
    "<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>one</p><script>no</script>"
    "<p>two</p></div></content><author><name>N</name></author></entry></feed>\n<!-- after -->\n",
    "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel rdf:about=\"https://x.org/\"><title>R</title></channel>"
    "<item rdf:about=\"https://x.org/i1\"><title>I</title><dc:date>2024-05-01</dc:date><dc:creator>C</dc:creator>"
    "</item></rdf:RDF>",
    "<rss xmlns:a=\"urn:a\" version=\"2.0\"><channel><a:x xmlns:a=\"urn:b\"><a:y/></a:x><item><title>t</title>"
    "<a:z a:q=\"1\">z</a:z></item></channel></rss>",
    /* Summaries deferred or not: a later description that reads empty
       leaves the earlier one; markup only reads empty and the next
       candidate is taken; a PI inside; entities, CDATA and CR LF to be
       read again; no GUID nor link (the id is made from the summary); a
       summary in plain text; Atom's summary and content. */
    RSS("<item><guid>d1</guid><description>&lt;p&gt;first &amp;amp; only&lt;/p&gt;</description>"
        "<description> &lt;p&gt; &lt;/p&gt; </description></item>"
        "<item><guid>d2</guid><description>&lt;script&gt;x&lt;/script&gt;&lt;br/&gt;</description>"
        "<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>from\r\ncontent</p>]]>"
        "</content:encoded></item>"
        "<item><guid>d3</guid><description>a &#x1F600;&#233;&#9; &hellip;\r\nc\rd]e<![CDATA[ <e>&amp;\r ]]>f]]</description>"
        "</item><item><guid>d3b</guid><description>a <?pi x?> b</description></item>"
        "<item><title>no id</title><description>&lt;b&gt;made&lt;/b&gt; from this</description></item>"
        "<item><guid>d4</guid><media:description xmlns:media=\"http://search.yahoo.com/mrss/\">  plain  &lt;b&gt;"
        "  text </media:description></item>"
        "<item><guid>d5</guid><description></description><description>   </description></item>"),
    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>A</title>"
    "<entry><id>a1</id><summary type=\"html\">&lt;i&gt;s&lt;/i&gt; &amp;amp;</summary><content>c</content></entry>"
    "<entry><id>a2</id><summary>   </summary><content type=\"html\">&lt;p&gt;c2&lt;/p&gt;</content></entry>"
    "<entry><id>a3</id><content type=\"text\">t\r3</content><summary type=\"text\">s3</summary></entry></feed>",
};

/* Documents left to libxml2, each for the reason given. */
static const struct { const char *doc, *why; } declined[] = {
    { "<!DOCTYPE rss [<!ENTITY e \"x\">]><rss><channel><item><title>&e;</title></item></channel></rss>",
      "no root element" },
    { RSS("<item><title>&bogus;</title></item>"), "entity" },
    { RSS("<item><title>&#1;</title></item>"), "character reference" },
    { RSS("<item><title>a</item>"), "end tag" },
    { RSS("<item><title>a ]]> b</title></item>"), "]]>" },
    { RSS("<item><dc:creator>x</dc:creator></item>"), "undeclared prefix" },
    { RSS("<item a=\"1\" a=\"2\"><title>a</title></item>"), "two attributes" },
    { RSS("<item a=1><title>a</title></item>"), "unquoted" },
    { RSS("<item a=\"<\"><title>a</title></item>"), "'<'" },
    { RSS("<item><title>a <!-- x -- y --> b</title></item>"), "--" },
    { RSS("<item><titre\xc3\xa9>a</titre\xc3\xa9></item>"), "ASCII" },
    { "<rss><channel><item><title>cut", "not closed" },
    { "<", "no root element" },
    { "<rss><", "not closed" },
    { "<rss></rss><rss></rss>", "after the root" },
    { "<rss>\n<channel></channel></rss>trailing", "after the root" },
};

START_TEST(test_covered)
{
    for (size_t i = 0; i < NM_ARRAY_LEN(covered); i++) {
        const char *why;
        ck_assert_msg(accepted(covered[i], &why), "covered[%zu] declined: %s", i, why);
        char what[32];
        snprintf(what, sizeof what, "covered[%zu]", i);
        assert_same(covered[i], strlen(covered[i]), what);
    }
}
END_TEST

START_TEST(test_declined)
{
    for (size_t i = 0; i < NM_ARRAY_LEN(declined); i++) {
        const char *why;
        ck_assert_msg(!accepted(declined[i].doc, &why), "declined[%zu] was read", i);
        ck_assert_msg(why && strstr(why, declined[i].why), "declined[%zu]: \"%s\", expected \"%s\"", i,
                      why ? why : "(none)", declined[i].why);
        char what[32];
        snprintf(what, sizeof what, "declined[%zu]", i);
        assert_same(declined[i].doc, strlen(declined[i].doc), what);
    }
}
END_TEST

/* xmlfast_text on its own: what it decodes, and what it refuses. */
START_TEST(test_text)
{
    static const struct { const char *src, *text; bool ok; } cases[] = {
        { "plain", "plain", true },
        { "", "", true },
        { "a &amp; b &lt;p&gt; &#233;&#x1F600; &hellip; &quot;", "a & b <p> \xc3\xa9\xf0\x9f\x98\x80 \xe2\x80\xa6 \"", true },
        { "cr\r\nlf\rcr", "cr\nlf\ncr", true },
        { "x<![CDATA[ <b>&amp;\r\n ]]>y]z]]", "x <b>&amp;\n y]z]]", true },
        { "a ]]> b", NULL, false },
        { "a <?pi x?> b", NULL, false },
        { "a <b/> c", NULL, false },
        { "a <!-- c --> b", NULL, false },
        { "a &bogus; b", NULL, false },
        { "a &#1; b", NULL, false },
        { "<![CDATA[ unterminated", NULL, false },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(cases); i++) {
        nm_buf b;
        nm_buf_init(&b);
        bool ok = xmlfast_text(cases[i].src, strlen(cases[i].src), &b);
        ck_assert_msg(ok == cases[i].ok, "case %zu: returned %d", i, ok);
        if (ok)
            ck_assert_str_eq(nm_buf_cstr(&b), cases[i].text);
        nm_buf_free(&b);
    }
}
END_TEST

/* A document converted from another charset: its deferred summaries
   point into the converted text, which the feed keeps until feed_clear;
   and a feed that defers is parsed into once. */
START_TEST(test_deferred_converted)
{
    size_t len;
    char *path = nm_xstrdup(nm_test_path("tests/data/feeds/cp1251.xml"));
    char *data = NULL;
    nm_err err = { "" };
    ck_assert_int_eq(nm_read_file(path, 0, &data, &len, &err), 0);
    struct feed f;
    feed_init(&f);
    f.defer_summaries = true;
    ck_assert_int_eq(feed_parse(data, len, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_ptr_nonnull(f.keep);
    size_t deferred = 0;
    for (size_t i = 0; i < f.n_entries; i++) {
        if (!f.lazy[i].src)
            continue;
        deferred++;
        ck_assert(f.lazy[i].src >= f.keep && f.lazy[i].src + f.lazy[i].len <= f.keep + strlen(f.keep));
    }
    ck_assert_uint_gt(deferred, 0);
    ck_assert_int_eq(feed_parse(data, len, NULL, NULL, NULL, &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "parsed into only once"));
    feed_clear(&f);
    free(data);
    free(path);
}
END_TEST

/* A feed of the benchmark's kind (bench/feed/gen_feed.py) must be read fast. */
START_TEST(test_bench_shape)
{
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" "
                    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n<title>B</title>\n");
    for (int i = 0; i < 50; i++)
        nm_buf_addf(&b, "<item>\n<title>граница &amp; Minsk #%d</title>\n<link>https://b.org/n/%d?utm_source=rss</link>\n"
                        "<guid isPermaLink=\"false\">b-%d</guid>\n<description>&lt;p&gt;войска &lt;b&gt;drones&lt;/b&gt; "
                        "&amp;amp; sankcje.&lt;/p&gt;</description>\n<pubDate>Mon, %02d May 2024 10:00:00 +0300</pubDate>\n"
                        "<dc:creator>Łukasz</dc:creator><category>Vilnius</category>\n</item>\n", i, i, i, 1 + i % 28);
    nm_buf_adds(&b, "</channel>\n</rss>\n");
    ck_assert(assert_same(b.data, b.len, "bench shape"));
    /* and its summaries are all deferred, none held */
    struct feed f;
    feed_init(&f);
    f.defer_summaries = true;
    nm_err err = { "" };
    ck_assert_int_eq(feed_parse(b.data, b.len, NULL, NULL, NULL, &f, &err), 0);
    ck_assert_int_eq(f.n_entries, 50);
    for (size_t i = 0; i < f.n_entries; i++) {
        ck_assert_ptr_null(f.entries[i].summary);
        ck_assert_ptr_nonnull(f.lazy[i].src);
        char *s = feed_summary(&f, i);
        ck_assert_msg(s && strstr(s, "войска drones & sankcje."), "entry %zu: %s", i, s ? s : "(none)");
        free(s);
    }
    feed_clear(&f);
    nm_buf_free(&b);
}
END_TEST

static char *read_whole(const char *path, size_t *len)
{
    char *data;
    nm_err err;
    if (nm_read_file(path, 0, &data, len, &err) < 0)
        return NULL;
    return data;
}

START_TEST(test_fixtures)
{
    DIR *d = opendir(nm_test_path("tests/data/feeds"));
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = nm_xasprintf("%s/%s", nm_test_path("tests/data/feeds"), e->d_name);
        size_t len;
        char *data = read_whole(path, &len);
        ck_assert_ptr_nonnull(data);
        assert_same(data, len, e->d_name);
        free(data);
        free(path);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 10);
}
END_TEST

/* Mutations: bytes that matter to XML put in, taken out and changed in the
   fixtures, deterministically; both readers must still agree. */
START_TEST(test_mutations)
{
    static const char *const names[] = { "rss20.xml", "atom10.xml", "rss10.xml", "atom03.xml", "rss091.xml" };
    static const char *const inserts[] = { "<", ">", "&", "&amp;", "&#10;", "]]>", "\"", "'", "<!--", "-->",
                                           "</item>", "<![CDATA[", "\r", ":", "xmlns:q=\"u\" ", "<?x?>", "&nbsp;" };
    unsigned seed = 12345;
    int cases = 0, fast = 0;
    for (size_t f = 0; f < NM_ARRAY_LEN(names); f++) {
        char *path = nm_xasprintf("%s/%s", nm_test_path("tests/data/feeds"), names[f]);
        size_t len;
        char *data = read_whole(path, &len);
        ck_assert_ptr_nonnull(data);
        free(path);
        for (int k = 0; k < 400; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            const char *ins = inserts[(seed >> 8) % NM_ARRAY_LEN(inserts)];
            seed = seed * 1103515245u + 12345u;
            size_t cut = (seed >> 8) % 4; /* bytes removed at `at` */
            if (at + cut > len)
                cut = len - at;
            nm_buf m;
            nm_buf_init(&m);
            nm_buf_add(&m, data, at);
            nm_buf_adds(&m, ins);
            nm_buf_add(&m, data + at + cut, len - at - cut);
            char what[96];
            snprintf(what, sizeof what, "%s with \"%s\" at %zu (%zu cut)", names[f], ins, at, cut);
            fast += assert_same(m.data, m.len, what);
            nm_buf_free(&m);
            cases++;
        }
        free(data);
    }
    /* Most mutations break the document; some leave it readable. */
    ck_assert_int_gt(fast, cases / 20);
    ck_assert_int_lt(fast, cases);
}
END_TEST

static void corpus_dir(const char *dir, int *n, int *fast)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = nm_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        size_t len;
        char *data = NULL;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            corpus_dir(path, n, fast);
        else if ((data = read_whole(path, &len)) != NULL) {
            *fast += assert_same(data, len, path);
            (*n)++;
        }
        free(data);
        free(path);
    }
    closedir(d);
}

START_TEST(test_feedparser_corpus)
{
    char *dir = nm_xstrdup(nm_test_path("../shared/corpora/feedparser"));
    struct stat st;
    if (stat(dir, &st) < 0) {
        printf("test_feedparser_corpus: skipped, %s is absent\n", dir);
        free(dir);
        return;
    }
    int n = 0, fast = 0;
    corpus_dir(dir, &n, &fast);
    free(dir);
    printf("test_feedparser_corpus: %d documents agree, %d of them read by feed_xmlfast\n", n, fast);
    ck_assert_int_gt(n, 500);
    ck_assert_int_gt(fast, n / 3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("feed_xmlfast");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_covered);
    tcase_add_test(t, test_declined);
    tcase_add_test(t, test_bench_shape);
    tcase_add_test(t, test_deferred_converted);
    tcase_add_test(t, test_text);
    tcase_add_test(t, test_fixtures);
    tcase_add_test(t, test_mutations);
    tcase_add_test(t, test_feedparser_corpus);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
