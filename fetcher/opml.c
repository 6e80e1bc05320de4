/*
 * opml: reading and writing OPML feed lists with libxml2.
 *
 * libxml2 reports syntax errors through a structured error callback; we
 * collect them as "file:line: message" next to our own checks (missing or
 * relative xmlUrl, a scheme we do not fetch, a bad newsmon:interval), so
 * the operator sees every problem at once. The parser runs without network
 * access and without entity substitution (no external entities).
 */
#include "fetcher/opml.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct parse_ctx {
    const char *name;
    bool allow_file;
    struct opml_list *out;
    nm_conf_errors *errs;
    size_t n_errs;
};

void opml_list_clear(struct opml_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct opml_feed *f = &l->v[i];
        free(f->url);
        free(f->title);
        free(f->html_url);
        free(f->category);
        free(f->file);
    }
    nm_free(&l->v);
    l->n = 0;
}

static void problem(struct parse_ctx *c, int line, const char *fmt, const char *arg)
{
    char *msg = nm_xasprintf(fmt, arg ? arg : "");
    nm_conf_errors_add(c->errs, "%s:%d: %s", c->name, line, msg);
    free(msg);
    c->n_errs++;
}

static void on_xml_error(void *arg, xmlErrorPtr e)
{
    struct parse_ctx *c = arg;
    if (e->level == XML_ERR_WARNING || e->domain == XML_FROM_NAMESPACE)
        return;   /* an undeclared newsmon: prefix is accepted */
    char *msg = nm_xstrdup(e->message ? e->message : "malformed XML");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    problem(c, e->line, "%s", msg);
    free(msg);
}

/* Returns the value of attribute name of n (case-insensitive; "newsmon:x"
   matches a declared or undeclared prefix), or NULL. Caller frees. */
static char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        char *full = a->ns && a->ns->prefix ? nm_xasprintf("%s:%s", a->ns->prefix, a->name)
                                            : nm_xstrdup((const char *)a->name);
        int match = !strcasecmp(full, name);
        free(full);
        if (match) {
            xmlChar *v = xmlNodeGetContent((const xmlNode *)a);
            char *r = nm_xstrdup((const char *)v);
            xmlFree(v);
            return r;
        }
    }
    return NULL;
}

/* Returns s with surrounding white space removed, in place. */
static char *trim(char *s)
{
    if (!s)
        return NULL;
    char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    memmove(s, p, strlen(p) + 1);
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int check_url(struct parse_ctx *c, int line, const char *url)
{
    if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
        if (!url[url[4] == ':' ? 7 : 8] || strchr(url, ' ')) {
            problem(c, line, "xmlUrl '%s' is not a valid address", url);
            return -1;
        }
        return 0;
    }
    if (!strncasecmp(url, "file://", 7)) {
        if (c->allow_file)
            return 0;
        problem(c, line, "xmlUrl '%s': file: addresses need allow_file_urls = yes in [fetcher]", url);
        return -1;
    }
    problem(c, line, "xmlUrl '%s' is not an absolute http:// or https:// address", url);
    return -1;
}

static void add_feed(struct parse_ctx *c, const xmlNode *n, char *url, const char *category)
{
    int line = (int)xmlGetLineNo(n);
    struct opml_feed f = { 0 };
    f.url = trim(url);
    f.interval_ms = 0;
    f.fetch_page = -1;
    int bad = check_url(c, line, f.url);
    char *iv = trim(attr(n, "newsmon:interval"));
    if (iv && (nm_conf_parse_duration(iv, &f.interval_ms) < 0 || f.interval_ms < 1000)) {
        problem(c, line, "newsmon:interval '%s' is not a duration of at least 1s (e.g. 90s, 15m, 2h)", iv);
        bad = -1;
    }
    free(iv);
    char *fp = trim(attr(n, "newsmon:fetchPage"));
    if (fp && nm_conf_parse_bool(fp, &f.fetch_page) < 0) {
        problem(c, line, "newsmon:fetchPage '%s' is not yes or no", fp);
        bad = -1;
    }
    free(fp);
    if (bad) {
        free(f.url);
        return;
    }
    f.title = trim(attr(n, "title"));
    if (!f.title || !*f.title) {
        free(f.title);
        f.title = trim(attr(n, "text"));
    }
    if (f.title && !*f.title)
        nm_free(&f.title);
    f.html_url = trim(attr(n, "htmlUrl"));
    f.category = category && *category ? nm_xstrdup(category) : NULL;
    f.file = nm_xstrdup(c->name);
    f.line = line;
    c->out->v = nm_xrealloc(c->out->v, (c->out->n + 1) * sizeof *c->out->v);
    c->out->v[c->out->n++] = f;
}

static void walk(struct parse_ctx *c, const xmlNode *parent, const char *category)
{
    for (const xmlNode *n = parent->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, "outline")) {
            problem(c, (int)xmlGetLineNo(n), "unexpected <%s> in <body> (only <outline> belongs there)",
                    (const char *)n->name);
            continue;
        }
        char *url = attr(n, "xmlUrl");
        if (url && *trim(url)) {
            add_feed(c, n, url, category);
            continue;
        }
        free(url);
        char *text = trim(attr(n, "text"));
        if (!text || !*text) {
            free(text);
            text = trim(attr(n, "title"));
        }
        if (!n->children) {
            char *what = text && *text ? nm_xasprintf(" '%s'", text) : NULL;
            problem(c, (int)xmlGetLineNo(n), "outline%s has no xmlUrl (and no outlines inside)", what);
            free(what);
            free(text);
            continue;
        }
        char *sub = category && *category ? nm_xasprintf("%s/%s", category, text ? text : "")
                                          : nm_xstrdup(text ? text : "");
        walk(c, n, sub);
        free(sub);
        free(text);
    }
}

size_t opml_parse(const char *name, const char *buf, size_t len, bool allow_file, struct opml_list *out,
                  nm_conf_errors *errs)
{
    struct parse_ctx c = { name, allow_file, out, errs, 0 };
    if (len > INT32_MAX) {
        problem(&c, 0, "file too large%s", NULL);
        return c.n_errs;
    }
    xmlSetStructuredErrorFunc(&c, on_xml_error);
    xmlDoc *doc = xmlReadMemory(buf, (int)len, name, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!doc) {
        if (!c.n_errs)
            problem(&c, 1, "not an XML document%s", NULL);
        return c.n_errs;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "opml")) {
        problem(&c, root ? (int)xmlGetLineNo(root) : 1, "the root element is <%s>, not <opml>",
                root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
        return c.n_errs;
    }
    const xmlNode *body = NULL;
    for (const xmlNode *n = root->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, "body"))
            body = n;
    if (!body)
        problem(&c, (int)xmlGetLineNo(root), "<opml> has no <body>%s", NULL);
    else
        walk(&c, body, NULL);
    xmlFreeDoc(doc);
    return c.n_errs;
}

size_t opml_load_file(const char *path, bool allow_file, struct opml_list *out, nm_conf_errors *errs)
{
    char *buf = NULL;
    size_t len = 0;
    nm_err err;
    if (nm_read_file(path, OPML_MAX_FILE, &buf, &len, &err) < 0) {
        nm_conf_errors_add(errs, "%s: %s", path, err.msg);
        return 1;
    }
    size_t n = opml_parse(path, buf, len, allow_file, out, errs);
    free(buf);
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t opml_load_dir(const char *dir, bool allow_file, struct opml_list *out, nm_conf_errors *errs)
{
    DIR *d = opendir(dir);
    if (!d) {
        nm_conf_errors_add(errs, "%s: cannot open the feeds folder: %m", dir);
        return 1;
    }
    char **names = NULL;
    size_t n_names = 0, problems = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".opml"))
            continue;
        names = nm_xrealloc(names, (n_names + 1) * sizeof *names);
        names[n_names++] = nm_xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n_names) /* qsort on NULL is undefined even for 0 elements */
        qsort(names, n_names, sizeof *names, by_name);
    for (size_t i = 0; i < n_names; i++) {
        size_t first = out->n;
        problems += opml_load_file(names[i], allow_file, out, errs);
        for (size_t j = first; j < out->n; j++) {
            long k = opml_find(out, out->v[j].url);
            if (k >= 0 && (size_t)k < j) {
                nm_conf_errors_add(errs, "%s:%d: feed %s is already listed at %s:%d", out->v[j].file,
                                   out->v[j].line, out->v[j].url, out->v[k].file, out->v[k].line);
                problems++;
            }
        }
        free(names[i]);
    }
    free(names);
    return problems;
}

long opml_find(const struct opml_list *l, const char *url)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].url, url))
            return (long)i;
    return -1;
}

/* Appends s with XML's five special characters escaped (attribute-safe). */
static void add_escaped(nm_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': nm_buf_adds(b, "&amp;"); break;
        case '<': nm_buf_adds(b, "&lt;"); break;
        case '>': nm_buf_adds(b, "&gt;"); break;
        case '"': nm_buf_adds(b, "&quot;"); break;
        case '\'': nm_buf_adds(b, "&apos;"); break;
        case '\n': nm_buf_adds(b, "&#10;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                nm_buf_addc(b, *s);
        }
    }
}

static void write_feed(nm_buf *b, const struct opml_feed *f, const char *indent)
{
    nm_buf_addf(b, "%s<outline type=\"rss\" text=\"", indent);
    add_escaped(b, f->title ? f->title : f->url);
    nm_buf_adds(b, "\" xmlUrl=\"");
    add_escaped(b, f->url);
    nm_buf_adds(b, "\"");
    if (f->html_url) {
        nm_buf_adds(b, " htmlUrl=\"");
        add_escaped(b, f->html_url);
        nm_buf_adds(b, "\"");
    }
    if (f->interval_ms > 0)
        nm_buf_addf(b, " newsmon:interval=\"%llds\"", (long long)((f->interval_ms + 999) / 1000));
    if (f->fetch_page >= 0)
        nm_buf_addf(b, " newsmon:fetchPage=\"%s\"", f->fetch_page ? "yes" : "no");
    nm_buf_adds(b, "/>\n");
}

static bool same_cat(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

void opml_write(nm_buf *b, const struct opml_list *l, const char *title)
{
    nm_buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<opml version=\"2.0\" xmlns:newsmon=\"" OPML_NS "\">\n  <head>\n    <title>");
    add_escaped(b, title);
    nm_buf_adds(b, "</title>\n  </head>\n  <body>\n");
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i].category)
            write_feed(b, &l->v[i], "    ");
    for (size_t i = 0; i < l->n; i++) {
        const char *cat = l->v[i].category;
        bool first = cat != NULL;
        for (size_t j = 0; j < i && first; j++)
            if (same_cat(l->v[j].category, cat))
                first = false;
        if (!first)
            continue;
        nm_buf_adds(b, "    <outline text=\"");
        add_escaped(b, cat);
        nm_buf_adds(b, "\">\n");
        for (size_t j = i; j < l->n; j++)
            if (same_cat(l->v[j].category, cat))
                write_feed(b, &l->v[j], "      ");
        nm_buf_adds(b, "    </outline>\n");
    }
    nm_buf_adds(b, "  </body>\n</opml>\n");
}
