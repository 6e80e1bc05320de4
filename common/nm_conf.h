/*
 * nm_conf: the INI configuration (libinih), checked against a schema.
 *
 * One file, /etc/newsmon/newsmon.conf, a section per daemon plus [bus]
 * (endpoints shared by all) and named sections such as [channel mail] or
 * [route urgent]. Each daemon describes the keys it reads with a table of
 * nm_conf_key (section, key, type, where in its struct, default, bounds);
 * nm_conf_load fills the struct, applies "section.key=value" overrides from
 * the command line, and collects every problem as "file:line: message"
 * (unknown section, unknown key, bad value, out of range) instead of
 * stopping at the first. Keys of sections the schema does not own are left
 * to the daemons that own them; unknown plain sections are errors.
 * Named sections ("kind name") go to a callback when one is given.
 */
#ifndef NM_CONF_H
#define NM_CONF_H

#include <stddef.h>
#include <stdint.h>

typedef enum nm_conf_type {
    NM_CONF_STRING,    /* char * (malloc'd; "" allowed) */
    NM_CONF_INT,       /* int64_t */
    NM_CONF_BOOL,      /* int: yes/no, true/false, on/off, 1/0 */
    NM_CONF_DURATION,  /* int64_t milliseconds: "250ms", "30s", "5m", "2h", "7d"; a bare number is seconds */
    NM_CONF_SIZE,      /* int64_t bytes: "512", "64k", "10M", "1G" */
} nm_conf_type;

typedef struct nm_conf_key {
    const char *section;
    const char *key;
    nm_conf_type type;
    size_t offset;       /* of the field in the daemon's config struct */
    const char *def;     /* default, in the same syntax as the file; NULL = required */
    int64_t min, max;    /* bounds for numbers (after unit conversion); min > max = none */
    const char *help;
    const char *const *choices;   /* strings: NULL-terminated list of the accepted values, or NULL */
} nm_conf_key;

/* Every problem found, each "file:line: message". */
typedef struct nm_conf_errors {
    char **msg;
    size_t n;
} nm_conf_errors;

void nm_conf_errors_add(nm_conf_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nm_conf_errors_clear(nm_conf_errors *e);

/* A named section ("channel mail"): called once per key, with its line.
   Overrides of named keys ("-o 'channel mail.to=x'") come after the file's
   keys, with line 0, and replace what the file said.
   Return NULL when accepted, else a malloc'd message (it is freed). */
typedef char *(*nm_conf_named_fn)(void *arg, const char *kind, const char *name, const char *key,
                                   const char *value, int line);

struct nm_conf_load_args {
    const char *path;                 /* the INI file */
    const nm_conf_key *schema;
    size_t n_schema;
    void *out;                        /* the struct the schema's offsets point into */
    char *const *overrides;           /* "section.key=value" */
    size_t n_overrides;
    nm_conf_named_fn named;           /* may be NULL: named sections are then ignored */
    void *named_arg;
    int *lines;                       /* may be NULL; else n_schema slots: the line each key was
                                         set on, 0 for a default, -1 for a command-line override */
};

/* Loads and checks the configuration. Returns 0 when there were no errors,
   else -1 with every error in errs (the struct is still filled with what
   could be read and defaults, and must be released with nm_conf_free). */
int nm_conf_load(const struct nm_conf_load_args *a, nm_conf_errors *errs);

/* Releases the strings nm_conf_load allocated in out. */
void nm_conf_free(const nm_conf_key *schema, size_t n_schema, void *out);

/* Parsers shared with code that reads values elsewhere. Return 0 or -1. */
int nm_conf_parse_duration(const char *s, int64_t *ms);
int nm_conf_parse_size(const char *s, int64_t *bytes);
int nm_conf_parse_bool(const char *s, int *b);

#endif
