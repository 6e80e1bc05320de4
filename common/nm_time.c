/*
 * nm_time: date parsing for feeds, modelled on the handlers of Python's
 * feedparser (the reference the fetcher is tested against) but written as
 * two tolerant scanners instead of a chain of regular expressions:
 *
 *  - iso_parse: W3CDTF / RFC 3339 and ISO 8601 (extended and compact forms,
 *    partial dates, ordinal days, "YYYY-MM-DD hh:mm:ss" with a space,
 *    fractions of seconds, Z / +hh:mm / +hhmm / +hh / named zones);
 *  - words_parse: everything written with a month name: RFC 822 and its
 *    variants, asctime ("Sun Jan  4 16:29:06 PST 2004"), Perforce
 *    ("Fri, 2006/09/15 08:19:53 EDT"), Greek month and day names.
 *
 * Korean (onblog, nate) and Hungarian forms are rewritten by small
 * dedicated readers. Forms without a year (ISO "--MM-DD") are refused: we
 * never fill a date in from the clock.
 */
#include "common/nm_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/nm_util.h"

/* A broken-down date as read, before validation. */
struct civil {
    int year, month, day;
    int hour, min, sec;
    int tz_min;          /* offset east of UTC, minutes */
};

int64_t nm_time_from_civil(int64_t y, int m, int d, int hour, int min, int sec)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Validates c and converts it. Returns 0, or -1 when a field is out of range. */
static int civil_finish(const struct civil *c, int64_t *out)
{
    if (c->year < 1 || c->year > 9999 || c->month < 1 || c->month > 12)
        return -1;
    if (c->day < 1 || c->day > month_days(c->year, c->month))
        return -1;
    if (c->hour < 0 || c->hour > 24 || c->min < 0 || c->min > 59 || c->sec < 0 || c->sec > 60)
        return -1;
    if (c->hour == 24 && (c->min || c->sec))
        return -1;
    int sec = c->sec == 60 ? 59 : c->sec; /* a leap second reads as the second before it */
    *out = nm_time_from_civil(c->year, c->month, c->day, c->hour, c->min, sec) - (int64_t)c->tz_min * 60;
    return 0;
}

void nm_time_format(int64_t t, char out[32])
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* Howard Hinnant's civil_from_days. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999) { /* outside RFC 3339's four digits: printf's form */
        char buf[160];
        snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y, (long long)m,
                 (long long)d, (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60));
        memcpy(out, buf, 31);
        out[31] = '\0';
        return;
    }
    /* Written digit by digit: snprintf was half the cost of reading a date. */
    const int64_t parts[] = { y / 100, y % 100, m, d, rem / 3600, rem / 60 % 60, rem % 60 };
    static const char seps[] = "\0--T::Z"; /* written after each part */
    char *o = out;
    for (size_t i = 0; i < NM_ARRAY_LEN(parts); i++) {
        *o++ = (char)('0' + parts[i] / 10);
        *o++ = (char)('0' + parts[i] % 10);
        if (seps[i])
            *o++ = seps[i];
    }
    *o = '\0';
}

/* ---- time zones ---------------------------------------------------------- */

static const struct { const char *name; int minutes; } zones[] = {
    { "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 }, { "wet", 0 },
    { "west", 60 }, { "bst", 60 }, { "cet", 60 }, { "met", 60 }, { "mez", 60 },
    { "cest", 120 }, { "mest", 120 }, { "mesz", 120 }, { "eet", 120 }, { "eest", 180 },
    { "msk", 180 }, { "msd", 240 }, { "ist", 330 }, { "hkt", 480 }, { "sgt", 480 },
    { "awst", 480 }, { "jst", 540 }, { "kst", 540 }, { "acst", 570 }, { "aest", 600 },
    { "aedt", 660 }, { "nzst", 720 }, { "nzdt", 780 },
    { "adt", -180 }, { "ast", -240 }, { "at", -240 }, { "edt", -240 }, { "est", -300 },
    { "et", -300 }, { "cdt", -300 }, { "cst", -360 }, { "ct", -360 }, { "mdt", -360 },
    { "mst", -420 }, { "mt", -420 }, { "pdt", -420 }, { "pst", -480 }, { "pt", -480 },
    { "akdt", -480 }, { "akst", -540 }, { "hst", -600 }, { "ndt", -150 }, { "nst", -210 },
};

/* Reads "hh", "hhmm" or "hh:mm" (after the sign). Returns minutes, or -1. */
static int read_offset(const char *p, size_t n)
{
    int h, m = 0;
    if (n == 1 && isdigit((unsigned char)p[0]))
        h = p[0] - '0';
    else if (n >= 2 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]))
        h = (p[0] - '0') * 10 + (p[1] - '0');
    else
        return -1;
    if (n > 2) {
        const char *q = p + 2;
        size_t k = n - 2;
        if (*q == ':') {
            q++;
            k--;
        }
        if (k != 2 || !isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1]))
            return -1;
        m = (q[0] - '0') * 10 + (q[1] - '0');
    }
    if (h > 23 || m > 59)
        return -1;
    return h * 60 + m;
}

/* Reads a zone token of n bytes: "+0300", "-05:00", "GMT+2", "Etc/GMT",
   "EST", a military letter. Returns 0 and sets *minutes, or -1. */
static int zone_parse(const char *p, size_t n, int *minutes)
{
    if (n > 4 && strncasecmp(p, "etc/", 4) == 0) {
        p += 4;
        n -= 4;
    }
    if (n > 3 && (strncasecmp(p, "gmt", 3) == 0 || strncasecmp(p, "utc", 3) == 0) &&
        (p[3] == '+' || p[3] == '-')) {
        p += 3;
        n -= 3;
    } else if (n > 2 && strncasecmp(p, "ut", 2) == 0 && (p[2] == '+' || p[2] == '-')) {
        p += 2;
        n -= 2;
    }
    if (n >= 2 && (p[0] == '+' || p[0] == '-')) {
        int m = read_offset(p + 1, n - 1);
        if (m < 0)
            return -1;
        *minutes = p[0] == '-' ? -m : m;
        return 0;
    }
    for (size_t i = 0; i < NM_ARRAY_LEN(zones); i++)
        if (strlen(zones[i].name) == n && strncasecmp(zones[i].name, p, n) == 0) {
            *minutes = zones[i].minutes;
            return 0;
        }
    if (n == 1 && isalpha((unsigned char)p[0]) && tolower((unsigned char)p[0]) != 'j') {
        /* RFC 822's military zones, with the signs as RFC 822 wrote them. */
        int c = tolower((unsigned char)p[0]);
        if (c == 'z')
            *minutes = 0;
        else if (c <= 'i')
            *minutes = -(c - 'a' + 1) * 60;
        else if (c <= 'm')
            *minutes = -(c - 'a') * 60;
        else
            *minutes = (c - 'n' + 1) * 60;
        return 0;
    }
    return -1;
}

/* ---- ISO 8601 / W3CDTF --------------------------------------------------- */

/* Reads exactly n digits at *pp. Returns the value, or -1. */
static int digits(const char **pp, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    return v;
}

/* Reads 1 or 2 digits at *pp. Returns the value, or -1. */
static int digits12(const char **pp)
{
    if (!isdigit((unsigned char)**pp))
        return -1;
    return isdigit((unsigned char)(*pp)[1]) ? digits(pp, 2) : digits(pp, 1);
}

static int count_digits(const char *p)
{
    int n = 0;
    while (isdigit((unsigned char)p[n]))
        n++;
    return n;
}

/* Reads the date part: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-DDD, YYYYMMDD, YYYYDDD,
   YY-MM-DD. Returns 0 and advances *pp, or -1. */
static int iso_date(const char **pp, struct civil *c)
{
    const char *p = *pp;
    int nd = count_digits(p), ordinal = 0;
    c->month = c->day = 1;
    if (nd == 2 && p[2] == '-') {
        c->year = 2000 + digits(&p, 2); /* ISO 8601 two-digit years are in this century */
        p++;
        if ((c->month = digits(&p, 2)) < 0 || *p++ != '-' || (c->day = digits(&p, 2)) < 0)
            return -1;
    } else if (nd == 4) {
        c->year = digits(&p, 4);
        if (*p == '-' && count_digits(p + 1) == 3) {
            p++;
            c->day = digits(&p, 3);
            ordinal = 1;
        } else if (*p == '-' && isdigit((unsigned char)p[1])) {
            p++;
            if ((c->month = digits12(&p)) < 0)
                return -1;
            if (*p == '-' && isdigit((unsigned char)p[1])) {
                p++;
                c->day = digits12(&p);
            }
        }
    } else if (nd == 8) {
        c->year = digits(&p, 4);
        c->month = digits(&p, 2);
        c->day = digits(&p, 2);
    } else if (nd == 7) {
        c->year = digits(&p, 4);
        c->day = digits(&p, 3);
        ordinal = 1;
    } else {
        return -1;
    }
    if (ordinal) {
        int d = c->day;
        for (c->month = 1; c->month <= 12 && d > month_days(c->year, c->month); c->month++)
            d -= month_days(c->year, c->month);
        if (c->month > 12 || d < 1)
            return -1;
        c->day = d;
    }
    *pp = p;
    return 0;
}

/* Reads hh:mm[:ss[.frac]] or hhmm[ss[.frac]]. Returns 0, or -1. */
static int iso_clock(const char **pp, struct civil *c)
{
    const char *p = *pp;
    int compact = count_digits(p) >= 4;
    if ((c->hour = digits(&p, compact ? 2 : count_digits(p) == 1 ? 1 : 2)) < 0)
        return -1;
    if (!compact && *p++ != ':')
        return -1;
    if ((c->min = digits(&p, 2)) < 0)
        return -1;
    if ((compact && isdigit((unsigned char)*p)) || (!compact && *p == ':' && isdigit((unsigned char)p[1]))) {
        if (!compact)
            p++;
        if ((c->sec = digits(&p, 2)) < 0)
            return -1;
        if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1]))
            for (p++; isdigit((unsigned char)*p); p++)
                ;
    }
    *pp = p;
    return 0;
}

static int iso_parse(const char *s, int64_t *out)
{
    struct civil c = { 0 };
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (iso_date(&p, &c) < 0)
        return -1;
    const char *q = p;
    while (*q == ' ')
        q++;
    if ((*p == 'T' || *p == 't') && isdigit((unsigned char)p[1]))
        p++;
    else if (q > p && isdigit((unsigned char)*q))
        p = q;
    if (isdigit((unsigned char)*p) && iso_clock(&p, &c) < 0)
        return -1;
    while (*p == ' ')
        p++;
    const char *z = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (p > z && zone_parse(z, (size_t)(p - z), &c.tz_min) < 0)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    return civil_finish(&c, out);
}

/* ---- dates with words (RFC 822 and friends) ------------------------------ */

static const char *const month_abbr[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const day_abbr[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

static const struct { const char *name; int month; } greek_months[] = {
    { "\xce\x99\xce\xb1\xce\xbd", 1 }, { "\xce\xa6\xce\xb5\xce\xb2", 2 },
    { "\xce\x9c\xce\xac\xcf\x8e", 3 }, { "\xce\x9c\xce\xb1\xcf\x8e", 3 },
    { "\xce\x91\xcf\x80\xcf\x81", 4 }, { "\xce\x9c\xce\xac\xce\xb9", 5 },
    { "\xce\x9c\xce\xb1\xcf\x8a", 5 }, { "\xce\x9c\xce\xb1\xce\xb9", 5 },
    { "\xce\x99\xce\xbf\xcf\x8d\xce\xbd", 6 }, { "\xce\x99\xce\xbf\xce\xbd", 6 },
    { "\xce\x99\xce\xbf\xcf\x8d\xce\xbb", 7 }, { "\xce\x99\xce\xbf\xce\xbb", 7 },
    { "\xce\x91\xcf\x8d\xce\xb3", 8 }, { "\xce\x91\xcf\x85\xce\xb3", 8 },
    { "\xce\xa3\xce\xb5\xcf\x80", 9 }, { "\xce\x9f\xce\xba\xcf\x84", 10 },
    { "\xce\x9d\xce\xbf\xce\xad", 11 }, { "\xce\x9d\xce\xbf\xce\xb5", 11 },
    { "\xce\x94\xce\xb5\xce\xba", 12 },
};
static const char *const greek_days[] = {
    "\xce\x9a\xcf\x85\xcf\x81", "\xce\x94\xce\xb5\xcf\x85", "\xce\xa4\xcf\x81\xce\xb9",
    "\xce\xa4\xce\xb5\xcf\x84", "\xce\xa0\xce\xb5\xce\xbc", "\xce\xa0\xce\xb1\xcf\x81",
    "\xce\xa3\xce\xb1\xce\xb2",
};

/* Returns the month (1-12) named by the word w of n bytes, or 0. */
static int month_word(const char *w, size_t n)
{
    if (n >= 3 && isalpha((unsigned char)w[0])) {
        for (int i = 0; i < 12; i++)
            if (strncasecmp(w, month_abbr[i], 3) == 0)
                return i + 1;
        return 0;
    }
    for (size_t i = 0; i < NM_ARRAY_LEN(greek_months); i++)
        if (strlen(greek_months[i].name) == n && memcmp(greek_months[i].name, w, n) == 0)
            return greek_months[i].month;
    return 0;
}

static int day_word(const char *w, size_t n)
{
    if (n >= 3 && isalpha((unsigned char)w[0])) {
        for (size_t i = 0; i < NM_ARRAY_LEN(day_abbr); i++)
            if (strncasecmp(w, day_abbr[i], 3) == 0)
                return 1;
        return 0;
    }
    for (size_t i = 0; i < NM_ARRAY_LEN(greek_days); i++)
        if (strlen(greek_days[i]) == n && memcmp(greek_days[i], w, n) == 0)
            return 1;
    return 0;
}

/* State of words_parse while it reads tokens. */
struct words {
    struct civil c;
    int nums[3], num_len[3], n_nums;
    int have_time, have_zone, have_ymd, pm, am;
};

/* Reads a time token "hh:mm[:ss]" with an optional zone glued on. */
static int words_time(struct words *w, const char *t, size_t n)
{
    const char *p = t, *end = t + n;
    if ((w->c.hour = digits12(&p)) < 0 || *p++ != ':' || (w->c.min = digits12(&p)) < 0)
        return -1;
    if (p < end && *p == ':') {
        p++;
        if ((w->c.sec = digits12(&p)) < 0)
            return -1;
        if (p < end && (*p == '.' || *p == ','))
            for (p++; p < end && isdigit((unsigned char)*p); p++)
                ;
    }
    w->have_time = 1;
    if (p < end) {
        if (zone_parse(p, (size_t)(end - p), &w->c.tz_min) < 0)
            return -1;
        w->have_zone = 1;
    }
    return 0;
}

/* Reads "yyyy/mm/dd" (Perforce) or "dd-Mon-yyyy" style tokens. */
static int words_ymd(struct words *w, const char *t, size_t n)
{
    const char *p = t;
    if (count_digits(p) != 4)
        return -1;
    w->c.year = digits(&p, 4);
    if (*p++ != '/' || (w->c.month = digits12(&p)) < 0 || *p++ != '/' || (w->c.day = digits12(&p)) < 0)
        return -1;
    if (p != t + n)
        return -1;
    w->have_ymd = 1;
    return 0;
}

/* Classifies and stores one token. Returns 0, or -1 when it cannot belong to a date. */
static int words_token(struct words *w, const char *t, size_t n)
{
    int nd = count_digits(t);
    if (nd > 0 && (size_t)nd < n && t[nd] == ':')
        return words_time(w, t, n);
    if (nd == 4 && n > 4 && t[4] == '/')
        return words_ymd(w, t, n);
    if ((t[0] == '+' || t[0] == '-') && n > 1 && isdigit((unsigned char)t[1])) {
        w->have_zone = 1;
        return zone_parse(t, n, &w->c.tz_min);
    }
    if ((size_t)nd == n || ((size_t)nd == n - 1 && t[nd] == '.')) {
        if (w->n_nums == 3 || nd > 4)
            return -1;
        w->num_len[w->n_nums] = nd;
        w->nums[w->n_nums++] = atoi(t);
        return 0;
    }
    if (nd > 0)
        return -1;
    int m = month_word(t, n);
    if (m && !w->c.month) {
        w->c.month = m;
        return 0;
    }
    if (day_word(t, n) && !w->have_time && !w->c.month)
        return 0;
    if (n == 2 && strncasecmp(t, "pm", 2) == 0 && w->have_time)
        return (w->pm = 1) - 1;
    if (n == 2 && strncasecmp(t, "am", 2) == 0 && w->have_time)
        return (w->am = 1) - 1;
    if (w->have_zone)
        return -1;
    if (zone_parse(t, n, &w->c.tz_min) == 0) {
        w->have_zone = 1;
        return 0;
    }
    /* Like feedparser: an unknown word where the zone goes is read as UTC. */
    if (w->have_time && n <= 5) {
        for (size_t i = 0; i < n; i++)
            if (!isalpha((unsigned char)t[i]))
                return -1;
        w->have_zone = 1;
        w->c.tz_min = 0;
        return 0;
    }
    return -1;
}

/* Assigns the numbers read to day and year. Returns 0, or -1. */
static int words_assign(struct words *w)
{
    if (w->have_ymd)
        return w->n_nums == 0 ? 0 : -1;
    if (w->n_nums != 2 || !w->c.month)
        return -1;
    int yi = (w->num_len[0] >= 3 || w->nums[0] > 31) ? 0 : 1;
    w->c.day = w->nums[1 - yi];
    w->c.year = w->nums[yi];
    if (w->num_len[yi] <= 2)
        w->c.year += w->c.year < 90 ? 2000 : 1900;
    if (w->pm && w->c.hour < 12)
        w->c.hour += 12;
    if (w->am && w->c.hour == 12)
        w->c.hour = 0;
    return 0;
}

static int words_parse(const char *s, int64_t *out)
{
    struct words w;
    memset(&w, 0, sizeof w);
    const char *p = s;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (!*p || *p == '(')
            break; /* a trailing "(PST)" comment says nothing new */
        const char *t = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
            p++;
        size_t n = (size_t)(p - t);
        /* "05-Jan-2004": split on dashes when the token holds a month name. */
        if (n > 5 && isdigit((unsigned char)t[0]) && memchr(t, '-', n) && !memchr(t, ':', n)) {
            const char *q = t;
            while (q < p) {
                const char *e = memchr(q, '-', (size_t)(p - q));
                if (!e)
                    e = p;
                if (e == q || words_token(&w, q, (size_t)(e - q)) < 0)
                    return -1;
                q = e < p ? e + 1 : p;
            }
            continue;
        }
        if (words_token(&w, t, n) < 0)
            return -1;
    }
    if (words_assign(&w) < 0)
        return -1;
    return civil_finish(&w.c, out);
}

/* Reads the form nearly every RSS date has, "Mon, 01 May 2024 10:00:00
   +0300" (the day's name and the seconds optional, any zone zone_parse
   knows), without the word-by-word reader below, whose generality (day
   and month names in several languages, numbers in either order) costs
   ten times as much on a feed of thousands of items. Anything else
   returns -1 and goes there, which reads this form to the same instant
   (tests/unit/test_nm_time.c checks the form against timegm). */
static int rfc822_parse(const char *s, int64_t *out)
{
    const char *p = s;
    struct civil c = { 0 };
    if (isalpha((unsigned char)p[0])) {
        if (!isalpha((unsigned char)p[1]) || !isalpha((unsigned char)p[2]) || p[3] != ',' || p[4] != ' ')
            return -1;
        if (!day_word(p, 3))
            return -1;
        p += 5;
    }
    if ((c.day = digits12(&p)) < 0 || *p++ != ' ')
        return -1;
    if (!isalpha((unsigned char)p[0]) || !isalpha((unsigned char)p[1]) || !isalpha((unsigned char)p[2]) ||
        p[3] != ' ')
        return -1;
    if (!(c.month = month_word(p, 3)))
        return -1;
    p += 4;
    if (count_digits(p) != 4 || (c.year = digits(&p, 4)) < 0 || *p++ != ' ')
        return -1;
    if (count_digits(p) != 2 || (c.hour = digits(&p, 2)) < 0 || *p++ != ':' || count_digits(p) != 2 ||
        (c.min = digits(&p, 2)) < 0)
        return -1;
    if (*p == ':' && (p++, count_digits(p) != 2 || (c.sec = digits(&p, 2)) < 0))
        return -1;
    if (*p++ != ' ')
        return -1;
    size_t n = strlen(p);
    if (n == 0 || strpbrk(p, " \t\r\n") || zone_parse(p, n, &c.tz_min) < 0)
        return -1;
    return civil_finish(&c, out);
}

/* ---- Korean and Hungarian forms ------------------------------------------ */

#define KO_YEAR "\xeb\x85\x84"
#define KO_MONTH "\xec\x9b\x94"
#define KO_DAY "\xec\x9d\xbc"
#define KO_AM "\xec\x98\xa4\xec\xa0\x84"
#define KO_PM "\xec\x98\xa4\xed\x9b\x84"

static int korean_parse(const char *s, int64_t *out)
{
    struct civil c = { 0 };
    int n = 0;
    char ampm[8] = "";
    if (sscanf(s, "%4d" KO_YEAR " %2d" KO_MONTH " %2d" KO_DAY " %2d:%2d:%2d%n", &c.year, &c.month,
               &c.day, &c.hour, &c.min, &c.sec, &n) == 6 && n > 0) {
        c.tz_min = 9 * 60;
        return civil_finish(&c, out);
    }
    if (sscanf(s, "%4d-%2d-%2d %6s %2d:%2d:%2d%n", &c.year, &c.month, &c.day, ampm, &c.hour,
               &c.min, &c.sec, &n) == 7 && n > 0) {
        if (strcmp(ampm, KO_PM) == 0)
            c.hour += 12;
        else if (strcmp(ampm, KO_AM) != 0)
            return -1;
        c.tz_min = 9 * 60;
        return civil_finish(&c, out);
    }
    return -1;
}

static const struct { const char *name; int month; } hu_months[] = {
    { "janu\xc3\xa1r", 1 }, { "febru\xc3\xa1ri", 2 }, { "m\xc3\xa1rcius", 3 },
    { "\xc3\xa1prilis", 4 }, { "m\xc3\xa1ujus", 5 }, { "j\xc3\xbanius", 6 },
    { "j\xc3\xbalius", 7 }, { "augusztus", 8 }, { "szeptember", 9 },
    { "okt\xc3\xb3" "ber", 10 }, { "november", 11 }, { "december", 12 },
};

static int hungarian_parse(const char *s, int64_t *out)
{
    struct civil c = { 0 };
    char mon[32];
    int n = 0;
    if (sscanf(s, "%4d-%31[^-]-%2dT%2d:%2d%n", &c.year, mon, &c.day, &c.hour, &c.min, &n) != 5 || !n)
        return -1;
    for (size_t i = 0; i < NM_ARRAY_LEN(hu_months); i++)
        if (strcmp(hu_months[i].name, mon) == 0)
            c.month = hu_months[i].month;
    if (!c.month || zone_parse(s + n, strlen(s + n), &c.tz_min) < 0)
        return -1;
    return civil_finish(&c, out);
}

/* ---- entry points -------------------------------------------------------- */

int nm_time_parse(const char *s, int64_t *out_epoch)
{
    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s || strlen(s) > 256)
        return -1;
    int64_t t;
    if (rfc822_parse(s, &t) == 0 || iso_parse(s, &t) == 0 || words_parse(s, &t) == 0 || korean_parse(s, &t) == 0 ||
        hungarian_parse(s, &t) == 0) {
        *out_epoch = t;
        return 0;
    }
    return -1;
}

char *nm_time_normalize(const char *s)
{
    int64_t t;
    if (nm_time_parse(s, &t) < 0)
        return NULL;
    char buf[32];
    nm_time_format(t, buf);
    return nm_xstrdup(buf);
}
