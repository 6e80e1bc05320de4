/*
 * Tests of the rule language's normalisation (classifier/rule_norm.c):
 * case folding, compatibility forms, diacritics, default-ignorable
 * characters, apostrophes, word boundaries and byte offsets, in English,
 * Russian, Belarusian, Ukrainian, Lithuanian and Polish; and the fast
 * paths of the tokeniser (ASCII and two-byte tables, lazily built pages)
 * against the reference path that sends every code point through
 * utf8proc, on every code point below U+0800, the letters of the desk's
 * languages, and seeded random text with broken UTF-8.
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

/* ---------- fast paths against the reference ---------- */

/* A word as both paths report it. */
typedef struct seen {
    nm_buf all;     /* "word@start-end\n" for every word */
} seen;

static void record(void *arg, const char *bytes, const rule_word *w, size_t n)
{
    seen *s = arg;
    for (size_t i = 0; i < n; i++) {
        nm_buf_add(&s->all, bytes + w[i].off, w[i].len);
        nm_buf_addf(&s->all, "@%u-%u\n", w[i].start, w[i].end);
    }
}

/* Fails the test unless both paths cut text[0..len) into the same words. */
static void same_words(const char *text, size_t len, size_t base, const char *what)
{
    seen fast, ref;
    nm_buf_init(&fast.all);
    nm_buf_init(&ref.all);
    rule_wordbuf wb = { NULL, 0 };
    rule_words(&wb, text, len, base, record, &fast);
    rule_words_reference(&wb, text, len, base, record, &ref);
    rule_wordbuf_free(&wb);
    const char *f = nm_buf_cstr(&fast.all), *r = nm_buf_cstr(&ref.all);
    if (strcmp(f, r) != 0) {
        size_t i = 0;
        while (f[i] && f[i] == r[i])
            i++;
        size_t from = i > 40 ? i - 40 : 0;
        ck_abort_msg("%s: fast and reference paths differ at byte %zu:\nfast: %.80s\nref:  %.80s", what, i,
                     f + from, r + from);
    }
    nm_buf_free(&fast.all);
    nm_buf_free(&ref.all);
}

/* Appends the UTF-8 of cp. */
static void add_cp(nm_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    nm_buf_add(b, u, n);
}

START_TEST(fast_path_every_code_point)
{
    /* Each code point alone, between letters (so a vanishing one joins
       them), and after an apostrophe; ranges that hold the letters,
       marks, punctuation and compatibility forms text is made of. */
    static const uint32_t ranges[][2] = {
        { 0x0001, 0x07FF }, { 0x0900, 0x097F }, { 0x1AB0, 0x1AFF }, { 0x1D00, 0x1FFF }, { 0x2000, 0x218F },
        { 0x2460, 0x24FF }, { 0x2C60, 0x2C7F }, { 0x2DE0, 0x2E7F }, { 0x3000, 0x303F }, { 0xA640, 0xA69F },
        { 0xA720, 0xA7FF }, { 0xD7F0, 0xD7FF }, { 0xFB00, 0xFB4F }, { 0xFDF0, 0xFE2F }, { 0xFE30, 0xFFFF },
        { 0x1D400, 0x1D4FF }, { 0x1F100, 0x1F1FF }, { 0x1F600, 0x1F64F }, { 0xE0000, 0xE007F },
    };
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        nm_buf b;
        nm_buf_init(&b);
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            nm_buf_add(&b, "a", 1);
            add_cp(&b, cp);
            nm_buf_add(&b, "b'", 2);
            add_cp(&b, cp);
            nm_buf_add(&b, "Я ", 2 + 1);
            add_cp(&b, cp);
            nm_buf_add(&b, " ", 1);
        }
        char *what = nm_xasprintf("U+%04X..U+%04X", ranges[r][0], ranges[r][1]);
        same_words(b.data, b.len, 0, what);
        same_words(b.data, b.len, 1000, what);
        free(what);
        nm_buf_free(&b);
    }
}
END_TEST

START_TEST(fast_path_desk_letters)
{
    /* every letter of the Belarusian, Ukrainian, Russian, Lithuanian and
       Polish alphabets, both cases, alone, in words and with apostrophes */
    static const char *alphabets[] = {
        "АБВГДЕЁЖЗІЙКЛМНОПРСТУЎФХЦЧШЫЬЭЮЯ абвгдеёжзійклмнопрстуўфхцчшыьэюя",          /* be */
        "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯ абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",        /* uk */
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ абвгдеёжзийклмнопрстуфхцчшщъыьэюя",        /* ru */
        "AĄBCČDEĘĖFGHIĮYJKLMNOPRSŠTUŲŪVZŽ aąbcčdeęėfghiįyjklmnoprsštuųūvzž",          /* lt */
        "AĄBCĆDEĘFGHIJKLŁMNŃOÓPRSŚTUWYZŹŻ aąbcćdeęfghijklłmnńoóprsśtuwyzźż",          /* pl */
    };
    for (size_t i = 0; i < sizeof alphabets / sizeof alphabets[0]; i++) {
        const char *s = alphabets[i];
        same_words(s, strlen(s), 0, s);
        nm_buf b;
        nm_buf_init(&b);
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {   /* each letter as its own word, then glued to the next with ’ and a soft hyphen */
            size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : 3;
            nm_buf_add(&b, p, n);
            nm_buf_add(&b, " x", 2);
            nm_buf_add(&b, p, n);
            nm_buf_add(&b, "’", strlen("’"));
            nm_buf_add(&b, p, n);
            nm_buf_add(&b, "\xc2\xad", 2);
            nm_buf_add(&b, p, n);
            nm_buf_add(&b, ", ", 2);
            p += n;
        }
        same_words(b.data, b.len, 7, s);
        nm_buf_free(&b);
    }
    /* what the desk's rules rely on, spelled out */
    ck_assert_str_eq(words("ЎЗБРОЕНЫЯ Ґрунт Їжак Є ŁÓDŹ ŻĄĆĘŃŚ ĄČĘĖĮŠŲŪŽ"),
                     "узброеныя|ґрунт|іжак|є|lodz|zacens|aceeisuuz");
}
END_TEST

START_TEST(fast_path_random_text)
{
    /* pieces text is made of, including broken UTF-8: a truncated
       sequence, an overlong form, an encoded surrogate, a stray
       continuation byte, bytes that never occur */
    static const char *pieces[] = {
        "a", "Z", "7", " ", "  ", "\n", "\t", ",", ".", "-", "'", "’", "ʼ", "«", "»", "—", "…", "\xc2\xa0",
        "ж", "Ё", "ў", "Ї", "ґ", "ł", "Ż", "ė", "Š", "é", "ß", "ﬁ", "５", "Ⅻ", "①", "\xc2\xad", "\xe2\x80\x8b",
        "\xef\xbb\xbf", "\xcc\x81", "\xd2\x83", "😀", "𝐀", "\xf3\xa0\x80\x81", "\xd0", "\xe2\x80", "\xc0\xaf",
        "\xe0\x80\xaf", "\xed\xa0\x80", "\x80", "\xff", "\xf8\x88\x80\x80\x80", "\x01", "ǅ", "ŉ", "İ", "ﷺ",
    };
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 300; round++) {
        nm_buf b;
        nm_buf_init(&b);
        int n = 1 + round * 3;
        for (int i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *pc = pieces[(seed >> 33) % (sizeof pieces / sizeof pieces[0])];
            nm_buf_add(&b, pc, strlen(pc));
        }
        char *what = nm_xasprintf("random round %d", round);
        same_words(b.data ? b.data : "", b.len, (size_t)round, what);
        free(what);
        nm_buf_free(&b);
    }
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
    tcase_add_test(tc, fast_path_every_code_point);
    tcase_add_test(tc, fast_path_desk_letters);
    tcase_add_test(tc, fast_path_random_text);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
