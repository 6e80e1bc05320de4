/*
 * notif_send: one attempt to deliver one message on one channel.
 *
 * stdout and jsonl finish before notif_send returns; every other type
 * starts a libcurl transfer (HTTP, SMTP) or a child process and reports
 * from the loop. What each service expects:
 *   email       RFC 5322 message, multipart/alternative (text + HTML, both
 *               base64 UTF-8), RFC 2047 subject; Message-IDs are derived
 *               from the channel and the story, so a follow-up's
 *               In-Reply-To/References point at the story's first mail and
 *               a retried mail keeps its Message-ID
 *   webhook     the template, or the alert JSON plus "channel"
 *   slack       {"text": mrkdwn}; mattermost {"text": markdown}
 *   teams       an Adaptive Card in a "message" envelope
 *   telegram    sendMessage, parse_mode HTML (its subset), 4096 chars at most
 *   matrix      PUT .../send/m.room.message/TXN; TXN derived from the
 *               channel and alert ids, so the homeserver drops a retried
 *               duplicate
 *   ntfy        JSON publish: topic, title, message, priority, tags, click
 *   exec        the alert JSON on stdin
 */
#include "notifier/notif.h"
#include "common/nm_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TELEGRAM_MAX 4096

/* ---- helpers ------------------------------------------------------------------ */

/* Returns hex of a 16-byte BLAKE2b hash of the channel and what (33 bytes with NUL). */
static void hash_hex(const char *channel, const char *what, char out[33])
{
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)channel, strlen(channel));
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)what, strlen(what));
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 33, h, sizeof h);
}

/* Returns "1,2,3": the alert ids of m. */
static char *alert_ids(const notif_msg *m)
{
    nm_buf b;
    nm_buf_init(&b);
    for (size_t i = 0; i < m->n; i++)
        nm_buf_addf(&b, "%s%lld", i ? "," : "", (long long)m->alerts[i]->alert_id);
    return nm_buf_steal(&b);
}

/* Returns the JSON a machine reader gets: the alert plus "channel", or
   for a digest {"digest": ROUTE, "channel", "alerts": [...]}. */
static json_t *msg_json(const notif_msg *m)
{
    if (!m->digest)
        return notif_alert_json(m->raws[0], m->channel);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new(arr, notif_alert_json(m->raws[i], m->channel));
    return json_pack("{s:s, s:s, s:o}", "digest", m->route ? m->route : "", "channel", m->channel, "alerts", arr);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s ? s : nm_xstrdup("{}");
}

static void now_rfc3339(char out[32])
{
    nm_time_format((int64_t)time(NULL), out);
}

/* ---- stdout, jsonl -------------------------------------------------------------- */

static void send_stdout(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done,
                        void *arg)
{
    FILE *out = s->out ? s->out : stdout;
    char *title = notif_render_title(m), *body = notif_render_body(m, NOTIF_MK_PLAIN);
    fprintf(out, "==== %s ====\n%s\n", title, body);
    int rc = fflush(out);
    free(title);
    free(body);
    if (rc != 0 || ferror(out))
        done(arg, NOTIF_RETRY, "cannot write to standard output", 0);
    else
        done(arg, NOTIF_OK, NULL, 0);
}

/*
 * A kill between a jsonl append and the engine's record of its outcome
 * would make the store's re-send append the alert again. Those lines are
 * the last ones of the file: the append finishes inside notif_send and the
 * outcome is recorded right after, in the same turn of the loop. So the
 * first time a process writes to a file it reads the file's last
 * JSONL_TAIL bytes and remembers which (alert, channel) they hold; an
 * alert found there is not appended again (a line bigger than that falls
 * back to at-least-once). A last line without its newline (a write torn
 * by the kill) gets one, so the next line starts on its own.
 */
#define JSONL_TAIL (1 << 20)

static char *tail_key(int64_t alert_id, const char *channel)
{
    return nm_xasprintf("%lld\t%s", (long long)alert_id, channel);
}

/* Returns (borrowed) what the end of path held when first asked in this process. */
static json_t *jsonl_tail(notif_sender *s, const char *path)
{
    if (!s->jsonl_tail)
        s->jsonl_tail = json_object();
    json_t *seen = json_object_get(s->jsonl_tail, path);
    if (seen)
        return seen;
    seen = json_object();
    json_object_set_new(s->jsonl_tail, path, seen);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
    if (size <= 0) {
        if (fd >= 0)
            close(fd);
        return seen;
    }
    off_t from = size > JSONL_TAIL ? size - JSONL_TAIL : 0;
    size_t len = (size_t)(size - from), got = 0;
    char *buf = nm_xmalloc(len);
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, from + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got == len && buf[len - 1] != '\n')
        json_object_set_new(seen, "torn", json_true());
    char *p = buf, *end = buf + got;
    if (from > 0) {   /* the first line is cut: skip it */
        p = memchr(buf, '\n', got);
        p = p ? p + 1 : end;
    }
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        json_t *id = json_object_get(j, "alert_id"), *chan = json_object_get(j, "channel");
        if (json_is_integer(id) && json_is_string(chan)) {
            char *key = tail_key(json_integer_value(id), json_string_value(chan));
            json_object_set_new(seen, key, json_true());
            free(key);
        }
        json_decref(j);
        p = nl + 1;
    }
    free(buf);
    return seen;
}

static void send_jsonl(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done,
                       void *arg)
{
    char at[32];
    now_rfc3339(at);
    json_t *seen = jsonl_tail(s, ch->path);
    nm_buf b;
    nm_buf_init(&b);
    for (size_t i = 0; i < m->n; i++) {
        char *key = tail_key(m->alerts[i]->alert_id, m->channel);
        int written = json_object_get(seen, key) != NULL;
        free(key);
        if (written)
            continue;
        if (json_object_get(seen, "torn")) {
            nm_buf_addc(&b, '\n');
            json_object_del(seen, "torn");
        }
        json_t *j = notif_alert_json(m->raws[i], m->channel);
        json_object_set_new(j, "delivered_at", json_string(at));
        if (m->digest)
            json_object_set_new(j, "digest", json_string(m->route ? m->route : ""));
        char *line = dump(j);
        nm_buf_adds(&b, line);
        nm_buf_addc(&b, '\n');
        free(line);
    }
    if (b.len == 0) {   /* every line is already in the file */
        nm_buf_free(&b);
        done(arg, NOTIF_OK, NULL, 0);
        return;
    }
    char msg[300];
    int fd = open(ch->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(msg, sizeof msg, "%s: %s", ch->path, strerror(errno));
        nm_buf_free(&b);
        done(arg, NOTIF_RETRY, msg, 0);
        return;
    }
    size_t off = 0;
    int failed = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            failed = errno ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    if (!failed && fsync(fd) < 0)
        failed = errno;
    close(fd);
    nm_buf_free(&b);
    if (failed) {
        snprintf(msg, sizeof msg, "%s: %s", ch->path, strerror(failed));
        done(arg, NOTIF_RETRY, msg, 0);
    } else {
        done(arg, NOTIF_OK, NULL, 0);
    }
}

/* ---- e-mail ---------------------------------------------------------------------- */

static void add_base64_lines(nm_buf *b, const char *s)
{
    size_t len = strlen(s);
    for (size_t off = 0; off < len || off == 0; off += 57) {
        size_t k = len - off < 57 ? len - off : 57;
        char line[80];
        sodium_bin2base64(line, sizeof line, (const unsigned char *)s + off, k, sodium_base64_VARIANT_ORIGINAL);
        nm_buf_adds(b, line);
        nm_buf_adds(b, "\r\n");
        if (!len)
            break;
    }
}

/* Appends an RFC 2047 encoded Subject value (ASCII stays as it is). */
static void add_subject(nm_buf *b, const char *s)
{
    int ascii = 1;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
            ascii = 0;
    if (ascii && strlen(s) < 900) {
        nm_buf_adds(b, s);
        return;
    }
    size_t len = strlen(s), off = 0;
    int first = 1;
    while (off < len) {
        size_t k = len - off < 45 ? len - off : 45;
        while (k > 0 && off + k < len && ((unsigned char)s[off + k] & 0xC0) == 0x80)
            k--;   /* never split a character between two encoded words */
        if (!k)
            k = 1;
        char enc[80];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s + off, k, sodium_base64_VARIANT_ORIGINAL);
        nm_buf_addf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
        first = 0;
        off += k;
    }
}

static void rfc5322_date(int64_t t, char out[64])
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *notif_email_message(const notif_channel *ch, const notif_msg *m, const char *hostname, int64_t date)
{
    const char *at = ch->from ? strchr(ch->from, '@') : NULL;
    const char *domain = at && at[1] ? at + 1 : hostname && *hostname ? hostname : "localhost";
    char h[33], d[64];
    nm_buf b;
    nm_buf_init(&b);
    rfc5322_date(date, d);
    nm_buf_addf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", d, ch->from ? ch->from : "");
    for (size_t i = 0; i < ch->n_to; i++)
        nm_buf_addf(&b, "%s%s", i ? ",\r\n " : "", ch->to[i]);
    nm_buf_adds(&b, "\r\nSubject: ");
    char *title = notif_render_title(m);
    char *subject = nm_xasprintf("%s%s%s", ch->subject_prefix ? ch->subject_prefix : "",
                                 ch->subject_prefix && *ch->subject_prefix ? " " : "", title);
    add_subject(&b, subject);
    free(subject);
    free(title);
    const nm_alert *a = m->alerts[0];
    if (m->digest) {
        char *ids = alert_ids(m);
        char *what = nm_xasprintf("digest\n%s\n%s", m->route ? m->route : "", ids);
        hash_hex(ch->name, what, h);
        nm_buf_addf(&b, "\r\nMessage-ID: <digest.%s@%s>", h, domain);
        free(what);
        free(ids);
    } else {
        char story_id[33];
        hash_hex(ch->name, a->story ? a->story : "", story_id);
        if (a->followup > 0) {
            nm_buf_addf(&b, "\r\nMessage-ID: <alert.%lld.%.12s@%s>", (long long)a->alert_id, story_id, domain);
            nm_buf_addf(&b, "\r\nIn-Reply-To: <story.%s@%s>\r\nReferences: <story.%s@%s>", story_id, domain,
                        story_id, domain);
        } else {
            nm_buf_addf(&b, "\r\nMessage-ID: <story.%s@%s>", story_id, domain);
        }
        nm_buf_addf(&b, "\r\nX-Newsmon-Alert: %lld", (long long)a->alert_id);
    }
    char boundary[33];
    hash_hex(ch->name, d, boundary);
    nm_buf_addf(&b, "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
                    "Content-Type: multipart/alternative; boundary=\"=_%s\"\r\n\r\n"
                    "This is a MIME message.\r\n", boundary);
    char *text = notif_render_body(m, NOTIF_MK_PLAIN);
    char *html_body = notif_render_body(m, NOTIF_MK_HTML);
    char *html = nm_xasprintf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n%s</body></html>\n",
                              html_body);
    nm_buf_addf(&b, "--=_%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n", boundary);
    add_base64_lines(&b, text);
    nm_buf_addf(&b, "--=_%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n", boundary);
    add_base64_lines(&b, html);
    nm_buf_addf(&b, "--=_%s--\r\n", boundary);
    free(text);
    free(html_body);
    free(html);
    return nm_buf_steal(&b);
}

static void common_tls(notif_req *r, const notif_channel *ch)
{
    if (ch->ca_file)
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, ch->ca_file);
}

/* A retry does not reuse a kept connection: it may be what failed. */
static void fresh_connection(notif_req *r, const notif_msg *m)
{
    if (m->retry)
        curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, 1L);
}

static void send_email(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done,
                       void *arg)
{
    notif_req *r = notif_req_new(ch->timeout, done, arg);
    r->smtp = 1;
    r->upload = notif_email_message(ch, m, s->hostname, (int64_t)time(NULL));
    r->upload_len = strlen(r->upload);
    if (r->easy) {
        char *from = nm_xasprintf("<%s>", ch->from);
        curl_easy_setopt(r->easy, CURLOPT_URL, ch->smtp_url);
        curl_easy_setopt(r->easy, CURLOPT_MAIL_FROM, from);
        free(from);
        for (size_t i = 0; i < ch->n_to; i++) {
            char *to = nm_xasprintf("<%s>", ch->to[i]);
            r->rcpt = curl_slist_append(r->rcpt, to);
            free(to);
        }
        curl_easy_setopt(r->easy, CURLOPT_MAIL_RCPT, r->rcpt);
        if (ch->starttls || !strncmp(ch->smtp_url, "smtps://", 8))
            curl_easy_setopt(r->easy, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        if (ch->username) {
            curl_easy_setopt(r->easy, CURLOPT_USERNAME, ch->username);
            curl_easy_setopt(r->easy, CURLOPT_PASSWORD, ch->password);
        }
        common_tls(r, ch);
        fresh_connection(r, m);
        curl_easy_setopt(r->easy, CURLOPT_UPLOAD, 1L);
        /* The SMTP session is kept for the next message (a burst of alerts
           was a connection, a greeting, EHLO, and with STARTTLS a TLS
           handshake and AUTH, per mail). After a refused message a session
           is back at the start of a transaction (RFC 5321), and libcurl
           closes a broken one, checks that a kept one is still alive
           before using it (a server that timed it out: a new session) and
           drops sessions idle for two minutes. A retry takes a new session
           all the same (fresh_connection), in case the old one is what
           failed. */
        curl_easy_setopt(r->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload_len);
    }
    notif_http_start(s->http, &r);
}

/* ---- HTTP services ----------------------------------------------------------------- */

/* Starts an HTTP request with a JSON body (taken). */
static void http_json(notif_sender *s, const notif_channel *ch, const notif_msg *m, const char *method, const char *url,
                      char *body, const char *bearer, notif_done_fn done, void *arg)
{
    notif_req *r = notif_req_new(ch->timeout, done, arg);
    r->post = body;
    if (r->easy) {
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->post));
        if (strcmp(method, "POST"))
            curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
        r->headers = curl_slist_append(r->headers, "Content-Type: application/json; charset=utf-8");
        r->headers = curl_slist_append(r->headers, "Expect:");
        for (size_t i = 0; i < ch->n_headers; i++)
            r->headers = curl_slist_append(r->headers, ch->headers[i]);
        if (bearer) {
            char *auth = nm_xasprintf("Authorization: Bearer %s", bearer);
            r->headers = curl_slist_append(r->headers, auth);
            sodium_memzero(auth, strlen(auth));
            free(auth);
        }
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        if (ch->type == NOTIF_NTFY && ch->username && ch->password) {
            curl_easy_setopt(r->easy, CURLOPT_USERNAME, ch->username);
            curl_easy_setopt(r->easy, CURLOPT_PASSWORD, ch->password);
        }
        common_tls(r, ch);
        fresh_connection(r, m);
    }
    notif_http_start(s->http, &r);
}

static const char *link_of(const notif_msg *m)
{
    const char *l = m->alerts[0]->item.article.link;
    return !m->digest && l ? l : NULL;
}

static char *body_webhook(const notif_channel *ch, const notif_msg *m)
{
    if (ch->template)
        return notif_template_render(ch->template, m);
    return dump(msg_json(m));
}

static char *body_chat(const notif_channel *ch, const notif_msg *m)
{
    enum notif_markup mk = ch->type == NOTIF_SLACK ? NOTIF_MK_SLACK : NOTIF_MK_MARKDOWN;
    char *text = notif_render_body(m, mk);
    json_t *j = json_pack("{s:s}", "text", text);
    free(text);
    if (ch->type == NOTIF_SLACK)
        json_object_set_new(j, "unfurl_links", json_false());
    if (ch->username)
        json_object_set_new(j, "username", json_string(ch->username));
    if (ch->target)
        json_object_set_new(j, "channel", json_string(ch->target));
    return dump(j);
}

static char *body_teams(const notif_msg *m)
{
    char *title = notif_render_title(m), *text = notif_render_body(m, NOTIF_MK_MARKDOWN);
    json_t *card = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:b}, {s:s, s:s, s:b}]}",
                             "$schema", "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                             "version", "1.4", "body", "type", "TextBlock", "text", title, "weight", "Bolder",
                             "size", "Medium", "wrap", 1, "type", "TextBlock", "text", text, "wrap", 1);
    const char *link = link_of(m);
    if (link)
        json_object_set_new(card, "actions",
                            json_pack("[{s:s, s:s, s:s}]", "type", "Action.OpenUrl", "title", "Read the article",
                                      "url", link));
    free(title);
    free(text);
    return dump(json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments", "contentType",
                          "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card));
}

static char *body_telegram(const notif_channel *ch, const notif_msg *m)
{
    char *text = notif_render_body(m, NOTIF_MK_TGHTML);
    json_t *j;
    if (strlen(text) > TELEGRAM_MAX) {
        /* Cutting HTML could break a tag: send plain text, cut at a character. */
        free(text);
        text = notif_render_body(m, NOTIF_MK_PLAIN);
        size_t cut = TELEGRAM_MAX - 8;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
        if (strlen(text) > cut)
            strcpy(text + cut, " …");
        j = json_pack("{s:s, s:s, s:b}", "chat_id", ch->chat_id, "text", text, "disable_web_page_preview", 1);
    } else {
        j = json_pack("{s:s, s:s, s:s, s:b}", "chat_id", ch->chat_id, "text", text, "parse_mode", "HTML",
                      "disable_web_page_preview", 1);
    }
    free(text);
    return dump(j);
}

static char *body_matrix(const notif_msg *m)
{
    char *text = notif_render_body(m, NOTIF_MK_PLAIN), *html = notif_render_body(m, NOTIF_MK_HTML);
    int followup = !m->digest && m->alerts[0]->followup > 0;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "msgtype", followup ? "m.notice" : "m.text", "body", text,
                          "format", "org.matrix.custom.html", "formatted_body", html);
    free(text);
    free(html);
    return dump(j);
}

static char *body_ntfy(const notif_channel *ch, const notif_msg *m)
{
    char *title = notif_render_title(m), *text = notif_render_body(m, NOTIF_MK_PLAIN);
    int sev = 0;
    for (size_t i = 0; i < m->n; i++) {
        int r = notif_alert_severity(m->alerts[i]);
        sev = r > sev ? r : sev;
    }
    int prio = sev + 1;
    if (!m->digest && m->alerts[0]->followup > 0 && prio > 1)
        prio--;
    json_t *tags = json_array();
    for (size_t i = 0; i < m->n; i++)
        for (size_t t = 0; t < m->alerts[i]->item.n_themes && json_array_size(tags) < 10; t++) {
            const char *id = m->alerts[i]->item.themes[t].id;
            int seen = 0;
            for (size_t k = 0; k < json_array_size(tags); k++)
                seen |= !strcmp(json_string_value(json_array_get(tags, k)), id ? id : "");
            if (id && !seen)
                json_array_append_new(tags, json_string(id));
        }
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:o}", "topic", ch->topic, "title", title, "message", text,
                          "priority", prio, "tags", tags);
    const char *link = link_of(m);
    if (link)
        json_object_set_new(j, "click", json_string(link));
    free(title);
    free(text);
    return dump(j);
}

static void send_http(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done, void *arg)
{
    char *url = NULL, *body = NULL;
    const char *method = "POST", *bearer = NULL;
    switch (ch->type) {
    case NOTIF_WEBHOOK:
        url = nm_xstrdup(ch->url);
        body = body_webhook(ch, m);
        method = ch->method ? ch->method : "POST";
        bearer = ch->token;
        break;
    case NOTIF_SLACK:
    case NOTIF_MATTERMOST:
        url = nm_xstrdup(ch->url);
        body = body_chat(ch, m);
        break;
    case NOTIF_TEAMS:
        url = nm_xstrdup(ch->url);
        body = body_teams(m);
        break;
    case NOTIF_TELEGRAM: {
        size_t n = strlen(ch->api_url);
        url = nm_xasprintf("%.*s/bot%s/sendMessage", (int)(n && ch->api_url[n - 1] == '/' ? n - 1 : n), ch->api_url,
                           ch->token);
        body = body_telegram(ch, m);
        break;
    }
    case NOTIF_MATRIX: {
        char *ids = alert_ids(m), txn[33];
        hash_hex(ch->name, ids, txn);
        free(ids);
        char *room = curl_easy_escape(NULL, ch->room, 0);
        size_t n = strlen(ch->homeserver);
        url = nm_xasprintf("%.*s/_matrix/client/v3/rooms/%s/send/m.room.message/newsmon.%s",
                           (int)(n && ch->homeserver[n - 1] == '/' ? n - 1 : n), ch->homeserver, room ? room : "",
                           txn);
        curl_free(room);
        body = body_matrix(m);
        method = "PUT";
        bearer = ch->token;
        break;
    }
    case NOTIF_NTFY:
        url = nm_xstrdup(ch->server);
        body = body_ntfy(ch, m);
        bearer = ch->token;
        break;
    default:
        done(arg, NOTIF_PERMANENT, "not an HTTP channel", 0);
        return;
    }
    http_json(s, ch, m, method, url, body, bearer, done, arg);
    if (ch->type == NOTIF_TELEGRAM)
        sodium_memzero(url, strlen(url));   /* it holds the bot token */
    free(url);
}

/* ---- exec -------------------------------------------------------------------------- */

static void send_exec(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done, void *arg)
{
    char *input = dump(msg_json(m));
    char *with_nl = nm_xasprintf("%s\n", input);
    char *ids = alert_ids(m);
    char *env[3] = {
        nm_xasprintf("NEWSMON_CHANNEL=%s", ch->name),
        nm_xasprintf("NEWSMON_ALERT_IDS=%s", ids),
        nm_xasprintf("NEWSMON_ROUTE=%s", m->route ? m->route : ""),
    };
    notif_exec_start(s->exec, ch->command, with_nl, env, 3, ch->timeout, done, arg);
    for (size_t i = 0; i < 3; i++)
        free(env[i]);
    free(ids);
    free(with_nl);
    free(input);
}

void notif_send(notif_sender *s, const notif_channel *ch, const notif_msg *m, notif_done_fn done, void *arg)
{
    switch (ch->type) {
    case NOTIF_STDOUT:
        send_stdout(s, ch, m, done, arg);
        break;
    case NOTIF_JSONL:
        send_jsonl(s, ch, m, done, arg);
        break;
    case NOTIF_EMAIL:
        send_email(s, ch, m, done, arg);
        break;
    case NOTIF_EXEC:
        send_exec(s, ch, m, done, arg);
        break;
    default:
        send_http(s, ch, m, done, arg);
    }
}
