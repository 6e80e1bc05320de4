/*
 * nm_util and nm_log: buffers, error buffers, file reading with a limit,
 * and log level filtering (lines below the level are not written).
 */
#include "common/nm_log.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

#include <string.h>
#include <unistd.h>

START_TEST(buffers)
{
    nm_buf b;
    nm_buf_init(&b);
    ck_assert_str_eq(nm_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        nm_buf_addf(&b, "%d,", i);
    nm_buf_adds(&b, "end");
    nm_buf_addc(&b, '!');
    ck_assert_int_eq(b.len, strlen(b.data));
    ck_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    ck_assert(strcmp(b.data + b.len - 4, "end!") == 0);
    char *s = nm_buf_steal(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(b.len, 0);
    free(s);
    nm_buf_add(&b, "a\0b", 3);   /* binary-safe */
    ck_assert_int_eq(b.len, 3);
    nm_buf_reset(&b);
    ck_assert_str_eq(nm_buf_cstr(&b), "");
    nm_buf_free(&b);
}
END_TEST

START_TEST(errors_and_strings)
{
    nm_err e;
    ck_assert_int_eq(nm_err_set(&e, "bad %s at %d", "thing", 7), -1);
    ck_assert_str_eq(e.msg, "bad thing at 7");
    ck_assert_int_eq(nm_err_set(NULL, "ignored"), -1);
    char *s = nm_xasprintf("%s-%03d", "x", 5);
    ck_assert_str_eq(s, "x-005");
    free(s);
    ck_assert_ptr_null(nm_xstrdup(NULL));
    s = nm_xstrndup("abcdef", 3);
    ck_assert_str_eq(s, "abc");
    nm_free(&s);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(read_file_limits)
{
    char path[] = "/tmp/nm_util_testXXXXXX";
    int fd = mkstemp(path);
    char data[5000];
    memset(data, 'z', sizeof data);
    ck_assert_int_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    char *out;
    size_t len;
    nm_err e;
    ck_assert_int_eq(nm_read_file(path, 0, &out, &len, &e), 0);
    ck_assert_int_eq(len, sizeof data);
    ck_assert_int_eq(out[len], '\0');
    free(out);
    ck_assert_int_eq(nm_read_file(path, 4096, &out, &len, &e), -1);
    ck_assert(strstr(e.msg, "larger than the limit of 4096 bytes"));
    unlink(path);
    ck_assert_int_eq(nm_read_file("/nonexistent/x", 0, &out, &len, &e), -1);
    ck_assert(strstr(e.msg, "/nonexistent/x"));
}
END_TEST

START_TEST(log_levels)
{
    char path[] = "/tmp/nm_log_testXXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    dup2(fd, 2);
    nm_log_init("test", NM_LOG_STDERR, NM_LOG_WARN);
    log_debug("hidden debug");
    log_info("hidden info");
    log_warn("shown warning %d", 1);
    log_err("shown error");
    nm_log_set_level(NM_LOG_DEBUG);
    log_debug("now shown debug");
    nm_log_init("test", NM_LOG_JOURNAL, NM_LOG_INFO);
    log_warn("journal line");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *out;
    size_t len;
    nm_err e;
    ck_assert_int_eq(nm_read_file(path, 0, &out, &len, &e), 0);
    ck_assert_ptr_null(strstr(out, "hidden"));
    ck_assert(strstr(out, "test warning: shown warning 1"));
    ck_assert(strstr(out, "test error: shown error"));
    ck_assert(strstr(out, "now shown debug"));
    ck_assert(strstr(out, "<4>journal line"));   /* journal priority prefix */
    free(out);
    close(fd);
    unlink(path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_util");
    TCase *t = tcase_create("core");
    tcase_add_test(t, buffers);
    tcase_add_test(t, errors_and_strings);
    tcase_add_test(t, read_file_limits);
    tcase_add_test(t, log_levels);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
