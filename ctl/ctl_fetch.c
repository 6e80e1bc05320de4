/*
 * ctl_fetch: how newsmonctl fetches one page given as a URL (extract,
 * rules test): one libcurl request, http and https only, redirects
 * followed, connect and total timeouts, and the extractor's size limit.
 * The daemons use fetcher/http.c instead (multi interface, politeness,
 * SSRF guard); an operator's own command needs none of that.
 *
 * libcurl is loaded (dlopen) by the first fetch, not linked: linked, it
 * and the twenty-odd libraries it brings (TLS, Kerberos, LDAP, SSH...)
 * are mapped and relocated by every newsmonctl command, about 15 ms on
 * the machine of docs/benchmarks.md (a bare program linked with and
 * without it: 30 ms and 15 ms), for the two commands that fetch. systemd
 * loads its optional libraries the same way.
 */
#define CURL_DISABLE_TYPECHECK /* curl_easy_setopt is called through a pointer */
#include "ctl/ctl_fetch.h"

#include <curl/curl.h>
#include <dlfcn.h>
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

/* The libcurl functions used here, once loaded. */
static struct {
    void *lib;
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_global_cleanup) *global_cleanup;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
} cu;

/* Loads libcurl and initialises it, once. Returns 0, or -1 with err. */
static int load_curl(nm_err *err)
{
    if (cu.lib)
        return 0;
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return nm_err_set(err, "cannot load libcurl: %s", dlerror());
#define SYM(field, name) (*(void **)&cu.field = dlsym(lib, name)) != NULL
    if (!(SYM(global_init, "curl_global_init") && SYM(global_cleanup, "curl_global_cleanup") &&
          SYM(easy_init, "curl_easy_init") && SYM(easy_setopt, "curl_easy_setopt") &&
          SYM(easy_perform, "curl_easy_perform") && SYM(easy_getinfo, "curl_easy_getinfo") &&
          SYM(easy_strerror, "curl_easy_strerror") && SYM(easy_cleanup, "curl_easy_cleanup"))) {
        dlclose(lib);
        return nm_err_set(err, "libcurl.so.4 lacks a function newsmonctl needs");
    }
#undef SYM
    if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dlclose(lib);
        return nm_err_set(err, "curl_global_init failed");
    }
    cu.lib = lib;
    return 0;
}

void ctl_fetch_cleanup(void)
{
    if (!cu.lib)
        return;
    cu.global_cleanup();
    dlclose(cu.lib);
    memset(&cu, 0, sizeof cu);
}

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
    if (load_curl(err) < 0)
        return -1;
    CURL *c = cu.easy_init();
    if (!c)
        return nm_err_set(err, "%s: cannot start libcurl", url);
    struct fetch f = { { 0 }, false };
    nm_buf_init(&f.body);
    char cerr[CURL_ERROR_SIZE] = "";
    cu.easy_setopt(c, CURLOPT_URL, url);
    cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    cu.easy_setopt(c, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRECTS);
    cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_TIMEOUT);
    cu.easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TIMEOUT);
    cu.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)EXTRACT_MAX_INPUT);
    cu.easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    char *ua = nm_xasprintf("newsmon/%s (+%s)", NEWSMON_VERSION, purpose);
    cu.easy_setopt(c, CURLOPT_USERAGENT, ua);
    cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu.easy_setopt(c, CURLOPT_WRITEDATA, &f);
    CURLcode rc = cu.easy_perform(c);
    long status = 0;
    cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        ret = nm_err_set(err, "%s: page larger than %u bytes", url, EXTRACT_MAX_INPUT);
    } else if (rc != CURLE_OK) {
        ret = nm_err_set(err, "%s: %s", url, cerr[0] ? cerr : cu.easy_strerror(rc));
    } else if (status >= 400) {
        ret = nm_err_set(err, "%s: HTTP status %ld", url, status);
    } else {
        char *ct = NULL, *eff = NULL;
        cu.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        cu.easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        *charset = content_type_charset(ct);
        *final_url = nm_xstrdup(eff ? eff : url);
        *body = f.body;
        nm_buf_init(&f.body);
    }
    nm_buf_free(&f.body);
    cu.easy_cleanup(c);
    free(ua);
    return ret;
}

bool ctl_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}
