/*
 * nm_daemon: what the four daemons do alike at start-up and in their loop:
 * the command line (-c FILE, -n, -v, -f, -o section.key=value), loading the
 * configuration (the common [bus] and [log] keys plus the daemon's own
 * schema), choosing where logs go, and talking to systemd (READY, STATUS,
 * STOPPING, watchdog pings from the loop).
 *
 * A daemon's config struct starts with a struct nm_common_conf, so the
 * common keys' offsets are valid in every daemon's struct.
 */
#ifndef NM_DAEMON_H
#define NM_DAEMON_H

#include "common/nm_bus.h"
#include "common/nm_conf.h"

struct nm_common_conf {
    /* [bus] */
    char *fetch_out;       /* fetcher PUSH binds; classifiers connect */
    char *store_in;        /* store PULL binds; classifiers and notifiers connect */
    char *store_events;    /* store PUB binds ("stored" confirmations); fetchers connect */
    char *alerts;          /* store PUSH binds; notifiers connect */
    char *control_dir;     /* each daemon binds ipc://<dir>/<name>.ctl for status */
    char *instance;        /* "" or a name telling apart several daemons of a kind on one host */
    int64_t hwm;           /* high-water mark, messages */
    int64_t max_message;   /* bytes */
    int64_t linger;        /* ms */
    char *curve_server_secret_file;
    char *curve_server_public_file;
    char *curve_client_secret_file;
    char *curve_client_public_file;
    char *curve_allowed_clients;   /* folder of *.key public keys a server admits */
    /* [log] */
    char *log_level;       /* error, warning, info, debug */
    char *log_target;      /* auto, stderr, journal, syslog */
};

struct nm_daemon_args {
    const char *name;        /* "newsmon-fetcher" */
    const char *config;      /* -c */
    int check_only;          /* -n */
    int verbose;             /* -v (repeatable) */
    int foreground;          /* -f: log to stderr with times */
    int once;                /* --once (daemons that support it) */
    char **overrides;        /* -o section.key=value */
    size_t n_overrides;
};

#define NM_DEFAULT_CONFIG "/etc/newsmon/newsmon.conf"

/* Parses the command line. allow_once: whether --once is accepted.
   Returns 0, or exits 2 with usage on a bad option (start-up only). */
void nm_daemon_parse_args(int argc, char **argv, const char *name, int allow_once,
                          struct nm_daemon_args *a);

/* Loads the configuration into conf (which starts with struct
   nm_common_conf), with the daemon's schema appended to the common one.
   Prints every error to stderr. With -n, prints "configuration OK" or the
   errors and exits. Returns 0 on success, -1 on errors (caller exits). */
int nm_daemon_load_config(const struct nm_daemon_args *a, const nm_conf_key *schema, size_t n_schema,
                          void *conf, nm_conf_named_fn named, void *named_arg);
/* Checks a loaded configuration beyond the schema (values that depend on
   each other, files it names); adds every problem to errs. */
typedef void (*nm_daemon_validate_fn)(void *conf, const char *path, nm_conf_errors *errs);
/* For a validation step: where [section] key was set, as "FILE:LINE", or
   "command line", or "FILE" when the default applies (malloc'd). Valid
   during nm_daemon_load_config_checked's validation step. */
char *nm_daemon_conf_where(const char *section, const char *key);
/* nm_daemon_load_config with a validation step run before the verdict. */
int nm_daemon_load_config_checked(const struct nm_daemon_args *a, const nm_conf_key *schema, size_t n_schema,
                                  void *conf, nm_conf_named_fn named, void *named_arg,
                                  nm_daemon_validate_fn validate);
/* The common [bus] and [log] keys (offsets into struct nm_common_conf),
   for tools that read only those from the daemons' configuration. */
const nm_conf_key *nm_daemon_common_keys(size_t *n);

/* Releases the strings of conf. */
void nm_daemon_free_config(const nm_conf_key *schema, size_t n_schema, void *conf);

/* Sets up logging from the config and -v/-f. */
void nm_daemon_init_log(const struct nm_daemon_args *a, const struct nm_common_conf *c);

/* Sets up CURVE from the [bus] curve_* keys, when they are set: reads the
   key files, and, when this daemon has a server secret key, starts the ZAP
   handler that admits only the client keys in curve_allowed_clients
   (refusals are logged). Call after nm_loop_new and before any socket is
   made. Returns 0 (also when CURVE is not configured), or -1 with err. */
int nm_daemon_secure_bus(nm_loop *loop, const struct nm_common_conf *c, nm_err *err);
void nm_daemon_secure_bus_stop(void);

/* Socket options from the [bus] keys, with the CURVE keys that
   nm_daemon_secure_bus read. */
struct nm_bus_opts nm_daemon_bus_opts(const struct nm_common_conf *c);

/* Returns the control socket name of this daemon: kind ("fetcher"), or
   "kind-instance" when [bus] instance is set (malloc'd). */
char *nm_daemon_control_name(const struct nm_common_conf *c, const char *kind);

/* systemd: READY=1 and watchdog pings on loop (when WatchdogSec is set). */
void nm_daemon_ready(nm_loop *loop, const char *status);
void nm_daemon_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nm_daemon_stopping(void);
/* RELOADING=1 before a reload, READY=1 after it. */
void nm_daemon_reloading(void);
void nm_daemon_reloaded(void);

#endif
