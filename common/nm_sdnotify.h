/*
 * nm_sdnotify: the daemons' side of systemd's notification protocol
 * (sd_notify(3): READY=1, RELOADING=1, STOPPING=1, STATUS=..., WATCHDOG=1).
 *
 * The protocol is one datagram of "KEY=VALUE" lines sent to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace); systemd documents it as a stable interface meant to be
 * spoken without libsystemd. We speak it ourselves because linking
 * libsystemd (and the libgcrypt, liblz4, libcap ... it brings) cost each
 * daemon 0.9 MB of resident memory for these two calls (measured with
 * the same program linked with and without it; docs/benchmarks.md).
 *
 * Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
 */
#ifndef NM_SDNOTIFY_H
#define NM_SDNOTIFY_H

#include <stdint.h>

/* Sends state (one or more "KEY=VALUE" lines) to $NOTIFY_SOCKET.
   Returns 1 when sent, 0 when there is no socket to send to, -1 on an
   error (errno set: a malformed $NOTIFY_SOCKET gives EINVAL). */
int nm_sd_notify(const char *state);

/* Like nm_sd_notify with a printf format. */
int nm_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether systemd expects watchdog pings from this process: returns 1
   and sets *usec to $WATCHDOG_USEC when it is set, valid and meant for
   this process ($WATCHDOG_PID absent or equal to getpid()); 0 when not;
   -1 when a variable is malformed (errno EINVAL). */
int nm_sd_watchdog_enabled(uint64_t *usec);

#endif
