/*
 * ctl_zmq: libzmq for newsmonctl, loaded (dlopen) by the first command
 * that talks to a daemon instead of at every start.
 *
 * The common library calls libzmq directly (common/nm_bus.c,
 * nm_control.c, nm_curve.c), for the daemons and for newsmonctl's
 * control commands alike. Linked, libzmq and the libraries it brings
 * (libstdc++'s users aside: Kerberos, PGM, NORM, libbsd, a dozen in all)
 * are mapped and relocated by every newsmonctl command, about 3.5 ms on
 * the machine of docs/benchmarks.md (an empty program linked with
 * newsmonctl's libraries, with and without libzmq: 13.2 ms and 9.8 ms,
 * perf stat -r 40), while most commands (parse-feed, extract, rules,
 * backtest, feeds) never send a message. So newsmonctl defines the
 * twenty libzmq functions the common library uses, each a forwarder to
 * the real one, and the linker (--as-needed) leaves libzmq out of its
 * dependencies; tests/e2e/ctl_libs.sh checks that it stays out.
 *
 * When libzmq cannot be loaded, the command stops with a message naming
 * the library and the reason: the commands that get here cannot do
 * without it. The same loading is done for libcurl in ctl_fetch.c.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "ctl/ctl.h"

/* Every libzmq function the common library calls: X(name). */
#define ZMQ_FUNCTIONS(X)                                                                                   \
    X(zmq_bind) X(zmq_close) X(zmq_connect) X(zmq_ctx_new) X(zmq_ctx_term) X(zmq_curve_keypair)           \
    X(zmq_getsockopt) X(zmq_msg_close) X(zmq_msg_data) X(zmq_msg_init) X(zmq_msg_more) X(zmq_msg_recv)   \
    X(zmq_msg_size) X(zmq_poll) X(zmq_send) X(zmq_setsockopt) X(zmq_socket) X(zmq_strerror)              \
    X(zmq_z85_decode) X(zmq_z85_encode)

static struct {
#define FIELD(name) __typeof__(name) *name;
    ZMQ_FUNCTIONS(FIELD)
#undef FIELD
} zf;

/* Loads libzmq and looks up its functions, once; exits when it cannot. */
static void load(void)
{
    static void *lib;
    if (lib)
        return;
    void *l = dlopen("libzmq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!l) {
        ctl_error("cannot load libzmq (needed to talk to the daemons): %s", dlerror());
        exit(1);
    }
#define LOOK(name)                                                                       \
    if (!(*(void **)&zf.name = dlsym(l, #name))) {                                       \
        ctl_error("cannot load libzmq: libzmq.so.5 has no function %s", #name);          \
        exit(1);                                                                         \
    }
    ZMQ_FUNCTIONS(LOOK)
#undef LOOK
    lib = l;
}

/* The forwarders, with libzmq's own signatures (zmq.h declares them). */
int zmq_bind(void *s, const char *addr) { load(); return zf.zmq_bind(s, addr); }
int zmq_close(void *s) { load(); return zf.zmq_close(s); }
int zmq_connect(void *s, const char *addr) { load(); return zf.zmq_connect(s, addr); }
void *zmq_ctx_new(void) { load(); return zf.zmq_ctx_new(); }
int zmq_ctx_term(void *ctx) { load(); return zf.zmq_ctx_term(ctx); }
int zmq_curve_keypair(char *pub, char *sec) { load(); return zf.zmq_curve_keypair(pub, sec); }
int zmq_getsockopt(void *s, int opt, void *val, size_t *len) { load(); return zf.zmq_getsockopt(s, opt, val, len); }
int zmq_msg_close(zmq_msg_t *m) { load(); return zf.zmq_msg_close(m); }
void *zmq_msg_data(zmq_msg_t *m) { load(); return zf.zmq_msg_data(m); }
int zmq_msg_init(zmq_msg_t *m) { load(); return zf.zmq_msg_init(m); }
int zmq_msg_more(const zmq_msg_t *m) { load(); return zf.zmq_msg_more(m); }
int zmq_msg_recv(zmq_msg_t *m, void *s, int flags) { load(); return zf.zmq_msg_recv(m, s, flags); }
size_t zmq_msg_size(const zmq_msg_t *m) { load(); return zf.zmq_msg_size(m); }
int zmq_poll(zmq_pollitem_t *items, int n, long timeout) { load(); return zf.zmq_poll(items, n, timeout); }
int zmq_send(void *s, const void *buf, size_t len, int flags) { load(); return zf.zmq_send(s, buf, len, flags); }
int zmq_setsockopt(void *s, int opt, const void *val, size_t len)
{
    load();
    return zf.zmq_setsockopt(s, opt, val, len);
}
void *zmq_socket(void *ctx, int type) { load(); return zf.zmq_socket(ctx, type); }
const char *zmq_strerror(int errnum) { load(); return zf.zmq_strerror(errnum); }
uint8_t *zmq_z85_decode(uint8_t *dest, const char *string) { load(); return zf.zmq_z85_decode(dest, string); }
char *zmq_z85_encode(char *dest, const uint8_t *data, size_t size)
{
    load();
    return zf.zmq_z85_encode(dest, data, size);
}
