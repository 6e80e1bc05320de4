/*
 * ssrf: the guard that keeps page fetches away from the desk's own network.
 *
 * A feed item's link is written by whoever controls the feed, so fetching
 * it could be used to reach addresses behind the firewall (the metadata
 * service at 169.254.169.254, an admin page on 127.0.0.1, a router on
 * 192.168.0.1). Every address a page fetch is about to connect to is
 * classified here; anything but an ordinary public unicast address is
 * refused unless the operator listed its range in allow_private. The check
 * runs on the connected address itself (libcurl's open-socket callback),
 * so a redirect or a DNS answer that changes between lookups (rebinding)
 * is covered too. IPv4 embedded in IPv6 (::ffff:a.b.c.d, 64:ff9b::/96,
 * 2002::/16) is judged as the IPv4 address it carries.
 */
#ifndef SSRF_H
#define SSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/nm_util.h"

typedef enum ssrf_class {
    SSRF_PUBLIC,
    SSRF_LOOPBACK,       /* 127/8, ::1 */
    SSRF_PRIVATE,        /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    SSRF_LINK_LOCAL,     /* 169.254/16, fe80::/10 */
    SSRF_MULTICAST,      /* 224/4, ff00::/8 */
    SSRF_UNSPECIFIED,    /* 0/8, :: */
    SSRF_SHARED,         /* 100.64/10 (carrier-grade NAT) */
    SSRF_BROADCAST,      /* 255.255.255.255 */
    SSRF_RESERVED,       /* 240/4, 192.0.0/24, benchmarking 198.18/15, documentation ranges, 2001:db8::/32, site-local fec0::/10, discard 100::/64 */
} ssrf_class;

/* Returns a short name of c ("loopback", "private", ...). */
const char *ssrf_class_name(ssrf_class c);

/* Classifies an AF_INET or AF_INET6 address (any other family is
   SSRF_RESERVED). */
ssrf_class ssrf_classify(const struct sockaddr *sa);

/* A list of CIDR ranges the operator allows despite their class. */
typedef struct ssrf_allow ssrf_allow;

/* Parses "127.0.0.0/8, ::1/128 10.1.2.3" (separated by spaces or commas; a
   bare address is a single host). Returns the list (empty for an empty
   string), or NULL with err naming the bad entry. */
ssrf_allow *ssrf_allow_new(const char *spec, nm_err *err);
void ssrf_allow_destroy(ssrf_allow **a);

/* Returns whether sa is in one of the ranges of a (a may be NULL). */
bool ssrf_allow_has(const ssrf_allow *a, const struct sockaddr *sa);

/* Returns whether a connection to sa may be made: public addresses always,
   others when listed in a. When refused and why is not NULL, *why is the
   class name. */
bool ssrf_permitted(const ssrf_allow *a, const struct sockaddr *sa, const char **why);

/* Writes sa's address as text into out (size n). Returns out. */
char *ssrf_addr_str(const struct sockaddr *sa, char *out, size_t n);

#endif
