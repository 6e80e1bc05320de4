/*
 * nm_url: RFC 3986 reference resolution and canonicalisation.
 *
 * A URL is split with the regular expression of RFC 3986 appendix B into
 * five parts that point into the original string (no copies), then parts
 * are reassembled into an nm_buf. Only the path is rewritten in place
 * (dot-segment removal), in a scratch copy.
 */
#include "common/nm_url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/nm_util.h"

/* A slice of a string. */
struct part {
    const char *p;
    size_t n;
    bool present;   /* "?" with an empty query is present, no "?" is not */
};

/* The five components of a URI reference. */
struct uri {
    struct part scheme, authority, path, query, fragment;
};

static bool scheme_ok(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* Splits s (n bytes) into u. */
static void split(const char *s, size_t n, struct uri *u)
{
    memset(u, 0, sizeof *u);
    const char *end = s + n, *p = s;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        size_t k = strcspn(s, "/?#");
        if ((size_t)(colon - s) < k && scheme_ok(s, (size_t)(colon - s))) {
            u->scheme = (struct part){ s, (size_t)(colon - s), true };
            p = colon + 1;
        }
    }
    if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
        const char *a = p + 2, *q = a;
        while (q < end && *q != '/' && *q != '?' && *q != '#')
            q++;
        u->authority = (struct part){ a, (size_t)(q - a), true };
        p = q;
    }
    const char *q = p;
    while (q < end && *q != '?' && *q != '#')
        q++;
    u->path = (struct part){ p, (size_t)(q - p), true };
    p = q;
    if (p < end && *p == '?') {
        q = ++p;
        while (q < end && *q != '#')
            q++;
        u->query = (struct part){ p, (size_t)(q - p), true };
        p = q;
    }
    if (p < end && *p == '#')
        u->fragment = (struct part){ p + 1, (size_t)(end - p - 1), true };
}

/* Appends path to out with "." and ".." segments removed (RFC 3986 5.2.4). */
static void add_clean_path(nm_buf *out, const char *path, size_t n)
{
    size_t start = out->len;
    const char *p = path, *end = path + n;
    while (p < end) {
        if (end - p >= 3 && memcmp(p, "../", 3) == 0) {
            p += 3;
        } else if (end - p >= 2 && memcmp(p, "./", 2) == 0) {
            p += 2;
        } else if (end - p >= 3 && memcmp(p, "/./", 3) == 0) {
            p += 2;
        } else if (end - p == 2 && memcmp(p, "/.", 2) == 0) {
            p += 1;
            nm_buf_addc(out, '/');
            p = end;
        } else if ((end - p >= 4 && memcmp(p, "/../", 4) == 0) || (end - p == 3 && memcmp(p, "/..", 3) == 0)) {
            bool last = end - p == 3;
            p += 3;
            while (out->len > start && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            if (last)
                nm_buf_addc(out, '/');
        } else if ((end - p == 1 && *p == '.') || (end - p == 2 && memcmp(p, "..", 2) == 0)) {
            p = end;
        } else {
            const char *q = p + (*p == '/');
            while (q < end && *q != '/')
                q++;
            nm_buf_add(out, p, (size_t)(q - p));
            p = q;
        }
    }
    nm_buf_cstr(out);
}

static void add_part(nm_buf *b, const char *prefix, const struct part *x, const char *suffix)
{
    if (!x->present)
        return;
    nm_buf_adds(b, prefix);
    nm_buf_add(b, x->p, x->n);
    nm_buf_adds(b, suffix);
}

bool nm_url_is_absolute(const char *s)
{
    if (!s)
        return false;
    struct uri u;
    split(s, strlen(s), &u);
    return u.scheme.present;
}

/* Trims white space around s; sets *n to the trimmed length and returns its start. */
static const char *trim(const char *s, size_t *n)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t k = strlen(s);
    while (k && isspace((unsigned char)s[k - 1]))
        k--;
    *n = k;
    return s;
}

/* Merges the reference r into the base b (RFC 3986 5.2.2) and writes the result. */
static void merge(nm_buf *out, const struct uri *b, const struct uri *r)
{
    const struct part *query = &r->query;
    add_part(out, "", &b->scheme, ":");
    if (r->authority.present) {
        add_part(out, "//", &r->authority, "");
        add_clean_path(out, r->path.p, r->path.n);
    } else {
        add_part(out, "//", &b->authority, "");
        if (r->path.n == 0) {
            nm_buf_add(out, b->path.p, b->path.n);
            if (!r->query.present)
                query = &b->query;
        } else if (r->path.p[0] == '/') {
            add_clean_path(out, r->path.p, r->path.n);
        } else {
            nm_buf merged;
            nm_buf_init(&merged);
            if (b->authority.present && b->path.n == 0) {
                nm_buf_addc(&merged, '/');
            } else {
                const char *slash = b->path.n ? memrchr(b->path.p, '/', b->path.n) : NULL;
                if (slash)
                    nm_buf_add(&merged, b->path.p, (size_t)(slash - b->path.p) + 1);
            }
            nm_buf_add(&merged, r->path.p, r->path.n);
            add_clean_path(out, merged.data, merged.len);
            nm_buf_free(&merged);
        }
    }
    add_part(out, "?", query, "");
    add_part(out, "#", &r->fragment, "");
}

char *nm_url_resolve(const char *base, const char *ref)
{
    if (!ref)
        return NULL;
    size_t rn;
    ref = trim(ref, &rn);
    nm_buf out;
    nm_buf_init(&out);
    struct uri r, b;
    split(ref, rn, &r);
    if (r.scheme.present) {
        /* "http:////host/x" -> "http://host/x", as feedparser and browsers do */
        const char *p = r.scheme.p + r.scheme.n + 1;
        add_part(&out, "", &r.scheme, ":");
        if (ref + rn - p > 2 && p[0] == '/' && p[1] == '/' && p[2] == '/') {
            nm_buf_adds(&out, "//");
            while (*p == '/')
                p++;
        }
        nm_buf_add(&out, p, (size_t)(ref + rn - p));
        return nm_buf_steal(&out);
    }
    size_t bn = 0;
    if (base)
        base = trim(base, &bn);
    if (!base || bn == 0) {
        nm_buf_add(&out, ref, rn);
        return nm_buf_steal(&out);
    }
    split(base, bn, &b);
    if (!b.scheme.present && !b.authority.present && b.path.n == 0) {
        nm_buf_add(&out, ref, rn);
        return nm_buf_steal(&out);
    }
    merge(&out, &b, &r);
    return nm_buf_steal(&out);
}

bool nm_url_is_tracking_param(const char *name, size_t n)
{
    static const char *const names[] = {
        "fbclid", "gclid", "gclsrc", "dclid", "yclid", "ysclid", "msclkid", "igshid", "twclid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking",
        "_ga", "_gl", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "wickedid",
        "rb_clickid", "s_cid", "mkt_tok", "_openstat", "cmpid", "ncid",
    };
    if (n > 4 && strncasecmp(name, "utm_", 4) == 0)
        return true;
    for (size_t i = 0; i < NM_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return true;
    return false;
}

/* Splits an authority into host and port (user info dropped). */
static void authority_host(const struct part *a, struct part *host, struct part *port)
{
    const char *p = a->p, *end = a->p + a->n;
    const char *at = memrchr(p, '@', a->n);
    if (at)
        p = at + 1;
    memset(port, 0, sizeof *port);
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        const char *hend = close ? close + 1 : end;
        *host = (struct part){ p, (size_t)(hend - p), true };
        if (hend < end && *hend == ':')
            *port = (struct part){ hend + 1, (size_t)(end - hend - 1), true };
        return;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    *host = (struct part){ p, (size_t)((colon ? colon : end) - p), true };
    if (colon)
        *port = (struct part){ colon + 1, (size_t)(end - colon - 1), true };
}

static bool default_port(const struct part *scheme, const struct part *port)
{
    static const struct { const char *scheme, *port; } defaults[] = {
        { "http", "80" }, { "https", "443" }, { "ftp", "21" }, { "ws", "80" }, { "wss", "443" },
    };
    if (port->n == 0)
        return true; /* "host:" with an empty port */
    for (size_t i = 0; i < NM_ARRAY_LEN(defaults); i++)
        if (strlen(defaults[i].scheme) == scheme->n && strncasecmp(defaults[i].scheme, scheme->p, scheme->n) == 0 &&
            strlen(defaults[i].port) == port->n && memcmp(defaults[i].port, port->p, port->n) == 0)
            return true;
    return false;
}

static void add_lower(nm_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nm_buf_addc(b, (char)tolower((unsigned char)p[i]));
}

/* Appends the query q without tracking parameters ("?" only when some remain). */
static void add_clean_query(nm_buf *b, const struct part *q)
{
    if (!q->present)
        return;
    bool first = true;
    const char *p = q->p, *end = q->p + q->n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        size_t name_len = (size_t)((eq ? eq : e) - p);
        if (e > p && !nm_url_is_tracking_param(p, name_len)) {
            nm_buf_addc(b, first ? '?' : '&');
            nm_buf_add(b, p, (size_t)(e - p));
            first = false;
        }
        p = amp ? amp + 1 : end;
    }
}

char *nm_url_canonical(const char *url)
{
    if (!url)
        return NULL;
    size_t n;
    url = trim(url, &n);
    struct uri u;
    split(url, n, &u);
    if (!u.scheme.present)
        return NULL;
    nm_buf b;
    nm_buf_init(&b);
    add_lower(&b, u.scheme.p, u.scheme.n);
    nm_buf_addc(&b, ':');
    if (u.authority.present) {
        struct part host, port;
        authority_host(&u.authority, &host, &port);
        const char *at = memrchr(u.authority.p, '@', u.authority.n);
        nm_buf_adds(&b, "//");
        if (at)
            nm_buf_add(&b, u.authority.p, (size_t)(at - u.authority.p) + 1);
        add_lower(&b, host.p, host.n);
        if (host.n && host.p[host.n - 1] == '.')
            b.len--; /* "example.com." names the same host */
        if (port.present && !default_port(&u.scheme, &port)) {
            nm_buf_addc(&b, ':');
            nm_buf_add(&b, port.p, port.n);
        }
        if (u.path.n == 0)
            nm_buf_addc(&b, '/');
    }
    add_clean_path(&b, u.path.p, u.path.n);
    add_clean_query(&b, &u.query);
    return nm_buf_steal(&b);
}

char *nm_url_host(const char *url)
{
    if (!url)
        return NULL;
    size_t n;
    url = trim(url, &n);
    struct uri u;
    split(url, n, &u);
    if (!u.authority.present)
        return NULL;
    struct part host, port;
    authority_host(&u.authority, &host, &port);
    if (host.n >= 2 && host.p[0] == '[') {
        host.p++;
        host.n -= 2;
    }
    if (host.n && host.p[host.n - 1] == '.')
        host.n--;
    if (host.n == 0)
        return NULL;
    nm_buf b;
    nm_buf_init(&b);
    add_lower(&b, host.p, host.n);
    return nm_buf_steal(&b);
}
