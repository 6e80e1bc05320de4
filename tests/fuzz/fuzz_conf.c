/*
 * fuzz_conf: nm_conf_load (common/nm_conf.h) on arbitrary bytes as the
 * INI file, with a schema that has a key of every type, with and without
 * bounds, one required key, plain sections the schema owns and does not
 * own, named sections ("[channel mail]") through a callback that accepts
 * some keys and refuses others, and command-line overrides of both kinds.
 *
 * nm_conf_load reads a path, so the input is written to a private file
 * created once per process (in $TMPDIR) and removed at exit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/nm_conf.h"
#include "common/nm_util.h"

struct fuzz_conf {
    char *name;
    char *empty_ok;
    int64_t workers;
    int64_t offset;      /* unbounded */
    int verbose;
    int64_t timeout;
    int64_t poll;
    int64_t max_body;
    int64_t cache;
    char *db;            /* required */
};

#define OFF(f) offsetof(struct fuzz_conf, f)
static const nm_conf_key schema[] = {
    { "fetcher", "name", NM_CONF_STRING, OFF(name), "newsmon", 0, -1, "a string" },
    { "fetcher", "empty", NM_CONF_STRING, OFF(empty_ok), "", 0, -1, "a string, empty by default" },
    { "fetcher", "workers", NM_CONF_INT, OFF(workers), "4", 1, 256, "a bounded number" },
    { "fetcher", "offset", NM_CONF_INT, OFF(offset), "-7", 1, 0, "an unbounded number" },
    { "fetcher", "verbose", NM_CONF_BOOL, OFF(verbose), "no", 0, -1, "a boolean" },
    { "fetcher", "timeout", NM_CONF_DURATION, OFF(timeout), "30s", 100, 3600000, "a bounded duration" },
    { "fetcher", "poll", NM_CONF_DURATION, OFF(poll), "5m", 1, 0, "an unbounded duration" },
    { "fetcher", "max_body", NM_CONF_SIZE, OFF(max_body), "32M", 1024, 1LL << 32, "a bounded size" },
    { "store", "cache", NM_CONF_SIZE, OFF(cache), "64k", 1, 0, "an unbounded size" },
    { "store", "db", NM_CONF_STRING, OFF(db), NULL, 0, -1, "a required string" },
};

static char *const overrides[] = {
    "fetcher.workers=8", "store.cache=1M", "channel mail.to=desk@example.org", "route urgent.reject=x",
};

static char path[] = "/tmp/nm-fuzz-conf-XXXXXX";
static char *tmp_path;
static int fd = -1;

static void remove_file(void)
{
    if (tmp_path)
        unlink(tmp_path);
    free(tmp_path);
    tmp_path = NULL;
}

/* Called once by libFuzzer before the first input. Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TMPDIR");
    tmp_path = dir && *dir ? nm_xasprintf("%s/nm-fuzz-conf-XXXXXX", dir) : nm_xstrdup(path);
    fd = mkstemp(tmp_path);
    if (fd < 0) {
        perror("fuzz_conf: mkstemp");
        abort();
    }
    atexit(remove_file);
    return 0;
}

/* The named-section callback: keeps a copy of what it is given (so ASan
   checks the strings), refuses keys named "reject" and empty values.
   Returns NULL or a malloc'd problem. */
static char *on_named(void *arg, const char *kind, const char *name, const char *key, const char *value,
                      int line)
{
    nm_buf *seen = arg;
    nm_buf_addf(seen, "%s|%s|%s=%s@%d\n", kind, name, key, value, line);
    if (!strcmp(key, "reject"))
        return nm_xasprintf("key '%s' refused", key);
    if (!*value)
        return nm_xstrdup("empty value");
    return NULL;
}

/* libFuzzer's entry point. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    struct fuzz_conf c;
    memset(&c, 0, sizeof c);
    nm_buf seen;
    nm_buf_init(&seen);
    nm_conf_errors errs = { NULL, 0 };
    struct nm_conf_load_args a = {
        .path = tmp_path, .schema = schema, .n_schema = NM_ARRAY_LEN(schema), .out = &c,
        .overrides = overrides, .n_overrides = (size & 1) ? NM_ARRAY_LEN(overrides) : 0,
        .named = (size & 2) ? NULL : on_named, .named_arg = &seen,
    };
    int r = nm_conf_load(&a, &errs);
    if ((r == 0) != (errs.n == 0)) {
        fprintf(stderr, "fuzz_conf: nm_conf_load returned %d with %zu errors\n", r, errs.n);
        abort();
    }
    for (size_t i = 0; i < errs.n; i++)
        if (!errs.msg[i] || !*errs.msg[i])
            abort();
    if (r == 0 && (c.workers < 1 || c.workers > 256 || c.timeout < 100 || c.timeout > 3600000 ||
                   c.max_body < 1024 || c.max_body > (1LL << 32) || !c.db)) {
        fprintf(stderr, "fuzz_conf: a value outside its bounds was accepted\n");
        abort();
    }
    nm_conf_errors_clear(&errs);
    nm_conf_free(schema, NM_ARRAY_LEN(schema), &c);
    nm_buf_free(&seen);
    return 0;
}
