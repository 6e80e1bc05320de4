/*
 * extract_readability: finding the article in a page, after Mozilla
 * Readability (Readability.js 0.6, Apache licence), whose pages and
 * expected output are our quality corpus. The steps, in its words:
 *
 *  - prepare: drop scripts, styles, <font>; turn runs of <br> into <p>;
 *  - grab: walk the tree removing hidden nodes, dialogs, the byline, the
 *    heading that repeats the title, "unlikely candidates" (class or id
 *    like comment, sidebar, footer ... unless also like article, body,
 *    content, main), navigation roles; turn <div>s that hold no blocks
 *    into <p>s; score every paragraph (1 + commas + one per 100
 *    characters, up to 3) into its parent (whole), grandparent (half) and
 *    up to three more ancestors (a third of the level); weight ancestors by
 *    tag and by class/id words; scale by 1 - link density; take the best,
 *    climb to a parent holding several near-best candidates or scoring
 *    higher, then gather the siblings that score close or read as prose;
 *  - clean: forms, tables, lists and divs that look like navigation or
 *    widgets ("clean conditionally"), share widgets, iframes, inputs,
 *    negative-weight headings, empty paragraphs;
 *  - if under 500 characters survive, retry without stripping unlikely
 *    candidates, then without class weights, then without conditional
 *    cleaning, and keep the longest result.
 *
 * Not taken from 0.6: keeping any block that holds a data table. libxml2
 * builds old table layouts differently from an HTML5 parser, and with that
 * rule a sidebar table counted as data kept whole page wrappers.
 *
 * Beyond Readability: cookie/consent banners and language switchers count
 * as unlikely candidates and <nav> elements go with the navigation roles.
 * The result is handed back as plain text (extract_text); the per-node
 * score lives in node->_private, in an arena freed with the attempt.
 */
#include "fetcher/extract_int.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLAG_STRIP_UNLIKELYS 0x1
#define FLAG_WEIGHT_CLASSES 0x2
#define FLAG_CLEAN_CONDITIONALLY 0x4
#define CHAR_THRESHOLD 500
#define N_TOP_CANDIDATES 5

/* What Readability keeps on a node (node.readability, node._readabilityDataTable). */
struct rd_info {
    double score;
    bool scored;
    bool datatable;
};

/* One pass of the algorithm over one copy of the page. */
struct rd {
    xmlDoc *doc;
    int flags;
    const char *title;     /* the article title, to drop the heading that repeats it */
    char **byline;         /* where the byline found in the page goes (shared by the attempts) */
    bool have_byline;      /* the metadata named the author: leave bylines in the page alone */
    struct nodevec grave;  /* nodes taken out, freed with the pass */
    void **infos;          /* rd_info allocations */
    size_t n_infos, cap_infos;
    nm_buf tmp;
};

static regex_t re_unlikely, re_maybe, re_positive, re_negative, re_byline, re_share, re_videos;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void compile_regexes(void)
{
    const int f = REG_EXTENDED | REG_ICASE | REG_NOSUB;
    regcomp(&re_unlikely,
            "-ad-|ai2html|banner|breadcrumbs|combx|comment|community|cover-wrap|disqus|extra|footer|gdpr|"
            "header|legends|menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|sponsor|"
            "supplemental|ad-break|agegate|pagination|pager|popup|yom-remote|"
            "cookie|consent|lang-?switch|language-?(switch|select|picker|chooser)",
            f);
    regcomp(&re_maybe, "and|article|body|column|content|main|shadow", f);
    regcomp(&re_positive, "article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story", f);
    regcomp(&re_negative,
            "-ad-|hidden|^hid$| hid$| hid |^hid |banner|combx|comment|com-|contact|footer|gdpr|"
            "masthead|media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|"
            "shopping|tags|widget",
            f);
    regcomp(&re_byline, "byline|author|dateline|writtenby|p-author", f);
    regcomp(&re_share, "(\\b|_)(share|sharedaddy)(\\b|_)", f);
    regcomp(&re_videos,
            "//(www\\.)?((dailymotion|youtube|youtube-nocookie|player\\.vimeo|v\\.qq)\\.com|"
            "(archive|upload\\.wikimedia)\\.org|player\\.twitch\\.tv)",
            f);
}

static bool match(const regex_t *re, const char *s)
{
    return s && *s && regexec(re, s, 0, NULL, 0) == 0;
}

static const char *const tags_to_score[] = { "section", "h2", "h3", "h4", "h5", "h6", "p", "td", "pre", NULL };
static const char *const div_to_p_elems[] = { "blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul", NULL };
static const char *const alter_to_div_exceptions[] = { "div", "article", "section", "p", "ol", "ul", NULL };
static const char *const phrasing_elems[] = {
    "abbr", "audio", "b", "bdo", "br", "button", "cite", "code", "data", "datalist", "dfn", "em", "embed",
    "i", "img", "input", "kbd", "label", "mark", "math", "meter", "noscript", "object", "output",
    "progress", "q", "ruby", "samp", "script", "select", "small", "span", "strong", "sub", "sup",
    "textarea", "time", "var", "wbr", NULL,
};
static const char *const unlikely_roles[] = {
    "menu", "menubar", "complementary", "navigation", "alert", "alertdialog", "dialog", NULL,
};

/* ---------------------------------------------------------------- node data */

static struct rd_info *info(const xmlNode *n)
{
    return n ? (struct rd_info *)n->_private : NULL;
}

static struct rd_info *info_get(struct rd *rd, xmlNode *n)
{
    if (!n->_private) {
        if (rd->n_infos == rd->cap_infos) {
            rd->cap_infos = rd->cap_infos ? rd->cap_infos * 2 : 64;
            rd->infos = nm_xrealloc(rd->infos, rd->cap_infos * sizeof *rd->infos);
        }
        n->_private = rd->infos[rd->n_infos++] = nm_xcalloc(1, sizeof(struct rd_info));
    }
    return n->_private;
}

/* ---------------------------------------------------------------- predicates */

static bool is_text(const xmlNode *n)
{
    return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

/* Readability's _isPhrasingContent, without recursion. */
static bool is_phrasing(const xmlNode *root)
{
    if (is_text(root))
        return true;
    if (dom_is_any(root, phrasing_elems))
        return true;
    if (!dom_is(root, "a") && !dom_is(root, "del") && !dom_is(root, "ins"))
        return false;
    /* a, del, ins: every child must be phrasing, recursively for nested a/del/ins. */
    const xmlNode *n = root->children;
    while (n) {
        bool descend = false;
        if (is_text(n) || dom_is_any(n, phrasing_elems))
            ;
        else if (dom_is(n, "a") || dom_is(n, "del") || dom_is(n, "ins"))
            descend = n->children != NULL;
        else
            return false;
        if (descend) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next)
            n = n->parent;
        if (!n || n == root)
            break;
        n = n->next;
    }
    return true;
}

static bool is_whitespace(const xmlNode *n)
{
    return (is_text(n) && dom_text_blank(n)) || dom_is(n, "br");
}

/* Returns true when the last character of the text node is not whitespace (/\S$/). */
static bool ends_with_content(const xmlNode *n)
{
    const unsigned char *s = n->content;
    if (!s || !*s)
        return false;
    size_t len = strlen((const char *)s), i = len;
    while (i > 0 && (s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0)
        i--;
    /* i is at the start of the last character (or of a lone continuation run). */
    while (i > 0 && (s[i] & 0xC0) == 0x80)
        i--;
    return utf8_space_len(s + i) == 0;
}

static bool has_single_tag_inside(const xmlNode *e, const char *tag)
{
    if (dom_elem_count(e) != 1 || !dom_is(dom_first_elem(e), tag))
        return false;
    for (const xmlNode *c = e->children; c; c = c->next)
        if (is_text(c) && ends_with_content(c))
            return false;
    return true;
}

static bool is_without_content(const xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE || !dom_text_blank(n))
        return false;
    size_t kids = dom_elem_count(n);
    return kids == 0 || kids == dom_count(n, "br") + dom_count(n, "hr");
}

static bool has_child_block(xmlNode *e)
{
    return dom_find_any(e, div_to_p_elems) != NULL;
}

static bool has_ancestor(const xmlNode *n, const char *tag, int max_depth, bool data_table_only)
{
    int depth = 0;
    for (; n->parent && n->parent->type == XML_ELEMENT_NODE; n = n->parent, depth++) {
        if (max_depth > 0 && depth > max_depth)
            return false;
        if (dom_is(n->parent, tag) && (!data_table_only || (info(n->parent) && info(n->parent)->datatable)))
            return true;
    }
    return false;
}

/* Returns true when a style attribute sets property to value (e.g. display: none). */
static bool style_is(const char *style, const char *prop, const char *value)
{
    if (!style)
        return false;
    size_t pl = strlen(prop), vl = strlen(value);
    for (const char *p = style; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ';')
            p++;
        const char *decl = p;
        p += strcspn(p, ";");
        const char *colon = memchr(decl, ':', (size_t)(p - decl));
        if (!colon)
            continue;
        const char *ne = colon;
        while (ne > decl && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        if ((size_t)(ne - decl) != pl || strncasecmp(decl, prop, pl) != 0)
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strncasecmp(v, value, vl) == 0 && (v[vl] == 0 || v[vl] == ';' || v[vl] == ' ' || v[vl] == '!'))
            return true;
    }
    return false;
}

static bool is_probably_visible(const xmlNode *n)
{
    const char *style = dom_attr(n, "style");
    if (style_is(style, "display", "none") || style_is(style, "visibility", "hidden"))
        return false;
    if (dom_attr(n, "hidden"))
        return false;
    const char *ah = dom_attr(n, "aria-hidden");
    if (ah && strcmp(ah, "true") == 0) {
        const char *cls = dom_attr(n, "class");
        return cls && strstr(cls, "fallback-image");
    }
    return true;
}

/* ---------------------------------------------------------------- measures */

static double class_weight(struct rd *rd, const xmlNode *e)
{
    if (!(rd->flags & FLAG_WEIGHT_CLASSES))
        return 0;
    double w = 0;
    const char *cls = dom_attr(e, "class"), *id = dom_attr(e, "id");
    if (match(&re_negative, cls))
        w -= 25;
    if (match(&re_positive, cls))
        w += 25;
    if (match(&re_negative, id))
        w -= 25;
    if (match(&re_positive, id))
        w += 25;
    return w;
}

static double link_density(xmlNode *e)
{
    size_t tl = dom_inner_len(e);
    if (!tl)
        return 0;
    double ll = 0;
    static const char *const a_tag[] = { "a", NULL };
    struct nodevec links = { 0 };
    dom_collect(e, a_tag, &links);
    for (size_t i = 0; i < links.n; i++) {
        const char *href = dom_attr(links.v[i], "href");
        double coef = href && href[0] == '#' && href[1] ? 0.3 : 1;
        ll += (double)dom_inner_len(links.v[i]) * coef;
    }
    nodevec_free(&links);
    return ll / (double)tl;
}

/* Returns the number of commas (of any script) in s. */
static size_t count_commas(const char *s)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == ',')
            k++;
        else if (p[0] == 0xD8 && p[1] == 0x8C) /* U+060C */
            k++;
        else if (p[0] == 0xEF && ((p[1] == 0xB9 && p[2] == 0x90) || (p[1] == 0xB8 && (p[2] == 0x90 || p[2] == 0x91)) ||
                                  (p[1] == 0xBC && p[2] == 0x8C))) /* U+FE50 U+FE10 U+FE11 U+FF0C */
            k++;
        else if (p[0] == 0xE2 && p[1] == 0xB9 && (p[2] == 0x81 || p[2] == 0xB4 || p[2] == 0xB2)) /* U+2E41 U+2E34 U+2E32 */
            k++;
    }
    return k;
}

static size_t ascii_commas(const char *s)
{
    size_t k = 0;
    for (; *s; s++)
        k += *s == ',';
    return k;
}

/* ---------------------------------------------------------------- preparation */

static void remove_tags(struct rd *rd, xmlNode *root, const char *const *tags)
{
    struct nodevec nv = { 0 };
    dom_collect(root, tags, &nv);
    for (size_t i = nv.n; i-- > 0;)
        dom_remove(&rd->grave, nv.v[i]);
    nodevec_free(&nv);
}

/* Returns the first node from n on that is an element or non-blank text (Readability's _nextNode). */
static xmlNode *next_significant(xmlNode *n)
{
    while (n && n->type != XML_ELEMENT_NODE && (is_text(n) ? dom_text_blank(n) : true))
        n = n->next;
    return n;
}

/* Readability's _replaceBrs: two or more <br>s in a row start a <p>. */
static void replace_brs(struct rd *rd, xmlNode *body)
{
    static const char *const br_tag[] = { "br", NULL };
    struct nodevec brs = { 0 };
    dom_collect(body, br_tag, &brs);
    for (size_t i = 0; i < brs.n; i++) {
        xmlNode *br = brs.v[i], *next = br->next;
        if (!br->parent)
            continue;
        bool replaced = false;
        while ((next = next_significant(next)) && dom_is(next, "br")) {
            replaced = true;
            xmlNode *sib = next->next;
            dom_remove(&rd->grave, next);
            next = sib;
        }
        if (!replaced)
            continue;
        xmlNode *p = dom_new_elem(rd->doc, "p");
        dom_replace(br, p);
        nodevec_push(&rd->grave, br);
        next = p->next;
        while (next) {
            if (dom_is(next, "br")) {
                xmlNode *ne = next_significant(next->next);
                if (ne && dom_is(ne, "br"))
                    break;
            }
            if (!is_phrasing(next))
                break;
            xmlNode *sib = next->next;
            dom_append(p, next);
            next = sib;
        }
        while (p->last && is_whitespace(p->last))
            dom_remove(&rd->grave, p->last);
        if (dom_is(p->parent, "p"))
            dom_rename(p->parent, "div");
    }
    nodevec_free(&brs);
}

static xmlNode *find_body(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    for (xmlNode *c = root ? root->children : NULL; c; c = c->next)
        if (dom_is(c, "body"))
            return c;
    return NULL;
}

/* Readability's parse() preparation: scripts, styles, <br> runs, <font>. */
static void prep_document(struct rd *rd)
{
    xmlNode *root = xmlDocGetRootElement(rd->doc);
    if (!root)
        return;
    static const char *const scripts[] = { "script", "noscript", NULL };
    static const char *const styles[] = { "style", NULL };
    remove_tags(rd, root, scripts);
    remove_tags(rd, root, styles);
    xmlNode *body = find_body(rd->doc);
    if (body)
        replace_brs(rd, body);
    for (xmlNode *n = root; n; n = dom_next_node(n, false))
        if (dom_is(n, "font"))
            dom_rename(n, "span");
}

/* ---------------------------------------------------------------- grabbing */

static void init_node(struct rd *rd, xmlNode *n)
{
    struct rd_info *in = info_get(rd, n);
    in->scored = true;
    in->score = 0;
    const char *t = (const char *)n->name;
    if (strcmp(t, "div") == 0)
        in->score += 5;
    else if (strcmp(t, "pre") == 0 || strcmp(t, "td") == 0 || strcmp(t, "blockquote") == 0)
        in->score += 3;
    else if (strcmp(t, "address") == 0 || strcmp(t, "ol") == 0 || strcmp(t, "ul") == 0 || strcmp(t, "dl") == 0 ||
             strcmp(t, "dd") == 0 || strcmp(t, "dt") == 0 || strcmp(t, "li") == 0 || strcmp(t, "form") == 0)
        in->score -= 3;
    else if (dom_is_heading(n) || strcmp(t, "th") == 0)
        in->score -= 5;
    in->score += class_weight(rd, n);
}

static bool scored(const xmlNode *n)
{
    return info(n) && info(n)->scored;
}

static bool check_byline(struct rd *rd, xmlNode *n, const char *match_string)
{
    if (*rd->byline || rd->have_byline)
        return false;
    const char *rel = dom_attr(n, "rel"), *itemprop = dom_attr(n, "itemprop");
    if (!((rel && strcmp(rel, "author") == 0) || (itemprop && strstr(itemprop, "author")) ||
          match(&re_byline, match_string)))
        return false;
    nm_buf b;
    nm_buf_init(&b);
    dom_inner_text(n, &b);
    size_t len = utf8_chars(b.data ? b.data : "", b.len);
    if (len == 0 || len >= 100) {
        nm_buf_free(&b);
        return false;
    }
    /* Prefer the part marked itemprop=name (the name without "By" and the date). */
    xmlNode *end = dom_next_node(n, true);
    for (xmlNode *x = dom_next_node(n, false); x && x != end; x = dom_next_node(x, false)) {
        const char *ip = dom_attr(x, "itemprop");
        if (ip && strstr(ip, "name")) {
            nm_buf_reset(&b);
            dom_inner_text(x, &b);
            break;
        }
    }
    *rd->byline = nm_buf_steal(&b);
    return true;
}

static bool header_duplicates_title(struct rd *rd, xmlNode *n)
{
    if (!dom_is(n, "h1") && !dom_is(n, "h2"))
        return false;
    nm_buf_reset(&rd->tmp);
    dom_inner_text(n, &rd->tmp);
    return extract_text_similarity(rd->title, nm_buf_cstr(&rd->tmp)) > 0.75;
}

/* Wraps runs of phrasing content of a div into <p>s (Readability's first DIV step). */
static void wrap_phrasing(struct rd *rd, xmlNode *div)
{
    xmlNode *p = NULL;
    for (xmlNode *c = div->children, *next; c; c = next) {
        next = c->next;
        if (is_phrasing(c)) {
            if (p) {
                dom_append(p, c);
            } else if (!is_whitespace(c)) {
                p = dom_new_elem(rd->doc, "p");
                dom_replace(c, p);
                dom_append(p, c);
            }
        } else if (p) {
            while (p->last && is_whitespace(p->last))
                dom_remove(&rd->grave, p->last);
            p = NULL;
        }
    }
}

/* The first loop of _grabArticle: prune the tree and list the nodes to score. */
static void prune_and_collect(struct rd *rd, struct nodevec *to_score)
{
    bool remove_title_header = true;
    nm_buf ms;
    nm_buf_init(&ms);
    xmlNode *node = xmlDocGetRootElement(rd->doc);
    while (node) {
        dom_match_string(node, &ms);
        const char *mstr = nm_buf_cstr(&ms);
        const char *role = dom_attr(node, "role");
        const char *modal = dom_attr(node, "aria-modal");
        bool is_body = dom_is(node, "body");
        if (!is_probably_visible(node) ||
            (modal && strcmp(modal, "true") == 0 && role && strcmp(role, "dialog") == 0) ||
            check_byline(rd, node, mstr)) {
            node = dom_remove_and_next(&rd->grave, node);
            continue;
        }
        if (remove_title_header && header_duplicates_title(rd, node)) {
            remove_title_header = false;
            node = dom_remove_and_next(&rd->grave, node);
            continue;
        }
        if (rd->flags & FLAG_STRIP_UNLIKELYS) {
            if (match(&re_unlikely, mstr) && !match(&re_maybe, mstr) && !has_ancestor(node, "table", 3, false) &&
                !has_ancestor(node, "code", 3, false) && !is_body && !dom_is(node, "a")) {
                node = dom_remove_and_next(&rd->grave, node);
                continue;
            }
            bool bad_role = false;
            for (size_t i = 0; role && unlikely_roles[i]; i++)
                bad_role |= strcmp(role, unlikely_roles[i]) == 0;
            if (bad_role || dom_is(node, "nav")) {
                node = dom_remove_and_next(&rd->grave, node);
                continue;
            }
        }
        if ((dom_is(node, "div") || dom_is(node, "section") || dom_is(node, "header") || dom_is_heading(node)) &&
            is_without_content(node)) {
            node = dom_remove_and_next(&rd->grave, node);
            continue;
        }
        if (dom_is_any(node, tags_to_score))
            nodevec_push(to_score, node);
        if (dom_is(node, "div")) {
            wrap_phrasing(rd, node);
            if (has_single_tag_inside(node, "p") && link_density(node) < 0.25) {
                xmlNode *child = dom_first_elem(node);
                dom_replace(node, child);
                nodevec_push(&rd->grave, node);
                node = child;
                nodevec_push(to_score, node);
            } else if (!has_child_block(node)) {
                dom_rename(node, "p");
                nodevec_push(to_score, node);
            }
        }
        node = dom_next_node(node, false);
    }
    nm_buf_free(&ms);
}

static bool is_element(const xmlNode *n)
{
    return n && n->type == XML_ELEMENT_NODE;
}

/* Scores the paragraphs into their ancestors; appends the ancestors scored to candidates. */
static void score_paragraphs(struct rd *rd, struct nodevec *to_score, struct nodevec *candidates)
{
    for (size_t i = 0; i < to_score->n; i++) {
        xmlNode *e = to_score->v[i];
        if (!is_element(e->parent))
            continue;
        nm_buf_reset(&rd->tmp);
        dom_inner_text(e, &rd->tmp);
        size_t len = utf8_chars(nm_buf_cstr(&rd->tmp), rd->tmp.len);
        if (len < 25)
            continue;
        double score = 1 + (double)(count_commas(nm_buf_cstr(&rd->tmp)) + 1) + (double)(len / 100 < 3 ? len / 100 : 3);
        xmlNode *a = e->parent;
        for (int level = 0; a && level < 5; level++, a = a->parent) {
            if (!is_element(a) || !is_element(a->parent))
                continue;
            if (!scored(a)) {
                init_node(rd, a);
                nodevec_push(candidates, a);
            }
            double div = level == 0 ? 1 : level == 1 ? 2 : level * 3;
            info(a)->score += score / div;
        }
    }
}

/* Returns true when list (of ancestor chains) element i contains n. */
static bool chain_has(xmlNode *from, const xmlNode *n)
{
    for (xmlNode *a = from->parent; a; a = a->parent)
        if (a == n)
            return true;
    return false;
}

static xmlNode *pick_top(struct rd *rd, struct nodevec *candidates, xmlNode *body, bool *created)
{
    xmlNode *top[N_TOP_CANDIDATES] = { 0 };
    for (size_t i = 0; i < candidates->n; i++) {
        xmlNode *c = candidates->v[i];
        double s = info(c)->score * (1 - link_density(c));
        info(c)->score = s;
        for (int t = 0; t < N_TOP_CANDIDATES; t++) {
            if (!top[t] || s > info(top[t])->score) {
                memmove(top + t + 1, top + t, (N_TOP_CANDIDATES - t - 1) * sizeof *top);
                top[t] = c;
                break;
            }
        }
    }
    xmlNode *tc = top[0];
    *created = false;
    if (!tc || dom_is(tc, "body")) {
        tc = dom_new_elem(rd->doc, "div");
        while (body->children)
            dom_append(tc, body->children);
        dom_append(body, tc);
        init_node(rd, tc);
        *created = true;
        return tc;
    }
    /* Several near-best candidates under one ancestor: take the ancestor. */
    xmlNode *alts[N_TOP_CANDIDATES];
    size_t n_alts = 0;
    for (int t = 1; t < N_TOP_CANDIDATES && top[t]; t++)
        if (info(top[t])->score / info(tc)->score >= 0.75)
            alts[n_alts++] = top[t];
    if (n_alts >= 3) {
        for (xmlNode *p = tc->parent; is_element(p) && !dom_is(p, "body"); p = p->parent) {
            size_t k = 0;
            for (size_t i = 0; i < n_alts && k < 3; i++)
                k += chain_has(alts[i], p);
            if (k >= 3) {
                tc = p;
                break;
            }
        }
    }
    if (!scored(tc))
        init_node(rd, tc);
    /* Climb while the parents score higher (a sign that more content is around). */
    double last = info(tc)->score, threshold = last / 3;
    for (xmlNode *p = tc->parent; is_element(p) && !dom_is(p, "body"); p = p->parent) {
        if (!scored(p))
            continue;
        double ps = info(p)->score;
        if (ps < threshold)
            break;
        if (ps > last) {
            tc = p;
            break;
        }
        last = ps;
    }
    /* An only child: its parent is the better unit for the sibling step. */
    while (is_element(tc->parent) && !dom_is(tc->parent, "body") && dom_elem_count(tc->parent) == 1)
        tc = tc->parent;
    if (!scored(tc))
        init_node(rd, tc);
    return tc;
}

/* Gathers the top candidate and the siblings that belong with it into a new div. */
static xmlNode *gather(struct rd *rd, xmlNode *tc, bool created)
{
    xmlNode *article = dom_new_elem(rd->doc, "div");
    if (created || !is_element(tc->parent)) {
        dom_append(article, tc);
        return article;
    }
    double top_score = info(tc)->score;
    double threshold = top_score * 0.2 > 10 ? top_score * 0.2 : 10;
    const char *tcls = dom_attr(tc, "class");
    xmlNode *parent = tc->parent;
    for (xmlNode *s = dom_first_elem(parent), *next; s; s = next) {
        next = dom_next_elem(s);
        bool append = s == tc;
        if (!append) {
            double bonus = 0;
            const char *scls = dom_attr(s, "class");
            if (tcls && *tcls && scls && strcmp(scls, tcls) == 0)
                bonus += top_score * 0.2;
            if (scored(s) && info(s)->score + bonus >= threshold) {
                append = true;
            } else if (dom_is(s, "p")) {
                double ld = link_density(s);
                nm_buf_reset(&rd->tmp);
                dom_inner_text(s, &rd->tmp);
                const char *txt = nm_buf_cstr(&rd->tmp);
                size_t len = utf8_chars(txt, rd->tmp.len);
                if (len > 80 && ld < 0.25)
                    append = true;
                else if (len < 80 && len > 0 && ld == 0) {
                    const char *dot = strchr(txt, '.');
                    for (; dot; dot = strchr(dot + 1, '.'))
                        if (dot[1] == ' ' || dot[1] == 0)
                            break;
                    append = dot != NULL;
                }
            }
        }
        if (append) {
            if (!dom_is_any(s, alter_to_div_exceptions))
                dom_rename(s, "div");
            dom_append(article, s);
        }
    }
    return article;
}

/* ---------------------------------------------------------------- cleaning */

static bool attrs_match_video(const xmlNode *n)
{
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->children && a->children->type == XML_TEXT_NODE && match(&re_videos, (const char *)a->children->content))
            return true;
    return false;
}

/* Readability's _clean: remove every tag under e (embedded videos stay). */
static void clean_tag(struct rd *rd, xmlNode *e, const char *tag)
{
    const char *tags[] = { tag, NULL };
    bool embed = strcmp(tag, "object") == 0 || strcmp(tag, "embed") == 0 || strcmp(tag, "iframe") == 0;
    struct nodevec nv = { 0 };
    dom_collect(e, tags, &nv);
    for (size_t i = nv.n; i-- > 0;)
        if (!(embed && attrs_match_video(nv.v[i])))
            dom_remove(&rd->grave, nv.v[i]);
    nodevec_free(&nv);
}

static void mark_data_tables(struct rd *rd, xmlNode *root)
{
    static const char *const table_tag[] = { "table", NULL };
    struct nodevec tables = { 0 };
    dom_collect(root, table_tag, &tables);
    for (size_t i = 0; i < tables.n; i++) {
        xmlNode *t = tables.v[i];
        struct rd_info *in = info_get(rd, t);
        const char *role = dom_attr(t, "role"), *dt = dom_attr(t, "datatable"), *summary = dom_attr(t, "summary");
        in->datatable = false;
        if ((role && strcmp(role, "presentation") == 0) || (dt && strcmp(dt, "0") == 0))
            continue;
        if (summary && *summary) {
            in->datatable = true;
            continue;
        }
        static const char *const cap[] = { "caption", NULL };
        struct nodevec caps = { 0 };
        dom_collect(t, cap, &caps);
        bool has_caption = caps.n && caps.v[0]->children;
        nodevec_free(&caps);
        if (has_caption || dom_count(t, "col") || dom_count(t, "colgroup") || dom_count(t, "tfoot") ||
            dom_count(t, "thead") || dom_count(t, "th")) {
            in->datatable = true;
            continue;
        }
        if (dom_count(t, "table"))
            continue;
        static const char *const tr_tag[] = { "tr", NULL }, *const td_tag[] = { "td", NULL };
        struct nodevec trs = { 0 };
        dom_collect(t, tr_tag, &trs);
        long rows = 0, cols = 0;
        for (size_t r = 0; r < trs.n; r++) {
            const char *rs = dom_attr(trs.v[r], "rowspan");
            long span = rs ? strtol(rs, NULL, 10) : 0;
            rows += span > 0 && span < 1000 ? span : 1;
            struct nodevec tds = { 0 };
            dom_collect(trs.v[r], td_tag, &tds);
            long c = 0;
            for (size_t k = 0; k < tds.n; k++) {
                const char *cs = dom_attr(tds.v[k], "colspan");
                long cspan = cs ? strtol(cs, NULL, 10) : 0;
                c += cspan > 0 && cspan < 1000 ? cspan : 1;
            }
            nodevec_free(&tds);
            if (c > cols)
                cols = c;
        }
        nodevec_free(&trs);
        in->datatable = rows >= 10 || cols > 4 || rows * cols > 10;
    }
    nodevec_free(&tables);
}

static double text_density(xmlNode *e, const char *const *tags)
{
    size_t tl = dom_inner_len(e);
    if (!tl)
        return 0;
    struct nodevec nv = { 0 };
    dom_collect(e, tags, &nv);
    size_t cl = 0;
    for (size_t i = 0; i < nv.n; i++)
        cl += dom_inner_len(nv.v[i]);
    nodevec_free(&nv);
    return (double)cl / (double)tl;
}

/* Returns true when text is only an advertisement label or a loading notice
   (Readability's adWords and loadingWords). */
static bool is_ad_or_loading(const char *text)
{
    static const char *const words[] = {
        "ad", "advertising", "advertisement", "pub", "publicité", "werb", "werbung", "广告", "реклама",
        "anuncio", "loading", "正在加载", "загрузка", "chargement", "cargando", NULL,
    };
    char *low = extract_casefold(text);
    size_t n = strlen(low);
    if (n >= 3 && strcmp(low + n - 3, "...") == 0)
        low[n -= 3] = 0;
    else if (n >= 3 && strcmp(low + n - 3, "\xE2\x80\xA6") == 0)
        low[n -= 3] = 0;
    bool hit = false;
    for (size_t i = 0; words[i] && !hit; i++)
        hit = strcmp(low, words[i]) == 0;
    free(low);
    return hit;
}

/* Returns true when Readability's _cleanConditionally would remove node. */
static bool fishy(struct rd *rd, xmlNode *node, const char *tag)
{
    static const char *const lists[] = { "ul", "ol", NULL };
    static const char *const headings[] = { "h1", "h2", "h3", "h4", "h5", "h6", NULL };
    static const char *const embeds_t[] = { "object", "embed", "iframe", NULL };
    bool is_list = strcmp(tag, "ul") == 0 || strcmp(tag, "ol") == 0;
    if (!is_list) {
        struct nodevec nv = { 0 };
        dom_collect(node, lists, &nv);
        size_t ll = 0;
        for (size_t i = 0; i < nv.n; i++)
            ll += dom_inner_len(nv.v[i]);
        nodevec_free(&nv);
        size_t tl = dom_inner_len(node);
        is_list = ll && (!tl || (double)ll / (double)tl > 0.9);
    }
    if (strcmp(tag, "table") == 0 && info(node) && info(node)->datatable)
        return false;
    if (has_ancestor(node, "table", -1, true) || has_ancestor(node, "code", 3, false))
        return false;
    double weight = class_weight(rd, node);
    if (weight < 0)
        return true;
    nm_buf_reset(&rd->tmp);
    dom_inner_text(node, &rd->tmp);
    if (ascii_commas(nm_buf_cstr(&rd->tmp)) >= 10)
        return false;
    size_t content_len = utf8_chars(nm_buf_cstr(&rd->tmp), rd->tmp.len);
    double p = (double)dom_count(node, "p"), img = (double)dom_count(node, "img");
    double li = (double)dom_count(node, "li") - 100, input = (double)dom_count(node, "input");
    double heading_density = text_density(node, headings);
    struct nodevec emb = { 0 };
    dom_collect(node, embeds_t, &emb);
    for (size_t i = 0; i < emb.n; i++)
        if (attrs_match_video(emb.v[i])) {
            nodevec_free(&emb);
            return false;
        }
    size_t embed_count = emb.n;
    nodevec_free(&emb);
    if (is_ad_or_loading(nm_buf_cstr(&rd->tmp)))
        return true;
    double ld = link_density(node);
    static const char *const textish[] = {
        "span", "li", "td", "blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul", NULL,
    };
    double td = text_density(node, textish);
    bool in_figure = has_ancestor(node, "figure", 3, false);
    bool remove = (img > 1 && p / img < 0.5 && !in_figure) || (!is_list && li > p) || (input > floor(p / 3)) ||
                  (!is_list && !in_figure && heading_density < 0.9 && content_len < 25 && (img == 0 || img > 2) &&
                   ld > 0) ||
                  (!is_list && weight < 25 && ld > 0.2) || (weight >= 25 && ld > 0.5) ||
                  (embed_count == 1 && content_len < 75) || embed_count > 1 || (img == 0 && td == 0);
    if (is_list && remove) {
        for (xmlNode *c = dom_first_elem(node); c; c = dom_next_elem(c))
            if (dom_elem_count(c) > 1)
                return true;
        if (img == (double)dom_count(node, "li"))
            return false;
    }
    return remove;
}

static void clean_conditionally(struct rd *rd, xmlNode *e, const char *tag)
{
    if (!(rd->flags & FLAG_CLEAN_CONDITIONALLY))
        return;
    const char *tags[] = { tag, NULL };
    struct nodevec nv = { 0 };
    dom_collect(e, tags, &nv);
    for (size_t i = nv.n; i-- > 0;)
        if (nv.v[i]->parent && fishy(rd, nv.v[i], tag))
            dom_remove(&rd->grave, nv.v[i]);
    nodevec_free(&nv);
}

/* Removes the share widgets under e (small nodes whose class or id says share). */
static void clean_share(struct rd *rd, xmlNode *e)
{
    xmlNode *end = dom_next_node(e, true);
    xmlNode *next = dom_next_node(e, false);
    nm_buf ms, txt;
    nm_buf_init(&ms);
    nm_buf_init(&txt);
    while (next && next != end) {
        dom_match_string(next, &ms);
        bool drop = false;
        if (match(&re_share, nm_buf_cstr(&ms))) {
            nm_buf_reset(&txt);
            dom_text(next, &txt);
            drop = utf8_chars(nm_buf_cstr(&txt), txt.len) < CHAR_THRESHOLD;
        }
        next = drop ? dom_remove_and_next(&rd->grave, next) : dom_next_node(next, false);
    }
    nm_buf_free(&ms);
    nm_buf_free(&txt);
}

static void prep_article(struct rd *rd, xmlNode *article)
{
    mark_data_tables(rd, article);
    clean_conditionally(rd, article, "form");
    clean_conditionally(rd, article, "fieldset");
    static const char *const junk1[] = { "object", "embed", "footer", "link", "aside", NULL };
    for (size_t i = 0; junk1[i]; i++)
        clean_tag(rd, article, junk1[i]);
    for (xmlNode *c = dom_first_elem(article), *next; c; c = next) {
        next = dom_next_elem(c);
        clean_share(rd, c);
    }
    static const char *const junk2[] = { "iframe", "input", "textarea", "select", "button", NULL };
    for (size_t i = 0; junk2[i]; i++)
        clean_tag(rd, article, junk2[i]);
    static const char *const h12[] = { "h1", "h2", NULL };
    struct nodevec hs = { 0 };
    dom_collect(article, h12, &hs);
    for (size_t i = hs.n; i-- > 0;)
        if (class_weight(rd, hs.v[i]) < 0)
            dom_remove(&rd->grave, hs.v[i]);
    nodevec_free(&hs);
    clean_conditionally(rd, article, "table");
    clean_conditionally(rd, article, "ul");
    clean_conditionally(rd, article, "div");
    static const char *const p_tag[] = { "p", NULL };
    struct nodevec ps = { 0 };
    dom_collect(article, p_tag, &ps);
    for (size_t i = ps.n; i-- > 0;) {
        xmlNode *p = ps.v[i];
        if (!dom_count(p, "img") && !dom_count(p, "embed") && !dom_count(p, "object") && !dom_count(p, "iframe") &&
            dom_text_blank(p))
            dom_remove(&rd->grave, p);
    }
    nodevec_free(&ps);
}

/* ---------------------------------------------------------------- driver */

static void zero_private(xmlDoc *doc)
{
    for (xmlNode *n = xmlDocGetRootElement(doc); n; n = dom_next_node(n, false))
        n->_private = NULL;
}

static void rd_end(struct rd *rd)
{
    dom_graveyard_free(&rd->grave);
    for (size_t i = 0; i < rd->n_infos; i++)
        free(rd->infos[i]);
    nm_free(&rd->infos);
    rd->n_infos = rd->cap_infos = 0;
    nm_buf_free(&rd->tmp);
}

/* One attempt of _grabArticle on doc with flags. Returns the article text
   (malloc'd) and sets *len to Readability's measure of it. */
static char *grab_article(xmlDoc *doc, int flags, const char *title, bool have_byline, char **byline, size_t *len)
{
    struct rd rd = { .doc = doc, .flags = flags, .title = title, .byline = byline, .have_byline = have_byline };
    nm_buf_init(&rd.tmp);
    zero_private(doc);
    xmlNode *body = find_body(doc);
    char *text = NULL;
    *len = 0;
    if (body) {
        struct nodevec to_score = { 0 }, candidates = { 0 };
        prune_and_collect(&rd, &to_score);
        score_paragraphs(&rd, &to_score, &candidates);
        bool created;
        xmlNode *tc = pick_top(&rd, &candidates, body, &created);
        nodevec_free(&to_score);
        nodevec_free(&candidates);
        xmlNode *article = gather(&rd, tc, created);
        prep_article(&rd, article);
        *len = dom_inner_len(article);
        nm_buf out;
        nm_buf_init(&out);
        extract_text(article, &out);
        text = nm_buf_steal(&out);
        nodevec_push(&rd.grave, article);
    }
    rd_end(&rd);
    return text;
}

char *extract_readability_text(xmlDoc *doc, const char *title, bool have_byline, char **byline)
{
    pthread_once(&re_once, compile_regexes);
    struct rd prep = { .doc = doc };
    prep_document(&prep);
    rd_end(&prep);

    int flags = FLAG_STRIP_UNLIKELYS | FLAG_WEIGHT_CLASSES | FLAG_CLEAN_CONDITIONALLY;
    static const int drop_order[] = { FLAG_STRIP_UNLIKELYS, FLAG_WEIGHT_CLASSES, FLAG_CLEAN_CONDITIONALLY };
    char *best = NULL;
    size_t best_len = 0;
    for (size_t attempt = 0; attempt <= NM_ARRAY_LEN(drop_order); attempt++) {
        bool last = attempt == NM_ARRAY_LEN(drop_order);
        xmlDoc *copy = last ? doc : xmlCopyDoc(doc, 1);
        size_t len;
        char *text = grab_article(copy ? copy : doc, flags, title, have_byline, byline, &len);
        if (copy && copy != doc)
            xmlFreeDoc(copy);
        if (text && len >= CHAR_THRESHOLD) {
            free(best);
            return text;
        }
        if (text && (!best || len > best_len)) {
            free(best);
            best = text;
            best_len = len;
        } else {
            free(text);
        }
        if (!last)
            flags &= ~drop_order[attempt];
    }
    if (best && !best_len)
        nm_free(&best);
    return best;
}
