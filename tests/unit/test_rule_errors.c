/*
 * Data-driven tests of the rule language's diagnostics: every folder
 * under tests/data/rules/errors/ is a case (one or more .rules files)
 * with a file "expected" next to them: "ok" or "refused" on the first
 * line, then every diagnostic exactly as `newsmonctl rules check` prints
 * it (file names relative to tests/data/rules/errors). Add a case by
 * adding a folder; NM_RULES_REGEN=1 rewrites the expected files (review
 * the diff before keeping it).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "classifier/rules.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

static char *run_case(const char *name)
{
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(name, &d);
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_adds(&b, rs ? "ok\n" : "refused\n");
    ck_assert_msg((rs != NULL) == (d.n_errors == 0), "%s: a set was returned despite errors", name);
    for (size_t i = 0; i < d.n; i++)
        nm_buf_addf(&b, "%s\n", d.items[i].text);
    rule_diags_clear(&d);
    rule_set_destroy(&rs);
    return nm_buf_steal(&b);
}

START_TEST(every_case)
{
    ck_assert_int_eq(chdir(nm_test_path("tests/data/rules/errors")), 0);
    DIR *dir = opendir(".");
    ck_assert_ptr_nonnull(dir);
    struct dirent *e;
    size_t cases = 0;
    bool regen = getenv("NM_RULES_REGEN") != NULL;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char *got = run_case(e->d_name);
        char *path = nm_xasprintf("%s/expected", e->d_name);
        if (regen) {
            FILE *f = fopen(path, "w");
            ck_assert_ptr_nonnull(f);
            fputs(got, f);
            fclose(f);
        }
        char *want;
        nm_err err;
        ck_assert_msg(nm_read_file(path, 0, &want, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(strcmp(got, want) == 0, "case %s:\n--- expected\n%s--- got\n%s", e->d_name, want, got);
        free(want);
        free(path);
        free(got);
        cases++;
    }
    closedir(dir);
    ck_assert_uint_ge(cases, 10);
}
END_TEST

START_TEST(missing_folder)
{
    rule_diags d;
    rule_diags_init(&d);
    ck_assert_ptr_null(rule_set_load("/nonexistent/rules.d", &d));
    ck_assert_uint_eq(d.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(d.items[0].text, "/nonexistent/rules.d: error: cannot open the rules folder"));
    rule_diags_clear(&d);
}
END_TEST

START_TEST(hostile_bytes)
{
    /* invalid UTF-8, a NUL, a huge NEAR, deep nesting: errors, never a crash */
    static const char text[] = "theme t\n  severity low\n  match \xff\xfe AND x\n\0theme u\n";
    rule_file f = { "h.rules", text, sizeof text - 1 };
    rule_diags d;
    rule_diags_init(&d);
    ck_assert_ptr_null(rule_set_load_files(&f, 1, &d));
    ck_assert_uint_ge(d.n_errors, 1);
    rule_diags_clear(&d);
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_adds(&b, "theme t\n  severity low\n  match ");
    for (int i = 0; i < 150; i++)
        nm_buf_addc(&b, '(');
    nm_buf_adds(&b, "x");
    for (int i = 0; i < 150; i++)
        nm_buf_addc(&b, ')');
    nm_buf_addc(&b, '\n');
    f.text = b.data;
    f.len = b.len;
    rule_set *rs = rule_set_load_files(&f, 1, &d);
    ck_assert_ptr_nonnull(rs);
    rule_set_destroy(&rs);
    /* far deeper nesting is refused with an error, not a stack overflow */
    nm_buf_reset(&b);
    nm_buf_adds(&b, "theme t\n  severity low\n  match ");
    for (int i = 0; i < 100000; i++)
        nm_buf_adds(&b, i % 2 ? "(" : "NOT ");
    nm_buf_addc(&b, '\n');
    f.text = b.data;
    f.len = b.len;
    ck_assert_ptr_null(rule_set_load_files(&f, 1, &d));
    ck_assert_ptr_nonnull(strstr(d.items[d.n - 1].text, "nests more than"));
    rule_diags_clear(&d);
    rule_diags_clear(&d);
    nm_buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rule_errors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_case);
    tcase_add_test(tc, missing_folder);
    tcase_add_test(tc, hostile_bytes);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
