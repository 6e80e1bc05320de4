/*
 * fuzz_xmlfast: feed_xmlfast (fetcher/feed_xmlfast.h) held to libxml2.
 *
 * Each input is parsed as a feed twice, with the fast reader tried first
 * (as the fetcher does) and with libxml2's parser alone; the `parse-feed`
 * JSON of both must be the same byte for byte, or the harness aborts and
 * libFuzzer keeps the input. Whatever the fast reader declines goes to
 * libxml2 in both runs, so a difference is always the fast reader's.
 * A third parse, as `parse-feed` does it (fast reader, summaries left in
 * the document until written: defer_summaries), must give the same JSON
 * again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/feed_priv.h"

/* Returns parse-feed's JSON of data; *tree (may be NULL) gets feed_to_json's. */
static char *parse_json(const uint8_t *data, size_t size, bool fast, bool deferred, char **tree)
{
    feed_xml_fast = fast;
    struct feed f;
    nm_err err = { "" };
    feed_init(&f);
    f.defer_summaries = deferred;
    int rc = feed_parse((const char *)data, size, "https://news.example.org/rss/", NULL, NULL, &f, &err);
    char *json = feed_json_string(&f, rc < 0 ? err.msg : NULL, NULL);
    if (tree) {
        json_t *j = feed_to_json(&f);
        *tree = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    feed_clear(&f);
    return json;
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fast_tree, *deferred_tree;
    char *fast = parse_json(data, size, true, false, &fast_tree), *slow = parse_json(data, size, false, false, NULL);
    if (strcmp(fast, slow) != 0) {
        fprintf(stderr, "fuzz_xmlfast: the readers differ\n fast    %s\n libxml2 %s\n", fast, slow);
        abort();
    }
    char *deferred = parse_json(data, size, true, true, &deferred_tree);
    if (strcmp(fast, deferred) != 0 || strcmp(fast_tree, deferred_tree) != 0) {
        fprintf(stderr, "fuzz_xmlfast: deferred summaries differ\n fast     %s\n deferred %s\n", fast, deferred);
        abort();
    }
    free(fast);
    free(slow);
    free(deferred);
    free(fast_tree);
    free(deferred_tree);
    return 0;
}
