/*
 * rule_load: turns a rules folder into a compiled rule_set. The steps:
 * read the files (sorted by name, so the version hash and the order of
 * themes do not depend on the directory), parse each (rule_parse.c),
 * check what spans files (duplicate defines and theme ids, undefined or
 * circular $NAMEs, unused defines, incomplete themes), then compile:
 * every distinct term gets an id and every distinct word of a term an
 * atom, and rule_match.c builds the one matcher over all atoms.
 *
 * Diagnostics are collected in a private list and handed to the caller
 * at the end, so the error count is right even when the caller passes no
 * list. Any error frees the half-built set: a folder is taken whole or
 * not at all.
 */
#include "classifier/rule_int.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/nm_util.h"

void rule_diags_init(rule_diags *d)
{
    memset(d, 0, sizeof *d);
}

void rule_diags_clear(rule_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->items[i].text);
    free(d->items);
    rule_diags_init(d);
}

static void plain_diag(rule_diags *d, const char *text)
{
    d->items = nm_xrealloc(d->items, (d->n + 1) * sizeof *d->items);
    d->items[d->n].is_error = true;
    d->items[d->n].text = nm_xstrdup(text);
    d->n++;
    d->n_errors++;
}

/* Moves every item of from to the end of to. */
static void diags_move(rule_diags *to, rule_diags *from)
{
    for (size_t i = 0; i < from->n; i++) {
        to->items = nm_xrealloc(to->items, (to->n + 1) * sizeof *to->items);
        to->items[to->n++] = from->items[i];
        if (from->items[i].is_error)
            to->n_errors++;
        else
            to->n_warnings++;
    }
    free(from->items);
    rule_diags_init(from);
}

void rule_set_destroy(rule_set **prs)
{
    rule_set *rs = *prs;
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_files; i++) {
        free(rs->files[i].name);
        free(rs->files[i].text);
        free(rs->files[i].lines);
    }
    free(rs->files);
    for (size_t i = 0; i < rs->n_defines; i++) {
        free(rs->defines[i].name);
        rule_node_free(rs->defines[i].expr);
    }
    free(rs->defines);
    for (size_t i = 0; i < rs->n_themes; i++) {
        rtheme *th = &rs->themes[i];
        free(th->id);
        free(th->title);
        free(th->severity);
        rule_node_free(th->match);
        rule_node_free(th->exclude);
        for (size_t k = 0; k < th->n_scores; k++) {
            rule_node_free(th->scores[k].expr);
            free(th->scores[k].src);
        }
        free(th->scores);
    }
    free(rs->themes);
    for (size_t i = 0; i < rs->n_terms; i++) {
        free(rs->terms[i].text);
        free(rs->terms[i].atoms);
    }
    free(rs->terms);
    for (size_t i = 0; i < rs->n_atoms; i++) {
        free(rs->atoms[i].key);
        free(rs->atoms[i].starts);
    }
    free(rs->atoms);
    rule_matcher_free(rs);
    rule_triggers_free(rs);
    free(rs);
    *prs = NULL;
}

const char *rule_set_version(const rule_set *rs)
{
    return rs->version;
}

void rule_set_get_stats(const rule_set *rs, rule_set_stats *st)
{
    st->themes = rs->n_themes;
    st->defines = rs->n_defines;
    st->terms = rs->n_terms;
    st->files = rs->n_files;
}

/* ---------- checks that span files ---------- */

static __thread const rule_set *tls_sort_rs;

static int by_define_name(const void *a, const void *b)
{
    const rdefine *x = &tls_sort_rs->defines[*(const size_t *)a], *y = &tls_sort_rs->defines[*(const size_t *)b];
    int c = strcmp(x->name, y->name);
    return c ? c : (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static int by_theme_id(const void *a, const void *b)
{
    const rtheme *x = &tls_sort_rs->themes[*(const size_t *)a], *y = &tls_sort_rs->themes[*(const size_t *)b];
    int c = strcmp(x->id, y->id);
    return c ? c : (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static size_t *sorted_index(const rule_set *rs, size_t n, int (*cmp)(const void *, const void *))
{
    size_t *ix = nm_xmalloc((n ? n : 1) * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    tls_sort_rs = rs;
    qsort(ix, n, sizeof *ix, cmp);
    return ix;
}

static void check_duplicates(rload *ld)
{
    rule_set *rs = ld->rs;
    size_t *ix = sorted_index(rs, rs->n_defines, by_define_name);
    for (size_t i = 1; i < rs->n_defines; i++) {
        rdefine *a = &rs->defines[ix[i - 1]], *b = &rs->defines[ix[i]];
        if (strcmp(a->name, b->name) == 0) {
            size_t first = i - 1;
            while (first > 0 && strcmp(rs->defines[ix[first - 1]].name, b->name) == 0)
                first--;
            rdefine *f = &rs->defines[ix[first]];
            char *w = rule_where(rs, f->file, f->off, true);
            rule_diag_at(ld, true, b->file, b->off, "duplicate define $%s (first defined at %s)", b->name, w);
            free(w);
        }
    }
    free(ix);
    ix = sorted_index(rs, rs->n_themes, by_theme_id);
    for (size_t i = 1; i < rs->n_themes; i++) {
        rtheme *a = &rs->themes[ix[i - 1]], *b = &rs->themes[ix[i]];
        if (strcmp(a->id, b->id) == 0) {
            size_t first = i - 1;
            while (first > 0 && strcmp(rs->themes[ix[first - 1]].id, b->id) == 0)
                first--;
            rtheme *f = &rs->themes[ix[first]];
            char *w = rule_where(rs, f->file, f->off, true);
            rule_diag_at(ld, true, b->file, b->off, "duplicate theme id '%s' (first at %s)", b->id, w);
            free(w);
        }
    }
    free(ix);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = nm_xmalloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

static int32_t find_define(const rule_set *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_defines; i++)
        if (strcmp(rs->defines[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

static void resolve(rload *ld, rnode *n)
{
    if (!n)
        return;
    rule_set *rs = ld->rs;
    if (n->kind == RN_REF) {
        n->def = find_define(rs, n->text);
        if (n->def >= 0) {
            rs->defines[n->def].used = true;
            return;
        }
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        for (size_t i = 0; i < rs->n_defines; i++) {
            size_t d = edit_distance(n->text, rs->defines[i].name);
            if (d < best_d) {
                best_d = d;
                best = rs->defines[i].name;
            }
        }
        size_t limit = strlen(n->text) / 3 + 2;
        if (best && best_d <= limit)
            rule_diag_at(ld, true, n->file, n->off, "undefined $%s: did you mean $%s?", n->text, best);
        else
            rule_diag_at(ld, true, n->file, n->off, "undefined $%s: no define of that name in this folder", n->text);
        return;
    }
    for (size_t i = 0; i < n->n_kids; i++)
        resolve(ld, n->kids[i]);
}

/* Reports a cycle through define d; returns true when one was found. */
static bool find_cycle(rload *ld, rnode *n, int32_t root);

static bool visit_define(rload *ld, int32_t d)
{
    rdefine *def = &ld->rs->defines[d];
    if (def->visit == 2)
        return false;
    if (def->visit == 1)
        return true;
    def->visit = 1;
    bool cyc = find_cycle(ld, def->expr, d);
    def->visit = 2;
    return cyc;
}

static bool find_cycle(rload *ld, rnode *n, int32_t root)
{
    if (!n)
        return false;
    if (n->kind == RN_REF && n->def >= 0) {
        if (visit_define(ld, n->def)) {
            const char *rn = ld->rs->defines[root].name;
            if (strcmp(rn, n->text) == 0)
                rule_diag_at(ld, true, n->file, n->off, "define $%s refers to itself", rn);
            else
                rule_diag_at(ld, true, n->file, n->off,
                             "define $%s refers to $%s, which leads back to $%s: a define cannot refer to itself",
                             rn, n->text, rn);
            n->def = -1;   /* break the cycle so later walks end */
            return root < 0;
        }
        return false;
    }
    for (size_t i = 0; i < n->n_kids; i++)
        if (find_cycle(ld, n->kids[i], root))
            return true;
    return false;
}

static bool near_ok(const rule_set *rs, const rnode *n)
{
    if (n->kind == RN_TERM)
        return true;
    if (n->kind == RN_REF)
        return n->def < 0 || near_ok(rs, rs->defines[n->def].expr);
    if (n->kind != RN_OR)
        return false;
    for (size_t i = 0; i < n->n_kids; i++)
        if (!near_ok(rs, n->kids[i]))
            return false;
    return true;
}

static void check_near_refs(rload *ld, rnode *n)
{
    if (!n)
        return;
    if (n->kind == RN_NEAR) {
        for (int s = 0; s < 2; s++) {
            rnode *k = n->kids[s];
            if (k->kind == RN_REF && !near_ok(ld->rs, k))
                rule_diag_at(ld, true, k->file, k->off,
                             "$%s cannot be an operand of NEAR: NEAR works on words, phrases or (... OR ...) groups of them",
                             k->text);
        }
    }
    for (size_t i = 0; i < n->n_kids; i++)
        check_near_refs(ld, n->kids[i]);
}

/* Calls fn on every expression of the set. */
static void each_expr(rload *ld, void (*fn)(rload *, rnode *))
{
    rule_set *rs = ld->rs;
    for (size_t i = 0; i < rs->n_defines; i++)
        fn(ld, rs->defines[i].expr);
    for (size_t i = 0; i < rs->n_themes; i++) {
        rtheme *th = &rs->themes[i];
        fn(ld, th->match);
        fn(ld, th->exclude);
        for (size_t k = 0; k < th->n_scores; k++)
            fn(ld, th->scores[k].expr);
    }
}

static void check_themes(rload *ld)
{
    rule_set *rs = ld->rs;
    for (size_t i = 0; i < rs->n_themes; i++) {
        rtheme *th = &rs->themes[i];
        if (!th->has_match)
            rule_diag_at(ld, true, th->file, th->off, "theme %s has no match line", th->id);
        if (!th->has_severity)
            rule_diag_at(ld, true, th->file, th->off,
                         "theme %s has no severity line (info, low, medium, high or critical)", th->id);
        if (th->n_scores && !th->has_threshold)
            rule_diag_at(ld, true, th->file, th->off, "theme %s has score lines but no threshold", th->id);
        if (!th->n_scores && th->has_threshold && th->threshold > 0)
            rule_diag_at(ld, true, th->file, th->threshold_off,
                         "threshold %lld can never be reached: theme %s has no score lines",
                         (long long)th->threshold, th->id);
        if (!th->title)
            th->title = nm_xstrdup(th->id);
        if (!th->severity)
            th->severity = nm_xstrdup("medium");
    }
    /* A reference inside an expression with an error is lost, so only a
       clean folder can tell for sure that a define is unused. */
    for (size_t i = 0; i < rs->n_defines && ld->diags->n_errors == 0; i++)
        if (!rs->defines[i].used)
            rule_diag_at(ld, false, rs->defines[i].file, rs->defines[i].off,
                         "define $%s is never used", rs->defines[i].name);
}

/* ---------- compiling terms ---------- */

/* A string -> id map used while compiling. */
typedef struct strmap {
    char **keys;
    int32_t *ids;
    size_t cap, n;
} strmap;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Returns the id of key, or inserts it with id and returns -1. */
static int32_t strmap_get_or_put(strmap *m, const char *key, int32_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 256;
        m->keys = nm_xcalloc(m->cap, sizeof *m->keys);
        m->ids = nm_xmalloc(m->cap * sizeof *m->ids);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                strmap_get_or_put(m, old.keys[i], old.ids[i]), free(old.keys[i]);
        free(old.keys);
        free(old.ids);
    }
    size_t i = fnv(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->ids[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = nm_xstrdup(key);
    m->ids[i] = id;
    m->n++;
    return -1;
}

static void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->ids);
}

typedef struct compiler {
    rload *ld;
    strmap terms, atoms;
    size_t cap_terms, cap_atoms;   /* allocated lengths of rs->terms and rs->atoms */
} compiler;

static int32_t intern_atom(compiler *c, const rule_item *it)
{
    rule_set *rs = c->ld->rs;
    size_t wl = strlen(it->word);
    char *key = nm_xmalloc(wl + 2);
    key[0] = it->prefix ? '*' : '=';
    memcpy(key + 1, it->word, wl + 1);
    int32_t id = strmap_get_or_put(&c->atoms, key, (int32_t)rs->n_atoms);
    free(key);
    if (id >= 0)
        return id;
    if (rs->n_atoms == c->cap_atoms) {
        c->cap_atoms = c->cap_atoms ? c->cap_atoms * 2 : 256;
        rs->atoms = nm_xrealloc(rs->atoms, c->cap_atoms * sizeof *rs->atoms);
    }
    ratom *a = &rs->atoms[rs->n_atoms];
    memset(a, 0, sizeof *a);
    a->key = nm_xstrdup(it->word);
    a->key_len = strlen(it->word);
    a->prefix = it->prefix;
    return (int32_t)rs->n_atoms++;
}

static int32_t intern_term(compiler *c, rnode *n)
{
    rule_set *rs = c->ld->rs;
    nm_buf k;
    nm_buf_init(&k);
    for (size_t i = 0; i < n->n_items; i++) {
        if (i)
            nm_buf_add(&k, " ", 1);
        nm_buf_add(&k, n->items[i].word, strlen(n->items[i].word));
        if (n->items[i].prefix)
            nm_buf_add(&k, "*", 1);
    }
    int32_t id = strmap_get_or_put(&c->terms, nm_buf_cstr(&k), (int32_t)rs->n_terms);
    nm_buf_free(&k);
    if (id >= 0)
        return id;
    id = (int32_t)rs->n_terms;
    if (rs->n_terms == c->cap_terms) {
        c->cap_terms = c->cap_terms ? c->cap_terms * 2 : 256;
        rs->terms = nm_xrealloc(rs->terms, c->cap_terms * sizeof *rs->terms);
    }
    rterm *t = &rs->terms[rs->n_terms++];
    t->text = nm_xstrdup(n->text);
    t->n_atoms = n->n_items;
    t->atoms = nm_xmalloc(n->n_items * sizeof *t->atoms);
    for (size_t i = 0; i < n->n_items; i++)
        t->atoms[i] = intern_atom(c, &n->items[i]);
    ratom *first = &rs->atoms[t->atoms[0]];
    first->starts = nm_xrealloc(first->starts, (first->n_starts + 1) * sizeof *first->starts);
    first->starts[first->n_starts++] = id;
    return id;
}

/* Appends the term ids of a NEAR operand to *ids. */
static void near_side(const rule_set *rs, const rnode *n, int32_t **ids, size_t *n_ids)
{
    if (n->kind == RN_TERM) {
        if (n->term >= 0) {
            *ids = nm_xrealloc(*ids, (*n_ids + 1) * sizeof **ids);
            (*ids)[(*n_ids)++] = n->term;
        }
    } else if (n->kind == RN_REF) {
        if (n->def >= 0)
            near_side(rs, rs->defines[n->def].expr, ids, n_ids);
    } else {
        for (size_t i = 0; i < n->n_kids; i++)
            near_side(rs, n->kids[i], ids, n_ids);
    }
}

static __thread compiler *tls_compiler;

static void compile_node(rload *ld, rnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        compile_node(ld, n->kids[i]);
    if (n->kind == RN_TERM && n->n_items > 0)
        n->term = intern_term(tls_compiler, n);
}

static void compile_near(rload *ld, rnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        compile_near(ld, n->kids[i]);
    if (n->kind == RN_NEAR)
        for (int s = 0; s < 2; s++)
            near_side(ld->rs, n->kids[s], &n->near_terms[s], &n->n_near[s]);
}

static void compile(rload *ld)
{
    compiler c;
    memset(&c, 0, sizeof c);
    c.ld = ld;
    tls_compiler = &c;
    each_expr(ld, compile_node);
    each_expr(ld, compile_near);
    tls_compiler = NULL;
    strmap_free(&c.terms);
    strmap_free(&c.atoms);
    rule_matcher_build(ld->rs);
    rule_triggers_build(ld->rs);
}

/* ---------- version ---------- */

static int by_file_name(const void *a, const void *b)
{
    return strcmp(((const rule_file *)a)->name, ((const rule_file *)b)->name);
}

static void compute_version(rule_set *rs, const rule_file *files, size_t n)
{
    rule_file *sorted = nm_xmalloc((n ? n : 1) * sizeof *sorted);
    memcpy(sorted, files, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_file_name);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(sorted[i].name, '/');
        base = base ? base + 1 : sorted[i].name;
        crypto_hash_sha256_update(&st, (const unsigned char *)base, strlen(base) + 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)sorted[i].text, sorted[i].len);
        crypto_hash_sha256_update(&st, (const unsigned char *)"", 1);
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(rs->version, sizeof rs->version, h, sizeof h);
    free(sorted);
}

/* ---------- loading ---------- */

/* Reports invalid UTF-8 or NUL bytes; returns false when the file cannot be parsed. */
static bool check_encoding(rload *ld, uint32_t fi)
{
    const rfile *f = &ld->rs->files[fi];
    const unsigned char *p = (const unsigned char *)f->text;
    size_t i = 0;
    while (i < f->len) {
        if (p[i] == 0) {
            rule_diag_at(ld, true, fi, (uint32_t)i, "NUL byte: rule files are text");
            return false;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(f->len - i), &cp);
        if (n <= 0) {
            rule_diag_at(ld, true, fi, (uint32_t)i, "invalid UTF-8: rule files must be UTF-8");
            return true;
        }
        i += (size_t)n;
    }
    return true;
}

rule_set *rule_set_load_files(const rule_file *files, size_t n, rule_diags *diags)
{
    rule_diags mine;
    rule_diags_init(&mine);
    rule_set *rs = nm_xcalloc(1, sizeof *rs);
    rload ld = { rs, &mine };
    rs->files = nm_xcalloc(n ? n : 1, sizeof *rs->files);
    for (size_t i = 0; i < n; i++) {
        rfile *f = &rs->files[rs->n_files++];
        f->name = nm_xstrdup(files[i].name);
        f->text = nm_xmalloc(files[i].len + 1);
        memcpy(f->text, files[i].text, files[i].len);
        f->text[files[i].len] = '\0';
        f->len = files[i].len;
        f->lines = nm_xmalloc(sizeof *f->lines);
        f->lines[0] = 0;
        f->n_lines = 1;
        if (f->len > UINT32_MAX) {
            char *msg = nm_xasprintf("%s: error: file too large", f->name);
            plain_diag(&mine, msg);
            free(msg);
            continue;
        }
        free(f->lines);
        f->lines = NULL;
        rule_parse_file(&ld, (uint32_t)i);
        check_encoding(&ld, (uint32_t)i);
    }
    if (n == 0)
        plain_diag(&mine, "error: no rule files (*.rules) to load");
    check_duplicates(&ld);
    each_expr(&ld, resolve);
    for (size_t i = 0; i < rs->n_defines; i++)
        visit_define(&ld, (int32_t)i);
    each_expr(&ld, check_near_refs);
    check_themes(&ld);
    if (mine.n_errors == 0) {
        compile(&ld);
        compute_version(rs, files, n);
    } else {
        rule_set_destroy(&rs);
    }
    if (diags)
        diags_move(diags, &mine);
    else
        rule_diags_clear(&mine);
    return rs;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

rule_set *rule_set_load(const char *dir, rule_diags *diags)
{
    rule_diags mine;
    rule_diags_init(&mine);
    DIR *d = opendir(dir);
    if (!d) {
        char *msg = nm_xasprintf("%s: error: cannot open the rules folder: %m", dir);
        plain_diag(&mine, msg);
        free(msg);
        if (diags)
            diags_move(diags, &mine);
        rule_diags_clear(&mine);
        return NULL;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l <= 6 || strcmp(e->d_name + l - 6, ".rules") != 0)
            continue;
        names = nm_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = nm_xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    rule_file *files = nm_xcalloc(n ? n : 1, sizeof *files);
    size_t n_read = 0;
    for (size_t i = 0; i < n; i++) {
        char *text;
        size_t len;
        nm_err err;
        if (nm_read_file(names[i], RULE_FILE_LIMIT, &text, &len, &err) < 0) {
            char *msg = nm_xasprintf("%s: error: %s", names[i], err.msg);
            plain_diag(&mine, msg);
            free(msg);
            continue;
        }
        files[n_read].name = names[i];
        files[n_read].text = text;
        files[n_read].len = len;
        n_read++;
    }
    rule_set *rs = NULL;
    if (n == 0) {
        char *msg = nm_xasprintf("%s: error: no rule files (*.rules) in this folder", dir);
        plain_diag(&mine, msg);
        free(msg);
    } else {
        rs = rule_set_load_files(files, n_read, &mine);
        if (rs && mine.n_errors) /* a file could not be read: refuse the folder */
            rule_set_destroy(&rs);
    }
    for (size_t i = 0; i < n_read; i++)
        free((char *)files[i].text);
    free(files);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (diags)
        diags_move(diags, &mine);
    rule_diags_clear(&mine);
    return rs;
}
