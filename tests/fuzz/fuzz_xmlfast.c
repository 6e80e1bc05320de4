/*
 * fuzz_xmlfast: feed_xmlfast (fetcher/feed_xmlfast.h) held to libxml2.
 *
 * Each input is parsed as a feed twice, with the fast reader tried first
 * (as the fetcher does) and with libxml2's parser alone; the `parse-feed`
 * JSON of both must be the same byte for byte, or the harness aborts and
 * libFuzzer keeps the input. Whatever the fast reader declines goes to
 * libxml2 in both runs, so a difference is always the fast reader's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/feed_priv.h"

static char *parse_json(const uint8_t *data, size_t size, bool fast)
{
    feed_xml_fast = fast;
    struct feed f;
    nm_err err = { "" };
    feed_init(&f);
    int rc = feed_parse((const char *)data, size, "https://news.example.org/rss/", NULL, NULL, &f, &err);
    char *json = feed_json_string(&f, rc < 0 ? err.msg : NULL, NULL);
    feed_clear(&f);
    return json;
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fast = parse_json(data, size, true), *slow = parse_json(data, size, false);
    if (strcmp(fast, slow) != 0) {
        fprintf(stderr, "fuzz_xmlfast: the readers differ\n fast    %s\n libxml2 %s\n", fast, slow);
        abort();
    }
    free(fast);
    free(slow);
    return 0;
}
