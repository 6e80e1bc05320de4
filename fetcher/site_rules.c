/*
 * site_rules: reading per-site rule files and compiling their CSS
 * selectors to XPath (see site_rules.h for the format). The compiler is a
 * small recursive-descent-free scanner over one selector list: compound
 * selectors become XPath steps with predicates, combinators become "//"
 * or "/", and a list becomes a union. Every compiled expression is also
 * checked by libxml2's XPath compiler when the file is loaded, so a rule
 * that loads is a rule that runs.
 */
#include "fetcher/site_rules.h"

#include <ctype.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REPORTED_ERRORS 20

struct site_rules {
    struct site_rule *v;
    size_t n, cap;
};

/* ---------------------------------------------------------------- CSS to XPath */

struct css {
    const char *s;   /* the selector text */
    size_t i;        /* position */
    nm_buf out;
    nm_err *err;
};

static bool ident_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c >= 0x80;
}

/* Reads an identifier into b (lower-cased when fold). Returns false when there is none. */
static bool read_ident(struct css *c, nm_buf *b, bool fold)
{
    size_t st = c->i;
    while (ident_char((unsigned char)c->s[c->i]))
        c->i++;
    if (c->i == st)
        return false;
    nm_buf_reset(b);
    for (size_t k = st; k < c->i; k++)
        nm_buf_addc(b, fold ? (char)tolower((unsigned char)c->s[k]) : c->s[k]);
    nm_buf_cstr(b);
    return true;
}

/* Appends v as an XPath 1.0 string literal. */
static void add_literal(nm_buf *out, const char *v)
{
    if (!strchr(v, '\'')) {
        nm_buf_addf(out, "'%s'", v);
    } else if (!strchr(v, '"')) {
        nm_buf_addf(out, "\"%s\"", v);
    } else {
        nm_buf_adds(out, "concat(");
        for (const char *p = v; *p;) {
            size_t n = strcspn(p, "'");
            if (n)
                nm_buf_addf(out, "'%.*s',", (int)n, p);
            p += n;
            if (*p == '\'') {
                nm_buf_adds(out, "\"'\",");
                p++;
            }
        }
        nm_buf_adds(out, "'')");
    }
}

static void skip_ws(struct css *c)
{
    while (c->s[c->i] == ' ' || c->s[c->i] == '\t')
        c->i++;
}

static int fail(struct css *c, const char *what)
{
    return nm_err_set(c->err, "column %zu: %s", c->i + 1, what);
}

/* Parses [attr], [attr=v], [attr~=v], [attr^=v], [attr$=v], [attr*=v]. */
static int attribute(struct css *c, nm_buf *name, nm_buf *val)
{
    c->i++;
    skip_ws(c);
    if (!read_ident(c, name, true))
        return fail(c, "expected an attribute name after '['");
    skip_ws(c);
    const char *a = nm_buf_cstr(name);
    char op = 0;
    if (c->s[c->i] == ']') {
        c->i++;
        nm_buf_addf(&c->out, "[@%s]", a);
        return 0;
    }
    if (strchr("~^$*", c->s[c->i]) && c->s[c->i] && c->s[c->i + 1] == '=') {
        op = c->s[c->i];
        c->i += 2;
    } else if (c->s[c->i] == '=') {
        op = '=';
        c->i++;
    } else {
        return fail(c, "expected ']', '=', '~=', '^=', '$=' or '*=' in an attribute selector");
    }
    skip_ws(c);
    char q = c->s[c->i];
    nm_buf_reset(val);
    if (q == '"' || q == '\'') {
        size_t st = ++c->i;
        while (c->s[c->i] && c->s[c->i] != q)
            c->i++;
        if (!c->s[c->i])
            return fail(c, "unterminated string in an attribute selector");
        nm_buf_add(val, c->s + st, c->i - st);
        c->i++;
    } else if (!read_ident(c, val, false)) {
        return fail(c, "expected a value (a name or a quoted string) in an attribute selector");
    }
    const char *v = nm_buf_cstr(val);
    skip_ws(c);
    if (c->s[c->i] != ']')
        return fail(c, "expected ']' to close an attribute selector");
    c->i++;
    switch (op) {
    case '=':
        nm_buf_addf(&c->out, "[@%s=", a);
        add_literal(&c->out, v);
        break;
    case '~':
        nm_buf_addf(&c->out, "[contains(concat(' ',normalize-space(@%s),' '),", a);
        nm_buf_adds(&c->out, "concat(' ',");
        add_literal(&c->out, v);
        nm_buf_adds(&c->out, ",' '))");
        break;
    case '^':
        nm_buf_addf(&c->out, "[starts-with(@%s,", a);
        add_literal(&c->out, v);
        nm_buf_addc(&c->out, ')');
        break;
    case '*':
        nm_buf_addf(&c->out, "[contains(@%s,", a);
        add_literal(&c->out, v);
        nm_buf_addc(&c->out, ')');
        break;
    case '$':
        nm_buf_addf(&c->out, "[substring(@%s,string-length(@%s)-string-length(", a, a);
        add_literal(&c->out, v);
        nm_buf_adds(&c->out, ")+1)=");
        add_literal(&c->out, v);
        break;
    }
    nm_buf_addc(&c->out, ']');
    return 0;
}

/* Parses one compound selector (tag, *, .class, #id, [attr...]) into an XPath step. */
static int compound(struct css *c)
{
    nm_buf a, b;
    nm_buf_init(&a);
    nm_buf_init(&b);
    int rc = 0;
    bool any = false;
    if (c->s[c->i] == '*') {
        c->i++;
        nm_buf_addc(&c->out, '*');
        any = true;
    } else if (read_ident(c, &a, true)) {
        nm_buf_adds(&c->out, nm_buf_cstr(&a));
        any = true;
    } else {
        nm_buf_addc(&c->out, '*');
    }
    for (;;) {
        char ch = c->s[c->i];
        if (ch == '.' || ch == '#') {
            c->i++;
            if (!read_ident(c, &a, false)) {
                rc = fail(c, ch == '.' ? "expected a class name after '.'" : "expected an id after '#'");
                break;
            }
            if (ch == '.') {
                nm_buf_adds(&c->out, "[contains(concat(' ',normalize-space(@class),' '),");
                nm_buf_adds(&c->out, "concat(' ',");
                add_literal(&c->out, nm_buf_cstr(&a));
                nm_buf_adds(&c->out, ",' '))]");
            } else {
                nm_buf_adds(&c->out, "[@id=");
                add_literal(&c->out, nm_buf_cstr(&a));
                nm_buf_addc(&c->out, ']');
            }
            any = true;
        } else if (ch == '[') {
            if ((rc = attribute(c, &a, &b)) < 0)
                break;
            any = true;
        } else if (ch == ':') {
            rc = fail(c, "pseudo-classes (':') are not supported");
            break;
        } else {
            break;
        }
    }
    if (rc == 0 && !any)
        rc = fail(c, c->s[c->i] ? "expected a selector (tag, *, .class, #id or [attr])" : "expected a selector");
    nm_buf_free(&a);
    nm_buf_free(&b);
    return rc;
}

char *site_css_to_xpath(const char *css, nm_err *err)
{
    struct css c = { css, 0, { 0 }, err };
    nm_buf_init(&c.out);
    skip_ws(&c);
    for (;;) {
        nm_buf_adds(&c.out, "//");
        for (;;) {
            if (compound(&c) < 0)
                goto fail;
            size_t before = c.i;
            skip_ws(&c);
            char ch = c.s[c.i];
            if (ch == 0 || ch == ',')
                break;
            if (ch == '>') {
                c.i++;
                skip_ws(&c);
                nm_buf_addc(&c.out, '/');
            } else if (c.i > before) {
                nm_buf_adds(&c.out, "//");
            } else {
                fail(&c, ch == '+' || ch == '~' ? "sibling combinators ('+', '~') are not supported"
                                                : "unexpected character in a selector");
                goto fail;
            }
        }
        if (c.s[c.i] == 0)
            break;
        c.i++; /* ',' */
        skip_ws(&c);
        if (!c.s[c.i]) {
            fail(&c, "expected a selector after ','");
            goto fail;
        }
        nm_buf_adds(&c.out, " | ");
    }
    return nm_buf_steal(&c.out);
fail:
    nm_buf_free(&c.out);
    return NULL;
}

/* ---------------------------------------------------------------- files */

static bool valid_host(const char *h)
{
    if (!*h || *h == '.' || *h == '-')
        return false;
    for (const char *p = h; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || (unsigned char)*p >= 0x80))
            return false;
    return h[strlen(h) - 1] != '.';
}

static struct site_rule *rule_for(struct site_rules *r, const char *host, int line)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].host, host) == 0)
            return &r->v[i];
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = nm_xrealloc(r->v, r->cap * sizeof *r->v);
    }
    struct site_rule *s = &r->v[r->n++];
    memset(s, 0, sizeof *s);
    s->host = nm_xstrdup(host);
    s->line = line;
    return s;
}

static void add_union(char **slot, const char *xp)
{
    if (!*slot) {
        *slot = nm_xstrdup(xp);
        return;
    }
    char *n = nm_xasprintf("%s | %s", *slot, xp);
    free(*slot);
    *slot = n;
}

/* Adds an error line to the report (up to MAX_REPORTED_ERRORS). */
static void report(nm_buf *errs, int *n_errs, const char *name, int line, const char *msg)
{
    if (++*n_errs <= MAX_REPORTED_ERRORS)
        nm_buf_addf(errs, "%s%s:%d: %s", errs->len ? "\n" : "", name, line, msg);
}

/* Parses one line (NUL-terminated, comment already cut). */
static void parse_line(struct site_rules *r, char *s, const char *name, int line, nm_buf *errs, int *n_errs)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    if (!n)
        return;
    char *host = s;
    s += strcspn(s, " \t");
    if (!*s) {
        report(errs, n_errs, name, line, "expected a host and a selector list");
        return;
    }
    *s++ = 0;
    while (isspace((unsigned char)*s))
        s++;
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strncmp(host, "*.", 2) == 0)
        host += 2;
    if (!valid_host(host)) {
        char *m = nm_xasprintf("'%s' is not a host name", host);
        report(errs, n_errs, name, line, m);
        free(m);
        return;
    }
    bool remove = false;
    size_t wl = strcspn(s, " \t");
    if ((wl == 6 && strncmp(s, "remove", 6) == 0) || (wl == 7 && strncmp(s, "content", 7) == 0)) {
        remove = wl == 6;
        s += wl;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s) {
            report(errs, n_errs, name, line, remove ? "'remove' needs a selector list" : "'content' needs a selector list");
            return;
        }
    }
    nm_err e;
    char *xp = site_css_to_xpath(s, &e);
    if (!xp) {
        report(errs, n_errs, name, line, e.msg);
        return;
    }
    xmlXPathCompExprPtr comp = xmlXPathCompile((const xmlChar *)xp);
    if (!comp) {
        char *m = nm_xasprintf("selector '%s' does not compile to valid XPath", s);
        report(errs, n_errs, name, line, m);
        free(m);
        free(xp);
        return;
    }
    xmlXPathFreeCompExpr(comp);
    struct site_rule *rule = rule_for(r, host, line);
    add_union(remove ? &rule->remove_xpath : &rule->content_xpath, xp);
    free(xp);
}

struct site_rules *site_rules_parse(const char *text, size_t len, const char *name, nm_err *err)
{
    struct site_rules *r = nm_xcalloc(1, sizeof *r);
    nm_buf errs;
    nm_buf_init(&errs);
    int n_errs = 0, line = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        line++;
        char *l = nm_xstrndup(text + i, e - i);
        if (strlen(l) != e - i) {
            report(&errs, &n_errs, name, line, "NUL byte in the line");
        } else {
            /* '#' opens a comment at the start of a line, or as " # ..." after a
               rule; anywhere else it is an id selector. */
            char *first = l;
            while (isspace((unsigned char)*first))
                first++;
            if (*first == '#')
                *first = 0;
            for (char *h = strchr(first, '#'); h; h = strchr(h + 1, '#'))
                if (h > first && isspace((unsigned char)h[-1]) && (!h[1] || isspace((unsigned char)h[1]))) {
                    *h = 0;
                    break;
                }
            parse_line(r, l, name, line, &errs, &n_errs);
        }
        free(l);
        i = e + 1;
    }
    if (n_errs) {
        if (n_errs > MAX_REPORTED_ERRORS)
            nm_buf_addf(&errs, "\n%s: %d more errors", name, n_errs - MAX_REPORTED_ERRORS);
        nm_err_set(err, "%s", nm_buf_cstr(&errs));
        nm_buf_free(&errs);
        site_rules_destroy(&r);
        return NULL;
    }
    nm_buf_free(&errs);
    return r;
}

struct site_rules *site_rules_load(const char *path, nm_err *err)
{
    char *text;
    size_t len;
    if (nm_read_file(path, SITE_RULES_MAX_BYTES, &text, &len, err) < 0)
        return NULL;
    struct site_rules *r = site_rules_parse(text, len, path, err);
    free(text);
    return r;
}

void site_rules_destroy(struct site_rules **rules)
{
    struct site_rules *r = *rules;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].host);
        free(r->v[i].content_xpath);
        free(r->v[i].remove_xpath);
    }
    free(r->v);
    nm_free(rules);
}

size_t site_rules_count(const struct site_rules *rules)
{
    return rules ? rules->n : 0;
}

/* Copies the host of url (lower case, no port, no userinfo) into b. */
static void url_host(const char *url, nm_buf *b)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hl = n;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        hl = close ? (size_t)(close + 1 - p) : n;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon)
            hl = (size_t)(colon - p);
    }
    nm_buf_reset(b);
    for (size_t i = 0; i < hl; i++)
        nm_buf_addc(b, (char)tolower((unsigned char)p[i]));
    while (b->len && b->data[b->len - 1] == '.')
        b->data[--b->len] = 0;
}

const struct site_rule *site_rules_find(const struct site_rules *rules, const char *url)
{
    if (!rules || !url)
        return NULL;
    nm_buf b;
    nm_buf_init(&b);
    url_host(url, &b);
    const char *host = nm_buf_cstr(&b);
    const struct site_rule *best = NULL;
    size_t hl = strlen(host);
    for (size_t i = 0; i < rules->n; i++) {
        const struct site_rule *r = &rules->v[i];
        size_t rl = strlen(r->host);
        bool m = hl == rl ? strcmp(host, r->host) == 0
                          : hl > rl && host[hl - rl - 1] == '.' && strcmp(host + hl - rl, r->host) == 0;
        if (m && (!best || rl > strlen(best->host)))
            best = r;
    }
    nm_buf_free(&b);
    return best;
}
