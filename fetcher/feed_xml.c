/*
 * feed_xml: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 from clean UTF-8 with
 * libxml2's tree API, read as it is built: each entry (an RSS item, an
 * Atom entry) is read by the same walker code the moment its element
 * closes, and its subtree freed, so a large feed never holds its whole
 * tree and each entry's text is read while still in the cache (see
 * "entries read while parsing"; docs/fetcher.md has the measurements).
 * The rest of the tree is walked once the parse ends.
 *
 * Safety lives in how the parser is set up (parser_setup): recovery mode
 * keeps what precedes a fault; no network, no DTD loading, and a global
 * external-entity loader that refuses everything, so a SYSTEM entity
 * naming /etc/passwd yields an error and no text; internal entities are
 * substituted under libxml2's own amplification check (billion laughs
 * stops with an error) and nesting is bounded by libxml2's 256 levels
 * (XML_PARSE_HUGE is never set). HTML named entities that feeds use
 * without declaring them (&nbsp; &eacute;) are supplied on demand.
 *
 * Elements are matched by namespace and local name; for RSS, elements in
 * no namespace or an unknown one count as RSS's own (feeds misdeclare
 * their default namespace), and an undeclared but well-known prefix
 * ("dc:creator" without xmlns:dc) is recognised by its prefix.
 */
#include "fetcher/feed_priv.h"

#include <assert.h>
#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/nm_time.h"
#include "common/nm_url.h"
#include "fetcher/feed_xmlfast.h"
#include "fetcher/html_text.h"

bool feed_xml_fast = true;

enum ns_id {
    NS_NONE, NS_OTHER, NS_ATOM10, NS_ATOM03, NS_RSS10, NS_RSS090, NS_USERLAND, NS_RDF, NS_DC,
    NS_DCTERMS, NS_CONTENT, NS_MEDIA, NS_SY, NS_XHTML, NS_ITUNES, NS_EXT,
};

static const struct { const char *uri; const char *prefix; enum ns_id id; } namespaces[] = {
    { "http://www.w3.org/2005/Atom", "atom", NS_ATOM10 },
    { "http://purl.org/atom/ns#", "atom03", NS_ATOM03 },
    { "http://purl.org/rss/1.0/", NULL, NS_RSS10 },
    { "http://my.netscape.com/rdf/simple/0.9/", NULL, NS_RSS090 },
    { "http://backend.userland.com/rss", NULL, NS_USERLAND },
    { "http://backend.userland.com/rss2", NULL, NS_USERLAND },
    { "http://blogs.law.harvard.edu/tech/rss", NULL, NS_USERLAND },
    { "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf", NS_RDF },
    { "http://purl.org/dc/elements/1.1/", "dc", NS_DC },
    { "http://purl.org/dc/elements/1.0/", NULL, NS_DC },
    { "http://purl.org/dc/terms/", "dcterms", NS_DCTERMS },
    { "http://purl.org/rss/1.0/modules/content/", "content", NS_CONTENT },
    { "http://search.yahoo.com/mrss/", "media", NS_MEDIA },
    { "http://search.yahoo.com/mrss", NULL, NS_MEDIA },
    { "http://purl.org/rss/1.0/modules/syndication/", "sy", NS_SY },
    { "http://www.w3.org/1999/xhtml", "xhtml", NS_XHTML },
    { "http://www.itunes.com/dtds/podcast-1.0.dtd", "itunes", NS_ITUNES },
};

/* An entry read as soon as it closed (see entry_closed), its subtree then
   freed: the errors its reading recorded, replayed where the walk of the
   finished tree meets it, so that errors come out in the same order (and
   under the same max_errors cut) as if it had been read there. */
struct early {
    char **errors;
    size_t n_errors;
    struct early *next;        /* the parse's list, for freeing */
};

/* The state of one parse. */
struct ctx {
    struct feed *f;
    const struct feed_limits *lim;
    const char *base;          /* the feed's own address, may be NULL */
    bool atom;                 /* Atom rules for unprefixed elements */
    nm_buf scratch;            /* gathered text, reused */
    struct early *early;       /* entries read early */
    /* With f->defer_summaries: where the content of each element the fast
       reader closed since it last read an entry early is in the document,
       for elements whose only child is one text node (see read_cand). */
    struct span {
        const xmlNode *n;
        const char *src;
        size_t len;
    } spans[64];
    size_t n_spans;
    nm_buf probe;              /* text_nonempty's working space */
};

/* ---- parser set-up ------------------------------------------------------- */

/* Refuses every external entity and DTD: feeds have no business loading files. */
static xmlParserInputPtr refuse_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    if (ctxt && ctxt->_private) {
        struct ctx *c = ctxt->_private;
        feed_add_error(c->f, c->lim, "xml: external entity \"%s\" not loaded (external entities are refused)",
                       url ? url : id ? id : "?");
    }
    return NULL;
}

static void init_once(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_loader);
}

/* Supplies HTML's named entities (&nbsp; &eacute; ...) that feeds use
   without declaring them; declared entities come first. */
static xmlEntityPtr get_entity(void *vctxt, const xmlChar *name)
{
    xmlParserCtxtPtr ctxt = vctxt;
    xmlEntityPtr e = xmlSAX2GetEntity(ctxt, name);
    if (e || ctxt->inSubset || !ctxt->myDoc)
        return e;
    const htmlEntityDesc *h = htmlEntityLookup(name);
    if (!h)
        return NULL;
    if (!ctxt->myDoc->intSubset && !xmlCreateIntSubset(ctxt->myDoc, NULL, NULL, NULL))
        return NULL;
    nm_buf v;
    nm_buf_init(&v);
    if (h->value == '&' || h->value == '<')
        nm_buf_addf(&v, "&#%u;", h->value);
    else
        utf8_append(&v, h->value);
    e = xmlAddDocEntity(ctxt->myDoc, name, XML_INTERNAL_GENERAL_ENTITY, NULL, NULL,
                        (const xmlChar *)nm_buf_cstr(&v));
    nm_buf_free(&v);
    return e;
}

static void on_error(void *vctxt, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = vctxt;
    struct ctx *c = ctxt ? ctxt->_private : NULL;
    if (!c || !e || e->level == XML_ERR_WARNING)
        return;
    size_t n = e->message ? strlen(e->message) : 0;
    while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        n--;
    feed_add_error(c->f, c->lim, "xml: line %d: %.*s", e->line, (int)n, e->message ? e->message : "error");
}

/* ---- element classification --------------------------------------------- */

/* Whether name equals lit (a literal beginning with a letter), ignoring
   case: the first letters are compared first, which settles most of the
   long chains of names the readers below try (strcasecmp costs a call
   and a look at the locale each time). */
static inline bool name_is(const char *name, const char *lit)
{
    return ((unsigned char)(name[0] ^ lit[0]) & ~0x20u) == 0 && strcasecmp(name, lit) == 0;
}

/* Returns the namespace of element n and sets *local to its local name. */
static enum ns_id classify(const xmlNode *n, const char **local)
{
    *local = (const char *)n->name;
    if (n->ns && n->ns->href) {
        for (size_t i = 0; i < NM_ARRAY_LEN(namespaces); i++)
            if (strcasecmp(namespaces[i].uri, (const char *)n->ns->href) == 0)
                return namespaces[i].id;
        /* An unknown default namespace is the feed's own (misdeclared);
           an unknown prefixed one is an extension we do not read. */
        return n->ns->prefix ? NS_EXT : NS_OTHER;
    }
    const char *colon = strchr(*local, ':');
    if (!colon)
        return NS_NONE;
    /* An undeclared prefix: libxml2 keeps "prefix:name" as the name. */
    size_t plen = (size_t)(colon - *local);
    *local = colon + 1;
    for (size_t i = 0; i < NM_ARRAY_LEN(namespaces); i++)
        if (namespaces[i].prefix && strlen(namespaces[i].prefix) == plen &&
            strncasecmp(namespaces[i].prefix, n->name ? (const char *)n->name : "", plen) == 0)
            return namespaces[i].id;
    return NS_EXT;
}

/* Returns true for the namespaces an RSS element of the core vocabulary may carry. */
static bool rss_core(enum ns_id ns)
{
    return ns == NS_NONE || ns == NS_OTHER || ns == NS_RSS10 || ns == NS_RSS090 || ns == NS_USERLAND;
}

static bool atom_ns(enum ns_id ns, bool atom_doc)
{
    return ns == NS_ATOM10 || ns == NS_ATOM03 || (atom_doc && (ns == NS_NONE || ns == NS_OTHER));
}

static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (strcasecmp((const char *)a->name, name) == 0 && !a->ns)
            return a->children && a->children->content ? (const char *)a->children->content : "";
    return NULL;
}

static const char *xml_attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->ns && a->ns->href && strcmp((const char *)a->ns->href, (const char *)XML_XML_NAMESPACE) == 0 &&
            strcmp((const char *)a->name, name) == 0)
            return a->children && a->children->content ? (const char *)a->children->content : "";
    return NULL;
}

/* ---- text ---------------------------------------------------------------- */

/* Returns the character data directly inside n (text and CDATA children
   joined; element children's text included) and its length. The pointer
   is borrowed: into the tree or into c->scratch. */
static const char *gather(struct ctx *c, const xmlNode *n, size_t *len)
{
    const xmlNode *k = n->children;
    if (k && !k->next && (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content) {
        *len = strlen((const char *)k->content);
        return (const char *)k->content;
    }
    nm_buf_reset(&c->scratch);
    for (; k; k = k->next) {
        if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content)
            nm_buf_adds(&c->scratch, (const char *)k->content);
    }
    *len = c->scratch.len;
    return nm_buf_cstr(&c->scratch);
}

static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *k = n->children; k; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

/* Appends the text of the XHTML (or any XML) subtree under n. */
static void subtree_text(struct ctx *c, const xmlNode *n, nm_buf *out, int depth)
{
    static const char *const skip[] = { "script", "style", "template", "head" };
    static const char *const blocks[] = { "p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4",
                                          "h5", "h6", "blockquote", "pre", "dd", "dt", "hr", "table", "ul", "ol" };
    if (depth > c->lim->max_depth)
        return;
    for (const xmlNode *k = n->children; k; k = k->next) {
        if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content) {
            text_append(out, (const char *)k->content, (const char *)k->content + strlen((const char *)k->content));
        } else if (k->type == XML_ELEMENT_NODE) {
            bool skipped = false, block = false;
            for (size_t i = 0; i < NM_ARRAY_LEN(skip); i++)
                skipped |= strcasecmp((const char *)k->name, skip[i]) == 0;
            for (size_t i = 0; i < NM_ARRAY_LEN(blocks); i++)
                block |= strcasecmp((const char *)k->name, blocks[i]) == 0;
            if (skipped)
                continue;
            if (block && out->len && out->data[out->len - 1] != ' ')
                nm_buf_addc(out, ' ');
            subtree_text(c, k, out, depth + 1);
            if (block && out->len && out->data[out->len - 1] != ' ')
                nm_buf_addc(out, ' ');
        }
    }
}

static char *finish_text(struct ctx *c, char *s)
{
    if (s && !*s) {
        free(s);
        return NULL;
    }
    if (s)
        feed_cut(s, c->lim->max_field_bytes);
    return s;
}

/* How an element's content is to be read. */
enum kind { K_PLAIN, K_HTML, K_XHTML, K_BASE64, K_SKIP };

static char *read_text(struct ctx *c, const xmlNode *n, enum kind kind)
{
    if (kind == K_SKIP)
        return NULL;
    if (kind == K_XHTML || has_element_child(n)) {
        nm_buf b;
        nm_buf_init(&b);
        subtree_text(c, n, &b, 0);
        if (b.len && b.data[b.len - 1] == ' ')
            b.len--;
        return finish_text(c, nm_buf_steal(&b));
    }
    size_t len;
    const char *s = gather(c, n, &len);
    if (kind == K_BASE64) {
        /* Atom's other media types, and 0.3's mode="base64": decoded, read as HTML. */
        unsigned char *bin = nm_xmalloc(len + 1);
        size_t bin_len = 0;
        char *r = NULL;
        if (sodium_base642bin(bin, len + 1, s, len, " \t\r\n", &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0)
            r = html_to_text((const char *)bin, bin_len);
        else
            feed_add_error(c->f, c->lim, "xml: line %d: invalid base64 content", (int)xmlGetLineNo(n));
        free(bin);
        return finish_text(c, r);
    }
    return finish_text(c, kind == K_HTML ? html_to_text(s, len) : text_collapse(s, len));
}

/* Returns the trimmed character data of n as a new string, or NULL when empty. */
static char *read_raw(struct ctx *c, const xmlNode *n)
{
    size_t len;
    const char *s = gather(c, n, &len);
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (!len)
        return NULL;
    char *r = nm_xstrndup(s, len);
    feed_cut(r, c->lim->max_field_bytes);
    return r;
}

/* Atom's type/mode attributes (and RSS's defaults) say how to read text. */
static enum kind atom_kind(const xmlNode *n, enum kind dflt)
{
    const char *type = attr(n, "type"), *mode = attr(n, "mode");
    if (mode && strcasecmp(mode, "escaped") == 0)
        return K_HTML;
    if (mode && strcasecmp(mode, "base64") == 0)
        return K_BASE64;
    if (!type || !*type)
        return dflt;
    if (strcasecmp(type, "xhtml") == 0 || strcasecmp(type, "application/xhtml+xml") == 0)
        return K_XHTML;
    if (strcasecmp(type, "html") == 0 || strcasecmp(type, "text/html") == 0)
        return K_HTML;
    if (strcasecmp(type, "text") == 0 || strcasecmp(type, "text/plain") == 0)
        return K_PLAIN;
    if (strncasecmp(type, "text/", 5) == 0 || strstr(type, "xml"))
        return K_PLAIN;
    return K_BASE64;
}

/* Returns ref resolved against n's xml:base chain and the feed's address. */
static char *resolve(struct ctx *c, const xmlNode *n, const char *ref)
{
    const char *bases[16];
    int k = 0;
    for (const xmlNode *x = n; x && x->type == XML_ELEMENT_NODE && k < (int)NM_ARRAY_LEN(bases); x = x->parent) {
        const char *b = xml_attr(x, "base");
        if (b)
            bases[k++] = b;
    }
    char *cur = nm_xstrdup(c->base);
    while (k-- > 0) {
        char *next = nm_url_resolve(cur, bases[k]);
        free(cur);
        cur = next;
    }
    char *r = nm_url_resolve(cur, ref);
    free(cur);
    if (r && !*r) {
        free(r);
        return NULL;
    }
    return r;
}

/* Returns the value of xml:lang in effect at n, as a new string, or NULL. */
static char *lang_of(const xmlNode *n)
{
    for (const xmlNode *x = n; x && x->type == XML_ELEMENT_NODE; x = x->parent) {
        const char *l = xml_attr(x, "lang");
        if (l)
            return *l ? nm_xstrdup(l) : NULL;
    }
    return NULL;
}

/* Sets *dst to s (owned) unless already set; frees s otherwise. */
static void set_once(char **dst, char *s)
{
    if (!*dst && s)
        *dst = s;
    else
        free(s);
}

static void set_over(char **dst, char *s)
{
    if (s) {
        free(*dst);
        *dst = s;
    }
}

static char *read_date(struct ctx *c, const xmlNode *n, const char *what)
{
    char *raw = read_raw(c, n);
    if (!raw)
        return NULL;
    char *d = nm_time_normalize(raw);
    if (!d) {
        int line = (int)xmlGetLineNo(n);
        feed_add_error(c->f, c->lim, "date: line %d: cannot read %s \"%.80s\"", line, what, raw);
    }
    free(raw);
    return d;
}

/* ---- Atom ---------------------------------------------------------------- */

/* Returns true when an Atom link's rel/type make it the HTML alternate. */
static bool atom_alternate(const xmlNode *n)
{
    const char *rel = attr(n, "rel"), *type = attr(n, "type");
    if (rel && *rel && strcasecmp(rel, "alternate") != 0)
        return false;
    return !type || !*type || strcasecmp(type, "text/html") == 0 || strcasecmp(type, "application/xhtml+xml") == 0 ||
           strcasecmp(type, "html") == 0;
}

/* Reads an Atom link element: its href (or, in Atom 0.3 style, its text). */
static char *atom_link(struct ctx *c, const xmlNode *n)
{
    const char *href = attr(n, "href");
    if (href)
        return resolve(c, n, href);
    char *t = read_raw(c, n);
    char *r = t ? resolve(c, n, t) : NULL;
    free(t);
    return r;
}

static char *person_name(struct ctx *c, const xmlNode *n)
{
    char *name = NULL, *email = NULL;
    for (const xmlNode *k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)k->name, "name") == 0)
            set_once(&name, read_text(c, k, K_PLAIN));
        else if (strcmp((const char *)k->name, "email") == 0)
            set_once(&email, read_text(c, k, K_PLAIN));
    }
    if (!name && !has_element_child(n))
        name = read_text(c, n, K_PLAIN);
    if (!name && email)
        return email;
    free(email);
    return name;
}

/* A candidate for an entry's summary: its text, or, when the summary may
   be deferred, where it is in the document (t.src); never empty. */
struct cand {
    char *s;
    struct feed_text t;
};

static bool cand_set(const struct cand *v)
{
    return v->s || v->t.src;
}

static void cand_once(struct cand *dst, struct cand v)
{
    if (!cand_set(dst))
        *dst = v;
    else
        free(v.s);
}

static void cand_over(struct cand *dst, struct cand v)
{
    if (cand_set(&v)) {
        free(dst->s);
        *dst = v;
    }
}

/* Returns where n's content is in the document when the fast reader
   recorded it (c->spans), else NULL. */
static const struct span *span_of(const struct ctx *c, const xmlNode *n)
{
    for (size_t i = c->n_spans; i-- > 0;)
        if (c->spans[i].n == n)
            return &c->spans[i];
    return NULL;
}

/* Reads n's text (as read_text does) as a summary candidate. When the
   feed defers summaries and n is plain or HTML text whose place in the
   document is known, the text is only checked not to be empty, which
   stops after its first run of text, and its place kept: it is read again
   when written (feed_xml_text), in the cache then, and a large feed's
   summaries, most of its memory, are never all held at once. */
static struct cand read_cand(struct ctx *c, const xmlNode *n, enum kind kind)
{
    struct cand v = { 0 };
    const struct span *sp;
    if ((kind == K_HTML || kind == K_PLAIN) && (sp = span_of(c, n)) != NULL) {
        const char *text = (const char *)n->children->content;
        if (text_nonempty(&c->probe, text, strlen(text), kind == K_HTML))
            v.t = (struct feed_text){ sp->src, sp->len, c->lim->max_field_bytes, kind == K_HTML };
        return v;
    }
    v.s = read_text(c, n, kind);
    return v;
}

/* The fields of an entry read so far, before fallbacks are applied. */
struct draft {
    char *guid, *about, *link, *alt_link, *dc_title, *media_title;
    struct cand summary, desc, content, media_desc;
    bool guid_is_link;
};

static void draft_free(struct draft *d)
{
    free(d->guid);
    free(d->about);
    free(d->link);
    free(d->alt_link);
    free(d->summary.s);
    free(d->desc.s);
    free(d->content.s);
    free(d->media_desc.s);
    free(d->dc_title);
    free(d->media_title);
}

/* Reads the extension elements RSS and Atom entries share. Returns true when n was used. */
static bool common_element(struct ctx *c, const xmlNode *n, enum ns_id ns, const char *local, nm_article *a,
                           struct draft *d)
{
    if (ns == NS_DC) {
        if (name_is(local, "creator") || name_is(local, "author"))
            set_once(&a->author, read_text(c, n, K_PLAIN));
        else if (name_is(local, "date"))
            set_over(&a->updated, read_date(c, n, "dc:date"));
        else if (name_is(local, "subject")) {
            char *s = read_text(c, n, K_PLAIN);
            if (s)
                nm_article_add_category(a, s);
            free(s);
        } else if (name_is(local, "title"))
            set_once(&d->dc_title, read_text(c, n, K_HTML));
        else if (name_is(local, "description"))
            cand_once(&d->desc, read_cand(c, n, K_HTML));
        else if (name_is(local, "language"))
            set_once(&a->lang, read_raw(c, n));
        else if (name_is(local, "identifier"))
            set_once(&d->about, read_raw(c, n));
        else
            return false;
        return true;
    }
    if (ns == NS_DCTERMS) {
        if (name_is(local, "issued") || name_is(local, "created"))
            set_once(&a->published, read_date(c, n, "dcterms date"));
        else if (name_is(local, "modified"))
            set_over(&a->updated, read_date(c, n, "dcterms:modified"));
        else
            return false;
        return true;
    }
    if (ns == NS_XHTML && name_is(local, "body")) {
        cand_once(&d->content, read_cand(c, n, K_XHTML));
        return true;
    }
    if (ns == NS_CONTENT && name_is(local, "encoded")) {
        cand_once(&d->content, read_cand(c, n, K_HTML));
        return true;
    }
    if (ns == NS_MEDIA) {
        if (name_is(local, "group") || name_is(local, "content")) {
            for (const xmlNode *k = n->children; k; k = k->next) {
                const char *l;
                if (k->type == XML_ELEMENT_NODE && classify(k, &l) == NS_MEDIA)
                    common_element(c, k, NS_MEDIA, l, a, d);
            }
        } else if (name_is(local, "description"))
            cand_once(&d->media_desc, read_cand(c, n, atom_kind(n, K_PLAIN)));
        else if (name_is(local, "title"))
            set_once(&d->media_title, read_text(c, n, atom_kind(n, K_PLAIN)));
        else
            return false;
        return true;
    }
    if (ns == NS_ITUNES && name_is(local, "author")) {
        set_once(&a->author, read_text(c, n, K_PLAIN));
        return true;
    }
    return false;
}

static void atom_category(struct ctx *c, const xmlNode *n, nm_article *a)
{
    const char *term = attr(n, "term");
    char *t = term && *term ? text_collapse(term, strlen(term)) : read_text(c, n, K_PLAIN);
    if (t && *t)
        nm_article_add_category(a, t);
    free(t);
}

/* Moves *src into *dst. */
static void take(char **dst, char **src)
{
    *dst = *src;
    *src = NULL;
}

/* Applies the fallbacks of an entry and hands it to the feed. */
static void entry_finish(struct ctx *c, nm_article *a, struct draft *d, const xmlNode *n)
{
    if (!a->title)
        take(&a->title, d->dc_title ? &d->dc_title : &d->media_title);
    if (!a->id)
        take(&a->id, d->guid ? &d->guid : &d->about);
    if (!a->link) {
        if (d->link)
            take(&a->link, &d->link);
        else if (d->alt_link)
            take(&a->link, &d->alt_link);
        else if (a->id && d->guid_is_link)
            a->link = resolve(c, n, a->id); /* like feedparser: a permalink GUID is the link */
    }
    if (!a->summary) {
        struct cand *pick = cand_set(&d->summary) ? &d->summary
                            : cand_set(&d->desc)  ? &d->desc
                            : cand_set(&d->content) ? &d->content
                            : cand_set(&d->media_desc) ? &d->media_desc
                                                       : NULL;
        if (pick && pick->s)
            take(&a->summary, &pick->s);
        else if (pick && !a->id && !a->link)
            a->summary = feed_xml_text(&pick->t); /* the id is made from it (feed_finish_entry) */
        else if (pick)
            c->f->lazy[a - c->f->entries] = pick->t;
    }
    if (!a->lang)
        a->lang = lang_of(n);
    draft_free(d);
    feed_finish_entry(c->f, a);
}

/* Returns true, having recorded its errors, when entry n was read early. */
static bool replay_early(struct ctx *c, const xmlNode *n)
{
    const struct early *e = n->_private;
    if (!e)
        return false;
    for (size_t i = 0; i < e->n_errors; i++)
        feed_add_error(c->f, c->lim, "%s", e->errors[i]);
    return true;
}

static void atom_entry(struct ctx *c, const xmlNode *e)
{
    if (replay_early(c, e))
        return;
    nm_article *a = feed_new_entry(c->f, c->lim);
    if (!a)
        return;
    struct draft d = { .guid_is_link = true };
    for (const xmlNode *n = e->children; n; n = n->next) {
        const char *l;
        if (n->type != XML_ELEMENT_NODE)
            continue;
        enum ns_id ns = classify(n, &l);
        if (!atom_ns(ns, true)) {
            common_element(c, n, ns, l, a, &d);
            continue;
        }
        if (name_is(l, "id"))
            set_once(&a->id, read_raw(c, n));
        else if (name_is(l, "title"))
            set_once(&a->title, read_text(c, n, atom_kind(n, K_PLAIN)));
        else if (name_is(l, "link") && (atom_alternate(n) || !attr(n, "href")))
            set_over(&d.link, atom_link(c, n));
        else if (name_is(l, "summary"))
            cand_once(&d.desc, read_cand(c, n, atom_kind(n, K_PLAIN)));
        else if (name_is(l, "content"))
            cand_once(&d.content, read_cand(c, n, attr(n, "src") ? K_SKIP : atom_kind(n, K_PLAIN)));
        else if (name_is(l, "published") || name_is(l, "issued"))
            set_over(&a->published, read_date(c, n, l));
        else if (name_is(l, "updated") || name_is(l, "modified"))
            set_over(&a->updated, read_date(c, n, l));
        else if (name_is(l, "author"))
            set_once(&a->author, person_name(c, n));
        else if (name_is(l, "category"))
            atom_category(c, n, a);
    }
    entry_finish(c, a, &d, e);
}

static void atom_feed(struct ctx *c, const xmlNode *root)
{
    struct feed *f = c->f;
    char *id = NULL;
    const char *version = attr(root, "version");
    const char *l0;
    f->format = nm_xstrdup(classify(root, &l0) == NS_ATOM03 || (version && !strcmp(version, "0.3")) ? "atom03"
                                                                                                      : "atom10");
    set_once(&f->lang, lang_of(root));
    for (const xmlNode *n = root->children; n; n = n->next) {
        const char *l;
        if (n->type != XML_ELEMENT_NODE)
            continue;
        enum ns_id ns = classify(n, &l);
        if (!atom_ns(ns, true)) {
            if (ns == NS_DC && name_is(l, "language"))
                set_once(&f->lang, read_raw(c, n));
            continue;
        }
        if (name_is(l, "entry"))
            atom_entry(c, n);
        else if (name_is(l, "title"))
            set_once(&f->title, read_text(c, n, atom_kind(n, K_PLAIN)));
        else if (name_is(l, "link") && atom_alternate(n))
            set_over(&f->link, atom_link(c, n));
        else if (name_is(l, "subtitle") || name_is(l, "tagline"))
            set_once(&f->subtitle, read_text(c, n, atom_kind(n, K_PLAIN)));
        else if (name_is(l, "updated") || name_is(l, "modified"))
            set_over(&f->updated, read_date(c, n, l));
        else if (name_is(l, "id"))
            set_once(&id, read_raw(c, n));
    }
    if (!f->link && id)
        f->link = resolve(c, root, id); /* like feedparser: the feed's id stands in for its link */
    free(id);
}

/* ---- RSS ----------------------------------------------------------------- */

static void rss_item(struct ctx *c, const xmlNode *it)
{
    if (replay_early(c, it))
        return;
    nm_article *a = feed_new_entry(c->f, c->lim);
    if (!a)
        return;
    struct draft d = { 0 };
    const char *about = NULL;
    for (const xmlAttr *p = it->properties; p; p = p->next)
        if (!strcmp((const char *)p->name, "about") && p->children)
            about = (const char *)p->children->content;
    if (about && *about)
        d.about = nm_xstrdup(about);
    const char *href = attr(it, "href"), *lastmod = attr(it, "lastmod"); /* CDF */
    if (href && *href)
        d.link = resolve(c, it, href);
    if (lastmod && !(a->updated = nm_time_normalize(lastmod)))
        feed_add_error(c->f, c->lim, "date: line %d: cannot read LASTMOD \"%.80s\"", (int)xmlGetLineNo(it), lastmod);
    for (const xmlNode *n = it->children; n; n = n->next) {
        const char *l;
        if (n->type != XML_ELEMENT_NODE)
            continue;
        enum ns_id ns = classify(n, &l);
        if (ns == NS_ATOM10 || ns == NS_ATOM03) {
            if (name_is(l, "link") && atom_alternate(n))
                set_over(&d.alt_link, atom_link(c, n));
            else if (name_is(l, "id"))
                set_once(&d.guid, read_raw(c, n));
            else if (name_is(l, "updated"))
                set_over(&a->updated, read_date(c, n, l));
            else if (name_is(l, "published"))
                set_over(&a->published, read_date(c, n, l));
            else if (name_is(l, "summary"))
                cand_once(&d.desc, read_cand(c, n, atom_kind(n, K_PLAIN)));
            else if (name_is(l, "author"))
                set_once(&a->author, person_name(c, n));
            continue;
        }
        if (!rss_core(ns)) {
            common_element(c, n, ns, l, a, &d);
            continue;
        }
        if (name_is(l, "title"))
            set_over(&a->title, read_text(c, n, K_HTML));
        else if (name_is(l, "link")) {
            char *t = read_raw(c, n);
            if (t)
                set_over(&d.link, resolve(c, n, t));
            free(t);
        } else if (name_is(l, "guid")) {
            const char *perma = attr(n, "isPermaLink");
            char *g = read_raw(c, n);
            if (g) {
                set_over(&d.guid, g);
                d.guid_is_link = !perma || strcasecmp(perma, "true") == 0;
            }
        } else if (name_is(l, "description"))
            cand_over(&d.desc, read_cand(c, n, K_HTML));
        else if (name_is(l, "summary") || name_is(l, "abstract"))
            cand_over(&d.summary, read_cand(c, n, K_HTML));
        else if (name_is(l, "fullitem") || name_is(l, "body"))
            cand_once(&d.content, read_cand(c, n, K_HTML));
        else if (name_is(l, "pubDate"))
            set_over(&a->published, read_date(c, n, "pubDate"));
        else if (name_is(l, "author"))
            set_once(&a->author, read_text(c, n, K_PLAIN));
        else if (name_is(l, "category")) {
            char *s = read_text(c, n, K_PLAIN);
            if (s)
                nm_article_add_category(a, s);
            free(s);
        }
    }
    entry_finish(c, a, &d, it);
}

static int period_minutes(const char *p)
{
    static const struct { const char *name; int minutes; } periods[] = {
        { "hourly", 60 }, { "daily", 1440 }, { "weekly", 10080 }, { "monthly", 43200 }, { "yearly", 525600 },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(periods); i++)
        if (strcasecmp(p, periods[i].name) == 0)
            return periods[i].minutes;
    return 0;
}

/* Reads the channel's own fields; items inside the channel are read too. */
static void rss_channel(struct ctx *c, const xmlNode *ch)
{
    struct feed *f = c->f;
    int period = 0, frequency = 1;
    char *alt = NULL;
    set_once(&f->lang, lang_of(ch));
    for (const xmlNode *n = ch->children; n; n = n->next) {
        const char *l;
        if (n->type != XML_ELEMENT_NODE)
            continue;
        enum ns_id ns = classify(n, &l);
        if (rss_core(ns)) {
            if (name_is(l, "item"))
                rss_item(c, n);
            else if (name_is(l, "title"))
                set_once(&f->title, read_text(c, n, K_HTML));
            else if (name_is(l, "link")) {
                char *t = read_raw(c, n);
                if (t)
                    set_once(&f->link, resolve(c, n, t));
                free(t);
            } else if (name_is(l, "description"))
                set_once(&f->subtitle, read_text(c, n, K_HTML));
            else if (name_is(l, "language"))
                set_over(&f->lang, read_raw(c, n));
            else if (name_is(l, "lastBuildDate") || name_is(l, "pubDate"))
                set_once(&f->updated, read_date(c, n, l));
            else if (name_is(l, "ttl")) {
                char *t = read_raw(c, n);
                if (t)
                    f->ttl_minutes = atoi(t) > 0 && atoi(t) < 1000000 ? atoi(t) : 0;
                free(t);
            }
        } else if ((ns == NS_ATOM10 || ns == NS_ATOM03) && name_is(l, "link") && atom_alternate(n)) {
            set_once(&alt, atom_link(c, n));
        } else if (ns == NS_DC && name_is(l, "title")) {
            set_once(&f->title, read_text(c, n, K_HTML));
        } else if (ns == NS_DC && name_is(l, "language")) {
            set_once(&f->lang, read_raw(c, n));
        } else if (ns == NS_DC && name_is(l, "date")) {
            set_over(&f->updated, read_date(c, n, "dc:date"));
        } else if (ns == NS_SY && name_is(l, "updatePeriod")) {
            char *t = read_raw(c, n);
            period = t ? period_minutes(t) : 0;
            free(t);
        } else if (ns == NS_SY && name_is(l, "updateFrequency")) {
            char *t = read_raw(c, n);
            frequency = t && atoi(t) > 0 ? atoi(t) : 1;
            free(t);
        }
    }
    set_once(&f->link, alt);
    if (period)
        f->update_minutes = period / frequency > 0 ? period / frequency : 1;
}

static void rss_feed(struct ctx *c, const xmlNode *root, const char *root_name)
{
    struct feed *f = c->f;
    const char *version = attr(root, "version");
    if (!strcasecmp(root_name, "RDF")) {
        bool r090 = false;
        for (const xmlNode *n = root->children; n; n = n->next) {
            const char *l;
            if (n->type == XML_ELEMENT_NODE && classify(n, &l) == NS_RSS090)
                r090 = true;
        }
        f->format = nm_xstrdup(r090 ? "rss090" : "rss10");
    } else if (version && !strncmp(version, "0.9", 3) && strlen(version) == 4) {
        f->format = nm_xasprintf("rss09%c", version[3]);
    } else {
        f->format = nm_xstrdup("rss20");
    }
    if (!strcasecmp(root_name, "channel")) {
        rss_channel(c, root);
        return;
    }
    for (const xmlNode *n = root->children; n; n = n->next) {
        const char *l;
        if (n->type != XML_ELEMENT_NODE)
            continue;
        enum ns_id ns = classify(n, &l);
        if (!rss_core(ns))
            continue;
        if (name_is(l, "channel"))
            rss_channel(c, n);
        else if (name_is(l, "item"))
            rss_item(c, n);
    }
}

/* ---- bare ampersands ----------------------------------------------------- */

static bool name_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c >= 0x80;
}

/* Returns true when p (at '&') starts a well-formed reference. */
static bool is_reference(const char *p, const char *end)
{
    const char *q = p + 1, *d;
    if (q < end && *q == '#') {
        bool hex = ++q < end && (*q == 'x' || *q == 'X');
        q += hex;
        for (d = q; q < end && (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q)); q++)
            ;
        return q > d && q < end && *q == ';';
    }
    if (q >= end || !(isalpha((unsigned char)*q) || *q == '_' || (unsigned char)*q >= 0x80))
        return false;
    while (q < end && name_char((unsigned char)*q))
        q++;
    return q < end && *q == ';';
}

/* Returns the first "<!" in [p, end), or NULL. (glibc's memmem walks a
   two-byte needle a byte at a time; memchr for '<' is vectorised.) */
static const char *find_bang(const char *p, const char *end)
{
    while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        if (end - p >= 2 && p[1] == '!')
            return p;
        p++;
    }
    return NULL;
}

/* Returns a copy of s with each '&' that starts no reference written as
   "&amp;" (feeds put raw query strings in links), or NULL when there is
   none. CDATA sections and comments are left alone. */
static char *escape_bare_amps(const char *s, size_t len, size_t *out_len, size_t *count)
{
    const char *p = s, *end = s + len, *copied = s;
    const char *bang = find_bang(p, end);
    nm_buf b;
    nm_buf_init(&b);
    *count = 0;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp)
            break;
        if (bang && bang < amp) {
            const char *close = NULL;
            if (end - bang >= 9 && memcmp(bang, "<![CDATA[", 9) == 0)
                close = memmem(bang, (size_t)(end - bang), "]]>", 3);
            else if (end - bang >= 4 && memcmp(bang, "<!--", 4) == 0)
                close = memmem(bang + 4, (size_t)(end - bang - 4), "-->", 3);
            p = close ? close + 3 : bang + 2;
            if (p > end)
                p = end;
            bang = find_bang(p, end);
            continue;
        }
        if (!is_reference(amp, end)) {
            nm_buf_add(&b, copied, (size_t)(amp - copied));
            nm_buf_adds(&b, "&amp;");
            copied = amp + 1;
            (*count)++;
        }
        p = amp + 1;
    }
    if (!*count)
        return NULL;
    nm_buf_add(&b, copied, (size_t)(end - copied));
    *out_len = b.len;
    return nm_buf_steal(&b);
}

/* ---- entries read while parsing ------------------------------------------ */

/* A 5,000-item feed makes a tree of tens of megabytes that the walk then
   reads back cold. Instead, when an element closes that the walk will
   hand to rss_item or atom_entry, it is read at once, while its text is
   still in the cache, and its subtree freed, so the memory is reused for
   the next one. Everything an entry's reading looks at is in its subtree
   or its ancestors (xml:base, xml:lang), which are complete or open by
   then; nothing it does depends on the feed-level fields read later. */

enum entry_kind { E_NONE, E_RSS, E_ATOM };

/* Returns which reader the walk (rss_feed, rss_channel, atom_feed) will
   give the element n, just closed, to. */
static enum entry_kind walk_entry(const xmlNode *n, const xmlNode *root)
{
    const xmlNode *p = n->parent;
    const char *l, *rl, *pl;
    if (!root || !p || p->type != XML_ELEMENT_NODE || !n->name)
        return E_NONE;
    /* Most elements are neither: the local name says so cheaply. */
    const char *colon = strchr((const char *)n->name, ':');
    l = colon ? colon + 1 : (const char *)n->name;
    if (!name_is(l, "item") && !name_is(l, "entry"))
        return E_NONE;
    enum ns_id ns = classify(n, &l);
    classify(root, &rl);
    bool rss_root = name_is(rl, "rss") || name_is(rl, "RDF") || name_is(rl, "channel");
    if (p == root) {
        if (rss_root && rss_core(ns) && name_is(l, "item"))
            return E_RSS;
        if (name_is(rl, "feed") && atom_ns(ns, true) && name_is(l, "entry"))
            return E_ATOM;
        return E_NONE;
    }
    if (p->parent == root && rss_root && strcasecmp(rl, "channel") != 0 && rss_core(classify(p, &pl)) &&
        name_is(pl, "channel") && rss_core(ns) && name_is(l, "item"))
        return E_RSS;
    return E_NONE;
}

/* Reads entry n now, keeping aside the errors it records, and frees its
   subtree; n stays, marked, for the walk to replay its errors. */
static void read_early(struct ctx *c, xmlNode *n, enum entry_kind kind)
{
    struct feed *f = c->f;
    char **errors = f->errors;
    size_t n_errors = f->n_errors, dropped = f->n_errors_dropped;
    f->errors = NULL;
    f->n_errors = f->n_errors_dropped = 0;
    struct feed_limits all = *c->lim;
    all.max_errors = SIZE_MAX;  /* the cut is made at replay */
    const struct feed_limits *lim = c->lim;
    c->lim = &all;
    if (kind == E_RSS)
        rss_item(c, n);
    else
        atom_entry(c, n);
    c->lim = lim;
    struct early *e = nm_xcalloc(1, sizeof *e);
    e->errors = f->errors;
    e->n_errors = f->n_errors;
    e->next = c->early;
    c->early = e;
    f->errors = errors;
    f->n_errors = n_errors;
    f->n_errors_dropped = dropped;
    xmlFreeNodeList(n->children);
    n->children = n->last = NULL;
    n->_private = e;
    c->n_spans = 0; /* their nodes are gone */
}

/* Reads element n, just closed, early when the walk would read it as an entry. */
static void read_if_entry(struct ctx *c, xmlNode *n, const xmlNode *root)
{
    if (!c || !n || n->type != XML_ELEMENT_NODE || n->_private)
        return;
    enum entry_kind kind = walk_entry(n, root);
    if (kind != E_NONE)
        read_early(c, n, kind);
}

/* SAX2 end of an element: libxml2's tree building, then an entry is read early. */
static void entry_closed(void *vctxt, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = vctxt;
    xmlNodePtr n = ctxt->node;
    xmlSAX2EndElementNs(vctxt, localname, prefix, uri);
    if (ctxt->myDoc)
        read_if_entry(ctxt->_private, n, xmlDocGetRootElement(ctxt->myDoc));
}

/* The same for feed_xmlfast's tree; with defer_summaries, where the
   content of an element that holds one text node and nothing else is
   in the document is noted first (read_cand). */
static void fast_closed(void *arg, xmlNode *n, xmlNode *root, const char *inner, size_t inner_len)
{
    struct ctx *c = arg;
    if (c && c->f->defer_summaries && inner && n->children && !n->children->next &&
        n->children->type == XML_TEXT_NODE && n->children->content) {
        if (c->n_spans == NM_ARRAY_LEN(c->spans))
            c->n_spans = 0;
        c->spans[c->n_spans++] = (struct span){ n, inner, inner_len };
    }
    read_if_entry(c, n, root);
}

static void early_free(struct ctx *c)
{
    while (c->early) {
        struct early *e = c->early;
        c->early = e->next;
        for (size_t i = 0; i < e->n_errors; i++)
            free(e->errors[i]);
        free(e->errors);
        free(e);
    }
}

/* ---- entry point --------------------------------------------------------- */

/* The document, handed to libxml2 a piece at a time (xmlCtxtReadIO): given
   the whole buffer at once (xmlCtxtReadMemory), libxml2 copies all of it
   into its own input buffer first, megabytes of memory touched for
   nothing; read in pieces, the input buffer stays small as the parser
   discards what it has consumed. The parse itself is the same. */
struct source {
    const char *p, *end;
};

static int source_read(void *ctx, char *buf, int len)
{
    struct source *s = ctx;
    size_t n = (size_t)(s->end - s->p);
    if (len < 0)
        return -1;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(buf, s->p, n);
    s->p += n;
    return (int)n;
}

static int source_close(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Reads the document with feed_xmlfast; when it declines, whatever its
   entries read early added to the feed is taken back, and NULL returned. */
static xmlDocPtr fast_parse(struct ctx *c, const char *utf8, size_t len)
{
    struct feed *f = c->f;
    size_t n_entries = f->n_entries, dropped = f->n_entries_dropped;
    xmlDocPtr doc = xmlfast_read(utf8, len, fast_closed, c, NULL);
    if (doc)
        return doc;
    for (size_t i = n_entries; i < f->n_entries; i++)
        nm_article_clear(&f->entries[i]);
    f->n_entries = n_entries;
    f->n_entries_dropped = dropped;
    early_free(c);
    c->n_spans = 0;
    return NULL;
}

/* Reads the document with libxml2's parser in recovery mode into *doc
   (NULL when nothing could be read). Returns 0, or -1 with err. */
static int libxml2_parse(struct ctx *c, const char *utf8, size_t len, const char *base, xmlDocPtr *doc,
                         nm_err *err)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return nm_err_set(err, "cannot create an XML parser");
    ctxt->_private = c;
    ctxt->sax->getEntity = get_entity;
    ctxt->sax->serror = on_error;
    ctxt->sax->warning = NULL;
    ctxt->sax->endElementNs = entry_closed;
    int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOENT | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
               XML_PARSE_IGNORE_ENC | XML_PARSE_NOCDATA | XML_PARSE_COMPACT;
    struct source src = { utf8, utf8 + len };
    *doc = xmlCtxtReadIO(ctxt, source_read, source_close, &src, base, NULL, opts);
    xmlFreeParserCtxt(ctxt);
    return 0;
}

int feed_xml_parse(const char *utf8, size_t len, const char *base, const struct feed_limits *lim,
                   struct feed *f, nm_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    if (len > (size_t)INT32_MAX)
        return nm_err_set(err, "document too large for the XML parser");
    struct ctx c = { .f = f, .lim = lim, .base = base };
    nm_buf_init(&c.scratch);
    nm_buf_init(&c.probe);
    /* The fast reader declines any '&' that starts no reference, so what it
       reads never needed the escaping below. */
    xmlDocPtr doc = feed_xml_fast ? fast_parse(&c, utf8, len) : NULL;
    char *fixed = NULL;
    if (!doc) {
        size_t fixed_len = 0, bare = 0;
        if ((fixed = escape_bare_amps(utf8, len, &fixed_len, &bare)) != NULL) {
            feed_add_error(f, lim, "xml: %zu '&' not starting an entity reference read as text", bare);
            utf8 = fixed;
            len = fixed_len;
        }
        if (libxml2_parse(&c, utf8, len, base, &doc, err) < 0) {
            nm_buf_free(&c.scratch);
            nm_buf_free(&c.probe);
            free(fixed);
            return -1;
        }
    }
    int rc = 0;
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    const char *name = NULL;
    if (!root) {
        rc = nm_err_set(err, "not XML: %s", f->n_errors ? f->errors[0] : "no root element");
    } else {
        classify(root, &name);
        if (name_is(name, "rss") || name_is(name, "RDF") || name_is(name, "channel")) {
            rss_feed(&c, root, name);
        } else if (name_is(name, "feed")) {
            c.atom = true;
            atom_feed(&c, root);
        } else if (name_is(name, "html")) {
            rc = nm_err_set(err, "not a feed: an HTML page (root element <%s>)", name);
        } else {
            rc = nm_err_set(err, "not a feed: root element <%s> is not rss, rdf:RDF or feed", name);
        }
    }
    if (doc)
        xmlFreeDoc(doc);
    early_free(&c);
    nm_buf_free(&c.scratch);
    nm_buf_free(&c.probe);
    free(fixed);
    return rc;
}

char *feed_xml_text(const struct feed_text *t)
{
    nm_buf b;
    nm_buf_init(&b);
    /* Cannot fail: the reader read these bytes into the text node
       read_cand looked at, and noted no span holding anything else. */
    bool whole = xmlfast_text(t->src, t->len, &b);
    assert(whole);
    (void)whole;
    char *s = t->html ? html_to_text(nm_buf_cstr(&b), b.len) : text_collapse(nm_buf_cstr(&b), b.len);
    nm_buf_free(&b);
    feed_cut(s, t->max);
    return s;
}
