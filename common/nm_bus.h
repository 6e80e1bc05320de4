/*
 * nm_bus: ZeroMQ helpers and the event loop every daemon runs.
 *
 * Sockets: nm_bus_socket() creates a socket, sets high-water marks, linger
 * and a maximum message size, then binds or connects to every endpoint of a
 * space- or comma-separated list (ipc:// parents are created when binding).
 * Messages: nm_bus_send()/nm_bus_recv() move one catalogue message (type
 * frame + JSON frame, see nm_msg.h); recv rejects anything else and says why.
 *
 * The loop (nm_loop) knows nothing of newsmon: it polls ZeroMQ sockets and
 * plain file descriptors, runs timers, and turns SIGTERM/SIGINT (stop) and
 * SIGHUP (a callback, for reloads) into events through a signalfd.
 */
#ifndef NM_BUS_H
#define NM_BUS_H

#include <jansson.h>
#include <stdint.h>

#include "common/nm_msg.h"
#include "common/nm_util.h"

struct nm_bus_opts {
    int sndhwm;              /* messages queued before send blocks / fails; 0 = ZeroMQ default */
    int rcvhwm;
    int linger_ms;           /* on close, how long unsent messages may hold the process */
    int64_t maxmsgsize;      /* bytes; -1 = unlimited */
    const char *subscribe;   /* SUB sockets: prefix to subscribe to ("" = all) */
    /* CURVE (tcp:// across hosts): all NULL = plain. Keys are Z85 text (40 chars + NUL). */
    const char *curve_server_secret;   /* a binding server socket: its secret key */
    const char *curve_public;          /* a client: its own public key */
    const char *curve_secret;          /* a client: its own secret key */
    const char *curve_server_public;   /* a client: the server's public key */
};

/* Returns the process-wide ZeroMQ context (created on first use). */
void *nm_bus_context(void);
/* Destroys the context (after every socket is closed). */
void nm_bus_term(void);

/* Creates a socket of zmq type `type` and binds (bind != 0) or connects it to
   each endpoint of `endpoints`. Returns the socket, or NULL with err. */
void *nm_bus_socket(int type, const char *endpoints, int bind, const struct nm_bus_opts *o, nm_err *err);
/* Closes *sock and sets it to NULL. */
void nm_bus_close(void **sock);

/* Sends one message; takes no ownership of body. With dontwait, returns 1
   when the queue is full (nothing sent). Returns 0 sent, -1 error. */
int nm_bus_send(void *sock, nm_msg_type type, const json_t *body, int dontwait, nm_err *err);

/* Receives one message without blocking. Returns 0 with *type and *body (the
   caller owns the reference; its "v" has been checked), 1 when nothing is
   waiting, -1 when a malformed message was read and dropped (err says why). */
int nm_bus_recv(void *sock, nm_msg_type *type, json_t **body, nm_err *err);

/* ---- event loop ---------------------------------------------------------- */

typedef struct nm_loop nm_loop;

/* Called when sock is readable; the callback should drain it (recv until 1). */
typedef void (*nm_loop_sock_fn)(nm_loop *loop, void *sock, void *arg);
/* Called with the events (ZMQ_POLLIN/ZMQ_POLLOUT) that are ready on fd. */
typedef void (*nm_loop_fd_fn)(nm_loop *loop, int fd, int events, void *arg);
typedef void (*nm_loop_timer_fn)(nm_loop *loop, void *arg);
typedef void (*nm_loop_signal_fn)(nm_loop *loop, int signo, void *arg);

/* Creates a loop; blocks SIGTERM, SIGINT and SIGHUP and watches them. */
nm_loop *nm_loop_new(nm_err *err);
void nm_loop_destroy(nm_loop **loop);

void nm_loop_add_socket(nm_loop *loop, void *sock, nm_loop_sock_fn fn, void *arg);
/* Watches fd for events (ZMQ_POLLIN | ZMQ_POLLOUT); adding an fd again updates it. */
void nm_loop_set_fd(nm_loop *loop, int fd, int events, nm_loop_fd_fn fn, void *arg);
void nm_loop_remove_fd(nm_loop *loop, int fd);

/* Runs fn after delay_ms, then every interval_ms (0 = once). Returns an id > 0. */
int nm_loop_add_timer(nm_loop *loop, int64_t delay_ms, int64_t interval_ms, nm_loop_timer_fn fn, void *arg);
/* Moves timer id to fire after delay_ms (it keeps its interval). */
void nm_loop_timer_reset(nm_loop *loop, int id, int64_t delay_ms);
void nm_loop_cancel_timer(nm_loop *loop, int id);

/* SIGHUP (and any other watched signal but TERM/INT) goes to fn. */
void nm_loop_on_signal(nm_loop *loop, nm_loop_signal_fn fn, void *arg);

/* Runs until nm_loop_stop or SIGTERM/SIGINT. Returns the signal that stopped it, or 0. */
int nm_loop_run(nm_loop *loop);
void nm_loop_stop(nm_loop *loop);
/* Whether the loop was asked to stop. */
int nm_loop_stopping(const nm_loop *loop);

#endif
