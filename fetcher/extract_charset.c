/*
 * extract_charset: turning a fetched page into UTF-8 before libxml2 sees
 * it. The order is the one browsers use (HTML's "encoding sniffing"): a
 * byte-order mark, then the charset of the HTTP Content-Type, then a
 * <meta charset> or <meta http-equiv=content-type> in the first bytes;
 * with none of these, a page that is valid UTF-8 is UTF-8, and otherwise
 * uchardet guesses (Belarusian and Russian sites still serve windows-1251
 * and koi8-r without saying so). One exception to the order: a page that
 * declares a legacy charset but whose non-ASCII bytes are all valid UTF-8
 * is UTF-8 (sites move to UTF-8 and keep their old <meta>; text in a
 * legacy charset is practically never valid UTF-8 by chance). Labels are mapped as the WHATWG Encoding
 * standard does (latin1 and ascii mean windows-1252; a <meta> claiming
 * UTF-16 means UTF-8). Conversion is iconv's, with every invalid sequence
 * replaced by U+FFFD so one bad byte never loses a page.
 */
#include "fetcher/extract_int.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#define META_SCAN_BYTES 4096    /* how far to look for <meta charset> (browsers: 1024) */
#define GUESS_BYTES (256 << 10) /* how much uchardet reads */

/* Known labels and the iconv names we convert them with. */
static const struct {
    const char *label, *iconv;
} labels[] = {
    { "utf-8", "UTF-8" }, { "utf8", "UTF-8" }, { "unicode-1-1-utf-8", "UTF-8" },
    { "us-ascii", "WINDOWS-1252" }, { "ascii", "WINDOWS-1252" }, { "iso-8859-1", "WINDOWS-1252" },
    { "iso8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" }, { "l1", "WINDOWS-1252" },
    { "windows-1252", "WINDOWS-1252" }, { "cp1252", "WINDOWS-1252" }, { "x-cp1252", "WINDOWS-1252" },
    { "windows-1251", "WINDOWS-1251" }, { "cp1251", "WINDOWS-1251" }, { "x-cp1251", "WINDOWS-1251" },
    { "win-1251", "WINDOWS-1251" }, { "koi8-r", "KOI8-R" }, { "koi8r", "KOI8-R" }, { "koi", "KOI8-R" },
    { "koi8-u", "KOI8-U" }, { "koi8-ru", "KOI8-U" }, { "iso-8859-5", "ISO-8859-5" },
    { "ibm866", "CP866" }, { "cp866", "CP866" }, { "866", "CP866" },
    { "windows-1250", "WINDOWS-1250" }, { "cp1250", "WINDOWS-1250" }, { "iso-8859-2", "ISO-8859-2" },
    { "windows-1257", "WINDOWS-1257" }, { "cp1257", "WINDOWS-1257" }, { "iso-8859-13", "ISO-8859-13" },
    { "iso-8859-4", "ISO-8859-4" }, { "iso-8859-15", "ISO-8859-15" }, { "windows-1253", "WINDOWS-1253" },
    { "windows-1254", "WINDOWS-1254" }, { "windows-1255", "WINDOWS-1255" }, { "windows-1256", "WINDOWS-1256" },
    { "iso-8859-7", "ISO-8859-7" }, { "iso-8859-9", "ISO-8859-9" }, { "shift_jis", "SHIFT_JIS" },
    { "euc-jp", "EUC-JP" }, { "iso-2022-jp", "ISO-2022-JP" }, { "gbk", "GB18030" }, { "gb2312", "GB18030" },
    { "gb18030", "GB18030" }, { "big5", "BIG5-HKSCS" }, { "euc-kr", "EUC-KR" }, { "tis-620", "WINDOWS-874" },
    { "windows-874", "WINDOWS-874" }, { "mac-cyrillic", "MAC-CYRILLIC" }, { "x-mac-cyrillic", "MAC-CYRILLIC" },
    { "utf-16le", "UTF-16LE" }, { "utf-16be", "UTF-16BE" }, { "utf-16", "UTF-16LE" },
};

/* Returns the iconv name for a charset label (trimmed, any case), or NULL when unknown. */
static const char *label_to_iconv(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '"' || s[n - 1] == '\''))
        n--;
    if (n && (*s == '"' || *s == '\''))
        s++, n--;
    for (size_t i = 0; i < NM_ARRAY_LEN(labels); i++)
        if (strlen(labels[i].label) == n && strncasecmp(labels[i].label, s, n) == 0)
            return labels[i].iconv;
    return NULL;
}

/* Returns the length of a valid UTF-8 sequence at s (within n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    unsigned cp = c & (0x3F >> (k - 1));
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

/* Returns true when the first n bytes are valid UTF-8 (a sequence cut by the end counts as valid). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return n - i < 4 && s[i] >= 0xC2; /* truncated at the end of a capped page */
        i += k;
    }
    return true;
}

static bool has_non_ascii(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80)
            return true;
    return false;
}

/* Returns the charset declared in value after "charset=" (in a <meta> tag's text), or NULL. */
static const char *charset_param(const char *tag, size_t n)
{
    for (size_t i = 0; i + 7 <= n; i++) {
        if (strncasecmp(tag + i, "charset", 7) != 0)
            continue;
        size_t j = i + 7;
        while (j < n && isspace((unsigned char)tag[j]))
            j++;
        if (j >= n || tag[j] != '=')
            continue;
        j++;
        while (j < n && (isspace((unsigned char)tag[j]) || tag[j] == '"' || tag[j] == '\''))
            j++;
        size_t e = j;
        while (e < n && !isspace((unsigned char)tag[e]) && !strchr("\"';>/", tag[e]))
            e++;
        const char *cs = label_to_iconv(tag + j, e - j);
        if (cs)
            return cs;
    }
    return NULL;
}

/* Returns the charset a <meta> in the first bytes declares, or NULL. */
static const char *meta_charset(const char *data, size_t len)
{
    size_t n = len < META_SCAN_BYTES ? len : META_SCAN_BYTES;
    for (size_t i = 0; i + 5 < n; i++) {
        if (data[i] != '<' || strncasecmp(data + i + 1, "meta", 4) != 0)
            continue;
        const char *end = memchr(data + i, '>', n - i);
        size_t tl = end ? (size_t)(end - (data + i)) : n - i;
        const char *cs = charset_param(data + i, tl);
        if (cs)
            /* A page in UTF-16 could not have been read this far as ASCII. */
            return strncmp(cs, "UTF-16", 6) == 0 ? "UTF-8" : cs;
        i += tl;
    }
    return NULL;
}

/* Returns uchardet's guess as an iconv name, or NULL. */
static const char *guess_charset(const char *data, size_t len)
{
    uchardet_t ud = uchardet_new();
    if (!ud)
        return NULL;
    const char *res = NULL;
    if (uchardet_handle_data(ud, data, len < GUESS_BYTES ? len : GUESS_BYTES) == 0) {
        uchardet_data_end(ud);
        const char *cs = uchardet_get_charset(ud);
        if (cs && *cs) {
            res = label_to_iconv(cs, strlen(cs));
            if (!res && strcasecmp(cs, "ASCII") != 0) {
                /* A name we have no label for: use it if iconv knows it. */
                iconv_t cd = iconv_open("UTF-8", cs);
                if (cd != (iconv_t)-1) {
                    iconv_close(cd);
                    for (size_t i = 0; i < NM_ARRAY_LEN(labels); i++)
                        if (strcasecmp(labels[i].iconv, cs) == 0)
                            res = labels[i].iconv;
                }
            }
        }
    }
    uchardet_delete(ud);
    return res;
}

static void add_replacement(nm_buf *b)
{
    nm_buf_add(b, "\xEF\xBF\xBD", 3);
}

/* Copies UTF-8 input, replacing invalid sequences and dropping NUL. */
static void copy_utf8(const unsigned char *s, size_t n, nm_buf *out)
{
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && s[i] && s[i] < 0x80)
            i++;
        nm_buf_add(out, s + start, i - start);
        if (i >= n)
            break;
        if (!s[i]) {
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (k) {
            nm_buf_add(out, s + i, k);
            i += k;
        } else {
            add_replacement(out);
            i++;
        }
    }
}

/* Converts with iconv into out. Returns false when iconv cannot open cs. */
static bool convert(const char *cs, const char *data, size_t len, nm_buf *out)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return false;
    nm_buf tmp;
    nm_buf_init(&tmp);
    char chunk[16384];
    char *in = (char *)data;
    size_t inleft = len;
    while (inleft) {
        char *o = chunk;
        size_t oleft = sizeof chunk;
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        nm_buf_add(&tmp, chunk, sizeof chunk - oleft);
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            add_replacement(&tmp); /* EILSEQ, or EINVAL: a sequence cut by the end */
            in++;
            inleft--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    iconv_close(cd);
    copy_utf8((const unsigned char *)tmp.data, tmp.len, out); /* drops NULs, checks the output */
    nm_buf_free(&tmp);
    return true;
}

char *extract_to_utf8(const char *data, size_t len, const char *http_charset,
                      size_t *out_len, const char **charset)
{
    const unsigned char *u = (const unsigned char *)data;
    const char *cs = NULL;
    size_t skip = 0;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
        cs = "UTF-8", skip = 3;
    else if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE)
        cs = "UTF-16LE", skip = 2;
    else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF)
        cs = "UTF-16BE", skip = 2;
    if (!cs && http_charset && *http_charset)
        cs = label_to_iconv(http_charset, strlen(http_charset));
    if (!cs)
        cs = meta_charset(data, len);
    if (cs && !skip && strcmp(cs, "UTF-8") != 0 && has_non_ascii(u, len) && valid_utf8(u, len))
        cs = "UTF-8"; /* a declared legacy charset, but the bytes can only be UTF-8 */
    if (!cs && valid_utf8(u, len))
        cs = "UTF-8";
    if (!cs)
        cs = guess_charset(data, len);
    if (!cs)
        cs = "WINDOWS-1252";

    nm_buf out;
    nm_buf_init(&out);
    if (strcmp(cs, "UTF-8") == 0)
        copy_utf8(u + skip, len - skip, &out);
    else if (!convert(cs, data + skip, len - skip, &out)) {
        cs = "UTF-8";
        copy_utf8(u + skip, len - skip, &out);
    }
    if (charset)
        *charset = cs;
    *out_len = out.len;
    return nm_buf_steal(&out);
}
