/* systemd's notification protocol as the daemons speak it: datagrams to a
   path or an abstract socket, nothing without $NOTIFY_SOCKET, refusals of
   malformed variables, and the watchdog variables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/nm_sdnotify.h"
#include "tests/unit/nm_check.h"

/* Binds a datagram socket at name ("/path" or "@abstract") and returns it. */
static int listen_at(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    memcpy(a.sun_path, name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    else
        len++;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    return fd;
}

/* Receives one datagram (without waiting) into a static buffer; "" when none. */
static const char *received(int fd)
{
    static char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

START_TEST(test_path_socket)
{
    char path[] = "/tmp/nm-sdnotify-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(path));
    char sock[256];
    snprintf(sock, sizeof sock, "%s/notify", path);
    int fd = listen_at(sock);
    setenv("NOTIFY_SOCKET", sock, 1);
    ck_assert_int_eq(nm_sd_notify("READY=1\nSTATUS=up"), 1);
    ck_assert_str_eq(received(fd), "READY=1\nSTATUS=up");
    ck_assert_int_eq(nm_sd_notifyf("STATUS=%d feeds", 12), 1);
    ck_assert_str_eq(received(fd), "STATUS=12 feeds");
    /* Nothing is sent for an empty state. */
    ck_assert_int_eq(nm_sd_notify(""), 0);
    ck_assert_str_eq(received(fd), "");
    close(fd);
    unlink(sock);
    /* The listener is gone: an error, not a crash or a hang. */
    ck_assert_int_eq(nm_sd_notify("WATCHDOG=1"), -1);
    rmdir(path);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(test_abstract_socket)
{
    char name[64];
    snprintf(name, sizeof name, "@nm-sdnotify-test-%ld", (long)getpid());
    int fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(nm_sd_notify("STOPPING=1"), 1);
    ck_assert_str_eq(received(fd), "STOPPING=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(test_no_or_bad_socket)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(nm_sd_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(nm_sd_notify("READY=1"), 0);
    const char *bad[] = { "relative/path", "@", "/", "vsock:2:1234" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("NOTIFY_SOCKET", bad[i], 1);
        errno = 0;
        ck_assert_msg(nm_sd_notify("READY=1") == -1 && errno == EINVAL, "accepted %s", bad[i]);
    }
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    ck_assert_int_eq(nm_sd_notify("READY=1"), -1);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(test_watchdog)
{
    uint64_t usec = 0;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ck_assert_int_eq(nm_sd_watchdog_enabled(&usec), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    ck_assert_int_eq(nm_sd_watchdog_enabled(&usec), 1);
    ck_assert_uint_eq(usec, 30000000);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(nm_sd_watchdog_enabled(&usec), 1);
    /* Set for another process (the one that started us): not ours. */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(nm_sd_watchdog_enabled(&usec), 0);
    setenv("WATCHDOG_PID", "x1", 1);
    ck_assert_int_eq(nm_sd_watchdog_enabled(&usec), -1);
    unsetenv("WATCHDOG_PID");
    const char *bad[] = { "0", "", "-5", "12s", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        ck_assert_msg(nm_sd_watchdog_enabled(&usec) == -1, "accepted WATCHDOG_USEC=%s", bad[i]);
    }
    unsetenv("WATCHDOG_USEC");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_sdnotify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_path_socket);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_no_or_bad_socket);
    tcase_add_test(tc, test_watchdog);
    suite_add_tcase(s, tc);
    return s;
}

NM_CHECK_MAIN(suite)
