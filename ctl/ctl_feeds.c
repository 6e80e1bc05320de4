/*
 * ctl_feeds: `newsmonctl feeds` — the operator's view of the fetcher's
 * feeds. "feeds" (or "feeds list") prints each feed's health from the
 * fetcher's state database; "feeds import FILE.opml" checks a feed list
 * and puts it into the feeds folder (a copy, or merged into newsmon.opml
 * there); "feeds export" prints the feeds folder as one OPML document.
 *
 * The state database and feeds folder come from -c CONFIG's [fetcher]
 * section (state, feeds), or --state PATH / --feeds DIR. The global --db
 * names the store's database, not this one.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/nm_conf.h"
#include "common/nm_util.h"
#include "fetcher/fetcher_conf.h"
#include "fetcher/opml.h"
#include "fetcher/state.h"

struct feeds_opts {
    const char *state;   /* --state */
    const char *feeds;   /* --feeds */
    bool merge;          /* import --merge */
    bool force;          /* import --force */
    const char *file;    /* import FILE */
};

struct feeds_ctx {
    struct fetcher_conf conf;
    bool loaded;
    const char *state;
    const char *feeds;
    int allow_file;
};

/* Reads the config's [fetcher] keys when a path is not given on the command line. */
static int resolve(struct feeds_ctx *c, const struct feeds_opts *o)
{
    c->state = o->state;
    c->feeds = o->feeds;
    c->allow_file = 0;
    size_t n;
    const nm_conf_key *schema = fetcher_conf_schema(&n);
    struct nm_conf_load_args la = { nm_ctl.config, schema, n, &c->conf, NULL, 0, NULL, NULL };
    nm_conf_errors errs = { 0 };
    int rc = nm_conf_load(&la, &errs);
    c->loaded = true;
    if (rc < 0 && (!o->state || !o->feeds)) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msg[i]);
        ctl_error("cannot read the [fetcher] section of %s (give --state and --feeds to do without)", nm_ctl.config);
        nm_conf_errors_clear(&errs);
        return -1;
    }
    nm_conf_errors_clear(&errs);
    if (!c->state)
        c->state = c->conf.state;
    if (!c->feeds)
        c->feeds = c->conf.feeds;
    c->allow_file = rc == 0 ? c->conf.allow_file_urls : 1;
    return 0;
}

static void release(struct feeds_ctx *c)
{
    size_t n;
    const nm_conf_key *schema = fetcher_conf_schema(&n);
    if (c->loaded)
        nm_conf_free(schema, n, &c->conf);
}

static const char *when(int64_t t, char buf[32])
{
    if (t <= 0)
        return "never";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

/* Prints s cut to width display columns (UTF-8 aware), padded. */
static void cell(const char *s, int width)
{
    int cols = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *start = p;
    while (*p && cols < width) {
        p++;
        while ((*p & 0xc0) == 0x80)
            p++;
        cols++;
    }
    fwrite(start, 1, (size_t)(p - start), stdout);
    for (; cols < width; cols++)
        putchar(' ');
    putchar(' ');
}

static int cmd_list(const struct feeds_opts *o)
{
    struct feeds_ctx c = { 0 };
    if (resolve(&c, o) < 0)
        return 1;
    nm_err err;
    state_db *db = state_open(c.state, true, &err);
    if (!db) {
        ctl_error("%s (has newsmon-fetcher run yet?)", err.msg);
        release(&c);
        return 1;
    }
    struct state_feed *rows;
    size_t n;
    if (state_feed_list(db, &rows, &n, &err) < 0) {
        ctl_error("%s", err.msg);
        state_close(&db);
        release(&c);
        return 1;
    }
    /* Feeds configured but not polled yet are listed too. */
    struct opml_list conf = { 0 };
    nm_conf_errors errs = { 0 };
    opml_load_dir(c.feeds, true, &conf, &errs);
    nm_conf_errors_clear(&errs);
    int url_w = 3;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(rows[i].url) > url_w)
            url_w = (int)strlen(rows[i].url);
    for (size_t i = 0; i < conf.n; i++)
        if ((int)strlen(conf.v[i].url) > url_w)
            url_w = (int)strlen(conf.v[i].url);
    if (url_w > 70)
        url_w = 70;
    cell("URL", url_w);
    cell("TITLE", 24);
    cell("LAST SUCCESS", 16);
    cell("FAILS", 5);
    cell("LAST NEW ITEM", 16);
    printf("LAST ERROR\n");
    char b1[32], b2[32];
    for (size_t i = 0; i < n; i++) {
        const struct state_feed *r = &rows[i];
        cell(r->url, url_w);
        cell(r->title ? r->title : "-", 24);
        cell(when(r->last_success, b1), 16);
        char fails[24];
        snprintf(fails, sizeof fails, "%lld", (long long)r->failures);
        cell(fails, 5);
        cell(when(r->last_new_item, b2), 16);
        printf("%s", r->last_error ? r->last_error : "-");
        if (r->current_url)
            printf(" (moved to %s)", r->current_url);
        if (conf.n && opml_find(&conf, r->url) < 0)
            printf(" [no longer configured]");
        putchar('\n');
    }
    for (size_t i = 0; i < conf.n; i++) {
        bool known = false;
        for (size_t j = 0; j < n && !known; j++)
            known = !strcmp(rows[j].url, conf.v[i].url);
        if (known)
            continue;
        cell(conf.v[i].url, url_w);
        cell(conf.v[i].title ? conf.v[i].title : "-", 24);
        cell("never", 16);
        cell("0", 5);
        cell("never", 16);
        printf("- (not polled yet)\n");
    }
    for (size_t i = 0; i < n; i++)
        state_feed_clear(&rows[i]);
    free(rows);
    opml_list_clear(&conf);
    state_close(&db);
    release(&c);
    return 0;
}

/* Writes text to path through a temporary file and a rename. Returns 0 or -1 (reported). */
static int write_atomic(const char *path, const char *text, size_t len)
{
    char *tmp = nm_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        ctl_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void print_errors(nm_conf_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s\n", errs->msg[i]);
}

static int cmd_import(const struct feeds_opts *o)
{
    struct feeds_ctx c = { 0 };
    if (resolve(&c, o) < 0)
        return 1;
    int rc = 1;
    struct opml_list in = { 0 }, folder = { 0 }, merged = { 0 };
    nm_conf_errors errs = { 0 };
    char *buf = NULL, *dest = NULL;
    size_t len = 0;
    nm_err err;
    if (nm_read_file(o->file, OPML_MAX_FILE, &buf, &len, &err) < 0) {
        ctl_error("%s: %s", o->file, err.msg);
        goto out;
    }
    if (opml_parse(o->file, buf, len, c.allow_file, &in, &errs) > 0) {
        print_errors(&errs);
        ctl_error("%s: %zu problem%s; nothing imported", o->file, errs.n, errs.n == 1 ? "" : "s");
        goto out;
    }
    if (opml_load_dir(c.feeds, c.allow_file, &folder, &errs) > 0) {
        print_errors(&errs);
        ctl_error("the feeds folder %s has problems already; fix them first", c.feeds);
        goto out;
    }
    for (size_t i = 0; i < in.n; i++) {
        long k = opml_find(&in, in.v[i].url);
        if (k >= 0 && (size_t)k < i) {
            ctl_error("%s:%d: feed %s is already listed at line %d; nothing imported", o->file, in.v[i].line,
                      in.v[i].url, in.v[k].line);
            goto out;
        }
    }
    size_t dup = 0;
    for (size_t i = 0; i < in.n; i++)
        dup += opml_find(&folder, in.v[i].url) >= 0;
    const char *base = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 : o->file;
    if (!o->merge) {
        if (dup) {
            ctl_error("%zu of the %zu feeds of %s are already in %s; use --merge to add only the new ones", dup,
                      in.n, o->file, c.feeds);
            goto out;
        }
        size_t bl = strlen(base);
        dest = bl > 5 && !strcmp(base + bl - 5, ".opml") ? nm_xasprintf("%s/%s", c.feeds, base)
                                                         : nm_xasprintf("%s/%s.opml", c.feeds, base);
        struct stat st;
        if (!o->force && stat(dest, &st) == 0) {
            ctl_error("%s exists; use --force to replace it or --merge to add to newsmon.opml", dest);
            goto out;
        }
        if (write_atomic(dest, buf, len) < 0)
            goto out;
        printf("imported %zu feed%s into %s\n", in.n, in.n == 1 ? "" : "s", dest);
    } else {
        dest = nm_xasprintf("%s/newsmon.opml", c.feeds);
        struct stat st;
        if (stat(dest, &st) == 0 && opml_load_file(dest, c.allow_file, &merged, &errs) > 0) {
            print_errors(&errs);
            goto out;
        }
        size_t added = 0;
        for (size_t i = 0; i < in.n; i++) {
            if (opml_find(&folder, in.v[i].url) >= 0)
                continue;
            merged.v = nm_xrealloc(merged.v, (merged.n + 1) * sizeof *merged.v);
            merged.v[merged.n++] = in.v[i];
            memset(&in.v[i], 0, sizeof in.v[i]);
            in.v[i].url = nm_xstrdup("");
            added++;
        }
        nm_buf out;
        nm_buf_init(&out);
        opml_write(&out, &merged, "newsmon feeds");
        int w = added ? write_atomic(dest, out.data, out.len) : 0;
        nm_buf_free(&out);
        if (w < 0)
            goto out;
        printf("merged %zu new feed%s into %s (%zu already listed)\n", added, added == 1 ? "" : "s", dest, dup);
    }
    printf("reload the fetcher to poll them: systemctl reload newsmon-fetcher (or kill -HUP its pid)\n");
    rc = 0;
out:
    free(buf);
    free(dest);
    opml_list_clear(&in);
    opml_list_clear(&folder);
    opml_list_clear(&merged);
    nm_conf_errors_clear(&errs);
    release(&c);
    return rc;
}

static int cmd_export(const struct feeds_opts *o)
{
    struct feeds_ctx c = { 0 };
    if (resolve(&c, o) < 0)
        return 1;
    struct opml_list l = { 0 };
    nm_conf_errors errs = { 0 };
    int rc = 0;
    if (opml_load_dir(c.feeds, true, &l, &errs) > 0) {
        print_errors(&errs);
        ctl_error("the feeds folder %s has problems; exporting what could be read", c.feeds);
        rc = 1;
    }
    /* Titles the feeds gave themselves fill in where the list has none. */
    nm_err err;
    state_db *db = access(c.state, R_OK) == 0 ? state_open(c.state, true, &err) : NULL;
    for (size_t i = 0; db && i < l.n; i++) {
        struct state_feed sf = { 0 };
        if (!l.v[i].title && state_feed_get(db, l.v[i].url, &sf, &err) > 0 && sf.title)
            l.v[i].title = nm_xstrdup(sf.title);
        state_feed_clear(&sf);
    }
    state_close(&db);
    nm_buf out;
    nm_buf_init(&out);
    opml_write(&out, &l, "newsmon feeds");
    fwrite(out.data, 1, out.len, stdout);
    nm_buf_free(&out);
    opml_list_clear(&l);
    nm_conf_errors_clear(&errs);
    release(&c);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: newsmonctl [-c CONFIG] feeds [list] [--state PATH] [--feeds DIR]\n"
                    "       newsmonctl [-c CONFIG] feeds import FILE.opml [--merge] [--force] [--feeds DIR]\n"
                    "       newsmonctl [-c CONFIG] feeds export [--feeds DIR] [--state PATH]\n");
    return 2;
}

static int cmd_feeds(int argc, char **argv)
{
    struct feeds_opts o = { 0 };
    const char *sub = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--state") && i + 1 < argc)
            o.state = argv[++i];
        else if (!strncmp(a, "--state=", 8))
            o.state = a + 8;
        else if (!strcmp(a, "--feeds") && i + 1 < argc)
            o.feeds = argv[++i];
        else if (!strncmp(a, "--feeds=", 8))
            o.feeds = a + 8;
        else if (!strcmp(a, "--merge"))
            o.merge = true;
        else if (!strcmp(a, "--force"))
            o.force = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage();
        else if (a[0] == '-' && a[1]) {
            ctl_error("feeds: unknown option '%s'", a);
            return usage();
        } else if (!sub) {
            sub = a;
        } else if (!strcmp(sub, "import") && !o.file) {
            o.file = a;
        } else {
            ctl_error("feeds: unexpected argument '%s'", a);
            return usage();
        }
    }
    if (!sub || !strcmp(sub, "list"))
        return cmd_list(&o);
    if (!strcmp(sub, "export"))
        return cmd_export(&o);
    if (!strcmp(sub, "import")) {
        if (!o.file) {
            ctl_error("feeds import needs a FILE.opml");
            return usage();
        }
        return cmd_import(&o);
    }
    ctl_error("feeds: unknown subcommand '%s'", sub);
    return usage();
}

NM_CTL_COMMAND(NULL, "feeds", "[list|import FILE.opml [--merge]|export] [--state PATH] [--feeds DIR]",
               "the fetcher's feeds: health table, import an OPML list, export the list", cmd_feeds)
