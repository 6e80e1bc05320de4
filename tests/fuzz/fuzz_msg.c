/*
 * fuzz_msg: the message decoders of common/nm_msg.h on arbitrary bytes.
 *
 * The input is parsed as JSON the way nm_bus does it (json_loadb with
 * JSON_REJECT_DUPLICATES) and handed to every *_from_json decoder. Beyond
 * "no crash, no leak", whatever a decoder accepts must survive a round
 * trip: its encoding decodes again and encodes to the same JSON, since the
 * pipeline re-sends decoded messages (classifier -> store -> notifier).
 * A failed round trip aborts, which libFuzzer reports as a crash.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/nm_msg.h"

/* Aborts with what differs when a re-encoded message is not stable. */
static void check_stable(const char *what, json_t *first, json_t *second)
{
    if (json_equal(first, second))
        return;
    char *a = json_dumps(first, JSON_SORT_KEYS | JSON_COMPACT);
    char *b = json_dumps(second, JSON_SORT_KEYS | JSON_COMPACT);
    fprintf(stderr, "fuzz_msg: %s round trip differs:\n  first:  %s\n  second: %s\n", what,
            a ? a : "?", b ? b : "?");
    free(a);
    free(b);
    abort();
}

/* Aborts when json produced by an encoder is refused by its decoder. */
static void refused(const char *what, const json_t *j, const nm_err *err)
{
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    fprintf(stderr, "fuzz_msg: %s decoder refuses its own encoding (%s): %s\n", what, err->msg, s ? s : "?");
    free(s);
    abort();
}

static void fuzz_article(const json_t *j, int msg)
{
    nm_err err;
    nm_article a;
    nm_article_init(&a);
    int r = msg ? nm_article_msg_from_json(j, &a, &err) : nm_article_from_json(j, &a, &err);
    if (r == 0) {
        json_t *e1 = msg ? nm_article_msg_to_json(&a) : nm_article_to_json(&a);
        nm_article b;
        nm_article_init(&b);
        if ((msg ? nm_article_msg_from_json(e1, &b, &err) : nm_article_from_json(e1, &b, &err)) < 0)
            refused("article", e1, &err);
        json_t *e2 = msg ? nm_article_msg_to_json(&b) : nm_article_to_json(&b);
        check_stable("article", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_article_clear(&b);
    }
    nm_article_clear(&a);
}

static void fuzz_theme_hit(const json_t *j)
{
    nm_err err;
    nm_theme_hit h;
    memset(&h, 0, sizeof h);
    if (nm_theme_hit_from_json(j, &h, &err) == 0) {
        json_t *e1 = nm_theme_hit_to_json(&h);
        nm_theme_hit h2;
        memset(&h2, 0, sizeof h2);
        if (nm_theme_hit_from_json(e1, &h2, &err) < 0)
            refused("theme hit", e1, &err);
        json_t *e2 = nm_theme_hit_to_json(&h2);
        check_stable("theme hit", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_theme_hit_clear(&h2);
    }
    nm_theme_hit_clear(&h);
}

static void fuzz_classified(const json_t *j)
{
    nm_err err;
    nm_classified c;
    nm_classified_init(&c);
    if (nm_classified_from_json(j, &c, &err) == 0) {
        json_t *e1 = nm_classified_to_json(&c);
        nm_classified c2;
        nm_classified_init(&c2);
        if (nm_classified_from_json(e1, &c2, &err) < 0)
            refused("classified", e1, &err);
        json_t *e2 = nm_classified_to_json(&c2);
        check_stable("classified", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_classified_clear(&c2);
    }
    nm_classified_clear(&c);
}

static void fuzz_stored(const json_t *j)
{
    nm_err err;
    nm_stored s;
    memset(&s, 0, sizeof s);
    if (nm_stored_from_json(j, &s, &err) == 0) {
        json_t *e1 = nm_stored_to_json(&s);
        nm_stored s2;
        memset(&s2, 0, sizeof s2);
        if (nm_stored_from_json(e1, &s2, &err) < 0)
            refused("stored", e1, &err);
        json_t *e2 = nm_stored_to_json(&s2);
        check_stable("stored", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_stored_clear(&s2);
    }
    nm_stored_clear(&s);
}

static void fuzz_alert(const json_t *j)
{
    nm_err err;
    nm_alert a;
    nm_alert_init(&a);
    if (nm_alert_from_json(j, &a, &err) == 0) {
        json_t *e1 = nm_alert_to_json(&a);
        nm_alert a2;
        nm_alert_init(&a2);
        if (nm_alert_from_json(e1, &a2, &err) < 0)
            refused("alert", e1, &err);
        json_t *e2 = nm_alert_to_json(&a2);
        check_stable("alert", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_alert_clear(&a2);
    }
    nm_alert_clear(&a);
}

static void fuzz_delivered(const json_t *j)
{
    nm_err err;
    nm_delivered d;
    memset(&d, 0, sizeof d);
    if (nm_delivered_from_json(j, &d, &err) == 0) {
        json_t *e1 = nm_delivered_to_json(&d);
        nm_delivered d2;
        memset(&d2, 0, sizeof d2);
        if (nm_delivered_from_json(e1, &d2, &err) < 0)
            refused("delivered", e1, &err);
        json_t *e2 = nm_delivered_to_json(&d2);
        check_stable("delivered", e1, e2);
        json_decref(e1);
        json_decref(e2);
        nm_delivered_clear(&d2);
    }
    nm_delivered_clear(&d);
}

/* libFuzzer's entry point: one input, every decoder. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first frame of a bus message is the type name: same bytes, other decoder. */
    (void)nm_msg_type_from_name((const char *)data, size);

    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    nm_err err;
    (void)nm_msg_check_version(j, &err);
    fuzz_article(j, 0);
    fuzz_article(j, 1);
    fuzz_theme_hit(j);
    fuzz_classified(j);
    fuzz_stored(j);
    fuzz_alert(j);
    fuzz_delivered(j);
    json_decref(j);
    return 0;
}
