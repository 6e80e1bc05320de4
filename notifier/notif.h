/*
 * notif: the library behind newsmon-notifier (libnmnotify).
 *
 * The notifier turns the store's `alert` messages into messages people
 * read. The pieces, one file each:
 *   notif_conf.c    [channel NAME] and [route NAME] sections: collected
 *                   through nm_conf's named-section callback, checked as a
 *                   whole once the file is read (the type decides the keys)
 *   notif_route.c   which routes select an alert; severity order; the
 *                   sliding-window rate limiter; the retry back-off
 *   notif_render.c  what a message says: title, plain text, HTML,
 *                   Markdown, the highlighted snippet, {{placeholder}}
 *                   templates
 *   notif_db.c      the state database: (alert_id, channel) -> outcome
 *   notif_http.c    libcurl's multi interface driven by nm_loop
 *   notif_exec.c    the exec channel's child processes
 *   notif_send.c    one attempt of one message on one channel, per type
 *   notif_item.c    the alerts held while they wait: decoded while among
 *                   the most recently used, else reduced to their JSON text
 *   notif_engine.c  the delivery engine: dedup, routing, flood control,
 *                   per-channel slots, retries, grouped records,
 *                   acknowledgements
 * notifier.c is the daemon's main around the engine. docs/alerts.md is the
 * operator's view of all this.
 */
#ifndef NOTIF_H
#define NOTIF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_bus.h"
#include "common/nm_conf.h"
#include "common/nm_msg.h"
#include "common/nm_util.h"

/* ---- configuration -------------------------------------------------------- */

typedef enum notif_type {
    NOTIF_STDOUT, NOTIF_JSONL, NOTIF_EMAIL, NOTIF_WEBHOOK, NOTIF_SLACK, NOTIF_MATTERMOST,
    NOTIF_TEAMS, NOTIF_TELEGRAM, NOTIF_MATRIX, NOTIF_NTFY, NOTIF_EXEC, NOTIF__NTYPES
} notif_type;

/* Returns the config name of t ("email"). */
const char *notif_type_name(notif_type t);

/* One key = value of a named section, as read. */
typedef struct notif_kv {
    char *key;
    char *value;
    int line;
} notif_kv;

typedef struct notif_channel {
    char *name;
    int line;                 /* line of its first key */
    notif_kv *kv;             /* every key as read (validated by notif_conf_finish) */
    size_t n_kv;
    notif_type type;
    int64_t retries;          /* attempts after the first */
    int64_t retry_base, retry_max, timeout;   /* ms */
    int64_t parallel;         /* messages under way at once on this channel; the rest wait their turn */
    char *path;               /* jsonl */
    char *url;                /* webhook, slack, mattermost, teams (plain or secret) */
    char *method;             /* webhook: POST or PUT */
    char *template;           /* webhook body template, NULL = the alert JSON */
    char **headers;           /* webhook: extra "Name: value" headers */
    size_t n_headers;
    char *token;              /* secret: webhook bearer, telegram, matrix, ntfy */
    char *username;           /* email, ntfy; slack/mattermost display name */
    char *password;           /* secret: email, ntfy */
    char *smtp_url;
    int starttls;             /* email: require STARTTLS */
    char *ca_file;            /* email, http: CA bundle */
    char *from;
    char **to;
    size_t n_to;
    char *subject_prefix;
    char *chat_id;            /* telegram */
    char *api_url;            /* telegram */
    char *homeserver, *room;  /* matrix */
    char *server, *topic;     /* ntfy */
    char *command;            /* exec */
    char *target;             /* slack/mattermost "channel" override */
} notif_channel;

enum notif_followups { NOTIF_FU_SEND, NOTIF_FU_DIGEST, NOTIF_FU_SKIP };

typedef struct notif_route {
    char *name;
    int line;
    notif_kv *kv;
    size_t n_kv;
    int all_themes;
    char **themes;
    size_t n_themes;
    int min_severity;         /* notif_severity_rank */
    char **sources;
    size_t n_sources;
    char **languages;
    size_t n_languages;
    char **channels;          /* names, each a defined channel */
    size_t n_channels;
    int64_t rate_limit;       /* 0 = none */
    int64_t rate_window;      /* ms */
    int64_t digest;           /* ms; 0 = immediate */
    int followups;            /* enum notif_followups */
} notif_route;

typedef struct notif_conf {
    char *path;               /* the file, for messages */
    notif_channel **channels;
    size_t n_channels;
    notif_route **routes;
    size_t n_routes;
    char *hostname;           /* Message-ID domain when From has none */
} notif_conf;

notif_conf *notif_conf_new(const char *path);
void notif_conf_destroy(notif_conf **c);
/* nm_conf_named_fn for [channel NAME] and [route NAME]: arg is the
   notif_conf. Returns NULL, or a malloc'd problem. */
char *notif_conf_named(void *arg, const char *kind, const char *name, const char *key,
                       const char *value, int line);
/* Checks and interprets every collected section (type-specific keys,
   required keys, values, secret files, channel references). Adds each
   problem to errs as "file:line: [channel NAME] key: problem". Returns 0
   when there was none, else -1. */
int notif_conf_finish(notif_conf *c, nm_conf_errors *errs);
/* Returns the channel named name, or NULL. */
notif_channel *notif_conf_channel(const notif_conf *c, const char *name);
/* Returns the route named name, or NULL. */
notif_route *notif_conf_route(const notif_conf *c, const char *name);

/* Reads a secret: from a file, or from $CREDENTIALS_DIRECTORY/credential.
   The trailing newline is removed. Returns a new string, or NULL with err. */
char *notif_read_secret(const char *file, const char *credential, nm_err *err);

/* ---- routing, rate limit, back-off -------------------------------------- */

/* Returns 0 (info) to 4 (critical), or -1 for an unknown severity. */
int notif_severity_rank(const char *s);
/* Returns the host of an URL (a new string), or NULL. */
char *notif_url_host(const char *url);
/* Returns the article's source: the link's host, else the feed's, else
   the feed title (a new string, never NULL: "unknown source" at worst). */
char *notif_alert_source(const nm_alert *a);
/* Returns 1 when route r selects alert a, else 0. */
int notif_route_match(const notif_route *r, const nm_alert *a);

/* A sliding-window rate limiter: at most limit events per window ms. */
typedef struct notif_rate {
    int64_t limit, window;
    int64_t *times;           /* ring of the last `limit` event times */
    size_t head, count;
} notif_rate;

void notif_rate_init(notif_rate *r, int64_t limit, int64_t window);
void notif_rate_clear(notif_rate *r);
/* Returns 1 and records the event when one more fits at now, else 0.
   A limit of 0 always allows. */
int notif_rate_take(notif_rate *r, int64_t now);
/* Returns the ms from now until one more event fits (0 = now). */
int64_t notif_rate_wait(const notif_rate *r, int64_t now);

/* Returns the delay before retry number n (1 = first retry):
   min(max, base * 2^(n-1)), never negative, without overflow. */
int64_t notif_backoff_delay(int64_t base, int64_t max, int n);
/* Returns delay lengthened by a random 0-25% (never shortened: the
   configured back-off stays the least wait), so that deliveries failing
   together do not all come back at the same moment; *state is the
   caller's generator state (any seed but 0). */
int64_t notif_jitter(int64_t delay, uint64_t *state);

/* ---- rendering ------------------------------------------------------------ */

/* What is sent in one go on one channel: one alert, or a digest. */
typedef struct notif_msg {
    const char *channel;
    const char *route;
    int digest;                        /* 1: a digest of n alerts */
    const nm_alert *const *alerts;
    const json_t *const *raws;         /* each alert's JSON as received */
    size_t n;
    int retry;                         /* an earlier attempt failed: use a new connection */
} notif_msg;

/* NOTIF_MK_TGHTML: Telegram's HTML subset (no <br>, lists or <mark>). */
enum notif_markup { NOTIF_MK_PLAIN, NOTIF_MK_HTML, NOTIF_MK_MARKDOWN, NOTIF_MK_SLACK, NOTIF_MK_TGHTML };

/* Returns the one-line title of m (a new string). */
char *notif_render_title(const notif_msg *m);
/* Returns the body of m in the given markup (a new string). */
char *notif_render_body(const notif_msg *m, enum notif_markup mk);
/* Returns the highlighted snippet of a, in markup mk (plain: «term»), or
   NULL when the alert carries no usable match. */
char *notif_snippet(const nm_alert *a, enum notif_markup mk);
/* Returns the highest severity rank among a's themes (0 when none). */
int notif_alert_severity(const nm_alert *a);
/* Returns "espionage (high), border (medium)" for a (a new string). */
char *notif_themes_text(const nm_alert *a);
/* Appends s escaped for markup mk. */
void notif_escape(nm_buf *b, const char *s, enum notif_markup mk);

/* Checks a webhook template: every {{name}} known. Returns 0, or -1 with err. */
int notif_template_check(const char *tmpl, nm_err *err);
/* Returns the template with its placeholders replaced for m (values
   JSON-escaped, {{alert_json}} raw). */
char *notif_template_render(const char *tmpl, const notif_msg *m);

/* Returns the alert JSON as received plus "channel", as a new reference:
   a new top-level object whose nested values are shared with raw (add
   top-level keys to it; change nothing below them). */
json_t *notif_alert_json(const json_t *raw, const char *channel);

/* ---- state database ------------------------------------------------------- */

typedef struct notif_db notif_db;

/* Opens (creating or migrating) the database at path. Returns it, or NULL with err. */
notif_db *notif_db_open(const char *path, nm_err *err);
void notif_db_close(notif_db **db);
/* Looks up (alert_id, channel). Returns 1 with *status and *error (new
   strings, error may be NULL) when recorded, 0 when not, -1 with err. */
int notif_db_lookup(notif_db *db, int64_t alert_id, const char *channel, char **status, char **error,
                    nm_err *err);
/* Records an outcome (replacing an older one). Returns 0, or -1 with err. */
int notif_db_record(notif_db *db, int64_t alert_id, const char *channel, const char *status,
                    const char *error, nm_err *err);
/* Opens a transaction: the records until notif_db_commit are written
   together (one sync for all of them). Returns 0, or -1 with err. */
int notif_db_begin(notif_db *db, nm_err *err);
/* Commits the open transaction (rolled back when the commit fails).
   Returns 0, or -1 with err. */
int notif_db_commit(notif_db *db, nm_err *err);
/* Deletes records older than before (epoch seconds). Returns the count, or -1 with err. */
int64_t notif_db_prune(notif_db *db, int64_t before, nm_err *err);

/* ---- transports ---------------------------------------------------------- */

/* The outcome of an attempt. */
enum notif_result { NOTIF_OK = 0, NOTIF_RETRY = 1, NOTIF_PERMANENT = 2 };
/* The longest wait a server's Retry-After is followed for: a server that
   asks for more is asked again after this. */
#define NOTIF_MAX_SERVER_WAIT_MS (3600 * 1000LL)

/* The outcome of an attempt, reported once: r, a message when it failed,
   and wait_ms, the least time the other side asked to be left alone before
   another attempt (HTTP Retry-After, Telegram's retry_after), 0 for none. */
typedef void (*notif_done_fn)(void *arg, enum notif_result r, const char *error, int64_t wait_ms);

typedef struct notif_http notif_http;

/* One libcurl transfer and everything it borrows. */
typedef struct notif_req {
    void *easy;                    /* CURL * */
    struct curl_slist *headers;
    struct curl_slist *rcpt;       /* SMTP recipients */
    char *upload;                  /* body sent through the read callback (SMTP) */
    size_t upload_len, upload_off;
    char *post;                    /* HTTP body */
    nm_buf response;
    char errbuf[256];
    int smtp;                      /* error classification */
    notif_done_fn done;
    void *arg;
} notif_req;

notif_http *notif_http_new(nm_loop *loop, nm_err *err);
void notif_http_destroy(notif_http **h);
/* Returns a new request with an easy handle (timeouts, error buffer,
   response capture set). */
notif_req *notif_req_new(int64_t timeout_ms, notif_done_fn done, void *arg);
/* Starts r (taking it); its done callback runs from the loop. */
void notif_http_start(notif_http *h, notif_req **r);
/* Returns the number of transfers running. */
size_t notif_http_running(const notif_http *h);

typedef struct notif_exec notif_exec;
notif_exec *notif_exec_new(nm_loop *loop);
void notif_exec_destroy(notif_exec **x);
/* Runs command with /bin/sh -c, input on its stdin, env "NAME=value"
   entries added; done runs from the loop (or at once when fork fails). */
void notif_exec_start(notif_exec *x, const char *command, const char *input, char *const *env,
                      size_t n_env, int64_t timeout_ms, notif_done_fn done, void *arg);
size_t notif_exec_running(const notif_exec *x);

/* Everything one attempt needs. */
typedef struct notif_sender {
    nm_loop *loop;
    notif_http *http;
    notif_exec *exec;
    const char *hostname;    /* Message-ID fallback domain */
    void *out;               /* FILE * of the stdout channel (tests redirect it) */
    json_t *jsonl_tail;      /* path -> {"ALERT\tCHANNEL": true, "torn": true}: the lines at the end of
                                each jsonl file when this process first wrote to it (notif_send.c) */
} notif_sender;

/* Makes one attempt to deliver m on ch; done runs exactly once, maybe
   before this returns. */
void notif_send(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done,
                void *arg);
/* Returns the e-mail message (headers and MIME body, CRLF lines) for m on
   ch, as sent. date is epoch seconds. */
char *notif_email_message(const notif_channel *ch, const notif_msg *m, const char *hostname, int64_t date);

/* ---- alert items (notif_item.c) -------------------------------------------- */

/* An alert held by deliveries and digests: decoded while among the most
   recently used, otherwise reduced to its JSON text. */
typedef struct notif_item notif_item;
typedef struct notif_items notif_items;

/* Returns an empty set that keeps at most budget items decoded. */
notif_items *notif_items_new(size_t budget);
/* Frees c (every item must have been released). */
void notif_items_destroy(notif_items **c);
/* Returns how many items are decoded now. */
size_t notif_items_decoded(const notif_items *c);
/* Returns a new item (one reference) for the alert a decoded from body:
   a's fields are moved into it (a is left empty), body gains a reference. */
notif_item *notif_item_new(notif_items *c, nm_alert *a, json_t *body);
/* Reduces it to its text now, as it will not be needed soon; not when it
   is pinned, nor when the caller's reference is its only one (it is
   about to go). */
void notif_item_reduce(notif_items *c, notif_item *it);
void notif_item_ref(notif_item *it);
/* Drops a reference; the last one frees it. */
void notif_item_unref(notif_items *c, notif_item *it);
/* Returns the item's alert id. */
int64_t notif_item_id(const notif_item *it);
/* Makes it decoded (decoding its text again when it was reduced) and keeps
   it so, with a reference, until notif_item_unpin; *alert and *raw are
   borrowed until then. Returns 0, or -1 with err. */
int notif_item_pin(notif_items *c, notif_item *it, const nm_alert **alert, const json_t **raw, nm_err *err);
void notif_item_unpin(notif_items *c, notif_item *it);

/* ---- engine ---------------------------------------------------------------- */

typedef struct notif_engine notif_engine;
/* Receives every acknowledgement (the daemon sends it to the store). */
typedef void (*notif_ack_fn)(void *arg, const nm_delivered *d);

/* Creates the engine; it takes conf and borrows loop, sender and db. */
notif_engine *notif_engine_new(nm_loop *loop, notif_sender *s, notif_db *db, notif_conf **conf,
                               notif_ack_fn ack, void *ack_arg);
void notif_engine_destroy(notif_engine **e);
/* Replaces the configuration (deliveries under way keep going; a channel
   or route that disappeared fails them or flushes them). */
void notif_engine_set_conf(notif_engine *e, notif_conf **conf);
/* Handles one alert message body. Returns 0, or -1 with err when it could
   not be decoded (nothing else happens then). */
int notif_engine_alert(notif_engine *e, const json_t *body, nm_err *err);
/* Returns how many (alert, channel) deliveries are under way or waiting in digests. */
size_t notif_engine_pending(const notif_engine *e);
/* Returns how many messages wait for a free slot of their channel (parallel). */
size_t notif_engine_waiting(const notif_engine *e);

#endif
