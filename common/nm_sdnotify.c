/*
 * nm_sdnotify: systemd's notification protocol, spoken directly (see the
 * header for why not through libsystemd).
 */
#include "common/nm_sdnotify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills addr from $NOTIFY_SOCKET. Returns the address length, 0 when the
   variable is unset or empty, -1 when it is malformed (errno EINVAL). */
static socklen_t notify_address(struct sockaddr_un *addr)
{
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || !*e)
        return 0;
    size_t n = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || n < 2 || n > sizeof addr->sun_path) {
        errno = EINVAL;
        return (socklen_t)-1;
    }
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, e, n);
    if (e[0] == '@') {
        /* The abstract namespace: a leading NUL and no terminating one. */
        addr->sun_path[0] = '\0';
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (n < sizeof addr->sun_path ? n + 1 : n));
}

int nm_sd_notify(const char *state)
{
    struct sockaddr_un addr;
    socklen_t len = notify_address(&addr);
    if (len == (socklen_t)-1)
        return -1;
    if (len == 0 || !state || !*state)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return sent < 0 ? -1 : 1;
}

int nm_sd_notifyf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return nm_sd_notify(buf); /* a longer status is cut, never dropped */
}

/* Parses a whole decimal number. Returns 0, or -1 (errno EINVAL). */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') {
        errno = EINVAL;
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        errno = EINVAL;
        return -1;
    }
    *out = v;
    return 0;
}

int nm_sd_watchdog_enabled(uint64_t *usec)
{
    const char *s = getenv("WATCHDOG_USEC");
    if (!s)
        return 0;
    uint64_t v;
    if (parse_u64(s, &v) < 0 || v == 0)
        return errno = EINVAL, -1;
    const char *p = getenv("WATCHDOG_PID");
    if (p) {
        uint64_t pid;
        if (parse_u64(p, &pid) < 0 || pid == 0)
            return -1;
        if (pid != (uint64_t)getpid())
            return 0; /* meant for another process (we were started by it) */
    }
    *usec = v;
    return 1;
}
