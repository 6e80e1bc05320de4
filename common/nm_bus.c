/*
 * nm_bus: ZeroMQ sockets, strict two-frame messages, and the event loop.
 */
#include "common/nm_bus.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static void *bus_ctx;

void *nm_bus_context(void)
{
    if (!bus_ctx)
        bus_ctx = zmq_ctx_new();
    return bus_ctx;
}

void nm_bus_term(void)
{
    if (bus_ctx)
        zmq_ctx_term(bus_ctx);
    bus_ctx = NULL;
}

/* Creates the folders above an ipc:// endpoint's socket file. */
static void make_ipc_dirs(const char *ep)
{
    if (strncmp(ep, "ipc://", 6))
        return;
    char *path = nm_xstrdup(ep + 6);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0750);
        *p = '/';
    }
    free(path);
}

static int set_opts(void *s, const struct nm_bus_opts *o, int bind, nm_err *err)
{
    int linger = o ? o->linger_ms : 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger))
        return nm_err_set(err, "ZMQ_LINGER: %s", zmq_strerror(errno));
    if (!o)
        return 0;
    if (o->sndhwm > 0 && zmq_setsockopt(s, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm))
        return nm_err_set(err, "ZMQ_SNDHWM: %s", zmq_strerror(errno));
    if (o->rcvhwm > 0 && zmq_setsockopt(s, ZMQ_RCVHWM, &o->rcvhwm, sizeof o->rcvhwm))
        return nm_err_set(err, "ZMQ_RCVHWM: %s", zmq_strerror(errno));
    if (o->maxmsgsize && zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &o->maxmsgsize, sizeof o->maxmsgsize))
        return nm_err_set(err, "ZMQ_MAXMSGSIZE: %s", zmq_strerror(errno));
    if (o->subscribe && zmq_setsockopt(s, ZMQ_SUBSCRIBE, o->subscribe, strlen(o->subscribe)))
        return nm_err_set(err, "ZMQ_SUBSCRIBE: %s", zmq_strerror(errno));
    if (bind && o->curve_server_secret && *o->curve_server_secret) {
        int one = 1;
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, o->curve_server_secret, 41))
            return nm_err_set(err, "CURVE server keys: %s", zmq_strerror(errno));
    }
    if (!bind && o->curve_server_public && *o->curve_server_public) {
        if (!o->curve_public || !o->curve_secret)
            return nm_err_set(err, "CURVE client needs its own public and secret keys");
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, o->curve_server_public, 41) ||
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, o->curve_public, 41) ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, o->curve_secret, 41))
            return nm_err_set(err, "CURVE client keys: %s", zmq_strerror(errno));
    }
    return 0;
}

void *nm_bus_socket(int type, const char *endpoints, int bind, const struct nm_bus_opts *o, nm_err *err)
{
    void *s = zmq_socket(nm_bus_context(), type);
    if (!s) {
        nm_err_set(err, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (set_opts(s, o, bind, err) < 0)
        goto fail;
    char *list = nm_xstrdup(endpoints ? endpoints : "");
    char *save = NULL;
    int n = 0;
    for (char *ep = strtok_r(list, " ,\t", &save); ep; ep = strtok_r(NULL, " ,\t", &save)) {
        int r;
        if (bind) {
            make_ipc_dirs(ep);
            r = zmq_bind(s, ep);
        } else {
            r = zmq_connect(s, ep);
        }
        if (r) {
            nm_err_set(err, "%s %s: %s", bind ? "bind" : "connect", ep, zmq_strerror(errno));
            free(list);
            goto fail;
        }
        n++;
    }
    free(list);
    if (!n) {
        nm_err_set(err, "no endpoint given");
        goto fail;
    }
    return s;
fail:
    zmq_close(s);
    return NULL;
}

void nm_bus_close(void **sock)
{
    if (*sock)
        zmq_close(*sock);
    *sock = NULL;
}

int nm_bus_send(void *sock, nm_msg_type type, const json_t *body, int dontwait, nm_err *err)
{
    const char *name = nm_msg_type_name(type);
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return nm_err_set(err, "cannot encode %s message", name);
    /* A receiver drops the connection of a peer that sends more than its
       ZMQ_MAXMSGSIZE, and a connecting receiver (a classifier reading the
       fetcher, a notifier reading the store) does not reconnect after that
       protocol error: one oversized message would cut the pipeline for good.
       Every socket carries [bus] max_message, so refuse here instead. */
    int64_t max = -1;
    size_t max_len = sizeof max, len = strlen(text);
    if (zmq_getsockopt(sock, ZMQ_MAXMSGSIZE, &max, &max_len) == 0 && max >= 0 && (int64_t)len > max) {
        free(text);
        return nm_err_set(err, "%s message of %zu bytes is larger than [bus] max_message (%lld bytes): not sent", name,
                          len, (long long)max);
    }
    int flags = dontwait ? ZMQ_DONTWAIT : 0;
    int r = zmq_send(sock, name, strlen(name), flags | ZMQ_SNDMORE);
    if (r >= 0)
        r = zmq_send(sock, text, len, flags);
    free(text);
    if (r < 0) {
        if (errno == EAGAIN)
            return 1;
        return nm_err_set(err, "send %s: %s", name, zmq_strerror(errno));
    }
    return 0;
}

/* Reads and discards the remaining frames of a multipart message. */
static void drain_frames(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
    }
}

int nm_bus_recv(void *sock, nm_msg_type *type, json_t **body, nm_err *err)
{
    zmq_msg_t f1, f2;
    zmq_msg_init(&f1);
    if (zmq_msg_recv(&f1, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f1);
        if (errno == EAGAIN || errno == EINTR)
            return 1;
        return nm_err_set(err, "receive: %s", zmq_strerror(errno));
    }
    int t = nm_msg_type_from_name(zmq_msg_data(&f1), zmq_msg_size(&f1));
    size_t name_len = zmq_msg_size(&f1) < 40 ? zmq_msg_size(&f1) : 40;
    char name[48];
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = ((unsigned char *)zmq_msg_data(&f1))[i];
        name[i] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    name[name_len] = '\0';
    int has_more = zmq_msg_more(&f1);
    zmq_msg_close(&f1);
    if (t < 0) {
        drain_frames(sock);
        return nm_err_set(err, "unknown message type \"%s\"", name);
    }
    if (!has_more)
        return nm_err_set(err, "%s message has no body frame", name);
    zmq_msg_init(&f2);
    if (zmq_msg_recv(&f2, sock, 0) < 0) {
        zmq_msg_close(&f2);
        return nm_err_set(err, "%s message: body frame lost: %s", name, zmq_strerror(errno));
    }
    int extra = zmq_msg_more(&f2);
    json_error_t jerr;
    json_t *j = json_loadb(zmq_msg_data(&f2), zmq_msg_size(&f2), JSON_REJECT_DUPLICATES, &jerr);
    zmq_msg_close(&f2);
    if (extra) {
        drain_frames(sock);
        json_decref(j);
        return nm_err_set(err, "%s message has more than two frames", name);
    }
    if (!j)
        return nm_err_set(err, "%s message: invalid JSON at byte %d: %s", name, jerr.position, jerr.text);
    if (nm_msg_check_version(j, err) < 0) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        json_decref(j);
        return nm_err_set(err, "%s message: %s", name, inner);
    }
    *type = (nm_msg_type)t;
    *body = j;
    return 0;
}

/* ---- loop ---------------------------------------------------------------- */

struct watch {
    void *sock;            /* a ZeroMQ socket, or NULL for an fd */
    int fd;
    int events;
    nm_loop_sock_fn sock_fn;
    nm_loop_fd_fn fd_fn;
    void *arg;
};

struct timer {
    int id;                /* 0 = free slot */
    int64_t due;           /* monotonic ms */
    int64_t interval;      /* 0 = once */
    nm_loop_timer_fn fn;
    void *arg;
};

struct nm_loop {
    struct watch *watches;  /* watches[0] is the signalfd */
    size_t n_watches;
    struct timer *timers;
    size_t n_timers;
    int next_timer_id;
    int sigfd;
    int stop_signal;
    int stopping;
    nm_loop_signal_fn sig_fn;
    void *sig_arg;
};

nm_loop *nm_loop_new(nm_err *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        nm_err_set(err, "sigprocmask: %s", strerror(errno));
        return NULL;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        nm_err_set(err, "signalfd: %s", strerror(errno));
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    nm_loop *l = nm_xcalloc(1, sizeof *l);
    l->sigfd = fd;
    l->watches = nm_xcalloc(1, sizeof *l->watches);
    l->watches[0] = (struct watch){ NULL, fd, ZMQ_POLLIN, NULL, NULL, NULL };
    l->n_watches = 1;
    return l;
}

void nm_loop_destroy(nm_loop **lp)
{
    nm_loop *l = *lp;
    if (!l)
        return;
    close(l->sigfd);
    free(l->watches);
    free(l->timers);
    free(l);
    *lp = NULL;
}

static struct watch *add_watch(nm_loop *l)
{
    l->watches = nm_xrealloc(l->watches, (l->n_watches + 1) * sizeof *l->watches);
    struct watch *w = &l->watches[l->n_watches++];
    memset(w, 0, sizeof *w);
    return w;
}

void nm_loop_add_socket(nm_loop *l, void *sock, nm_loop_sock_fn fn, void *arg)
{
    struct watch *w = add_watch(l);
    w->sock = sock;
    w->events = ZMQ_POLLIN;
    w->sock_fn = fn;
    w->arg = arg;
}

void nm_loop_set_fd(nm_loop *l, int fd, int events, nm_loop_fd_fn fn, void *arg)
{
    for (size_t i = 1; i < l->n_watches; i++) {
        struct watch *w = &l->watches[i];
        if (!w->sock && w->fd == fd) {
            w->events = events;
            w->fd_fn = fn;
            w->arg = arg;
            return;
        }
    }
    struct watch *w = add_watch(l);
    w->fd = fd;
    w->events = events;
    w->fd_fn = fn;
    w->arg = arg;
}

void nm_loop_remove_fd(nm_loop *l, int fd)
{
    for (size_t i = 1; i < l->n_watches; i++) {
        if (!l->watches[i].sock && l->watches[i].fd == fd) {
            l->watches[i] = l->watches[--l->n_watches];
            return;
        }
    }
}

int nm_loop_add_timer(nm_loop *l, int64_t delay_ms, int64_t interval_ms, nm_loop_timer_fn fn, void *arg)
{
    struct timer *t = NULL;
    for (size_t i = 0; i < l->n_timers; i++)
        if (!l->timers[i].id)
            t = &l->timers[i];
    if (!t) {
        l->timers = nm_xrealloc(l->timers, (l->n_timers + 1) * sizeof *l->timers);
        t = &l->timers[l->n_timers++];
    }
    *t = (struct timer){ ++l->next_timer_id, nm_now_ms() + delay_ms, interval_ms, fn, arg };
    return t->id;
}

void nm_loop_timer_reset(nm_loop *l, int id, int64_t delay_ms)
{
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].id == id)
            l->timers[i].due = nm_now_ms() + delay_ms;
}

void nm_loop_cancel_timer(nm_loop *l, int id)
{
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].id == id)
            l->timers[i].id = 0;
}

void nm_loop_on_signal(nm_loop *l, nm_loop_signal_fn fn, void *arg)
{
    l->sig_fn = fn;
    l->sig_arg = arg;
}

void nm_loop_stop(nm_loop *l)
{
    l->stopping = 1;
}

int nm_loop_stopping(const nm_loop *l)
{
    return l->stopping;
}

static void read_signals(nm_loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            l->stopping = 1;
            l->stop_signal = (int)si.ssi_signo;
        } else if (l->sig_fn) {
            l->sig_fn(l, (int)si.ssi_signo, l->sig_arg);
        }
    }
}

/* Runs due timers; returns ms until the next one (-1 = none). The next
   wake-up is computed after every due timer ran, because a callback may add
   timers (into a slot already passed) or reset others. */
static int64_t run_timers(nm_loop *l)
{
    int64_t now = nm_now_ms();
    for (size_t i = 0; i < l->n_timers && !l->stopping; i++) {
        struct timer *t = &l->timers[i];
        if (!t->id || t->due > now)
            continue;
        nm_loop_timer_fn fn = t->fn;
        void *arg = t->arg;
        if (t->interval > 0)
            t->due = now + t->interval;
        else
            t->id = 0;
        fn(l, arg);           /* may add timers: l->timers may move */
    }
    now = nm_now_ms();
    int64_t next = -1;
    for (size_t i = 0; i < l->n_timers; i++) {
        const struct timer *t = &l->timers[i];
        if (!t->id)
            continue;
        int64_t wait = t->due - now < 0 ? 0 : t->due - now;
        if (next < 0 || wait < next)
            next = wait;
    }
    return next;
}

int nm_loop_run(nm_loop *l)
{
    zmq_pollitem_t *items = NULL;
    struct watch *snap = NULL;
    while (!l->stopping) {
        int64_t wait = run_timers(l);
        if (l->stopping)
            break;
        size_t n = l->n_watches;
        items = nm_xrealloc(items, n * sizeof *items);
        snap = nm_xrealloc(snap, n * sizeof *snap);
        memcpy(snap, l->watches, n * sizeof *snap);
        for (size_t i = 0; i < n; i++)
            items[i] = (zmq_pollitem_t){ snap[i].sock, snap[i].sock ? 0 : snap[i].fd, (short)snap[i].events, 0 };
        long timeout = wait < 0 ? 1000 : (wait > INT_MAX ? INT_MAX : (long)wait);
        int r = zmq_poll(items, (int)n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;   /* ETERM: the context is going away */
        }
        for (size_t i = 0; i < n && !l->stopping; i++) {
            if (!items[i].revents)
                continue;
            if (i == 0)
                read_signals(l);
            else if (snap[i].sock)
                snap[i].sock_fn(l, snap[i].sock, snap[i].arg);
            else
                snap[i].fd_fn(l, snap[i].fd, items[i].revents, snap[i].arg);
        }
    }
    free(items);
    free(snap);
    return l->stop_signal;
}
