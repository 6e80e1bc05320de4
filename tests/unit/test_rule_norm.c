/*
 * Tests of the rule language's normalisation (classifier/rule_norm.c):
 * case folding, compatibility forms, diacritics, default-ignorable
 * characters, apostrophes, word boundaries and byte offsets, in English,
 * Russian, Belarusian, Ukrainian, Lithuanian and Polish.
 */
#include <string.h>

#include "classifier/rule_norm.h"
#include "common/nm_util.h"
#include "tests/unit/nm_check.h"

/* Returns the normalised words of s joined by '|' (static buffer). */
static const char *words(const char *s)
{
    static char out[4096];
    rule_tokens t;
    rule_tokens_init(&t);
    rule_tokenize(&t, s, strlen(s), 0);
    out[0] = '\0';
    for (size_t i = 0; i < t.n; i++) {
        if (i)
            strcat(out, "|");
        strncat(out, rule_token_word(&t, i), t.v[i].norm_len);
    }
    rule_tokens_free(&t);
    return out;
}

START_TEST(english_case_and_punctuation)
{
    ck_assert_str_eq(words("The KGB, said NATO-officials."), "the|kgb|said|nato|officials");
    ck_assert_str_eq(words("  "), "");
    ck_assert_str_eq(words("COVID19 x2 ５Ｇ"), "covid19|x2|5g");   /* fullwidth folds (NFKC) */
    ck_assert_str_eq(words("ﬁnance Straße"), "finance|strasse");  /* ligature, ß */
}
END_TEST

START_TEST(apostrophes)
{
    ck_assert_str_eq(words("Lukashenko's regime"), "lukashenko's|regime");
    ck_assert_str_eq(words("Lukashenko’s regime"), "lukashenko's|regime");   /* ’ is ' */
    ck_assert_str_eq(words("'quoted' word'"), "quoted|word");                 /* not between letters */
    ck_assert_str_eq(words("a''b"), "a|b");
    ck_assert_str_eq(words("сям’я сімʼя"), "сям'я|сім'я");                    /* Belarusian, Ukrainian */
}
END_TEST

START_TEST(cyrillic)
{
    ck_assert_str_eq(words("Лукашенко ЁЛКА ёж"), "лукашенко|елка|еж");          /* ё → е */
    ck_assert_str_eq(words("Беларусь Лукашэнка ўрад"), "беларусь|лукашэнка|урад"); /* Belarusian ў → у */
    ck_assert_str_eq(words("Україна їжак Ґрунт йод"), "украіна|іжак|ґрунт|иод");   /* ї → і, й → и; ґ stays */
}
END_TEST

START_TEST(latin_diacritics)
{
    ck_assert_str_eq(words("Baltarusijos žvalgyba ėmė"), "baltarusijos|zvalgyba|eme");  /* Lithuanian */
    ck_assert_str_eq(words("Białoruś ŁUKASZENKA źródło"), "bialorus|lukaszenka|zrodlo"); /* Polish ł by hand */
    ck_assert_str_eq(words("Ørsted đak"), "orsted|dak");
    ck_assert_str_eq(words("e\xcc\x81te\xcc\x81"), "ete");   /* combining acute marks dropped */
}
END_TEST

START_TEST(ignorables_join_words)
{
    ck_assert_str_eq(words("Lu\xc2\xadka\xc2\xadshen\xc2\xadko"), "lukashenko");  /* soft hyphens */
    ck_assert_str_eq(words("Min\xe2\x80\x8bsk"), "minsk");                         /* ZWSP */
    ck_assert_str_eq(words("a\xef\xbb\xbf" "b"), "ab");                            /* BOM / ZWNBSP */
}
END_TEST

START_TEST(invalid_utf8_separates)
{
    ck_assert_str_eq(words("abc\xff\xfe" "def"), "abc|def");
    ck_assert_str_eq(words("\xd0"), "");
}
END_TEST

START_TEST(offsets_are_original_bytes)
{
    const char *s = "«Лукашэнка» and Mińsk’s";
    rule_tokens t;
    rule_tokens_init(&t);
    rule_tokenize(&t, s, strlen(s), 100);
    ck_assert_uint_eq(t.n, 3);
    ck_assert_uint_eq(t.v[0].start, 100 + 2);                 /* after « (2 bytes) */
    ck_assert_uint_eq(t.v[0].end - t.v[0].start, strlen("Лукашэнка"));
    ck_assert_uint_eq(t.v[2].start, 100 + strlen("«Лукашэнка» and "));
    ck_assert_uint_eq(t.v[2].end, 100 + strlen(s));
    rule_tokens_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rule_norm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, english_case_and_punctuation);
    tcase_add_test(tc, apostrophes);
    tcase_add_test(tc, cyrillic);
    tcase_add_test(tc, latin_diacritics);
    tcase_add_test(tc, ignorables_join_words);
    tcase_add_test(tc, invalid_utf8_separates);
    tcase_add_test(tc, offsets_are_original_bytes);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
