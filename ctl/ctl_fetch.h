/*
 * ctl_fetch: one page fetched for a newsmonctl command (see ctl_fetch.c).
 */
#ifndef CTL_FETCH_H
#define CTL_FETCH_H

#include <stdbool.h>

#include "common/nm_util.h"

/* Fetches url; purpose goes into the User-Agent ("extract", "rules test").
   Returns 0 with the body, the charset of its Content-Type (malloc'd, or
   NULL) and the final URL after redirects (malloc'd), or -1 with err. */
int ctl_fetch_page(const char *url, const char *purpose, nm_buf *body, char **charset, char **final_url,
                   nm_err *err);

/* Unloads what ctl_fetch_page loaded (nothing when it never ran). */
void ctl_fetch_cleanup(void);

/* Whether s is an http:// or https:// URL. */
bool ctl_is_url(const char *s);

#endif
