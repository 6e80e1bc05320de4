/*
 * notif_route: deciding where an alert goes and how fast.
 *
 * A route selects an alert when one of the alert's themes is among the
 * route's themes (or the route takes every theme) with at least the
 * route's minimum severity, and the article's source and language pass
 * the route's lists. The rate limiter is a sliding window: the times of
 * the last `limit` events in a ring, so "one more now?" is one comparison
 * with the oldest. The back-off doubles from a base up to a ceiling.
 */
#include "notifier/notif.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int notif_severity_rank(const char *s)
{
    static const char *const names[] = { "info", "low", "medium", "high", "critical" };
    for (int i = 0; s && i < 5; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

char *notif_url_host(const char *url)
{
    if (!url || !*url)
        return NULL;
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host) {
        out = nm_xstrdup(host);
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}

char *notif_alert_source(const nm_alert *a)
{
    const nm_article *art = &a->item.article;
    char *h = notif_url_host(art->link);
    if (!h)
        h = notif_url_host(art->feed);
    if (!h)
        h = nm_xstrdup(art->feed_title && *art->feed_title ? art->feed_title : "unknown source");
    if (!strncmp(h, "www.", 4)) {
        char *s = nm_xstrdup(h + 4);
        free(h);
        h = s;
    }
    return h;
}

/* Whether host is domain or a sub-domain of it. */
static int host_in(const char *host, const char *domain)
{
    size_t hl = strlen(host), dl = strlen(domain);
    if (hl < dl || strcasecmp(host + hl - dl, domain))
        return 0;
    return hl == dl || host[hl - dl - 1] == '.';
}

static int source_match(const notif_route *r, const nm_article *art)
{
    if (!r->n_sources)
        return 1;
    const char *urls[] = { art->link, art->feed };
    for (size_t u = 0; u < 2; u++) {
        char *h = notif_url_host(urls[u]);
        if (!h)
            continue;
        int ok = 0;
        for (size_t i = 0; i < r->n_sources && !ok; i++)
            ok = host_in(h, r->sources[i]);
        free(h);
        if (ok)
            return 1;
    }
    return 0;
}

static int lang_match(const notif_route *r, const nm_article *art)
{
    if (!r->n_languages)
        return 1;
    if (!art->lang)
        return 0;
    for (size_t i = 0; i < r->n_languages; i++) {
        size_t n = strlen(r->languages[i]);
        if (!strncasecmp(art->lang, r->languages[i], n) && (art->lang[n] == '\0' || art->lang[n] == '-' ||
                                                            art->lang[n] == '_'))
            return 1;
    }
    return 0;
}

int notif_route_match(const notif_route *r, const nm_alert *a)
{
    int theme_ok = 0;
    for (size_t i = 0; i < a->item.n_themes && !theme_ok; i++) {
        const nm_theme_hit *h = &a->item.themes[i];
        if (notif_severity_rank(h->severity) < r->min_severity)
            continue;
        if (r->all_themes)
            theme_ok = 1;
        for (size_t j = 0; j < r->n_themes && !theme_ok; j++)
            theme_ok = h->id && !strcmp(h->id, r->themes[j]);
    }
    return theme_ok && source_match(r, &a->item.article) && lang_match(r, &a->item.article);
}

/* ---- rate limiter ----------------------------------------------------------- */

void notif_rate_init(notif_rate *r, int64_t limit, int64_t window)
{
    memset(r, 0, sizeof *r);
    r->limit = limit > 0 ? limit : 0;
    r->window = window;
    if (r->limit)
        r->times = nm_xcalloc((size_t)r->limit, sizeof *r->times);
}

void notif_rate_clear(notif_rate *r)
{
    nm_free(&r->times);
    r->count = r->head = 0;
}

int64_t notif_rate_wait(const notif_rate *r, int64_t now)
{
    if (!r->limit || r->count < (size_t)r->limit)
        return 0;
    int64_t oldest = r->times[r->head];   /* the ring is full: head is the oldest */
    int64_t free_at = oldest + r->window;
    return free_at > now ? free_at - now : 0;
}

int notif_rate_take(notif_rate *r, int64_t now)
{
    if (!r->limit)
        return 1;
    if (notif_rate_wait(r, now) > 0)
        return 0;
    size_t cap = (size_t)r->limit;
    if (r->count < cap) {
        r->times[(r->head + r->count) % cap] = now;
        r->count++;
    } else {
        r->times[r->head] = now;
        r->head = (r->head + 1) % cap;
    }
    return 1;
}

int64_t notif_backoff_delay(int64_t base, int64_t max, int n)
{
    if (base < 0)
        base = 0;
    if (max < base)
        max = base;
    int64_t d = base;
    for (int i = 1; i < n; i++) {
        if (d > max / 2)
            return max;
        d *= 2;
    }
    return d < max ? d : max;
}

int64_t notif_jitter(int64_t delay, uint64_t *state)
{
    /* xorshift64: spreading retries needs no better randomness */
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    if (delay <= 0)
        return 0;
    int64_t span = delay / 4;
    if (span <= 0 || delay > INT64_MAX - span)
        return delay;
    return delay + (int64_t)(x % (uint64_t)(span + 1));
}
