/*
 * extract_text: an article subtree as plain text, the way a reader sees
 * it: block elements (paragraphs, headings, quotes, figures ...) separated
 * by a blank line, list items and table rows by a line break, table cells
 * by a space, inline elements joined as they are rendered, whitespace
 * collapsed except inside <pre>. Entities were decoded by the parser.
 * Lines that are only an advertisement label ("ADVERTISEMENT",
 * "Реклама" ...) are dropped: sites leave them between paragraphs.
 */
#include "fetcher/extract_int.h"

#include <string.h>
#include <strings.h>

enum brk { BRK_NONE, BRK_SPACE, BRK_LINE, BRK_PARA };

static const char *const para_tags[] = {
    "address", "article", "aside", "blockquote", "body", "center", "details", "dialog", "dir", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "form", "frameset", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "legend", "listing", "main", "menu", "nav", "ol", "p", "plaintext",
    "pre", "section", "summary", "table", "ul", "xmp", "caption", "tbody", "thead", "tfoot", NULL,
};
static const char *const line_tags[] = { "li", "tr", "dt", "dd", "br", "option", NULL };
static const char *const space_tags[] = { "td", "th", NULL };
static const char *const skip_tags[] = { "script", "style", "noscript", "template", "head", "title", NULL };

/* Labels that, alone on a line, mark an advertisement slot. */
static const char *const ad_labels[] = {
    "advertisement", "advertisements", "advertising", "advert", "sponsored", "sponsored content",
    "реклама", "рэклама", "reklama", "anzeige", "publicité", "publicidad", "story continues below advertisement",
    "article continues below advertisement", "continue reading below", NULL,
};

struct writer {
    nm_buf *out;
    enum brk pending;
    int pre;
};

static void flush(struct writer *w)
{
    if (w->out->len) {
        if (w->pending == BRK_SPACE)
            nm_buf_addc(w->out, ' ');
        else if (w->pending == BRK_LINE)
            nm_buf_addc(w->out, '\n');
        else if (w->pending == BRK_PARA)
            nm_buf_adds(w->out, "\n\n");
    }
    w->pending = BRK_NONE;
}

static void want(struct writer *w, enum brk b)
{
    if (b > w->pending)
        w->pending = b;
}

static void text(struct writer *w, const unsigned char *s)
{
    while (*s) {
        if (w->pre) {
            if (*s == '\n') {
                want(w, BRK_LINE);
                s++;
                continue;
            }
            if (*s == '\r') {
                s++;
                continue;
            }
        } else {
            size_t sp = utf8_space_len(s);
            if (sp) {
                want(w, BRK_SPACE);
                s += sp;
                continue;
            }
        }
        flush(w);
        const unsigned char *st = s++;
        while ((*s & 0xC0) == 0x80)
            s++;
        nm_buf_add(w->out, st, (size_t)(s - st));
    }
}

static enum brk break_of(const xmlNode *n)
{
    if (dom_is_any(n, para_tags))
        return BRK_PARA;
    if (dom_is_any(n, line_tags))
        return BRK_LINE;
    if (dom_is_any(n, space_tags))
        return BRK_SPACE;
    return BRK_NONE;
}

static void enter(struct writer *w, const xmlNode *n)
{
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content)
            text(w, n->content);
        return;
    }
    if (n->type != XML_ELEMENT_NODE)
        return;
    want(w, break_of(n));
    if (dom_is(n, "pre") || dom_is(n, "listing") || dom_is(n, "xmp") || dom_is(n, "plaintext"))
        w->pre++;
}

static void leave(struct writer *w, const xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE)
        return;
    enum brk b = break_of(n);
    if (!dom_is(n, "br"))
        want(w, b);
    if (dom_is(n, "pre") || dom_is(n, "listing") || dom_is(n, "xmp") || dom_is(n, "plaintext"))
        w->pre--;
}

/* Returns true when line (n bytes, trimmed) is an advertisement label. */
static bool is_ad_label(const char *line, size_t n)
{
    char *raw = nm_xstrndup(line, n);
    char *low = extract_casefold(raw);
    bool hit = false;
    for (size_t i = 0; ad_labels[i] && !hit; i++)
        hit = strcmp(low, ad_labels[i]) == 0;
    free(low);
    free(raw);
    return hit;
}

/* Copies text to out without ad-label lines, at most one blank line in a row, trimmed. */
static void filter_lines(const char *s, size_t len, nm_buf *out)
{
    size_t blank = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && s[e] != '\n')
            e++;
        size_t a = i, b = e;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (a == b) {
            blank++;
        } else if (!is_ad_label(s + a, b - a)) {
            if (out->len)
                nm_buf_adds(out, blank ? "\n\n" : "\n");
            nm_buf_add(out, s + i, b - i);
            blank = 0;
        }
        i = e + 1;
    }
}

void extract_text(const xmlNode *root, nm_buf *out)
{
    nm_buf raw;
    nm_buf_init(&raw);
    struct writer w = { &raw, BRK_NONE, 0 };
    const xmlNode *n = root;
    enter(&w, n);
    if (n->type == XML_ELEMENT_NODE && n->children && !dom_is_any(n, skip_tags)) {
        n = n->children;
        for (;;) {
            enter(&w, n);
            if (n->type == XML_ELEMENT_NODE && n->children && !dom_is_any(n, skip_tags)) {
                n = n->children;
                continue;
            }
            leave(&w, n);
            while (!n->next && n->parent != root) {
                n = n->parent;
                leave(&w, n);
            }
            if (!n->next)
                break;
            n = n->next;
        }
    }
    leave(&w, root);
    filter_lines(raw.data ? raw.data : "", raw.len, out);
    nm_buf_free(&raw);
}
