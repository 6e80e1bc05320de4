/*
 * Tests of story grouping (MinHash/LSH over word shingles) and of the
 * full-text index's folding of case and diacritics (Cyrillic, Lithuanian,
 * Polish). Story fixtures are in tests/data/store/stories/: the first line
 * of each file is the title, the rest the text.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/nm_util.h"
#include "store/store_db.h"
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
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(story_suite)
