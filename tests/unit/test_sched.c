/*
 * test_sched: polling intervals, back-off with jitter, Retry-After and
 * Cache-Control parsing.
 */
#include "nm_check.h"

#include "common/nm_time.h"
#include "fetcher/sched.h"

static const struct sched_limits lim = { 120000, 6 * 3600000LL, 900000 };

START_TEST(median_gap)
{
    int64_t none[] = { 5 };
    ck_assert_int_eq(sched_median_gap(none, 1), 0);
    int64_t t[] = { 1000, 4600, 1000 + 7200, 1000 + 3 * 3600 };   /* gaps 1h, 1h, 1h (unordered) */
    ck_assert_int_eq(sched_median_gap(t, 4), 3600);
    int64_t even[] = { 0, 10, 30, 60, 100 };   /* gaps 10,20,30,40 -> median 25 */
    ck_assert_int_eq(sched_median_gap(even, 5), 25);
}
END_TEST

START_TEST(interval_from_rate)
{
    /* An item every hour: poll every 30 minutes. */
    int64_t t[] = { 0, 3600, 7200, 10800 };
    struct sched_feed f = { 0, 0, t, 4 };
    ck_assert_int_eq(sched_interval(&lim, &f), 1800000);
    /* An item every 10 s: clamped to min_interval. */
    int64_t fast[] = { 0, 10, 20, 30 };
    f.item_times = fast;
    ck_assert_int_eq(sched_interval(&lim, &f), lim.min_ms);
    /* An item a month: clamped to max_interval. */
    int64_t slow[] = { 0, 30 * 86400, 60 * 86400 };
    f.item_times = slow;
    f.n_items = 3;
    ck_assert_int_eq(sched_interval(&lim, &f), lim.max_ms);
    /* No dates: the default. */
    f.n_items = 0;
    ck_assert_int_eq(sched_interval(&lim, &f), lim.default_ms);
}
END_TEST

START_TEST(interval_hints_and_override)
{
    int64_t t[] = { 0, 600, 1200 };   /* every 10 min -> 5 min */
    struct sched_feed f = { 0, 3600000, t, 3 };   /* ttl 60 min is a lower bound */
    ck_assert_int_eq(sched_interval(&lim, &f), 3600000);
    f.hint_ms = 24 * 3600000LL;   /* a hint above max_interval is clamped */
    ck_assert_int_eq(sched_interval(&lim, &f), lim.max_ms);
    f.override_ms = 12 * 3600000LL;   /* the operator's interval wins, even above max */
    ck_assert_int_eq(sched_interval(&lim, &f), 12 * 3600000LL);
    f.override_ms = 1000;             /* but never below min */
    ck_assert_int_eq(sched_interval(&lim, &f), lim.min_ms);
}
END_TEST

START_TEST(backoff)
{
    /* rnd 0 gives the low end (d/2), rnd = span gives d. */
    ck_assert_int_eq(sched_backoff(1, 1000, 60000, 0), 500);
    ck_assert_int_eq(sched_backoff(1, 1000, 60000, 500), 1000);
    ck_assert_int_eq(sched_backoff(3, 1000, 60000, 0), 2000);
    ck_assert_int_eq(sched_backoff(3, 1000, 60000, 2000), 4000);
    ck_assert_int_eq(sched_backoff(30, 1000, 60000, 30000), 60000);
    ck_assert_int_eq(sched_backoff(0, 1000, 60000, 0), 500);
    for (uint32_t r = 0; r < 100000; r += 997) {
        int64_t d = sched_backoff(5, 1000, 60000, r * 2654435761u);
        ck_assert(d >= 8000 && d <= 16000);
    }
}
END_TEST

START_TEST(retry_after)
{
    int64_t d = -1;
    ck_assert_int_eq(sched_retry_after("120", 0, &d), 0);
    ck_assert_int_eq(d, 120000);
    ck_assert_int_eq(sched_retry_after("  0 ", 0, &d), 0);
    ck_assert_int_eq(d, 0);
    int64_t now = nm_time_from_civil(2015, 10, 21, 7, 28, 0);
    ck_assert_int_eq(sched_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &d), 0);
    ck_assert_int_eq(d, 30000);
    ck_assert_int_eq(sched_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, &d), 0);
    ck_assert_int_eq(d, 0);   /* a date in the past: at once */
    ck_assert_int_eq(sched_retry_after("soon", now, &d), -1);
    ck_assert_int_eq(sched_retry_after("12abc", now, &d), -1);
    ck_assert_int_eq(sched_retry_after("", now, &d), -1);
    ck_assert_int_eq(sched_retry_after(NULL, now, &d), -1);
    ck_assert_int_eq(sched_retry_after("99999999999999999999999", now, &d), -1);
}
END_TEST

START_TEST(max_age)
{
    int64_t ms = -1;
    ck_assert_int_eq(sched_max_age("public, max-age=600", &ms), 0);
    ck_assert_int_eq(ms, 600000);
    ck_assert_int_eq(sched_max_age("max-age=\"300\", must-revalidate", &ms), 0);
    ck_assert_int_eq(ms, 300000);
    ck_assert_int_eq(sched_max_age("no-cache, max-age=600", &ms), -1);
    ck_assert_int_eq(sched_max_age("private", &ms), -1);
    ck_assert_int_eq(sched_max_age("s-maxage=60", &ms), -1);
    ck_assert_int_eq(sched_max_age(NULL, &ms), -1);
    ck_assert_int_eq(sched_max_age("max-age=", &ms), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, median_gap);
    tcase_add_test(tc, interval_from_rate);
    tcase_add_test(tc, interval_hints_and_override);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, retry_after);
    tcase_add_test(tc, max_age);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
