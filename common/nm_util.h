/*
 * nm_util: the small things every module needs: allocation that never
 * returns NULL (running out of memory is a broken invariant here, not a
 * run-time condition), a free that clears the pointer, a growable byte
 * buffer, and an error buffer that low-level helpers fill instead of logging.
 */
#ifndef NM_UTIL_H
#define NM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define NM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Frees *pp and sets it to NULL. */
#define nm_free(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

void *nm_xmalloc(size_t n);
void *nm_xcalloc(size_t n, size_t size);
void *nm_xrealloc(void *p, size_t n);
/* Returns a copy of s (NULL for NULL); the caller frees it. */
char *nm_xstrdup(const char *s);
/* Returns a copy of the first n bytes of s, NUL-terminated. */
char *nm_xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *nm_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An error message filled by a callee and logged by its caller. */
typedef struct nm_err {
    char msg[1024];
} nm_err;

/* Sets err (when not NULL) and returns -1, so callers can `return nm_err_set(...)`. */
int nm_err_set(nm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable byte buffer, always NUL-terminated when len > 0 or after nm_buf_cstr. */
typedef struct nm_buf {
    char *data;
    size_t len;
    size_t cap;
} nm_buf;

void nm_buf_init(nm_buf *b);
void nm_buf_free(nm_buf *b);
void nm_buf_reset(nm_buf *b);
void nm_buf_add(nm_buf *b, const void *p, size_t n);
void nm_buf_adds(nm_buf *b, const char *s);
void nm_buf_addc(nm_buf *b, char c);
void nm_buf_addf(nm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the buffer's contents as a C string (never NULL). */
const char *nm_buf_cstr(nm_buf *b);
/* Returns the contents as a malloc'd string owned by the caller; the buffer is left empty. */
char *nm_buf_steal(nm_buf *b);

/* Reads a whole file into *out (NUL-terminated, *len without it). Returns 0, or -1 with err. */
int nm_read_file(const char *path, size_t limit, char **out, size_t *len, nm_err *err);

/* Monotonic clock in milliseconds. */
int64_t nm_now_ms(void);

#endif
