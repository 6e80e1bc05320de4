/*
 * nm_util: allocation, error buffers, byte buffers, file reading and the
 * clock. Nothing here logs; allocation failure aborts because every caller
 * would otherwise have to handle a condition it cannot recover from.
 */
#include "common/nm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void out_of_memory(void)
{
    fputs("newsmon: out of memory\n", stderr);
    abort();
}

void *nm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *nm_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *nm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory();
    return q;
}

char *nm_xstrdup(const char *s)
{
    return s ? nm_xstrndup(s, strlen(s)) : NULL;
}

char *nm_xstrndup(const char *s, size_t n)
{
    char *d = nm_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *nm_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        out_of_memory();
    va_end(ap);
    return s;
}

int nm_err_set(nm_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void nm_buf_init(nm_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void nm_buf_free(nm_buf *b)
{
    free(b->data);
    nm_buf_init(b);
}

void nm_buf_reset(nm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void buf_reserve(nm_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = nm_xrealloc(b->data, cap);
    b->cap = cap;
}

void nm_buf_add(nm_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void nm_buf_adds(nm_buf *b, const char *s)
{
    nm_buf_add(b, s, strlen(s));
}

void nm_buf_addc(nm_buf *b, char c)
{
    nm_buf_add(b, &c, 1);
}

void nm_buf_addf(nm_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

const char *nm_buf_cstr(nm_buf *b)
{
    buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

char *nm_buf_steal(nm_buf *b)
{
    nm_buf_cstr(b);
    char *s = b->data;
    nm_buf_init(b);
    return s;
}

int nm_read_file(const char *path, size_t limit, char **out, size_t *len, nm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nm_err_set(err, "%s: %s", path, strerror(errno));
    nm_buf b;
    nm_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (limit && b.len + n > limit) {
            fclose(f);
            nm_buf_free(&b);
            return nm_err_set(err, "%s: larger than the limit of %zu bytes", path, limit);
        }
        nm_buf_add(&b, chunk, n);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        nm_buf_free(&b);
        return nm_err_set(err, "%s: read error", path);
    }
    if (len)
        *len = b.len;
    *out = nm_buf_steal(&b);
    return 0;
}

int64_t nm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
