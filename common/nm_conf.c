/*
 * nm_conf: INI loading with libinih, validation against a schema.
 *
 * libinih calls back once per key with its line number; we record which
 * schema keys were seen (to apply defaults afterwards) and collect every
 * problem. Overrides from the command line are applied last, so they win.
 */
#include "common/nm_conf.h"
#include "common/nm_util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The plain sections some daemon owns; a section not listed is a typo. */
static const char *const known_sections[] = {
    "bus", "log", "control", "fetcher", "classifier", "store", "notifier", "metrics", NULL,
};
/* Kinds of named sections ("[channel mail]"). */
static const char *const known_kinds[] = { "channel", "route", "feed", NULL };

void nm_conf_errors_add(nm_conf_errors *e, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return;
    e->msg = nm_xrealloc(e->msg, (e->n + 1) * sizeof *e->msg);
    e->msg[e->n++] = s;
}

void nm_conf_errors_clear(nm_conf_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    nm_free(&e->msg);
    e->n = 0;
}

int nm_conf_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || isinf(v))   /* also refuses nan and inf */
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    double mult;
    if (!*end || !strcmp(end, "s"))
        mult = 1000;
    else if (!strcmp(end, "ms"))
        mult = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mult = 60e3;
    else if (!strcmp(end, "h"))
        mult = 3600e3;
    else if (!strcmp(end, "d"))
        mult = 86400e3;
    else
        return -1;
    if (v * mult > 9e15)
        return -1;
    *ms = (int64_t)(v * mult + 0.5);
    return 0;
}

int nm_conf_parse_size(const char *s, int64_t *bytes)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || isinf(v))   /* also refuses nan and inf */
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    double mult = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': mult = 1024.0; break;
    case 'M': mult = 1024.0 * 1024; break;
    case 'G': mult = 1024.0 * 1024 * 1024; break;
    default: return -1;
    }
    if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
        !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
        return -1;
    if (v * mult > 9e15)
        return -1;
    *bytes = (int64_t)(v * mult + 0.5);
    return 0;
}

int nm_conf_parse_bool(const char *s, int *b)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < NM_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(s, yes[i])) {
            *b = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

struct load_state {
    const struct nm_conf_load_args *a;
    nm_conf_errors *errs;
    unsigned char *seen;      /* one per schema key */
    char *last_section;       /* to report an unknown section once */
    FILE *file;
    int line;                 /* of the line the reader returned last */
    int section_line;         /* of the last [section] header */
    char *linebuf;
    size_t linecap;
};

/* libinih as Debian builds it does not pass line numbers to the handler;
   reading the lines ourselves gives them, and lets us refuse overlong lines
   instead of having them split silently. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_state *st = stream;
    for (;;) {
        ssize_t n = getline(&st->linebuf, &st->linecap, st->file);
        if (n < 0)
            return NULL;
        st->line++;
        const char *p = st->linebuf;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[')
            st->section_line = st->line;
        if (n < num) {
            memcpy(str, st->linebuf, (size_t)n + 1);
            return str;
        }
        nm_conf_errors_add(st->errs, "%s:%d: line longer than %d characters", st->a->path, st->line, num - 1);
    }
}

static const nm_conf_key *find_key(const struct nm_conf_load_args *a, const char *section,
                                   const char *key, size_t *idx)
{
    for (size_t i = 0; i < a->n_schema; i++) {
        if (!strcmp(a->schema[i].section, section) && !strcmp(a->schema[i].key, key)) {
            *idx = i;
            return &a->schema[i];
        }
    }
    return NULL;
}

static int schema_owns(const struct nm_conf_load_args *a, const char *section)
{
    for (size_t i = 0; i < a->n_schema; i++)
        if (!strcmp(a->schema[i].section, section))
            return 1;
    return 0;
}

static int in_list(const char *const *list, const char *s, size_t n)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncmp(list[i], s, n))
            return 1;
    return 0;
}

/* Stores value into the field of k. Returns NULL or a malloc'd problem. */
static char *set_value(const nm_conf_key *k, void *out, const char *value)
{
    char *field = (char *)out + k->offset;
    int64_t v = 0;
    switch (k->type) {
    case NM_CONF_STRING:
        if (k->choices) {
            int ok = 0;
            for (size_t i = 0; k->choices[i]; i++)
                ok |= !strcmp(k->choices[i], value);
            if (!ok) {
                nm_buf b;
                nm_buf_init(&b);
                for (size_t i = 0; k->choices[i]; i++)
                    nm_buf_addf(&b, "%s%s", i ? (k->choices[i + 1] ? ", " : " or ") : "", k->choices[i]);
                char *m = nm_xasprintf("'%s' is not %s", value, nm_buf_cstr(&b));
                nm_buf_free(&b);
                return m;
            }
        }
        free(*(char **)field);
        *(char **)field = nm_xstrdup(value);
        return NULL;
    case NM_CONF_BOOL: {
        int b;
        if (nm_conf_parse_bool(value, &b) < 0)
            return nm_xasprintf("'%s' is not a boolean (use yes or no)", value);
        *(int *)field = b;
        return NULL;
    }
    case NM_CONF_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (end == value || *end || errno)
            return nm_xasprintf("'%s' is not a whole number", value);
        v = n;
        break;
    }
    case NM_CONF_DURATION:
        if (nm_conf_parse_duration(value, &v) < 0)
            return nm_xasprintf("'%s' is not a duration (e.g. 500ms, 30s, 5m, 2h, 7d)", value);
        break;
    case NM_CONF_SIZE:
        if (nm_conf_parse_size(value, &v) < 0)
            return nm_xasprintf("'%s' is not a size (e.g. 512, 64k, 10M, 1G)", value);
        break;
    }
    if (k->min <= k->max && (v < k->min || v > k->max))
        return nm_xasprintf("%s is out of range (%lld to %lld%s)", value, (long long)k->min,
                            (long long)k->max,
                            k->type == NM_CONF_DURATION ? " ms" : k->type == NM_CONF_SIZE ? " bytes" : "");
    *(int64_t *)field = v;
    return NULL;
}

/* Handles one key of a named section "kind name". */
static void handle_named(struct load_state *st, const char *section, const char *key,
                         const char *value, int line)
{
    const char *sp = strchr(section, ' ');
    size_t kind_len = (size_t)(sp - section);
    const char *name = sp + 1;
    while (*name == ' ')
        name++;
    if (!in_list(known_kinds, section, kind_len) || !*name) {
        if (!st->last_section || strcmp(st->last_section, section)) {
            nm_conf_errors_add(st->errs, "%s:%d: unknown section [%s]", st->a->path, st->section_line, section);
            free(st->last_section);
            st->last_section = nm_xstrdup(section);
        }
        return;
    }
    if (!st->a->named)
        return;
    char *kind = nm_xstrndup(section, kind_len);
    char *problem = st->a->named(st->a->named_arg, kind, name, key, value, line);
    if (problem) {
        if (line > 0)
            nm_conf_errors_add(st->errs, "%s:%d: [%s] %s: %s", st->a->path, line, section, key, problem);
        else
            nm_conf_errors_add(st->errs, "command line: [%s] %s: %s", section, key, problem);
        free(problem);
    }
    free(kind);
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct load_state *st = user;
    int line = st->line;
    const struct nm_conf_load_args *a = st->a;
    if (!*section) {
        nm_conf_errors_add(st->errs, "%s:%d: key '%s' is outside any [section]", a->path, line, key);
        return 1;
    }
    if (strchr(section, ' ')) {
        handle_named(st, section, key, value, line);
        return 1;
    }
    if (!in_list(known_sections, section, strlen(section))) {
        if (!st->last_section || strcmp(st->last_section, section)) {
            nm_conf_errors_add(st->errs, "%s:%d: unknown section [%s]", a->path, st->section_line, section);
            free(st->last_section);
            st->last_section = nm_xstrdup(section);
        }
        return 1;
    }
    if (!schema_owns(a, section))
        return 1;   /* another daemon's section */
    size_t idx;
    const nm_conf_key *k = find_key(a, section, key, &idx);
    if (!k) {
        nm_conf_errors_add(st->errs, "%s:%d: [%s] unknown key '%s'", a->path, line, section, key);
        return 1;
    }
    if (st->seen[idx])
        nm_conf_errors_add(st->errs, "%s:%d: [%s] %s is set twice", a->path, line, section, key);
    st->seen[idx] = 1;
    if (a->lines)
        a->lines[idx] = line;
    char *problem = set_value(k, a->out, value);
    if (problem) {
        nm_conf_errors_add(st->errs, "%s:%d: [%s] %s: %s", a->path, line, section, key, problem);
        free(problem);
    }
    return 1;
}

static void apply_override(struct load_state *st, const char *ov)
{
    const char *eq = strchr(ov, '=');
    const char *dot = strchr(ov, '.');
    if (!eq || !dot || dot > eq) {
        nm_conf_errors_add(st->errs, "command line: override '%s' must be section.key=value", ov);
        return;
    }
    char *section = nm_xstrndup(ov, (size_t)(dot - ov));
    char *key = nm_xstrndup(dot + 1, (size_t)(eq - dot - 1));
    if (strchr(section, ' ')) {   /* a named section: "channel mail.to=x" */
        handle_named(st, section, key, eq + 1, 0);
        free(section);
        free(key);
        return;
    }
    size_t idx;
    const nm_conf_key *k = find_key(st->a, section, key, &idx);
    if (!k) {
        nm_conf_errors_add(st->errs, "command line: unknown key [%s] %s", section, key);
    } else {
        char *problem = set_value(k, st->a->out, eq + 1);
        st->seen[idx] = 1;
        if (st->a->lines)
            st->a->lines[idx] = -1;
        if (problem) {
            nm_conf_errors_add(st->errs, "command line: [%s] %s: %s", section, key, problem);
            free(problem);
        }
    }
    free(section);
    free(key);
}

int nm_conf_load(const struct nm_conf_load_args *a, nm_conf_errors *errs)
{
    struct load_state st = { a, errs, nm_xcalloc(a->n_schema, 1), NULL, NULL, 0, 0, NULL, 0 };
    size_t before = errs->n;

    FILE *f = fopen(a->path, "r");
    if (!f) {
        nm_conf_errors_add(errs, "%s: cannot open: %s", a->path, strerror(errno));
    } else {
        st.file = f;
        int r = ini_parse_stream(read_line, &st, on_key, &st);
        fclose(f);
        free(st.linebuf);
        if (r > 0)
            nm_conf_errors_add(errs, "%s:%d: not a valid line (expected [section] or key = value)", a->path, r);
        else if (r < 0)
            nm_conf_errors_add(errs, "%s: cannot read", a->path);
    }
    for (size_t i = 0; i < a->n_overrides; i++)
        apply_override(&st, a->overrides[i]);
    for (size_t i = 0; i < a->n_schema; i++) {
        const nm_conf_key *k = &a->schema[i];
        if (st.seen[i])
            continue;
        if (!k->def) {
            nm_conf_errors_add(errs, "%s: [%s] %s is required", a->path, k->section, k->key);
            continue;
        }
        char *problem = set_value(k, a->out, k->def);
        if (problem) {   /* a broken default is a bug in the schema: report it all the same */
            nm_conf_errors_add(errs, "built-in default of [%s] %s: %s", k->section, k->key, problem);
            free(problem);
        }
    }
    free(st.seen);
    free(st.last_section);
    return errs->n > before ? -1 : 0;
}

void nm_conf_free(const nm_conf_key *schema, size_t n_schema, void *out)
{
    for (size_t i = 0; i < n_schema; i++)
        if (schema[i].type == NM_CONF_STRING)
            nm_free((char **)((char *)out + schema[i].offset));
}
