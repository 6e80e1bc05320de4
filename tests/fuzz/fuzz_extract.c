/*
 * fuzz_extract: extract_page (fetcher/extract.h) on arbitrary bytes.
 *
 * The page is extracted with an HTTP charset hint picked from the input's
 * last byte (none, right, wrong or unknown), and from a URL that alternates
 * between a host with per-site rules (content and remove selectors, parsed
 * once at start-up) and one without, so both the site-rule path and the
 * heuristics (Readability, JSON-LD, body fallback) see every input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/extract.h"
#include "fetcher/site_rules.h"

static struct site_rules *rules;

static const char *const hints[] = {
    NULL, "utf-8", "windows-1251", "koi8-r", "iso-8859-1", "utf-16", "x-no-such-charset", "",
};

static const char site_rules_text[] =
    "example.com  remove   aside, .share, [data-ad], div.related > a\n"
    "example.com  content  article .story-body p, div[itemprop=articleBody], #main-text > p\n"
    "news.example.org  content  main article\n";

static void free_rules(void)
{
    site_rules_destroy(&rules);
}

/* Called once by libFuzzer before the first input. Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nm_err err;
    rules = site_rules_parse(site_rules_text, strlen(site_rules_text), "fuzz.rules", &err);
    if (!rules) {
        fprintf(stderr, "fuzz_extract: built-in site rules refused: %s\n", err.msg);
        abort();
    }
    atexit(free_rules);
    return 0;
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned pick = size ? data[size - 1] : 0;
    const char *url = (pick & 0x80) ? "https://www.example.com/news/2024/05/article.html"
                                    : "https://other.example.net/a?b=c#d";
    struct extract_result r;
    nm_err err;
    memset(&r, 0, sizeof r);
    if (extract_page((const char *)data, size, url, hints[pick % NM_ARRAY_LEN(hints)], rules, &r, &err) == 0) {
        if (!r.text || !r.method || !r.charset) {
            fprintf(stderr, "fuzz_extract: success without text, method or charset\n");
            abort();
        }
        /* Touch every string so ASan checks it is live and terminated. */
        size_t n = strlen(r.text) + strlen(r.method) + strlen(r.charset);
        const char *opt[] = { r.title, r.byline, r.published, r.lang, r.site_name };
        for (size_t i = 0; i < NM_ARRAY_LEN(opt); i++)
            n += opt[i] ? strlen(opt[i]) : 0;
        (void)n;
    }
    extract_result_clear(&r);
    return 0;
}
