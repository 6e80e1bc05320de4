/*
 * Tests of newsmonctl's store commands (ctl/ctl_store.c), run as the real
 * binary against a database filled through the store library: export
 * (the jsonl contract and csv), search, articles, show, alerts, stories,
 * stats, backup, and their usage errors. Skipped (77) when newsmonctl has
 * not been built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nm_util.h"
#include "store/store_db.h"
#include "tests/unit/nm_check.h"
#include "tests/unit/test_store_util.h"

static char dir[64];
static char path[128];
static char ctl[4096];

/* Runs newsmonctl --db PATH ARGS; stores stdout in *out (caller frees).
   Returns the exit status. */
static int run(const char *args, char **out)
{
    char *cmd = nm_xasprintf("'%s' --db '%s' %s 2>/dev/null", ctl, path, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    nm_buf b;
    nm_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        nm_buf_add(&b, chunk, n);
    int st = pclose(p);
    free(cmd);
    nm_buf_cstr(&b);
    *out = nm_buf_steal(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Returns how many lines s has. */
static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void setup(void)
{
    strcpy(dir, "/tmp/nmctl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/newsmon.db", dir);
    nm_err err;
    store_db *db = store_db_open(path, NULL, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    store_set_clock(db, T0);
    int64_t a1 = ingest_simple(db, "pl-1", "Łukaszenka grozi Polsce, minister Kosiniak-Kamysz odpowiada",
                               "Białoruś wysyła żołnierzy przy granicy, mówi minister.", "military,border");
    ingest_simple(db, "pl-2", "Łukaszenka grozi Polsce, minister Kosiniak-Kamysz odpowiada",
                  "Białoruś wysyła żołnierzy przy granicy, mówi minister.", NULL);
    ingest_simple(db, "ru-1", "Задержаны родственники, \"эмигрантов\"", "КГБ вербует ёлочных торговцев.",
                  "espionage");
    ingest_simple(db, "en-1", "Weather, mild", "Nothing happened, again.", NULL);
    nm_delivered f = { a1, "mail", "failed", "550 no such user" };
    ck_assert_int_eq(store_alert_delivered(db, &f, &err), 0);
    /* pl-2 repeats pl-1 word for word: the same story. */
    store_db_close(&db);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_export_jsonl_contract)
{
    char *out;
    ck_assert_int_eq(run("export --format jsonl", &out), 0);
    ck_assert_int_eq(lines(out), 4);
    char *save = NULL;
    int seen = 0;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        ck_assert_msg(json_is_object(j), "not JSON: %s", line);
        ck_assert_int_eq(json_object_size(j), 6);
        static const char *const keys[] = { "id", "title", "link", "published", "feed", "themes" };
        for (size_t i = 0; i < NM_ARRAY_LEN(keys); i++)
            ck_assert_msg(json_object_get(j, keys[i]) != NULL, "no %s in %s", keys[i], line);
        ck_assert(json_is_array(json_object_get(j, "themes")));
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!strcmp(id, "pl-1")) {
            json_t *t = json_object_get(j, "themes");
            ck_assert_int_eq(json_array_size(t), 2);
            ck_assert_str_eq(json_string_value(json_array_get(t, 0)), "border");
            ck_assert_str_eq(json_string_value(json_array_get(t, 1)), "military");
            ck_assert_str_eq(json_string_value(json_object_get(j, "feed")), TEST_FEED);
            ck_assert_str_eq(json_string_value(json_object_get(j, "published")), "2026-01-01T08:30:00Z");
            seen++;
        } else if (!strcmp(id, "en-1")) {
            ck_assert_int_eq(json_array_size(json_object_get(j, "themes")), 0);
            seen++;
        }
        json_decref(j);
    }
    ck_assert_int_eq(seen, 2);
    free(out);

    ck_assert_int_eq(run("export --format jsonl --theme espionage", &out), 0);
    ck_assert_int_eq(lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"ru-1\""));
    free(out);
}
END_TEST

START_TEST(test_export_csv)
{
    char *out;
    ck_assert_int_eq(run("export --format csv", &out), 0);
    ck_assert_int_eq(lines(out), 5);
    ck_assert(strncmp(out, "id,title,link,published,feed,themes\r\n", 37) == 0);
    /* fields with commas and quotes are quoted, quotes doubled */
    ck_assert_ptr_nonnull(strstr(out, "\"Задержаны родственники, \"\"эмигрантов\"\"\""));
    ck_assert_ptr_nonnull(strstr(out, ",border;military\r\n"));
    free(out);
    ck_assert_int_eq(run("export --format xml", &out), 2);
    free(out);
    ck_assert_int_eq(run("export", &out), 2);
    free(out);
}
END_TEST

START_TEST(test_search)
{
    char *out;
    ck_assert_int_eq(run("search lukaszenka --json", &out), 0);
    ck_assert_int_eq(lines(out), 2);
    ck_assert_ptr_nonnull(strstr(out, "[Łukaszenka]"));
    free(out);
    /* hyphenated words are plain text, diacritics and case are folded */
    ck_assert_int_eq(run("search 'KOSINIAK-KAMYSZ' --theme military --json", &out), 0);
    ck_assert_int_eq(lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"pl-1\""));
    free(out);
    ck_assert_int_eq(run("search 'елочных' --json", &out), 0);
    ck_assert_int_eq(lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "[ёлочных]"));
    free(out);
    ck_assert_int_eq(run("search 'zolnier*' --json", &out), 0);
    ck_assert_int_eq(lines(out), 2);
    free(out);
    ck_assert_int_eq(run("search 'weather NOT mild' --json", &out), 0);
    ck_assert_int_eq(lines(out), 0);
    free(out);
    ck_assert_int_eq(run("search 'weather OR кгб' --json", &out), 0);
    ck_assert_int_eq(lines(out), 2);
    free(out);
    /* "quoted words" are a phrase: order matters */
    ck_assert_int_eq(run("search '\"grozi polsce\"' --json", &out), 0);
    ck_assert_int_eq(lines(out), 2);
    free(out);
    ck_assert_int_eq(run("search '\"polsce grozi\"' --json", &out), 0);
    ck_assert_int_eq(lines(out), 0);
    free(out);
    ck_assert_int_eq(run("search '(\"grozi pol\"* OR кгб) NOT mild' --json", &out), 0);
    ck_assert_int_eq(lines(out), 3);
    free(out);
    ck_assert_int_eq(run("search nothinglikethis", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "no articles match"));
    free(out);
    ck_assert_int_eq(run("search 'z*'", &out), 2);
    free(out);
    ck_assert_int_eq(run("search", &out), 2);
    free(out);
    ck_assert_int_eq(run("search '(weather'", &out), 2);
    free(out);
}
END_TEST

START_TEST(test_articles_show_alerts_stories_stats)
{
    char *out;
    ck_assert_int_eq(run("articles --json", &out), 0);
    ck_assert_int_eq(lines(out), 4);
    free(out);
    ck_assert_int_eq(run("articles --theme espionage --limit 5", &out), 0);
    ck_assert_int_eq(lines(out), 2);   /* header + one */
    ck_assert_ptr_nonnull(strstr(out, "espionage"));
    free(out);
    ck_assert_int_eq(run("articles --since 1d", &out), 0);
    ck_assert_int_eq(lines(out), 1);   /* the fixtures are from 2026-01-01 */
    free(out);
    ck_assert_int_eq(run("articles --since 2025-12-31 --json", &out), 0);
    ck_assert_int_eq(lines(out), 4);
    free(out);
    ck_assert_int_eq(run("articles --since yesterdayish", &out), 2);
    free(out);
    ck_assert_int_eq(run("articles --limit 0", &out), 2);
    free(out);
    ck_assert_int_eq(run("articles --bogus", &out), 2);
    free(out);

    ck_assert_int_eq(run("show pl-1", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "military-term"));
    ck_assert_ptr_nonnull(strstr(out, "550 no such user"));
    ck_assert_ptr_nonnull(strstr(out, "1 other article"));
    free(out);
    ck_assert_int_eq(run("show ru-1 --json", &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert(json_is_object(j));
    ck_assert_int_eq(json_array_size(json_object_get(j, "themes")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "alerts")), 1);
    json_decref(j);
    free(out);
    ck_assert_int_eq(run("show no-such-id", &out), 1);
    free(out);

    ck_assert_int_eq(run("alerts --failed --json", &out), 0);
    ck_assert_int_eq(lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "mail: 550 no such user"));
    free(out);
    ck_assert_int_eq(run("alerts --pending --json", &out), 0);
    ck_assert_int_eq(lines(out), 1);
    free(out);
    ck_assert_int_eq(run("alerts", &out), 0);
    ck_assert_int_eq(lines(out), 3);
    free(out);

    ck_assert_int_eq(run("stories --since 2020-01-01 --json", &out), 0);
    ck_assert_int_eq(lines(out), 3);   /* pl-1 and pl-2 are one story */
    ck_assert_ptr_nonnull(strstr(out, "\"articles\":2"));
    free(out);

    ck_assert_int_eq(run("stats --since 2020-01-01 --json", &out), 0);
    j = json_loads(out, 0, NULL);
    ck_assert(json_is_object(j));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "per_day"), "2026-01-01")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "per_theme"), "military")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "per_feed"), "Test feed")), 4);
    json_decref(j);
    free(out);
}
END_TEST

START_TEST(test_backup_and_missing_db)
{
    char *out, *args = nm_xasprintf("backup '%s/copy.db'", dir);
    ck_assert_int_eq(run(args, &out), 0);
    free(out);
    ck_assert_int_eq(run(args, &out), 1);   /* will not overwrite */
    free(out);
    free(args);
    char *copy = nm_xasprintf("%s/copy.db", dir);
    strcpy(path, copy);
    free(copy);
    ck_assert_int_eq(run("export --format jsonl", &out), 0);
    ck_assert_int_eq(lines(out), 4);
    free(out);
    snprintf(path, sizeof path, "%s/missing.db", dir);
    ck_assert_int_eq(run("articles", &out), 1);
    free(out);
    ck_assert_int_eq(access(path, F_OK), -1);   /* a query never creates a database */
}
END_TEST

static Suite *ctl_suite(void)
{
    Suite *s = suite_create("store_ctl");
    TCase *tc = tcase_create("ctl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_export_jsonl_contract);
    tcase_add_test(tc, test_export_csv);
    tcase_add_test(tc, test_search);
    tcase_add_test(tc, test_articles_show_alerts_stories_stats);
    tcase_add_test(tc, test_backup_and_missing_db);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *build = getenv("NM_BUILD_DIR");
    snprintf(ctl, sizeof ctl, "%s/ctl/newsmonctl", build ? build : ".");
    if (access(ctl, X_OK) != 0) {
        printf("skipped: %s not built\n", ctl);
        return 77;
    }
    SRunner *sr = srunner_create(ctl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
