/*
 * nm_control: each daemon's control socket, and the client newsmonctl uses.
 *
 * A daemon binds a ZeroMQ REP socket at ipc://<[bus] control_dir>/<name>.ctl
 * (name: "fetcher", "classifier", "store", "notifier", with "-<instance>"
 * when [bus] instance is set, so several fetchers or classifiers on one
 * host each have their own). A request is one frame holding a command
 * word; the reply is one JSON object:
 *   status   {"daemon", "instance", "pid", "version", "started", "uptime_s", ...the daemon's own figures}
 *   reload   what SIGHUP does; {"ok": true|false, "message": "..."}
 * An unknown or malformed request gets {"error": "..."}; the daemon goes on.
 */
#ifndef NM_CONTROL_H
#define NM_CONTROL_H

#include <jansson.h>

#include "common/nm_bus.h"
#include "common/nm_util.h"

typedef struct nm_control nm_control;

/* Fills obj (a JSON object) with the daemon's own status figures. */
typedef void (*nm_control_status_fn)(json_t *obj, void *arg);
/* Reloads; returns 0 with *message (malloc'd) on success, -1 with *message on refusal. */
typedef int (*nm_control_reload_fn)(void *arg, char **message);

/* Binds the control socket of daemon `name` in `dir` and serves it on loop.
   reload may be NULL (the daemon has nothing to reload). Returns the
   handle, or NULL with err. */
nm_control *nm_control_open(nm_loop *loop, const char *dir, const char *name, nm_control_status_fn status,
                            nm_control_reload_fn reload, void *arg, nm_err *err);
void nm_control_close(nm_control **c);

/* Returns the control endpoint of daemon `name` in dir (malloc'd). */
char *nm_control_endpoint(const char *dir, const char *name);

/* Client: sends command to the daemon and waits up to timeout_ms for the
   reply. Returns 0 with *reply (caller owns it), or -1 with err (no daemon
   there, timeout, bad reply). */
int nm_control_request(const char *dir, const char *name, const char *command, int timeout_ms,
                       json_t **reply, nm_err *err);

/* Formats an epoch time as RFC 3339 UTC into out (at least 21 bytes). */
void nm_control_time(int64_t t, char *out, size_t n);

#endif
