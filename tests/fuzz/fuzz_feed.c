/*
 * fuzz_feed: feed_parse (fetcher/feed_parse.h) on arbitrary bytes.
 *
 * Each input is parsed twice, as the fetcher may see it: once without a
 * charset hint (sniffing from BOM, XML declaration, JSON) and once with
 * an HTTP charset picked from the input's bytes, so both the declared and
 * the guessed decoding paths run on the same document. Whatever parses is
 * also turned into the `parse-feed` JSON and serialised, which walks every
 * string the parser produced (ASan sees any that is unterminated or freed).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/feed_parse.h"

/* Charsets an HTTP server may name, including wrong and unknown ones. */
static const char *const hints[] = {
    "utf-8", "windows-1251", "koi8-r", "iso-8859-1", "utf-16", "utf-16le",
    "iso-8859-13", "windows-1257", "cp866", "x-no-such-charset", "", "UTF-32BE",
};

/* Parses data once with hint and serialises the result. */
static void parse_once(const uint8_t *data, size_t size, const char *hint, const struct feed_limits *lim)
{
    struct feed f;
    nm_err err;
    feed_init(&f);
    if (feed_parse((const char *)data, size, "https://news.example.org/rss/feed.xml", hint, lim, &f, &err) == 0) {
        json_t *j = feed_to_json(&f);
        char *s = json_dumps(j, JSON_COMPACT);
        free(s);
        json_decref(j);
    }
    feed_clear(&f);
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct feed_limits lim;
    feed_limits_default(&lim);
    parse_once(data, size, NULL, &lim);

    /* Small limits on the second pass, so the cut-off paths run too. */
    unsigned pick = size ? data[size - 1] : 0;
    lim.max_entries = 3;
    lim.max_errors = 2;
    lim.max_field_bytes = 64;
    lim.max_depth = 32;
    parse_once(data, size, hints[pick % NM_ARRAY_LEN(hints)], &lim);
    return 0;
}
