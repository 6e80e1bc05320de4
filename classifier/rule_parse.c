/*
 * rule_parse: reads one rule file into defines and themes (syntax trees).
 *
 * A file is first cut into logical lines: a line that starts in column 1
 * opens a define or a theme; an indented line that starts with a field
 * name opens a field of the theme above; any other indented line
 * continues the line before it. Each expression is then lexed straight
 * from the file buffer (newlines are blanks, '#' starts a comment outside
 * quotes), so every token keeps its byte offset and diagnostics can point
 * at it. Precedence, loosest first: OR, AND, NOT, NEAR; ATLEAST and
 * scopes are primaries. An error abandons the expression it is in and
 * parsing goes on, so one run reports every broken line of a folder.
 */
#include "classifier/rule_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/nm_util.h"

#define NEAR_MAX 1000
#define DEPTH_MAX 200

/* ---------- diagnostics ---------- */

static size_t line_of(const rfile *f, size_t off)
{
    size_t lo = 0, hi = f->n_lines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (f->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static size_t line_end(const rfile *f, size_t ls)
{
    size_t le = ls;
    while (le < f->len && f->text[le] != '\n')
        le++;
    if (le > ls && f->text[le - 1] == '\r')
        le--;
    return le;
}

/* Returns the 1-based column of off: code points since the line start. */
static size_t col_of(const rfile *f, size_t ls, size_t off)
{
    size_t col = 1;
    for (size_t i = ls; i < off && i < f->len; i++)
        if (((unsigned char)f->text[i] & 0xC0) != 0x80)
            col++;
    return col;
}

char *rule_where(const rule_set *rs, uint32_t file, uint32_t off, bool with_col)
{
    const rfile *f = &rs->files[file];
    size_t li = line_of(f, off);
    if (with_col)
        return nm_xasprintf("%s:%zu:%zu", f->name, li + 1, col_of(f, f->lines[li], off));
    return nm_xasprintf("%s:%zu", f->name, li + 1);
}

void rule_diag_at(rload *ld, bool is_error, uint32_t file, uint32_t off, const char *fmt, ...)
{
    const rfile *f = &ld->rs->files[file];
    size_t li = line_of(f, off);
    size_t ls = f->lines[li], le = line_end(f, ls);
    if (off > le)
        off = (uint32_t)le;
    nm_buf b;
    nm_buf_init(&b);
    nm_buf_addf(&b, "%s:%zu:%zu: %s: ", f->name, li + 1, col_of(f, ls, off), is_error ? "error" : "warning");
    va_list ap;
    va_start(ap, fmt);
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    nm_buf_adds(&b, msg ? msg : "(out of memory)");
    free(msg);
    nm_buf_adds(&b, "\n  ");
    nm_buf_add(&b, f->text + ls, le - ls);
    nm_buf_adds(&b, "\n  ");
    for (size_t i = ls; i < off; i++) {
        unsigned char c = (unsigned char)f->text[i];
        if (c == '\t')
            nm_buf_addc(&b, '\t');
        else if ((c & 0xC0) != 0x80)
            nm_buf_addc(&b, ' ');
    }
    nm_buf_addc(&b, '^');
    rule_diags *d = ld->diags;
    d->items = nm_xrealloc(d->items, (d->n + 1) * sizeof *d->items);
    d->items[d->n].is_error = is_error;
    d->items[d->n].text = nm_buf_steal(&b);
    d->n++;
    if (is_error)
        d->n_errors++;
    else
        d->n_warnings++;
}

/* ---------- syntax tree ---------- */

void rule_node_free(rnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        rule_node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    for (size_t i = 0; i < n->n_items; i++)
        free(n->items[i].word);
    free(n->items);
    free(n->near_terms[0]);
    free(n->near_terms[1]);
    free(n);
}

static rnode *node_new(rnode_kind kind, uint32_t file, uint32_t off)
{
    rnode *n = nm_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->file = file;
    n->off = off;
    n->term = -1;
    n->def = -1;
    return n;
}

static void node_add(rnode *n, rnode *kid)
{
    n->kids = nm_xrealloc(n->kids, (n->n_kids + 1) * sizeof *n->kids);
    n->kids[n->n_kids++] = kid;
}

/* ---------- lexer ---------- */

typedef enum tkind {
    T_EOF, T_WORD, T_PREFIX, T_PHRASE, T_AND, T_OR, T_NOT, T_NEAR, T_ATLEAST,
    T_LP, T_RP, T_COMMA, T_REF, T_SCOPE, T_LANG, T_SOURCE, T_ERR
} tkind;

typedef struct tok {
    tkind kind;
    size_t off, len;   /* the token in the file */
    int64_t n;         /* T_NEAR distance, T_SCOPE mask */
} tok;

/* A term already seen in this expression, for the duplicate warning. */
typedef struct seen_term {
    char *key;
    size_t off;
} seen_term;

typedef struct parser {
    rload *ld;
    uint32_t fi;
    const char *s;     /* the file text */
    size_t pos, end;   /* the expression's remaining range */
    tok t;             /* current token */
    bool failed;       /* an error was reported; stop this expression */
    int mask;          /* fields the enclosing scopes allow */
    int depth;         /* nesting, bounded so a hostile file cannot exhaust the stack */
    seen_term *seen;
    size_t n_seen;
    size_t *seen_set;  /* open addressing over seen: index + 1, 0 when empty */
    size_t seen_slots; /* a power of two, at least twice n_seen */
    rule_tokens words; /* scratch for normalising terms */
} parser;

static void perr(parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(parser *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    rule_diag_at(p->ld, true, p->fi, (uint32_t)off, "%s", msg ? msg : "(out of memory)");
    free(msg);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool ends_bare(char c)
{
    return is_blank(c) || c == '(' || c == ')' || c == '"' || c == ',' || c == '#';
}

static bool tok_is(const parser *p, const tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->len == n && memcmp(p->s + t->off, word, n) == 0;
}

static bool is_define_name(const char *s, size_t n)
{
    if (n == 0 || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Classifies a bare run s[off..off+len) that is not a scope. */
static void lex_bare(parser *p, size_t off, size_t len)
{
    const char *w = p->s + off;
    tok *t = &p->t;
    t->off = off;
    t->len = len;
    if (len == 3 && memcmp(w, "AND", 3) == 0)
        t->kind = T_AND;
    else if (len == 2 && memcmp(w, "OR", 2) == 0)
        t->kind = T_OR;
    else if (len == 3 && memcmp(w, "NOT", 3) == 0)
        t->kind = T_NOT;
    else if (len == 7 && memcmp(w, "ATLEAST", 7) == 0)
        t->kind = T_ATLEAST;
    else if (len >= 4 && memcmp(w, "NEAR", 4) == 0 && (len == 4 || w[4] == '/')) {
        t->kind = T_NEAR;
        if (len == 4 || len == 5) {
            perr(p, off, "NEAR needs a distance, e.g. NEAR/5 (at most 5 other words between)");
            t->kind = T_ERR;
            return;
        }
        int64_t n = 0;
        for (size_t i = 5; i < len; i++) {
            if (w[i] < '0' || w[i] > '9' || n > NEAR_MAX) {
                perr(p, off, "NEAR/n needs a whole number from 0 to %d", NEAR_MAX);
                t->kind = T_ERR;
                return;
            }
            n = n * 10 + (w[i] - '0');
        }
        if (n > NEAR_MAX) {
            perr(p, off, "NEAR/n needs a whole number from 0 to %d", NEAR_MAX);
            t->kind = T_ERR;
            return;
        }
        t->n = n;
    } else if (w[0] == '$') {
        t->kind = T_REF;
        if (!is_define_name(w + 1, len - 1)) {
            perr(p, off, "'%.*s' is not a define name: names are upper-case letters, digits and '_', "
                 "starting with a letter", (int)len, w);
            t->kind = T_ERR;
        }
    } else if (w[len - 1] == '*') {
        t->kind = T_PREFIX;
    } else {
        t->kind = T_WORD;
    }
}

/* Reads the next token into p->t. */
static void next(parser *p)
{
    const char *s = p->s;
    for (;;) {
        while (p->pos < p->end && is_blank(s[p->pos]))
            p->pos++;
        if (p->pos < p->end && s[p->pos] == '#') {
            while (p->pos < p->end && s[p->pos] != '\n')
                p->pos++;
            continue;
        }
        break;
    }
    tok *t = &p->t;
    t->off = p->pos;
    t->len = 1;
    t->n = 0;
    if (p->pos >= p->end) {
        t->kind = T_EOF;
        t->len = 0;
        return;
    }
    char c = s[p->pos];
    if (c == '(' || c == ')' || c == ',') {
        t->kind = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        p->pos++;
        return;
    }
    if (c == '"') {
        size_t q = p->pos + 1;
        while (q < p->end && s[q] != '"' && s[q] != '\n')
            q++;
        if (q >= p->end || s[q] != '"') {
            perr(p, p->pos, "unterminated phrase: a '\"' is missing on this line");
            t->kind = T_ERR;
            p->pos = p->end;
            return;
        }
        t->kind = T_PHRASE;
        t->len = q + 1 - p->pos;
        p->pos = q + 1;
        return;
    }
    size_t q = p->pos;
    while (q < p->end && !ends_bare(s[q]))
        q++;
    size_t len = q - p->pos;
    static const struct { const char *name; int mask; } scopes[] = {
        { "title:", FIELD_TITLE }, { "text:", FIELD_TEXT } };
    for (size_t i = 0; i < NM_ARRAY_LEN(scopes); i++) {
        size_t sl = strlen(scopes[i].name);
        if (len >= sl && memcmp(s + p->pos, scopes[i].name, sl) == 0) {
            t->kind = T_SCOPE;
            t->len = sl;
            t->n = scopes[i].mask;
            p->pos += sl;
            return;
        }
    }
    if ((len > 5 && memcmp(s + p->pos, "lang:", 5) == 0) || (len > 7 && memcmp(s + p->pos, "source:", 7) == 0)) {
        t->kind = s[p->pos] == 'l' ? T_LANG : T_SOURCE;
        t->len = len;
        p->pos = q;
        return;
    }
    const char *colon = memchr(s + p->pos, ':', len);
    if (colon && (colon == s + q - 1) && q < p->end && (s[q] == '(' || s[q] == '"')) {
        perr(p, p->pos, "unknown scope '%.*s': scopes are title:, text:, lang: and source:",
             (int)(colon - (s + p->pos) + 1), s + p->pos);
        t->kind = T_ERR;
        p->pos = p->end;
        return;
    }
    if ((len == 5 && memcmp(s + p->pos, "lang:", 5) == 0) || (len == 7 && memcmp(s + p->pos, "source:", 7) == 0)) {
        perr(p, p->pos, "'%.*s' needs a value, e.g. lang:ru or source:lrt.lt", (int)len, s + p->pos);
        t->kind = T_ERR;
        p->pos = p->end;
        return;
    }
    p->pos = q;
    lex_bare(p, t->off, len);
}

/* ---------- terms ---------- */

/* Normalises raw[0..n) into items appended to *items; the last word is a
   prefix when prefix is set. Returns how many words were added. */
static size_t add_words(parser *p, const char *raw, size_t n, bool prefix, rule_item **items, size_t *n_items)
{
    rule_tokens_reset(&p->words);
    rule_tokenize(&p->words, raw, n, 0);
    for (size_t i = 0; i < p->words.n; i++) {
        *items = nm_xrealloc(*items, (*n_items + 1) * sizeof **items);
        (*items)[*n_items].word = nm_xstrndup(rule_token_word(&p->words, i), p->words.v[i].norm_len);
        (*items)[*n_items].prefix = prefix && i + 1 == p->words.n;
        (*n_items)++;
    }
    return p->words.n;
}

static char *items_key(const rule_item *items, size_t n)
{
    nm_buf b;
    nm_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            nm_buf_addc(&b, ' ');
        nm_buf_adds(&b, items[i].word);
        if (items[i].prefix)
            nm_buf_addc(&b, '*');
    }
    return nm_buf_steal(&b);
}

static size_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Returns where key is in p->seen_set, or the empty slot where it would go. */
static size_t seen_slot(const parser *p, const char *key)
{
    size_t mask = p->seen_slots - 1;
    size_t i = key_hash(key) & mask;
    while (p->seen_set[i] && strcmp(p->seen[p->seen_set[i] - 1].key, key) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Warns when the same term appears twice in one expression (a hash set
   of the terms so far, so a define of many thousand terms stays fast). */
static void check_duplicate(parser *p, rnode *n)
{
    if (n->n_items == 0)
        return;
    char *key = items_key(n->items, n->n_items);
    if (p->seen_slots) {
        size_t i = seen_slot(p, key);
        if (p->seen_set[i]) {
            char *first = rule_where(p->ld->rs, p->fi, (uint32_t)p->seen[p->seen_set[i] - 1].off, true);
            rule_diag_at(p->ld, false, p->fi, n->off,
                         "duplicate term '%s' in this expression (first at %s)", n->text, first);
            free(first);
            free(key);
            return;
        }
    }
    p->seen = nm_xrealloc(p->seen, (p->n_seen + 1) * sizeof *p->seen);
    p->seen[p->n_seen].key = key;
    p->seen[p->n_seen].off = n->off;
    p->n_seen++;
    if (p->n_seen * 2 > p->seen_slots) {
        free(p->seen_set);
        p->seen_slots = p->seen_slots ? p->seen_slots * 2 : 64;
        p->seen_set = nm_xcalloc(p->seen_slots, sizeof *p->seen_set);
        for (size_t k = 0; k < p->n_seen; k++)
            p->seen_set[seen_slot(p, p->seen[k].key)] = k + 1;
    } else {
        p->seen_set[seen_slot(p, key)] = p->n_seen;
    }
}

static rnode *term_word(parser *p)
{
    const tok *t = &p->t;
    const char *w = p->s + t->off;
    size_t len = t->len;
    bool prefix = t->kind == T_PREFIX;
    size_t stem = prefix ? len - 1 : len;
    const char *star = memchr(w, '*', stem);
    if (star) {
        perr(p, t->off + (size_t)(star - w), "'*' is only allowed at the end of a word (a prefix)");
        return NULL;
    }
    if (prefix && stem == 0) {
        perr(p, t->off, "a prefix needs letters before the '*'");
        return NULL;
    }
    rnode *n = node_new(RN_TERM, p->fi, (uint32_t)t->off);
    n->text = nm_xstrndup(w, len);
    size_t words = add_words(p, w, stem, prefix, &n->items, &n->n_items);
    if (words == 0) {
        rule_diag_at(p->ld, false, p->fi, n->off,
                     "term '%s' cannot match: it has no letters or digits after normalisation", n->text);
    } else if (words > 1) {
        char *key = items_key(n->items, n->n_items);
        rule_diag_at(p->ld, false, p->fi, n->off,
                     "term '%s' is %zu words after normalisation (%s): it is matched as the phrase \"%s\"; "
                     "write it in quotes to say so", n->text, words, key, key);
        free(key);
    }
    check_duplicate(p, n);
    return n;
}

static rnode *term_phrase(parser *p)
{
    const tok *t = &p->t;
    const char *s = p->s + t->off + 1;
    size_t len = t->len - 2;
    rnode *n = node_new(RN_TERM, p->fi, (uint32_t)t->off);
    n->text = nm_xstrndup(s, len);
    size_t i = 0;
    while (i < len) {
        while (i < len && is_blank(s[i]))
            i++;
        size_t j = i;
        while (j < len && !is_blank(s[j]))
            j++;
        if (j == i)
            break;
        bool prefix = s[j - 1] == '*';
        size_t stem = prefix ? j - 1 - i : j - i;
        const char *star = memchr(s + i, '*', stem);
        if (star || (prefix && stem == 0)) {
            perr(p, t->off + 1 + (size_t)((star ? star : s + i) - s),
                 star ? "'*' is only allowed at the end of a word (a prefix)" : "a prefix needs letters before the '*'");
            rule_node_free(n);
            return NULL;
        }
        add_words(p, s + i, stem, prefix, &n->items, &n->n_items);
        i = j;
    }
    if (n->n_items == 0)
        rule_diag_at(p->ld, false, p->fi, n->off,
                     "phrase \"%s\" cannot match: it has no letters or digits after normalisation", n->text);
    check_duplicate(p, n);
    return n;
}

/* ---------- expressions ---------- */

static rnode *parse_or(parser *p);
static rnode *parse_or_list(parser *p);

static bool starts_primary(tkind k)
{
    return k == T_WORD || k == T_PREFIX || k == T_PHRASE || k == T_REF || k == T_LP || k == T_SCOPE ||
           k == T_LANG || k == T_SOURCE || k == T_ATLEAST || k == T_NOT;
}

static rnode *parse_atleast(parser *p)
{
    size_t at = p->t.off;
    next(p);
    int64_t need = 0;
    bool ok = p->t.kind == T_WORD && p->t.len <= 6;
    for (size_t i = 0; ok && i < p->t.len; i++) {
        char c = p->s[p->t.off + i];
        ok = c >= '0' && c <= '9';
        need = need * 10 + (c - '0');
    }
    if (!ok || need < 1) {
        perr(p, p->t.off, "ATLEAST needs a whole number of at least 1: ATLEAST 2 OF (a, b, c)");
        return NULL;
    }
    next(p);
    if (!(p->t.kind == T_WORD && tok_is(p, &p->t, "OF"))) {
        perr(p, p->t.off, "expected OF after ATLEAST %lld: ATLEAST %lld OF (a, b, c)", (long long)need, (long long)need);
        return NULL;
    }
    next(p);
    if (p->t.kind != T_LP) {
        perr(p, p->t.off, "expected '(' and a comma-separated list after ATLEAST %lld OF", (long long)need);
        return NULL;
    }
    rnode *n = node_new(RN_ATLEAST, p->fi, (uint32_t)at);
    n->n = need;
    do {
        next(p);
        rnode *kid = parse_or(p);
        if (!kid) {
            rule_node_free(n);
            return NULL;
        }
        node_add(n, kid);
    } while (p->t.kind == T_COMMA);
    if (p->t.kind != T_RP) {
        perr(p, p->t.off, "expected ',' or ')' in the list of ATLEAST");
        rule_node_free(n);
        return NULL;
    }
    next(p);
    if ((size_t)need > n->n_kids) {
        perr(p, at, "ATLEAST %lld OF a list of %zu expressions can never hold", (long long)need, n->n_kids);
        rule_node_free(n);
        return NULL;
    }
    return n;
}

static rnode *parse_value(parser *p, rnode_kind kind)
{
    size_t skip = kind == RN_LANG ? 5 : 7;
    const char *v = p->s + p->t.off + skip;
    size_t len = p->t.len - skip;
    bool ok = true;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned char c = (unsigned char)v[i];
        ok = isalnum(c) || c == '-' || (kind == RN_LANG ? c == '_' : c == '.');
    }
    if (kind == RN_LANG)
        ok = ok && isalpha((unsigned char)v[0]);
    else
        ok = ok && v[0] != '.' && v[0] != '-';
    if (!ok) {
        perr(p, p->t.off, kind == RN_LANG ? "lang: expects a language tag such as lang:ru or lang:pt-BR"
                                           : "source: expects a host name such as source:lrt.lt");
        return NULL;
    }
    rnode *n = node_new(kind, p->fi, (uint32_t)p->t.off);
    n->text = nm_xstrndup(v, len);
    for (char *c = n->text; *c; c++)
        *c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
    size_t l = strlen(n->text);
    while (l > 0 && n->text[l - 1] == '.')
        n->text[--l] = '\0';
    next(p);
    return n;
}

static rnode *parse_primary(parser *p)
{
    rnode *n = NULL;
    switch (p->t.kind) {
    case T_WORD:
    case T_PREFIX:
        n = term_word(p);
        if (n)
            next(p);
        return n;
    case T_PHRASE:
        n = term_phrase(p);
        if (n)
            next(p);
        return n;
    case T_REF:
        n = node_new(RN_REF, p->fi, (uint32_t)p->t.off);
        n->text = nm_xstrndup(p->s + p->t.off + 1, p->t.len - 1);
        next(p);
        return n;
    case T_LP: {
        size_t at = p->t.off;
        next(p);
        n = parse_or(p);
        if (!n)
            return NULL;
        if (p->t.kind != T_RP) {
            if (p->t.kind == T_EOF)
                perr(p, at, "this '(' is never closed");
            else
                perr(p, p->t.off, "expected ')' or an operator before '%.*s'", (int)p->t.len, p->s + p->t.off);
            rule_node_free(n);
            return NULL;
        }
        next(p);
        return n;
    }
    case T_SCOPE: {
        int mask = (int)p->t.n;
        rnode *s = node_new(RN_SCOPE, p->fi, (uint32_t)p->t.off);
        s->mask = mask;
        if (!(p->mask & mask))
            rule_diag_at(p->ld, false, p->fi, s->off, "this scope can never match: it is inside a scope of the other field");
        int saved = p->mask;
        p->mask &= mask;
        next(p);
        if (!starts_primary(p->t.kind) || p->t.kind == T_NOT) {
            perr(p, p->t.off, "expected a term or '(' after the scope");
            p->mask = saved;
            rule_node_free(s);
            return NULL;
        }
        rnode *kid = parse_primary(p);
        p->mask = saved;
        if (!kid) {
            rule_node_free(s);
            return NULL;
        }
        node_add(s, kid);
        return s;
    }
    case T_LANG:
        return parse_value(p, RN_LANG);
    case T_SOURCE:
        return parse_value(p, RN_SOURCE);
    case T_ATLEAST:
        return parse_atleast(p);
    case T_EOF:
        perr(p, p->t.off, "expected a term here, but the expression ends");
        return NULL;
    case T_ERR:
        return NULL;
    default:
        perr(p, p->t.off, "expected a term, a phrase, '(' or $NAME here, not '%.*s'", (int)p->t.len, p->s + p->t.off);
        return NULL;
    }
}

/* NEAR's operands must be words, phrases, $NAMEs or OR-groups of them
   ($NAMEs are checked once defines are resolved). */
static bool near_operand_ok(const rnode *n)
{
    if (n->kind == RN_TERM || n->kind == RN_REF)
        return true;
    if (n->kind != RN_OR)
        return false;
    for (size_t i = 0; i < n->n_kids; i++)
        if (!near_operand_ok(n->kids[i]))
            return false;
    return true;
}

static rnode *parse_near(parser *p)
{
    rnode *a = parse_primary(p);
    if (!a || p->t.kind != T_NEAR)
        return a;
    rnode *n = node_new(RN_NEAR, p->fi, (uint32_t)p->t.off);
    n->n = p->t.n;
    node_add(n, a);
    next(p);
    if (!starts_primary(p->t.kind) || p->t.kind == T_NOT) {
        perr(p, p->t.off, "expected a word, phrase or (... OR ...) group after NEAR");
        rule_node_free(n);
        return NULL;
    }
    rnode *b = parse_primary(p);
    if (!b) {
        rule_node_free(n);
        return NULL;
    }
    node_add(n, b);
    for (int i = 0; i < 2; i++) {
        if (!near_operand_ok(n->kids[i])) {
            perr(p, n->kids[i]->off, "NEAR works on words, phrases or (... OR ...) groups of them; "
                 "use AND to combine other expressions");
            rule_node_free(n);
            return NULL;
        }
    }
    if (p->t.kind == T_NEAR) {
        perr(p, p->t.off, "NEAR cannot be chained: write (a NEAR/n b) AND (b NEAR/n c)");
        rule_node_free(n);
        return NULL;
    }
    return n;
}

static rnode *parse_not(parser *p)
{
    if (p->t.kind != T_NOT)
        return parse_near(p);
    rnode *n = node_new(RN_NOT, p->fi, (uint32_t)p->t.off);
    next(p);
    if (++p->depth > DEPTH_MAX) {
        perr(p, n->off, "this expression nests more than %d levels deep", DEPTH_MAX);
        rule_node_free(n);
        return NULL;
    }
    rnode *kid = parse_not(p);
    p->depth--;
    if (!kid) {
        rule_node_free(n);
        return NULL;
    }
    node_add(n, kid);
    return n;
}

static bool is_simple_word(const rnode *n)
{
    return n->kind == RN_TERM && n->text[0] != '\0';
}

/* Reports two operands side by side, with the likeliest fix. */
static void missing_operator(parser *p, const rnode *left)
{
    const tok *t = &p->t;
    const char *w = p->s + t->off;
    static const char *const ops[] = { "AND", "OR", "NOT", "NEAR" };
    if (t->kind == T_WORD) {
        for (size_t i = 0; i < NM_ARRAY_LEN(ops); i++) {
            size_t ol = strlen(ops[i]);
            if (t->len >= ol && strncasecmp(w, ops[i], ol) == 0 && (t->len == ol || w[ol] == '/')) {
                perr(p, t->off, "'%.*s' is not an operator: operators are upper case; did you mean %s%.*s?",
                     (int)t->len, w, ops[i], (int)(t->len - ol), w + ol);
                return;
            }
        }
    }
    if (left->kind == RN_TERM && p->s[left->off] != '"') {
        for (size_t i = 0; i < NM_ARRAY_LEN(ops); i++) {
            if (strcasecmp(left->text, ops[i]) == 0) {
                perr(p, left->off, "'%s' is not an operator: operators are upper case; did you mean %s?",
                     left->text, ops[i]);
                return;
            }
        }
    }
    if (t->kind == T_NOT) {
        perr(p, t->off, "NOT needs an operator before it: did you mean AND NOT?");
        return;
    }
    if ((t->kind == T_WORD || t->kind == T_PREFIX) && left->kind == RN_TERM && is_simple_word(left) &&
        p->s[left->off] != '"') {
        perr(p, t->off, "two terms side by side with no operator: did you mean the phrase \"%s %.*s\"? "
             "(or put AND or OR between them)", left->text, (int)t->len, w);
        return;
    }
    perr(p, t->off, "missing operator before '%.*s': put AND or OR between the two", (int)t->len, w);
}

static rnode *parse_and(parser *p)
{
    rnode *a = parse_not(p);
    if (!a)
        return NULL;
    rnode *n = NULL;
    for (;;) {
        if (p->t.kind == T_AND) {
            next(p);
        } else if (starts_primary(p->t.kind)) {
            missing_operator(p, n ? n->kids[n->n_kids - 1] : a);
            rule_node_free(n ? n : a);
            return NULL;
        } else {
            return n ? n : a;
        }
        if (!n) {
            n = node_new(RN_AND, p->fi, a->off);
            node_add(n, a);
        }
        rnode *b = parse_not(p);
        if (!b) {
            rule_node_free(n);
            return NULL;
        }
        node_add(n, b);
    }
}

static rnode *parse_or(parser *p)
{
    if (++p->depth > DEPTH_MAX) {
        perr(p, p->t.off, "this expression nests more than %d levels deep", DEPTH_MAX);
        return NULL;
    }
    rnode *r = parse_or_list(p);
    p->depth--;
    return r;
}

static rnode *parse_or_list(parser *p)
{
    rnode *a = parse_and(p);
    if (!a || p->t.kind != T_OR)
        return a;
    rnode *n = node_new(RN_OR, p->fi, a->off);
    node_add(n, a);
    while (p->t.kind == T_OR) {
        next(p);
        rnode *b = parse_and(p);
        if (!b) {
            rule_node_free(n);
            return NULL;
        }
        node_add(n, b);
    }
    return n;
}

/* Parses the expression in file text [start, end). Returns it, or NULL
   after reporting an error. */
static rnode *parse_expr(rload *ld, uint32_t fi, size_t start, size_t end, size_t empty_at)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.ld = ld;
    p.fi = fi;
    p.s = ld->rs->files[fi].text;
    p.pos = start;
    p.end = end;
    p.mask = FIELD_ALL;
    rule_tokens_init(&p.words);
    next(&p);
    rnode *n = NULL;
    if (p.t.kind == T_EOF)
        perr(&p, empty_at, "expected an expression here");
    else if (!p.failed)
        n = parse_or(&p);
    if (n && p.t.kind != T_EOF) {
        if (p.t.kind == T_RP)
            perr(&p, p.t.off, "this ')' has no matching '('");
        else if (p.t.kind == T_COMMA)
            perr(&p, p.t.off, "',' is only used inside ATLEAST n OF (...)");
        else if (p.t.kind == T_NEAR)
            perr(&p, p.t.off, "NEAR works on words, phrases or (... OR ...) groups of them; "
                 "put parentheses around its left side");
        else
            perr(&p, p.t.off, "unexpected '%.*s'", (int)p.t.len, p.s + p.t.off);
    }
    if (p.failed) {
        rule_node_free(n);
        n = NULL;
    }
    for (size_t i = 0; i < p.n_seen; i++)
        free(p.seen[i].key);
    free(p.seen);
    free(p.seen_set);
    rule_tokens_free(&p.words);
    return n;
}

/* ---------- logical lines ---------- */

typedef enum seg_kind {
    SEG_NONE, SEG_SKIP, SEG_DEFINE, SEG_THEME, SEG_TITLE, SEG_SEVERITY, SEG_MATCH, SEG_EXCLUDE,
    SEG_SCORE, SEG_THRESHOLD
} seg_kind;

static const char *const field_names[] = {
    [SEG_TITLE] = "title", [SEG_SEVERITY] = "severity", [SEG_MATCH] = "match",
    [SEG_EXCLUDE] = "exclude", [SEG_SCORE] = "score", [SEG_THRESHOLD] = "threshold" };

/* An open logical line: its kind, where its keyword is, and its text range. */
typedef struct seg {
    seg_kind kind;
    size_t key_off;
    size_t start, end;
} seg;

typedef struct fstate {
    rload *ld;
    uint32_t fi;
    const char *s;
    seg cur;
    rtheme *theme;          /* the theme being read, or NULL */
    rdefine pending_define; /* name and place of the define being read */
} fstate;

/* Returns text[start,end) without comments, blanks collapsed to one space (caller frees). */
static char *collapse(const char *s, size_t start, size_t end)
{
    nm_buf b;
    nm_buf_init(&b);
    bool quote = false, blank = false;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (c == '#' && !quote) {
            while (i < end && s[i] != '\n')
                i++;
            blank = true;
            continue;
        }
        if (c == '"')
            quote = !quote;
        if (c == '\n')
            quote = false;
        if (is_blank(c)) {
            blank = true;
            continue;
        }
        if (blank && b.len)
            nm_buf_addc(&b, ' ');
        blank = false;
        nm_buf_addc(&b, c);
    }
    return nm_buf_steal(&b);
}

static size_t skip_blanks(const char *s, size_t i, size_t end)
{
    while (i < end && is_blank(s[i]))
        i++;
    return i;
}

static size_t word_end(const char *s, size_t i, size_t end)
{
    while (i < end && !is_blank(s[i]) && s[i] != '#')
        i++;
    return i;
}

/* Parses a whole number (optionally negative) in s[i..end) that must
   fill the word. Returns true and sets *v. */
static bool parse_int(const char *s, size_t i, size_t end, int64_t *v)
{
    char buf[24];
    if (end - i == 0 || end - i >= sizeof buf)
        return false;
    memcpy(buf, s + i, end - i);
    buf[end - i] = '\0';
    char *e;
    errno = 0;
    long long x = strtoll(buf, &e, 10);
    if (*e || errno || x > 1000000000LL || x < -1000000000LL || !(isdigit((unsigned char)buf[0]) || buf[0] == '-'))
        return false;
    *v = x;
    return true;
}

static void add_define(fstate *fs, rnode *expr)
{
    rule_set *rs = fs->ld->rs;
    rs->defines = nm_xrealloc(rs->defines, (rs->n_defines + 1) * sizeof *rs->defines);
    rdefine *d = &rs->defines[rs->n_defines++];
    *d = fs->pending_define;
    d->expr = expr;
    fs->pending_define.name = NULL;
}

static void dup_field(fstate *fs, size_t at, const char *name, uint32_t first)
{
    char *w = rule_where(fs->ld->rs, fs->fi, first, false);
    rule_diag_at(fs->ld, true, fs->fi, (uint32_t)at, "duplicate '%s' in theme %s (first at %s)", name, fs->theme->id, w);
    free(w);
}

static void finish_field(fstate *fs)
{
    seg *g = &fs->cur;
    rload *ld = fs->ld;
    rtheme *th = fs->theme;
    const char *s = fs->s;
    size_t vs = skip_blanks(s, g->start, g->end);
    switch (g->kind) {
    case SEG_DEFINE:
        if (fs->pending_define.name) {
            rnode *e = parse_expr(ld, fs->fi, g->start, g->end, g->start);
            if (e)
                add_define(fs, e);
            else
                nm_free(&fs->pending_define.name);
        }
        break;
    case SEG_TITLE:
        if (th->has_title) {
            dup_field(fs, g->key_off, "title", th->title_off);
            break;
        }
        th->has_title = true;
        th->title_off = (uint32_t)g->key_off;
        free(th->title);
        th->title = collapse(s, g->start, g->end);
        if (!th->title[0])
            rule_diag_at(ld, true, fs->fi, (uint32_t)g->start, "title needs text: title Espionage and recruitment");
        break;
    case SEG_SEVERITY: {
        if (th->has_severity) {
            dup_field(fs, g->key_off, "severity", th->severity_off);
            break;
        }
        th->has_severity = true;
        th->severity_off = (uint32_t)g->key_off;
        char *v = collapse(s, g->start, g->end);
        static const char *const levels[] = { "info", "low", "medium", "high", "critical" };
        bool ok = false;
        for (size_t i = 0; i < NM_ARRAY_LEN(levels); i++)
            ok = ok || strcmp(v, levels[i]) == 0;
        if (!ok) {
            bool joined = memchr(s + g->start, '\n', g->end - g->start) != NULL;
            rule_diag_at(ld, true, fs->fi, (uint32_t)vs,
                         "severity must be one of info, low, medium, high, critical (not '%s')%s", v,
                         joined ? "; the indented line below does not start with a field name, so it continues this one" : "");
            free(v);
        } else {
            free(th->severity);
            th->severity = v;
        }
        break;
    }
    case SEG_MATCH:
    case SEG_EXCLUDE: {
        bool is_match = g->kind == SEG_MATCH;
        if (is_match ? th->has_match : th->has_exclude) {
            dup_field(fs, g->key_off, field_names[g->kind], is_match ? th->match_off : th->exclude_off);
            break;
        }
        if (is_match) {
            th->has_match = true;
            th->match_off = (uint32_t)g->key_off;
        } else {
            th->has_exclude = true;
            th->exclude_off = (uint32_t)g->key_off;
        }
        rnode *e = parse_expr(ld, fs->fi, g->start, g->end, g->start);
        if (is_match)
            th->match = e;
        else
            th->exclude = e;
        break;
    }
    case SEG_SCORE: {
        size_t we = word_end(s, vs, g->end);
        int64_t w;
        if (!parse_int(s, vs, we, &w)) {
            rule_diag_at(ld, true, fs->fi, (uint32_t)vs, "score needs a whole-number weight, then an expression: score 2 recruit*");
            break;
        }
        rnode *e = parse_expr(ld, fs->fi, we, g->end, we);
        th->scores = nm_xrealloc(th->scores, (th->n_scores + 1) * sizeof *th->scores);
        rscore *sc = &th->scores[th->n_scores++];
        sc->weight = w;
        sc->expr = e;
        sc->src = collapse(s, we, g->end);
        sc->file = fs->fi;
        sc->off = (uint32_t)g->key_off;
        break;
    }
    case SEG_THRESHOLD: {
        if (th->has_threshold) {
            dup_field(fs, g->key_off, "threshold", th->threshold_off);
            break;
        }
        th->has_threshold = true;
        th->threshold_off = (uint32_t)g->key_off;
        size_t we = word_end(s, vs, g->end);
        if (!parse_int(s, vs, we, &th->threshold) || skip_blanks(s, we, g->end) < g->end)
            rule_diag_at(ld, true, fs->fi, (uint32_t)vs, "threshold needs one whole number: threshold 3");
        break;
    }
    default:
        break;
    }
    g->kind = fs->theme ? SEG_THEME : SEG_NONE;
}

static void start_define(fstate *fs, size_t ls, size_t le)
{
    const char *s = fs->s;
    size_t ns = skip_blanks(s, ls + 6, le);
    size_t ne = ns;
    while (ne < le && (isalnum((unsigned char)s[ne]) || s[ne] == '_'))
        ne++;
    fs->cur.kind = SEG_DEFINE;
    fs->cur.key_off = ls;
    fs->cur.start = fs->cur.end = le;
    if (ne == ns) {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)ns, "define needs a name: define NAME = expression");
        fs->cur.kind = SEG_SKIP;
        return;
    }
    if (!is_define_name(s + ns, ne - ns)) {
        char *up = nm_xstrndup(s + ns, ne - ns);
        for (char *c = up; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)ns,
                     "define names are upper case (letters, digits, '_'): did you mean %s?", up);
        free(up);
        fs->cur.kind = SEG_SKIP;
        return;
    }
    size_t eq = skip_blanks(s, ne, le);
    if (eq >= le || s[eq] != '=') {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)eq, "expected '=' after define %.*s", (int)(ne - ns), s + ns);
        fs->cur.kind = SEG_SKIP;
        return;
    }
    memset(&fs->pending_define, 0, sizeof fs->pending_define);
    fs->pending_define.name = nm_xstrndup(s + ns, ne - ns);
    fs->pending_define.file = fs->fi;
    fs->pending_define.off = (uint32_t)ns;
    fs->cur.start = eq + 1;
}

static bool is_theme_id(const char *s, size_t n)
{
    if (n == 0 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void start_theme(fstate *fs, size_t ls, size_t le)
{
    const char *s = fs->s;
    rule_set *rs = fs->ld->rs;
    size_t is = skip_blanks(s, ls + 5, le);
    size_t ie = word_end(s, is, le);
    fs->theme = NULL;
    fs->cur.kind = SEG_SKIP;
    if (ie == is) {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)is, "theme needs an id: theme espionage");
        return;
    }
    if (!is_theme_id(s + is, ie - is)) {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)is,
                     "theme ids are lower-case letters, digits, '-' and '_' (not '%.*s')", (int)(ie - is), s + is);
        return;
    }
    size_t rest = skip_blanks(s, ie, le);
    if (rest < le && s[rest] != '#') {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)rest,
                     "unexpected text after the theme id: fields go on the indented lines below");
        return;
    }
    rs->themes = nm_xrealloc(rs->themes, (rs->n_themes + 1) * sizeof *rs->themes);
    rtheme *th = &rs->themes[rs->n_themes++];
    memset(th, 0, sizeof *th);
    th->id = nm_xstrndup(s + is, ie - is);
    th->file = fs->fi;
    th->off = (uint32_t)is;
    fs->theme = th;
    fs->cur.kind = SEG_THEME;
}

static seg_kind field_kind(const char *s, size_t ws, size_t we)
{
    for (size_t k = SEG_TITLE; k <= SEG_THRESHOLD; k++)
        if (we - ws == strlen(field_names[k]) && memcmp(s + ws, field_names[k], we - ws) == 0)
            return (seg_kind)k;
    return SEG_NONE;
}

/* Handles one non-blank, non-comment physical line [ls, le); fp is its first non-blank byte. */
static void physical_line(fstate *fs, size_t ls, size_t fp, size_t le)
{
    const char *s = fs->s;
    size_t we = word_end(s, fp, le);
    if (fp == ls) {
        finish_field(fs);
        fs->theme = NULL;
        fs->cur.kind = SEG_NONE;
        if (we - fp == 6 && memcmp(s + fp, "define", 6) == 0) {
            start_define(fs, ls, le);
        } else if (we - fp == 5 && memcmp(s + fp, "theme", 5) == 0) {
            start_theme(fs, ls, le);
        } else {
            rule_diag_at(fs->ld, true, fs->fi, (uint32_t)fp,
                         "expected 'define' or 'theme' at the start of a line (indent the lines that belong to them)");
            fs->cur.kind = SEG_SKIP;
        }
        return;
    }
    switch (fs->cur.kind) {
    case SEG_SKIP:
        if (!fs->theme)
            return;
        break;
    case SEG_NONE:
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)fp, "indented line outside a define or theme");
        fs->cur.kind = SEG_SKIP;
        return;
    default:
        break;
    }
    seg_kind fk = fs->theme ? field_kind(s, fp, we) : SEG_NONE;
    if (fk != SEG_NONE) {
        finish_field(fs);
        fs->cur.kind = fk;
        fs->cur.key_off = fp;
        fs->cur.start = we;
        fs->cur.end = le;
        return;
    }
    if (fs->cur.kind == SEG_SKIP)
        return;   /* continues a line already reported */
    if (fs->cur.kind == SEG_THEME) {
        rule_diag_at(fs->ld, true, fs->fi, (uint32_t)fp,
                     "unknown theme field '%.*s': fields are title, severity, match, exclude, score, threshold",
                     (int)(we - fp), s + fp);
        fs->cur.kind = SEG_SKIP;
        return;
    }
    fs->cur.end = le;   /* a continuation line */
}

void rule_parse_file(rload *ld, uint32_t fi)
{
    rfile *f = &ld->rs->files[fi];
    f->lines = nm_xmalloc(sizeof *f->lines);
    f->lines[0] = 0;
    f->n_lines = 1;
    for (size_t i = 0; i < f->len; i++) {
        if (f->text[i] == '\n') {
            f->lines = nm_xrealloc(f->lines, (f->n_lines + 1) * sizeof *f->lines);
            f->lines[f->n_lines++] = i + 1;
        }
    }
    fstate fs;
    memset(&fs, 0, sizeof fs);
    fs.ld = ld;
    fs.fi = fi;
    fs.s = f->text;
    for (size_t li = 0; li < f->n_lines; li++) {
        size_t ls = f->lines[li], le = line_end(f, ls);
        size_t fp = ls;
        while (fp < le && (f->text[fp] == ' ' || f->text[fp] == '\t'))
            fp++;
        if (fp == le || f->text[fp] == '#')
            continue;
        physical_line(&fs, ls, fp, le);
    }
    finish_field(&fs);
    free(fs.pending_define.name);
}
