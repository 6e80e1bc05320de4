/*
 * extract_dom: the DOM vocabulary the extractor is written in, on libxml2
 * trees. Everything here is iterative (no recursion over the tree), so a
 * deep document costs time, never stack. Text lengths are counted in code
 * points where Readability counts UTF-16 units; the two agree on the
 * scripts newsmon reads.
 */
#include "fetcher/extract_int.h"

#include <string.h>
#include <utf8proc.h>

void nodevec_push(struct nodevec *nv, xmlNode *n)
{
    if (nv->n == nv->cap) {
        nv->cap = nv->cap ? nv->cap * 2 : 16;
        nv->v = nm_xrealloc(nv->v, nv->cap * sizeof *nv->v);
    }
    nv->v[nv->n++] = n;
}

void nodevec_free(struct nodevec *nv)
{
    nm_free(&nv->v);
    nv->n = nv->cap = 0;
}

bool dom_is(const xmlNode *n, const char *tag)
{
    return n && n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, tag) == 0;
}

bool dom_is_any(const xmlNode *n, const char *const *tags)
{
    if (!n || n->type != XML_ELEMENT_NODE || !n->name)
        return false;
    const char *name = (const char *)n->name;
    for (; *tags; tags++)
        if ((*tags)[0] == name[0] && strcmp(name, *tags) == 0)
            return true;
    return false;
}

bool dom_is_heading(const xmlNode *n)
{
    return n && n->type == XML_ELEMENT_NODE && n->name && n->name[0] == 'h' &&
           n->name[1] >= '1' && n->name[1] <= '6' && n->name[2] == 0;
}

const char *dom_attr(const xmlNode *n, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (!a->name || strcasecmp((const char *)a->name, name) != 0)
            continue;
        if (!a->children)
            return "";
        if (a->children->type == XML_TEXT_NODE && !a->children->next)
            return a->children->content ? (const char *)a->children->content : "";
        return "";
    }
    return NULL;
}

void dom_set_attr(xmlNode *n, const char *name, const char *value)
{
    xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

xmlNode *dom_first_elem(const xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

xmlNode *dom_next_elem(const xmlNode *n)
{
    for (xmlNode *c = n ? n->next : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

xmlNode *dom_prev_elem(const xmlNode *n)
{
    for (xmlNode *c = n ? n->prev : NULL; c; c = c->prev)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

size_t dom_elem_count(const xmlNode *n)
{
    size_t k = 0;
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        k += c->type == XML_ELEMENT_NODE;
    return k;
}

xmlNode *dom_next_node(xmlNode *n, bool skip_kids)
{
    xmlNode *c;
    if (!skip_kids && (c = dom_first_elem(n)))
        return c;
    if ((c = dom_next_elem(n)))
        return c;
    do {
        n = n->parent;
    } while (n && n->type == XML_ELEMENT_NODE && !dom_next_elem(n));
    return n && n->type == XML_ELEMENT_NODE ? dom_next_elem(n) : NULL;
}

void dom_unlink(xmlNode *n)
{
    xmlNode *p = n->parent;
    if (!p) {
        n->prev = n->next = NULL;
        return;
    }
    if (p->children == n)
        p->children = n->next;
    if (p->last == n)
        p->last = n->prev;
    if (n->prev)
        n->prev->next = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->parent = n->prev = n->next = NULL;
}

void dom_append(xmlNode *parent, xmlNode *child)
{
    dom_unlink(child);
    child->parent = parent;
    child->prev = parent->last;
    if (parent->last)
        parent->last->next = child;
    else
        parent->children = child;
    parent->last = child;
}

void dom_replace(xmlNode *old, xmlNode *repl)
{
    if (repl == old)
        return;
    dom_unlink(repl);
    xmlNode *p = old->parent;
    if (!p)
        return;
    repl->parent = p;
    repl->prev = old->prev;
    repl->next = old->next;
    if (old->prev)
        old->prev->next = repl;
    else
        p->children = repl;
    if (old->next)
        old->next->prev = repl;
    else
        p->last = repl;
    old->parent = old->prev = old->next = NULL;
}

xmlNode *dom_new_elem(xmlDoc *doc, const char *tag)
{
    return xmlNewDocNode(doc, NULL, (const xmlChar *)tag, NULL);
}

void dom_rename(xmlNode *n, const char *tag)
{
    xmlNodeSetName(n, (const xmlChar *)tag);
}

void dom_remove(struct nodevec *graveyard, xmlNode *n)
{
    dom_unlink(n);
    nodevec_push(graveyard, n);
}

xmlNode *dom_remove_and_next(struct nodevec *graveyard, xmlNode *n)
{
    xmlNode *next = dom_next_node(n, true);
    dom_remove(graveyard, n);
    return next;
}

void dom_graveyard_free(struct nodevec *graveyard)
{
    for (size_t i = 0; i < graveyard->n; i++)
        xmlFreeNode(graveyard->v[i]);
    nodevec_free(graveyard);
}

/* Returns the node after n in a walk of root's subtree (all node types), or NULL at the end. */
static const xmlNode *walk_next(const xmlNode *root, const xmlNode *n, bool skip_kids)
{
    if (!skip_kids && n->type == XML_ELEMENT_NODE && n->children)
        return n->children;
    while (n && n != root) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

static bool is_text(const xmlNode *n)
{
    return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

void dom_text(const xmlNode *n, nm_buf *b)
{
    if (is_text(n)) {
        if (n->content)
            nm_buf_adds(b, (const char *)n->content);
        return;
    }
    for (const xmlNode *c = n->children ? n->children : NULL; c; c = walk_next(n, c, false))
        if (is_text(c) && c->content)
            nm_buf_adds(b, (const char *)c->content);
}

size_t utf8_space_len(const unsigned char *s)
{
    switch (s[0]) {
    case ' ': case '\t': case '\n': case '\r': case '\f': case '\v':
        return 1;
    case 0xC2:
        return s[1] == 0xA0 ? 2 : 0;
    case 0xE1:
        return s[1] == 0x9A && s[2] == 0x80 ? 3 : 0;
    case 0xE2:
        if (s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
            return 3;
        return s[1] == 0x81 && s[2] == 0x9F ? 3 : 0;
    case 0xE3:
        return s[1] == 0x80 && s[2] == 0x80 ? 3 : 0;
    case 0xEF:
        return s[1] == 0xBB && s[2] == 0xBF ? 3 : 0;
    default:
        return 0;
    }
}

size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* State of a whitespace-collapsing scan over several text nodes. */
struct collapse {
    nm_buf *out;        /* NULL when only counting */
    size_t len;         /* characters emitted */
    bool pending_space; /* whitespace seen after the last emitted character */
};

static bool ascii_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void collapse_feed(struct collapse *c, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        if (ascii_space(*s)) {
            c->pending_space = true;
            s++;
            continue;
        }
        size_t w;
        if (*s >= 0x80 && (w = utf8_space_len(s))) {
            c->pending_space = true;
            s += w;
            continue;
        }
        if (c->pending_space && c->len) {
            if (c->out)
                nm_buf_addc(c->out, ' ');
            c->len++;
        }
        c->pending_space = false;
        /* A run of non-space characters, copied and counted at once. */
        const unsigned char *start = s;
        size_t chars = 0;
        while (*s && !ascii_space(*s) && !(*s >= 0x80 && utf8_space_len(s))) {
            chars += (*s & 0xC0) != 0x80;
            s++;
        }
        if (c->out)
            nm_buf_add(c->out, start, (size_t)(s - start));
        c->len += chars;
    }
}

static void collapse_node(const xmlNode *n, struct collapse *c)
{
    if (is_text(n)) {
        if (n->content)
            collapse_feed(c, (const char *)n->content);
        return;
    }
    for (const xmlNode *x = n->children; x; x = walk_next(n, x, false))
        if (is_text(x) && x->content)
            collapse_feed(c, (const char *)x->content);
}

void dom_inner_text(const xmlNode *n, nm_buf *b)
{
    struct collapse c = { b, 0, false };
    collapse_node(n, &c);
}

size_t dom_inner_len(const xmlNode *n)
{
    struct collapse c = { NULL, 0, false };
    collapse_node(n, &c);
    return c.len;
}

bool dom_text_blank(const xmlNode *n)
{
    if (is_text(n)) {
        const unsigned char *s = n->content;
        if (!s)
            return true;
        for (size_t w; *s; s += w)
            if (!(w = utf8_space_len(s)))
                return false;
        return true;
    }
    for (const xmlNode *x = n->children; x; x = walk_next(n, x, false))
        if (is_text(x) && !dom_text_blank(x))
            return false;
    return true;
}

void dom_collect(xmlNode *root, const char *const *tags, struct nodevec *out)
{
    for (const xmlNode *x = root->children; x; x = walk_next(root, x, false))
        if (dom_is_any(x, tags))
            nodevec_push(out, (xmlNode *)x);
}

xmlNode *dom_find_any(xmlNode *root, const char *const *tags)
{
    for (const xmlNode *x = root->children; x; x = walk_next(root, x, false))
        if (dom_is_any(x, tags))
            return (xmlNode *)x;
    return NULL;
}

size_t dom_count(const xmlNode *root, const char *tag)
{
    size_t k = 0;
    for (const xmlNode *x = root->children; x; x = walk_next(root, x, false))
        k += dom_is(x, tag);
    return k;
}

void dom_match_string(const xmlNode *n, nm_buf *b)
{
    const char *cls = dom_attr(n, "class"), *id = dom_attr(n, "id");
    nm_buf_reset(b);
    nm_buf_adds(b, cls ? cls : "");
    nm_buf_addc(b, ' ');
    nm_buf_adds(b, id ? id : "");
}

char *extract_casefold(const char *s)
{
    nm_buf b;
    nm_buf_init(&b);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_int32_t cp;
    bool space = false;
    for (;;) {
        size_t w = utf8_space_len(p);
        if (w) {
            space = true;
            p += w;
            continue;
        }
        if (!*p)
            break;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);
        if (k <= 0) {
            p++;
            continue;
        }
        p += k;
        if (space && b.len)
            nm_buf_addc(&b, ' ');
        space = false;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        nm_buf_add(&b, enc, (size_t)n);
    }
    return nm_buf_steal(&b);
}
