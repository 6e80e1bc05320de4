/*
 * notif_conf: the [channel NAME] and [route NAME] sections.
 *
 * nm_conf hands every key of a named section to notif_conf_named() as it
 * reads the file. Which keys a channel may have depends on its `type`,
 * which may come last, so the callback only rejects what is wrong in any
 * case (a key no channel type knows, a key set twice, a secret written in
 * the main file) and keeps the rest; notif_conf_finish() then interprets
 * every section as a whole, reads the secret files, resolves the routes'
 * channel names, and reports each problem with its line.
 */
#include "notifier/notif.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_LIMIT (64 * 1024)
#define TEMPLATE_LIMIT (256 * 1024)

static const char *const type_names[NOTIF__NTYPES] = {
    "stdout", "jsonl", "email", "webhook", "slack", "mattermost",
    "teams", "telegram", "matrix", "ntfy", "exec",
};

const char *notif_type_name(notif_type t)
{
    return (unsigned)t < NOTIF__NTYPES ? type_names[t] : "?";
}

#define T(x) (1u << NOTIF_##x)
#define ALL 0xffffu
#define HTTP (T(WEBHOOK) | T(SLACK) | T(MATTERMOST) | T(TEAMS) | T(TELEGRAM) | T(MATRIX) | T(NTFY))
#define HOOKS (T(WEBHOOK) | T(SLACK) | T(MATTERMOST) | T(TEAMS))

/* The keys of channel sections, and the types that take each. */
static const struct chan_key {
    const char *key;
    unsigned types;
    int secret;        /* given as KEY_file or KEY_credential only */
} chan_keys[] = {
    { "type", ALL, 0 },
    { "retries", ALL, 0 },
    { "retry_base", ALL, 0 },
    { "retry_max", ALL, 0 },
    { "timeout", ALL, 0 },
    { "parallel", ALL, 0 },
    { "path", T(JSONL), 0 },
    { "smtp_url", T(EMAIL), 0 },
    { "tls", T(EMAIL), 0 },
    { "ca_file", T(EMAIL) | HTTP, 0 },
    { "username", T(EMAIL) | T(NTFY) | T(SLACK) | T(MATTERMOST), 0 },
    { "password", T(EMAIL) | T(NTFY), 1 },
    { "from", T(EMAIL), 0 },
    { "to", T(EMAIL), 0 },
    { "subject_prefix", T(EMAIL), 0 },
    { "url", HOOKS, 0 },
    { "url_secret", HOOKS, 1 },
    { "method", T(WEBHOOK), 0 },
    { "template", T(WEBHOOK), 0 },
    { "template_file", T(WEBHOOK), 0 },
    { "header", T(WEBHOOK), 0 },
    { "token", T(WEBHOOK) | T(TELEGRAM) | T(MATRIX) | T(NTFY), 1 },
    { "channel", T(SLACK) | T(MATTERMOST), 0 },
    { "chat_id", T(TELEGRAM), 0 },
    { "api_url", T(TELEGRAM), 0 },
    { "homeserver", T(MATRIX), 0 },
    { "room", T(MATRIX), 0 },
    { "server", T(NTFY), 0 },
    { "topic", T(NTFY), 0 },
    { "command", T(EXEC), 0 },
};

static const char *const route_keys[] = {
    "themes", "min_severity", "sources", "languages", "channels",
    "rate_limit", "rate_window", "digest", "followups", NULL,
};

/* Returns the channel key entry for key (KEY_file/KEY_credential map to
   their secret), setting *form to 0 plain, 1 file, 2 credential. */
static const struct chan_key *find_chan_key(const char *key, int *form)
{
    static const char *const suffixes[] = { "_file", "_credential" };
    *form = 0;
    for (size_t i = 0; i < NM_ARRAY_LEN(chan_keys); i++)
        if (!strcmp(chan_keys[i].key, key))
            return &chan_keys[i];
    for (int s = 0; s < 2; s++) {
        size_t kl = strlen(key), sl = strlen(suffixes[s]);
        if (kl <= sl || strcmp(key + kl - sl, suffixes[s]))
            continue;
        for (size_t i = 0; i < NM_ARRAY_LEN(chan_keys); i++)
            if (chan_keys[i].secret && strlen(chan_keys[i].key) == kl - sl &&
                !strncmp(chan_keys[i].key, key, kl - sl)) {
                *form = s + 1;
                return &chan_keys[i];
            }
    }
    return NULL;
}

notif_conf *notif_conf_new(const char *path)
{
    notif_conf *c = nm_xcalloc(1, sizeof *c);
    c->path = nm_xstrdup(path ? path : "(config)");
    return c;
}

static void free_list(char ***l, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*l)[i]);
    nm_free(l);
    *n = 0;
}

static void free_kv(notif_kv **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    nm_free(kv);
    *n = 0;
}

static void channel_free(notif_channel *ch)
{
    free(ch->name);
    free_kv(&ch->kv, &ch->n_kv);
    char **strs[] = { &ch->path, &ch->url, &ch->method, &ch->template, &ch->token, &ch->username,
                      &ch->password, &ch->smtp_url, &ch->ca_file, &ch->from, &ch->subject_prefix,
                      &ch->chat_id, &ch->api_url, &ch->homeserver, &ch->room, &ch->server,
                      &ch->topic, &ch->command, &ch->target };
    for (size_t i = 0; i < NM_ARRAY_LEN(strs); i++) {
        if (strs[i] == &ch->password || strs[i] == &ch->token) {
            if (*strs[i])
                memset(*strs[i], 0, strlen(*strs[i]));   /* do not leave secrets in freed memory */
        }
        nm_free(strs[i]);
    }
    free_list(&ch->headers, &ch->n_headers);
    free_list(&ch->to, &ch->n_to);
    free(ch);
}

static void route_free(notif_route *r)
{
    free(r->name);
    free_kv(&r->kv, &r->n_kv);
    free_list(&r->themes, &r->n_themes);
    free_list(&r->sources, &r->n_sources);
    free_list(&r->languages, &r->n_languages);
    free_list(&r->channels, &r->n_channels);
    free(r);
}

void notif_conf_destroy(notif_conf **cp)
{
    notif_conf *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_channels; i++)
        channel_free(c->channels[i]);
    for (size_t i = 0; i < c->n_routes; i++)
        route_free(c->routes[i]);
    free(c->channels);
    free(c->routes);
    free(c->path);
    free(c->hostname);
    free(c);
    *cp = NULL;
}

notif_channel *notif_conf_channel(const notif_conf *c, const char *name)
{
    for (size_t i = 0; c && i < c->n_channels; i++)
        if (!strcmp(c->channels[i]->name, name))
            return c->channels[i];
    return NULL;
}

notif_route *notif_conf_route(const notif_conf *c, const char *name)
{
    for (size_t i = 0; c && i < c->n_routes; i++)
        if (!strcmp(c->routes[i]->name, name))
            return c->routes[i];
    return NULL;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

static void kv_add(notif_kv **kv, size_t *n, const char *key, const char *value, int line)
{
    *kv = nm_xrealloc(*kv, (*n + 1) * sizeof **kv);
    (*kv)[*n] = (notif_kv){ nm_xstrdup(key), nm_xstrdup(value), line };
    (*n)++;
}

static const notif_kv *kv_find(const notif_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, key))
            return &kv[i];
    return NULL;
}

/* Adds key = value, or returns a problem when the key is set already. A
   command-line override (line 0, see nm_conf.h) replaces the file's value. */
static char *kv_put(notif_kv **kv, size_t *n, const char *key, const char *value, int line)
{
    notif_kv *old = (notif_kv *)kv_find(*kv, *n, key);
    if (old && line > 0)
        return nm_xasprintf("set twice (first on line %d)", old->line);
    if (old) {
        free(old->value);
        old->value = nm_xstrdup(value);
        old->line = line;
        return NULL;
    }
    kv_add(kv, n, key, value, line);
    return NULL;
}

char *notif_conf_named(void *arg, const char *kind, const char *name, const char *key, const char *value,
                       int line)
{
    notif_conf *c = arg;
    if (strcmp(kind, "channel") && strcmp(kind, "route"))
        return NULL;   /* another daemon's sections ([feed ...]) */
    if (!valid_name(name))
        return nm_xasprintf("the name '%s' must be 1 to 64 letters, digits, '-', '_' or '.'", name);
    if (!strcmp(kind, "channel")) {
        if (!strcmp(name, "none"))
            return nm_xstrdup("'none' is reserved (it acknowledges alerts no route selects)");
        int form;
        const struct chan_key *k = find_chan_key(key, &form);
        if (!k)
            return nm_xstrdup("unknown key");
        if (k->secret && form == 0)
            return nm_xasprintf("secrets are not read from the main configuration: use %s_file or "
                                "%s_credential", key, key);
        notif_channel *ch = notif_conf_channel(c, name);
        if (!ch) {
            ch = nm_xcalloc(1, sizeof *ch);
            ch->name = nm_xstrdup(name);
            ch->line = line;
            ch->type = NOTIF__NTYPES;
            c->channels = nm_xrealloc(c->channels, (c->n_channels + 1) * sizeof *c->channels);
            c->channels[c->n_channels++] = ch;
        }
        if (!strcmp(key, "header")) {   /* may repeat: one header a line */
            kv_add(&ch->kv, &ch->n_kv, key, value, line);
            return NULL;
        }
        return kv_put(&ch->kv, &ch->n_kv, key, value, line);
    }
    int known = 0;
    for (size_t i = 0; route_keys[i]; i++)
        known |= !strcmp(route_keys[i], key);
    if (!known)
        return nm_xstrdup("unknown key");
    notif_route *r = notif_conf_route(c, name);
    if (!r) {
        r = nm_xcalloc(1, sizeof *r);
        r->name = nm_xstrdup(name);
        r->line = line;
        c->routes = nm_xrealloc(c->routes, (c->n_routes + 1) * sizeof *c->routes);
        c->routes[c->n_routes++] = r;
    }
    return kv_put(&r->kv, &r->n_kv, key, value, line);
}

/* ---- secrets --------------------------------------------------------------- */

char *notif_read_secret(const char *file, const char *credential, nm_err *err)
{
    char *path = NULL;
    if (credential) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || !*dir) {
            nm_err_set(err, "credential '%s': $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)",
                       credential);
            return NULL;
        }
        if (strchr(credential, '/') || !*credential) {
            nm_err_set(err, "credential '%s': a credential name has no '/'", credential);
            return NULL;
        }
        path = nm_xasprintf("%s/%s", dir, credential);
    } else {
        path = nm_xstrdup(file);
    }
    char *data = NULL;
    size_t len = 0;
    nm_err e;
    if (nm_read_file(path, SECRET_LIMIT, &data, &len, &e) < 0) {
        nm_err_set(err, "%s", e.msg);
        free(path);
        return NULL;
    }
    free(path);
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (!len || memchr(data, '\n', len) || strlen(data) != len) {
        nm_err_set(err, "the secret must be one non-empty line");
        memset(data, 0, len);
        free(data);
        return NULL;
    }
    return data;
}

/* ---- interpretation ---------------------------------------------------------- */

struct finish {
    notif_conf *c;
    nm_conf_errors *errs;
    const char *kind;
    const char *name;
};

static void problem(struct finish *f, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct finish *f, int line, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nm_conf_errors_add(f->errs, "%s:%d: [%s %s] %s: %s", f->c->path, line, f->kind, f->name, key, msg);
}

/* Splits a list on commas and white space into *out. Returns the count. */
static size_t split_list(const char *s, char ***out)
{
    size_t n = 0;
    *out = NULL;
    const char *p = s;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        if (p > start) {
            *out = nm_xrealloc(*out, (n + 1) * sizeof **out);
            (*out)[n++] = nm_xstrndup(start, (size_t)(p - start));
        }
    }
    return n;
}

static int is_http_url(const char *s)
{
    return (!strncmp(s, "http://", 7) && s[7]) || (!strncmp(s, "https://", 8) && s[8]);
}

/* Whether s looks like one bare e-mail address (no display name). */
static int is_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("<>()[]\\,;:\"", *p))
            return 0;
    return 1;
}

static int parse_duration_key(struct finish *f, const notif_kv *kv, int64_t *out, int64_t min, int64_t max)
{
    if (nm_conf_parse_duration(kv->value, out) < 0) {
        problem(f, kv->line, kv->key, "'%s' is not a duration (e.g. 500ms, 30s, 5m, 2h)", kv->value);
        return -1;
    }
    if (*out < min || *out > max) {
        problem(f, kv->line, kv->key, "%s is out of range (%lld to %lld ms)", kv->value, (long long)min,
                (long long)max);
        return -1;
    }
    return 0;
}

static int parse_int_key(struct finish *f, const notif_kv *kv, int64_t *out, int64_t min, int64_t max)
{
    char *end;
    errno = 0;
    long long v = strtoll(kv->value, &end, 10);
    if (errno || end == kv->value || *end || v < min || v > max) {
        problem(f, kv->line, kv->key, "'%s' is not a whole number from %lld to %lld", kv->value,
                (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads a secret key given as KEY_file or KEY_credential into *dst. */
static void take_secret(struct finish *f, const notif_kv *kv, int form, char **dst)
{
    nm_err e;
    char *s = notif_read_secret(form == 1 ? kv->value : NULL, form == 2 ? kv->value : NULL, &e);
    if (!s) {
        problem(f, kv->line, kv->key, "%s", e.msg);
        return;
    }
    if (*dst)
        problem(f, kv->line, kv->key, "the secret is given twice");
    free(*dst);
    *dst = s;
}

/* Interprets one key of a channel whose type is known. */
static void channel_key(struct finish *f, notif_channel *ch, const notif_kv *kv)
{
    int form;
    const struct chan_key *k = find_chan_key(kv->key, &form);
    if (!(k->types & (1u << ch->type))) {
        problem(f, kv->line, kv->key, "not a key of a %s channel", notif_type_name(ch->type));
        return;
    }
    const char *key = k->key, *v = kv->value;
    if (k->secret) {
        char **dst = !strcmp(key, "password") ? &ch->password : !strcmp(key, "token") ? &ch->token : &ch->url;
        if (dst == &ch->url && ch->url)
            problem(f, kv->line, kv->key, "give either url or url_secret_file/url_secret_credential");
        take_secret(f, kv, form, dst);
        if (dst == &ch->url && ch->url && !is_http_url(ch->url))
            problem(f, kv->line, kv->key, "the secret is not an http:// or https:// URL");
        return;
    }
    if (!strcmp(key, "type"))
        return;
    if (!strcmp(key, "retries"))
        parse_int_key(f, kv, &ch->retries, 0, 100);
    else if (!strcmp(key, "retry_base"))
        parse_duration_key(f, kv, &ch->retry_base, 1, 86400000);
    else if (!strcmp(key, "retry_max"))
        parse_duration_key(f, kv, &ch->retry_max, 1, 7 * 86400000LL);
    else if (!strcmp(key, "timeout"))
        parse_duration_key(f, kv, &ch->timeout, 100, 3600000);
    else if (!strcmp(key, "parallel"))
        parse_int_key(f, kv, &ch->parallel, 1, 1000);
    else if (!strcmp(key, "header")) {
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || strpbrk(v, "\r\n") || memchr(v, ' ', (size_t)(colon - v)))
            problem(f, kv->line, key, "'%s' is not 'Name: value'", v);
        else {
            ch->headers = nm_xrealloc(ch->headers, (ch->n_headers + 1) * sizeof *ch->headers);
            ch->headers[ch->n_headers++] = nm_xstrdup(v);
        }
    } else if (!strcmp(key, "tls")) {
        if (!strcmp(v, "starttls"))
            ch->starttls = 1;
        else if (!strcmp(v, "none"))
            ch->starttls = 0;
        else
            problem(f, kv->line, key, "'%s' is not starttls or none", v);
    } else if (!strcmp(key, "template_file")) {
        nm_err e;
        size_t len;
        if (ch->template)
            problem(f, kv->line, key, "give either template or template_file");
        nm_free(&ch->template);
        if (nm_read_file(v, TEMPLATE_LIMIT, &ch->template, &len, &e) < 0)
            problem(f, kv->line, key, "%s", e.msg);
    } else if (!strcmp(key, "template")) {
        if (ch->template)
            problem(f, kv->line, key, "give either template or template_file");
        free(ch->template);
        ch->template = nm_xstrdup(v);
    } else if (!strcmp(key, "to")) {
        char **l;
        size_t n = split_list(v, &l);
        for (size_t i = 0; i < n; i++)
            if (!is_address(l[i]))
                problem(f, kv->line, key, "'%s' is not an e-mail address", l[i]);
        free_list(&ch->to, &ch->n_to);
        ch->to = l;
        ch->n_to = n;
    } else {
        static const struct { const char *key; size_t off; } plain[] = {
            { "path", offsetof(notif_channel, path) },
            { "smtp_url", offsetof(notif_channel, smtp_url) },
            { "ca_file", offsetof(notif_channel, ca_file) },
            { "username", offsetof(notif_channel, username) },
            { "from", offsetof(notif_channel, from) },
            { "subject_prefix", offsetof(notif_channel, subject_prefix) },
            { "url", offsetof(notif_channel, url) },
            { "method", offsetof(notif_channel, method) },
            { "channel", offsetof(notif_channel, target) },
            { "chat_id", offsetof(notif_channel, chat_id) },
            { "api_url", offsetof(notif_channel, api_url) },
            { "homeserver", offsetof(notif_channel, homeserver) },
            { "room", offsetof(notif_channel, room) },
            { "server", offsetof(notif_channel, server) },
            { "topic", offsetof(notif_channel, topic) },
            { "command", offsetof(notif_channel, command) },
        };
        for (size_t i = 0; i < NM_ARRAY_LEN(plain); i++) {
            if (strcmp(plain[i].key, key))
                continue;
            char **dst = (char **)((char *)ch + plain[i].off);
            if (dst == &ch->url && ch->url)
                problem(f, kv->line, key, "give either url or url_secret_file/url_secret_credential");
            free(*dst);
            *dst = nm_xstrdup(v);
        }
        if ((!strcmp(key, "url") || !strcmp(key, "api_url") || !strcmp(key, "homeserver") ||
             !strcmp(key, "server")) && !is_http_url(v))
            problem(f, kv->line, key, "'%s' is not an http:// or https:// URL", v);
        if (!strcmp(key, "smtp_url") && strncmp(v, "smtp://", 7) && strncmp(v, "smtps://", 8))
            problem(f, kv->line, key, "'%s' is not an smtp:// or smtps:// URL", v);
        if (!strcmp(key, "from") && !is_address(v))
            problem(f, kv->line, key, "'%s' is not an e-mail address", v);
        if (!strcmp(key, "method") && strcmp(v, "POST") && strcmp(v, "PUT"))
            problem(f, kv->line, key, "'%s' is not POST or PUT", v);
        if (!*v)
            problem(f, kv->line, key, "empty value");
    }
}

/* Checks that each key of need is present in the channel. */
static void require(struct finish *f, notif_channel *ch, const char *what, int present)
{
    if (!present)
        problem(f, ch->line, what, "missing (required for a %s channel)", notif_type_name(ch->type));
}

static void finish_channel(struct finish *f, notif_channel *ch)
{
    f->kind = "channel";
    f->name = ch->name;
    const notif_kv *t = kv_find(ch->kv, ch->n_kv, "type");
    if (!t) {
        problem(f, ch->line, "type", "missing (stdout, jsonl, email, webhook, slack, mattermost, teams, "
                                     "telegram, matrix, ntfy or exec)");
        return;
    }
    for (int i = 0; i < NOTIF__NTYPES; i++)
        if (!strcmp(type_names[i], t->value))
            ch->type = (notif_type)i;
    if (ch->type == NOTIF__NTYPES) {
        problem(f, t->line, "type", "'%s' is not stdout, jsonl, email, webhook, slack, mattermost, teams, "
                                    "telegram, matrix, ntfy or exec", t->value);
        return;
    }
    ch->retries = 5;
    ch->retry_base = 2000;
    ch->retry_max = 300000;
    ch->timeout = 30000;
    ch->parallel = 16;
    ch->starttls = 1;
    for (size_t i = 0; i < ch->n_kv; i++)
        channel_key(f, ch, &ch->kv[i]);
    if (ch->retry_max < ch->retry_base)
        problem(f, ch->line, "retry_max", "is shorter than retry_base");
    switch (ch->type) {
    case NOTIF_JSONL:
        require(f, ch, "path", ch->path != NULL);
        break;
    case NOTIF_EMAIL:
        require(f, ch, "smtp_url", ch->smtp_url != NULL);
        require(f, ch, "from", ch->from != NULL);
        require(f, ch, "to", ch->n_to > 0);
        if (ch->username && !ch->password)
            problem(f, ch->line, "password_file", "missing (username is set)");
        if (ch->password && !ch->username)
            problem(f, ch->line, "username", "missing (a password is set)");
        if (ch->password && !ch->starttls && ch->smtp_url && strncmp(ch->smtp_url, "smtps://", 8))
            problem(f, ch->line, "tls", "none would send the password in clear: use starttls or smtps://");
        if (!ch->subject_prefix)
            ch->subject_prefix = nm_xstrdup("[newsmon]");
        break;
    case NOTIF_WEBHOOK:
    case NOTIF_SLACK:
    case NOTIF_MATTERMOST:
    case NOTIF_TEAMS:
        require(f, ch, "url", ch->url != NULL);
        if (!ch->method)
            ch->method = nm_xstrdup("POST");
        if (ch->template) {
            nm_err e;
            if (notif_template_check(ch->template, &e) < 0)
                problem(f, ch->line, "template", "%s", e.msg);
        }
        break;
    case NOTIF_TELEGRAM:
        require(f, ch, "token_file", ch->token != NULL);
        require(f, ch, "chat_id", ch->chat_id != NULL);
        if (!ch->api_url)
            ch->api_url = nm_xstrdup("https://api.telegram.org");
        break;
    case NOTIF_MATRIX:
        require(f, ch, "homeserver", ch->homeserver != NULL);
        require(f, ch, "room", ch->room != NULL);
        require(f, ch, "token_file", ch->token != NULL);
        if (ch->room && ch->room[0] != '!' && ch->room[0] != '#')
            problem(f, ch->line, "room", "'%s' is not a room id (!id:server)", ch->room);
        break;
    case NOTIF_NTFY:
        require(f, ch, "topic", ch->topic != NULL);
        if (!ch->server)
            ch->server = nm_xstrdup("https://ntfy.sh");
        if (ch->password && !ch->username)
            problem(f, ch->line, "username", "missing (a password is set)");
        if (ch->topic && strpbrk(ch->topic, "/?#& "))
            problem(f, ch->line, "topic", "'%s' may not hold '/', '?', '#', '&' or spaces", ch->topic);
        break;
    case NOTIF_EXEC:
        require(f, ch, "command", ch->command != NULL);
        break;
    default:
        break;
    }
}

static void finish_route(struct finish *f, notif_route *r)
{
    f->kind = "route";
    f->name = r->name;
    r->all_themes = 1;
    r->rate_window = 600000;
    r->followups = NOTIF_FU_SEND;
    for (size_t i = 0; i < r->n_kv; i++) {
        const notif_kv *kv = &r->kv[i];
        const char *k = kv->key, *v = kv->value;
        if (!strcmp(k, "themes")) {
            r->all_themes = !strcmp(v, "*");
            if (!r->all_themes) {
                r->n_themes = split_list(v, &r->themes);
                if (!r->n_themes)
                    problem(f, kv->line, k, "empty: give '*' or theme ids");
                for (size_t j = 0; j < r->n_themes; j++)
                    if (!strcmp(r->themes[j], "*"))
                        problem(f, kv->line, k, "'*' cannot be mixed with theme ids");
            }
        } else if (!strcmp(k, "min_severity")) {
            r->min_severity = notif_severity_rank(v);
            if (r->min_severity < 0) {
                problem(f, kv->line, k, "'%s' is not info, low, medium, high or critical", v);
                r->min_severity = 0;
            }
        } else if (!strcmp(k, "sources")) {
            r->n_sources = split_list(v, &r->sources);
        } else if (!strcmp(k, "languages")) {
            r->n_languages = split_list(v, &r->languages);
        } else if (!strcmp(k, "channels")) {
            r->n_channels = split_list(v, &r->channels);
            if (!r->n_channels)
                problem(f, kv->line, k, "empty");
            for (size_t j = 0; j < r->n_channels; j++) {
                notif_channel *ch = notif_conf_channel(f->c, r->channels[j]);
                if (!ch)
                    problem(f, kv->line, k, "no [channel %s] is defined", r->channels[j]);
                for (size_t m = 0; m < j; m++)
                    if (!strcmp(r->channels[m], r->channels[j]))
                        problem(f, kv->line, k, "'%s' is listed twice", r->channels[j]);
            }
        } else if (!strcmp(k, "rate_limit")) {
            parse_int_key(f, kv, &r->rate_limit, 0, 100000);
        } else if (!strcmp(k, "rate_window")) {
            parse_duration_key(f, kv, &r->rate_window, 1000, 7 * 86400000LL);
        } else if (!strcmp(k, "digest")) {
            parse_duration_key(f, kv, &r->digest, 0, 7 * 86400000LL);
        } else if (!strcmp(k, "followups")) {
            if (!strcmp(v, "send"))
                r->followups = NOTIF_FU_SEND;
            else if (!strcmp(v, "digest"))
                r->followups = NOTIF_FU_DIGEST;
            else if (!strcmp(v, "skip"))
                r->followups = NOTIF_FU_SKIP;
            else
                problem(f, kv->line, k, "'%s' is not send, digest or skip", v);
        }
    }
    if (!r->n_channels && !kv_find(r->kv, r->n_kv, "channels"))
        problem(f, r->line, "channels", "missing (the channels this route sends to)");
}

int notif_conf_finish(notif_conf *c, nm_conf_errors *errs)
{
    size_t before = errs->n;
    struct finish f = { c, errs, NULL, NULL };
    for (size_t i = 0; i < c->n_channels; i++)
        finish_channel(&f, c->channels[i]);
    for (size_t i = 0; i < c->n_routes; i++)
        finish_route(&f, c->routes[i]);
    return errs->n > before ? -1 : 0;
}
