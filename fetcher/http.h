/*
 * http: every GET the fetcher makes (feeds and pages), on libcurl's multi
 * interface driven by the daemon's nm_loop (curl's socket and timer
 * callbacks become nm_loop fds and timers, so one thread serves thousands
 * of feeds).
 *
 * Bounds, all from the config: transfers at once overall and per host
 * (our own queue, so a transfer's timeout only starts when it starts),
 * connect / total / low-speed timeouts, response size on the wire and
 * after Content-Encoding decoding (checked as data arrives; the transfer
 * is aborted beyond it), redirect count, and protocols (http and https;
 * file: only when allowed, never as a redirect target). Requests that
 * carry an item's link run under the SSRF guard (ssrf.h), checked on every
 * connection they open and every connection they reuse.
 *
 * The result says what happened in one line fit for a log (error_msg) and
 * carries the response headers the scheduler needs.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_bus.h"
#include "common/nm_util.h"
#include "fetcher/ssrf.h"

struct http_config {
    long max_total;              /* transfers running at once */
    long max_per_host;           /* transfers running at once per host name */
    int64_t connect_timeout_ms;
    int64_t total_timeout_ms;
    int64_t low_speed_time_ms;   /* abort when slower than low_speed_limit for this long */
    long low_speed_limit;        /* bytes per second */
    int64_t max_size;            /* response body bytes on the wire */
    int64_t max_decompressed;    /* response body bytes after decoding */
    long max_redirects;
    const char *user_agent;      /* NULL = "newsmon/<version> (+https://github.com/newsmon/newsmon)" */
    bool allow_file;             /* file: URLs for unguarded requests */
    const ssrf_allow *allow_private;   /* borrowed; ranges guarded requests may reach */
};

struct http_request {
    const char *url;
    const char *etag;            /* If-None-Match, NULL = none */
    const char *last_modified;   /* If-Modified-Since, NULL = none */
    const char *accept;          /* Accept header, NULL = curl's default */
    bool guard;                  /* apply the SSRF guard (item links) */
};

struct http_result {
    const char *url;             /* as requested */
    long status;                 /* final HTTP status; 0 when no response */
    bool failed;                 /* no usable response: see error_msg */
    bool cancelled;              /* the client is being destroyed: free the request's context, nothing more */
    char *error_msg;             /* why it failed (NULL when it did not) */
    nm_buf body;                 /* decoded body (steal it with nm_buf_steal) */
    char *content_type;          /* response headers, NULL when absent */
    char *etag;
    char *last_modified;
    char *retry_after;
    char *cache_control;
    char *final_url;             /* after redirects */
    char *permanent_url;         /* set when redirected and every redirect was 301 or 308 */
    long redirects;
    int64_t wire_bytes;          /* headers and body as received */
    int64_t elapsed_ms;
};

typedef struct http_client http_client;

/* Called once per request when it ends; r is valid during the call only. */
typedef void (*http_done_fn)(void *arg, struct http_result *r);

/* Returns a client whose transfers run on loop, or NULL with err. The
   config is copied (allow_private stays borrowed). */
http_client *http_client_new(nm_loop *loop, const struct http_config *cfg, nm_err *err);
/* Aborts every transfer, calling each callback with r->cancelled set (it
   must not make new requests then), and frees c. */
void http_client_destroy(http_client **c);

/* Queues a GET; fn is always called later (never from within http_get).
   Returns 0, or -1 with err when the request cannot be made at all (a URL
   curl does not accept). */
int http_get(http_client *c, const struct http_request *req, http_done_fn fn, void *arg, nm_err *err);

/* Returns the number of requests running or queued. */
size_t http_pending(const http_client *c);
/* Returns the bytes received (headers and bodies) since the client was made. */
int64_t http_bytes_received(const http_client *c);

/* Returns the User-Agent newsmon sends by default (static). */
const char *http_default_user_agent(void);

#endif
