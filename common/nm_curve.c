/*
 * nm_curve: key files and the ZAP (ZeroMQ authentication protocol, RFC 27)
 * handler. libzmq asks every CURVE handshake's verdict from a REP socket
 * bound at inproc://zeromq.zap.01 in the same context; we answer from the
 * event loop, admitting only the public keys found in the allowed folder.
 */
#include "common/nm_curve.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int nm_curve_read_key(const char *path, char out[41], nm_err *err)
{
    char *text;
    size_t len;
    if (nm_read_file(path, 4096, &text, &len, err) < 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)text[i]))
            continue;
        if (n == 40) {
            free(text);
            return nm_err_set(err, "%s: not a CURVE key (more than 40 characters)", path);
        }
        out[n++] = text[i];
    }
    free(text);
    out[n] = '\0';
    uint8_t bin[32];
    if (n != 40 || !zmq_z85_decode(bin, out))
        return nm_err_set(err, "%s: not a CURVE key (40 Z85 characters expected)", path);
    return 0;
}

static int write_key(const char *path, const char *key, mode_t mode, nm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return nm_err_set(err, "%s: %s", path, strerror(errno));
    char line[42];
    snprintf(line, sizeof line, "%s\n", key);
    ssize_t w = write(fd, line, 41);
    close(fd);
    if (w != 41)
        return nm_err_set(err, "%s: short write", path);
    return 0;
}

int nm_curve_keygen(const char *dir, const char *name, nm_err *err)
{
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0)
        return nm_err_set(err, "this libzmq has no CURVE support: %s", zmq_strerror(errno));
    char *pp = nm_xasprintf("%s/%s.key", dir, name), *sp = nm_xasprintf("%s/%s.secret", dir, name);
    int r = write_key(sp, sec, 0600, err);
    if (r == 0 && (r = write_key(pp, pub, 0644, err)) < 0)
        unlink(sp);
    free(pp);
    free(sp);
    return r;
}

struct nm_zap {
    void *sock;
    uint8_t (*keys)[32];
    size_t n_keys;
    nm_zap_log_fn log;
    void *arg;
};

static int load_allowed(nm_zap *z, const char *dir, nm_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return nm_err_set(err, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d)) && r == 0) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".key") || e->d_name[0] == '.')
            continue;
        char *path = nm_xasprintf("%s/%s", dir, e->d_name);
        char text[41];
        if (nm_curve_read_key(path, text, err) < 0) {
            r = -1;
        } else {
            z->keys = nm_xrealloc(z->keys, (z->n_keys + 1) * sizeof *z->keys);
            zmq_z85_decode(z->keys[z->n_keys++], text);
        }
        free(path);
    }
    closedir(d);
    return r;
}

/* Receives one frame into buf (NUL-terminated, truncated to n-1). Returns its size or -1. */
static int recv_frame(void *s, char *buf, size_t n, int *more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    int r = zmq_msg_recv(&m, s, ZMQ_DONTWAIT);
    if (r >= 0) {
        size_t k = zmq_msg_size(&m) < n - 1 ? zmq_msg_size(&m) : n - 1;
        memcpy(buf, zmq_msg_data(&m), k);
        buf[k] = '\0';
        *more = zmq_msg_more(&m);
    }
    zmq_msg_close(&m);
    return r;
}

static void on_zap(nm_loop *loop, void *sock, void *arg)
{
    nm_zap *z = arg;
    for (;;) {
        /* version, request id, domain, address, identity, mechanism, credentials... */
        char f[7][256];
        int sizes[7] = { 0 }, more = 0, n = 0, r;
        while (n < 7 && (r = recv_frame(sock, f[n], sizeof f[n], &more)) >= 0) {
            sizes[n++] = r;
            if (!more)
                break;
        }
        if (n == 0)
            return;
        while (more) {   /* frames beyond the seventh */
            char skip[8];
            if (recv_frame(sock, skip, sizeof skip, &more) < 0)
                break;
        }
        int admitted = 0;
        char key[41] = "";
        if (n == 7 && !strcmp(f[5], "CURVE") && sizes[6] == 32) {
            zmq_z85_encode(key, (uint8_t *)f[6], 32);
            for (size_t i = 0; i < z->n_keys && !admitted; i++)
                admitted = !memcmp(z->keys[i], f[6], 32);
        }
        if (z->log)
            z->log(z->arg, *key ? key : "(none)", n > 3 ? f[3] : "?", admitted);
        const char *status = admitted ? "200" : "400";
        const char *text = admitted ? "OK" : "client key not allowed";
        zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(sock, n > 1 ? f[1] : "", n > 1 ? (size_t)sizes[1] : 0, ZMQ_SNDMORE);
        zmq_send(sock, status, 3, ZMQ_SNDMORE);
        zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(sock, admitted ? key : "", admitted ? 40 : 0, ZMQ_SNDMORE);
        zmq_send(sock, "", 0, 0);
    }
}

nm_zap *nm_zap_start(nm_loop *loop, const char *allowed_dir, nm_zap_log_fn log, void *arg, nm_err *err)
{
    nm_zap *z = nm_xcalloc(1, sizeof *z);
    z->log = log;
    z->arg = arg;
    if (load_allowed(z, allowed_dir, err) < 0) {
        nm_zap_stop(&z);
        return NULL;
    }
    struct nm_bus_opts o = { 0 };
    z->sock = nm_bus_socket(ZMQ_REP, "inproc://zeromq.zap.01", 1, &o, err);
    if (!z->sock) {
        nm_zap_stop(&z);
        return NULL;
    }
    nm_loop_add_socket(loop, z->sock, on_zap, z);
    return z;
}

size_t nm_zap_allowed(const nm_zap *z)
{
    return z->n_keys;
}

void nm_zap_stop(nm_zap **zp)
{
    nm_zap *z = *zp;
    if (!z)
        return;
    nm_bus_close(&z->sock);
    free(z->keys);
    free(z);
    *zp = NULL;
}
