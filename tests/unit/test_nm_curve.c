/*
 * nm_curve: key files (written, read, malformed ones refused) and the ZAP
 * handler: over real TCP on loopback, a client whose public key is in the
 * allowed folder gets its message through, one whose key is not is refused
 * (and the refusal is reported), and a plain client cannot talk to a CURVE
 * server at all.
 */
#include "common/nm_curve.h"
#include "tests/unit/nm_check.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64], allowed[96];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/nm-curve-%d", (int)getpid());
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    mkdir(dir, 0700);
    mkdir(allowed, 0700);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    nm_bus_term();
}

START_TEST(keys_in_files)
{
    nm_err err = { "" };
    ck_assert_int_eq(nm_curve_keygen(dir, "a", &err), 0);
    ck_assert_int_eq(nm_curve_keygen(dir, "a", &err), -1);   /* never overwrites */
    char path[160], key[41];
    snprintf(path, sizeof path, "%s/a.secret", dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0);
    ck_assert_int_eq(nm_curve_read_key(path, key, &err), 0);
    ck_assert_int_eq(strlen(key), 40);
    snprintf(path, sizeof path, "%s/bad.key", dir);
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    ck_assert_int_eq(nm_curve_read_key(path, key, &err), -1);
    ck_assert(strstr(err.msg, "bad.key: not a CURVE key"));
}
END_TEST

static int admitted, refused;
static void zap_log(void *arg, const char *key, const char *address, int ok)
{
    if (ok)
        admitted++;
    else
        refused++;
}

static void on_msg(nm_loop *loop, void *sock, void *arg)
{
    nm_msg_type t;
    json_t *b;
    nm_err err;
    while (nm_bus_recv(sock, &t, &b, &err) == 0) {
        (*(int *)arg)++;
        json_decref(b);
    }
}

static void stop(nm_loop *loop, void *arg)
{
    nm_loop_stop(loop);
}

static void read_pair(const char *name, char pub[41], char sec[41])
{
    char path[160];
    nm_err err;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    ck_assert_int_eq(nm_curve_read_key(path, pub, &err), 0);
    snprintf(path, sizeof path, "%s/%s.secret", dir, name);
    ck_assert_int_eq(nm_curve_read_key(path, sec, &err), 0);
}

START_TEST(zap_admits_only_listed_clients)
{
    nm_err err;
    ck_assert_int_eq(nm_curve_keygen(dir, "server", &err), 0);
    ck_assert_int_eq(nm_curve_keygen(allowed, "good", &err), 0);
    ck_assert_int_eq(nm_curve_keygen(dir, "bad", &err), 0);
    char spub[41], ssec[41], gpub[41], gsec[41], bpub[41], bsec[41];
    read_pair("server", spub, ssec);
    char gdir[160];
    snprintf(gdir, sizeof gdir, "%s/allowed/good.key", dir);
    ck_assert_int_eq(nm_curve_read_key(gdir, gpub, &err), 0);
    snprintf(gdir, sizeof gdir, "%s/allowed/good.secret", dir);
    ck_assert_int_eq(nm_curve_read_key(gdir, gsec, &err), 0);
    /* a secret key in the allowed folder is not a *.key file: only public keys count */
    read_pair("bad", bpub, bsec);

    nm_loop *loop = nm_loop_new(&err);
    nm_zap *zap = nm_zap_start(loop, allowed, zap_log, NULL, &err);
    ck_assert_msg(zap != NULL, "%s", err.msg);
    ck_assert_int_eq(nm_zap_allowed(zap), 1);

    struct nm_bus_opts so = { .linger_ms = 0, .curve_server_secret = ssec };
    void *pull = nm_bus_socket(ZMQ_PULL, "tcp://127.0.0.1:*", 1, &so, &err);
    ck_assert_msg(pull != NULL, "%s", err.msg);
    char ep[128];
    size_t eplen = sizeof ep;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen);

    struct nm_bus_opts good = { .linger_ms = 0, .curve_public = gpub, .curve_secret = gsec, .curve_server_public = spub };
    struct nm_bus_opts bad = { .linger_ms = 0, .curve_public = bpub, .curve_secret = bsec, .curve_server_public = spub };
    struct nm_bus_opts plain = { .linger_ms = 0 };
    void *g = nm_bus_socket(ZMQ_PUSH, ep, 0, &good, &err);
    void *b = nm_bus_socket(ZMQ_PUSH, ep, 0, &bad, &err);
    void *p = nm_bus_socket(ZMQ_PUSH, ep, 0, &plain, &err);
    ck_assert(g && b && p);
    nm_stored s = { "x", NULL, 1 };
    json_t *j = nm_stored_to_json(&s);
    nm_bus_send(g, NM_MSG_STORED, j, 1, &err);
    nm_bus_send(b, NM_MSG_STORED, j, 1, &err);
    nm_bus_send(p, NM_MSG_STORED, j, 1, &err);
    json_decref(j);

    int got = 0;
    nm_loop_add_socket(loop, pull, on_msg, &got);
    nm_loop_add_timer(loop, 1500, 0, stop, NULL);
    nm_loop_run(loop);
    ck_assert_int_eq(got, 1);          /* only the listed client's message */
    ck_assert_int_ge(admitted, 1);
    ck_assert_int_ge(refused, 1);

    nm_bus_close(&g);
    nm_bus_close(&b);
    nm_bus_close(&p);
    nm_bus_close(&pull);
    nm_zap_stop(&zap);
    nm_loop_destroy(&loop);
}
END_TEST

START_TEST(zap_refuses_malformed_allowed_folder)
{
    nm_err err = { "" };
    char path[160];
    snprintf(path, sizeof path, "%s/broken.key", allowed);
    FILE *f = fopen(path, "w");
    fputs("0123456789\n", f);
    fclose(f);
    nm_loop *loop = nm_loop_new(&err);
    ck_assert_ptr_null(nm_zap_start(loop, allowed, NULL, NULL, &err));
    ck_assert(strstr(err.msg, "broken.key"));
    ck_assert_ptr_null(nm_zap_start(loop, "/nonexistent/keys", NULL, NULL, &err));
    ck_assert(strstr(err.msg, "/nonexistent/keys"));
    nm_loop_destroy(&loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_curve");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, keys_in_files);
    tcase_add_test(t, zap_admits_only_listed_clients);
    tcase_add_test(t, zap_refuses_malformed_allowed_folder);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
