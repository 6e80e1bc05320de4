/*
 * test_http: the HTTP client on nm_loop without a network: file: URLs
 * (allowed only when configured, and never for guarded requests), the
 * decoded-size limit, the SSRF guard refusing a loopback address before
 * any connection, URLs curl rejects, and the per-host queue.
 */
#include "nm_check.h"

#include <string.h>
#include <unistd.h>

#include "fetcher/http.h"

struct outcome {
    int done;
    long status;
    bool failed;
    char *error;
    size_t len;
    char *body;
};

static int pending;

static void on_done(void *arg, struct http_result *r)
{
    struct outcome *o = arg;
    o->done++;
    o->status = r->status;
    o->failed = r->failed;
    o->error = nm_xstrdup(r->error_msg);
    o->len = r->body.len;
    o->body = nm_xstrndup(r->body.data ? r->body.data : "", r->body.len);
    pending--;
}

static void on_idle(nm_loop *loop, void *arg)
{
    if (pending <= 0)
        nm_loop_stop(loop);
}

static void outcome_clear(struct outcome *o)
{
    free(o->error);
    free(o->body);
    memset(o, 0, sizeof *o);
}

static struct http_config config(const ssrf_allow *allow, bool allow_file)
{
    struct http_config c = {
        .max_total = 4, .max_per_host = 1, .connect_timeout_ms = 2000, .total_timeout_ms = 5000,
        .low_speed_time_ms = 5000, .low_speed_limit = 1, .max_size = 1 << 20, .max_decompressed = 64,
        .max_redirects = 2, .user_agent = NULL, .allow_file = allow_file, .allow_private = allow,
    };
    return c;
}

/* Runs the loop until every request has reported. */
static void run(nm_loop *loop)
{
    int t = nm_loop_add_timer(loop, 10, 10, on_idle, NULL);
    nm_loop_run(loop);
    nm_loop_cancel_timer(loop, t);
}

static char *write_file(const char *text)
{
    char *path = nm_xasprintf("/tmp/nm-http-%d-%zu.txt", (int)getpid(), strlen(text));
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(file_urls)
{
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    ck_assert_ptr_nonnull(loop);
    struct http_config cfg = config(NULL, true);
    http_client *c = http_client_new(loop, &cfg, &err);
    ck_assert_ptr_nonnull(c);
    char *small = write_file("<rss>hello</rss>");
    char *big = write_file("0123456789012345678901234567890123456789012345678901234567890123456789");
    char *u1 = nm_xasprintf("file://%s", small), *u2 = nm_xasprintf("file://%s", big);
    struct outcome a = { 0 }, b = { 0 }, g = { 0 };
    struct http_request r1 = { .url = u1 }, r2 = { .url = u2 }, r3 = { .url = u1, .guard = true };
    ck_assert_int_eq(http_get(c, &r1, on_done, &a, &err), 0);
    ck_assert_int_eq(http_get(c, &r2, on_done, &b, &err), 0);
    ck_assert_int_eq(http_get(c, &r3, on_done, &g, &err), 0);
    ck_assert_uint_eq(http_pending(c), 3);
    ck_assert_int_eq(a.done, 0);   /* never from within http_get */
    pending = 3;
    run(loop);
    ck_assert_int_eq(a.done, 1);
    ck_assert(!a.failed);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.body, "<rss>hello</rss>");
    ck_assert(b.failed);
    ck_assert_ptr_nonnull(strstr(b.error, "max_decompressed (64 bytes)"));
    ck_assert(g.failed);   /* a guarded request never reads files */
    ck_assert_uint_eq(http_pending(c), 0);
    outcome_clear(&a);
    outcome_clear(&b);
    outcome_clear(&g);
    http_client_destroy(&c);
    ck_assert_ptr_null(c);
    nm_loop_destroy(&loop);   /* a stopped loop stays stopped */

    loop = nm_loop_new(&err);
    cfg = config(NULL, false);   /* file: not allowed at all */
    c = http_client_new(loop, &cfg, &err);
    ck_assert_int_eq(http_get(c, &r1, on_done, &a, &err), 0);
    pending = 1;
    run(loop);
    ck_assert_int_eq(a.done, 1);
    ck_assert(a.failed);
    outcome_clear(&a);
    http_client_destroy(&c);
    nm_loop_destroy(&loop);
    unlink(small);
    unlink(big);
    free(small);
    free(big);
    free(u1);
    free(u2);
}
END_TEST

START_TEST(guard_refuses_loopback)
{
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    ssrf_allow *none = ssrf_allow_new("", &err);
    struct http_config cfg = config(none, false);
    http_client *c = http_client_new(loop, &cfg, &err);
    struct outcome g = { 0 }, u = { 0 };
    struct http_request guarded = { .url = "http://127.0.0.1:9/page", .guard = true };
    struct http_request plain = { .url = "http://127.0.0.1:9/feed", .guard = false };
    ck_assert_int_eq(http_get(c, &guarded, on_done, &g, &err), 0);
    ck_assert_int_eq(http_get(c, &plain, on_done, &u, &err), 0);
    pending = 2;
    run(loop);
    ck_assert(g.failed);
    ck_assert_msg(strstr(g.error, "refused to connect to 127.0.0.1 (loopback address"), "%s", g.error);
    ck_assert(u.failed);   /* not guarded: it tried, and nothing listens on port 9 */
    ck_assert_ptr_null(strstr(u.error, "refused to connect to"));
    outcome_clear(&g);
    outcome_clear(&u);
    http_client_destroy(&c);
    ssrf_allow_destroy(&none);
    nm_loop_destroy(&loop);
}
END_TEST

START_TEST(bad_urls_and_cancel)
{
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    struct http_config cfg = config(NULL, false);
    http_client *c = http_client_new(loop, &cfg, &err);
    struct outcome a = { 0 };
    struct http_request bad = { .url = "http://exa mple.com/ feed" };
    ck_assert_int_eq(http_get(c, &bad, on_done, &a, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a URL"));
    struct http_request empty = { .url = "" };
    ck_assert_int_eq(http_get(c, &empty, on_done, &a, &err), -1);
    /* Destroying the client reports queued requests as cancelled. */
    struct http_request later = { .url = "http://127.0.0.1:9/x" };
    ck_assert_int_eq(http_get(c, &later, on_done, &a, &err), 0);
    pending = 1;
    http_client_destroy(&c);
    ck_assert_int_eq(a.done, 1);
    ck_assert(a.failed);
    ck_assert_ptr_nonnull(strstr(a.error, "cancelled"));
    outcome_clear(&a);
    nm_loop_destroy(&loop);
    ck_assert_str_eq(http_default_user_agent(), "newsmon/" NEWSMON_VERSION
                     " (+https://github.com/newsmon/newsmon; news monitoring)");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, file_urls);
    tcase_add_test(tc, guard_refuses_loopback);
    tcase_add_test(tc, bad_urls_and_cancel);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
