/*
 * extract: the page extractor's entry point (see extract.h). It owns the
 * order of the steps: decode, parse, read the metadata (before scripts
 * go, as JSON-LD lives in scripts), apply the site's rule if any, run the
 * Readability pass, and fall back to JSON-LD's articleBody or the body's
 * text when that finds too little.
 */
#include "fetcher/extract.h"

#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/extract_int.h"
#include "fetcher/site_rules.h"

/* Below this many characters a Readability result loses to a longer articleBody. */
#define SHORT_TEXT 500

void extract_result_clear(struct extract_result *r)
{
    nm_free(&r->title);
    nm_free(&r->byline);
    nm_free(&r->published);
    nm_free(&r->lang);
    nm_free(&r->site_name);
    nm_free(&r->text);
    r->method = NULL;
    r->charset = NULL;
}

/* Drops the subtrees nested deeper than EXTRACT_MAX_DEPTH. Returns the number of elements left. */
static size_t limit_tree(xmlDoc *doc, struct nodevec *grave)
{
    size_t count = 0;
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *n = root;
    int depth = 0;
    while (n) {
        count++;
        xmlNode *kid = dom_first_elem(n);
        if (kid && depth + 1 >= EXTRACT_MAX_DEPTH) {
            for (xmlNode *c = n->children, *next; c; c = next) {
                next = c->next;
                dom_unlink(c);
                nodevec_push(grave, c);
            }
            kid = NULL;
        }
        if (kid) {
            n = kid;
            depth++;
            continue;
        }
        while (n && n != root && !dom_next_elem(n)) {
            n = n->parent;
            depth--;
        }
        n = n && n != root ? dom_next_elem(n) : NULL;
    }
    return count;
}

/* Runs an XPath expression on doc. Returns the node set object (free with xmlXPathFreeObject) or NULL. */
static xmlXPathObjectPtr xpath(xmlDoc *doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (!ctx)
        return NULL;
    xmlXPathObjectPtr res = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    xmlXPathFreeContext(ctx);
    if (res && (res->type != XPATH_NODESET || !res->nodesetval)) {
        xmlXPathFreeObject(res);
        res = NULL;
    }
    return res;
}

static void apply_remove(xmlDoc *doc, const char *expr)
{
    xmlXPathObjectPtr res = xpath(doc, expr);
    if (!res)
        return;
    struct nodevec grave = { 0 };
    /* Unlink all first: an inner match unlinked from an outer one is freed only once. */
    for (int i = 0; i < res->nodesetval->nodeNr; i++) {
        xmlNode *n = res->nodesetval->nodeTab[i];
        if (n->type == XML_ELEMENT_NODE) {
            dom_unlink(n);
            nodevec_push(&grave, n);
        }
    }
    xmlXPathFreeObject(res);
    dom_graveyard_free(&grave);
}

/* Returns the text of the nodes matching expr (outermost matches only, page order), malloc'd. */
static char *apply_content(xmlDoc *doc, const char *expr)
{
    xmlXPathObjectPtr res = xpath(doc, expr);
    if (!res)
        return NULL;
    nm_buf out, part;
    nm_buf_init(&out);
    nm_buf_init(&part);
    xmlNodeSetPtr set = res->nodesetval;
    for (int i = 0; i < set->nodeNr; i++) {
        xmlNode *n = set->nodeTab[i];
        if (n->type != XML_ELEMENT_NODE)
            continue;
        bool nested = false;
        for (xmlNode *a = n->parent; a && !nested; a = a->parent)
            nested = xmlXPathNodeSetContains(set, a);
        if (nested)
            continue;
        nm_buf_reset(&part);
        extract_text(n, &part);
        if (!part.len)
            continue;
        if (out.len)
            nm_buf_adds(&out, "\n\n");
        nm_buf_add(&out, part.data, part.len);
    }
    xmlXPathFreeObject(res);
    nm_buf_free(&part);
    if (!out.len) {
        nm_buf_free(&out);
        return NULL;
    }
    return nm_buf_steal(&out);
}

static xmlNode *body_of(xmlDoc *doc)
{
    for (xmlNode *n = xmlDocGetRootElement(doc); n; n = dom_next_node(n, false))
        if (dom_is(n, "body"))
            return n;
    return xmlDocGetRootElement(doc);
}

/* Returns the text of the page's body, scripts and styles left out, malloc'd. */
static char *body_text(xmlDoc *doc)
{
    xmlNode *body = body_of(doc);
    nm_buf out;
    nm_buf_init(&out);
    if (body)
        extract_text(body, &out);
    return nm_buf_steal(&out);
}

/* Returns s trimmed, or NULL when s is NULL or blank; takes ownership of s. */
static char *nonblank(char *s)
{
    if (!s)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t w; *p && (w = utf8_space_len(p)); p += w)
        ;
    if (!*p) {
        free(s);
        return NULL;
    }
    return s;
}

static void find_text(xmlDoc *doc, const char *url, const struct site_rules *rules, const struct extract_meta *m,
                      size_t n_elems, char **byline, struct extract_result *out)
{
    const struct site_rule *rule = site_rules_find(rules, url);
    if (rule && rule->remove_xpath)
        apply_remove(doc, rule->remove_xpath);
    if (rule && rule->content_xpath && (out->text = apply_content(doc, rule->content_xpath))) {
        out->method = "site-rule";
        return;
    }
    char *text = NULL;
    if (n_elems <= EXTRACT_MAX_ELEMENTS)
        text = nonblank(extract_readability_text(doc, m->title ? m->title : "", m->byline != NULL, byline));
    size_t tl = text ? utf8_chars(text, strlen(text)) : 0;
    if (m->json_ld_body && tl < SHORT_TEXT) {
        nm_buf b;
        nm_buf_init(&b);
        /* articleBody is plain text, but some sites put HTML in it: parse it as a fragment. */
        htmlDocPtr frag = htmlReadMemory(m->json_ld_body, (int)strlen(m->json_ld_body), NULL, "UTF-8",
                                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                         HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED);
        if (frag) {
            for (xmlNode *c = frag->children; c; c = c->next)
                extract_text(c, &b);
            xmlFreeDoc(frag);
        }
        if (utf8_chars(nm_buf_cstr(&b), b.len) > tl) {
            free(text);
            out->text = nm_buf_steal(&b);
            out->method = "json-ld articleBody";
            return;
        }
        nm_buf_free(&b);
    }
    if (text) {
        out->text = text;
        out->method = "readability";
        return;
    }
    out->text = nonblank(body_text(doc));
    out->method = out->text ? "fallback body" : "none";
    if (!out->text)
        out->text = nm_xstrdup("");
}

int extract_page(const char *html, size_t len, const char *url, const char *http_charset,
                 const struct site_rules *rules, struct extract_result *out, nm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!html)
        return nm_err_set(err, "extract: no page");
    if (len > EXTRACT_MAX_INPUT)
        len = EXTRACT_MAX_INPUT;
    size_t ulen;
    char *utf8 = extract_to_utf8(html, len, http_charset, &ulen, &out->charset);
    if (ulen > (size_t)0x7fffffff)
        ulen = 0x7fffffff;
    htmlDocPtr doc = ulen ? htmlReadMemory(utf8, (int)ulen, url, "UTF-8",
                                           HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                           HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT)
                          : NULL;
    free(utf8);
    if (!doc || !xmlDocGetRootElement(doc)) {
        if (doc)
            xmlFreeDoc(doc);
        out->text = nm_xstrdup("");
        out->method = "none";
        return 0;
    }
    struct nodevec grave = { 0 };
    size_t n_elems = limit_tree(doc, &grave);
    dom_graveyard_free(&grave);

    struct extract_meta m;
    extract_meta_read(doc, &m);
    char *found_byline = NULL;
    find_text(doc, url, rules, &m, n_elems, &found_byline, out);

    out->title = nonblank(m.title);
    m.title = NULL;
    out->byline = nonblank(m.byline ? m.byline : found_byline);
    if (m.byline)
        free(found_byline);
    m.byline = NULL;
    out->published = extract_date(m.published);
    out->lang = nonblank(m.lang);
    m.lang = NULL;
    out->site_name = nonblank(m.site_name);
    m.site_name = NULL;
    extract_meta_clear(&m);
    xmlFreeDoc(doc);
    return 0;
}
