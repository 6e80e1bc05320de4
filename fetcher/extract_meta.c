/*
 * extract_meta: what a page says about itself: title, author, date,
 * language and site name. The order of the sources is Mozilla
 * Readability's (JSON-LD of a schema.org Article type first, then Dublin
 * Core, OpenGraph and Twitter <meta> tags, then the <title> element cleaned
 * of the site's name), so that our titles are the ones a reader view
 * shows. Beyond Readability: the publication date also comes from <meta
 * itemprop=datePublished>, date-like <meta name>s and <time datetime>, the
 * language from <html lang>, JSON-LD inLanguage, Content-Language or
 * og:locale, and JSON-LD's articleBody is kept as a fallback text.
 */
#include "fetcher/extract_int.h"
#include "common/nm_time.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_LD_MAX (1 << 20) /* a JSON-LD script larger than this is not parsed */

static regex_t re_article_type, re_prop, re_name;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void compile_regexes(void)
{
    /* Patterns are Readability's, in POSIX extended syntax. */
    regcomp(&re_article_type,
            "^Article|AdvertiserContentArticle|NewsArticle|AnalysisNewsArticle|AskPublicNewsArticle|"
            "BackgroundNewsArticle|OpinionNewsArticle|ReportageNewsArticle|ReviewNewsArticle|Report|"
            "SatiricalArticle|ScholarlyArticle|MedicalScholarlyArticle|SocialMediaPosting|BlogPosting|"
            "LiveBlogPosting|DiscussionForumPosting|TechArticle|APIReference$",
            REG_EXTENDED | REG_NOSUB);
    regcomp(&re_prop,
            "[[:space:]]*(article|dc|dcterm|og|twitter)[[:space:]]*:[[:space:]]*"
            "(author|creator|description|published_time|title|site_name)[[:space:]]*",
            REG_EXTENDED | REG_ICASE);
    regcomp(&re_name,
            "^[[:space:]]*((dc|dcterm|og|twitter|weibo:(article|webpage))[[:space:]]*[.:][[:space:]]*)?"
            "(author|creator|description|title|site_name)[[:space:]]*$",
            REG_EXTENDED | REG_ICASE | REG_NOSUB);
}

/* ---------------------------------------------------------------- dates */

char *extract_date(const char *s)
{
    return s ? nm_time_normalize(s) : NULL;
}

/* ---------------------------------------------------------------- text helpers */

/* Returns s trimmed and with whitespace runs collapsed, malloc'd. */
static char *collapse(const char *s)
{
    nm_buf b;
    nm_buf_init(&b);
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t w = utf8_space_len(p);
        if (w) {
            space = true;
            p += w;
            continue;
        }
        if (space && b.len)
            nm_buf_addc(&b, ' ');
        space = false;
        nm_buf_addc(&b, (char)*p++);
    }
    return nm_buf_steal(&b);
}

/* Returns s with the entities Readability unescapes in metadata decoded (a
   second time: many sites escape twice), trimmed; malloc'd, NULL for NULL. */
static char *unescape_meta(const char *s)
{
    if (!s)
        return NULL;
    nm_buf b;
    nm_buf_init(&b);
    static const struct { const char *name, *ch; } named[] = {
        { "&quot;", "\"" }, { "&amp;", "&" }, { "&apos;", "'" }, { "&lt;", "<" }, { "&gt;", ">" },
    };
    while (*s) {
        if (*s == '&') {
            bool done = false;
            for (size_t i = 0; i < NM_ARRAY_LEN(named) && !done; i++) {
                size_t n = strlen(named[i].name);
                if (strncmp(s, named[i].name, n) == 0) {
                    nm_buf_adds(&b, named[i].ch);
                    s += n;
                    done = true;
                }
            }
            if (!done && s[1] == '#') {
                const char *p = s + 2;
                int base = 10;
                if (*p == 'x' || *p == 'X')
                    base = 16, p++;
                char *end;
                long cp = strtol(p, &end, base);
                if (end > p && end - p <= 4 && *end == ';' && cp > 0) {
                    char u[4];
                    size_t k;
                    if (cp < 0x80)
                        u[0] = (char)cp, k = 1;
                    else if (cp < 0x800)
                        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
                    else
                        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                        u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
                    if (!(cp >= 0xD800 && cp <= 0xDFFF))
                        nm_buf_add(&b, u, k);
                    s = end + 1;
                    done = true;
                }
            }
            if (done)
                continue;
        }
        nm_buf_addc(&b, *s++);
    }
    char *raw = nm_buf_steal(&b);
    char *res = collapse(raw);
    free(raw);
    return res;
}

/* Splits s into lower-cased word tokens (letters, digits, '_' and any non-ASCII character). */
static size_t tokenize(const char *s, char ***out)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        while (*p && !(isalnum(*p) || *p == '_' || *p >= 0x80))
            p++;
        if (!*p)
            break;
        const unsigned char *st = p;
        while (*p && (isalnum(*p) || *p == '_' || *p >= 0x80))
            p++;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = nm_xrealloc(v, cap * sizeof *v);
        }
        char *w = nm_xstrndup((const char *)st, (size_t)(p - st));
        for (char *c = w; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        v[n++] = w;
    }
    *out = v;
    return n;
}

static void free_tokens(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

double extract_text_similarity(const char *a, const char *b)
{
    char **ta, **tb;
    size_t na = tokenize(a ? a : "", &ta), nb = tokenize(b ? b : "", &tb);
    double res = 0;
    if (na && nb) {
        size_t all = 0, uniq = 0, nuniq = 0;
        for (size_t i = 0; i < nb; i++) {
            size_t l = strlen(tb[i]);
            all += l + (i > 0);
            bool found = false;
            for (size_t j = 0; j < na && !found; j++)
                found = strcmp(ta[j], tb[i]) == 0;
            if (!found) {
                uniq += l + (nuniq > 0);
                nuniq++;
            }
        }
        res = 1.0 - (double)uniq / (double)all;
    }
    free_tokens(ta, na);
    free_tokens(tb, nb);
    return res;
}

/* ---------------------------------------------------------------- title */

/* Returns true when p starts a title separator: | - \ / > » and the en and
   em dashes (Readability's list, plus the dashes sites use the same way);
   *hier tells the "hierarchical" ones (\ / > »). */
static bool is_sep(const char *p, size_t *len, bool *hier)
{
    const unsigned char *u = (const unsigned char *)p;
    if (*p == '|' || *p == '-') {
        *len = 1, *hier = false;
        return true;
    }
    if (*p == '\\' || *p == '/' || *p == '>') {
        *len = 1, *hier = true;
        return true;
    }
    if (u[0] == 0xC2 && u[1] == 0xBB) { /* » */
        *len = 2, *hier = true;
        return true;
    }
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0x93 || u[2] == 0x94)) { /* – — */
        *len = 3, *hier = false;
        return true;
    }
    return false;
}

/* JavaScript's str.split(/\s+/).length. */
static size_t word_count(const char *s)
{
    size_t k = 1;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t w = utf8_space_len(p);
        if (w) {
            k++;
            while ((w = utf8_space_len(p)))
                p += w;
        } else {
            p++;
        }
    }
    return k;
}

static xmlNode *find_first(xmlNode *root, const char *tag)
{
    for (xmlNode *n = root; n; n = dom_next_node(n, false))
        if (dom_is(n, tag))
            return n;
    return NULL;
}

/* Returns true when an h1 or h2 of the page has exactly the text t (trimmed). */
static bool heading_equals(xmlNode *root, const char *t)
{
    nm_buf b;
    nm_buf_init(&b);
    bool found = false;
    for (xmlNode *n = root; n && !found; n = dom_next_node(n, false)) {
        if (!dom_is(n, "h1") && !dom_is(n, "h2"))
            continue;
        nm_buf_reset(&b);
        dom_text(n, &b);
        char *c = collapse(nm_buf_cstr(&b));
        found = strcmp(c, t) == 0;
        free(c);
    }
    nm_buf_free(&b);
    return found;
}

char *extract_article_title(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *te = root ? find_first(root, "title") : NULL;
    if (!te)
        return nm_xstrdup("");
    nm_buf b;
    nm_buf_init(&b);
    dom_text(te, &b);
    char *orig = collapse(nm_buf_cstr(&b));
    nm_buf_free(&b);
    char *cur = NULL;
    bool had_hier = false, has_sep = false;
    size_t last_sep = 0, sl;
    bool hier;
    /* Readability: " SEP " anywhere means the title names its site; cut at the last one. */
    for (size_t i = 1; orig[0] && orig[i]; i++) {   /* orig may be empty: <title></title> */
        if (orig[i - 1] == ' ' && is_sep(orig + i, &sl, &hier) && orig[i + sl] == ' ') {
            has_sep = true;
            had_hier |= hier;
            last_sep = i - 1;
        }
    }
    if (has_sep) {
        cur = nm_xstrndup(orig, last_sep);
        if (word_count(cur) < 3) {
            /* Too short: drop the first part instead. */
            free(cur);
            size_t i = 0;
            while (orig[i] && !is_sep(orig + i, &sl, &hier))
                i++;
            cur = nm_xstrdup(orig[i] ? orig + i + sl : "");
        }
    } else if (strstr(orig, ": ")) {
        if (heading_equals(root, orig)) {
            cur = nm_xstrdup(orig);
        } else {
            cur = nm_xstrdup(strrchr(orig, ':') + 1);
            char *first = strchr(orig, ':');
            if (word_count(cur) < 3) {
                free(cur);
                cur = nm_xstrdup(first + 1);
            } else {
                char *before = nm_xstrndup(orig, (size_t)(first - orig));
                if (word_count(before) > 5) {
                    free(cur);
                    cur = nm_xstrdup(orig);
                }
                free(before);
            }
        }
    } else {
        size_t len = utf8_chars(orig, strlen(orig));
        cur = nm_xstrdup(orig);
        if (len > 150 || len < 15) {
            xmlNode *h1 = NULL;
            size_t nh1 = 0;
            for (xmlNode *n = root; n; n = dom_next_node(n, false))
                if (dom_is(n, "h1") && nh1++ == 0)
                    h1 = n;
            if (nh1 == 1) {
                nm_buf hb;
                nm_buf_init(&hb);
                dom_inner_text(h1, &hb);
                free(cur);
                cur = nm_buf_steal(&hb);
            }
        }
    }
    char *c = collapse(cur);
    free(cur);
    cur = c;
    size_t wc = word_count(cur);
    if (wc <= 4) {
        nm_buf nb;
        nm_buf_init(&nb);
        for (size_t i = 0; orig[i];) {
            if (is_sep(orig + i, &sl, &hier))
                i += sl;
            else
                nm_buf_addc(&nb, orig[i++]);
        }
        bool keep = had_hier && wc == word_count(nm_buf_cstr(&nb)) - 1;
        nm_buf_free(&nb);
        if (!keep) {
            free(cur);
            cur = nm_xstrdup(orig);
        }
    }
    free(orig);
    return cur;
}

/* ---------------------------------------------------------------- JSON-LD */

struct jsonld {
    char *title, *byline, *site_name, *published, *lang, *body;
};

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool type_matches(json_t *t)
{
    if (json_is_string(t))
        return regexec(&re_article_type, json_string_value(t), 0, NULL, 0) == 0;
    if (json_is_array(t)) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v)
            if (type_matches(v))
                return true;
    }
    return false;
}

static bool context_ok(json_t *ctx)
{
    const char *s = NULL;
    if (json_is_string(ctx))
        s = json_string_value(ctx);
    else if (json_is_object(ctx))
        s = jstr(ctx, "@vocab");
    else if (json_is_array(ctx)) {
        size_t i;
        json_t *v;
        json_array_foreach(ctx, i, v)
            if (context_ok(v))
                return true;
    }
    if (!s)
        return false;
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strncmp(s, "https://", 8) == 0)
        s += 8;
    else
        return false;
    return strcmp(s, "schema.org") == 0 || strcmp(s, "schema.org/") == 0;
}

/* Returns the article object in a parsed JSON-LD value (borrowed), or NULL. */
static json_t *find_article(json_t *j)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            json_t *a = find_article(v);
            if (a)
                return a;
        }
        return NULL;
    }
    if (!json_is_object(j) || !context_ok(json_object_get(j, "@context")))
        return NULL;
    json_t *type = json_object_get(j, "@type");
    json_t *graph = json_object_get(j, "@graph");
    if (!type && json_is_array(graph)) {
        size_t i;
        json_t *v;
        json_array_foreach(graph, i, v)
            if (json_is_object(v) && type_matches(json_object_get(v, "@type")))
                return v;
        return NULL;
    }
    return type_matches(type) ? j : NULL;
}

static char *author_names(json_t *a)
{
    if (json_is_string(a))
        return nm_xstrdup(json_string_value(a));
    if (jstr(a, "name"))
        return nm_xstrdup(jstr(a, "name"));
    if (!json_is_array(a))
        return NULL;
    nm_buf b;
    nm_buf_init(&b);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *n = jstr(v, "name");
        if (!n)
            continue;
        if (b.len)
            nm_buf_adds(&b, ", ");
        char *c = collapse(n);
        nm_buf_adds(&b, c);
        free(c);
    }
    return b.len ? nm_buf_steal(&b) : (nm_buf_free(&b), NULL);
}

static void read_jsonld(xmlDoc *doc, xmlNode *root, struct jsonld *out)
{
    nm_buf b;
    nm_buf_init(&b);
    for (xmlNode *n = root; n; n = dom_next_node(n, false)) {
        const char *type = dom_attr(n, "type");
        if (!dom_is(n, "script") || !type || strcasecmp(type, "application/ld+json") != 0)
            continue;
        nm_buf_reset(&b);
        dom_text(n, &b);
        if (b.len > JSON_LD_MAX)
            continue;
        const char *s = nm_buf_cstr(&b);
        size_t len = b.len;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        if (len >= 9 && strncmp(s, "<![CDATA[", 9) == 0)
            s += 9, len -= 9;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (len >= 3 && strncmp(s + len - 3, "]]>", 3) == 0)
            len -= 3;
        json_t *j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
        json_t *a = find_article(j);
        if (!a) {
            json_decref(j);
            continue;
        }
        const char *name = jstr(a, "name"), *headline = jstr(a, "headline");
        if (name && headline && strcmp(name, headline) != 0) {
            char *t = extract_article_title(doc);
            bool nm = extract_text_similarity(name, t) > 0.75;
            bool hm = extract_text_similarity(headline, t) > 0.75;
            out->title = nm_xstrdup(hm && !nm ? headline : name);
            free(t);
        } else if (name || headline) {
            out->title = nm_xstrdup(name ? name : headline);
        }
        out->byline = author_names(json_object_get(a, "author"));
        json_t *pub = json_object_get(a, "publisher");
        if (jstr(pub, "name"))
            out->site_name = nm_xstrdup(jstr(pub, "name"));
        if (jstr(a, "datePublished"))
            out->published = nm_xstrdup(jstr(a, "datePublished"));
        json_t *lang = json_object_get(a, "inLanguage");
        if (json_is_string(lang))
            out->lang = nm_xstrdup(json_string_value(lang));
        else if (jstr(lang, "alternateName"))
            out->lang = nm_xstrdup(jstr(lang, "alternateName"));
        if (jstr(a, "articleBody"))
            out->body = nm_xstrdup(jstr(a, "articleBody"));
        json_decref(j);
        break;
    }
    nm_buf_free(&b);
}

/* ---------------------------------------------------------------- <meta> */

/* The <meta> values Readability looks at, by normalised name. */
enum meta_key {
    MK_DC_TITLE, MK_DCTERM_TITLE, MK_OG_TITLE, MK_WEIBO_ARTICLE_TITLE, MK_WEIBO_WEBPAGE_TITLE,
    MK_TITLE, MK_TWITTER_TITLE, MK_DC_CREATOR, MK_DCTERM_CREATOR, MK_AUTHOR, MK_OG_SITE_NAME,
    MK_ARTICLE_PUBLISHED_TIME, MK_COUNT
};
static const char *const meta_names[MK_COUNT] = {
    "dc:title", "dcterm:title", "og:title", "weibo:article:title", "weibo:webpage:title",
    "title", "twitter:title", "dc:creator", "dcterm:creator", "author", "og:site_name",
    "article:published_time",
};

/* Other <meta> names and itemprops that carry a publication date, best first. */
static const char *const date_names[] = {
    "datepublished", "date", "pubdate", "publishdate", "publish-date", "publish_date",
    "article.published", "parsely-pub-date", "dc.date.issued", "dc.date", "dcterms.created",
    "sailthru.date", NULL,
};

static void set_value(char **slot, const char *v)
{
    free(*slot);
    *slot = nm_xstrdup(v);
}

/* Normalises a matched name: lower case, no whitespace, '.' as ':'. */
static void norm_name(const char *s, size_t n, nm_buf *b)
{
    nm_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i]))
            continue;
        nm_buf_addc(b, s[i] == '.' ? ':' : (char)tolower((unsigned char)s[i]));
    }
}

struct meta_scan {
    char *values[MK_COUNT];
    char *date;          /* best other date, with its rank */
    size_t date_rank;
    char *content_lang;
    char *og_locale;
};

static void scan_meta(xmlNode *n, struct meta_scan *ms, nm_buf *b)
{
    const char *content = dom_attr(n, "content");
    if (!content || !*content)
        return;
    const char *name = dom_attr(n, "name"), *prop = dom_attr(n, "property");
    const char *itemprop = dom_attr(n, "itemprop"), *equiv = dom_attr(n, "http-equiv");
    bool matched = false;
    regmatch_t m[1];
    if (prop && regexec(&re_prop, prop, 1, m, 0) == 0) {
        matched = true;
        norm_name(prop + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so), b);
        for (int k = 0; k < MK_COUNT; k++)
            if (strcmp(nm_buf_cstr(b), meta_names[k]) == 0)
                set_value(&ms->values[k], content);
    }
    if (!matched && name && regexec(&re_name, name, 0, NULL, 0) == 0) {
        norm_name(name, strlen(name), b);
        for (int k = 0; k < MK_COUNT; k++)
            if (strcmp(nm_buf_cstr(b), meta_names[k]) == 0)
                set_value(&ms->values[k], content);
    }
    const char *dn = itemprop ? itemprop : name ? name : prop;
    for (size_t r = 0; dn && date_names[r]; r++)
        if (strcasecmp(dn, date_names[r]) == 0 && (!ms->date || r < ms->date_rank)) {
            set_value(&ms->date, content);
            ms->date_rank = r;
        }
    if (equiv && strcasecmp(equiv, "content-language") == 0 && !ms->content_lang)
        ms->content_lang = nm_xstrndup(content, strcspn(content, ", "));
    if (prop && strcasecmp(prop, "og:locale") == 0 && !ms->og_locale) {
        ms->og_locale = nm_xstrdup(content);
        for (char *c = ms->og_locale; *c; c++)
            if (*c == '_')
                *c = '-';
    }
}

/* Returns the datetime of the page's best <time> element (borrowed), or NULL. */
static const char *time_element(xmlNode *root)
{
    const char *first = NULL, *in_article = NULL;
    for (xmlNode *n = root; n; n = dom_next_node(n, false)) {
        const char *dt = dom_attr(n, "datetime");
        if (!dom_is(n, "time") || !dt || !*dt)
            continue;
        const char *ip = dom_attr(n, "itemprop");
        if (dom_attr(n, "pubdate") || (ip && strcasecmp(ip, "datePublished") == 0))
            return dt;
        if (!first)
            first = dt;
        for (xmlNode *a = n->parent; a && !in_article; a = a->parent)
            if (dom_is(a, "article"))
                in_article = dt;
    }
    return in_article ? in_article : first;
}

void extract_meta_read(xmlDoc *doc, struct extract_meta *m)
{
    pthread_once(&re_once, compile_regexes);
    memset(m, 0, sizeof *m);
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root)
        return;
    struct jsonld jl = { 0 };
    read_jsonld(doc, root, &jl);
    struct meta_scan ms = { 0 };
    nm_buf b;
    nm_buf_init(&b);
    for (xmlNode *n = root; n; n = dom_next_node(n, false))
        if (dom_is(n, "meta"))
            scan_meta(n, &ms, &b);
    nm_buf_free(&b);
    char **v = ms.values;

    const char *title = jl.title;
    for (int k = MK_DC_TITLE; !title && k <= MK_TWITTER_TITLE; k++)
        title = v[k];
    m->title = title ? unescape_meta(title) : NULL;
    if (!m->title || !*m->title) {
        free(m->title);
        m->title = extract_article_title(doc);
    }
    const char *by = jl.byline ? jl.byline : v[MK_DC_CREATOR] ? v[MK_DC_CREATOR]
                   : v[MK_DCTERM_CREATOR] ? v[MK_DCTERM_CREATOR] : v[MK_AUTHOR];
    m->byline = unescape_meta(by);
    m->site_name = unescape_meta(jl.site_name ? jl.site_name : v[MK_OG_SITE_NAME]);
    const char *pub = jl.published ? jl.published : v[MK_ARTICLE_PUBLISHED_TIME];
    if (!pub)
        pub = ms.date;
    if (!pub)
        pub = time_element(root);
    m->published = unescape_meta(pub);

    const char *lang = dom_attr(root, "lang");
    if (!lang || !*lang)
        lang = dom_attr(root, "xml:lang");
    if (!lang || !*lang)
        lang = jl.lang;
    if (!lang || !*lang)
        lang = ms.content_lang;
    if (!lang || !*lang)
        lang = ms.og_locale;
    m->lang = lang && *lang ? collapse(lang) : NULL;
    m->json_ld_body = jl.body;
    jl.body = NULL;

    free(jl.title);
    free(jl.byline);
    free(jl.site_name);
    free(jl.published);
    free(jl.lang);
    for (int k = 0; k < MK_COUNT; k++)
        free(v[k]);
    free(ms.date);
    free(ms.content_lang);
    free(ms.og_locale);
}

void extract_meta_clear(struct extract_meta *m)
{
    nm_free(&m->title);
    nm_free(&m->byline);
    nm_free(&m->published);
    nm_free(&m->lang);
    nm_free(&m->site_name);
    nm_free(&m->json_ld_body);
}
