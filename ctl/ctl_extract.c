/*
 * newsmonctl extract: the page extractor on a file or a URL, as the
 * fetcher runs it on the pages it downloads.
 *
 *   newsmonctl extract FILE|URL [--url BASE] [--charset CS] [--rules FILE]
 *   newsmonctl extract FILE|URL FILE|URL ...       (one JSON line each)
 *
 * One input prints one JSON object {title, byline, published, lang,
 * site_name, text, method, charset}; several print one compact object a
 * line with "file" added, so a corpus runs in one process. A URL (http or
 * https only) is fetched with one libcurl request: redirects followed,
 * timeouts, and the extractor's size limit.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/nm_util.h"
#include "ctl/ctl.h"
#include "ctl/ctl_fetch.h"
#include "fetcher/extract.h"
#include "fetcher/site_rules.h"


/* Returns a JSON string for s (null for NULL; invalid UTF-8, which the extractor never makes, as null). */
static json_t *jstr(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *result_json(const char *file, const struct extract_result *r)
{
    json_t *o = json_object();
    if (file) {
        json_t *name = json_string(file);   /* NULL when file is not UTF-8 */
        json_object_set_new(o, "file", name ? name : json_null());
    }
    json_object_set_new(o, "title", jstr(r->title));
    json_object_set_new(o, "byline", jstr(r->byline));
    json_object_set_new(o, "published", jstr(r->published));
    json_object_set_new(o, "lang", jstr(r->lang));
    json_object_set_new(o, "site_name", jstr(r->site_name));
    json_object_set_new(o, "text", jstr(r->text));
    json_object_set_new(o, "method", jstr(r->method));
    json_object_set_new(o, "charset", jstr(r->charset));
    return o;
}

/* Extracts one input and prints it. Returns 0, or 1 after printing an error. */
static int extract_one(const char *arg, const char *base, const char *charset, const struct site_rules *rules,
                       bool batch)
{
    nm_err err;
    nm_buf body;
    nm_buf_init(&body);
    char *http_charset = NULL, *url = NULL;
    if (ctl_is_url(arg)) {
        if (ctl_fetch_page(arg, "extract", &body, &http_charset, &url, &err) < 0) {
            ctl_error("extract: %s", err.msg);
            return 1;
        }
    } else if (strstr(arg, "://")) {
        ctl_error("extract: %s: only http and https URLs can be fetched", arg);
        return 1;
    } else {
        char *data;
        size_t len;
        /* Read a little more than the extractor takes: it cuts the page itself. */
        FILE *f = fopen(arg, "rb");
        if (!f) {
            ctl_error("extract: cannot read %s: %s", arg, strerror(errno));
            return 1;
        }
        fclose(f);
        if (nm_read_file(arg, 0, &data, &len, &err) < 0) {
            ctl_error("extract: cannot read %s", err.msg);
            return 1;
        }
        body.data = data;
        body.len = len;
        body.cap = len + 1;
    }
    const char *cs = charset ? charset : http_charset;
    struct extract_result r;
    int rc = 0;
    if (extract_page(body.data ? body.data : "", body.len, url ? url : base, cs, rules, &r, &err) < 0) {
        ctl_error("extract: %s: %s", arg, err.msg);
        rc = 1;
    } else {
        json_t *o = result_json(batch ? arg : NULL, &r);
        char *s = json_dumps(o, batch ? JSON_COMPACT : JSON_INDENT(2));
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(o);
        extract_result_clear(&r);
    }
    nm_buf_free(&body);
    free(http_charset);
    free(url);
    return rc;
}

static int cmd_extract(int argc, char **argv)
{
    const char *base = NULL, *charset = NULL, *rules_path = NULL;
    char **inputs = nm_xcalloc((size_t)argc, sizeof *inputs);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--url") == 0       ? &base
                         : strcmp(argv[i], "--charset") == 0   ? &charset
                         : strcmp(argv[i], "--rules") == 0     ? &rules_path
                                                               : NULL;
        if (opt) {
            if (i + 1 >= argc) {
                ctl_error("extract: %s needs a value", argv[i]);
                free(inputs);
                return 2;
            }
            *opt = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ctl_error("extract: unknown option '%s'", argv[i]);
            free(inputs);
            return 2;
        } else {
            inputs[n++] = argv[i];
        }
    }
    if (n == 0) {
        ctl_error("usage: newsmonctl extract FILE|URL... [--url BASE] [--charset CS] [--rules FILE]");
        free(inputs);
        return 2;
    }
    struct site_rules *rules = NULL;
    if (rules_path) {
        nm_err err;
        if (!(rules = site_rules_load(rules_path, &err))) {
            fprintf(stderr, "%s\n", err.msg);
            ctl_error("extract: %s: rules refused", rules_path);
            free(inputs);
            return 1;
        }
    }
    int rc = 0;
    for (int i = 0; i < n; i++)
        rc |= extract_one(inputs[i], base, charset, rules, n > 1);
    fflush(stdout);
    ctl_fetch_cleanup();
    site_rules_destroy(&rules);
    free(inputs);
    return rc;
}

NM_CTL_COMMAND(NULL, "extract", "FILE|URL... [--url BASE] [--charset CS] [--rules FILE]",
               "print the article text and metadata of a page as JSON", cmd_extract)
