/*
 * http: libcurl's multi socket interface on nm_loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it up (CURLMOPT_TIMERFUNCTION); we map those onto nm_loop fds
 * and a single one-shot timer, and hand events back with
 * curl_multi_socket_action. Finished transfers are collected with
 * curl_multi_info_read and reported through each request's callback.
 *
 * Requests wait in our own FIFO until a slot is free overall and for
 * their host: curl's own limits would also queue them, but its timeouts
 * would then count the time spent waiting.
 *
 * Limits are enforced as data arrives: the progress callback watches the
 * body bytes on the wire, the write callback the decoded bytes, so a gzip
 * bomb or an endless body stops at the limit, not at the end.
 */
#include "fetcher/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "common/nm_url.h"

struct host {
    char *name;
    long active;            /* transfers of this host running */
};

struct xfer {
    http_client *c;
    CURL *easy;
    char *host;             /* the requested URL's host (politeness key) */
    struct curl_slist *headers;
    http_done_fn fn;
    void *arg;
    bool guard;
    int64_t started_ms;
    struct http_result r;
    bool over_wire;         /* aborted: max_size exceeded */
    bool over_decoded;      /* aborted: max_decompressed exceeded */
    char *refused;          /* SSRF refusal, when that is why it failed */
    bool all_permanent;     /* every redirect so far was 301/308 */
    char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
    nm_loop *loop;
    CURLM *multi;
    struct http_config cfg;
    char *user_agent;
    int timer;              /* nm_loop timer id for curl, 0 = none */
    int wake_fd;            /* eventfd: defers starting queued transfers to the loop (see poke) */
    bool kick;              /* queued requests wait for the wake-up to start */
    struct xfer **queue;    /* waiting for a slot, FIFO */
    size_t n_queue;
    struct xfer **active;   /* running */
    size_t n_active;
    struct host *hosts;
    size_t n_hosts;
    int64_t bytes;
    bool in_check;          /* inside check_done: do not recurse */
};

const char *http_default_user_agent(void)
{
    return "newsmon/" NEWSMON_VERSION " (+https://github.com/newsmon/newsmon; news monitoring)";
}

static struct host *host_get(http_client *c, const char *name, bool create)
{
    for (size_t i = 0; i < c->n_hosts; i++)
        if (!strcmp(c->hosts[i].name, name))
            return &c->hosts[i];
    if (!create)
        return NULL;
    c->hosts = nm_xrealloc(c->hosts, (c->n_hosts + 1) * sizeof *c->hosts);
    c->hosts[c->n_hosts] = (struct host){ nm_xstrdup(name), 0 };
    return &c->hosts[c->n_hosts++];
}

static void host_release(http_client *c, const char *name)
{
    for (size_t i = 0; i < c->n_hosts; i++) {
        if (strcmp(c->hosts[i].name, name))
            continue;
        if (--c->hosts[i].active <= 0) {
            free(c->hosts[i].name);
            c->hosts[i] = c->hosts[--c->n_hosts];
        }
        return;
    }
}

static void result_clear(struct http_result *r)
{
    free(r->error_msg);
    nm_buf_free(&r->body);
    free(r->content_type);
    free(r->etag);
    free(r->last_modified);
    free(r->retry_after);
    free(r->cache_control);
    free(r->final_url);
    free(r->permanent_url);
    memset(r, 0, sizeof *r);
}

static void xfer_free(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free((char *)x->r.url);
    result_clear(&x->r);
    free(x->host);
    free(x->refused);
    free(x);
}

/* ---- curl callbacks for one transfer ----------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    if ((int64_t)(x->r.body.len + len) > x->c->cfg.max_decompressed) {
        x->over_decoded = true;
        return 0;
    }
    nm_buf_add(&x->r.body, data, len);
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct xfer *x = arg;
    if (dlnow > x->c->cfg.max_size) {
        x->over_wire = true;
        return 1;
    }
    return 0;
}

/* Replaces *slot with the header value of line (name already matched). */
static void keep_header(char **slot, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    free(*slot);
    *slot = nm_xstrndup(v, n);
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    if (len > 5 && !strncmp(line, "HTTP/", 5)) {
        /* A new response (a redirect hop or the final one): forget the last one's headers. */
        const char *sp = memchr(line, ' ', len);
        long code = sp ? strtol(sp + 1, NULL, 10) : 0;
        if (code >= 300 && code < 400 && code != 301 && code != 308 && code != 304)
            x->all_permanent = false;
        char **keep[] = { &x->r.content_type, &x->r.etag, &x->r.last_modified, &x->r.retry_after,
                          &x->r.cache_control };
        for (size_t i = 0; i < NM_ARRAY_LEN(keep); i++)
            nm_free(keep[i]);
        return len;
    }
    static const struct { const char *name; size_t off; } names[] = {
        { "content-type:", offsetof(struct http_result, content_type) },
        { "etag:", offsetof(struct http_result, etag) },
        { "last-modified:", offsetof(struct http_result, last_modified) },
        { "retry-after:", offsetof(struct http_result, retry_after) },
        { "cache-control:", offsetof(struct http_result, cache_control) },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(names); i++) {
        size_t nl = strlen(names[i].name);
        if (len > nl && !strncasecmp(line, names[i].name, nl)) {
            keep_header((char **)((char *)&x->r + names[i].off), line + nl, len - nl);
            break;
        }
    }
    return len;
}

/* Returns whether the guard lets x connect to sa; records why not. */
static bool guard_ok(struct xfer *x, const struct sockaddr *sa)
{
    const char *why = NULL;
    if (!x->guard || ssrf_permitted(x->c->cfg.allow_private, sa, &why))
        return true;
    char addr[64];
    free(x->refused);
    x->refused = nm_xasprintf("refused to connect to %s (%s address, not in allow_private)",
                              ssrf_addr_str(sa, addr, sizeof addr), why);
    return false;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = arg;
    if (!guard_ok(x, &a->addr))
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Runs before each request, on a new or a reused connection. */
static int on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
    struct xfer *x = arg;
    if (!x->guard)
        return CURL_PREREQFUNC_OK;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
    } else {
        free(x->refused);
        x->refused = nm_xasprintf("refused: cannot read the connected address '%s'", ip);
        return CURL_PREREQFUNC_ABORT;
    }
    return guard_ok(x, (struct sockaddr *)&ss) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

/* ---- the multi handle on nm_loop ---------------------------------------- */

static void check_done(http_client *c);
static void start_queued(http_client *c);
static int prepare(http_client *c, struct xfer *x, nm_err *err);

static void on_fd(nm_loop *loop, int fd, int events, void *arg)
{
    http_client *c = arg;
    int flags = 0, running;
    if (events & ZMQ_POLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & ZMQ_POLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & ZMQ_POLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    http_client *c = userp;
    if (what == CURL_POLL_REMOVE) {
        nm_loop_remove_fd(c->loop, s);
        return 0;
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= ZMQ_POLLIN;
    if (what & CURL_POLL_OUT)
        ev |= ZMQ_POLLOUT;
    nm_loop_set_fd(c->loop, s, ev, on_fd, c);
    return 0;
}

static void on_timeout(nm_loop *loop, void *arg)
{
    http_client *c = arg;
    int running;
    c->timer = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* Makes nm_loop turn once more at once, so queued transfers start from the
   loop rather than inside http_get (whose caller may be in the middle of a
   callback of ours). */
static void poke(http_client *c)
{
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0) {
        /* The counter is already non-zero: the loop will turn anyway. */
    }
}

static void on_wake(nm_loop *loop, int fd, int events, void *arg)
{
    http_client *c = arg;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) {
        /* Nothing to read: a spurious wake-up. */
    }
    if (c->kick) {
        c->kick = false;
        start_queued(c);
        check_done(c);
    }
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    http_client *c = userp;
    if (c->timer)
        nm_loop_cancel_timer(c->loop, c->timer);
    c->timer = 0;
    if (timeout_ms >= 0) {
        c->timer = nm_loop_add_timer(c->loop, timeout_ms, 0, on_timeout, c);
    }
    return 0;
}

/* Starts queued transfers while slots are free, in queue order. A request
   whose handle cannot be made fails here, reported after the queue is
   consistent again (its callback may queue more requests). */
static void start_queued(http_client *c)
{
    size_t kept = 0, n_bad = 0;
    struct xfer **bad = NULL;
    for (size_t i = 0; i < c->n_queue; i++) {
        struct xfer *x = c->queue[i];
        struct host *h = host_get(c, x->host, false);
        bool can = (long)c->n_active < c->cfg.max_total && (!h || h->active < c->cfg.max_per_host);
        if (!can) {
            c->queue[kept++] = x;
            continue;
        }
        nm_err err;
        if (prepare(c, x, &err) < 0) {
            x->r.failed = true;
            x->r.error_msg = nm_xstrdup(err.msg);
            bad = nm_xrealloc(bad, (n_bad + 1) * sizeof *bad);
            bad[n_bad++] = x;
            continue;
        }
        h = host_get(c, x->host, true);
        h->active++;
        x->started_ms = nm_now_ms();
        c->active = nm_xrealloc(c->active, (c->n_active + 1) * sizeof *c->active);
        c->active[c->n_active++] = x;
        curl_multi_add_handle(c->multi, x->easy);
    }
    c->n_queue = kept;
    for (size_t i = 0; i < n_bad; i++) {
        bad[i]->fn(bad[i]->arg, &bad[i]->r);
        xfer_free(bad[i]);
    }
    free(bad);
}

/* Fills x->r's outcome fields after curl finished with code. */
static void outcome(struct xfer *x, CURLcode code)
{
    http_client *c = x->c;
    struct http_result *r = &x->r;
    char *eff = NULL;
    long status = 0, redirects = 0, hdr = 0;
    curl_off_t body = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(x->easy, CURLINFO_HEADER_SIZE, &hdr);
    curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &body);
    r->status = status;
    r->redirects = redirects;
    r->final_url = nm_xstrdup(eff ? eff : r->url);
    r->wire_bytes = hdr + body;
    r->elapsed_ms = nm_now_ms() - x->started_ms;
    c->bytes += r->wire_bytes;
    if (code == CURLE_OK && status == 0 && !strncasecmp(r->final_url, "file:", 5))
        r->status = 200;
    if (code == CURLE_OK && redirects > 0 && x->all_permanent && r->status >= 200 && r->status < 400)
        r->permanent_url = nm_xstrdup(r->final_url);
    if (code == CURLE_OK)
        return;
    r->failed = true;
    if (x->refused)
        r->error_msg = nm_xstrdup(x->refused);
    else if (x->over_wire || code == CURLE_FILESIZE_EXCEEDED)
        r->error_msg = nm_xasprintf("response larger than max_size (%lld bytes): aborted",
                                    (long long)c->cfg.max_size);
    else if (x->over_decoded)
        r->error_msg = nm_xasprintf("decoded response larger than max_decompressed (%lld bytes): aborted",
                                    (long long)c->cfg.max_decompressed);
    else if (code == CURLE_TOO_MANY_REDIRECTS)
        r->error_msg = nm_xasprintf("too many redirects (more than %ld)", c->cfg.max_redirects);
    else if (code == CURLE_OPERATION_TIMEDOUT)
        r->error_msg = nm_xasprintf("timed out after %lld ms: %s", (long long)r->elapsed_ms,
                                    x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
    else
        r->error_msg = nm_xasprintf("%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
    size_t n = strlen(r->error_msg);
    while (n && r->error_msg[n - 1] == '\n')
        r->error_msg[--n] = '\0';
}

static void finish(http_client *c, struct xfer *x, CURLcode code)
{
    curl_multi_remove_handle(c->multi, x->easy);
    for (size_t i = 0; i < c->n_active; i++) {
        if (c->active[i] == x) {
            c->active[i] = c->active[--c->n_active];
            break;
        }
    }
    host_release(c, x->host);
    outcome(x, code);
    x->fn(x->arg, &x->r);
    xfer_free(x);
}

static void check_done(http_client *c)
{
    if (c->in_check)
        return;
    c->in_check = true;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = m->data.result;
        finish(c, x, code);
        start_queued(c);
    }
    start_queued(c);
    c->in_check = false;
}

/* ---- public ------------------------------------------------------------- */

http_client *http_client_new(nm_loop *loop, const struct http_config *cfg, nm_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        nm_err_set(err, "curl_global_init failed");
        return NULL;
    }
    http_client *c = nm_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cfg = *cfg;
    if (c->cfg.max_total < 1)
        c->cfg.max_total = 1;
    if (c->cfg.max_per_host < 1)
        c->cfg.max_per_host = 1;
    c->user_agent = nm_xstrdup(cfg->user_agent && *cfg->user_agent ? cfg->user_agent : http_default_user_agent());
    c->cfg.user_agent = c->user_agent;
    c->multi = curl_multi_init();
    if (!c->multi) {
        nm_err_set(err, "curl_multi_init failed");
        free(c->user_agent);
        free(c);
        return NULL;
    }
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        nm_err_set(err, "eventfd: %m");
        curl_multi_cleanup(c->multi);
        free(c->user_agent);
        free(c);
        return NULL;
    }
    nm_loop_set_fd(loop, c->wake_fd, ZMQ_POLLIN, on_wake, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c->cfg.max_total);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->cfg.max_per_host);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return c;
}

/* Reports x as cancelled to its owner and frees it. */
static void cancel(struct xfer *x)
{
    x->r.failed = x->r.cancelled = true;
    x->r.error_msg = nm_xstrdup("cancelled: the fetcher is stopping");
    x->fn(x->arg, &x->r);
    xfer_free(x);
}

void http_client_destroy(http_client **cp)
{
    http_client *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_active; i++) {
        curl_multi_remove_handle(c->multi, c->active[i]->easy);
        cancel(c->active[i]);
    }
    for (size_t i = 0; i < c->n_queue; i++)
        cancel(c->queue[i]);
    c->n_active = c->n_queue = 0;
    free(c->active);
    free(c->queue);
    for (size_t i = 0; i < c->n_hosts; i++)
        free(c->hosts[i].name);
    free(c->hosts);
    if (c->timer)
        nm_loop_cancel_timer(c->loop, c->timer);
    nm_loop_remove_fd(c->loop, c->wake_fd);
    close(c->wake_fd);
    curl_multi_cleanup(c->multi);
    free(c->user_agent);
    free(c);
    *cp = NULL;
    curl_global_cleanup();
}

#define SET(opt, val)                                                    \
    do {                                                                 \
        if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK)            \
            goto bad;                                                    \
    } while (0)

static int setup(http_client *c, struct xfer *x, nm_err *err)
{
    CURL *e = x->easy;
    CURLcode rc;
    const struct http_config *cfg = &c->cfg;
    bool file_ok = cfg->allow_file && !x->guard;
    SET(CURLOPT_URL, x->r.url);
    SET(CURLOPT_PROTOCOLS_STR, file_ok ? "http,https,file" : "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, x);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, cfg->max_redirects);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)cfg->total_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, cfg->low_speed_limit);
    SET(CURLOPT_LOW_SPEED_TIME, (long)((cfg->low_speed_time_ms + 999) / 1000));
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_size);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_USERAGENT, cfg->user_agent);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    if (x->headers)
        SET(CURLOPT_HTTPHEADER, x->headers);
    return 0;
bad:
    return nm_err_set(err, "%s: %s", x->r.url, curl_easy_strerror(rc));
}
#undef SET

/* Makes x's easy handle (only when it starts, so queued requests cost
   little memory). Returns 0, or -1 with err. */
static int prepare(http_client *c, struct xfer *x, nm_err *err)
{
    x->easy = curl_easy_init();
    if (!x->easy)
        return nm_err_set(err, "curl_easy_init failed");
    return setup(c, x, err);
}

static void add_header(struct xfer *x, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    char *h = nm_xasprintf("%s: %s", name, value);
    x->headers = curl_slist_append(x->headers, h);
    free(h);
}

int http_get(http_client *c, const struct http_request *req, http_done_fn fn, void *arg, nm_err *err)
{
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, req->url, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc != CURLUE_OK)
        return nm_err_set(err, "'%s' is not a URL curl accepts: %s", req->url, curl_url_strerror(uc));
    struct xfer *x = nm_xcalloc(1, sizeof *x);
    x->c = c;
    x->fn = fn;
    x->arg = arg;
    x->guard = req->guard;
    x->all_permanent = true;
    x->r.url = nm_xstrdup(req->url);
    x->host = nm_url_host(req->url);
    if (!x->host)
        x->host = nm_xstrdup("");
    add_header(x, "Accept", req->accept);
    add_header(x, "If-None-Match", req->etag);
    add_header(x, "If-Modified-Since", req->last_modified);
    c->queue = nm_xrealloc(c->queue, (c->n_queue + 1) * sizeof *c->queue);
    c->queue[c->n_queue++] = x;
    c->kick = true;
    poke(c);
    return 0;
}

size_t http_pending(const http_client *c)
{
    return c->n_queue + c->n_active;
}

int64_t http_bytes_received(const http_client *c)
{
    return c->bytes;
}
