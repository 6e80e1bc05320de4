/*
 * test_ssrf: classification of addresses for the page-fetch guard, and the
 * operator's allow list.
 */
#include "nm_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "fetcher/ssrf.h"

/* Returns a sockaddr for text (v4 or v6) in ss. */
static const struct sockaddr *sa(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", text);
    return (const struct sockaddr *)ss;
}

static const struct { const char *addr; ssrf_class c; } cases[] = {
    { "93.184.216.34", SSRF_PUBLIC },
    { "8.8.8.8", SSRF_PUBLIC },
    { "172.32.0.1", SSRF_PUBLIC },
    { "100.128.0.1", SSRF_PUBLIC },
    { "127.0.0.1", SSRF_LOOPBACK },
    { "127.255.255.254", SSRF_LOOPBACK },
    { "10.1.2.3", SSRF_PRIVATE },
    { "172.16.0.1", SSRF_PRIVATE },
    { "172.31.255.255", SSRF_PRIVATE },
    { "192.168.1.1", SSRF_PRIVATE },
    { "169.254.169.254", SSRF_LINK_LOCAL },
    { "100.64.0.1", SSRF_SHARED },
    { "100.127.255.255", SSRF_SHARED },
    { "224.0.0.1", SSRF_MULTICAST },
    { "239.255.255.250", SSRF_MULTICAST },
    { "0.0.0.0", SSRF_UNSPECIFIED },
    { "0.1.2.3", SSRF_UNSPECIFIED },
    { "255.255.255.255", SSRF_BROADCAST },
    { "240.0.0.1", SSRF_RESERVED },
    { "192.0.2.10", SSRF_RESERVED },
    { "198.18.0.1", SSRF_RESERVED },
    { "2001:4860:4860::8888", SSRF_PUBLIC },
    { "2a00:1450:4001:82a::200e", SSRF_PUBLIC },
    { "::1", SSRF_LOOPBACK },
    { "::", SSRF_UNSPECIFIED },
    { "fc00::1", SSRF_PRIVATE },
    { "fd12:3456::1", SSRF_PRIVATE },
    { "fe80::1", SSRF_LINK_LOCAL },
    { "febf::1", SSRF_LINK_LOCAL },
    { "fec0::1", SSRF_RESERVED },
    { "ff02::1", SSRF_MULTICAST },
    { "2001:db8::1", SSRF_RESERVED },
    /* IPv4 inside IPv6 is judged as the IPv4 address. */
    { "::ffff:127.0.0.1", SSRF_LOOPBACK },
    { "::ffff:10.0.0.1", SSRF_PRIVATE },
    { "::ffff:8.8.8.8", SSRF_PUBLIC },
    { "64:ff9b::a9fe:a9fe", SSRF_LINK_LOCAL },
    { "2002:7f00:1::", SSRF_LOOPBACK },
    { "::127.0.0.1", SSRF_LOOPBACK },
};

START_TEST(classify)
{
    struct sockaddr_storage ss;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssrf_class c = ssrf_classify(sa(cases[i].addr, &ss));
        ck_assert_msg(c == cases[i].c, "%s: got %s, want %s", cases[i].addr, ssrf_class_name(c),
                      ssrf_class_name(cases[i].c));
    }
}
END_TEST

START_TEST(allow_list)
{
    nm_err err;
    ssrf_allow *a = ssrf_allow_new("127.0.0.0/8, ::1/128  10.9.8.7", &err);
    ck_assert_ptr_nonnull(a);
    struct sockaddr_storage ss;
    const char *why = NULL;
    ck_assert(ssrf_permitted(a, sa("127.0.0.1", &ss), &why));
    ck_assert(ssrf_permitted(a, sa("::ffff:127.0.0.2", &ss), &why));
    ck_assert(ssrf_permitted(a, sa("::1", &ss), &why));
    ck_assert(ssrf_permitted(a, sa("10.9.8.7", &ss), &why));
    ck_assert(!ssrf_permitted(a, sa("10.9.8.6", &ss), &why));
    ck_assert_str_eq(why, "private");
    ck_assert(!ssrf_permitted(a, sa("169.254.169.254", &ss), &why));
    ck_assert_str_eq(why, "link-local");
    ck_assert(ssrf_permitted(a, sa("1.1.1.1", &ss), &why));
    ssrf_allow_destroy(&a);
    ck_assert_ptr_null(a);

    ssrf_allow *none = ssrf_allow_new("", &err);
    ck_assert_ptr_nonnull(none);
    ck_assert(!ssrf_permitted(none, sa("127.0.0.1", &ss), &why));
    ck_assert_str_eq(why, "loopback");
    ck_assert(!ssrf_permitted(NULL, sa("192.168.0.1", &ss), NULL));
    ssrf_allow_destroy(&none);

    ck_assert_ptr_null(ssrf_allow_new("127.0.0.0/33", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "127.0.0.0/33"));
    ck_assert_ptr_null(ssrf_allow_new("localhost", &err));
    ck_assert_ptr_null(ssrf_allow_new("10.0.0.0/", &err));
    ck_assert_ptr_null(ssrf_allow_new("::1/129", &err));
}
END_TEST

START_TEST(prefix_bits)
{
    nm_err err;
    ssrf_allow *a = ssrf_allow_new("172.16.0.0/13", &err);
    struct sockaddr_storage ss;
    ck_assert(ssrf_allow_has(a, sa("172.23.255.255", &ss)));
    ck_assert(!ssrf_allow_has(a, sa("172.24.0.0", &ss)));
    ssrf_allow_destroy(&a);
    char buf[64];
    ck_assert_str_eq(ssrf_addr_str(sa("fe80::1", &ss), buf, sizeof buf), "fe80::1");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ssrf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classify);
    tcase_add_test(tc, allow_list);
    tcase_add_test(tc, prefix_bits);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
