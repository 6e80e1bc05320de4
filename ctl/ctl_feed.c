/*
 * ctl_feed: `newsmonctl parse-feed FILE [--url BASE] [--charset CS]`, the
 * feed parser on its own. Prints {"feed": {...}, "entries": [article...]}
 * (the contract the conformance tests read); recoverable errors go into
 * feed.errors and to stderr. Exit 0 when the feed was read, 1 when nothing
 * could be read, 2 on a usage error.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nm_util.h"
#include "ctl/ctl.h"
#include "fetcher/feed_parse.h"

static int usage(void)
{
    ctl_error("usage: newsmonctl parse-feed FILE [--url BASE] [--charset CS] [--pretty]");
    return 2;
}

/* A file's bytes: mapped (not NUL-terminated) or read (NUL-terminated). */
struct input {
    char *data;
    size_t len;
    size_t mapped;   /* bytes of the file mapping holding data; 0: malloc'd */
};

/* Maps a regular file read-only, its pages populated at once from the page
   cache: no copy, and no new memory. New memory is what costs most on
   the VM of docs/benchmarks.md, above all right after another program
   has freed a lot of it (its host takes freed memory back, and a first
   touch then waits for the host). Measured there, `parse-feed` of the
   12.9 MB bench feed run right after Python's feedparser: 0.06-0.08 s
   mapped, 0.10-0.11 s read into new memory; run after itself, 0.04 s
   either way. feed_parse reads exactly len bytes and needs no
   terminating NUL. Returns 0, or -1 when this way does not apply (not a
   regular file, empty, over the limit) and the caller reads it the
   ordinary way. */
static int read_mapped(const char *path, size_t limit, struct input *in)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > limit) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    in->data = m;
    in->len = size;
    in->mapped = size;
    return 0;
}

/* Reads path whole into in. Returns 0, or -1 with err. */
static int read_input(const char *path, size_t limit, struct input *in, nm_err *err)
{
    memset(in, 0, sizeof *in);
    if (read_mapped(path, limit, in) == 0)
        return 0;
    return nm_read_file(path, limit, &in->data, &in->len, err);
}

static void input_free(struct input *in)
{
    if (in->mapped)
        munmap(in->data, in->mapped);
    else
        free(in->data);
    memset(in, 0, sizeof *in);
}

static int cmd_parse_feed(int argc, char **argv)
{
    const char *path = NULL, *url = NULL, *charset = NULL;
    int pretty = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strncmp(argv[i], "--url=", 6) == 0)
            url = argv[i] + 6;
        else if (strcmp(argv[i], "--charset") == 0 && i + 1 < argc)
            charset = argv[++i];
        else if (strncmp(argv[i], "--charset=", 10) == 0)
            charset = argv[i] + 10;
        else if (strcmp(argv[i], "--pretty") == 0)
            pretty = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage();
        else if (!path)
            path = argv[i];
        else
            return usage();
    }
    if (!path)
        return usage();
    struct feed_limits lim;
    feed_limits_default(&lim);
    nm_err err = { "" };
    struct input in;
    if (read_input(path, lim.max_bytes, &in, &err) < 0) {
        ctl_error("%s", err.msg);
        return 1;
    }
    struct feed f;
    feed_init(&f);
    f.defer_summaries = true; /* read as they are written: in stays until feed_clear */
    int rc = feed_parse(in.data, in.len, url, charset, &lim, &f, &err);
    for (size_t i = 0; i < f.n_entries; i++)
        if (!f.entries[i].feed)
            f.entries[i].feed = nm_xstrdup(path);
    for (size_t i = 0; i < f.n_errors; i++)
        ctl_error("%s: %s", path, f.errors[i]);
    if (rc < 0)
        ctl_error("%s: %s", path, err.msg);
    int wrc;
    if (pretty) {
        json_t *j = feed_to_json(&f);
        if (rc < 0) {
            json_t *jf = json_object_get(j, "feed");
            json_array_append_new(json_object_get(jf, "errors"), json_string(err.msg));
            json_object_set_new(jf, "bozo", json_true());
        }
        wrc = json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        /* The compact form is written directly: jansson's tree and dump
           cost more than the parse itself on large feeds. */
        wrc = feed_write_json(&f, rc < 0 ? err.msg : NULL, stdout);
    }
    if (wrc < 0 || fflush(stdout) != 0) {
        ctl_error("parse-feed: cannot write the output");
        rc = -1;
    }
    feed_clear(&f);
    input_free(&in);
    return rc < 0 ? 1 : 0;
}

NM_CTL_COMMAND(NULL, "parse-feed", "FILE [--url BASE] [--charset CS] [--pretty]",
               "parse a feed file and print its entries as article JSON", cmd_parse_feed)
