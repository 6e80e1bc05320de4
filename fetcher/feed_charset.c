/*
 * feed_charset: turns the bytes of a feed into clean UTF-8 before any
 * parser sees them, so libxml2 only ever reads UTF-8 and every later stage
 * can trust its text.
 *
 * Which charset: a byte-order mark wins; then the HTTP charset parameter
 * (RFC 3023: it overrides the XML declaration), except that a document
 * that declares UTF-8 and is valid UTF-8 is read as UTF-8 whatever the
 * server says (servers often add a wrong default); then the XML
 * declaration; then the UTF-16/32 pattern of the first "<?"; then UTF-8.
 * A document that claims UTF-8 but is not valid UTF-8 (common with
 * windows-1251 sites) is read as what uchardet guesses, else windows-1252,
 * and the mislabelling is reported as an error.
 *
 * Clean means: valid UTF-8 (bad sequences become U+FFFD) and none of the
 * characters XML 1.0 forbids (NUL and other C0 controls, U+FFFE, U+FFFF),
 * which are dropped and counted.
 */
#include "fetcher/feed_priv.h"
#include "fetcher/text_block.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#define DECL_SCAN 512   /* bytes of the document searched for the XML declaration */
#define GUESS_BYTES 65536

/* Returns true when cs names UTF-8 or a subset of it. */
static bool is_utf8_name(const char *cs)
{
    return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
           strcasecmp(cs, "ascii") == 0 || strcasecmp(cs, "unicode-1-1-utf-8") == 0;
}

/* Reads the encoding="..." of an XML declaration in the first bytes of p,
   taking every stride-th byte from offset (to read UTF-16/32 declarations).
   Writes it into out (size outsz); returns false when there is none. */
static bool decl_encoding(const char *p, size_t n, int stride, int offset, char *out, size_t outsz)
{
    char ascii[DECL_SCAN + 1];
    size_t k = 0;
    for (size_t i = (size_t)offset; i < n && k < DECL_SCAN; i += (size_t)stride)
        ascii[k++] = p[i] ? p[i] : ' ';
    ascii[k] = '\0';
    if (strncmp(ascii, "<?xml", 5) != 0)
        return false;
    char *end = strstr(ascii, "?>");
    if (end)
        *end = '\0';
    char *e = strstr(ascii, "encoding");
    if (!e)
        return false;
    e += 8;
    while (isspace((unsigned char)*e))
        e++;
    if (*e++ != '=')
        return false;
    while (isspace((unsigned char)*e))
        e++;
    char q = *e++;
    if (q != '"' && q != '\'')
        return false;
    size_t i = 0;
    while (*e && *e != q && i + 1 < outsz) {
        if (!isalnum((unsigned char)*e) && !strchr("-_.:()", *e))
            return false;
        out[i++] = *e++;
    }
    out[i] = '\0';
    return *e == q && i > 0;
}

/* Detects a byte-order mark or the UTF-16/32 shape of "<?". Returns the
   charset or NULL; *bom is the number of bytes of mark to skip. */
static const char *sniff(const unsigned char *p, size_t n, size_t *bom)
{
    *bom = 0;
    if (n >= 4 && !memcmp(p, "\x00\x00\xFE\xFF", 4))
        return *bom = 4, "UTF-32BE";
    if (n >= 4 && !memcmp(p, "\xFF\xFE\x00\x00", 4))
        return *bom = 4, "UTF-32LE";
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        return *bom = 3, "UTF-8";
    if (n >= 2 && !memcmp(p, "\xFE\xFF", 2))
        return *bom = 2, "UTF-16BE";
    if (n >= 2 && !memcmp(p, "\xFF\xFE", 2))
        return *bom = 2, "UTF-16LE";
    if (n >= 4 && !memcmp(p, "\x00\x00\x00\x3C", 4))
        return "UTF-32BE";
    if (n >= 4 && !memcmp(p, "\x3C\x00\x00\x00", 4))
        return "UTF-32LE";
    if (n >= 4 && !memcmp(p, "\x00\x3C\x00\x3F", 4))
        return "UTF-16BE";
    if (n >= 4 && !memcmp(p, "\x3C\x00\x3F\x00", 4))
        return "UTF-16LE";
    if (n >= 4 && !memcmp(p, "\x4C\x6F\xA7\x94", 4))
        return "CP037";
    return NULL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when invalid.
   Sets *cp to the code point. */
static inline size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Counts of what cleaning changed. */
struct clean_stats {
    size_t invalid;        /* bad UTF-8 sequences replaced by U+FFFD */
    size_t first_invalid;  /* byte offset of the first one */
    size_t dropped;        /* characters XML forbids, removed */
};

/* Returns the length of the longest prefix of p (n bytes) that is already
   clean: the repair loop's fast path (a document clean throughout never
   gets here: feed_to_utf8 asks feed_utf8_valid first). 16 bytes of ASCII
   and two-byte sequences (Cyrillic, the desk's bread and butter) are
   checked at a time (8 ASCII bytes without SSE2), and what a block does
   not settle one character at a time. */
static size_t clean_prefix(const unsigned char *p, size_t n)
{
    const unsigned char *s = p, *end = p + n;
#if !TEXT_BLOCK
    const uint64_t high = 0x8080808080808080ull, spaces = 0x2020202020202020ull;
#endif
    while (p < end) {
#if TEXT_BLOCK
        while (end - p >= 16) {
            struct text_block b;
            __m128i x = text_block_load(p, &b);
            unsigned ws = text_block_eq(x, '\n') | text_block_eq(x, '\t') | text_block_eq(x, '\r');
            unsigned bad = (b.ctl & ~ws) | b.other | (b.cont ^ ((b.lead2 << 1) & 0xFFFFu));
            if (!bad) {
                /* A sequence cut by the block's end starts the next block. */
                p += 16 - ((b.lead2 >> 15) & 1);
                continue;
            }
            /* Everything before the first bad byte is clean, except a lead
               byte just before it, which the loop below judges. */
            unsigned k = (unsigned)__builtin_ctz(bad);
            if (k && (b.lead2 >> (k - 1)) & 1)
                k--;
            p += k;
            break;
        }
#else
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            /* Any byte >= 0x80, or (all being ASCII) any byte < 0x20. */
            if ((x & high) || ((x - spaces) & ~x & high))
                break;
            p += 8;
        }
#endif
        if (p >= end)
            break;
        unsigned c = *p;
        if ((c >= 0x20 && c < 0x80) || c == '\n' || c == '\t' || c == '\r') {
            p++;
        } else if (c >= 0xC2 && c <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
            p += 2;
        } else {
            unsigned cp;
            size_t len = c >= 0x80 ? utf8_seq(p, (size_t)(end - p), &cp) : 0;
            if (len == 0 || cp == 0xFFFE || cp == 0xFFFF)
                break;
            p += len;
        }
    }
    return (size_t)(p - s);
}

/* Returns true when the byte at p, in valid UTF-8, starts a character XML
   forbids: a C0 control other than tab, LF and CR, or U+FFFE or U+FFFF
   (EF BF BE, EF BF BF: the two bytes after EF are there in valid UTF-8). */
static inline bool forbidden_at(const unsigned char *p)
{
    return (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') ||
           (*p == 0xEF && p[1] == 0xBF && (p[2] | 1) == 0xBF);
}

/* Returns true when p (n bytes of valid UTF-8) holds no character XML
   forbids. 32 bytes at a time are searched for the bytes that may start
   one, controls and EF (the lead of U+FFFE and U+FFFF, rare in any text);
   each found (mostly line feeds) is then judged alone. */
static bool xml_chars_only(const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
#if TEXT_BLOCK
    const __m128i c1f = _mm_set1_epi8(0x1F), ef = _mm_set1_epi8((char)0xEF);
    while (end - p >= 32) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        __m128i mx = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x), _mm_cmpeq_epi8(x, ef));
        __m128i my = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(y, c1f), y), _mm_cmpeq_epi8(y, ef));
        uint32_t m = (uint32_t)_mm_movemask_epi8(mx) | (uint32_t)_mm_movemask_epi8(my) << 16;
        for (; m; m &= m - 1)
            if (forbidden_at(p + __builtin_ctz(m)))
                return false;
        p += 32;
    }
#endif
    for (; p < end; p++)
        if (forbidden_at(p))
            return false;
    return true;
}

/* Appends p (n bytes) to out as clean UTF-8 and counts the repairs. */
static void clean(const char *s, size_t n, nm_buf *out, struct clean_stats *st)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    /* The output is never longer than 3 bytes per input byte (U+FFFD for one bad byte). */
    size_t need = out->len + 3 * n + 1;
    if (out->cap < need) {
        out->data = nm_xrealloc(out->data, need);
        out->cap = need;
    }
    unsigned char *o = (unsigned char *)out->data + out->len;
    while (p < end) {
        size_t ok = clean_prefix(p, (size_t)(end - p));
        memcpy(o, p, ok);
        o += ok;
        p += ok;
        if (p >= end)
            break;
        /* A sequence that needs repair (or a clean one clean_prefix left to us). */
        unsigned cp;
        size_t len = utf8_seq(p, (size_t)(end - p), &cp);
        if (len == 1 && !((*p >= 0x20 && *p < 0x80) || *p == '\n' || *p == '\t' || *p == '\r')) {
            st->dropped++;  /* a C0 control */
        } else if (len == 0) {
            if (!st->invalid)
                st->first_invalid = (size_t)(p - (const unsigned char *)s);
            st->invalid++;
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            len = 1;
        } else if (cp == 0xFFFE || cp == 0xFFFF) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            memcpy(o, p, len);
            o += len;
        }
        p += len;
    }
    out->len = (size_t)(o - (unsigned char *)out->data);
    out->data[out->len] = '\0';
}

/* Returns the number of invalid UTF-8 sequences in p (n bytes), stopping at stop. */
static size_t count_invalid(const char *s, size_t n, size_t stop)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t bad = 0;
    while (p < end && bad < stop) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        unsigned cp;
        size_t len = utf8_seq(p, (size_t)(end - p), &cp);
        if (!len) {
            bad++;
            len = 1;
        }
        p += len;
    }
    return bad;
}

/* Converts n bytes from charset cs to UTF-8, appending to out. Returns the
   number of invalid input sequences (replaced by U+FFFD), or -1 when iconv
   does not know cs. */
static long convert(const char *cs, const char *s, size_t n, nm_buf *out)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return -1;
    long bad = 0;
    char *ip = (char *)s;
    size_t il = n;
    if (out->cap < n * 2 + 64) {
        out->data = nm_xrealloc(out->data, n * 2 + 64);
        out->cap = n * 2 + 64;
    }
    while (il > 0) {
        if (out->cap - out->len < 16) {
            out->cap *= 2;
            out->data = nm_xrealloc(out->data, out->cap);
        }
        char *op = out->data + out->len;
        size_t ol = out->cap - out->len - 1;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        out->len = (size_t)(op - out->data);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG) {
            out->cap *= 2;
            out->data = nm_xrealloc(out->data, out->cap);
        } else {
            nm_buf_add(out, "\xEF\xBF\xBD", 3);
            bad++;
            if (errno != EILSEQ)
                break;  /* EINVAL: a sequence cut off at the end */
            ip++;
            il--;
        }
    }
    iconv_close(cd);
    nm_buf_cstr(out);
    return bad;
}

/* Returns true for the charsets a guess may name that are not Western
   single-byte ones: Cyrillic (the desk's sources) and multi-byte Asian
   sets. On short Western text uchardet wavers between Latin variants, so
   for those windows-1252 is the better bet. */
static bool distinctive(const char *cs)
{
    static const char *const names[] = { "WINDOWS-1251", "KOI8-R", "KOI8-U", "IBM866", "ISO-8859-5", "MAC-CYRILLIC",
                                         "SHIFT_JIS", "EUC-JP", "ISO-2022-JP", "EUC-KR", "BIG5", "GB18030",
                                         "EUC-TW", "GB2312", "HZ-GB-2312", "ISO-2022-KR", "ISO-2022-CN",
                                         "WINDOWS-1255", "ISO-8859-8", "WINDOWS-1253", "ISO-8859-7",
                                         "WINDOWS-1256", "TIS-620", "UTF-16", "UTF-32" };
    for (size_t i = 0; i < NM_ARRAY_LEN(names); i++)
        if (strncasecmp(cs, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* Returns uchardet's guess for p as a new string, or NULL when it has none,
   guesses UTF-8/ASCII (which we already know is wrong) or a Western set. */
static char *guess_charset(const char *p, size_t n)
{
    uchardet_t ud = uchardet_new();
    if (!ud)
        return NULL;
    char *res = NULL;
    if (uchardet_handle_data(ud, p, n < GUESS_BYTES ? n : GUESS_BYTES) == 0) {
        uchardet_data_end(ud);
        const char *cs = uchardet_get_charset(ud);
        if (cs && *cs && !is_utf8_name(cs) && distinctive(cs))
            res = nm_xstrdup(cs);
    }
    uchardet_delete(ud);
    return res;
}

/* Picks the charset to read the document as; returns a new string. */
static char *choose(const char *p, size_t n, const char *http_charset, const char *sniffed, size_t bom,
                    const struct feed_limits *lim, struct feed *f)
{
    char decl[64] = "";
    int stride = 1, offset = 0;
    if (sniffed && strncmp(sniffed, "UTF-16", 6) == 0)
        stride = 2, offset = sniffed[6] == 'B' ? 1 : 0;
    else if (sniffed && strncmp(sniffed, "UTF-32", 6) == 0)
        stride = 4, offset = sniffed[6] == 'B' ? 3 : 0;
    bool has_decl = decl_encoding(p + bom, n - bom, stride, offset, decl, sizeof decl);
    if (sniffed && (bom || stride > 1))
        return nm_xstrdup(sniffed);
    if (http_charset && *http_charset) {
        if (has_decl && is_utf8_name(decl) && !is_utf8_name(http_charset) && count_invalid(p, n, 1) == 0) {
            feed_add_error(f, lim, "charset: HTTP says %s but the document is UTF-8 as it declares; read as UTF-8",
                           http_charset);
            return nm_xstrdup("UTF-8");
        }
        return nm_xstrdup(http_charset);
    }
    if (has_decl && strncasecmp(decl, "utf-16", 6) != 0 && strncasecmp(decl, "utf-32", 6) != 0 &&
        strcasecmp(decl, "unicode") != 0)
        return nm_xstrdup(decl);
    if (has_decl)
        feed_add_error(f, lim, "charset: document declares %s but is not in it; read as UTF-8", decl);
    return nm_xstrdup(sniffed ? sniffed : "UTF-8");
}

/* Reads p as UTF-8, or as a guessed charset when it is not valid UTF-8. */
static void from_utf8(const char *p, size_t n, const char *claimed, const struct feed_limits *lim,
                      struct feed *f, nm_buf *out)
{
    struct clean_stats st = { 0 };
    clean(p, n, out, &st);
    if (st.invalid) {
        char *guess = guess_charset(p, n);
        const char *cs = guess ? guess : "WINDOWS-1252";
        nm_buf raw;
        nm_buf_init(&raw);
        long bad = convert(cs, p, n, &raw);
        if (bad >= 0 && (size_t)bad < st.invalid) {
            feed_add_error(f, lim, "charset: declared %s but not valid UTF-8 (first bad byte at offset %zu); "
                           "read as %s", claimed, st.first_invalid, cs);
            nm_buf_reset(out);
            memset(&st, 0, sizeof st);
            clean(raw.data, raw.len, out, &st);
            free(f->charset);
            f->charset = nm_xstrdup(cs);
        } else {
            feed_add_error(f, lim, "charset: %zu invalid UTF-8 sequences (first at offset %zu) replaced",
                           st.invalid, st.first_invalid);
        }
        nm_buf_free(&raw);
        free(guess);
    }
    if (st.dropped)
        feed_add_error(f, lim, "text: %zu characters not allowed in XML (NUL or control) removed", st.dropped);
}

const char *feed_to_utf8(const char *data, size_t len, const char *http_charset, const struct feed_limits *lim,
                         struct feed *f, size_t *out_len, char **owned, nm_err *err)
{
    *owned = NULL;
    size_t bom;
    const char *sniffed = sniff((const unsigned char *)data, len, &bom);
    char *cs = choose(data, len, http_charset, sniffed, bom, lim, f);
    if (!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "latin1") || !strcasecmp(cs, "iso_8859-1") ||
        !strcasecmp(cs, "l1")) {
        /* As browsers do: windows-1252 is a superset that gives 0x80-0x9F their meaning. */
        free(cs);
        cs = nm_xstrdup("WINDOWS-1252");
    }
    const char *p = data + bom;
    size_t n = len - bom;
    free(f->charset);
    f->charset = nm_xstrdup(cs);
    if (n == 0) {
        free(cs);
        return nm_err_set(err, "empty document"), NULL;
    }
    if (is_utf8_name(cs) && feed_utf8_valid(p, n) && xml_chars_only((const unsigned char *)p, n)) {
        /* The common case: already clean, nothing to copy. */
        free(cs);
        *out_len = n;
        return p;
    }
    nm_buf out;
    nm_buf_init(&out);
    if (is_utf8_name(cs)) {
        from_utf8(p, n, cs, lim, f, &out);
    } else {
        nm_buf raw;
        nm_buf_init(&raw);
        long bad = convert(cs, p, n, &raw);
        if (bad < 0) {
            feed_add_error(f, lim, "charset: unknown charset \"%s\"; read as UTF-8", cs);
            free(f->charset);
            f->charset = nm_xstrdup("UTF-8");
            from_utf8(p, n, cs, lim, f, &out);
        } else {
            if (bad > 0)
                feed_add_error(f, lim, "charset: %ld byte sequences invalid in %s replaced", bad, cs);
            struct clean_stats st = { 0 };
            clean(raw.data ? raw.data : "", raw.len, &out, &st);
            if (st.dropped)
                feed_add_error(f, lim, "text: %zu characters not allowed in XML (NUL or control) removed",
                               st.dropped);
        }
        nm_buf_free(&raw);
    }
    free(cs);
    if (out.len == 0) {
        nm_buf_free(&out);
        return nm_err_set(err, "empty document"), NULL;
    }
    *out_len = out.len;
    *owned = nm_buf_steal(&out);
    return *owned;
}
