/*
 * nm_msg: round trips of every message type, and strict rejection of
 * malformed bodies (wrong version, missing or mistyped fields, unknown fields).
 */
#include "common/nm_msg.h"
#include "tests/unit/nm_check.h"

#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

START_TEST(article_round_trip)
{
    nm_article a;
    nm_article_init(&a);
    a.id = nm_xstrdup("https://example.org/a");
    a.title = nm_xstrdup("Мінск — title");
    a.published = nm_xstrdup("2026-11-01T10:00:00Z");
    nm_article_add_category(&a, "security");
    nm_article_add_category(&a, "Belarus");
    json_t *j = nm_article_to_json(&a);
    nm_article b;
    nm_article_init(&b);
    nm_err err;
    ck_assert_int_eq(nm_article_from_json(j, &b, &err), 0);
    ck_assert_str_eq(b.id, a.id);
    ck_assert_str_eq(b.title, "Мінск — title");
    ck_assert_int_eq(b.n_categories, 2);
    ck_assert_str_eq(b.categories[1], "Belarus");
    ck_assert_ptr_null(b.summary);
    json_decref(j);
    nm_article_clear(&a);
    nm_article_clear(&b);
}
END_TEST

static void expect_article_error(const char *text, const char *needle)
{
    json_t *j = parse(text);
    nm_article a;
    nm_article_init(&a);
    nm_err err = { "" };
    ck_assert_int_eq(nm_article_from_json(j, &a, &err), -1);
    ck_assert_msg(strstr(err.msg, needle), "error '%s' lacks '%s'", err.msg, needle);
    json_decref(j);
}

START_TEST(article_rejects)
{
    expect_article_error("{}", "missing field \"id\"");
    expect_article_error("{\"id\": 5}", "field \"id\" must be a string");
    expect_article_error("{\"id\": \"\"}", "field \"id\" is empty");
    expect_article_error("{\"id\": \"x\", \"title\": []}", "field \"title\" must be a string");
    expect_article_error("{\"id\": \"x\", \"categories\": [\"a\", 1]}", "\"categories\"[1] must be a string");
    expect_article_error("{\"id\": \"x\", \"colour\": \"red\"}", "unknown field \"colour\"");
    expect_article_error("[1,2]", "must be a JSON object");
}
END_TEST

START_TEST(classified_round_trip_and_rejects)
{
    const char *good = "{\"v\":1,\"ruleset\":\"abc\",\"article\":{\"id\":\"x\",\"title\":\"t\",\"categories\":[]},"
                       "\"themes\":[{\"id\":\"espionage\",\"score\":3,\"severity\":\"high\","
                       "\"matches\":[{\"term\":\"kgb\",\"field\":\"title\",\"offset\":0,\"text\":\"KGB\"}]}]}";
    json_t *j = parse(good);
    nm_classified c;
    nm_err err;
    ck_assert_int_eq(nm_classified_from_json(j, &c, &err), 0);
    ck_assert_int_eq(c.n_themes, 1);
    ck_assert_str_eq(c.themes[0].severity, "high");
    ck_assert_int_eq(json_array_size(c.themes[0].matches), 1);
    json_t *again = nm_classified_to_json(&c);
    ck_assert(json_equal(j, again));
    json_decref(again);
    json_decref(j);
    nm_classified_clear(&c);

    static const struct { const char *text, *needle; } bad[] = {
        { "{\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[]}", "missing field \"v\"" },
        { "{\"v\":2,\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[]}", "unsupported schema version 2" },
        { "{\"v\":\"1\",\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[]}", "\"v\" must be an integer" },
        { "{\"v\":1,\"ruleset\":\"a\",\"themes\":[]}", "missing field \"article\"" },
        { "{\"v\":1,\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":{}}", "\"themes\" must be an array" },
        { "{\"v\":1,\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[{\"id\":\"t\",\"score\":1,\"severity\":\"urgent\"}]}",
          "unknown severity \"urgent\"" },
        { "{\"v\":1,\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[{\"id\":\"t\",\"score\":\"1\",\"severity\":\"low\"}]}",
          "\"score\" must be an integer" },
        { "{\"v\":1,\"ruleset\":\"a\",\"article\":{\"id\":\"x\"},\"themes\":[],\"extra\":1}", "unknown field \"extra\"" },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(bad); i++) {
        j = parse(bad[i].text);
        nm_err e2 = { "" };
        ck_assert_int_eq(nm_classified_from_json(j, &c, &e2), -1);
        ck_assert_msg(strstr(e2.msg, bad[i].needle), "case %zu: '%s' lacks '%s'", i, e2.msg, bad[i].needle);
        json_decref(j);
    }
}
END_TEST

START_TEST(stored_delivered_alert)
{
    nm_stored s = { nm_xstrdup("id1"), nm_xstrdup("http://f"), 2 };
    json_t *j = nm_stored_to_json(&s);
    nm_stored s2;
    nm_err err;
    ck_assert_int_eq(nm_stored_from_json(j, &s2, &err), 0);
    ck_assert_str_eq(s2.id, "id1");
    ck_assert_int_eq(s2.version, 2);
    json_decref(j);
    nm_stored_clear(&s);
    nm_stored_clear(&s2);

    j = parse("{\"v\":1,\"alert_id\":3,\"channel\":\"mail\",\"status\":\"maybe\"}");
    nm_delivered d;
    ck_assert_int_eq(nm_delivered_from_json(j, &d, &err), -1);
    ck_assert(strstr(err.msg, "\"status\" must be \"ok\" or \"failed\""));
    json_decref(j);
    j = parse("{\"v\":1,\"alert_id\":3,\"channel\":\"mail\",\"status\":\"ok\"}");
    ck_assert_int_eq(nm_delivered_from_json(j, &d, &err), 0);
    ck_assert_int_eq(d.alert_id, 3);
    nm_delivered_clear(&d);
    json_decref(j);

    j = parse("{\"v\":1,\"alert_id\":7,\"story\":\"s1\",\"followup\":1,\"ruleset\":\"r\","
              "\"article\":{\"id\":\"x\",\"categories\":[]},\"themes\":[]}");
    nm_alert al;
    ck_assert_int_eq(nm_alert_from_json(j, &al, &err), 0);
    ck_assert_int_eq(al.alert_id, 7);
    ck_assert_int_eq(al.followup, 1);
    json_t *back = nm_alert_to_json(&al);
    ck_assert(json_equal(j, back));
    json_decref(back);
    json_decref(j);
    nm_alert_clear(&al);

    j = parse("{\"v\":1,\"alert_id\":0,\"story\":\"s1\",\"followup\":0,\"ruleset\":\"r\",\"article\":{\"id\":\"x\"},\"themes\":[]}");
    ck_assert_int_eq(nm_alert_from_json(j, &al, &err), -1);
    ck_assert(strstr(err.msg, "alert_id"));
    json_decref(j);
}
END_TEST

START_TEST(type_names)
{
    for (int t = 0; t < NM_MSG__COUNT; t++) {
        const char *n = nm_msg_type_name((nm_msg_type)t);
        ck_assert_int_eq(nm_msg_type_from_name(n, strlen(n)), t);
    }
    ck_assert_int_eq(nm_msg_type_from_name("articles", 8), -1);
    ck_assert_int_eq(nm_msg_type_from_name("art", 3), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_msg");
    TCase *t = tcase_create("core");
    tcase_add_test(t, article_round_trip);
    tcase_add_test(t, article_rejects);
    tcase_add_test(t, classified_round_trip_and_rejects);
    tcase_add_test(t, stored_delivered_alert);
    tcase_add_test(t, type_names);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
