/*
 * newsmon-fetcher: polls the desk's feeds, fetches each new item's page,
 * and sends one `article` message per item until the store confirms it.
 *
 * Set-up: the config ([bus], [log], [fetcher]), the feed lists (every
 * *.opml of the feeds folder, again on SIGHUP), the state database, a PUSH
 * socket bound on [bus] fetch_out and a SUB socket connected to [bus]
 * store_events. Then the loop: a one-second tick starts the polls that are
 * due; libcurl's transfers run on the same loop (http.c); each finished
 * poll is parsed (feed_parse.h), its new items' pages are fetched under
 * the SSRF guard and extracted (extract.h), and every item is sent with
 * ZeroMQ's dontwait and recorded as pending in the state database. A
 * `stored` message marks an item done. Each poll re-sends its feed's
 * pending items, and a feed with pending items is polled without
 * conditional-GET validators, so nothing waits behind a 304.
 *
 * --once polls every feed once and exits 0 when every item sent has been
 * confirmed, or 1 after [fetcher] once_timeout naming how many were not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

#include "common/nm_bus.h"
#include "common/nm_control.h"
#include "common/nm_daemon.h"
#include "common/nm_log.h"
#include "common/nm_msg.h"
#include "common/nm_time.h"
#include "fetcher/extract.h"
#include "fetcher/feed_parse.h"
#include "fetcher/fetcher_conf.h"
#include "fetcher/http.h"
#include "fetcher/opml.h"
#include "fetcher/sched.h"
#include "fetcher/site_rules.h"
#include "fetcher/ssrf.h"
#include "fetcher/state.h"

#define ACCEPT_FEED "application/rss+xml, application/atom+xml, application/feed+json, " \
                    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
#define ACCEPT_PAGE "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#define RETRY_MS 1000          /* items the send queue refused are retried this often */
#define STALE_MS 5000          /* --once: unconfirmed items are re-sent after this long */
#define PURGE_EVERY_MS (6 * 3600 * 1000LL)

/* One configured feed at run time. */
struct feed_rt {
    char *url;             /* as configured: the key in the state database */
    char *title;           /* from the OPML, may be NULL */
    int64_t interval_ms;   /* the OPML's override, 0 = scheduler decides */
    int fetch_page;        /* the OPML's newsmon:fetchPage: 1, 0, or -1 = [fetcher] fetch_pages */
    int64_t next_ms;       /* epoch ms of the next poll */
    int64_t started_ms;    /* epoch ms the current (or last) poll started */
    bool busy;             /* a poll or its page fetches are under way */
    bool polled;           /* polled at least once in this run (--once) */
    bool gone;             /* dropped by a reload while busy: freed when the poll ends */
    int pages_left;        /* page fetches of the current poll still running */
    bool hold_validators;  /* the poll's ETag and Last-Modified wait for its page fetches */
    char *etag;            /* ... these (NULL = none sent) */
    char *last_modified;
};

struct fetcher {
    struct fetcher_conf conf;
    struct nm_daemon_args args;
    nm_loop *loop;
    http_client *http;
    state_db *db;
    ssrf_allow *allow;
    struct site_rules *rules;   /* NULL when no site_rules file */
    void *push;                 /* fetch_out */
    void *sub;                  /* store_events */
    nm_control *control;        /* status and reload requests from newsmonctl */
    struct feed_rt **feeds;
    size_t n_feeds;
    struct feed_rt **gone;      /* dropped by a reload while polled: freed when their poll ends */
    size_t n_gone;
    struct feed_limits limits;
    /* Feed requests in flight are bounded at twice [fetcher] max_transfers
       (libcurl always has the next one ready): due feeds beyond that wait
       in the schedule, not as queued transfers, so memory follows the
       transfers at once, not the number of feeds due. */
    size_t n_polling;           /* feed requests in flight */
    size_t tick_next;           /* where the next tick starts looking: no feed waits behind others */
    int tick_timer;             /* fires at the next due poll, at least once a second */
    bool tick_waiting;          /* a due feed was left for lack of a slot: tick again when one frees */
    int64_t run_start_ms;       /* epoch ms */
    int exit_code;
    /* counters for the status line and the --once summary */
    int64_t n_polls, n_new, n_sent, n_confirmed, n_page_failed;
};

/* A page fetch for one new item. */
struct page_job {
    struct fetcher *f;
    struct feed_rt *feed;
    nm_article art;
};

/* A feed poll in flight. */
struct poll_job {
    struct fetcher *f;
    struct feed_rt *feed;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t random32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (uint32_t)nm_now_ms() * 2654435761u;
    return v;
}

/* Formats a duration in ms for log lines ("90s", "15m", "2h"). */
static const char *human_ms(int64_t ms, char buf[32])
{
    if (ms < 120000)
        snprintf(buf, 32, "%llds", (long long)((ms + 999) / 1000));
    else if (ms < 2 * 3600000)
        snprintf(buf, 32, "%lldm", (long long)((ms + 59999) / 60000));
    else
        snprintf(buf, 32, "%.1fh", (double)ms / 3600000.0);
    return buf;
}

static void feed_rt_free(struct feed_rt *r)
{
    free(r->url);
    free(r->title);
    free(r->etag);
    free(r->last_modified);
    free(r);
}

/* ---- --once completion --------------------------------------------------- */

static bool all_polled(const struct fetcher *f)
{
    for (size_t i = 0; i < f->n_feeds; i++)
        if (!f->feeds[i]->polled || f->feeds[i]->busy)
            return false;
    return true;
}

/* In --once mode, stops the loop when every feed has been polled and every
   item sent in this run is confirmed. */
static void check_once_done(struct fetcher *f)
{
    if (!f->args.once || !all_polled(f) || http_pending(f->http) > 0)
        return;
    if (f->conf.confirm) {
        nm_err err;
        int64_t left = state_count_pending_since(f->db, f->run_start_ms, &err);
        if (left < 0) {
            log_err("%s", err.msg);
            return;
        }
        if (left > 0)
            return;
    }
    log_info("once: %lld feeds polled, %lld new items, %lld sent, %lld confirmed; done",
             (long long)f->n_feeds, (long long)f->n_new, (long long)f->n_sent, (long long)f->n_confirmed);
    f->exit_code = 0;
    nm_loop_stop(f->loop);
}

static void on_once_timeout(nm_loop *loop, void *arg)
{
    struct fetcher *f = arg;
    nm_err err;
    int64_t left = state_count_pending_since(f->db, f->run_start_ms, &err);
    size_t unpolled = 0;
    for (size_t i = 0; i < f->n_feeds; i++)
        unpolled += !f->feeds[i]->polled || f->feeds[i]->busy;
    char b[32];
    log_err("once: timed out after %s: %lld item%s sent but not confirmed by the store, %zu feed%s not done",
            human_ms(f->conf.once_timeout, b), (long long)left, left == 1 ? "" : "s", unpolled,
            unpolled == 1 ? "" : "s");
    f->exit_code = 1;
    nm_loop_stop(loop);
}

/* ---- sending ------------------------------------------------------------- */

/* Sends one article (its JSON object) and records the attempt. */
static void send_article(struct fetcher *f, const char *id, const char *feed, json_t *article)
{
    json_t *body = json_object();
    json_object_set_new(body, "v", json_integer(NM_MSG_VERSION));
    json_object_set(body, "article", article);
    nm_err err;
    int r = nm_bus_send(f->push, NM_MSG_ARTICLE, body, 1, &err);
    json_decref(body);
    if (r < 0)
        log_warn("sending %s: %s", id, err.msg);
    else if (r == 1)
        log_debug("send queue full: %s stays pending", id);
    bool queued = r == 0;
    if (queued)
        f->n_sent++;
    char *text = json_dumps(article, JSON_COMPACT);
    int64_t now = wall_ms();
    if (state_item_sent(f->db, id, feed, text, queued, now, &err) < 0)
        log_err("%s", err.msg);
    /* Without confirmations (benchmarks only), an item is done once offered to the queue. */
    if (!f->conf.confirm && state_item_confirm(f->db, id, now / 1000, &err) < 0)
        log_err("%s", err.msg);
    free(text);
}

/* state_items_pending callback: re-sends one stored article. */
static int resend_one(void *arg, const char *id, const char *feed, const char *json)
{
    struct fetcher *f = arg;
    json_error_t jerr;
    json_t *a = json ? json_loads(json, 0, &jerr) : NULL;
    if (!a) {
        log_warn("pending item %s has no readable stored article; it will be sent again when its feed lists it", id);
        nm_err err;
        if (state_item_sent(f->db, id, feed, NULL, true, wall_ms(), &err) < 0)
            log_err("%s", err.msg);
        return 0;
    }
    send_article(f, id, feed, a);
    json_decref(a);
    return 0;
}

static void resend_pending(struct fetcher *f, const char *feed)
{
    nm_err err;
    if (state_items_pending(f->db, feed, resend_one, f, &err) < 0)
        log_err("%s", err.msg);
}

/* Re-sends the items the send queue refused. With --once, also the items
   whose confirmation is overdue (it may have been published before our
   subscription reached the store): there is no next poll to re-send them. */
static void on_retry(nm_loop *loop, void *arg)
{
    struct fetcher *f = arg;
    nm_err err;
    int64_t stale = f->args.once ? wall_ms() - STALE_MS : 0;
    if (state_items_retry(f->db, stale, resend_one, f, &err) < 0)
        log_err("%s", err.msg);
    check_once_done(f);
}

/* Sends a new item and frees it. */
static void send_new(struct fetcher *f, nm_article *a)
{
    json_t *j = nm_article_to_json(a);
    send_article(f, a->id, a->feed, j);
    json_decref(j);
    nm_article_clear(a);
}

/* ---- page fetches -------------------------------------------------------- */

static void feed_poll_end(struct fetcher *f, struct feed_rt *r);
static void arm_tick(struct fetcher *f);

/* Returns the charset parameter of a Content-Type value (malloc'd), or NULL. */
/* Cuts text to at most max bytes, at the last space before the limit (or
   at a UTF-8 character boundary when there is none), so that an article
   always fits [bus] max_message. Returns whether it cut. */
static bool cut_text(char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max)
        return false;
    size_t end = max;
    while (end > 0 && ((unsigned char)text[end] & 0xC0) == 0x80)
        end--;
    size_t space = end;
    while (space > max / 2 && text[space] != ' ' && text[space] != '\n')
        space--;
    text[space > max / 2 ? space : end] = '\0';
    return true;
}

static char *content_charset(const char *ct)
{
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = strcspn(p, "\";, \t");
    return n ? nm_xstrndup(p, n) : NULL;
}

static void on_page_done(void *arg, struct http_result *r)
{
    struct page_job *j = arg;
    struct fetcher *f = j->f;
    nm_article *a = &j->art;
    if (r->cancelled) {   /* stopping: the item was never sent, so it is new again next time */
        nm_article_clear(a);
        free(j);
        return;
    }
    if (r->failed) {
        a->page = nm_xasprintf("failed: %s", r->error_msg);
    } else if (r->status != 200) {
        a->page = nm_xasprintf("failed: HTTP %ld", r->status);
    } else if (r->content_type && !strcasestr(r->content_type, "html") && strncasecmp(r->content_type, "text/", 5)) {
        a->page = nm_xasprintf("failed: not a web page (%s)", r->content_type);
    } else {
        char *charset = content_charset(r->content_type);
        struct extract_result x = { 0 };
        nm_err err;
        if (extract_page(r->body.data ? r->body.data : "", r->body.len, r->final_url, charset, f->rules, &x,
                         &err) < 0) {
            a->page = nm_xasprintf("failed: %s", err.msg);
        } else if (!x.text || !*x.text) {
            a->page = nm_xstrdup("failed: no text found in the page");
        } else {
            free(a->text);
            a->text = x.text;
            x.text = NULL;
            if (cut_text(a->text, (size_t)f->conf.max_text))
                log_info("%s: page text cut to [fetcher] max_text (%lld bytes)", r->final_url,
                         (long long)f->conf.max_text);
            if (!a->lang && x.lang) {
                a->lang = x.lang;
                x.lang = NULL;
            }
            if (!a->author && x.byline) {
                a->author = x.byline;
                x.byline = NULL;
            }
            a->page = nm_xstrdup("ok");
        }
        extract_result_clear(&x);
        free(charset);
    }
    if (strcmp(a->page, "ok")) {
        f->n_page_failed++;
        log_info("page %s: %s; sending the feed's text", a->link, a->page + 8);
    }
    send_new(f, a);
    struct feed_rt *feed = j->feed;
    free(j);
    if (--feed->pages_left == 0)
        feed_poll_end(f, feed);
}

/* Starts the page fetch of a new item, or sends it at once when pages are off. */
static void handle_new_item(struct fetcher *f, struct feed_rt *feed, nm_article *a)
{
    f->n_new++;
    if (!(feed->fetch_page >= 0 ? feed->fetch_page : f->conf.fetch_pages)) {
        a->page = nm_xstrdup("off");
        send_new(f, a);
        return;
    }
    if (!a->link) {
        send_new(f, a);
        return;
    }
    struct page_job *j = nm_xcalloc(1, sizeof *j);
    j->f = f;
    j->feed = feed;
    j->art = *a;
    nm_article_init(a);
    struct http_request req = { .url = j->art.link, .accept = ACCEPT_PAGE, .guard = true };
    nm_err err;
    if (http_get(f->http, &req, on_page_done, j, &err) < 0) {
        j->art.page = nm_xasprintf("failed: %s", err.msg);
        f->n_page_failed++;
        send_new(f, &j->art);
        free(j);
        return;
    }
    feed->pages_left++;
}

/* ---- polls --------------------------------------------------------------- */

/* Records a failed poll: back-off, health fields, one log line. */
static void poll_failed(struct fetcher *f, struct state_feed *sf, const char *why, int64_t retry_after_ms)
{
    sf->failures++;
    free(sf->last_error);
    sf->last_error = nm_xstrdup(why);
    int64_t delay = sched_backoff((int)(sf->failures > 30 ? 30 : sf->failures), f->conf.min_interval,
                                  f->conf.max_interval, random32());
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    sf->next_poll_ms = wall_ms() + delay;
    char b[32];
    log_warn("feed %s: %s (%lld consecutive failure%s; next poll in %s)", sf->url, why, (long long)sf->failures,
             sf->failures == 1 ? "" : "s", human_ms(delay, b));
}

/* Chooses the next poll of a healthy feed. */
static void schedule_ok(struct fetcher *f, struct feed_rt *r, struct state_feed *sf, const struct feed *parsed,
                        const struct http_result *res)
{
    struct sched_limits lim = { f->conf.min_interval, f->conf.max_interval, f->conf.default_interval };
    int64_t *times = NULL;
    size_t n = 0;
    int64_t hint = 0, age;
    if (parsed) {
        times = nm_xcalloc(parsed->n_entries + 1, sizeof *times);
        for (size_t i = 0; i < parsed->n_entries; i++) {
            const nm_article *a = &parsed->entries[i];
            const char *d = a->published ? a->published : a->updated;
            if (d && nm_time_parse(d, &times[n]) == 0)
                n++;
        }
        hint = (int64_t)parsed->ttl_minutes * 60000;
        if ((int64_t)parsed->update_minutes * 60000 > hint)
            hint = (int64_t)parsed->update_minutes * 60000;
    }
    if (sched_max_age(res->cache_control, &age) == 0 && age > hint)
        hint = age;
    struct sched_feed sfeed = { r->interval_ms, hint, times, n };
    int64_t iv;
    if (parsed || r->interval_ms > 0 || sf->interval_ms <= 0)
        iv = sched_interval(&lim, &sfeed);
    else
        iv = sf->interval_ms;   /* 304: nothing new to learn from */
    free(times);
    sf->interval_ms = iv;
    /* The interval runs from the poll's start, so a feed polled every
       second is polled every second, not every second plus the poll. */
    sf->next_poll_ms = r->started_ms + iv;
}

/* Handles a parsed feed: sends new items, notes the ones still listed. */
static void take_entries(struct fetcher *f, struct feed_rt *r, struct state_feed *sf, struct feed *parsed)
{
    size_t n = parsed->n_entries;
    if (n > (size_t)f->conf.max_entries) {
        log_warn("feed %s lists %zu entries; reading the first %lld (max_entries)", r->url, n,
                 (long long)f->conf.max_entries);
        n = (size_t)f->conf.max_entries;
    }
    int64_t now = wall_ms() / 1000;
    size_t fresh = 0;
    nm_err err;
    for (size_t i = 0; i < n; i++) {
        nm_article *a = &parsed->entries[i];
        if (!a->id || !*a->id)
            continue;
        char *stored = NULL;
        int st = state_item_get(f->db, a->id, &stored, &err);
        if (st < 0) {
            log_err("%s", err.msg);
            continue;
        }
        bool lost = st == STATE_ITEM_PENDING && !stored;   /* its article could not be kept: send anew */
        free(stored);
        if (st != STATE_ITEM_NEW && !lost) {
            if (state_item_seen(f->db, a->id, now, &err) < 0)
                log_err("%s", err.msg);
            continue;
        }
        if (!a->feed)
            a->feed = nm_xstrdup(r->url);
        else if (strcmp(a->feed, r->url)) {
            free(a->feed);
            a->feed = nm_xstrdup(r->url);
        }
        if (!a->feed_title && (parsed->title || r->title))
            a->feed_title = nm_xstrdup(parsed->title ? parsed->title : r->title);
        fresh++;
        handle_new_item(f, r, a);
    }
    if (fresh) {
        sf->last_new_item = now;
        log_info("feed %s: %zu new item%s", r->url, fresh, fresh == 1 ? "" : "s");
    }
}

/* Replaces a feed's conditional-GET validators with copies of these. */
static void set_validators(struct state_feed *sf, const char *etag, const char *last_modified)
{
    free(sf->etag);
    free(sf->last_modified);
    sf->etag = nm_xstrdup(etag);
    sf->last_modified = nm_xstrdup(last_modified);
}

/* Handles a 2xx body: parses it, sends the new items, updates health and schedule. */
static void take_body(struct fetcher *f, struct feed_rt *r, struct state_feed *sf, const struct http_result *res)
{
    struct feed parsed;
    feed_init(&parsed);
    nm_err err;
    char *charset = content_charset(res->content_type);
    if (feed_parse(res->body.data ? res->body.data : "", res->body.len, res->final_url, charset, &f->limits,
                   &parsed, &err) < 0) {
        char *why = nm_xasprintf("unreadable feed: %s", err.msg);
        poll_failed(f, sf, why, 0);
        free(why);
    } else {
        if (parsed.n_errors)
            log_info("feed %s: read with %zu problem%s, first: %s", r->url, parsed.n_errors,
                     parsed.n_errors == 1 ? "" : "s", parsed.errors[0]);
        sf->failures = 0;
        nm_free(&sf->last_error);
        sf->last_success = sf->last_attempt;
        if (parsed.title) {
            free(sf->title);
            sf->title = nm_xstrdup(parsed.title);
        }
        take_entries(f, r, sf, &parsed);
        /* The response's validators are kept only once every new item is
           recorded. While page fetches run, the old ones stay, so that a
           fetcher killed or stopped meanwhile reads the whole feed again
           next time instead of a 304 that would hide those items for good. */
        if (r->pages_left) {
            r->hold_validators = true;
            r->etag = nm_xstrdup(res->etag);
            r->last_modified = nm_xstrdup(res->last_modified);
        } else {
            set_validators(sf, res->etag, res->last_modified);
        }
        schedule_ok(f, r, sf, &parsed, res);
    }
    free(charset);
    feed_clear(&parsed);
}

/* Judges a poll's response and updates the feed's row accordingly. */
static void take_response(struct fetcher *f, struct feed_rt *r, struct state_feed *sf, const struct http_result *res)
{
    if (res->failed) {
        poll_failed(f, sf, res->error_msg, 0);
    } else if (res->status == 429 || res->status == 503) {
        int64_t ra = 0;
        bool has = sched_retry_after(res->retry_after, wall_ms() / 1000, &ra) == 0;
        char *why = has ? nm_xasprintf("HTTP %ld, Retry-After %s", res->status, res->retry_after)
                        : nm_xasprintf("HTTP %ld", res->status);
        if (ra > 7 * 86400000LL)
            ra = 7 * 86400000LL;
        poll_failed(f, sf, why, ra);
        free(why);
    } else if (res->status == 304) {
        sf->failures = 0;
        nm_free(&sf->last_error);
        sf->last_success = sf->last_attempt;
        schedule_ok(f, r, sf, NULL, res);
        log_debug("feed %s: not modified", r->url);
    } else if (res->status < 200 || res->status > 299) {
        char *why = nm_xasprintf("HTTP %ld", res->status);
        poll_failed(f, sf, why, 0);
        free(why);
    } else {
        take_body(f, r, sf, res);
    }
    const char *now_at = sf->current_url ? sf->current_url : sf->url;
    if (!res->failed && res->permanent_url && strcmp(res->permanent_url, now_at)) {
        log_info("feed %s: moved permanently to %s; polling the new address from now on", r->url,
                 res->permanent_url);
        free(sf->current_url);
        sf->current_url = nm_xstrdup(res->permanent_url);
    }
}

static void on_feed_done(void *arg, struct http_result *res)
{
    struct poll_job *pj = arg;
    struct fetcher *f = pj->f;
    struct feed_rt *r = pj->feed;
    free(pj);
    f->n_polling--;
    if (f->tick_waiting && !res->cancelled) {
        f->tick_waiting = false;
        nm_loop_timer_reset(f->loop, f->tick_timer, 0);
    }
    if (res->cancelled)
        return;
    nm_err err;
    struct state_feed sf = { 0 };
    if (state_feed_get(f->db, r->url, &sf, &err) < 0)
        log_err("%s", err.msg);
    if (!sf.url)
        sf.url = nm_xstrdup(r->url);
    sf.last_attempt = wall_ms() / 1000;
    sf.last_status = res->status;
    if (state_begin(f->db, &err) < 0)
        log_err("%s", err.msg);
    resend_pending(f, r->url);
    take_response(f, r, &sf, res);
    r->next_ms = sf.next_poll_ms;
    if (state_feed_put(f->db, &sf, &err) < 0 || state_commit(f->db, &err) < 0)
        log_err("%s", err.msg);
    state_feed_clear(&sf);
    if (r->pages_left == 0)
        feed_poll_end(f, r);
}

/* A poll and all its page fetches are over. */
static void feed_poll_end(struct fetcher *f, struct feed_rt *r)
{
    r->busy = false;
    r->polled = true;
    if (r->hold_validators) {   /* every new item of the poll is now recorded */
        r->hold_validators = false;
        nm_err err;
        struct state_feed sf = { 0 };
        if (state_feed_get(f->db, r->url, &sf, &err) < 0) {
            log_err("%s", err.msg);
        } else if (sf.url) {   /* written by the poll's end */
            set_validators(&sf, r->etag, r->last_modified);
            if (state_feed_put(f->db, &sf, &err) < 0)
                log_err("%s", err.msg);
        }
        state_feed_clear(&sf);
        nm_free(&r->etag);
        nm_free(&r->last_modified);
    }
    if (r->gone) {
        for (size_t i = 0; i < f->n_gone; i++)
            if (f->gone[i] == r)
                f->gone[i] = f->gone[--f->n_gone];
        feed_rt_free(r);
    }
    arm_tick(f);
    check_once_done(f);
}

static void poll_feed(struct fetcher *f, struct feed_rt *r)
{
    nm_err err;
    struct state_feed sf = { 0 };
    if (state_feed_get(f->db, r->url, &sf, &err) < 0)
        log_err("%s", err.msg);
    int64_t pending = state_count_pending(f->db, r->url, &err);
    bool validators = pending == 0;
    struct http_request req = {
        .url = sf.current_url ? sf.current_url : r->url,
        .etag = validators ? sf.etag : NULL,
        .last_modified = validators ? sf.last_modified : NULL,
        .accept = ACCEPT_FEED,
        .guard = false,
    };
    if (!sf.url)
        sf.url = nm_xstrdup(r->url);
    struct poll_job *pj = nm_xcalloc(1, sizeof *pj);
    pj->f = f;
    pj->feed = r;
    r->busy = true;
    r->started_ms = wall_ms();
    f->n_polls++;
    f->n_polling++;
    if (http_get(f->http, &req, on_feed_done, pj, &err) < 0) {
        f->n_polling--;
        free(pj);
        poll_failed(f, &sf, err.msg, 0);
        r->next_ms = sf.next_poll_ms;
        if (state_feed_put(f->db, &sf, &err) < 0)
            log_err("%s", err.msg);
        r->busy = false;
        r->polled = true;
    }
    state_feed_clear(&sf);
}

/* Moves the tick to when the next feed falls due (within a second): a feed
   due a few milliseconds after a fixed tick would otherwise wait for the
   one after it. Not while due feeds wait for a slot: the end of a poll
   starts them. */
static void arm_tick(struct fetcher *f)
{
    if (f->tick_waiting || nm_loop_stopping(f->loop))
        return;
    int64_t now = wall_ms(), delay = 1000;
    for (size_t i = 0; i < f->n_feeds; i++) {
        const struct feed_rt *r = f->feeds[i];
        if (r->busy || (f->args.once && r->polled))
            continue;
        if (r->next_ms - now < delay)
            delay = r->next_ms - now;
    }
    nm_loop_timer_reset(f->loop, f->tick_timer, delay > 0 ? delay : 0);
}

static void on_tick(nm_loop *loop, void *arg)
{
    struct fetcher *f = arg;
    int64_t now = wall_ms();
    size_t n = f->n_feeds, start = n ? f->tick_next % n : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        struct feed_rt *r = f->feeds[i];
        if (r->busy || r->next_ms > now || (f->args.once && r->polled))
            continue;
        if (f->n_polling >= 2 * (size_t)f->conf.max_transfers) {
            f->tick_waiting = true;
            f->tick_next = i;
            break;
        }
        poll_feed(f, r);
    }
    arm_tick(f);
    check_once_done(f);
}

static void on_purge(nm_loop *loop, void *arg)
{
    struct fetcher *f = arg;
    nm_err err;
    int64_t n = state_purge(f->db, (wall_ms() - f->conf.retention) / 1000, &err);
    if (n < 0)
        log_err("%s", err.msg);
    else if (n > 0)
        log_info("forgot %lld confirmed items their feeds no longer list", (long long)n);
    nm_daemon_status("%zu feeds; %lld polls, %lld new items, %lld confirmed", f->n_feeds, (long long)f->n_polls,
                     (long long)f->n_new, (long long)f->n_confirmed);
}

/* ---- confirmations -------------------------------------------------------- */

static void on_store_event(nm_loop *loop, void *sock, void *arg)
{
    struct fetcher *f = arg;
    for (;;) {
        nm_msg_type type;
        json_t *body = NULL;
        nm_err err;
        int r = nm_bus_recv(sock, &type, &body, &err);
        if (r == 1)
            break;
        if (r < 0) {
            log_warn("store events: %s", err.msg);
            continue;
        }
        if (type == NM_MSG_STORED) {
            nm_stored s = { 0 };
            if (nm_stored_from_json(body, &s, &err) < 0) {
                log_warn("store events: stored message: %s", err.msg);
            } else {
                int c = state_item_confirm(f->db, s.id, wall_ms() / 1000, &err);
                if (c < 0)
                    log_err("%s", err.msg);
                else if (c > 0)
                    f->n_confirmed++;
            }
            nm_stored_clear(&s);
        } else {
            log_warn("store events: dropped a \"%s\" message: only \"stored\" is expected here",
                     nm_msg_type_name(type));
        }
        json_decref(body);
    }
    check_once_done(f);
}

/* ---- feed lists ----------------------------------------------------------- */

/* Loads the feeds folder. Returns the list, or -1 after logging every problem. */
static int load_feeds(struct fetcher *f, struct opml_list *out)
{
    nm_conf_errors errs = { 0 };
    opml_load_dir(f->conf.feeds, f->conf.allow_file_urls, out, &errs);
    for (size_t i = 0; i < errs.n; i++)
        log_err("%s", errs.msg[i]);
    int bad = errs.n > 0;
    if (bad)
        log_err("%zu problem%s in the feed lists of %s", errs.n, errs.n == 1 ? "" : "s", f->conf.feeds);
    nm_conf_errors_clear(&errs);
    if (bad)
        opml_list_clear(out);
    return bad ? -1 : 0;
}

/* Replaces the run-time feed table with list, keeping the state of feeds
   that stay (a feed polled right now finishes its poll). */
static void apply_feeds(struct fetcher *f, const struct opml_list *list)
{
    struct feed_rt **next = nm_xcalloc(list->n + 1, sizeof *next);
    for (size_t i = 0; i < list->n; i++) {
        const struct opml_feed *o = &list->v[i];
        struct feed_rt *r = NULL;
        for (size_t j = 0; j < f->n_feeds && !r; j++) {
            if (f->feeds[j] && !strcmp(f->feeds[j]->url, o->url)) {
                r = f->feeds[j];
                f->feeds[j] = NULL;
            }
        }
        if (!r) {
            r = nm_xcalloc(1, sizeof *r);
            r->url = nm_xstrdup(o->url);
            struct state_feed sf = { 0 };
            nm_err err;
            if (state_feed_get(f->db, o->url, &sf, &err) > 0)
                r->next_ms = sf.next_poll_ms;
            state_feed_clear(&sf);
        }
        free(r->title);
        r->title = nm_xstrdup(o->title);
        r->interval_ms = o->interval_ms;
        r->fetch_page = o->fetch_page;
        next[i] = r;
    }
    for (size_t j = 0; j < f->n_feeds; j++) {
        struct feed_rt *r = f->feeds[j];
        if (!r)
            continue;
        if (r->busy) {
            r->gone = true;
            f->gone = nm_xrealloc(f->gone, (f->n_gone + 1) * sizeof *f->gone);
            f->gone[f->n_gone++] = r;
        } else {
            feed_rt_free(r);
        }
    }
    free(f->feeds);
    f->feeds = next;
    f->n_feeds = list->n;
}

/* Re-reads the feeds folder; a list with problems is refused whole.
   Returns 0 with *message, or -1 with *message (malloc'd). */
static int reload_feeds(void *arg, char **message)
{
    struct fetcher *f = arg;
    struct opml_list list = { 0 };
    int rc = 0;
    if (load_feeds(f, &list) < 0) {
        *message = nm_xasprintf("reload refused: the feed lists of %s have problems (see the log); "
                                "keeping the %zu feeds already loaded", f->conf.feeds, f->n_feeds);
        log_err("%s", *message);
        rc = -1;
    } else {
        apply_feeds(f, &list);
        *message = nm_xasprintf("reloaded the feed lists: %zu feeds", f->n_feeds);
        log_info("%s", *message);
    }
    opml_list_clear(&list);
    return rc;
}

static void on_signal(nm_loop *loop, int signo, void *arg)
{
    nm_daemon_reloading();
    char *msg = NULL;
    reload_feeds(arg, &msg);
    free(msg);
    nm_daemon_reloaded();
}

/* The status reply of the control socket. */
static void on_status(json_t *o, void *arg)
{
    struct fetcher *f = arg;
    nm_err err;
    size_t busy = 0;
    for (size_t i = 0; i < f->n_feeds; i++)
        busy += f->feeds[i]->busy;
    json_object_set_new(o, "feeds", json_integer((json_int_t)f->n_feeds));
    json_object_set_new(o, "polls_running", json_integer((json_int_t)busy));
    json_object_set_new(o, "transfers", json_integer((json_int_t)http_pending(f->http)));
    json_object_set_new(o, "polls", json_integer(f->n_polls));
    json_object_set_new(o, "new_items", json_integer(f->n_new));
    json_object_set_new(o, "sent", json_integer(f->n_sent));
    json_object_set_new(o, "confirmed", json_integer(f->n_confirmed));
    json_object_set_new(o, "pending", json_integer(state_count_pending(f->db, NULL, &err)));
    json_object_set_new(o, "page_failures", json_integer(f->n_page_failed));
    json_object_set_new(o, "bytes_received", json_integer(http_bytes_received(f->http)));
}

/* Rejects [feed NAME] sections, which belong in the OPML files. */
static char *on_named(void *arg, const char *kind, const char *name, const char *key, const char *value, int line)
{
    if (!strcmp(kind, "feed"))
        return nm_xstrdup("per-feed settings go in the OPML files of the feeds folder "
                          "(newsmon:interval, newsmon:fetchPage), not in [feed ...] sections");
    return NULL;
}

/* ---- start-up ------------------------------------------------------------- */

/* Checks what the schema cannot: the allow list, the intervals' order, the site rules file. */
static void validate(void *conf, const char *path, nm_conf_errors *errs)
{
    struct fetcher_conf *c = conf;
    nm_err err;
    ssrf_allow *a = ssrf_allow_new(c->allow_private, &err);
    if (!a)
        nm_conf_errors_add(errs, "%s: [fetcher] allow_private: %s", path, err.msg);
    ssrf_allow_destroy(&a);
    if (c->min_interval > c->max_interval)
        nm_conf_errors_add(errs, "%s: [fetcher] min_interval is longer than max_interval", path);
    if (c->default_interval < c->min_interval || c->default_interval > c->max_interval)
        nm_conf_errors_add(errs, "%s: [fetcher] default_interval is outside [min_interval, max_interval]", path);
    if (c->max_size > c->max_decompressed)
        nm_conf_errors_add(errs, "%s: [fetcher] max_size is larger than max_decompressed", path);
    if (*c->site_rules) {
        struct site_rules *r = site_rules_load(c->site_rules, &err);
        if (!r)
            nm_conf_errors_add(errs, "%s: [fetcher] site_rules: %s", path, err.msg);
        site_rules_destroy(&r);
    }
}

static int setup(struct fetcher *f)
{
    nm_err err;
    f->allow = ssrf_allow_new(f->conf.allow_private, &err);
    if (!f->allow) {
        log_err("[fetcher] allow_private: %s", err.msg);
        return -1;
    }
    if (*f->conf.site_rules && !(f->rules = site_rules_load(f->conf.site_rules, &err))) {
        log_err("[fetcher] site_rules: %s", err.msg);
        return -1;
    }
    if (!(f->db = state_open(f->conf.state, false, &err))) {
        log_err("%s", err.msg);
        return -1;
    }
    struct opml_list list = { 0 };
    if (load_feeds(f, &list) < 0)
        return -1;
    apply_feeds(f, &list);
    opml_list_clear(&list);
    if (!(f->loop = nm_loop_new(&err))) {
        log_err("%s", err.msg);
        return -1;
    }
    struct http_config hc = {
        .max_total = (long)f->conf.max_transfers,
        .max_per_host = (long)f->conf.max_per_host,
        .connect_timeout_ms = f->conf.connect_timeout,
        .total_timeout_ms = f->conf.timeout,
        .low_speed_time_ms = f->conf.low_speed_time,
        .low_speed_limit = (long)f->conf.low_speed_limit,
        .max_size = f->conf.max_size,
        .max_decompressed = f->conf.max_decompressed,
        .max_redirects = (long)f->conf.max_redirects,
        .user_agent = f->conf.user_agent,
        .allow_file = f->conf.allow_file_urls,
        .allow_private = f->allow,
    };
    if (!(f->http = http_client_new(f->loop, &hc, &err))) {
        log_err("%s", err.msg);
        return -1;
    }
    if (nm_daemon_secure_bus(f->loop, &f->conf.common, &err) < 0) {
        log_err("CURVE: %s", err.msg);
        return -1;
    }
    struct nm_bus_opts o = nm_daemon_bus_opts(&f->conf.common);
    if (!(f->push = nm_bus_socket(ZMQ_PUSH, f->conf.common.fetch_out, 1, &o, &err))) {
        log_err("[bus] fetch_out: %s", err.msg);
        return -1;
    }
    o.subscribe = "";
    if (!(f->sub = nm_bus_socket(ZMQ_SUB, f->conf.common.store_events, 0, &o, &err))) {
        log_err("[bus] store_events: %s", err.msg);
        return -1;
    }
    char *name = nm_daemon_control_name(&f->conf.common, "fetcher");
    f->control = nm_control_open(f->loop, f->conf.common.control_dir, name, on_status, reload_feeds, f, &err);
    free(name);
    if (!f->control) {
        log_err("control socket in %s: %s", f->conf.common.control_dir, err.msg);
        return -1;
    }
    feed_limits_default(&f->limits);
    f->limits.max_bytes = (size_t)f->conf.max_decompressed;
    f->limits.max_entries = (size_t)f->conf.max_entries;
    return 0;
}

static void teardown(struct fetcher *f, size_t n_schema, const nm_conf_key *schema)
{
    nm_control_close(&f->control);
    http_client_destroy(&f->http);
    for (size_t i = 0; i < f->n_feeds; i++)
        if (f->feeds[i])
            feed_rt_free(f->feeds[i]);
    free(f->feeds);
    for (size_t i = 0; i < f->n_gone; i++)
        feed_rt_free(f->gone[i]);
    free(f->gone);
    nm_bus_close(&f->push);
    nm_bus_close(&f->sub);
    nm_daemon_secure_bus_stop();
    nm_bus_term();
    nm_loop_destroy(&f->loop);
    state_close(&f->db);
    site_rules_destroy(&f->rules);
    ssrf_allow_destroy(&f->allow);
    nm_daemon_free_config(schema, n_schema, &f->conf);
    free(f->args.overrides);
}

int main(int argc, char **argv)
{
    static struct fetcher f;
    nm_daemon_parse_args(argc, argv, "newsmon-fetcher", 1, &f.args);
    size_t n_schema;
    const nm_conf_key *schema = fetcher_conf_schema(&n_schema);
    int rc = nm_daemon_load_config_checked(&f.args, schema, n_schema, &f.conf, on_named, &f, validate);
    if (f.args.check_only || rc < 0) {
        nm_daemon_free_config(schema, n_schema, &f.conf);
        free(f.args.overrides);
        return rc < 0 ? 1 : 0;
    }
    nm_daemon_init_log(&f.args, &f.conf.common);
    if (setup(&f) < 0) {
        teardown(&f, n_schema, schema);
        return 1;
    }
    f.run_start_ms = wall_ms();
    if (f.args.once) {
        for (size_t i = 0; i < f.n_feeds; i++)
            f.feeds[i]->next_ms = 0;
        nm_loop_add_timer(f.loop, f.conf.once_timeout, 0, on_once_timeout, &f);
    }
    nm_loop_add_socket(f.loop, f.sub, on_store_event, &f);
    nm_loop_on_signal(f.loop, on_signal, &f);
    f.tick_timer = nm_loop_add_timer(f.loop, 0, 1000, on_tick, &f);
    nm_loop_add_timer(f.loop, RETRY_MS, RETRY_MS, on_retry, &f);
    nm_loop_add_timer(f.loop, 60000, PURGE_EVERY_MS, on_purge, &f);
    log_info("newsmon-fetcher %s: %zu feeds from %s, state %s%s", NEWSMON_VERSION, f.n_feeds, f.conf.feeds,
             f.conf.state, f.args.once ? " (once)" : "");
    nm_daemon_ready(f.loop, "polling");
    f.exit_code = 0;
    int sig = nm_loop_run(f.loop);
    if (sig) {
        log_info("signal %d: stopping", sig);
        f.exit_code = 0;
    }
    nm_daemon_stopping();
    teardown(&f, n_schema, schema);
    return f.exit_code;
}
