/*
 * nm_control: the REP control socket of a daemon and the REQ client.
 */
#include "common/nm_control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct nm_control {
    void *sock;
    char *name;
    char *endpoint;
    int64_t started;           /* epoch seconds */
    nm_control_status_fn status;
    nm_control_reload_fn reload;
    void *arg;
};

char *nm_control_endpoint(const char *dir, const char *name)
{
    return nm_xasprintf("ipc://%s/%s.ctl", dir, name);
}

void nm_control_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *status_reply(nm_control *c)
{
    char started[32];
    nm_control_time(c->started, started, sizeof started);
    json_t *j = json_object();
    json_object_set_new(j, "daemon", json_string(c->name));
    json_object_set_new(j, "pid", json_integer(getpid()));
    json_object_set_new(j, "version", json_string(NEWSMON_VERSION));
    json_object_set_new(j, "started", json_string(started));
    json_object_set_new(j, "uptime_s", json_integer((json_int_t)(time(NULL) - c->started)));
    if (c->status)
        c->status(j, c->arg);
    return j;
}

static json_t *handle(nm_control *c, const char *cmd, size_t n)
{
    if (n == 6 && !memcmp(cmd, "status", 6))
        return status_reply(c);
    if (n == 6 && !memcmp(cmd, "reload", 6)) {
        if (!c->reload)
            return json_pack("{s:b, s:s}", "ok", 0, "message", "nothing to reload in this daemon");
        char *msg = NULL;
        int r = c->reload(c->arg, &msg);
        json_t *j = json_pack("{s:b, s:s}", "ok", r == 0, "message", msg ? msg : "");
        free(msg);
        return j;
    }
    return json_pack("{s:s}", "error", "unknown command (expected status or reload)");
}

static void on_request(nm_loop *loop, void *sock, void *arg)
{
    nm_control *c = arg;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        json_t *reply;
        if (zmq_msg_more(&m)) {
            /* the rest of a multi-frame request is read and ignored; REP must still answer */
            int more = 1;
            while (more) {
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, sock, 0);
                more = zmq_msg_more(&x);
                zmq_msg_close(&x);
            }
            reply = json_pack("{s:s}", "error", "a request is one frame");
        } else {
            reply = handle(c, zmq_msg_data(&m), zmq_msg_size(&m));
        }
        zmq_msg_close(&m);
        char *text = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        zmq_send(sock, text, strlen(text), ZMQ_DONTWAIT);
        free(text);
    }
}

nm_control *nm_control_open(nm_loop *loop, const char *dir, const char *name, nm_control_status_fn status,
                            nm_control_reload_fn reload, void *arg, nm_err *err)
{
    nm_control *c = nm_xcalloc(1, sizeof *c);
    c->name = nm_xstrdup(name);
    c->endpoint = nm_control_endpoint(dir, name);
    c->started = time(NULL);
    c->status = status;
    c->reload = reload;
    c->arg = arg;
    /* A socket file left by a daemon that died would make bind fail. */
    unlink(c->endpoint + 6);
    struct nm_bus_opts o = { 0 };
    c->sock = nm_bus_socket(ZMQ_REP, c->endpoint, 1, &o, err);
    if (!c->sock) {
        nm_control_close(&c);
        return NULL;
    }
    nm_loop_add_socket(loop, c->sock, on_request, c);
    return c;
}

void nm_control_close(nm_control **cp)
{
    nm_control *c = *cp;
    if (!c)
        return;
    nm_bus_close(&c->sock);
    free(c->name);
    free(c->endpoint);
    free(c);
    *cp = NULL;
}

int nm_control_request(const char *dir, const char *name, const char *command, int timeout_ms,
                       json_t **reply, nm_err *err)
{
    char *ep = nm_control_endpoint(dir, name);
    if (access(ep + 6, F_OK) != 0) {
        nm_err_set(err, "not running (no control socket %s)", ep + 6);
        free(ep);
        return -1;
    }
    struct nm_bus_opts o = { 0 };
    void *s = nm_bus_socket(ZMQ_REQ, ep, 0, &o, err);
    free(ep);
    if (!s)
        return -1;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    int r = -1;
    if (zmq_send(s, command, strlen(command), 0) < 0) {
        nm_err_set(err, "cannot send: %s", zmq_strerror(errno));
        goto out;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
        nm_err_set(err, errno == EAGAIN ? "no answer within %d ms (not running, or stuck)" : "receive failed (%d)",
                   timeout_ms);
        zmq_msg_close(&m);
        goto out;
    }
    json_error_t je;
    *reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &je);
    zmq_msg_close(&m);
    if (!*reply || !json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        nm_err_set(err, "malformed reply");
        goto out;
    }
    r = 0;
out:
    nm_bus_close(&s);
    return r;
}
