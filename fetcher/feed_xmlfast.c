/*
 * feed_xmlfast: the common case of feed parsing, without libxml2's parser.
 *
 * Measured (docs/fetcher.md): on a 12 MB feed of Cyrillic and Latin text,
 * libxml2's parser spent two thirds of `parse-feed`'s instructions
 * decoding UTF-8 one character at a time (xmlCurrentChar,
 * xmlParseCharData), work the charset stage has already done: by the time
 * a document reaches feed_xml.c it is valid UTF-8 with no character XML
 * forbids. This reader scans for the few bytes that matter ('<', '&', CR,
 * ']') sixteen at a time and builds the tree with libxml2's own tree
 * functions, so everything downstream (feed_xml.c's walker, xmlFreeDoc)
 * is unchanged.
 *
 * It is not a second XML parser to trust: it covers only documents it can
 * read exactly as libxml2 does (same nodes, names, namespaces, attribute
 * values, text, line numbers of elements) and declines the rest: a
 * DOCTYPE, a name outside ASCII, an unknown entity, an undeclared prefix,
 * duplicate attributes, mismatched or unclosed tags, "]]>" in text,
 * anything after the root element but comments and processing
 * instructions, and any size near one of libxml2's own limits (nesting,
 * text node, name and attribute lengths). A declined document is parsed
 * by libxml2 in recovery mode exactly as before, so ill-formed and hostile
 * input never depends on this file. tests/unit/test_feed_parse.c checks
 * that both give byte-identical `parse-feed` output on every feed in
 * tests/data and in feedparser's test suite.
 *
 * What libxml2 does that is copied here: line ends normalised (CR LF and
 * a lone CR read as LF) in text, CDATA and comments; CDATA merged into
 * the text around it (XML_PARSE_NOCDATA); predefined, numeric and HTML
 * named entity references replaced (XML_PARSE_NOENT with feed_xml.c's
 * get_entity); attribute values normalised (literal tab, LF and CR to a
 * space); white-space text kept; an element's line is the line its start
 * tag ends on, capped at 65535. Processing instructions make no node (the
 * walker never reads them).
 */
#include "fetcher/feed_xmlfast.h"

#include <libxml/HTMLparser.h>
#include <libxml/dict.h>
#include <libxml/uri.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/nm_util.h"
#include "fetcher/html_text.h"

enum {
    MAX_DEPTH = 128,              /* libxml2 stops at 256 */
    MAX_NAME = 1000,              /* libxml2: 50,000 */
    MAX_ATTRS = 64,
    MAX_ATTR_VALUE = 1000000,     /* libxml2: 10,000,000 */
    MAX_TEXT = 5000000,           /* libxml2: 10,000,000 per text node */
};

/* An attribute of the start tag being read: name in the input, value in rd->val. */
struct attr {
    const char *name;
    size_t len;                   /* of the whole qualified name */
    size_t colon;                 /* offset of ':' in name, 0 when none */
    size_t voff;                  /* value's offset in rd->val (NUL-terminated there) */
};

/* An element not yet closed. */
struct open {
    const char *qname;            /* its name as written, for the end tag */
    size_t len;
    xmlNode *node;
    const char *inner;            /* where its content starts */
};

/* The state of one read. */
struct rd {
    const char *p, *end;
    xmlDocPtr doc;
    xmlNode *root;
    nm_buf text;                  /* the text run being gathered, decoded */
    nm_buf val;                   /* attribute values of the tag being read */
    const char *line_pos;         /* lines are counted up to here */
    unsigned line;                /* the line line_pos is on */
    struct open stack[MAX_DEPTH];
    int depth;
    struct attr attrs[MAX_ATTRS];
    int n_attrs;
    const char *why;              /* set when declining */
    const char *last_pi;          /* the last processing instruction read, or NULL */
    xmlfast_close_fn on_close;
    void *arg;
};

static bool decline(struct rd *r, const char *why)
{
    if (!r->why)
        r->why = why;
    return false;
}

/* decline() for the readers that return where they stopped. */
static const char *stop(struct rd *r, const char *why)
{
    decline(r, why);
    return NULL;
}

/* Allocation fails as in common/nm_util.c: loudly. */
static void *need(void *p)
{
    if (!p) {
        fputs("newsmon: out of memory\n", stderr);
        abort();
    }
    return p;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static bool name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_more(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Reads an ASCII qualified name at p; returns its end, or NULL (and
   declines) when there is none or it is more than the reader covers.
   *colon is the offset of the prefix's ':' or 0. */
static const char *qname(struct rd *r, const char *p, size_t *colon)
{
    const char *s = p;
    *colon = 0;
    if (p >= r->end || !name_start((unsigned char)*p))
        return stop(r, "a name that is not plain ASCII");
    for (;;) {
        while (p < r->end && name_more((unsigned char)*p))
            p++;
        if (p < r->end && *p == ':' && !*colon && p + 1 < r->end && name_start((unsigned char)p[1])) {
            *colon = (size_t)(p - s);
            p++;
            continue;
        }
        break;
    }
    if (p >= r->end || (unsigned char)*p >= 0x80 || *p == ':')
        return stop(r, "a name that is not plain ASCII");
    if (p - s > MAX_NAME)
        return stop(r, "a very long name");
    return p;
}

/* The line p is on (p at or after line_pos), counting LFs only, as
   libxml2 does for node lines (a lone CR, old Mac style, starts no new
   line there: tested). */
static unsigned line_at(struct rd *r, const char *p)
{
    const char *q = r->line_pos;
    while (q < p && (q = memchr(q, '\n', (size_t)(p - q))) != NULL) {
        r->line++;
        q++;
    }
    r->line_pos = p;
    return r->line;
}

/* Returns the first of '<', '&', '\r', ']' in [p, end), or end. */
static const char *find_special(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i lt = _mm_set1_epi8('<'), amp = _mm_set1_epi8('&'), cr = _mm_set1_epi8('\r'),
                  rb = _mm_set1_epi8(']');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, amp)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, rb)));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p != '<' && *p != '&' && *p != '\r' && *p != ']')
        p++;
    return p;
}

static bool xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Decodes the reference at p ('&', before end) into out; returns the end
   of it, or NULL with *why set (declined). HTML's named entities only
   where libxml2 would be asked for them (in text, not in attribute
   values). */
static const char *reference(const char *p, const char *end, nm_buf *out, bool in_attr, const char **why)
{
    const char *q = p + 1;
    if (q < end && *q == '#') {
        bool hex = ++q < end && *q == 'x';
        q += hex;
        unsigned long cp = 0;
        const char *d = q;
        for (; q < end && q - d < 8; q++) {
            int v = *q >= '0' && *q <= '9' ? *q - '0'
                    : hex && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f') ? (*q | 0x20) - 'a' + 10 : -1;
            if (v < 0)
                break;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        }
        if (q == d || q >= end || *q != ';' || !xml_char(cp)) {
            *why = "a character reference libxml2 is left to judge";
            return NULL;
        }
        utf8_append(out, (unsigned)cp);
        return q + 1;
    }
    /* The references feeds are full of, before the general case. */
    if (end - q >= 3 && q[2] == ';' && q[1] == 't' && (q[0] == 'l' || q[0] == 'g')) {
        nm_buf_addc(out, q[0] == 'l' ? '<' : '>');
        return q + 3;
    }
    if (end - q >= 4 && q[0] == 'a' && q[1] == 'm' && q[2] == 'p' && q[3] == ';') {
        nm_buf_addc(out, '&');
        return q + 4;
    }
    char name[33];
    size_t n = 0;
    while (q < end && n < sizeof name - 1 && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                                              (n && *q >= '0' && *q <= '9')))
        name[n++] = *q++;
    name[n] = '\0';
    if (!n || q >= end || *q != ';') {
        *why = "an entity reference libxml2 is left to judge";
        return NULL;
    }
    static const struct { const char *name; char c; } predefined[] = {
        { "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' }, { "apos", '\'' },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(predefined); i++)
        if (!strcmp(name, predefined[i].name)) {
            nm_buf_addc(out, predefined[i].c);
            return q + 1;
        }
    const htmlEntityDesc *h = in_attr ? NULL : htmlEntityLookup((const xmlChar *)name);
    if (!h) {
        *why = "an entity that is not predefined";
        return NULL;
    }
    utf8_append(out, h->value);
    return q + 1;
}

/* reference() for the reader: a reference it does not decode declines the document. */
static const char *ref(struct rd *r, const char *p, nm_buf *out, bool in_attr)
{
    const char *why = NULL;
    const char *q = reference(p, r->end, out, in_attr, &why);
    return q ? q : stop(r, why);
}

/* Appends [p, end) to out with CR LF and lone CR read as LF. */
static void add_lines(nm_buf *out, const char *p, const char *end)
{
    const char *cr;
    while ((cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        nm_buf_add(out, p, (size_t)(cr - p));
        nm_buf_addc(out, '\n');
        p = cr + 1 + (cr + 1 < end && cr[1] == '\n');
    }
    nm_buf_add(out, p, (size_t)(end - p));
}

static void link_child(xmlNode *parent, xmlNode *n)
{
    n->parent = parent;
    if (parent->last) {
        parent->last->next = n;
        n->prev = parent->last;
    } else {
        parent->children = n;
    }
    parent->last = n;
}

/* Makes the gathered text a text node of the open element. */
static void flush_text(struct rd *r)
{
    if (!r->text.len)
        return;
    xmlNode *t = need(xmlNewDocTextLen(r->doc, (const xmlChar *)r->text.data, (int)r->text.len));
    link_child(r->stack[r->depth - 1].node, t);
    nm_buf_reset(&r->text);
}

/* Reads an attribute value at p (the opening quote) into r->val; returns its end. */
static const char *attr_value(struct rd *r, const char *p)
{
    char quote = *p++;
    size_t start = r->val.len;
    const char *run = p;
    for (;;) {
        if (p >= r->end)
            return stop(r, "an unterminated attribute value");
        char ch = *p;
        if (ch == quote)
            break;
        if (ch == '<')
            return stop(r, "'<' in an attribute value");
        if (ch != '&' && ch != '\t' && ch != '\n' && ch != '\r') {
            p++;
            continue;
        }
        nm_buf_add(&r->val, run, (size_t)(p - run));
        if (ch == '&') {
            if (!(p = ref(r, p, &r->val, true)))
                return NULL;
        } else {
            nm_buf_addc(&r->val, ' ');
            p += 1 + (ch == '\r' && p + 1 < r->end && p[1] == '\n');
        }
        run = p;
    }
    nm_buf_add(&r->val, run, (size_t)(p - run));
    nm_buf_addc(&r->val, '\0');
    if (r->val.len - start > MAX_ATTR_VALUE)
        return stop(r, "a very long attribute value");
    return p + 1;
}

/* Reads the attributes of a start tag from p; returns the position of its
   '>' or "/>", or NULL. */
static const char *attributes(struct rd *r, const char *p)
{
    r->n_attrs = 0;
    nm_buf_reset(&r->val);
    for (;;) {
        const char *s = skip_ws(p, r->end);
        if (s < r->end && (*s == '>' || (*s == '/' && s + 1 < r->end && s[1] == '>')))
            return s;
        if (s == p || r->n_attrs == MAX_ATTRS)
            return stop(r, "a start tag the reader does not cover");
        struct attr *a = &r->attrs[r->n_attrs];
        const char *e = qname(r, s, &a->colon);
        if (!e)
            return NULL;
        a->name = s;
        a->len = (size_t)(e - s);
        p = skip_ws(e, r->end);
        if (p >= r->end || *p != '=')
            return stop(r, "an attribute without a value");
        p = skip_ws(p + 1, r->end);
        if (p >= r->end || (*p != '"' && *p != '\''))
            return stop(r, "an unquoted attribute value");
        a->voff = r->val.len;
        if (!(p = attr_value(r, p)))
            return NULL;
        for (int i = 0; i < r->n_attrs; i++) {
            const struct attr *b = &r->attrs[i];
            if (a->len - a->colon == b->len - b->colon &&
                !memcmp(a->name + a->colon, b->name + b->colon, a->len - a->colon))
                return stop(r, "two attributes of one name");
        }
        r->n_attrs++;
    }
}

static const xmlChar *intern(struct rd *r, const char *s, size_t len)
{
    return need((void *)xmlDictLookup(r->doc->dict, (const xmlChar *)s, (int)len));
}

static bool is_xmlns(const struct attr *a)
{
    return (a->len == 5 && !memcmp(a->name, "xmlns", 5)) || (a->colon == 5 && !memcmp(a->name, "xmlns", 5));
}

/* Returns true for a declaration libxml2 takes without an error: a URI
   it can parse, neither the xml nor the xmlns namespace's, and a prefix
   other than those two. */
static bool valid_ns(const char *uri, const xmlChar *prefix)
{
    if (!*uri || !strcmp(uri, (const char *)XML_XML_NAMESPACE) || !strcmp(uri, "http://www.w3.org/2000/xmlns/"))
        return false;
    if (prefix && (!strcmp((const char *)prefix, "xml") || !strcmp((const char *)prefix, "xmlns")))
        return false;
    xmlURIPtr u = xmlParseURI(uri);
    xmlFreeURI(u);
    return u != NULL;
}

/* Declares the element's namespaces and gives it and its attributes theirs. */
static bool namespaces(struct rd *r, xmlNode *n, const struct open *o, size_t colon)
{
    for (int i = 0; i < r->n_attrs; i++) {
        const struct attr *a = &r->attrs[i];
        if (!is_xmlns(a))
            continue;
        const char *uri = r->val.data + a->voff;
        const xmlChar *prefix = a->colon ? intern(r, a->name + 6, a->len - 6) : NULL;
        if (!valid_ns(uri, prefix))
            return decline(r, "a namespace declaration libxml2 is left to judge");
        if (!xmlNewNs(n, (const xmlChar *)uri, prefix))
            return decline(r, "a namespace declared twice");
    }
    const xmlChar *prefix = colon ? intern(r, o->qname, colon) : NULL;
    if (prefix && !strcmp((const char *)prefix, "xml"))
        return decline(r, "an element in the xml namespace");
    n->ns = xmlSearchNs(r->doc, n, prefix);
    if (prefix && !n->ns)
        return decline(r, "an undeclared prefix");
    for (int i = 0; i < r->n_attrs; i++) {
        const struct attr *a = &r->attrs[i];
        if (is_xmlns(a))
            continue;
        xmlNs *ns = NULL;
        if (a->colon) {
            ns = xmlSearchNs(r->doc, n, intern(r, a->name, a->colon));
            if (!ns)
                return decline(r, "an undeclared attribute prefix");
        }
        size_t skip = a->colon ? a->colon + 1 : 0;
        const xmlChar *local = intern(r, a->name + skip, a->len - skip);
        need(xmlNewNsProp(n, ns, local, (const xmlChar *)r->val.data + a->voff));
    }
    return true;
}

/* Calls the callback for the element just closed, whose content is
   [inner, inner_end) of the document. */
static void closed(struct rd *r, xmlNode *n, const char *inner, const char *inner_end)
{
    if (!r->on_close)
        return;
    if (r->last_pi && r->last_pi >= inner && r->last_pi < inner_end)
        r->on_close(r->arg, n, r->root, NULL, 0);
    else
        r->on_close(r->arg, n, r->root, inner, (size_t)(inner_end - inner));
}

/* Reads a start tag at p ('<'); returns what follows it, or NULL. */
static const char *start_tag(struct rd *r, const char *p)
{
    if (r->depth == MAX_DEPTH)
        return stop(r, "deep nesting");
    size_t colon;
    const char *e = qname(r, p + 1, &colon);
    if (!e)
        return NULL;
    const char *gt = attributes(r, e);
    if (!gt)
        return NULL;
    bool empty = *gt == '/';
    const char *next = gt + 1 + empty;
    struct open *o = &r->stack[r->depth];
    o->qname = p + 1;
    o->len = (size_t)(e - p - 1);
    size_t lstart = colon ? colon + 1 : 0;
    xmlChar *local = (xmlChar *)intern(r, o->qname + lstart, o->len - lstart);
    xmlNode *n = need(xmlNewDocNodeEatName(r->doc, NULL, local, NULL));
    unsigned line = line_at(r, next);
    n->line = (unsigned short)(line < 65535 ? line : 65535);
    if (r->depth) {
        flush_text(r);
        link_child(r->stack[r->depth - 1].node, n);
    } else {
        r->root = n;
        xmlAddChild((xmlNode *)r->doc, n);
    }
    o->node = n;
    o->inner = next;
    if (!namespaces(r, n, o, colon))
        return NULL;
    if (empty)
        closed(r, n, next, next);
    else
        r->depth++;
    return next;
}

/* Reads an end tag at p ("</"); returns what follows it, or NULL. */
static const char *end_tag(struct rd *r, const char *p)
{
    const struct open *o = &r->stack[r->depth - 1];
    const char *lt = p;
    p += 2;
    if ((size_t)(r->end - p) < o->len || memcmp(p, o->qname, o->len) != 0)
        return stop(r, "an end tag that does not match");
    p = skip_ws(p + o->len, r->end);
    if (p >= r->end || *p != '>')
        return stop(r, "an end tag that does not match");
    flush_text(r);
    r->depth--;
    closed(r, o->node, o->inner, lt);
    return p + 1;
}

/* Skips a comment at p ("<!--"), making a node of it inside the root. */
static const char *comment(struct rd *r, const char *p)
{
    const char *s = p + 4, *q = s;
    for (;;) {
        q = memchr(q, '-', (size_t)(r->end - q));
        if (!q || r->end - q < 3)
            return stop(r, "an unterminated comment");
        if (q[1] == '-')
            break;
        q++;
    }
    if (q[2] != '>')
        return stop(r, "\"--\" inside a comment");
    if (q - s > MAX_TEXT)
        return stop(r, "a very long comment");
    if (r->depth) {
        flush_text(r);
        nm_buf_reset(&r->val);
        add_lines(&r->val, s, q);
        xmlNode *c = need(xmlNewDocComment(r->doc, (const xmlChar *)nm_buf_cstr(&r->val)));
        link_child(r->stack[r->depth - 1].node, c);
    }
    return q + 3;
}

/* Skips a processing instruction at p ("<?"). */
static const char *pi(struct rd *r, const char *p)
{
    size_t colon;
    const char *e = qname(r, p + 2, &colon);
    if (!e)
        return NULL;
    if (e - p == 5 && (p[2] | 0x20) == 'x' && (p[3] | 0x20) == 'm' && (p[4] | 0x20) == 'l')
        return stop(r, "an XML declaration out of place");
    const char *q = memmem(e, (size_t)(r->end - e), "?>", 2);
    /* An '&' inside would be escaped by feed_xml.c's bare-'&' pass (and
       counted as an error) before libxml2 saw it: left to that path. */
    if (!q || (q != e && !is_ws(*e)) || memchr(e, '&', (size_t)(q - e)))
        return stop(r, "a processing instruction libxml2 is left to judge");
    r->last_pi = p;
    return q + 2;
}

/* Reads a CDATA section at p into the text run. */
static const char *cdata(struct rd *r, const char *p)
{
    const char *s = p + 9;
    const char *q = memmem(s, (size_t)(r->end - s), "]]>", 3);
    if (!q)
        return stop(r, "an unterminated CDATA section");
    add_lines(&r->text, s, q);
    return q + 3;
}

/* Reads the content of the root element from p until it closes. */
static const char *content(struct rd *r, const char *p)
{
    while (r->depth) {
        const char *s = find_special(p, r->end);
        nm_buf_add(&r->text, p, (size_t)(s - p));
        if (r->text.len > MAX_TEXT)
            return stop(r, "a very long text");
        if (s >= r->end)
            return stop(r, "an element not closed");
        p = s;
        switch (*p) {
        case '&':
            p = ref(r, p, &r->text, false);
            break;
        case '\r':
            nm_buf_addc(&r->text, '\n');
            p += 1 + (p + 1 < r->end && p[1] == '\n');
            break;
        case ']':
            if (r->end - p >= 3 && p[1] == ']' && p[2] == '>')
                return stop(r, "\"]]>\" in text");
            nm_buf_addc(&r->text, ']');
            p++;
            break;
        default: /* '<' */
            if (p + 1 >= r->end)
                p = stop(r, "an element not closed");
            else if (p[1] == '/')
                p = end_tag(r, p);
            else if (p[1] == '?')
                p = pi(r, p);
            else if (r->end - p >= 4 && !memcmp(p, "<!--", 4))
                p = comment(r, p);
            else if (r->end - p >= 9 && !memcmp(p, "<![CDATA[", 9))
                p = cdata(r, p);
            else if (p[1] == '!')
                p = stop(r, "a declaration inside the document");
            else
                p = start_tag(r, p);
        }
        if (!p)
            return NULL;
    }
    return p;
}

/* Skips what may stand outside the root: white space, comments, PIs. */
static const char *misc(struct rd *r, const char *p)
{
    for (;;) {
        p = skip_ws(p, r->end);
        if (r->end - p >= 4 && !memcmp(p, "<!--", 4))
            p = comment(r, p);
        else if (r->end - p >= 2 && p[0] == '<' && p[1] == '?')
            p = pi(r, p);
        else
            return p;
        if (!p)
            return NULL;
    }
}

/* Reads one pseudo-attribute of the XML declaration at p: name="value",
   the value one of values, or an encoding name when values is NULL;
   returns its end, or NULL. */
static const char *decl_attr(struct rd *r, const char *p, const char *name, const char *const *values)
{
    size_t n = strlen(name);
    if ((size_t)(r->end - p) < n || memcmp(p, name, n) != 0)
        return NULL;
    p = skip_ws(p + n, r->end);
    if (p >= r->end || *p != '=')
        return NULL;
    p = skip_ws(p + 1, r->end);
    if (p >= r->end || (*p != '"' && *p != '\''))
        return NULL;
    const char quote = *p++, *v = p;
    while (p < r->end && (name_more((unsigned char)*p)) && p - v < 64)
        p++;
    if (p >= r->end || *p != quote || p == v)
        return NULL;
    if (!values) /* an encoding name: a letter first */
        return ((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z') ? p + 1 : NULL;
    for (; *values; values++)
        if (strlen(*values) == (size_t)(p - v) && !memcmp(v, *values, (size_t)(p - v)))
            return p + 1;
    return NULL;
}

/* Skips the XML declaration at p when it is exactly as libxml2 reads it
   without complaint; returns what follows, p when there is none, or NULL
   (declined). A malformed declaration upsets libxml2's whole reading. */
static const char *xml_decl(struct rd *r, const char *p)
{
    static const char *const versions[] = { "1.0", NULL }, *const yes_no[] = { "yes", "no", NULL };
    if (r->end - p < 6 || memcmp(p, "<?xml", 5) != 0 || !is_ws(p[5]))
        return p;
    const char *q = skip_ws(p + 5, r->end);
    if (!(q = decl_attr(r, q, "version", versions)))
        return stop(r, "an XML declaration libxml2 is left to judge");
    const char *s = skip_ws(q, r->end), *a;
    if (s > q && (a = decl_attr(r, s, "encoding", NULL)) != NULL)
        s = skip_ws(q = a, r->end);
    if (s > q && (a = decl_attr(r, s, "standalone", yes_no)) != NULL)
        s = skip_ws(a, r->end);
    if (r->end - s < 2 || s[0] != '?' || s[1] != '>')
        return stop(r, "an XML declaration libxml2 is left to judge");
    return s + 2;
}

static bool read_doc(struct rd *r)
{
    const char *p = xml_decl(r, r->p);
    if (!p)
        return false;
    if (!(p = misc(r, p)))
        return false;
    if (r->end - p < 2 || *p != '<' || !name_start((unsigned char)p[1]))
        return decline(r, "no root element the reader covers");
    if (!(p = start_tag(r, p)) || !(p = content(r, p)) || !(p = misc(r, p)))
        return false;
    if (p != r->end)
        return decline(r, "content after the root element");
    return true;
}

xmlDocPtr xmlfast_read(const char *utf8, size_t len, xmlfast_close_fn on_close, void *arg, const char **why)
{
    struct rd *r = nm_xcalloc(1, sizeof *r);
    r->p = r->line_pos = utf8;
    r->end = utf8 + len;
    r->line = 1;
    r->on_close = on_close;
    r->arg = arg;
    nm_buf_init(&r->text);
    nm_buf_init(&r->val);
    r->doc = need(xmlNewDoc((const xmlChar *)"1.0"));
    r->doc->dict = need(xmlDictCreate());
    xmlDocPtr doc = r->doc;
    if (!read_doc(r)) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    if (why)
        *why = r->why;
    nm_buf_free(&r->text);
    nm_buf_free(&r->val);
    free(r);
    return doc;
}

bool xmlfast_text(const char *src, size_t len, nm_buf *out)
{
    const char *p = src, *end = src + len, *why = NULL;
    /* The text is never longer than the source: a reference is at least
       as long as the UTF-8 it stands for, "<![CDATA[" and "]]>" go, CR LF
       becomes LF. So it is written straight into room made once. */
    if (out->cap < out->len + len + 1) {
        out->data = nm_xrealloc(out->data, out->len + len + 1);
        out->cap = out->len + len + 1;
    }
    char *o = out->data + out->len;
    while (p < end) {
        const char *s = find_special(p, end);
        memcpy(o, p, (size_t)(s - p));
        o += s - p;
        p = s;
        if (p >= end)
            break;
        if (*p == '&') {
            out->len = (size_t)(o - out->data);
            p = reference(p, end, out, false, &why);
            o = out->data + out->len;
            if (!p)
                break;
        } else if (*p == '\r') {
            *o++ = '\n';
            p += 1 + (p + 1 < end && p[1] == '\n');
        } else if (*p == ']') {
            if (end - p >= 3 && p[1] == ']' && p[2] == '>')
                break;
            *o++ = ']';
            p++;
        } else { /* '<': only a CDATA section is character data */
            const char *q;
            if (end - p < 9 || memcmp(p, "<![CDATA[", 9) != 0 ||
                !(q = memmem(p + 9, (size_t)(end - p - 9), "]]>", 3)))
                break;
            out->len = (size_t)(o - out->data);
            add_lines(out, p + 9, q);
            o = out->data + out->len;
            p = q + 3;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return p != NULL && p >= end;
}
