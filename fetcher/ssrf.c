/*
 * ssrf: address classification and the operator's allow list.
 *
 * Every address is brought to one 16-byte form first: IPv4 becomes the
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d), and IPv4 carried inside IPv6
 * (NAT64's 64:ff9b::/96, 6to4's 2002::/16) is unwrapped to that form too,
 * so one table of prefixes judges both families and a tunnelled loopback
 * address is still loopback.
 */
#include "fetcher/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct range {
    unsigned char addr[16];
    unsigned bits;
};

struct ssrf_allow {
    struct range *r;    /* ranges in 16-byte form */
    size_t n;
};

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Fills out with the 16-byte form of sa. Returns 0, or -1 for another family. */
static int to16(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const unsigned char compat[12] = { 0 };
    if (!memcmp(out, nat64, 12)) {
        memcpy(out, v4_mapped, 12);
    } else if (out[0] == 0x20 && out[1] == 0x02) {      /* 6to4: 2002:AABB:CCDD::/48 */
        unsigned char v4[4];
        memcpy(v4, out + 2, 4);
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, v4, 4);
    } else if (!memcmp(out, compat, 12) && (out[12] | out[13] | out[14]) != 0) {
        memcpy(out, v4_mapped, 12);                       /* deprecated IPv4-compatible ::a.b.c.d */
    }
    return 0;
}

static bool in_range(const unsigned char a[16], const unsigned char p[16], unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, p, full))
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (p[full] & mask);
}

/* A v4 range in 16-byte form. */
#define V4(a, b, c, d, n) { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d }, 96 + (n) }

static const struct {
    struct range r;
    ssrf_class c;
} table[] = {
    { V4(255, 255, 255, 255, 32), SSRF_BROADCAST },
    { V4(0, 0, 0, 0, 8), SSRF_UNSPECIFIED },
    { V4(127, 0, 0, 0, 8), SSRF_LOOPBACK },
    { V4(10, 0, 0, 0, 8), SSRF_PRIVATE },
    { V4(172, 16, 0, 0, 12), SSRF_PRIVATE },
    { V4(192, 168, 0, 0, 16), SSRF_PRIVATE },
    { V4(169, 254, 0, 0, 16), SSRF_LINK_LOCAL },
    { V4(100, 64, 0, 0, 10), SSRF_SHARED },
    { V4(224, 0, 0, 0, 4), SSRF_MULTICAST },
    { V4(240, 0, 0, 0, 4), SSRF_RESERVED },
    { V4(192, 0, 0, 0, 24), SSRF_RESERVED },
    { V4(192, 0, 2, 0, 24), SSRF_RESERVED },
    { V4(198, 18, 0, 0, 15), SSRF_RESERVED },
    { V4(198, 51, 100, 0, 24), SSRF_RESERVED },
    { V4(203, 0, 113, 0, 24), SSRF_RESERVED },
    { { { 0 }, 128 }, SSRF_UNSPECIFIED },
    { { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 }, SSRF_LOOPBACK },
    { { { 0xfc }, 7 }, SSRF_PRIVATE },
    { { { 0xfe, 0x80 }, 10 }, SSRF_LINK_LOCAL },
    { { { 0xfe, 0xc0 }, 10 }, SSRF_RESERVED },
    { { { 0xff }, 8 }, SSRF_MULTICAST },
    { { { 0x20, 0x01, 0x0d, 0xb8 }, 32 }, SSRF_RESERVED },
    { { { 0x01, 0x00 }, 64 }, SSRF_RESERVED },
};

const char *ssrf_class_name(ssrf_class c)
{
    switch (c) {
    case SSRF_PUBLIC: return "public";
    case SSRF_LOOPBACK: return "loopback";
    case SSRF_PRIVATE: return "private";
    case SSRF_LINK_LOCAL: return "link-local";
    case SSRF_MULTICAST: return "multicast";
    case SSRF_UNSPECIFIED: return "unspecified";
    case SSRF_SHARED: return "shared (carrier-grade NAT)";
    case SSRF_BROADCAST: return "broadcast";
    case SSRF_RESERVED: return "reserved";
    }
    return "reserved";
}

ssrf_class ssrf_classify(const struct sockaddr *sa)
{
    unsigned char a[16];
    if (to16(sa, a) < 0)
        return SSRF_RESERVED;
    for (size_t i = 0; i < NM_ARRAY_LEN(table); i++)
        if (in_range(a, table[i].r.addr, table[i].r.bits))
            return table[i].c;
    bool is_v4 = !memcmp(a, v4_mapped, 12);
    /* Outside IPv4, only global unicast (2000::/3) is public. */
    if (!is_v4 && (a[0] & 0xe0) != 0x20)
        return SSRF_RESERVED;
    return SSRF_PUBLIC;
}

/* Parses one "addr[/bits]" entry into r. Returns 0 or -1. */
static int parse_range(const char *s, struct range *r)
{
    char *copy = nm_xstrdup(s);
    char *slash = strchr(copy, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0) {
            free(copy);
            return -1;
        }
    }
    struct in_addr v4;
    struct in6_addr v6;
    int rc = 0;
    if (inet_pton(AF_INET, copy, &v4) == 1) {
        if (bits > 32)
            rc = -1;
        memcpy(r->addr, v4_mapped, 12);
        memcpy(r->addr + 12, &v4, 4);
        r->bits = (unsigned)(96 + (bits < 0 ? 32 : bits));
    } else if (inet_pton(AF_INET6, copy, &v6) == 1) {
        if (bits > 128)
            rc = -1;
        memcpy(r->addr, &v6, 16);
        r->bits = (unsigned)(bits < 0 ? 128 : bits);
    } else {
        rc = -1;
    }
    free(copy);
    return rc;
}

ssrf_allow *ssrf_allow_new(const char *spec, nm_err *err)
{
    ssrf_allow *a = nm_xcalloc(1, sizeof *a);
    char *list = nm_xstrdup(spec ? spec : "");
    char *save = NULL;
    for (char *tok = strtok_r(list, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
        struct range r;
        if (parse_range(tok, &r) < 0) {
            nm_err_set(err, "'%s' is not an address or CIDR range (e.g. 127.0.0.0/8, ::1/128)", tok);
            free(list);
            ssrf_allow_destroy(&a);
            return NULL;
        }
        a->r = nm_xrealloc(a->r, (a->n + 1) * sizeof *a->r);
        a->r[a->n++] = r;
    }
    free(list);
    return a;
}

void ssrf_allow_destroy(ssrf_allow **ap)
{
    if (!*ap)
        return;
    free((*ap)->r);
    nm_free(ap);
}

bool ssrf_allow_has(const ssrf_allow *a, const struct sockaddr *sa)
{
    unsigned char x[16];
    if (!a || to16(sa, x) < 0)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (in_range(x, a->r[i].addr, a->r[i].bits))
            return true;
    return false;
}

bool ssrf_permitted(const ssrf_allow *a, const struct sockaddr *sa, const char **why)
{
    ssrf_class c = ssrf_classify(sa);
    if (c == SSRF_PUBLIC || ssrf_allow_has(a, sa))
        return true;
    if (why)
        *why = ssrf_class_name(c);
    return false;
}

char *ssrf_addr_str(const struct sockaddr *sa, char *out, size_t n)
{
    const void *p = NULL;
    if (sa->sa_family == AF_INET)
        p = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        p = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (!p || !inet_ntop(sa->sa_family, p, out, (socklen_t)n))
        snprintf(out, n, "(family %d)", sa->sa_family);
    return out;
}
