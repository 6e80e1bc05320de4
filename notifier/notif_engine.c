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
 */
#include "notifier/notif.h"
#include "common/nm_log.h"

#include <stdlib.h>
#include <string.h>

/* An alert shared by the deliveries and digests that hold it. */
struct item {
    int refs;
    nm_alert alert;
    json_t *raw;          /* the message body as received */
};

struct delivery {
    notif_engine *e;
    char *channel;
    char *route;
    struct item **items;
    size_t n;
    int digest;
    int attempt;          /* attempts made */
    int timer;            /* retry timer id, 0 = none */
    struct delivery *prev, *next;
};

/* Alerts waiting to go out together on one channel for one route. */
struct digest_buf {
    notif_engine *e;
    char *route;
    char *channel;
    struct item **items;
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
    struct delivery *deliveries;    /* under way (sending or waiting to retry) */
    struct digest_buf *digests;
    struct route_state *routes;
};

static void item_unref(struct item *it)
{
    if (it && --it->refs == 0) {
        nm_alert_clear(&it->alert);
        json_decref(it->raw);
        free(it);
    }
}

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
    return e;
}

static void delivery_free(struct delivery *d)
{
    for (size_t i = 0; i < d->n; i++)
        item_unref(d->items[i]);
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
            item_unref(b->items[i]);
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
    json_decref(e->inflight);
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

static void send_ack(notif_engine *e, int64_t id, const char *channel, const char *status, const char *error)
{
    nm_delivered d = { id, (char *)channel, (char *)status, (char *)error };
    e->ack(e->ack_arg, &d);
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

/* ---- deliveries ----------------------------------------------------------------- */

static void attempt(struct delivery *d);

/* Records and acknowledges every alert of d, then frees it. */
static void delivery_finish(struct delivery *d, const char *status, const char *error)
{
    notif_engine *e = d->e;
    for (size_t i = 0; i < d->n; i++) {
        int64_t id = d->items[i]->alert.alert_id;
        nm_err err;
        if (notif_db_record(e->db, id, d->channel, status, error, &err) < 0)
            log_err("alert %lld on %s: %s (acknowledged anyway; a re-send may repeat it)", (long long)id,
                    d->channel, err.msg);
        send_ack(e, id, d->channel, status, error);
        char *key = inflight_key(id, d->channel);
        json_object_del(e->inflight, key);
        free(key);
    }
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

static void on_done(void *arg, enum notif_result r, const char *error)
{
    struct delivery *d = arg;
    notif_engine *e = d->e;
    const char *what = d->digest ? "digest" : "alert";
    long long id = (long long)d->items[0]->alert.alert_id;
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
    int64_t delay = notif_backoff_delay(ch->retry_base, ch->retry_max, d->attempt);
    log_warn("%s %lld on %s: attempt %d failed: %s; retrying in %lld ms", what, id, d->channel, d->attempt, msg,
             (long long)delay);
    d->timer = nm_loop_add_timer(e->loop, delay, 0, retry_timer, d);
}

static void attempt(struct delivery *d)
{
    notif_engine *e = d->e;
    const notif_channel *ch = notif_conf_channel(e->conf, d->channel);
    if (!ch) {
        delivery_finish(d, "failed", "the channel is no longer in the configuration");
        return;
    }
    const nm_alert **alerts = nm_xcalloc(d->n, sizeof *alerts);
    const json_t **raws = nm_xcalloc(d->n, sizeof *raws);
    for (size_t i = 0; i < d->n; i++) {
        alerts[i] = &d->items[i]->alert;
        raws[i] = d->items[i]->raw;
    }
    notif_msg m = { d->channel, d->route, d->digest, alerts, raws, d->n };
    d->attempt++;
    notif_send(e->s, ch, &m, on_done, d);   /* may finish (and free) d before returning */
    free(alerts);
    free(raws);
}

/* Starts delivering items (references taken) on channel. */
static void delivery_start(notif_engine *e, const char *channel, const char *route, struct item **items, size_t n,
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

static void digest_add(notif_engine *e, const char *route, const char *channel, struct item *it, int64_t delay)
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
    it->refs++;
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
static void dispatch(notif_engine *e, struct item *it, const char *channel, const notif_route *r, enum mode *mode,
                     int64_t *delay)
{
    int64_t id = it->alert.alert_id;
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
        *mode = route_mode(e, r, &it->alert, delay);
    if (*mode == M_SKIP) {
        notif_db_record(e->db, id, channel, "ok", "follow-up not sent (followups = skip)", &err);
        send_ack(e, id, channel, "ok", "follow-up not sent (followups = skip)");
        free(key);
        return;
    }
    json_object_set_new(e->inflight, key, json_true());
    free(key);
    if (*mode == M_DIGEST) {
        digest_add(e, r->name, channel, it, *delay);
        return;
    }
    struct item **items = nm_xmalloc(sizeof *items);
    items[0] = it;
    it->refs++;
    delivery_start(e, channel, r->name, items, 1, 0);
}

int notif_engine_alert(notif_engine *e, const json_t *body, nm_err *err)
{
    struct item *it = nm_xcalloc(1, sizeof *it);
    if (nm_alert_from_json(body, &it->alert, err) < 0) {
        free(it);
        return -1;
    }
    it->refs = 1;
    it->raw = json_deep_copy(body);
    const notif_conf *c = e->conf;
    const char **chosen = nm_xcalloc(c->n_channels + 1, sizeof *chosen);
    size_t n_chosen = 0;
    for (size_t i = 0; i < c->n_routes; i++) {
        const notif_route *r = c->routes[i];
        if (!notif_route_match(r, &it->alert))
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
            dispatch(e, it, r->channels[j], r, &mode, &delay);
        }
    }
    if (!n_chosen) {
        log_info("alert %lld: no route selects it", (long long)it->alert.alert_id);
        send_ack(e, it->alert.alert_id, "none", "ok", NULL);
    }
    free(chosen);
    item_unref(it);
    return 0;
}
