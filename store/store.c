/*
 * newsmon-store: the single owner of the database.
 *
 * It binds three sockets: a PULL on [bus] store_in (the classifiers'
 * "classified" messages and the notifiers' "delivered" acknowledgements),
 * a PUB on [bus] store_events ("stored" confirmations for the fetchers) and
 * a PUSH on [bus] alerts (alerts for the notifiers).
 *
 * The order is what makes the pipeline lose nothing: a batch of messages is
 * written in one transaction (article, version, theme matches and alert
 * together), committed, and only then confirmed to the fetchers and its
 * alerts sent. An alert not acknowledged within [store] resend_after is
 * sent again; the notifier remembers what it delivered, so a re-send never
 * reaches a person twice.
 */
#include "common/nm_bus.h"
#include "common/nm_control.h"
#include "common/nm_daemon.h"
#include "common/nm_log.h"
#include "common/nm_msg.h"
#include "store/store_db.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct store_conf {
    struct nm_common_conf common;   /* must come first */
    char *database;
    char *sync;                     /* normal or full */
    int64_t batch;                  /* messages per transaction at most */
    int64_t resend_after;           /* ms */
    int64_t alert_scan;             /* ms between scans of the alert queue */
    int64_t alert_batch;            /* alerts sent per scan at most */
    int64_t text_days;
    int64_t matches_days;
    int64_t prune_interval;         /* ms */
};

static const char *const sync_modes[] = { "normal", "full", NULL };

#define O(f) offsetof(struct store_conf, f)
static const nm_conf_key store_keys[] = {
    { "store", "database", NM_CONF_STRING, O(database), STORE_DEFAULT_PATH, 1, 0, "SQLite database" },
    { "store", "sync", NM_CONF_STRING, O(sync), "full", 1, 0,
      "normal (a commit survives a crash of the process) or full (also a power cut)", sync_modes },
    { "store", "batch", NM_CONF_INT, O(batch), "500", 1, 100000, "messages written per transaction at most" },
    { "store", "resend_after", NM_CONF_DURATION, O(resend_after), "5m", 1000, 7LL * 86400000,
      "an alert not acknowledged this long is sent again" },
    { "store", "alert_scan", NM_CONF_DURATION, O(alert_scan), "2s", 10, 3600000, "how often the alert queue is scanned" },
    { "store", "alert_batch", NM_CONF_INT, O(alert_batch), "200", 1, 100000, "alerts sent per scan at most" },
    { "store", "text_days", NM_CONF_INT, O(text_days), "90", 0, 36500, "keep article text this many days (0 = for ever)" },
    { "store", "matches_days", NM_CONF_INT, O(matches_days), "730", 0, 36500,
      "keep theme matches and finished alerts this many days (0 = for ever)" },
    { "store", "prune_interval", NM_CONF_DURATION, O(prune_interval), "6h", 60000, 7LL * 86400000,
      "how often old text is pruned" },
};
#undef O

struct store {
    struct store_conf conf;
    store_db *db;
    void *in, *events, *alerts;
    nm_loop *loop;
    nm_control *control;
    int64_t *sent_ids;        /* alerts handed to the notifier in the current scan */
    size_t n_sent, cap_sent;
    uint64_t n_new, n_updated, n_unchanged, n_bad, n_acks, n_alerts_sent;
};

/* Confirmations to publish once the transaction commits. */
struct pending_confirm {
    nm_stored *items;
    size_t n, cap;
};

static void confirm_add(struct pending_confirm *p, const nm_classified *c, int64_t version)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = nm_xrealloc(p->items, p->cap * sizeof *p->items);
    }
    p->items[p->n++] = (nm_stored){ nm_xstrdup(c->article.id), nm_xstrdup(c->article.feed), version };
}

static void confirm_clear(struct pending_confirm *p)
{
    for (size_t i = 0; i < p->n; i++)
        nm_stored_clear(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

static void handle_classified(struct store *s, const json_t *body, struct pending_confirm *pc, int *alerts)
{
    nm_classified c;
    nm_err err;
    if (nm_classified_from_json(body, &c, &err) < 0) {
        s->n_bad++;
        log_warn("dropped a malformed classified message: %s", err.msg);
        return;
    }
    struct store_ingest_result res;
    if (store_ingest(s->db, &c, &res, &err) < 0) {
        s->n_bad++;
        log_warn("article %s not stored: %s", c.article.id, err.msg);
    } else {
        switch (res.status) {
        case STORE_INGEST_NEW: s->n_new++; break;
        case STORE_INGEST_UPDATED: s->n_updated++; break;
        case STORE_INGEST_UNCHANGED: s->n_unchanged++; break;
        }
        *alerts += res.alert_id > 0;
        log_debug("stored %s version %lld (%s)%s", c.article.id, (long long)res.version,
                  res.status == STORE_INGEST_NEW ? "new" : res.status == STORE_INGEST_UPDATED ? "updated" : "unchanged",
                  res.alert_id ? ", alert queued" : "");
        confirm_add(pc, &c, res.version);
    }
    nm_classified_clear(&c);
}

static void handle_delivered(struct store *s, const json_t *body)
{
    nm_delivered d;
    nm_err err;
    if (nm_delivered_from_json(body, &d, &err) < 0) {
        s->n_bad++;
        log_warn("dropped a malformed delivered message: %s", err.msg);
        return;
    }
    if (store_alert_delivered(s->db, &d, &err) < 0)
        log_warn("acknowledgement of alert %lld on %s not recorded: %s", (long long)d.alert_id, d.channel, err.msg);
    else
        s->n_acks++;
    if (!strcmp(d.status, "failed"))
        log_warn("alert %lld failed on channel %s: %s", (long long)d.alert_id, d.channel, d.error ? d.error : "?");
    nm_delivered_clear(&d);
}

static void send_alerts(struct store *s);

/* Reads up to [store] batch messages into one transaction, commits, then confirms. */
static void on_input(nm_loop *loop, void *sock, void *arg)
{
    struct store *s = arg;
    for (;;) {
        struct pending_confirm pc = { 0 };
        int alerts = 0, got = 0, r = 0;
        nm_err err;
        if (store_begin(s->db, &err) < 0) {
            log_err("cannot begin a transaction: %s", err.msg);
            return;
        }
        while (got < s->conf.batch) {
            nm_msg_type t;
            json_t *body;
            r = nm_bus_recv(sock, &t, &body, &err);
            if (r == 1)
                break;
            got++;
            if (r < 0) {
                s->n_bad++;
                log_warn("dropped a malformed message: %s", err.msg);
                continue;
            }
            if (t == NM_MSG_CLASSIFIED)
                handle_classified(s, body, &pc, &alerts);
            else if (t == NM_MSG_DELIVERED)
                handle_delivered(s, body);
            else
                log_warn("dropped a \"%s\" message: the store takes \"classified\" and \"delivered\"",
                         nm_msg_type_name(t));
            json_decref(body);
            /* A failed write took the batch with it: what is still queued
               goes to the next batch. */
            if (!store_batch_usable(s->db))
                break;
        }
        if (store_commit(s->db, &err) < 0) {
            log_err("commit failed, %zu articles left unconfirmed (the fetchers re-send them): %s", pc.n, err.msg);
            store_rollback(s->db, NULL);
            confirm_clear(&pc);
            return;
        }
        for (size_t i = 0; i < pc.n; i++) {
            json_t *j = nm_stored_to_json(&pc.items[i]);
            if (nm_bus_send(s->events, NM_MSG_STORED, j, 1, &err) != 0)
                log_warn("confirmation of %s not published: %s", pc.items[i].id, err.msg);
            json_decref(j);
        }
        confirm_clear(&pc);
        if (alerts)
            send_alerts(s);
        if (r == 1 || !got)
            return;
    }
}

static int send_one_alert(const nm_alert *a, void *arg)
{
    struct store *s = arg;
    json_t *j = nm_alert_to_json(a);
    nm_err err;
    int r = nm_bus_send(s->alerts, NM_MSG_ALERT, j, 1, &err);
    json_decref(j);
    if (r != 0) {
        if (r < 0)
            log_warn("alert %lld not sent: %s", (long long)a->alert_id, err.msg);
        return 1;   /* queue full or no notifier: try again at the next scan */
    }
    if (s->n_sent == s->cap_sent) {
        s->cap_sent = s->cap_sent ? s->cap_sent * 2 : 64;
        s->sent_ids = nm_xrealloc(s->sent_ids, s->cap_sent * sizeof *s->sent_ids);
    }
    s->sent_ids[s->n_sent++] = a->alert_id;
    return 0;
}

/* Sends the alerts that are due and records them as sent. */
static void send_alerts(struct store *s)
{
    nm_err err;
    s->n_sent = 0;
    int64_t now = time(NULL);
    if (store_alerts_due(s->db, now, s->conf.resend_after / 1000, (int)s->conf.alert_batch,
                         send_one_alert, s, &err) < 0) {
        log_err("cannot read the alert queue: %s", err.msg);
        return;
    }
    if (!s->n_sent)
        return;
    if (store_begin(s->db, &err) < 0) {
        log_err("cannot begin a transaction: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < s->n_sent; i++)
        if (store_alert_mark_sent(s->db, s->sent_ids[i], now, &err) < 0)
            log_warn("alert %lld: %s", (long long)s->sent_ids[i], err.msg);
    if (store_commit(s->db, &err) < 0) {
        log_err("cannot record sent alerts (they will be sent again): %s", err.msg);
        store_rollback(s->db, NULL);
    }
    s->n_alerts_sent += s->n_sent;
    log_debug("sent %zu alert%s to the notifier", s->n_sent, s->n_sent == 1 ? "" : "s");
}

static void on_alert_scan(nm_loop *loop, void *arg)
{
    send_alerts(arg);
}

static void on_prune(nm_loop *loop, void *arg)
{
    struct store *s = arg;
    struct store_prune_result r;
    nm_err err;
    if (store_prune(s->db, (int)s->conf.text_days, (int)s->conf.matches_days, time(NULL), &r, &err) < 0)
        log_warn("pruning failed: %s", err.msg);
    else if (r.texts_dropped || r.matches_dropped || r.alerts_dropped)
        log_info("pruned %lld texts, %lld theme matches, %lld finished alerts", (long long)r.texts_dropped,
                 (long long)r.matches_dropped, (long long)r.alerts_dropped);
}

static void status(json_t *j, void *arg)
{
    struct store *s = arg;
    struct store_counts c;
    nm_err err;
    json_object_set_new(j, "database", json_string(s->conf.database));
    if (store_counts(s->db, &c, &err) == 0) {
        json_object_set_new(j, "articles", json_integer(c.articles));
        json_object_set_new(j, "stories", json_integer(c.stories));
        json_object_set_new(j, "feeds", json_integer(c.feeds));
        json_object_set_new(j, "alerts_pending", json_integer(c.alerts_pending));
        json_object_set_new(j, "alerts_awaiting_ack", json_integer(c.alerts_sent));
        json_object_set_new(j, "alerts_delivered", json_integer(c.alerts_delivered));
        json_object_set_new(j, "alerts_failed", json_integer(c.alerts_failed));
    } else {
        json_object_set_new(j, "database_error", json_string(err.msg));
    }
    json_object_set_new(j, "articles_new", json_integer((json_int_t)s->n_new));
    json_object_set_new(j, "articles_updated", json_integer((json_int_t)s->n_updated));
    json_object_set_new(j, "articles_unchanged", json_integer((json_int_t)s->n_unchanged));
    json_object_set_new(j, "malformed", json_integer((json_int_t)s->n_bad));
    json_object_set_new(j, "alerts_sent", json_integer((json_int_t)s->n_alerts_sent));
    json_object_set_new(j, "acknowledgements", json_integer((json_int_t)s->n_acks));
}

static void open_sockets(struct store *s)
{
    nm_err err;
    struct nm_bus_opts o = nm_daemon_bus_opts(&s->conf.common);
    if (!(s->in = nm_bus_socket(ZMQ_PULL, s->conf.common.store_in, 1, &o, &err)))
        fatal("[bus] store_in: %s", err.msg);
    if (!(s->events = nm_bus_socket(ZMQ_PUB, s->conf.common.store_events, 1, &o, &err)))
        fatal("[bus] store_events: %s", err.msg);
    if (!(s->alerts = nm_bus_socket(ZMQ_PUSH, s->conf.common.alerts, 1, &o, &err)))
        fatal("[bus] alerts: %s", err.msg);
}

/* SIGHUP: the store's settings are read at start only; say so rather than ignore it. */
static void on_signal(nm_loop *loop, int signo, void *arg)
{
    nm_daemon_reloading();
    log_info("SIGHUP: the store has nothing to reload; changes to [store] take effect at the next start");
    nm_daemon_reloaded();
}

int main(int argc, char **argv)
{
    struct nm_daemon_args args;
    nm_daemon_parse_args(argc, argv, "newsmon-store", 0, &args);
    static struct store s;
    int failed = nm_daemon_load_config(&args, store_keys, NM_ARRAY_LEN(store_keys), &s.conf, NULL, NULL);
    if (args.check_only || failed) {
        nm_daemon_free_config(store_keys, NM_ARRAY_LEN(store_keys), &s.conf);
        free(args.overrides);
        return failed ? 1 : 0;
    }
    nm_daemon_init_log(&args, &s.conf.common);

    struct store_options opt;
    store_options_default(&opt);
    opt.sync = strcmp(s.conf.sync, "full") ? STORE_SYNC_NORMAL : STORE_SYNC_FULL;
    nm_err err;
    if (!(s.db = store_db_open(s.conf.database, &opt, &err)))
        fatal("%s", err.msg);
    if (!(s.loop = nm_loop_new(&err)))
        fatal("%s", err.msg);
    if (nm_daemon_secure_bus(s.loop, &s.conf.common, &err) < 0)
        fatal("CURVE: %s", err.msg);
    open_sockets(&s);
    nm_loop_add_socket(s.loop, s.in, on_input, &s);
    nm_loop_on_signal(s.loop, on_signal, &s);
    char *ctl_name = nm_daemon_control_name(&s.conf.common, "store");
    if (!(s.control = nm_control_open(s.loop, s.conf.common.control_dir, ctl_name, status, NULL, &s, &err)))
        fatal("control socket in %s: %s", s.conf.common.control_dir, err.msg);
    free(ctl_name);
    nm_loop_add_timer(s.loop, 0, s.conf.alert_scan, on_alert_scan, &s);
    nm_loop_add_timer(s.loop, 60000, s.conf.prune_interval, on_prune, &s);

    struct store_counts counts;
    if (store_counts(s.db, &counts, &err) == 0)
        log_info("database %s: %lld articles, %lld alerts pending, %lld awaiting acknowledgement",
                 s.conf.database, (long long)counts.articles, (long long)counts.alerts_pending,
                 (long long)counts.alerts_sent);
    nm_daemon_ready(s.loop, "storing");
    int sig = nm_loop_run(s.loop);
    nm_daemon_stopping();
    log_info("stopping%s: %llu new, %llu updated, %llu unchanged articles, %llu malformed, "
             "%llu alerts sent, %llu acknowledgements",
             sig ? " on signal" : "", (unsigned long long)s.n_new, (unsigned long long)s.n_updated,
             (unsigned long long)s.n_unchanged, (unsigned long long)s.n_bad,
             (unsigned long long)s.n_alerts_sent, (unsigned long long)s.n_acks);
    nm_control_close(&s.control);
    nm_bus_close(&s.in);
    nm_bus_close(&s.events);
    nm_bus_close(&s.alerts);
    nm_daemon_secure_bus_stop();
    nm_bus_term();
    nm_loop_destroy(&s.loop);
    store_db_close(&s.db);
    free(s.sent_ids);
    nm_daemon_free_config(store_keys, NM_ARRAY_LEN(store_keys), &s.conf);
    free(args.overrides);
    return 0;
}
