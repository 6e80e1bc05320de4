/*
 * newsmonctl's store commands: read-only questions to the database
 * (export, search, articles, show, alerts, stories, stats) and the online
 * backup. They open the database read-only, so they are safe while
 * newsmon-store runs (WAL: readers never block the writer).
 *
 * Output is a table for people by default and JSON with --json (one
 * object per line for lists). `export --format jsonl` is a contract: one
 * object per stored article with id, title, link, published, feed and
 * themes (the theme ids of the article's current version).
 *
 * Time filters (--since) take a duration back from now (30m, 12h, 7d, 2w)
 * or a date (2026-01-31, or any form nm_time reads) and apply to the
 * article's time: its published date, or when it was first stored.
 */
#include <ctype.h>
#include <stdint.h>
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/nm_time.h"
#include "common/nm_util.h"
#include "ctl/ctl.h"
#include "store/store_db.h"

/* Themes of a version as a JSON array of ids, sorted. */
#define SQL_THEMES(vid)                                                                 \
    "(SELECT json_group_array(theme) FROM (SELECT theme FROM matches WHERE version_id = " \
    vid " ORDER BY theme))"

static const char *db_path(void)
{
    return nm_ctl.db ? nm_ctl.db : STORE_DEFAULT_PATH;
}

/* Opens the database read-only. Returns it, or NULL after printing why. */
static store_db *open_ro(void)
{
    struct store_options opt;
    store_options_default(&opt);
    opt.read_only = 1;
    opt.skip_check = 1;   /* queries must be quick; newsmon-store checks at start */
    nm_err err;
    store_db *db = store_db_open(db_path(), &opt, &err);
    if (!db)
        ctl_error("%s", err.msg);
    return db;
}

/* Prepares sql on db. Returns the statement or NULL after printing why. */
static sqlite3_stmt *prepare(store_db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK) {
        ctl_error("%s: %s", db_path(), sqlite3_errmsg(store_db_handle(db)));
        return NULL;
    }
    return st;
}

/* Parses a --since value into epoch seconds. Returns 0 or -1. */
static int parse_since(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end != s && errno == 0 && n >= 0 && end[0] && !end[1]) {
        int64_t unit = 0;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: break;
        }
        if (unit && n < 100LL * 365 * 86400) {
            *out = (int64_t)time(NULL) - (int64_t)n * unit;
            return 0;
        }
    }
    if (nm_time_parse(s, out) == 0)
        return 0;
    if (strlen(s) == 10) {   /* a bare date */
        char *full = nm_xasprintf("%sT00:00:00Z", s);
        int rc = nm_time_parse(full, out);
        free(full);
        return rc;
    }
    return -1;
}

/* Parses a positive count. Returns 0 or -1. */
static int parse_count(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v <= 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Formats epoch seconds as "YYYY-MM-DD HH:MM" UTC into out[32]. */
static const char *fmt_time(int64_t t, char out[32])
{
    if (t <= 0)
        return "-";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
    return out;
}

/* Prints s in a column of width characters (UTF-8 aware, cut with "…"),
   padded with spaces unless it is the last column. */
static void print_col(const char *s, int width, int last)
{
    if (!s)
        s = "";
    int chars = 0;
    const char *p = s;
    for (; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            chars++;
    if (chars <= width) {
        fputs(s, stdout);
        for (; chars < width && !last; chars++)
            putchar(' ');
        return;
    }
    int n = 0;
    for (p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && ++n == width)
            break;
        putchar(*p);
    }
    fputs("…", stdout);
}

static void print_cell(const char *s, int width)
{
    print_col(s, width, 0);
}

static void print_last(const char *s, int width)
{
    print_col(s, width, 1);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Returns a JSON value for column i: string, integer or null. */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_NULL: return json_null();
    default: return json_string(col(st, i));
    }
}

/* Returns the parsed JSON array in column i (an empty one when unreadable). */
static json_t *col_array(sqlite3_stmt *st, int i)
{
    const char *s = col(st, i);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_array(j)) {
        json_decref(j);
        j = json_array();
    }
    return j;
}

/* Joins a JSON array of strings with sep into a malloc'd string. */
static char *join_array(const json_t *arr, const char *sep)
{
    nm_buf b;
    nm_buf_init(&b);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        nm_buf_addf(&b, "%s%s", i ? sep : "", json_string_value(v) ? json_string_value(v) : "");
    nm_buf_cstr(&b);
    return nm_buf_steal(&b);
}

static void print_json_line(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(j);
}

/* Finishes a query loop: prints the error if stepping failed. Returns the exit status. */
static int step_end(store_db *db, sqlite3_stmt *st, int rc)
{
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ctl_error("%s: %s", db_path(), sqlite3_errmsg(store_db_handle(db)));
        return 1;
    }
    return 0;
}

/* Common options of the list commands. */
struct list_opts {
    const char *theme;
    int64_t since;
    int limit;
    int json;
    const char *format;   /* export */
    const char *state;    /* alerts */
    const char *arg;      /* the one positional argument, when the command takes one */
    int all;              /* search: rank every match, not only the most recent */
};

/* Returns 1 when word is one of the space-separated words of list. */
static int word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; n && (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

/* Parses argv into o. allowed lists the options the command takes, e.g.
   "theme since limit json". Returns 0, or 2 after printing a usage error. */
static int parse_opts(int argc, char **argv, const char *allowed, int want_arg,
                      const char *usage, struct list_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *name = a[0] == '-' && a[1] == '-' ? a + 2 : NULL;
        int takes_value = name && (!strcmp(name, "theme") || !strcmp(name, "since") ||
                                   !strcmp(name, "limit") || !strcmp(name, "format"));
        if (name && !word_in(allowed, name)) {
            ctl_error("%s: unknown option '%s' (usage: newsmonctl %s)", argv[0], a, usage);
            return 2;
        }
        if (takes_value && i + 1 >= argc) {
            ctl_error("%s: %s needs a value (usage: newsmonctl %s)", argv[0], a, usage);
            return 2;
        }
        if (!name) {
            if (!want_arg || o->arg) {
                ctl_error("%s: unexpected argument '%s' (usage: newsmonctl %s)", argv[0], a, usage);
                return 2;
            }
            o->arg = a;
        } else if (!strcmp(name, "theme")) {
            o->theme = argv[++i];
        } else if (!strcmp(name, "since")) {
            if (parse_since(argv[++i], &o->since) < 0) {
                ctl_error("%s: --since '%s': give a duration (30m, 12h, 7d, 2w) or a date "
                          "(2026-01-31)", argv[0], argv[i]);
                return 2;
            }
        } else if (!strcmp(name, "limit")) {
            if (parse_count(argv[++i], &o->limit) < 0) {
                ctl_error("%s: --limit '%s' is not a positive number", argv[0], argv[i]);
                return 2;
            }
        } else if (!strcmp(name, "format")) {
            o->format = argv[++i];
        } else if (!strcmp(name, "json")) {
            o->json = 1;
        } else if (!strcmp(name, "all")) {
            o->all = 1;
        } else {
            o->state = name;   /* --pending, --sent, --failed, --delivered, --all */
        }
    }
    if (want_arg && !o->arg) {
        ctl_error("%s: missing argument (usage: newsmonctl %s)", argv[0], usage);
        return 2;
    }
    return 0;
}

/* ---- export ------------------------------------------------------------------- */

static void csv_field(const char *s, int last)
{
    if (!s)
        s = "";
    if (strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

static int cmd_export(int argc, char **argv)
{
    static const char usage[] = "export --format jsonl|csv [--theme T] [--since D]";
    struct list_opts o = { 0 };
    int rc = parse_opts(argc, argv, "format theme since", 0, usage, &o);
    if (rc)
        return rc;
    if (!o.format || (strcmp(o.format, "jsonl") && strcmp(o.format, "csv"))) {
        ctl_error("export: --format must be jsonl or csv (usage: newsmonctl %s)", usage);
        return 2;
    }
    store_db *db = open_ro();
    if (!db)
        return 1;
    sqlite3_stmt *st = prepare(db,
        "SELECT a.ext_id, v.title, a.link, a.published, f.url, " SQL_THEMES("a.current_version_id")
        " FROM articles a JOIN versions v ON v.id = a.current_version_id"
        " LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.ts >= ?1 AND (?2 IS NULL OR EXISTS"
        " (SELECT 1 FROM matches m WHERE m.version_id = a.current_version_id AND m.theme = ?2))"
        " ORDER BY a.id");
    if (!st) {
        store_db_close(&db);
        return 1;
    }
    sqlite3_bind_int64(st, 1, o.since);
    if (o.theme)
        sqlite3_bind_text(st, 2, o.theme, -1, SQLITE_STATIC);
    int csv = !strcmp(o.format, "csv");
    if (csv)
        fputs("id,title,link,published,feed,themes\r\n", stdout);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *themes = col_array(st, 5);
        if (csv) {
            char *t = join_array(themes, ";");
            for (int i = 0; i < 5; i++)
                csv_field(col(st, i), 0);
            csv_field(t, 1);
            free(t);
            json_decref(themes);
            continue;
        }
        json_t *j = json_object();
        static const char *const keys[] = { "id", "title", "link", "published", "feed" };
        for (int i = 0; i < 5; i++)
            json_object_set_new(j, keys[i], col_json(st, i));
        json_object_set_new(j, "themes", themes);
        print_json_line(j);
    }
    rc = step_end(db, st, rc);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "export", "--format jsonl|csv [--theme T] [--since D]",
               "every stored article (current version) with its themes", cmd_export)

/* ---- search ------------------------------------------------------------------- */

/* Appends one word as a quoted FTS5 string (prefix: followed by *). */
static void add_word(nm_buf *b, const char *w, size_t n, int prefix)
{
    nm_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '"')
            nm_buf_addc(b, '"');
        nm_buf_addc(b, w[i]);
    }
    nm_buf_adds(b, prefix ? "\"* " : "\" ");
}

static int is_operator(const char *w, size_t n)
{
    return (n == 3 && !memcmp(w, "AND", 3)) || (n == 2 && !memcmp(w, "OR", 2)) ||
           (n == 3 && !memcmp(w, "NOT", 3));
}

/* Turns what a person types into FTS5 queries: each word becomes a quoted
   string (so hyphens and dots are plain text), "two words" in double
   quotes is a phrase, a trailing * is a prefix search (3 letters at
   least), and AND, OR, NOT and parentheses keep their meaning. *strict is
   the query; *loose is the same with phrases loosened into their words,
   used only to find the search window cheaply (STORE_SEARCH_SQL ?8).
   Returns 0, or -1 for a too-short prefix. */
static int fts_query(const char *q, char **strict, char **loose)
{
    nm_buf s, l;
    nm_buf_init(&s);
    nm_buf_init(&l);
    const char *p = q;
    int rc = 0;
    while (*p && rc == 0) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '(' || *p == ')') {
            nm_buf_adds(&s, *p == '(' ? "( " : ") ");
            nm_buf_adds(&l, *p == '(' ? "( " : ") ");
            p++;
        } else if (*p == '"') {
            const char *start = ++p;
            while (*p && *p != '"')
                p++;
            size_t n = (size_t)(p - start);
            if (*p)
                p++;
            int prefix = *p == '*';
            p += prefix;
            const char *w = start;
            if (n)
                add_word(&s, start, n, prefix);
            while (w < start + n) {
                while (w < start + n && isspace((unsigned char)*w))
                    w++;
                const char *e = w;
                while (e < start + n && !isspace((unsigned char)*e))
                    e++;
                if (e > w)
                    add_word(&l, w, (size_t)(e - w), prefix && e == start + n);
                w = e;
            }
        } else {
            const char *start = p;
            while (*p && !isspace((unsigned char)*p) && *p != '(' && *p != ')' && *p != '"')
                p++;
            size_t n = (size_t)(p - start);
            if (is_operator(start, n)) {
                nm_buf_add(&s, start, n);
                nm_buf_addc(&s, ' ');
                nm_buf_add(&l, start, n);
                nm_buf_addc(&l, ' ');
                continue;
            }
            int prefix = start[n - 1] == '*';
            size_t chars = 0;
            for (size_t i = 0; i + (size_t)prefix < n; i++)
                chars += ((unsigned char)start[i] & 0xC0) != 0x80;
            if (prefix && chars < 3)
                rc = -1;   /* a one- or two-letter prefix matches half the language */
            add_word(&s, start, n - (size_t)prefix, prefix);
            add_word(&l, start, n - (size_t)prefix, prefix);
        }
    }
    nm_buf_cstr(&s);
    nm_buf_cstr(&l);
    *strict = nm_buf_steal(&s);
    *loose = nm_buf_steal(&l);
    if (rc < 0) {
        nm_free(strict);
        nm_free(loose);
    }
    return rc;
}

static int cmd_search(int argc, char **argv)
{
    static const char usage[] = "search QUERY [--theme T] [--since D] [--limit N] [--all] [--json]";
    struct list_opts o = { .limit = 20 };
    int rc = parse_opts(argc, argv, "theme since limit all json", 1, usage, &o);
    if (rc)
        return rc;
    char *q, *loose;
    if (fts_query(o.arg, &q, &loose) < 0) {
        ctl_error("search: a prefix search (word*) needs at least 3 letters before the *");
        return 2;
    }
    if (!*q) {
        free(q);
        free(loose);
        ctl_error("search: empty query");
        return 2;
    }
    store_db *db = open_ro();
    if (!db) {
        free(q);
        free(loose);
        return 1;
    }
    int tty = !o.json && isatty(STDOUT_FILENO);
    const char *on = tty ? "\033[1m" : "[", *off = tty ? "\033[0m" : "]";
    sqlite3_stmt *st = prepare(db, STORE_SEARCH_SQL);
    if (!st) {
        free(q);
        free(loose);
        store_db_close(&db);
        return 1;
    }
    nm_err err;
    char *xq = store_search_expand(db, q, &err), *xloose = xq ? store_search_expand(db, loose, &err) : NULL;
    free(q);
    free(loose);
    q = xq;
    loose = xloose;
    if (!q || !loose) {
        ctl_error("search: %s", err.msg);
        free(q);
        free(loose);
        sqlite3_finalize(st);
        store_db_close(&db);
        return 1;
    }
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o.since);
    if (o.theme)
        sqlite3_bind_text(st, 3, o.theme, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, o.limit);
    sqlite3_bind_text(st, 5, on, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, off, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, o.all ? INT32_MAX : STORE_SEARCH_WINDOW);
    sqlite3_bind_text(st, 8, loose, -1, SQLITE_STATIC);
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        json_t *themes = col_array(st, 5);
        if (o.json) {
            json_t *j = json_object();
            static const char *const keys[] = { "id", "title", "link", "published", "feed" };
            for (int i = 0; i < 5; i++)
                json_object_set_new(j, keys[i], col_json(st, i));
            json_object_set_new(j, "themes", themes);
            json_object_set_new(j, "title_highlighted", col_json(st, 6));
            json_object_set_new(j, "snippet", col_json(st, 7));
            json_object_set_new(j, "rank", json_real(sqlite3_column_double(st, 8)));
            json_object_set_new(j, "story", json_integer(sqlite3_column_int64(st, 10)));
            print_json_line(j);
            continue;
        }
        char when[32], *t = join_array(themes, ",");
        printf("%s  %s%s%s%s\n", fmt_time(sqlite3_column_int64(st, 9), when),
               col(st, 6) ? col(st, 6) : col(st, 0),
               *t ? "  [" : "", t, *t ? "]" : "");
        printf("    %s\n    %s\n", col(st, 7) ? col(st, 7) : "", col(st, 2) ? col(st, 2) : col(st, 0));
        free(t);
        json_decref(themes);
    }
    if (rc != SQLITE_DONE && strstr(sqlite3_errmsg(store_db_handle(db)), "fts5")) {
        ctl_error("search: cannot read the query '%s': %s", o.arg, sqlite3_errmsg(store_db_handle(db)));
        sqlite3_finalize(st);
        store_db_close(&db);
        free(q);
        free(loose);
        return 2;
    }
    rc = step_end(db, st, rc);
    if (rc == 0 && n == 0 && !o.json)
        printf("no articles match\n");
    store_db_close(&db);
    free(q);
    free(loose);
    return rc;
}
NM_CTL_COMMAND(NULL, "search", "QUERY [--theme T] [--since D] [--limit N] [--all] [--json]",
               "full-text search, best of the 2000 latest matches (--all: of all)", cmd_search)

/* ---- articles ------------------------------------------------------------------ */

static int cmd_articles(int argc, char **argv)
{
    static const char usage[] = "articles [--theme T] [--since D] [--limit N] [--json]";
    struct list_opts o = { .limit = 50 };
    int rc = parse_opts(argc, argv, "theme since limit json", 0, usage, &o);
    if (rc)
        return rc;
    store_db *db = open_ro();
    if (!db)
        return 1;
    sqlite3_stmt *st = prepare(db,
        "SELECT a.ext_id, v.title, a.link, a.published, f.url, " SQL_THEMES("v.id") ","
        " a.ts, a.version, a.story_id, coalesce(f.title, f.url)"
        " FROM articles a JOIN versions v ON v.id = a.current_version_id"
        " LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.ts >= ?1 AND (?2 IS NULL OR EXISTS"
        " (SELECT 1 FROM matches m WHERE m.version_id = v.id AND m.theme = ?2))"
        " ORDER BY a.ts DESC, a.id DESC LIMIT ?3");
    if (!st) {
        store_db_close(&db);
        return 1;
    }
    sqlite3_bind_int64(st, 1, o.since);
    if (o.theme)
        sqlite3_bind_text(st, 2, o.theme, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, o.limit);
    if (!o.json)
        printf("%-16s  %-22s  %-20s  %s\n", "TIME", "THEMES", "FEED", "TITLE");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *themes = col_array(st, 5);
        if (o.json) {
            json_t *j = json_object();
            static const char *const keys[] = { "id", "title", "link", "published", "feed" };
            for (int i = 0; i < 5; i++)
                json_object_set_new(j, keys[i], col_json(st, i));
            json_object_set_new(j, "themes", themes);
            json_object_set_new(j, "version", json_integer(sqlite3_column_int64(st, 7)));
            json_object_set_new(j, "story", json_integer(sqlite3_column_int64(st, 8)));
            print_json_line(j);
            continue;
        }
        char when[32], *t = join_array(themes, ",");
        printf("%-16s  ", fmt_time(sqlite3_column_int64(st, 6), when));
        print_cell(*t ? t : "-", 22);
        fputs("  ", stdout);
        print_cell(col(st, 9) ? col(st, 9) : "-", 20);
        fputs("  ", stdout);
        print_last(col(st, 1) ? col(st, 1) : col(st, 0), 70);
        putchar('\n');
        free(t);
        json_decref(themes);
    }
    rc = step_end(db, st, rc);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "articles", "[--theme T] [--since D] [--limit N] [--json]",
               "the latest stored articles, newest first", cmd_articles)

/* ---- show ----------------------------------------------------------------------- */

/* Adds the current version's themes (with explanations) to j. Returns 0 or 1. */
static int show_themes(store_db *db, int64_t vid, json_t *j)
{
    sqlite3_stmt *st = prepare(db, "SELECT theme, severity, score, ruleset, explanation FROM matches"
                                   " WHERE version_id = ? ORDER BY score DESC, theme");
    if (!st)
        return 1;
    sqlite3_bind_int64(st, 1, vid);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:o s:o s:I s:o s:o}", "id", col_json(st, 0),
                                             "severity", col_json(st, 1), "score",
                                             (json_int_t)sqlite3_column_int64(st, 2), "ruleset",
                                             col_json(st, 3), "matches", col_array(st, 4)));
    json_object_set_new(j, "themes", arr);
    return step_end(db, st, rc);
}

/* Adds the story and its other articles to j. Returns 0 or 1. */
static int show_story(store_db *db, int64_t story, int64_t self, json_t *j)
{
    sqlite3_stmt *st = prepare(db,
        "SELECT a.ext_id, v.title, f.url, a.ts FROM articles a JOIN versions v"
        " ON v.id = a.current_version_id LEFT JOIN feeds f ON f.id = a.feed_id"
        " WHERE a.story_id = ?1 AND a.id <> ?2 ORDER BY a.first_seen LIMIT 50");
    if (!st)
        return 1;
    sqlite3_bind_int64(st, 1, story);
    sqlite3_bind_int64(st, 2, self);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:o s:o s:o s:I}", "id", col_json(st, 0), "title",
                                             col_json(st, 1), "feed", col_json(st, 2), "time",
                                             (json_int_t)sqlite3_column_int64(st, 3)));
    json_object_set_new(j, "story", json_pack("{s:I s:o}", "id", (json_int_t)story, "others", arr));
    return step_end(db, st, rc);
}

/* Adds the article's alerts and their per-channel outcomes to j. Returns 0 or 1. */
static int show_alerts(store_db *db, int64_t article, json_t *j)
{
    sqlite3_stmt *st = prepare(db,
        "SELECT al.id, al.state, al.followup, al.created_at, al.sent_at, al.attempts, al.error,"
        " v.version, (SELECT json_group_array(json_object('channel', channel, 'status', status,"
        " 'error', error, 'at', at)) FROM alert_channels WHERE alert_id = al.id)"
        " FROM alerts al JOIN versions v ON v.id = al.version_id WHERE v.article_id = ? ORDER BY al.id");
    if (!st)
        return 1;
    sqlite3_bind_int64(st, 1, article);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:I s:o s:I s:o s:o s:I s:o s:I s:o}",
            "id", (json_int_t)sqlite3_column_int64(st, 0), "state", col_json(st, 1),
            "followup", (json_int_t)sqlite3_column_int64(st, 2), "created_at", col_json(st, 3),
            "sent_at", col_json(st, 4), "attempts", (json_int_t)sqlite3_column_int64(st, 5),
            "error", col_json(st, 6), "version", (json_int_t)sqlite3_column_int64(st, 7),
            "channels", col_array(st, 8)));
    json_object_set_new(j, "alerts", arr);
    return step_end(db, st, rc);
}

static const char *jstr(const json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "-";
}

static void show_print(const json_t *j)
{
    char when[32];
    printf("%s\n", jstr(j, "title"));
    printf("  id         %s\n  link       %s\n  published  %s\n  feed       %s\n", jstr(j, "id"),
           jstr(j, "link"), jstr(j, "published"), jstr(j, "feed"));
    printf("  version    %lld (stored %s)\n",
           (long long)json_integer_value(json_object_get(j, "version")),
           fmt_time(json_integer_value(json_object_get(j, "stored_at")), when));
    size_t i, k;
    json_t *t, *m;
    printf("\nthemes:%s\n", json_array_size(json_object_get(j, "themes")) ? "" : " none");
    json_array_foreach(json_object_get(j, "themes"), i, t) {
        printf("  %s (%s, score %lld, rules %s)\n", jstr(t, "id"), jstr(t, "severity"),
               (long long)json_integer_value(json_object_get(t, "score")), jstr(t, "ruleset"));
        json_array_foreach(json_object_get(t, "matches"), k, m)
            printf("    %-24s in %-6s at %-6lld \"%s\"\n", jstr(m, "term"), jstr(m, "field"),
                   (long long)json_integer_value(json_object_get(m, "offset")), jstr(m, "text"));
    }
    const json_t *story = json_object_get(j, "story");
    const json_t *others = json_object_get(story, "others");
    printf("\nstory %lld: %zu other article%s\n", (long long)json_integer_value(json_object_get(story, "id")),
           json_array_size(others), json_array_size(others) == 1 ? "" : "s");
    json_array_foreach(others, i, t)
        printf("  %s  %s  (%s)\n", fmt_time(json_integer_value(json_object_get(t, "time")), when),
               jstr(t, "title"), jstr(t, "feed"));
    printf("\nalerts:%s\n", json_array_size(json_object_get(j, "alerts")) ? "" : " none");
    json_array_foreach(json_object_get(j, "alerts"), i, t) {
        printf("  #%lld %s (version %lld, follow-up %lld, %lld attempt%s)%s%s\n",
               (long long)json_integer_value(json_object_get(t, "id")), jstr(t, "state"),
               (long long)json_integer_value(json_object_get(t, "version")),
               (long long)json_integer_value(json_object_get(t, "followup")),
               (long long)json_integer_value(json_object_get(t, "attempts")),
               json_integer_value(json_object_get(t, "attempts")) == 1 ? "" : "s",
               json_is_string(json_object_get(t, "error")) ? ": " : "",
               json_is_string(json_object_get(t, "error")) ? jstr(t, "error") : "");
        json_array_foreach(json_object_get(t, "channels"), k, m)
            printf("    %s: %s%s%s\n", jstr(m, "channel"), jstr(m, "status"),
                   json_is_string(json_object_get(m, "error")) ? " " : "",
                   json_is_string(json_object_get(m, "error")) ? jstr(m, "error") : "");
    }
    const char *text = json_string_value(json_object_get(j, "text"));
    printf("\n%s\n", text ? text : "(text pruned)");
}

static int cmd_show(int argc, char **argv)
{
    static const char usage[] = "show ID [--json]";
    struct list_opts o = { 0 };
    int rc = parse_opts(argc, argv, "json", 1, usage, &o);
    if (rc)
        return rc;
    store_db *db = open_ro();
    if (!db)
        return 1;
    sqlite3_stmt *st = prepare(db,
        "SELECT a.id, v.id, a.story_id, a.ext_id, v.title, a.link, a.published, f.url, a.version,"
        " v.stored_at, v.lang, v.author, coalesce(v.text, v.summary), v.summary"
        " FROM articles a JOIN versions v ON v.id = a.current_version_id"
        " LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.ext_id = ?1");
    if (!st) {
        store_db_close(&db);
        return 1;
    }
    sqlite3_bind_text(st, 1, o.arg, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = step_end(db, st, rc);
        if (rc == 0)
            ctl_error("show: no article with id '%s' in %s", o.arg, db_path());
        store_db_close(&db);
        return 1;
    }
    int64_t article = sqlite3_column_int64(st, 0), vid = sqlite3_column_int64(st, 1);
    int64_t story = sqlite3_column_int64(st, 2);
    json_t *j = json_object();
    static const char *const keys[] = { "id", "title", "link", "published", "feed", "version",
                                        "stored_at", "lang", "author", "text", "summary" };
    for (int i = 0; i < (int)NM_ARRAY_LEN(keys); i++)
        json_object_set_new(j, keys[i], col_json(st, i + 3));
    sqlite3_finalize(st);
    rc = show_themes(db, vid, j) || show_story(db, story, article, j) || show_alerts(db, article, j);
    if (!rc) {
        if (o.json) {
            char *s = json_dumps(j, JSON_INDENT(2));
            puts(s);
            free(s);
        } else {
            show_print(j);
        }
    }
    json_decref(j);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "show", "ID [--json]",
               "one article: text, themes and why, story, alerts and deliveries", cmd_show)

/* ---- alerts ------------------------------------------------------------------------ */

static int cmd_alerts(int argc, char **argv)
{
    static const char usage[] =
        "alerts [--pending|--sent|--failed|--delivered] [--since D] [--limit N] [--json]";
    struct list_opts o = { .limit = 50 };
    int rc = parse_opts(argc, argv, "pending sent failed delivered since limit json", 0, usage, &o);
    if (rc)
        return rc;
    store_db *db = open_ro();
    if (!db)
        return 1;
    sqlite3_stmt *st = prepare(db,
        "SELECT al.id, al.state, al.story_id, al.followup, al.created_at, al.sent_at, al.attempts,"
        " al.error, a.ext_id, v.title, " SQL_THEMES("v.id")
        " FROM alerts al JOIN versions v ON v.id = al.version_id JOIN articles a ON a.id = v.article_id"
        " WHERE (?1 IS NULL OR al.state = ?1) AND al.created_at >= ?2 ORDER BY al.id DESC LIMIT ?3");
    if (!st) {
        store_db_close(&db);
        return 1;
    }
    if (o.state)
        sqlite3_bind_text(st, 1, o.state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o.since);
    sqlite3_bind_int(st, 3, o.limit);
    if (!o.json)
        printf("%-7s  %-9s  %-16s  %-6s  %-20s  %s\n", "ALERT", "STATE", "CREATED", "STORY",
               "THEMES", "TITLE / ERROR");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *themes = col_array(st, 10);
        if (o.json) {
            print_json_line(json_pack("{s:I s:o s:I s:I s:o s:o s:I s:o s:o s:o s:o}",
                "id", (json_int_t)sqlite3_column_int64(st, 0), "state", col_json(st, 1),
                "story", (json_int_t)sqlite3_column_int64(st, 2),
                "followup", (json_int_t)sqlite3_column_int64(st, 3), "created_at", col_json(st, 4),
                "sent_at", col_json(st, 5), "attempts", (json_int_t)sqlite3_column_int64(st, 6),
                "error", col_json(st, 7), "article", col_json(st, 8), "title", col_json(st, 9),
                "themes", themes));
            continue;
        }
        char when[32], story[48], *t = join_array(themes, ",");
        snprintf(story, sizeof story, "%lld%s", (long long)sqlite3_column_int64(st, 2),
                 sqlite3_column_int64(st, 3) ? "+" : "");
        printf("%-7lld  %-9s  %-16s  %-6s  ", (long long)sqlite3_column_int64(st, 0), col(st, 1),
               fmt_time(sqlite3_column_int64(st, 4), when), story);
        print_cell(t, 20);
        fputs("  ", stdout);
        print_last(col(st, 7) ? col(st, 7) : col(st, 9) ? col(st, 9) : col(st, 8), 60);
        putchar('\n');
        free(t);
        json_decref(themes);
    }
    rc = step_end(db, st, rc);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "alerts", "[--pending|--sent|--failed|--delivered] [--since D] [--limit N] [--json]",
               "the alert queue, newest first (STORY n+ marks a follow-up)", cmd_alerts)

/* ---- stories ---------------------------------------------------------------------- */

static int cmd_stories(int argc, char **argv)
{
    static const char usage[] = "stories [--since D] [--limit N] [--json]";
    struct list_opts o = { .limit = 30 };
    int rc = parse_opts(argc, argv, "since limit json", 0, usage, &o);
    if (rc)
        return rc;
    store_db *db = open_ro();
    if (!db)
        return 1;
    sqlite3_stmt *st = prepare(db,
        "SELECT s.id, s.title, s.first_seen, s.last_seen, s.n_articles, s.n_alerts,"
        " (SELECT count(DISTINCT feed_id) FROM articles WHERE story_id = s.id)"
        " FROM stories s WHERE s.last_seen >= ?1 ORDER BY s.n_articles > 1 DESC, s.last_seen DESC"
        " LIMIT ?2");
    if (!st) {
        store_db_close(&db);
        return 1;
    }
    sqlite3_bind_int64(st, 1, o.since);
    sqlite3_bind_int(st, 2, o.limit);
    if (!o.json)
        printf("%-7s  %-16s  %-16s  %8s  %5s  %6s  %s\n", "STORY", "FIRST", "LAST", "ARTICLES",
               "FEEDS", "ALERTS", "TITLE");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (o.json) {
            print_json_line(json_pack("{s:I s:o s:o s:o s:I s:I s:I}",
                "id", (json_int_t)sqlite3_column_int64(st, 0), "title", col_json(st, 1),
                "first_seen", col_json(st, 2), "last_seen", col_json(st, 3),
                "articles", (json_int_t)sqlite3_column_int64(st, 4),
                "alerts", (json_int_t)sqlite3_column_int64(st, 5),
                "feeds", (json_int_t)sqlite3_column_int64(st, 6)));
            continue;
        }
        char first[32], last[32];
        printf("%-7lld  %-16s  %-16s  %8lld  %5lld  %6lld  ", (long long)sqlite3_column_int64(st, 0),
               fmt_time(sqlite3_column_int64(st, 2), first), fmt_time(sqlite3_column_int64(st, 3), last),
               (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 6),
               (long long)sqlite3_column_int64(st, 5));
        print_last(col(st, 1) ? col(st, 1) : "-", 60);
        putchar('\n');
    }
    rc = step_end(db, st, rc);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "stories", "[--since D] [--limit N] [--json]",
               "stories (groups of near-duplicate articles), largest first", cmd_stories)

/* ---- stats -------------------------------------------------------------------------- */

/* Runs one two-column (label, count) query and prints or collects it. */
static int stats_section(store_db *db, const char *title, const char *sql, int64_t since,
                         json_t *j)
{
    sqlite3_stmt *st = prepare(db, sql);
    if (!st)
        return 1;
    sqlite3_bind_int64(st, 1, since);
    json_t *obj = json_object();
    if (!j)
        printf("%s\n", title);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *label = col(st, 0) ? col(st, 0) : "(none)";
        if (j) {
            json_object_set_new(obj, label, json_integer(sqlite3_column_int64(st, 1)));
        } else {
            fputs("  ", stdout);
            print_cell(label, 50);
            printf("  %8lld\n", (long long)sqlite3_column_int64(st, 1));
        }
    }
    if (j)
        json_object_set_new(j, title, obj);
    else
        json_decref(obj);
    return step_end(db, st, rc);
}

static int cmd_stats(int argc, char **argv)
{
    static const char usage[] = "stats [--since D] [--json]";
    struct list_opts o = { 0 };
    o.since = (int64_t)time(NULL) - 30 * 86400;
    int rc = parse_opts(argc, argv, "since json", 0, usage, &o);
    if (rc)
        return rc;
    store_db *db = open_ro();
    if (!db)
        return 1;
    json_t *j = o.json ? json_object() : NULL;
    rc = stats_section(db, "per_day",
                       "SELECT date(ts, 'unixepoch'), count(*) FROM articles WHERE ts >= ?1"
                       " GROUP BY 1 ORDER BY 1", o.since, j) ||
         stats_section(db, "per_theme",
                       "SELECT m.theme, count(*) FROM articles a JOIN matches m"
                       " ON m.version_id = a.current_version_id WHERE a.ts >= ?1"
                       " GROUP BY 1 ORDER BY 2 DESC, 1", o.since, j) ||
         stats_section(db, "per_feed",
                       "SELECT coalesce(f.title, f.url), count(*) FROM articles a"
                       " LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.ts >= ?1"
                       " GROUP BY a.feed_id ORDER BY 2 DESC, 1", o.since, j);
    if (j && !rc)
        print_json_line(j);
    else
        json_decref(j);
    store_db_close(&db);
    return rc;
}
NM_CTL_COMMAND(NULL, "stats", "[--since D] [--json]",
               "articles per day, per theme and per feed (default: last 30 days)", cmd_stats)

/* ---- backup -------------------------------------------------------------------------- */

static int cmd_backup(int argc, char **argv)
{
    if (argc != 2) {
        ctl_error("usage: newsmonctl [--db PATH] backup DEST");
        return 2;
    }
    nm_err err;
    if (store_backup(db_path(), argv[1], &err) < 0) {
        ctl_error("%s", err.msg);
        return 1;
    }
    printf("backup of %s written to %s and checked\n", db_path(), argv[1]);
    return 0;
}
NM_CTL_COMMAND(NULL, "backup", "DEST", "consistent copy of the database (safe while running)",
               cmd_backup)
