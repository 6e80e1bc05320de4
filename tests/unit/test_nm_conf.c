/*
 * nm_conf: schema-driven INI loading. Every problem must be reported with
 * file and line, all at once; defaults fill what is absent; overrides win.
 */
#include "common/nm_conf.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

#include <string.h>
#include <unistd.h>

struct conf {
    char *mode;
    char *name;
    int64_t count;
    int flag;
    int64_t delay;
    int64_t size;
};

static const char *const modes[] = { "fast", "safe", "paranoid", NULL };

#define O(f) offsetof(struct conf, f)
static const nm_conf_key schema[] = {
    { "fetcher", "mode", NM_CONF_STRING, O(mode), "safe", 1, 0, "", modes },
    { "fetcher", "name", NM_CONF_STRING, O(name), "default-name", 1, 0, "" },
    { "fetcher", "count", NM_CONF_INT, O(count), "5", 1, 100, "" },
    { "fetcher", "flag", NM_CONF_BOOL, O(flag), "no", 1, 0, "" },
    { "fetcher", "delay", NM_CONF_DURATION, O(delay), "30s", 0, 3600000, "" },
    { "fetcher", "size", NM_CONF_SIZE, O(size), "1M", 0, 1LL << 30, "" },
};
#undef O

static char *write_tmp(const char *text)
{
    char *path = nm_xstrdup("/tmp/nm_conf_testXXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int load(const char *text, struct conf *c, nm_conf_errors *e, char *const *ov, size_t nov)
{
    char *path = write_tmp(text);
    memset(c, 0, sizeof *c);
    struct nm_conf_load_args a = { path, schema, NM_ARRAY_LEN(schema), c, ov, nov, NULL, NULL };
    int r = nm_conf_load(&a, e);
    unlink(path);
    free(path);
    return r;
}

static int has_error(const nm_conf_errors *e, const char *needle)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msg[i], needle))
            return 1;
    return 0;
}

START_TEST(defaults_and_values)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    ck_assert_int_eq(load("[fetcher]\ncount = 7\nflag = yes\ndelay = 5m\nsize = 64k\n", &c, &e, NULL, 0), 0);
    ck_assert_str_eq(c.name, "default-name");
    ck_assert_int_eq(c.count, 7);
    ck_assert_int_eq(c.flag, 1);
    ck_assert_int_eq(c.delay, 300000);
    ck_assert_int_eq(c.size, 65536);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(every_error_with_line)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    const char *text = "[fetcher]\n"
                       "count = many\n"          /* line 2: not a number */
                       "flag = perhaps\n"        /* line 3: not a boolean */
                       "colour = blue\n"         /* line 4: unknown key */
                       "[fethcer]\n"             /* line 5: unknown section */
                       "x = 1\n"
                       "[fetcher]\n"
                       "count = 500\n"           /* line 8: out of range (and set twice) */
                       "delay = soon\n";         /* line 9: bad duration */
    ck_assert_int_eq(load(text, &c, &e, NULL, 0), -1);
    ck_assert(has_error(&e, ":2: [fetcher] count: 'many' is not a whole number"));
    ck_assert(has_error(&e, ":3: [fetcher] flag: 'perhaps' is not a boolean"));
    ck_assert(has_error(&e, ":4: [fetcher] unknown key 'colour'"));
    ck_assert(has_error(&e, ":5: unknown section [fethcer]"));
    ck_assert(has_error(&e, ":8: [fetcher] count: 500 is out of range (1 to 100)"));
    ck_assert(has_error(&e, ":9: [fetcher] delay: 'soon' is not a duration"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(choices_and_lines)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    int lines[NM_ARRAY_LEN(schema)] = { 0 };
    char *path = write_tmp("[fetcher]\n\ncount = 3\nmode = reckless\n");
    char *ov[] = { "fetcher.name=x" };
    memset(&c, 0, sizeof c);
    struct nm_conf_load_args a = { path, schema, NM_ARRAY_LEN(schema), &c, ov, 1, NULL, NULL, lines };
    ck_assert_int_eq(nm_conf_load(&a, &e), -1);
    ck_assert(has_error(&e, ":4: [fetcher] mode: 'reckless' is not fast, safe or paranoid"));
    ck_assert_int_eq(lines[0], 4);    /* mode */
    ck_assert_int_eq(lines[1], -1);   /* name: from the command line */
    ck_assert_int_eq(lines[2], 3);    /* count */
    ck_assert_int_eq(lines[3], 0);    /* flag: default */
    unlink(path);
    free(path);
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(other_daemons_sections_are_left_alone)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    ck_assert_int_eq(load("[store]\nwhatever = 1\n[bus]\nanything = x\n", &c, &e, NULL, 0), 0);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(overrides_win_and_are_checked)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    char *ov[] = { "fetcher.count=9", "fetcher.name=cli" };
    ck_assert_int_eq(load("[fetcher]\ncount = 7\n", &c, &e, ov, 2), 0);
    ck_assert_int_eq(c.count, 9);
    ck_assert_str_eq(c.name, "cli");
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
    char *bad[] = { "fetcher.count", "nosuch.key=1" };
    ck_assert_int_eq(load("", &c, &e, bad, 2), -1);
    ck_assert(has_error(&e, "must be section.key=value"));
    ck_assert(has_error(&e, "unknown key [nosuch] key"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(malformed_files)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    ck_assert_int_eq(load("count = 1\n", &c, &e, NULL, 0), -1);
    ck_assert(has_error(&e, ":1: key 'count' is outside any [section]"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);

    ck_assert_int_eq(load("[fetcher]\nthis line has no equals sign\n", &c, &e, NULL, 0), -1);
    ck_assert(has_error(&e, ":2: not a valid line"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);

    char big[1200];
    memset(big, 'a', sizeof big);
    memcpy(big, "[fetcher]\nname = ", 17);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(load(big, &c, &e, NULL, 0), -1);
    ck_assert(has_error(&e, ":2: line longer than"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);

    struct nm_conf_load_args a = { "/nonexistent/newsmon.conf", schema, NM_ARRAY_LEN(schema), &c, NULL, 0, NULL, NULL };
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(nm_conf_load(&a, &e), -1);
    ck_assert(has_error(&e, "/nonexistent/newsmon.conf: cannot open"));
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);

    /* binary garbage must not crash */
    ck_assert_int_eq(load("\x01\x02[\xff\xfe]\n=\n[=]\n", &c, &e, NULL, 0), -1);
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

static char *named_cb(void *arg, const char *kind, const char *name, const char *key, const char *value, int line)
{
    int *count = arg;
    (*count)++;
    if (!strcmp(key, "type") && strcmp(value, "stdout"))
        return nm_xasprintf("unknown channel type '%s'", value);
    return NULL;
}

START_TEST(named_sections)
{
    struct conf c;
    nm_conf_errors e = { 0 };
    int count = 0;
    char *path = write_tmp("[channel out]\ntype = stdout\n[channel bad]\ntype = pigeon\n[widget x]\na = b\n");
    memset(&c, 0, sizeof c);
    struct nm_conf_load_args a = { path, schema, NM_ARRAY_LEN(schema), &c, NULL, 0, named_cb, &count };
    ck_assert_int_eq(nm_conf_load(&a, &e), -1);
    ck_assert_int_eq(count, 2);
    ck_assert(has_error(&e, ":4: [channel bad] type: unknown channel type 'pigeon'"));
    ck_assert(has_error(&e, ":5: unknown section [widget x]"));
    unlink(path);
    free(path);
    nm_conf_errors_clear(&e);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
}
END_TEST

START_TEST(value_parsers)
{
    int64_t v;
    int b;
    ck_assert_int_eq(nm_conf_parse_duration("250ms", &v), 0);
    ck_assert_int_eq(v, 250);
    ck_assert_int_eq(nm_conf_parse_duration("2h", &v), 0);
    ck_assert_int_eq(v, 7200000);
    ck_assert_int_eq(nm_conf_parse_duration("7d", &v), 0);
    ck_assert_int_eq(v, 7LL * 86400000);
    ck_assert_int_eq(nm_conf_parse_duration("-1s", &v), -1);
    ck_assert_int_eq(nm_conf_parse_duration("5 fortnights", &v), -1);
    ck_assert_int_eq(nm_conf_parse_duration("nan", &v), -1);      /* found by fuzz_conf */
    ck_assert_int_eq(nm_conf_parse_duration("inf", &v), -1);
    ck_assert_int_eq(nm_conf_parse_size("nan", &v), -1);
    ck_assert_int_eq(nm_conf_parse_size("-inf", &v), -1);
    ck_assert_int_eq(nm_conf_parse_size("10M", &v), 0);
    ck_assert_int_eq(v, 10 * 1024 * 1024);
    ck_assert_int_eq(nm_conf_parse_size("2GiB", &v), 0);
    ck_assert_int_eq(nm_conf_parse_size("3X", &v), -1);
    ck_assert_int_eq(nm_conf_parse_bool("On", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(nm_conf_parse_bool("maybe", &b), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_conf");
    TCase *t = tcase_create("core");
    tcase_add_test(t, defaults_and_values);
    tcase_add_test(t, every_error_with_line);
    tcase_add_test(t, choices_and_lines);
    tcase_add_test(t, other_daemons_sections_are_left_alone);
    tcase_add_test(t, overrides_win_and_are_checked);
    tcase_add_test(t, malformed_files);
    tcase_add_test(t, named_sections);
    tcase_add_test(t, value_parsers);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
