/*
 * Unit tests of the notifier library: config validation errors (each with
 * its line), routing, the rate limiter, back-off maths, templates, the
 * snippet, rendering and the e-mail message, and the state database.
 */
#include "nm_check.h"
#include "notifier/notif.h"

#include <string.h>
#include <unistd.h>

/* Loads a config file from tests/data/notifier/conf; returns errors in errs. */
static notif_conf *load(const char *name, nm_conf_errors *errs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", nm_test_path(name));
    notif_conf *c = notif_conf_new(path);
    static const nm_conf_key none[] = { { "notifier", "state", NM_CONF_STRING, 0, "", 1, 0, "" } };
    struct { char *state; } out = { 0 };
    struct nm_conf_load_args a = { path, none, 1, &out, NULL, 0, notif_conf_named, c };
    nm_conf_load(&a, errs);
    notif_conf_finish(c, errs);
    nm_conf_free(none, 1, &out);
    return c;
}

static int has_error(const nm_conf_errors *e, const char *needle)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msg[i], needle))
            return 1;
    return 0;
}

START_TEST(conf_errors)
{
    nm_conf_errors e = { 0 };
    notif_conf *c = load("tests/data/notifier/conf/bad.conf", &e);
    ck_assert(has_error(&e, "bad.conf:7: [channel mail] password: secrets are not read from the main configuration"));
    ck_assert(has_error(&e, "bad.conf:6: [channel mail] smtp_url: 'http://mail.example.org' is not an smtp://"));
    ck_assert(has_error(&e, ":8: [channel mail] to: 'not-an-address' is not an e-mail address"));
    ck_assert(has_error(&e, ":9: [channel mail] tls: 'maybe' is not starttls or none"));
    ck_assert(has_error(&e, "[channel mail] from: missing"));
    ck_assert(has_error(&e, "[channel hook] template: unknown placeholder {{nope}}"));
    ck_assert(has_error(&e, ":15: [channel hook] path: not a key of a webhook channel"));
    ck_assert(has_error(&e, "[channel nott] type: missing"));
    ck_assert(has_error(&e, ":22: [route r1] min_severity: 'severe' is not info"));
    ck_assert(has_error(&e, ":23: [route r1] channels: no [channel ghost] is defined"));
    ck_assert(has_error(&e, ":24: [route r1] rate_limit:"));
    ck_assert(has_error(&e, "[route r2] channels: missing"));
    notif_conf_destroy(&c);
    nm_conf_errors_clear(&e);
}
END_TEST

START_TEST(conf_good)
{
    nm_conf_errors e = { 0 };
    notif_conf *c = load("tests/data/notifier/conf/good.conf", &e);
    for (size_t i = 0; i < e.n; i++)
        fprintf(stderr, "%s\n", e.msg[i]);
    ck_assert_uint_eq(e.n, 0);
    ck_assert_uint_eq(c->n_channels, 2);
    notif_route *r = notif_conf_route(c, "all");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->rate_limit, 5);
    ck_assert_int_eq(r->rate_window, 60000);
    ck_assert_int_eq(notif_conf_channel(c, "hook")->retries, 5);
    notif_conf_destroy(&c);
}
END_TEST

START_TEST(template_json_check)
{
    nm_err err;
    ck_assert_int_eq(notif_template_check("{\"a\": \"{{title}}\", \"b\": {{alert_json}}}", &err), 0);
    ck_assert_int_eq(notif_template_check("{\"a\": {{title}}}", &err), -1);
    ck_assert(strstr(err.msg, "not JSON"));
    ck_assert_int_eq(notif_template_check("{\"a\": \"{{ unknown }}\"}", &err), -1);
}
END_TEST

/* A sample alert: title with a term, text with two. */
static void sample(nm_alert *a, const char *theme, const char *severity)
{
    nm_alert_init(a);
    a->alert_id = 7;
    a->story = nm_xstrdup("s1");
    a->item.article.id = nm_xstrdup("id");
    a->item.article.title = nm_xstrdup("KGB agents in Vilnius");
    a->item.article.text = nm_xstrdup("Officials said the KGB tried to recruit <relatives> & friends.");
    a->item.article.link = nm_xstrdup("https://www.lrt.lt/news/1");
    a->item.article.lang = nm_xstrdup("ru-RU");
    a->item.n_themes = 1;
    a->item.themes = nm_xcalloc(1, sizeof *a->item.themes);
    a->item.themes[0].id = nm_xstrdup(theme);
    a->item.themes[0].severity = nm_xstrdup(severity);
    a->item.themes[0].matches = json_pack("[{s:s,s:s,s:i,s:s},{s:s,s:s,s:i,s:s}]", "term", "KGB", "field", "text",
                                          "offset", 18, "text", "KGB", "term", "recruit*", "field", "text",
                                          "offset", 999, "text", "recruit");
}

START_TEST(routing)
{
    nm_alert a;
    sample(&a, "espionage", "medium");
    notif_route r = { 0 };
    r.all_themes = 1;
    ck_assert_int_eq(notif_route_match(&r, &a), 1);
    r.min_severity = notif_severity_rank("high");
    ck_assert_int_eq(notif_route_match(&r, &a), 0);
    r.min_severity = 0;
    r.all_themes = 0;
    char *themes[] = { "military", "espionage" };
    r.themes = themes;
    r.n_themes = 2;
    ck_assert_int_eq(notif_route_match(&r, &a), 1);
    r.n_themes = 1;
    ck_assert_int_eq(notif_route_match(&r, &a), 0);
    r.n_themes = 2;
    char *langs[] = { "ru" }, *langs2[] = { "r" };
    r.languages = langs;
    r.n_languages = 1;
    ck_assert_int_eq(notif_route_match(&r, &a), 1);   /* ru matches ru-RU */
    r.languages = langs2;
    ck_assert_int_eq(notif_route_match(&r, &a), 0);   /* r does not */
    r.n_languages = 0;
    char *src[] = { "lrt.lt" }, *src2[] = { "rt.lt" };
    r.sources = src;
    r.n_sources = 1;
    ck_assert_int_eq(notif_route_match(&r, &a), 1);   /* www.lrt.lt is in lrt.lt */
    r.sources = src2;
    ck_assert_int_eq(notif_route_match(&r, &a), 0);   /* but not in rt.lt */
    char *s = notif_alert_source(&a);
    ck_assert_str_eq(s, "lrt.lt");
    free(s);
    nm_alert_clear(&a);
}
END_TEST

START_TEST(rate_limit)
{
    notif_rate r;
    notif_rate_init(&r, 3, 1000);
    ck_assert(notif_rate_take(&r, 0));
    ck_assert(notif_rate_take(&r, 100));
    ck_assert(notif_rate_take(&r, 200));
    ck_assert(!notif_rate_take(&r, 300));
    ck_assert_int_eq(notif_rate_wait(&r, 300), 700);
    ck_assert(!notif_rate_take(&r, 999));
    ck_assert(notif_rate_take(&r, 1000));    /* the first left the window */
    ck_assert(!notif_rate_take(&r, 1050));
    ck_assert_int_eq(notif_rate_wait(&r, 1050), 50);
    ck_assert(notif_rate_take(&r, 1100));
    notif_rate_clear(&r);
    notif_rate_init(&r, 0, 1000);
    for (int i = 0; i < 100; i++)
        ck_assert(notif_rate_take(&r, 0));
    notif_rate_clear(&r);
}
END_TEST

START_TEST(backoff)
{
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 1), 2000);
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 2), 4000);
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 5), 32000);
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 8), 256000);
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 9), 300000);
    ck_assert_int_eq(notif_backoff_delay(2000, 300000, 1000), 300000);   /* no overflow */
    ck_assert_int_eq(notif_backoff_delay(INT64_MAX / 2, INT64_MAX, 100), INT64_MAX);
    /* Jitter lengthens by 0-25%, never shortens, and does vary. */
    uint64_t st = 1;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t j = notif_jitter(2000, &st);
        ck_assert_int_ge(j, 2000);
        ck_assert_int_le(j, 2500);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
    }
    ck_assert_int_lt(lo, 2100);
    ck_assert_int_gt(hi, 2400);
    ck_assert_int_eq(notif_jitter(0, &st), 0);
    ck_assert_int_eq(notif_jitter(3, &st), 3);     /* too short to spread */
    ck_assert_int_ge(notif_jitter(INT64_MAX, &st), INT64_MAX - 1);
}
END_TEST

START_TEST(snippet_and_render)
{
    nm_alert a;
    sample(&a, "espionage", "high");
    char *s = notif_snippet(&a, NOTIF_MK_PLAIN);
    ck_assert_str_eq(s, "Officials said the «KGB» tried to «recruit» <relatives> & friends.");
    free(s);
    s = notif_snippet(&a, NOTIF_MK_HTML);
    ck_assert(strstr(s, "<mark><b>KGB</b></mark>") && strstr(s, "&lt;relatives&gt; &amp;"));
    free(s);
    json_t *raw = nm_alert_to_json(&a);
    const nm_alert *as[1] = { &a };
    const json_t *raws[1] = { raw };
    notif_msg m = { "c", "r", 0, as, raws, 1 };
    char *t = notif_render_title(&m);
    ck_assert_str_eq(t, "[HIGH] KGB agents in Vilnius");
    free(t);
    a.followup = 2;
    t = notif_render_title(&m);
    ck_assert_str_eq(t, "Also reported by lrt.lt: KGB agents in Vilnius");
    free(t);
    char *out = notif_template_render("{\"t\": \"{{title}}\", \"n\": {{alert_json}}, \"s\": \"{{severity}}\"}", &m);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "t")), "KGB agents in Vilnius");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "n"), "channel")), "c");
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")), "high");
    json_decref(j);
    free(out);
    notif_channel ch = { 0 };
    ch.name = "mail";
    ch.from = "nm@example.org";
    char *to[] = { "a@example.org" };
    ch.to = to;
    ch.n_to = 1;
    ch.subject_prefix = "[nm]";
    char *mail = notif_email_message(&ch, &m, "host", 0);
    ck_assert(strstr(mail, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    ck_assert(strstr(mail, "Subject: [nm] Also reported by lrt.lt: KGB agents in Vilnius\r\n"));
    ck_assert(strstr(mail, "In-Reply-To: <story."));
    ck_assert(strstr(mail, "multipart/alternative"));
    free(mail);
    json_decref(raw);
    nm_alert_clear(&a);
}
END_TEST

START_TEST(state_db)
{
    char path[] = "/tmp/nm-notif-db-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    nm_err err;
    notif_db *db = notif_db_open(path, &err);
    ck_assert_ptr_nonnull(db);
    char *st = NULL, *er = NULL;
    ck_assert_int_eq(notif_db_lookup(db, 1, "mail", &st, &er, &err), 0);
    ck_assert_int_eq(notif_db_record(db, 1, "mail", "failed", "boom", &err), 0);
    ck_assert_int_eq(notif_db_lookup(db, 1, "mail", &st, &er, &err), 1);
    ck_assert_str_eq(st, "failed");
    ck_assert_str_eq(er, "boom");
    free(st);
    free(er);
    ck_assert_int_eq(notif_db_lookup(db, 1, "hook", &st, &er, &err), 0);
    notif_db_close(&db);
    db = notif_db_open(path, &err);   /* reopened: remembered, schema not re-applied */
    ck_assert_int_eq(notif_db_lookup(db, 1, "mail", &st, &er, &err), 1);
    free(st);
    free(er);
    ck_assert_int_eq(notif_db_prune(db, INT64_MAX, &err), 1);
    notif_db_close(&db);
    unlink(path);
    char *wal = nm_xasprintf("%s-wal", path), *shm = nm_xasprintf("%s-shm", path);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
}
END_TEST

START_TEST(secrets)
{
    char dir[] = "/tmp/nm-notif-cred-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *f = nm_xasprintf("%s/smtp", dir);
    FILE *fp = fopen(f, "w");
    fputs("pa55\n", fp);
    fclose(fp);
    nm_err err;
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    char *s = notif_read_secret(NULL, "smtp", &err);
    ck_assert_str_eq(s, "pa55");
    free(s);
    s = notif_read_secret(f, NULL, &err);
    ck_assert_str_eq(s, "pa55");
    free(s);
    ck_assert_ptr_null(notif_read_secret(NULL, "../etc/passwd", &err));
    unsetenv("CREDENTIALS_DIRECTORY");
    ck_assert_ptr_null(notif_read_secret(NULL, "smtp", &err));
    ck_assert(strstr(err.msg, "CREDENTIALS_DIRECTORY"));
    unlink(f);
    rmdir(dir);
    free(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("notif");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, conf_errors);
    tcase_add_test(tc, conf_good);
    tcase_add_test(tc, template_json_check);
    tcase_add_test(tc, routing);
    tcase_add_test(tc, rate_limit);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, snippet_and_render);
    tcase_add_test(tc, state_db);
    tcase_add_test(tc, secrets);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
