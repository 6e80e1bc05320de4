/*
 * html_text: a single forward pass over an HTML fragment that writes its
 * text. It is a tokenizer, not a tree builder: feed summaries are small,
 * often broken, and all we want is their words in order, so tags are
 * skipped (respecting quoted attribute values), a few elements whose
 * content is not text are skipped whole, and character references are
 * decoded with libxml2's HTML entity table. The pass never looks back more
 * than one byte, so its time is linear in the input whatever the markup.
 */
#include "fetcher/html_text.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void utf8_append(nm_buf *out, unsigned cp)
{
    char b[4];
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        nm_buf_addc(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        nm_buf_add(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        nm_buf_add(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        nm_buf_add(out, b, 4);
    }
}

static void put_space(nm_buf *out)
{
    if (out->len && out->data[out->len - 1] != ' ')
        nm_buf_addc(out, ' ');
}

/* Returns the length of a Unicode space at p (UTF-8), or 0. Matches what
   Python's str.split() treats as white space beyond ASCII. */
static size_t unicode_space(const unsigned char *p, const unsigned char *end)
{
    if (p[0] == 0xC2 && p + 1 < end && (p[1] == 0xA0 || p[1] == 0x85))
        return 2;
    if (p[0] == 0xE2 && p + 2 < end && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
        return 3;
    if (p[0] == 0xE3 && p + 2 < end && p[1] == 0x80 && p[2] == 0x80)
        return 3;
    return 0;
}

/* Windows-1252 meanings of &#128;-&#159;, as HTML5 reads them. */
static const unsigned short cp1252[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static void add_char(nm_buf *out, unsigned cp)
{
    if (cp == 0)
        cp = 0xFFFD;
    if (cp >= 0x80 && cp <= 0x9F)
        cp = cp1252[cp - 0x80];
    if (cp <= 0x20 || cp == 0xA0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A) ||
        cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x85)
        put_space(out);
    else
        utf8_append(out, cp);
}

/* Appends the text run [p, end) with white space collapsed. */
void text_append(nm_buf *out, const char *s, const char *end)
{
    /* C1 controls (U+0080-U+009F) are windows-1252 punctuation that went
       through a latin-1 decoder somewhere upstream: read them as meant. */
    const unsigned char *p = (const unsigned char *)s, *e = (const unsigned char *)end;
    while (p < e) {
        /* A run of bytes copied as they are: printable ASCII and UTF-8
           sequences whose lead byte cannot start a space or a C1 control. */
        const unsigned char *q = p;
        while (q < e && ((*q > 0x20 && *q < 0x7F) || (*q >= 0x80 && *q != 0xC2 && *q != 0xE2 && *q != 0xE3)))
            q++;
        if (q > p) {
            nm_buf_add(out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        size_t sp;
        if (*p <= 0x20 || *p == 0x7F) {
            put_space(out);
            p++;
        } else if ((sp = unicode_space(p, e)) > 0) {
            put_space(out);
            p += sp;
        } else if (*p == 0xC2 && p + 1 < e && p[1] >= 0x80 && p[1] <= 0x9F) {
            add_char(out, p[1]);
            p += 2;
        } else {
            nm_buf_addc(out, (char)*p++);
        }
    }
}

/* Decodes a character reference at p ('&'). Returns the bytes consumed,
   or 0 when p does not start one (the '&' is then literal text). */
static size_t char_ref(nm_buf *out, const char *p, const char *end)
{
    const char *q = p + 1;
    if (q < end && *q == '#') {
        q++;
        bool hex = q < end && (*q == 'x' || *q == 'X');
        q += hex;
        unsigned long v = 0;
        const char *d = q;
        while (q < end && (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q))) {
            if (v < 0x110000)
                v = v * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)*q) ? *q - '0'
                                                         : tolower((unsigned char)*q) - 'a' + 10);
            q++;
        }
        if (q == d)
            return 0;
        add_char(out, v > 0x10FFFF ? 0xFFFD : (unsigned)v);
        return (size_t)(q - p) + (q < end && *q == ';');
    }
    char name[32];
    size_t n = 0;
    while (q < end && isalnum((unsigned char)*q) && n < sizeof name - 1)
        name[n++] = *q++;
    name[n] = '\0';
    if (n == 0 || q >= end || *q != ';')
        return 0;
    const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
    if (!e) {
        if (strcmp(name, "apos") == 0)
            add_char(out, '\'');
        else
            return 0;
    } else {
        add_char(out, e->value);
    }
    return (size_t)(q + 1 - p);
}

/* Elements dropped with their content. */
static const char *const skipped[] = { "script", "style", "template" };
/* Elements whose edges separate words. */
static const char *const blocks[] = {
    "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
    "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li", "main", "nav", "ol", "option", "p",
    "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
};

static bool in_list(const char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
            return true;
    return false;
}

/* Returns the end of the tag starting at p ('<'), past its '>', honouring
   quoted attribute values; NULL when it is not closed (the '<' is then text). */
static const char *tag_end(const char *p, const char *end)
{
    char quote = 0;
    for (p++; p < end; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            if (p[-1] == '=' || isspace((unsigned char)p[-1]))
                quote = *p;
        } else if (*p == '>') {
            return p + 1;
        }
    }
    return NULL;
}

/* Returns the position after "</name ...>" closing a skipped element, or end. */
static const char *skip_element(const char *p, const char *end, const char *name, size_t len)
{
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        if (end - p > (ptrdiff_t)(len + 1) && p[1] == '/' && strncasecmp(p + 2, name, len) == 0 &&
            !isalnum((unsigned char)p[2 + len])) {
            const char *e = tag_end(p, end);
            return e ? e : end;
        }
        p++;
    }
    return end;
}

static const char *find_str(const char *p, const char *end, const char *needle)
{
    const char *r = memmem(p, (size_t)(end - p), needle, strlen(needle));
    return r ? r + strlen(needle) : end;
}

/* Handles markup at p ('<'). Returns the position after it, or NULL when
   the '<' is literal text. */
static const char *markup(nm_buf *out, const char *p, const char *end)
{
    const char *q = p + 1;
    if (q >= end)
        return NULL;
    if (*q == '!') {
        if (end - q >= 3 && q[1] == '-' && q[2] == '-')
            return find_str(q + 3, end, "-->");
        if (end - q >= 8 && memcmp(q, "![CDATA[", 8) == 0) {
            const char *c = q + 8, *e = memmem(c, (size_t)(end - c), "]]>", 3);
            text_append(out, c, e ? e : end);
            return e ? e + 3 : end;
        }
        return tag_end(p, end);
    }
    if (*q == '?')
        return tag_end(p, end);
    bool closing = *q == '/';
    q += closing;
    if (q >= end || !isalpha((unsigned char)*q))
        return NULL;
    const char *name = q;
    while (q < end && (isalnum((unsigned char)*q) || *q == ':' || *q == '-'))
        q++;
    size_t len = (size_t)(q - name);
    const char *after = tag_end(p, end);
    if (!after)
        return NULL;
    if (!closing && in_list(skipped, NM_ARRAY_LEN(skipped), name, len) &&
        !(after - p >= 2 && after[-2] == '/')) /* "<script/>" holds nothing */
        return skip_element(after, end, name, len);
    if (in_list(blocks, NM_ARRAY_LEN(blocks), name, len))
        put_space(out);
    return after;
}

void html_text_append(nm_buf *out, const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '<' && *q != '&')
            q++;
        text_append(out, p, q);
        p = q;
        if (p >= end)
            break;
        if (*p == '<') {
            const char *next = markup(out, p, end);
            if (next) {
                p = next;
                continue;
            }
        } else {
            size_t n = char_ref(out, p, end);
            if (n) {
                p += n;
                continue;
            }
        }
        nm_buf_addc(out, *p++);
    }
}

static char *finish(nm_buf *b)
{
    if (b->len && b->data[b->len - 1] == ' ')
        b->len--;
    return nm_buf_steal(b);
}

char *html_to_text(const char *s, size_t len)
{
    nm_buf b;
    nm_buf_init(&b);
    html_text_append(&b, s, len);
    return finish(&b);
}

char *text_collapse(const char *s, size_t len)
{
    nm_buf b;
    nm_buf_init(&b);
    text_append(&b, s, s + len);
    return finish(&b);
}
