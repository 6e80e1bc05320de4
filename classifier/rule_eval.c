/*
 * rule_eval: evaluates every theme of a rule set on one article, after
 * rule_match.c has found every term occurrence in one scan. Expressions
 * only read the per-term occurrence lists (sorted by field and position),
 * so a theme costs a walk of its syntax tree, never a look at the text.
 *
 * The same walk, run again on a theme that fired, collects the
 * occurrences that made it fire (terms under match and under the score
 * lines that held, never under NOT or exclude) for the report; rule_set_
 * evaluate also keeps what failed, for `newsmonctl rules test`.
 */
#include "classifier/rule_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/nm_url.h"
#include "common/nm_util.h"

/* What an expression is evaluated against. */
typedef struct ectx {
    const rule_set *rs;
    const rscan *sc;
    const char *field_text[2];   /* original title and text */
    char *lang;                  /* lower-case, '-' separated; NULL when unknown */
    char *hosts[2];              /* of the link and of the feed; NULL when absent */
} ectx;

/* Occurrences gathered for a report. */
typedef struct occ_list {
    rocc *v;
    size_t n, cap;
} occ_list;

static void occ_add(occ_list *l, const rocc *o)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = nm_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *o;
}

/* ---------- article facts ---------- */

static bool host_matches(const char *host, const char *want)
{
    if (!host)
        return false;
    size_t hl = strlen(host), wl = strlen(want);
    if (hl == wl)
        return strcmp(host, want) == 0;
    return hl > wl && host[hl - wl - 1] == '.' && strcmp(host + hl - wl, want) == 0;
}

static bool lang_matches(const char *lang, const char *want)
{
    if (!lang)
        return false;
    size_t wl = strlen(want);
    return strncmp(lang, want, wl) == 0 && (lang[wl] == '\0' || lang[wl] == '-');
}

/* ---------- evaluation ---------- */

static bool term_in(const ectx *e, int32_t t, int mask)
{
    if (t < 0)
        return false;
    const rscan *sc = e->sc;
    uint32_t i, n = rule_scan_find(sc, t, &i);
    for (uint32_t end = i + n; i < end; i++)
        if (sc->occ[i].field & mask)
            return true;
    return false;
}

static int by_place(const void *a, const void *b)
{
    const rocc *x = a, *y = b;
    if (x->field != y->field)
        return x->field < y->field ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->term > y->term) - (x->term < y->term);
}

static void side_occ(const ectx *e, const int32_t *terms, size_t n, int mask, occ_list *out)
{
    const rscan *sc = e->sc;
    for (size_t k = 0; k < n; k++) {
        uint32_t i, c = rule_scan_find(sc, terms[k], &i);
        for (uint32_t end = i + c; i < end; i++)
            if (sc->occ[i].field & mask)
                occ_add(out, &sc->occ[i]);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_place);
}

/* Returns the index of the first y with (field, start) >= (field, pos). */
static size_t lower_bound(const occ_list *y, uint8_t field, uint32_t pos)
{
    size_t lo = 0, hi = y->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const rocc *o = &y->v[mid];
        if (o->field < field || (o->field == field && o->start < pos))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Finds, for x in X, a y in Y that starts at most dist words after x ends.
   Adds both to out (when given) and returns whether any pair exists. */
static bool pairs_after(const occ_list *x, const occ_list *y, int64_t dist, occ_list *out)
{
    bool any = false;
    for (size_t i = 0; i < x->n; i++) {
        const rocc *a = &x->v[i];
        size_t j = lower_bound(y, a->field, a->end);
        if (j < y->n && y->v[j].field == a->field && (int64_t)y->v[j].start - (int64_t)a->end <= dist) {
            any = true;
            if (!out)
                return true;
            occ_add(out, a);
            occ_add(out, &y->v[j]);
        }
    }
    return any;
}

static bool near_eval(const ectx *e, const rnode *n, int mask, occ_list *out)
{
    bool possible[2];
    for (int s = 0; s < 2; s++) {
        possible[s] = false;
        for (size_t k = 0; k < n->n_near[s] && !possible[s]; k++)
            possible[s] = term_in(e, n->near_terms[s][k], mask);
    }
    if (!possible[0] || !possible[1])
        return false;
    occ_list a = { 0 }, b = { 0 };
    side_occ(e, n->near_terms[0], n->n_near[0], mask, &a);
    side_occ(e, n->near_terms[1], n->n_near[1], mask, &b);
    bool ok = pairs_after(&a, &b, n->n, out);
    if (!ok || out)
        ok = pairs_after(&b, &a, n->n, out) || ok;
    free(a.v);
    free(b.v);
    return ok;
}

static bool eval(const ectx *e, const rnode *n, int mask)
{
    switch (n->kind) {
    case RN_TERM:
        return term_in(e, n->term, mask);
    case RN_AND:
        for (size_t i = 0; i < n->n_kids; i++)
            if (!eval(e, n->kids[i], mask))
                return false;
        return true;
    case RN_OR:
        for (size_t i = 0; i < n->n_kids; i++)
            if (eval(e, n->kids[i], mask))
                return true;
        return false;
    case RN_NOT:
        return !eval(e, n->kids[0], mask);
    case RN_NEAR:
        return near_eval(e, n, mask, NULL);
    case RN_ATLEAST: {
        int64_t held = 0;
        for (size_t i = 0; i < n->n_kids && held < n->n; i++)
            held += eval(e, n->kids[i], mask);
        return held >= n->n;
    }
    case RN_SCOPE:
        return eval(e, n->kids[0], mask & n->mask);
    case RN_LANG:
        return lang_matches(e->lang, n->text);
    case RN_SOURCE:
        return host_matches(e->hosts[0], n->text) || host_matches(e->hosts[1], n->text);
    case RN_REF:
        return n->def >= 0 && eval(e, e->rs->defines[n->def].expr, mask);
    }
    return false;
}

/* Adds the occurrences that make n hold to out. */
static void collect(const ectx *e, const rnode *n, int mask, occ_list *out)
{
    switch (n->kind) {
    case RN_TERM:
        if (n->term >= 0) {
            uint32_t i, c = rule_scan_find(e->sc, n->term, &i);
            for (uint32_t end = i + c; i < end; i++)
                if (e->sc->occ[i].field & mask)
                    occ_add(out, &e->sc->occ[i]);
        }
        return;
    case RN_AND:
    case RN_OR:
    case RN_ATLEAST:
        for (size_t i = 0; i < n->n_kids; i++)
            if (n->kind == RN_AND || eval(e, n->kids[i], mask))
                collect(e, n->kids[i], mask, out);
        return;
    case RN_NEAR:
        near_eval(e, n, mask, out);
        return;
    case RN_SCOPE:
        collect(e, n->kids[0], mask & n->mask, out);
        return;
    case RN_REF:
        if (n->def >= 0)
            collect(e, e->rs->defines[n->def].expr, mask, out);
        return;
    default:
        return;
    }
}

/* Returns the JSON array of the occurrences in l (sorted, deduplicated, at most RULE_MAX_MATCHES). */
static json_t *matches_json(const ectx *e, occ_list *l)
{
    json_t *arr = json_array();
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, by_place);
    size_t added = 0;
    for (size_t i = 0; i < l->n && added < RULE_MAX_MATCHES; i++) {
        const rocc *o = &l->v[i];
        if (i > 0 && by_place(o, &l->v[i - 1]) == 0)
            continue;
        int f = o->field == FIELD_TITLE ? 0 : 1;
        uint32_t start = o->from, end = o->to;
        json_t *m = json_object();
        json_object_set_new(m, "term", json_string(e->rs->terms[o->term].text));
        json_object_set_new(m, "field", json_string(f == 0 ? "title" : "text"));
        json_object_set_new(m, "offset", json_integer(start));
        json_object_set_new(m, "text", json_stringn(e->field_text[f] + start, end - start));
        json_array_append_new(arr, m);
        added++;
    }
    return arr;
}

/* ---------- which themes to evaluate ---------- */

/* Returns whether n may hold in an article where none of the terms under
   it occurs. NOT, lang: and source: may, so this errs on "yes". */
static bool holds_without_terms(const rule_set *rs, const rnode *n)
{
    switch (n->kind) {
    case RN_TERM:
    case RN_NEAR:
        return false;
    case RN_AND:
        for (size_t i = 0; i < n->n_kids; i++)
            if (!holds_without_terms(rs, n->kids[i]))
                return false;
        return true;
    case RN_OR:
        for (size_t i = 0; i < n->n_kids; i++)
            if (holds_without_terms(rs, n->kids[i]))
                return true;
        return false;
    case RN_ATLEAST: {
        int64_t can = 0;
        for (size_t i = 0; i < n->n_kids; i++)
            can += holds_without_terms(rs, n->kids[i]);
        return can >= n->n;
    }
    case RN_SCOPE:
        return holds_without_terms(rs, n->kids[0]);
    case RN_REF:
        return n->def >= 0 && holds_without_terms(rs, rs->defines[n->def].expr);
    case RN_NOT:
    case RN_LANG:
    case RN_SOURCE:
        return true;
    }
    return true;
}

/* Calls add(term) for every term under n (defines included). */
static void each_term(const rule_set *rs, const rnode *n, void (*add)(void *, int32_t), void *arg)
{
    if (n->kind == RN_TERM && n->term >= 0)
        add(arg, n->term);
    else if (n->kind == RN_REF && n->def >= 0)
        each_term(rs, rs->defines[n->def].expr, add, arg);
    for (size_t i = 0; i < n->n_kids; i++)
        each_term(rs, n->kids[i], add, arg);
}

/* Collecting the (term, theme) pairs of the trigger index. */
typedef struct trig_build {
    uint32_t *seen;          /* per term: 1 + the last theme it was added for */
    uint32_t theme;
    uint32_t (*pairs)[2];
    size_t n, cap;
} trig_build;

static void trig_add(void *arg, int32_t term)
{
    trig_build *b = arg;
    if (b->seen[term] == b->theme + 1)
        return;
    b->seen[term] = b->theme + 1;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->pairs = nm_xrealloc(b->pairs, b->cap * sizeof *b->pairs);
    }
    b->pairs[b->n][0] = (uint32_t)term;
    b->pairs[b->n][1] = b->theme;
    b->n++;
}

void rule_triggers_build(rule_set *rs)
{
    trig_build b = { 0 };
    b.seen = nm_xcalloc(rs->n_terms ? rs->n_terms : 1, sizeof *b.seen);
    rs->theme_always = nm_xcalloc(rs->n_themes ? rs->n_themes : 1, sizeof *rs->theme_always);
    for (size_t i = 0; i < rs->n_themes; i++) {
        const rtheme *th = &rs->themes[i];
        if (!th->match || holds_without_terms(rs, th->match)) {
            rs->theme_always[i] = true;
            continue;
        }
        b.theme = (uint32_t)i;
        each_term(rs, th->match, trig_add, &b);
    }
    /* counting sort of the pairs by term, into CSR form */
    rs->trig_off = nm_xcalloc(rs->n_terms + 1, sizeof *rs->trig_off);
    for (size_t k = 0; k < b.n; k++)
        rs->trig_off[b.pairs[k][0] + 1]++;
    for (size_t t = 0; t < rs->n_terms; t++)
        rs->trig_off[t + 1] += rs->trig_off[t];
    rs->trig_themes = nm_xmalloc((b.n ? b.n : 1) * sizeof *rs->trig_themes);
    memset(b.seen, 0, (rs->n_terms ? rs->n_terms : 1) * sizeof *b.seen);
    for (size_t k = 0; k < b.n; k++) {
        uint32_t t = b.pairs[k][0];
        rs->trig_themes[rs->trig_off[t] + b.seen[t]++] = b.pairs[k][1];
    }
    free(b.pairs);
    free(b.seen);
}

void rule_triggers_free(rule_set *rs)
{
    nm_free(&rs->trig_off);
    nm_free(&rs->trig_themes);
    nm_free(&rs->theme_always);
}

/* Returns a new array of one flag per theme: whether it may fire, given
   the terms that occurred (caller frees). */
static bool *themes_awake(const rule_set *rs, const rscan *sc)
{
    bool *awake = nm_xmalloc((rs->n_themes ? rs->n_themes : 1) * sizeof *awake);
    memcpy(awake, rs->theme_always, rs->n_themes * sizeof *awake);
    for (size_t i = 0; i < sc->n_occ; i++) {
        int32_t t = sc->occ[i].term;
        if (i > 0 && t == sc->occ[i - 1].term)
            continue;
        for (uint32_t k = rs->trig_off[t]; k < rs->trig_off[t + 1]; k++)
            awake[rs->trig_themes[k]] = true;
    }
    return awake;
}

/* ---------- entry points ---------- */

/* Prepares e and scans a. The text field is the summary and the page
   text joined by a blank line: *joined receives that string when both
   are present (caller frees), else NULL and the field is the one given. */
static void prepare(ectx *e, rscan *sc, const rule_set *rs, const nm_article *a, char **joined)
{
    memset(e, 0, sizeof *e);
    memset(sc, 0, sizeof *sc);
    e->rs = rs;
    e->sc = sc;
    const char *sum = a->summary ? a->summary : "", *txt = a->text ? a->text : "";
    *joined = NULL;
    if (*sum && *txt) {
        size_t ls = strlen(sum), lt = strlen(txt);
        *joined = nm_xmalloc(ls + lt + 3);
        memcpy(*joined, sum, ls);
        memcpy(*joined + ls, "\n\n", 2);
        memcpy(*joined + ls + 2, txt, lt + 1);
    }
    e->field_text[0] = a->title ? a->title : "";
    e->field_text[1] = *joined ? *joined : *sum ? sum : txt;
    if (a->lang && *a->lang) {
        e->lang = nm_xstrdup(a->lang);
        for (char *c = e->lang; *c; c++)
            *c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
    }
    e->hosts[0] = a->link ? nm_url_host(a->link) : NULL;
    e->hosts[1] = a->feed ? nm_url_host(a->feed) : NULL;
    rule_scan(rs, sc, e->field_text[0], strlen(e->field_text[0]), e->field_text[1], strlen(e->field_text[1]));
}

static void release(ectx *e, rscan *sc, char **joined)
{
    free(e->lang);
    free(e->hosts[0]);
    free(e->hosts[1]);
    rule_scan_free(sc);
    nm_free(joined);
}

static json_t *theme_matches(const ectx *e, const rtheme *th, const bool *held)
{
    occ_list l = { 0 };
    if (th->match)
        collect(e, th->match, FIELD_ALL, &l);
    for (size_t k = 0; k < th->n_scores; k++)
        if (held[k])
            collect(e, th->scores[k].expr, FIELD_ALL, &l);
    json_t *j = matches_json(e, &l);
    free(l.v);
    return j;
}

int rule_set_classify(const rule_set *rs, const nm_article *a, nm_theme_hit **hits, size_t *n_hits)
{
    ectx e;
    rscan sc;
    char *joined;
    prepare(&e, &sc, rs, a, &joined);
    *hits = NULL;
    *n_hits = 0;
    bool *held = NULL;
    size_t held_cap = 0;
    bool *awake = themes_awake(rs, &sc);
    for (size_t i = 0; i < rs->n_themes; i++) {
        const rtheme *th = &rs->themes[i];
        if (!awake[i] || !eval(&e, th->match, FIELD_ALL))
            continue;
        if (th->exclude && eval(&e, th->exclude, FIELD_ALL))
            continue;
        if (th->n_scores > held_cap) {
            held_cap = th->n_scores;
            held = nm_xrealloc(held, held_cap * sizeof *held);
        }
        int64_t score = 0;
        for (size_t k = 0; k < th->n_scores; k++) {
            held[k] = eval(&e, th->scores[k].expr, FIELD_ALL);
            if (held[k])
                score += th->scores[k].weight;
        }
        if (score < th->threshold)
            continue;
        *hits = nm_xrealloc(*hits, (*n_hits + 1) * sizeof **hits);
        nm_theme_hit *h = &(*hits)[(*n_hits)++];
        h->id = nm_xstrdup(th->id);
        h->severity = nm_xstrdup(th->severity);
        h->score = score;
        h->matches = theme_matches(&e, th, held);
    }
    free(held);
    free(awake);
    release(&e, &sc, &joined);
    return 0;
}

void rule_hits_free(nm_theme_hit **hits, size_t n_hits)
{
    if (!*hits)
        return;
    for (size_t i = 0; i < n_hits; i++)
        nm_theme_hit_clear(&(*hits)[i]);
    nm_free(hits);
}

rule_eval *rule_set_evaluate(const rule_set *rs, const nm_article *a)
{
    ectx e;
    rscan sc;
    char *joined;
    prepare(&e, &sc, rs, a, &joined);
    rule_eval *ev = nm_xcalloc(1, sizeof *ev);
    ev->title = nm_xstrdup(e.field_text[0]);
    ev->n_themes = rs->n_themes;
    ev->themes = nm_xcalloc(rs->n_themes ? rs->n_themes : 1, sizeof *ev->themes);
    for (size_t i = 0; i < rs->n_themes; i++) {
        const rtheme *th = &rs->themes[i];
        rule_theme_eval *t = &ev->themes[i];
        t->id = nm_xstrdup(th->id);
        t->title = nm_xstrdup(th->title);
        t->severity = nm_xstrdup(th->severity);
        t->where = rule_where(rs, th->file, th->off, false);
        t->match_held = eval(&e, th->match, FIELD_ALL);
        t->has_exclude = th->exclude != NULL;
        t->exclude_held = th->exclude && eval(&e, th->exclude, FIELD_ALL);
        t->threshold = th->threshold;
        t->n_scores = th->n_scores;
        t->scores = nm_xcalloc(th->n_scores ? th->n_scores : 1, sizeof *t->scores);
        bool *held = nm_xcalloc(th->n_scores ? th->n_scores : 1, sizeof *held);
        for (size_t k = 0; k < th->n_scores; k++) {
            held[k] = eval(&e, th->scores[k].expr, FIELD_ALL);
            t->scores[k].weight = th->scores[k].weight;
            t->scores[k].held = held[k];
            t->scores[k].expr = nm_xstrdup(th->scores[k].src);
            t->scores[k].where = rule_where(rs, th->scores[k].file, th->scores[k].off, false);
            if (held[k])
                t->score += th->scores[k].weight;
        }
        t->fired = t->match_held && !t->exclude_held && t->score >= t->threshold;
        t->matches = theme_matches(&e, th, held);
        occ_list l = { 0 };
        if (th->exclude)
            collect(&e, th->exclude, FIELD_ALL, &l);
        t->exclude_matches = matches_json(&e, &l);
        free(l.v);
        free(held);
    }
    ev->text = nm_xstrdup(e.field_text[1]);
    release(&e, &sc, &joined);
    return ev;
}

void rule_eval_destroy(rule_eval **pev)
{
    rule_eval *ev = *pev;
    if (!ev)
        return;
    for (size_t i = 0; i < ev->n_themes; i++) {
        rule_theme_eval *t = &ev->themes[i];
        free(t->id);
        free(t->title);
        free(t->severity);
        free(t->where);
        for (size_t k = 0; k < t->n_scores; k++) {
            free(t->scores[k].expr);
            free(t->scores[k].where);
        }
        free(t->scores);
        json_decref(t->matches);
        json_decref(t->exclude_matches);
    }
    free(ev->themes);
    free(ev->title);
    free(ev->text);
    free(ev);
    *pev = NULL;
}
