/*
 * sched: polling intervals, back-off and the HTTP hints that bound them.
 * See sched.h for the policy; this file is the arithmetic.
 */
#include "fetcher/sched.h"
#include "common/nm_time.h"
#include "common/nm_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GAP_ITEMS 20

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_asc(const void *a, const void *b)
{
    return -cmp_desc(a, b);
}

int64_t sched_median_gap(const int64_t *times, size_t n)
{
    if (n < 2)
        return 0;
    int64_t *t = nm_xmalloc(n * sizeof *t);
    memcpy(t, times, n * sizeof *t);
    qsort(t, n, sizeof *t, cmp_desc);
    size_t m = n < GAP_ITEMS ? n : GAP_ITEMS;
    int64_t gaps[GAP_ITEMS];
    for (size_t i = 0; i + 1 < m; i++)
        gaps[i] = t[i] - t[i + 1];
    free(t);
    size_t ng = m - 1;
    qsort(gaps, ng, sizeof *gaps, cmp_asc);
    return ng % 2 ? gaps[ng / 2] : (gaps[ng / 2 - 1] + gaps[ng / 2]) / 2;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int64_t sched_interval(const struct sched_limits *l, const struct sched_feed *f)
{
    if (f->override_ms > 0)
        return f->override_ms < l->min_ms ? l->min_ms : f->override_ms;
    int64_t gap = sched_median_gap(f->item_times, f->n_items);
    int64_t v = gap > 0 ? gap * 1000 / 2 : l->default_ms;
    if (f->hint_ms > v)
        v = f->hint_ms;
    return clamp(v, l->min_ms, l->max_ms);
}

int64_t sched_backoff(int failures, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
    if (failures < 1)
        failures = 1;
    if (base_ms < 1)
        base_ms = 1;
    int64_t d = base_ms;
    for (int i = 1; i < failures && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    int64_t half = d / 2;
    return half + (int64_t)((uint64_t)rnd % (uint64_t)(d - half + 1));
}

int sched_retry_after(const char *value, int64_t now, int64_t *delay_ms)
{
    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        long long s = strtoll(value, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || errno)
            return -1;
        if (s > 365LL * 86400)
            s = 365LL * 86400;
        *delay_ms = s * 1000;
        return 0;
    }
    int64_t when;
    if (!*value || nm_time_parse(value, &when) < 0)
        return -1;
    *delay_ms = when > now ? (when - now) * 1000 : 0;
    return 0;
}

/* Returns whether directive d (length n) is token name, case-insensitively. */
static int is_token(const char *d, size_t n, const char *name)
{
    return strlen(name) == n && !strncasecmp(d, name, n);
}

int sched_max_age(const char *cc, int64_t *ms)
{
    if (!cc)
        return -1;
    int found = -1;
    int64_t v = 0;
    const char *p = cc;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - start);
        while (isspace((unsigned char)*p))
            p++;
        const char *val = NULL;
        if (*p == '=') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '"')
                p++;
            val = p;
        }
        if (is_token(start, n, "no-store") || is_token(start, n, "no-cache"))
            return -1;
        if (is_token(start, n, "max-age") && val && isdigit((unsigned char)*val)) {
            char *end;
            errno = 0;
            long long s = strtoll(val, &end, 10);
            if (!errno && s >= 0) {
                v = (s > 365LL * 86400 ? 365LL * 86400 : s) * 1000;
                found = 0;
            }
        }
        while (*p && *p != ',')
            p++;
    }
    if (found == 0)
        *ms = v;
    return found;
}
