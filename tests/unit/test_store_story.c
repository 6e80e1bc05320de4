/*
 * Tests of story grouping (MinHash/LSH over word shingles) and of the
 * full-text index's folding of case and diacritics (Cyrillic, Lithuanian,
 * Polish). Story fixtures are in tests/data/store/stories/: the first line
 * of each file is the title, the rest the text. Also: the tokenizer's fast
 * path against its definition, the in-memory story index across rollbacks
 * and a second writer, and prefix queries through the term dictionary.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/nm_util.h"
#include "store/store_db.h"
#include "store/store_internal.h"
#include "tests/unit/nm_check.h"
#include "tests/unit/test_store_util.h"

static char dir[64];
static char path[128];
static store_db *db;

static void setup(void)
{
    strcpy(dir, "/tmp/nmstory-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/newsmon.db", dir);
    nm_err err;
    db = store_db_open(path, NULL, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    store_set_clock(db, T0);
}

static void teardown(void)
{
    store_db_close(&db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Ingests fixture NAME as article id NAME (or id when given). Returns the result. */
static struct store_ingest_result ingest_fixture(const char *name, const char *id)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/store/stories/%s.txt", name);
    char *data = NULL;
    size_t len;
    nm_err err;
    ck_assert_msg(nm_read_file(nm_test_path(rel), 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
    char *nl = strchr(data, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = 0;
    nm_classified c;
    make_classified(&c, id ? id : name, data, nl + 1, "border");
    struct store_ingest_result r;
    ck_assert_msg(store_ingest(db, &c, &r, &err) == 0, "%s", err.msg);
    nm_classified_clear(&c);
    free(data);
    return r;
}

START_TEST(test_syndicated_and_edited_copies_group)
{
    struct store_ingest_result orig = ingest_fixture("balloons_original", NULL);
    ck_assert_int_eq(orig.followup, 0);
    struct store_ingest_result syn = ingest_fixture("balloons_syndicated", NULL);
    ck_assert_int_eq(syn.story_id, orig.story_id);
    ck_assert_int_gt(syn.alert_id, 0);
    ck_assert_int_eq(syn.followup, 1);
    struct store_ingest_result ed = ingest_fixture("balloons_edited", NULL);
    ck_assert_int_eq(ed.story_id, orig.story_id);
    ck_assert_int_eq(ed.followup, 2);

    struct store_ingest_result ru = ingest_fixture("ru_original", NULL);
    ck_assert_int_ne(ru.story_id, orig.story_id);
    ck_assert_int_eq(ru.followup, 0);
    struct store_ingest_result ru2 = ingest_fixture("ru_edited", NULL);
    ck_assert_int_eq(ru2.story_id, ru.story_id);
    ck_assert_int_eq(ru2.followup, 1);
}
END_TEST

START_TEST(test_same_topic_different_stories_stay_apart)
{
    struct store_ingest_result a = ingest_fixture("balloons_original", NULL);
    struct store_ingest_result b = ingest_fixture("balloons_other_story", NULL);
    struct store_ingest_result c = ingest_fixture("drones_other_story", NULL);
    struct store_ingest_result d = ingest_fixture("ru_original", NULL);
    struct store_ingest_result e = ingest_fixture("ru_other_story", NULL);
    int64_t ids[] = { a.story_id, b.story_id, c.story_id, d.story_id, e.story_id };
    for (size_t i = 0; i < NM_ARRAY_LEN(ids); i++)
        for (size_t j = i + 1; j < NM_ARRAY_LEN(ids); j++)
            ck_assert_msg(ids[i] != ids[j], "stories %zu and %zu were grouped", i, j);
    ck_assert_int_eq(b.followup, 0);
    ck_assert_int_eq(e.followup, 0);
}
END_TEST

START_TEST(test_story_window)
{
    struct store_ingest_result a = ingest_fixture("balloons_original", NULL);
    store_set_clock(db, T0 + 6 * 86400);
    struct store_ingest_result b = ingest_fixture("balloons_syndicated", NULL);
    ck_assert_int_eq(b.story_id, a.story_id);
    /* Eight days after the last copy: a new story, even for the same text. */
    store_set_clock(db, T0 + 14 * 86400 + 1);
    struct store_ingest_result c = ingest_fixture("balloons_original", "balloons-again");
    ck_assert_int_ne(c.story_id, a.story_id);
    ck_assert_int_eq(c.followup, 0);
}
END_TEST

START_TEST(test_short_texts_do_not_group)
{
    /* Two tiny items with the same words: too little to call them one story. */
    int64_t a1 = ingest_simple(db, "s1", "Minsk", "Breaking.", "politics");
    int64_t a2 = ingest_simple(db, "s2", "Minsk", "Breaking.", "politics");
    ck_assert_int_gt(a1, 0);
    ck_assert_int_gt(a2, 0);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db),
                                        "SELECT count(DISTINCT story_id) FROM articles", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
}
END_TEST

START_TEST(test_fts_folding)
{
    ingest_simple(db, "pl", "Łukaszenka grozi Polsce", "Białoruś i Łódź: ŻOŁNIERZE przy granicy.", NULL);
    ingest_simple(db, "ru", "Ёлка в Минске", "БЕЛАРУСЬ усиливает охрану границы.", NULL);
    ingest_simple(db, "lt", "Šalčininkų rajone", "Baltarusijos pasieniečiai sulaikė žmones.", NULL);
    ingest_simple(db, "be", "Лукашэнка і Ўкраіна", "Ізноў пра ўзброеныя сілы.", NULL);

    /* Polish: ł folds to l (Unicode does not decompose it; nmfold does). */
    ck_assert_int_eq(fts_count(db, "lukaszenka"), 1);
    ck_assert_int_eq(fts_count(db, "ŁUKASZENKA"), 1);
    ck_assert_int_eq(fts_count(db, "bialorus"), 1);
    ck_assert_int_eq(fts_count(db, "lodz"), 1);
    ck_assert_int_eq(fts_count(db, "zolnierze"), 1);
    ck_assert_int_eq(fts_count(db, "żołnierze"), 1);
    ck_assert_int_eq(fts_count(db, "bialoru*"), 1);
    /* Russian: case, and ё == е both ways. */
    ck_assert_int_eq(fts_count(db, "елка"), 1);
    ck_assert_int_eq(fts_count(db, "ЁЛКА"), 1);
    ck_assert_int_eq(fts_count(db, "беларусь"), 1);
    ck_assert_int_eq(fts_count(db, "минске"), 1);
    /* Lithuanian */
    ck_assert_int_eq(fts_count(db, "salcininku"), 1);
    ck_assert_int_eq(fts_count(db, "ŠALČININKŲ"), 1);
    ck_assert_int_eq(fts_count(db, "zmones"), 1);
    ck_assert_int_eq(fts_count(db, "baltarus*"), 1);
    /* Belarusian: ў folds to у (as the rule language's normalisation does). */
    ck_assert_int_eq(fts_count(db, "украіна"), 1);
    ck_assert_int_eq(fts_count(db, "лукашэнка"), 1);
    /* What is not folded: different letters stay different. */
    ck_assert_int_eq(fts_count(db, "лукашенка"), 0);
    ck_assert_int_eq(fts_count(db, "lukashenka"), 0);
    ck_assert_int_eq(fts_count(db, "grozil"), 0);
    ck_assert_int_eq(fts_integrity(db), 0);
}
END_TEST

START_TEST(test_fts_versions)
{
    ingest_simple(db, "v", "Title one", "firstword body", NULL);
    ck_assert_int_eq(fts_count(db, "firstword"), 1);
    ingest_simple(db, "v", "Title two", "secondword body", NULL);
    ck_assert_int_eq(fts_count(db, "firstword"), 0);
    ck_assert_int_eq(fts_count(db, "secondword"), 1);
    ck_assert_int_eq(fts_count(db, "body"), 1);
    /* Without page text, the summary is indexed. */
    nm_classified c;
    nm_err err;
    make_classified(&c, "nosummary", "Headline only", NULL, NULL);
    free(c.article.summary);
    c.article.summary = strdup("summaryword here");
    ck_assert_int_eq(store_ingest(db, &c, NULL, &err), 0);
    nm_classified_clear(&c);
    ck_assert_int_eq(fts_count(db, "summaryword"), 1);
    ck_assert_int_eq(fts_integrity(db), 0);
}
END_TEST

START_TEST(test_fts_in_batches)
{
    nm_err err;
    /* Index rows of a batch are written at commit: a version replaced in
       the same batch is never indexed, a rolled-back batch leaves none. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_simple(db, "b", "Batch title", "alphaword body", NULL);
    ingest_simple(db, "b", "Batch title", "betaword body", NULL);
    ingest_simple(db, "c", "Other title", "gammaword body", NULL);
    nm_classified bad;
    make_classified(&bad, "", "x", "deltaword", NULL);
    ck_assert_int_eq(store_ingest(db, &bad, NULL, &err), -1);
    nm_classified_clear(&bad);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(fts_count(db, "alphaword"), 0);
    ck_assert_int_eq(fts_count(db, "betaword"), 1);
    ck_assert_int_eq(fts_count(db, "gammaword"), 1);
    ck_assert_int_eq(fts_count(db, "body"), 2);
    ck_assert_int_eq(fts_integrity(db), 0);

    /* A version replaced in a later batch leaves the index. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_simple(db, "c", "Other title", "epsilonword body", NULL);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(fts_count(db, "gammaword"), 0);
    ck_assert_int_eq(fts_count(db, "epsilonword"), 1);

    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_simple(db, "d", "Rolled back", "zetaword", NULL);
    ck_assert_int_eq(store_rollback(db, &err), 0);
    ck_assert_int_eq(store_begin(db, &err), 0);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(fts_count(db, "zetaword"), 0);

    /* Pruning inside a batch sees the batch's rows. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_simple(db, "e", "Pruned soon", "etaword", NULL);
    ck_assert_int_eq(store_prune(db, 1, 0, T0 + 2 * 86400, NULL, &err), 0);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(fts_count(db, "etaword"), 0);
    ck_assert_int_eq(fts_count(db, "body"), 0);
    ck_assert_int_eq(fts_integrity(db), 0);
}
END_TEST


/* Asserts that the tokenizer's fast path and its definition give the
   same tokens, offsets and folded forms for text[0..n). */
static void same_tokens(const char *text, size_t n)
{
    nm_buf fast, ref;
    nm_buf_init(&fast);
    nm_buf_init(&ref);
    nm_err err;
    sqlite3 *h = store_db_handle(db);
    ck_assert_msg(store_fts_tokens(h, 0, text, (int)n, &fast, &err) == 0, "%s", err.msg);
    ck_assert_msg(store_fts_tokens(h, 1, text, (int)n, &ref, &err) == 0, "%s", err.msg);
    ck_assert_msg(fast.len == ref.len && (fast.len == 0 || memcmp(fast.data, ref.data, fast.len) == 0),
                  "text \"%.*s\":\nfast:\n%s\nreference:\n%s", (int)n, text, nm_buf_cstr(&fast),
                  nm_buf_cstr(&ref));
    nm_buf_free(&fast);
    nm_buf_free(&ref);
}

START_TEST(test_tokenizer_fast_path_matches_definition)
{
    static const char *const names[] = { "balloons_edited", "balloons_original", "balloons_other_story",
                                         "balloons_syndicated", "drones_other_story", "ru_edited",
                                         "ru_original", "ru_other_story" };
    for (size_t i = 0; i < NM_ARRAY_LEN(names); i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/store/stories/%s.txt", names[i]);
        char *data = NULL;
        size_t len;
        nm_err err;
        ck_assert_msg(nm_read_file(nm_test_path(rel), 1 << 20, &data, &len, &err) == 0, "%s", err.msg);
        same_tokens(data, len);
        free(data);
    }
    static const char *const cases[] = {
        "ЁЛКА ёлка Йошкар-Ола ўсё Їжак ŁUKASZENKA Łódź Straße ŠALČININKŲ",
        "e\xcc\x81t\xc3\xa9 \xcc\x81lead mark, a\xcc\x81\xcc\x82" "b",         /* combining marks */
        "ﬃ ligature ㎏ ½ ２０２６ ǅ \xef\xb7\xba",                              /* long NFKC forms */
        "soft\xc2\xadhyphen zero\xe2\x80\x8bwidth don't don’t U.S. 1,000.5",
        "emoji \xf0\x9f\x98\x80 and \xf0\x9d\x90\x80" "bold \xef\xbf\xbe\xef\xbf\xbf nonchar",
        "한국어 中文 日本語 עברית العربية ελληνικά Ελλάδα",
        "", " ", "a", "Z9", "\xd0\x81",
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(cases); i++)
        same_tokens(cases[i], strlen(cases[i]));
    /* Invalid UTF-8 takes the definition: no crash, same answer. */
    static const char *const bad[] = { "ab\xff" "cd", "\xc3", "x\xe2\x82", "\xed\xa0\x80 s",
                                       "\xc0\x80 overlong", "\xf8\x88\x80\x80\x80", "\x80\x80 a" };
    for (size_t i = 0; i < NM_ARRAY_LEN(bad); i++)
        same_tokens(bad[i], strlen(bad[i]));
    /* Random strings over a pool of tricky code points. */
    static const char *const pool[] = { "a", "Z", "9", " ", "-", "'", "’", "ё", "Й", "ł", "Ł", "ß",
                                        "\xcc\x81", "ﬃ", "㎏", "中", "\xf0\x9f\x98\x80", "\xc2\xad",
                                        "ų", "Ž", "ў", "ї", ".", "\xe2\x80\x8b", "İ", "ǅ", "ø" };
    uint64_t r = 42;
    for (int k = 0; k < 2000; k++) {
        nm_buf b;
        nm_buf_init(&b);
        int len = (int)(r % 12);
        for (int i = 0; i < len; i++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            nm_buf_adds(&b, pool[(r >> 33) % NM_ARRAY_LEN(pool)]);
        }
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        same_tokens(b.data ? b.data : "", b.len);
        nm_buf_free(&b);
    }
}
END_TEST


START_TEST(test_signature_folds_in_one_pass)
{
    /* The signature reads words of the folded text: text folded first by
       store_fold must give the same signature as the raw text. */
    static const char *const texts[] = {
        "Łukaszenka grozi Polsce: ŻOŁNIERZE przy granicy, ŠALČININKŲ rajone žmonės",
        "ЁЛКА и ўсё Йошкар-Ола; ﬃ ㎏ ½ soft\xc2\xadhyphen zero\xe2\x80\x8bwidth don’t",
        "e\xcc\x81t\xc3\xa9 a\xcc\x81\xcc\x82" "b İstanbul ǅemal ß Straße 中文 한국어 \xf0\x9f\x98\x80 end",
    };
    nm_buf f;
    nm_buf_init(&f);
    for (size_t i = 0; i < NM_ARRAY_LEN(texts); i++) {
        char *body = nm_xasprintf("%s %s %s", texts[i], texts[i], texts[(i + 1) % NM_ARRAY_LEN(texts)]);
        struct store_sig raw, folded;
        store_sig_compute("Title words here", body, &raw);
        store_fold(body, strlen(body), &f);
        char *fb = nm_xstrdup(nm_buf_cstr(&f));
        store_fold("Title words here", 16, &f);
        store_sig_compute(nm_buf_cstr(&f), fb, &folded);
        ck_assert_uint_gt(raw.n_shingles, 0);
        ck_assert_uint_eq(raw.n_shingles, folded.n_shingles);
        ck_assert_msg(memcmp(raw.min, folded.min, sizeof raw.min) == 0, "text %zu", i);
        free(fb);
        free(body);
    }
    nm_buf_free(&f);
}
END_TEST


START_TEST(test_story_index_drops_old_versions)
{
    /* Enough versions for the index to compact once they leave the
       window; grouping works the same afterwards. */
    nm_err err;
    ck_assert_int_eq(store_begin(db, &err), 0);
    for (int i = 0; i < 4200; i++) {
        char id[32], text[160];
        snprintf(id, sizeof id, "old%d", i);
        snprintf(text, sizeof text, "report number %d from the border about item %d and more %d words", i,
                 i * 7, i * 13);
        ingest_simple(db, id, "Old report", text, NULL);
    }
    ck_assert_int_eq(store_commit(db, &err), 0);
    store_set_clock(db, T0 + 5 * 86400);
    struct store_ingest_result orig = ingest_fixture("balloons_original", NULL);
    struct store_ingest_result ru = ingest_fixture("ru_original", NULL);
    store_set_clock(db, T0 + 9 * 86400);
    ck_assert_int_eq(store_begin(db, &err), 0);   /* compacts: all but the last two left the window */
    struct store_ingest_result syn = ingest_fixture("balloons_syndicated", NULL);
    struct store_ingest_result ru2 = ingest_fixture("ru_edited", NULL);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(syn.story_id, orig.story_id);
    ck_assert_int_eq(ru2.story_id, ru.story_id);
    ingest_simple(db, "again", "Old report", "report number 5 from the border about item 35 and more 65 words",
                  NULL);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db),
                                        "SELECT a.story_id <> b.story_id FROM articles a, articles b"
                                        " WHERE a.ext_id = 'again' AND b.ext_id = 'old5'", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
}
END_TEST

START_TEST(test_story_index_follows_rollbacks)
{
    nm_err err;
    /* A batch rolled back takes its articles out of the story index too:
       a copy ingested afterwards starts its own story. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    ingest_fixture("balloons_original", NULL);
    ck_assert_int_eq(store_rollback(db, &err), 0);
    struct store_ingest_result syn = ingest_fixture("balloons_syndicated", NULL);
    ck_assert_int_eq(syn.followup, 0);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db), "SELECT count(*) FROM stories WHERE id = ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, syn.story_id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    /* One bad article in a batch leaves the others grouped. */
    ck_assert_int_eq(store_begin(db, &err), 0);
    struct store_ingest_result ed = ingest_fixture("balloons_edited", NULL);
    nm_classified bad;
    make_classified(&bad, "", "x", "y", NULL);
    ck_assert_int_eq(store_ingest(db, &bad, NULL, &err), -1);
    nm_classified_clear(&bad);
    ck_assert_int_eq(store_commit(db, &err), 0);
    ck_assert_int_eq(ed.story_id, syn.story_id);
}
END_TEST

START_TEST(test_story_index_sees_second_writer)
{
    /* db has read its window; another connection then stores an
       article: db's next lookup must find it. */
    ingest_fixture("ru_original", NULL);
    nm_err err;
    store_db *other = store_db_open(path, NULL, &err);
    ck_assert_msg(other != NULL, "%s", err.msg);
    store_set_clock(other, T0);
    store_db *mine = db;
    db = other;
    struct store_ingest_result orig = ingest_fixture("balloons_original", NULL);
    db = mine;
    store_db_close(&other);
    struct store_ingest_result syn = ingest_fixture("balloons_syndicated", NULL);
    ck_assert_int_eq(syn.story_id, orig.story_id);
    ck_assert_int_eq(syn.followup, 1);
}
END_TEST

/* Returns how many rows STORE_SEARCH_SQL gives for q (expanded when
   expand), or -1 on an SQL error. */
static int search_rows(const char *q, int expand)
{
    nm_err err;
    char *x = expand ? store_search_expand(db, q, &err) : strdup(q);
    ck_assert_msg(x != NULL, "%s", err.msg);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_db_handle(db), STORE_SEARCH_SQL, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, x, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, 0);
    sqlite3_bind_int(st, 4, 100);
    sqlite3_bind_text(st, 5, "[", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, "]", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, STORE_SEARCH_WINDOW);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        n++;
    sqlite3_finalize(st);
    free(x);
    return rc == SQLITE_DONE ? n : -1;
}

START_TEST(test_prefix_queries_expand)
{
    ingest_simple(db, "p1", "Łukaszenka grozi Polsce", "Białoruś i Łódź: ŻOŁNIERZE przy granicy.", NULL);
    ingest_simple(db, "p2", "Białorusini na granicy", "Bialorusinka mowi", NULL);
    ingest_simple(db, "p3", "Other", "nothing here", NULL);
    nm_err err;
    char *x = store_search_expand(db, "\"bialoru\"* \"granicy\"", &err);
    ck_assert_msg(x != NULL, "%s", err.msg);
    ck_assert_msg(strstr(x, "\"bialorus\"") && strstr(x, "\"bialorusini\"") &&
                  strstr(x, "\"bialorusinka\"") && strstr(x, ") AND \"granicy\""), "%s", x);
    free(x);
    /* Same rows as FTS5's own prefix search, next to terms and operators. */
    static const char *const qs[] = { "\"bialoru\"*", "\"BIAŁORU\"*", "\"grozi\" \"pol\"*",
                                      "\"pol\"* \"grozi\"", "( \"zoł\"* OR \"noth\"* ) NOT \"mowi\"",
                                      "\"grozi pol\"*", "\"absent\"*", "\"a\"\"b\"*" };
    for (size_t i = 0; i < NM_ARRAY_LEN(qs); i++)
        ck_assert_msg(search_rows(qs[i], 1) == search_rows(qs[i], 0), "%s: %d vs %d", qs[i],
                      search_rows(qs[i], 1), search_rows(qs[i], 0));
    ck_assert_int_eq(search_rows("\"bialoru\"*", 1), 2);
    /* Too many terms for one prefix: FTS5's own prefix search. */
    nm_buf text;
    nm_buf_init(&text);
    for (int i = 0; i < STORE_PREFIX_TERMS_MAX + 5; i++)
        nm_buf_addf(&text, "zzword%d ", i);
    ingest_simple(db, "many", "Many words", nm_buf_cstr(&text), NULL);
    nm_buf_free(&text);
    x = store_search_expand(db, "\"zzwo\"*", &err);
    ck_assert_str_eq(x, "\"zzwo\"*");
    free(x);
    ck_assert_int_eq(search_rows("\"zzwo\"*", 1), 1);
}
END_TEST

static Suite *story_suite(void)
{
    Suite *s = suite_create("store_story");
    TCase *tc = tcase_create("story");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_syndicated_and_edited_copies_group);
    tcase_add_test(tc, test_same_topic_different_stories_stay_apart);
    tcase_add_test(tc, test_story_window);
    tcase_add_test(tc, test_short_texts_do_not_group);
    tcase_add_test(tc, test_fts_folding);
    tcase_add_test(tc, test_fts_versions);
    tcase_add_test(tc, test_fts_in_batches);
    tcase_add_test(tc, test_tokenizer_fast_path_matches_definition);
    tcase_add_test(tc, test_signature_folds_in_one_pass);
    tcase_add_test(tc, test_story_index_follows_rollbacks);
    tcase_add_test(tc, test_story_index_drops_old_versions);
    tcase_add_test(tc, test_story_index_sees_second_writer);
    tcase_add_test(tc, test_prefix_queries_expand);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(story_suite)
