/* Date parsing: RFC 822 and its variants, W3CDTF/ISO 8601, asctime,
   Perforce, Greek, Korean, Hungarian; unreadable dates stay unread. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/nm_time.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

/* Returns the RFC 3339 form of s, or "-" when unreadable (static buffer). */
static const char *norm(const char *s)
{
    static char buf[32];
    int64_t t;
    if (nm_time_parse(s, &t) < 0)
        return "-";
    nm_time_format(t, buf);
    return buf;
}

static const struct { const char *in, *out; } cases[] = {
    /* RFC 822 and real-world variants */
    { "Tue, 10 Jun 2003 09:41:01 GMT", "2003-06-10T09:41:01Z" },
    { "Tue, 10 Jun 2003 09:41:01 +0300", "2003-06-10T06:41:01Z" },
    { "10 Jun 2003 09:41:01 -0500", "2003-06-10T14:41:01Z" },
    { "Tue, 10 Jun 03 09:41:01 GMT", "2003-06-10T09:41:01Z" },
    { "Thu, 01 Jan 98 00:00:00 GMT", "1998-01-01T00:00:00Z" },
    { "Tue, 10 Jun 2003 09:41 EST", "2003-06-10T14:41:00Z" },
    { "Tue, 10 Jun 2003 09:41:01 EDT", "2003-06-10T13:41:01Z" },
    { "Tue, 10 Jun 2003 09:41:01 PST", "2003-06-10T17:41:01Z" },
    { "Tue, 10 Jun 2003 09:41:01 CST", "2003-06-10T15:41:01Z" },
    { "Wed, 08 May 2024 12:00:00 MSK", "2024-05-08T09:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 CET", "2024-05-08T11:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 EET", "2024-05-08T10:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 UT", "2024-05-08T12:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 Z", "2024-05-08T12:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 A", "2024-05-08T13:00:00Z" },   /* military, RFC 822 signs */
    { "Wed, 08 May 2024 12:00:00 N", "2024-05-08T11:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 GMT+02:00", "2024-05-08T10:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 Etc/GMT", "2024-05-08T12:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 +0000 (UTC)", "2024-05-08T12:00:00Z" },
    { "Wed, 8 May 2024", "2024-05-08T00:00:00Z" },
    { "May 8 2024 12:00:00 GMT", "2024-05-08T12:00:00Z" },
    { "Wednesday, 08-May-24 12:00:00 GMT", "2024-05-08T12:00:00Z" },
    { "Wed, 08 May 2024 12:00:00 +03:00", "2024-05-08T09:00:00Z" },
    /* asctime and Perforce */
    { "Sun Jan  4 16:29:06 PST 2004", "2004-01-05T00:29:06Z" },
    { "Sun Jan  4 16:29:06 2004", "2004-01-04T16:29:06Z" },
    { "Fri, 2006/09/15 08:19:53 EDT", "2006-09-15T12:19:53Z" },
    /* W3CDTF / RFC 3339 / ISO 8601 */
    { "2003-12-31T10:14:55Z", "2003-12-31T10:14:55Z" },
    { "2003-12-31T10:14:55-08:00", "2003-12-31T18:14:55Z" },
    { "2003-12-31T10:14:55.123+01:00", "2003-12-31T09:14:55Z" },
    { "2003-12-31T10:14Z", "2003-12-31T10:14:00Z" },
    { "2003-12-31", "2003-12-31T00:00:00Z" },
    { "2003-12", "2003-12-01T00:00:00Z" },
    { "2003", "2003-01-01T00:00:00Z" },
    { "2003-12-31 10:14:55", "2003-12-31T10:14:55Z" },
    { "20031231T101455Z", "2003-12-31T10:14:55Z" },
    { "20031231", "2003-12-31T00:00:00Z" },
    { "2003-335", "2003-12-01T00:00:00Z" },
    { "2004-01-05T12:30+0200", "2004-01-05T10:30:00Z" },
    { "2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z" },
    /* Greek, Korean, Hungarian */
    { "\xce\x9a\xcf\x85\xcf\x81, 11 \xce\x99\xce\xbf\xcf\x8d\xce\xbb 2004 12:00:00 EST", "2004-07-11T17:00:00Z" },
    { "2004\xeb\x85\x84 05\xec\x9b\x94 28\xec\x9d\xbc  01:31:15", "2004-05-27T16:31:15Z" },
    { "2004-05-25 \xec\x98\xa4\xed\x9b\x84 11:23:17", "2004-05-25T14:23:17Z" },
    { "2004-j\xc3\xbalius-13T9:15-05:00", "2004-07-13T14:15:00Z" },
    /* unreadable: absent, never invented */
    { "", "-" },
    { "yesterday", "-" },
    { "--05-08", "-" },
    { "2003-02-30", "-" },
    { "Tue, 32 Jun 2003 09:41:01 GMT", "-" },
    { "Tue, 10 Foo 2003 09:41:01 GMT", "-" },
    { "2003-12-31T25:00:00Z", "-" },
    { "2003-12-31T10:14:55+99:00", "-" },
    { "12/05/2003", "-" },
};

START_TEST(test_cases)
{
    const char *got = norm(cases[_i].in);
    ck_assert_msg(strcmp(got, cases[_i].out) == 0, "\"%s\": want %s, got %s", cases[_i].in, cases[_i].out, got);
}
END_TEST

START_TEST(test_format_and_roundtrip)
{
    char buf[32];
    nm_time_format(0, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    nm_time_format(-1, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    nm_time_format(951782400, buf); /* leap day */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
    nm_time_format(-62167219200LL, buf); /* the first second of year 0 */
    ck_assert_str_eq(buf, "0000-01-01T00:00:00Z");
    nm_time_format(253402300799LL, buf);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");
    nm_time_format(253402300800LL, buf); /* five digits: the printf form */
    ck_assert_str_eq(buf, "10000-01-01T00:00:00Z");
    for (int64_t t = -86400LL * 800; t < 86400LL * 365 * 80; t += 86400LL * 7 + 3607) {
        int64_t back;
        nm_time_format(t, buf);
        ck_assert_int_eq(nm_time_parse(buf, &back), 0);
        ck_assert_int_eq(back, t);
    }
    char *s = nm_time_normalize("Sat, 07 Sep 2002 00:00:01 GMT");
    ck_assert_str_eq(s, "2002-09-07T00:00:01Z");
    free(s);
    ck_assert_ptr_null(nm_time_normalize("nope"));
    ck_assert_ptr_null(nm_time_normalize(NULL));
}
END_TEST

START_TEST(test_rfc822_sweep)
{
    /* The common RSS form, read by its own fast path, checked against
       timegm over every month, the days each has and one more, hours,
       zones, with and without the day's name and the seconds, in any
       case; a day the month lacks is unreadable. */
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    static const char *const dayname[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const struct { const char *name; int minutes; } zones[] = {
        { "+0300", 180 }, { "-0530", -330 }, { "GMT", 0 }, { "UT", 0 }, { "Z", 0 }, { "EST", -300 },
        { "MSK", 180 }, { "+0000", 0 }, { "-1200", -720 }, { "+1400", 840 },
    };
    static const int years[] = { 1999, 2000, 2023, 2024, 2100 };
    int n = 0;
    for (size_t yi = 0; yi < NM_ARRAY_LEN(years); yi++)
        for (int m = 0; m < 12; m++)
            for (int d = 1; d <= 32; d++) {
                int y = years[yi], h = (d * 7 + m) % 24, mi = (d * 13) % 60, sec = (d * 17 + m) % 60;
                size_t z = (size_t)(d + m + y) % NM_ARRAY_LEN(zones);
                struct tm tm = { .tm_year = y - 1900, .tm_mon = m, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                                 .tm_sec = sec };
                time_t want = timegm(&tm);
                bool valid = tm.tm_mday == d; /* timegm carried a day the month lacks */
                want -= zones[z].minutes * 60;
                char in[64], hm[16];
                bool with_day = d % 2, with_sec = d % 3 != 0, lower = d % 5 == 0;
                if (with_sec)
                    snprintf(hm, sizeof hm, "%02d:%02d:%02d", h, mi, sec);
                else {
                    snprintf(hm, sizeof hm, "%02d:%02d", h, mi);
                    want -= sec;
                }
                snprintf(in, sizeof in, "%s%s%02d %s %04d %s %s", with_day ? dayname[(d + m) % 7] : "",
                         with_day ? ", " : "", d, mon[m], y, hm, zones[z].name);
                if (lower)
                    for (char *c = in; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                int64_t got;
                int rc = nm_time_parse(in, &got);
                if (valid) {
                    ck_assert_msg(rc == 0 && got == (int64_t)want, "\"%s\": want %lld, got rc %d %lld", in,
                                  (long long)want, rc, (long long)got);
                    n++;
                } else {
                    ck_assert_msg(rc < 0, "\"%s\": read as %lld", in, (long long)got);
                }
            }
    ck_assert_int_gt(n, 1800);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_time");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_format_and_roundtrip);
    tcase_add_test(tc, test_rfc822_sweep);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
