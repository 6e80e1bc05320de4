/*
 * newsmon-notifier: delivers the store's alerts through the configured
 * channels and acknowledges each (alert, channel) outcome to the store.
 *
 * Set-up, then one loop: the PULL socket connected to [bus] alerts feeds
 * the engine (notif_engine.c); the engine's acknowledgements leave on a
 * PUSH connected to [bus] store_in; libcurl's sockets and timers, the exec
 * channel's children, retry and digest timers all live in the same
 * nm_loop. SIGHUP reloads the configuration (a bad one is refused and the
 * running one kept). See docs/alerts.md.
 */
#include "common/nm_control.h"
#include "common/nm_daemon.h"
#include "common/nm_log.h"
#include "notifier/notif.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define NAME "newsmon-notifier"

struct notifier_conf {
    struct nm_common_conf common;
    char *state;          /* [notifier] state: the delivery database */
    int64_t keep;         /* ms: how long delivery records are kept */
    char *hostname;       /* Message-ID domain fallback */
};

#define O(f) offsetof(struct notifier_conf, f)
static const nm_conf_key schema[] = {
    { "notifier", "state", NM_CONF_STRING, O(state), "/var/lib/newsmon/notifier.db", 1, 0,
      "SQLite database of delivered (alert, channel) pairs" },
    { "notifier", "keep", NM_CONF_DURATION, O(keep), "30d", 3600000, 3650LL * 86400000, "how long delivery records are kept" },
    { "notifier", "hostname", NM_CONF_STRING, O(hostname), "", 1, 0, "Message-ID domain when From has none" },
};
#undef O

struct notifier {
    struct nm_daemon_args args;
    struct notifier_conf conf;
    nm_loop *loop;
    void *pull;           /* alerts from the store */
    void *push;           /* acknowledgements to the store */
    notif_sender sender;
    notif_db *db;
    notif_engine *engine;
    nm_control *control;  /* status and reload requests from newsmonctl */
    char host[256];
    uint64_t n_alerts, n_acks, n_bad;
};

/* Loads the configuration and the channel/route sections. Returns the
   channels and routes, or NULL after printing every problem. */
static notif_conf *load(const struct nm_daemon_args *a, struct notifier_conf *conf)
{
    struct nm_daemon_args quiet = *a;
    quiet.check_only = 0;
    notif_conf *nc = notif_conf_new(a->config);
    memset(conf, 0, sizeof *conf);
    int rc = nm_daemon_load_config(&quiet, schema, NM_ARRAY_LEN(schema), conf, notif_conf_named, nc);
    nm_conf_errors errs = { 0 };
    if (notif_conf_finish(nc, &errs) < 0)
        rc = -1;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    size_t n = errs.n;
    nm_conf_errors_clear(&errs);
    if (rc == 0 && !nc->n_routes)
        fprintf(stderr, "%s: warning: no [route NAME] section: every alert is acknowledged as \"none\"\n", a->config);
    if (rc < 0) {
        if (a->check_only)
            fprintf(stderr, "%s: the configuration has errors%s\n", a->name,
                    n ? "" : " (see above)");
        notif_conf_destroy(&nc);
        nm_daemon_free_config(schema, NM_ARRAY_LEN(schema), conf);
        return NULL;
    }
    if (a->check_only)
        printf("configuration OK\n");
    return nc;
}

static void on_ack(void *arg, const nm_delivered *d)
{
    struct notifier *n = arg;
    json_t *j = nm_delivered_to_json(d);
    nm_err err;
    if (nm_bus_send(n->push, NM_MSG_DELIVERED, j, 0, &err) < 0)
        log_err("cannot acknowledge alert %lld on %s: %s", (long long)d->alert_id, d->channel, err.msg);
    else
        n->n_acks++;
    json_decref(j);
}

static void on_alerts(nm_loop *loop, void *sock, void *arg)
{
    struct notifier *n = arg;
    for (int i = 0; i < 1000; i++) {   /* bounded: let timers and transfers run between batches */
        nm_msg_type type;
        json_t *body = NULL;
        nm_err err;
        int rc = nm_bus_recv(sock, &type, &body, &err);
        if (rc == 1)
            return;
        if (rc < 0) {
            n->n_bad++;
            log_warn("dropped a malformed message: %s", err.msg);
            continue;
        }
        if (type != NM_MSG_ALERT) {
            n->n_bad++;
            log_warn("dropped a '%s' message: only 'alert' is expected here", nm_msg_type_name(type));
        } else if (notif_engine_alert(n->engine, body, &err) < 0) {
            n->n_bad++;
            log_warn("dropped an alert that cannot be decoded: %s", err.msg);
        } else {
            n->n_alerts++;
        }
        json_decref(body);
    }
}

/* Reloads channels and routes; the running ones stay when the new
   configuration has errors. Returns 0 or -1 with a message. */
static int reload(void *arg, char **message)
{
    struct notifier *n = arg;
    nm_daemon_reloading();
    log_info("reloading %s", n->args.config);
    struct notifier_conf fresh;
    notif_conf *nc = load(&n->args, &fresh);
    int r = 0;
    if (!nc) {
        log_err("the new configuration has errors (printed above); keeping the running one");
        *message = nm_xasprintf("%s has errors (run newsmon-notifier -n -c %s); keeping the running "
                                "configuration", n->args.config, n->args.config);
        r = -1;
    } else {
        if (strcmp(fresh.state, n->conf.state))
            log_warn("[notifier] state changed: takes effect at the next start");
        free(nc->hostname);
        nc->hostname = nm_xstrdup(n->sender.hostname);
        notif_engine_set_conf(n->engine, &nc);
        nm_daemon_free_config(schema, NM_ARRAY_LEN(schema), &fresh);
        log_info("configuration reloaded");
        *message = nm_xasprintf("channels and routes reloaded from %s", n->args.config);
    }
    nm_daemon_reloaded();
    return r;
}

static void on_signal(nm_loop *loop, int signo, void *arg)
{
    char *msg = NULL;
    if (signo == SIGHUP)
        reload(arg, &msg);
    free(msg);
}

static void control_status(json_t *j, void *arg)
{
    struct notifier *n = arg;
    json_object_set_new(j, "alerts_in", json_integer((json_int_t)n->n_alerts));
    json_object_set_new(j, "acknowledgements", json_integer((json_int_t)n->n_acks));
    json_object_set_new(j, "deliveries_in_progress", json_integer((json_int_t)notif_engine_pending(n->engine)));
    json_object_set_new(j, "deliveries_waiting", json_integer((json_int_t)notif_engine_waiting(n->engine)));
    json_object_set_new(j, "malformed", json_integer((json_int_t)n->n_bad));
}

static void prune(nm_loop *loop, void *arg)
{
    struct notifier *n = arg;
    nm_err err;
    int64_t k = notif_db_prune(n->db, (int64_t)time(NULL) - n->conf.keep / 1000, &err);
    if (k < 0)
        log_warn("%s", err.msg);
    else if (k > 0)
        log_info("forgot %lld delivery records older than the keep period", (long long)k);
}

static void status(nm_loop *loop, void *arg)
{
    struct notifier *n = arg;
    nm_daemon_status("%llu alerts, %llu acks, %zu pending, %llu dropped", (unsigned long long)n->n_alerts,
                     (unsigned long long)n->n_acks, notif_engine_pending(n->engine), (unsigned long long)n->n_bad);
}

int main(int argc, char **argv)
{
    struct notifier n = { 0 };
    nm_daemon_parse_args(argc, argv, NAME, 0, &n.args);
    notif_conf *nc = load(&n.args, &n.conf);
    if (!nc) {
        free(n.args.overrides);
        return 1;
    }
    if (n.args.check_only) {
        notif_conf_destroy(&nc);
        nm_daemon_free_config(schema, NM_ARRAY_LEN(schema), &n.conf);
        free(n.args.overrides);
        return 0;
    }
    nm_daemon_init_log(&n.args, &n.conf.common);
    nm_err err;
    n.loop = nm_loop_new(&err);
    if (!n.loop)
        fatal("%s", err.msg);
    n.db = notif_db_open(n.conf.state, &err);
    if (!n.db)
        fatal("%s", err.msg);
    if (*n.conf.hostname)
        snprintf(n.host, sizeof n.host, "%s", n.conf.hostname);
    else if (gethostname(n.host, sizeof n.host - 1) < 0)
        snprintf(n.host, sizeof n.host, "localhost");
    n.sender.loop = n.loop;
    n.sender.hostname = n.host;
    n.sender.http = notif_http_new(n.loop, &err);
    if (!n.sender.http)
        fatal("%s", err.msg);
    n.sender.exec = notif_exec_new(n.loop);
    if (nm_daemon_secure_bus(n.loop, &n.conf.common, &err) < 0)
        fatal("CURVE: %s", err.msg);
    struct nm_bus_opts o = nm_daemon_bus_opts(&n.conf.common);
    n.pull = nm_bus_socket(ZMQ_PULL, n.conf.common.alerts, 0, &o, &err);
    if (!n.pull)
        fatal("[bus] alerts %s: %s", n.conf.common.alerts, err.msg);
    n.push = nm_bus_socket(ZMQ_PUSH, n.conf.common.store_in, 0, &o, &err);
    if (!n.push)
        fatal("[bus] store_in %s: %s", n.conf.common.store_in, err.msg);
    size_t n_channels = nc->n_channels, n_routes = nc->n_routes;
    n.engine = notif_engine_new(n.loop, &n.sender, n.db, &nc, on_ack, &n);
    nm_loop_add_socket(n.loop, n.pull, on_alerts, &n);
    nm_loop_on_signal(n.loop, on_signal, &n);
    char *ctl_name = nm_daemon_control_name(&n.conf.common, "notifier");
    n.control = nm_control_open(n.loop, n.conf.common.control_dir, ctl_name, control_status, reload, &n, &err);
    if (!n.control)
        fatal("control socket in %s: %s", n.conf.common.control_dir, err.msg);
    free(ctl_name);
    prune(n.loop, &n);
    nm_loop_add_timer(n.loop, 3600000, 3600000, prune, &n);
    nm_loop_add_timer(n.loop, 10000, 10000, status, &n);
    log_info("started: %zu channel%s, %zu route%s, alerts from %s, acks to %s", n_channels,
             n_channels == 1 ? "" : "s", n_routes, n_routes == 1 ? "" : "s", n.conf.common.alerts,
             n.conf.common.store_in);
    nm_daemon_ready(n.loop, "running");
    int sig = nm_loop_run(n.loop);
    nm_daemon_stopping();
    log_info("stopping (%s); %zu deliveries not finished will be re-sent by the store",
             sig ? strsignal(sig) : "asked", notif_engine_pending(n.engine));
    notif_http_destroy(&n.sender.http);
    notif_exec_destroy(&n.sender.exec);
    json_decref(n.sender.jsonl_tail);
    notif_engine_destroy(&n.engine);
    nm_control_close(&n.control);
    nm_bus_close(&n.pull);
    nm_bus_close(&n.push);
    nm_daemon_secure_bus_stop();
    nm_bus_term();
    notif_db_close(&n.db);
    nm_loop_destroy(&n.loop);
    nm_daemon_free_config(schema, NM_ARRAY_LEN(schema), &n.conf);
    free(n.args.overrides);
    return 0;
}
