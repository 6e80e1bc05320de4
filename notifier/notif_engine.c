/*
 * notif_engine: from an alert to acknowledged deliveries.
 *
 * For each alert: the routes that select it give a set of channels (a
 * channel named by several routes takes the first route's flood control).
 * For each channel, the state database is asked first: a channel that
 * already has the alert is only acknowledged again, with the recorded
 * outcome. A re-send of an alert still under way is ignored (the set of
 * (alert, channel) pairs in flight). Otherwise the route's flood control
 * decides: send now, or fold into the route's digest for that channel
 * (digest routes always; follow-ups when the route says so; and any alert
 * past the route's rate limit, until the window has room).
 *
 * A delivery is one message on one channel (one alert, or a digest) and
 * its attempts: a failed attempt is retried after an exponential back-off
 * until the channel's retries are spent; then, or on a permanent refusal,
 * every alert in it is recorded and acknowledged as failed. Success is
 * recorded, then acknowledged. Nothing is acknowledged before it is
 * recorded, so a restart re-sends only what the store never heard about.
 *
 * At most `parallel` attempts run at once on a channel; a delivery that
 * finds every slot taken waits in the channel's queue (first come, first
 * served) and starts when an attempt ends. Without that bound a burst of
 * alerts (a poll cycle over a thousand feeds) became thousands of
 * simultaneous SMTP sessions and HTTP requests, each holding a libcurl
 * handle, its buffers and a socket: memory and CPU grew with the burst
 * rather than with the channels. A delivery waiting for its retry holds
 * no slot. The alerts waiting meanwhile are kept small (notif_item.c):
 * the DECODED_ITEMS most recently used decoded, the others as their JSON
 * text; an alert none of whose deliveries could start at once is reduced
 * as it arrives, as it will be the last one used.
 *
 * Outcomes are written in groups: the outcomes that arrive within
 * COMMIT_EVERY_MS of the last commit wait for one transaction (one fsync)
 * and are acknowledged after it; an outcome after a quiet spell is
 * committed at the end of the loop turn that produced it. A burst of
 * deliveries costs a few commits a second rather than one each, and an
 * acknowledgement still never leaves before its record is durable. Until
 * then the pair stays in flight, so a re-send of it is ignored.
 */
#include "notifier/notif.h"
#include "common/nm_log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMIT_EVERY_MS 50   /* at most about 20 commits (fsyncs) a second under load */
#define COMMIT_BATCH 512     /* outcomes waiting at most: a bigger group is committed at once */
#define DECODED_ITEMS 256    /* alerts kept decoded (notif_item.c): about 25 kB each for the desk's alerts */

struct delivery {
    notif_engine *e;
    char *channel;
    char *route;
    notif_item **items;
    size_t n;
    int digest;
    int attempt;          /* attempts made */
    int timer;            /* retry timer id, 0 = none */
    struct delivery *prev, *next;
    struct delivery *wait_next;   /* in its channel's queue, waiting for a slot */
};

/* A channel's attempts under way and the deliveries waiting for a slot;
   kept across reloads (by name), as the attempts outlive a configuration. */
struct chan_state {
    char *name;
    size_t running;               /* attempts started and not yet done */
    struct delivery *wait_head, *wait_tail;
    size_t waiting;
    int pumping;                  /* pump() is on the stack: it will see freed slots */
    struct chan_state *next;
};

/* Alerts waiting to go out together on one channel for one route. */
struct digest_buf {
    notif_engine *e;
    char *route;
    char *channel;
    notif_item **items;
    size_t n;
    int timer;
    struct digest_buf *next;
};

/* Per-route rate limiter, kept across reloads while its settings hold. */
struct route_state {
    char *name;
    notif_rate rate;
    struct route_state *next;
};

struct notif_engine {
    nm_loop *loop;
    notif_sender *s;
    notif_db *db;
    notif_conf *conf;
    notif_ack_fn ack;
    void *ack_arg;
    json_t *inflight;               /* "alert_id\tchannel" -> true, under way or in a digest */
    notif_items *items;             /* the alerts held, decoded or reduced to text */
    struct delivery *deliveries;    /* under way (sending or waiting to retry) */
    struct digest_buf *digests;
    struct route_state *routes;
    struct chan_state *chans;
    size_t waiting;                 /* deliveries waiting for a slot, all channels */
    nm_delivered *outcomes;         /* finished, to be recorded, then acknowledged */
    size_t n_outcomes, cap_outcomes;
    int commit_timer;               /* armed while outcomes wait, 0 = none */
    uint64_t attempts;              /* attempts started, ever */
    uint64_t jitter;                /* notif_jitter's generator state */
    int64_t last_commit;            /* nm_now_ms() of the last commit */
};

static char *inflight_key(int64_t id, const char *channel)
{
    return nm_xasprintf("%lld\t%s", (long long)id, channel);
}

notif_engine *notif_engine_new(nm_loop *loop, notif_sender *s, notif_db *db, notif_conf **conf, notif_ack_fn ack,
                               void *ack_arg)
{
    notif_engine *e = nm_xcalloc(1, sizeof *e);
    e->loop = loop;
    e->s = s;
    e->db = db;
    e->conf = *conf;
    *conf = NULL;
    e->ack = ack;
    e->ack_arg = ack_arg;
    e->inflight = json_object();
    e->items = notif_items_new(DECODED_ITEMS);
    e->jitter = (uint64_t)nm_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)e;
    return e;
}

static void commit_outcomes(notif_engine *e);

static void delivery_free(struct delivery *d)
{
    for (size_t i = 0; i < d->n; i++)
        notif_item_unref(d->e->items, d->items[i]);
    free(d->items);
    free(d->channel);
    free(d->route);
    free(d);
}

void notif_engine_destroy(notif_engine **ep)
{
    notif_engine *e = *ep;
    if (!e)
        return;
    commit_outcomes(e);   /* delivered: record and acknowledge them before going */
    /* What is still under way was not acknowledged: the store re-sends it. */
    while (e->deliveries) {
        struct delivery *d = e->deliveries;
        e->deliveries = d->next;
        if (d->timer)
            nm_loop_cancel_timer(e->loop, d->timer);
        delivery_free(d);
    }
    while (e->digests) {
        struct digest_buf *b = e->digests;
        e->digests = b->next;
        nm_loop_cancel_timer(e->loop, b->timer);
        for (size_t i = 0; i < b->n; i++)
            notif_item_unref(e->items, b->items[i]);
        free(b->items);
        free(b->route);
        free(b->channel);
        free(b);
    }
    while (e->routes) {
        struct route_state *r = e->routes;
        e->routes = r->next;
        notif_rate_clear(&r->rate);
        free(r->name);
        free(r);
    }
    while (e->chans) {
        struct chan_state *c = e->chans;
        e->chans = c->next;
        free(c->name);
        free(c);
    }
    json_decref(e->inflight);
    notif_items_destroy(&e->items);
    free(e->outcomes);
    notif_conf_destroy(&e->conf);
    free(e);
    *ep = NULL;
}

void notif_engine_set_conf(notif_engine *e, notif_conf **conf)
{
    notif_conf_destroy(&e->conf);
    e->conf = *conf;
    *conf = NULL;
}

size_t notif_engine_pending(const notif_engine *e)
{
    return json_object_size(e->inflight);
}

size_t notif_engine_waiting(const notif_engine *e)
{
    return e->waiting;
}

static void send_ack(notif_engine *e, int64_t id, const char *channel, const char *status, const char *error)
{
    nm_delivered d = { id, (char *)channel, (char *)status, (char *)error };
    e->ack(e->ack_arg, &d);
}

/* ---- outcomes: recorded in groups, then acknowledged ------------------------------ */

/* Records every waiting outcome in one transaction, then acknowledges
   each and takes its pair out of flight. */
static void commit_outcomes(notif_engine *e)
{
    if (e->commit_timer) {
        nm_loop_cancel_timer(e->loop, e->commit_timer);
        e->commit_timer = 0;
    }
    if (!e->n_outcomes)
        return;
    nm_err err;
    int began = notif_db_begin(e->db, &err) == 0, ok = began;
    for (size_t i = 0; ok && i < e->n_outcomes; i++) {
        const nm_delivered *o = &e->outcomes[i];
        ok = notif_db_record(e->db, o->alert_id, o->channel, o->status, o->error, &err) == 0;
    }
    /* After a failed record, what was written before it is still committed. */
    if (began && notif_db_commit(e->db, ok ? &err : NULL) < 0)
        ok = 0;
    if (!ok)
        log_err("%zu outcome%s not recorded: %s (acknowledged anyway; a re-send may repeat them)", e->n_outcomes,
                e->n_outcomes == 1 ? "" : "s", err.msg);
    e->last_commit = nm_now_ms();
    for (size_t i = 0; i < e->n_outcomes; i++) {
        nm_delivered *o = &e->outcomes[i];
        e->ack(e->ack_arg, o);
        char *key = inflight_key(o->alert_id, o->channel);
        json_object_del(e->inflight, key);
        free(key);
        nm_delivered_clear(o);
    }
    e->n_outcomes = 0;
}

static void commit_timer(nm_loop *loop, void *arg)
{
    notif_engine *e = arg;
    e->commit_timer = 0;
    commit_outcomes(e);
}

/* Queues the outcome of (id, channel), which is in flight, for the next commit. */
static void add_outcome(notif_engine *e, int64_t id, const char *channel, const char *status, const char *error)
{
    if (e->n_outcomes == e->cap_outcomes) {
        e->cap_outcomes = e->cap_outcomes ? e->cap_outcomes * 2 : 16;
        e->outcomes = nm_xrealloc(e->outcomes, e->cap_outcomes * sizeof *e->outcomes);
    }
    e->outcomes[e->n_outcomes++] = (nm_delivered){ id, nm_xstrdup(channel), nm_xstrdup(status),
                                                   error ? nm_xstrdup(error) : NULL };
    if (e->n_outcomes >= COMMIT_BATCH) {
        commit_outcomes(e);
        return;
    }
    if (!e->commit_timer) {
        int64_t wait = e->last_commit + COMMIT_EVERY_MS - nm_now_ms();
        e->commit_timer = nm_loop_add_timer(e->loop, wait > 0 ? wait : 0, 0, commit_timer, e);
    }
}

static notif_rate *route_rate(notif_engine *e, const notif_route *r)
{
    struct route_state *st = e->routes;
    while (st && strcmp(st->name, r->name))
        st = st->next;
    if (!st) {
        st = nm_xcalloc(1, sizeof *st);
        st->name = nm_xstrdup(r->name);
        notif_rate_init(&st->rate, r->rate_limit, r->rate_window);
        st->next = e->routes;
        e->routes = st;
    } else if (st->rate.limit != r->rate_limit || st->rate.window != r->rate_window) {
        notif_rate_clear(&st->rate);
        notif_rate_init(&st->rate, r->rate_limit, r->rate_window);
    }
    return &st->rate;
}

/* ---- channel slots ----------------------------------------------------------------- */

static struct chan_state *chan_state(notif_engine *e, const char *name)
{
    struct chan_state *c = e->chans;
    while (c && strcmp(c->name, name))
        c = c->next;
    if (!c) {
        c = nm_xcalloc(1, sizeof *c);
        c->name = nm_xstrdup(name);
        c->next = e->chans;
        e->chans = c;
    }
    return c;
}

/* Returns how many attempts may run at once on channel (a channel gone
   from the configuration: no bound, its deliveries only fail). */
static size_t chan_limit(const notif_engine *e, const char *channel)
{
    const notif_channel *ch = notif_conf_channel(e->conf, channel);
    return ch ? (size_t)ch->parallel : SIZE_MAX;
}

/* ---- deliveries ----------------------------------------------------------------- */

static void attempt(struct delivery *d);
static void send_now(struct delivery *d);
static void pump(notif_engine *e, struct chan_state *c);

/* Queues the outcome of every alert of d (recorded, then acknowledged),
   then frees d. */
static void delivery_finish(struct delivery *d, const char *status, const char *error)
{
    notif_engine *e = d->e;
    for (size_t i = 0; i < d->n; i++)
        add_outcome(e, notif_item_id(d->items[i]), d->channel, status, error);
    if (d->prev)
        d->prev->next = d->next;
    else
        e->deliveries = d->next;
    if (d->next)
        d->next->prev = d->prev;
    delivery_free(d);
}

static void retry_timer(nm_loop *loop, void *arg)
{
    struct delivery *d = arg;
    d->timer = 0;
    attempt(d);
}

/* Handles the outcome of an attempt that held a slot of its channel. */
static void outcome(struct delivery *d, enum notif_result r, const char *error, int64_t wait_ms)
{
    notif_engine *e = d->e;
    const char *what = d->digest ? "digest" : "alert";
    long long id = (long long)notif_item_id(d->items[0]);
    if (r == NOTIF_OK) {
        log_info("%s %lld%s delivered on %s%s", what, id, d->digest ? " ..." : "", d->channel,
                 d->attempt > 1 ? " after retrying" : "");
        delivery_finish(d, "ok", NULL);
        return;
    }
    const notif_channel *ch = notif_conf_channel(e->conf, d->channel);
    const char *msg = error ? error : "failed";
    if (r == NOTIF_PERMANENT || !ch || d->attempt > ch->retries) {
        char *full = r == NOTIF_PERMANENT ? nm_xasprintf("%s (not retried)", msg)
                                          : nm_xasprintf("%s (after %d attempts)", msg, d->attempt);
        log_err("%s %lld on %s failed for good: %s", what, id, d->channel, full);
        delivery_finish(d, "failed", full);
        free(full);
        return;
    }
    int64_t delay = notif_jitter(notif_backoff_delay(ch->retry_base, ch->retry_max, d->attempt), &e->jitter);
    bool asked = wait_ms > delay; /* the server's Retry-After, when longer, is obeyed */
    if (asked)
        delay = wait_ms;
    log_warn("%s %lld on %s: attempt %d failed: %s; retrying in %lld ms%s", what, id, d->channel, d->attempt, msg,
             (long long)delay, asked ? " (as the server asked)" : "");
    d->timer = nm_loop_add_timer(e->loop, delay, 0, retry_timer, d);
}

static void on_done(void *arg, enum notif_result r, const char *error, int64_t wait_ms)
{
    struct delivery *d = arg;
    notif_engine *e = d->e;
    struct chan_state *c = chan_state(e, d->channel);
    c->running--;
    outcome(d, r, error, wait_ms);   /* may free d */
    pump(e, c);
}

/* Starts the deliveries waiting on c while it has free slots. Re-entered
   from an attempt that ends at once (stdout, jsonl, a refused start), it
   returns and leaves the work to the call already running, so a long
   queue never becomes a deep recursion. */
static void pump(notif_engine *e, struct chan_state *c)
{
    if (c->pumping)
        return;
    c->pumping = 1;
    while (c->wait_head && c->running < chan_limit(e, c->name)) {
        struct delivery *d = c->wait_head;
        c->wait_head = d->wait_next;
        if (!c->wait_head)
            c->wait_tail = NULL;
        d->wait_next = NULL;
        c->waiting--;
        e->waiting--;
        send_now(d);
    }
    c->pumping = 0;
}

/* Makes an attempt now, or queues d for a slot of its channel. */
static void attempt(struct delivery *d)
{
    notif_engine *e = d->e;
    struct chan_state *c = chan_state(e, d->channel);
    if (c->running >= chan_limit(e, d->channel) || c->wait_head) {
        if (c->wait_tail)
            c->wait_tail->wait_next = d;
        else
            c->wait_head = d;
        c->wait_tail = d;
        c->waiting++;
        e->waiting++;
        pump(e, c);   /* a slot may have freed without a pump to see it (a reload raised parallel) */
        return;
    }
    send_now(d);
}

/* Makes one attempt of d, which takes a slot of its channel. */
static void send_now(struct delivery *d)
{
    notif_engine *e = d->e;
    const notif_channel *ch = notif_conf_channel(e->conf, d->channel);
    if (!ch) {
        delivery_finish(d, "failed", "the channel is no longer in the configuration");
        return;
    }
    size_t n = d->n, pinned = 0;
    notif_item **items = nm_xmalloc(n * sizeof *items);   /* d may be gone when notif_send returns */
    const nm_alert **alerts = nm_xcalloc(n, sizeof *alerts);
    const json_t **raws = nm_xcalloc(n, sizeof *raws);
    nm_err err;
    memcpy(items, d->items, n * sizeof *items);
    while (pinned < n && notif_item_pin(e->items, items[pinned], &alerts[pinned], &raws[pinned], &err) == 0)
        pinned++;
    if (pinned < n) {
        log_err("%s", err.msg);
        delivery_finish(d, "failed", err.msg);
    } else {
        chan_state(e, d->channel)->running++;
        e->attempts++;
        notif_msg m = { d->channel, d->route, d->digest, alerts, raws, n, d->attempt > 0 };
        d->attempt++;
        notif_send(e->s, ch, &m, on_done, d);   /* may finish (and free) d before returning */
    }
    /* Every channel renders what it sends before notif_send returns. */
    for (size_t i = 0; i < pinned; i++)
        notif_item_unpin(e->items, items[i]);
    free(items);
    free(alerts);
    free(raws);
}

/* Starts delivering items (references taken) on channel. */
static void delivery_start(notif_engine *e, const char *channel, const char *route, notif_item **items, size_t n,
                           int digest)
{
    struct delivery *d = nm_xcalloc(1, sizeof *d);
    d->e = e;
    d->channel = nm_xstrdup(channel);
    d->route = nm_xstrdup(route);
    d->items = items;
    d->n = n;
    d->digest = digest && n > 1;
    d->next = e->deliveries;
    if (e->deliveries)
        e->deliveries->prev = d;
    e->deliveries = d;
    attempt(d);
}

/* ---- digests ------------------------------------------------------------------------ */

static void digest_flush(nm_loop *loop, void *arg)
{
    struct digest_buf *b = arg;
    notif_engine *e = b->e;
    struct digest_buf **pp = &e->digests;
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    const notif_route *r = notif_conf_route(e->conf, b->route);
    if (r)
        notif_rate_take(route_rate(e, r), nm_now_ms());   /* the digest is one message of the route */
    log_info("digest of route %s on %s: %zu alert%s", b->route, b->channel, b->n, b->n == 1 ? "" : "s");
    delivery_start(e, b->channel, b->route, b->items, b->n, 1);
    free(b->route);
    free(b->channel);
    free(b);
}

static void digest_add(notif_engine *e, const char *route, const char *channel, notif_item *it, int64_t delay)
{
    struct digest_buf *b = e->digests;
    while (b && (strcmp(b->route, route) || strcmp(b->channel, channel)))
        b = b->next;
    if (!b) {
        b = nm_xcalloc(1, sizeof *b);
        b->e = e;
        b->route = nm_xstrdup(route);
        b->channel = nm_xstrdup(channel);
        b->timer = nm_loop_add_timer(e->loop, delay, 0, digest_flush, b);
        b->next = e->digests;
        e->digests = b;
    }
    b->items = nm_xrealloc(b->items, (b->n + 1) * sizeof *b->items);
    b->items[b->n++] = it;
    notif_item_ref(it);
}

/* ---- alerts ---------------------------------------------------------------------------- */

/* How a route handles an alert now. */
enum mode { M_UNSET, M_NOW, M_DIGEST, M_SKIP };

static enum mode route_mode(notif_engine *e, const notif_route *r, const nm_alert *a, int64_t *delay)
{
    if (a->followup > 0 && r->followups == NOTIF_FU_SKIP)
        return M_SKIP;
    if (r->digest > 0) {
        *delay = r->digest;
        return M_DIGEST;
    }
    if (a->followup > 0 && r->followups == NOTIF_FU_DIGEST) {
        *delay = r->rate_window;
        return M_DIGEST;
    }
    notif_rate *rate = route_rate(e, r);
    int64_t now = nm_now_ms();
    if (notif_rate_take(rate, now))
        return M_NOW;
    *delay = notif_rate_wait(rate, now);
    if (*delay < 1000)
        *delay = 1000;
    return M_DIGEST;
}

/* Handles (alert, channel) chosen through route r. */
static void dispatch(notif_engine *e, notif_item *it, const nm_alert *a, const char *channel, const notif_route *r,
                     enum mode *mode, int64_t *delay)
{
    int64_t id = a->alert_id;
    char *key = inflight_key(id, channel);
    if (json_object_get(e->inflight, key)) {
        log_debug("alert %lld on %s: already under way, re-send ignored", (long long)id, channel);
        free(key);
        return;
    }
    char *status = NULL, *error = NULL;
    nm_err err;
    int found = notif_db_lookup(e->db, id, channel, &status, &error, &err);
    if (found < 0)
        log_err("alert %lld on %s: %s", (long long)id, channel, err.msg);
    if (found > 0) {
        log_info("alert %lld on %s: already %s, acknowledged again", (long long)id, channel,
                 !strcmp(status, "ok") ? "delivered" : "failed");
        send_ack(e, id, channel, status, error);
        free(status);
        free(error);
        free(key);
        return;
    }
    if (*mode == M_UNSET)
        *mode = route_mode(e, r, a, delay);
    json_object_set_new(e->inflight, key, json_true());
    free(key);
    if (*mode == M_SKIP) {
        add_outcome(e, id, channel, "ok", "follow-up not sent (followups = skip)");
        return;
    }
    if (*mode == M_DIGEST) {
        digest_add(e, r->name, channel, it, *delay);
        return;
    }
    notif_item **items = nm_xmalloc(sizeof *items);
    items[0] = it;
    notif_item_ref(it);
    delivery_start(e, channel, r->name, items, 1, 0);
}

int notif_engine_alert(notif_engine *e, const json_t *body, nm_err *err)
{
    nm_alert decoded;
    if (nm_alert_from_json(body, &decoded, err) < 0)
        return -1;
    /* The item keeps a reference to body, which nobody modifies. */
    notif_item *it = notif_item_new(e->items, &decoded, (json_t *)body);
    const nm_alert *a;
    const json_t *raw;
    if (notif_item_pin(e->items, it, &a, &raw, err) < 0) {   /* decoded already: cannot fail */
        notif_item_unref(e->items, it);
        return -1;
    }
    uint64_t attempts = e->attempts;
    log_debug("alert %lld received: article %s", (long long)a->alert_id, a->item.article.id);
    const notif_conf *c = e->conf;
    const char **chosen = nm_xcalloc(c->n_channels + 1, sizeof *chosen);
    size_t n_chosen = 0;
    for (size_t i = 0; i < c->n_routes; i++) {
        const notif_route *r = c->routes[i];
        if (!notif_route_match(r, a))
            continue;
        enum mode mode = M_UNSET;
        int64_t delay = 0;
        for (size_t j = 0; j < r->n_channels; j++) {
            int seen = 0;
            for (size_t k = 0; k < n_chosen && !seen; k++)
                seen = !strcmp(chosen[k], r->channels[j]);
            if (seen || n_chosen >= c->n_channels)
                continue;
            chosen[n_chosen++] = r->channels[j];
            dispatch(e, it, a, r->channels[j], r, &mode, &delay);
        }
    }
    if (!n_chosen) {
        log_info("alert %lld: no route selects it", (long long)a->alert_id);
        send_ack(e, a->alert_id, "none", "ok", NULL);
    }
    free(chosen);
    notif_item_unpin(e->items, it);
    /* Every delivery of it waits (for a slot, a digest): it will be the
       last used, not the next, so it leaves room for the ones that will. */
    if (e->attempts == attempts)
        notif_item_reduce(e->items, it);
    notif_item_unref(e->items, it);
    return 0;
}
