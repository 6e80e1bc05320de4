/*
 * store_bench: ingestion throughput and search latency of the store.
 *
 * 1. Generates N articles (deterministic pseudo-random text in English,
 *    Russian, Polish and Lithuanian words; 10% near-duplicates of an
 *    earlier article, 30% with themes) and writes the same rows as CSV.
 * 2. Ingests them through store_ingest (the daemon's path: feed, version,
 *    FTS, story grouping, matches, alerts) in batches of BATCH per
 *    transaction, and reports articles/s.
 * 3. The floor: the sqlite3 shell imports the same CSV in one transaction
 *    into a plain table, then also into an FTS5 (unicode61) index; the
 *    wall time of each, measured in the same run.
 * 4. Runs 100 searches over the ingested database with the query
 *    newsmonctl search runs (store_search_expand, then STORE_SEARCH_SQL:
 *    FTS5 MATCH, bm25 order, highlight and snippet of the top 20): p50
 *    and p99 of the first run of each (the expansion is timed too).
 *
 * usage: store_bench DIR [N]   (run.sh builds and runs it)
 * NM_BENCH_PROFILE=1 adds, on stderr, the time spent per SQL statement
 * during ingestion and the searches slower than 20 ms;
 * NM_BENCH_INGEST_ONLY=1 stops after the ingestion (for callgrind/perf);
 * NM_BENCH_SYNC=normal measures with [store] sync = normal (default: full,
 * the daemon's default).
 * The last line is machine-readable:
 *   BENCH store ingest_per_s=X sqlite3_per_s=Y sqlite3_fts_per_s=Z
 *         ratio_to_sqlite3=X/Y search_p50_ms=A search_p99_ms=B
 * Exit status 0 when both targets hold (>= 5000 articles/s, p99 < 50 ms).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <time.h>

#include "common/nm_msg.h"
#include "common/nm_util.h"
#include "store/store_db.h"

#define BATCH 500
#define QUERIES 100

static uint64_t rng = 0x243F6A8885A308D3ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const base_words[] = {
    "belarus", "minsk", "lukashenko", "border", "troops", "drone", "balloon", "sanctions",
    "espionage", "KGB", "recruited", "diaspora", "Astravets", "nuclear", "migration", "Lithuania",
    "Poland", "Vilnius", "Warsaw", "exercise", "missile", "Беларусь", "Минск", "граница", "войска",
    "задержали", "шпионаж", "Лукашенко", "беспилотник", "санкции", "Białoruś", "granica",
    "żołnierze", "Łukaszenka", "przemyt", "Baltarusija", "pasienio", "kontrabanda", "žvalgyba",
    "the", "of", "and", "in", "to", "a", "said", "on", "that", "was", "for", "with", "by", "и",
    "в", "на", "что", "не", "w", "z", "na", "się", "ir", "kad", "su",
};
#define N_BASE (sizeof base_words / sizeof base_words[0])
#define N_VOCAB 8000

static char *vocab[N_VOCAB];

static void make_vocab(void)
{
    static const char *const syll[] = { "ka", "ro", "mi", "ne", "sto", "li", "va", "ter", "zu",
                                        "an", "pol", "gra", "ni", "ce", "de", "ру", "ска", "но",
                                        "ві", "ło", "ža", "ų", "ė" };
    for (int i = 0; i < N_VOCAB; i++) {
        if (i < (int)N_BASE) {
            vocab[i] = nm_xstrdup(base_words[i]);
            continue;
        }
        nm_buf b;
        nm_buf_init(&b);
        int n = 2 + (int)(next() % 3);
        for (int k = 0; k < n; k++)
            nm_buf_adds(&b, syll[next() % (sizeof syll / sizeof syll[0])]);
        vocab[i] = nm_buf_steal(&b);
    }
}

/* Zipf-ish: small indexes are much more frequent. */
static const char *word(void)
{
    uint64_t r = next();
    if (r % 3 == 0)
        return vocab[r / 3 % N_BASE];
    double u = (double)(next() % 1000000) / 1000000.0;
    return vocab[(size_t)(u * u * N_VOCAB) % N_VOCAB];
}

static char *words(int n)
{
    nm_buf b;
    nm_buf_init(&b);
    for (int i = 0; i < n; i++) {
        nm_buf_adds(&b, word());
        nm_buf_adds(&b, i % 17 == 16 ? ". " : " ");
    }
    return nm_buf_steal(&b);
}

static const char *const themes[] = { "espionage", "repression", "military", "border", "airspace",
                                      "migration", "sanctions", "nuclear", "influence", "cyber",
                                      "politics" };

static void make_article(nm_classified *c, int i, nm_classified *arts)
{
    nm_classified_init(c);
    nm_article *a = &c->article;
    a->id = nm_xasprintf("https://site%d.example/news/%d", i % 97, i);
    a->link = nm_xstrdup(a->id);
    if (i > 10 && next() % 10 == 0) {   /* a syndicated copy with a new ending */
        const nm_article *src = &arts[next() % (uint64_t)i].article;
        a->title = nm_xstrdup(src->title);
        char *tail = words(10);
        a->text = nm_xasprintf("%s %s", src->text, tail);
        free(tail);
    } else {
        a->title = words(8);
        a->text = words(150 + (int)(next() % 200));
    }
    a->summary = words(25);
    a->published = nm_xasprintf("2026-01-%02dT%02d:%02d:00Z", 1 + i % 28, i % 24, i % 60);
    a->feed = nm_xasprintf("https://site%d.example/feed.xml", i % 97);
    a->feed_title = nm_xasprintf("Site %d", i % 97);
    a->lang = nm_xstrdup("en");
    c->ruleset = nm_xstrdup("bench");
    if (next() % 10 < 3) {
        int n = 1 + (int)(next() % 2);
        c->themes = nm_xcalloc((size_t)n, sizeof *c->themes);
        for (int k = 0; k < n; k++) {
            nm_theme_hit *h = &c->themes[c->n_themes++];
            h->id = nm_xstrdup(themes[(next() % 5) * 2 + (size_t)k]);
            h->severity = nm_xstrdup("high");
            h->score = 3;
            h->matches = json_pack("[{s:s,s:s,s:i,s:s}]", "term", "belarus*", "field", "title",
                                   "offset", 0, "text", "Belarus");
        }
    }
}

static void csv_field(FILE *f, const char *s, char end)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    fputc(end, f);
}

/* NM_BENCH_PROFILE=1: time spent per SQL statement during ingestion. */
struct prof { const char *sql; char *copy; double ms; long n; };
static struct prof prof[128];
static int n_prof;

static int profile_cb(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)ctx;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    int i = 0;
    while (i < n_prof && prof[i].sql != sql && strcmp(prof[i].copy, sql) != 0)
        i++;
    if (i == n_prof && n_prof < 128)
        prof[n_prof++].sql = sql;
    if (i < 128 && !prof[i].n)
        prof[i].copy = strdup(sql);
    if (i < 128) {
        prof[i].ms += (double)*(sqlite3_int64 *)x / 1e6;
        prof[i].n++;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs the sqlite3 shell on a script. Returns wall milliseconds or -1. */
static double run_shell(const char *db, const char *script_path)
{
    char *cmd = nm_xasprintf("sqlite3 -batch '%s' < '%s' > /dev/null", db, script_path);
    int64_t t0 = nm_now_ms();
    int rc = system(cmd);
    double ms = (double)(nm_now_ms() - t0);
    free(cmd);
    return rc == 0 ? ms : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: store_bench DIR [N]\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    if (n < 100) {
        fprintf(stderr, "N must be at least 100\n");
        return 2;
    }
    make_vocab();
    nm_classified *arts = nm_xcalloc((size_t)n, sizeof *arts);
    char *csv = nm_xasprintf("%s/articles.csv", dir);
    FILE *f = fopen(csv, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", csv);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        make_article(&arts[i], i, arts);
        const nm_article *a = &arts[i].article;
        csv_field(f, a->id, ',');
        csv_field(f, a->link, ',');
        csv_field(f, a->title, ',');
        csv_field(f, a->summary, ',');
        csv_field(f, a->text, ',');
        csv_field(f, a->published, ',');
        csv_field(f, a->feed, '\n');
    }
    fclose(f);

    /* 2. store_ingest */
    char *path = nm_xasprintf("%s/store.db", dir);
    nm_err err;
    struct store_options opt;
    store_options_default(&opt);
    const char *sync = getenv("NM_BENCH_SYNC");
    if (sync && strcmp(sync, "normal") == 0)
        opt.sync = STORE_SYNC_NORMAL;
    store_db *db = store_db_open(path, &opt, &err);
    if (!db) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (getenv("NM_BENCH_PROFILE"))
        sqlite3_trace_v2(store_db_handle(db), SQLITE_TRACE_PROFILE, profile_cb, NULL);
    struct timespec cpu0, cpu1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    int64_t t0 = nm_now_ms();
    int64_t alerts = 0, grouped = 0;
    for (int i = 0; i < n; i++) {
        if (i % BATCH == 0 && store_begin(db, &err) < 0)
            break;
        struct store_ingest_result r;
        if (store_ingest(db, &arts[i], &r, &err) < 0) {
            fprintf(stderr, "ingest %d: %s\n", i, err.msg);
            return 1;
        }
        alerts += r.alert_id != 0;
        grouped += r.followup > 0;
        if ((i % BATCH == BATCH - 1 || i == n - 1) && store_commit(db, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    double ingest_ms = (double)(nm_now_ms() - t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    double ingest_cpu_ms = (double)(cpu1.tv_sec - cpu0.tv_sec) * 1e3 +
                           (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e6;
    store_db_close(&db);
    double in_sql = 0;
    for (int i = 0; i < n_prof; i++)
        in_sql += prof[i].ms;
    if (n_prof)
        fprintf(stderr, "%8.0f ms in SQL statements in all\n", in_sql);
    for (int i = 0; i < n_prof; i++)
        if (prof[i].ms > ingest_ms / 100)
            fprintf(stderr, "%8.0f ms %7ld x  %.100s\n", prof[i].ms, prof[i].n, prof[i].copy);
    double rate = n / (ingest_ms / 1000.0);
    printf("articles: %d (alerts %lld, joined an existing story %lld)\n", n, (long long)alerts,
           (long long)grouped);
    printf("store_ingest (FTS, stories, matches, alerts; batches of %d, sync %s): %.0f ms = %.0f "
           "articles/s (target >= 5000)\n", BATCH, opt.sync == STORE_SYNC_FULL ? "full" : "normal",
           ingest_ms, rate);
    printf("store_ingest CPU time: %.0f ms = %.0f articles per CPU second\n", ingest_cpu_ms,
           n / (ingest_cpu_ms / 1000.0));
    fflush(stdout);
    if (getenv("NM_BENCH_INGEST_ONLY"))   /* for profilers: stop after the ingest */
        return 0;

    /* 3. the sqlite3 shell floor, same rows, one transaction */
    char *script = nm_xasprintf("%s/import.sql", dir);
    char *text = nm_xasprintf(
        "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
        "CREATE TABLE a(id TEXT PRIMARY KEY, link TEXT, title TEXT, summary TEXT, text TEXT,"
        " published TEXT, feed TEXT);\n"
        "BEGIN;\n.mode csv\n.import '%s' a\nCOMMIT;\n", csv);
    write_file(script, text);
    free(text);
    char *floor_db = nm_xasprintf("%s/floor.db", dir);
    double floor_ms = run_shell(floor_db, script);
    char *script2 = nm_xasprintf("%s/import_fts.sql", dir);
    text = nm_xasprintf(
        "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
        "CREATE TABLE a(id TEXT PRIMARY KEY, link TEXT, title TEXT, summary TEXT, text TEXT,"
        " published TEXT, feed TEXT);\n"
        "CREATE VIRTUAL TABLE f USING fts5(title, body, content='a', content_rowid='rowid',"
        " tokenize='unicode61 remove_diacritics 2');\n"
        "BEGIN;\n.mode csv\n.import '%s' a\n"
        "INSERT INTO f(rowid, title, body) SELECT rowid, title, text FROM a;\nCOMMIT;\n", csv);
    write_file(script2, text);
    free(text);
    char *floor2_db = nm_xasprintf("%s/floor_fts.db", dir);
    double floor2_ms = run_shell(floor2_db, script2);

    /* 4. search latency, the query newsmonctl search runs */
    opt.read_only = 1;
    db = store_db_open(path, &opt, &err);
    if (!db) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db_handle(db), STORE_SEARCH_SQL, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(store_db_handle(db)));
        return 1;
    }
    double lat[QUERIES], best[QUERIES];
    int64_t hits = 0;
    for (int q = 0; q < QUERIES; q++) {
        char *query, *loose = NULL;
        switch (q % 4) {
        case 0: query = nm_xasprintf("\"%s\"", word()); break;
        case 1: query = nm_xasprintf("\"%s\" \"%s\"", word(), word()); break;
        case 2: {   /* a prefix of 4+ letters of a longer word, as people type them */
            const char *w;
            do
                w = word();
            while (strlen(w) < 10);
            int cut = 0;
            for (int chars = 0; w[cut] && chars < 4; chars++)   /* 4 whole UTF-8 characters */
                for (cut++; ((unsigned char)w[cut] & 0xC0) == 0x80; cut++)
                    ;
            query = nm_xasprintf("\"%.*s\"*", cut, w);
            break;
        }
        default: {   /* a phrase, and its words for finding the window, as newsmonctl does */
            const char *w1 = word(), *w2 = word();
            query = nm_xasprintf("\"%s %s\"", w1, w2);
            loose = nm_xasprintf("\"%s\" \"%s\"", w1, w2);
            break;
        }
        }
        /* Three runs: the first is what a person waits for; the fastest is
           the query's cost without the scheduling noise of a busy machine. */
        for (int rep = 0; rep < 3; rep++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            sqlite3_reset(st);
            /* What newsmonctl search does: prefix terms through the term dictionary. */
            char *xq = store_search_expand(db, query, &err);
            char *xl = loose ? store_search_expand(db, loose, &err) : NULL;
            if (!xq || (loose && !xl)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            sqlite3_bind_text(st, 1, xq, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, 0);
            sqlite3_bind_int(st, 4, 20);
            sqlite3_bind_text(st, 5, "[", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, "]", -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 7, STORE_SEARCH_WINDOW);
            if (xl)
                sqlite3_bind_text(st, 8, xl, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, 8);
            int rows = 0, rc;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                rows++;
            free(xq);
            free(xl);
            if (rc != SQLITE_DONE) {
                fprintf(stderr, "query %s: %s\n", query, sqlite3_errmsg(store_db_handle(db)));
                return 1;
            }
            clock_gettime(CLOCK_MONOTONIC, &b);
            double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
            if (rep == 0) {
                hits += rows;
                lat[q] = best[q] = ms;
            } else if (ms < best[q]) {
                best[q] = ms;
            }
        }
        if (getenv("NM_BENCH_PROFILE") && lat[q] > 20)
            fprintf(stderr, "slow query %.1f ms: %s\n", lat[q], query);
        free(query);
        free(loose);
    }
    sqlite3_finalize(st);
    store_db_close(&db);
    qsort(lat, QUERIES, sizeof lat[0], cmp_double);
    qsort(best, QUERIES, sizeof best[0], cmp_double);

    if (floor_ms >= 0)
        printf("floor: sqlite3 shell .import, plain table, one transaction: %.0f ms = %.0f rows/s "
               "(store_ingest takes %.1fx its time)\n", floor_ms, n / (floor_ms / 1000.0),
               ingest_ms / floor_ms);
    if (floor2_ms >= 0)
        printf("floor: sqlite3 shell .import + FTS5 unicode61 index, one transaction: %.0f ms = "
               "%.0f rows/s (store_ingest takes %.1fx its time)\n", floor2_ms,
               n / (floor2_ms / 1000.0), ingest_ms / floor2_ms);
    printf("search over %d articles, %d queries (%lld rows returned): p50 %.2f ms, p99 %.2f ms, "
           "max %.2f ms (target p99 < 50 ms)\n", n, QUERIES, (long long)hits, lat[QUERIES / 2],
           lat[QUERIES * 99 / 100], lat[QUERIES - 1]);
    printf("search, fastest of 3 runs per query: p50 %.2f ms, p99 %.2f ms\n", best[QUERIES / 2],
           best[QUERIES * 99 / 100]);
    /* For bench/run-all and other scripts: one line, key=value. */
    printf("BENCH store ingest_per_s=%.0f sqlite3_per_s=%.0f sqlite3_fts_per_s=%.0f "
           "ratio_to_sqlite3=%.2f search_p50_ms=%.2f search_p99_ms=%.2f\n", rate,
           floor_ms > 0 ? n / (floor_ms / 1000.0) : 0, floor2_ms > 0 ? n / (floor2_ms / 1000.0) : 0,
           floor_ms > 0 ? rate / (n / (floor_ms / 1000.0)) : 0, lat[QUERIES / 2],
           lat[QUERIES * 99 / 100]);
    for (int i = 0; i < n; i++)
        nm_classified_clear(&arts[i]);
    free(arts);
    for (int i = 0; i < N_VOCAB; i++)
        free(vocab[i]);
    free(csv);
    free(path);
    free(script);
    free(script2);
    free(floor_db);
    free(floor2_db);
    return rate >= 5000 && lat[QUERIES * 99 / 100] < 50 ? 0 : 1;
}
