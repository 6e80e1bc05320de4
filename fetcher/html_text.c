/*
 * html_text: a single forward pass over an HTML fragment that writes its
 * text. It is a tokenizer, not a tree builder: feed summaries are small,
 * often broken, and all we want is their words in order, so tags are
 * skipped (respecting quoted attribute values), a few elements whose
 * content is not text are skipped whole, and character references are
 * decoded with libxml2's HTML entity table. The pass never looks back more
 * than one byte, so its time is linear in the input whatever the markup.
 *
 * Speed matters: a feed of 5,000 items sends ~10 MB through here. A byte
 * table sorts each byte into "copy" or "look closer", so runs of ordinary
 * text (a single ASCII space between words included) are found in one
 * tight loop and copied with one memcpy; only markup, references, other
 * white space and the three UTF-8 lead bytes that may start a Unicode
 * space or a C1 control take the slow path.
 */
#include "fetcher/html_text.h"
#include "fetcher/text_block.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Makes room for n more bytes (and the NUL) in out. */
static inline void reserve(nm_buf *out, size_t n)
{
    if (out->len + n + 1 > out->cap) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap < out->len + n + 1)
            cap *= 2;
        out->data = nm_xrealloc(out->data, cap);
        out->cap = cap;
    }
}

static inline void add(nm_buf *out, const void *p, size_t n)
{
    reserve(out, n);
    memcpy(out->data + out->len, p, n);
    out->len += n;
    out->data[out->len] = '\0';
}

static inline void add_byte(nm_buf *out, char c)
{
    reserve(out, 1);
    out->data[out->len++] = c;
    out->data[out->len] = '\0';
}

static void put_space(nm_buf *out)
{
    if (out->len && out->data[out->len - 1] != ' ')
        add_byte(out, ' ');
}

void utf8_append(nm_buf *out, unsigned cp)
{
    char b[4];
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        add_byte(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        add(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        add(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        add(out, b, 4);
    }
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
    /* The few that fill feeds, before libxml2's table (a linear search). */
    static const struct { const char *name; unsigned value; } common[] = {
        { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "nbsp", 0xA0 },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(common); i++)
        if (strcmp(name, common[i].name) == 0) {
            add_char(out, common[i].value);
            return (size_t)(q + 1 - p);
        }
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

/* The block names by a hash of their length, first and last letters:
   a slot holds the index in blocks plus one, 0 when empty, with linear
   probing. Built once (a feed's summaries are mostly tags, and a lookup
   is then one or two compares). */
#define BLOCK_SLOTS 128
static unsigned char block_slot[BLOCK_SLOTS];
static pthread_once_t block_once = PTHREAD_ONCE_INIT;

static unsigned block_hash(const char *lower, size_t len)
{
    return ((unsigned)len * 31u + (unsigned char)lower[0] * 7u + (unsigned char)lower[len - 1]) % BLOCK_SLOTS;
}

static void block_init(void)
{
    for (size_t i = 0; i < NM_ARRAY_LEN(blocks); i++) {
        unsigned h = block_hash(blocks[i], strlen(blocks[i]));
        while (block_slot[h])
            h = (h + 1) % BLOCK_SLOTS;
        block_slot[h] = (unsigned char)(i + 1);
    }
}

/* Whether name (len bytes, any case) is one of blocks. */
static bool is_block(const char *name, size_t len)
{
    char lower[16];
    if (len >= sizeof lower)
        return false;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    pthread_once(&block_once, block_init);
    for (unsigned h = block_hash(lower, len); block_slot[h]; h = (h + 1) % BLOCK_SLOTS) {
        const char *b = blocks[block_slot[h] - 1];
        if (strlen(b) == len && memcmp(b, lower, len) == 0)
            return true;
    }
    return false;
}

static bool in_list(const char *const *list, size_t n, const char *name, size_t len)
{
    int first = tolower((unsigned char)name[0]);
    for (size_t i = 0; i < n; i++)
        if (list[i][0] == first && strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
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
        if (end - p > (ptrdiff_t)(len + 2) && p[1] == '/' && strncasecmp(p + 2, name, len) == 0 &&
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
    if (is_block(name, len))
        put_space(out);
    return after;
}

/* Byte classes of the scanner. */
enum { B_TEXT, B_SPACE, B_LT, B_AMP, B_LEAD };

/* B_SPACE: ASCII controls, space and DEL (all white space to a reader);
   B_LEAD: 0xC2, 0xE2, 0xE3, which may start a Unicode space or a C1 control;
   every other byte, UTF-8 or not, is text. */
static const unsigned char byte_class[256] = {
    [0x00 ... 0x20] = B_SPACE, [0x7F] = B_SPACE, ['<'] = B_LT, ['&'] = B_AMP,
    [0xC2] = B_LEAD, [0xE2] = B_LEAD, [0xE3] = B_LEAD,
};

/* Handles the byte at p that starts a Unicode space, a C1 control or
   neither (a B_LEAD byte). Returns the bytes consumed. */
static size_t lead_byte(nm_buf *out, const unsigned char *p, const unsigned char *end)
{
    size_t sp = unicode_space(p, end);
    if (sp) {
        put_space(out);
        return sp;
    }
    if (p[0] == 0xC2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9F) {
        /* C1 controls (U+0080-U+009F) are windows-1252 punctuation that went
           through a latin-1 decoder somewhere upstream: read them as meant. */
        add_char(out, p[1]);
        return 2;
    }
    add_byte(out, (char)p[0]);
    return 1;
}

#if TEXT_BLOCK
/* Copies blocks of 16 text bytes (single spaces after text included) from
   p to out whole, and returns where the first other byte is (or the last
   block's end). Every block is classified with a few vector compares and
   one mask; the bytes are stored before it is known how many count, so
   out has room for 16 bytes more than the input left. */
static const unsigned char *copy_blocks(nm_buf *out, const unsigned char *p, const unsigned char *e, bool html)
{
    reserve(out, (size_t)(e - p) + 16);
    char *o = out->data + out->len;
    unsigned prev_text = out->len && o[-1] != ' ';
    const __m128i space = _mm_set1_epi8(' '), del = _mm_set1_epi8(0x7F), c2 = _mm_set1_epi8((char)0xC2),
                  e3 = _mm_set1_epi8((char)0xE3), one = _mm_set1_epi8(1), lt = _mm_set1_epi8('<'),
                  amp = _mm_set1_epi8('&');
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Controls and the space (<= 0x20), DEL, and the lead bytes C2, E2, E3. */
        __m128i v = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, space), x), _mm_cmpeq_epi8(x, del));
        v = _mm_or_si128(v, _mm_or_si128(_mm_cmpeq_epi8(x, c2), _mm_cmpeq_epi8(_mm_or_si128(x, one), e3)));
        if (html)
            v = _mm_or_si128(v, _mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, amp)));
        unsigned special = (unsigned)_mm_movemask_epi8(v);   /* spaces included */
        unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, space));
        unsigned text = ~special & 0xFFFFu;
        unsigned bad = (special & ~sp) | (sp & ~((text << 1) | prev_text));
        _mm_storeu_si128((__m128i *)(void *)o, x);
        if (bad) {
            unsigned k = (unsigned)__builtin_ctz(bad);
            o += k;
            p += k;
            break;
        }
        prev_text = text >> 15;
        o += 16;
        p += 16;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return p;
}
#endif

/* Appends the text of [s, end) to out; markup and references are read
   when html is set, taken as text otherwise. */
static void scan(nm_buf *out, const char *s, const char *end, bool html, bool first_only)
{
    const unsigned char *p = (const unsigned char *)s, *e = (const unsigned char *)end;
    reserve(out, (size_t)(e - p));
    size_t len0 = out->len;
    while (p < e) {
        if (first_only && out->len > len0)
            return;
#if TEXT_BLOCK
        if (e - p >= 16)
            p = copy_blocks(out, p, e, html);
        if (p >= e)
            break;
#endif
        /* The run copied as it is: text bytes, and a single space after a
           text byte (which is what collapsing would write anyway). */
        const unsigned char *q = p;
        for (; q < e; q++) {
            unsigned k = byte_class[*q];
            if (k == B_TEXT || (!html && (k == B_LT || k == B_AMP)))
                continue;
            if (*q == ' ' && q > p && q[-1] != ' ')
                continue;
            break;
        }
        if (q > p) {
            add(out, p, (size_t)(q - p));
            p = q;
            if (p >= e)
                break;
        }
        switch (byte_class[*p]) {
        case B_SPACE:
            put_space(out);
            p++;
            break;
        case B_LEAD:
            p += lead_byte(out, p, e);
            break;
        case B_LT: {
            const char *next = markup(out, (const char *)p, end);
            if (next) {
                p = (const unsigned char *)next;
            } else {
                add_byte(out, '<');
                p++;
            }
            break;
        }
        default: {
            size_t n = char_ref(out, (const char *)p, end);
            if (n) {
                p += n;
            } else {
                add_byte(out, '&');
                p++;
            }
            break;
        }
        }
    }
}

void text_append(nm_buf *out, const char *s, const char *end)
{
    scan(out, s, end, false, false);
}

void html_text_append(nm_buf *out, const char *s, size_t len)
{
    scan(out, s, s + len, true, false);
}

bool text_nonempty(nm_buf *scratch, const char *s, size_t len, bool html)
{
    nm_buf_reset(scratch);
    scan(scratch, s, s + len, html, true);
    return scratch->len > 0;
}

/* Returns the text gathered in b, trimmed, in a block no larger than it
   needs (a feed keeps thousands of these: slack would be memory touched
   for nothing). */
static char *finish(nm_buf *b)
{
    if (b->len && b->data[b->len - 1] == ' ')
        b->len--;
    b->data[b->len] = '\0';
    if (b->cap > b->len + 64) {
        b->data = nm_xrealloc(b->data, b->len + 1);
        b->cap = b->len + 1;
    }
    return nm_buf_steal(b);
}

/* Starts a buffer sized for len bytes of input (the text is rarely
   longer) and the 16 that copy_blocks stores past what it keeps. */
static void start(nm_buf *b, size_t len)
{
    b->cap = len + 16 + 1;
    b->data = nm_xmalloc(b->cap);
    b->data[0] = '\0';
    b->len = 0;
}

char *html_to_text(const char *s, size_t len)
{
    nm_buf b;
    start(&b, len);
    html_text_append(&b, s, len);
    return finish(&b);
}

char *text_collapse(const char *s, size_t len)
{
    nm_buf b;
    start(&b, len);
    text_append(&b, s, s + len);
    return finish(&b);
}
