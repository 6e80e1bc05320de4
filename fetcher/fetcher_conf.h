/*
 * fetcher_conf: newsmon-fetcher's [fetcher] configuration section: the
 * struct the daemon reads its settings from and the schema (keys, types,
 * defaults, bounds) that fills it. newsmonctl uses the same schema to find
 * the fetcher's state database and feeds folder. docs/fetcher.md describes
 * every key.
 */
#ifndef FETCHER_CONF_H
#define FETCHER_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/nm_conf.h"
#include "common/nm_daemon.h"

struct fetcher_conf {
    struct nm_common_conf common;   /* [bus] and [log]: must come first */
    char *state;                    /* state database path */
    char *feeds;                    /* folder of *.opml */
    int64_t min_interval;           /* ms */
    int64_t max_interval;
    int64_t default_interval;
    int64_t max_transfers;
    int64_t max_per_host;
    int64_t connect_timeout;        /* ms */
    int64_t timeout;                /* ms, whole transfer */
    int64_t low_speed_limit;        /* bytes per second */
    int64_t low_speed_time;         /* ms */
    int64_t max_size;               /* bytes on the wire */
    int64_t max_decompressed;       /* bytes after decoding */
    int64_t max_entries;            /* per feed and poll */
    int64_t max_text;               /* bytes of page text kept per article */
    int64_t max_redirects;
    char *user_agent;               /* "" = newsmon's own */
    int allow_file_urls;
    int fetch_pages;
    char *allow_private;            /* CIDR list */
    char *site_rules;               /* extractor rules file, "" = none */
    int64_t once_timeout;           /* ms */
    int confirm;                    /* wait for "stored" (benchmarks turn it off) */
    int64_t retention;              /* ms: confirmed ids kept this long after their feed last listed them */
};

/* Returns the [fetcher] schema and its length in *n. */
const nm_conf_key *fetcher_conf_schema(size_t *n);

#endif
