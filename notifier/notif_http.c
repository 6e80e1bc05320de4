/*
 * notif_http: libcurl's multi socket interface driven by nm_loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION ->
 * nm_loop_set_fd / nm_loop_remove_fd) and when it next needs a timeout
 * (CURLMOPT_TIMERFUNCTION -> one loop timer); the loop hands readiness
 * back through curl_multi_socket_action, and every finished transfer is
 * reported to its request's done callback with the outcome classified:
 * success, worth retrying (network trouble, timeouts, HTTP 5xx/408/429,
 * SMTP 4xx), or permanent (any other HTTP 4xx, SMTP 5xx refusals), with
 * the wait the server asked for before a retry (Retry-After).
 */
#include "notifier/notif.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RESPONSE_LIMIT (1024 * 1024)

struct notif_http {
    nm_loop *loop;
    CURLM *multi;
    int timer;          /* loop timer id for curl's timeout, 0 = none */
    notif_req **reqs;   /* transfers added and not yet finished */
    size_t running;
};

static void check_done(notif_http *h);
static void req_free(notif_req *r);

static void on_fd(nm_loop *loop, int fd, int events, void *arg)
{
    notif_http *h = arg;
    int mask = 0, still;
    if (events & ZMQ_POLLIN)
        mask |= CURL_CSELECT_IN;
    if (events & ZMQ_POLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events & ZMQ_POLLERR)
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(h->multi, fd, mask, &still);
    check_done(h);
}

static void on_timer(nm_loop *loop, void *arg)
{
    notif_http *h = arg;
    int still;
    h->timer = 0;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    check_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    notif_http *h = userp;
    if (what == CURL_POLL_REMOVE) {
        nm_loop_remove_fd(h->loop, s);
        return 0;
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= ZMQ_POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= ZMQ_POLLOUT;
    nm_loop_set_fd(h->loop, s, ev, on_fd, h);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    notif_http *h = userp;
    if (h->timer)
        nm_loop_cancel_timer(h->loop, h->timer);
    h->timer = 0;
    if (timeout_ms >= 0)
        h->timer = nm_loop_add_timer(h->loop, timeout_ms, 0, on_timer, h);
    return 0;
}

notif_http *notif_http_new(nm_loop *loop, nm_err *err)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            nm_err_set(err, "curl_global_init failed");
            return NULL;
        }
        global_done = 1;
    }
    notif_http *h = nm_xcalloc(1, sizeof *h);
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        nm_err_set(err, "curl_multi_init failed");
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

static void req_free(notif_req *r)
{
    if (!r)
        return;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->rcpt);
    free(r->upload);
    free(r->post);
    nm_buf_free(&r->response);
    free(r);
}

void notif_http_destroy(notif_http **hp)
{
    notif_http *h = *hp;
    if (!h)
        return;
    /* Transfers still running are abandoned: their alerts were not
       acknowledged, so the store sends them again. */
    for (size_t i = 0; i < h->running; i++) {
        curl_multi_remove_handle(h->multi, h->reqs[i]->easy);
        req_free(h->reqs[i]);
    }
    free(h->reqs);
    curl_multi_cleanup(h->multi);
    if (h->timer)
        nm_loop_cancel_timer(h->loop, h->timer);
    free(h);
    *hp = NULL;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    notif_req *r = arg;
    size_t len = size * n;
    if (r->response.len + len <= RESPONSE_LIMIT)
        nm_buf_add(&r->response, p, len);
    return len;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
    notif_req *r = arg;
    size_t room = size * n, left = r->upload_len - r->upload_off;
    size_t k = left < room ? left : room;
    memcpy(buf, r->upload + r->upload_off, k);
    r->upload_off += k;
    return k;
}

notif_req *notif_req_new(int64_t timeout_ms, notif_done_fn done, void *arg)
{
    notif_req *r = nm_xcalloc(1, sizeof *r);
    nm_buf_init(&r->response);
    r->done = done;
    r->arg = arg;
    r->easy = curl_easy_init();
    if (!r->easy)
        return r;   /* notif_http_start reports it */
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(r->easy, CURLOPT_READDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "newsmon-notifier/" NEWSMON_VERSION);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
    curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
    return r;
}

/* Classifies a finished transfer; fills msg. */
static enum notif_result classify(notif_req *r, CURLcode rc, char *msg, size_t cap)
{
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        snprintf(msg, cap, "%s%s%s", curl_easy_strerror(rc), r->errbuf[0] ? ": " : "", r->errbuf);
        switch (rc) {
        case CURLE_LOGIN_DENIED:
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return NOTIF_PERMANENT;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_PARTIAL_FILE:
            return NOTIF_RETRY;
        default:
            /* SMTP refusals: a 5xx reply is permanent, 4xx is worth another try. */
            if (r->smtp && code >= 500 && code < 600)
                return NOTIF_PERMANENT;
            return NOTIF_RETRY;
        }
    }
    if (r->smtp || (code >= 200 && code < 300)) {
        msg[0] = '\0';
        return NOTIF_OK;
    }
    char *body = nm_xstrndup(r->response.data ? r->response.data : "", r->response.len > 200 ? 200 : r->response.len);
    for (char *p = body; *p; p++)
        if ((unsigned char)*p < ' ')
            *p = ' ';
    snprintf(msg, cap, "HTTP %ld%s%s", code, *body ? ": " : "", body);
    free(body);
    if (code >= 500 || code == 408 || code == 429 || code < 200)
        return NOTIF_RETRY;
    return NOTIF_PERMANENT;
}

/* Returns how long the server asked us to wait before trying again, in
   ms: HTTP's Retry-After (seconds or a date; libcurl reads both) on a 429
   or 503, else Telegram's {"parameters": {"retry_after": N}} on a 429;
   0 when it said nothing usable. Capped at NOTIF_MAX_SERVER_WAIT_MS. */
static int64_t server_wait_ms(notif_req *r)
{
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (r->smtp || (code != 429 && code != 503))
        return 0;
    curl_off_t after = 0;
    int64_t ms = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        ms = (int64_t)after * 1000;
    if (!ms && code == 429 && r->response.len) {
        json_t *j = json_loadb(r->response.data, r->response.len, 0, NULL);
        json_t *n = json_object_get(json_object_get(j, "parameters"), "retry_after");
        if (json_is_integer(n) && json_integer_value(n) > 0)
            ms = (int64_t)json_integer_value(n) * 1000;
        json_decref(j);
    }
    if (ms < 0 || ms > NOTIF_MAX_SERVER_WAIT_MS)
        ms = NOTIF_MAX_SERVER_WAIT_MS;
    return ms;
}

static void check_done(notif_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        notif_req *r = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(h->multi, easy);
        for (size_t i = 0; i < h->running; i++)
            if (h->reqs[i] == r) {
                h->reqs[i] = h->reqs[--h->running];
                break;
            }
        char msg[512];
        enum notif_result res = classify(r, rc, msg, sizeof msg);
        int64_t wait_ms = res == NOTIF_RETRY ? server_wait_ms(r) : 0;
        notif_done_fn done = r->done;
        void *arg = r->arg;
        req_free(r);
        done(arg, res, msg[0] ? msg : NULL, wait_ms);
    }
}

void notif_http_start(notif_http *h, notif_req **rp)
{
    notif_req *r = *rp;
    *rp = NULL;
    if (!r->easy) {
        notif_done_fn done = r->done;
        void *arg = r->arg;
        req_free(r);
        done(arg, NOTIF_RETRY, "curl_easy_init failed", 0);
        return;
    }
    CURLMcode mc = curl_multi_add_handle(h->multi, r->easy);
    if (mc != CURLM_OK) {
        notif_done_fn done = r->done;
        void *arg = r->arg;
        req_free(r);
        done(arg, NOTIF_RETRY, curl_multi_strerror(mc), 0);
        return;
    }
    h->reqs = nm_xrealloc(h->reqs, (h->running + 1) * sizeof *h->reqs);
    h->reqs[h->running++] = r;
    /* Start at once rather than from the 0 ms timer curl just asked for:
       this is often called from a timer callback, and nm_loop may not
       count a timer added there when it computes its next wake-up. */
    int still;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    check_done(h);
}

size_t notif_http_running(const notif_http *h)
{
    return h->running;
}
