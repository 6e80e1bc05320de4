/*
 * ctl_fetch: how newsmonctl fetches one page given as a URL (extract,
 * rules test): one libcurl request, http and https only, redirects
 * followed, connect and total timeouts, and the extractor's size limit.
 * The daemons use fetcher/http.c instead (multi interface, politeness,
 * SSRF guard); an operator's own command needs none of that.
 */
#include "ctl/ctl_fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetcher/extract.h"

#define FETCH_CONNECT_TIMEOUT 10L
#define FETCH_TIMEOUT 30L
#define FETCH_MAX_REDIRECTS 5L

struct fetch {
    nm_buf body;
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t k = size * n;
    if (f->body.len + k > EXTRACT_MAX_INPUT) {
        f->too_big = true;
        return 0;
    }
    nm_buf_add(&f->body, p, k);
    return k;
}

/* Returns the charset parameter of a Content-Type (malloc'd), or NULL. */
static char *content_type_charset(const char *ct)
{
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"' || *p == '\'')
        p++;
    return nm_xstrndup(p, strcspn(p, "\"'; \t"));
}

int ctl_fetch_page(const char *url, const char *purpose, nm_buf *body, char **charset, char **final_url, nm_err *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return nm_err_set(err, "%s: cannot start libcurl", url);
    struct fetch f = { { 0 }, false };
    nm_buf_init(&f.body);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)EXTRACT_MAX_INPUT);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    char *ua = nm_xasprintf("newsmon/%s (+%s)", NEWSMON_VERSION, purpose);
    curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        ret = nm_err_set(err, "%s: page larger than %u bytes", url, EXTRACT_MAX_INPUT);
    } else if (rc != CURLE_OK) {
        ret = nm_err_set(err, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
    } else if (status >= 400) {
        ret = nm_err_set(err, "%s: HTTP status %ld", url, status);
    } else {
        char *ct = NULL, *eff = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        *charset = content_type_charset(ct);
        *final_url = nm_xstrdup(eff ? eff : url);
        *body = f.body;
        nm_buf_init(&f.body);
    }
    nm_buf_free(&f.body);
    curl_easy_cleanup(c);
    free(ua);
    return ret;
}

bool ctl_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}
