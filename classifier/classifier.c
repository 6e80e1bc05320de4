/*
 * newsmon-classifier: tags each article with the themes of the rule set.
 *
 * Pulls "article" messages from the fetchers (connecting to [bus]
 * fetch_out), evaluates the compiled rule set (classifier/rules.h) and
 * pushes a "classified" message (article, themes with their explanations,
 * rule-set version) to the store ([bus] store_in). It keeps no state: any
 * number of classifiers may run side by side on one queue, and a message
 * lost here is re-sent by the fetcher because the store never confirmed it.
 *
 * SIGHUP reloads the rules folder: a new rule set is built and swapped in
 * only when the folder has no error; otherwise every error is logged and
 * the rules in force stay.
 */
#include "classifier/rules.h"
#include "common/nm_bus.h"
#include "common/nm_control.h"
#include "common/nm_daemon.h"
#include "common/nm_log.h"
#include "common/nm_msg.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct classifier_conf {
    struct nm_common_conf common;   /* must come first */
    char *rules;                    /* the rules folder */
};

#define O(f) offsetof(struct classifier_conf, f)
static const nm_conf_key classifier_keys[] = {
    { "classifier", "rules", NM_CONF_STRING, O(rules), "/etc/newsmon/rules.d", 1, 0,
      "folder of *.rules files" },
};
#undef O

struct classifier {
    struct classifier_conf conf;
    rule_set *rules;          /* the rules in force */
    void *in;                 /* PULL from the fetchers */
    void *out;                /* PUSH to the store */
    nm_control *control;      /* status and reload requests from newsmonctl */
    int64_t rules_loaded;     /* when the rules in force were loaded (epoch s) */
    uint64_t n_in, n_out, n_bad, n_dropped, n_fired, n_reloads, n_reload_refused;
};

/* Loads the rules folder, logging every diagnostic. Returns the set or NULL. */
static rule_set *load_rules(const char *dir)
{
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(dir, &d);
    for (size_t i = 0; i < d.n; i++)
        nm_log(d.items[i].is_error ? NM_LOG_ERR : NM_LOG_WARN, "%s", d.items[i].text);
    if (!rs)
        log_err("rules folder %s refused: %zu error%s", dir, d.n_errors, d.n_errors == 1 ? "" : "s");
    rule_diags_clear(&d);
    return rs;
}

static void log_rules_in_force(const struct classifier *c, const char *what)
{
    rule_set_stats st;
    rule_set_get_stats(c->rules, &st);
    log_info("%s rules from %s: %zu themes, %zu terms, version %.12s", what, c->conf.rules, st.themes,
             st.terms, rule_set_version(c->rules));
    nm_daemon_status("rules %.12s: %zu themes", rule_set_version(c->rules), st.themes);
}

/* Builds a new rule set from the folder and swaps it in; on any error the
   rules in force stay. Returns 0 or -1, with a message for the operator. */
static int reload_rules(void *arg, char **message)
{
    struct classifier *c = arg;
    nm_daemon_reloading();
    rule_set *rs = load_rules(c->conf.rules);
    int r = 0;
    if (rs) {
        rule_set_destroy(&c->rules);
        c->rules = rs;
        c->rules_loaded = time(NULL);
        c->n_reloads++;
        log_rules_in_force(c, "reloaded");
        *message = nm_xasprintf("rules reloaded from %s: version %s", c->conf.rules, rule_set_version(rs));
    } else {
        c->n_reload_refused++;
        log_warn("keeping the rules in force (version %.12s)", rule_set_version(c->rules));
        *message = nm_xasprintf("rules folder %s refused (see the classifier's log, or run newsmonctl rules "
                                "check %s); keeping version %s", c->conf.rules, c->conf.rules,
                                rule_set_version(c->rules));
        r = -1;
    }
    nm_daemon_reloaded();
    return r;
}

static void on_signal(nm_loop *loop, int signo, void *arg)
{
    char *msg = NULL;
    if (signo == SIGHUP)
        reload_rules(arg, &msg);
    free(msg);
}

static void status(json_t *j, void *arg)
{
    struct classifier *c = arg;
    rule_set_stats st;
    rule_set_get_stats(c->rules, &st);
    char when[32];
    nm_control_time(c->rules_loaded, when, sizeof when);
    json_object_set_new(j, "rules", json_pack("{s:s, s:s, s:s, s:I, s:I}", "folder", c->conf.rules,
                                              "version", rule_set_version(c->rules), "loaded", when,
                                              "themes", (json_int_t)st.themes, "terms", (json_int_t)st.terms));
    json_object_set_new(j, "messages_in", json_integer((json_int_t)c->n_in));
    json_object_set_new(j, "messages_out", json_integer((json_int_t)c->n_out));
    json_object_set_new(j, "articles_with_themes", json_integer((json_int_t)c->n_fired));
    json_object_set_new(j, "malformed", json_integer((json_int_t)c->n_bad));
    json_object_set_new(j, "not_passed_on", json_integer((json_int_t)c->n_dropped));
    json_object_set_new(j, "reloads", json_integer((json_int_t)c->n_reloads));
    json_object_set_new(j, "reloads_refused", json_integer((json_int_t)c->n_reload_refused));
}

/* Classifies one article and sends the result. */
static void classify_one(struct classifier *c, nm_article *a)
{
    nm_classified out;
    nm_classified_init(&out);
    out.article = *a;          /* borrowed for the send; cleared by the caller */
    out.ruleset = (char *)rule_set_version(c->rules);
    rule_set_classify(c->rules, a, &out.themes, &out.n_themes);
    json_t *j = nm_classified_to_json(&out);
    nm_err err;
    int r = nm_bus_send(c->out, NM_MSG_CLASSIFIED, j, 1, &err);
    if (r == 0) {
        c->n_out++;
        c->n_fired += out.n_themes > 0;
        log_debug("classified %s: %zu theme%s", a->id, out.n_themes, out.n_themes == 1 ? "" : "s");
    } else {
        c->n_dropped++;
        log_warn("article %s not passed on (%s); the fetcher re-sends it until the store confirms it",
                 a->id, r > 0 ? "store queue full" : err.msg);
    }
    json_decref(j);
    rule_hits_free(&out.themes, out.n_themes);
}

static void on_article(nm_loop *loop, void *sock, void *arg)
{
    struct classifier *c = arg;
    nm_msg_type t;
    json_t *body;
    nm_err err;
    int r;
    while ((r = nm_bus_recv(sock, &t, &body, &err)) != 1) {
        if (r < 0) {
            c->n_bad++;
            log_warn("dropped a malformed message: %s", err.msg);
            continue;
        }
        c->n_in++;
        if (t != NM_MSG_ARTICLE) {
            c->n_bad++;
            log_warn("dropped a \"%s\" message: the classifier takes only \"article\"", nm_msg_type_name(t));
        } else {
            nm_article a;
            if (nm_article_msg_from_json(body, &a, &err) < 0) {
                c->n_bad++;
                log_warn("dropped a malformed article message: %s", err.msg);
            } else {
                classify_one(c, &a);
                nm_article_clear(&a);
            }
        }
        json_decref(body);
    }
}

/* The rules are part of the configuration a -n run checks. */
static void check_rules(void *conf, const char *path, nm_conf_errors *errs)
{
    const struct classifier_conf *c = conf;
    DIR *dir = opendir(c->rules);
    if (!dir) {
        char *w = nm_daemon_conf_where("classifier", "rules");
        nm_conf_errors_add(errs, "%s: [classifier] rules: %s: %s", w, c->rules, strerror(errno));
        free(w);
        return;
    }
    closedir(dir);
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(c->rules, &d);
    for (size_t i = 0; i < d.n; i++)
        if (d.items[i].is_error)
            nm_conf_errors_add(errs, "%s", d.items[i].text);
    if (!rs && !d.n_errors)
        nm_conf_errors_add(errs, "%s: [classifier] rules: %s holds no usable rules", path, c->rules);
    rule_set_destroy(&rs);
    rule_diags_clear(&d);
}

int main(int argc, char **argv)
{
    struct nm_daemon_args args;
    nm_daemon_parse_args(argc, argv, "newsmon-classifier", 0, &args);
    static struct classifier c;
    int failed = nm_daemon_load_config_checked(&args, classifier_keys, NM_ARRAY_LEN(classifier_keys), &c.conf,
                                               NULL, NULL, args.check_only ? check_rules : NULL);
    if (args.check_only || failed) {
        nm_daemon_free_config(classifier_keys, NM_ARRAY_LEN(classifier_keys), &c.conf);
        free(args.overrides);
        return failed ? 1 : 0;
    }
    nm_daemon_init_log(&args, &c.conf.common);

    c.rules = load_rules(c.conf.rules);
    if (!c.rules)
        fatal("cannot start without a valid rules folder");
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    if (!loop)
        fatal("%s", err.msg);
    if (nm_daemon_secure_bus(loop, &c.conf.common, &err) < 0)
        fatal("CURVE: %s", err.msg);
    struct nm_bus_opts o = nm_daemon_bus_opts(&c.conf.common);
    c.in = nm_bus_socket(ZMQ_PULL, c.conf.common.fetch_out, 0, &o, &err);
    if (!c.in)
        fatal("[bus] fetch_out: %s", err.msg);
    c.out = nm_bus_socket(ZMQ_PUSH, c.conf.common.store_in, 0, &o, &err);
    if (!c.out)
        fatal("[bus] store_in: %s", err.msg);
    nm_loop_add_socket(loop, c.in, on_article, &c);
    nm_loop_on_signal(loop, on_signal, &c);
    c.rules_loaded = time(NULL);
    char *ctl_name = nm_daemon_control_name(&c.conf.common, "classifier");
    c.control = nm_control_open(loop, c.conf.common.control_dir, ctl_name, status, reload_rules, &c, &err);
    if (!c.control)
        fatal("control socket in %s: %s", c.conf.common.control_dir, err.msg);
    free(ctl_name);

    log_rules_in_force(&c, "loaded");
    nm_daemon_ready(loop, "classifying");
    int sig = nm_loop_run(loop);
    nm_daemon_stopping();
    log_info("stopping%s: %llu articles in, %llu out (%llu with themes), %llu malformed, %llu not passed on",
             sig ? " on signal" : "", (unsigned long long)c.n_in, (unsigned long long)c.n_out,
             (unsigned long long)c.n_fired, (unsigned long long)c.n_bad, (unsigned long long)c.n_dropped);
    nm_control_close(&c.control);
    nm_bus_close(&c.in);
    nm_bus_close(&c.out);
    nm_daemon_secure_bus_stop();
    nm_bus_term();
    nm_loop_destroy(&loop);
    rule_set_destroy(&c.rules);
    nm_daemon_free_config(classifier_keys, NM_ARRAY_LEN(classifier_keys), &c.conf);
    free(args.overrides);
    return 0;
}
