/*
 * newsmonctl status, metrics and rules reload: ask the running daemons over
 * their control sockets (common/nm_control.h).
 *
 * The control folder comes from [bus] control_dir of the configuration
 * (-c, default /etc/newsmon/newsmon.conf), or --control-dir. Every socket
 * in it is asked, so several fetchers or classifiers on one host (each with
 * its own [bus] instance) all show; a kind with no socket shows as down.
 */
#include "common/nm_control.h"
#include "common/nm_daemon.h"
#include "ctl/ctl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = { "fetcher", "classifier", "store", "notifier" };

/* Finds the control folder: --control-dir, else the configuration's. Returns malloc'd or NULL. */
static char *control_dir(const char *given)
{
    if (given)
        return nm_xstrdup(given);
    size_t n;
    const nm_conf_key *keys = nm_daemon_common_keys(&n);
    struct nm_common_conf c;
    memset(&c, 0, sizeof c);
    struct nm_conf_load_args a = { nm_ctl.config, keys, n, &c, NULL, 0, NULL, NULL };
    nm_conf_errors errs = { 0 };
    if (nm_conf_load(&a, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            ctl_error("%s", errs.msg[i]);
        nm_conf_errors_clear(&errs);
        nm_conf_free(keys, n, &c);
        ctl_error("cannot read the control folder from %s (give --control-dir DIR)", nm_ctl.config);
        return NULL;
    }
    char *dir = nm_xstrdup(c.control_dir);
    nm_conf_free(keys, n, &c);
    return dir;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the daemon names with a socket in dir (sorted), plus each kind without one. */
static char **list_daemons(const char *dir, size_t *n)
{
    char **names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ctl"))
            continue;
        names = nm_xrealloc(names, (*n + 1) * sizeof *names);
        names[(*n)++] = nm_xstrndup(e->d_name, len - 4);
    }
    if (d)
        closedir(d);
    for (size_t k = 0; k < NM_ARRAY_LEN(kinds); k++) {
        int seen = 0;
        for (size_t i = 0; i < *n; i++)
            seen |= !strncmp(names[i], kinds[k], strlen(kinds[k]));
        if (!seen) {
            names = nm_xrealloc(names, (*n + 1) * sizeof *names);
            names[(*n)++] = nm_xstrdup(kinds[k]);
        }
    }
    qsort(names, *n, sizeof *names, by_name);
    return names;
}

/* Prints one Prometheus sample per number in obj (nested objects flattened with _). */
static void prometheus(const char *daemon, const char *prefix, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char *name = nm_xasprintf("%s%s", prefix, key);
        for (char *p = name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        if (json_is_object(v)) {
            char *sub = nm_xasprintf("%s_", name);
            prometheus(daemon, sub, v);
            free(sub);
        } else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
            double x = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
            if (strcmp(name, "pid"))
                printf("newsmon_%s{daemon=\"%s\"} %.17g\n", name, daemon, x);
        }
        free(name);
    }
}

static void print_human(const char *name, json_t *r, const char *error)
{
    if (!r) {
        printf("%-14s down      %s\n", name, error);
        return;
    }
    printf("%-14s up        since %s (pid %lld)\n", name, json_string_value(json_object_get(r, "started")),
           (long long)json_integer_value(json_object_get(r, "pid")));
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v) {
        if (!strcmp(key, "daemon") || !strcmp(key, "pid") || !strcmp(key, "started") || !strcmp(key, "version"))
            continue;
        char *text = json_is_string(v) ? nm_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("    %-24s %s\n", key, text ? text : "");
        free(text);
    }
}

static int cmd_status(int argc, char **argv)
{
    const char *given = NULL;
    int json = 0, prom = 0, timeout = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--prometheus"))
            prom = 1;
        else if (!strcmp(argv[i], "--control-dir") && i + 1 < argc)
            given = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = atoi(argv[++i]);
        else {
            ctl_error("status: unknown argument '%s' (usage: status [--json|--prometheus] [--control-dir DIR])", argv[i]);
            return 2;
        }
    }
    char *dir = control_dir(given);
    if (!dir)
        return 1;
    size_t n;
    char **names = list_daemons(dir, &n);
    json_t *all = json_object();
    int down = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = NULL;
        nm_err err;
        if (nm_control_request(dir, names[i], "status", timeout, &r, &err) < 0) {
            down++;
            r = NULL;
        }
        if (json) {
            json_object_set_new(all, names[i], r ? r : json_pack("{s:b, s:s}", "up", 0, "error", err.msg));
            if (r)
                json_object_set_new(r, "up", json_true());
        } else if (prom) {
            printf("newsmon_up{daemon=\"%s\"} %d\n", names[i], r != NULL);
            if (r)
                prometheus(names[i], "", r);
            json_decref(r);
        } else {
            print_human(names[i], r, r ? NULL : err.msg);
            json_decref(r);
        }
        free(names[i]);
    }
    if (json) {
        char *s = json_dumps(all, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(all);
    free(names);
    free(dir);
    return down ? 1 : 0;
}

static int cmd_reload(int argc, char **argv)
{
    const char *given = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--control-dir") && i + 1 < argc) {
            given = argv[++i];
        } else {
            ctl_error("rules reload: unknown argument '%s' (usage: rules reload [--control-dir DIR])", argv[i]);
            return 2;
        }
    }
    char *dir = control_dir(given);
    if (!dir)
        return 1;
    size_t n;
    char **names = list_daemons(dir, &n);
    int asked = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "classifier", 10)) {
            free(names[i]);
            continue;
        }
        json_t *r = NULL;
        nm_err err;
        asked++;
        if (nm_control_request(dir, names[i], "reload", 30000, &r, &err) < 0) {
            printf("%s: %s\n", names[i], err.msg);
            refused++;
        } else {
            int ok = json_is_true(json_object_get(r, "ok"));
            printf("%s: %s\n", names[i], json_string_value(json_object_get(r, "message")));
            refused += !ok;
            json_decref(r);
        }
        free(names[i]);
    }
    free(names);
    free(dir);
    if (!asked)
        ctl_error("no classifier found");
    return refused || !asked ? 1 : 0;
}

NM_CTL_COMMAND(NULL, "status", "[--json|--prometheus] [--control-dir DIR]",
               "ask every running daemon how it is (Prometheus text with --prometheus)", cmd_status)
NM_CTL_COMMAND("rules", "reload", "[--control-dir DIR]",
               "make every running classifier reload its rules folder (refused whole on any error)", cmd_reload)
