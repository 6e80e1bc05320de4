/*
 * notif_render: what an alert says, in each markup a channel speaks.
 *
 * One alert reads: its title (a follow-up says "Also reported by SOURCE"),
 * source, published time and language, the themes with their severity,
 * a snippet of the article with the matched terms highlighted, and the
 * link. A digest lists its alerts one line each. The same content is
 * written as plain text (e-mail, ntfy, stdout), HTML (e-mail, Telegram,
 * Matrix), Markdown (Mattermost, Teams) and Slack's mrkdwn; everything
 * from the article is escaped for the markup it lands in.
 *
 * The snippet comes from the classifier's matches ({"term","field",
 * "offset","text"}): the match is looked up at its offset in its field,
 * else searched for in the title, summary and text, and a window around
 * it is cut at character boundaries with every matched text in the window
 * highlighted. A match that cannot be found still shows as the term list.
 *
 * Webhook templates are JSON text with {{placeholders}}: a value goes in
 * JSON-escaped (so it must sit inside a JSON string), {{alert_json}} as a
 * JSON value.
 */
#include "notifier/notif.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SNIPPET_BEFORE 80
#define SNIPPET_AFTER 160
#define MAX_HIGHLIGHTS 32

static const char *const severity_names[] = { "info", "low", "medium", "high", "critical" };

int notif_alert_severity(const nm_alert *a)
{
    int best = 0;
    for (size_t i = 0; i < a->item.n_themes; i++) {
        int r = notif_severity_rank(a->item.themes[i].severity);
        if (r > best)
            best = r;
    }
    return best;
}

char *notif_themes_text(const nm_alert *a)
{
    nm_buf b;
    nm_buf_init(&b);
    for (size_t i = 0; i < a->item.n_themes; i++) {
        const nm_theme_hit *h = &a->item.themes[i];
        nm_buf_addf(&b, "%s%s (%s)", i ? ", " : "", h->id ? h->id : "?", h->severity ? h->severity : "?");
    }
    return nm_buf_steal(&b);
}

void notif_escape(nm_buf *b, const char *s, enum notif_markup mk)
{
    for (const char *p = s ? s : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 && c != '\n' && c != '\t')
            continue;   /* control characters have no place in a message */
        switch (mk) {
        case NOTIF_MK_HTML:
        case NOTIF_MK_TGHTML:
            if (c == '<')
                nm_buf_adds(b, "&lt;");
            else if (c == '>')
                nm_buf_adds(b, "&gt;");
            else if (c == '&')
                nm_buf_adds(b, "&amp;");
            else if (c == '"')
                nm_buf_adds(b, "&quot;");
            else
                nm_buf_addc(b, (char)c);
            break;
        case NOTIF_MK_SLACK:
            if (c == '<')
                nm_buf_adds(b, "&lt;");
            else if (c == '>')
                nm_buf_adds(b, "&gt;");
            else if (c == '&')
                nm_buf_adds(b, "&amp;");
            else
                nm_buf_addc(b, (char)c);
            break;
        case NOTIF_MK_MARKDOWN:
            if (strchr("\\`*_{}[]<>()#+-!|~", c))
                nm_buf_addc(b, '\\');
            nm_buf_addc(b, (char)c);
            break;
        default:
            nm_buf_addc(b, (char)c);
        }
    }
}

/* ---- snippet ------------------------------------------------------------------ */

struct range {
    size_t s, e;
};

static int range_cmp(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* Moves i back to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Finds where a match's text sits: returns the source string and the
   offset, or NULL. */
static const char *locate(const nm_article *art, const json_t *m, size_t *pos)
{
    const char *field = json_string_value(json_object_get(m, "field"));
    const char *text = json_string_value(json_object_get(m, "text"));
    const json_t *off = json_object_get(m, "offset");
    if (!text || !*text)
        return NULL;
    size_t tl = strlen(text);
    const char *src = NULL;
    if (field && !strcmp(field, "title"))
        src = art->title;
    else if (field && !strcmp(field, "summary"))
        src = art->summary;
    else if (field)
        src = art->text ? art->text : art->summary;
    if (src && json_is_integer(off) && json_integer_value(off) >= 0) {
        size_t o = (size_t)json_integer_value(off);
        if (o < strlen(src) && strlen(src) - o >= tl && !memcmp(src + o, text, tl)) {
            *pos = o;
            return src;
        }
    }
    const char *cands[] = { src, art->title, art->summary, art->text };
    for (size_t i = 0; i < 4; i++) {
        const char *hit = cands[i] ? strstr(cands[i], text) : NULL;
        if (hit) {
            *pos = (size_t)(hit - cands[i]);
            return cands[i];
        }
    }
    return NULL;
}

static void open_mark(nm_buf *b, enum notif_markup mk)
{
    nm_buf_adds(b, mk == NOTIF_MK_TGHTML ? "<b><u>" : mk == NOTIF_MK_HTML ? "<mark><b>" : mk == NOTIF_MK_SLACK ? "*" : mk == NOTIF_MK_MARKDOWN ? "**" : "«");
}

static void close_mark(nm_buf *b, enum notif_markup mk)
{
    nm_buf_adds(b, mk == NOTIF_MK_TGHTML ? "</u></b>" : mk == NOTIF_MK_HTML ? "</b></mark>" : mk == NOTIF_MK_SLACK ? "*" : mk == NOTIF_MK_MARKDOWN ? "**" : "»");
}

/* Appends src[s, e) escaped, with runs of white space as one space. */
static void add_span(nm_buf *b, const char *src, size_t s, size_t e, enum notif_markup mk)
{
    char *piece = nm_xstrndup(src + s, e - s);
    for (char *p = piece; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    notif_escape(b, piece, mk);
    free(piece);
}

char *notif_snippet(const nm_alert *a, enum notif_markup mk)
{
    const nm_article *art = &a->item.article;
    const char *src = NULL;
    size_t anchor = 0;
    for (size_t i = 0; i < a->item.n_themes && !src; i++) {
        const json_t *ms = a->item.themes[i].matches;
        for (size_t j = 0; j < json_array_size(ms) && !src; j++)
            src = locate(art, json_array_get(ms, j), &anchor);
    }
    if (!src)
        return NULL;
    size_t len = strlen(src);
    size_t ws = anchor > SNIPPET_BEFORE ? char_start(src, anchor - SNIPPET_BEFORE) : 0;
    size_t we = anchor + SNIPPET_AFTER < len ? char_start(src, anchor + SNIPPET_AFTER) : len;
    /* Prefer to cut at white space. */
    for (size_t k = 0; ws > 0 && k < 20 && ws < anchor; k++, ws++)
        if (src[ws] == ' ')
            break;
    for (size_t k = 0; we < len && k < 20 && we > anchor; k++)
        if (src[we - 1] == ' ')
            break;
        else
            we = char_start(src, we - 1);
    struct range r[MAX_HIGHLIGHTS];
    size_t nr = 0;
    for (size_t i = 0; i < a->item.n_themes; i++) {
        const json_t *ms = a->item.themes[i].matches;
        for (size_t j = 0; j < json_array_size(ms); j++) {
            const char *t = json_string_value(json_object_get(json_array_get(ms, j), "text"));
            if (!t || !*t)
                continue;
            size_t tl = strlen(t);
            for (size_t p = ws; p + tl <= we && nr < MAX_HIGHLIGHTS;) {
                const char *hit = strstr(src + p, t);
                if (!hit || (size_t)(hit - src) + tl > we)
                    break;
                r[nr++] = (struct range){ (size_t)(hit - src), (size_t)(hit - src) + tl };
                p = (size_t)(hit - src) + tl;
            }
        }
    }
    qsort(r, nr, sizeof *r, range_cmp);
    nm_buf b;
    nm_buf_init(&b);
    if (ws > 0)
        nm_buf_adds(&b, "…");
    size_t at = ws;
    for (size_t i = 0; i < nr; i++) {
        if (r[i].e <= at)
            continue;   /* inside the previous highlight */
        size_t s = r[i].s < at ? at : r[i].s;
        size_t e = r[i].e;
        for (size_t k = i + 1; k < nr && r[k].s <= e; k++)
            if (r[k].e > e)
                e = r[k].e;
        add_span(&b, src, at, s, mk);
        open_mark(&b, mk);
        add_span(&b, src, s, e, mk);
        close_mark(&b, mk);
        at = e;
    }
    add_span(&b, src, at, we, mk);
    if (we < len)
        nm_buf_adds(&b, "…");
    return nm_buf_steal(&b);
}

/* ---- titles and bodies ---------------------------------------------------------- */

static const char *title_of(const nm_alert *a)
{
    const char *t = a->item.article.title;
    return t && *t ? t : "(untitled)";
}

char *notif_render_title(const notif_msg *m)
{
    if (m->digest || m->n != 1)
        return nm_xasprintf("%zu alert%s (route %s)", m->n, m->n == 1 ? "" : "s", m->route ? m->route : "?");
    const nm_alert *a = m->alerts[0];
    if (a->followup > 0) {
        char *src = notif_alert_source(a);
        char *t = nm_xasprintf("Also reported by %s: %s", src, title_of(a));
        free(src);
        return t;
    }
    char sev[16];
    const char *name = severity_names[notif_alert_severity(a)];
    size_t i = 0;
    for (; name[i] && i < sizeof sev - 1; i++)
        sev[i] = (char)toupper((unsigned char)name[i]);
    sev[i] = '\0';
    return nm_xasprintf("[%s] %s", sev, title_of(a));
}

static void add_link(nm_buf *b, const char *url, const char *label, enum notif_markup mk)
{
    switch (mk) {
    case NOTIF_MK_HTML:
    case NOTIF_MK_TGHTML:
        nm_buf_adds(b, "<a href=\"");
        notif_escape(b, url, NOTIF_MK_HTML);
        nm_buf_adds(b, "\">");
        notif_escape(b, label, NOTIF_MK_HTML);
        nm_buf_adds(b, "</a>");
        break;
    case NOTIF_MK_SLACK:
        nm_buf_addc(b, '<');
        notif_escape(b, url, NOTIF_MK_SLACK);
        nm_buf_addc(b, '|');
        notif_escape(b, label, NOTIF_MK_SLACK);
        nm_buf_addc(b, '>');
        break;
    case NOTIF_MK_MARKDOWN:
        nm_buf_addc(b, '[');
        notif_escape(b, label, NOTIF_MK_MARKDOWN);
        nm_buf_adds(b, "](<");
        for (const char *p = url; *p; p++)
            if (*p != '<' && *p != '>' && (unsigned char)*p > ' ')
                nm_buf_addc(b, *p);
        nm_buf_adds(b, ">)");
        break;
    default:
        nm_buf_adds(b, url);
    }
}

static void add_bold(nm_buf *b, const char *s, enum notif_markup mk)
{
    int html = mk == NOTIF_MK_HTML || mk == NOTIF_MK_TGHTML;
    const char *o = html ? "<b>" : mk == NOTIF_MK_SLACK ? "*" : mk == NOTIF_MK_MARKDOWN ? "**" : "";
    const char *c = html ? "</b>" : o;
    nm_buf_adds(b, o);
    notif_escape(b, s, mk);
    nm_buf_adds(b, c);
}

/* The line break of markup mk. */
static const char *nl(enum notif_markup mk)
{
    return mk == NOTIF_MK_HTML ? "<br>\n" : mk == NOTIF_MK_MARKDOWN ? "  \n" : "\n";
}

static void add_field(nm_buf *b, const char *label, const char *value, enum notif_markup mk)
{
    if (!value || !*value)
        return;
    add_bold(b, label, mk);
    nm_buf_addc(b, ' ');
    notif_escape(b, value, mk);
    nm_buf_adds(b, nl(mk));
}

static void render_one(nm_buf *b, const nm_alert *a, enum notif_markup mk)
{
    const nm_article *art = &a->item.article;
    char *src = notif_alert_source(a);
    if (a->followup > 0) {
        char *t = nm_xasprintf("Also reported by %s", src);
        add_bold(b, t, mk);
        free(t);
        nm_buf_adds(b, nl(mk));
        notif_escape(b, title_of(a), mk);
    } else {
        add_bold(b, title_of(a), mk);
    }
    nm_buf_adds(b, nl(mk));
    nm_buf_adds(b, nl(mk));
    add_field(b, "Source:", src, mk);
    add_field(b, "Published:", art->published, mk);
    add_field(b, "Language:", art->lang, mk);
    char *themes = notif_themes_text(a);
    add_field(b, "Themes:", themes, mk);
    free(themes);
    if (a->followup > 0) {
        char *n = nm_xasprintf("follow-up %lld of this story", (long long)a->followup);
        add_field(b, "Story:", n, mk);
        free(n);
    }
    char *snip = notif_snippet(a, mk);
    if (snip) {
        nm_buf_adds(b, nl(mk));
        if (mk == NOTIF_MK_HTML || mk == NOTIF_MK_TGHTML)
            nm_buf_adds(b, "<blockquote>");
        else if (mk != NOTIF_MK_PLAIN)
            nm_buf_adds(b, "> ");
        else
            nm_buf_adds(b, "  ");
        nm_buf_adds(b, snip);
        if (mk == NOTIF_MK_HTML || mk == NOTIF_MK_TGHTML)
            nm_buf_adds(b, "</blockquote>");
        nm_buf_adds(b, nl(mk));
        free(snip);
    }
    if (art->link && *art->link) {
        nm_buf_adds(b, nl(mk));
        if (mk == NOTIF_MK_PLAIN) {
            nm_buf_adds(b, "Link: ");
            nm_buf_adds(b, art->link);
        } else {
            add_link(b, art->link, "Read the article", mk);
        }
        nm_buf_adds(b, nl(mk));
    }
    free(src);
}

static void render_digest(nm_buf *b, const notif_msg *m, enum notif_markup mk)
{
    char *t = notif_render_title(m);
    add_bold(b, t, mk);
    free(t);
    nm_buf_adds(b, nl(mk));
    if (mk == NOTIF_MK_HTML)
        nm_buf_adds(b, "<ul>\n");
    for (size_t i = 0; i < m->n; i++) {
        const nm_alert *a = m->alerts[i];
        char *src = notif_alert_source(a), *themes = notif_themes_text(a);
        nm_buf_adds(b, mk == NOTIF_MK_HTML ? "<li>" : mk == NOTIF_MK_PLAIN ? "- " : "• ");
        nm_buf_addf(b, "[%s] ", severity_names[notif_alert_severity(a)]);
        if (a->followup > 0)
            notif_escape(b, "(follow-up) ", mk);
        if (a->item.article.link && mk != NOTIF_MK_PLAIN)
            add_link(b, a->item.article.link, title_of(a), mk);
        else
            notif_escape(b, title_of(a), mk);
        nm_buf_adds(b, " — ");
        notif_escape(b, src, mk);
        nm_buf_adds(b, " — ");
        notif_escape(b, themes, mk);
        if (a->item.article.link && mk == NOTIF_MK_PLAIN)
            nm_buf_addf(b, "\n  %s", a->item.article.link);
        nm_buf_adds(b, mk == NOTIF_MK_HTML ? "</li>\n" : "\n");
        free(src);
        free(themes);
    }
    if (mk == NOTIF_MK_HTML)
        nm_buf_adds(b, "</ul>\n");
}

char *notif_render_body(const notif_msg *m, enum notif_markup mk)
{
    nm_buf b;
    nm_buf_init(&b);
    if (m->digest || m->n != 1)
        render_digest(&b, m, mk);
    else
        render_one(&b, m->alerts[0], mk);
    return nm_buf_steal(&b);
}

json_t *notif_alert_json(const json_t *raw, const char *channel)
{
    /* A shallow copy: callers only add top-level keys, and the nested values
       (the article, the themes and their matches) are shared, not copied. */
    json_t *j = json_copy((json_t *)raw);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    json_object_set_new(j, "channel", json_string(channel ? channel : ""));
    return j;
}

/* ---- templates ---------------------------------------------------------------- */

static const char *const placeholders[] = {
    "alert_id", "story", "followup", "title", "link", "source", "published", "lang", "themes",
    "severity", "snippet", "text", "route", "channel", "alert_json", "count", NULL,
};

/* Finds the next {{name}} from p: returns its start, sets *name / *name_len / *end. */
static const char *next_placeholder(const char *p, const char **name, size_t *name_len, const char **end)
{
    for (const char *s = strstr(p, "{{"); s; s = strstr(s + 2, "{{")) {
        const char *e = strstr(s + 2, "}}");
        if (!e)
            return NULL;
        const char *n = s + 2;
        while (n < e && *n == ' ')
            n++;
        const char *ne = e;
        while (ne > n && ne[-1] == ' ')
            ne--;
        *name = n;
        *name_len = (size_t)(ne - n);
        *end = e + 2;
        return s;
    }
    return NULL;
}

static int known_placeholder(const char *n, size_t len)
{
    for (size_t i = 0; placeholders[i]; i++)
        if (strlen(placeholders[i]) == len && !memcmp(placeholders[i], n, len))
            return 1;
    return 0;
}

/* Returns the value of placeholder name for m (a new string). */
static char *placeholder_value(const char *name, size_t len, const notif_msg *m, int *raw_json)
{
    const nm_alert *a = m->alerts[0];
    const nm_article *art = &a->item.article;
    *raw_json = 0;
#define IS(s) (strlen(s) == len && !memcmp(s, name, len))
    if (IS("alert_id"))
        return nm_xasprintf("%lld", (long long)a->alert_id);
    if (IS("story"))
        return nm_xstrdup(a->story);
    if (IS("followup"))
        return nm_xasprintf("%lld", (long long)a->followup);
    if (IS("title"))
        return m->digest ? notif_render_title(m) : nm_xstrdup(title_of(a));
    if (IS("link"))
        return nm_xstrdup(art->link ? art->link : "");
    if (IS("source"))
        return notif_alert_source(a);
    if (IS("published"))
        return nm_xstrdup(art->published ? art->published : "");
    if (IS("lang"))
        return nm_xstrdup(art->lang ? art->lang : "");
    if (IS("themes"))
        return notif_themes_text(a);
    if (IS("severity"))
        return nm_xstrdup(severity_names[notif_alert_severity(a)]);
    if (IS("snippet")) {
        char *s = notif_snippet(a, NOTIF_MK_PLAIN);
        return s ? s : nm_xstrdup("");
    }
    if (IS("text"))
        return notif_render_body(m, NOTIF_MK_PLAIN);
    if (IS("route"))
        return nm_xstrdup(m->route ? m->route : "");
    if (IS("channel"))
        return nm_xstrdup(m->channel ? m->channel : "");
    if (IS("count"))
        return nm_xasprintf("%zu", m->n);
    if (IS("alert_json")) {
        *raw_json = 1;
        json_t *j;
        if (m->digest) {
            j = json_array();
            for (size_t i = 0; i < m->n; i++)
                json_array_append_new(j, notif_alert_json(m->raws[i], m->channel));
        } else {
            j = notif_alert_json(m->raws[0], m->channel);
        }
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return s ? s : nm_xstrdup("null");
    }
#undef IS
    return nm_xstrdup("");
}

/* Appends s JSON-escaped, without the surrounding quotes. */
static void add_json_escaped(nm_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (d && strlen(d) >= 2)
        nm_buf_add(b, d + 1, strlen(d) - 2);
    free(d);
    json_decref(j);
}

char *notif_template_render(const char *tmpl, const notif_msg *m)
{
    nm_buf b;
    nm_buf_init(&b);
    const char *p = tmpl, *name, *end, *s;
    size_t nl_;
    while ((s = next_placeholder(p, &name, &nl_, &end))) {
        nm_buf_add(&b, p, (size_t)(s - p));
        int raw;
        char *v = placeholder_value(name, nl_, m, &raw);
        if (raw)
            nm_buf_adds(&b, v);
        else
            add_json_escaped(&b, v);
        free(v);
        p = end;
    }
    nm_buf_adds(&b, p);
    return nm_buf_steal(&b);
}

int notif_template_check(const char *tmpl, nm_err *err)
{
    const char *p = tmpl, *name, *end, *s;
    size_t len;
    while ((s = next_placeholder(p, &name, &len, &end))) {
        if (!known_placeholder(name, len))
            return nm_err_set(err, "unknown placeholder {{%.*s}}", (int)(len > 40 ? 40 : len), name);
        p = end;
    }
    /* Render a sample whose strings need escaping; the result must be JSON. */
    nm_alert a;
    nm_alert_init(&a);
    a.alert_id = 1;
    a.story = nm_xstrdup("story \"1\"");
    a.item.article.id = nm_xstrdup("x");
    a.item.article.title = nm_xstrdup("A \"quoted\" \\ title\nwith a new line");
    a.item.article.link = nm_xstrdup("https://example.org/a?b=1&c=\"2\"");
    json_t *raw = nm_alert_to_json(&a);
    const nm_alert *alerts[1] = { &a };
    const json_t *raws[1] = { raw };
    notif_msg m = { "channel", "route", 0, alerts, raws, 1 };
    char *out = notif_template_render(tmpl, &m);
    json_error_t je;
    json_t *j = json_loads(out, JSON_DECODE_ANY, &je);
    int rc = 0;
    if (!j)
        rc = nm_err_set(err, "the template is not JSON once filled in (%s at character %d): "
                             "placeholders other than {{alert_json}} belong inside \"...\"",
                        je.text, je.position);
    json_decref(j);
    free(out);
    json_decref(raw);
    nm_alert_clear(&a);
    return rc;
}
