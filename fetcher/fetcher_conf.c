/*
 * fetcher_conf: the [fetcher] schema. Defaults suit a desk polling a few
 * hundred news feeds from one machine; docs/fetcher.md explains each key.
 */
#include "fetcher/fetcher_conf.h"
#include "fetcher/opml.h"
#include "fetcher/state.h"

#include "common/nm_util.h"

#define F(field) offsetof(struct fetcher_conf, field)
#define DAY_MS (86400LL * 1000)
static const nm_conf_key schema[] = {
    { "fetcher", "state", NM_CONF_STRING, F(state), STATE_DEFAULT_PATH, 1, 0, "state database" },
    { "fetcher", "feeds", NM_CONF_STRING, F(feeds), OPML_DEFAULT_DIR, 1, 0, "folder of *.opml feed lists" },
    { "fetcher", "min_interval", NM_CONF_DURATION, F(min_interval), "2m", 1000, 7 * DAY_MS,
      "never poll a feed more often" },
    { "fetcher", "max_interval", NM_CONF_DURATION, F(max_interval), "6h", 1000, 30 * DAY_MS,
      "never wait longer between polls of a healthy feed" },
    { "fetcher", "default_interval", NM_CONF_DURATION, F(default_interval), "15m", 1000, 30 * DAY_MS,
      "interval of a feed whose publishing rate is unknown" },
    { "fetcher", "max_transfers", NM_CONF_INT, F(max_transfers), "32", 1, 10000, "transfers at once" },
    { "fetcher", "max_per_host", NM_CONF_INT, F(max_per_host), "2", 1, 1000, "transfers at once per host" },
    { "fetcher", "connect_timeout", NM_CONF_DURATION, F(connect_timeout), "15s", 100, 600000, "" },
    { "fetcher", "timeout", NM_CONF_DURATION, F(timeout), "60s", 100, 3600000, "whole transfer" },
    { "fetcher", "low_speed_limit", NM_CONF_INT, F(low_speed_limit), "100", 1, 1 << 30,
      "bytes per second below which low_speed_time counts" },
    { "fetcher", "low_speed_time", NM_CONF_DURATION, F(low_speed_time), "20s", 1000, 3600000, "" },
    { "fetcher", "max_size", NM_CONF_SIZE, F(max_size), "8M", 1024, 1LL << 31, "response body on the wire" },
    { "fetcher", "max_decompressed", NM_CONF_SIZE, F(max_decompressed), "32M", 1024, 1LL << 31,
      "response body after decoding" },
    { "fetcher", "max_entries", NM_CONF_INT, F(max_entries), "500", 1, 100000, "entries read per feed" },
    { "fetcher", "max_text", NM_CONF_SIZE, F(max_text), "1M", 1024, 8LL << 20,
      "page text kept per article (longer text is cut at a word), so an article always fits a message" },
    { "fetcher", "max_redirects", NM_CONF_INT, F(max_redirects), "5", 0, 50, "" },
    { "fetcher", "user_agent", NM_CONF_STRING, F(user_agent), "", 1, 0, "\"\" = newsmon/<version>" },
    { "fetcher", "allow_file_urls", NM_CONF_BOOL, F(allow_file_urls), "no", 1, 0, "file: feed addresses" },
    { "fetcher", "fetch_pages", NM_CONF_BOOL, F(fetch_pages), "yes", 1, 0, "fetch each new item's page" },
    { "fetcher", "allow_private", NM_CONF_STRING, F(allow_private), "", 1, 0,
      "CIDR ranges item links may reach despite being private" },
    { "fetcher", "site_rules", NM_CONF_STRING, F(site_rules), "", 1, 0, "extractor site rules file" },
    { "fetcher", "once_timeout", NM_CONF_DURATION, F(once_timeout), "60s", 1000, DAY_MS,
      "--once: how long to wait for confirmations" },
    { "fetcher", "confirm", NM_CONF_BOOL, F(confirm), "yes", 1, 0, "benchmarks only: no = do not wait for the store" },
    { "fetcher", "retention", NM_CONF_DURATION, F(retention), "90d", DAY_MS, 3650 * DAY_MS,
      "how long confirmed ids are remembered after their feed stops listing them" },
};
#undef F

const nm_conf_key *fetcher_conf_schema(size_t *n)
{
    *n = NM_ARRAY_LEN(schema);
    return schema;
}
