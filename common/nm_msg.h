/*
 * nm_msg: the message catalogue. Every message on the bus is two frames:
 * the type name, then one JSON object carrying "v" (NM_MSG_VERSION). The
 * article object is the same everywhere: what `newsmonctl parse-feed`
 * prints per entry, what the fetcher sends, what the store keeps.
 *
 * Decoding is strict: an unknown version, a missing field, a wrong type or
 * an unknown type name is rejected with a message naming it. Bump
 * NM_MSG_VERSION on every change to a shape, and update docs/protocol.md.
 */
#ifndef NM_MSG_H
#define NM_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_util.h"

#define NM_MSG_VERSION 1

/* Grouped by receiver. */
typedef enum nm_msg_type {
    /* to the classifier */
    NM_MSG_ARTICLE,      /* fetcher -> classifier: a new or re-sent item */
    /* to the store */
    NM_MSG_CLASSIFIED,   /* classifier -> store: article + themes that fired */
    NM_MSG_DELIVERED,    /* notifier -> store: an alert reached a channel (or failed for good) */
    /* to the fetcher (published by the store) */
    NM_MSG_STORED,       /* store -> fetcher: the article is committed */
    /* to the notifier */
    NM_MSG_ALERT,        /* store -> notifier: an alert to deliver */
    NM_MSG__COUNT
} nm_msg_type;

/* Returns the wire name of t ("article", ...). */
const char *nm_msg_type_name(nm_msg_type t);
/* Returns the type for a wire name of n bytes, or -1 when unknown. */
int nm_msg_type_from_name(const char *name, size_t n);

/* An article. Strings are owned (malloc'd); NULL means absent. */
typedef struct nm_article {
    char *id;          /* stable: GUID, else canonical link (required) */
    char *link;        /* absolute URL */
    char *title;       /* plain text */
    char *summary;     /* plain text from the feed */
    char *text;        /* plain text of the page, when fetched */
    char *published;   /* RFC 3339 UTC, "...Z" */
    char *updated;     /* RFC 3339 UTC */
    char *author;
    char **categories;
    size_t n_categories;
    char *lang;        /* BCP 47 tag as given by the feed or page, e.g. "ru" */
    char *feed;        /* URL of the feed the item came from */
    char *feed_title;
    char *page;        /* page fetch outcome: "ok", "off", "failed: reason"; NULL when not tried */
} nm_article;

void nm_article_init(nm_article *a);
void nm_article_clear(nm_article *a);
/* Adds a category (copied). */
void nm_article_add_category(nm_article *a, const char *cat);

/* Returns a new JSON object for a (absent fields omitted, except the ones
   parse-feed always prints). The caller owns the reference. */
json_t *nm_article_to_json(const nm_article *a);
/* Fills a (initialised by the caller) from j. Returns 0, or -1 with err
   naming the field. Unknown fields are rejected too. */
int nm_article_from_json(const json_t *j, nm_article *a, nm_err *err);

/* The "article" message body: {"v":1,"article":{...}}. */
json_t *nm_article_msg_to_json(const nm_article *a);
int nm_article_msg_from_json(const json_t *j, nm_article *a, nm_err *err);

/* One theme that fired on an article, as the classifier reports it. */
typedef struct nm_theme_hit {
    char *id;
    char *severity;    /* info, low, medium, high, critical */
    int64_t score;
    json_t *matches;   /* array of {"term","field","offset","text"} (owned reference) */
} nm_theme_hit;

typedef struct nm_classified {
    nm_article article;
    char *ruleset;             /* rule-set version (content hash) */
    nm_theme_hit *themes;
    size_t n_themes;
} nm_classified;

void nm_classified_init(nm_classified *c);
void nm_classified_clear(nm_classified *c);
json_t *nm_classified_to_json(const nm_classified *c);
int nm_classified_from_json(const json_t *j, nm_classified *c, nm_err *err);
/* Validates and copies one theme hit object (its "matches" array is
   shared with j, a new reference: read it, do not modify it). */
int nm_theme_hit_from_json(const json_t *j, nm_theme_hit *h, nm_err *err);
json_t *nm_theme_hit_to_json(const nm_theme_hit *h);
void nm_theme_hit_clear(nm_theme_hit *h);

/* store -> fetcher */
typedef struct nm_stored {
    char *id;        /* article id */
    char *feed;      /* feed URL, may be NULL */
    int64_t version; /* article version number in the store (1 = first) */
} nm_stored;

void nm_stored_clear(nm_stored *s);
json_t *nm_stored_to_json(const nm_stored *s);
int nm_stored_from_json(const json_t *j, nm_stored *s, nm_err *err);

/* store -> notifier: one alert; the notifier delivers it to every channel its routes select. */
typedef struct nm_alert {
    int64_t alert_id;
    char *story;           /* story key; alerts of one story are follow-ups of the first */
    int64_t followup;      /* 0 for the first alert of a story, else how many came before */
    nm_classified item;    /* the article and its themes */
} nm_alert;

void nm_alert_init(nm_alert *a);
void nm_alert_clear(nm_alert *a);
json_t *nm_alert_to_json(const nm_alert *a);
int nm_alert_from_json(const json_t *j, nm_alert *a, nm_err *err);

/* notifier -> store */
typedef struct nm_delivered {
    int64_t alert_id;
    char *channel;
    char *status;   /* "ok" or "failed" */
    char *error;    /* NULL when ok */
} nm_delivered;

void nm_delivered_clear(nm_delivered *d);
json_t *nm_delivered_to_json(const nm_delivered *d);
int nm_delivered_from_json(const json_t *j, nm_delivered *d, nm_err *err);

/* Checks that j is an object with "v" equal to NM_MSG_VERSION. */
int nm_msg_check_version(const json_t *j, nm_err *err);

#endif
