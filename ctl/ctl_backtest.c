/*
 * newsmonctl rules backtest and rules reclassify: the rule language's
 * operator tools that need the store.
 *
 * backtest runs a candidate rules folder and the rules in force over the
 * stored articles (the current version of each, within --since) and lists,
 * per theme, the articles that would newly fire and those that would stop
 * firing: what a change will do, before it is reloaded. Nothing is written.
 *
 * reclassify applies the rules in force to stored articles and replaces
 * their theme matches (tagged with the rule set's version). It creates no
 * alerts: re-alerting old news after a rule change would flood the desk.
 *
 * "The rules in force" is the folder of [classifier] rules in the
 * configuration (-c), or --current DIR.
 */
#include "classifier/rules.h"
#include "common/nm_conf.h"
#include "ctl/ctl.h"
#include "store/store_db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bt_opts {
    const char *candidate;   /* --rules DIR (backtest) */
    const char *current;     /* --current DIR, else the configuration's */
    int64_t since;           /* epoch s; 0 = all */
    int json;
    int limit;               /* articles listed per theme and direction */
};

/* Reads [classifier] rules from the configuration. Returns malloc'd or NULL. */
static char *rules_in_force(void)
{
    struct { char *rules; } c = { NULL };
    static const nm_conf_key key[] = {
        { "classifier", "rules", NM_CONF_STRING, 0, "/etc/newsmon/rules.d", 1, 0, "" },
    };
    struct nm_conf_load_args a = { nm_ctl.config, key, 1, &c, NULL, 0, NULL, NULL };
    nm_conf_errors errs = { 0 };
    if (nm_conf_load(&a, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            ctl_error("%s", errs.msg[i]);
        nm_conf_errors_clear(&errs);
        free(c.rules);
        ctl_error("cannot tell the rules in force from %s: give --current DIR", nm_ctl.config);
        return NULL;
    }
    return c.rules;
}

static rule_set *load(const char *dir, const char *what)
{
    rule_diags d;
    rule_diags_init(&d);
    rule_set *rs = rule_set_load(dir, &d);
    if (!rs) {
        for (size_t i = 0; i < d.n; i++)
            if (d.items[i].is_error)
                fprintf(stderr, "%s\n", d.items[i].text);
        ctl_error("%s rules %s have %zu error%s", what, dir, d.n_errors, d.n_errors == 1 ? "" : "s");
    }
    rule_diags_clear(&d);
    return rs;
}

static int parse_duration_back(const char *s, int64_t *out)
{
    int64_t ms;
    size_t n = strlen(s);
    char buf[64];
    if (n && n < sizeof buf - 1 && s[n - 1] == 'w') {   /* weeks: 2w */
        snprintf(buf, sizeof buf, "%.*sd", (int)(n - 1), s);
        if (nm_conf_parse_duration(buf, &ms) < 0)
            return -1;
        ms *= 7;
    } else if (nm_conf_parse_duration(s, &ms) < 0) {
        return -1;
    }
    *out = (int64_t)time(NULL) - ms / 1000;
    return 0;
}

static int parse_opts(int argc, char **argv, struct bt_opts *o, int need_candidate, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->limit = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--rules") && has && need_candidate)
            o->candidate = argv[++i];
        else if (!strcmp(a, "--current") && has)
            o->current = argv[++i];
        else if (!strcmp(a, "--db") && has)
            nm_ctl.db = argv[++i];
        else if (!strcmp(a, "--since") && has) {
            if (parse_duration_back(argv[++i], &o->since) < 0) {
                ctl_error("--since '%s': give a duration such as 12h, 30d or 2w", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--limit") && has)
            o->limit = atoi(argv[++i]);
        else if (!strcmp(a, "--json"))
            o->json = 1;
        else {
            ctl_error("unknown argument '%s' (usage: %s)", a, usage);
            return 2;
        }
    }
    if (need_candidate && !o->candidate) {
        ctl_error("usage: %s", usage);
        return 2;
    }
    return 0;
}

/* One stored article, as the classifier saw it. */
struct stored {
    int64_t version_id;
    nm_article a;
};

static char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? nm_xstrdup((const char *)t) : NULL;
}

static const char article_sql[] =
    "SELECT v.id, a.ext_id, a.link, v.title, v.summary, v.text, v.lang, a.published, f.url, f.title"
    " FROM articles a JOIN versions v ON v.id = a.current_version_id"
    " LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.ts >= ?1 ORDER BY a.ts, a.id";

static void read_stored(sqlite3_stmt *st, struct stored *s)
{
    s->version_id = sqlite3_column_int64(st, 0);
    nm_article_init(&s->a);
    s->a.id = col(st, 1);
    s->a.link = col(st, 2);
    s->a.title = col(st, 3);
    s->a.summary = col(st, 4);
    s->a.text = col(st, 5);
    s->a.lang = col(st, 6);
    s->a.published = col(st, 7);
    s->a.feed = col(st, 8);
    s->a.feed_title = col(st, 9);
}

static int fired(nm_theme_hit *hits, size_t n, const char *theme)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(hits[i].id, theme))
            return 1;
    return 0;
}

/* The changes of one theme. */
struct theme_diff {
    char *id;
    json_t *gained;   /* articles that newly fire */
    json_t *lost;     /* articles that stop firing */
};

static struct theme_diff *diff_for(struct theme_diff **d, size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*d)[i].id, id))
            return &(*d)[i];
    *d = nm_xrealloc(*d, (*n + 1) * sizeof **d);
    (*d)[*n] = (struct theme_diff){ nm_xstrdup(id), json_array(), json_array() };
    return &(*d)[(*n)++];
}

static json_t *article_ref(const nm_article *a)
{
    return json_pack("{s:s, s:s?, s:s?, s:s?}", "id", a->id, "title", a->title, "link", a->link,
                     "published", a->published);
}

/* Compares the two rule sets on one article, recording the differences. */
static void compare(const rule_set *cand, const rule_set *cur, const nm_article *a, struct theme_diff **d, size_t *nd)
{
    nm_theme_hit *hc, *ho;
    size_t nc, no;
    rule_set_classify(cand, a, &hc, &nc);
    rule_set_classify(cur, a, &ho, &no);
    for (size_t i = 0; i < nc; i++)
        if (!fired(ho, no, hc[i].id))
            json_array_append_new(diff_for(d, nd, hc[i].id)->gained, article_ref(a));
    for (size_t i = 0; i < no; i++)
        if (!fired(hc, nc, ho[i].id))
            json_array_append_new(diff_for(d, nd, ho[i].id)->lost, article_ref(a));
    rule_hits_free(&hc, nc);
    rule_hits_free(&ho, no);
}

static void print_list(const char *sign, json_t *list, int limit)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if ((int)i >= limit) {
            printf("    ... and %zu more\n", json_array_size(list) - i);
            break;
        }
        const char *pub = json_string_value(json_object_get(v, "published"));
        printf("    %s %.10s  %s  (%s)\n", sign, pub ? pub : "          ",
               json_string_value(json_object_get(v, "title")) ? json_string_value(json_object_get(v, "title")) : "",
               json_string_value(json_object_get(v, "id")));
    }
}

static store_db *open_db(int read_only)
{
    struct store_options opt;
    store_options_default(&opt);
    opt.read_only = read_only;
    opt.skip_check = 1;
    nm_err err;
    store_db *db = store_db_open(nm_ctl.db ? nm_ctl.db : STORE_DEFAULT_PATH, &opt, &err);
    if (!db)
        ctl_error("%s", err.msg);
    return db;
}

static int cmd_backtest(int argc, char **argv)
{
    static const char usage[] = "rules backtest --rules DIR [--current DIR] [--db PATH] [--since 30d] [--json] [--limit N]";
    struct bt_opts o;
    int r = parse_opts(argc, argv, &o, 1, usage);
    if (r)
        return r;
    char *current = o.current ? nm_xstrdup(o.current) : rules_in_force();
    rule_set *cand = load(o.candidate, "candidate"), *cur = current ? load(current, "in-force") : NULL;
    store_db *db = cand && cur ? open_db(1) : NULL;
    if (!db) {
        rule_set_destroy(&cand);
        rule_set_destroy(&cur);
        free(current);
        return 1;
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(store_db_handle(db), article_sql, -1, &st, NULL);
    sqlite3_bind_int64(st, 1, o.since);
    struct theme_diff *d = NULL;
    size_t nd = 0, n_articles = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct stored s;
        read_stored(st, &s);
        compare(cand, cur, &s.a, &d, &nd);
        nm_article_clear(&s.a);
        n_articles++;
    }
    sqlite3_finalize(st);
    if (o.json) {
        json_t *themes = json_object();
        for (size_t i = 0; i < nd; i++)
            json_object_set_new(themes, d[i].id, json_pack("{s:O, s:O}", "newly_fire", d[i].gained, "stop_firing", d[i].lost));
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "candidate", o.candidate, "candidate_version",
                              rule_set_version(cand), "current", current, "current_version", rule_set_version(cur),
                              "articles", (json_int_t)n_articles, "themes", themes);
        char *text = json_dumps(j, JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(j);
    } else {
        printf("backtest: %zu stored article%s; candidate %s (%.12s) against the rules in force %s (%.12s)\n",
               n_articles, n_articles == 1 ? "" : "s", o.candidate, rule_set_version(cand), current,
               rule_set_version(cur));
        if (!nd)
            printf("no theme changes on any article\n");
        for (size_t i = 0; i < nd; i++) {
            printf("theme %s: %zu newly fire, %zu stop firing\n", d[i].id, json_array_size(d[i].gained),
                   json_array_size(d[i].lost));
            print_list("+", d[i].gained, o.limit);
            print_list("-", d[i].lost, o.limit);
        }
    }
    for (size_t i = 0; i < nd; i++) {
        free(d[i].id);
        json_decref(d[i].gained);
        json_decref(d[i].lost);
    }
    free(d);
    store_db_close(&db);
    rule_set_destroy(&cand);
    rule_set_destroy(&cur);
    free(current);
    return 0;
}

/* Replaces the matches of one version. Returns 0 or -1. */
static int replace_matches(sqlite3 *h, int64_t version_id, const char *ruleset, nm_theme_hit *hits, size_t n)
{
    sqlite3_stmt *del, *ins, *upd;
    int ok = sqlite3_prepare_v2(h, "DELETE FROM matches WHERE version_id = ?1", -1, &del, NULL) == SQLITE_OK;
    ok &= sqlite3_prepare_v2(h, "INSERT INTO matches(version_id, theme, severity, score, ruleset, explanation)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &ins, NULL) == SQLITE_OK;
    ok &= sqlite3_prepare_v2(h, "UPDATE versions SET ruleset = ?2 WHERE id = ?1", -1, &upd, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(del, 1, version_id);
        ok = sqlite3_step(del) == SQLITE_DONE;
        for (size_t i = 0; ok && i < n; i++) {
            char *expl = json_dumps(hits[i].matches, JSON_COMPACT);
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, version_id);
            sqlite3_bind_text(ins, 2, hits[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 3, hits[i].severity, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 4, hits[i].score);
            sqlite3_bind_text(ins, 5, ruleset, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 6, expl ? expl : "[]", -1, SQLITE_TRANSIENT);
            ok = sqlite3_step(ins) == SQLITE_DONE;
            free(expl);
        }
        sqlite3_bind_int64(upd, 1, version_id);
        sqlite3_bind_text(upd, 2, ruleset, -1, SQLITE_STATIC);
        ok = ok && sqlite3_step(upd) == SQLITE_DONE;
    }
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return ok ? 0 : -1;
}

static int cmd_reclassify(int argc, char **argv)
{
    static const char usage[] = "rules reclassify [--current DIR] [--db PATH] [--since 30d]";
    struct bt_opts o;
    int r = parse_opts(argc, argv, &o, 0, usage);
    if (r)
        return r;
    char *current = o.current ? nm_xstrdup(o.current) : rules_in_force();
    rule_set *rs = current ? load(current, "in-force") : NULL;
    store_db *db = rs ? open_db(0) : NULL;
    if (!db) {
        rule_set_destroy(&rs);
        free(current);
        return 1;
    }
    sqlite3 *h = store_db_handle(db);
    sqlite3_stmt *st;
    nm_err err;
    sqlite3_prepare_v2(h, article_sql, -1, &st, NULL);
    sqlite3_bind_int64(st, 1, o.since);
    size_t n = 0, changed = 0, failed = 0;
    if (store_begin(db, &err) < 0) {
        ctl_error("%s", err.msg);
        failed = 1;
    }
    while (!failed && sqlite3_step(st) == SQLITE_ROW) {
        struct stored s;
        read_stored(st, &s);
        nm_theme_hit *hits;
        size_t nh;
        rule_set_classify(rs, &s.a, &hits, &nh);
        if (replace_matches(h, s.version_id, rule_set_version(rs), hits, nh) < 0) {
            ctl_error("article %s: %s", s.a.id, sqlite3_errmsg(h));
            failed++;
        }
        changed += nh > 0;
        n++;
        rule_hits_free(&hits, nh);
        nm_article_clear(&s.a);
    }
    sqlite3_finalize(st);
    if (failed || store_commit(db, &err) < 0) {
        if (!failed)
            ctl_error("commit: %s", err.msg);
        store_rollback(db, NULL);
        ctl_error("nothing changed");
    } else {
        printf("reclassified %zu article%s with %s (%.12s): %zu with themes\n", n, n == 1 ? "" : "s", current,
               rule_set_version(rs), changed);
    }
    store_db_close(&db);
    rule_set_destroy(&rs);
    free(current);
    return failed ? 1 : 0;
}

NM_CTL_COMMAND("rules", "backtest", "--rules DIR [--current DIR] [--since 30d] [--json]",
               "what a candidate rules folder would change on stored articles, per theme", cmd_backtest)
NM_CTL_COMMAND("rules", "reclassify", "[--current DIR] [--since 30d]",
               "apply the rules in force to stored articles (replaces their matches; no alerts)", cmd_reclassify)
