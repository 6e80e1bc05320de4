/*
 * nm_curve: ZeroMQ CURVE keys in files, and the ZAP handler that admits
 * only listed clients.
 *
 * The model (docs/deployment.md): the daemons that bind (the store, and
 * each fetcher for its fetch_out) share one server key pair; every daemon
 * that connects has its own client key pair; a server admits a client only
 * when the client's public key is a "*.key" file in the server's
 * [bus] curve_allowed_clients folder. A key file holds the 40-character Z85
 * text ZeroMQ uses (newsmonctl keygen writes NAME.key and NAME.secret).
 */
#ifndef NM_CURVE_H
#define NM_CURVE_H

#include "common/nm_bus.h"
#include "common/nm_util.h"

/* Reads a Z85 key from path into out (40 characters + NUL). Returns 0, or -1 with err. */
int nm_curve_read_key(const char *path, char out[41], nm_err *err);

/* Writes a new key pair as dir/name.key (public, 0644) and dir/name.secret
   (secret, 0600); refuses to overwrite. Returns 0, or -1 with err. */
int nm_curve_keygen(const char *dir, const char *name, nm_err *err);

typedef struct nm_zap nm_zap;

/* Told of each decision: the client's public key (Z85), its address, and
   whether it was admitted. */
typedef void (*nm_zap_log_fn)(void *arg, const char *client_key, const char *address, int admitted);

/* Loads the allowed client keys (dir/\*.key) and serves ZAP requests on
   loop. Must run before any CURVE server socket binds. Returns the handler,
   or NULL with err (unreadable folder, a malformed key file named). */
nm_zap *nm_zap_start(nm_loop *loop, const char *allowed_dir, nm_zap_log_fn log, void *arg, nm_err *err);
/* Number of client keys admitted. */
size_t nm_zap_allowed(const nm_zap *z);
void nm_zap_stop(nm_zap **z);

#endif
