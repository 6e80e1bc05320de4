/*
 * newsmonctl's rule commands: "rules check DIR" (every error and warning
 * of a folder, exit 1 on any error), "classify --rules DIR FILE..." (one
 * JSON line per file, the contract shape) and "rules test --rules DIR
 * FILE|URL" (for people: what fired and why, what did not and which part
 * failed). They use the same library (classifier/rules.h) as the
 * classifier daemon, so what they say is what the daemon will do.
 *
 * An input is plain text (first line the title), article JSON (.json),
 * or a web page (.html, .htm; for rules test also an http(s) URL, fetched
 * with one libcurl request) that goes through the fetcher's page
 * extractor first, so a rule can be tried on the text the daemon would
 * see. The URL fetch repeats ctl_extract.c's (that one is private to its
 * file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classifier/rules.h"
#include "common/nm_msg.h"
#include "common/nm_util.h"
#include "ctl/ctl.h"
#include "ctl/ctl_fetch.h"
#include "fetcher/extract.h"

#define ARTICLE_FILE_LIMIT (64u * 1024 * 1024)

static void print_diags(const rule_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "%s\n", d->items[i].text);
}

/* Loads dir, printing its diagnostics (warnings only when show_warnings). Returns the set or NULL. */
static rule_set *load_rules(const char *dir, bool show_warnings)
{
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(dir, &d);
    for (size_t i = 0; i < d.n; i++)
        if (d.items[i].is_error || show_warnings)
            fprintf(stderr, "%s\n", d.items[i].text);
    if (!rs)
        ctl_error("%s: %zu error%s: rules refused", dir, d.n_errors, d.n_errors == 1 ? "" : "s");
    rule_diags_clear(&d);
    return rs;
}

static int cmd_rules_check(int argc, char **argv)
{
    if (argc != 2) {
        ctl_error("usage: newsmonctl rules check DIR");
        return 2;
    }
    int64_t t0 = nm_now_ms();
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(argv[1], &d);
    int64_t ms = nm_now_ms() - t0;
    print_diags(&d);
    if (!rs) {
        printf("rules refused: %zu error%s, %zu warning%s\n", d.n_errors, d.n_errors == 1 ? "" : "s",
               d.n_warnings, d.n_warnings == 1 ? "" : "s");
        rule_diags_clear(&d);
        return 1;
    }
    rule_set_stats st;
    rule_set_get_stats(rs, &st);
    printf("rules OK: %zu theme%s, %zu define%s, %zu term%s, %zu warning%s, version %.12s (loaded in %lld ms)\n",
           st.themes, st.themes == 1 ? "" : "s", st.defines, st.defines == 1 ? "" : "s", st.terms,
           st.terms == 1 ? "" : "s", d.n_warnings, d.n_warnings == 1 ? "" : "s", rule_set_version(rs),
           (long long)ms);
    rule_diags_clear(&d);
    rule_set_destroy(&rs);
    return 0;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t l = strlen(s), n = strlen(suffix);
    return l >= n && strcasecmp(s + l - n, suffix) == 0;
}

static bool is_html_name(const char *path)
{
    return ends_with_ci(path, ".html") || ends_with_ci(path, ".htm");
}


/* Reads path whole, usually with one read() of the size fstat gives.
   Returns 0 with a NUL-terminated malloc'd *out, or -1 with err. */
static int slurp(const char *path, size_t limit, char **out, size_t *len, nm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nm_err_set(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);   /* a pipe or a device: the generic reader */
        return nm_read_file(path, limit, out, len, err);
    }
    if ((uint64_t)st.st_size > limit) {
        close(fd);
        return nm_err_set(err, "%s: larger than the limit of %zu bytes", path, limit);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = nm_xmalloc(cap + 1);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return nm_err_set(err, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {   /* the file grew since fstat */
            if (cap > limit) {
                close(fd);
                free(buf);
                return nm_err_set(err, "%s: larger than the limit of %zu bytes", path, limit);
            }
            cap *= 2;
            buf = nm_xrealloc(buf, cap + 1);
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Fills a from a web page: the extractor's title, text and language.
   name names the input in messages and becomes the id; url (may be NULL)
   is where the page came from (for the extractor and `source:`).
   Returns 0, or -1 with err. */
static int article_from_html(const char *name, const char *html, size_t len, const char *url,
                             const char *charset, nm_article *a, nm_err *err)
{
    struct extract_result r;
    nm_err e2;
    if (extract_page(html, len, url, charset, NULL, &r, &e2) < 0)
        return nm_err_set(err, "%s: %s", name, e2.msg);
    a->id = nm_xstrdup(url ? url : name);
    a->link = url ? nm_xstrdup(url) : NULL;
    a->title = r.title ? r.title : nm_xstrdup("");
    a->text = r.text ? r.text : nm_xstrdup("");
    a->lang = r.lang;
    a->published = r.published;
    a->author = r.byline;
    r.title = r.text = r.lang = r.published = r.byline = NULL;
    extract_result_clear(&r);
    return 0;
}


/* Fetches a page and fills a from it. Returns 0, or -1 with err. */
static int read_url(const char *url, nm_article *a, nm_err *err)
{
    nm_buf body;
    nm_buf_init(&body);
    char *charset = NULL, *final_url = NULL;
    int rc = ctl_fetch_page(url, "rules test", &body, &charset, &final_url, err);
    if (rc == 0)
        rc = article_from_html(url, body.data ? body.data : "", body.len, final_url, charset, a, err);
    nm_buf_free(&body);
    free(charset);
    free(final_url);
    ctl_fetch_cleanup();
    return rc;
}

/* ---------- reading an article ---------- */

/* Reads an article from path: a web page (.html, .htm: the page
   extractor runs first), JSON (.json, an article object or a message
   carrying one under "article") or plain text (first line the title).
   Returns 0, or -1 with err. */
static int read_article(const char *path, nm_article *a, nm_err *err)
{
    nm_article_init(a);
    bool html = is_html_name(path);
    char *data;
    size_t len;
    if (slurp(path, html ? EXTRACT_MAX_INPUT * 2u : ARTICLE_FILE_LIMIT, &data, &len, err) < 0)
        return -1;
    if (html) {
        int rc = article_from_html(path, data, len, NULL, NULL, a, err);
        free(data);
        return rc;
    }
    if (ends_with_ci(path, ".json")) {
        json_error_t je;
        json_t *j = json_loadb(data, len, 0, &je);
        free(data);
        if (!j)
            return nm_err_set(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
        const json_t *obj = j;
        if (json_is_object(j) && !json_object_get(j, "id") && json_is_object(json_object_get(j, "article")))
            obj = json_object_get(j, "article");
        nm_err e2;
        int rc = nm_article_from_json(obj, a, &e2);
        json_decref(j);
        if (rc < 0)
            return nm_err_set(err, "%s: %s", path, e2.msg);
        return 0;
    }
    /* plain text: the title is copied out, the text moved to the front of
       the buffer it was read into */
    const char *nl = memchr(data, '\n', len);
    size_t tl = nl ? (size_t)(nl - data) : len;
    a->id = nm_xstrdup(path);
    a->title = nm_xstrndup(data, tl > 0 && data[tl - 1] == '\r' ? tl - 1 : tl);
    size_t rest = nl ? len - tl - 1 : 0;
    memmove(data, data + len - rest, rest);
    data[rest] = '\0';
    a->text = data;
    return 0;
}

/* Returns {"id","score","severity","matches"} for h in the contract's key order. */
static json_t *hit_json(const nm_theme_hit *h)
{
    json_t *t = json_object();
    json_object_set_new(t, "id", json_string(h->id));
    json_object_set_new(t, "score", json_integer(h->score));
    json_object_set_new(t, "severity", json_string(h->severity));
    json_object_set(t, "matches", h->matches);
    return t;
}

/* Parses "--rules DIR" / "--rules=DIR" from argv[1..]; returns the index of the first other argument. */
static int rules_option(int argc, char **argv, const char **dir)
{
    int i = 1;
    *dir = NULL;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            *dir = argv[++i];
        else if (strncmp(argv[i], "--rules=", 8) == 0)
            *dir = argv[i] + 8;
        else if (strcmp(argv[i], "--") == 0)
            return i + 1;
        else
            break;
    }
    return i;
}

static int cmd_classify(int argc, char **argv)
{
    const char *dir;
    int i = rules_option(argc, argv, &dir);
    if (!dir || i >= argc) {
        ctl_error("usage: newsmonctl classify --rules DIR FILE...");
        return 2;
    }
    rule_set *rs = load_rules(dir, nm_ctl.verbose > 0);
    if (!rs)
        return 1;
    int rc = 0;
    for (; i < argc; i++) {
        nm_article a;
        nm_err err;
        if (read_article(argv[i], &a, &err) < 0) {
            ctl_error("%s", err.msg);
            nm_article_clear(&a);
            rc = 1;
            continue;
        }
        nm_theme_hit *hits;
        size_t n;
        rule_set_classify(rs, &a, &hits, &n);
        json_t *line = json_object();
        json_object_set_new(line, "file", json_string(argv[i]));
        json_t *themes = json_array();
        for (size_t k = 0; k < n; k++)
            json_array_append_new(themes, hit_json(&hits[k]));
        json_object_set_new(line, "themes", themes);
        char *s = json_dumps(line, JSON_COMPACT);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(line);
        rule_hits_free(&hits, n);
        nm_article_clear(&a);
    }
    rule_set_destroy(&rs);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}

/* ---------- rules test ---------- */

typedef struct style {
    const char *on, *off, *good, *bad, *reset;
} style;

/* Prints a snippet of text around [off, off+len) with the match highlighted. */
static void snippet(const style *st, const char *text, size_t off, size_t len)
{
    size_t tl = strlen(text);
    if (off > tl || len > tl - off)
        return;
    size_t from = off > 50 ? off - 50 : 0, to = off + len + 50 < tl ? off + len + 50 : tl;
    while (from > 0 && ((unsigned char)text[from] & 0xC0) == 0x80)
        from--;
    while (to < tl && ((unsigned char)text[to] & 0xC0) == 0x80)
        to++;
    fputs(from > 0 ? "…" : "", stdout);
    for (size_t i = from; i < to; i++) {
        if (i == off)
            fputs(st->on, stdout);
        char c = text[i];
        putchar(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
        if (i + 1 == off + len)
            fputs(st->off, stdout);
    }
    fputs(to < tl ? "…" : "", stdout);
}

static void print_matches(const style *st, const rule_eval *ev, const json_t *matches, const char *indent)
{
    size_t i;
    const json_t *m;
    json_array_foreach(matches, i, m) {
        const char *field = json_string_value(json_object_get(m, "field"));
        json_int_t off = json_integer_value(json_object_get(m, "offset"));
        const char *text = json_string_value(json_object_get(m, "text"));
        printf("%s%-24s %s@%lld  ", indent, json_string_value(json_object_get(m, "term")), field, (long long)off);
        snippet(st, strcmp(field, "title") == 0 ? ev->title : ev->text, (size_t)off, strlen(text));
        putchar('\n');
    }
}

static void print_theme(const style *st, const rule_eval *ev, const rule_theme_eval *t)
{
    printf("%s%s%s %s (%s) %s  [%s]\n", t->fired ? st->good : st->bad, t->fired ? "FIRED" : "not fired",
           st->reset, t->id, t->severity, t->title, t->where);
    if (!t->match_held)
        printf("    match: did not hold%s\n", t->fired ? "" : "  <- why it did not fire");
    else
        printf("    match: held\n");
    if (t->has_exclude)
        printf("    exclude: %s\n", t->exclude_held ? "held  <- why it did not fire" : "did not hold");
    if (t->exclude_held)
        print_matches(st, ev, t->exclude_matches, "      excluded by: ");
    for (size_t k = 0; k < t->n_scores; k++)
        printf("    score %+lld  %-5s %s  [%s]\n", (long long)t->scores[k].weight,
               t->scores[k].held ? "held" : "no", t->scores[k].expr, t->scores[k].where);
    if (t->n_scores)
        printf("    score %lld, threshold %lld%s\n", (long long)t->score, (long long)t->threshold,
               t->score < t->threshold ? "  <- below threshold" : "");
    if (json_array_size(t->matches)) {
        printf("    terms that held:\n");
        print_matches(st, ev, t->matches, "      ");
    }
}

static int cmd_rules_test(int argc, char **argv)
{
    const char *dir;
    int i = rules_option(argc, argv, &dir);
    if (!dir || i + 1 != argc) {
        ctl_error("usage: newsmonctl rules test --rules DIR FILE|URL");
        return 2;
    }
    rule_set *rs = load_rules(dir, true);
    if (!rs)
        return 1;
    nm_article a;
    nm_err err;
    int rc;
    if (ctl_is_url(argv[i])) {
        nm_article_init(&a);
        rc = read_url(argv[i], &a, &err);
    } else if (strstr(argv[i], "://")) {
        nm_article_init(&a);
        rc = nm_err_set(&err, "%s: only http and https URLs can be fetched", argv[i]);
    } else {
        rc = read_article(argv[i], &a, &err);
    }
    if (rc < 0) {
        nm_article_clear(&a);
        ctl_error("%s", err.msg);
        rule_set_destroy(&rs);
        return 1;
    }
    bool tty = isatty(STDOUT_FILENO);
    style st = tty ? (style){ "\033[1;7m", "\033[0m", "\033[1;32m", "\033[1;31m", "\033[0m" }
                   : (style){ "[", "]", "", "", "" };
    rule_eval *ev = rule_set_evaluate(rs, &a);
    size_t fired = 0;
    for (size_t k = 0; k < ev->n_themes; k++)
        fired += ev->themes[k].fired;
    printf("file %s: %zu of %zu themes fired (rules %s, version %.12s)\n", argv[i], fired, ev->n_themes, dir,
           rule_set_version(rs));
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < ev->n_themes; k++) {
            if (ev->themes[k].fired == (pass == 0)) {
                putchar('\n');
                print_theme(&st, ev, &ev->themes[k]);
            }
        }
    }
    rule_eval_destroy(&ev);
    nm_article_clear(&a);
    rule_set_destroy(&rs);
    return 0;
}

NM_CTL_COMMAND("rules", "check", "DIR", "check a rules folder: every error and warning, exit 1 on any error",
               cmd_rules_check)
NM_CTL_COMMAND(NULL, "classify", "--rules DIR FILE...",
               "classify text, article JSON or HTML files, one JSON line each", cmd_classify)
NM_CTL_COMMAND("rules", "test", "--rules DIR FILE|URL",
               "explain which themes fire on a file or web page and why (or why not)", cmd_rules_test)
