/* URL resolution (RFC 3986 section 5.4 examples), canonical ids, hosts. */
#include <string.h>

#include "common/nm_url.h"
#include "tests/unit/nm_check.h"

static const struct { const char *ref, *out; } rfc[] = {
    { "g:h", "g:h" }, { "g", "http://a/b/c/g" }, { "./g", "http://a/b/c/g" }, { "g/", "http://a/b/c/g/" },
    { "/g", "http://a/g" }, { "//g", "http://g" }, { "?y", "http://a/b/c/d;p?y" }, { "g?y", "http://a/b/c/g?y" },
    { "#s", "http://a/b/c/d;p?q#s" }, { "g#s", "http://a/b/c/g#s" }, { "g?y#s", "http://a/b/c/g?y#s" },
    { ";x", "http://a/b/c/;x" }, { "g;x", "http://a/b/c/g;x" }, { "", "http://a/b/c/d;p?q" },
    { ".", "http://a/b/c/" }, { "./", "http://a/b/c/" }, { "..", "http://a/b/" }, { "../", "http://a/b/" },
    { "../g", "http://a/b/g" }, { "../..", "http://a/" }, { "../../", "http://a/" }, { "../../g", "http://a/g" },
    { "../../../g", "http://a/g" }, { "../../../../g", "http://a/g" }, { "/./g", "http://a/g" },
    { "/../g", "http://a/g" }, { "g.", "http://a/b/c/g." }, { ".g", "http://a/b/c/.g" }, { "g..", "http://a/b/c/g.." },
    { "..g", "http://a/b/c/..g" }, { "./../g", "http://a/b/g" }, { "./g/.", "http://a/b/c/g/" },
    { "g/./h", "http://a/b/c/g/h" }, { "g/../h", "http://a/b/c/h" }, { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { "g;x=1/../y", "http://a/b/c/y" }, { "  g  ", "http://a/b/c/g" },
};

START_TEST(test_rfc3986)
{
    char *r = nm_url_resolve("http://a/b/c/d;p?q", rfc[_i].ref);
    ck_assert_msg(strcmp(r, rfc[_i].out) == 0, "\"%s\": want %s, got %s", rfc[_i].ref, rfc[_i].out, r);
    free(r);
}
END_TEST

START_TEST(test_resolve_edges)
{
    char *r = nm_url_resolve(NULL, "/x");
    ck_assert_str_eq(r, "/x");
    free(r);
    r = nm_url_resolve("", "rel");
    ck_assert_str_eq(r, "rel");
    free(r);
    r = nm_url_resolve("https://h.example/dir/", "http:////other.example/p");
    ck_assert_str_eq(r, "http://other.example/p");
    free(r);
    r = nm_url_resolve("https://h.example", "p");
    ck_assert_str_eq(r, "https://h.example/p");
    free(r);
    ck_assert_ptr_null(nm_url_resolve("http://a/", NULL));
    ck_assert(nm_url_is_absolute("mailto:x@y"));
    ck_assert(!nm_url_is_absolute("/path:x"));
}
END_TEST

static const struct { const char *in, *out; } canon[] = {
    { "HTTP://Example.COM:80/a/./b/../c?utm_source=x&id=1&fbclid=z#frag", "http://example.com/a/c?id=1" },
    { "https://example.com:443", "https://example.com/" },
    { "https://example.com:8443/x", "https://example.com:8443/x" },
    { "https://example.com/x?utm_medium=a&utm_campaign=b", "https://example.com/x" },
    { "https://example.com./p?gclid=1&yclid=2&mc_cid=3&mc_eid=4&_hsenc=5&q=keep", "https://example.com/p?q=keep" },
    { "https://user@Example.com/P", "https://user@example.com/P" },
};

START_TEST(test_canonical)
{
    char *c = nm_url_canonical(canon[_i].in);
    ck_assert_msg(c && strcmp(c, canon[_i].out) == 0, "\"%s\": want %s, got %s", canon[_i].in, canon[_i].out,
                  c ? c : "(null)");
    free(c);
}
END_TEST

START_TEST(test_host)
{
    char *h = nm_url_host("https://User:pw@WWW.LRT.lt:8080/path");
    ck_assert_str_eq(h, "www.lrt.lt");
    free(h);
    h = nm_url_host("http://[::1]:80/");
    ck_assert_str_eq(h, "::1");
    free(h);
    ck_assert_ptr_null(nm_url_host("/relative"));
    ck_assert_ptr_null(nm_url_host("mailto:x@y"));
    ck_assert_ptr_null(nm_url_canonical("no-scheme/path"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_url");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_rfc3986, 0, (int)(sizeof rfc / sizeof rfc[0]));
    tcase_add_test(tc, test_resolve_edges);
    tcase_add_loop_test(tc, test_canonical, 0, (int)(sizeof canon / sizeof canon[0]));
    tcase_add_test(tc, test_host);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
