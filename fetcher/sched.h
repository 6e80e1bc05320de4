/*
 * sched: when to poll a feed next. Pure arithmetic, no I/O, so every rule
 * is unit-tested.
 *
 * A healthy feed is polled at an interval that follows how often it
 * publishes: half the median gap between its recent items (so a new item
 * waits on average a quarter of a gap), never more often than the feed
 * asks (RSS ttl, sy:updatePeriod/updateFrequency, Cache-Control max-age are
 * lower bounds) and always within [min_interval, max_interval]. A feed the
 * operator gave its own interval (OPML newsmon:interval) is polled at that
 * interval, never below min_interval. A failing feed backs off
 * exponentially with jitter; a 429 or 503 waits at least its Retry-After.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stddef.h>
#include <stdint.h>

struct sched_limits {
    int64_t min_ms;       /* never poll more often */
    int64_t max_ms;       /* never wait longer (healthy feeds) */
    int64_t default_ms;   /* when the feed gives nothing to go on */
};

struct sched_feed {
    int64_t override_ms;        /* operator's interval for this feed; 0 = none */
    int64_t hint_ms;            /* the feed's own lower bound (largest of ttl, sy:, max-age); 0 = none */
    const int64_t *item_times;  /* publication times of the feed's items, epoch seconds, any order */
    size_t n_items;
};

/* Returns the median gap in seconds between consecutive item times (the
   newest 20 items are used; duplicates count as a gap of 0), or 0 with
   fewer than two items. */
int64_t sched_median_gap(const int64_t *times, size_t n);

/* Returns the interval in ms until the next poll of a healthy feed. */
int64_t sched_interval(const struct sched_limits *l, const struct sched_feed *f);

/* Returns the delay in ms after the failures-th consecutive failure
   (failures >= 1): base * 2^(failures-1), capped at cap, then jittered
   uniformly into [d/2, d] using rnd (any 32-bit random value). */
int64_t sched_backoff(int failures, int64_t base_ms, int64_t cap_ms, uint32_t rnd);

/* Parses a Retry-After value: delta-seconds or an HTTP-date, relative to
   now (epoch seconds). Returns 0 with *delay_ms (never negative), or -1
   when the value is neither. */
int sched_retry_after(const char *value, int64_t now, int64_t *delay_ms);

/* Reads max-age from a Cache-Control value. Returns 0 with *ms, or -1 when
   absent or when no-store/no-cache makes it meaningless. */
int sched_max_age(const char *cache_control, int64_t *ms);

#endif
