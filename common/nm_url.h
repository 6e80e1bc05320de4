/*
 * nm_url: the URL work the pipeline needs without a network library:
 * resolving a reference found in a feed or page against its base
 * (RFC 3986 section 5), a canonical form used to give an item without a
 * GUID a stable id (so the same story reached through a tracking link is
 * the same article), and the host a URL names (for `source:` rules and
 * per-host politeness).
 *
 * Strings in, new strings out; nothing here logs or touches the network.
 */
#ifndef NM_URL_H
#define NM_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Returns ref resolved against base (RFC 3986 5.2) as a new string the
   caller frees. A NULL or empty base returns a copy of ref; a NULL ref
   returns NULL. Leading and trailing white space of ref is ignored, and
   extra slashes after "scheme://" are dropped as browsers do. */
char *nm_url_resolve(const char *base, const char *ref);

/* Returns true when s starts with a scheme ("http:", "mailto:", ...). */
bool nm_url_is_absolute(const char *s);

/* Returns the canonical form of url as a new string: scheme and host
   lower-cased, the default port dropped, "." and ".." segments removed, an
   empty path made "/", the fragment dropped and tracking parameters
   (utm_*, fbclid, gclid, yclid, mc_cid, mc_eid, _hsenc, ...) removed from
   the query. Returns NULL for NULL or a URL without a scheme. */
char *nm_url_canonical(const char *url);

/* Returns the host of url, lower-cased, without user info, port or IPv6
   brackets, as a new string; NULL when url has no host. */
char *nm_url_host(const char *url);

/* Returns true when the query parameter name (of n bytes) is a known
   tracking parameter. */
bool nm_url_is_tracking_param(const char *name, size_t n);

#endif
