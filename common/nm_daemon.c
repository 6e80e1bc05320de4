/*
 * nm_daemon: start-up and systemd integration shared by the four daemons.
 * Unlike the rest of common/, this is the daemons' own front door: it may
 * print to stderr (config errors, usage) because it runs before logging.
 */
#include "common/nm_daemon.h"
#include "common/nm_curve.h"
#include "common/nm_log.h"
#include "common/nm_sdnotify.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
static const char *const log_targets[] = { "auto", "stderr", "journal", "syslog", NULL };

#define C(f) offsetof(struct nm_common_conf, f)
static const nm_conf_key common_keys[] = {
    { "bus", "fetch_out", NM_CONF_STRING, C(fetch_out), "ipc:///run/newsmon/fetch.sock", 1, 0,
      "fetcher output (fetcher binds, classifiers connect)" },
    { "bus", "store_in", NM_CONF_STRING, C(store_in), "ipc:///run/newsmon/store.sock", 1, 0,
      "store input (store binds, classifiers and notifiers connect)" },
    { "bus", "store_events", NM_CONF_STRING, C(store_events), "ipc:///run/newsmon/events.sock", 1, 0,
      "store confirmations (store binds PUB, fetchers connect)" },
    { "bus", "alerts", NM_CONF_STRING, C(alerts), "ipc:///run/newsmon/alerts.sock", 1, 0,
      "alerts to deliver (store binds, notifiers connect)" },
    { "bus", "control_dir", NM_CONF_STRING, C(control_dir), "/run/newsmon", 1, 0,
      "folder of the daemons' control sockets" },
    { "bus", "instance", NM_CONF_STRING, C(instance), "", 1, 0,
      "tells apart several daemons of one kind on a host (control socket name)" },
    { "bus", "hwm", NM_CONF_INT, C(hwm), "10000", 1, 10000000, "high-water mark, messages" },
    { "bus", "max_message", NM_CONF_SIZE, C(max_message), "16M", 1024, 1LL << 30, "largest message accepted" },
    { "bus", "linger", NM_CONF_DURATION, C(linger), "2s", 0, 60000, "how long unsent messages hold a stopping daemon" },
    { "bus", "curve_server_secret_file", NM_CONF_STRING, C(curve_server_secret_file), "", 1, 0, "" },
    { "bus", "curve_server_public_file", NM_CONF_STRING, C(curve_server_public_file), "", 1, 0, "" },
    { "bus", "curve_client_secret_file", NM_CONF_STRING, C(curve_client_secret_file), "", 1, 0, "" },
    { "bus", "curve_client_public_file", NM_CONF_STRING, C(curve_client_public_file), "", 1, 0, "" },
    { "bus", "curve_allowed_clients", NM_CONF_STRING, C(curve_allowed_clients), "", 1, 0, "" },
    { "log", "level", NM_CONF_STRING, C(log_level), "info", 1, 0, "error, warning, info or debug", log_levels },
    { "log", "target", NM_CONF_STRING, C(log_target), "auto", 1, 0, "auto, stderr, journal or syslog", log_targets },
};
#undef C

static void usage(const char *name, int allow_once, FILE *f)
{
    fprintf(f,
            "usage: %s [-c FILE] [-n] [-v] [-f] [-o section.key=value]...%s\n"
            "  -c FILE   configuration (default " NM_DEFAULT_CONFIG ")\n"
            "  -n        check the configuration, print \"configuration OK\" or every error, exit\n"
            "  -v        more verbose logging (repeat for debug)\n"
            "  -f        foreground: log to stderr with times\n"
            "  -o S.K=V  override a configuration key\n%s",
            name, allow_once ? " [--once]" : "",
            allow_once ? "  --once    poll every feed once, exit when all items are confirmed\n" : "");
}

void nm_daemon_parse_args(int argc, char **argv, const char *name, int allow_once, struct nm_daemon_args *a)
{
    static const struct option longopts[] = {
        { "once", no_argument, NULL, 'O' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    /* Block the signals the loop will read through its signalfd now, so a
       SIGTERM that arrives while the daemon starts up is not lost or fatal:
       it waits, pending, and stops the daemon as soon as its loop runs. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    memset(a, 0, sizeof *a);
    a->name = name;
    a->config = NM_DEFAULT_CONFIG;
    int c;
    while ((c = getopt_long(argc, argv, "c:nvfo:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'n': a->check_only = 1; break;
        case 'v': a->verbose++; break;
        case 'f': a->foreground = 1; break;
        case 'o':
            a->overrides = nm_xrealloc(a->overrides, (a->n_overrides + 1) * sizeof *a->overrides);
            a->overrides[a->n_overrides++] = optarg;
            break;
        case 'O':
            if (!allow_once) {
                usage(name, allow_once, stderr);
                exit(2);
            }
            a->once = 1;
            break;
        case 'h': usage(name, allow_once, stdout); exit(0);
        case 'V': printf("%s %s\n", name, NEWSMON_VERSION); exit(0);
        default: usage(name, allow_once, stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", name, argv[optind]);
        usage(name, allow_once, stderr);
        exit(2);
    }
}

/* Checks what the schema cannot: the CURVE settings hang together and name readable keys. */
static int check_common(const struct nm_common_conf *c, nm_conf_errors *errs, const char *path)
{
    const struct { const char *key, *value; } files[] = {
        { "curve_server_secret_file", c->curve_server_secret_file },
        { "curve_server_public_file", c->curve_server_public_file },
        { "curve_client_secret_file", c->curve_client_secret_file },
        { "curve_client_public_file", c->curve_client_public_file },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(files); i++) {
        char key[41];
        nm_err err;
        if (*files[i].value && nm_curve_read_key(files[i].value, key, &err) < 0) {
            char *w = nm_daemon_conf_where("bus", files[i].key);
            nm_conf_errors_add(errs, "%s: [bus] %s: %s", w, files[i].key, err.msg);
            free(w);
        }
    }
    /* The server's public key alone is harmless (one file shared by every
       daemon of a host); a client's own keys make the daemon a client. */
    int client = *c->curve_client_secret_file || *c->curve_client_public_file;
    if (client && !(*c->curve_client_secret_file && *c->curve_client_public_file && *c->curve_server_public_file))
        nm_conf_errors_add(errs, "%s: [bus] a CURVE client needs curve_client_secret_file, "
                           "curve_client_public_file and curve_server_public_file", path);
    if (*c->curve_server_secret_file && !*c->curve_allowed_clients)
        nm_conf_errors_add(errs, "%s: [bus] curve_server_secret_file needs curve_allowed_clients "
                           "(a folder of the client public keys to admit)", path);
    return errs->n ? -1 : 0;
}

/* What nm_daemon_conf_where answers from during validation. */
static struct where {
    const char *path;
    const nm_conf_key *keys;
    size_t n;
    const int *lines;
} where;

char *nm_daemon_conf_where(const char *section, const char *key)
{
    for (size_t i = 0; i < where.n; i++) {
        if (strcmp(where.keys[i].section, section) || strcmp(where.keys[i].key, key))
            continue;
        if (where.lines[i] < 0)
            return nm_xstrdup("command line");
        if (where.lines[i] > 0)
            return nm_xasprintf("%s:%d", where.path, where.lines[i]);
        break;
    }
    return nm_xstrdup(where.path ? where.path : "configuration");
}

int nm_daemon_load_config(const struct nm_daemon_args *a, const nm_conf_key *schema, size_t n_schema,
                          void *conf, nm_conf_named_fn named, void *named_arg)
{
    return nm_daemon_load_config_checked(a, schema, n_schema, conf, named, named_arg, NULL);
}

int nm_daemon_load_config_checked(const struct nm_daemon_args *a, const nm_conf_key *schema, size_t n_schema,
                                  void *conf, nm_conf_named_fn named, void *named_arg,
                                  nm_daemon_validate_fn validate)
{
    size_t n = NM_ARRAY_LEN(common_keys) + n_schema;
    nm_conf_key *all = nm_xcalloc(n, sizeof *all);
    memcpy(all, common_keys, sizeof common_keys);
    memcpy(all + NM_ARRAY_LEN(common_keys), schema, n_schema * sizeof *schema);
    int *lines = nm_xcalloc(n, sizeof *lines);
    struct nm_conf_load_args la = { a->config, all, n, conf, a->overrides, a->n_overrides, named, named_arg, lines };
    nm_conf_errors errs = { 0 };
    nm_conf_load(&la, &errs);
    where = (struct where){ a->config, all, n, lines };
    check_common(conf, &errs, a->config);
    if (validate)
        validate(conf, a->config, &errs);
    where = (struct where){ 0 };
    free(lines);
    free(all);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    int failed = errs.n > 0;
    if (a->check_only) {
        if (!failed)
            printf("configuration OK\n");
        else
            fprintf(stderr, "%s: %zu error%s in the configuration\n", a->name, errs.n, errs.n == 1 ? "" : "s");
    }
    nm_conf_errors_clear(&errs);
    return failed ? -1 : 0;
}

void nm_daemon_free_config(const nm_conf_key *schema, size_t n_schema, void *conf)
{
    nm_conf_free(common_keys, NM_ARRAY_LEN(common_keys), conf);
    nm_conf_free(schema, n_schema, conf);
}

void nm_daemon_init_log(const struct nm_daemon_args *a, const struct nm_common_conf *c)
{
    int level = NM_LOG_INFO;
    if (!strcmp(c->log_level, "error"))
        level = NM_LOG_ERR;
    else if (!strcmp(c->log_level, "warning"))
        level = NM_LOG_WARN;
    else if (!strcmp(c->log_level, "debug"))
        level = NM_LOG_DEBUG;
    if (a->verbose)
        level = NM_LOG_DEBUG;
    enum nm_log_target t = NM_LOG_STDERR;
    if (!strcmp(c->log_target, "journal"))
        t = NM_LOG_JOURNAL;
    else if (!strcmp(c->log_target, "syslog"))
        t = NM_LOG_SYSLOG;
    else if (!strcmp(c->log_target, "auto") && !a->foreground && getenv("JOURNAL_STREAM"))
        t = NM_LOG_JOURNAL;
    nm_log_init(a->name, t, level);
}

/* The CURVE keys read by nm_daemon_secure_bus (empty: not configured). */
static char server_secret[41], server_public[41], client_secret[41], client_public[41];
static nm_zap *zap;

static void zap_log(void *arg, const char *client_key, const char *address, int admitted)
{
    if (admitted)
        log_debug("CURVE client %s from %s admitted", client_key, address);
    else
        log_warn("CURVE client %s from %s refused: its key is not in the allowed folder", client_key, address);
}

int nm_daemon_secure_bus(nm_loop *loop, const struct nm_common_conf *c, nm_err *err)
{
    const struct { const char *path; char *out; } keys[] = {
        { c->curve_server_secret_file, server_secret }, { c->curve_server_public_file, server_public },
        { c->curve_client_secret_file, client_secret }, { c->curve_client_public_file, client_public },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(keys); i++)
        if (*keys[i].path && nm_curve_read_key(keys[i].path, keys[i].out, err) < 0)
            return -1;
    if (*server_secret) {
        zap = nm_zap_start(loop, c->curve_allowed_clients, zap_log, NULL, err);
        if (!zap)
            return -1;
        log_info("CURVE: serving encrypted endpoints; %zu client key%s allowed from %s", nm_zap_allowed(zap),
                 nm_zap_allowed(zap) == 1 ? "" : "s", c->curve_allowed_clients);
    }
    if (*client_secret)
        log_info("CURVE: connecting as client %s", client_public);
    return 0;
}

void nm_daemon_secure_bus_stop(void)
{
    nm_zap_stop(&zap);
}

struct nm_bus_opts nm_daemon_bus_opts(const struct nm_common_conf *c)
{
    struct nm_bus_opts o = { 0 };
    o.sndhwm = o.rcvhwm = (int)c->hwm;
    o.linger_ms = (int)c->linger;
    o.maxmsgsize = c->max_message;
    if (*server_secret)
        o.curve_server_secret = server_secret;
    if (*client_secret) {
        o.curve_secret = client_secret;
        o.curve_public = client_public;
        o.curve_server_public = server_public;
    }
    return o;
}

static void watchdog_ping(nm_loop *loop, void *arg)
{
    nm_sd_notify("WATCHDOG=1");
}

void nm_daemon_ready(nm_loop *loop, const char *status)
{
    uint64_t usec = 0;
    if (nm_sd_watchdog_enabled(&usec) > 0) {
        int64_t ms = (int64_t)(usec / 2000);
        nm_loop_add_timer(loop, ms, ms, watchdog_ping, NULL);
    }
    nm_sd_notifyf("READY=1\nSTATUS=%s", status);
}

void nm_daemon_status(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nm_sd_notifyf("STATUS=%s", buf);
}

void nm_daemon_stopping(void)
{
    nm_sd_notify("STOPPING=1");
}

void nm_daemon_reloading(void)
{
    nm_sd_notify("RELOADING=1");
}

void nm_daemon_reloaded(void)
{
    nm_sd_notify("READY=1");
}

char *nm_daemon_control_name(const struct nm_common_conf *c, const char *kind)
{
    if (c->instance && *c->instance)
        return nm_xasprintf("%s-%s", kind, c->instance);
    return nm_xstrdup(kind);
}

const nm_conf_key *nm_daemon_common_keys(size_t *n)
{
    *n = NM_ARRAY_LEN(common_keys);
    return common_keys;
}
